//! `silab reproduce EXPERIMENT --scale smoke|cpu|paper`: the papers' experiments as one command
//! (a sweep, its analysis, the papers' figures and a self-contained `report.html`). The
//! experiments themselves are data: `setups.toml` (compiled in) holds each one's title, the
//! papers' numbers and one sweep per scale.

pub mod beyond;
pub mod sharpness;

use crate::analysis::{self, JumpParams, Regime, RegimeParams, SweepAnalysis};
use crate::config;
use crate::progress::Progress;
use crate::report::{html, papers};
use crate::store::{self, StudyDir};
use crate::sweep::{self, Manifest, SweepSpec};
use anyhow::{Context, Result, bail};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Which paper.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Experiment {
    /// P1: full space, SGD + weight decay: S-jumps and their period.
    Periodic,
    /// P2: on the sphere at fixed ELR: three regimes.
    Regimes,
    /// P3: the regimes with MSE loss.
    Mse,
    /// Beyond the thesis: periodic behaviour (S-jumps, period against lr*wd) of LayerNorm MLPs
    /// and the scale-invariant ViT, with SGD and AdamW.
    PeriodicLn,
    /// Beyond the thesis: the three regimes on the sphere for the MLP-LN and the SI-ViT with SGD
    /// and Adam, against the BatchNorm ConvNet on the same data and ELR grid.
    RegimesLn,
    /// Beyond the thesis: measured angular update against the predicted rotational equilibrium
    /// for SGD, SGDM, AdamW and Lion on a BatchNorm ConvNet and a LayerNorm MLP; time to
    /// equilibrium against 1/(lr*wd); the angular update around S-jumps.
    Rotational,
    /// periodic-ln, regimes-ln and rotational into one folder, with the cross-architecture
    /// summary.
    Beyond,
}

/// How big.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Scale {
    /// Seconds to a minute on 2 cores: checks the pipeline, not the phenomena.
    Smoke,
    /// Under 20 minutes on 2 cores on the built-in data; shows the phenomena.
    Cpu,
    /// The papers' configurations (ConvNet-32, CIFAR-10, 1000 epochs): for a GPU.
    Paper,
}

impl Experiment {
    pub const ALL: [Experiment; 7] = [
        Experiment::Periodic,
        Experiment::Regimes,
        Experiment::Mse,
        Experiment::PeriodicLn,
        Experiment::RegimesLn,
        Experiment::Rotational,
        Experiment::Beyond,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Experiment::Periodic => "periodic",
            Experiment::Regimes => "regimes",
            Experiment::Mse => "mse",
            Experiment::PeriodicLn => "periodic-ln",
            Experiment::RegimesLn => "regimes-ln",
            Experiment::Rotational => "rotational",
            Experiment::Beyond => "beyond",
        }
    }
    /// The paper it reproduces, or "beyond", for captions.
    fn paper(self) -> &'static str {
        match self {
            Experiment::Periodic => "P1",
            Experiment::Regimes => "P2",
            Experiment::Mse => "P3",
            _ => "beyond",
        }
    }
    /// An experiment of several arms (one sweep per network and optimizer), [`beyond`].
    pub fn has_arms(self) -> bool {
        matches!(self, Experiment::PeriodicLn | Experiment::RegimesLn | Experiment::Rotational)
    }
}

impl Scale {
    pub const ALL: [Scale; 3] = [Scale::Smoke, Scale::Cpu, Scale::Paper];
    pub fn name(self) -> &'static str {
        match self {
            Scale::Smoke => "smoke",
            Scale::Cpu => "cpu",
            Scale::Paper => "paper",
        }
    }
}

fn setups() -> toml::Table {
    include_str!("setups.toml").parse().expect("setups.toml parses")
}

fn table(v: Option<&toml::Value>) -> toml::Table {
    v.and_then(|v| v.as_table()).cloned().unwrap_or_default()
}

/// An experiment's title and the papers' numbers (HTML), from `setups.toml`.
pub fn about(e: Experiment) -> (String, String) {
    let all = setups();
    let t = table(all.get(e.name()));
    let s = |k: &str| t.get(k).and_then(|v| v.as_str()).unwrap_or_default().trim().to_string();
    (s("title"), s("numbers"))
}

/// One sweep of an experiment: the whole experiment for the papers' ones, one network and
/// optimizer for those beyond the thesis.
#[derive(Clone, Debug)]
pub struct Arm {
    /// Its key in `setups.toml` and its folder under `arms/` (empty for a single-sweep
    /// experiment).
    pub key: String,
    /// For people: "MLP-LN + SGD".
    pub label: String,
    /// Meant to show S-jumps (P1's periodic regime) rather than an equilibrium (`jumps = true`).
    pub jumps: bool,
    pub spec: SweepSpec,
}

/// Merge the shared bases named by `from.base` (a name or a list of names) and the preset
/// `from.preset` into `base`.
fn merge_from(base: &mut toml::Table, all: &toml::Table, from: &toml::Table) -> Result<()> {
    let bases = table(all.get("bases"));
    let names: Vec<String> = match from.get("base") {
        Some(toml::Value::String(b)) => vec![b.clone()],
        Some(toml::Value::Array(v)) => v.iter().filter_map(|b| b.as_str().map(String::from)).collect(),
        _ => vec![],
    };
    for b in names {
        config::merge(base, table(bases.get(&b)).clone());
    }
    if let Some(p) = from.get("preset").and_then(|p| p.as_str()) {
        config::merge(base, config::preset(p)?.table);
    }
    Ok(())
}

/// The sweeps of an experiment at a scale, from `setups.toml`. A scale's `[base]` starts from
/// the shared bases (`bases.smoke`, `bases.cpu`, ...) or a preset (paper scale), then its own
/// keys; each of its `arms.<key>` (if any) adds its own bases, keys and axes. `data_dir` sets
/// `data.dir` at the paper scale (the CIFAR-10 folder); `sets` override every [base].
pub fn arms(e: Experiment, s: Scale, data_dir: Option<&Path>, sets: &[String]) -> Result<Vec<Arm>> {
    let all = setups();
    let exp = table(all.get(e.name()));
    let scale = table(exp.get(s.name()));
    let mut base = toml::Table::new();
    merge_from(&mut base, &all, &table(scale.get("from")))?;
    config::merge(&mut base, table(scale.get("base")));
    let name = scale.get("name").and_then(|n| n.as_str()).context("setups.toml: a scale without a name")?;
    let mut parts: Vec<(String, String, bool, toml::Table, toml::Table)> = vec![];
    match scale.get("arms").and_then(|a| a.as_table()) {
        None => parts.push((String::new(), String::new(), false, base, table(scale.get("axes")))),
        Some(arms) => {
            for (key, arm) in arms {
                let arm = table(Some(arm));
                let mut b = base.clone();
                merge_from(&mut b, &all, &table(arm.get("from")))?;
                config::merge(&mut b, table(arm.get("base")));
                let label = arm.get("label").and_then(|l| l.as_str()).unwrap_or(key).to_string();
                let jumps = arm.get("jumps").and_then(|j| j.as_bool()).unwrap_or(false);
                parts.push((key.clone(), label, jumps, b, table(arm.get("axes"))));
            }
        }
    }
    let mut out = vec![];
    for (key, label, jumps, mut b, axes) in parts {
        if let (Scale::Paper, Some(d)) = (s, data_dir) {
            config::apply_set(&mut b, &format!("data.dir={}", toml::Value::String(d.display().to_string())))?;
        }
        let mut file = toml::Table::new();
        let n = if key.is_empty() { name.to_string() } else { format!("{name}-{key}") };
        file.insert("name".into(), toml::Value::String(n));
        file.insert("base".into(), toml::Value::Table(b));
        file.insert("axes".into(), toml::Value::Table(axes));
        let text = toml::to_string(&file)?;
        let origin = if key.is_empty() {
            format!("{} {}", e.name(), s.name())
        } else {
            format!("{} {} arm {key}", e.name(), s.name())
        };
        out.push(Arm { key, label, jumps, spec: SweepSpec::parse(&text, &origin, sets)? });
    }
    Ok(out)
}

/// The sweep of a single-sweep experiment (the papers' ones) at a scale; see [`arms`].
pub fn sweep_spec(e: Experiment, s: Scale, data_dir: Option<&Path>, sets: &[String]) -> Result<SweepSpec> {
    if e.has_arms() || e == Experiment::Beyond {
        bail!("{} has several sweeps (arms): see studies::arms", e.name());
    }
    Ok(arms(e, s, data_dir, sets)?.remove(0).spec)
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
    pub sharpness: Option<sharpness::SharpnessStudy>,
    /// The experiments beyond the thesis: each arm (network and optimizer) and its results.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arms: Option<Vec<beyond::ArmResult>>,
    /// The experiments beyond the thesis: one row per network and optimizer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cross_architecture: Option<Vec<beyond::CrossRow>>,
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
    /// [`sharpness`]).
    pub sharpness: bool,
}

/// The default output folder: `reproduce/<experiment>-<scale>`.
pub fn default_dir(e: Experiment, s: Scale) -> PathBuf {
    store::default_study_dir(e.name(), s.name())
}

/// Run an experiment end to end into `out` (rerunning on the same folder resumes).
pub fn reproduce(
    e: Experiment,
    s: Scale,
    out: &Path,
    o: &ReproOptions,
    progress: &mut dyn Progress,
) -> Result<ReproSummary> {
    if o.sharpness && matches!(e, Experiment::Periodic | Experiment::PeriodicLn | Experiment::Rotational) {
        bail!("--sharpness goes with the regimes, mse, regimes-ln and beyond experiments (ELR sweeps)");
    }
    if e == Experiment::Beyond {
        return beyond::reproduce_all(s, out, o, progress);
    }
    if e.has_arms() {
        return beyond::reproduce(e, s, out, o, progress);
    }
    let t0 = Instant::now();
    let dir = StudyDir::new(out);
    store::create_dir(&dir.root)?;
    let spec = sweep_spec(e, s, o.data_dir.as_deref(), &o.sets)?;
    let sd = dir.sweep();
    let m = sweep::create(&sd, &spec)?;
    let (_, cfgs) = spec.manifest()?;
    let jobs = o.jobs.unwrap_or_else(|| sweep::local::default_jobs(cfgs[0].train.threads));
    let report = sweep::local::run(&sd, jobs, &o.exe, progress)?;
    all_done(&report)?;
    let table = sweep::table::write(&sd)?;
    store::copy(&sd.table_csv("table"), &dir.table_csv())?;
    store::copy(&sd.table_parquet("table"), &dir.table_parquet())?;
    let a = analysis::analyze(&sd.root, &JumpParams::default(), &RegimeParams::default())?;
    store::write_json(&dir.analysis(), &a)?;
    let mut figs = figures(e, &sd, &a, &dir)?;
    let mut checks = checks(e, s, &a);
    let mut study = None;
    if o.sharpness {
        let (st, f) = sharpness::study(&sd, &spec, &a, s, &dir, jobs, &o.exe, progress)?;
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
    let seconds = add_time(&dir, t0)?;
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
        boundaries: a.boundaries.as_ref().map(serde_json::to_value).transpose()?,
        period_scaling: a.period_scaling.clone(),
        checks: checks.clone(),
        sharpness: study,
        arms: None,
        cross_architecture: None,
    };
    store::write_json(&dir.summary(), &summary)?;
    let (title, paper) = about(e);
    let ours = match e {
        Experiment::Periodic => html::periodic_tables(&a),
        _ => html::regime_tables(&a),
    };
    let page = html::Page {
        title: &title,
        command: format!("silab reproduce {} --scale {}", e.name(), s.name()),
        scale_note: s != Scale::Paper,
        checks: &checks,
        figures: &figs,
        sections: vec![ours, paper],
        sweep_toml: &spec.to_toml(),
        seconds,
        rows: table.rows(),
        points: m.points.len(),
    };
    store::write_atomic(&dir.report(), page.render()?.as_bytes())?;
    Ok(summary)
}

/// An error naming every point that failed (its log) or that another process holds, if any.
fn all_done(report: &sweep::local::Report) -> Result<()> {
    if !report.failed.is_empty() || !report.busy.is_empty() {
        let list: Vec<String> = report.failed.iter().map(|(i, l)| format!("point {i} ({})", l.display())).collect();
        let busy: Vec<String> = report.busy.iter().map(|(i, h)| format!("point {i} ({h})")).collect();
        bail!(
            "{} points failed: {}; {} run by other processes: {}",
            report.failed.len(),
            list.join(", "),
            report.busy.len(),
            busy.join(", ")
        );
    }
    Ok(())
}

/// Wall-clock seconds of a study over every invocation: this one's (since `t0`) added to those
/// in `timing.json` (a resumed reproduction adds to the earlier ones), and written back.
fn add_time(dir: &StudyDir, t0: Instant) -> Result<f64> {
    let before: f64 =
        store::read_json::<serde_json::Value>(&dir.timing()).ok().and_then(|v| v["seconds"].as_f64()).unwrap_or(0.0);
    let seconds = before + t0.elapsed().as_secs_f64();
    store::write_atomic(&dir.timing(), &serde_json::to_vec(&serde_json::json!({ "seconds": seconds }))?)?;
    Ok(seconds)
}

/// What must hold for the reproduction to show the paper's phenomena at this scale.
pub fn checks(e: Experiment, s: Scale, a: &SweepAnalysis) -> Vec<(String, bool)> {
    let mut c = vec![];
    match e {
        Experiment::Periodic => {
            let mut by_lrwd: Vec<f64> = a.runs.iter().filter(|r| r.s_jumps.len() >= 3).map(|r| r.lr * r.wd).collect();
            by_lrwd.sort_by(f64::total_cmp);
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
        // the experiments beyond the thesis have their own (beyond::checks)
        Experiment::PeriodicLn | Experiment::RegimesLn | Experiment::Rotational | Experiment::Beyond => {}
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

/// The papers' figures for this experiment, from the sweep's runs and their analysis.
fn figures(e: Experiment, sd: &sweep::SweepDir, a: &SweepAnalysis, dir: &StudyDir) -> Result<Vec<(String, PathBuf)>> {
    let m = Manifest::read(sd)?;
    let series: Vec<analysis::Series> = m
        .points
        .iter()
        .map(|p| analysis::Series::from_run(&p.run_dir(sd).root))
        .collect::<Result<_>>()
        .context("reading runs for figures")?;
    match e {
        Experiment::Periodic => papers::periodic(&series, &a.runs, dir),
        _ => papers::regimes(e.paper(), &series, &a.runs, dir),
    }
}
