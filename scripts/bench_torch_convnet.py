#!/usr/bin/env python3
"""PyTorch side of silab's speed comparison.

Times training steps of the ConvNet-k of Kodryan et al., "Training Scale-Invariant Neural Networks on
the Sphere Can Happen in Three Regimes" (NeurIPS 2022, arXiv 2209.03695), fully scale-invariant variant
(conv without bias, BatchNorm without affine, last layer of norm 10 and not trained) on random
32x32x3 inputs, batch 128, cross-entropy, in one of two modes:
  full   : SGD with weight decay on the SI weights (w <- (1 - lr*wd) w - lr*grad)
  sphere : projected SGD at a fixed effective learning rate (step, then rescale to the init norm)
Prints one JSON line: {"framework": "pytorch", ..., "ms_per_step_median": ..., "images_per_s": ...}.

Set-up (PyTorch from the package registry; CPU is enough):
  python3 -m venv .venv-bench && .venv-bench/bin/pip install torch numpy
  .venv-bench/bin/python scripts/bench_torch_convnet.py --width 32 --threads 2
  add --compile for the torch.compile'd network (the fastest a PyTorch user gets; needs a C++ compiler)
Run silab's own benchmark on the same workload (`silab bench`) and report the ratio silab/pytorch;
scripts/bench-vs-torch.sh runs both sides alternately.
"""
import argparse, json, statistics, time
import torch
import torch.nn as nn
import torch.nn.functional as F


def convnet(k: int, classes: int) -> nn.Module:
    def block(cin, cout, pool):
        layers = [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout, affine=False), nn.ReLU()]
        return layers + ([nn.MaxPool2d(2)] if pool else [])
    net = nn.Sequential(*block(3, k, False), *block(k, 2 * k, True), *block(2 * k, 4 * k, True),
                        *block(4 * k, 8 * k, True), nn.MaxPool2d(4), nn.Flatten(), nn.Linear(8 * k, classes))
    last = net[-1]
    with torch.no_grad():
        last.weight.mul_(10.0 / last.weight.norm())
    for p in last.parameters():
        p.requires_grad_(False)
    return net


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--mode", choices=["full", "sphere"], default="full")
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--wd", type=float, default=1e-3)
    ap.add_argument("--elr", type=float, default=1e-3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--compile", action="store_true", help="torch.compile the network (inductor)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    dev = torch.device(a.device)
    net = convnet(a.width, a.classes).to(dev).train()
    si = [p for p in net.parameters() if p.requires_grad]
    fwd = torch.compile(net) if a.compile else net
    rho0 = torch.sqrt(sum((p.detach() ** 2).sum() for p in si))
    x = torch.randn(a.batch, 3, 32, 32, device=dev)
    y = torch.randint(0, a.classes, (a.batch,), device=dev)

    def step():
        for p in si:
            p.grad = None
        loss = F.cross_entropy(fwd(x), y)
        loss.backward()
        with torch.no_grad():
            if a.mode == "full":
                for p in si:
                    p.mul_(1 - a.lr * a.wd).add_(p.grad, alpha=-a.lr)
            else:
                lr = a.elr * rho0 ** 2
                for p in si:
                    p.add_(p.grad, alpha=-float(lr))
                rho = torch.sqrt(sum((p ** 2).sum() for p in si))
                for p in si:
                    p.mul_(rho0 / rho)
        return loss

    for _ in range(a.warmup):
        step()
    times = []
    for _ in range(a.steps):
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        step()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        times.append((time.perf_counter() - t) * 1e3)
    med = statistics.median(times)
    print(json.dumps({"framework": "pytorch", "torch": torch.__version__, "device": a.device, "compiled": a.compile,
                      "threads": a.threads, "mode": a.mode, "width": a.width, "batch": a.batch,
                      "ms_per_step_median": round(med, 3), "ms_per_step_min": round(min(times), 3),
                      "images_per_s": round(a.batch / med * 1e3, 1)}))


if __name__ == "__main__":
    main()
