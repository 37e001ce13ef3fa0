"""`silab.export`: a scripted module for silab (`model.file`) and its SI manifest beside it.

silab loads the file with libtorch and runs it in its three modes by itself: train (batch
statistics, running statistics updated), train with the running statistics left untouched (it
snapshots the named buffers and restores them) and eval. The module needs nothing added for
that: its parameters and buffers are read by their PyTorch names.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import json
import tomllib
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import __version__
from . import si as _si

#: Largest relative difference allowed between the eager and the reloaded scripted module's outputs.
RELOAD_TOLERANCE = 1e-6


class ExportError(ValueError):
    """The module cannot be exported for silab (the message says why and what to do)."""


@dataclass
class ExportResult:
    """What :func:`export` wrote and found."""

    path: Path
    manifest: Path
    input_shape: list[int]
    classes: int
    groups: list[_si.Proposal]
    frozen: list[str]
    dropped: list[_si.Measured] = field(default_factory=list)
    undeclared: list[_si.Measured] = field(default_factory=list)
    verification: _si.Verification | None = None
    reload_max_rel: dict[str, float] = field(default_factory=dict)
    #: normalizations' gains and shifts that are SI too (proposed groups only; not in the manifest)
    si_affine: list[_si.Proposal] = field(default_factory=list)

    def summary(self) -> str:
        """A few lines for people: the files, the groups with their measured invariance."""
        lines = [f"{self.path}: scripted, reloaded, outputs equal in train and eval mode "
                 f"(max relative difference {max(self.reload_max_rel.values(), default=0.0):.1e})",
                 f"{self.manifest}: input_shape {self.input_shape}, classes {self.classes}, "
                 f"{len(self.groups)} SI groups, {len(self.frozen)} frozen"]
        measured = {m.what: m for m in (self.verification.groups if self.verification else [])}
        for g in self.groups:
            m = measured.get(g.name)
            inv = f"  (scaled: output {m.output_rel:.1e}, loss {m.loss_rel:.1e})" if m else ""
            lines.append(f"  {g.name:<24} {len(g.params)} tensors  {g.how}{inv}")
        for d in self.dropped:
            lines.append(f"  dropped {d.what}: output changes by {d.output_rel:.1e} when scaled ({d.mode} mode)")
        for u in self.undeclared:
            lines.append(f"  also SI on its own, not in a group: {u.what}")
        for a in self.si_affine:
            lines.append(f"  also SI, a normalization's affine parameters (not proposed): {a.name} ({a.how})")
        return "\n".join(lines)


def manifest_path(path: str | Path) -> Path:
    """The manifest beside a scripted file: `net.pt` -> `net.silab.toml`."""
    p = Path(path)
    return p.with_name(p.stem + ".silab.toml")


def _toml_str(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)  # JSON's string escapes are valid TOML basic strings


def write_manifest(path: str | Path, input_shape, classes: int, groups, frozen) -> Path:
    """Write the manifest (format: the book's "Your own model" page) for the scripted file `path`.

    Top-level keys come first: in TOML, a key after a `[[si_groups]]` header would belong to
    that group."""
    out = manifest_path(path)
    lines = [
        f"# written by silab.export (python package silab {__version__}, torch {torch.__version__.split('+')[0]})",
        f"input_shape = [{', '.join(str(int(d)) for d in input_shape)}]  # one example, without the batch dimension",
        f"classes = {int(classes)}  # size of the last output dimension",
        f"frozen = [{', '.join(_toml_str(f) for f in frozen)}]  # parameters with requires_grad = False",
    ]
    for g in groups:
        lines += ["", "[[si_groups]]", f"name = {_toml_str(g.name)}",
                  f"params = [{', '.join(_toml_str(p) for p in g.params)}]"]
        if g.how:
            lines.append(f"how = {_toml_str(g.how)}")
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(out)
    return out


def read_manifest(path: str | Path) -> dict:
    """The manifest of a scripted file (`net.pt` or `net.silab.toml`) as a dict (tomllib)."""
    p = Path(path)
    p = p if p.name.endswith(".silab.toml") else manifest_path(p)
    with open(p, "rb") as f:
        return tomllib.load(f)


def _refuse_unscriptable(module) -> None:
    if isinstance(module, torch.jit.TracedModule):
        raise ExportError(
            f"{type(module).__name__} is a traced module (torch.jit.trace): tracing records one pass and "
            "freezes its train/eval behaviour (BatchNorm, dropout), so silab cannot run it in its three "
            "modes; pass the nn.Module itself: export scripts it (torch.jit.script)")
    if isinstance(module, torch.jit.ScriptModule):
        raise ExportError(
            f"{type(module).__name__} is already a ScriptModule: pass the eager nn.Module, which export "
            "scripts itself (it needs the eager module to propose the SI groups from its graph)")
    if not isinstance(module, nn.Module):
        raise ExportError(f"export takes an nn.Module, not {type(module).__name__}")
    for name, m in module.named_modules():
        if any(type(h).__name__ == "WeightNorm" for h in m._forward_pre_hooks.values()):
            raise ExportError(
                f"{name or type(module).__name__} uses the old torch.nn.utils.weight_norm (a hook "
                "TorchScript cannot script); use torch.nn.utils.parametrizations.weight_norm instead")


class _Originals(nn.Module):
    """`parametrizations.weight` of a weight-normed layer: `original0` (g) and `original1` (v)."""

    def __init__(self, g: nn.Parameter, v: nn.Parameter):
        super().__init__()
        self.original0 = g
        self.original1 = v


class _Parametrizations(nn.Module):
    def __init__(self, weight: _Originals):
        super().__init__()
        self.weight = weight


class _WeightNormed(nn.Module):
    """A scriptable twin of a Linear or ConvNd under torch.nn.utils.parametrizations.weight_norm
    (TorchScript runs no parametrization): the same parameter names, `weight =
    torch._weight_norm(v, g, dim)` computed in forward, as the parametrization computes it."""

    def __init__(self, m: nn.Module, dim: int):
        super().__init__()
        self.bias = m.bias
        p = m.parametrizations.weight
        self.parametrizations = _Parametrizations(_Originals(p.original0, p.original1))
        self.dim = dim
        self.nd = 0 if isinstance(m, nn.Linear) else len(m.kernel_size)
        conv = self.nd > 0
        self.stride = list(m.stride) if conv else [1]
        self.padding = list(m.padding) if conv else [0]
        self.dilation = list(m.dilation) if conv else [1]
        self.groups = m.groups if conv else 1

    def forward(self, x):
        w = torch._weight_norm(self.parametrizations.weight.original1, self.parametrizations.weight.original0,
                               self.dim)
        if self.nd == 1:
            return F.conv1d(x, w, self.bias, self.stride, self.padding, self.dilation, self.groups)
        if self.nd == 2:
            return F.conv2d(x, w, self.bias, self.stride, self.padding, self.dilation, self.groups)
        if self.nd == 3:
            return F.conv3d(x, w, self.bias, self.stride, self.padding, self.dilation, self.groups)
        return F.linear(x, w, self.bias)


def _scriptable(module: nn.Module) -> nn.Module:
    """`module` (a copy) with every weight-normed Linear / ConvNd replaced by its scriptable twin;
    refuses other parametrizations."""
    for name, m in list(module.named_modules()):
        if not nn.utils.parametrize.is_parametrized(m):
            continue
        plist = {k: list(v) for k, v in m.parametrizations.items()}
        wn = list(plist) == ["weight"] and [type(q).__name__ for q in plist["weight"]] == ["_WeightNorm"]
        plain = isinstance(m, nn.Linear) or (isinstance(m, nn.modules.conv._ConvNd) and not m.transposed
                                             and m.padding_mode == "zeros" and not isinstance(m.padding, str))
        if not (wn and plain):
            raise ExportError(
                f"{name or type(module).__name__} has parametrizations ({', '.join(plist)}) TorchScript cannot "
                "run; export supports weight_norm on the weight of a Linear or ConvNd (zero padding)")
        twin = _WeightNormed(m, plist["weight"][0].dim)
        if name:
            parent, _, attr = name.rpartition(".")
            setattr(module.get_submodule(parent) if parent else module, attr, twin)
        else:
            return twin
    return module


def _check_signature(module: nn.Module) -> None:
    sig = inspect.signature(module.forward)
    required = [p for p in sig.parameters.values()
                if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(required) != 1:
        raise ExportError(
            f"{type(module).__name__}.forward{sig} takes {len(required)} required inputs: silab feeds "
            "one tensor (a batch of inputs) and expects logits [B, C]")


def _check_output(z, example: torch.Tensor, what: str) -> None:
    if not isinstance(z, torch.Tensor) or z.dim() != 2 or z.shape[0] != example.shape[0]:
        got = f"a tensor of shape {list(z.shape)}" if isinstance(z, torch.Tensor) else type(z).__name__
        raise ExportError(f"{what} returns {got} for an input of shape {list(example.shape)}: "
                          f"silab needs logits [B, C] ([{example.shape[0]}, classes])")


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    if torch.equal(a, b):
        return 0.0
    return float((a.double() - b.double()).abs().max() / b.double().abs().max().clamp_min(1e-30))


def _compare(eager: nn.Module, loaded, example: torch.Tensor) -> dict[str, float]:
    """Relative differences of outputs (and of the running statistics a train pass updates)."""
    out = {}
    with torch.no_grad():
        for mode in ("eval", "train"):
            eager.train(mode == "train")
            loaded.train(mode == "train")
            a, b = _si.seeded(eager, example, 0), _si.seeded(loaded, example, 0)  # same dropout masks
            out[mode] = _rel(b, a)
        for k, v in eager.state_dict().items():
            w = loaded.state_dict()[k]
            if v.is_floating_point():
                out["train"] = max(out["train"], _rel(w, v))
    return out


@contextlib.contextmanager
def _quiet_jit():
    """TorchScript's deprecation notice (PyTorch 2.10+) silenced: silab's libtorch (tch) loads
    TorchScript files, not torch.export programs, so this is the format it needs."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, message=r".*torch\.jit")
        yield


def _script(module: nn.Module):
    try:
        with _quiet_jit():
            return torch.jit.script(module)
    except Exception as e:  # TorchScript raises its own frontend errors
        raise ExportError(
            f"torch.jit.script cannot script {type(module).__name__}: {e}\nsilab runs the module with "
            "libtorch (no Python): make its forward scriptable (type annotations, no Python-only "
            "constructs); torch.jit.trace is no substitute (it freezes train/eval behaviour)") from e


def _save_and_reload(eager: nn.Module, example: torch.Tensor, tmp: Path) -> dict[str, float]:
    """Script a copy of `eager`, save it to `tmp`, reload it and compare it with `eager` (whose
    state is restored after); the relative differences by mode. Removes `tmp` on failure."""
    state = copy.deepcopy(eager.state_dict())
    scripted = _script(_scriptable(copy.deepcopy(eager)))
    tmp.parent.mkdir(parents=True, exist_ok=True)
    try:
        with _quiet_jit():
            scripted.save(str(tmp))
            loaded = torch.jit.load(str(tmp))
        diffs = _compare(eager, loaded, example)
        eager.load_state_dict(state)
        bad = {k: v for k, v in diffs.items() if not v <= RELOAD_TOLERANCE}
        if bad:
            raise ExportError(f"{tmp.name[:-4]}: the reloaded scripted module differs from the eager one "
                              + ", ".join(f"in {k} mode by {v:.2e} (relative)" for k, v in bad.items()))
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return diffs


def export(module: nn.Module, example_input: torch.Tensor, path: str | Path, *,
           si_groups: dict[str, list[str]] | None = None, propose: bool = True, seed: int = 0) -> ExportResult:
    """Script `module`, save it to `path`, reload it and check identical outputs, find and verify
    its SI groups, and write the manifest `<stem>.silab.toml` beside it.

    `example_input` is one batch (first dimension the batch; at least 2 samples so that
    BatchNorm can run in train mode). SI groups: `si_groups` (name -> exact parameter names)
    if given, else proposed from the module's torch.fx graph (`propose=True`), else none.
    Every group is verified numerically (:func:`silab.si.verify`); a group that is not SI is
    dropped with a warning. The module itself is not changed (a copy is scripted and run).

    Raises :class:`ExportError` for a traced or already scripted module, one whose forward
    needs more than one input or returns something other than logits [B, C], one TorchScript
    cannot script, or a reloaded file whose outputs differ; :class:`silab.si.ProposalError`
    when groups are to be proposed and torch.fx cannot trace the module.
    """
    _refuse_unscriptable(module)
    _check_signature(module)
    if not isinstance(example_input, torch.Tensor) or example_input.dim() < 1 or example_input.shape[0] < 2:
        raise ExportError("example_input must be one tensor: a batch of at least 2 inputs (first dimension "
                          "the batch; BatchNorm cannot run in train mode on one sample)")
    eager = copy.deepcopy(module)
    was_training = eager.training
    eager.eval()
    with torch.no_grad():
        _check_output(eager(example_input), example_input, f"{type(module).__name__}.forward")
        classes = int(eager(example_input).shape[1])
    eager.train(was_training)
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    diffs = _save_and_reload(eager, example_input, tmp)
    result_si = None
    if si_groups is not None or propose:
        try:
            result_si = _si.si_groups(module, example_input, si_groups, seed, stacklevel=3)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    params = dict(module.named_parameters())
    frozen = result_si.frozen if result_si else [k for k, p in params.items() if not p.requires_grad]
    groups = result_si.groups if result_si else []
    man = write_manifest(path, list(example_input.shape[1:]), classes, groups, frozen)
    tmp.replace(path)  # the file beside its manifest only when everything passed
    return ExportResult(
        path=path, manifest=man, input_shape=list(example_input.shape[1:]), classes=classes, groups=groups,
        frozen=frozen, dropped=result_si.dropped if result_si else [],
        undeclared=result_si.verification.undeclared if result_si else [],
        verification=result_si.verification if result_si else None, reload_max_rel=diffs,
        si_affine=result_si.si_affine if result_si else [])
