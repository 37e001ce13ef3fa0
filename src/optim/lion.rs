//! Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms", Algorithm 2):
//! `c = b1*m + (1 - b1)*g`, `u = sign(c)`, decoupled decay `w <- (1 - lr*wd) w`, step
//! `w -= lr*u`, then `m = b2*m + (1 - b2)*g`.

use super::Rule;
use crate::model::NamedTensors;
use tch::{Device, Tensor};

/// Lion's momentum, one per trained tensor (created on first use).
#[derive(Debug)]
pub struct Lion {
    beta1: f64,
    beta2: f64,
    m: Vec<Option<Tensor>>,
}

impl Lion {
    pub fn new(beta1: f64, beta2: f64, tensors: usize) -> Lion {
        Lion { beta1, beta2, m: (0..tensors).map(|_| None).collect() }
    }
}

impl Rule for Lion {
    fn decoupled(&self) -> bool {
        true
    }

    fn elr_power(&self) -> i32 {
        1
    }

    fn eta_r(&self, lr: f64, wd: f64) -> Option<f64> {
        let (b1, b2) = (self.beta1, self.beta2);
        let spread = ((1.0 - b1).powi(2) + b1 * b1 * (1.0 - b2) / (1.0 + b2)).sqrt();
        Some((std::f64::consts::PI / 2.0).sqrt() * (2.0 * lr * wd).sqrt() * spread)
    }

    fn direction(&mut self, i: usize, _w: &Tensor, g: &Tensor, _wd: f64, _t: usize) -> Tensor {
        let mut m = self.m[i].take().unwrap_or_else(|| g.zeros_like());
        let c = &m * self.beta1 + g * (1.0 - self.beta1);
        let _ = m.lerp_(g, 1.0 - self.beta2);
        self.m[i] = Some(m);
        c.sign()
    }

    fn update(&mut self, i: usize, w: &mut Tensor, g: &Tensor, lr: f64, wd: f64, _t: usize) {
        let m = self.m[i].get_or_insert_with(|| g.zeros_like());
        let mut c = m.lerp(g, 1.0 - self.beta1);
        let _ = c.sign_();
        let _ = m.lerp_(g, 1.0 - self.beta2);
        if wd > 0.0 {
            let _ = w.g_mul_scalar_(1.0 - lr * wd);
        }
        super::sgd::axpy(w, &c, -lr);
    }

    fn state(&self) -> NamedTensors {
        let mut out = vec![];
        for (i, m) in self.m.iter().enumerate() {
            if let Some(m) = m {
                out.push((format!("optim.lion.exp_avg.{i}"), m.to_device(Device::Cpu)));
            }
        }
        out
    }

    fn load(&mut self, name: &str, t: &Tensor, device: Device) -> bool {
        match name.strip_prefix("optim.lion.exp_avg.").and_then(|i| i.parse::<usize>().ok()) {
            Some(i) if i < self.m.len() => {
                self.m[i] = Some(t.to_device(device));
                true
            }
            _ => false,
        }
    }
}
