//! The experiments beyond the thesis: do its findings hold for LayerNorm networks, transformers
//! and adaptive optimizers? Each has several *arms* (one sweep per network and optimizer,
//! `setups.toml`), run and gathered by the [`pipeline`](super::pipeline), then compared:
//! - `periodic-ln`: S-jumps and the period's law against lr*wd, per arm;
//! - `regimes-ln`: the three regimes and their boundaries per arm against the BatchNorm ConvNet;
//! - `rotational`: the angular update against the predicted equilibrium eta_r, the time to reach
//!   it against 1/(lr*wd), and how far it is from eta_r around S-jumps.

use super::pipeline::{ArmDone, Fig, Study};
use super::{ArmRunRecord, Check, CrossRow, RunRecord};
use crate::analysis::arms::{ArmSummary, Law};
use crate::analysis::{EQUILIBRIUM_TOL, Regime, Series};
use crate::numfmt::num;
use crate::report::arms::{self as figs, Kind};
use crate::stats::median;
use crate::store::StudyDir;
use anyhow::Result;

/// `periodic-ln`.
pub struct PeriodicLn;
/// `regimes-ln`.
pub struct RegimesLn;
/// `rotational`.
pub struct Rotational;

/// The arms' summaries (every arm of an experiment of several has one).
fn summaries(arms: &[ArmDone]) -> Vec<ArmSummary> {
    arms.iter().filter_map(|a| a.summary.clone()).collect()
}

fn series(arms: &[ArmDone]) -> Vec<Vec<Series>> {
    arms.iter().map(|a| a.series.clone()).collect()
}

/// Every arm's runs, each with its arm's key.
fn arm_runs(arms: &[ArmDone]) -> Vec<RunRecord> {
    summaries(arms)
        .into_iter()
        .flat_map(|a| a.runs.into_iter().map(move |run| RunRecord::Arm(ArmRunRecord { run, arm: a.arm.clone() })))
        .collect()
}

/// The three regimes that appear in an arm's runs, in order.
fn seen(a: &ArmSummary) -> Vec<&'static str> {
    [Regime::Convergence, Regime::Chaotic, Regime::Divergence]
        .into_iter()
        .filter(|g| a.runs.iter().any(|r| r.regime == *g))
        .map(|g| g.name())
        .collect()
}

/// Numbers for a check's text ("none" for an empty list).
fn list(v: &[f64]) -> String {
    if v.is_empty() { "none".into() } else { v.iter().map(|r| num(*r)).collect::<Vec<_>>().join(", ") }
}

impl Study for PeriodicLn {
    fn figures(&self, arms: &[ArmDone], dir: &StudyDir) -> Result<Vec<Fig>> {
        figs::periodic_ln(&summaries(arms), &series(arms), dir)
    }
    fn checks(&self, arms: &[ArmDone]) -> Vec<Check> {
        summaries(arms).iter().flat_map(periodic_ln_checks).collect()
    }
    fn runs(&self, arms: &[ArmDone]) -> Vec<RunRecord> {
        arm_runs(arms)
    }
    fn tables(&self, arms: &[ArmDone]) -> String {
        figs::arm_tables(Kind::PeriodicLn, &summaries(arms))
    }
    fn cross_cell(&self, a: &ArmSummary, row: &mut CrossRow) {
        let n: Vec<usize> = a.runs.iter().map(|r| r.converged_jumps.len()).collect();
        let yes = n.iter().all(|&k| k >= 1);
        row.periodic = Some(format!(
            "{} (S-jumps from a converged state per run {n:?}); period {}",
            if yes { "yes" } else { "no" },
            a.period_law.as_ref().map(Law::describe).unwrap_or("-".into())
        ));
    }
}

/// An arm's S-jumps from a converged state in every run, and the period's law.
fn periodic_ln_checks(a: &ArmSummary) -> Vec<Check> {
    let n: Vec<usize> = a.runs.iter().map(|r| r.converged_jumps.len()).collect();
    let all: Vec<usize> = a.runs.iter().map(|r| r.s_jumps.len()).collect();
    let law = a.period_law.as_ref();
    let counts = |v: &[usize]| v.iter().map(|&k| k as f64).collect::<Vec<_>>();
    vec![
        Check::new(
            format!(
                "{}: S-jumps from a converged state (train loss before ≤ 1% of the initial) in every run (per run: {n:?}; all spikes detected: {all:?})",
                a.label
            ),
            !n.is_empty() && n.iter().all(|&k| k >= 1),
        )
        .with("converged S-jumps per run", &counts(&n)),
        Check::new(
            format!(
                "{}: period ∝ 1/(lr·wd): a period in each of the {} runs (3 or more), the period ratio within 25% of the lr·wd ratio ({}; {} with a period)",
                a.label,
                a.runs.len(),
                law.map(Law::describe).unwrap_or("no period".into()),
                law.map(|l| l.points.len()).unwrap_or(0)
            ),
            law.is_some_and(|l| l.points.len() == a.runs.len() && l.points.len() >= 3 && l.within(0.25)),
        )
        .with("exponent", &law.and_then(|l| l.exponent).into_iter().collect::<Vec<_>>()),
    ]
}

impl Study for RegimesLn {
    fn figures(&self, arms: &[ArmDone], dir: &StudyDir) -> Result<Vec<Fig>> {
        let sharp: Vec<(String, Vec<(f64, f64)>)> = arms
            .iter()
            .filter_map(|a| {
                let st = a.sharpness.as_ref()?;
                Some((a.arm.label.clone(), st.points.iter().map(|q| (q.elr, q.eff_top_eig)).collect()))
            })
            .collect();
        figs::regimes_ln(&summaries(arms), &sharp, dir)
    }
    fn checks(&self, arms: &[ArmDone]) -> Vec<Check> {
        regimes_ln_checks(&summaries(arms))
    }
    fn runs(&self, arms: &[ArmDone]) -> Vec<RunRecord> {
        arm_runs(arms)
    }
    fn tables(&self, arms: &[ArmDone]) -> String {
        figs::arm_tables(Kind::RegimesLn, &summaries(arms))
    }
    fn cross_cell(&self, a: &ArmSummary, row: &mut CrossRow) {
        let b = a.boundaries.as_ref();
        let f = |x: Option<[f64; 2]>| x.map(|[l, h]| format!("[{}, {}]", num(l), num(h))).unwrap_or("none".into());
        row.regimes = Some(format!(
            "1→2 {}, 2→3 {} (seen: {}{})",
            f(b.and_then(|b| b.convergence_chaotic)),
            f(b.and_then(|b| b.chaotic_divergence)),
            seen(a).join(", "),
            if b.is_some_and(|b| b.ordered) { "" } else { "; not in increasing-ELR order" }
        ));
    }
}

fn mid(b: Option<[f64; 2]>) -> Option<f64> {
    b.map(|[lo, hi]| (lo * hi).sqrt())
}

/// Every arm's three regimes in order; each SGD arm's 1→2 boundary against the BatchNorm
/// ConvNet's (the papers' reference, when an arm).
fn regimes_ln_checks(arms: &[ArmSummary]) -> Vec<Check> {
    let mut c = vec![];
    for a in arms {
        let seen = seen(a);
        c.push(
            Check::new(
                format!("{}: all three regimes appear, in increasing-ELR order (seen: {})", a.label, seen.join(", ")),
                seen.len() == 3 && a.boundaries.as_ref().is_some_and(|b| b.ordered),
            )
            .with("regimes seen", &[seen.len() as f64]),
        );
    }
    let Some(r) = arms.iter().find(|a| a.net.arch == "convnet" && a.net.optimizer == "sgd") else {
        return c;
    };
    let boundary = |a: &ArmSummary| mid(a.boundaries.as_ref().and_then(|b| b.convergence_chaotic));
    for a in arms.iter().filter(|a| a.net.optimizer == "sgd" && a.arm != r.arm) {
        let (x, y) = (boundary(a), boundary(r));
        let claim = format!(
            "{}: the 1→2 boundary within a factor 10 of the BatchNorm ConvNet's on the same grid ({} vs {})",
            a.label,
            x.map(num).unwrap_or("none".into()),
            y.map(num).unwrap_or("none".into())
        );
        let held = matches!((x, y), (Some(x), Some(y)) if (x / y).abs().ln().abs() <= 10f64.ln());
        c.push(Check::new(claim, held).with("boundaries", &[x, y].into_iter().flatten().collect::<Vec<_>>()));
    }
    c
}

impl Study for Rotational {
    fn figures(&self, arms: &[ArmDone], dir: &StudyDir) -> Result<Vec<Fig>> {
        figs::rotational(&summaries(arms), &series(arms), dir)
    }
    fn checks(&self, arms: &[ArmDone]) -> Vec<Check> {
        let s = summaries(arms);
        let mut c: Vec<Check> = s.iter().filter(|a| !a.jumps).flat_map(equilibrium_checks).collect();
        c.extend(s.iter().filter(|a| a.jumps).flat_map(jump_checks));
        c
    }
    fn runs(&self, arms: &[ArmDone]) -> Vec<RunRecord> {
        arm_runs(arms)
    }
    fn tables(&self, arms: &[ArmDone]) -> String {
        figs::arm_tables(Kind::Rotational, &summaries(arms))
    }
    fn cross_cell(&self, a: &ArmSummary, row: &mut CrossRow) {
        let text = if a.jumps {
            let before: Vec<f64> = a.runs.iter().flat_map(|r| r.before_jumps.iter().copied()).collect();
            let at: Vec<f64> = a.runs.iter().flat_map(|r| r.at_jumps.iter().map(|j| j.1)).collect();
            let med = |v: &[f64]| if v.is_empty() { "-".into() } else { num(median(v)) };
            format!(
                "periodic regime: {} S-jumps, angle/eta_r {} before them (median), {} at them (median)",
                at.len(),
                med(&before),
                med(&at)
            )
        } else {
            format!(
                "angle/eta_r {}; steps to equilibrium {}",
                a.angle_ratio.map(|r| format!("{r:.2}")).unwrap_or("-".into()),
                a.equilibrium_law.as_ref().map(Law::describe).unwrap_or("-".into())
            )
        };
        // an arm's equilibrium first, its S-jumps after
        row.equilibrium = Some(match row.equilibrium.take() {
            Some(t) if a.jumps => format!("{t}; {text}"),
            Some(t) => format!("{text}; {t}"),
            None => text,
        });
    }
}

/// An equilibrium arm: the angular update at eta_r, reached in a time ∝ 1/(lr·wd).
fn equilibrium_checks(a: &ArmSummary) -> Vec<Check> {
    let rs: Vec<f64> = a.runs.iter().filter_map(|r| r.angle_ratio).collect();
    let law = a.equilibrium_law.as_ref();
    let ratios = rs.iter().map(|r| format!("{r:.2}")).collect::<Vec<_>>().join(", ");
    vec![
        Check::new(
            format!(
                "{}: median angular update after equilibrium within 15% of the predicted eta_r in every run (ratios {ratios})",
                a.label
            ),
            rs.len() == a.runs.len() && !rs.is_empty() && rs.iter().all(|r| (r - 1.0).abs() <= 0.15),
        )
        .with("angle / eta_r per run", &rs),
        Check::new(
            format!(
                "{}: a time to equilibrium in every run, ∝ 1/(lr·wd): exponent within 0.25 of -1 ({})",
                a.label,
                law.map(Law::describe).unwrap_or("not measured".into())
            ),
            law.is_some_and(|l| l.points.len() == a.runs.len())
                && law.and_then(|l| l.exponent).is_some_and(|b| (b + 1.0).abs() <= 0.25),
        )
        .with("exponent", &law.and_then(|l| l.exponent).into_iter().collect::<Vec<_>>()),
    ]
}

/// An arm in the periodic regime: the angular update around its S-jumps.
fn jump_checks(a: &ArmSummary) -> Vec<Check> {
    let n: usize = a.runs.iter().map(|r| r.converged_jumps.len()).sum();
    let at: Vec<f64> = a.runs.iter().flat_map(|r| r.at_jumps.iter().map(|j| j.1)).collect();
    let before: Vec<f64> = a.runs.iter().flat_map(|r| r.before_jumps.iter().copied()).collect();
    // no S-jump from a converged state: nothing to look at
    let none = (n == 0).then_some("no S-jump from a converged state");
    vec![
        Check::unless(
            format!(
                "{}: at every S-jump from a converged state ({n}) the angular update overshoots eta_r by more than 10% (its largest ratio over the jump's epoch and the 2 after: {})",
                a.label,
                list(&at)
            ),
            none,
            at.len() == n && at.iter().all(|r| *r > 1.0 + EQUILIBRIUM_TOL),
        )
        .with("angle / eta_r at S-jumps", &at),
        Check::unless(
            format!(
                "{}: over the 5 epochs before every S-jump from a converged state the angular update is below half of eta_r (medians {})",
                a.label,
                list(&before)
            ),
            none,
            before.len() == n && before.iter().all(|r| *r < 0.5),
        )
        .with("angle / eta_r before S-jumps", &before),
    ]
}
