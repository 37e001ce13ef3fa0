"""PyTorch side of `silab bench --curvature`: the same workload in plain PyTorch.

ConvNet-k scale-invariant (tests/torch_reference.py's module), random 32x32x3 images, batch 128,
cross-entropy, BatchNorm with batch statistics (train mode, running statistics not updated), the
SI group (every conv weight). Times one gradient and one Hessian-vector product by double
backward (torch.autograd.grad with create_graph), the way PyHessian and most research code do it,
and prints one JSON line with the fields of silab's.

usage: .venv/bin/python scripts/bench_hvp_torch.py [--width 8] [--threads 2] [--steps 10] [--warmup 2]
"""
import argparse, json, os, statistics, sys, time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
from torch_reference import ConvNet  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--width", type=int, default=8)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--batch", type=int, default=128)
p.add_argument("--steps", type=int, default=10)
p.add_argument("--warmup", type=int, default=2)
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)
net = ConvNet(a.width, 10, "scale-invariant")
for m in net.modules():
    if isinstance(m, torch.nn.BatchNorm2d):
        m.track_running_stats = False  # batch statistics, running averages untouched
        m.running_mean = m.running_var = None
net.train()
params = [m.weight for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
net.linear_layers[2].requires_grad_(False)
x = torch.randn(a.batch, 3, 32, 32)
y = torch.randint(10, (a.batch,))
v = [torch.randn_like(t) for t in params]


def grad():
    return torch.autograd.grad(torch.nn.functional.cross_entropy(net(x), y), params)


def hvp():
    g = torch.autograd.grad(torch.nn.functional.cross_entropy(net(x), y), params, create_graph=True)
    return torch.autograd.grad(sum((gi * vi).sum() for gi, vi in zip(g, v)), params)


def timed(f):
    out = []
    for i in range(a.warmup + a.steps):
        t = time.perf_counter()
        f()
        if i >= a.warmup:
            out.append((time.perf_counter() - t) * 1e3)
    return statistics.median(out)


g, h = timed(grad), timed(hvp)
print(json.dumps({
    "framework": "pytorch", "torch": torch.__version__.split("+")[0], "device": "cpu", "threads": a.threads,
    "width": a.width, "batch": a.batch, "params": sum(t.numel() for t in params),
    "grad_ms_median": round(g, 3), "hvp_ms_median": round(h, 3), "hvp_over_grad": round(h / g, 2),
}))
