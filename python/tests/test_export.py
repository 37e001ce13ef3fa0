"""silab.export: scripting, reload check, SI groups proposed and verified, the manifest."""

import tomllib
import warnings

import pytest
import silab
import torch
import torch.nn as nn
from nets import EXPECTED_PRENORM, DataDependent, NotLogits, PreNormNet, TwoInputs, WeightNormed
from silab.si import propose
from silab_reference import build

CONVNET_SI = {"arch": "convnet", "width": 8, "variant": "scale-invariant"}


def groups_of(manifest):
    return {g["name"]: g["params"] for g in manifest.get("si_groups", [])}


def test_reference_convnet_exports_with_its_four_conv_groups(tmp_path):
    torch.manual_seed(0)
    net = build(CONVNET_SI, classes=10)
    x = torch.randn(4, 3, 32, 32)
    r = silab.export(net, x, tmp_path / "net.pt")
    assert r.manifest == tmp_path / "net.silab.toml"
    with open(r.manifest, "rb") as f:
        man = tomllib.load(f)  # the manifest round trip
    assert man["input_shape"] == [3, 32, 32] and man["classes"] == 10 and man["frozen"] == []
    assert groups_of(man) == {f"conv_layers.{i}": [f"conv_layers.{i}.weight"] for i in (0, 3, 7, 11)}
    assert all("BatchNorm2d" in g["how"] and "per-channel" in g["how"] for g in man["si_groups"])
    assert man == silab.read_manifest(tmp_path / "net.pt")
    assert r.undeclared == [] and r.dropped == []
    assert all(m.output_rel < 1e-12 for m in r.verification.groups)
    # the file silab loads computes what the eager module does, in both modes
    loaded = torch.jit.load(str(tmp_path / "net.pt"))
    assert [k for k, _ in loaded.named_parameters()] == [k for k, _ in net.named_parameters()]
    assert [k for k, _ in loaded.named_buffers()] == [k for k, _ in net.named_buffers()]
    net.eval()
    loaded.eval()
    with torch.no_grad():
        assert torch.equal(loaded(x), net(x))
    net.train()
    loaded.train()
    with torch.no_grad():
        assert torch.equal(loaded(x), net(x))
    assert torch.equal(dict(loaded.named_buffers())["conv_layers.1.running_mean"], net.conv_layers[1].running_mean)


def test_export_leaves_the_module_unchanged(tmp_path):
    net = build(CONVNET_SI, classes=10)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    silab.export(net, torch.randn(4, 3, 32, 32), tmp_path / "net.pt")
    after = net.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_reference_resnet_streams_match_silabs_declaration():
    """Pre-activation ResNet-18-SI: each conv1 alone, and per stage the stream (stem or shortcut
    conv + every conv2), as silab declares them (src/model/resnet.rs)."""
    r = propose(build({"arch": "resnet18", "width": 2, "variant": "scale-invariant"}, classes=10))
    got = {g.name: sorted(g.params) for g in r.groups}
    want = {f"layer{l}.{j}.conv1": [f"layer{l}.{j}.conv1.weight"] for l in range(1, 5) for j in range(2)}
    want["stream1"] = sorted(["conv1.weight", "layer1.0.conv2.weight", "layer1.1.conv2.weight"])
    for l in (2, 3, 4):
        want[f"stream{l}"] = sorted([f"layer{l}.0.shortcut.1.weight", f"layer{l}.0.conv2.weight",
                                     f"layer{l}.1.conv2.weight"])
    assert got == want


def test_reference_resnet_exports(tmp_path):
    net = build({"arch": "resnet18", "width": 2, "variant": "scale-invariant"}, classes=10)
    r = silab.export(net, torch.randn(4, 3, 32, 32), tmp_path / "resnet.pt")
    man = silab.read_manifest(r.manifest)
    assert len(man["si_groups"]) == 12 and r.dropped == [] and r.undeclared == []
    assert groups_of(man)["stream2"] == ["layer2.0.conv2.weight", "layer2.0.shortcut.1.weight",
                                         "layer2.1.conv2.weight"]  # in the module's order
    assert r.reload_max_rel == {"eval": 0.0, "train": 0.0}


@pytest.mark.parametrize("norm,kind", [("layer", "GroupNorm"), ("rms", "RMSNorm2d"), ("group", "GroupNorm")])
def test_reference_convnet_other_norms(norm, kind):
    r = propose(build({**CONVNET_SI, "width": 2, "norm": norm}, classes=10))
    assert [g.params for g in r.groups] == [[f"conv_layers.{i}.weight"] for i in (0, 3, 7, 11)]
    assert all(kind in g.how and "per-channel" not in g.how for g in r.groups)


def test_si_affine_gains_are_reported_not_proposed():
    r = propose(build({**CONVNET_SI, "width": 2, "variant": "si-affine"}, classes=10))
    assert [g.name for g in r.groups] == [f"conv_layers.{i}" for i in (0, 3, 7, 11)]
    # a BatchNorm's gain and shift feeding ReLU -> conv -> BatchNorm are SI too, but trained freely
    assert [g.name for g in r.si_affine] == ["conv_layers.1", "conv_layers.4", "conv_layers.8"]


def test_prenorm_residual_net(tmp_path):
    torch.manual_seed(0)
    net = PreNormNet()
    x = torch.randn(4, 3, 16, 16)
    r = silab.export(net, x, tmp_path / "prenorm.pt")
    man = silab.read_manifest(r.manifest)
    assert groups_of(man) == EXPECTED_PRENORM
    how = {g["name"]: g["how"] for g in man["si_groups"]}
    assert how["blocks.0.conv1"] == "GroupNorm blocks.0.gn"  # joint: weight and bias one group
    assert how["mixer.fc"] == "LayerNorm mixer.ln"
    assert "residual stream of stem, blocks.0.conv2, blocks.1.conv2" in how["stream1"]
    # the bias after a norm is not proposed, nor is the head
    assert "mixer" in propose(net).not_si and "head" in propose(net).not_si
    assert not any("post_bias" in p for ps in groups_of(man).values() for p in ps)
    loaded = torch.jit.load(str(r.path))
    loaded.eval()
    net.eval()
    with torch.no_grad():
        assert torch.equal(loaded(x), net(x))


def test_a_declared_group_that_is_not_si_is_dropped_with_a_warning(tmp_path):
    net = PreNormNet()
    declared = {"mixer.fc": ["mixer.fc.weight", "mixer.fc.bias"], "after_norm": ["mixer.post_bias"]}
    with pytest.warns(UserWarning, match=r"SI group 'after_norm' \(mixer.post_bias\) is not scale-invariant: "
                                         r"scaling it changes the output by [0-9.e+-]+"):
        r = silab.export(net, torch.randn(4, 3, 16, 16), tmp_path / "n.pt", si_groups=declared)
    assert [g.name for g in r.groups] == ["mixer.fc"]
    assert [d.what for d in r.dropped] == ["after_norm"] and r.dropped[0].output_rel > 1e-3
    assert groups_of(silab.read_manifest(r.manifest)) == {"mixer.fc": ["mixer.fc.weight", "mixer.fc.bias"]}


def test_undeclared_si_tensors_are_reported(tmp_path):
    net = build({**CONVNET_SI, "width": 2}, classes=10)
    r = silab.export(net, torch.randn(4, 3, 32, 32), tmp_path / "n.pt", si_groups={"c0": ["conv_layers.0.weight"]})
    assert sorted(u.what for u in r.undeclared) == [f"conv_layers.{i}.weight" for i in (11, 3, 7)]


def test_weight_norm_and_frozen(tmp_path):
    net = WeightNormed()
    r = silab.export(net, torch.randn(4, 3, 2, 2), tmp_path / "wn.pt")
    man = silab.read_manifest(r.manifest)
    assert groups_of(man) == {"conv": ["conv.parametrizations.weight.original1"],
                              "fc1": ["fc1.parametrizations.weight.original1"]}
    assert [g["how"] for g in man["si_groups"]] == ["weight norm conv, per-channel", "weight norm fc1, per-channel"]
    assert man["frozen"] == ["fc2.weight"]
    assert man["input_shape"] == [3, 2, 2] and man["classes"] == 3
    # TorchScript runs no parametrization: export scripts a twin with the same names, so the
    # file's tensors load into the original module strictly and compute the same logits
    loaded = torch.jit.load(str(r.path))
    assert [k for k, _ in loaded.named_parameters()] == [k for k, _ in net.named_parameters()]
    fresh = WeightNormed()
    fresh.load_state_dict(loaded.state_dict(), strict=True)
    x = torch.randn(5, 3, 2, 2)
    with torch.no_grad():
        assert torch.equal(loaded(x), fresh(x)) and torch.equal(loaded(x), net(x))


def test_traced_and_scripted_modules_are_refused(tmp_path):
    net = build({**CONVNET_SI, "width": 2}, classes=10)
    x = torch.randn(2, 3, 32, 32)
    with pytest.raises(silab.ExportError, match=r"traced module \(torch.jit.trace\).*pass the nn.Module itself"):
        silab.export(torch.jit.trace(net, x), x, tmp_path / "t.pt")
    with pytest.raises(silab.ExportError, match="already a ScriptModule"):
        silab.export(torch.jit.script(net), x, tmp_path / "s.pt")
    assert not (tmp_path / "t.pt").exists() and not (tmp_path / "t.silab.toml").exists()


def test_signature_and_output_are_checked(tmp_path):
    with pytest.raises(silab.ExportError, match=r"TwoInputs.forward\(x, y\) takes 2 required inputs"):
        silab.export(TwoInputs(), torch.randn(2, 4), tmp_path / "a.pt")
    with pytest.raises(silab.ExportError, match=r"returns a tensor of shape \[2, 4, 6, 6\].*logits \[B, C\]"):
        silab.export(NotLogits(), torch.randn(2, 3, 8, 8), tmp_path / "b.pt")
    with pytest.raises(silab.ExportError, match="a batch of at least 2 inputs"):
        silab.export(build(CONVNET_SI, classes=10), torch.randn(1, 3, 32, 32), tmp_path / "c.pt")


def test_untraceable_module_needs_declared_groups(tmp_path):
    x = torch.randn(8, 6)
    msg = r"torch.fx cannot trace DataDependent.*si_groups=.*check-si --propose"
    with pytest.raises(silab.ProposalError, match=msg):
        silab.export(DataDependent(), x, tmp_path / "d.pt")
    assert list(tmp_path.iterdir()) == []  # nothing written
    r = silab.export(DataDependent(), x, tmp_path / "d.pt", si_groups={"fc": ["fc.weight"]})
    assert [g.name for g in r.groups] == ["fc"]
    r = silab.export(DataDependent(), x, tmp_path / "e.pt", propose=False)
    assert "si_groups" not in silab.read_manifest(r.manifest) and r.groups == []


def test_unscriptable_module_is_refused(tmp_path):
    class PythonOnly(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 2)

        def forward(self, x):
            return self.fc(x) * len({i for i in range(2)})  # a set comprehension: not TorchScript

    with pytest.raises(silab.ExportError, match="torch.jit.script cannot script PythonOnly"):
        silab.export(PythonOnly(), torch.randn(2, 4), tmp_path / "p.pt", propose=False)


def test_old_style_weight_norm_is_refused(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        net = build({**CONVNET_SI, "width": 2, "norm": "weight"}, classes=10)
    with pytest.raises(silab.ExportError, match="old torch.nn.utils.weight_norm.*parametrizations.weight_norm"):
        silab.export(net, torch.randn(2, 3, 32, 32), tmp_path / "w.pt")
    # its groups are still proposed (weight_v, the direction)
    assert [g.params for g in propose(net).groups] == [[f"conv_layers.{i}.weight_v"] for i in (0, 3, 7, 11)]


def test_reference_vit_groups_match_silabs_declaration():
    """src/model/vit.rs: SI variant, each fc1 and fc2 (weight and bias) alone; standard, the
    tensors writing the residual stream (patch embedding, class token, position embedding, every
    attn.proj and mlp.fc2) jointly. The verification agrees (nothing dropped)."""
    vit = {"arch": "vit", "dim": 16, "heads": 2, "depth": 2, "mlp_ratio": 2.0, "patch": 8}
    si = silab.si_groups(build({**vit, "variant": "scale-invariant"}, 10), torch.randn(4, 3, 32, 32))
    assert {g.name: g.params for g in si.groups} == {
        f"blocks.{i}.mlp.{fc}": [f"blocks.{i}.mlp.{fc}.weight", f"blocks.{i}.mlp.{fc}.bias"]
        for i in range(2) for fc in ("fc1", "fc2")} and si.dropped == []
    std = silab.si_groups(build({**vit, "variant": "standard"}, 10), torch.randn(4, 3, 32, 32))
    residual = ["cls_token", "pos_embed", "patch_embed.proj.weight", "patch_embed.proj.bias"] + [
        f"blocks.{i}.{m}.{t}" for i in range(2) for m in ("attn.proj", "mlp.fc2") for t in ("weight", "bias")]
    assert [(g.name, sorted(g.params)) for g in std.groups] == [("stream1", sorted(residual))]
    assert std.dropped == [] and std.verification.groups[0].invariant


def test_functional_normalizations():
    class Cosine(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(5, 6)
            self.mid = nn.Linear(6, 6)
            self.head = nn.Linear(6, 3, bias=False)

        def forward(self, x):
            # a functional norm keeps its own eps in the verification (no attribute to set to ~0)
            h = torch.nn.functional.layer_norm(self.mid(torch.nn.functional.normalize(self.fc(x), dim=1)), (6,),
                                               eps=1e-12)
            return h @ torch.nn.functional.normalize(self.head.weight, dim=1).t() * 10.0

    r = silab.si_groups(Cosine(), torch.randn(4, 5))
    assert {g.name: g.how for g in r.groups} == {"fc": "F.normalize in forward", "mid": "F.layer_norm in forward",
                                                 "head": "F.normalize in forward"}
    assert r.dropped == []
