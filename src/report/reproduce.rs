//! `silab reproduce periodic|regimes|mse --scale smoke|cpu|paper`: the papers' experiments as one
//! command: a sweep, its analysis, the papers' figures and a self-contained `report.html`.

use super::figures::{Curve, Figure, Panel, Style};
use super::html;
use crate::analysis::{self, JumpParams, Regime, RegimeParams, SweepAnalysis};
use crate::run::store;
use crate::sweep::{self, SweepDir, SweepSpec, local::SweepObserver};
use anyhow::{Context, Result, bail};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Which paper.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Experiment {
    /// P1: full space, SGD + weight decay: S-jumps and their period.
    Periodic,
    /// P2: on the sphere at fixed ELR: three regimes.
    Regimes,
    /// P3: the regimes with MSE loss.
    Mse,
}

/// How big.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    /// Under 2 minutes on 2 cores: checks the pipeline, not the phenomena.
    Smoke,
    /// Under 20 minutes on 2 cores on the built-in data; shows the phenomena.
    Cpu,
    /// The papers' configurations (ConvNet-32, CIFAR-10, 1000 epochs): for a GPU.
    Paper,
}

impl Experiment {
    pub fn parse(s: &str) -> Result<Experiment> {
        Ok(match s {
            "periodic" => Experiment::Periodic,
            "regimes" => Experiment::Regimes,
            "mse" => Experiment::Mse,
            _ => bail!("unknown experiment `{s}`; choose periodic, regimes or mse"),
        })
    }
    pub fn name(self) -> &'static str {
        match self {
            Experiment::Periodic => "periodic",
            Experiment::Regimes => "regimes",
            Experiment::Mse => "mse",
        }
    }
}

impl Scale {
    pub fn parse(s: &str) -> Result<Scale> {
        Ok(match s {
            "smoke" => Scale::Smoke,
            "cpu" => Scale::Cpu,
            "paper" => Scale::Paper,
            _ => bail!("unknown scale `{s}`; choose smoke, cpu or paper"),
        })
    }
    pub fn name(self) -> &'static str {
        match self {
            Scale::Smoke => "smoke",
            Scale::Cpu => "cpu",
            Scale::Paper => "paper",
        }
    }
}

/// The sweep file of an experiment at a scale. `data_dir` replaces the CIFAR folder (paper scale).
pub fn sweep_text(e: Experiment, s: Scale, data_dir: Option<&Path>) -> String {
    let paper_data = format!(
        "data.name = \"cifar10\"\ndata.dir = \"{}\"\ndata.train_size = 0\ndata.test_size = 0\nmodel.width = 32\ntrain.epochs = 1000\ntrain.device = \"cuda\"\ntrain.checkpoint_every = 10\n",
        data_dir.map(|d| d.display().to_string()).unwrap_or("data/cifar-10-batches-bin".into())
    );
    match (e, s) {
        (Experiment::Periodic, Scale::Smoke) => format!(
            "name = \"periodic-smoke\"\n[base]{SMOKE_BASE}optim.mode = \"full\"\noptim.wd = 0.05\ntrain.epochs = 12\n\
             [axes]\n\"optim.lr\" = [0.05, 0.1]\n"
        ),
        (Experiment::Periodic, Scale::Cpu) => periodic_cpu(),
        (Experiment::Periodic, Scale::Paper) => format!(
            "name = \"periodic-paper\"\n[base]\n{paper_data}optim.mode = \"full\"\noptim.wd = 1e-3\n[axes]\n\"optim.lr\" = [0.001, 0.01, 0.03, 1.0]\n"
        ),
        (Experiment::Regimes | Experiment::Mse, Scale::Smoke) => format!(
            "name = \"{}-smoke\"\n[base]{SMOKE_BASE}loss = \"{}\"\noptim.mode = \"sphere\"\ntrain.epochs = 10\n\
             [axes]\n\"optim.elr\" = [1e-3, 1e-2, 1e-1]\n",
            e.name(),
            if e == Experiment::Mse { "mse" } else { "ce" }
        ),
        (Experiment::Regimes | Experiment::Mse, Scale::Cpu) => regimes_cpu(e),
        (Experiment::Regimes | Experiment::Mse, Scale::Paper) => format!(
            "name = \"{}-paper\"\n[base]\n{paper_data}loss = \"{}\"\noptim.mode = \"sphere\"\n[axes]\n\"optim.elr\" = [1e-5, 1e-4, 5e-4, 1e-3, 2e-3, 5e-3, 5e-2, 1e-1]\n",
            e.name(),
            if e == Experiment::Mse { "mse" } else { "ce" }
        ),
    }
}

/// What every `smoke`-scale run shares: a width-2 net on 256 images, seconds per run.
const SMOKE_BASE: &str = r#"
data.train_size = 256
data.test_size = 128
model.width = 2
train.batch_size = 32
train.threads = 1
train.checkpoint_every = 0
metrics.full_grad = false
"#;

/// What every `cpu`-scale run shares: ConvNet-4 on synthetic images, one thread per run
/// (two runs at a time on 2 cores), the cheap metrics only.
const CPU_BASE: &str = r#"
data.test_size = 500
model.width = 4
train.threads = 1
train.checkpoint_every = 50
metrics.full_grad = false
metrics.layers = false
"#;

/// The `cpu` scale of P1, chosen by measurement (README, "Reproducing the papers"): an easy
/// task (low noise) so the net converges between destabilisations; lr fixed so both runs start
/// at the same ELR, in the convergence regime; wd sets lr*wd to 5e-4 and 1e-3.
pub fn periodic_cpu() -> String {
    format!(
        "name = \"periodic-cpu\"\n[base]{CPU_BASE}data.train_size = 1000\ndata.noise = 0.2\noptim.mode = \"full\"\noptim.lr = 0.01\n\
         train.epochs = 400\ntrain.batch_size = 64\n[axes]\n\"optim.wd\" = [0.05, 0.1]\n"
    )
}

/// The `cpu` scale of P2 and P3, chosen by measurement: an ELR grid across the three regimes.
pub fn regimes_cpu(e: Experiment) -> String {
    let (loss, elrs) = match e {
        Experiment::Mse => ("mse", "[1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0]"),
        _ => ("ce", "[1e-4, 3e-4, 1e-3, 3e-3, 6e-3, 1e-2, 2e-2, 5e-2, 1e-1]"),
    };
    format!(
        "name = \"{}-cpu\"\n[base]{CPU_BASE}data.train_size = 1000\nloss = \"{loss}\"\noptim.mode = \"sphere\"\ntrain.epochs = 150\n[axes]\n\"optim.elr\" = {elrs}\n",
        e.name()
    )
}

/// `summary.json` of a reproduction (the fields scripts rely on, and more).
#[derive(Serialize, Debug)]
pub struct ReproSummary {
    pub experiment: String,
    pub scale: String,
    /// Wall-clock seconds, summed over resumed invocations.
    pub seconds: f64,
    pub runs: Vec<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub boundaries: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period_scaling: Option<analysis::PeriodScaling>,
    /// Each check of the report: `(what, passed)`.
    pub checks: Vec<(String, bool)>,
    /// `--sharpness`: the sharpness study (also in `sharpness.json`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sharpness: Option<super::sharpness::SharpnessStudy>,
}

/// Options of a reproduction besides the experiment and scale.
#[derive(Clone, Debug)]
pub struct ReproOptions {
    /// CIFAR-10 folder for the paper scale.
    pub data_dir: Option<PathBuf>,
    /// Parallel runs (default: cores / threads per run).
    pub jobs: Option<usize>,
    /// `KEY=VALUE` overrides of every run's config.
    pub sets: Vec<String>,
    /// The `silab` binary, which the sweep's workers run.
    pub exe: PathBuf,
    /// Regimes / MSE: also the sharpness study (final points, fine-tuned minima; see
    /// [`super::sharpness`]).
    pub sharpness: bool,
}

/// Run an experiment end to end into `out`.
pub fn reproduce(
    e: Experiment,
    s: Scale,
    out: &Path,
    o: &ReproOptions,
    obs: &mut dyn SweepObserver,
) -> Result<ReproSummary> {
    let (data_dir, jobs, sets, exe) = (o.data_dir.as_deref(), o.jobs, &o.sets, o.exe.as_path());
    let t0 = Instant::now();
    let spec = SweepSpec::parse(&sweep_text(e, s, data_dir), &format!("{} {}", e.name(), s.name()), sets)?;
    let sweep_dir = out.join("sweep");
    let sd = SweepDir::new(&sweep_dir);
    let m = sd.create(&spec)?;
    let (_, cfgs) = spec.manifest()?;
    let jobs = jobs.unwrap_or_else(|| sweep::local::default_jobs(cfgs[0].train.threads));
    let report = sweep::local::run(&sd, jobs, exe, obs)?;
    if !report.failed.is_empty() {
        let list: Vec<String> = report.failed.iter().map(|(i, l)| format!("point {i} ({})", l.display())).collect();
        bail!("{} points failed: {}", report.failed.len(), list.join(", "));
    }
    let table = sweep::table::write(&sd)?;
    std::fs::copy(sweep_dir.join("table.csv"), out.join("table.csv"))?;
    std::fs::copy(sweep_dir.join("table.parquet"), out.join("table.parquet"))?;
    let a = analysis::analyze(&sweep_dir, &JumpParams::default(), &RegimeParams::default())?;
    store::write_atomic(&out.join("analysis.json"), &serde_json::to_vec_pretty(&a)?)?;
    let mut figs = figures_for(e, &sd, &a, out)?;
    let mut checks = checks(e, s, &a);
    let mut study = None;
    if o.sharpness {
        if e == Experiment::Periodic {
            bail!("--sharpness goes with the regimes and mse experiments (an ELR sweep)");
        }
        let (st, f) = super::sharpness::study(&sd, &spec, &a, s, out, jobs, exe, obs)?;
        figs.extend(f);
        let mut c = vec![(
            format!(
                "within the convergence regime, minima are flatter at larger ELR (rank correlation of ELR and eff top eigenvalue {} < 0)",
                st.convergence_rank_corr.map(|r| format!("{r:.2}")).unwrap_or("n/a".into())
            ),
            st.convergence_rank_corr.is_some_and(|r| r < 0.0),
        )];
        c.push((
            "a high-sharpness zone between regimes 1 and 2: the last convergence or first chaotic point is sharper than its neighbours (divergent runs, at no minimum, left out)".into(),
            st.boundary_peak == Some(true),
        ));
        if s == Scale::Smoke {
            c.iter_mut().for_each(|x| x.0 = format!("(not expected at smoke scale) {}", x.0));
        }
        checks.extend(c);
        study = Some(st);
    }
    // wall-clock over every invocation (a resumed reproduction adds to the earlier ones)
    let timing = out.join("timing.json");
    let before: f64 = std::fs::read(&timing)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v["seconds"].as_f64())
        .unwrap_or(0.0);
    let seconds = before + t0.elapsed().as_secs_f64();
    store::write_atomic(&timing, &serde_json::to_vec(&serde_json::json!({ "seconds": seconds }))?)?;
    let runs: Vec<serde_json::Value> = a
        .runs
        .iter()
        .map(|r| match e {
            Experiment::Periodic => serde_json::json!({
                "lr": r.lr, "wd": r.wd, "s_jumps": r.s_jumps, "period_epochs": r.period_epochs,
                "period_steps": r.period_steps, "theory": r.theory, "final_test_acc": r.final_test_acc,
                "regime": r.regime.regime, "dir": r.dir,
            }),
            _ => serde_json::json!({
                "elr": r.elr, "regime": r.regime.regime, "tail": r.regime, "final_test_acc": r.final_test_acc,
                "final_train_loss": r.final_train_loss, "dir": r.dir,
            }),
        })
        .collect();
    let summary = ReproSummary {
        experiment: e.name().into(),
        scale: s.name().into(),
        seconds,
        runs,
        boundaries: a.boundaries.as_ref().map(|b| serde_json::to_value(b).unwrap()),
        period_scaling: a.period_scaling.clone(),
        checks: checks.clone(),
        sharpness: study,
    };
    store::write_atomic(&out.join("summary.json"), &serde_json::to_vec_pretty(&summary)?)?;
    let html = html::report(e, s, &spec.to_toml(), &a, &figs, &checks, seconds, table.rows(), m.points.len())?;
    store::write_atomic(&out.join("report.html"), html.as_bytes())?;
    Ok(summary)
}

/// What must hold for the reproduction to show the paper's phenomena at this scale.
pub fn checks(e: Experiment, s: Scale, a: &SweepAnalysis) -> Vec<(String, bool)> {
    let mut c = vec![];
    match e {
        Experiment::Periodic => {
            let mut by_lrwd: Vec<f64> = a.runs.iter().filter(|r| r.s_jumps.len() >= 3).map(|r| r.lr * r.wd).collect();
            by_lrwd.sort_by(|x, y| x.partial_cmp(y).unwrap());
            by_lrwd.dedup();
            c.push(("at least 3 S-jumps per run for at least two lr*wd values".to_string(), by_lrwd.len() >= 2));
            match &a.period_scaling {
                Some(p) => {
                    c.push(("the period shrinks as lr*wd grows".into(), p.shrinking));
                    c.push((
                        format!(
                            "period ratio {:.2} within a factor 2 of the 1/(lr*wd) prediction {:.2}",
                            p.measured_ratio, p.predicted_ratio
                        ),
                        p.measured_ratio / p.predicted_ratio < 2.0 && p.predicted_ratio / p.measured_ratio < 2.0,
                    ));
                }
                None => c.push(("a period measured for two lr*wd values".into(), false)),
            }
        }
        Experiment::Regimes | Experiment::Mse => {
            let has = |r: Regime| a.runs.iter().any(|x| x.regime.regime == r);
            c.push((
                "all three regimes appear".into(),
                has(Regime::Convergence) && has(Regime::Chaotic) && has(Regime::Divergence),
            ));
            let ordered = a.boundaries.as_ref().map(|b| b.ordered).unwrap_or(false);
            c.push(("regimes in increasing-ELR order: convergence, chaotic, divergence".into(), ordered));
        }
    }
    if s == Scale::Smoke {
        // smoke checks the pipeline only
        c.iter_mut().for_each(|x| x.0 = format!("(not expected at smoke scale) {}", x.0));
    }
    c
}

fn regime_color(r: Regime) -> usize {
    match r {
        Regime::Convergence => 2,
        Regime::Chaotic => 1,
        Regime::Divergence => 3,
    }
}

/// Shaded ELR bands, one per run of an ELR sweep sorted by ELR (`(elr, regime)`): each band
/// reaches halfway (geometrically) to its neighbours, in its regime's colour, labelled once per
/// regime. For the figures against ELR.
pub(crate) fn regime_shade(runs: &[(f64, Regime)]) -> Vec<(f64, f64, String, usize)> {
    let mut shade = vec![];
    for (k, &(elr, regime)) in runs.iter().enumerate() {
        let lo = if k == 0 { elr / 2.0 } else { (runs[k - 1].0 * elr).sqrt() };
        let hi = if k + 1 == runs.len() { elr * 2.0 } else { (runs[k + 1].0 * elr).sqrt() };
        let first = !runs[..k].iter().any(|q| q.1 == regime);
        let name = if first { format!("{regime:?}").to_lowercase() } else { String::new() };
        shade.push((lo, hi, name, regime_color(regime)));
    }
    shade
}

/// The papers' figures for this experiment (PNG and SVG in `out`); returns `(caption, png path)`.
fn figures_for(e: Experiment, sd: &SweepDir, a: &SweepAnalysis, out: &Path) -> Result<Vec<(String, PathBuf)>> {
    let m = sd.manifest()?;
    let series: Vec<(analysis::Series, &analysis::RunAnalysis)> = m
        .points
        .iter()
        .zip(&a.runs)
        .map(|(p, r)| Ok((analysis::Series::from_run(&sd.run_dir(p).root)?, r)))
        .collect::<Result<_>>()
        .context("reading runs for figures")?;
    let ep = |s: &analysis::Series, v: &[f64]| s.epoch.iter().cloned().zip(v.iter().cloned()).collect::<Vec<_>>();
    let mut figs = vec![];
    let panel = |title: &str, y: &str, log_y: bool| Panel {
        title: title.into(),
        x_label: "epoch".into(),
        y_label: y.into(),
        log_y,
        ..Default::default()
    };
    match e {
        Experiment::Periodic => {
            let (mut loss, mut err, mut rho) = (
                panel("train loss", "loss", true),
                panel("test error", "error", false),
                panel("rho = ||w_SI||", "rho", false),
            );
            let mut phase = Panel {
                title: "ELR vs effective gradient norm".into(),
                x_label: "ELR".into(),
                y_label: "g_eff".into(),
                log_x: true,
                log_y: true,
                ..Default::default()
            };
            for (i, (s, r)) in series.iter().enumerate() {
                let label = format!("lr {} (lr*wd {:.0e})", r.lr, r.lr * r.wd);
                loss.curves.push(Curve {
                    label: label.clone(),
                    points: ep(s, &s.train_loss),
                    style: Style::Line,
                    color: i,
                });
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
                // theory: equilibrium ELR* = sqrt(2 lr wd) / g_eff
                let gs: Vec<f64> = pts.iter().map(|p| p.1).filter(|g| g.is_finite() && *g > 0.0).collect();
                if let (Some(lo), Some(hi)) = (gs.iter().cloned().reduce(f64::min), gs.iter().cloned().reduce(f64::max))
                {
                    let c = (2.0 * r.lr * r.wd).sqrt();
                    phase.curves.push(Curve {
                        label: format!("ELR* = sqrt(2 lr wd)/g_eff, lr {}", r.lr),
                        points: vec![(c / lo, lo), (c / hi, hi)],
                        style: Style::Reference,
                        color: i,
                    });
                }
            }
            let f = Figure { panels: vec![loss, err, rho], cols: 3, panel_size: (520, 380) };
            f.save(&out.join("fig_p1_dynamics"))?;
            figs.push((
                "P1 Fig. 2 (left): train loss with S-jumps marked, test error, rho over epochs".into(),
                out.join("fig_p1_dynamics.png"),
            ));
            let f = Figure { panels: vec![phase], cols: 1, panel_size: (700, 500) };
            f.save(&out.join("fig_p1_phase"))?;
            figs.push((
                "P1 Fig. 2 (right): ELR against effective gradient norm, with the equilibrium line".into(),
                out.join("fig_p1_phase.png"),
            ));
        }
        Experiment::Regimes | Experiment::Mse => {
            let p = if e == Experiment::Mse { "P3" } else { "P2" };
            let (mut loss, mut err, mut geff) = (
                panel("train loss", "loss", true),
                panel("test error", "error", false),
                panel("effective gradient norm", "g_eff", true),
            );
            for (i, (s, r)) in series.iter().enumerate() {
                let label = format!("ELR {:.0e} ({:?})", r.elr, r.regime.regime).to_lowercase().replace("elr", "ELR");
                loss.curves.push(Curve {
                    label: label.clone(),
                    points: ep(s, &s.train_loss),
                    style: Style::Line,
                    color: i,
                });
                err.curves.push(Curve {
                    label: label.clone(),
                    points: ep(s, &s.test_acc.iter().map(|a| 1.0 - a).collect::<Vec<_>>()),
                    style: Style::Line,
                    color: i,
                });
                geff.curves.push(Curve { label, points: ep(s, &s.eff_grad_norm), style: Style::Line, color: i });
            }
            let f = Figure { panels: vec![loss, err, geff], cols: 3, panel_size: (520, 380) };
            f.save(&out.join("fig_dynamics"))?;
            figs.push((
                format!("{p} Fig. 1 (top): train loss, test error and effective gradient norm over epochs, per ELR"),
                out.join("fig_dynamics.png"),
            ));
            // final metrics against ELR with the regimes shaded
            let mut runs: Vec<&analysis::RunAnalysis> = a.runs.iter().collect();
            runs.sort_by(|x, y| x.elr.partial_cmp(&y.elr).unwrap());
            let shade = regime_shade(&runs.iter().map(|r| (r.elr, r.regime.regime)).collect::<Vec<_>>());
            let pts =
                |f: &dyn Fn(&analysis::RunAnalysis) -> f64| runs.iter().map(|r| (r.elr, f(r))).collect::<Vec<_>>();
            let final_loss = Panel {
                title: "train loss at the end (tail median)".into(),
                x_label: "ELR".into(),
                y_label: "loss".into(),
                log_x: true,
                log_y: true,
                curves: vec![Curve {
                    label: String::new(),
                    points: pts(&|r| r.regime.tail_train_loss),
                    style: Style::LinePoints,
                    color: 0,
                }],
                shade: shade.clone(),
            };
            let final_err = Panel {
                title: "test error at the end (tail median)".into(),
                x_label: "ELR".into(),
                y_label: "error".into(),
                log_x: true,
                curves: vec![Curve {
                    label: String::new(),
                    points: pts(&|r| 1.0 - r.regime.tail_test_acc),
                    style: Style::LinePoints,
                    color: 0,
                }],
                shade,
                ..Default::default()
            };
            let f = Figure { panels: vec![final_loss, final_err], cols: 2, panel_size: (600, 420) };
            f.save(&out.join("fig_final_vs_elr"))?;
            figs.push((
                format!("{p} Fig. 1 (bottom): final train loss and test error against ELR, regimes shaded"),
                out.join("fig_final_vs_elr.png"),
            ));
        }
    }
    Ok(figs)
}
