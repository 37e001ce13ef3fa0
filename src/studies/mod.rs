//! `silab reproduce EXPERIMENT --scale smoke|cpu|paper`: the papers' experiments as one command
//! (a sweep, its analysis, the papers' figures and a self-contained `report.html`). The
//! experiments themselves are data: `setups.toml` (compiled in) holds each one's title, the
//! papers' numbers and one sweep per scale (or one per arm: network and optimizer). Every
//! experiment runs through one [`pipeline`]; what makes one itself (figures, checks, runs,
//! tables) is a [`pipeline::Study`]: the papers' in [`papers`], those beyond the thesis in
//! [`multi_arm`]; `beyond` is a report of those reports ([`cross`]).

pub mod cross;
pub mod multi_arm;
pub mod papers;
pub mod pipeline;
pub mod sharpness_study;

use crate::analysis::arms::{ArmRun, ArmSummary};
use crate::analysis::{self, Regime};
use crate::config;
use crate::progress::Progress;
pub use crate::report::arms::CrossRow;
pub use crate::report::checks::{Check, Outcome};
use crate::store;
use crate::sweep::SweepSpec;
use anyhow::{Context, Result, bail};
use clap::ValueEnum;
use pipeline::Study;
use serde::Serialize;
use sharpness_study::SharpnessStudy;
use std::path::{Path, PathBuf};

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
    /// Its name on the command line (and folder): clap's, from the variant.
    pub fn name(self) -> String {
        self.to_possible_value().map(|v| v.get_name().to_string()).unwrap_or_default()
    }
    /// An experiment of several arms (one sweep per network and optimizer), [`beyond`].
    pub fn has_arms(self) -> bool {
        matches!(self, Experiment::PeriodicLn | Experiment::RegimesLn | Experiment::Rotational)
    }
}

impl Scale {
    pub const ALL: [Scale; 3] = [Scale::Smoke, Scale::Cpu, Scale::Paper];
    /// Its name on the command line: clap's, from the variant.
    pub fn name(self) -> String {
        self.to_possible_value().map(|v| v.get_name().to_string()).unwrap_or_default()
    }
    /// Whether runs at this scale can show the papers' phenomena (smoke checks the pipeline
    /// only: its checks are marked "not expected").
    pub fn shows_phenomena(self) -> bool {
        self != Scale::Smoke
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
    let t = table(all.get(&e.name()));
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
/// keys; each of its `arms.<key>` (if any) adds its own bases, keys and axes; its `zip` and
/// `seeds` (if any) pass to every sweep. `data_dir` sets
/// `data.dir` at the paper scale (the CIFAR-10 folder); `sets` override every [base].
pub fn arms(e: Experiment, s: Scale, data_dir: Option<&Path>, sets: &[String]) -> Result<Vec<Arm>> {
    let all = setups();
    let exp = table(all.get(&e.name()));
    let scale = table(exp.get(&s.name()));
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
        // a scale may pair axes (`zip`, e.g. each lr*wd with its own length) and repeat points
        // over `seeds`, as a sweep file does
        for k in ["zip", "seeds"] {
            if let Some(v) = scale.get(k) {
                file.insert(k.into(), v.clone());
            }
        }
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
#[derive(Serialize, Clone, Debug)]
pub struct ReproSummary {
    pub experiment: String,
    pub scale: String,
    /// Wall-clock seconds, summed over resumed invocations.
    pub seconds: f64,
    pub runs: Vec<RunRecord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub boundaries: Option<analysis::Boundaries>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period_scaling: Option<analysis::PeriodScaling>,
    /// Each check of the report (see [`Check`] for its JSON form).
    pub checks: Vec<Check>,
    /// `--sharpness`: the sharpness study (also in `sharpness.json`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sharpness: Option<SharpnessStudy>,
    /// The experiments beyond the thesis: each arm (network and optimizer) and its results.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arms: Option<Vec<ArmResult>>,
    /// The experiments beyond the thesis: one row per network and optimizer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cross_architecture: Option<Vec<CrossRow>>,
}

/// A run in `summary.json`: its fields depend on the experiment.
#[derive(Serialize, Clone, Debug)]
#[serde(untagged)]
pub enum RunRecord {
    Periodic(PeriodicRun),
    Regime(RegimeRun),
    Arm(ArmRunRecord),
}

/// A run of `periodic` (full space): its S-jumps, period and theory.
#[derive(Serialize, Clone, Debug)]
pub struct PeriodicRun {
    pub lr: f64,
    pub wd: f64,
    pub s_jumps: Vec<analysis::SJump>,
    pub period_epochs: Option<f64>,
    pub period_steps: Option<f64>,
    pub theory: Option<analysis::Theory>,
    pub final_test_acc: f64,
    pub regime: Regime,
    pub dir: String,
}

/// A run of `regimes` / `mse` (sphere): its regime and the tail it was read from.
#[derive(Serialize, Clone, Debug)]
pub struct RegimeRun {
    pub elr: f64,
    pub regime: Regime,
    pub tail: analysis::RegimeReport,
    pub final_test_acc: f64,
    pub final_train_loss: f64,
    pub dir: String,
}

/// A run of an experiment of several arms, with its arm's key.
#[derive(Serialize, Clone, Debug)]
pub struct ArmRunRecord {
    #[serde(flatten)]
    pub run: ArmRun,
    pub arm: String,
}

/// An arm in `summary.json` (and its own `arms/<key>/summary.json`): what its runs show, and
/// the sharpness study (`--sharpness`, sphere arms).
#[derive(Serialize, Clone, Debug)]
pub struct ArmResult {
    #[serde(flatten)]
    pub summary: ArmSummary,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sharpness: Option<SharpnessStudy>,
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
    store::default_study_dir(&e.name(), &s.name())
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
    match study(e) {
        Some(st) => Ok(pipeline::reproduce(e, st.as_ref(), s, out, o, progress)?.summary),
        None => cross::reproduce_beyond(s, out, o, progress),
    }
}

/// What makes an experiment itself (its figures, checks, runs and tables); `None` for `beyond`,
/// a report of reports.
fn study(e: Experiment) -> Option<Box<dyn Study>> {
    Some(match e {
        Experiment::Periodic => Box::new(papers::Periodic),
        Experiment::Regimes => Box::new(papers::Regimes { paper: "P2", fit_acc: None }),
        Experiment::Mse => Box::new(papers::Regimes { paper: "P3", fit_acc: Some(0.9) }),
        Experiment::PeriodicLn => Box::new(multi_arm::PeriodicLn),
        Experiment::RegimesLn => Box::new(multi_arm::RegimesLn),
        Experiment::Rotational => Box::new(multi_arm::Rotational),
        Experiment::Beyond => return None,
    })
}
