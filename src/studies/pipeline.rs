//! The one pipeline of every reproduction: an experiment is a set of arms (one sweep each; a
//! paper's experiment is one arm), run by one pool of workers, then each arm gathered (table,
//! analysis, sharpness study) and the experiment drawn, checked, summarized and laid out once.
//! What differs between experiments is a [`Study`]: a new experiment is one impl.
//!
//! Layout: a one-arm experiment keeps its sweep in `sweep/` and its files at the root; an
//! experiment of several arms puts each in `arms/<key>/` (the same files, and the arm's own
//! `summary.json`), its root `table.*` stacks the arms' tables under an `arm` column and its
//! root `analysis.json` maps each arm's key to its analysis.

use super::{
    Arm, ArmResult, Check, CrossRow, Experiment, ReproOptions, ReproSummary, RunRecord, Scale, about, arms,
    sharpness_study,
};
use crate::analysis::arms::{ArmSummary, arm_summary};
use crate::analysis::{self, JumpParams, RegimeParams, Series, SweepAnalysis};
use crate::config::OptimMode;
use crate::progress::Progress;
use crate::report::{arms::cross_table, html};
use crate::store::{self, StudyDir};
use crate::sweep::{self, table::Table};
use anyhow::{Context, Result, bail};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// A figure of a report: `(caption, PNG file)`.
pub type Fig = (String, PathBuf);

/// An arm swept, gathered and analysed.
pub struct ArmDone {
    pub arm: Arm,
    /// Its folder: the experiment's own for a one-arm experiment, `arms/<key>/` otherwise.
    pub dir: StudyDir,
    pub analysis: SweepAnalysis,
    /// One series per analysed run, in the analysis' order.
    pub series: Vec<Series>,
    /// Experiments of several arms: what the arm's runs show.
    pub summary: Option<ArmSummary>,
    /// `--sharpness` (sphere arms): the study and its figure.
    pub sharpness: Option<sharpness_study::SharpnessStudy>,
    pub sharpness_figures: Vec<Fig>,
}

/// What makes an experiment itself. The arms given to each method are all of the experiment's,
/// never none (a one-arm experiment's is `arms[0]`).
pub trait Study {
    /// Its figures, drawn into `dir`.
    fn figures(&self, arms: &[ArmDone], dir: &StudyDir) -> Result<Vec<Fig>>;
    /// Its falsifiable claims (the sharpness study's are added by the pipeline).
    fn checks(&self, arms: &[ArmDone]) -> Vec<Check>;
    /// Its runs as `summary.json` lists them.
    fn runs(&self, arms: &[ArmDone]) -> Vec<RunRecord>;
    /// Its tables of our numbers, as HTML.
    fn tables(&self, arms: &[ArmDone]) -> String;
    /// Experiments of several arms: its cell of the cross-architecture summary for one arm.
    fn cross_cell(&self, _arm: &ArmSummary, _row: &mut CrossRow) {}
    /// The S-jump detector it analyses its runs with.
    fn jump_params(&self) -> JumpParams {
        JumpParams::default()
    }
}

/// A finished reproduction: its summary and the figures of its report.
pub struct Done {
    pub summary: ReproSummary,
    pub figures: Vec<Fig>,
    /// Rows of its tables and points of its sweeps.
    pub rows: usize,
    pub points: usize,
}

/// Run experiment `e` (made by `study`) end to end into `out`; rerunning resumes.
pub fn reproduce(
    e: Experiment,
    study: &dyn Study,
    s: Scale,
    out: &Path,
    o: &ReproOptions,
    progress: &mut dyn Progress,
) -> Result<Done> {
    let t0 = Instant::now();
    let dir = StudyDir::new(out);
    store::create_dir(&dir.root)?;
    let several = e.has_arms();
    let planned: Vec<(Arm, StudyDir)> = arms(e, s, o.data_dir.as_deref(), &o.sets)?
        .into_iter()
        .map(|a| {
            let d = if several { StudyDir::new(out.join("arms").join(&a.key)) } else { StudyDir::new(out) };
            (a, d)
        })
        .collect();
    if planned.is_empty() {
        bail!("{}: setups.toml gives no sweep at scale {}", e.name(), s.name());
    }
    let (jobs, points) = run_sweeps(&planned, o, progress)?;
    let sweeps = sweep_files(&planned, several);
    let mut done = vec![];
    let mut tables = vec![];
    for (arm, d) in planned {
        let (a, t) = gather(arm, d, out, several, s, jobs, o, &study.jump_params(), progress)?;
        tables.push((a.arm.key.clone(), t));
        done.push(a);
    }
    let rows = tables.iter().map(|t| t.1.rows()).sum();
    if several {
        let t = Table::stack("arm", &tables);
        store::write_atomic(&dir.table_csv(), &t.to_csv()?)?;
        store::write_atomic(&dir.table_parquet(), &t.to_parquet()?)?;
        store::write_json(&dir.analysis(), &ByArm(&done))?;
    }
    let figures = study.figures(&done, &dir)?;
    let checks = checks(study, &done, s);
    let seconds = add_time(&dir, t0)?;
    let summary = summarize(e, study, s, seconds, &done, checks);
    store::write_json(&dir.summary(), &summary)?;
    let (title, numbers) = about(e);
    let mut sections = vec![study.tables(&done)];
    sections.extend(summary.cross_architecture.as_deref().map(cross_table));
    sections.push(numbers);
    let page = html::Page {
        title: &title,
        command: format!("silab reproduce {} --scale {}", e.name(), s.name()),
        scale_note: s != Scale::Paper,
        checks: &summary.checks,
        figures: &figures,
        sections,
        sweep_toml: &sweeps,
        seconds,
        rows,
        points,
    };
    store::write_atomic(&dir.report(), page.render()?.as_bytes())?;
    Ok(Done { summary, figures, rows, points })
}

/// Create every arm's sweep and run them all with one pool of workers; returns the workers
/// used and the number of points.
fn run_sweeps(planned: &[(Arm, StudyDir)], o: &ReproOptions, progress: &mut dyn Progress) -> Result<(usize, usize)> {
    let mut points = 0;
    let mut threads = 1;
    for (arm, d) in planned {
        store::create_dir(&d.root)?;
        let m = sweep::create(&d.sweep(), &arm.spec)?;
        points += m.points.len();
        threads = threads.max(arm.spec.manifest()?.1[0].train.threads);
    }
    let sds: Vec<_> = planned.iter().map(|(_, d)| d.sweep()).collect();
    let jobs = o.jobs.unwrap_or_else(|| sweep::local::default_jobs(threads));
    all_done(&sweep::local::run_all(&sds, jobs, &o.exe, progress)?)?;
    Ok((jobs, points))
}

/// The sweep files for the report: one, or each arm's under a comment naming it.
fn sweep_files(planned: &[(Arm, StudyDir)], several: bool) -> String {
    let one = |a: &Arm| {
        if several { format!("# arm {}: {}\n{}", a.key, a.label, a.spec.to_toml()) } else { a.spec.to_toml() }
    };
    planned.iter().map(|(a, _)| one(a)).collect::<Vec<_>>().join("\n")
}

/// An arm's finished sweep into its folder: its table, analysis, series, the sharpness study
/// (`--sharpness`, sphere arms) and, for an experiment of several arms, its summary.
#[allow(clippy::too_many_arguments)]
fn gather(
    arm: Arm,
    dir: StudyDir,
    out: &Path,
    several: bool,
    s: Scale,
    jobs: usize,
    o: &ReproOptions,
    jp: &JumpParams,
    progress: &mut dyn Progress,
) -> Result<(ArmDone, Table)> {
    let sd = dir.sweep();
    let table = sweep::table::write(&sd)?;
    store::copy(&sd.table_csv("table"), &dir.table_csv())?;
    store::copy(&sd.table_parquet("table"), &dir.table_parquet())?;
    let an = analysis::analyze(&sd.root, jp, &RegimeParams::default())?;
    store::write_json(&dir.analysis(), &an)?;
    let series: Vec<Series> = an
        .runs
        .iter()
        .map(|r| Series::from_run(Path::new(&r.dir)))
        .collect::<Result<_>>()
        .context("reading runs for figures")?;
    let cfg = &arm.spec.manifest()?.1[0];
    let (sharpness, sharpness_figures) = if o.sharpness && cfg.optim.mode == OptimMode::Sphere {
        let (st, f) = sharpness_study::study(&sd, &arm.spec, &an, s, &dir, jobs, &o.exe, progress)
            .with_context(|| format!("sharpness study of {}", dir.root.display()))?;
        (Some(st), f)
    } else {
        (None, vec![])
    };
    let summary = if several {
        let rel = dir.root.strip_prefix(out).unwrap_or(&dir.root).display().to_string();
        let sum = arm_summary(&arm.key, &arm.label, arm.jumps, cfg, &rel, &an, &series)?;
        store::write_json(&dir.summary(), &ArmResult { summary: sum.clone(), sharpness: sharpness.clone() })?;
        Some(sum)
    } else {
        None
    };
    Ok((ArmDone { arm, dir, analysis: an, series, summary, sharpness, sharpness_figures }, table))
}

/// The experiment's checks and each sharpness study's, marked for the scale in this one place.
fn checks(study: &dyn Study, arms: &[ArmDone], s: Scale) -> Vec<Check> {
    let mut c = study.checks(arms);
    for a in arms {
        if let Some(st) = &a.sharpness {
            c.extend(sharpness_study::checks(&a.arm.label, st));
        }
    }
    for x in &mut c {
        x.expected = s.shows_phenomena();
    }
    c
}

/// `summary.json`: a one-arm experiment's analysis in the open (boundaries, period scaling,
/// sharpness), an experiment of several arms' arms and cross-architecture rows.
fn summarize(
    e: Experiment,
    study: &dyn Study,
    s: Scale,
    seconds: f64,
    arms: &[ArmDone],
    checks: Vec<Check>,
) -> ReproSummary {
    let results: Vec<ArmResult> = arms
        .iter()
        .filter_map(|a| Some(ArmResult { summary: a.summary.clone()?, sharpness: a.sharpness.clone() }))
        .collect();
    let several = e.has_arms();
    let first = (!several).then(|| &arms[0]);
    let plain: Vec<ArmSummary> = results.iter().map(|r| r.summary.clone()).collect();
    ReproSummary {
        experiment: e.name(),
        scale: s.name(),
        seconds,
        runs: study.runs(arms),
        boundaries: first.and_then(|a| a.analysis.boundaries.clone()),
        period_scaling: first.and_then(|a| a.analysis.period_scaling.clone()),
        checks,
        sharpness: first.and_then(|a| a.sharpness.clone()),
        cross_architecture: several.then(|| cross_rows(&[(study, &plain)])),
        arms: several.then_some(results),
    }
}

/// The cross-architecture summary of one or more experiments' arms: one row per network and
/// optimizer, each experiment filling its cell ([`Study::cross_cell`]).
pub fn cross_rows(exps: &[(&dyn Study, &[ArmSummary])]) -> Vec<CrossRow> {
    let mut rows: Vec<CrossRow> = vec![];
    for (study, arms) in exps {
        for a in arms.iter() {
            let i = match rows.iter().position(|r| r.net == a.net) {
                Some(i) => i,
                None => {
                    rows.push(CrossRow { net: a.net.clone(), periodic: None, regimes: None, equilibrium: None });
                    rows.len() - 1
                }
            };
            study.cross_cell(a, &mut rows[i]);
        }
    }
    rows.sort_by(|a, b| a.net.cmp(&b.net));
    rows
}

/// The arms' analyses as one JSON object, by arm key, in the arms' order.
struct ByArm<'a>(&'a [ArmDone]);

impl Serialize for ByArm<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for a in self.0 {
            m.serialize_entry(&a.arm.key, &a.analysis)?;
        }
        m.end()
    }
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

/// `timing.json`: the wall-clock seconds of a study over every invocation.
#[derive(Serialize, Deserialize, Default)]
struct Timing {
    seconds: f64,
}

/// Wall-clock seconds of a study over every invocation: this one's (since `t0`) added to those
/// in `timing.json` (a resumed reproduction adds to the earlier ones), and written back.
fn add_time(dir: &StudyDir, t0: Instant) -> Result<f64> {
    let before = store::read_json::<Timing>(&dir.timing()).map(|t| t.seconds).unwrap_or(0.0);
    let seconds = before + t0.elapsed().as_secs_f64();
    store::write_json(&dir.timing(), &Timing { seconds })?;
    Ok(seconds)
}
