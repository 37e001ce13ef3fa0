//! Optimizers of spec §3.
//!
//! - `full`: SGD with weight decay and momentum, PyTorch semantics:
//!   `d = g + wd*w; buf = m*buf + d (if m > 0); w <- w - lr*d`, i.e. without momentum
//!   `w <- (1 - lr*wd) w - lr*g`.
//! - `sphere`: fixed effective learning rate on the SI group. Radius rho0 = the initial SI norm;
//!   each step `w <- w - (ELR * rho0^2) * g`, then all SI tensors are rescaled jointly back to norm
//!   rho0 (or, with `per_filter`, each output filter back to its own initial norm r_f, stepping with
//!   `ELR * r_f^2`). Equivalent to projected SGD on the unit sphere `u <- normalize(u - ELR * grad L(u))`.
//!   Trained non-SI tensors (BN affine, classifier of `si-affine`) take plain SGD with `lr`, `wd`.
//!
//! The schedule multiplies `lr` (full) or `ELR` (sphere).

use crate::config::{OptimConfig, OptimMode, Schedule};
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
    /// Momentum buffers, one per trained tensor (in `Net::trained` order), created on first use.
    bufs: Vec<Option<Tensor>>,
}

impl Optimizer {
    /// Set up for `net` at its current (initial) weights.
    pub fn new(cfg: &OptimConfig, net: &Net, steps_per_epoch: usize, epochs: usize) -> Optimizer {
        let filter_r2 = if cfg.per_filter {
            net.si()
                .iter()
                .map(|w| w.detach().flatten(1, -1).square().sum_dim_intlist(&[1i64][..], true, w.kind()))
                .collect()
        } else {
            vec![]
        };
        Optimizer {
            cfg: cfg.clone(),
            total_steps: steps_per_epoch * epochs,
            steps_per_epoch,
            rho0: net.rho(),
            filter_r2,
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

    /// Configured ELR at `step` in sphere mode.
    pub fn elr_at(&self, step: usize) -> f64 {
        self.cfg.elr * self.factor(step)
    }

    /// One update from the gradients currently held by `net`'s tensors, at global step `step`.
    pub fn step(&mut self, net: &Net, step: usize) {
        let f = self.factor(step);
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
                let mut d = if wd > 0.0 { &g + &p.tensor * wd } else { g };
                if self.cfg.momentum > 0.0 {
                    let buf = match self.bufs[i].take() {
                        None => d.copy(),
                        Some(b) => b.g_mul_scalar(self.cfg.momentum).g_add_(&d),
                    };
                    d = buf.shallow_clone();
                    self.bufs[i] = Some(buf);
                }
                let mut w = p.tensor.shallow_clone();
                if on_sphere && self.cfg.per_filter {
                    let r2 = &self.filter_r2[si_index];
                    let mut wv = w.view([r2.size()[0], -1]);
                    let _ = wv.g_sub_(&(d.view([r2.size()[0], -1]) * r2 * lr));
                    let norms = wv.square().sum_dim_intlist(&[1i64][..], true, wv.kind()).sqrt();
                    let _ = wv.g_mul_(&(r2.sqrt() / norms));
                } else if on_sphere {
                    let _ = w.g_sub_(&(d * (lr * self.rho0 * self.rho0)));
                } else {
                    let _ = w.g_sub_(&(d * lr));
                }
                if p.role == Role::Si {
                    si_index += 1;
                }
            }
            if sphere && !self.cfg.per_filter {
                project(net, self.rho0);
            }
        });
    }

    /// Optimizer state for checkpoints: `(name, tensor)` pairs.
    pub fn state(&self) -> NamedTensors {
        let mut out = vec![("optim.rho0".to_string(), Tensor::from_slice(&[self.rho0]))];
        for (i, r) in self.filter_r2.iter().enumerate() {
            out.push((format!("optim.filter_r2.{i}"), r.to_device(tch::Device::Cpu)));
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
