//! Sweeps: a base run config plus axes over config keys and seeds, expanded into points, run in
//! parallel worker processes, resumable, and gathered into one tidy table.
//!
//! A sweep file:
//! ```toml
//! name = "regimes"            # optional
//! seeds = [0, 1]              # optional, default [base.seed]
//! zip = ["optim.lr", "optim.wd"]   # optional: these axes are paired, not crossed
//! [base]                      # a run config, as for `silab train`
//! model.width = 4
//! [axes]                      # dotted config keys: a list, or { log = [lo, hi, n] }, or { lin = [lo, hi, n] }
//! "optim.elr" = { log = [1e-4, 1e-1, 7] }
//! ```
//! (`seeds` and `zip` may also stand inside `[axes]`.)
//!
//! The sweep directory's layout is [`SweepDir`]'s (in the store).
//!
//! Point i is run by `silab sweep point DIR --index i`, whatever the executor (local workers,
//! Slurm array tasks): it trains, resumes or skips the run in `runs/pNNNN`. [`status`] reads
//! where every point stands from the directory alone (plus the Slurm queue when there is one).

pub mod local;
pub mod slurm;
mod slurm_state;
pub mod status;
pub mod table;

pub use crate::store::SweepDir;
pub use status::{PointReport, QueueView, epochs_done, status, status_counts};

use crate::config::{self, ConfigError, RunConfig};
use crate::landscape::curvature::{self, Epochs};
use crate::progress::Progress;
use crate::run::{RunState, Summary};
use crate::store::{self, RunDir};
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use sha2::Digest;
use std::path::{Path, PathBuf};

/// One axis value, kept as TOML so strings, bools, ints and floats all work.
pub type Value = toml::Value;

/// One expanded point: its `(axis key, value)` pairs, its seed and its full run config.
pub type Expanded = (Vec<(String, Value)>, u64, RunConfig);

/// A parsed sweep file.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepSpec {
    pub name: String,
    pub base: toml::Table,
    /// `(key, values)` in file order.
    pub axes: Vec<(String, Vec<Value>)>,
    pub seeds: Vec<u64>,
    pub zip: Vec<String>,
}

/// One point of a sweep.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Point {
    pub index: usize,
    /// Run directory, relative to the sweep directory.
    pub dir: String,
    /// Swept key -> value (JSON), in axis order.
    pub values: Vec<(String, serde_json::Value)>,
    pub seed: u64,
    pub config_hash: String,
}

impl Point {
    /// The point's run directory in the sweep directory `sd`.
    pub fn run_dir(&self, sd: &SweepDir) -> RunDir {
        sd.run(&self.dir)
    }
    /// `key=value` of each swept key, e.g. `optim.elr=0.001` (what makes the point this point).
    pub fn label(&self) -> String {
        self.values.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
    }
}

/// `manifest.json`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Manifest {
    pub format: u32,
    pub name: String,
    /// Swept keys, in axis order (the extra columns of the table); `seed` is always a column.
    pub axes: Vec<String>,
    pub points: Vec<Point>,
}

impl Manifest {
    /// The manifest of the sweep in `sd`.
    pub fn read(sd: &SweepDir) -> Result<Manifest> {
        if !sd.exists() {
            bail!("{} is not a sweep directory (no manifest.json)", sd.root.display());
        }
        Ok(store::read_json(&sd.manifest())?)
    }
}

/// The most values an axis may take, and points a sweep may have.
pub const MAX_AXIS_VALUES: usize = 10_000;
pub const MAX_POINTS: usize = 100_000;

fn expand_axis(key: &str, v: &Value) -> Result<Vec<Value>> {
    match v {
        Value::Array(a) if !a.is_empty() => Ok(a.clone()),
        Value::Table(t) if t.len() == 1 && (t.contains_key("log") || t.contains_key("lin")) => {
            let (kind, spec) = t.iter().next().unwrap();
            let nums: Vec<f64> = spec
                .as_array()
                .filter(|a| a.len() == 3)
                .and_then(|a| a.iter().map(|x| x.as_float().or(x.as_integer().map(|i| i as f64))).collect())
                .with_context(|| format!("axis `{key}`: `{kind}` takes [lo, hi, n]"))?;
            let (lo, hi, nf) = (nums[0], nums[1], nums[2]);
            let n = nf as usize;
            let ends_ok = lo.is_finite() && hi.is_finite() && (kind != "log" || (lo > 0.0 && hi > 0.0));
            let n_ok = nf >= 1.0 && nf.fract() == 0.0 && nf <= MAX_AXIS_VALUES as f64;
            if !(ends_ok && n_ok) {
                bail!(
                    "axis `{key}`: {kind} = [{lo}, {hi}, {nf}] needs finite lo, hi{} and a whole number of points n in 1..={MAX_AXIS_VALUES}",
                    if kind == "log" { " with lo, hi > 0" } else { "" }
                );
            }
            Ok((0..n)
                .map(|i| {
                    let t = if n == 1 { 0.0 } else { i as f64 / (n - 1) as f64 };
                    let x = if kind == "log" { lo * (hi / lo).powf(t) } else { lo + (hi - lo) * t };
                    // round to 6 significant digits so values print and hash stably
                    Value::Float(format!("{x:.5e}").parse().unwrap())
                })
                .collect())
        }
        _ => bail!(
            "axis `{key}`: expected a non-empty list of values, {{ log = [lo, hi, n] }} or {{ lin = [lo, hi, n] }}"
        ),
    }
}

/// The first value that occurs twice in `vals` (compared as written, so `0.1` and `0.10` are
/// the same value).
fn first_repeat<T: PartialEq + Clone>(vals: &[T]) -> Option<T> {
    vals.iter().enumerate().find(|(i, v)| vals[..*i].contains(v)).map(|(_, v)| v.clone())
}

impl SweepSpec {
    /// Parse a sweep file's text; `sets` (KEY=VALUE) override keys of `[base]`.
    pub fn parse(text: &str, origin: &str, sets: &[String]) -> Result<SweepSpec> {
        let mut t: toml::Table =
            text.parse().map_err(|e| ConfigError::Toml { origin: origin.into(), message: format!("{e}") })?;
        let allowed = ["name", "base", "axes", "seeds", "zip"];
        if let Some(k) = t.keys().find(|k| !allowed.contains(&k.as_str())) {
            bail!("{origin}: unknown key `{k}`; a sweep file has: {}", allowed.join(", "));
        }
        let name = t.get("name").and_then(|v| v.as_str()).unwrap_or("sweep").to_string();
        let mut base = match t.remove("base") {
            Some(Value::Table(b)) => b,
            None => toml::Table::new(),
            Some(_) => bail!("{origin}: `base` must be a table"),
        };
        for s in sets {
            config::apply_set(&mut base, s)?;
        }
        let mut axes_t = match t.remove("axes") {
            Some(Value::Table(a)) => a,
            None => toml::Table::new(),
            Some(_) => bail!("{origin}: `axes` must be a table"),
        };
        let take_list = |v: Option<Value>, what: &str| -> Result<Option<Vec<Value>>> {
            match v {
                None => Ok(None),
                Some(Value::Array(a)) => Ok(Some(a)),
                Some(_) => bail!("{origin}: `{what}` must be a list"),
            }
        };
        let seeds_v = take_list(t.remove("seeds").or_else(|| axes_t.remove("seeds")), "seeds")?;
        let seeds_given = seeds_v.is_some();
        let zip_v = take_list(t.remove("zip").or_else(|| axes_t.remove("zip")), "zip")?;
        let base_cfg = RunConfig::from_parts(Some((&toml::to_string(&base)?, &format!("{origin} [base]"))), &[])?;
        let seeds = match seeds_v {
            None => vec![base_cfg.seed],
            Some(a) => a
                .iter()
                .map(|v| v.as_integer().filter(|i| *i >= 0).map(|i| i as u64))
                .collect::<Option<Vec<_>>>()
                .with_context(|| format!("{origin}: seeds must be non-negative integers"))?,
        };
        if seeds.is_empty() {
            bail!("{origin}: `seeds = []` gives a sweep of no points; list at least one seed or leave `seeds` out");
        }
        if let Some(s) = first_repeat(&seeds) {
            bail!("{origin}: seed {s} is listed twice in `seeds`; each point would run twice");
        }
        let zip = zip_v
            .unwrap_or_default()
            .iter()
            .map(|v| v.as_str().map(String::from))
            .collect::<Option<Vec<_>>>()
            .with_context(|| format!("{origin}: zip must list axis names"))?;
        let mut axes = vec![];
        for (k, v) in &axes_t {
            // an axis `seed` only moves with zipped axes (e.g. each seed with its own classifier
            // draw); otherwise `seeds` says it
            if k == "seed" && (seeds_given || !zip.contains(k)) {
                bail!(
                    "{origin}: sweep seeds with `seeds = [...]`, not an axis `seed` (an axis `seed` must be zipped with other axes, without `seeds`)"
                );
            }
            let vals = expand_axis(k, v).with_context(|| origin.to_string())?;
            if k == "seed" && vals.iter().any(|v| v.as_integer().is_none_or(|i| i < 0)) {
                bail!("{origin}: axis `seed` must list non-negative integers");
            }
            // a zipped axis may repeat a value: its points are the tuples, checked below
            if let (false, Some(dup)) = (zip.contains(k), first_repeat(&vals)) {
                bail!("{origin}: axis `{k}` lists the value {dup} twice; each of its points would run twice");
            }
            // each value must make a valid config
            for val in &vals {
                RunConfig::from_parts(Some((&toml::to_string(&base)?, origin)), &[format!("{k}={val}")])
                    .with_context(|| format!("{origin}: axis `{k}` value {val}"))?;
            }
            axes.push((k.clone(), vals));
        }
        for z in &zip {
            if !axes.iter().any(|(k, _)| k == z) {
                bail!("{origin}: zip names `{z}`, which is not an axis");
            }
        }
        let lens: Vec<usize> = axes.iter().filter(|(k, _)| zip.contains(k)).map(|(_, v)| v.len()).collect();
        if lens.windows(2).any(|w| w[0] != w[1]) {
            bail!("{origin}: zipped axes must have the same number of values, got {lens:?}");
        }
        let zipped: Vec<&Vec<Value>> = axes.iter().filter(|(k, _)| zip.contains(k)).map(|(_, v)| v).collect();
        let tuples: Vec<Vec<&Value>> =
            (0..lens.first().copied().unwrap_or(0)).map(|i| zipped.iter().map(|v| &v[i]).collect()).collect();
        if let Some(dup) = first_repeat(&tuples) {
            let vals: Vec<String> = dup.iter().map(|v| v.to_string()).collect();
            bail!("{origin}: the zipped axes list ({}) twice; each of its points would run twice", vals.join(", "));
        }
        Ok(SweepSpec { name, base, axes, seeds, zip })
    }

    /// Read and parse a sweep file.
    pub fn from_file(path: &Path, sets: &[String]) -> Result<SweepSpec> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Self::parse(&text, &path.display().to_string(), sets)
    }

    /// The sweep as TOML text (what `sweep.toml` in the sweep directory holds).
    pub fn to_toml(&self) -> String {
        let mut t = toml::Table::new();
        t.insert("name".into(), Value::String(self.name.clone()));
        // a zipped axis `seed` says the seeds itself (a file with both would be refused)
        if !self.axes.iter().any(|(k, _)| k == "seed") {
            t.insert("seeds".into(), Value::Array(self.seeds.iter().map(|&s| Value::Integer(s as i64)).collect()));
        }
        if !self.zip.is_empty() {
            t.insert("zip".into(), Value::Array(self.zip.iter().map(|s| Value::String(s.clone())).collect()));
        }
        t.insert("base".into(), Value::Table(self.base.clone()));
        let axes: toml::Table = self.axes.iter().map(|(k, v)| (k.clone(), Value::Array(v.clone()))).collect();
        t.insert("axes".into(), Value::Table(axes));
        toml::to_string(&t).expect("sweep serializes")
    }

    /// All points: the zipped axes move together, the other axes are crossed (Cartesian
    /// product, first axis slowest), and seeds vary fastest.
    pub fn expand(&self) -> Result<Vec<Expanded>> {
        let zipped_len = self.axes.iter().find(|(k, _)| self.zip.contains(k)).map(|(_, v)| v.len()).unwrap_or(1);
        let count = self
            .axes
            .iter()
            .filter(|(k, _)| !self.zip.contains(k))
            .fold(zipped_len.saturating_mul(self.seeds.len()), |a, (_, v)| a.saturating_mul(v.len()));
        if count > MAX_POINTS {
            bail!("the sweep `{}` has {count} points; at most {MAX_POINTS}", self.name);
        }
        // groups: one per zip set (if any), then one per free axis
        let mut groups: Vec<Vec<Vec<(String, Value)>>> = vec![];
        let zipped: Vec<&(String, Vec<Value>)> = self.axes.iter().filter(|(k, _)| self.zip.contains(k)).collect();
        let mut zip_done = false;
        for (k, vals) in &self.axes {
            if self.zip.contains(k) {
                if !zip_done {
                    let n = zipped[0].1.len();
                    groups.push(
                        (0..n).map(|i| zipped.iter().map(|(k, v)| (k.clone(), v[i].clone())).collect()).collect(),
                    );
                    zip_done = true;
                }
            } else {
                groups.push(vals.iter().map(|v| vec![(k.clone(), v.clone())]).collect());
            }
        }
        let mut combos: Vec<Vec<(String, Value)>> = vec![vec![]];
        for g in &groups {
            combos = combos.iter().flat_map(|c| g.iter().map(move |opt| [c.clone(), opt.clone()].concat())).collect();
        }
        let base_text = toml::to_string(&self.base)?;
        let mut out = vec![];
        for c in combos {
            // a zipped axis `seed` gives the point's seed itself (and is not a swept key)
            let axis_seed = c.iter().find(|(k, _)| k == "seed").and_then(|(_, v)| v.as_integer()).map(|i| i as u64);
            let vals: Vec<(String, Value)> = c.iter().filter(|(k, _)| k != "seed").cloned().collect();
            for &seed in &self.seeds {
                let seed = axis_seed.unwrap_or(seed);
                let mut sets: Vec<String> = vals.iter().map(|(k, v)| format!("{k}={v}")).collect();
                sets.push(format!("seed={seed}"));
                let cfg = RunConfig::from_parts(Some((&base_text, "sweep [base]")), &sets)?;
                out.push((vals.clone(), seed, cfg));
            }
        }
        Ok(out)
    }

    /// Short stable hash of the sweep (first 8 hex digits of SHA-256 of its TOML).
    pub fn hash(&self) -> String {
        let d = sha2::Sha256::digest(self.to_toml().as_bytes());
        d.iter().take(4).map(|b| format!("{b:02x}")).collect()
    }

    /// Where the sweep goes by default: `sweeps/<name>-<hash>`.
    pub fn default_dir(&self) -> PathBuf {
        store::default_sweep_dir(&self.name, &self.hash())
    }

    /// The manifest of this sweep (point i runs in `runs/p{i:04}`).
    pub fn manifest(&self) -> Result<(Manifest, Vec<RunConfig>)> {
        let pts = self.expand()?;
        let mut points = vec![];
        let mut cfgs = vec![];
        for (i, (vals, seed, cfg)) in pts.into_iter().enumerate() {
            let values = vals.iter().map(|(k, v)| (k.clone(), toml_to_json(v))).collect();
            points.push(Point { index: i, dir: SweepDir::point_rel(i), values, seed, config_hash: cfg.hash() });
            cfgs.push(cfg);
        }
        let axes = self.axes.iter().map(|(k, _)| k.clone()).filter(|k| k != "seed").collect();
        Ok((Manifest { format: 1, name: self.name.clone(), axes, points }, cfgs))
    }
}

fn toml_to_json(v: &Value) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

/// Write the sweep file, manifest and every point's config.toml into `sd`. If the directory
/// already holds the same sweep, nothing changes (that is how a sweep resumes); a different
/// sweep is refused.
pub fn create(sd: &SweepDir, spec: &SweepSpec) -> Result<Manifest> {
    let (manifest, cfgs) = spec.manifest()?;
    if manifest.points.is_empty() {
        bail!("the sweep `{}` has no points; nothing written to {}", spec.name, sd.root.display());
    }
    if sd.exists() {
        let old = Manifest::read(sd)?;
        // a manifest with no points was left by an earlier silab that crashed on `seeds = []`:
        // nothing ran there, so the corrected sweep takes its place
        if old.points.is_empty() {
            store::create_dir(&sd.logs())?;
            store::write_atomic(&sd.spec(), spec.to_toml().as_bytes())?;
            return write_points(sd, manifest, &cfgs);
        }
        if old != manifest {
            bail!("{} holds a different sweep (its manifest.json differs); choose another --out", sd.root.display());
        }
        return Ok(old);
    }
    store::create_dir(&sd.logs())?;
    store::write_atomic(&sd.spec(), spec.to_toml().as_bytes())?;
    write_points(sd, manifest, &cfgs)
}

/// Each point's run directory with its config, then the manifest (last: it marks the sweep whole).
fn write_points(sd: &SweepDir, manifest: Manifest, cfgs: &[RunConfig]) -> Result<Manifest> {
    for (p, cfg) in manifest.points.iter().zip(cfgs) {
        let rd = p.run_dir(sd);
        store::create_dir(&rd.root)?;
        store::write_atomic(&rd.config(), cfg.to_toml().as_bytes())?;
    }
    store::write_json(&sd.manifest(), &manifest)?;
    Ok(manifest)
}

/// Where a point stands, from its run directory alone: done or diverged (`summary.json` says so:
/// nothing left to do), running (started: has metrics or checkpoints; running now, or
/// interrupted) or pending (not started).
pub fn point_state(sd: &SweepDir, p: &Point) -> RunState {
    let rd = p.run_dir(sd);
    if let Ok(s) = Summary::read(&rd)
        && s.status.is_finished()
    {
        return s.status;
    }
    if rd.metrics().exists() || !rd.checkpoint_epochs().is_empty() { RunState::Running } else { RunState::Pending }
}

/// The record of the latest attempt at a point, written by [`run_point`] when it starts and when
/// it ends. A task killed by a signal (Slurm's `scancel`, a time limit, preemption, SIGKILL)
/// leaves `running` behind; [`status`] then tells it from a live one by its process or its
/// Slurm task.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Attempt {
    /// `running` from its start to its end (and after a kill), then `failed` (`error` says why),
    /// `done` or `diverged`.
    pub status: RunState,
    pub host: String,
    pub pid: u32,
    /// `ARRAYJOB_TASK` when the attempt ran as a Slurm array task.
    pub slurm_task: Option<String>,
    /// Unix time (s) of the start and of the end.
    pub started: f64,
    pub ended: Option<f64>,
    pub error: Option<String>,
    /// The attempt's output (relative to the sweep directory).
    pub log: String,
}

pub use crate::store::{hostname, pid_alive, unix_now};

impl Attempt {
    /// The latest attempt at a point, if any.
    pub fn read(sd: &SweepDir, p: &Point) -> Option<Attempt> {
        store::read_json(&p.run_dir(sd).attempt()).ok()
    }
    fn write(&self, sd: &SweepDir, p: &Point) -> Result<()> {
        Ok(store::write_json(&p.run_dir(sd).attempt(), self)?)
    }
}

/// Run point `index` of the sweep in `dir`: skip it if finished, resume it if started, else
/// train it; returns where it ends (done or diverged). Idempotent, so a repeated or requeued task
/// is harmless.
pub fn run_point(dir: &Path, index: usize, progress: &mut dyn Progress) -> Result<RunState> {
    run_point_as(dir, index, None, progress)
}

/// [`run_point`], recording the Slurm array task (`ARRAYJOB_TASK`) it runs as, if any, in the
/// point's `attempt.json`. An error names the point and its log.
pub fn run_point_as(
    dir: &Path,
    index: usize,
    slurm_task: Option<String>,
    progress: &mut dyn Progress,
) -> Result<RunState> {
    let sd = SweepDir::new(dir);
    let m = Manifest::read(&sd)?;
    let p = m
        .points
        .get(index)
        .with_context(|| format!("point {index} does not exist: the sweep has {}", m.points.len()))?;
    let rd = p.run_dir(&sd);
    let state = point_state(&sd, p);
    if state.is_finished() {
        return Ok(state);
    }
    restore_point(&sd, p)?;
    // One writer per point: a second worker (a rerun while the first still runs, a repeated
    // Slurm task) stops here, leaving the running one's attempt record alone.
    let lock = rd.lock().with_context(|| format!("point {index} is being run by another process"))?;
    let mut attempt = Attempt {
        status: RunState::Running,
        host: hostname(),
        pid: std::process::id(),
        slurm_task,
        started: unix_now(),
        ended: None,
        error: None,
        log: SweepDir::log_rel(index),
    };
    attempt.write(&sd, p)?;
    // The point's config.toml was written when the sweep was created: resume() starts the run
    // from scratch when it has no checkpoint yet, and continues it otherwise.
    let result = crate::training::resume_locked(&rd.root, lock, progress);
    attempt.ended = Some(unix_now());
    match result {
        Ok(s) => {
            // a run resumed to its end is done; one that diverged (or stopped decided) stays so
            attempt.status = match s.status {
                RunState::Diverged | RunState::Decided => s.status,
                _ => RunState::Done,
            };
            attempt.write(&sd, p)?;
            Ok(attempt.status)
        }
        Err(e) => {
            attempt.status = RunState::Failed;
            attempt.error = Some(format!("{e:#}"));
            attempt.write(&sd, p)?;
            Err(anyhow::Error::from(e).context(format!(
                "point {index} ({}) failed; its log: {}",
                rd.root.display(),
                sd.root.join(&attempt.log).display()
            )))
        }
    }
}

/// Make a point's run directory whole again if it (or its config.toml) was deleted: the config
/// is expanded anew from `sweep.toml` and must have the manifest's hash.
fn restore_point(sd: &SweepDir, p: &Point) -> Result<()> {
    let rd = p.run_dir(sd);
    if rd.config().is_file() {
        return Ok(());
    }
    let spec = SweepSpec::from_file(&sd.spec(), &[])?;
    let (_, cfgs) = spec.manifest()?;
    let cfg = cfgs.get(p.index).filter(|c| c.hash() == p.config_hash).with_context(|| {
        format!(
            "point {}: {} is missing and sweep.toml no longer expands to its config",
            p.index,
            rd.config().display()
        )
    })?;
    store::create_dir(&rd.root)?;
    store::write_atomic(&rd.config(), cfg.to_toml().as_bytes())?;
    Ok(())
}

/// Where a sweep's points run (`silab sweep --executor`).
#[derive(Clone, Debug, PartialEq)]
pub enum Executor {
    /// Local worker processes, at most `jobs` at a time (default: cores / `train.threads`);
    /// waits for them.
    Local { jobs: Option<usize> },
    /// One Slurm array job; returns once submitted (or, with `dry_run`, prints its script).
    Slurm { opts: slurm::SlurmOptions, dry_run: bool },
}

/// What [`launch`] did.
#[derive(Debug)]
pub enum Launched {
    /// Every point ran locally (some may have failed); the table was gathered.
    Ran { points: usize, jobs: usize, report: local::Report, table: table::Table },
    /// `--dry-run`: the Slurm batch script, nothing written.
    Script(String),
    /// Submitted to Slurm, or nothing left to submit (`None`: every point done, running or queued).
    Submitted(Option<slurm::Submission>),
}

/// Run the sweep `spec` in `dir` on `executor` with the `silab` binary `exe` as the worker (a
/// sweep already there resumes: done points are skipped, started ones continue). Local runs
/// report through `progress`.
pub fn launch(
    spec: &SweepSpec,
    dir: &Path,
    executor: &Executor,
    exe: &Path,
    progress: &mut dyn Progress,
) -> Result<Launched> {
    let sd = SweepDir::new(dir);
    if spec.seeds.is_empty() {
        bail!("the sweep `{}` has no seeds, so no points", spec.name);
    }
    if *executor == (Executor::Local { jobs: Some(0) }) {
        bail!("--jobs 0 would run no point at a time; give at least 1 (or leave it out for cores / train.threads)");
    }
    match executor {
        Executor::Slurm { opts, dry_run } => {
            opts.validate()?;
            if *dry_run {
                let (m, cfgs) = spec.manifest()?;
                let all: Vec<usize> = (0..m.points.len()).collect();
                return Ok(Launched::Script(slurm::script_for(dir, &m, &cfgs, opts, exe, &all)?));
            }
            create(&sd, spec)?;
            let todo = slurm::to_resubmit(&slurm::status_now(&sd)?);
            if todo.is_empty() {
                return Ok(Launched::Submitted(None));
            }
            match slurm::submit(&sd, opts, exe, &todo, false)? {
                slurm::Submitted::Job(s) => Ok(Launched::Submitted(Some(s))),
                slurm::Submitted::DryRun(text) => Ok(Launched::Script(text)),
            }
        }
        Executor::Local { jobs } => {
            let m = create(&sd, spec)?;
            let (_, cfgs) = spec.manifest()?;
            let threads = cfgs.first().map_or(1, |c| c.train.threads);
            let jobs = jobs.unwrap_or_else(|| local::default_jobs(threads));
            progress.line(&format!("{}: {} points, {} at a time", dir.display(), m.points.len(), jobs));
            let report = local::run(&sd, jobs, exe, progress)?;
            let table = table::write(&sd)?;
            Ok(Launched::Ran { points: m.points.len(), jobs, report, table })
        }
    }
}

/// `silab sharpness DIR`: measure the checkpoints at `epochs` of the run in `dir`, or of every
/// started point of the sweep in `dir` (then its `sharpness_posthoc` table is rebuilt). Rows go
/// to `on_rows` with the point index (None for a single run) as they are measured. Returns
/// whether `dir` was a sweep.
pub fn measure_sharpness(
    dir: &Path,
    epochs: &Epochs,
    sets: &[String],
    progress: &mut dyn Progress,
    on_rows: &mut dyn FnMut(Option<usize>, &[curvature::Row]),
) -> Result<bool> {
    let sd = SweepDir::new(dir);
    let runs: Vec<(Option<usize>, RunDir)> = if sd.exists() {
        Manifest::read(&sd)?.points.iter().map(|p| (Some(p.index), p.run_dir(&sd))).collect()
    } else {
        vec![(None, RunDir::new(dir))]
    };
    for (point, rd) in &runs {
        let available = rd.checkpoint_epochs();
        if point.is_some() && available.is_empty() {
            continue; // a point not started yet
        }
        let todo = epochs.resolve(&available);
        curvature::posthoc(&rd.root, Some(&todo), sets, progress, &mut |rows| on_rows(*point, rows))?;
    }
    progress.finish();
    if sd.exists() {
        table::write(&sd)?;
    }
    Ok(sd.exists())
}
