"""PyTorch side of tests/optimizers.rs: replays silab's optimizer steps with torch.optim.

Each CASE_DIR holds meta.json (the [model] table, the optimizer's name and hyperparameters, the
learning rate of every step), init.safetensors (the weights before the first step),
data.safetensors (x: [steps, B, 3, 32, 32], y: [steps, B]) and final.safetensors (silab's
weights after the last step). The reference module (silab_reference.build, in float64) starts
from init, takes the same steps with torch.optim.SGD / Adam / AdamW (foreach=False), and its
final weights must equal silab's to a relative 1e-10.

usage: optim_check.py CASE_DIR...
"""
import json
import os
import sys

import torch
import torch.nn.functional as F
from safetensors.torch import load_file

sys.path.insert(0, os.path.dirname(__file__))
from silab_reference import build  # noqa: E402


def check(case):
    meta = json.load(open(f"{case}/meta.json"))
    torch.set_default_dtype(torch.float64)
    net = build(meta["model"], meta["classes"]).double()
    net.load_state_dict(load_file(f"{case}/init.safetensors"), strict=True)
    net.train()
    o = meta["optim"]
    params = [p for p in net.parameters()]
    lrs = o["lrs"]
    if o["name"] == "sgd":
        opt = torch.optim.SGD(params, lr=lrs[0], momentum=o["momentum"], nesterov=o["nesterov"],
                              weight_decay=o["wd"], foreach=False)
    elif o["name"] in ("adam", "adamw"):
        cls = torch.optim.Adam if o["name"] == "adam" else torch.optim.AdamW
        opt = cls(params, lr=lrs[0], betas=(o["beta1"], o["beta2"]), eps=o["eps"], weight_decay=o["wd"],
                  foreach=False)
    else:
        sys.exit(f"{case}: no torch.optim for {o['name']}")
    data = load_file(f"{case}/data.safetensors")
    for t, lr in enumerate(lrs):
        for g in opt.param_groups:
            g["lr"] = lr
        opt.zero_grad()
        F.cross_entropy(net(data["x"][t]), data["y"][t]).backward()
        opt.step()
    ours = load_file(f"{case}/final.safetensors")
    theirs = net.state_dict()
    worst = 0.0
    for name, t in ours.items():
        err = (t - theirs[name]).abs().max().item() / max(theirs[name].abs().max().item(), 1e-30)
        worst = max(worst, err)
    if not worst < 1e-10:
        sys.exit(f"{case}: after {len(lrs)} steps silab's weights differ from torch.optim.{o['name']}'s "
                 f"(max relative error {worst:.2e})")
    print(f"{case}: {len(lrs)} steps of {o['name']} match torch.optim (max relative error {worst:.1e})")


if __name__ == "__main__":
    torch.set_num_threads(1)
    for case in sys.argv[1:]:
        check(case)
