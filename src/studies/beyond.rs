//! The experiments beyond the thesis: do its findings hold for LayerNorm networks, transformers
//! and adaptive optimizers? Each experiment has several *arms* (one sweep per network and
//! optimizer, `setups.toml`), run by one pool of workers, analysed one by one in
//! `arms/<key>/` (the same files as a papers' reproduction), then compared:
//! - `periodic-ln`: S-jumps and the period's law against lr*wd, per arm;
//! - `regimes-ln`: the three regimes and their boundaries per arm against the BatchNorm ConvNet;
//! - `rotational`: the angular update against the predicted equilibrium eta_r, the time to reach
//!   it against 1/(lr*wd), and how far it is from eta_r around S-jumps;
//! - `beyond`: the three, and one cross-architecture summary.

use super::{Arm, Experiment, ReproOptions, ReproSummary, Scale, about, arms, sharpness};
use crate::analysis::arms::{ArmSummary, Law, Net, arm_summary};
use crate::analysis::{self, EQUILIBRIUM_TOL, JumpParams, Regime, RegimeParams, Series};
use crate::config::OptimMode;
use crate::human::num;
use crate::progress::Progress;
use crate::report::{beyond as figs, html};
use crate::stats::median;
use crate::store::{self, StudyDir};
use crate::sweep::{self, SweepDir};
use anyhow::{Context, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// An arm in `summary.json`: what its runs show, and the sharpness study (`--sharpness`, sphere
/// arms).
#[derive(Serialize, Clone, Debug)]
pub struct ArmResult {
    #[serde(flatten)]
    pub summary: ArmSummary,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sharpness: Option<sharpness::SharpnessStudy>,
}

/// One row of the cross-architecture summary.
#[derive(Serialize, Clone, Debug)]
pub struct CrossRow {
    pub net: Net,
    /// `periodic-ln`: S-jumps in every run, and the period's law.
    pub periodic: Option<String>,
    /// `regimes-ln`: the boundaries.
    pub regimes: Option<String>,
    /// `rotational`: angular update measured/predicted, time to equilibrium's law.
    pub equilibrium: Option<String>,
}

/// The figures' kind of a multi-arm experiment.
fn kind(e: Experiment) -> figs::Kind {
    match e {
        Experiment::PeriodicLn => figs::Kind::PeriodicLn,
        Experiment::RegimesLn => figs::Kind::RegimesLn,
        _ => figs::Kind::Rotational,
    }
}

/// An arm being reproduced: its sweep, its folder, its analysis.
struct ArmRunning {
    arm: Arm,
    dir: StudyDir,
}

fn arm_dir(out: &Path, key: &str) -> StudyDir {
    StudyDir::new(out.join("arms").join(key))
}

/// Run a multi-arm experiment end to end into `out` (rerunning on the same folder resumes).
pub fn reproduce(
    e: Experiment,
    s: Scale,
    out: &Path,
    o: &ReproOptions,
    progress: &mut dyn Progress,
) -> Result<ReproSummary> {
    let t0 = Instant::now();
    let dir = StudyDir::new(out);
    store::create_dir(&dir.root)?;
    let arms: Vec<ArmRunning> = arms(e, s, o.data_dir.as_deref(), &o.sets)?
        .into_iter()
        .map(|arm| ArmRunning { dir: arm_dir(out, &arm.key), arm })
        .collect();
    let mut points = 0;
    let mut threads = 1;
    for a in &arms {
        store::create_dir(&a.dir.root)?;
        let m = sweep::create(&a.dir.sweep(), &a.arm.spec)?;
        points += m.points.len();
        threads = threads.max(a.arm.spec.manifest()?.1[0].train.threads);
    }
    let sds: Vec<SweepDir> = arms.iter().map(|a| a.dir.sweep()).collect();
    let jobs = o.jobs.unwrap_or_else(|| sweep::local::default_jobs(threads));
    let report = sweep::local::run_all(&sds, jobs, &o.exe, progress)?;
    super::all_done(&report)?;
    let mut summaries = vec![];
    let mut all_series = vec![];
    let mut analyses = serde_json::Map::new();
    let mut rows = 0;
    let mut tables = vec![];
    for a in &arms {
        let sd = a.dir.sweep();
        let t = sweep::table::write(&sd)?;
        rows += t.rows();
        tables.push((a.arm.key.clone(), t));
        store::copy(&sd.table_csv("table"), &a.dir.table_csv())?;
        store::copy(&sd.table_parquet("table"), &a.dir.table_parquet())?;
        let an = analysis::analyze(&sd.root, &JumpParams::default(), &RegimeParams::default())?;
        store::write_json(&a.dir.analysis(), &an)?;
        analyses.insert(a.arm.key.clone(), serde_json::to_value(&an)?);
        // one series per analysed run, in the analysis' order
        let series: Vec<Series> = an
            .runs
            .iter()
            .map(|r| Series::from_run(Path::new(&r.dir)))
            .collect::<Result<_>>()
            .context("reading runs for figures")?;
        let cfg = &a.arm.spec.manifest()?.1[0];
        let rel = a.dir.root.strip_prefix(out).unwrap_or(&a.dir.root).display().to_string();
        let sum = arm_summary(&a.arm.key, &a.arm.label, a.arm.jumps, cfg, &rel, &an, &series)?;
        let sharp = if o.sharpness && sum.mode == OptimMode::Sphere {
            let (st, _) = sharpness::study(&sd, &a.arm.spec, &an, s, &a.dir, jobs, &o.exe, progress)
                .with_context(|| format!("sharpness study of arm {}", a.arm.key))?;
            Some(st)
        } else {
            None
        };
        let res = ArmResult { summary: sum, sharpness: sharp };
        store::write_json(&a.dir.summary(), &res)?;
        summaries.push(res);
        all_series.push(series);
    }
    write_long_table(tables, &dir)?;
    store::write_json(&dir.analysis(), &analyses)?;
    let plain: Vec<ArmSummary> = summaries.iter().map(|a| a.summary.clone()).collect();
    let figures = match e {
        Experiment::PeriodicLn => figs::periodic_ln(&plain, &all_series, &dir)?,
        Experiment::RegimesLn => {
            let sharp: Vec<(String, Vec<(f64, f64)>)> = summaries
                .iter()
                .filter_map(|a| {
                    let st = a.sharpness.as_ref()?;
                    Some((a.summary.label.clone(), st.points.iter().map(|q| (q.elr, q.eff_top_eig)).collect()))
                })
                .collect();
            figs::regimes_ln(&plain, &sharp, &dir)?
        }
        _ => figs::rotational(&plain, &all_series, &dir)?,
    };
    let mut checks = checks(e, &summaries);
    if s == Scale::Smoke {
        checks.iter_mut().for_each(|x| x.0 = format!("(not expected at smoke scale) {}", x.0));
    }
    let seconds = super::add_time(&dir, t0)?;
    let cross = cross_rows(&[(e, &plain)]);
    let runs = plain
        .iter()
        .flat_map(|a| {
            a.runs.iter().map(move |r| {
                let mut v = serde_json::to_value(r).unwrap_or_default();
                v["arm"] = serde_json::Value::String(a.arm.clone());
                v
            })
        })
        .collect();
    let summary = ReproSummary {
        experiment: e.name().into(),
        scale: s.name().into(),
        seconds,
        runs,
        boundaries: None,
        period_scaling: None,
        checks: checks.clone(),
        sharpness: None,
        arms: Some(summaries.clone()),
        cross_architecture: Some(cross.clone()),
    };
    store::write_json(&dir.summary(), &summary)?;
    let (title, about_html) = about(e);
    let sweeps: Vec<String> =
        arms.iter().map(|a| format!("# arm {}: {}\n{}", a.arm.key, a.arm.label, a.arm.spec.to_toml())).collect();
    let page = html::Page {
        title: &title,
        command: format!("silab reproduce {} --scale {}", e.name(), s.name()),
        scale_note: s != Scale::Paper,
        checks: &checks,
        figures: &figures,
        sections: vec![arm_tables(e, &plain), cross_table(&cross), about_html],
        sweep_toml: &sweeps.join("\n"),
        seconds,
        rows,
        points,
    };
    store::write_atomic(&dir.report(), page.render()?.as_bytes())?;
    Ok(summary)
}

/// `table.csv` / `table.parquet` of the experiment: every arm's table, one after the other, with
/// an `arm` column first (columns absent from an arm are empty).
fn write_long_table(tables: Vec<(String, sweep::table::Table)>, dir: &StudyDir) -> Result<()> {
    let t = sweep::table::Table::stack("arm", &tables);
    store::write_atomic(&dir.table_csv(), &t.to_csv()?)?;
    store::write_atomic(&dir.table_parquet(), &t.to_parquet()?)?;
    Ok(())
}

/// The arm of a summary that is the papers' reference: the BatchNorm ConvNet with SGD.
fn reference<'a>(arms: &[&'a ArmSummary]) -> Option<&'a ArmSummary> {
    arms.iter().find(|a| a.net.arch == "convnet" && a.net.optimizer == "sgd").copied()
}

fn mid(b: Option<[f64; 2]>) -> Option<f64> {
    b.map(|[lo, hi]| (lo * hi).sqrt())
}

/// The falsifiable claims of an experiment, each with its numbers, and whether it held.
pub fn checks(e: Experiment, results: &[ArmResult]) -> Vec<(String, bool)> {
    let mut c = vec![];
    let arms: Vec<&ArmSummary> = results.iter().map(|a| &a.summary).collect();
    match e {
        Experiment::PeriodicLn => {
            for a in &arms {
                let n: Vec<usize> = a.runs.iter().map(|r| r.converged_jumps.len()).collect();
                let all: Vec<usize> = a.runs.iter().map(|r| r.s_jumps.len()).collect();
                c.push((
                    format!(
                        "{}: S-jumps from a converged state (train loss before ≤ 1% of the initial) in every run (per run: {n:?}; all spikes detected: {all:?})",
                        a.label
                    ),
                    !n.is_empty() && n.iter().all(|&k| k >= 1),
                ));
                let law = a.period_law.as_ref();
                c.push((
                    format!(
                        "{}: period ∝ 1/(lr·wd): a period in each of the {} runs (3 or more), the period ratio within 25% of the lr·wd ratio ({}; {} with a period)",
                        a.label,
                        a.runs.len(),
                        law.map(Law::describe).unwrap_or("no period".into()),
                        law.map(|l| l.points.len()).unwrap_or(0)
                    ),
                    law.is_some_and(|l| l.points.len() == a.runs.len() && l.points.len() >= 3 && l.within(0.25)),
                ));
            }
        }
        Experiment::RegimesLn => {
            let r = reference(&arms);
            for a in &arms {
                let has = |g: Regime| a.runs.iter().any(|x| x.regime == g);
                let seen: Vec<&str> = [Regime::Convergence, Regime::Chaotic, Regime::Divergence]
                    .into_iter()
                    .filter(|g| has(*g))
                    .map(|g| g.name())
                    .collect();
                c.push((
                    format!(
                        "{}: all three regimes appear, in increasing-ELR order (seen: {})",
                        a.label,
                        seen.join(", ")
                    ),
                    seen.len() == 3 && a.boundaries.as_ref().is_some_and(|b| b.ordered),
                ));
            }
            if let Some(r) = r {
                for a in arms.iter().filter(|a| a.net.optimizer == "sgd" && a.arm != r.arm) {
                    let (x, y) = (
                        mid(a.boundaries.as_ref().and_then(|b| b.convergence_chaotic)),
                        mid(r.boundaries.as_ref().and_then(|b| b.convergence_chaotic)),
                    );
                    c.push((
                        format!(
                            "{}: the 1→2 boundary within a factor 10 of the BatchNorm ConvNet's on the same grid ({} vs {})",
                            a.label,
                            x.map(num).unwrap_or("none".into()),
                            y.map(num).unwrap_or("none".into())
                        ),
                        matches!((x, y), (Some(x), Some(y)) if (x / y).abs().ln().abs() <= 10f64.ln()),
                    ));
                }
            }
            for a in results {
                if let Some(st) = &a.sharpness {
                    c.push((
                        format!(
                            "{}: in the convergence regime, flatter minima at larger ELR (rank correlation {})",
                            a.summary.label,
                            st.convergence_rank_corr.map(|r| format!("{r:.2}")).unwrap_or("n/a".into())
                        ),
                        st.convergence_rank_corr.is_some_and(|r| r < 0.0),
                    ));
                    c.push((
                        format!(
                            "{}: a high-sharpness zone between regimes 1 and 2 (the last convergence or first chaotic point sharper than its neighbours; {})",
                            a.summary.label,
                            match st.boundary_peak {
                                Some(_) => "divergent runs left out",
                                None => "no convergence and chaotic runs to compare",
                            }
                        ),
                        st.boundary_peak == Some(true),
                    ));
                }
            }
        }
        _ => {
            for a in arms.iter().filter(|a| !a.jumps) {
                let rs: Vec<f64> = a.runs.iter().filter_map(|r| r.angle_ratio).collect();
                c.push((
                    format!(
                        "{}: median angular update after equilibrium within 15% of the predicted eta_r in every run (ratios {})",
                        a.label,
                        rs.iter().map(|r| format!("{r:.2}")).collect::<Vec<_>>().join(", ")
                    ),
                    rs.len() == a.runs.len() && !rs.is_empty() && rs.iter().all(|r| (r - 1.0).abs() <= 0.15),
                ));
                let law = a.equilibrium_law.as_ref();
                c.push((
                    format!(
                        "{}: a time to equilibrium in every run, ∝ 1/(lr·wd): exponent within 0.25 of -1 ({})",
                        a.label,
                        law.map(Law::describe).unwrap_or("not measured".into())
                    ),
                    law.is_some_and(|l| l.points.len() == a.runs.len())
                        && law.and_then(|l| l.exponent).is_some_and(|b| (b + 1.0).abs() <= 0.25),
                ));
            }
            for a in arms.iter().filter(|a| a.jumps) {
                let n: usize = a.runs.iter().map(|r| r.converged_jumps.len()).sum();
                let at: Vec<f64> = a.runs.iter().flat_map(|r| r.at_jumps.iter().map(|j| j.1)).collect();
                let before: Vec<f64> = a.runs.iter().flat_map(|r| r.before_jumps.iter().copied()).collect();
                c.push((
                    format!(
                        "{}: at every S-jump from a converged state ({n}) the angular update overshoots eta_r by more than 10% (its largest ratio over the jump's epoch and the 2 after: {})",
                        a.label,
                        list(&at)
                    ),
                    n > 0 && at.len() == n && at.iter().all(|r| *r > 1.0 + EQUILIBRIUM_TOL),
                ));
                c.push((
                    format!(
                        "{}: over the 5 epochs before every S-jump from a converged state the angular update is below half of eta_r (medians {})",
                        a.label,
                        list(&before)
                    ),
                    n > 0 && before.len() == n && before.iter().all(|r| *r < 0.5),
                ));
            }
        }
    }
    c
}

/// Numbers for a check's text ("none" for an empty list).
fn list(v: &[f64]) -> String {
    if v.is_empty() { "none".into() } else { v.iter().map(|r| num(*r)).collect::<Vec<_>>().join(", ") }
}

/// The cross-architecture summary of one or more experiments: one row per network and optimizer.
pub fn cross_rows(exps: &[(Experiment, &[ArmSummary])]) -> Vec<CrossRow> {
    let mut rows: Vec<CrossRow> = vec![];
    for (e, arms) in exps {
        for a in arms.iter() {
            let i = match rows.iter().position(|r| r.net == a.net) {
                Some(i) => i,
                None => {
                    rows.push(CrossRow { net: a.net.clone(), periodic: None, regimes: None, equilibrium: None });
                    rows.len() - 1
                }
            };
            let row = &mut rows[i];
            match e {
                Experiment::PeriodicLn => {
                    let n: Vec<usize> = a.runs.iter().map(|r| r.converged_jumps.len()).collect();
                    let yes = n.iter().all(|&k| k >= 1);
                    row.periodic = Some(format!(
                        "{} (S-jumps from a converged state per run {n:?}); period {}",
                        if yes { "yes" } else { "no" },
                        a.period_law.as_ref().map(Law::describe).unwrap_or("-".into())
                    ));
                }
                Experiment::RegimesLn => {
                    let b = a.boundaries.as_ref();
                    let f = |x: Option<[f64; 2]>| {
                        x.map(|[l, h]| format!("[{}, {}]", num(l), num(h))).unwrap_or("none".into())
                    };
                    let seen: Vec<&str> = [Regime::Convergence, Regime::Chaotic, Regime::Divergence]
                        .into_iter()
                        .filter(|g| a.runs.iter().any(|r| r.regime == *g))
                        .map(|g| g.name())
                        .collect();
                    row.regimes = Some(format!(
                        "1→2 {}, 2→3 {} (seen: {}{})",
                        f(b.and_then(|b| b.convergence_chaotic)),
                        f(b.and_then(|b| b.chaotic_divergence)),
                        seen.join(", "),
                        if b.is_some_and(|b| b.ordered) { "" } else { "; not in increasing-ELR order" }
                    ));
                }
                _ => {
                    let text = if a.jumps {
                        let before: Vec<f64> = a.runs.iter().flat_map(|r| r.before_jumps.iter().copied()).collect();
                        let at: Vec<f64> = a.runs.iter().flat_map(|r| r.at_jumps.iter().map(|j| j.1)).collect();
                        format!(
                            "periodic regime: {} S-jumps, angle/eta_r {} before them (median), {} at them (median)",
                            at.len(),
                            if before.is_empty() { "-".into() } else { num(median(&before)) },
                            if at.is_empty() { "-".into() } else { num(median(&at)) }
                        )
                    } else {
                        format!(
                            "angle/eta_r {}; steps to equilibrium {}",
                            a.angle_ratio.map(|r| format!("{r:.2}")).unwrap_or("-".into()),
                            a.equilibrium_law.as_ref().map(Law::describe).unwrap_or("-".into())
                        )
                    };
                    row.equilibrium = Some(match row.equilibrium.take() {
                        Some(t) if a.jumps => format!("{t}; {text}"),
                        Some(t) => format!("{text}; {t}"),
                        None => text,
                    });
                }
            }
        }
    }
    rows.sort_by(|a, b| a.net.cmp(&b.net));
    rows
}

fn cell(s: &Option<String>) -> String {
    // "—": the network and optimizer are not an arm of that experiment
    html::esc(s.as_deref().unwrap_or("—"))
}

/// The cross-architecture summary as HTML.
pub fn cross_table(rows: &[CrossRow]) -> String {
    let mut h = String::from(
        "<h2>Across architectures</h2><table><tr><th>network</th><th>norm</th><th>optimizer</th>\
         <th>periodic (full space, wd)</th><th>regime boundaries (sphere, ELR)</th><th>rotational equilibrium</th></tr>",
    );
    for r in rows {
        h += &format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"text\">{}</td><td class=\"text\">{}</td><td class=\"text\">{}</td></tr>",
            r.net.arch,
            r.net.norm,
            r.net.optimizer,
            cell(&r.periodic),
            cell(&r.regimes),
            cell(&r.equilibrium)
        );
    }
    h + "</table>"
}

/// Per-arm tables of an experiment as HTML.
fn arm_tables(e: Experiment, arms: &[ArmSummary]) -> String {
    let mut h = String::from("<h2>Ours, per arm and run</h2>");
    for a in arms {
        h += &format!("<h3>{} <small>(<code>{}</code>)</small></h3><table>", html::esc(&a.label), html::esc(&a.dir));
        match e {
            Experiment::RegimesLn => {
                h += "<tr><th>ELR</th><th>regime</th><th>final train loss</th><th>final test acc</th></tr>";
                for r in &a.runs {
                    h += &format!(
                        "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{:.3}</td></tr>",
                        r.regime.name().split(' ').next().unwrap_or(""),
                        num(r.elr),
                        r.regime.name(),
                        num(r.final_train_loss),
                        r.final_test_acc
                    );
                }
            }
            _ => {
                h += "<tr><th>lr</th><th>wd</th><th>lr&middot;wd</th><th>1/(lr&middot;wd) steps</th><th>S-jumps at epochs (converged: *)</th><th>period (steps)</th>\
                      <th>eta_r</th><th>angle / eta_r</th><th>steps to equilibrium</th><th>angle / eta_r at S-jumps</th><th>final test acc</th></tr>";
                for r in &a.runs {
                    let o = |x: Option<f64>| x.map(num).unwrap_or("-".into());
                    h += &format!(
                        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.0}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.3}</td></tr>",
                        num(r.lr),
                        num(r.wd),
                        num(r.lr * r.wd),
                        1.0 / (r.lr * r.wd),
                        r.s_jumps
                            .iter()
                            .map(|x| if r.converged_jumps.contains(x) { format!("{x}*") } else { format!("{x}") })
                            .collect::<Vec<_>>()
                            .join(", "),
                        r.period_steps.map(|p| format!("{p:.0}")).unwrap_or("-".into()),
                        o(r.eta_r),
                        r.angle_ratio.map(|x| format!("{x:.3}")).unwrap_or("-".into()),
                        r.steps_to_equilibrium.map(|x| format!("{x:.0}")).unwrap_or("-".into()),
                        r.at_jumps.iter().map(|j| format!("{}: {}", j.0, num(j.1))).collect::<Vec<_>>().join(", "),
                        r.final_test_acc
                    );
                }
            }
        }
        h += "</table>";
        // rotational arms are not about periods: said only where there are S-jumps
        if let Some(l) = a.period_law.as_ref().filter(|l| e == Experiment::PeriodicLn || !l.points.is_empty()) {
            h += &format!("<p>Period: {}.</p>", html::esc(&l.describe()));
        }
        if let Some(l) = a.equilibrium_law.as_ref().filter(|_| e == Experiment::Rotational) {
            h += &format!("<p>Steps to equilibrium: {}.</p>", html::esc(&l.describe()));
        }
    }
    h
}

/// `silab reproduce beyond`: the three experiments into `out/<experiment>/`, then one report
/// with the cross-architecture summary and their checks.
pub fn reproduce_all(s: Scale, out: &Path, o: &ReproOptions, progress: &mut dyn Progress) -> Result<ReproSummary> {
    let t0 = Instant::now();
    let dir = StudyDir::new(out);
    store::create_dir(&dir.root)?;
    let exps = [Experiment::PeriodicLn, Experiment::RegimesLn, Experiment::Rotational];
    let mut done = vec![];
    for e in exps {
        progress.line(&format!("{}:", e.name()));
        // --sharpness is the regimes' study (ELR sweeps)
        let oe = ReproOptions { sharpness: o.sharpness && e == Experiment::RegimesLn, ..o.clone() };
        let sum = super::reproduce(e, s, &out.join(e.name()), &oe, progress)?;
        done.push((e, sum));
    }
    let arms: Vec<(Experiment, Vec<ArmSummary>)> =
        done.iter().map(|(e, s)| (*e, s.arms.iter().flatten().map(|a| a.summary.clone()).collect())).collect();
    let refs: Vec<(Experiment, &[ArmSummary])> = arms.iter().map(|(e, a)| (*e, a.as_slice())).collect();
    let cross = cross_rows(&refs);
    let checks: Vec<(String, bool)> = done
        .iter()
        .flat_map(|(e, s)| s.checks.iter().map(move |(w, ok)| (format!("{}: {w}", e.name()), *ok)))
        .collect();
    let seconds = done.iter().map(|(_, s)| s.seconds).sum::<f64>().max(t0.elapsed().as_secs_f64());
    let summary = ReproSummary {
        experiment: Experiment::Beyond.name().into(),
        scale: s.name().into(),
        seconds,
        runs: vec![],
        boundaries: None,
        period_scaling: None,
        checks: checks.clone(),
        sharpness: None,
        arms: None,
        cross_architecture: Some(cross.clone()),
    };
    store::write_json(&dir.summary(), &summary)?;
    let (title, about_html) = about(Experiment::Beyond);
    let mut links = String::from("<h2>The experiments</h2><ul>");
    for (e, sm) in &done {
        links += &format!(
            "<li><a href=\"{0}/report.html\">{0}</a>: {1} of {2} checks hold, {3:.1} minutes</li>",
            e.name(),
            sm.checks.iter().filter(|c| c.1).count(),
            sm.checks.len(),
            sm.seconds / 60.0
        );
    }
    links += "</ul>";
    let figures: Vec<(String, PathBuf)> = done
        .iter()
        .flat_map(|(e, _)| {
            let d = out.join(e.name());
            figs::names(kind(*e))
                .into_iter()
                .map(move |(stem, cap)| (cap.to_string(), d.join(stem).with_extension("png")))
        })
        // a sharpness figure left by an earlier --sharpness run is not this run's
        .filter(|(_, p)| p.is_file() && (o.sharpness || !p.ends_with("fig_sharpness_ln.png")))
        .collect();
    let points = done.iter().map(|(_, s)| s.runs.len()).sum();
    // the experiments' tables, counted (the header line aside)
    let rows = done
        .iter()
        .map(|(e, _)| {
            let t = StudyDir::new(out.join(e.name())).table_csv();
            std::fs::read_to_string(&t).map(|c| c.lines().count().saturating_sub(1)).unwrap_or(0)
        })
        .sum();
    let page = html::Page {
        title: &title,
        command: format!("silab reproduce beyond --scale {}", s.name()),
        scale_note: s != Scale::Paper,
        checks: &checks,
        figures: &figures,
        sections: vec![cross_table(&cross), links, about_html],
        sweep_toml: "",
        seconds,
        rows,
        points,
    };
    store::write_atomic(&dir.report(), page.render()?.as_bytes())?;
    Ok(summary)
}
