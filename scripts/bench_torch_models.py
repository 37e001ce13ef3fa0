#!/usr/bin/env python3
"""PyTorch side of `silab bench --arch convnet|mlp|vit [--optim NAME]`: the same workload as
scripts/bench_torch_convnet.py (random 32x32x3 inputs, batch 128, cross-entropy, weight decay on
every trained tensor) on silab's networks, built by python/silab_reference.py with the same
settings (scale-invariant variant, default norm). Without --optim the step is the hand-written
SGD step of torch_convnet.py; with --optim it is torch.optim's (foreach implementation) for sgd,
adam and adamw, and Lion written with the same torch._foreach_* ops (torch has no Lion), and the
optimizer step alone is timed too (opt_ms_median). Prints one JSON line with the fields of
silab bench.

  .venv/bin/python scripts/bench_torch_models.py --arch vit --dim 64 --depth 3 --threads 2
  .venv/bin/python scripts/bench_torch_models.py --arch mlp --width 512 --optim adamw
"""
import argparse, json, os, statistics, sys, time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
from silab_reference import build  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", choices=["convnet", "resnet18", "mlp", "vit"], required=True)
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--patch", type=int, default=4)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--wd", type=float, default=1e-3)
    ap.add_argument("--optim", choices=["sgd", "adam", "adamw", "lion"])
    ap.add_argument("--momentum", type=float, default=0.0)
    ap.add_argument("--export", metavar="FILE",
                    help="write the module (after its init, before any step) with silab.export to FILE, for "
                         "`silab bench --model-file FILE`: the same module, scripted")
    ap.add_argument("--compile", action="store_true", help="torch.compile the module (inductor)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    # each architecture's default norm, as silab's (BatchNorm for the ConvNet and the ResNet)
    m = {"arch": a.arch, "width": a.width, "variant": "scale-invariant", "norm": "auto", "depth": a.depth,
         "dim": a.dim, "heads": a.heads, "mlp_ratio": 2.0, "patch": a.patch, "pool": "cls", "bn_eps": 1e-5}
    net = build(m, a.classes).train()
    head = {"convnet": lambda: net.linear_layers[2], "resnet18": lambda: net.linear,
            "mlp": lambda: net.head}.get(a.arch)
    if head:  # silab's scale-invariant ConvNet, ResNet and MLP: classifier rescaled to norm 10 and frozen
        head = head()
        with torch.no_grad():
            head.weight.mul_(10.0 / head.weight.norm())
        for p in head.parameters():
            p.requires_grad_(False)
    params = [p for p in net.parameters() if p.requires_grad]
    if a.export:
        from silab import export
        export(net, torch.randn(4, 3, 32, 32), a.export)
        net.train()
    if a.compile:
        net = torch.compile(net)
    x = torch.randn(a.batch, 3, 32, 32)
    y = torch.randint(0, a.classes, (a.batch,))

    if a.optim is None:
        def opt_step():
            with torch.no_grad():
                for p in params:
                    p.mul_(1 - a.lr * a.wd).add_(p.grad, alpha=-a.lr)
    elif a.optim == "lion":
        opt_step = lion(params, a.lr, a.wd)
    else:
        cls = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[a.optim]
        extra = {"momentum": a.momentum} if a.optim == "sgd" else {}
        opt_step = cls(params, lr=a.lr, weight_decay=a.wd, foreach=True, **extra).step

    times, opt_times = [], []
    for i in range(a.warmup + a.steps):
        t = time.perf_counter()
        for p in params:
            p.grad = None
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        t_opt = time.perf_counter()
        opt_step()
        t_end = time.perf_counter()
        if i >= a.warmup:
            times.append((t_end - t) * 1e3)
            opt_times.append((t_end - t_opt) * 1e3)
    med = statistics.median(times)
    out = {"framework": "pytorch" + (" compile" if a.compile else ""), "torch": torch.__version__, "device": "cpu", "threads": a.threads,
           "mode": "full", "arch": a.arch, "width": a.width, "batch": a.batch,
           "ms_per_step_median": round(med, 3), "ms_per_step_min": round(min(times), 3),
           "images_per_s": round(a.batch / med * 1e3, 1)}
    if a.optim is not None:
        out |= {"optim": a.optim, "opt_ms_median": round(statistics.median(opt_times), 4)}
    print(json.dumps(out))


def lion(params, lr, wd, beta1=0.9, beta2=0.99):
    """Lion (Chen et al. 2023) with decoupled weight decay, as a foreach step."""
    exp_avg = [torch.zeros_like(p) for p in params]

    @torch.no_grad()
    def step():
        grads = [p.grad for p in params]
        update = torch._foreach_lerp(exp_avg, grads, 1 - beta1)
        torch._foreach_sign_(update)
        torch._foreach_mul_(params, 1 - lr * wd)
        torch._foreach_add_(params, update, alpha=-lr)
        torch._foreach_lerp_(exp_avg, grads, 1 - beta2)

    return step


if __name__ == "__main__":
    main()
