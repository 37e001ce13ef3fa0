//! The early rule replayed on runs that trained to their last epoch (`silab analyze --early`):
//! where would each have stopped, with which regime, and does that agree with the end-of-run
//! classification? What `train.stop_when = "regime"` saves, measured on runs that did not use it.

use super::{RunAnalysis, SweepAnalysis};
use crate::regime::{EarlyRule, Regime, RegimeParams, Series, first_decision};
use anyhow::Result;
use serde::Serialize;
use std::path::Path;

/// One run replayed.
#[derive(Clone, Debug, Serialize)]
pub struct ReplayRow {
    pub dir: String,
    pub elr: f64,
    pub seed: u64,
    /// The end-of-run classification (the tail of the whole run).
    pub full: Regime,
    /// The early rule's regime and epoch, if it decides before the run's end.
    pub early: Option<Regime>,
    pub decided_at_epoch: Option<usize>,
    pub statistic: Option<String>,
    pub epochs: usize,
    /// Epochs a run stopped by the rule would have trained (the whole run when undecided).
    pub epochs_needed: usize,
    /// The early regime (or, undecided, the end-of-run one) equals the end-of-run one.
    pub agrees: bool,
}

/// All runs replayed, and the totals.
#[derive(Clone, Debug, Serialize)]
pub struct Replay {
    /// The rule as applied to the first run (the long window follows each run's length).
    pub rule: EarlyRule,
    pub rows: Vec<ReplayRow>,
    pub agree: usize,
    pub decided_early: usize,
    pub epochs_full: usize,
    pub epochs_needed: usize,
}

/// Replay `rule` on every run of `a` (the analysis of a run or a sweep) that trained on the
/// sphere to its last epoch.
pub fn replay(a: &SweepAnalysis, rule: &EarlyRule) -> Result<Replay> {
    let mut rows = vec![];
    let mut shown = rule.clone();
    for r in &a.runs {
        if r.mode != crate::config::OptimMode::Sphere || r.decision.is_some() || !r.regime.regime.classified() {
            continue;
        }
        let s = Series::from_run(Path::new(&r.dir))?;
        // the chaotic window follows the run's length, as in the run itself
        let rule = EarlyRule::new(rule.window, r.epochs, &RegimeParams::default());
        if rows.is_empty() {
            shown = rule.clone();
        }
        rows.push(row(r, &s, &rule));
    }
    Ok(Replay {
        rule: shown,
        agree: rows.iter().filter(|r| r.agrees).count(),
        decided_early: rows.iter().filter(|r| r.early.is_some()).count(),
        epochs_full: rows.iter().map(|r| r.epochs).sum(),
        epochs_needed: rows.iter().map(|r| r.epochs_needed).sum(),
        rows,
    })
}

fn row(r: &RunAnalysis, s: &Series, rule: &EarlyRule) -> ReplayRow {
    let d = first_decision(s, rule);
    let epochs = r.epochs;
    ReplayRow {
        dir: r.dir.clone(),
        elr: r.elr,
        seed: r.seed,
        full: r.regime.regime,
        early: d.as_ref().map(|d| d.regime),
        decided_at_epoch: d.as_ref().map(|d| d.decided_at_epoch),
        statistic: d.as_ref().map(|d| d.statistic.clone()),
        epochs,
        epochs_needed: d.as_ref().map_or(epochs, |d| d.decided_at_epoch.min(epochs)),
        agrees: d.as_ref().is_none_or(|d| d.regime == r.regime.regime),
    }
}

/// The default rule (window `window` epochs, the end-of-run classifier's thresholds; each
/// run's chaotic window follows its length).
pub fn rule(window: usize) -> EarlyRule {
    EarlyRule::new(window, 0, &RegimeParams::default())
}

/// The replay as a text table, with its totals.
pub fn to_text(r: &Replay) -> String {
    use crate::numfmt::num;
    let mut out =
        format!("early rule: {} (the long window: at least the tail, 30% of each run's epochs)\n\n", r.rule.describe());
    out += "| ELR | seed | end of run | early | decided at | agrees |\n|---|---|---|---|---|---|\n";
    for x in &r.rows {
        out += &format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            num(x.elr),
            x.seed,
            x.full.name(),
            x.early.map_or("(runs to the end)", |e| e.name()),
            x.decided_at_epoch.map_or(format!("{} (end)", x.epochs), |e| e.to_string()),
            if x.agrees { "yes" } else { "NO" }
        );
    }
    out += &format!(
        "\n{} of {} runs agree; {} decided early; {} of {} epochs needed ({:.0}%, {:.0}% saved)\n",
        r.agree,
        r.rows.len(),
        r.decided_early,
        r.epochs_needed,
        r.epochs_full,
        100.0 * r.epochs_needed as f64 / r.epochs_full.max(1) as f64,
        100.0 - 100.0 * r.epochs_needed as f64 / r.epochs_full.max(1) as f64
    );
    out
}
