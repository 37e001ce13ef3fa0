//! Training runs: the loop, its log points, checkpoints and resume.
//!
//! [`train`] starts a run in a new directory; [`resume`] continues a killed one from its latest
//! checkpoint and ends with the same `metrics.csv` (but `wall_time`) as an uninterrupted run with
//! the same seed and thread count. Everything random is drawn from explicit seeds: init from
//! `seed`, the shuffling and augmentation of epoch e from `(seed, e)`, the data from `data.seed`.

pub mod store;

use crate::config::{DeviceName, OptimMode, RunConfig};
use crate::data::{self, Data, rng, streams};
use crate::landscape::sharpness;
use crate::metrics::{self, Row};
use crate::model::{BnMode, NamedTensors, Net, loss, sq_norm_t};
use crate::optim::{Optimizer, si_grad_norm};
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;
use std::time::Instant;
use store::RunDir;
use tch::{Device, Kind, Tensor};

/// Receives progress events; the CLI draws a progress bar, the library stays silent.
pub trait Observer {
    /// Called once with the total number of steps of the run and how many are already done.
    fn start(&mut self, _total_steps: usize, _done_steps: usize) {}
    /// After each optimizer step, with the minibatch loss and the current ELR.
    fn step(&mut self, _step: usize, _batch_loss: f64, _elr: f64) {}
    /// After each row of metrics is written.
    fn row(&mut self, _header: &[String], _row: &Row) {}
    /// A human-readable message (also written to log.txt).
    fn message(&mut self, _msg: &str) {}
    fn finish(&mut self) {}
}

/// An observer that ignores everything.
pub struct Silent;
impl Observer for Silent {}

/// `summary.json`.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Summary {
    pub silab_version: String,
    pub config_hash: String,
    /// `running` until the last epoch is done, then `completed`.
    pub status: String,
    pub epochs_done: usize,
    pub steps_done: usize,
    pub steps_per_epoch: usize,
    pub train_size: usize,
    pub test_size: usize,
    pub si_params: i64,
    pub rho0: f64,
    pub threads: usize,
    pub device: String,
    pub wall_time_s: f64,
    pub best_test_acc: Option<f64>,
    /// The last epoch row, column -> value (unmeasured columns left out).
    pub last: BTreeMap<String, f64>,
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

/// Resolve the configured device, with a clear error when CUDA is not there.
pub fn device(cfg: &RunConfig) -> Result<Device> {
    match cfg.train.device {
        DeviceName::Cpu => Ok(Device::Cpu),
        DeviceName::Cuda => {
            if tch::Cuda::is_available() {
                Ok(Device::Cuda(0))
            } else {
                bail!("train.device = \"cuda\" but this libtorch sees no CUDA device; use train.device = \"cpu\"")
            }
        }
    }
}

/// The checkpoint a `train.init_from` names: the file itself, or a run directory's latest.
pub fn init_checkpoint(from: &Path) -> Result<std::path::PathBuf> {
    if from.is_file() {
        return Ok(from.to_path_buf());
    }
    let rd = RunDir::new(from);
    match rd.checkpoint_epochs().last() {
        Some(&e) => Ok(rd.checkpoint(e)),
        None => bail!(
            "train.init_from = {}: neither a checkpoint file nor a run directory with checkpoints",
            from.display()
        ),
    }
}

/// Everything a run holds in memory.
pub struct Session {
    pub cfg: RunConfig,
    pub net: Net,
    pub opt: Optimizer,
    pub data: Data,
    /// SI group at initialisation (for cos_to_init / dist_to_init).
    pub init_si: Vec<Tensor>,
    pub steps_per_epoch: usize,
    header: Vec<String>,
}

impl Session {
    /// Build data, net and optimizer from a config (no files written).
    pub fn new(cfg: &RunConfig) -> Result<Session> {
        tch::set_num_threads(cfg.train.threads as i32);
        let dev = device(cfg)?;
        let data = data::load(&cfg.data).context("loading data")?;
        let data = Data { train: data.train.to_device(dev), test: data.test.to_device(dev) };
        let mut net = Net::new(&cfg.model, data.train.classes, cfg.seed, Kind::Float, dev);
        if !cfg.train.init_from.as_os_str().is_empty() {
            let path = init_checkpoint(&cfg.train.init_from)?;
            let (tensors, _) = store::load_tensors(&path)?;
            net.load(&tensors).map_err(|e| anyhow::anyhow!("train.init_from = {}: {e}", path.display()))?;
        }
        let steps_per_epoch = data::batches_per_epoch(data.train.len(), cfg.train.batch_size);
        let opt = Optimizer::new(&cfg.optim, &net, steps_per_epoch, cfg.train.epochs);
        let init_si = net.si().iter().map(|t| t.detach().copy()).collect();
        let header = metrics::header(&net, cfg.metrics.layers);
        Ok(Session { cfg: cfg.clone(), net, opt, data, init_si, steps_per_epoch, header })
    }

    /// Column names of this run's `metrics.csv`.
    pub fn header(&self) -> &[String] {
        &self.header
    }

    /// Metrics common to step and epoch rows: rho, ELR, geometry, per-layer norms.
    fn fill_geometry(&self, row: &mut Row, lr: f64) {
        let rho = self.net.rho();
        row.set("lr", lr);
        row.set("rho", rho);
        row.set("elr", lr / (rho * rho));
        let (cos, dist) = metrics::to_init(&self.net, &self.init_si);
        row.set("cos_to_init", cos);
        row.set("dist_to_init", dist);
        if self.cfg.metrics.layers {
            let norms = metrics::layer_norms(&self.net);
            let base = metrics::COLUMNS.len();
            let k = norms.len();
            for (i, n) in norms.iter().enumerate() {
                row.values[base + i] = *n;
                row.values[base + k + i] = lr / (n * n);
            }
        }
    }

    /// The full measurement of an epoch row (train pass, test pass, geometry).
    fn epoch_row(&self, epoch: usize, step: usize, lr: f64) -> Row {
        let mut row = Row::new(epoch, step, true, self.header.len());
        self.fill_geometry(&mut row, lr);
        let bs = self.cfg.train.batch_size;
        if self.cfg.metrics.train_eval || self.cfg.metrics.full_grad {
            let e = metrics::evaluate(
                &self.net,
                &self.data.train,
                bs,
                BnMode::TrainFrozenStats,
                self.cfg.loss,
                self.cfg.metrics.full_grad,
            );
            if self.cfg.metrics.train_eval {
                row.set("train_loss", e.loss);
                row.set("train_acc", e.acc);
            }
            if let Some(g) = e.full_grad_norm {
                row.set("full_grad_norm", g);
                row.set("eff_full_grad_norm", g * row.get("rho"));
            }
        }
        let e = metrics::evaluate(&self.net, &self.data.test, 1000, BnMode::Eval, self.cfg.loss, false);
        row.set("test_loss", e.loss);
        row.set("test_acc", e.acc);
        row
    }

    /// Model tensors (PyTorch names) and optimizer state, for checkpoints.
    fn state(&self) -> (NamedTensors, NamedTensors) {
        (self.net.snapshot(), self.opt.state())
    }
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
    fn add(&mut self, loss: &Tensor, grad: &Tensor, eff: &Tensor) {
        self.n += 1;
        self.loss += loss.to_kind(Kind::Double);
        self.grad += grad;
        self.eff += eff;
    }
    fn write(&self, row: &mut Row) {
        if self.n > 0 {
            let n = self.n as f64;
            row.set("batch_loss", self.loss.double_value(&[]) / n);
            row.set("grad_norm", self.grad.double_value(&[]) / n);
            row.set("eff_grad_norm", self.eff.double_value(&[]) / n);
        }
    }
}

fn append_row(dir: &RunDir, header: &[String], row: &Row) -> Result<()> {
    let path = dir.metrics();
    let fresh = !path.is_file();
    let f = std::fs::OpenOptions::new().create(true).append(true).open(&path)?;
    let mut w = csv::Writer::from_writer(f);
    if fresh {
        w.write_record(header)?;
    }
    w.write_record(row.fields())?;
    w.flush()?;
    Ok(())
}

fn write_summary(
    dir: &RunDir,
    s: &Session,
    epoch: usize,
    step: usize,
    wall: f64,
    last: Option<&Row>,
    best: Option<f64>,
) -> Result<()> {
    let summary = Summary {
        silab_version: env!("CARGO_PKG_VERSION").into(),
        config_hash: s.cfg.hash(),
        status: if epoch >= s.cfg.train.epochs { "completed" } else { "running" }.into(),
        epochs_done: epoch,
        steps_done: step,
        steps_per_epoch: s.steps_per_epoch,
        train_size: s.data.train.len(),
        test_size: s.data.test.len(),
        si_params: s.net.si_numel(),
        rho0: s.opt.rho0,
        threads: s.cfg.train.threads,
        device: format!("{:?}", s.net.device()),
        wall_time_s: wall,
        best_test_acc: best,
        last: last
            .map(|r| {
                s.header.iter().zip(&r.values).filter(|(_, v)| !v.is_nan()).map(|(k, v)| (k.clone(), *v)).collect()
            })
            .unwrap_or_default(),
    };
    store::write_atomic(&dir.summary(), &serde_json::to_vec_pretty(&summary)?)
}

fn save_checkpoint(dir: &RunDir, s: &Session, epoch: usize, step: usize, wall: f64) -> Result<()> {
    std::fs::create_dir_all(dir.checkpoints())?;
    let (model, optim) = s.state();
    let meta = HashMap::from([
        ("epoch".to_string(), epoch.to_string()),
        ("step".to_string(), step.to_string()),
        ("config_hash".to_string(), s.cfg.hash()),
        ("wall_time".to_string(), format!("{wall}")),
        ("format".to_string(), "pt".to_string()),
    ]);
    store::save_tensors(&dir.checkpoint(epoch), &model, meta.clone())?;
    store::save_tensors(&dir.optim_state(epoch), &optim, meta)?;
    if !s.cfg.train.keep_checkpoints {
        for e in dir.checkpoint_epochs() {
            if e != 0 && e != epoch {
                let _ = std::fs::remove_file(dir.checkpoint(e));
                let _ = std::fs::remove_file(dir.optim_state(e));
            }
        }
    }
    Ok(())
}

/// Start a new run of `cfg` in `out` (created; must not hold a run already).
pub fn train(cfg: &RunConfig, out: &Path, obs: &mut dyn Observer) -> Result<Summary> {
    let dir = RunDir::new(out);
    if dir.config().exists() {
        bail!(
            "{} already holds a run; continue it with `silab train --resume {}` or choose another --out",
            out.display(),
            out.display()
        );
    }
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    store::write_atomic(&dir.config(), cfg.to_toml().as_bytes())?;
    let s = Session::new(cfg)?;
    execute(s, &dir, 0, 0, 0.0, obs)
}

/// Continue the run in `run_dir` from its latest checkpoint.
pub fn resume(run_dir: &Path, obs: &mut dyn Observer) -> Result<Summary> {
    let dir = RunDir::new(run_dir);
    let cfg = RunConfig::from_file(&dir.config(), &[])?;
    let mut s = Session::new(&cfg)?;
    let Some(epoch) = dir.latest_resumable() else {
        if dir.metrics().exists() {
            obs.message("no checkpoint found: starting the run from the beginning");
        }
        let _ = std::fs::remove_file(dir.metrics());
        return execute(s, &dir, 0, 0, 0.0, obs);
    };
    let (model, meta) = store::load_tensors(&dir.checkpoint(epoch))?;
    if meta.get("config_hash") != Some(&cfg.hash()) {
        bail!(
            "{}: checkpoint was written by another config (hash {:?}, config.toml has {})",
            dir.checkpoint(epoch).display(),
            meta.get("config_hash"),
            cfg.hash()
        );
    }
    let step: usize = meta.get("step").context("checkpoint metadata lacks `step`")?.parse()?;
    let wall: f64 = meta.get("wall_time").and_then(|w| w.parse().ok()).unwrap_or(0.0);
    s.net.load(&model).map_err(anyhow::Error::msg)?;
    let (optim, _) = store::load_tensors(&dir.optim_state(epoch))?;
    s.opt.load_state(&optim, &s.net);
    // cos_to_init needs the initial SI weights: those of the epoch-0 checkpoint.
    if let Ok((init, _)) = store::load_tensors(&dir.checkpoint(0)) {
        let names: Vec<String> = s.net.with_role(crate::model::Role::Si).iter().map(|p| p.name.clone()).collect();
        s.init_si = names
            .iter()
            .map(|n| {
                init.iter()
                    .find(|(m, _)| m == n)
                    .map(|(_, t)| t.to_device(s.net.device()))
                    .context("epoch-0 checkpoint lacks an SI tensor")
            })
            .collect::<Result<_>>()?;
    }
    store::truncate_metrics(&dir.metrics(), step)?;
    store::truncate_metrics(&crate::landscape::sharpness::train_file(&dir), step)?;
    obs.message(&format!("resuming {} from epoch {epoch} (step {step})", run_dir.display()));
    execute(s, &dir, epoch, step, wall, obs)
}

/// Run from `(epoch, step)` to the end, writing rows, checkpoints and the summary.
fn execute(
    mut s: Session,
    dir: &RunDir,
    start_epoch: usize,
    start_step: usize,
    wall0: f64,
    obs: &mut dyn Observer,
) -> Result<Summary> {
    let cfg = s.cfg.clone();
    let dev = s.net.device();
    let clock = Instant::now();
    let wall = || wall0 + clock.elapsed().as_secs_f64();
    let total = s.steps_per_epoch * cfg.train.epochs;
    obs.start(total, start_step);
    let mut best: Option<f64> = None;
    let mut last_row: Option<Row> = None;
    if let Ok((h, rows)) = store::read_metrics(&dir.metrics())
        && let Some(i) = h.iter().position(|c| c == "test_acc")
    {
        best = rows.iter().filter_map(|r| r[i].parse::<f64>().ok()).reduce(f64::max);
    }
    let header = s.header.clone();
    let emit = |row: Row, best: &mut Option<f64>, obs: &mut dyn Observer| -> Result<Row> {
        append_row(dir, &header, &row)?;
        let acc = row.get("test_acc");
        if !acc.is_nan() {
            *best = Some(best.map_or(acc, |b: f64| b.max(acc)));
        }
        obs.row(&header, &row);
        Ok(row)
    };
    // Curvature during training (sharpness.every_epochs / every_steps): cold Lanczos starts, so a
    // resumed run measures exactly what an uninterrupted one does. `epoch_end`: at an epoch row
    // (or at init); otherwise right after an optimizer step inside an epoch.
    let sharp = sharpness::Setup::new(&cfg, &s.data.train);
    let sharp_header = sharpness::header(&cfg.sharpness);
    let measure_sharpness =
        |net: &Net, epoch: usize, step: usize, epoch_end: bool, obs: &mut dyn Observer| -> Result<()> {
            let (ee, es) = (cfg.sharpness.every_epochs, cfg.sharpness.every_steps);
            let by_epoch = epoch_end && ee > 0 && epoch.is_multiple_of(ee);
            let by_step = es > 0 && step.is_multiple_of(es);
            if !(by_epoch || by_step) {
                return Ok(());
            }
            let rows = sharpness::measure(net, &sharp, epoch, step, &mut sharpness::WarmStarts::new())?;
            sharpness::append(&sharpness::train_file(dir), &sharp_header, &rows)?;
            for r in &rows {
                obs.message(&format!(
                    "epoch {epoch} step {step}: sharpness {} trace {:.4e} top_eig {:.4e} eff_top_eig {:.4e}",
                    r.text("group").unwrap_or(""),
                    r.get("trace"),
                    r.get("top_eig"),
                    r.get("eff_top_eig")
                ));
            }
            Ok(())
        };
    if start_epoch == 0 {
        let mut row = s.epoch_row(0, 0, s.opt.lr_at(0));
        row.set("wall_time", wall());
        last_row = Some(emit(row, &mut best, obs)?);
        measure_sharpness(&s.net, 0, 0, true, obs)?;
        save_checkpoint(dir, &s, 0, 0, wall())?;
        write_summary(dir, &s, 0, 0, wall(), last_row.as_ref(), best)?;
    }
    let mut step = start_step;
    let log_every = cfg.train.log_every;
    for epoch in start_epoch..cfg.train.epochs {
        let batches = data::epoch_batches(s.data.train.len(), cfg.train.batch_size, cfg.seed, epoch);
        let mut aug = rng(cfg.seed, streams::AUGMENT + epoch as u64);
        let mut ep_acc = Acc::new(dev);
        let mut iv_acc = Acc::new(dev);
        let mut before: Vec<Tensor> = vec![];
        for (bi, idx) in batches.iter().enumerate() {
            let it = Tensor::from_slice(idx).to_device(dev);
            let mut x = s.data.train.images.index_select(0, &it);
            if cfg.data.augment {
                x = data::augment(&x, s.data.train.pad_value, &mut aug);
            }
            let y = s.data.train.labels.index_select(0, &it);
            s.net.zero_grad();
            let l = loss(&s.net.forward(&x, BnMode::Train), &y, cfg.loss);
            l.backward();
            let gn = si_grad_norm(&s.net);
            let rho = tch::no_grad(|| sq_norm_t(&s.net.si()).sqrt());
            let eff = &gn * &rho;
            let l = l.detach();
            ep_acc.add(&l, &gn, &eff);
            iv_acc.add(&l, &gn, &eff);
            let last_in_epoch = bi + 1 == batches.len();
            let step_row = log_every > 0 && (step + 1).is_multiple_of(log_every) && !last_in_epoch;
            if step_row || last_in_epoch {
                before = s.net.si().iter().map(|t| t.detach().copy()).collect();
            }
            let lr = s.opt.lr_at(step);
            s.opt.step(&s.net, step);
            step += 1;
            // the ELR this step used: lr / rho^2 at the step (no second pass over the weights)
            let elr = match cfg.optim.mode {
                OptimMode::Sphere => s.opt.elr_at(step - 1),
                OptimMode::Full => lr / rho.double_value(&[]).powi(2),
            };
            obs.step(step, l.double_value(&[]), elr);
            if step_row {
                let mut row = Row::new(epoch, step, false, s.header.len());
                s.fill_geometry(&mut row, lr);
                iv_acc.write(&mut row);
                row.set("step_angle", metrics::angle(&s.net, &before));
                row.set("wall_time", wall());
                emit(row, &mut best, obs)?;
                iv_acc = Acc::new(dev);
            }
            if !last_in_epoch {
                measure_sharpness(&s.net, epoch, step, false, obs)?;
            }
            if last_in_epoch {
                let mut row = s.epoch_row(epoch + 1, step, lr);
                ep_acc.write(&mut row);
                row.set("step_angle", metrics::angle(&s.net, &before));
                row.set("wall_time", wall());
                if !row.get("train_loss").is_finite() && cfg.metrics.train_eval {
                    obs.message(&format!("epoch {}: train loss is {}", epoch + 1, row.get("train_loss")));
                }
                last_row = Some(emit(row, &mut best, obs)?);
                iv_acc = Acc::new(dev);
                measure_sharpness(&s.net, epoch + 1, step, true, obs)?;
            }
        }
        let done = epoch + 1;
        let every = cfg.train.checkpoint_every;
        if done == cfg.train.epochs || (every > 0 && done.is_multiple_of(every)) {
            save_checkpoint(dir, &s, done, step, wall())?;
            write_summary(dir, &s, done, step, wall(), last_row.as_ref(), best)?;
        }
        if let Some(r) = &last_row {
            dir.log_line(&format!(
                "epoch {done} step {step} train_loss {:.4e} test_acc {:.4} rho {:.4} elr {:.3e}",
                r.get("train_loss"),
                r.get("test_acc"),
                r.get("rho"),
                r.get("elr")
            ))?;
        }
    }
    obs.finish();
    let summary: Summary = serde_json::from_slice(&std::fs::read(dir.summary())?)?;
    let _ = std::io::stdout().flush();
    Ok(summary)
}
