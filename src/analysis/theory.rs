//! The theory of spec §5 (plain SGD with weight decay) against a run's measurements.

use super::Series;
use crate::stats::{mean, median};
use serde::Serialize;

/// Theory of spec §5 next to the measurement, for a full-space run with weight decay.
#[derive(Clone, Debug, Serialize)]
pub struct Theory {
    /// Mean g_eff over the second half of the run (what the predictions use).
    pub g_eff: f64,
    /// ELR* = sqrt(2 lr wd) / g_eff, and the mean ELR measured over the second half.
    pub elr_star_predicted: f64,
    pub elr_measured: f64,
    /// rho*^2 = g_eff sqrt(lr / (2 wd)), and the mean rho^2 over the second half.
    pub rho2_star_predicted: f64,
    pub rho2_measured: f64,
    /// Per-step ELR growth (1 - lr wd)^-2 in the convergence phase, and the median measured over
    /// epochs where the loss falls and rho does not jump.
    pub elr_growth_predicted: f64,
    pub elr_growth_measured: f64,
    /// Norm recursion rho'^2 = (1 - lr wd)^2 rho^2 + lr^2 g_eff^2 / rho^2 iterated over an
    /// epoch's steps from the measured rho, against the next epoch's rho: median relative error.
    pub norm_recursion_median_rel_err: f64,
}

/// Compare a run with the theory (needs `wd > 0` and the steps per epoch).
pub fn theory(s: &Series) -> Option<Theory> {
    if s.wd <= 0.0 || s.steps_per_epoch == 0 || s.rho.len() < 4 {
        return None;
    }
    let (lr, wd, n) = (s.lr, s.wd, s.rho.len());
    let half = n / 2;
    let g = mean(&s.eff_grad_norm[half..]);
    let q = (1.0 - lr * wd).powi(2);
    let steps = s.steps_per_epoch as i32;
    let mut growth = vec![];
    let mut rec = vec![];
    for t in 1..n - 1 {
        let (e0, e1) = (s.elr[t], s.elr[t + 1]);
        if s.train_loss[t + 1] < s.train_loss[t] && s.rho[t + 1] < s.rho[t] {
            growth.push((e1 / e0).powf(1.0 / steps as f64));
        }
        // rho recursion over the steps of epoch t+1, with that epoch's mean g_eff
        let ge = s.eff_grad_norm[t + 1];
        if ge.is_finite() {
            let mut r2 = s.rho[t].powi(2);
            for _ in 0..steps {
                r2 = q * r2 + lr * lr * ge * ge / r2;
            }
            rec.push((r2.sqrt() - s.rho[t + 1]).abs() / s.rho[t + 1]);
        }
    }
    Some(Theory {
        g_eff: g,
        elr_star_predicted: (2.0 * lr * wd).sqrt() / g,
        elr_measured: mean(&s.elr[half..]),
        rho2_star_predicted: g * (lr / (2.0 * wd)).sqrt(),
        rho2_measured: mean(&s.rho[half..].iter().map(|r| r * r).collect::<Vec<_>>()),
        elr_growth_predicted: 1.0 / q,
        elr_growth_measured: median(&growth),
        norm_recursion_median_rel_err: median(&rec),
    })
}
