//! S-jumps of full-space runs (P1), their period, and how the period scales with lr*wd over a
//! sweep.
//!
//! Comparisons are written `!(x >= t)` on purpose: a NaN (a diverged run) must fail them.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use super::{RunAnalysis, Series};
use crate::config::OptimMode;
use crate::stats::{median, std};
use serde::Serialize;

/// Parameters of the S-jump detector.
#[derive(Clone, Debug, Serialize)]
pub struct JumpParams {
    /// The loss must rise to at least this multiple of its minimum over the previous `window` epochs.
    pub spike_factor: f64,
    /// rho must rise by at least this fraction above its value before the spike, within
    /// `after` epochs of the spike.
    pub rho_jump: f64,
    pub window: usize,
    pub after: usize,
    /// A new jump needs at least this many epochs after the previous one, ...
    pub refractory: usize,
    /// ... and the loss must have re-converged since: come back to at most `recover` times the
    /// previous jump's `loss_before` (secondary spikes of one destabilisation are not new jumps).
    pub recover: f64,
    /// The best train accuracy over the `window` epochs before the spike must be at least
    /// this: the jump destabilises a converged state (P1). 0 (the default) does not ask; P1's
    /// reproduction asks 0.99, so that the spikes of the first descent are not counted.
    pub converged_acc: f64,
}

impl Default for JumpParams {
    fn default() -> Self {
        JumpParams {
            spike_factor: 5.0,
            rho_jump: 0.01,
            window: 10,
            after: 2,
            refractory: 5,
            recover: 2.0,
            converged_acc: 0.0,
        }
    }
}

impl JumpParams {
    /// Refuse thresholds that detect nothing or everything: `spike_factor` must be a finite
    /// multiple >= 1 (a rise), `rho_jump` a finite fraction >= 0 (NaN would compare false
    /// everywhere and silently find no jump).
    pub fn validate(&self) -> anyhow::Result<()> {
        if !(self.spike_factor.is_finite() && self.spike_factor >= 1.0) {
            anyhow::bail!(
                "--spike-factor must be a finite number >= 1 (a rise of the loss), got {}",
                self.spike_factor
            );
        }
        if !(self.rho_jump.is_finite() && self.rho_jump >= 0.0) {
            anyhow::bail!("--rho-jump must be a finite fraction >= 0, got {}", self.rho_jump);
        }
        if !(0.0..=1.0).contains(&self.converged_acc) {
            anyhow::bail!("--converged-acc must be an accuracy in [0, 1], got {}", self.converged_acc);
        }
        Ok(())
    }
}

/// One detected S-jump.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SJump {
    /// Epoch of the first row where the loss has spiked.
    pub epoch: f64,
    /// Minimum train loss over the window before the spike.
    pub loss_before: f64,
    /// Maximum train loss over the spike epoch and the `after` epochs that follow.
    pub loss_after: f64,
    pub rho_before: f64,
    pub rho_after: f64,
    /// Best train accuracy over the window before the spike: how converged the state was that
    /// the jump destabilised (P1: the loss had fallen to 1e-3..2e-4, accuracy ~100 %).
    pub acc_before: f64,
    /// ELR at the epoch before the spike (the value that destabilised training).
    pub elr_at_jump: f64,
    pub eff_grad_norm_before: f64,
}

/// S-jumps of a full-space run. Definition: epoch t is an S-jump when
/// (1) `train_loss[t] >= spike_factor * min(train_loss[t-window..t])`,
/// (2) `max(rho[t..=t+after]) >= (1 + rho_jump) * rho[t-1]`, and
/// (3) t is at least `refractory` epochs after the previous S-jump t0, and
/// (4) `min(train_loss[t0+1..t]) <= recover * loss_before(t0)` (the loss re-converged in between),
/// and (5) when `converged_acc > 0`, `max(train_acc[t-window..t]) >= converged_acc`.
pub fn s_jumps(s: &Series, p: &JumpParams) -> Vec<SJump> {
    let n = s.train_loss.len();
    let mut out: Vec<SJump> = vec![];
    for t in 1..n {
        let lo = t.saturating_sub(p.window);
        let min_before = s.train_loss[lo..t].iter().cloned().fold(f64::INFINITY, f64::min);
        if !(s.train_loss[t] >= p.spike_factor * min_before) {
            continue;
        }
        let hi = (t + p.after + 1).min(n);
        let rho_after = s.rho[t..hi].iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        if !(rho_after >= (1.0 + p.rho_jump) * s.rho[t - 1]) {
            continue;
        }
        let acc_before = s.train_acc.get(lo..t).map_or(f64::NAN, |a| a.iter().cloned().fold(f64::NAN, f64::max));
        if p.converged_acc > 0.0 && !(acc_before >= p.converged_acc) {
            continue;
        }
        if let Some(last) = out.last() {
            let t0 = s.epoch.iter().position(|&e| e == last.epoch).unwrap_or(0);
            let since = s.train_loss[t0 + 1..t].iter().cloned().fold(f64::INFINITY, f64::min);
            if s.epoch[t] - last.epoch < p.refractory as f64 || !(since <= p.recover * last.loss_before) {
                continue;
            }
        }
        out.push(SJump {
            epoch: s.epoch[t],
            loss_before: min_before,
            loss_after: s.train_loss[t..hi].iter().cloned().fold(f64::NEG_INFINITY, f64::max),
            acc_before,
            rho_before: s.rho[t - 1],
            rho_after,
            elr_at_jump: s.elr[t - 1],
            eff_grad_norm_before: s.eff_grad_norm[t - 1],
        });
    }
    out
}

/// Period of a jump sequence: median spacing (epochs) and its spread.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Period {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    /// Standard deviation of the spacings.
    pub std: f64,
}

/// Median spacing of the jumps (needs at least two).
pub fn period(jumps: &[SJump]) -> Option<Period> {
    if jumps.len() < 2 {
        return None;
    }
    let d: Vec<f64> = jumps.windows(2).map(|w| w[1].epoch - w[0].epoch).collect();
    Some(Period {
        median: median(&d),
        min: d.iter().cloned().fold(f64::INFINITY, f64::min),
        max: d.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
        std: std(&d),
    })
}

/// How the S-jump period scales with lr*wd across the full-space runs of a sweep.
#[derive(Clone, Debug, Serialize)]
pub struct PeriodScaling {
    /// `(lr*wd, median period in steps)` for each run with a period, by increasing lr*wd.
    pub points: Vec<(f64, f64)>,
    /// Period ratio (smallest lr*wd over largest) measured, and predicted by 1/(lr*wd).
    pub measured_ratio: f64,
    pub predicted_ratio: f64,
    /// Does the period shrink monotonically as lr*wd grows?
    pub shrinking: bool,
    /// The fitted power law `period ~ (lr*wd)^exponent`: the least-squares slope of ln(period)
    /// against ln(lr*wd) over `points` (1/(lr*wd) predicts -1).
    pub exponent: f64,
    /// How far the lr*wd values reach: largest over smallest.
    pub lrwd_span: f64,
}

/// Period scaling from runs (averaging seeds with the same lr*wd).
pub fn period_scaling(runs: &[RunAnalysis]) -> Option<PeriodScaling> {
    let mut by: Vec<(f64, Vec<f64>)> = vec![];
    for r in runs.iter().filter(|r| r.mode == OptimMode::Full) {
        if let Some(p) = r.period_steps {
            let key = r.lr * r.wd;
            match by.iter_mut().find(|(k, _)| (*k - key).abs() <= 1e-12 * key) {
                Some((_, v)) => v.push(p),
                None => by.push((key, vec![p])),
            }
        }
    }
    if by.len() < 2 {
        return None;
    }
    by.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
    let points: Vec<(f64, f64)> = by.iter().map(|(k, v)| (*k, median(v))).collect();
    let (first, last) = (points[0], points[points.len() - 1]);
    Some(PeriodScaling {
        exponent: super::law::Law::fit(points.clone()).exponent.unwrap_or(f64::NAN),
        lrwd_span: last.0 / first.0,
        measured_ratio: first.1 / last.1,
        predicted_ratio: last.0 / first.0,
        shrinking: points.windows(2).all(|w| w[1].1 < w[0].1),
        points,
    })
}
