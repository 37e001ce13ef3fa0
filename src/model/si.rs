//! Scale-invariant groups and their numerical check (`silab check-si`).
//!
//! A group is a set of tensors the loss is invariant to scaling jointly: `L(c·w_G, rest) =
//! L(w)` for every c > 0. [`check`] scales each declared group (and the union of all of them)
//! by c ∈ {0.1, 10} and measures the largest relative change of the logits and of the loss; it
//! also scales each trained tensor outside every group on its own, and reports any that turns
//! out scale-invariant (structure the declaration does not use; e.g. a BatchNorm gain followed
//! by a ReLU, a convolution and another BatchNorm). It runs in f64 with the normalizations'
//! epsilon set to 0 (SI is exact only there), BatchNorm on batch statistics (the mode in which
//! it normalizes), and first adds noise `N(0, 0.1^2)` to every trained tensor, so that an
//! initialisation at 0 or 1 (biases, gains) cannot look invariant.

use super::{BnMode, Net, Role, loss};
use crate::config::{Loss, ModelConfig};
use crate::data::rng;
use rand::RngExt;
use rand_distr::{Distribution, StandardNormal};
use serde::Serialize;
use tch::{Device, Kind, Tensor};

/// One scale-invariant group: its name and its tensors (indices into [`Net::params`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiGroup {
    pub name: String,
    pub params: Vec<usize>,
}

/// What scaling one set of tensors did.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Scaled {
    /// A declared group's name, `all` (the union), or a tensor's name (undeclared).
    pub what: String,
    /// The tensors scaled.
    pub tensors: Vec<String>,
    /// Largest relative change of the logits and of the loss over c ∈ {0.1, 10}.
    pub logits_rel: f64,
    pub loss_rel: f64,
    /// Within [`TOLERANCE`]: scale-invariant.
    pub invariant: bool,
}

/// The check of a network's SI declaration.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct SiReport {
    pub arch: String,
    pub norm: String,
    pub variant: String,
    /// Scalars in each declared group, and in all trained tensors.
    pub si_params: i64,
    pub trained_params: i64,
    /// Every declared group, then the union (`all`).
    pub groups: Vec<Scaled>,
    /// Trained tensors outside every group that are scale-invariant on their own (found
    /// structure: not an error of the declaration, which may leave them out on purpose).
    pub undeclared: Vec<Scaled>,
}

impl SiReport {
    /// Every declared group (and their union) is scale-invariant.
    pub fn ok(&self) -> bool {
        self.groups.iter().all(|g| g.invariant)
    }
}

/// Relative change below which a set counts as scale-invariant (f64, eps 0: exact up to
/// rounding, ~1e-13; a broken declaration changes the loss by far more than this).
pub const TOLERANCE: f64 = 1e-8;

/// A fixed batch of `n` random inputs of `shape` (one example's) and labels (`seed`).
fn batch(n: i64, shape: &[i64], classes: usize, seed: u64) -> (Tensor, Tensor) {
    let mut r = rng(seed, 11);
    let full: Vec<i64> = std::iter::once(n).chain(shape.iter().copied()).collect();
    let x: Vec<f64> = (0..full.iter().product::<i64>()).map(|_| StandardNormal.sample(&mut r)).collect();
    let y: Vec<i64> = (0..n).map(|_| r.random_range(0..classes as i64)).collect();
    (Tensor::from_slice(&x).view(full.as_slice()), Tensor::from_slice(&y))
}

/// Scale the tensors `idx` of `net` by `c` (in place).
fn scale(net: &Net, idx: &[usize], c: f64) {
    tch::no_grad(|| {
        for &i in idx {
            let _ = net.params()[i].tensor.shallow_clone().g_mul_scalar_(c);
        }
    });
}

fn rel(a: &Tensor, b: &Tensor) -> f64 {
    let d = (a - b).abs().max().double_value(&[]);
    d / b.abs().max().double_value(&[]).max(1e-300)
}

/// Scale `idx` by 0.1 and by 10 and measure what changes, restoring the weights after.
fn probe(net: &Net, idx: &[usize], x: &Tensor, y: &Tensor, what: String) -> Scaled {
    let run = || {
        tch::no_grad(|| {
            let z = net.forward(x, BnMode::TrainFrozenStats);
            let l = loss(&z, y, Loss::Ce);
            (z, l)
        })
    };
    let (z0, l0) = run();
    let (mut lr, mut zr) = (0.0f64, 0.0f64);
    for c in [0.1, 10.0] {
        scale(net, idx, c);
        let (z, l) = run();
        scale(net, idx, 1.0 / c);
        zr = zr.max(rel(&z, &z0));
        lr = lr.max(rel(&l, &l0));
    }
    Scaled {
        what,
        tensors: idx.iter().map(|&i| net.params()[i].name.clone()).collect(),
        logits_rel: zr,
        loss_rel: lr,
        invariant: zr < TOLERANCE && lr < TOLERANCE,
    }
}

/// Check the SI declaration of the network of `cfg` (built in f64 with eps 0, from `seed`, on
/// 16 random images).
pub fn check(cfg: &ModelConfig, classes: usize, seed: u64) -> SiReport {
    let cfg = ModelConfig { bn_eps: 0.0, ..cfg.clone() };
    let net = Net::new(&cfg, classes, seed, Kind::Double, Device::Cpu);
    check_net(&net, seed)
}

/// Check the SI declaration of a built network (e.g. one whose groups were replaced with
/// [`Net::declare_si_groups`]); its trained tensors get noise first. Build it in f64
/// with eps 0 for an exact answer.
pub fn check_net(net: &Net, seed: u64) -> SiReport {
    let mut r = rng(seed, 12);
    tch::no_grad(|| {
        for p in net.params().iter().filter(|p| matches!(p.role, Role::Trained | Role::Si)) {
            let noise: Vec<f64> =
                (0..p.tensor.numel()).map(|_| 0.1 * Distribution::<f64>::sample(&StandardNormal, &mut r)).collect();
            let noise = Tensor::from_slice(&noise).view(p.tensor.size().as_slice()).to_kind(p.tensor.kind());
            let _ = p.tensor.shallow_clone().g_add_(&noise.to_device(p.tensor.device()));
        }
    });
    let (x, y) = batch(16, &net.input_shape(), net.classes, seed);
    let (x, y) = (x.to_kind(net.kind()).to_device(net.device()), y.to_device(net.device()));
    let mut groups: Vec<Scaled> =
        net.si_groups().iter().map(|g| probe(net, &g.params, &x, &y, g.name.clone())).collect();
    let all: Vec<usize> = net.si_groups().iter().flat_map(|g| g.params.iter().cloned()).collect();
    if net.si_groups().len() > 1 {
        groups.push(probe(net, &all, &x, &y, "all".into()));
    }
    let undeclared: Vec<Scaled> = net
        .params()
        .iter()
        .enumerate()
        .filter(|(i, p)| p.role == Role::Trained && !all.contains(i))
        .map(|(i, p)| probe(net, &[i], &x, &y, p.name.clone()))
        .filter(|s| s.invariant)
        .collect();
    let numel = |r: &dyn Fn(Role) -> bool| {
        net.params().iter().filter(|p| r(p.role)).map(|p| p.tensor.numel() as i64).sum::<i64>()
    };
    SiReport {
        arch: net.config.arch.name().into(),
        norm: net.config.norm().name().into(),
        variant: net.config.variant.name().into(),
        si_params: numel(&|r| r == Role::Si),
        trained_params: numel(&|r| matches!(r, Role::Si | Role::Trained)),
        groups,
        undeclared,
    }
}

/// The report as a table (what `silab check-si` prints).
pub fn to_text(r: &SiReport) -> String {
    let mut o = format!(
        "{} with {} normalization, {}: {} SI scalars of {} trained\n  {:<28} {:>8} {:>12} {:>12}  {}\n",
        r.arch,
        r.norm,
        r.variant,
        r.si_params,
        r.trained_params,
        "group",
        "tensors",
        "logits Δ",
        "loss Δ",
        "scale-invariant"
    );
    for g in &r.groups {
        o += &format!(
            "  {:<28} {:>8} {:>12.2e} {:>12.2e}  {}\n",
            g.what,
            g.tensors.len(),
            g.logits_rel,
            g.loss_rel,
            if g.invariant { "yes" } else { "NO: the declared group is not scale-invariant" }
        );
    }
    if r.groups.is_empty() {
        o += "  (no SI groups: nothing in this network is scale-invariant)\n";
    }
    for u in &r.undeclared {
        o += &format!(
            "  {:<28} {:>8} {:>12.2e} {:>12.2e}  also SI on its own (not declared)\n",
            u.what, 1, u.logits_rel, u.loss_rel
        );
    }
    o += if r.ok() {
        "declaration ok: every declared group is scale-invariant\n"
    } else {
        "declaration WRONG: a declared group is not scale-invariant\n"
    };
    o
}

/// A copy of the scripted net `net` for the exact check: f64, on the CPU, every normalization's
/// eps 0, the same declaration.
fn exact_copy(net: &Net) -> Result<Net, super::scripted::ScriptError> {
    let o = super::scripted::LoadOptions {
        input_shape: net.input_shape(),
        classes: Some(net.classes),
        kind: Kind::Double,
        device: Device::Cpu,
        zero_eps: true,
    };
    super::scripted::load(&net.config, &o)
}

/// Verify a scripted net's declared SI groups before training, on an exact copy ([`check_net`]
/// in f64 with eps 0): a group that is not scale-invariant is an error naming it, the scales
/// tried and the change measured. Returns warnings: tensors that are scale-invariant on their
/// own but in no group (a fully SI net expects none), and a net without groups.
pub fn verify_declared(net: &Net, seed: u64) -> Result<Vec<String>, super::scripted::ScriptError> {
    let copy = exact_copy(net)?;
    let r = check_net(&copy, seed);
    if let Some(g) = r.groups.iter().find(|g| !g.invariant) {
        return Err(super::scripted::ScriptError::Declaration {
            key: format!("SI group `{}`", g.what),
            why: format!(
                "is not scale-invariant: scaling its tensors ({}) by 0.1 and by 10 changed the logits by {:.3e} and the loss by {:.3e} (relative; tolerance {TOLERANCE:e}, f64, eps 0); \
                 check its parameters (a bias or gain after a normalization is not SI), or let `silab check-si --propose` find the groups",
                g.tensors.join(", "),
                g.logits_rel,
                g.loss_rel
            ),
        });
    }
    let mut notes: Vec<String> = r
        .undeclared
        .iter()
        .map(|u| {
            format!("{} is scale-invariant (loss change {:.1e} when scaled) but in no SI group", u.what, u.loss_rel)
        })
        .collect();
    if r.groups.is_empty() {
        notes.push(format!(
            "{}: no SI groups declared (model.si_groups, or a manifest {}): rho is NaN; `silab check-si --propose` finds them",
            net.config.file,
            super::scripted::manifest_path(std::path::Path::new(&net.config.file)).display()
        ));
    }
    Ok(notes)
}
