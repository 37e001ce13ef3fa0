//! The papers' experiments, one sweep each: `periodic` (P1: S-jumps and their period in full
//! space) and `regimes` / `mse` (P2 / P3: the three regimes on the sphere).

use super::pipeline::{ArmDone, Fig, Study};
use super::{Check, PeriodicRun, RegimeRun, RunRecord};
use crate::analysis::{Boundaries, PeriodScaling, Regime, SweepAnalysis};
use crate::report::{html, papers};
use crate::store::StudyDir;
use anyhow::Result;

/// P1: full space, SGD + weight decay.
pub struct Periodic;

/// P2 / P3: on the sphere at fixed ELR; `paper` names it in captions.
pub struct Regimes {
    pub paper: &'static str,
}

impl Study for Periodic {
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
        regime_checks(&a.runs.iter().map(|r| r.regime.regime).collect::<Vec<_>>(), a.boundaries.as_ref())
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

/// P1's claims: S-jumps at two lr*wd values at least, and a period that shrinks as 1/(lr*wd).
fn periodic_checks(a: &SweepAnalysis) -> Vec<Check> {
    let mut by_lrwd: Vec<f64> = a.runs.iter().filter(|r| r.s_jumps.len() >= 3).map(|r| r.lr * r.wd).collect();
    by_lrwd.sort_by(f64::total_cmp);
    by_lrwd.dedup();
    let mut c = vec![
        Check::new("at least 3 S-jumps per run for at least two lr*wd values", by_lrwd.len() >= 2)
            .with("lr*wd with 3 or more S-jumps", &by_lrwd),
    ];
    match &a.period_scaling {
        Some(p) => c.extend(period_checks(p)),
        None => c.push(Check::new("a period measured for two lr*wd values", false)),
    }
    c
}

fn period_checks(p: &PeriodScaling) -> Vec<Check> {
    let ratios = [p.measured_ratio, p.predicted_ratio];
    vec![
        Check::new("the period shrinks as lr*wd grows", p.shrinking)
            .with("period ratio, measured and predicted", &ratios),
        Check::new(
            format!(
                "period ratio {:.2} within a factor 2 of the 1/(lr*wd) prediction {:.2}",
                p.measured_ratio, p.predicted_ratio
            ),
            p.measured_ratio / p.predicted_ratio < 2.0 && p.predicted_ratio / p.measured_ratio < 2.0,
        )
        .with("period ratio, measured and predicted", &ratios),
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
