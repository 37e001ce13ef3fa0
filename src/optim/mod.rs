//! Optimizers: an update rule ([`Rule`]: SGD, Adam, AdamW, Lion, each one file with PyTorch's
//! semantics) inside a mode wrapper, with the schedule apart ([`schedule::LrSchedule`]).
//!
//! - `full`: the rule's step on every trained tensor, `w -= lr*u` (with its weight decay:
//!   L2 for SGD and Adam, decoupled `w <- (1 - lr*wd) w` for AdamW and Lion; `optim.wd_non_si`
//!   for the tensors outside the SI groups).
//! - `sphere`: on the SI tensors, the rule's step without weight decay, then projection back to
//!   the radius: all SI tensors jointly to rho0 (`optim.sphere = "global"`), each SI group to
//!   its own r_G (`per_group`), each output filter to its own r_f (`per_filter`). The SI step is
//!   `lr = ELR * r^p`, with p = 2 for SGD and p = 1 for Adam, AdamW and Lion: scaling w by c
//!   scales SGD's gradient step by 1/c (angle ~ lr/r^2) but leaves the Adam-type steps' size
//!   alone (their updates are normalized, angle ~ lr/r; Roburin et al. 2020), so that a sphere
//!   run depends on the direction only. Non-SI tensors take the full-space step.
//! - `rotational`: every SI output unit (row) w turns by exactly the angle theta per step, along
//!   the rule's update u made tangent: `w <- cos(theta) w - sin(theta) ||w|| u_t/||u_t||`, its norm
//!   held. theta is `optim.angle`, or by default the rule's equilibrium angle eta_r at the
//!   scheduled lr and `wd` (the rotational wrappers of Kosson, Messmer, Jaggi 2024, which hold
//!   the angle on average; here each step's angle is exact). Non-SI tensors: full-space step.
//!
//! The schedule multiplies `lr` (full), the ELR (sphere) and the lr inside eta_r (rotational).

mod adam;
mod lion;
pub mod schedule;
mod sgd;

pub use adam::Adam;
pub use lion::Lion;
pub use schedule::LrSchedule;
pub use sgd::Sgd;

use crate::config::{OptimConfig, OptimMode, OptimName, Sphere};
use crate::model::{NamedTensors, Net, Role, sq_norm, sq_norm_t};
use sgd::axpy;
use tch::{Device, Kind, Tensor};

/// One update rule, for the trained tensors of a net (indexed in `Net::trained` order).
pub trait Rule: Send {
    /// Weight decay decoupled from the gradient (`w <- (1 - lr*wd) w` before the step)?
    fn decoupled(&self) -> bool;
    /// How the step's angle scales with the norm r of a scale-invariant weight: lr / r^p.
    fn elr_power(&self) -> i32;
    /// The predicted equilibrium angular update per step under weight decay, if the rule has one.
    fn eta_r(&self, lr: f64, wd: f64) -> Option<f64>;
    /// The direction u of tensor `i`'s step `w -= lr*u` at step `t` (1-based), updating the
    /// rule's state; `wd` is folded in where the decay is coupled (L2).
    fn direction(&mut self, i: usize, w: &Tensor, g: &Tensor, wd: f64, t: usize) -> Tensor;
    /// The whole full-space step of tensor `i`, in place (rules override it to avoid
    /// temporaries).
    fn update(&mut self, i: usize, w: &mut Tensor, g: &Tensor, lr: f64, wd: f64, t: usize) {
        if self.decoupled() && wd > 0.0 {
            let _ = w.g_mul_scalar_(1.0 - lr * wd);
        }
        let u = self.direction(i, w, g, wd, t);
        axpy(w, &u, -lr);
    }
    /// The rule's state for checkpoints.
    fn state(&self) -> NamedTensors;
    /// Restore one entry of [`Rule::state`]; false if the name is not the rule's.
    fn load(&mut self, name: &str, t: &Tensor, device: Device) -> bool;
}

/// The rule of a config, for `tensors` trained tensors.
pub fn rule(cfg: &OptimConfig, tensors: usize) -> Box<dyn Rule> {
    let (b1, b2) = cfg.betas();
    match cfg.name {
        OptimName::Sgd => Box::new(Sgd::new(cfg.momentum, cfg.nesterov, tensors)),
        OptimName::Adam => Box::new(Adam::new(false, b1, b2, cfg.eps, tensors)),
        OptimName::Adamw => Box::new(Adam::new(true, b1, b2, cfg.eps, tensors)),
        OptimName::Lion => Box::new(Lion::new(b1, b2, tensors)),
    }
}

/// An optimizer of a run: its rule, schedule, mode and radii.
pub struct Optimizer {
    pub cfg: OptimConfig,
    rule: Box<dyn Rule>,
    schedule: LrSchedule,
    /// Radius of the global sphere: the SI norm at initialisation.
    pub rho0: f64,
    /// Per-filter radii `r_f^2`, one `[out, 1]` tensor per SI tensor (per_filter only).
    filter_r2: Vec<Tensor>,
    /// Per-group radii `r_G^2`, one per SI group (per_group only).
    group_r2: Vec<f64>,
    /// The SI group of each trained tensor (`Net::trained` order), if any.
    group_of: Vec<Option<usize>>,
}

impl std::fmt::Debug for Optimizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Optimizer").field("cfg", &self.cfg).field("rho0", &self.rho0).finish()
    }
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
            rule: rule(cfg, net.trained().len()),
            schedule: LrSchedule::new(cfg, steps_per_epoch, epochs),
            rho0: net.rho(),
            filter_r2,
            group_r2,
            group_of,
        }
    }

    /// Schedule multiplier at global step `step` (0-based).
    pub fn factor(&self, step: usize) -> f64 {
        self.schedule.factor(step)
    }

    /// The power p of the ELR `lr / r^p` of this rule (2 for SGD, 1 for Adam-type).
    pub fn elr_power(&self) -> i32 {
        self.rule.elr_power()
    }

    /// Learning rate at `step`: full and rotational mode, `lr` times the schedule; sphere mode,
    /// the SI group's `ELR * rho0^p`.
    pub fn lr_at(&self, step: usize) -> f64 {
        match self.cfg.mode {
            OptimMode::Full | OptimMode::Rotational => self.cfg.lr * self.factor(step),
            OptimMode::Sphere => self.elr_at(step) * self.rho0.powi(self.elr_power()),
        }
    }

    /// The learning rate SI group `g` steps with at `step`: its own `ELR * r_G^p` on per-group
    /// spheres, else [`Optimizer::lr_at`].
    pub fn group_lr_at(&self, step: usize, g: usize) -> f64 {
        match (self.cfg.mode, self.group_r2.get(g)) {
            (OptimMode::Sphere, Some(r2)) => self.elr_at(step) * r2.powf(self.elr_power() as f64 / 2.0),
            _ => self.lr_at(step),
        }
    }

    /// Configured ELR at `step` in sphere mode.
    pub fn elr_at(&self, step: usize) -> f64 {
        self.cfg.elr * self.factor(step)
    }

    /// The predicted equilibrium angular update per step of the SI weights under weight decay
    /// (full space), or the angle they turn by (rotational mode), at `step`; NaN where there is
    /// none (sphere mode, no weight decay, Adam's L2 decay).
    pub fn angle_eq_at(&self, step: usize) -> f64 {
        let lr = self.cfg.lr * self.factor(step);
        match self.cfg.mode {
            OptimMode::Sphere => f64::NAN,
            OptimMode::Rotational => self.rotation_angle(step),
            OptimMode::Full if self.cfg.wd > 0.0 => self.rule.eta_r(lr, self.cfg.wd).unwrap_or(f64::NAN),
            OptimMode::Full => f64::NAN,
        }
    }

    /// The angle of rotational mode at `step`.
    fn rotation_angle(&self, step: usize) -> f64 {
        let lr = self.cfg.lr * self.factor(step);
        match self.cfg.angle {
            crate::config::Auto::Value(a) => a * self.factor(step),
            crate::config::Auto::Auto => self.rule.eta_r(lr, self.cfg.wd).unwrap_or(f64::NAN),
        }
    }

    /// One update from the gradients currently held by `net`'s tensors, at global step `step`.
    pub fn step(&mut self, net: &Net, step: usize) {
        let f = self.factor(step);
        let t = step + 1;
        let mode = self.cfg.mode;
        let kind = self.cfg.sphere();
        let p = self.rule.elr_power();
        let (lr, elr) = (self.cfg.lr * f, self.cfg.elr * f);
        let theta = if mode == OptimMode::Rotational { self.rotation_angle(step) } else { 0.0 };
        tch::no_grad(|| {
            let mut si_index = 0;
            for (i, par) in net.trained().into_iter().enumerate() {
                let g = par.tensor.grad();
                if !g.defined() {
                    continue;
                }
                let si = par.role == Role::Si;
                let mut w = par.tensor.shallow_clone();
                match mode {
                    OptimMode::Sphere if si => {
                        let u = self.rule.direction(i, &w, &g, 0.0, t);
                        match kind {
                            Sphere::Global => axpy(&mut w, &u, -elr * self.rho0.powi(p)),
                            Sphere::PerGroup => {
                                let r2 =
                                    self.group_of[i].map(|g| self.group_r2[g]).expect("an SI tensor is in a group");
                                axpy(&mut w, &u, -elr * r2.powf(p as f64 / 2.0));
                            }
                            Sphere::PerFilter => {
                                let r2 = &self.filter_r2[si_index];
                                let mut wv = w.view([r2.size()[0], -1]);
                                let rp = r2.pow_tensor_scalar(p as f64 / 2.0);
                                let _ = wv.g_sub_(&(u.view([r2.size()[0], -1]) * rp * elr));
                                let norms = wv.square().sum_dim_intlist(&[1i64][..], true, wv.kind()).sqrt();
                                let _ = wv.g_mul_(&(r2.sqrt() / norms));
                            }
                        }
                    }
                    OptimMode::Rotational if si => {
                        let u = self.rule.direction(i, &w, &g, 0.0, t);
                        rotate_rows(&mut w, &u, theta);
                    }
                    _ => {
                        let wd = if si { self.cfg.wd } else { self.cfg.wd_non_si() };
                        self.rule.update(i, &mut w, &g, lr, wd, t);
                    }
                }
                if si {
                    si_index += 1;
                }
            }
            if mode == OptimMode::Sphere {
                match kind {
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
            }
        });
    }

    /// Optimizer state for checkpoints: `(name, tensor)` pairs.
    pub fn state(&self) -> NamedTensors {
        let mut out = vec![("optim.rho0".to_string(), Tensor::from_slice(&[self.rho0]))];
        for (i, r) in self.filter_r2.iter().enumerate() {
            out.push((format!("optim.filter_r2.{i}"), r.to_device(Device::Cpu)));
        }
        if !self.group_r2.is_empty() {
            out.push(("optim.group_r2".to_string(), Tensor::from_slice(&self.group_r2)));
        }
        out.extend(self.rule.state());
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
                if let Some(slot) = i.parse::<usize>().ok().and_then(|i| self.filter_r2.get_mut(i)) {
                    *slot = t.to_device(device);
                }
            } else {
                self.rule.load(name, t, device);
            }
        }
    }
}

/// Turn each row (output unit) of `w` by the angle `theta` away from `u` made tangent to it:
/// `w <- cos(theta) w - sin(theta) ||w|| u_t / ||u_t||`, `u_t = u - (<u, w>/||w||^2) w`. A row
/// whose tangent update is zero does not move.
pub fn rotate_rows(w: &mut Tensor, u: &Tensor, theta: f64) {
    let rows = w.size()[0];
    let wv = w.view([rows, -1]);
    let uv = u.reshape([rows, -1]);
    let dim = [1i64];
    let ww = wv.square().sum_dim_intlist(dim.as_slice(), true, wv.kind());
    let uw = (&uv * &wv).sum_dim_intlist(dim.as_slice(), true, wv.kind());
    let ut = &uv - &wv * (&uw / &ww);
    let un = ut.square().sum_dim_intlist(dim.as_slice(), true, wv.kind()).sqrt();
    let scale = ww.sqrt() / un.clamp_min(1e-30) * theta.sin();
    let moving = un.gt(0.0).to_kind(wv.kind());
    let new = &wv * (theta.cos() * &moving + (1.0 - &moving)) - &ut * scale * &moving;
    wv.shallow_clone().copy_(&new);
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
