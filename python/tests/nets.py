"""Networks written in plain PyTorch for the tests (none of them is one of silab's)."""

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.parametrizations import weight_norm


class Block(nn.Module):
    """A pre-norm residual block: x + conv2(dropout(gelu(GroupNorm(conv1(LayerNorm(x)))))) on [B, C, H, W]."""

    def __init__(self, c: int):
        super().__init__()
        self.norm = nn.GroupNorm(1, c)  # LayerNorm over (C, H, W)
        self.conv1 = nn.Conv2d(c, 2 * c, 3, padding=1)
        self.gn = nn.GroupNorm(2, 2 * c)
        self.conv2 = nn.Conv2d(2 * c, c, 1)
        self.drop = nn.Dropout(0.2)  # random in train mode: the checks must draw the same masks

    def forward(self, x):
        return x + self.conv2(self.drop(F.gelu(self.gn(self.conv1(self.norm(x))))))


class TokenMixer(nn.Module):
    """fc -> LayerNorm without affine -> + a bias of its own (a bias after a norm: not SI)."""

    def __init__(self, d: int):
        super().__init__()
        self.fc = nn.Linear(d, d)
        self.ln = nn.LayerNorm(d, elementwise_affine=False)
        self.post_bias = nn.Parameter(torch.zeros(d))

    def forward(self, x):
        return self.ln(self.fc(x)) + self.post_bias


class PreNormNet(nn.Module):
    """A small ConvNeXt-like net: patchify stem, two pre-norm residual blocks, a token mixer with
    LayerNorm, a final LayerNorm and a linear head."""

    def __init__(self, c: int = 8, classes: int = 5):
        super().__init__()
        self.stem = nn.Conv2d(3, c, 4, stride=4)
        self.blocks = nn.Sequential(Block(c), Block(c))
        self.final = nn.GroupNorm(1, c)
        self.mixer = TokenMixer(c)
        self.head = nn.Linear(c, classes)

    def forward(self, x):
        h = self.final(self.blocks(self.stem(x)))
        t = h.flatten(2).transpose(1, 2)  # [B, N, C]
        return self.head(F.relu(self.mixer(t)).mean(dim=1))


EXPECTED_PRENORM = {
    "blocks.0.conv1": ["blocks.0.conv1.weight", "blocks.0.conv1.bias"],
    "blocks.1.conv1": ["blocks.1.conv1.weight", "blocks.1.conv1.bias"],
    "mixer.fc": ["mixer.fc.weight", "mixer.fc.bias"],
    "stream1": ["stem.weight", "stem.bias", "blocks.0.conv2.weight", "blocks.0.conv2.bias",
                "blocks.1.conv2.weight", "blocks.1.conv2.bias"],
}


class WeightNormed(nn.Module):
    """Weight-normed conv and linear layers (new-style parametrization), a frozen classifier."""

    def __init__(self):
        super().__init__()
        self.conv = weight_norm(nn.Conv2d(3, 4, 3, padding=1, stride=1, bias=False))
        self.fc1 = weight_norm(nn.Linear(16, 16, bias=False))
        self.fc2 = nn.Linear(16, 3)
        self.fc2.weight.requires_grad_(False)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(F.relu(self.conv(x)).flatten(1))))


class DataDependent(nn.Module):
    """Control flow on a value: torch.fx cannot trace it (TorchScript can script it)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 4, bias=False)
        self.bn = nn.BatchNorm1d(4, affine=False)
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        h = self.bn(self.fc(x))
        if bool(x.sum() > 0):  # on the input: the branch does not depend on the weights
            h = h * 2.0
        return self.head(h)


class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x, y):
        return self.fc(x + y)


class NotLogits(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x):
        return self.conv(x)
