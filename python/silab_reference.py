"""PyTorch reference modules for silab's networks, with silab's parameter names.

A silab checkpoint (`RUN_DIR/checkpoints/epoch_NNNNN.safetensors`) loads into the module built
from the run's `[model]` config with `load_state_dict(..., strict=True)` and computes the same
logits:

    import tomllib, torch
    from safetensors.torch import load_file
    from silab_reference import build
    cfg = tomllib.load(open("RUN_DIR/config.toml", "rb"))
    net = build(cfg["model"], classes=10)
    net.load_state_dict(load_file("RUN_DIR/checkpoints/epoch_00008.safetensors"), strict=True)

`build` takes the `[model]` table (arch, width, variant, norm, groups, depth, dim, heads,
mlp_ratio, patch, pool, bn_eps) as silab writes it. Architectures: ConvNet-k and pre-activation
ResNet-18-k (the papers' module names), an MLP and a Vision Transformer (timm's names). Norms:
batch, layer (GroupNorm(1, C) on feature maps), group, rms, instance, weight (old-style
`weight_g`/`weight_v`), none.

Run as a script (`silab_reference.py CASE_DIR...`, each with meta.json, model.safetensors,
io.safetensors) it checks silab's logits against PyTorch's; tests/torch_compat.rs does that.
"""
import json
import math
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

try:
    from torch.nn.utils import weight_norm as _weight_norm  # old-style: weight_g / weight_v
except ImportError:  # pragma: no cover
    _weight_norm = None


def resolve_norm(m):
    norm = m.get("norm", "auto")
    if norm == "auto":
        return "batch" if m["arch"] in ("convnet", "resnet18") else "layer"
    return norm


class RMSNorm2d(nn.Module):
    """RMS over (C, H, W) of each sample, scale per channel (silab's `rms` on feature maps)."""

    def __init__(self, c, affine, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(c)) if affine else None

    def forward(self, x):
        y = x / torch.sqrt(x.pow(2).mean(dim=(1, 2, 3), keepdim=True) + self.eps)
        return y * self.weight.view(1, -1, 1, 1) if self.weight is not None else y


class GroupNormTokens(nn.GroupNorm):
    """GroupNorm over the features of tokens [B, N, D] (channels last)."""

    def forward(self, x):
        if x.dim() == 3:
            return super().forward(x.transpose(1, 2)).transpose(1, 2)
        return super().forward(x)


def norm2d(kind, c, affine, m):
    eps, groups = m.get("bn_eps", 1e-5), m.get("groups", 2)
    if kind == "batch":
        return nn.BatchNorm2d(c, affine=affine, eps=eps)
    if kind == "layer":
        return nn.GroupNorm(1, c, affine=affine, eps=eps)
    if kind == "group":
        return nn.GroupNorm(groups, c, affine=affine, eps=eps)
    if kind == "rms":
        return RMSNorm2d(c, affine, eps)
    if kind == "instance":
        return nn.InstanceNorm2d(c, affine=affine, eps=eps)
    return nn.Identity()  # weight, none


def norm1d(kind, d, affine, m):
    eps, groups = m.get("bn_eps", 1e-5), m.get("groups", 2)
    if kind == "batch":
        return nn.BatchNorm1d(d, affine=affine, eps=eps)
    if kind == "layer":
        return nn.LayerNorm(d, elementwise_affine=affine, eps=eps)
    if kind == "group":
        return GroupNormTokens(groups, d, affine=affine, eps=eps)
    if kind == "rms":
        return nn.RMSNorm(d, eps=eps, elementwise_affine=affine)
    return nn.Identity()


def wn(module, kind):
    return _weight_norm(module) if kind == "weight" else module


class Flatten(nn.Module):
    def forward(self, x):
        return x.view(x.size(0), -1)


class ConvNet(nn.Module):
    def __init__(self, m, classes):
        super().__init__()
        k, variant, kind = m["width"], m["variant"], resolve_norm(m)
        bias = variant == "standard"
        affine = variant != "scale-invariant"
        layers = []
        for cin, cout, pool in [(3, k, False), (k, 2 * k, True), (2 * k, 4 * k, True), (4 * k, 8 * k, True)]:
            conv = wn(nn.Conv2d(cin, cout, 3, padding=1, bias=bias), kind)
            layers += [conv, norm2d(kind, cout, affine, m), nn.ReLU()]
            if pool:
                layers.append(nn.MaxPool2d(2))
        self.conv_layers = nn.Sequential(*layers)
        self.linear_layers = nn.Sequential(nn.MaxPool2d(4), Flatten(), nn.Linear(8 * k, classes, bias=True))

    def forward(self, x):
        return self.linear_layers(self.conv_layers(x))


class PreActBlock(nn.Module):
    def __init__(self, cin, planes, stride, si, affine, kind, m):
        super().__init__()
        self.bn1 = norm2d(kind, cin, affine, m)
        self.conv1 = wn(nn.Conv2d(cin, planes, 3, stride=stride, padding=1, bias=False), kind)
        self.bn2 = norm2d(kind, planes, affine, m)
        self.conv2 = wn(nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False), kind)
        if stride != 1 or cin != planes:
            conv = wn(nn.Conv2d(cin, planes, 1, stride=stride, bias=False), kind)
            self.shortcut = nn.Sequential(norm2d(kind, cin, affine, m), conv) if si else nn.Sequential(conv)

    def forward(self, x):
        out = F.relu(self.bn1(x))
        shortcut = self.shortcut(out) if hasattr(self, "shortcut") else x
        out = self.conv1(out)
        out = self.conv2(F.relu(self.bn2(out)))
        return out + shortcut


class PreActResNet18(nn.Module):
    def __init__(self, m, classes):
        super().__init__()
        k, variant, kind = m["width"], m["variant"], resolve_norm(m)
        si = variant != "standard"
        affine = variant != "scale-invariant"
        self.si = si
        self.conv1 = wn(nn.Conv2d(3, k, 3, padding=1, bias=False), kind)
        cin = k
        for l, (planes, stride) in enumerate([(k, 1), (2 * k, 2), (4 * k, 2), (8 * k, 2)], start=1):
            blocks = []
            for j in range(2):
                blocks.append(PreActBlock(cin, planes, stride if j == 0 else 1, si, affine, kind, m))
                cin = planes
            setattr(self, f"layer{l}", nn.Sequential(*blocks))
        if si:
            self.bn = norm2d(kind, 8 * k, affine, m)
        self.linear = nn.Linear(8 * k, classes, bias=not si)

    def forward(self, x):
        out = self.layer4(self.layer3(self.layer2(self.layer1(self.conv1(x)))))  # scriptable (no getattr)
        if self.si:
            out = F.relu(self.bn(out))
        out = F.avg_pool2d(out, 4)
        return self.linear(out.view(out.size(0), -1))


class MLP(nn.Module):
    def __init__(self, m, classes):
        super().__init__()
        w, depth, variant, kind = m["width"], m["depth"], m["variant"], resolve_norm(m)
        bias = variant == "standard"
        affine = variant != "scale-invariant"
        layers, fin = [], 3 * 32 * 32
        for _ in range(depth):
            layers += [wn(nn.Linear(fin, w, bias=bias), kind), norm1d(kind, w, affine, m), nn.ReLU()]
            fin = w
        self.layers = nn.Sequential(*layers)
        self.head = nn.Linear(w, classes, bias=True)

    def forward(self, x):
        return self.head(self.layers(x.flatten(1)))


class PatchEmbed(nn.Module):
    def __init__(self, dim, patch):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, patch, stride=patch)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, d = x.shape
        qkv = self.qkv(x).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        att = (q @ k.transpose(-2, -1) / math.sqrt(d // self.heads)).softmax(-1)
        return self.proj((att @ v).transpose(1, 2).reshape(b, n, d))


class FeedForward(nn.Module):
    def __init__(self, dim, hidden, si, kind, m):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        if si:  # the scale-invariant ViT: each feed-forward linear followed by a norm
            self.norm_fc1 = norm1d(kind, hidden, True, m)
            self.norm_fc2 = norm1d(kind, dim, True, m)
        self.si = si

    def forward(self, x):
        h = self.fc1(x)
        h = F.gelu(self.norm_fc1(h) if self.si else h)
        h = self.fc2(h)
        return self.norm_fc2(h) if self.si else h


class Block(nn.Module):
    def __init__(self, dim, heads, hidden, si, kind, m):
        super().__init__()
        self.norm1 = norm1d(kind, dim, True, m)
        self.attn = Attention(dim, heads)
        self.norm2 = norm1d(kind, dim, True, m)
        self.mlp = FeedForward(dim, hidden, si, kind, m)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ViT(nn.Module):
    def __init__(self, m, classes):
        super().__init__()
        dim, patch, kind = m["dim"], m["patch"], resolve_norm(m)
        si = m["variant"] == "scale-invariant"
        hidden = max(1, round(dim * m["mlp_ratio"]))
        tokens = (32 // patch) ** 2
        self.patch_embed = PatchEmbed(dim, patch)
        self.cls = m.get("pool", "cls") == "cls"
        if self.cls:
            self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, tokens + int(self.cls), dim))
        self.blocks = nn.Sequential(*[Block(dim, m["heads"], hidden, si, kind, m) for _ in range(m["depth"])])
        self.norm = norm1d(kind, dim, True, m)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        t = self.patch_embed(x)
        if self.cls:
            t = torch.cat([self.cls_token.expand(t.size(0), -1, -1), t], dim=1)
        h = self.norm(self.blocks(t + self.pos_embed))
        return self.head(h[:, 0] if self.cls else h.mean(dim=1))


def build(m, classes):
    """The module of silab's `[model]` config `m` (a dict)."""
    return {"convnet": ConvNet, "resnet18": PreActResNet18, "mlp": MLP, "vit": ViT}[m["arch"]](m, classes)


def check(case):
    meta = json.load(open(f"{case}/meta.json"))
    from safetensors.torch import load_file

    net = build(meta["model"], meta["classes"])
    state = load_file(f"{case}/model.safetensors")
    net.load_state_dict(state, strict=True)  # every name and shape must match, both ways
    io = load_file(f"{case}/io.safetensors")
    net.eval()
    with torch.no_grad():
        out_eval = net(io["x"])
    net.train()
    with torch.no_grad():
        out_train = net(io["x"])
    tol = meta.get("tolerance", 1e-4)
    for name, ours, theirs in [("eval", io["logits_eval"], out_eval), ("train", io["logits_train"], out_train)]:
        err = (ours - theirs).abs().max().item() / theirs.abs().max().item()
        if not err < tol:
            sys.exit(f"{case}: {name}-mode logits differ from PyTorch's (max relative error {err:.2e} >= {tol:.0e})")
    print(f"{case}: {len(state)} tensors loaded strictly; logits match in train and eval mode")


if __name__ == "__main__":
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning)  # old-style weight_norm
    torch.set_num_threads(1)
    for case in sys.argv[1:]:
        check(case)
