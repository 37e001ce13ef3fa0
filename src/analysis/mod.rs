//! Analysis of finished runs (never trains): S-jumps and periods of full-space runs, regimes of
//! fixed-ELR runs and the boundaries of an ELR sweep, and the theory of spec §5 against the
//! measurements. Works on epoch rows read from run directories.
//!
//! Comparisons are written `!(x >= t)` on purpose: a NaN (a diverged run) must fail them.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use crate::config::{OptimMode, OptimName, RunConfig};
use crate::human::{num, num_sig};
use crate::run::Summary;
use crate::schema::{self, METRICS};
use crate::stats::{mean, median, std, trend};
use crate::store::{self, RunDir, SweepDir};
use crate::sweep::Manifest;
use anyhow::{Context, Result};
use serde::Serialize;
use std::path::Path;
pub mod arms;

/// The epoch rows of one run, as columns, plus what the analysis needs from its config.
#[derive(Clone, Debug, Default)]
pub struct Series {
    pub epoch: Vec<f64>,
    pub train_loss: Vec<f64>,
    pub train_acc: Vec<f64>,
    pub test_acc: Vec<f64>,
    pub rho: Vec<f64>,
    pub elr: Vec<f64>,
    pub eff_grad_norm: Vec<f64>,
    /// Mean angular update per step over each epoch: `("all", angle_mean)` for the whole SI
    /// group, then one entry per `angle_mean:<name>` column (SI tensors and groups).
    pub angles: Vec<(String, Vec<f64>)>,
    /// Predicted equilibrium angle per step (`angle_eq`) at each epoch row.
    pub angle_eq: Vec<f64>,
    pub lr: f64,
    pub wd: f64,
    pub classes: usize,
    pub steps_per_epoch: usize,
}

impl Series {
    /// Read the epoch rows of a run directory.
    pub fn from_run(dir: &Path) -> Result<Series> {
        let rd = RunDir::new(dir);
        let cfg = RunConfig::from_file(&rd.config(), &[])?;
        let records = store::read_records(&rd.metrics(), false)?;
        let (h, rows) = (&records.header, &records.rows);
        // every name read here is a registered metrics.csv column (schema::index panics otherwise)
        let col = |n: &str| {
            let _ = schema::index(METRICS, n);
            h.iter().position(|c| c == n).with_context(|| format!("{}: no column {n}", rd.metrics().display()))
        };
        let (k, e, tl, ta, te, r, el, g) = (
            col("row")?,
            col("epoch")?,
            col("train_loss")?,
            col("train_acc")?,
            col("test_acc")?,
            col("rho")?,
            col("elr")?,
            col("eff_grad_norm")?,
        );
        let rows: Vec<&Vec<String>> = rows.iter().filter(|r| r[k] == "epoch").collect();
        let get = |i: usize| rows.iter().map(|r| r[i].parse().unwrap_or(f64::NAN)).collect::<Vec<f64>>();
        let summary = Summary::read(&rd).ok();
        // angle columns are absent from runs made before they existed (or with metrics.angles off)
        let mut angles = vec![];
        let mut angle_eq = vec![];
        for (i, c) in h.iter().enumerate() {
            if c == "angle_mean" {
                angles.insert(0, ("all".to_string(), get(i)));
            } else if let Some(name) = c.strip_prefix(schema::ANGLE_MEAN_PREFIX) {
                // an SI group of one tensor repeats that tensor's column: listed once
                let a = get(i);
                let same =
                    |b: &Vec<f64>| a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits());
                if !angles.iter().any(|(_, b)| same(b)) {
                    angles.push((name.to_string(), a));
                }
            } else if c == "angle_eq" {
                angle_eq = get(i);
            }
        }
        Ok(Series {
            epoch: get(e),
            train_loss: get(tl),
            train_acc: get(ta),
            test_acc: get(te),
            rho: get(r),
            elr: get(el),
            eff_grad_norm: get(g),
            angles,
            angle_eq,
            lr: cfg.optim.lr,
            wd: if cfg.optim.mode == OptimMode::Full { cfg.optim.wd } else { 0.0 },
            classes: cfg.classes(),
            steps_per_epoch: summary.map(|s| s.steps_per_epoch).unwrap_or(0),
        })
    }
}

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
}

impl Default for JumpParams {
    fn default() -> Self {
        JumpParams { spike_factor: 5.0, rho_jump: 0.01, window: 10, after: 2, refractory: 5, recover: 2.0 }
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
    /// ELR at the epoch before the spike (the value that destabilised training).
    pub elr_at_jump: f64,
    pub eff_grad_norm_before: f64,
}

/// S-jumps of a full-space run. Definition: epoch t is an S-jump when
/// (1) `train_loss[t] >= spike_factor * min(train_loss[t-window..t])`,
/// (2) `max(rho[t..=t+after]) >= (1 + rho_jump) * rho[t-1]`, and
/// (3) t is at least `refractory` epochs after the previous S-jump t0, and
/// (4) `min(train_loss[t0+1..t]) <= recover * loss_before(t0)` (the loss re-converged in between).
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

/// Training regime of a fixed-ELR run (P2), or why a run is not classified.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Regime {
    Convergence,
    Chaotic,
    Divergence,
    /// Fewer epochs than [`RegimeParams::min_epochs`]: a tail that short says nothing.
    TooShort,
    /// No train loss was measured (`metrics.train_eval = false`).
    NotMeasured,
}

impl Regime {
    /// How tables print it.
    pub fn name(self) -> &'static str {
        match self {
            Regime::Convergence => "convergence",
            Regime::Chaotic => "chaotic",
            Regime::Divergence => "divergence",
            Regime::TooShort => "too short",
            Regime::NotMeasured => "not measured",
        }
    }
    /// One of the three regimes (not a reason for leaving a run unclassified)?
    pub fn classified(self) -> bool {
        matches!(self, Regime::Convergence | Regime::Chaotic | Regime::Divergence)
    }
}

/// Thresholds of the regime classifier.
#[derive(Clone, Debug, Serialize)]
pub struct RegimeParams {
    /// The tail: this fraction of the epoch rows at the end (at least 4 rows).
    pub tail: f64,
    /// Divergence: median tail train accuracy below chance + `div_margin` * (1 - chance), and ...
    pub div_margin: f64,
    /// ... the median tail train loss still at least this fraction of the initial loss (P2: the
    /// loss stays near its initial value); a loss far below it with chance accuracy (MSE learning
    /// slowly) is not divergence.
    pub div_loss_frac: f64,
    /// Convergence: median tail train accuracy at least this (converged), or ...
    pub conv_acc: f64,
    /// ... the loss still falls significantly: the least-squares slope of ln(train loss) over
    /// the tail's epochs has a t-statistic below `-conv_t` (a steady decrease, not noise).
    pub conv_t: f64,
    /// Runs with fewer epochs are "too short to classify".
    pub min_epochs: usize,
}

impl Default for RegimeParams {
    fn default() -> Self {
        RegimeParams { tail: 0.3, div_margin: 0.15, div_loss_frac: 0.3, conv_acc: 0.99, conv_t: 3.0, min_epochs: 10 }
    }
}

/// What the classifier measured on a run's tail, and its verdict.
#[derive(Clone, Debug, Serialize)]
pub struct RegimeReport {
    pub regime: Regime,
    pub tail_train_loss: f64,
    pub tail_train_acc: f64,
    pub tail_test_acc: f64,
    pub tail_eff_grad_norm: f64,
    /// Least-squares slope of ln(train loss) per epoch over the tail, and its t-statistic.
    pub loss_slope: f64,
    pub loss_slope_t: f64,
}

/// Classify a run from the tail of its train loss and accuracy, relative to chance (1/C) and to
/// the initial loss: divergence when the tail accuracy stays near chance while the loss stays near
/// its initial level (or is not finite); convergence
/// when the net has fitted the training set or its loss keeps falling steadily; chaotic
/// equilibrium otherwise (a stationary loss above zero, accuracy well above chance). Runs of fewer
/// than `min_epochs` epochs are [`Regime::TooShort`]; runs without a measured train loss
/// [`Regime::NotMeasured`].
pub fn regime(s: &Series, p: &RegimeParams) -> RegimeReport {
    let n = s.train_loss.len();
    let k = ((n as f64 * p.tail).round() as usize).clamp(4.min(n), n);
    let start = n - k;
    let tl = &s.train_loss[start..];
    let finite = tl.iter().all(|x| x.is_finite() && *x > 0.0);
    let (slope, t) = if finite {
        trend(&s.epoch[start..], &tl.iter().map(|l| l.ln()).collect::<Vec<_>>())
    } else {
        (f64::NAN, f64::NAN)
    };
    let acc = median(&s.train_acc[start..]);
    let chance = 1.0 / s.classes as f64;
    let near_initial = median(tl) >= p.div_loss_frac * s.train_loss[0];
    let regime = if s.train_loss.iter().all(|x| x.is_nan()) {
        Regime::NotMeasured
    } else if s.epoch.len().saturating_sub(1) < p.min_epochs {
        Regime::TooShort
    } else if !finite || (!(acc >= chance + p.div_margin * (1.0 - chance)) && near_initial) {
        Regime::Divergence
    } else if acc >= p.conv_acc || t <= -p.conv_t {
        Regime::Convergence
    } else {
        Regime::Chaotic
    };
    RegimeReport {
        regime,
        tail_train_loss: median(tl),
        tail_train_acc: acc,
        tail_test_acc: median(&s.test_acc[start..]),
        tail_eff_grad_norm: median(&s.eff_grad_norm[start..]),
        loss_slope: slope,
        loss_slope_t: t,
    }
}

/// Boundaries between regimes along an ELR axis: `[lo, hi]` = the last ELR of the lower regime
/// and the first of the higher one.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Boundaries {
    pub convergence_chaotic: Option<[f64; 2]>,
    pub chaotic_divergence: Option<[f64; 2]>,
    /// Do the regimes appear in increasing-ELR order (convergence, chaotic, divergence)?
    pub ordered: bool,
}

/// Boundaries from `(elr, regime)` pairs (several seeds per ELR allowed: the majority regime of
/// each ELR counts; ties go to the lower regime).
pub fn boundaries(points: &[(f64, Regime)]) -> Boundaries {
    let points: Vec<(f64, Regime)> = points.iter().cloned().filter(|p| p.1.classified()).collect();
    let mut elrs: Vec<f64> = points.iter().map(|p| p.0).collect();
    elrs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    elrs.dedup();
    let per: Vec<(f64, Regime)> = elrs
        .iter()
        .map(|&e| {
            let rs: Vec<Regime> = points.iter().filter(|p| p.0 == e).map(|p| p.1).collect();
            let count = |r: Regime| rs.iter().filter(|&&x| x == r).count();
            let best = [Regime::Convergence, Regime::Chaotic, Regime::Divergence]
                .into_iter()
                .max_by_key(|&r| (count(r), std::cmp::Reverse(r)))
                .unwrap();
            (e, best)
        })
        .collect();
    let ordered = per.windows(2).all(|w| w[0].1 <= w[1].1);
    let boundary = |a: Regime, b: Regime| {
        let last_a = per.iter().filter(|p| p.1 == a).map(|p| p.0).fold(f64::NAN, f64::max);
        let first_b = per.iter().filter(|p| p.1 == b && p.0 > last_a).map(|p| p.0).fold(f64::NAN, f64::min);
        (last_a.is_finite() && first_b.is_finite()).then_some([last_a, first_b])
    };
    Boundaries {
        convergence_chaotic: boundary(Regime::Convergence, Regime::Chaotic),
        chaotic_divergence: boundary(Regime::Chaotic, Regime::Divergence),
        ordered,
    }
}

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

/// How far the angular update is from its predicted equilibrium at one S-jump.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct JumpDeviation {
    pub epoch: f64,
    /// The ratio measured/predicted farthest from 1 over the epochs `[jump - 1, jump + after]`.
    pub ratio: f64,
}

/// Rotational equilibrium (Kosson et al. 2024) of one SI tensor or group: how its mean angular
/// update per step compares with the predicted eta_r (`angle_eq`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Equilibrium {
    /// `all` (the whole SI group, column `angle_mean`) or the tensor / group name.
    pub name: String,
    /// Predicted eta_r at the last epoch row.
    pub eta_r: f64,
    /// First epoch whose mean angular update is within `tol` of eta_r.
    pub first_within: Option<f64>,
    /// Time to equilibrium: the first epoch after which the mean angular update stays within
    /// `tol` of eta_r to the end of the run (None when it leaves the band again, e.g. at an S-jump).
    pub settled: Option<f64>,
    /// Median ratio measured/predicted over the epochs from `first_within` on (the second half of
    /// the run when it never gets within `tol`).
    pub ratio: f64,
    pub at_jumps: Vec<JumpDeviation>,
}

/// Equilibrium of one angle series against `eq` (both per epoch row; NaN rows, such as epoch 0,
/// are skipped). `tol` is the relative band (0.1 = 10%); `after` the epochs after a jump that its
/// deviation is looked for in.
pub fn equilibrium(
    name: &str,
    epoch: &[f64],
    angle: &[f64],
    eq: &[f64],
    jumps: &[SJump],
    tol: f64,
    after: usize,
) -> Option<Equilibrium> {
    let pts: Vec<(f64, f64, f64)> = (0..epoch.len().min(angle.len()).min(eq.len()))
        .filter(|&i| angle[i].is_finite() && eq[i].is_finite() && eq[i] > 0.0)
        .map(|i| (epoch[i], angle[i] / eq[i], eq[i]))
        .collect();
    if pts.is_empty() {
        return None;
    }
    let within = |r: f64| (r - 1.0).abs() <= tol;
    let first = pts.iter().position(|p| within(p.1));
    // the first point of the final run of points inside the band
    let last_out = pts.iter().rposition(|p| !within(p.1));
    let settled = match last_out {
        None => Some(pts[0].0),
        Some(i) if i + 1 < pts.len() => Some(pts[i + 1].0),
        _ => None,
    };
    let from = first.unwrap_or(pts.len() / 2);
    let ratios: Vec<f64> = pts[from..].iter().map(|p| p.1).collect();
    let at_jumps = jumps
        .iter()
        .filter_map(|j| {
            pts.iter()
                .filter(|p| p.0 >= j.epoch - 1.0 && p.0 <= j.epoch + after as f64)
                .map(|p| p.1)
                .max_by(|a, b| (a - 1.0).abs().total_cmp(&(b - 1.0).abs()))
                .map(|ratio| JumpDeviation { epoch: j.epoch, ratio })
        })
        .collect();
    Some(Equilibrium {
        name: name.to_string(),
        eta_r: pts.last().unwrap().2,
        first_within: first.map(|i| pts[i].0),
        settled,
        ratio: median(&ratios),
        at_jumps,
    })
}

/// Relative band of [`equilibrium`] used by `silab analyze` (the 10%).
pub const EQUILIBRIUM_TOL: f64 = 0.1;

/// Everything `silab analyze` reports for one run.
#[derive(Clone, Debug, Serialize)]
pub struct RunAnalysis {
    pub dir: String,
    /// A sweep point's swept `(key, value)` pairs, in axis order (empty for a lone run).
    pub values: Vec<(String, serde_json::Value)>,
    pub seed: u64,
    pub mode: OptimMode,
    pub optim: OptimName,
    pub lr: f64,
    pub wd: f64,
    /// Configured ELR (sphere mode).
    pub elr: f64,
    /// Full space and rotational mode: the ELR measured, median of the `elr` column over the
    /// regime classifier's tail.
    pub elr_measured: Option<f64>,
    pub epochs: usize,
    pub s_jumps: Vec<SJump>,
    /// Median spacing of the S-jumps in epochs (None with fewer than two).
    pub period_epochs: Option<f64>,
    pub period: Option<Period>,
    /// The same in optimizer steps.
    pub period_steps: Option<f64>,
    pub regime: RegimeReport,
    /// The step at which the run stopped as diverged (`train.stop_on_nonfinite`); such a run is
    /// classified as divergence whatever its tail.
    pub diverged_at_step: Option<usize>,
    pub theory: Option<Theory>,
    /// Predicted time to rotational equilibrium, 1/(lr wd) steps, in epochs (full space with wd).
    pub equilibrium_epochs_predicted: Option<f64>,
    /// Rotational equilibrium of the whole SI group and of each SI tensor and group with an
    /// `angle_mean:` column (empty for runs without angle columns or without a prediction).
    pub equilibrium: Vec<Equilibrium>,
    pub final_test_acc: f64,
    pub final_train_loss: f64,
}

/// Analyse one run directory.
pub fn analyze_run(dir: &Path, jp: &JumpParams, rp: &RegimeParams) -> Result<RunAnalysis> {
    let cfg = RunConfig::from_file(&RunDir::new(dir).config(), &[])?;
    let s = Series::from_run(dir)?;
    let full = cfg.optim.mode == OptimMode::Full;
    let jumps = if full { s_jumps(&s, jp) } else { vec![] };
    let per = period(&jumps);
    let diverged_at_step = Summary::read(&RunDir::new(dir)).ok().and_then(|s| s.diverged_at_step);
    let mut regime = regime(&s, rp);
    if diverged_at_step.is_some() {
        regime.regime = Regime::Divergence;
    }
    let n = s.elr.len();
    let tail = ((n as f64 * rp.tail).round() as usize).clamp(1.min(n), n);
    Ok(RunAnalysis {
        dir: dir.display().to_string(),
        values: vec![],
        seed: cfg.seed,
        mode: cfg.optim.mode,
        optim: cfg.optim.name,
        lr: cfg.optim.lr,
        wd: cfg.optim.wd,
        elr: cfg.optim.elr,
        elr_measured: (cfg.optim.mode != OptimMode::Sphere && n > 0).then(|| median(&s.elr[n - tail..])),
        epochs: s.epoch.len().saturating_sub(1),
        period_epochs: per.as_ref().map(|p| p.median),
        period_steps: per.as_ref().map(|p| p.median * s.steps_per_epoch as f64),
        period: per,
        regime,
        diverged_at_step,
        // spec §5 is the theory of plain SGD (no momentum, L2 decay)
        theory: if full && cfg.optim.name == OptimName::Sgd && cfg.optim.momentum == 0.0 { theory(&s) } else { None },
        equilibrium_epochs_predicted: (full && s.wd > 0.0 && s.steps_per_epoch > 0)
            .then(|| 1.0 / (s.lr * s.wd * s.steps_per_epoch as f64)),
        equilibrium: s
            .angles
            .iter()
            .filter_map(|(n, a)| equilibrium(n, &s.epoch, a, &s.angle_eq, &jumps, EQUILIBRIUM_TOL, jp.after))
            .collect(),
        final_test_acc: *s.test_acc.last().unwrap_or(&f64::NAN),
        final_train_loss: *s.train_loss.last().unwrap_or(&f64::NAN),
        s_jumps: jumps,
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
}

/// Analysis of a sweep: every point, the regime boundaries along ELR (sphere runs), the period
/// scaling (full-space runs).
#[derive(Clone, Debug, Serialize)]
pub struct SweepAnalysis {
    pub runs: Vec<RunAnalysis>,
    pub boundaries: Option<Boundaries>,
    pub period_scaling: Option<PeriodScaling>,
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
        measured_ratio: first.1 / last.1,
        predicted_ratio: last.0 / first.0,
        shrinking: points.windows(2).all(|w| w[1].1 < w[0].1),
        points,
    })
}

/// Analyse a run directory or a sweep directory (with `manifest.json`).
pub fn analyze(dir: &Path, jp: &JumpParams, rp: &RegimeParams) -> Result<SweepAnalysis> {
    let sd = SweepDir::new(dir);
    let runs: Vec<RunAnalysis> = if sd.exists() {
        let m = Manifest::read(&sd)?;
        m.points
            .iter()
            .filter(|p| p.run_dir(&sd).metrics().exists())
            .map(|p| {
                let mut r = analyze_run(&p.run_dir(&sd).root, jp, rp)?;
                r.values = p.values.clone();
                Ok(r)
            })
            .collect::<Result<_>>()?
    } else {
        vec![analyze_run(dir, jp, rp)?]
    };
    let sphere: Vec<(f64, Regime)> = runs
        .iter()
        .filter(|r| r.mode == OptimMode::Sphere && r.regime.regime.classified())
        .map(|r| (r.elr, r.regime.regime))
        .collect();
    let elrs: std::collections::BTreeSet<u64> = sphere.iter().map(|p| p.0.to_bits()).collect();
    Ok(SweepAnalysis {
        boundaries: (elrs.len() >= 2).then(|| boundaries(&sphere)),
        period_scaling: period_scaling(&runs),
        runs,
    })
}

/// `silab analyze DIR [--out FILE]`: [`analyze`], with the result also written to `out`
/// (default `DIR/analysis.json`).
pub fn analyze_and_save(dir: &Path, out: Option<&Path>, jp: &JumpParams, rp: &RegimeParams) -> Result<SweepAnalysis> {
    let a = analyze(dir, jp, rp)?;
    // a run directory and a sweep directory name the file alike
    let default = RunDir::new(dir).analysis();
    store::write_json(out.unwrap_or(&default), &a)?;
    Ok(a)
}

/// Left-aligned columns, two spaces apart, sized to their widest cell.
fn table(header: &[String], rows: &[Vec<String>]) -> String {
    let mut w: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let l: Vec<String> = cells.iter().zip(&w).map(|(c, w)| format!("{c:<w$}")).collect();
        l.join("  ").trim_end().to_string() + "\n"
    };
    let mut o = line(header);
    for r in rows {
        o += &line(r);
    }
    o
}

/// A JSON value of a swept key as a table cell (numbers for people, strings bare).
fn cell(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Number(n) => n.as_f64().map(num).unwrap_or_else(|| n.to_string()),
        serde_json::Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

/// The run's short name: its directory's last component.
fn short(dir: &str) -> String {
    Path::new(dir).file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Plain-text tables of an analysis (what `silab analyze` prints): one table per mode with the
/// quantities that matter for it (full space: lr, wd and the ELR measured; sphere: the ELR
/// configured), the swept keys and the seed of each run, then the S-jumps, the theory, the
/// rotational equilibrium and the regime boundaries.
pub fn to_text(a: &SweepAnalysis) -> String {
    let mut o = String::new();
    let mut keys: Vec<String> = vec![];
    for r in &a.runs {
        for (k, _) in &r.values {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
    }
    let swept = |r: &RunAnalysis| -> Vec<String> {
        keys.iter().map(|k| r.values.iter().find(|(x, _)| x == k).map(|(_, v)| cell(v)).unwrap_or("-".into())).collect()
    };
    // a fixed column whose key is swept would repeat the swept one: left out
    let shown = |key: &str| !keys.iter().any(|k| k == key);
    let head = |extra: &[(&str, &str)]| -> Vec<String> {
        let mut h = vec!["run".to_string()];
        h.extend(keys.iter().cloned());
        h.push("seed".into());
        h.extend(extra.iter().filter(|(_, k)| shown(k)).map(|(s, _)| s.to_string()));
        h
    };
    let ratio = |r: &RunAnalysis| r.equilibrium.first().map(|q| format!("{:.3}", q.ratio)).unwrap_or("-".into());
    for mode in [OptimMode::Full, OptimMode::Sphere, OptimMode::Rotational] {
        let runs: Vec<&RunAnalysis> = a.runs.iter().filter(|r| r.mode == mode).collect();
        if runs.is_empty() {
            continue;
        }
        if !o.is_empty() {
            o += "\n";
        }
        let rows: Vec<Vec<String>> = runs
            .iter()
            .map(|r| {
                let mut row = vec![short(&r.dir)];
                row.extend(swept(r));
                row.push(r.seed.to_string());
                let (reg, acc) = (r.regime.regime.name().to_string(), format!("{:.4}", r.final_test_acc));
                let elr_m = r.elr_measured.map(num).unwrap_or("-".into());
                let cells: Vec<(String, &str)> = match mode {
                    OptimMode::Full => vec![
                        (r.optim.name().into(), "optim.name"),
                        (num(r.lr), "optim.lr"),
                        (num(r.wd), "optim.wd"),
                        (elr_m, ""),
                        (reg, ""),
                        (r.s_jumps.len().to_string(), ""),
                        (r.period_epochs.map(|p| format!("{p:.1}")).unwrap_or("-".into()), ""),
                        (ratio(r), ""),
                        (acc, ""),
                    ],
                    OptimMode::Sphere => vec![
                        (r.optim.name().into(), "optim.name"),
                        (num(r.elr), "optim.elr"),
                        (reg, ""),
                        (num(r.regime.tail_train_loss), ""),
                        (format!("{:.4}", r.regime.tail_test_acc), ""),
                        (acc, ""),
                    ],
                    OptimMode::Rotational => vec![
                        (r.optim.name().into(), "optim.name"),
                        (num(r.lr), "optim.lr"),
                        (num(r.wd), "optim.wd"),
                        (elr_m, ""),
                        (reg, ""),
                        (ratio(r), ""),
                        (acc, ""),
                    ],
                };
                row.extend(cells.into_iter().filter(|(_, k)| shown(k)).map(|(c, _)| c));
                row
            })
            .collect();
        let (title, header) = match mode {
            OptimMode::Full => (
                "full space (ELR measured: median over the last 30% of the epochs; angle/eta_r: rotational equilibrium)",
                head(&[
                    ("optim", "optim.name"),
                    ("lr", "optim.lr"),
                    ("wd", "optim.wd"),
                    ("ELR", ""),
                    ("regime", ""),
                    ("S-jumps", ""),
                    ("period (epochs)", ""),
                    ("angle/eta_r", ""),
                    ("final test acc", ""),
                ]),
            ),
            OptimMode::Sphere => (
                "on the sphere (ELR configured; tail: median over the last 30% of the epochs)",
                head(&[
                    ("optim", "optim.name"),
                    ("ELR", "optim.elr"),
                    ("regime", ""),
                    ("tail train loss", ""),
                    ("tail test acc", ""),
                    ("final test acc", ""),
                ]),
            ),
            OptimMode::Rotational => (
                "rotational (each SI unit turns by a fixed angle per step)",
                head(&[
                    ("optim", "optim.name"),
                    ("lr", "optim.lr"),
                    ("wd", "optim.wd"),
                    ("ELR", ""),
                    ("regime", ""),
                    ("angle/eta_r", ""),
                    ("final test acc", ""),
                ]),
            ),
        };
        o += title;
        o += "\n";
        o += &table(&header, &rows);
    }
    for r in a.runs.iter().filter(|r| !r.s_jumps.is_empty()) {
        o += &format!("\nS-jumps of {} (lr {}, wd {}):\n", r.dir, num(r.lr), num(r.wd));
        let rows: Vec<Vec<String>> = r
            .s_jumps
            .iter()
            .map(|j| {
                vec![
                    num(j.epoch),
                    num(j.loss_before),
                    num(j.loss_after),
                    num(j.rho_before),
                    num(j.rho_after),
                    num(j.elr_at_jump),
                ]
            })
            .collect();
        let h: Vec<String> =
            ["epoch", "loss before", "loss after", "rho before", "rho after", "ELR at jump"].map(String::from).into();
        o += &table(&h, &rows).lines().map(|l| format!("  {l}\n")).collect::<String>();
    }
    for r in a.runs.iter().filter(|r| r.theory.is_some()) {
        let t = r.theory.as_ref().unwrap();
        o += &format!(
            "\ntheory vs measured for {} (lr {}, wd {}): ELR* {} vs {} | rho*^2 {} vs {} | ELR growth per step {:.6} vs {:.6} | norm recursion median rel. error {}\n",
            r.dir,
            num(r.lr),
            num(r.wd),
            num(t.elr_star_predicted),
            num(t.elr_measured),
            num(t.rho2_star_predicted),
            num(t.rho2_measured),
            t.elr_growth_predicted,
            t.elr_growth_measured,
            num_sig(t.norm_recursion_median_rel_err, 2)
        );
    }
    for r in a.runs.iter().filter(|r| !r.equilibrium.is_empty()) {
        o += &format!(
            "\nrotational equilibrium of {} (mean angle per step vs eta_r; band {:.0}%{}):\n",
            r.dir,
            EQUILIBRIUM_TOL * 100.0,
            r.equilibrium_epochs_predicted
                .map(|e| format!(", 1/(lr wd) = {} epochs", num_sig(e, 3)))
                .unwrap_or_default(),
        );
        let ep = |e: Option<f64>| e.map(num).unwrap_or("-".into());
        let rows: Vec<Vec<String>> = r
            .equilibrium
            .iter()
            .map(|q| {
                let jumps: Vec<String> =
                    q.at_jumps.iter().map(|j| format!("{}: {:.2}", num(j.epoch), j.ratio)).collect();
                vec![
                    q.name.clone(),
                    num(q.eta_r),
                    ep(q.first_within),
                    ep(q.settled),
                    format!("{:.3}", q.ratio),
                    jumps.join(", "),
                ]
            })
            .collect();
        let h: Vec<String> = ["tensor", "eta_r", "first within", "settled", "ratio", "at S-jumps (epoch: ratio)"]
            .map(String::from)
            .into();
        o += &table(&h, &rows).lines().map(|l| format!("  {l}\n")).collect::<String>();
    }
    if let Some(b) = &a.boundaries {
        let show = |x: &Option<[f64; 2]>| {
            x.map(|[lo, hi]| format!("between ELR {} and {}", num(lo), num(hi))).unwrap_or("not found".into())
        };
        o += &format!(
            "\nregime boundaries: convergence -> chaotic {}; chaotic -> divergence {}; regimes in increasing-ELR order: {}\n",
            show(&b.convergence_chaotic),
            show(&b.chaotic_divergence),
            if b.ordered { "yes" } else { "no" }
        );
    }
    if let Some(p) = &a.period_scaling {
        let pts: Vec<String> = p.points.iter().map(|(k, v)| format!("{} -> {}", num(*k), num(*v))).collect();
        o += &format!(
            "\nperiod against lr*wd (lr*wd -> steps): {}; period ratio {:.2} measured vs {:.2} predicted by 1/(lr*wd); shrinking: {}\n",
            pts.join(", "),
            p.measured_ratio,
            p.predicted_ratio,
            if p.shrinking { "yes" } else { "no" }
        );
    }
    o
}
