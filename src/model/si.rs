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
/// 16 random images `[3, 32, 32]`; a ViT whose patch does not divide 32 on the largest multiple
/// of its patch up to 32, at least one patch).
pub fn check(cfg: &ModelConfig, classes: usize, seed: u64) -> SiReport {
    let cfg = ModelConfig { bn_eps: 0.0, ..cfg.clone() };
    let p = cfg.patch.max(1);
    let side = if cfg.arch == crate::config::Arch::Vit { p * (32 / p).max(1) } else { 32 };
    let net = Net::for_input(&cfg, classes, &[3, side, side], seed, Kind::Double, Device::Cpu)
        .expect("the side is a multiple of the patch");
    check_net(&net, seed)
}

/// Check the SI declaration of a built network (e.g. one whose groups were replaced with
/// [`Net::declare_si_groups`]); its trained tensors get noise first. Build it in f64
/// with eps 0 for an exact answer.
pub fn check_net(net: &Net, seed: u64) -> SiReport {
    add_noise(net, seed);
    let (x, y) = batch(16, net.input_shape(), net.classes, seed);
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
    // a scripted module has no norm or variant of silab's: its file says what it is
    let (norm, variant) = match net.source() {
        Some((file, _)) => ("its own".to_string(), file.display().to_string()),
        None => (net.config.norm().name().to_string(), net.config.variant.name().to_string()),
    };
    SiReport {
        arch: net.config.arch.name().into(),
        norm,
        variant,
        si_params: numel(&|r| r == Role::Si),
        trained_params: numel(&|r| matches!(r, Role::Si | Role::Trained)),
        groups,
        undeclared,
    }
}

/// SI groups found numerically (`silab check-si --propose`), and everything tried.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Proposal {
    /// The groups found: single tensors that are scale-invariant on their own (named by their
    /// module, `conv_layers.0`), then sets of tensors of one module (`fc1.weight` + `fc1.bias`)
    /// that are only jointly.
    pub found: Vec<Scaled>,
    /// Every set scaled: each trained tensor alone, then each module's remaining tensors jointly.
    pub tried: Vec<Scaled>,
}

/// The module a tensor belongs to: its name up to the last dot (`blocks.0.fc1.weight` ->
/// `blocks.0.fc1`).
fn module_of(name: &str) -> &str {
    name.rsplit_once('.').map(|(m, _)| m).unwrap_or(name)
}

/// Find a net's SI groups from its tensors alone (its declaration is ignored): scale each
/// trained tensor on its own, then, per module, the tensors not invariant alone jointly. Build
/// it in f64 with eps 0 for an exact answer; its trained tensors get noise first.
pub fn propose(net: &Net, seed: u64) -> Proposal {
    add_noise(net, seed);
    let (x, y) = batch(16, net.input_shape(), net.classes, seed);
    let (x, y) = (x.to_kind(net.kind()).to_device(net.device()), y.to_device(net.device()));
    let trained: Vec<usize> =
        (0..net.params().len()).filter(|&i| matches!(net.params()[i].role, Role::Trained | Role::Si)).collect();
    let mut tried = vec![];
    let mut found = vec![];
    let mut rest: Vec<usize> = vec![];
    for &i in &trained {
        let name = &net.params()[i].name;
        let s = probe(net, &[i], &x, &y, name.clone());
        if s.invariant {
            let module = module_of(name);
            let alone = trained.iter().filter(|&&j| module_of(&net.params()[j].name) == module).count() == 1;
            found.push(Scaled { what: if alone { module.to_string() } else { name.clone() }, ..s.clone() });
        } else {
            rest.push(i);
        }
        tried.push(s);
    }
    let mut modules: Vec<&str> = rest.iter().map(|&i| module_of(&net.params()[i].name)).collect();
    modules.dedup();
    for m in modules {
        let idx: Vec<usize> = rest.iter().copied().filter(|&i| module_of(&net.params()[i].name) == m).collect();
        if idx.len() < 2 {
            continue;
        }
        let s = probe(net, &idx, &x, &y, m.to_string());
        if s.invariant {
            found.push(s.clone());
        }
        tried.push(s);
    }
    Proposal { found, tried }
}

/// The proposal as a manifest (`net.silab.toml`, see `silab.export`).
pub fn proposal_manifest(p: &Proposal, net: &Net) -> String {
    let shape: Vec<String> = net.input_shape().iter().map(|d| d.to_string()).collect();
    let mut o = format!(
        "# written by silab check-si --propose (silab {})\ninput_shape = [{}]\nclasses = {}\n",
        env!("CARGO_PKG_VERSION"),
        shape.join(", "),
        net.classes
    );
    // before the groups: a key after a [[si_groups]] header would belong to that group
    let frozen: Vec<String> =
        net.params().iter().filter(|p| p.role == Role::Frozen).map(|p| format!("{:?}", p.name)).collect();
    o += &format!("frozen = [{}]\n", frozen.join(", "));
    for g in &p.found {
        let params: Vec<String> = g.tensors.iter().map(|t| format!("{t:?}")).collect();
        o += &format!(
            "[[si_groups]]\nname = {:?}\nparams = [{}]\nhow = \"measured: loss change {:.1e} when scaled by 0.1 and 10\"\n",
            g.what,
            params.join(", "),
            g.loss_rel
        );
    }
    o
}

/// The proposal as a table (what `silab check-si --propose` prints).
pub fn proposal_text(p: &Proposal) -> String {
    let mut o =
        format!("  {:<36} {:>8} {:>12} {:>12}  {}\n", "tried", "tensors", "logits Δ", "loss Δ", "scale-invariant");
    for s in &p.tried {
        let yes = if s.invariant { "yes" } else { "no" };
        o += &format!("  {:<36} {:>8} {:>12.2e} {:>12.2e}  {yes}\n", s.what, s.tensors.len(), s.logits_rel, s.loss_rel);
    }
    o += &format!("{} SI groups found:\n", p.found.len());
    for g in &p.found {
        o += &format!("  {:<36} {}\n", g.what, g.tensors.join(" + "));
    }
    o
}

/// Noise `N(0, 0.1^2)` on every trained tensor, so that an initialisation at 0 or 1 (biases,
/// gains) cannot look invariant.
fn add_noise(net: &Net, seed: u64) {
    let mut r = rng(seed, 12);
    tch::no_grad(|| {
        for p in net.params().iter().filter(|p| matches!(p.role, Role::Trained | Role::Si)) {
            let noise: Vec<f64> =
                (0..p.tensor.numel()).map(|_| 0.1 * Distribution::<f64>::sample(&StandardNormal, &mut r)).collect();
            let noise = Tensor::from_slice(&noise).view(p.tensor.size().as_slice()).to_kind(p.tensor.kind());
            let _ = p.tensor.shallow_clone().g_add_(&noise.to_device(p.tensor.device()));
        }
    });
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

/// The scripted module of `cfg` for the exact check: f64, on the CPU, every normalization's
/// eps (practically) 0, declared as `cfg` (or its manifest) says; for inputs of `input_shape`
/// (`None`: the manifest's, else `[3, 32, 32]`).
pub fn exact_scripted(
    cfg: &ModelConfig,
    input_shape: Option<Vec<i64>>,
    classes: Option<usize>,
) -> Result<Net, super::scripted::ScriptError> {
    let manifest = super::scripted::read_manifest(std::path::Path::new(&cfg.file))?;
    let input_shape = input_shape.or_else(|| manifest.and_then(|m| m.input_shape)).unwrap_or_else(|| vec![3, 32, 32]);
    let o =
        super::scripted::LoadOptions { input_shape, classes, kind: Kind::Double, device: Device::Cpu, zero_eps: true };
    super::scripted::load(cfg, &o)
}

/// Verify a scripted net's declared SI groups before training, on an exact copy ([`check_net`]
/// in f64 with eps 0): a group that is not scale-invariant is an error naming it, the scales
/// tried and the change measured. Returns warnings: tensors that are scale-invariant on their
/// own but in no group (a fully SI net expects none), and a net without groups.
pub fn verify_declared(net: &Net, seed: u64) -> Result<Vec<String>, super::scripted::ScriptError> {
    let copy = exact_scripted(&net.config, Some(net.input_shape().to_vec()), Some(net.classes))?;
    let r = check_net(&copy, seed);
    if let Some(g) = r.groups.iter().find(|g| !g.invariant) {
        return Err(super::scripted::ScriptError::Declaration {
            key: format!("SI group `{}`", g.what),
            why: format!(
                "is not scale-invariant: scaling its tensors ({}) by 0.1 and by 10 changed the logits by {:.3e} and the loss by {:.3e} (relative; tolerance {TOLERANCE:e}, in f64 with the norms' eps ~0); \
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
