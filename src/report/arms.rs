//! Figures and tables of the experiments of several arms, beyond the thesis
//! ([`crate::studies::multi_arm`]): one panel (or a row of panels) per arm, the laws against lr*wd
//! with their 1/(lr*wd) references, the per-arm tables and the cross-architecture summary.

use super::figures::{Curve, Figure, Panel, Style};
use super::html::esc;
use super::law_panel::law_panel;
use super::papers::regime_shade;
use crate::analysis::Series;
use crate::analysis::arms::{ArmSummary, Law, Net};
use crate::numfmt::num;
use crate::store::StudyDir;
use anyhow::Result;
use serde::Serialize;
use std::path::PathBuf;

/// One row of the cross-architecture summary: what each experiment found for one network and
/// optimizer (`None`: not an arm of that experiment).
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

/// Which experiment a figure or table belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    PeriodicLn,
    RegimesLn,
    Rotational,
}

/// The figures of each experiment: `(file stem, caption)`.
pub fn names(e: Kind) -> Vec<(&'static str, &'static str)> {
    match e {
        Kind::PeriodicLn => vec![
            ("fig_periodic_ln", "periodic-ln: train loss (S-jumps marked) and ELR over epochs, per arm and lr·wd"),
            ("fig_period_law", "periodic-ln: S-jump period against lr·wd per arm, with 1/(lr·wd) references"),
        ],
        Kind::RegimesLn => vec![
            ("fig_regimes_ln", "regimes-ln: final train loss against ELR per arm, regimes shaded"),
            ("fig_sharpness_ln", "regimes-ln: sharpness (eff top eigenvalue) of the final points against ELR, per arm"),
        ],
        Kind::Rotational => vec![
            ("fig_angle_ratio", "rotational: mean angular update per step over the predicted eta_r, per arm and lr·wd"),
            (
                "fig_time_to_equilibrium",
                "rotational: steps to equilibrium against lr·wd per arm, with 1/(lr·wd) references",
            ),
            ("fig_jumps", "rotational: train loss and angular update / eta_r around S-jumps (periodic regime)"),
        ],
    }
}

fn caption(e: Kind, stem: &str) -> String {
    names(e).into_iter().find(|n| n.0 == stem).map(|n| n.1.to_string()).unwrap_or_default()
}

fn save(e: Kind, f: Figure, stem: &str, dir: &StudyDir, out: &mut Vec<(String, PathBuf)>) -> Result<()> {
    f.save(&dir.figure(stem))?;
    out.push((caption(e, stem), dir.figure(stem).with_extension("png")));
    Ok(())
}

fn over_epochs(title: String, y: &str, log_y: bool) -> Panel {
    Panel { title, x_label: "epoch".into(), y_label: y.into(), log_y, ..Default::default() }
}

fn ep(s: &Series, v: &[f64]) -> Vec<(f64, f64)> {
    s.epoch.iter().cloned().zip(v.iter().cloned()).collect()
}

/// Measured over predicted angular update of the whole SI group, per epoch row.
fn angle_ratio(s: &Series) -> Vec<(f64, f64)> {
    match s.angles.first() {
        Some((_, a)) => s.epoch.iter().zip(a.iter().zip(&s.angle_eq)).map(|(e, (a, q))| (*e, a / q)).collect(),
        None => vec![],
    }
}

/// The points of `pts` at the given epochs (the S-jumps), for markers on a curve.
fn at_epochs(pts: &[(f64, f64)], epochs: &[f64]) -> Vec<(f64, f64)> {
    epochs.iter().filter_map(|j| pts.iter().find(|p| p.0 == *j).copied()).collect()
}

/// The predicted equilibrium, ratio 1, as a reference line over epochs `[0, last]`.
fn eta_line(last: f64) -> Curve {
    Curve { label: "eta_r".into(), points: vec![(0.0, 1.0), (last, 1.0)], style: Style::Reference, color: 7 }
}

/// `fig_periodic_ln` and `fig_period_law`.
pub fn periodic_ln(arms: &[ArmSummary], series: &[Vec<Series>], dir: &StudyDir) -> Result<Vec<(String, PathBuf)>> {
    let e = Kind::PeriodicLn;
    let mut out = vec![];
    let mut panels = vec![];
    for (a, ss) in arms.iter().zip(series) {
        let (mut loss, mut elr) = (
            over_epochs(format!("{}: train loss", a.label), "loss", true),
            over_epochs(format!("{}: ELR", a.label), "ELR", true),
        );
        for (i, (r, s)) in a.runs.iter().zip(ss).enumerate() {
            let label = format!("lr·wd {}", num(r.lr * r.wd));
            loss.curves.push(Curve {
                label: label.clone(),
                points: ep(s, &s.train_loss),
                style: Style::Line,
                color: i,
            });
            let jumps = at_epochs(&ep(s, &s.train_loss), &r.s_jumps);
            loss.curves.push(Curve { label: String::new(), points: jumps, style: Style::Points, color: i });
            elr.curves.push(Curve {
                label,
                points: ep(s, &s.elr).into_iter().skip(1).collect(),
                style: Style::Line,
                color: i,
            });
        }
        panels.push(loss);
        panels.push(elr);
    }
    save(e, Figure { panels, cols: 2, panel_size: (560, 330) }, "fig_periodic_ln", dir, &mut out)?;
    let laws: Vec<(&str, &Law)> =
        arms.iter().filter_map(|a| Some((a.label.as_str(), a.period_law.as_ref()?))).collect();
    let p = law_panel("S-jump period against lr·wd", "period (steps)", &laws);
    save(e, Figure { panels: vec![p], cols: 1, panel_size: (760, 480) }, "fig_period_law", dir, &mut out)?;
    Ok(out)
}

/// `fig_regimes_ln`, and `fig_sharpness_ln` when the arms carry a sharpness study.
/// `sharpness`: `(arm label, (ELR, eff top eigenvalue) of each final point)` of the arms
/// measured.
pub fn regimes_ln(
    arms: &[ArmSummary],
    sharpness: &[(String, Vec<(f64, f64)>)],
    dir: &StudyDir,
) -> Result<Vec<(String, PathBuf)>> {
    let e = Kind::RegimesLn;
    let mut out = vec![];
    let mut panels = vec![];
    for a in arms {
        let mut runs: Vec<_> = a.runs.iter().collect();
        runs.sort_by(|x, y| x.elr.total_cmp(&y.elr));
        panels.push(Panel {
            title: a.label.clone(),
            x_label: "ELR".into(),
            y_label: "final train loss".into(),
            log_x: true,
            log_y: true,
            curves: vec![Curve {
                label: String::new(),
                points: runs.iter().map(|r| (r.elr, r.final_train_loss)).collect(),
                style: Style::LinePoints,
                color: 0,
            }],
            shade: regime_shade(&runs.iter().map(|r| (r.elr, r.regime)).collect::<Vec<_>>()),
        });
    }
    save(e, Figure { panels, cols: 3, panel_size: (440, 340) }, "fig_regimes_ln", dir, &mut out)?;
    if !sharpness.is_empty() {
        let mut p = Panel {
            title: "sharpness of the final points".into(),
            x_label: "ELR".into(),
            y_label: "eff top eigenvalue".into(),
            log_x: true,
            log_y: true,
            ..Default::default()
        };
        for (i, (label, pts)) in sharpness.iter().enumerate() {
            p.curves.push(Curve { label: label.clone(), points: pts.clone(), style: Style::LinePoints, color: i });
        }
        save(e, Figure { panels: vec![p], cols: 1, panel_size: (760, 480) }, "fig_sharpness_ln", dir, &mut out)?;
    }
    Ok(out)
}

/// `fig_angle_ratio`, `fig_time_to_equilibrium` and (when an arm has S-jumps) `fig_jumps`.
pub fn rotational(arms: &[ArmSummary], series: &[Vec<Series>], dir: &StudyDir) -> Result<Vec<(String, PathBuf)>> {
    let e = Kind::Rotational;
    let mut out = vec![];
    let jumpy = |a: &ArmSummary| a.jumps;
    let mut panels = vec![];
    for (a, ss) in arms.iter().zip(series).filter(|(a, _)| !jumpy(a)) {
        let mut p = over_epochs(a.label.clone(), "angle / eta_r", true);
        let mut last = 0.0f64;
        for (i, (r, s)) in a.runs.iter().zip(ss).enumerate() {
            last = last.max(s.epoch.last().copied().unwrap_or(0.0));
            p.curves.push(Curve {
                label: format!("lr·wd {}", num(r.lr * r.wd)),
                points: angle_ratio(s),
                style: Style::Line,
                color: i,
            });
        }
        p.curves.push(eta_line(last));
        panels.push(p);
    }
    if !panels.is_empty() {
        save(e, Figure { panels, cols: 4, panel_size: (400, 320) }, "fig_angle_ratio", dir, &mut out)?;
        let laws: Vec<(&str, &Law)> = arms
            .iter()
            .filter(|a| !jumpy(a))
            .filter_map(|a| Some((a.label.as_str(), a.equilibrium_law.as_ref()?)))
            .collect();
        let p = law_panel("steps until the angular update is within 10% of eta_r", "steps", &laws);
        save(e, Figure { panels: vec![p], cols: 1, panel_size: (760, 480) }, "fig_time_to_equilibrium", dir, &mut out)?;
    }
    let mut panels = vec![];
    for (a, ss) in arms.iter().zip(series).filter(|(a, _)| jumpy(a)) {
        let (mut loss, mut ratio) = (
            over_epochs(format!("{}: train loss", a.label), "loss", true),
            over_epochs(format!("{}: angle / eta_r", a.label), "angle / eta_r", true),
        );
        let mut last = 0.0f64;
        for (i, (r, s)) in a.runs.iter().zip(ss).enumerate() {
            last = last.max(s.epoch.last().copied().unwrap_or(0.0));
            let label = format!("lr·wd {}", num(r.lr * r.wd));
            loss.curves.push(Curve {
                label: label.clone(),
                points: ep(s, &s.train_loss),
                style: Style::Line,
                color: i,
            });
            let ra = angle_ratio(s);
            let jumps = at_epochs(&ep(s, &s.train_loss), &r.s_jumps);
            loss.curves.push(Curve { label: String::new(), points: jumps, style: Style::Points, color: i });
            ratio.curves.push(Curve {
                label: String::new(),
                points: at_epochs(&ra, &r.s_jumps),
                style: Style::Points,
                color: i,
            });
            ratio.curves.push(Curve { label, points: ra, style: Style::Line, color: i });
        }
        ratio.curves.push(eta_line(last));
        panels.push(loss);
        panels.push(ratio);
    }
    if !panels.is_empty() {
        save(e, Figure { panels, cols: 2, panel_size: (560, 360) }, "fig_jumps", dir, &mut out)?;
    }
    Ok(out)
}

fn cell(s: &Option<String>) -> String {
    // "—": the network and optimizer are not an arm of that experiment
    esc(s.as_deref().unwrap_or("—"))
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
pub fn arm_tables(e: Kind, arms: &[ArmSummary]) -> String {
    let mut h = String::from("<h2>Ours, per arm and run</h2>");
    for a in arms {
        h += &format!("<h3>{} <small>(<code>{}</code>)</small></h3><table>", esc(&a.label), esc(&a.dir));
        match e {
            Kind::RegimesLn => {
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
        if let Some(l) = a.period_law.as_ref().filter(|l| e == Kind::PeriodicLn || !l.points.is_empty()) {
            h += &format!("<p>Period: {}.</p>", esc(&l.describe()));
        }
        if let Some(l) = a.equilibrium_law.as_ref().filter(|_| e == Kind::Rotational) {
            h += &format!("<p>Steps to equilibrium: {}.</p>", esc(&l.describe()));
        }
    }
    h
}
