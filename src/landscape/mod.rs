//! Curvature of the loss: Hessian-vector products by exact double backward, the Gauss–Newton /
//! Fisher matrix (with the output Hessian of the loss actually used, CE or MSE), Hutchinson
//! trace, Lanczos and power iteration, the Riemannian Hessian on the sphere of the SI group,
//! parameter groups ([`Group`]), and the measurements built on them ([`sharpness`]).
//!
//! Vectors are flat 1-D tensors over a chosen parameter group (concatenated in group order).

pub mod curvature;
pub mod lines;

use crate::config::{GroupSpec, Loss};
use crate::data::rng;
use crate::model::{BnMode, ModelError, Net, Param, Role, loss};
use rand::RngExt;
use rand_distr::{Distribution, StandardNormal};
use tch::{Kind, Tensor};

/// Errors of the landscape layer.
#[derive(Debug, thiserror::Error)]
pub enum LandscapeError {
    /// A parameter group that selects nothing, or a name that is not allowed where it is used.
    #[error("{0}")]
    Group(String),
    /// Weights that do not fit the network (another architecture, width or variant).
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// A symmetric linear operator on flat vectors.
pub trait Operator {
    /// Dimension of the vectors.
    fn dim(&self) -> i64;
    /// `A v`.
    fn apply(&self, v: &Tensor) -> Tensor;
}

/// A dense symmetric matrix as an operator (for tests and small problems).
pub struct Dense(pub Tensor);

impl Operator for Dense {
    fn dim(&self) -> i64 {
        self.0.size()[0]
    }
    fn apply(&self, v: &Tensor) -> Tensor {
        self.0.mv(v)
    }
}

/// The first tensor of `tensors` holding a non-finite value (`inf` or `NaN`), by name: weights
/// of a run that diverged, on which a loss, a curvature or a path is not a measurement.
pub fn nonfinite_tensor(tensors: &[(String, Tensor)]) -> Option<&str> {
    tensors
        .iter()
        .find(|(_, t)| t.is_floating_point() && !bool::try_from(t.isfinite().all()).unwrap_or(false))
        .map(|(n, _)| n.as_str())
}

/// Flatten and concatenate tensors.
pub fn flatten(ts: &[Tensor]) -> Tensor {
    Tensor::cat(&ts.iter().map(|t| t.reshape([-1])).collect::<Vec<_>>(), 0)
}

/// The Hessian of the mean loss over `(x, y)` with respect to `params` (tensors of `net` that
/// require grad), evaluated in batches of `batch` with BatchNorm in `mode`
/// (`TrainFrozenStats`: batch statistics of each batch, the "ghost batch"; `Eval`: running
/// statistics). `H v` is exact: the gradient of `<grad L, v>` (double backward).
pub struct Hessian<'a> {
    pub net: &'a Net,
    pub params: Vec<Tensor>,
    pub x: Tensor,
    pub y: Tensor,
    pub loss: Loss,
    pub mode: BnMode,
    pub batch: usize,
}

impl Hessian<'_> {
    /// The batches `(x, y, weight = len/n)` of [`crate::data::batch_spans`] (a trailing batch of
    /// one folded into the one before when BN uses batch statistics).
    pub(crate) fn batches(&self) -> Vec<(Tensor, Tensor, f64)> {
        let n = self.x.size()[0] as usize;
        crate::data::batch_spans(n, self.batch, self.mode != BnMode::Eval)
            .into_iter()
            .map(|(s, len)| {
                let (s, l) = (s as i64, len as i64);
                (self.x.narrow(0, s, l), self.y.narrow(0, s, l), len as f64 / n as f64)
            })
            .collect()
    }

    /// The batches `(x, y, weight = len/n)` the loss is accumulated over (for tests that
    /// rebuild these operators densely).
    pub fn batches_for_tests(&self) -> Vec<(Tensor, Tensor, f64)> {
        self.batches()
    }

    /// Gradient of the mean loss (flat).
    pub fn gradient(&self) -> Tensor {
        let mut acc: Option<Tensor> = None;
        for (x, y, w) in self.batches() {
            let l = loss(&self.net.forward(&x, self.mode), &y, self.loss) * w;
            let g = flatten(&Tensor::run_backward(&[l], &self.params, false, false));
            acc = Some(match acc {
                None => g,
                Some(a) => a + g,
            });
        }
        acc.expect("at least one batch")
    }
}

impl Operator for Hessian<'_> {
    fn dim(&self) -> i64 {
        self.params.iter().map(|p| p.numel() as i64).sum()
    }
    fn apply(&self, v: &Tensor) -> Tensor {
        let mut acc: Option<Tensor> = None;
        for (x, y, w) in self.batches() {
            let l = loss(&self.net.forward(&x, self.mode), &y, self.loss) * w;
            let g = Tensor::run_backward(&[l], &self.params, true, true);
            let gv = (flatten(&g) * v.detach()).sum(Kind::Double);
            let hv = flatten(&Tensor::run_backward(&[gv], &self.params, false, false));
            acc = Some(match acc {
                None => hv,
                Some(a) => a + hv,
            });
        }
        acc.expect("at least one batch").detach()
    }
}

/// The generalized Gauss–Newton matrix `G = Σ_batches w_b J_bᵀ H_out J_b` of the same loss, data
/// and BatchNorm mode as a [`Hessian`]: `J` is the Jacobian of the logits with respect to the
/// group, `H_out` the Hessian of the loss with respect to the logits. For cross-entropy `H_out`
/// is `(diag(p) − p pᵀ)/B` per image (then `G` is also the Fisher matrix); for the MSE loss of
/// spec §3 (`mean over B·C` of squared errors) it is `2/(B·C) · I`. `G v` costs three backward
/// passes: `J v` by the double-vjp trick (the gradient of `⟨Jᵀ r, v⟩` with respect to a dummy
/// `r`), then `Jᵀ (H_out J v)`.
pub struct GaussNewton<'a>(pub &'a Hessian<'a>);

/// `H_out u` for logits `z` (`[B, C]`, detached) and `u = J v`, for a batch of the mean loss.
fn output_hessian(z: &Tensor, u: &Tensor, kind: Loss) -> Tensor {
    let (b, c) = (z.size()[0] as f64, z.size()[1] as f64);
    match kind {
        Loss::Ce => {
            let p = z.softmax(-1, z.kind());
            (&p * u - &p * (&p * u).sum_dim_intlist([-1i64].as_slice(), true, z.kind())) / b
        }
        Loss::Mse => u * (2.0 / (b * c)),
    }
}

impl Operator for GaussNewton<'_> {
    fn dim(&self) -> i64 {
        self.0.dim()
    }
    fn apply(&self, v: &Tensor) -> Tensor {
        let h = self.0;
        let mut acc: Option<Tensor> = None;
        for (x, _y, w) in h.batches() {
            let z = h.net.forward(&x, h.mode);
            let r = z.zeros_like().detach().set_requires_grad(true);
            let jtr = Tensor::run_backward(&[(&z * &r).sum(Kind::Double)], &h.params, true, true);
            let t = (flatten(&jtr) * v.detach()).sum(Kind::Double);
            let jv = Tensor::run_backward(&[t], &[&r], true, false).remove(0);
            let hu = output_hessian(&z.detach(), &jv.detach(), h.loss) * w;
            let g = flatten(&Tensor::run_backward(&[(&z * hu).sum(Kind::Double)], &h.params, false, false));
            acc = Some(match acc {
                None => g,
                Some(a) => a + g,
            });
        }
        acc.expect("at least one batch").detach()
    }
}

/// A set of trained tensors over which curvature is measured (what a [`GroupSpec`] selects).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Group {
    /// Every trained tensor (SI group first).
    All,
    /// The scale-invariant group: the sphere the papers train on.
    Si,
    /// The trained tensors outside the SI group (BN affine, a trained last layer).
    NonSi,
    /// The trained tensors of one module, by its PyTorch name (`conv_layers.0`).
    Layer(String),
    /// One SI group of the model, by its name (`conv_layers.0`, `stream2`, `residual`).
    SiGroup(String),
}

impl Group {
    /// The name written into output rows (`all`, `si`, `non_si`, `layer:conv_layers.0`).
    pub fn name(&self) -> String {
        GroupSpec::from(self.clone()).to_string()
    }

    /// The trained tensors of this group in `net`, in a stable order.
    pub fn select<'a>(&self, net: &'a Net) -> Vec<&'a Param> {
        if let Group::SiGroup(name) = self {
            return net
                .si_groups()
                .iter()
                .filter(|g| g.name == *name)
                .flat_map(|g| g.params.iter().map(|&i| &net.params()[i]))
                .collect();
        }
        net.trained()
            .into_iter()
            .filter(|p| match self {
                Group::All => true,
                Group::Si => p.role == Role::Si,
                Group::NonSi => p.role == Role::Trained,
                Group::Layer(m) => module_of(&p.name) == m,
                Group::SiGroup(_) => unreachable!(),
            })
            .collect()
    }

    /// The norm whose square makes this group's curvature scale-free: its own for an SI group
    /// (invariant under scaling that group alone), else the global rho.
    pub fn rho(&self, net: &Net) -> f64 {
        match self {
            Group::SiGroup(_) => {
                crate::model::sq_norm(&self.select(net).iter().map(|p| &p.tensor).collect::<Vec<_>>()).sqrt()
            }
            _ => net.rho(),
        }
    }

    /// Expand group names as configured (`layers` = one group per module with trained tensors),
    /// dropping groups that are empty in `net` (e.g. `non_si` of the fully scale-invariant
    /// variant). A `layer:MODULE` that names no module with trained tensors is an error, and so
    /// are groups that are all empty.
    pub fn expand(specs: &[GroupSpec], net: &Net) -> Result<Vec<Group>, LandscapeError> {
        let modules = || {
            let mut mods: Vec<String> = vec![];
            for p in net.trained() {
                let m = module_of(&p.name).to_string();
                if !mods.contains(&m) {
                    mods.push(m);
                }
            }
            mods
        };
        let mut out: Vec<Group> = vec![];
        for spec in specs {
            let gs = match spec {
                GroupSpec::Layers => modules().into_iter().map(Group::Layer).collect(),
                GroupSpec::All => vec![Group::All],
                GroupSpec::Si => vec![Group::Si],
                GroupSpec::NonSi => vec![Group::NonSi],
                GroupSpec::Layer(m) => {
                    let g = Group::Layer(m.clone());
                    if g.select(net).is_empty() {
                        return Err(LandscapeError::Group(format!(
                            "no trained tensors in module `{m}`; modules: {}",
                            modules().join(", ")
                        )));
                    }
                    vec![g]
                }
                GroupSpec::SiGroups => net.si_groups().iter().map(|g| Group::SiGroup(g.name.clone())).collect(),
                GroupSpec::SiGroup(name) => {
                    if !net.si_groups().iter().any(|g| g.name == *name) {
                        let names: Vec<&str> = net.si_groups().iter().map(|g| g.name.as_str()).collect();
                        return Err(LandscapeError::Group(format!(
                            "no SI group `{name}`; the model's SI groups: {}",
                            names.join(", ")
                        )));
                    }
                    vec![Group::SiGroup(name.clone())]
                }
            };
            for g in gs {
                if !g.select(net).is_empty() && !out.contains(&g) {
                    out.push(g);
                }
            }
        }
        if out.is_empty() {
            // skipping every group would measure nothing and write nothing without a word
            let names: Vec<String> = specs.iter().map(|s| s.to_string()).collect();
            let si = net.trained().iter().filter(|p| p.role == Role::Si).count();
            return Err(LandscapeError::Group(format!(
                "[{}] selects no tensor of this model: all are empty ({si} scale-invariant and {} other trained tensors)",
                names.join(", "),
                net.trained().len() - si
            )));
        }
        Ok(out)
    }

    /// Whether every tensor of the group is in the SI group (then `× rho²` values are scale-free).
    pub fn is_si(&self, net: &Net) -> bool {
        let sel = self.select(net);
        !sel.is_empty() && sel.iter().all(|p| p.role == Role::Si)
    }
}

impl From<Group> for GroupSpec {
    fn from(g: Group) -> GroupSpec {
        match g {
            Group::All => GroupSpec::All,
            Group::Si => GroupSpec::Si,
            Group::NonSi => GroupSpec::NonSi,
            Group::Layer(m) => GroupSpec::Layer(m),
            Group::SiGroup(g) => GroupSpec::SiGroup(g),
        }
    }
}

/// The module a tensor belongs to: its name without the last component
/// (`conv_layers.0.weight` -> `conv_layers.0`).
pub fn module_of(name: &str) -> &str {
    name.rsplit_once('.').map(|(m, _)| m).unwrap_or(name)
}

/// The Riemannian Hessian on the sphere through `w` (flat):
/// `Hess_R = P H P - (<w, g> / ||w||^2) P`, with `P = I - w w^T / ||w||^2` and `g` the Euclidean
/// gradient at `w`.
pub struct Riemannian<'a, O: Operator> {
    pub hessian: &'a O,
    pub w: Tensor,
    pub grad: Tensor,
}

impl<O: Operator> Riemannian<'_, O> {
    /// `P v`: the component of v tangent to the sphere at w.
    pub fn project(&self, v: &Tensor) -> Tensor {
        let ww = (&self.w * &self.w).sum(Kind::Double);
        v - &self.w * ((v * &self.w).sum(Kind::Double) / ww)
    }
}

impl<O: Operator> Operator for Riemannian<'_, O> {
    fn dim(&self) -> i64 {
        self.w.numel() as i64
    }
    fn apply(&self, v: &Tensor) -> Tensor {
        let pv = self.project(v);
        let c = (&self.w * &self.grad).sum(Kind::Double) / (&self.w * &self.w).sum(Kind::Double);
        self.project(&self.hessian.apply(&pv)) - pv * c
    }
}

pub use crate::config::Probe;

/// Hutchinson's trace estimate `mean(v^T A v)` over `probes` random vectors, with its standard
/// error (std / sqrt(probes)). Probes are drawn from `seed`.
pub fn hutchinson(op: &dyn Operator, probes: usize, probe: Probe, seed: u64, like: &Tensor) -> (f64, f64) {
    let mut r = rng(seed, 0);
    let n = op.dim() as usize;
    let mut samples = vec![];
    for _ in 0..probes {
        let v: Vec<f64> = (0..n)
            .map(|_| match probe {
                Probe::Rademacher => {
                    if r.random::<bool>() {
                        1.0
                    } else {
                        -1.0
                    }
                }
                Probe::Gaussian => StandardNormal.sample(&mut r),
            })
            .collect();
        let v = Tensor::from_slice(&v).to_kind(like.kind()).to_device(like.device());
        samples.push((op.apply(&v) * &v).sum(Kind::Double).double_value(&[]));
    }
    let m = samples.iter().sum::<f64>() / probes as f64;
    let var = samples.iter().map(|s| (s - m).powi(2)).sum::<f64>() / (probes.max(2) - 1) as f64;
    (m, (var / probes as f64).sqrt())
}

/// A Lanczos estimate counts as converged when its residual ‖A x − θ x‖ is at most this fraction
/// of |θ| (then some eigenvalue of A lies within 5% of θ).
pub const LANCZOS_TOL: f64 = 0.05;

/// Result of Lanczos: the top-k Ritz values (descending), their vectors and residual norms
/// `||A x - theta x||`.
pub struct Eigen {
    pub values: Vec<f64>,
    pub vectors: Vec<Tensor>,
    pub residuals: Vec<f64>,
}

/// `iters` Lanczos steps with full reorthogonalisation from the unit vector `q`: the
/// tridiagonal matrix's diagonal and off-diagonal, and the Lanczos vectors.
fn tridiagonal(op: &dyn Operator, iters: usize, mut q: Tensor) -> (Vec<f64>, Vec<f64>, Vec<Tensor>) {
    let m = (iters as i64).min(op.dim()) as usize;
    let mut qs: Vec<Tensor> = vec![];
    let (mut alpha, mut beta) = (vec![], vec![]);
    for j in 0..m {
        qs.push(q.shallow_clone());
        let mut w = op.apply(&q);
        let a = (&w * &q).sum(Kind::Double).double_value(&[]);
        alpha.push(a);
        // full reorthogonalisation (twice, for stability)
        for _ in 0..2 {
            for qi in &qs {
                let c = (&w * qi).sum(Kind::Double);
                w = &w - qi * c;
            }
        }
        let b = w.norm().double_value(&[]);
        if j + 1 == m || b < 1e-12 {
            break;
        }
        beta.push(b);
        q = &w / b;
    }
    (alpha, beta, qs)
}

/// Eigenvalues (ascending) and eigenvectors (columns) of the symmetric tridiagonal matrix.
fn eigh_tridiagonal(alpha: &[f64], beta: &[f64]) -> (Tensor, Tensor) {
    let mm = alpha.len() as i64;
    let t = Tensor::zeros([mm, mm], (Kind::Double, tch::Device::Cpu));
    for i in 0..mm as usize {
        let _ = t.get(i as i64).get(i as i64).fill_(alpha[i]);
        if i + 1 < mm as usize {
            let _ = t.get(i as i64).get(i as i64 + 1).fill_(beta[i]);
            let _ = t.get(i as i64 + 1).get(i as i64).fill_(beta[i]);
        }
    }
    t.linalg_eigh("L")
}

/// A seeded random unit vector shaped like `like`'s flat length `n`.
fn random_unit(n: i64, seed: u64, stream: u64, like: &Tensor) -> Tensor {
    let mut r = rng(seed, stream);
    let v: Vec<f64> = (0..n).map(|_| StandardNormal.sample(&mut r)).collect();
    let v = Tensor::from_slice(&v).to_kind(like.kind()).to_device(like.device());
    &v / v.norm()
}

/// Lanczos with full reorthogonalisation, `iters` steps from `start` (or a seeded random vector;
/// pass the previous top eigenvector to warm-start), returning the top `k` eigenpairs.
pub fn lanczos(op: &dyn Operator, k: usize, iters: usize, start: Option<&Tensor>, seed: u64, like: &Tensor) -> Eigen {
    let opts = (like.kind(), like.device());
    let q = match start {
        Some(s) => {
            let s = s.to_kind(like.kind());
            &s / s.norm()
        }
        None => random_unit(op.dim(), seed, 1, like),
    };
    let (alpha, beta, qs) = tridiagonal(op, iters, q);
    let mm = alpha.len() as i64;
    let (evals, evecs) = eigh_tridiagonal(&alpha, &beta);
    let basis = Tensor::stack(&qs[..mm as usize], 1).to_kind(Kind::Double).to_device(tch::Device::Cpu);
    let mut out = Eigen { values: vec![], vectors: vec![], residuals: vec![] };
    for idx in (0..mm).rev().take(k) {
        let theta = evals.double_value(&[idx]);
        let x = basis.mv(&evecs.select(1, idx)).to_kind(opts.0).to_device(opts.1);
        let r = (op.apply(&x) - &x * theta).norm().double_value(&[]);
        out.values.push(theta);
        out.vectors.push(x);
        out.residuals.push(r);
    }
    out
}

/// One probe's quadrature: `(nodes, weights)`.
pub type Quadrature = (Vec<f64>, Vec<f64>);

/// Stochastic Lanczos quadrature (Ubaru, Chen & Saad 2017; PyHessian's spectral density): per
/// probe, `iters` Lanczos steps from a random unit vector v give Ritz values θ_j and weights
/// τ_j = (first component of the j-th eigenvector of T)², a quadrature for vᵀ f(A) v. Returns
/// `(nodes, weights)` per probe; each probe's weights sum to 1.
pub fn slq(op: &dyn Operator, probes: usize, iters: usize, seed: u64, like: &Tensor) -> Vec<Quadrature> {
    (0..probes)
        .map(|p| {
            // each probe its own stream of the seed (seeds of different groups stay apart)
            let q = random_unit(op.dim(), seed, 1000 + p as u64, like);
            let (alpha, beta, _) = tridiagonal(op, iters, q);
            let (evals, evecs) = eigh_tridiagonal(&alpha, &beta);
            let m = alpha.len() as i64;
            let nodes = (0..m).map(|j| evals.double_value(&[j])).collect();
            let weights = (0..m).map(|j| evecs.double_value(&[0, j]).powi(2)).collect();
            (nodes, weights)
        })
        .collect()
}

/// The spectral density at `grid` from SLQ quadratures: the mean over probes of
/// Σ_j τ_j N(t; θ_j, σ²), a Gaussian of width `sigma` around each node (integrates to 1).
pub fn density(quadratures: &[Quadrature], grid: &[f64], sigma: f64) -> Vec<f64> {
    let norm = 1.0 / (sigma * (2.0 * std::f64::consts::PI).sqrt() * quadratures.len().max(1) as f64);
    grid.iter()
        .map(|&t| {
            quadratures
                .iter()
                .flat_map(|(n, w)| n.iter().zip(w))
                .map(|(&th, &tau)| tau * (-(t - th).powi(2) / (2.0 * sigma * sigma)).exp())
                .sum::<f64>()
                * norm
        })
        .collect()
}

/// Power iteration: the eigenvalue of largest magnitude and its vector, after `iters` steps or
/// when the Rayleigh quotient changes by less than `tol` (relative).
pub fn power(op: &dyn Operator, iters: usize, tol: f64, seed: u64, like: &Tensor) -> (f64, Tensor) {
    let mut r = rng(seed, 2);
    let v: Vec<f64> = (0..op.dim()).map(|_| StandardNormal.sample(&mut r)).collect();
    let mut v = Tensor::from_slice(&v).to_kind(like.kind()).to_device(like.device());
    v = &v / v.norm();
    let mut lambda = 0.0;
    for _ in 0..iters {
        let w = op.apply(&v);
        let l = (&w * &v).sum(Kind::Double).double_value(&[]);
        v = &w / w.norm();
        if (l - lambda).abs() <= tol * l.abs() {
            lambda = l;
            break;
        }
        lambda = l;
    }
    (lambda, v)
}
