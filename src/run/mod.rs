//! Training runs: the trainer and its stages, log points, checkpoints and resume.
//!
//! A [`Trainer`] is created for a new run ([`Trainer::create`]) or opened to continue a killed
//! one from its latest checkpoint ([`Trainer::open_locked`]); a resumed run ends with the same
//! `metrics.csv` (but `wall_time`) as an uninterrupted run with the same seed and thread count.
//! Its stages are named methods of [`Trainer::run`]: the initial measurement, the epoch (its
//! optimizer steps, step rows and epoch row), the checkpoint policy ([`CheckpointPolicy`]) and
//! the summary. In-training measurements beyond the metrics (curvature) reach the trainer as
//! [`Hook`]s it is given, so this module knows nothing of them; `crate::training` assembles the
//! standard ones and is the one entry to train and resume (`training::train`, `training::resume`).
//!
//! Where a run stands is a [`RunState`]; what can go wrong with a run directory or a resume, in
//! cases a caller can tell apart, is a [`RunError`].
//!
//! Everything random is drawn from explicit seeds: init from `seed`, the shuffling and
//! augmentation of epoch e from `(seed, e)`, the data from `data.seed`.

pub mod checkpoint;
mod error;
mod extend;
pub mod state;
pub mod verify;
pub mod workspace;

pub use checkpoint::{Action, CheckpointPolicy};
pub use error::RunError;
pub use extend::Extension;
pub use state::RunState;
pub use workspace::{Workspace, runtime};

use crate::config::{OptimMode, RunConfig, StopWhen};
use crate::data::{self, rng, streams};
use crate::metrics::{self, AngleAcc, Row, StepAngles, elr};
use crate::model::{BnMode, Net, Role, loss, sq_norm_t};
use crate::optim::{Optimizer, si_grad_norm};
use crate::progress::Progress;
use crate::regime::early::{self, Decision, EarlyRule};
use crate::regime::{RegimeParams, Series};
use crate::schema::{METRICS, col};
use crate::store::tensorboard::EventWriter;
use crate::store::{self, Lock, RunDir, StoreError};
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;
use tch::{Device, Kind, Tensor};

/// `summary.json`.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Summary {
    pub silab_version: String,
    pub config_hash: String,
    /// `running` until the last epoch is done, then `done` (written `completed`); `diverged`
    /// when a loss or rho became non-finite (`train.stop_on_nonfinite`).
    #[serde(with = "state::summary_word")]
    pub status: RunState,
    /// The step at which the run diverged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diverged_at_step: Option<usize>,
    /// The regime the early rule decided (`train.stop_when = "regime"`; status `decided`): the
    /// regime, the epoch, the statistic that decided it and the rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    pub epochs_done: usize,
    pub steps_done: usize,
    pub steps_per_epoch: usize,
    pub train_size: usize,
    pub test_size: usize,
    pub si_params: i64,
    #[serde(with = "store::json_num::f64")]
    pub rho0: f64,
    pub threads: usize,
    pub device: String,
    #[serde(with = "store::json_num::f64")]
    pub wall_time_s: f64,
    #[serde(with = "store::json_num::opt")]
    pub best_test_acc: Option<f64>,
    /// The last epoch row, column -> value (unmeasured columns left out; NaN, inf and -inf as
    /// the strings `"NaN"`, `"inf"`, `"-inf"`).
    #[serde(with = "store::json_num::map")]
    pub last: BTreeMap<String, f64>,
    /// The times the run was trained longer (`silab train --resume DIR --epochs N`), oldest
    /// first: its checkpoints before each were written with the shorter `train.epochs`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<Extension>,
}

impl Summary {
    /// Read a run directory's `summary.json`.
    pub fn read(dir: &RunDir) -> Result<Summary, StoreError> {
        store::read_json(&dir.summary())
    }
}

/// Make glibc's malloc keep freed memory for reuse instead of returning it to the OS.
///
/// By default glibc serves large blocks (the activations of a training step) with fresh `mmap`s
/// and unmaps them when freed, so every step page-faults its activations in again. Serving all
/// blocks from the heap and never trimming it makes a ConvNet-8 step on 2 cores ~1.5x faster
/// (README, Speed). Process-wide: call it once at program start (the `silab` binary does).
/// A no-op elsewhere than Linux/glibc.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        libc::mallopt(libc::M_MMAP_MAX, 0);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}

/// The checkpoint a `train.init_from` names: the file itself, or a run directory's latest.
pub fn init_checkpoint(from: &Path) -> Result<PathBuf, RunError> {
    if from.is_file() {
        return Ok(from.to_path_buf());
    }
    let rd = RunDir::new(from);
    match rd.checkpoint_epochs().last() {
        Some(&e) => Ok(rd.checkpoint(e)),
        None => Err(RunError::NoCheckpoint {
            path: from.to_path_buf(),
            needed: "train.init_from names neither a checkpoint file nor a run directory with checkpoints".into(),
        }),
    }
}

/// A log point of the run, as a hook sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct At {
    /// Epochs completed (at an epoch end: including this one).
    pub epoch: usize,
    /// Optimizer steps completed.
    pub step: usize,
    /// `true` at initialisation and right after an epoch row; `false` after a step inside an
    /// epoch.
    pub epoch_end: bool,
}

/// A measurement made during training beyond the metrics (the curvature of
/// `sharpness.every_epochs` / `every_steps`), given to the [`Trainer`].
pub trait Hook {
    /// The config keys it serves (e.g. `sharpness.every_epochs`), for the trainer's check that
    /// every in-training measurement the config asks for has a hook.
    fn serves(&self) -> &'static str;
    /// Called at initialisation, after every optimizer step inside an epoch and after every
    /// epoch row. Must leave the network's weights, gradients and BN statistics as they were.
    fn after(&mut self, net: &Net, at: At, progress: &mut dyn Progress) -> Result<()>;
    /// Before the run (re)starts: from scratch (`resume.from` is `None`), forget everything; on a
    /// resume, check the hook's own file up to the checkpoint (an error names what is wrong) and
    /// drop what was measured after it.
    fn rewind(&mut self, net: &Net, resume: Resume) -> Result<()>;
}

/// Running means over minibatches, kept as device tensors so a step never waits for a sync.
struct Acc {
    n: usize,
    loss: Tensor,
    grad: Tensor,
    eff: Tensor,
}

impl Acc {
    fn new(dev: Device) -> Acc {
        let z = || Tensor::zeros([], (Kind::Double, dev));
        Acc { n: 0, loss: z(), grad: z(), eff: z() }
    }
    fn add(&mut self, s: &StepStats) {
        self.n += 1;
        self.loss += s.loss.to_kind(Kind::Double);
        self.grad += &s.grad_norm;
        self.eff += &s.eff_grad_norm;
    }
    fn write(&self, row: &mut Row) {
        if self.n > 0 {
            let n = self.n as f64;
            row.set(col::BATCH_LOSS, self.loss.double_value(&[]) / n);
            row.set(col::GRAD_NORM, self.grad.double_value(&[]) / n);
            row.set(col::EFF_GRAD_NORM, self.eff.double_value(&[]) / n);
        }
    }
}

/// What one optimizer step measured (device tensors, no sync).
struct StepStats {
    loss: Tensor,
    grad_norm: Tensor,
    eff_grad_norm: Tensor,
    /// rho before the step.
    rho: Tensor,
    /// The learning rate the step used.
    lr: f64,
}

/// A run in memory: its directory (locked), workspace, optimizer, hooks and where it starts from.
pub struct Trainer {
    cfg: RunConfig,
    dir: RunDir,
    /// This process is the only writer of `dir` while the trainer lives.
    _lock: Lock,
    ws: Workspace,
    opt: Optimizer,
    /// SI group at initialisation (for cos_to_init / dist_to_init).
    init_si: Vec<Tensor>,
    steps_per_epoch: usize,
    /// The columns this net measures (`metrics::header`; the layout of every [`Row`]).
    header: Vec<String>,
    /// The columns of the run's metrics.csv and where each is in a row: the same, except for a
    /// run started by an older silab, which continues with the columns it started with.
    file_header: Vec<String>,
    file_cols: Vec<usize>,
    policy: CheckpointPolicy,
    hooks: Vec<Box<dyn Hook>>,
    /// Where the run (re)starts: `None` from scratch, else the checkpoint's (epoch, step, wall).
    from: Option<(usize, usize, f64)>,
    /// The best test accuracy and the last epoch row so far (a resumed run's, from its rows).
    best: Option<f64>,
    last_row: Option<Row>,
    /// Lines to report when the run starts: `(must be seen, text)` (resume notices; damaged
    /// checkpoints skipped).
    notes: Vec<(bool, String)>,
    /// The TensorBoard event file of this session (`train.tensorboard`), opened when it starts.
    tensorboard: Option<EventWriter>,
    /// The run's extensions so far (from its summary; kept in every summary written).
    extensions: Vec<Extension>,
}

/// Where a resumed run continues, as a [`Hook`] sees it when it checks its own file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resume {
    /// The checkpoint's epoch and step (`None`: the run starts from scratch).
    pub from: Option<(usize, usize)>,
    pub steps_per_epoch: usize,
}

impl Trainer {
    /// Build the in-memory run of `cfg` for `dir` (no files written), with the caller's network
    /// or (`None`) the config's.
    fn build(cfg: &RunConfig, dir: RunDir, lock: Lock, net: Option<Net>) -> Result<Trainer> {
        let ws = match net {
            Some(net) => Workspace::with_net(cfg, net)?,
            None => Workspace::new(cfg)?,
        };
        if !ws.net.has_si() && matches!(cfg.optim.mode, OptimMode::Sphere | OptimMode::Rotational) {
            bail!(
                "optim.mode = \"{}\" needs scale-invariant groups, and this network declares none: declare them \
                 (model.si_groups, or the manifest silab.export writes beside a scripted module); \
                 `silab check-si --propose` finds them",
                cfg.optim.mode
            );
        }
        let steps_per_epoch = data::batches_per_epoch(ws.data.train.len(), cfg.train.batch_size);
        let opt = Optimizer::new(&cfg.optim, &ws.net, steps_per_epoch, cfg.train.epochs);
        let init_si = ws.net.si().iter().map(|t| t.detach().copy()).collect();
        let header = metrics::header(&ws.net, cfg.metrics.layers);
        let notes = ws.data.notes.iter().map(|n| (false, n.clone())).collect();
        Ok(Trainer {
            cfg: cfg.clone(),
            dir,
            _lock: lock,
            ws,
            opt,
            init_si,
            steps_per_epoch,
            file_cols: (0..header.len()).collect(),
            file_header: header.clone(),
            header,
            policy: CheckpointPolicy::new(&cfg.train),
            hooks: vec![],
            from: None,
            best: None,
            last_row: None,
            notes,
            tensorboard: None,
            extensions: vec![],
        }
        .with_notes())
    }

    /// The workspace's warnings become start notes.
    fn with_notes(mut self) -> Trainer {
        self.notes.extend(self.ws.notes.iter().map(|n| (true, n.clone())));
        self
    }

    /// A new run of `cfg` in `out` (created; must not hold a run already:
    /// [`RunError::AlreadyHoldsRun`]).
    pub fn create(cfg: &RunConfig, out: &Path) -> Result<Trainer, RunError> {
        Trainer::create_inner(cfg, out, None)
    }

    /// [`Trainer::create`] with a network the caller built (any [`Net`]: a built-in one, one
    /// whose SI groups were redeclared, a scripted module loaded with [`Net::from_config`]); it
    /// must be on `train.device` and take the data's inputs. `cfg.model` is recorded as given,
    /// so it should describe the net (its `model.file` for a scripted one). To resume, bring the
    /// same network again to [`Trainer::open_with_net`].
    pub fn create_with_net(cfg: &RunConfig, out: &Path, net: Net) -> Result<Trainer, RunError> {
        Trainer::create_inner(cfg, out, Some(net))
    }

    fn create_inner(cfg: &RunConfig, out: &Path, net: Option<Net>) -> Result<Trainer, RunError> {
        let dir = RunDir::new(out);
        if dir.config().exists() {
            return Err(RunError::AlreadyHoldsRun { dir: out.to_path_buf() });
        }
        store::create_dir(out)?;
        let lock = dir.lock()?;
        // Everything that can fail before training (data, device, init_from) fails before
        // config.toml is written, so a corrected command can use the same --out.
        let mut t = Trainer::build(cfg, dir, lock, net)?;
        t.start_fresh()?;
        // what the data layer computed (your own images' normalization) stays with the run
        for n in &t.ws.data.notes {
            t.dir.log_line(n)?;
        }
        store::write_atomic(&t.dir.config(), cfg.to_toml().as_bytes())?;
        Ok(t)
    }

    /// Become the only writer of the run in `run_dir` ([`RunError::NotRunDir`] when it holds
    /// none, [`RunError::Locked`] when another process writes there).
    pub fn lock(run_dir: &Path) -> Result<Lock, RunError> {
        let dir = RunDir::new(run_dir);
        if !dir.config().is_file() {
            return Err(RunError::NotRunDir { dir: run_dir.to_path_buf() });
        }
        Ok(dir.lock()?)
    }

    /// The run in `run_dir`, to continue from its latest intact checkpoint (from scratch if it
    /// has none), after checking that its files hold exactly what it wrote up to there. The
    /// caller holds the run directory's lock ([`Trainer::lock`]; a sweep point takes it before
    /// it records its attempt). A damaged checkpoint is skipped for the one before it; a
    /// checkpoint of another config ([`RunError::OtherConfig`]: `config.toml` was edited) is
    /// refused, since starting over would discard the run.
    pub fn open_locked(run_dir: &Path, lock: Lock) -> Result<Trainer, RunError> {
        let dir = RunDir::new(run_dir);
        if !dir.config().is_file() {
            return Err(RunError::NotRunDir { dir: run_dir.to_path_buf() });
        }
        let cfg = RunConfig::from_file(&dir.config(), &[])?;
        let extensions = Summary::read(&dir).map(|s| s.extensions).unwrap_or_default();
        Trainer::open_with(&cfg, dir, lock, extensions, None)
    }

    /// [`Trainer::open_locked`] with the network the run was created with
    /// ([`Trainer::create_with_net`]), built again by the caller; its weights are replaced by
    /// the checkpoint's.
    pub fn open_with_net(run_dir: &Path, lock: Lock, net: Net) -> Result<Trainer, RunError> {
        let dir = RunDir::new(run_dir);
        if !dir.config().is_file() {
            return Err(RunError::NotRunDir { dir: run_dir.to_path_buf() });
        }
        let cfg = RunConfig::from_file(&dir.config(), &[])?;
        let extensions = Summary::read(&dir).map(|s| s.extensions).unwrap_or_default();
        Trainer::open_with(&cfg, dir, lock, extensions, Some(net))
    }

    /// [`Trainer::open_locked`] for `cfg` (the run's config, or its extension) with the run's
    /// `extensions` (whose shorter configs its older checkpoints were written with).
    fn open_with(
        cfg: &RunConfig,
        dir: RunDir,
        lock: Lock,
        extensions: Vec<Extension>,
        net: Option<Net>,
    ) -> Result<Trainer, RunError> {
        let run_dir = dir.root.clone();
        let run_dir = run_dir.as_path();
        let mut t = Trainer::build(cfg, dir, lock, net)?;
        t.extensions = extensions;
        let Some((epoch, step, wall)) = t.latest_checkpoint()? else {
            if t.dir.metrics().exists() {
                t.notes.push((true, "no intact checkpoint: starting the run from the beginning".into()));
            }
            let _ = std::fs::remove_file(t.dir.metrics());
            t.start_fresh()?;
            return Ok(t);
        };
        t.load_init_si()?;
        t.adopt_header();
        let keys = verify::metrics_keys(t.steps_per_epoch, cfg.train.log_every, step);
        let keys_cols = [col::EPOCH.name(), col::STEP.name(), col::ROW.name()];
        let rows = verify::verify_table(&t.dir.metrics(), &t.file_header, &keys_cols, &keys, step)?;
        store::write_records(&t.dir.metrics(), &rows.records())?;
        t.restore_progress(&rows);
        t.notes.push((false, format!("resuming {} from epoch {epoch} (step {step})", run_dir.display())));
        t.from = Some((epoch, step, wall));
        Ok(t)
    }

    /// Load the latest checkpoint that loads (damaged ones noted and skipped); `None` when
    /// there is none. A checkpoint of another config is an error.
    fn latest_checkpoint(&mut self) -> Result<Option<(usize, usize, f64)>, RunError> {
        let candidates: Vec<usize> =
            self.dir.checkpoint_epochs().into_iter().rev().filter(|&e| self.dir.optim_state(e).is_file()).collect();
        for epoch in candidates {
            match self.load_checkpoint(epoch) {
                Ok(at) => return Ok(Some(at)),
                Err(e @ (RunError::OtherConfig { .. } | RunError::ModelFileChanged { .. })) => return Err(e),
                Err(e) => self
                    .notes
                    .push((true, format!("checkpoint of epoch {epoch} cannot be used ({e:#}); trying the one before"))),
            }
        }
        Ok(None)
    }

    /// cos_to_init needs the initial SI weights: those of the epoch-0 checkpoint.
    fn load_init_si(&mut self) -> Result<(), RunError> {
        let path = self.dir.checkpoint(0);
        let missing = |why: String| RunError::NoCheckpoint {
            path: path.clone(),
            needed: format!("the epoch-0 checkpoint (the initial weights) is needed to resume: {why}"),
        };
        let (init, _) = store::load_tensors(&path).map_err(|e| missing(e.to_string()))?;
        let dev = self.ws.net.device();
        self.init_si = self
            .ws
            .net
            .with_role(Role::Si)
            .iter()
            .map(|p| {
                init.iter()
                    .find(|(m, _)| *m == p.name)
                    .map(|(_, t)| t.to_device(dev))
                    .ok_or_else(|| missing(format!("it lacks the SI tensor {}", p.name)))
            })
            .collect::<Result<_, _>>()?;
        Ok(())
    }

    /// Load the model and optimizer state of the checkpoint of `epoch` (checksums verified,
    /// written by this config: else [`RunError::OtherConfig`]); returns its (epoch, step, wall
    /// time).
    fn load_checkpoint(&mut self, epoch: usize) -> Result<(usize, usize, f64), RunError> {
        let path = self.dir.checkpoint(epoch);
        let (model, meta) = store::load_tensors(&path)?;
        let found = meta.get("config_hash");
        if !found.is_some_and(|h| extend::accepted_hashes(&self.cfg, &self.extensions).contains(h)) {
            return Err(RunError::OtherConfig {
                changed: meta.get("config").and_then(|old| extend::config_diff(old, &self.cfg)),
                path,
                found: found.cloned(),
                expected: self.cfg.hash(),
            });
        }
        let step: usize = meta
            .get("step")
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| StoreError::format(&path, "metadata lacks `step`"))?;
        // a checkpoint copied over another's name: its own record says which epoch it holds
        if let Some(found) = meta.get("epoch").filter(|e| e.parse::<usize>().ok() != Some(epoch)) {
            return Err(StoreError::format(
                &path,
                format!(
                    "holds epoch {found} (step {step}, its metadata) but its name says epoch {epoch}: \
                     it was copied or renamed over another checkpoint"
                ),
            )
            .into());
        }
        if let (Some(found), Some((file, sha))) = (meta.get("model_file_sha256"), self.ws.net.source())
            && found != sha
        {
            let (file, found, expected) = (file.to_path_buf(), found.clone(), sha.to_string());
            return Err(RunError::ModelFileChanged { path, file, found, expected });
        }
        let wall: f64 = meta.get("wall_time").and_then(|w| w.parse().ok()).unwrap_or(0.0);
        let (optim, _) = store::load_tensors(&self.dir.optim_state(epoch))?;
        self.ws.net.load(&model).with_context(|| path.display().to_string())?;
        self.opt.load_state(&optim, &self.ws.net);
        Ok((epoch, step, wall))
    }

    /// A run started by an older silab has fewer columns (e.g. no per-group norms or angles):
    /// continue with its own columns, when each is one this net measures.
    fn adopt_header(&mut self) {
        let Some(found) = store::read_header(&self.dir.metrics()) else { return };
        if found == self.header || !["epoch", "step", "row"].iter().all(|c| found.iter().any(|f| f == c)) {
            return;
        }
        let cols: Option<Vec<usize>> = found.iter().map(|c| self.header.iter().position(|h| h == c)).collect();
        if let Some(cols) = cols {
            self.notes.push((false, format!("continuing with the {} columns this run started with", found.len())));
            self.file_header = found;
            self.file_cols = cols;
        }
    }

    /// The best test accuracy and the last epoch row of the verified rows of a resumed run (typed
    /// by the reader: an empty cell is NaN, a garbled one was an error there).
    fn restore_progress(&mut self, rows: &store::Table) {
        let parse = |r: &store::TypedRow| -> Row {
            let mut vals = vec![f64::NAN; self.header.len()];
            for (i, &c) in self.file_cols.iter().enumerate() {
                vals[c] = r.num(i);
            }
            let (e, s) = (vals[col::EPOCH.index()] as usize, vals[col::STEP.index()] as usize);
            Row { epoch: e, step: s, is_epoch: r.kind == Some(store::RowKind::Epoch), values: vals }
        };
        let all: Vec<Row> = rows.rows.iter().map(parse).collect();
        self.best = all.iter().map(|r| r.get(col::TEST_ACC)).filter(|a| !a.is_nan()).reduce(f64::max);
        self.last_row = all.into_iter().rfind(|r| r.is_epoch);
    }

    /// Starting from scratch: the fine-tuning start point, if any.
    fn start_fresh(&mut self) -> Result<(), RunError> {
        let from = &self.cfg.train.init_from;
        if !from.as_os_str().is_empty() {
            let path = init_checkpoint(from)?;
            let (tensors, _) = store::load_tensors(&path)?;
            self.ws.net.load(&tensors).with_context(|| format!("train.init_from = {}", path.display()))?;
            self.init_si = self.ws.net.si().iter().map(|t| t.detach().copy()).collect();
            self.opt = Optimizer::new(&self.cfg.optim, &self.ws.net, self.steps_per_epoch, self.cfg.train.epochs);
        }
        Ok(())
    }

    /// Add an in-training measurement.
    pub fn add_hook(&mut self, hook: Box<dyn Hook>) {
        self.hooks.push(hook);
    }

    /// A warning shown when the run starts (with the resume notes), e.g. from a hook's setup.
    pub fn warn_at_start(&mut self, text: String) {
        self.notes.push((true, text));
    }

    pub fn config(&self) -> &RunConfig {
        &self.cfg
    }

    pub fn dir(&self) -> &RunDir {
        &self.dir
    }

    pub fn workspace(&self) -> &Workspace {
        &self.ws
    }

    /// Metrics common to step and epoch rows: rho, ELR, geometry, per-layer and per-group norms
    /// (`step`: the step whose learning rate `lr` is).
    fn fill_geometry(&self, row: &mut Row, lr: f64, step: usize) {
        let net = &self.ws.net;
        let rho = net.rho();
        row.set(col::LR, lr);
        row.set(col::RHO, rho);
        let power = self.opt.elr_power();
        // on the sphere, the configured ELR exactly: lr / rho^p would carry the projection's
        // float noise, and a table grouped by ELR would split
        let e = if self.cfg.optim.mode == OptimMode::Sphere { self.opt.elr_at(step) } else { elr(lr, rho, power) };
        row.set(col::ELR, e);
        let (cos, dist) = metrics::to_init(net, &self.init_si);
        row.set(col::COS_TO_INIT, cos);
        row.set(col::DIST_TO_INIT, dist);
        if self.cfg.metrics.layers {
            let norms = metrics::layer_norms(net);
            let (base, k) = (METRICS.len(), norms.len());
            for (i, n) in norms.iter().enumerate() {
                row.values[base + i] = *n;
                row.values[base + k + i] = elr(lr, *n, power);
            }
            let groups = metrics::group_norms(net);
            let (base, k) = (base + 2 * k, groups.len());
            for (g, r) in groups.iter().enumerate() {
                row.values[base + g] = *r;
                row.values[base + k + g] = elr(self.opt.group_lr_at(step, g), *r, power);
            }
        }
    }

    /// The angular-update columns: the last step's (`step_angle`, `update_rel`, `angle:*`), the
    /// means since the previous row (`angle_mean*`), and the predicted equilibrium (`angle_eq`).
    fn fill_angles(&self, row: &mut Row, last: Option<&StepAngles>, mean: &AngleAcc) {
        row.set(col::ANGLE_EQ, self.opt.angle_eq_at(row.step.saturating_sub(1)));
        let Some(last) = last else { return };
        let net = &self.ws.net;
        let (k, g) = (net.si().len(), net.si_groups().len());
        let base = METRICS.len() + 2 * k + 2 * g;
        let put = |row: &mut Row, at: usize, v: &[f64]| {
            row.set(if at == base { col::STEP_ANGLE } else { col::ANGLE_MEAN }, v[0]);
            if self.cfg.metrics.layers {
                row.values[at..at + k + g].copy_from_slice(&v[1..]);
            }
        };
        let v: Vec<f64> = last.angles().iter().map(|a| a.double_value(&[])).collect();
        put(row, base, &v);
        row.set(col::UPDATE_REL, last.update_rel().double_value(&[]));
        if let Some(m) = mean.means() {
            put(row, base + k + g, &m);
        }
    }

    /// Stage: the epoch row, the full measurement (train pass, test pass, geometry).
    fn epoch_row(&self, epoch: usize, step: usize, lr: f64) -> Row {
        let (net, d, m) = (&self.ws.net, &self.ws.data, &self.cfg.metrics);
        let mut row = Row::new(epoch, step, true, self.header.len());
        self.fill_geometry(&mut row, lr, step.saturating_sub(1));
        if m.train_eval || m.full_grad {
            let bs = self.cfg.train.batch_size;
            let e = metrics::evaluate(net, &d.train, bs, BnMode::TrainFrozenStats, self.cfg.loss, m.full_grad);
            if m.train_eval {
                row.set(col::TRAIN_LOSS, e.loss);
                row.set(col::TRAIN_ACC, e.acc);
            }
            if let Some(g) = e.full_grad_norm {
                row.set(col::FULL_GRAD_NORM, g);
                row.set(col::EFF_FULL_GRAD_NORM, g * row.get(col::RHO));
            }
        }
        let e = metrics::evaluate(net, &d.test, 1000, BnMode::Eval, self.cfg.loss, false);
        row.set(col::TEST_LOSS, e.loss);
        row.set(col::TEST_ACC, e.acc);
        row
    }

    /// Stage: one optimizer step on the minibatch `idx` at global step `step`.
    fn step(&mut self, idx: &[i64], step: usize, aug: &mut rand_chacha::ChaCha8Rng) -> StepStats {
        let (net, train) = (&self.ws.net, &self.ws.data.train);
        let it = Tensor::from_slice(idx).to_device(self.ws.device);
        let mut x = train.images.index_select(0, &it);
        if self.cfg.data.augment {
            x = data::augment(&x, &train.pad_value, aug);
        }
        let y = train.labels.index_select(0, &it);
        net.zero_grad();
        let l = loss(&net.forward(&x, BnMode::Train), &y, self.cfg.loss);
        l.backward();
        let grad_norm = si_grad_norm(net);
        let rho = tch::no_grad(|| sq_norm_t(&net.si()).sqrt());
        let eff_grad_norm = &grad_norm * &rho;
        let lr = self.opt.lr_at(step);
        self.opt.step(net, step);
        StepStats { loss: l.detach(), grad_norm, eff_grad_norm, rho, lr }
    }

    /// The ELR a step used: the configured one on the sphere, lr / rho^2 (before the step) in
    /// full space.
    fn step_elr(&self, s: &StepStats, step: usize) -> f64 {
        match self.cfg.optim.mode {
            OptimMode::Sphere => self.opt.elr_at(step),
            OptimMode::Full | OptimMode::Rotational => elr(s.lr, s.rho.double_value(&[]), self.opt.elr_power()),
        }
    }

    /// Write a row to `metrics.csv`, track the best test accuracy and the last epoch row, show
    /// epoch rows.
    fn emit(&mut self, row: Row, progress: &mut dyn Progress) -> Result<()> {
        let fields = row.fields();
        let fields: Vec<String> = self.file_cols.iter().map(|&c| fields[c].clone()).collect();
        store::append_records(&self.dir.metrics(), &self.file_header, &[fields])?;
        if let Some(tb) = &mut self.tensorboard {
            // the same columns as the CSV row, one tag each (empty cells left out)
            let values: Vec<(&str, f64)> = self
                .file_cols
                .iter()
                .map(|&c| (self.header[c].as_str(), row.values[c]))
                .filter(|(n, _)| *n != "row")
                .collect();
            tb.scalars(row.step as i64, &values)?;
        }
        let acc = row.get(col::TEST_ACC);
        if !acc.is_nan() {
            self.best = Some(self.best.map_or(acc, |b: f64| b.max(acc)));
        }
        if row.is_epoch {
            progress.line(&row.epoch_line());
            self.last_row = Some(row);
        }
        Ok(())
    }

    /// Stage: checkpoint per the policy, and the summary with it.
    fn end_of_epoch(&self, epoch: usize, step: usize, wall: f64) -> Result<()> {
        for a in self.policy.actions(epoch, &self.dir.checkpoint_epochs()) {
            match a {
                Action::Save => {
                    self.save_checkpoint(epoch, step, wall)?;
                    self.write_summary(epoch, step, wall, None)?;
                }
                Action::Delete(e) => {
                    let _ = std::fs::remove_file(self.dir.checkpoint(e));
                    let _ = std::fs::remove_file(self.dir.optim_state(e));
                }
            }
        }
        Ok(())
    }

    fn save_checkpoint(&self, epoch: usize, step: usize, wall: f64) -> Result<()> {
        store::create_dir(&self.dir.checkpoints())?;
        let mut meta = HashMap::from([
            ("epoch".to_string(), epoch.to_string()),
            ("step".to_string(), step.to_string()),
            ("config_hash".to_string(), self.cfg.hash()),
            ("wall_time".to_string(), format!("{wall}")),
            ("format".to_string(), "pt".to_string()),
            // so that a refused resume can say which keys of config.toml were changed
            ("config".to_string(), self.cfg.to_toml()),
        ]);
        if let Some((_, sha)) = self.ws.net.source() {
            meta.insert("model_file_sha256".to_string(), sha.to_string());
        }
        store::save_tensors(&self.dir.checkpoint(epoch), &self.ws.net.snapshot(), meta.clone())?;
        store::save_tensors(&self.dir.optim_state(epoch), &self.opt.state(), meta)?;
        Ok(())
    }

    /// Stage: `summary.json` (`diverged_at`: the step where a value became non-finite).
    fn write_summary(&self, epoch: usize, step: usize, wall: f64, diverged_at: Option<usize>) -> Result<()> {
        self.write_summary_with(epoch, step, wall, diverged_at, None)
    }

    /// [`Self::write_summary`], with the early rule's decision when it stopped the run.
    fn write_summary_with(
        &self,
        epoch: usize,
        step: usize,
        wall: f64,
        diverged_at: Option<usize>,
        decision: Option<Decision>,
    ) -> Result<()> {
        let status = if diverged_at.is_some() {
            RunState::Diverged
        } else if decision.is_some() {
            RunState::Decided
        } else if epoch >= self.cfg.train.epochs {
            RunState::Done
        } else {
            RunState::Running
        };
        let summary = Summary {
            silab_version: env!("CARGO_PKG_VERSION").into(),
            config_hash: self.cfg.hash(),
            status,
            diverged_at_step: diverged_at,
            decision,
            epochs_done: epoch,
            steps_done: step,
            steps_per_epoch: self.steps_per_epoch,
            train_size: self.ws.data.train.len(),
            test_size: self.ws.data.test.len(),
            si_params: self.ws.net.si_numel(),
            rho0: self.opt.rho0,
            threads: self.cfg.train.threads,
            device: self.cfg.train.device.name().into(),
            wall_time_s: wall,
            best_test_acc: self.best,
            last: self
                .last_row
                .as_ref()
                .map(|r| {
                    self.header
                        .iter()
                        .zip(&r.values)
                        .filter(|(_, v)| !v.is_nan())
                        .map(|(k, v)| (k.clone(), *v))
                        .collect()
                })
                .unwrap_or_default(),
            extensions: self.extensions.clone(),
        };
        Ok(store::write_json(&self.dir.summary(), &summary)?)
    }

    fn hooks_after(&mut self, at: At, progress: &mut dyn Progress) -> Result<()> {
        for h in &mut self.hooks {
            h.after(&self.ws.net, at, progress)?;
        }
        Ok(())
    }

    /// Every in-training measurement the config asks for must have its hook.
    fn check_hooks(&self) -> Result<()> {
        let sh = &self.cfg.sharpness;
        if (sh.every_epochs > 0 || sh.every_steps > 0) && !self.hooks.iter().any(|h| h.serves() == "sharpness") {
            bail!(
                "sharpness.every_epochs / every_steps ask for curvature during training, but this trainer has no \
                 sharpness hook: train with silab::training::train / training::resume (which add it)"
            );
        }
        Ok(())
    }

    /// Run from where the trainer starts to the last epoch, writing rows, checkpoints and the
    /// summary. With `train.stop_on_nonfinite`, a loss or rho that becomes NaN or infinite ends
    /// the run as `diverged` (a last step row shows where).
    pub fn run(mut self, progress: &mut dyn Progress) -> Result<Summary> {
        self.begin(progress)?;
        let (start_epoch, mut step, before) = self.from.unwrap_or((0, 0, 0.0));
        let clock = Clock { before, start: Instant::now() };
        progress.start("steps", self.steps_per_epoch * self.cfg.train.epochs, step);
        if self.from.is_none() {
            self.measure_init(&clock, progress)?;
        }
        let mut done = start_epoch;
        for epoch in start_epoch..self.cfg.train.epochs {
            if self.run_epoch(epoch, &mut step, &clock, progress)? == EpochEnd::Diverged {
                // no checkpoint: the last row (a step row) shows where
                self.write_summary(done, step, clock.wall(), Some(step))?;
                progress.finish();
                return Ok(Summary::read(&self.dir)?);
            }
            done = epoch + 1;
            self.end_of_epoch(done, step, clock.wall())?;
            self.log_epoch(done, step)?;
            if let Some(d) = self.early_decision()? {
                // the weights it stopped with are the run's last checkpoint
                if !self.dir.checkpoint(done).exists() {
                    self.save_checkpoint(done, step, clock.wall())?;
                }
                self.dir.log_line(&format!("stopped: {} (train.stop_when = \"regime\")", d.label()))?;
                progress.line(&format!("epoch {done}: stopping, regime decided: {}", d.label()));
                self.write_summary_with(done, step, clock.wall(), None, Some(d))?;
                progress.finish();
                return Ok(Summary::read(&self.dir)?);
            }
        }
        // The summary of where the run stands now (also when a resume found nothing left to do).
        self.write_summary(done, step, clock.wall(), None)?;
        progress.finish();
        Ok(Summary::read(&self.dir)?)
    }

    /// Stage: before the first step of this session. The hooks are checked and rewound to where
    /// the run starts, the notes shown, the TensorBoard file opened.
    fn begin(&mut self, progress: &mut dyn Progress) -> Result<()> {
        self.check_hooks()?;
        let resume = Resume { from: self.from.map(|(e, s, _)| (e, s)), steps_per_epoch: self.steps_per_epoch };
        for h in &mut self.hooks {
            h.rewind(&self.ws.net, resume)?;
        }
        for (warn, n) in std::mem::take(&mut self.notes) {
            if warn { progress.warn(&n) } else { progress.line(&n) }
        }
        if self.cfg.train.tensorboard {
            // a resumed session rewrites the rows after its checkpoint, a run started again
            // from scratch all of them: TensorBoard drops what earlier sessions wrote from there
            let start = self.from.map_or(0, |(_, step, _)| step as i64 + 1);
            self.tensorboard = Some(EventWriter::create(&self.dir.root, start)?);
        }
        Ok(())
    }

    /// Stage: the initial measurement (the epoch-0 row), the hooks at init, checkpoint 0.
    fn measure_init(&mut self, clock: &Clock, progress: &mut dyn Progress) -> Result<()> {
        progress.set(0, "measuring the initialisation (epoch 0)");
        let mut row = self.epoch_row(0, 0, self.opt.lr_at(0));
        row.set(col::ANGLE_EQ, self.opt.angle_eq_at(0));
        row.set(col::WALL_TIME, clock.wall());
        self.emit(row, progress)?;
        self.hooks_after(At { epoch: 0, step: 0, epoch_end: true }, progress)?;
        self.end_of_epoch(0, 0, clock.wall())
    }

    /// Stage: the steps of epoch `epoch` (0-based) from global step `step` (advanced), with their
    /// step rows, the epoch row and the hooks; ends early when the run diverges.
    fn run_epoch(
        &mut self,
        epoch: usize,
        step: &mut usize,
        clock: &Clock,
        progress: &mut dyn Progress,
    ) -> Result<EpochEnd> {
        let (seed, log_every) = (self.cfg.seed, self.cfg.train.log_every);
        let batches = data::epoch_batches(self.ws.data.train.len(), self.cfg.train.batch_size, seed, epoch);
        let mut aug = rng(seed, streams::AUGMENT + epoch as u64);
        let dev = self.ws.device;
        let (mut in_epoch, mut since_row) = (Means::new(dev), Means::new(dev));
        let track = self.cfg.metrics.angles && self.ws.net.has_si();
        for (bi, idx) in batches.iter().enumerate() {
            let last_in_epoch = bi + 1 == batches.len();
            let step_row = log_every > 0 && (*step + 1).is_multiple_of(log_every) && !last_in_epoch;
            let measure = track || step_row || last_in_epoch;
            let before: Vec<Tensor> =
                if measure { self.ws.net.si().iter().map(|t| t.detach().copy()).collect() } else { vec![] };
            let s = self.step(idx, *step, &mut aug);
            let angles = measure.then(|| StepAngles::measure(&self.ws.net, &before));
            let tracked = if track { angles.as_ref().map(|a| a.angles()) } else { None };
            in_epoch.add(&s, tracked.as_deref());
            since_row.add(&s, tracked.as_deref());
            *step += 1;
            store::failpoint(&format!("after-step:{step}"));
            let batch_loss = s.loss.double_value(&[]);
            progress.set(*step, &format!("loss {batch_loss:.4} elr {:.2e}", self.step_elr(&s, *step - 1)));
            let rho_ok = !self.ws.net.has_si() || self.ws.net.rho().is_finite();
            if self.cfg.train.stop_on_nonfinite && !(batch_loss.is_finite() && rho_ok) {
                self.diverged_row(epoch, *step, &s, &since_row, clock, progress)?;
                return Ok(EpochEnd::Diverged);
            }
            if step_row {
                self.step_row(epoch, *step, &s, angles.as_ref(), &since_row, clock, progress)?;
                since_row = Means::new(dev);
            }
            if !last_in_epoch {
                self.hooks_after(At { epoch, step: *step, epoch_end: false }, progress)?;
            } else {
                self.epoch_end_row(epoch + 1, *step, &s, angles.as_ref(), &in_epoch, clock, progress)?;
                since_row = Means::new(dev);
                self.hooks_after(At { epoch: epoch + 1, step: *step, epoch_end: true }, progress)?;
            }
        }
        Ok(EpochEnd::Completed)
    }

    /// Stage: the last row of a diverged run, a step row (cheap columns), and the warning.
    fn diverged_row(
        &mut self,
        epoch: usize,
        step: usize,
        s: &StepStats,
        since_row: &Means,
        clock: &Clock,
        progress: &mut dyn Progress,
    ) -> Result<()> {
        let mut row = Row::new(epoch, step, false, self.header.len());
        self.fill_geometry(&mut row, s.lr, step - 1);
        since_row.acc.write(&mut row);
        row.set(col::WALL_TIME, clock.wall());
        self.emit(row, progress)?;
        progress.warn(&format!(
            "step {step} (epoch {}): the loss is {}, rho {}: stopping the run as diverged (train.stop_on_nonfinite)",
            epoch + 1,
            s.loss.double_value(&[]),
            self.ws.net.rho()
        ));
        Ok(())
    }

    /// Stage: the step row (cheap columns only), every `train.log_every` steps inside an epoch.
    #[allow(clippy::too_many_arguments)]
    fn step_row(
        &mut self,
        epoch: usize,
        step: usize,
        s: &StepStats,
        last: Option<&StepAngles>,
        since_row: &Means,
        clock: &Clock,
        progress: &mut dyn Progress,
    ) -> Result<()> {
        let mut row = Row::new(epoch, step, false, self.header.len());
        self.fill_geometry(&mut row, s.lr, step - 1);
        since_row.acc.write(&mut row);
        self.fill_angles(&mut row, last, &since_row.angles);
        row.set(col::WALL_TIME, clock.wall());
        self.emit(row, progress)
    }

    /// Stage: the epoch row at the end of an epoch (`epoch`: epochs done, including this one).
    #[allow(clippy::too_many_arguments)]
    fn epoch_end_row(
        &mut self,
        epoch: usize,
        step: usize,
        s: &StepStats,
        last: Option<&StepAngles>,
        in_epoch: &Means,
        clock: &Clock,
        progress: &mut dyn Progress,
    ) -> Result<()> {
        let mut row = self.epoch_row(epoch, step, s.lr);
        in_epoch.acc.write(&mut row);
        self.fill_angles(&mut row, last, &in_epoch.angles);
        row.set(col::WALL_TIME, clock.wall());
        if !row.get(col::TRAIN_LOSS).is_finite() && self.cfg.metrics.train_eval {
            progress.line(&format!("epoch {epoch}: train loss is {}", row.get(col::TRAIN_LOSS)));
        }
        self.emit(row, progress)
    }

    /// Stage: with `train.stop_when = "regime"`, the early rule on the epoch rows written so far
    /// (read back from `metrics.csv`, as an analysis after the fact reads them).
    fn early_decision(&self) -> Result<Option<Decision>> {
        if self.cfg.train.stop_when != StopWhen::Regime {
            return Ok(None);
        }
        let s = Series::from_run(&self.dir.root)?;
        let rule = EarlyRule::new(self.cfg.train.regime_window, self.cfg.train.epochs, &RegimeParams::default());
        Ok(early::decide(&s, &rule))
    }

    /// Stage: the line of `log.txt` for an epoch done.
    fn log_epoch(&self, done: usize, step: usize) -> Result<()> {
        if let Some(r) = &self.last_row {
            self.dir.log_line(&format!(
                "epoch {done} step {step} train_loss {:.4e} test_acc {:.4} rho {:.4} elr {:.3e}",
                r.get(col::TRAIN_LOSS),
                r.get(col::TEST_ACC),
                r.get(col::RHO),
                r.get(col::ELR)
            ))?;
        }
        Ok(())
    }
}

/// How an epoch of [`Trainer::run`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EpochEnd {
    Completed,
    /// A loss or rho became non-finite (`train.stop_on_nonfinite`): the run stops.
    Diverged,
}

/// The run's wall time: what earlier sessions took (from the checkpoint) plus this one's.
struct Clock {
    before: f64,
    start: Instant,
}

impl Clock {
    fn wall(&self) -> f64 {
        self.before + self.start.elapsed().as_secs_f64()
    }
}

/// Means since a row (the last row of any kind, or the epoch's start): losses and norms, and
/// the angular updates when they are tracked.
struct Means {
    acc: Acc,
    angles: AngleAcc,
}

impl Means {
    fn new(dev: Device) -> Means {
        Means { acc: Acc::new(dev), angles: AngleAcc::new() }
    }
    fn add(&mut self, s: &StepStats, angles: Option<&[Tensor]>) {
        self.acc.add(s);
        if let Some(a) = angles {
            self.angles.add(a);
        }
    }
}

/// The summary of a run that ended as diverged (its config unchanged): such a run has nothing
/// left to do, and resuming it returns this.
pub fn diverged(dir: &RunDir) -> Option<Summary> {
    ended_early(dir).filter(|s| s.status == RunState::Diverged)
}

/// The summary of a run that stopped before its last epoch with nothing left to do (its config
/// unchanged): diverged, or stopped once its regime was decided (`train.stop_when = "regime"`).
/// Resuming it returns this.
pub fn ended_early(dir: &RunDir) -> Option<Summary> {
    let s = Summary::read(dir).ok()?;
    let cfg = RunConfig::from_file(&dir.config(), &[]).ok()?;
    (matches!(s.status, RunState::Diverged | RunState::Decided) && s.config_hash == cfg.hash()).then_some(s)
}
