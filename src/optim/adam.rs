//! Adam and AdamW as `torch.optim.Adam` / `torch.optim.AdamW` (amsgrad off): at step t,
//! `g' = g + wd*w` (Adam only: L2), `m = lerp(m, g', 1 - b1)`, `v = b2*v + (1 - b2)*g'^2`,
//! `u = (m / (1 - b1^t)) / (sqrt(v) / sqrt(1 - b2^t) + eps)`, step `w -= lr*u`; AdamW first
//! decays `w <- (1 - lr*wd) w` (decoupled).

use super::Rule;
use crate::model::NamedTensors;
use tch::{Device, Tensor};

/// Adam's moments, one pair per trained tensor (created on first use).
#[derive(Debug)]
pub struct Adam {
    decoupled: bool,
    beta1: f64,
    beta2: f64,
    eps: f64,
    m: Vec<Option<Tensor>>,
    v: Vec<Option<Tensor>>,
}

impl Adam {
    pub fn new(decoupled: bool, beta1: f64, beta2: f64, eps: f64, tensors: usize) -> Adam {
        Adam {
            decoupled,
            beta1,
            beta2,
            eps,
            m: (0..tensors).map(|_| None).collect(),
            v: (0..tensors).map(|_| None).collect(),
        }
    }
}

impl Rule for Adam {
    fn decoupled(&self) -> bool {
        self.decoupled
    }

    fn elr_power(&self) -> i32 {
        1
    }

    fn eta_r(&self, lr: f64, wd: f64) -> Option<f64> {
        // AdamW's equilibrium (Kosson et al. 2024); Adam's L2 decay has none
        self.decoupled.then(|| (2.0 * lr * wd * (1.0 - self.beta1) / (1.0 + self.beta1)).sqrt())
    }

    fn direction(&mut self, i: usize, w: &Tensor, g: &Tensor, wd: f64, t: usize) -> Tensor {
        let g = if wd > 0.0 && !self.decoupled {
            g.addcmul(w, &Tensor::from(wd).to_kind(g.kind()).to_device(g.device()))
        } else {
            g.shallow_clone()
        };
        let mut m = self.m[i].take().unwrap_or_else(|| g.zeros_like());
        let mut v = self.v[i].take().unwrap_or_else(|| g.zeros_like());
        let _ = m.lerp_(&g, 1.0 - self.beta1);
        let _ = v.g_mul_scalar_(self.beta2);
        v += &(&g * &g * (1.0 - self.beta2));
        let t = t as i32;
        let (bc1, bc2) = (1.0 - self.beta1.powi(t), 1.0 - self.beta2.powi(t));
        let denom = v.sqrt() / bc2.sqrt() + self.eps;
        let u = &m / denom / bc1;
        self.m[i] = Some(m);
        self.v[i] = Some(v);
        u
    }

    fn update(&mut self, i: usize, w: &mut Tensor, g: &Tensor, lr: f64, wd: f64, t: usize) {
        // torch.optim's step, in place: the moments, then w += -(lr/bc1) m / (sqrt(v)/sqrt(bc2) + eps)
        let l2;
        let g = if wd > 0.0 && !self.decoupled {
            l2 = g.addcmul(w, &Tensor::from(wd).to_kind(g.kind()).to_device(g.device()));
            &l2
        } else {
            g
        };
        if wd > 0.0 && self.decoupled {
            let _ = w.g_mul_scalar_(1.0 - lr * wd);
        }
        let m = self.m[i].get_or_insert_with(|| g.zeros_like());
        let _ = m.lerp_(g, 1.0 - self.beta1);
        let v = self.v[i].get_or_insert_with(|| g.zeros_like());
        let _ = v.g_mul_scalar_(self.beta2);
        let _ = v.addcmul_(g, &(g * (1.0 - self.beta2)));
        let t = t as i32;
        let (bc1, bc2) = (1.0 - self.beta1.powi(t), 1.0 - self.beta2.powi(t));
        // the denominator carries the step's factor -bc1/lr, so the update is one addcdiv_
        let mut denom = v.sqrt();
        let _ = denom.g_mul_scalar_(1.0 / bc2.sqrt());
        let _ = denom.g_add_scalar_(self.eps);
        let _ = denom.g_mul_scalar_(-bc1 / lr);
        let _ = w.addcdiv_(m, &denom);
    }

    fn state(&self) -> NamedTensors {
        let mut out = vec![];
        for (i, (m, v)) in self.m.iter().zip(&self.v).enumerate() {
            if let (Some(m), Some(v)) = (m, v) {
                out.push((format!("optim.adam.exp_avg.{i}"), m.to_device(Device::Cpu)));
                out.push((format!("optim.adam.exp_avg_sq.{i}"), v.to_device(Device::Cpu)));
            }
        }
        out
    }

    fn load(&mut self, name: &str, t: &Tensor, device: Device) -> bool {
        let slot = |p: &str| name.strip_prefix(p).and_then(|i| i.parse::<usize>().ok());
        if let Some(i) = slot("optim.adam.exp_avg.").filter(|&i| i < self.m.len()) {
            self.m[i] = Some(t.to_device(device));
            true
        } else if let Some(i) = slot("optim.adam.exp_avg_sq.").filter(|&i| i < self.v.len()) {
            self.v[i] = Some(t.to_device(device));
            true
        } else {
            false
        }
    }
}
