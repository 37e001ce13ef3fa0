//! The papers' experiments, one sweep each: `periodic` (P1: S-jumps and their period in full
//! space) and `regimes` / `mse` (P2 / P3: the three regimes on the sphere).

use super::pipeline::{ArmDone, Fig, Study};
use super::{Check, PeriodicRun, RegimeRun, RunRecord};
use crate::analysis::{Boundaries, JumpParams, PeriodScaling, Regime, SweepAnalysis};
use crate::report::{html, papers};
use crate::store::StudyDir;
use anyhow::Result;

/// P1: full space, SGD + weight decay.
pub struct Periodic;

/// P2 / P3: on the sphere at fixed ELR; `paper` names it in captions.
pub struct Regimes {
    pub paper: &'static str,
    /// P3: the convergence runs must actually fit the training set: a median tail train
    /// accuracy of at least this (an MSE run can count as "converging" while its loss still
    /// falls slowly at a low accuracy).
    pub fit_acc: Option<f64>,
}

impl Study for Periodic {
    /// P1's S-jumps destabilise a converged state: spikes of the first descent are not counted.
    fn jump_params(&self) -> JumpParams {
        JumpParams { converged_acc: CONVERGED_ACC, ..JumpParams::default() }
    }
    fn figures(&self, arms: &[ArmDone], dir: &StudyDir) -> Result<Vec<Fig>> {
        papers::periodic(&arms[0].series, &arms[0].analysis.runs, dir)
    }
    fn checks(&self, arms: &[ArmDone]) -> Vec<Check> {
        periodic_checks(&arms[0].analysis)
    }
    fn runs(&self, arms: &[ArmDone]) -> Vec<RunRecord> {
        let run = |r: &crate::analysis::RunAnalysis| PeriodicRun {
            lr: r.lr,
            wd: r.wd,
            s_jumps: r.s_jumps.clone(),
            period_epochs: r.period_epochs,
            period_steps: r.period_steps,
            theory: r.theory.clone(),
            final_test_acc: r.final_test_acc,
            regime: r.regime.regime,
            dir: r.dir.clone(),
        };
        arms[0].analysis.runs.iter().map(|r| RunRecord::Periodic(run(r))).collect()
    }
    fn tables(&self, arms: &[ArmDone]) -> String {
        html::periodic_tables(&arms[0].analysis)
    }
}

impl Study for Regimes {
    fn figures(&self, arms: &[ArmDone], dir: &StudyDir) -> Result<Vec<Fig>> {
        let mut f = papers::regimes(self.paper, &arms[0].series, &arms[0].analysis.runs, dir)?;
        f.extend(arms[0].sharpness_figures.iter().cloned());
        Ok(f)
    }
    fn checks(&self, arms: &[ArmDone]) -> Vec<Check> {
        let a = &arms[0].analysis;
        let mut c = regime_checks(&a.runs.iter().map(|r| r.regime.regime).collect::<Vec<_>>(), a.boundaries.as_ref());
        if let Some(acc) = self.fit_acc {
            c.push(fit_check(a, acc));
        }
        c
    }
    fn runs(&self, arms: &[ArmDone]) -> Vec<RunRecord> {
        let run = |r: &crate::analysis::RunAnalysis| RegimeRun {
            elr: r.elr,
            regime: r.regime.regime,
            tail: r.regime.clone(),
            final_test_acc: r.final_test_acc,
            final_train_loss: r.final_train_loss,
            dir: r.dir.clone(),
        };
        arms[0].analysis.runs.iter().map(|r| RunRecord::Regime(run(r))).collect()
    }
    fn tables(&self, arms: &[ArmDone]) -> String {
        html::regime_tables(&arms[0].analysis)
    }
}

/// The train accuracy a run must have reached in the window before an S-jump for the jump to
/// start from a converged state (P1: the loss falls to 1e-3..2e-4 before each spike).
pub const CONVERGED_ACC: f64 = 0.99;

/// P1's claims: S-jumps from a converged state in every run, and a period that falls with
/// lr*wd like a power law of exponent near -1 over at least a decade of lr*wd.
fn periodic_checks(a: &SweepAnalysis) -> Vec<Check> {
    let jumps: Vec<f64> = a.runs.iter().map(|r| r.s_jumps.len() as f64).collect();
    let worst_acc: Vec<f64> =
        a.runs.iter().map(|r| r.s_jumps.iter().map(|j| j.acc_before).fold(f64::INFINITY, f64::min)).collect();
    let every = !a.runs.is_empty()
        && a.runs.iter().all(|r| r.s_jumps.len() >= 2 && r.s_jumps.iter().all(|j| j.acc_before >= CONVERGED_ACC));
    let mut c = vec![
        Check::new(
            format!("every run has at least 2 S-jumps, each from a converged state (train accuracy >= {CONVERGED_ACC} before it)"),
            every,
        )
        .with("S-jumps per run", &jumps)
        .with("lowest train accuracy before a jump, per run", &worst_acc),
    ];
    match &a.period_scaling {
        Some(p) => c.extend(period_checks(p)),
        None => c.push(Check::new("a period measured for at least two lr*wd values", false)),
    }
    c
}

/// The law of the period: it falls as lr*wd grows over >= 3 values spanning >= x10, with a
/// fitted exponent in [-1.25, -0.5] (1/(lr*wd) predicts -1).
fn period_checks(p: &PeriodScaling) -> Vec<Check> {
    let lrwd: Vec<f64> = p.points.iter().map(|x| x.0).collect();
    let steps: Vec<f64> = p.points.iter().map(|x| x.1).collect();
    vec![
        Check::new(
            format!(
                "the period falls as lr*wd grows, over {} lr*wd values spanning x{:.1} (needs >= 3 values, >= x10)",
                p.points.len(),
                p.lrwd_span
            ),
            p.shrinking && p.points.len() >= 3 && p.lrwd_span >= 10.0 * (1.0 - 1e-9),
        )
        .with("lr*wd", &lrwd)
        .with("period (steps)", &steps),
        Check::new(
            format!("fitted exponent of the period against lr*wd {:.2} in [-1.25, -0.5] (1/(lr*wd): -1)", p.exponent),
            (-1.25..=-0.5).contains(&p.exponent),
        )
        .with("exponent", &[p.exponent])
        .with("period ratio, measured and predicted", &[p.measured_ratio, p.predicted_ratio]),
    ]
}

/// P2's claims on the regimes seen (one per run) and their boundaries: all three appear, in
/// increasing-ELR order. The order is not testable with fewer than two regimes seen.
pub fn regime_checks(seen: &[Regime], boundaries: Option<&Boundaries>) -> Vec<Check> {
    let has = |r: Regime| seen.contains(&r);
    let three = [Regime::Convergence, Regime::Chaotic, Regime::Divergence];
    let distinct = three.iter().filter(|r| has(**r)).count();
    let order = "regimes in increasing-ELR order: convergence, chaotic, divergence";
    let why = format!("{distinct} of the three regimes seen; an order needs two");
    vec![
        Check::new("all three regimes appear", distinct == 3).with("regimes seen", &[distinct as f64]),
        Check::unless(order, (distinct < 2).then_some(why.as_str()), boundaries.is_some_and(|b| b.ordered)),
    ]
}

/// The convergence runs fit: each has a median tail train accuracy >= `acc` (not testable
/// without a convergence run).
fn fit_check(a: &SweepAnalysis, acc: f64) -> Check {
    let conv: Vec<f64> =
        a.runs.iter().filter(|r| r.regime.regime == Regime::Convergence).map(|r| r.regime.tail_train_acc).collect();
    let claim = format!("every convergence run fits the training set (tail train accuracy >= {acc})");
    Check::unless(claim, conv.is_empty().then_some("no convergence run"), conv.iter().all(|&x| x >= acc))
        .with("tail train accuracy of the convergence runs", &conv)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::checks::Outcome;

    #[test]
    fn regime_order_needs_two_regimes() {
        let ordered = Boundaries { ordered: true, ..Default::default() };
        let one = regime_checks(&[Regime::Convergence; 3], Some(&ordered));
        assert_eq!(one[0].outcome, Outcome::Failed);
        assert!(matches!(&one[1].outcome, Outcome::NotTestable { why } if why.contains("1 of the three")), "{one:?}");
        assert!(!one[1].held());
        let two = regime_checks(&[Regime::Convergence, Regime::Chaotic], Some(&ordered));
        assert_eq!(two[1].outcome, Outcome::Held);
        let unordered = Boundaries::default();
        let all = regime_checks(&[Regime::Chaotic, Regime::Convergence, Regime::Divergence], Some(&unordered));
        assert_eq!((all[0].outcome.clone(), all[1].outcome.clone()), (Outcome::Held, Outcome::Failed));
    }
}
