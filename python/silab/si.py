"""Scale-invariant (SI) groups of an eager ``nn.Module``: proposed from its graph, verified numerically.

A group is a set of parameters the network's output is invariant to scaling jointly:
``f(c * w_G, rest) = f(w)`` for every ``c > 0``. :func:`propose` finds them from the module's
``torch.fx`` graph; :func:`verify` checks them in PyTorch; :func:`si_groups` does both.

The proposal is an abstract interpretation of the graph. For one candidate group G (the direct
parameters of one module: a convolution's weight and bias, a linear layer's weight and bias, the
direction ``original1`` of a weight-normed layer), every value of the graph is given the degree
``k`` of its positive homogeneity in the scale ``c`` of G (``v(c) = c^k v(1)``), or is marked
``BAD`` when it is not homogeneous. A value not depending on G has degree 0. Linear and
convolution layers, ReLU, max/average pooling, dropout, reshapes and indexing carry a degree
through (``relu(c x) = c relu(x)`` for ``c > 0``); products add degrees, quotients subtract them;
a sum needs equal degrees on both sides (a residual branch scaled alone breaks invariance); a
normalization (BatchNorm, LayerNorm, GroupNorm, RMSNorm, InstanceNorm, weight norm, or one
written by hand as ``x / sqrt(mean(x^2) + eps)``) maps any degree to 0. Anything else (GELU,
softmax, ...) applied to a value of nonzero degree gives ``BAD``. G is proposed when the output
has degree 0. Adding a Python number of magnitude at most 1e-3 counts as a numerical epsilon
(invariance is exact only for eps = 0; silab says the same of its ``model.bn_eps``).
"""

from __future__ import annotations

import copy
import math
import warnings
from dataclasses import dataclass, field
from fractions import Fraction

import torch
import torch.nn as nn
import torch.nn.functional as F

#: Relative change of the output (and of the loss) below which a scaled set counts as SI.
TOLERANCE = 1e-6
#: The scale factors tried by :func:`verify`.
SCALES = (0.5, 2.0, 10.0)
#: A Python number this small added to a value counts as a numerical epsilon.
EPSILON_MAX = 1e-3



class _Bad:
    """The state of a value that is not positively homogeneous in the scale of G."""

    def __repr__(self):
        return "BAD"


BAD = _Bad()

NORM_MODULES = (
    nn.modules.batchnorm._BatchNorm,
    nn.modules.instancenorm._InstanceNorm,
    nn.LayerNorm,
    nn.GroupNorm,
    nn.RMSNorm,
    nn.LocalResponseNorm,
)
PER_CHANNEL_NORMS = (nn.modules.batchnorm._BatchNorm, nn.modules.instancenorm._InstanceNorm)
LINEAR_MODULES = (nn.Linear, nn.modules.conv._ConvNd, nn.Bilinear, nn.Embedding)
# parameter-free modules that are positively homogeneous of degree 1 in their input
PASS_MODULES = (
    nn.ReLU,
    nn.LeakyReLU,
    nn.PReLU,
    nn.modules.pooling._MaxPoolNd,
    nn.modules.pooling._AvgPoolNd,
    nn.modules.pooling._AdaptiveAvgPoolNd,
    nn.modules.pooling._AdaptiveMaxPoolNd,
    nn.modules.dropout._DropoutNd,
    nn.Identity,
    nn.Flatten,
    nn.Unflatten,
    nn.modules.padding._ConstantPadNd,
    nn.Upsample,
    nn.PixelShuffle,
    nn.PixelUnshuffle,
)

# functions and methods through which the degree of their first argument passes unchanged (the
# other arguments must have degree 0: sizes, dims, indices)
_PASS_NAMES = {
    "relu", "relu_", "leaky_relu", "max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d",
    "avg_pool2d", "avg_pool3d", "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
    "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d", "dropout", "dropout1d",
    "dropout2d", "dropout3d", "flatten", "view", "reshape", "permute", "transpose", "t", "contiguous",
    "squeeze", "unsqueeze", "expand", "expand_as", "repeat", "repeat_interleave", "chunk", "split",
    "unbind", "getitem", "mean", "sum", "neg", "clone", "to", "float", "double", "half", "type_as",
    "abs", "amax", "amin", "max", "min", "flip", "roll", "narrow", "select", "index_select", "gather",
    "movedim", "unflatten", "view_as", "reshape_as", "detach", "cumsum", "trace", "diagonal", "pad",
    "interpolate", "pixel_shuffle", "pixel_unshuffle", "norm", "vector_norm", "linalg_norm", "sort",
    "topk", "masked_select", "tile", "broadcast_to", "swapaxes", "mT",
}
# values that never scale (shapes, sizes, dtypes)
_ZERO_NAMES = {"size", "dim", "numel", "getattr", "ndimension", "shape", "_assert", "zeros_like",
               "ones_like", "empty_like", "new_zeros", "new_ones", "argmax", "argmin", "sign", "eq", "ne",
               "gt", "lt", "ge", "le", "isfinite", "isnan"}
_NORM_FUNCS = {"batch_norm", "layer_norm", "group_norm", "rms_norm", "instance_norm", "local_response_norm"}
_PER_CHANNEL_FUNCS = {"batch_norm", "instance_norm"}
# where several layers' outputs meet (a residual sum, a class token concatenated to the tokens)
_JOINS = {"add", "sub", "iadd", "isub", "cat", "concat", "stack"}


def _name(target) -> str:
    """A call's name without its namespace (`torch.relu`, `F.relu`, `Tensor.relu` -> `relu`)."""
    if isinstance(target, str):
        return target
    n = getattr(target, "__name__", str(target))
    return n.strip("_") if n.startswith("__") else n


@dataclass
class Proposal:
    """One proposed SI group: a readable name, its exact parameter names, why it is SI."""

    name: str
    params: list[str]
    how: str
    per_channel: bool = False


@dataclass
class ProposalReport:
    """What :func:`propose` found: the groups, the candidates that are not SI, the affine
    parameters of normalizations that are SI too (not proposed: they are usually trained freely),
    and the frozen parameters."""

    groups: list[Proposal] = field(default_factory=list)
    not_si: list[str] = field(default_factory=list)
    si_affine: list[Proposal] = field(default_factory=list)
    frozen: list[str] = field(default_factory=list)


class ProposalError(RuntimeError):
    """The module's graph cannot be traced by torch.fx, so no groups can be proposed from it."""


class _Interp:
    """The degree of every graph value in the scale of one candidate group `group`."""

    def __init__(self, gm: torch.fx.GraphModule, group: set[str]):
        self.gm, self.group = gm, group
        self.modules = dict(gm.named_modules())
        self.deg: dict[torch.fx.Node, Fraction | _Bad] = {}
        self.absorbed: list[tuple[str, str, bool]] = []  # (kind, where, per_channel)
        self.touched = False
        self.blame: torch.fx.Node | None = None  # the first node that made a value BAD

    def param_deg(self, name: str) -> Fraction:
        """1 for a parameter of the group, 0 for any other."""
        if name in self.group:
            self.touched = True
            return Fraction(1)
        return Fraction(0)

    def arg(self, a):
        """Degree of an argument: a node's, the common degree of a list's (BAD if they differ), 0 for
        constants."""
        if isinstance(a, torch.fx.Node):
            return self.deg[a]
        if isinstance(a, (list, tuple)):
            ds = [self.arg(x) for x in a]
            if any(d is BAD for d in ds):
                return BAD
            kinds = set(ds)  # a concatenation of scaled and unscaled parts is not homogeneous
            return Fraction(0) if not kinds else (kinds.pop() if len(kinds) == 1 else BAD)
        if isinstance(a, dict):
            return self.arg(list(a.values()))
        return Fraction(0)

    def run(self):
        """The degree of the graph's output (BAD if not homogeneous)."""
        for node in self.gm.graph.nodes:
            self.deg[node] = self.node(node)
            if self.deg[node] is BAD and self.blame is None:
                self.blame = node
        out = [n for n in self.gm.graph.nodes if n.op == "output"][0]
        return self.deg[out]

    def node(self, n: torch.fx.Node):
        """The degree of one node from its arguments' (they come earlier in the graph)."""
        if n.op == "placeholder":
            return Fraction(0)
        if n.op == "get_attr":
            return self.param_deg(n.target)
        if n.op == "output":
            return self.arg(n.args[0])
        args = [self.arg(a) for a in n.args] + [self.arg(a) for a in n.kwargs.values()]
        if n.op == "call_module":
            return self.module(n)
        if all(d == 0 for d in args if d is not BAD) and BAD not in args:
            return Fraction(0)  # does not depend on the scale (the default for every op)
        if BAD in args:
            return BAD
        return self.function(n, _name(n.target), args)

    def function(self, n, name: str, args):
        """A call_function / call_method node with an argument of nonzero degree."""
        first = self.arg(n.args[0]) if n.args else Fraction(0)
        rest = [self.arg(a) for a in n.args[1:]] + [self.arg(v) for v in n.kwargs.values()]
        if name in _ZERO_NAMES:
            return Fraction(0)
        if name in _PASS_NAMES:
            return first if all(d == 0 for d in rest) else BAD
        if name in ("cat", "stack", "concat", "hstack", "vstack"):
            return self.arg(n.args[0]) if all(d == 0 for d in rest) else BAD
        if name in ("add", "sub", "iadd", "isub", "radd", "rsub"):
            return self.add(n, args)
        if name in ("mul", "imul", "rmul", "matmul", "bmm", "mm", "einsum", "outer", "bilinear"):
            operands = [self.arg(a) for a in n.args if not isinstance(a, str)]
            if any(d is BAD for d in operands):
                return BAD
            return self.product(n, operands, sum(operands, Fraction(0)))
        if name in ("truediv", "div", "itruediv"):
            a, b = self.arg(n.args[0]), self.arg(n.args[1])
            return self.product(n, [a, b], a - b)
        if name in ("sqrt", "rsqrt", "pow", "square"):
            return self.power(n, name, first)
        if name in ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d"):
            return self.layer(self.arg(n.args[0]), self.arg(self._kw(n, 1, "weight")),
                              self._kw_deg(n, 2, "bias"))
        if name in _NORM_FUNCS:
            return self.norm_function(n, name, first)
        if name == "normalize" and all(d == 0 for d in rest):  # F.normalize: x / max(||x||, eps)
            return self.normalized(first, "F.normalize in", self.where(n)[1], False)
        if name == "_weight_norm":  # torch._weight_norm(v, g, dim): the direction v is normalized
            v, g = self.arg(n.args[0]), self.arg(n.args[1])
            if v != 0:
                self.absorbed.append(("weight norm in", self.where(n)[1], True))
            return g
        if name in ("softmax", "log_softmax") and first == 0:
            return Fraction(0)
        return BAD

    def product(self, n, operands, d):
        """A product or quotient of degree `d`: degree 0 out of scaled operands is a normalization
        written by hand (`x / sqrt(mean(x^2) + eps)`), named by the module it is in."""
        if d == 0 and any(o != 0 for o in operands):
            cls, where = self.where(n)
            self.absorbed.append((f"{cls or 'normalization'} (x / norm)", where, False))
        return d

    @staticmethod
    def where(n) -> tuple[str | None, str]:
        """The class name and path of the module a call_function node is in (`forward`: the
        top-level module's own forward)."""
        stack = n.meta.get("nn_module_stack") or {}
        if not stack:
            return None, "forward"
        path, cls = list(stack.values())[-1]
        return getattr(cls, "__name__", None), path

    @staticmethod
    def _kw(n, i, key):
        return n.args[i] if len(n.args) > i else n.kwargs.get(key)

    def _kw_deg(self, n, i, key):
        a = self._kw(n, i, key)
        return None if a is None else self.arg(a)

    def add(self, n, args):
        """A sum: every term of the same degree (a small Python number counts as an epsilon)."""
        ops = list(n.args)
        ds = [self.arg(a) for a in ops]
        nonconst = [d for a, d in zip(ops, ds) if not (isinstance(a, (int, float)) and abs(a) <= EPSILON_MAX)]
        if len(set(nonconst)) == 1:
            return nonconst[0]
        return BAD

    def power(self, n, name, first):
        """sqrt, rsqrt, square, pow with a constant exponent."""
        if name == "sqrt":
            return first / 2
        if name == "rsqrt":
            return -first / 2
        if name == "square":
            return first * 2
        e = n.args[1] if len(n.args) > 1 else n.kwargs.get("exponent")
        if isinstance(e, (int, float)) and math.isfinite(e):
            return first * Fraction(e).limit_denominator(1000)
        return BAD

    def layer(self, x, w, b):
        """A linear map of `x` by `w` plus `b`: the degrees of `x w` and of `b` must agree."""
        if x is BAD or w is BAD or b is BAD:
            return BAD
        d = x + w
        return d if b is None or b == d else BAD

    def normalized(self, x, kind, where, per_channel):
        """A normalization's output before its affine part: degree 0, recording the absorption."""
        if x is BAD:
            return BAD
        if x != 0:
            self.absorbed.append((kind, where, per_channel))
        return Fraction(0)

    def affine(self, z, w, b):
        """`z * w + b` for a normalized `z` (degree `z`), gain `w` and shift `b` (None: absent)."""
        if z is BAD or w is BAD or b is BAD:
            return BAD
        d = z + (w if w is not None else 0)
        return d if b is None or b == d else BAD

    def norm_function(self, n, name, x):
        """F.batch_norm, F.layer_norm, ...: normalized, then the weight and bias arguments."""
        pos = {"batch_norm": (3, 4), "layer_norm": (2, 3), "group_norm": (2, 3), "rms_norm": (2, None),
               "instance_norm": (3, 4), "local_response_norm": (None, None)}[name]
        w = self._kw_deg(n, pos[0], "weight") if pos[0] is not None else None
        b = self._kw_deg(n, pos[1], "bias") if pos[1] is not None else None
        z = self.normalized(x, f"F.{name} in", self.where(n)[1], name in _PER_CHANNEL_FUNCS)
        return self.affine(z, w, b)

    def module_param_deg(self, m: nn.Module, prefix: str, attr: str):
        """Degree of a module's (possibly weight-normed) tensor `attr`; None when absent."""
        pre = f"{prefix}." if prefix else ""
        p = pre + attr
        if nn.utils.parametrize.is_parametrized(m, attr):
            plist = m.parametrizations[attr]
            names = sorted(f"{pre}parametrizations.{attr}.{k}" for k, _ in plist.named_parameters(recurse=False))
            if "_WeightNorm" in [type(q).__name__ for q in plist] and len(names) == 2:
                g, v = (self.param_deg(x) for x in names)  # original0 = g (norms), original1 = v
                if v != 0:
                    self.absorbed.append(("weight norm", prefix, True))
                return g
            return BAD if any(self.param_deg(x) != 0 for x in names) else Fraction(0)
        if hasattr(m, attr + "_g") and hasattr(m, attr + "_v"):  # old-style weight_norm
            g, v = self.param_deg(p + "_g"), self.param_deg(p + "_v")
            if v != 0:
                self.absorbed.append(("weight norm", prefix, True))
            return g
        t = getattr(m, attr, None)
        if t is None:
            return None
        return self.param_deg(p) if isinstance(t, nn.Parameter) else Fraction(0)

    def module(self, n):
        """A call_module node: known layers and norms by type, parameter-free ones that pass."""
        m = self.modules[n.target]
        x = self.arg(n.args[0]) if n.args else Fraction(0)
        others = [self.arg(a) for a in n.args[1:]] + [self.arg(v) for v in n.kwargs.values()]
        if x is BAD or any(d is BAD or d != 0 for d in others):
            return BAD
        w = self.module_param_deg(m, n.target, "weight")
        b = self.module_param_deg(m, n.target, "bias")
        if isinstance(m, NORM_MODULES):
            per = isinstance(m, PER_CHANNEL_NORMS)
            return self.affine(self.normalized(x, type(m).__name__, n.target, per), w, b)
        if isinstance(m, nn.Embedding):
            return w
        if isinstance(m, LINEAR_MODULES):
            return self.layer(x, w if w is not None else Fraction(0), b)
        owned = [k for k, _ in m.named_parameters()]
        if any(self.param_deg(f"{n.target}.{k}") != 0 for k in owned):
            return BAD  # a module we do not know, with parameters of the group inside
        if x == 0:
            return Fraction(0)
        if isinstance(m, PASS_MODULES) and not isinstance(m, nn.PReLU):
            return x
        return BAD


def _candidates(module: nn.Module, frozen: set[str]):
    """Candidate groups: (owner path, parameter names, is-a-normalization's-affine)."""
    out = []
    for path, m in module.named_modules():
        pre = f"{path}." if path else ""
        if isinstance(m, nn.utils.parametrize.ParametrizationList):
            continue
        if nn.utils.parametrize.is_parametrized(m):
            for attr, plist in m.parametrizations.items():
                if "_WeightNorm" in [type(q).__name__ for q in plist]:
                    v = f"{pre}parametrizations.{attr}.original1"
                    if v not in frozen:
                        out.append((path, [v], False))
        own = [f"{pre}{k}" for k, p in m.named_parameters(recurse=False) if f"{pre}{k}" not in frozen]
        if hasattr(m, "weight_v") and hasattr(m, "weight_g") and f"{pre}weight_v" in own:
            out.append((path, [f"{pre}weight_v"], False))  # old-style weight norm: the direction
        if own:
            is_norm = isinstance(m, NORM_MODULES) or "norm" in type(m).__name__.lower()
            out.append((path, own, is_norm))
    return out


def trace(module: nn.Module) -> torch.fx.GraphModule:
    """`torch.fx.symbolic_trace(module)`, with a clear error when the module cannot be traced."""
    try:
        return torch.fx.symbolic_trace(module)
    except Exception as e:  # fx raises many kinds (TraceError, TypeError, NotImplementedError)
        raise ProposalError(
            f"torch.fx cannot trace {type(module).__name__} ({type(e).__name__}: {e}); the SI groups "
            "are proposed from its graph: pass them yourself (export(..., si_groups={name: [params]})), "
            "or export with propose=False and find them numerically with `silab check-si --propose`"
        ) from e


def _how(it: _Interp) -> tuple[str, bool]:
    kinds = sorted({f"{k} {w}" for k, w, _ in it.absorbed})
    per = all(p for _, _, p in it.absorbed)
    return ", ".join(kinds) + (", per-channel" if per else ""), per


def _is_si(it: _Interp, d) -> bool:
    return d is not BAD and d == 0 and bool(it.absorbed)


def _merge_streams(gm, params, failing, report):
    """Join failing candidates that break at the same sum or concatenation (a residual stream
    written by several layers and read only through normalizations), stage by stage, until the
    union is SI."""
    used: set[int] = set()
    for i, (path, names, blame) in enumerate(failing):
        if i in used or blame is None:
            continue
        members, group = [i], list(names)
        while True:
            partners = [j for j, f in enumerate(failing) if j not in members and j not in used and f[2] is blame]
            if not partners or _name(blame.target) not in _JOINS:
                break
            members += partners
            order = list(params)
            group = sorted((p for j in members for p in failing[j][1]), key=order.index)
            it = _Interp(gm, set(group))
            d = it.run()
            if _is_si(it, d):
                used.update(members)
                how, per = _how(it)
                paths = ", ".join(failing[j][0] for j in members)
                streams = sum(1 for g in report.groups if g.name.startswith("stream"))
                report.groups.append(Proposal(f"stream{streams + 1}", group, f"residual stream of {paths}; {how}", per))
                break
            if it.blame is None or it.blame is blame:
                break
            blame = it.blame
    report.not_si = [f[0] or f[1][0] for j, f in enumerate(failing) if j not in used]


def propose(module: nn.Module) -> ProposalReport:
    """Propose the SI groups of an eager module from its torch.fx graph (see the module docs).

    Every module owning trained parameters is a candidate, with all its direct parameters as
    one group (weight and bias of a layer feeding a LayerNorm form one group); the direction
    of a weight-normed tensor is a candidate on its own. Candidates that fail only because their
    output is summed with other layers' (a residual stream) are joined with those layers, stage
    by stage, into `streamN` groups when the sum is read only through normalizations. Frozen
    parameters (``requires_grad = False``) are never in a group. Raises :class:`ProposalError`
    if torch.fx cannot trace the module.
    """
    gm = trace(module)
    params = dict(module.named_parameters())
    frozen = {k for k, p in params.items() if not p.requires_grad}
    report = ProposalReport(frozen=sorted(frozen, key=list(params).index))
    failing = []
    for path, names, is_norm in _candidates(module, frozen):
        it = _Interp(gm, set(names))
        d = it.run()
        if not it.touched:
            continue  # not used in forward
        if not _is_si(it, d):
            if not is_norm:
                failing.append((path, names, it.blame))
            continue
        how, per = _how(it)
        name = path or names[0]
        taken = {q.name for q in report.groups + report.si_affine}
        name = name if name not in taken else f"{name}:{names[0].rsplit('.', 1)[-1]}"
        (report.si_affine if is_norm else report.groups).append(Proposal(name, names, how, per))
    _merge_streams(gm, params, failing, report)
    return report


@dataclass
class Measured:
    """One scaled set: what, its tensors, the largest relative change of output and loss."""

    what: str
    params: list[str]
    output_rel: float
    loss_rel: float
    mode: str  # the mode (train / eval) of the largest change

    @property
    def invariant(self) -> bool:
        """Both changes below :data:`TOLERANCE`."""
        return self.output_rel < TOLERANCE and self.loss_rel < TOLERANCE


@dataclass
class Verification:
    """The verification of SI groups: each group, their union, and the undeclared SI tensors."""

    groups: list[Measured]
    union: Measured | None
    undeclared: list[Measured]

    @property
    def ok(self) -> bool:
        """Every group and their union is SI."""
        return all(g.invariant for g in self.groups) and (self.union is None or self.union.invariant)


def _batches(example: torch.Tensor, n: int, seed: int):
    """`n` batches like `example` (at least 8 samples; random normal for float inputs)."""
    gen = torch.Generator().manual_seed(seed)
    b = max(example.shape[0], 8) if example.dim() > 0 else 1
    out = []
    for _ in range(n):
        if example.is_floating_point():
            out.append(torch.randn((b, *example.shape[1:]), generator=gen, dtype=torch.float64))
        else:
            idx = torch.randint(0, example.shape[0], (b,), generator=gen)
            out.append(example[idx])
    return out


_TINY = torch.finfo(torch.float64).tiny


def _prepare(module: nn.Module, seed: int) -> nn.Module:
    """An f64 copy with eps ~0 (the smallest normal f64) in every normalization, cumulative running statistics (so that
    they are exactly re-estimated after scaling) and noise N(0, 0.1^2) on every trained tensor
    (so that a gain at 1 or a bias at 0 cannot look invariant)."""
    for sub in module.modules():
        w = getattr(sub, "weight", None)
        if hasattr(sub, "weight_v") and isinstance(w, torch.Tensor) and w.grad_fn is not None:
            # old-style weight_norm keeps the computed weight as a non-leaf tensor, which deepcopy
            # refuses; its pre-forward hook recomputes it from weight_g and weight_v on every call
            sub.weight = w.detach()
    m = copy.deepcopy(module).double()
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for p in m.parameters():
            if p.requires_grad:
                p.add_(0.1 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    for sub in m.modules():
        if isinstance(getattr(sub, "eps", None), float) or isinstance(sub, nn.RMSNorm):
            sub.eps = _TINY  # PyTorch refuses eps = 0 for BatchNorm in training
        if isinstance(sub, nn.modules.batchnorm._NormBase) and sub.track_running_stats:
            sub.momentum = None
    return m


def seeded(m, x, seed: int):
    """`m(x)` with the global random generators seeded (the same dropout masks on every call) and
    restored after, so the caller's random state is untouched."""
    devices = [x.device.index or 0] if x.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        return m(x)


def _outputs(m: nn.Module, warm: list, probe: torch.Tensor, seed: int) -> dict[str, torch.Tensor]:
    """Output in train mode and in eval mode after re-estimating the running statistics on `warm`."""
    with torch.no_grad():
        for sub in m.modules():
            if isinstance(sub, nn.modules.batchnorm._NormBase) and sub.track_running_stats:
                sub.reset_running_stats()
        m.train()
        for i, x in enumerate(warm):
            seeded(m, x, seed + 10 + i)
        state = {k: v.clone() for k, v in m.state_dict().items()}
        out = {"train": seeded(m, probe, seed + 3)}
        m.load_state_dict(state)
        m.eval()
        out["eval"] = m(probe)
        m.train()
    return out


def _loss(z: torch.Tensor, seed: int) -> torch.Tensor:
    if z.dim() != 2:
        return z.pow(2).mean()
    y = torch.randint(0, z.shape[1], (z.shape[0],), generator=torch.Generator().manual_seed(seed + 2))
    return F.cross_entropy(z, y)


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-300))


def _measure(m, names, what, warm, probe, base, seed) -> Measured:
    params = dict(m.named_parameters())
    saved = {k: params[k].detach().clone() for k in names}
    worst = Measured(what, list(names), 0.0, 0.0, "train")
    for c in SCALES:
        with torch.no_grad():
            for k in names:
                params[k].mul_(c)
        out = _outputs(m, warm, probe, seed)
        with torch.no_grad():
            for k in names:
                params[k].copy_(saved[k])
        for mode, z in out.items():
            zr, lr = _rel(z, base[mode]), _rel(_loss(z, seed), _loss(base[mode], seed))
            if max(zr, lr) > max(worst.output_rel, worst.loss_rel):
                worst = Measured(what, list(names), zr, lr, mode)
    return worst


def verify(module: nn.Module, example_input: torch.Tensor, groups: dict[str, list[str]], seed: int = 0,
           undeclared: bool = True) -> Verification:
    """Scale each group (and their union) by c in :data:`SCALES` in an f64 copy of `module` with
    eps 0, in train mode and in eval mode with running statistics re-estimated on a few random
    batches shaped like `example_input`, and measure the relative change of the output and of
    the loss. With `undeclared`, also scale every trained tensor outside the groups on its own
    and report those that are SI. `module` itself is not changed."""
    m = _prepare(module, seed)
    names = dict(m.named_parameters())
    for g, ps in groups.items():
        missing = [p for p in ps if p not in names]
        if missing:
            raise KeyError(f"SI group {g!r}: no parameter named {', '.join(missing)} in {type(module).__name__}")
    device = next(iter(names.values())).device if names else example_input.device
    batches = [b.to(device) for b in _batches(example_input, 4, seed)]
    warm, probe = batches[:3], batches[3]
    base = _outputs(m, warm, probe, seed)
    measured = [_measure(m, ps, g, warm, probe, base, seed) for g, ps in groups.items()]
    all_names = [p for ps in groups.values() for p in ps]
    union = _measure(m, all_names, "all", warm, probe, base, seed) if len(groups) > 1 else None
    found = []
    if undeclared:
        for k, p in names.items():
            if p.requires_grad and k not in all_names:
                s = _measure(m, [k], k, warm, probe, base, seed)
                if s.invariant:
                    found.append(s)
    return Verification(measured, union, found)


@dataclass
class SiResult:
    """The verified SI groups of a module, with what was dropped and why."""

    groups: list[Proposal]
    frozen: list[str]
    verification: Verification
    dropped: list[Measured]
    not_si: list[str] = field(default_factory=list)
    si_affine: list[Proposal] = field(default_factory=list)


def si_groups(module: nn.Module, example_input: torch.Tensor, groups: dict[str, list[str]] | None = None,
              seed: int = 0, *, stacklevel: int = 2) -> SiResult:
    """Propose the SI groups of `module` (or take `groups`, name -> parameter names) and verify
    them; a group that is not SI is dropped with a warning naming it and the change measured
    (`stacklevel` as in `warnings.warn`: which caller the warning points at)."""
    if groups is None:
        rep = propose(module)
        props = rep.groups
    else:
        params = dict(module.named_parameters())
        rep = ProposalReport(frozen=[k for k, p in params.items() if not p.requires_grad])
        props = [Proposal(g, list(ps), "declared") for g, ps in groups.items()]
    ver = verify(module, example_input, {p.name: p.params for p in props}, seed)
    kept, dropped = [], []
    for p, mes in zip(props, ver.groups):
        if mes.invariant:
            kept.append(p)
        else:
            dropped.append(mes)
            warnings.warn(
                f"SI group {p.name!r} ({', '.join(p.params)}) is not scale-invariant: scaling it changes the "
                f"output by {mes.output_rel:.2e} and the loss by {mes.loss_rel:.2e} (relative, {mes.mode} mode; "
                f"tolerance {TOLERANCE:.0e}); dropped",
                stacklevel=stacklevel,
            )
    u = ver.union
    if u is not None and not u.invariant:
        warnings.warn(f"the SI groups jointly ({len(u.params)} tensors) are not scale-invariant: scaling them all "
                      f"changes the output by {u.output_rel:.2e} ({u.mode} mode)", stacklevel=stacklevel)
    return SiResult(kept, rep.frozen, ver, dropped, rep.not_si, rep.si_affine)
