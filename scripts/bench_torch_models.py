#!/usr/bin/env python3
"""PyTorch side of `silab bench --arch mlp|vit`: the same workload as ../shared/bench/
torch_convnet.py (random 32x32x3 inputs, batch 128, cross-entropy, SGD with weight decay on every
trained tensor) on silab's MLP or ViT, built by python/silab_reference.py with the same settings
(scale-invariant variant, default norm). Prints one JSON line with the fields of silab bench.

  .venv/bin/python scripts/bench_torch_models.py --arch vit --dim 64 --depth 3 --threads 2
"""
import argparse, json, os, statistics, sys, time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
from silab_reference import build  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", choices=["mlp", "vit"], required=True)
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
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    m = {"arch": a.arch, "width": a.width, "variant": "scale-invariant", "norm": "layer", "depth": a.depth,
         "dim": a.dim, "heads": a.heads, "mlp_ratio": 2.0, "patch": a.patch, "pool": "cls", "bn_eps": 1e-5}
    net = build(m, a.classes).train()
    if a.arch == "mlp":  # silab's scale-invariant MLP: classifier rescaled to norm 10 and frozen
        with torch.no_grad():
            net.head.weight.mul_(10.0 / net.head.weight.norm())
        for p in net.head.parameters():
            p.requires_grad_(False)
    params = [p for p in net.parameters() if p.requires_grad]
    x = torch.randn(a.batch, 3, 32, 32)
    y = torch.randint(0, a.classes, (a.batch,))

    def step():
        for p in params:
            p.grad = None
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        with torch.no_grad():
            for p in params:
                p.mul_(1 - a.lr * a.wd).add_(p.grad, alpha=-a.lr)

    for _ in range(a.warmup):
        step()
    times = []
    for _ in range(a.steps):
        t = time.perf_counter()
        step()
        times.append((time.perf_counter() - t) * 1e3)
    med = statistics.median(times)
    print(json.dumps({"framework": "pytorch", "torch": torch.__version__, "device": "cpu", "threads": a.threads,
                      "mode": "full", "arch": a.arch, "width": a.width, "batch": a.batch,
                      "ms_per_step_median": round(med, 3), "ms_per_step_min": round(min(times), 3),
                      "images_per_s": round(a.batch / med * 1e3, 1)}))


if __name__ == "__main__":
    main()
