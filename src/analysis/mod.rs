//! Analysis of finished runs (never trains): S-jumps and periods of full-space runs ([`jumps`]),
//! regimes of fixed-ELR runs and the boundaries of an ELR sweep ([`regimes`]), the theory of spec
//! §5 against the measurements ([`theory`]) and the rotational equilibrium ([`equilibrium`]).
//! Works on epoch rows read from run directories ([`series`]); `silab analyze` prints its tables
//! ([`table`]).

use crate::config::{OptimMode, OptimName, RunConfig};
use crate::run::Summary;
use crate::stats::median;
use crate::store::{self, RunDir, SweepDir};
use crate::sweep::Manifest;
use anyhow::Result;
use serde::Serialize;
use std::path::Path;

pub mod arms;
pub mod equilibrium;
pub mod jumps;
pub mod law;
pub mod replay;
pub mod table;
pub mod theory;
// the regime classifiers and the epoch-row series sit below the trainer (which stops a run once
// its regime is certain); they are part of the analysis API as well
pub use crate::regime::{classify as regimes, early, series};

pub use crate::regime::classify::{Boundaries, Regime, RegimeParams, RegimeReport, boundaries, regime, regime_per_elr};
pub use crate::regime::early::{Decision, EarlyRule, decide, first_decision};
pub use crate::regime::series::{NonFinite, Series};
pub use equilibrium::{EQUILIBRIUM_TOL, Equilibrium, JumpDeviation, equilibrium};
pub use jumps::{JumpParams, Period, PeriodScaling, SJump, period, period_scaling, s_jumps};
pub use table::{to_html, to_text};
pub use theory::{Theory, theory};

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
    /// The early rule's decision when the run stopped once its regime was certain
    /// (`train.stop_when = "regime"`): then `regime` is the decided regime.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
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
    let summary = Summary::read(&RunDir::new(dir)).ok();
    let diverged_at_step = summary.as_ref().and_then(|s| s.diverged_at_step);
    let decision = summary.and_then(|s| s.decision);
    let mut regime = regime(&s, rp);
    if diverged_at_step.is_some() {
        regime.regime = Regime::Divergence;
    }
    // a run stopped early has a short tail: the decision that stopped it is its regime
    if let Some(d) = &decision {
        regime.regime = d.regime;
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
        decision,
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

impl RunAnalysis {
    /// The regime as tables print it: `convergence`, `divergence (non-finite rho at epoch 1)`,
    /// `chaotic (decided at epoch 40: ...)`.
    pub fn regime_label(&self) -> String {
        match &self.decision {
            Some(d) => d.label(),
            None => self.regime.label(),
        }
    }
}

/// Analysis of a sweep: every point, the regime boundaries along ELR (sphere runs), the period
/// scaling (full-space runs).
#[derive(Clone, Debug, Serialize)]
pub struct SweepAnalysis {
    pub runs: Vec<RunAnalysis>,
    pub boundaries: Option<Boundaries>,
    pub period_scaling: Option<PeriodScaling>,
}

/// Analyse a run directory or a sweep directory (with `manifest.json`).
pub fn analyze(dir: &Path, jp: &JumpParams, rp: &RegimeParams) -> Result<SweepAnalysis> {
    jp.validate()?;
    let sd = SweepDir::new(dir);
    let runs: Vec<RunAnalysis> = if sd.exists() {
        let m = Manifest::read(&sd)?;
        m.points
            .iter()
            .filter(|p| has_epoch_rows(&p.run_dir(&sd)))
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

/// Whether a sweep point has logged an epoch yet: a point not started, or started but with
/// only a header (or step rows) so far, is left out like a pending one. A file that cannot be
/// read counts as started, so that its error reaches the user.
fn has_epoch_rows(rd: &RunDir) -> bool {
    rd.metrics().exists() && store::Table::read(&rd.metrics()).map_or(true, |t| t.epoch_rows().next().is_some())
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
