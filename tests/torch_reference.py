"""PyTorch side of tests/torch_compat.rs.

Builds the networks of ../shared/spec/EXPERIMENTS.md §2 as PyTorch modules (module names as in
the papers' code), loads a silab checkpoint into them with strict=True, and compares the logits
with silab's on the same input, with BN in train mode (batch statistics) and in eval mode
(running statistics).

usage: torch_reference.py CASE_DIR...   (each holds model.safetensors and io.safetensors)
Exits non-zero with a message on the first mismatch.
"""
import json
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file


class Flatten(nn.Module):
    def forward(self, x):
        return x.view(x.size(0), -1)


class ConvNet(nn.Module):
    def __init__(self, k, classes, variant):
        super().__init__()
        bias = variant == "standard"
        affine = variant != "scale-invariant"
        layers = []
        for cin, cout, pool in [(3, k, False), (k, 2 * k, True), (2 * k, 4 * k, True), (4 * k, 8 * k, True)]:
            layers += [nn.Conv2d(cin, cout, 3, padding=1, bias=bias), nn.BatchNorm2d(cout, affine=affine), nn.ReLU()]
            if pool:
                layers.append(nn.MaxPool2d(2))
        self.conv_layers = nn.Sequential(*layers)
        self.linear_layers = nn.Sequential(nn.MaxPool2d(4), Flatten(), nn.Linear(8 * k, classes, bias=True))

    def forward(self, x):
        return self.linear_layers(self.conv_layers(x))


class PreActBlock(nn.Module):
    def __init__(self, cin, planes, stride, si, affine):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin, affine=affine)
        self.conv1 = nn.Conv2d(cin, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes, affine=affine)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        if stride != 1 or cin != planes:
            conv = nn.Conv2d(cin, planes, 1, stride=stride, bias=False)
            self.shortcut = nn.Sequential(nn.BatchNorm2d(cin, affine=affine), conv) if si else nn.Sequential(conv)

    def forward(self, x):
        out = F.relu(self.bn1(x))
        shortcut = self.shortcut(out) if hasattr(self, "shortcut") else x
        out = self.conv1(out)
        out = self.conv2(F.relu(self.bn2(out)))
        return out + shortcut


class PreActResNet18(nn.Module):
    def __init__(self, k, classes, variant):
        super().__init__()
        si = variant != "standard"
        affine = variant != "scale-invariant"
        self.si = si
        self.conv1 = nn.Conv2d(3, k, 3, padding=1, bias=False)
        cin = k
        for l, (planes, stride) in enumerate([(k, 1), (2 * k, 2), (4 * k, 2), (8 * k, 2)], start=1):
            blocks = []
            for j in range(2):
                blocks.append(PreActBlock(cin, planes, stride if j == 0 else 1, si, affine))
                cin = planes
            setattr(self, f"layer{l}", nn.Sequential(*blocks))
        if si:
            self.bn = nn.BatchNorm2d(8 * k, affine=affine)
        self.linear = nn.Linear(8 * k, classes, bias=not si)

    def forward(self, x):
        out = self.conv1(x)
        for l in range(1, 5):
            out = getattr(self, f"layer{l}")(out)
        if self.si:
            out = F.relu(self.bn(out))
        out = F.avg_pool2d(out, 4)
        return self.linear(out.view(out.size(0), -1))


def check(case):
    meta = json.load(open(f"{case}/meta.json"))
    cls = ConvNet if meta["arch"] == "convnet" else PreActResNet18
    net = cls(meta["width"], meta["classes"], meta["variant"])
    state = load_file(f"{case}/model.safetensors")
    net.load_state_dict(state, strict=True)  # every name and shape must match, both ways
    io = load_file(f"{case}/io.safetensors")
    net.eval()
    with torch.no_grad():
        out_eval = net(io["x"])
    net.train()
    with torch.no_grad():
        out_train = net(io["x"])
    for name, ours, theirs in [("eval", io["logits_eval"], out_eval), ("train", io["logits_train"], out_train)]:
        err = (ours - theirs).abs().max().item() / theirs.abs().max().item()
        if not err < 1e-4:
            sys.exit(f"{case}: {name}-mode logits differ from PyTorch's (max relative error {err:.2e})")
    print(f"{case}: {len(state)} tensors loaded strictly; logits match in train and eval mode")


if __name__ == "__main__":
    torch.set_num_threads(1)
    for case in sys.argv[1:]:
        check(case)
