"""PyTorch side of tests/scripted.rs: train a scripted module with a plain PyTorch loop, on the
batches silab drew, and write the per-step losses and the final state dict.

usage: scripted_loop.py CASE_DIR
CASE_DIR/meta.json: {"file": the .pt, "mode": "full" | "sphere", "lr", "momentum", "wd", "elr",
"si": [SI parameter names], "batches": [[indices of step 0], ...], "threads"};
CASE_DIR/data.safetensors: x (the training inputs), y (labels).
Writes CASE_DIR/losses.json (one loss per step) and CASE_DIR/final.safetensors (state_dict).
"""
import json
import sys

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file


def main(case):
    meta = json.load(open(f"{case}/meta.json"))
    torch.set_num_threads(meta["threads"])
    # the file silab.export wrote (tests/py/scripted_nets.py): the same scripted module silab trains
    net = torch.jit.load(meta["file"])
    net.train()
    data = load_file(f"{case}/data.safetensors")
    params = dict(net.named_parameters())
    trained = [p for p in params.values() if p.requires_grad]
    si = [params[n] for n in meta["si"]]
    if meta["mode"] == "full":
        opt = torch.optim.SGD(trained, lr=meta["lr"], momentum=meta["momentum"], weight_decay=meta["wd"],
                              foreach=False)
    rho0 = sum(p.detach().double().square().sum().item() for p in si) ** 0.5
    losses = []
    for idx in meta["batches"]:
        idx = torch.tensor(idx)
        x, y = data["x"].index_select(0, idx), data["y"].index_select(0, idx)
        for p in trained:
            p.grad = None
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        losses.append(loss.item())
        if meta["mode"] == "full":
            opt.step()
            continue
        # sphere: an SGD step of lr = elr * rho0^2 on the SI tensors, then all of them scaled
        # back jointly to the radius rho0
        with torch.no_grad():
            for p in si:
                p.add_(p.grad, alpha=-meta["elr"] * rho0 ** 2)
            rho = torch.sqrt(sum(p.double().square().sum() for p in si)).item()
            for p in si:
                p.mul_(rho0 / rho)
    json.dump(losses, open(f"{case}/losses.json", "w"))
    save_file({k: v.detach().contiguous() for k, v in net.state_dict().items()}, f"{case}/final.safetensors")
    print(f"{case}: {len(losses)} steps")


if __name__ == "__main__":
    main(sys.argv[1])
