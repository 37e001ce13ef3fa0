//! Optimizers of spec §3.
//!
//! - `full`: SGD with weight decay and momentum, PyTorch semantics:
//!   `d = g + wd*w; buf = m*buf + d (if m > 0); w <- w - lr*d`, i.e. without momentum
//!   `w <- (1 - lr*wd) w - lr*g`.
//! - `sphere`: fixed effective learning rate on the SI group. Radius rho0 = the initial SI norm;
//!   each step `w <- w - (ELR * rho0^2) * g`, then all SI tensors are rescaled jointly back to norm
//!   rho0 (`optim.sphere = "global"`). With `per_group`, each SI group G keeps its own initial norm
//!   r_G and steps with `ELR * r_G^2`; with `per_filter`, each output filter keeps its own r_f and
//!   steps with `ELR * r_f^2`. Each is projected SGD on a unit sphere,
//!   `u <- normalize(u - ELR * grad L(u))`. Trained non-SI tensors (norm affine, classifier of
//!   `si-affine`) take plain SGD with `lr`, `wd`.
//!
//! The schedule multiplies `lr` (full) or `ELR` (sphere).

use crate::config::{OptimConfig, OptimMode, Schedule, Sphere};
use crate::model::{NamedTensors, Net, Role, sq_norm, sq_norm_t};
use tch::{Kind, Tensor};

/// SGD in full space or on the sphere, with its state (radius, momentum buffers).
#[derive(Debug)]
pub struct Optimizer {
    pub cfg: OptimConfig,
    /// Steps in the whole run (for the cosine schedule).
    total_steps: usize,
    steps_per_epoch: usize,
    /// Radius of the sphere: the SI norm at initialisation.
    pub rho0: f64,
    /// Per-filter radii `r_f^2`, one `[out, 1]` tensor per SI tensor (per_filter only).
    filter_r2: Vec<Tensor>,
    /// Per-group radii `r_G^2`, one per SI group (per_group only).
    group_r2: Vec<f64>,
    /// The SI group of each trained tensor (`Net::trained` order), if any.
    group_of: Vec<Option<usize>>,
    /// Momentum buffers, one per trained tensor (in `Net::trained` order), created on first use.
    bufs: Vec<Option<Tensor>>,
}

impl Optimizer {
    /// Set up for `net` at its current (initial) weights.
    pub fn new(cfg: &OptimConfig, net: &Net, steps_per_epoch: usize, epochs: usize) -> Optimizer {
        let filter_r2 = if cfg.sphere() == Sphere::PerFilter {
            net.si()
                .iter()
                .map(|w| w.detach().flatten(1, -1).square().sum_dim_intlist(&[1i64][..], true, w.kind()))
                .collect()
        } else {
            vec![]
        };
        let group_r2 = if cfg.sphere() == Sphere::PerGroup {
            net.si_groups().iter().map(|g| sq_norm(&net.group_tensors(g))).collect()
        } else {
            vec![]
        };
        let group_of = net
            .trained()
            .iter()
            .map(|p| net.si_groups().iter().position(|g| g.params.iter().any(|&i| net.params()[i].name == p.name)))
            .collect();
        Optimizer {
            cfg: cfg.clone(),
            total_steps: steps_per_epoch * epochs,
            steps_per_epoch,
            rho0: net.rho(),
            filter_r2,
            group_r2,
            group_of,
            bufs: (0..net.trained().len()).map(|_| None).collect(),
        }
    }

    /// Schedule multiplier at global step `step` (0-based).
    pub fn factor(&self, step: usize) -> f64 {
        match self.cfg.schedule {
            Schedule::Constant => 1.0,
            Schedule::Cosine => {
                let t = step as f64 / self.total_steps.max(1) as f64;
                0.5 * (1.0 + (std::f64::consts::PI * t.min(1.0)).cos())
            }
            Schedule::Step => {
                let epoch = step / self.steps_per_epoch.max(1);
                let passed = self.cfg.milestones.iter().filter(|&&m| epoch >= m).count();
                self.cfg.gamma.powi(passed as i32)
            }
        }
    }

    /// Learning rate applied at `step` (full mode: to every trained tensor; sphere mode: to the
    /// SI group it is `ELR * rho0^2`).
    pub fn lr_at(&self, step: usize) -> f64 {
        match self.cfg.mode {
            OptimMode::Full => self.cfg.lr * self.factor(step),
            OptimMode::Sphere => self.elr_at(step) * self.rho0 * self.rho0,
        }
    }

    /// The learning rate SI group `g` steps with at `step`: its own `ELR * r_G^2` on per-group
    /// spheres, else [`Optimizer::lr_at`].
    pub fn group_lr_at(&self, step: usize, g: usize) -> f64 {
        match (self.cfg.mode, self.group_r2.get(g)) {
            (OptimMode::Sphere, Some(r2)) => self.elr_at(step) * r2,
            _ => self.lr_at(step),
        }
    }

    /// Configured ELR at `step` in sphere mode.
    pub fn elr_at(&self, step: usize) -> f64 {
        self.cfg.elr * self.factor(step)
    }

    /// One update from the gradients currently held by `net`'s tensors, at global step `step`.
    pub fn step(&mut self, net: &Net, step: usize) {
        let f = self.factor(step);
        let kind = self.cfg.sphere();
        tch::no_grad(|| {
            let sphere = self.cfg.mode == OptimMode::Sphere;
            let mut si_index = 0;
            for (i, p) in net.trained().into_iter().enumerate() {
                let g = p.tensor.grad();
                if !g.defined() {
                    continue;
                }
                let on_sphere = sphere && p.role == Role::Si;
                let (lr, wd) = if on_sphere { (self.cfg.elr * f, 0.0) } else { (self.cfg.lr * f, self.cfg.wd) };
                let mut w = p.tensor.shallow_clone();
                // `w += c * t` in one in-place pass (addcmul with a 0-dim factor): no temporary.
                let axpy = |w: &mut Tensor, t: &Tensor, c: f64| {
                    let c = Tensor::from(c).to_kind(t.kind()).to_device(t.device());
                    let _ = w.addcmul_(t, &c);
                };
                // the factor the step direction is multiplied by
                let scale = match (on_sphere, kind) {
                    (true, Sphere::Global) => lr * self.rho0 * self.rho0,
                    (true, Sphere::PerGroup) => {
                        lr * self.group_of[i].map(|g| self.group_r2[g]).expect("an SI tensor is in a group")
                    }
                    _ => lr,
                };
                // the direction: the gradient, or PyTorch's momentum buffer of d = g + wd*w
                let dir = if self.cfg.momentum > 0.0 {
                    let d = if wd > 0.0 {
                        g.addcmul(&p.tensor, &Tensor::from(wd).to_kind(g.kind()).to_device(g.device()))
                    } else {
                        g
                    };
                    let buf = match self.bufs[i].take() {
                        None => d.copy(),
                        Some(mut b) => {
                            let _ = b.g_mul_scalar_(self.cfg.momentum);
                            b += &d;
                            b
                        }
                    };
                    self.bufs[i] = Some(buf.shallow_clone());
                    buf
                } else {
                    if wd > 0.0 {
                        // w <- (1 - lr*wd) w - lr*g, in place (as the PyTorch benchmark's step)
                        let _ = w.g_mul_scalar_(1.0 - lr * wd);
                    }
                    g
                };
                if on_sphere && kind == Sphere::PerFilter {
                    let r2 = &self.filter_r2[si_index];
                    let mut wv = w.view([r2.size()[0], -1]);
                    let _ = wv.g_sub_(&(dir.view([r2.size()[0], -1]) * r2 * lr));
                    let norms = wv.square().sum_dim_intlist(&[1i64][..], true, wv.kind()).sqrt();
                    let _ = wv.g_mul_(&(r2.sqrt() / norms));
                } else {
                    axpy(&mut w, &dir, -scale);
                }
                if p.role == Role::Si {
                    si_index += 1;
                }
            }
            match kind {
                _ if !sphere => {}
                Sphere::Global => project(net, self.rho0),
                Sphere::PerGroup => {
                    for (g, r2) in net.si_groups().iter().zip(&self.group_r2) {
                        let ts = net.group_tensors(g);
                        let n = sq_norm(&ts).sqrt();
                        for t in ts {
                            let _ = t.shallow_clone().g_mul_scalar_(r2.sqrt() / n);
                        }
                    }
                }
                Sphere::PerFilter => {}
            }
        });
    }

    /// Optimizer state for checkpoints: `(name, tensor)` pairs.
    pub fn state(&self) -> NamedTensors {
        let mut out = vec![("optim.rho0".to_string(), Tensor::from_slice(&[self.rho0]))];
        for (i, r) in self.filter_r2.iter().enumerate() {
            out.push((format!("optim.filter_r2.{i}"), r.to_device(tch::Device::Cpu)));
        }
        if !self.group_r2.is_empty() {
            out.push(("optim.group_r2".to_string(), Tensor::from_slice(&self.group_r2)));
        }
        for (i, b) in self.bufs.iter().enumerate() {
            if let Some(b) = b {
                out.push((format!("optim.momentum.{i}"), b.to_device(tch::Device::Cpu)));
            }
        }
        out
    }

    /// Restore the state written by [`Optimizer::state`].
    pub fn load_state(&mut self, state: &[(String, Tensor)], net: &Net) {
        let device = net.device();
        for (name, t) in state {
            if name == "optim.rho0" {
                self.rho0 = t.double_value(&[0]);
            } else if name == "optim.group_r2" {
                self.group_r2 = Vec::<f64>::try_from(t).unwrap_or_default();
            } else if let Some(i) = name.strip_prefix("optim.filter_r2.") {
                self.filter_r2[i.parse::<usize>().unwrap()] = t.to_device(device);
            } else if let Some(i) = name.strip_prefix("optim.momentum.") {
                self.bufs[i.parse::<usize>().unwrap()] = Some(t.to_device(device));
            }
        }
    }
}

/// Rescale the SI group of `net` jointly to norm `radius`.
pub fn project(net: &Net, radius: f64) {
    let si = net.si();
    let rho = sq_norm(&si).sqrt();
    tch::no_grad(|| {
        for w in si {
            let _ = w.shallow_clone().g_mul_scalar_(radius / rho);
        }
    });
}

/// Norm of the gradient of the SI group, as a 0-dim f64 tensor on the net's device (no sync).
pub fn si_grad_norm(net: &Net) -> Tensor {
    let grads: Vec<Tensor> = net.si().iter().map(|w| w.grad()).filter(|g| g.defined()).collect();
    if grads.is_empty() {
        return Tensor::zeros([], (Kind::Double, net.device()));
    }
    sq_norm_t(&grads.iter().collect::<Vec<_>>()).sqrt()
}
