//! The papers' figures, drawn from runs and their analysis: P1 Fig. 2 (dynamics with S-jumps;
//! ELR against g_eff with the equilibrium line) and P2/P3 Fig. 1 (dynamics per ELR; final
//! metrics against ELR with the regimes shaded).

use super::figures::{Curve, Figure, Panel, Style};
use super::law_panel::law_panel;
use crate::analysis::law::Law;
use crate::analysis::{Regime, RunAnalysis, Series, regime_per_elr};
use crate::numfmt::num;
use crate::store::StudyDir;
use anyhow::Result;
use std::path::PathBuf;

fn regime_color(r: Regime) -> usize {
    match r {
        Regime::Convergence => 2,
        Regime::Chaotic => 1,
        Regime::Divergence => 3,
        Regime::TooShort | Regime::NotMeasured => 0,
    }
}

/// Shaded ELR bands, one per run of an ELR sweep sorted by ELR (`(elr, regime)`): each band
/// reaches halfway (geometrically) to its neighbours, in its regime's colour, labelled once per
/// regime. For the figures against ELR.
pub fn regime_shade(runs: &[(f64, Regime)]) -> Vec<(f64, f64, String, usize)> {
    let mut shade = vec![];
    for (k, &(elr, regime)) in runs.iter().enumerate() {
        let lo = if k == 0 { elr / 2.0 } else { (runs[k - 1].0 * elr).sqrt() };
        let hi = if k + 1 == runs.len() { elr * 2.0 } else { (runs[k + 1].0 * elr).sqrt() };
        let first = !runs[..k].iter().any(|q| q.1 == regime);
        let name = if first { regime.name().to_string() } else { String::new() };
        shade.push((lo, hi, name, regime_color(regime)));
    }
    shade
}

/// A quantity against ELR: a line through its median over the runs of each ELR and, when an
/// ELR has several runs (seeds), each run as a point.
fn median_and_runs(runs: &[&RunAnalysis], f: &dyn Fn(&RunAnalysis) -> f64) -> Vec<Curve> {
    let mut elrs: Vec<f64> = runs.iter().map(|r| r.elr).collect();
    elrs.dedup();
    let med: Vec<(f64, f64)> = elrs
        .iter()
        .map(|&e| (e, crate::stats::median(&runs.iter().filter(|r| r.elr == e).map(|r| f(r)).collect::<Vec<_>>())))
        .collect();
    let several = runs.len() > elrs.len();
    let mut c = vec![Curve {
        label: if several { "median over seeds".into() } else { String::new() },
        points: med,
        style: Style::LinePoints,
        color: 0,
    }];
    if several {
        let pts = runs.iter().map(|r| (r.elr, f(r))).collect();
        c.push(Curve { label: "each run".into(), points: pts, style: Style::Points, color: 4 });
    }
    c
}

/// `(epoch, value)` pairs of a run's epoch rows.
fn ep(s: &Series, v: &[f64]) -> Vec<(f64, f64)> {
    s.epoch.iter().cloned().zip(v.iter().cloned()).collect()
}

/// A panel over epochs.
fn panel(title: &str, y: &str, log_y: bool) -> Panel {
    Panel { title: title.into(), x_label: "epoch".into(), y_label: y.into(), log_y, ..Default::default() }
}

/// P1 Fig. 2 for the runs of a full-space sweep (`series[i]` and `runs[i]` of the same point):
/// `fig_p1_dynamics` and `fig_p1_phase` in `dir`; returns `(caption, png path)` each.
pub fn periodic(series: &[Series], runs: &[RunAnalysis], dir: &StudyDir) -> Result<Vec<(String, PathBuf)>> {
    let mut figs = vec![];
    let series: Vec<(&Series, &RunAnalysis)> = series.iter().zip(runs).collect();
    let (mut loss, mut err, mut rho) =
        (panel("train loss", "loss", true), panel("test error", "error", false), panel("rho = ||w_SI||", "rho", false));
    let mut phase = Panel {
        title: "ELR vs effective gradient norm".into(),
        x_label: "ELR".into(),
        y_label: "g_eff".into(),
        log_x: true,
        log_y: true,
        ..Default::default()
    };
    // one colour per lr*wd (its seeds share it), labelled once
    let colour = lrwd_colours(&series);
    let mut labelled = vec![];
    for (s, r) in series.iter() {
        let i = colour(r);
        let label = if labelled.contains(&i) {
            String::new()
        } else {
            labelled.push(i);
            format!("lr {} (lr·wd {})", num(r.lr), num(r.lr * r.wd))
        };
        loss.curves.push(Curve { label: label.clone(), points: ep(s, &s.train_loss), style: Style::Line, color: i });
        let jumps: Vec<(f64, f64)> = r.s_jumps.iter().map(|j| (j.epoch, j.loss_after)).collect();
        loss.curves.push(Curve { label: String::new(), points: jumps, style: Style::Points, color: i });
        err.curves.push(Curve {
            label: label.clone(),
            points: ep(s, &s.test_acc.iter().map(|a| 1.0 - a).collect::<Vec<_>>()),
            style: Style::Line,
            color: i,
        });
        rho.curves.push(Curve { label: label.clone(), points: ep(s, &s.rho), style: Style::Line, color: i });
        let pts: Vec<(f64, f64)> = s.elr.iter().cloned().zip(s.eff_grad_norm.iter().cloned()).skip(1).collect();
        phase.curves.push(Curve { label: label.clone(), points: pts.clone(), style: Style::Points, color: i });
        // theory: equilibrium ELR* = sqrt(2 lr wd) / g_eff (once per lr*wd)
        let gs: Vec<f64> = pts.iter().map(|p| p.1).filter(|g| g.is_finite() && *g > 0.0).collect();
        if label.is_empty() {
            continue;
        }
        if let (Some(lo), Some(hi)) = (gs.iter().cloned().reduce(f64::min), gs.iter().cloned().reduce(f64::max)) {
            let c = (2.0 * r.lr * r.wd).sqrt();
            phase.curves.push(Curve {
                label: format!("ELR* = √(2 lr·wd)/g_eff, lr·wd {}", num(r.lr * r.wd)),
                points: vec![(c / lo, lo), (c / hi, hi)],
                style: Style::Reference,
                color: i,
            });
        }
    }
    let f = Figure { panels: vec![loss, err, rho], cols: 3, panel_size: (520, 380) };
    f.save(&dir.figure("fig_p1_dynamics"))?;
    figs.push((
        "P1 Fig. 2 (left): train loss with S-jumps marked, test error, rho over epochs".into(),
        dir.figure("fig_p1_dynamics").with_extension("png"),
    ));
    let f = Figure { panels: vec![phase], cols: 1, panel_size: (700, 500) };
    f.save(&dir.figure("fig_p1_phase"))?;
    figs.push((
        "P1 Fig. 2 (right): ELR against effective gradient norm, with the equilibrium line".into(),
        dir.figure("fig_p1_phase").with_extension("png"),
    ));
    figs.push(period_law(&series, runs, dir)?);
    Ok(figs)
}

/// The palette index of each run of a periodic sweep: one per distinct lr*wd, in increasing order.
fn lrwd_colours(series: &[(&Series, &RunAnalysis)]) -> impl Fn(&RunAnalysis) -> usize {
    let mut lrwd: Vec<f64> = series.iter().map(|(_, r)| r.lr * r.wd).collect();
    lrwd.sort_by(f64::total_cmp);
    lrwd.dedup();
    move |r: &RunAnalysis| lrwd.iter().position(|&x| x == r.lr * r.wd).unwrap_or(0)
}

/// `fig_p1_period_law`: the period (steps) of each run against lr*wd with the median per lr*wd
/// and 1/(lr*wd) through it, and the train loss against lr*wd*step, where periods of every
/// lr*wd line up if the period is 1/(lr*wd).
fn period_law(series: &[(&Series, &RunAnalysis)], runs: &[RunAnalysis], dir: &StudyDir) -> Result<(String, PathBuf)> {
    let medians = crate::analysis::period_scaling(runs).map(|p| Law::fit(p.points)).unwrap_or_else(|| Law::fit(vec![]));
    let mut law = law_panel("S-jump period against lr·wd", "period (steps)", &[("median over runs", &medians)]);
    let each: Vec<(f64, f64)> = runs.iter().filter_map(|r| Some((r.lr * r.wd, r.period_steps?))).collect();
    if each.is_empty() {
        law.title = "S-jump period against lr·wd: no run has two S-jumps (no period)".into();
    } else {
        law.curves.push(Curve { label: "each run".into(), points: each, style: Style::Points, color: 3 });
    }
    if let Some(b) = medians.exponent {
        law.title = format!("S-jump period against lr·wd: fitted exponent {b:.2}");
    }
    let mut t = panel("train loss against lr·wd·step", "loss", true);
    t.x_label = "lr·wd × step".into();
    let colour = lrwd_colours(series);
    let mut labelled = vec![];
    for (s, r) in series.iter() {
        let i = colour(r);
        let k = r.lr * r.wd * s.steps_per_epoch as f64;
        let pts = s.epoch.iter().zip(&s.train_loss).map(|(e, l)| (e * k, *l)).collect();
        let n = series.iter().filter(|(_, q)| q.lr * q.wd == r.lr * r.wd).count();
        let label = if labelled.contains(&i) {
            String::new()
        } else {
            labelled.push(i);
            format!("lr·wd {} ({n} run{})", num(r.lr * r.wd), if n == 1 { "" } else { "s" })
        };
        t.curves.push(Curve { label, points: pts, style: Style::Line, color: i });
    }
    let f = Figure { panels: vec![law, t], cols: 2, panel_size: (620, 440) };
    f.save(&dir.figure("fig_p1_period_law"))?;
    Ok((
        "P1's law: the S-jump period against lr·wd (log-log; thin line ∝ 1/(lr·wd)), and the train loss over lr·wd·step".into(),
        dir.figure("fig_p1_period_law").with_extension("png"),
    ))
}

/// P2 / P3 (`paper`) Fig. 1 for the runs of an ELR sweep: `fig_dynamics` and
/// `fig_final_vs_elr` in `dir`; returns `(caption, png path)` each.
pub fn regimes(paper: &str, series: &[Series], runs: &[RunAnalysis], dir: &StudyDir) -> Result<Vec<(String, PathBuf)>> {
    let mut figs = vec![];
    let p = paper;
    let series: Vec<(&Series, &RunAnalysis)> = series.iter().zip(runs).collect();
    let (mut loss, mut err, mut geff) = (
        panel("train loss", "loss", true),
        panel("test error", "error", false),
        panel("effective gradient norm", "g_eff", true),
    );
    // one colour per ELR (its seeds share it), labelled once
    let mut elrs: Vec<f64> = series.iter().map(|(_, r)| r.elr).collect();
    elrs.sort_by(f64::total_cmp);
    elrs.dedup();
    let mut labelled = vec![];
    for (s, r) in series.iter() {
        let i = elrs.iter().position(|&e| e == r.elr).unwrap_or(0);
        let label = if labelled.contains(&i) {
            String::new()
        } else {
            labelled.push(i);
            format!("ELR {} ({})", num(r.elr), r.regime.regime.name())
        };
        loss.curves.push(Curve { label: label.clone(), points: ep(s, &s.train_loss), style: Style::Line, color: i });
        err.curves.push(Curve {
            label: label.clone(),
            points: ep(s, &s.test_acc.iter().map(|a| 1.0 - a).collect::<Vec<_>>()),
            style: Style::Line,
            color: i,
        });
        geff.curves.push(Curve { label, points: ep(s, &s.eff_grad_norm), style: Style::Line, color: i });
    }
    let f = Figure { panels: vec![loss, err, geff], cols: 3, panel_size: (520, 380) };
    f.save(&dir.figure("fig_dynamics"))?;
    figs.push((
        format!("{p} Fig. 1 (top): train loss, test error and effective gradient norm over epochs, per ELR"),
        dir.figure("fig_dynamics").with_extension("png"),
    ));
    // final metrics against ELR with the regimes shaded (the regime most runs of an ELR are in)
    let mut runs: Vec<&RunAnalysis> = runs.iter().collect();
    runs.sort_by(|x, y| x.elr.total_cmp(&y.elr));
    let shade = regime_shade(&regime_per_elr(&runs.iter().map(|r| (r.elr, r.regime.regime)).collect::<Vec<_>>()));
    let against_elr = |title: &str, y: &str, log_y: bool, f: &dyn Fn(&RunAnalysis) -> f64| Panel {
        title: title.into(),
        x_label: "ELR".into(),
        y_label: y.into(),
        log_x: true,
        log_y,
        curves: median_and_runs(&runs, f),
        shade: shade.clone(),
    };
    let final_loss = against_elr("train loss at the end (tail median)", "loss", true, &|r| r.regime.tail_train_loss);
    let final_err =
        against_elr("test error at the end (tail median)", "error", false, &|r| 1.0 - r.regime.tail_test_acc);
    let f = Figure { panels: vec![final_loss, final_err], cols: 2, panel_size: (600, 420) };
    f.save(&dir.figure("fig_final_vs_elr"))?;
    figs.push((
        format!("{p} Fig. 1 (bottom): final train loss and test error against ELR, regimes shaded"),
        dir.figure("fig_final_vs_elr").with_extension("png"),
    ));
    Ok(figs)
}
