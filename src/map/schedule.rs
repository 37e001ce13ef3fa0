//! A schedule read off a regime map (`silab map --schedule`), run beside two references over the
//! same epochs: P2 found the best minima by training in regime 2 and then fine-tuning at a small
//! ELR; this measures whether a schedule built from the map's boundaries does as well, on the
//! map's own network and data. Three full-length runs of the base config (one sweep in
//! `DIR/schedule`):
//!
//! - **map**: the lowest ELR seen in regime 2 (the upper end of the 1→2 bracket) for the first
//!   half of the epochs, then a third of the highest ELR seen converging (the lower end);
//! - **best constant**: the highest ELR seen converging, throughout (P2: the best test error of
//!   the constant-ELR runs lies just below the 1→2 boundary);
//! - **cosine**: cosine decay from the map schedule's first ELR to 0.
//!
//! Each final point's sharpness (top Hessian eigenvalue of the SI group, effective) is measured.
//! The claim that the map's schedule is at least as good is measured, not assumed.

use super::Boundary;
use super::MapSummary;
use super::exec::{MapDir, MapRequest};
use crate::config::{self, RunConfig};
use crate::landscape::curvature;
use crate::numfmt::num;
use crate::progress::{Progress, Silent};
use crate::regime::Series;
use crate::report::figures::{Curve, Figure, Panel, Style};
use crate::run::Summary;
use crate::store::{self, SweepDir};
use crate::sweep::{self, Executor, Launched, Manifest, SweepSpec};
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One arm of the comparison.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Arm {
    pub name: String,
    /// How its ELR moves, in words.
    pub schedule: String,
    pub final_train_loss: f64,
    pub final_test_acc: f64,
    pub best_test_acc: f64,
    /// Top eigenvalue of the SI group's Hessian at the final point, effective (times rho^2).
    pub eff_top_eig: f64,
    pub dir: String,
}

/// `schedule.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Comparison {
    pub epochs: usize,
    pub high: f64,
    pub low: f64,
    pub drop_at_epoch: usize,
    pub arms: Vec<Arm>,
    /// The map schedule's final test accuracy at least the best of the others', and its final
    /// train loss at most theirs.
    pub map_best_test_acc: bool,
    pub map_lowest_train_loss: bool,
}

/// The ELRs of the schedule from the map: `(high, low)`.
pub fn elrs(s: &MapSummary) -> Result<(f64, f64)> {
    match &s.convergence_chaotic {
        Boundary::Bracketed { lo, hi, .. } => Ok((*hi, lo / 3.0)),
        b => bail!(
            "the map found no 1->2 boundary ({}): a schedule across it needs both regimes in the range",
            b.describe("chaotic equilibrium", "convergence")
        ),
    }
}

/// The comparison's sweep: three zipped arms of the base config at full length.
fn spec(base: &str, high: f64, low: f64, epochs: usize) -> Result<SweepSpec> {
    let mut t: toml::Table = base.parse().context("the map's base config")?;
    config::apply_set(&mut t, "train.stop_when=\"never\"")?;
    let drop = (epochs / 2).max(1);
    let s = |x: &str| toml::Value::String(x.into());
    let f = toml::Value::Float;
    let ms = |v: Vec<i64>| toml::Value::Array(v.into_iter().map(toml::Value::Integer).collect());
    Ok(SweepSpec {
        name: "map-schedule".into(),
        base: t,
        axes: vec![
            ("optim.elr".into(), vec![f(high), f(low * 3.0), f(high)]),
            ("optim.schedule".into(), vec![s("step"), s("constant"), s("cosine")]),
            ("optim.milestones".into(), vec![ms(vec![drop as i64]), ms(vec![]), ms(vec![])]),
            ("optim.gamma".into(), vec![f(low / high), f(0.1), f(0.1)]),
        ],
        seeds: vec![RunConfig::from_parts(Some((base, "map base")), &[])?.seed],
        zip: vec!["optim.elr".into(), "optim.schedule".into(), "optim.milestones".into(), "optim.gamma".into()],
    })
}

/// Run (or resume) the comparison of the finished map in `md`.
pub fn compare(
    md: &MapDir,
    request: &MapRequest,
    s: &MapSummary,
    jobs: Option<usize>,
    exe: &Path,
    progress: &mut dyn Progress,
) -> Result<Comparison> {
    let (high, low) = elrs(s)?;
    let epochs = RunConfig::from_parts(Some((&request.base, "map.json")), &[])?.train.epochs;
    let sp = spec(&request.base, high, low, epochs)?;
    let sd = SweepDir::new(md.root.join("schedule"));
    progress.line(&format!(
        "schedule: ELR {} for {} epochs then {}, beside constant {} and cosine from {}",
        num(high),
        epochs / 2,
        num(low),
        num(low * 3.0),
        num(high)
    ));
    if let Launched::Ran { report, .. } = sweep::launch(&sp, &sd.root, &Executor::Local { jobs }, exe, progress)?
        && !report.failed.is_empty()
    {
        bail!("schedule comparison: {} run(s) failed; logs in {}", report.failed.len(), sd.logs().display());
    }
    let m = Manifest::read(&sd)?;
    let names = [
        ("map", format!("{} to epoch {}, then {}", num(high), epochs / 2, num(low))),
        ("best constant", format!("{} throughout", num(low * 3.0))),
        ("cosine", format!("cosine from {} to 0", num(high))),
    ];
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let sets = vec![
        "sharpness.images=256".to_string(),
        "sharpness.groups=[\"si\"]".to_string(),
        "sharpness.riemannian=false".to_string(),
        "sharpness.gauss_newton=false".to_string(),
        format!("train.threads={cores}"),
    ];
    let mut arms = vec![];
    for (p, (name, schedule)) in m.points.iter().zip(names) {
        let rd = p.run_dir(&sd);
        let sum = Summary::read(&rd).with_context(|| format!("{}: no summary", rd.root.display()))?;
        let last = *rd.checkpoint_epochs().last().context("no checkpoint")?;
        let rows = curvature::posthoc(&rd.root, Some(&[last]), &sets, &mut Silent, &mut |_| {})?;
        let row = rows.iter().find(|r| r.text("group") == Some("si")).context("no `si` sharpness row")?;
        arms.push(Arm {
            name: name.into(),
            schedule,
            final_train_loss: sum.last.get("train_loss").copied().unwrap_or(f64::NAN),
            final_test_acc: sum.last.get("test_acc").copied().unwrap_or(f64::NAN),
            best_test_acc: sum.best_test_acc.unwrap_or(f64::NAN),
            eff_top_eig: row.get("eff_top_eig"),
            dir: rd.root.strip_prefix(&md.root).unwrap_or(&rd.root).display().to_string(),
        });
    }
    let others = &arms[1..];
    let c = Comparison {
        epochs,
        high,
        low,
        drop_at_epoch: epochs / 2,
        map_best_test_acc: others.iter().all(|o| arms[0].final_test_acc >= o.final_test_acc),
        map_lowest_train_loss: others.iter().all(|o| arms[0].final_train_loss <= o.final_train_loss),
        arms: arms.clone(),
    };
    store::write_json(&md.root.join("schedule.json"), &c)?;
    figure(&sd, &m, &c, &md.root.join("fig_schedule"))?;
    Ok(c)
}

/// Train loss and test error over epochs of the three arms.
fn figure(sd: &SweepDir, m: &Manifest, c: &Comparison, stem: &Path) -> Result<()> {
    let mut loss = Panel {
        title: "train loss".into(),
        x_label: "epoch".into(),
        y_label: "loss".into(),
        log_y: true,
        ..Default::default()
    };
    let mut err =
        Panel { title: "test error".into(), x_label: "epoch".into(), y_label: "error".into(), ..Default::default() };
    let mut elr = Panel {
        title: "ELR".into(),
        x_label: "epoch".into(),
        y_label: "ELR".into(),
        log_y: true,
        ..Default::default()
    };
    for (i, (p, arm)) in m.points.iter().zip(&c.arms).enumerate() {
        let s = Series::from_run(&p.run_dir(sd).root)?;
        let pts = |v: &[f64]| s.epoch.iter().cloned().zip(v.iter().cloned()).filter(|(_, y)| y.is_finite()).collect();
        let label = format!("{}: {}", arm.name, arm.schedule);
        loss.curves.push(Curve { label: label.clone(), points: pts(&s.train_loss), style: Style::Line, color: i });
        let e: Vec<f64> = s.test_acc.iter().map(|a| 1.0 - a).collect();
        err.curves.push(Curve { label: label.clone(), points: pts(&e), style: Style::Line, color: i });
        let el: Vec<f64> = s.elr.iter().map(|x| if *x > 0.0 { *x } else { f64::NAN }).collect();
        elr.curves.push(Curve { label, points: pts(&el), style: Style::Line, color: i });
    }
    Figure { panels: vec![loss, err, elr], cols: 3, panel_size: (520, 380) }.save(stem)
}
