//! SGD as `torch.optim.SGD` (dampening 0): `d = g + wd*w` (L2 weight decay); with momentum m,
//! `buf = d` at the first step, then `buf = m*buf + d`; `d = buf`, or `d + m*buf` (Nesterov);
//! the step is `w -= lr*d`.

use super::Rule;
use crate::model::NamedTensors;
use tch::{Device, Tensor};

/// SGD with momentum buffers, one per trained tensor (created on first use).
#[derive(Debug)]
pub struct Sgd {
    momentum: f64,
    nesterov: bool,
    bufs: Vec<Option<Tensor>>,
}

impl Sgd {
    pub fn new(momentum: f64, nesterov: bool, tensors: usize) -> Sgd {
        Sgd { momentum, nesterov, bufs: (0..tensors).map(|_| None).collect() }
    }
}

/// `t * c` for a 0-dim factor, in place: `w += c * t`.
pub(crate) fn axpy(w: &mut Tensor, t: &Tensor, c: f64) {
    let c = Tensor::from(c).to_kind(t.kind()).to_device(t.device());
    let _ = w.addcmul_(t, &c);
}

impl Rule for Sgd {
    fn decoupled(&self) -> bool {
        false
    }

    fn elr_power(&self) -> i32 {
        2
    }

    fn eta_r(&self, lr: f64, wd: f64) -> Option<f64> {
        Some((2.0 * lr * wd / (1.0 + self.momentum)).sqrt())
    }

    fn direction(&mut self, i: usize, w: &Tensor, g: &Tensor, wd: f64, _t: usize) -> Tensor {
        let d = if wd > 0.0 {
            g.addcmul(w, &Tensor::from(wd).to_kind(g.kind()).to_device(g.device()))
        } else {
            g.shallow_clone()
        };
        if self.momentum == 0.0 {
            return d;
        }
        let buf = match self.bufs[i].take() {
            None => d.copy(),
            Some(mut b) => {
                let _ = b.g_mul_scalar_(self.momentum);
                b += &d;
                b
            }
        };
        self.bufs[i] = Some(buf.shallow_clone());
        if self.nesterov {
            let mut n = d.copy();
            axpy(&mut n, &buf, self.momentum);
            n
        } else {
            buf
        }
    }

    fn update(&mut self, i: usize, w: &mut Tensor, g: &Tensor, lr: f64, wd: f64, t: usize) {
        if self.momentum == 0.0 {
            // w <- (1 - lr*wd) w - lr*g, in place: the same step without temporaries
            if wd > 0.0 {
                let _ = w.g_mul_scalar_(1.0 - lr * wd);
            }
            axpy(w, g, -lr);
        } else {
            let d = self.direction(i, w, g, wd, t);
            axpy(w, &d, -lr);
        }
    }

    fn state(&self) -> NamedTensors {
        // "optim.momentum.{i}": the name silab 0.1 used
        let mut out = vec![];
        for (i, b) in self.bufs.iter().enumerate() {
            if let Some(b) = b {
                out.push((format!("optim.momentum.{i}"), b.to_device(Device::Cpu)));
            }
        }
        out
    }

    fn load(&mut self, name: &str, t: &Tensor, device: Device) -> bool {
        match name.strip_prefix("optim.momentum.").and_then(|i| i.parse::<usize>().ok()) {
            Some(i) if i < self.bufs.len() => {
                self.bufs[i] = Some(t.to_device(device));
                true
            }
            _ => false,
        }
    }
}
