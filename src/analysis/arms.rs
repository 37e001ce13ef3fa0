//! The arms of a multi-arm experiment (one sweep per network and optimizer, the experiments
//! beyond the thesis): what each arm's runs show, as data for its checks, figures and the
//! cross-architecture summary: S-jumps and the period's law against lr*wd, regimes and their
//! boundaries, the angular update against its predicted equilibrium and the time to reach it.

use super::{Boundaries, EQUILIBRIUM_TOL, Regime, RunAnalysis, Series, SweepAnalysis, equilibrium};
use crate::config::{OptimMode, OptimName, RunConfig};
use crate::schema::col;
use crate::stats::median;
use crate::store::{self, RowKind, RunDir};
use anyhow::Result;
use serde::Serialize;

pub use super::law::Law;
use std::path::Path;

/// A network and optimizer, as the cross-architecture summary names them.
#[derive(Serialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Net {
    /// `convnet`, `mlp`, `vit`.
    pub arch: String,
    /// The normalization, resolved (`batch`, `layer`, ...).
    pub norm: String,
    /// `sgd`, `sgdm` (SGD with momentum), `adam`, `adamw`, `lion`.
    pub optimizer: String,
}

impl Net {
    pub fn of(cfg: &RunConfig) -> Net {
        let o = cfg.optim.name;
        let optimizer = if o == OptimName::Sgd && cfg.optim.momentum > 0.0 { "sgdm".into() } else { o.name().into() };
        Net { arch: cfg.model.arch.name().into(), norm: cfg.model.norm().name().into(), optimizer }
    }
}

/// Epochs after an S-jump's own in which its overshoot of eta_r is looked for.
pub const AFTER_JUMP: f64 = 2.0;

/// An S-jump starts from a converged state when the train loss before it is at most this
/// fraction of the initial train loss.
pub const CONVERGED: f64 = 0.01;

/// One run of an arm in `summary.json`.
#[derive(Serialize, Clone, Debug)]
pub struct ArmRun {
    pub dir: String,
    pub lr: f64,
    pub wd: f64,
    /// Sphere mode: the configured ELR.
    pub elr: f64,
    pub regime: Regime,
    /// Epochs of the S-jumps the detector found.
    pub s_jumps: Vec<f64>,
    /// Epochs of the S-jumps from a converged state: the train loss before the spike at most
    /// [`CONVERGED`] times the initial one (P1's converge-then-destabilise cycle; spikes of a
    /// run in chaotic equilibrium are not counted).
    pub converged_jumps: Vec<f64>,
    /// Median spacing of the converged S-jumps, in steps (None under two).
    pub period_steps: Option<f64>,
    /// Predicted equilibrium angular update per step (last epoch row), full space with wd.
    pub eta_r: Option<f64>,
    /// Median measured/predicted angular update after equilibrium (every row from
    /// `steps_to_equilibrium` on; the second half of the rows when it never settles).
    pub angle_ratio: Option<f64>,
    /// Time to equilibrium: the step from which the angular update over eta_r (step rows, rolling
    /// median of [`SMOOTH_ROWS`]) stays within 10% of 1 to the end of the run (None if it never
    /// settles).
    pub steps_to_equilibrium: Option<f64>,
    /// `(epoch, ratio)` of each converged S-jump: the largest measured/predicted angular update
    /// over the jump's epoch and the [`AFTER_JUMP`] epochs after it.
    pub at_jumps: Vec<(f64, f64)>,
    /// Median measured/predicted ratio over the 5 epochs before each converged S-jump.
    pub before_jumps: Vec<f64>,
    pub final_test_acc: f64,
    pub final_train_loss: f64,
}

/// One arm in `summary.json`.
#[derive(Serialize, Clone, Debug)]
pub struct ArmSummary {
    pub arm: String,
    pub label: String,
    pub net: Net,
    pub mode: OptimMode,
    /// Meant to show S-jumps (P1's periodic regime) rather than an equilibrium.
    pub jumps: bool,
    /// Its folder, relative to the experiment's.
    pub dir: String,
    pub runs: Vec<ArmRun>,
    /// Full space: the S-jump period against lr*wd.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period_law: Option<Law>,
    /// Sphere: the regime boundaries along ELR.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub boundaries: Option<Boundaries>,
    /// Full space: the steps to rotational equilibrium against lr*wd.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub equilibrium_law: Option<Law>,
    /// Median over the runs of the measured/predicted angular update.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub angle_ratio: Option<f64>,
}

/// Rows of the rolling median that smooths the angular update's step rows before the time to
/// equilibrium is read from them (5 rows: 50 steps at `log_every = 10`).
pub const SMOOTH_ROWS: usize = 5;

/// Centred rolling median over `w` values (fewer at the ends; NaN values skipped).
pub fn rolling_median(v: &[f64], w: usize) -> Vec<f64> {
    let h = w / 2;
    (0..v.len())
        .map(|i| {
            let win: Vec<f64> =
                v[i.saturating_sub(h)..(i + h + 1).min(v.len())].iter().copied().filter(|x| x.is_finite()).collect();
            if win.is_empty() { f64::NAN } else { median(&win) }
        })
        .collect()
}

/// The mean angular update of the whole SI group and its prediction at every step row (every
/// epoch row when the run logged no step rows), by step: for the time to equilibrium at a finer
/// grain than epochs.
pub fn angle_by_step(run: &Path) -> Result<(Vec<f64>, Vec<f64>, Vec<f64>)> {
    let t = store::Table::read(&RunDir::new(run).metrics())?;
    let (Some(_), Some(s), Some(a), Some(q)) =
        (t.metric(col::ROW), t.metric(col::STEP), t.metric(col::ANGLE_MEAN), t.metric(col::ANGLE_EQ))
    else {
        return Ok((vec![], vec![], vec![]));
    };
    // step rows when there are any (an epoch row's angle is the mean over its whole epoch)
    let kind = if t.step_rows().next().is_some() { RowKind::Step } else { RowKind::Epoch };
    let rows: Vec<&store::TypedRow> = t.rows_of(kind).filter(|r| r.num(a).is_finite()).collect();
    Ok((
        rows.iter().map(|r| r.num(s)).collect(),
        rows.iter().map(|r| r.num(a)).collect(),
        rows.iter().map(|r| r.num(q)).collect(),
    ))
}

/// The summary of an arm (`key`, `label`; its runs' configs share `cfg`'s network and
/// optimizer) from its sweep's analysis `a` and the runs' series (same order); `dir` is the
/// arm's folder as the summary names it.
pub fn arm_summary(
    key: &str,
    label: &str,
    jumps: bool,
    cfg: &RunConfig,
    dir: &str,
    a: &SweepAnalysis,
    series: &[Series],
) -> Result<ArmSummary> {
    if a.runs.len() != series.len() {
        anyhow::bail!("arm {key}: {} analysed runs but {} series", a.runs.len(), series.len());
    }
    let runs = a.runs.iter().zip(series).map(|(r, s)| arm_run(r, s)).collect::<Result<Vec<_>>>()?;
    let full = cfg.optim.mode == OptimMode::Full;
    let ratios: Vec<f64> = runs.iter().filter_map(|r| r.angle_ratio).collect();
    Ok(ArmSummary {
        arm: key.to_string(),
        label: label.to_string(),
        net: Net::of(cfg),
        mode: cfg.optim.mode,
        jumps,
        dir: dir.to_string(),
        period_law: full.then(|| Law::fit(runs.iter().filter_map(|r| Some((r.lr * r.wd, r.period_steps?))).collect())),
        boundaries: if full { None } else { a.boundaries.clone() },
        equilibrium_law: full
            .then(|| Law::fit(runs.iter().filter_map(|r| Some((r.lr * r.wd, r.steps_to_equilibrium?))).collect())),
        angle_ratio: (!ratios.is_empty()).then(|| median(&ratios)),
        runs,
    })
}

/// One run of an arm: its S-jumps from a converged state, the time to rotational equilibrium
/// (step rows) and the angular update around the jumps.
fn arm_run(r: &RunAnalysis, s: &Series) -> Result<ArmRun> {
    let all = r.equilibrium.iter().find(|e| e.name == "all");
    let initial = s.train_loss.first().copied().unwrap_or(f64::NAN);
    let converged: Vec<f64> =
        r.s_jumps.iter().filter(|j| j.loss_before <= CONVERGED * initial).map(|j| j.epoch).collect();
    let (steps, ang, eq) = angle_by_step(Path::new(&r.dir))?;
    let ratio: Vec<f64> = ang.iter().zip(&eq).map(|(a, q)| a / q).collect();
    let ones = vec![1.0; ratio.len()];
    let steps_to_eq = equilibrium("all", &steps, &rolling_median(&ratio, SMOOTH_ROWS), &ones, &[], EQUILIBRIUM_TOL, 0)
        .and_then(|e| e.settled);
    // measured / predicted angle of the epoch rows in [lo, hi]
    let ratios_in = |lo: f64, hi: f64| -> Vec<f64> {
        (0..s.epoch.len())
            .filter(|&i| s.epoch[i] >= lo && s.epoch[i] <= hi)
            .map(|i| {
                s.angles.first().map(|x| x.1[i]).unwrap_or(f64::NAN) / s.angle_eq.get(i).copied().unwrap_or(f64::NAN)
            })
            .filter(|x| x.is_finite())
            .collect()
    };
    // the converged phase: the 5 epochs before each converged jump
    let before_jumps =
        converged.iter().map(|j| ratios_in(j - 5.0, j - 1.0)).filter(|v| !v.is_empty()).map(|v| median(&v)).collect();
    // the overshoot: the largest ratio over the jump's epoch and the ones after it
    let at_jumps = converged
        .iter()
        .filter_map(|j| {
            let v = ratios_in(*j, j + AFTER_JUMP);
            v.into_iter().reduce(f64::max).map(|m| (*j, m))
        })
        .collect();
    Ok(ArmRun {
        dir: r.dir.clone(),
        lr: r.lr,
        wd: r.wd,
        elr: r.elr,
        regime: r.regime.regime,
        s_jumps: r.s_jumps.iter().map(|j| j.epoch).collect(),
        period_steps: (converged.len() >= 2)
            .then(|| median(&converged.windows(2).map(|w| w[1] - w[0]).collect::<Vec<_>>()) * s.steps_per_epoch as f64),
        converged_jumps: converged,
        eta_r: all.map(|e| e.eta_r),
        angle_ratio: {
            // after equilibrium (the second half of the run when it never settles)
            let from = match steps_to_eq {
                Some(t) => steps.iter().position(|s| *s >= t).unwrap_or(0),
                None => ratio.len() / 2,
            };
            let after: Vec<f64> = ratio[from..].iter().copied().filter(|r| r.is_finite()).collect();
            (!after.is_empty()).then(|| median(&after))
        },
        steps_to_equilibrium: steps_to_eq,
        at_jumps,
        before_jumps,
        final_test_acc: r.final_test_acc,
        final_train_loss: r.final_train_loss,
    })
}
