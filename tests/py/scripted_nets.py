"""Scripted modules for tests/scripted.rs: `scripted_nets.py OUT_DIR` writes, into OUT_DIR,

- convnet.pt (+ convnet.silab.toml): the reference ConvNet-8-SI (python/silab_reference.py),
  exported by `silab.export` (scripted, reloaded and checked, its SI groups proposed from the
  graph, verified and written to the manifest);
- traced.pt: the same module traced (silab must refuse it);
- resnet.pt (+ resnet.silab.toml): the reference pre-activation ResNet-18-SI-4, exported the same way;
- two_inputs.pt: a forward of two tensors; tuple_out.pt: a forward returning a tuple;
- prenorm.pt (+ prenorm.silab.toml): a pre-norm residual net with GroupNorm and LayerNorm that
  silab has never seen, with its SI groups declared by hand;
- bias_after_norm.silab.toml: the same net's manifest with a bias AFTER a norm declared SI.
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "python"))
from silab import export  # noqa: E402
from silab_reference import PreActResNet18, build  # noqa: E402


class ScriptableResNet(PreActResNet18):
    """The reference ResNet with its layers called by name (torch.jit.script cannot getattr an
    f-string); the same module otherwise."""

    def forward(self, x):
        out = self.layer4(self.layer3(self.layer2(self.layer1(self.conv1(x)))))
        if self.si:
            out = F.relu(self.bn(out))
        out = F.avg_pool2d(out, 4)
        return self.linear(out.view(out.size(0), -1))


class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3 * 32 * 32, 10)

    def forward(self, x, y):
        return self.fc(x.flatten(1)) + self.fc(y.flatten(1))


class TupleOut(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3 * 32 * 32, 10)

    def forward(self, x):
        z = self.fc(x.flatten(1))
        return z, z


class Block(nn.Module):
    """Pre-norm residual block on tokens: x + fc2(relu(norm2(fc1(norm1(x))))) ."""

    def __init__(self, d):
        super().__init__()
        self.norm1 = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, 2 * d)
        self.norm2 = nn.LayerNorm(2 * d, elementwise_affine=False)
        self.fc2 = nn.Linear(2 * d, d)

    def forward(self, x):
        return x + self.fc2(torch.relu(self.norm2(self.fc1(self.norm1(x)))))


class PreNorm(nn.Module):
    """Conv stem -> GroupNorm -> tokens -> 2 pre-norm blocks -> LayerNorm -> mean -> head."""

    def __init__(self, d=8, classes=10):
        super().__init__()
        self.stem = nn.Conv2d(3, d, 4, stride=4)
        self.stem_norm = nn.GroupNorm(2, d)
        self.blocks = nn.ModuleList([Block(d) for _ in range(2)])
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, classes)

    def forward(self, x):
        h = self.stem_norm(self.stem(x))  # [B, d, 8, 8]
        h = h.flatten(2).transpose(1, 2)  # [B, 64, d]
        for b in self.blocks:
            h = b(h)
        return self.head(self.norm(h).mean(1))


class TinyGray(nn.Module):
    """One-channel 12 x 12 inputs (not silab's built-in images): conv -> BatchNorm -> ReLU -> pool -> head."""

    def __init__(self, classes=3):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(4, affine=False)
        self.head = nn.Linear(4, classes)

    def forward(self, x):
        h = torch.relu(self.bn(self.conv(x)))
        return self.head(h.mean(dim=(2, 3)))


TINY_GRAY_MANIFEST = """input_shape = [1, 12, 12]
classes = 3
[[si_groups]]
name = "conv"
params = ["conv.weight"]
how = "BatchNorm2d bn"
"""


PRENORM_MANIFEST = """input_shape = [3, 32, 32]
classes = 10
[[si_groups]]
name = "stem"
params = ["stem.weight", "stem.bias"]
how = "GroupNorm stem_norm"
[[si_groups]]
name = "blocks.0.fc1"
params = ["blocks.0.fc1.*"]
how = "LayerNorm blocks.0.norm2"
[[si_groups]]
name = "blocks.1.fc1"
params = ["blocks.1.fc1.weight", "blocks.1.fc1.bias"]
how = "LayerNorm blocks.1.norm2"
"""


def main(out):
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    cfg = {"arch": "convnet", "width": 8, "variant": "scale-invariant", "norm": "batch"}
    m = build(cfg, classes=10)
    for p in m.linear_layers[2].parameters():  # the SI variant's fixed last layer
        p.requires_grad_(False)
    example = torch.randn(4, 3, 32, 32)
    export(m, example, os.path.join(out, "convnet.pt"))
    torch.jit.trace(m, torch.randn(2, 3, 32, 32)).save(os.path.join(out, "traced.pt"))
    resnet = ScriptableResNet({"arch": "resnet18", "width": 4, "variant": "scale-invariant", "norm": "batch"}, 10)
    export(resnet, example, os.path.join(out, "resnet.pt"))
    torch.jit.script(TwoInputs()).save(os.path.join(out, "two_inputs.pt"))
    torch.jit.script(TupleOut()).save(os.path.join(out, "tuple_out.pt"))
    torch.jit.script(PreNorm()).save(os.path.join(out, "prenorm.pt"))
    with open(os.path.join(out, "prenorm.silab.toml"), "w") as f:
        f.write(PRENORM_MANIFEST)
    torch.jit.script(PreNorm()).save(os.path.join(out, "bias_after_norm.pt"))
    with open(os.path.join(out, "bias_after_norm.silab.toml"), "w") as f:
        f.write(PRENORM_MANIFEST.replace('"stem.bias"]', '"stem.bias", "stem_norm.bias"]'))
    torch.jit.script(TinyGray()).save(os.path.join(out, "tiny_gray.pt"))
    with open(os.path.join(out, "tiny_gray.silab.toml"), "w") as f:
        f.write(TINY_GRAY_MANIFEST)
    print("ok", out)


if __name__ == "__main__":
    main(sys.argv[1])
