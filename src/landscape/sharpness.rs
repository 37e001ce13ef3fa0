//! Sharpness measurements: per parameter group, the Hessian's trace (Hutchinson) and top
//! eigenvalues (Lanczos), their "effective" (× rho², scale-free) values, the Riemannian Hessian on
//! the sphere of the SI group, and the Gauss–Newton / Fisher matrix, as tidy rows
//! (`sharpness.csv` in a run directory, JSON lines from `silab sharpness`).
//!
//! Conventions (the README's): a **trace is per parameter**, `tr(A)/n` over the group's n
//! scalars (the papers divide by the number of SI parameters), with its standard error on the same
//! scale; an **eigenvalue is not divided**. `eff_*` = value × rho² with rho = ||w_SI||, given for
//! groups inside the SI group only (there scaling w by c scales H by 1/c², so × rho² is
//! scale-free); empty elsewhere.

use super::{GaussNewton, Group, Hessian, Operator, Riemannian, flatten, hutchinson, lanczos};
use crate::config::{CurvatureBn, RunConfig, SharpnessConfig};
use crate::data::Dataset;
use crate::model::{BnMode, Net, loss};
use crate::run::store::{self, RunDir};
use anyhow::{Context, Result, bail};
use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;
use tch::{Kind, Tensor};

/// The columns of a sharpness row, in order, with their meaning (the README's table). With
/// `sharpness.top_k = K > 1`, columns `eig_2` ... `eig_K` follow.
pub const COLUMNS: &[(&str, &str)] = &[
    ("epoch", "epochs completed when the weights were taken"),
    ("step", "optimizer steps completed"),
    ("group", "parameter group: all, si, non_si, layer:MODULE"),
    ("params", "number of scalars n in the group"),
    ("bn_mode", "BatchNorm while measuring: train (ghost batches, batch statistics) or eval (running statistics)"),
    ("ghost_batch", "ghost-batch size (train mode) / accumulation batch (eval mode)"),
    ("images", "training images measured on (the first ones, fixed)"),
    ("rho", "norm of the SI group, ||w_SI||"),
    ("loss", "mean loss on those images in that BN mode"),
    ("trace", "Hessian trace per parameter, tr(H)/n (Hutchinson)"),
    ("trace_stderr", "standard error of `trace`"),
    ("top_eig", "largest Hessian eigenvalue (Lanczos)"),
    ("top_eig_residual", "Lanczos residual norm ||H x - top_eig x|| of its vector"),
    ("eff_trace", "trace * rho^2 (groups inside the SI group)"),
    ("eff_top_eig", "top_eig * rho^2 (groups inside the SI group)"),
    ("riemannian_trace", "trace per parameter of the Riemannian Hessian on the sphere of the SI group (group si)"),
    ("riemannian_trace_stderr", "standard error of `riemannian_trace`"),
    ("riemannian_top_eig", "largest eigenvalue of the Riemannian Hessian P H P - (<w, g>/||w||^2) P (group si)"),
    ("eff_riemannian_trace", "riemannian_trace * rho^2"),
    ("eff_riemannian_top_eig", "riemannian_top_eig * rho^2"),
    ("gn_trace", "Gauss-Newton / Fisher trace per parameter, with the loss's own output Hessian"),
    ("gn_trace_stderr", "standard error of `gn_trace`"),
    ("gn_top_eig", "largest Gauss-Newton eigenvalue"),
    ("eff_gn_trace", "gn_trace * rho^2 (groups inside the SI group)"),
    ("eff_gn_top_eig", "gn_top_eig * rho^2 (groups inside the SI group)"),
    ("seconds", "time this row took"),
];

/// The keys every row of `silab sharpness --json` has (the contract); the rest of
/// [`COLUMNS`] follows.
pub const CONTRACT: &[&str] = &[
    "epoch",
    "group",
    "bn_mode",
    "trace",
    "trace_stderr",
    "top_eig",
    "eff_trace",
    "eff_top_eig",
    "riemannian_top_eig",
];

/// One value of a row.
#[derive(Clone, Debug, PartialEq)]
pub enum Field {
    Int(i64),
    Float(f64),
    Str(String),
}

impl Field {
    fn csv(&self) -> String {
        match self {
            Field::Int(i) => i.to_string(),
            Field::Float(f) if f.is_nan() => String::new(),
            Field::Float(f) => format!("{f:e}"),
            Field::Str(s) => s.clone(),
        }
    }
    fn json(&self) -> serde_json::Value {
        match self {
            Field::Int(i) => (*i).into(),
            Field::Float(f) if f.is_finite() => (*f).into(),
            Field::Float(_) => serde_json::Value::Null,
            Field::Str(s) => s.clone().into(),
        }
    }
}

/// One row: `(column, value)` in [`header`] order.
#[derive(Clone, Debug, PartialEq)]
pub struct Row(pub Vec<(String, Field)>);

impl Row {
    /// A float column (NaN when absent or not a float).
    pub fn get(&self, name: &str) -> f64 {
        match self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v) {
            Some(Field::Float(f)) => *f,
            Some(Field::Int(i)) => *i as f64,
            _ => f64::NAN,
        }
    }
    /// A text column.
    pub fn text(&self, name: &str) -> Option<&str> {
        match self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v) {
            Some(Field::Str(s)) => Some(s),
            _ => None,
        }
    }
    /// The row as one JSON object (unmeasured values are `null`).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Object(self.0.iter().map(|(k, v)| (k.clone(), v.json())).collect())
    }
    fn fields(&self) -> Vec<String> {
        self.0.iter().map(|(_, v)| v.csv()).collect()
    }
}

/// Column names for a config: [`COLUMNS`], then `eig_2` ... `eig_K`.
pub fn header(cfg: &SharpnessConfig) -> Vec<String> {
    let mut h: Vec<String> = COLUMNS.iter().map(|(n, _)| n.to_string()).collect();
    h.extend((2..=cfg.top_k).map(|k| format!("eig_{k}")));
    h
}

/// Lanczos start vectors kept between measurements (warm start), by group and operator.
pub type WarmStarts = HashMap<String, Tensor>;

/// What to measure on, resolved from a run config.
pub struct Setup<'a> {
    pub cfg: &'a SharpnessConfig,
    pub loss: crate::config::Loss,
    /// Images and labels measured on.
    pub x: Tensor,
    pub y: Tensor,
    pub mode: BnMode,
    pub batch: usize,
    /// Seed of the probes and random Lanczos starts.
    pub seed: u64,
}

impl<'a> Setup<'a> {
    /// The fixed subset of `train` and the BN mode of `run.sharpness`.
    pub fn new(run: &'a RunConfig, train: &Dataset) -> Setup<'a> {
        let cfg = &run.sharpness;
        let n = train.len();
        let k = if cfg.images == 0 { n } else { cfg.images.min(n) };
        let batch = if cfg.ghost_batch == 0 { run.train.batch_size } else { cfg.ghost_batch };
        Setup {
            cfg,
            loss: run.loss,
            x: train.images.narrow(0, 0, k as i64),
            y: train.labels.narrow(0, 0, k as i64),
            mode: match cfg.bn_mode {
                CurvatureBn::Train => BnMode::TrainFrozenStats,
                CurvatureBn::Eval => BnMode::Eval,
            },
            batch,
            seed: run.seed,
        }
    }

    fn bn_name(&self) -> &'static str {
        match self.mode {
            BnMode::Eval => "eval",
            _ => "train",
        }
    }
}

fn seed_for(base: u64, epoch: usize, group: usize, what: u64) -> u64 {
    base.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ ((epoch as u64) << 20) ^ ((group as u64) << 4) ^ what
}

/// Measure every configured group of `net` (its current weights) and return one row per group.
/// `warm` carries Lanczos vectors from one call to the next (pass an empty map for cold starts).
/// Leaves the net's weights, gradients and BN statistics as they were.
pub fn measure(net: &Net, s: &Setup, epoch: usize, step: usize, warm: &mut WarmStarts) -> Result<Vec<Row>> {
    let groups = Group::expand(&s.cfg.groups, net).map_err(|e| anyhow::anyhow!("sharpness.groups: {e}"))?;
    let rho = net.rho();
    let rho2 = rho * rho;
    let mut rows = vec![];
    // the mean loss does not depend on the group: one pass over the data for all of them
    let mut mean_loss: Option<f64> = None;
    for (gi, g) in groups.iter().enumerate() {
        let t0 = Instant::now();
        let params: Vec<Tensor> = g.select(net).iter().map(|p| p.tensor.shallow_clone()).collect();
        let h = Hessian {
            net,
            params,
            x: s.x.shallow_clone(),
            y: s.y.shallow_clone(),
            loss: s.loss,
            mode: s.mode,
            batch: s.batch,
        };
        let n = h.dim() as f64;
        let like = h.params[0].detach();
        let name = g.name();
        let si_only = g.is_si(net);
        let eff = |v: f64| if si_only { v * rho2 } else { f64::NAN };
        let mut lz = |op: &dyn Operator, key: &str, k: usize, what: u64| {
            let key = format!("{name}/{key}");
            let e = lanczos(op, k, s.cfg.lanczos_iters, warm.get(&key), seed_for(s.seed, epoch, gi, what), &like);
            warm.insert(key, e.vectors[0].shallow_clone());
            e
        };
        let mean_loss = *mean_loss.get_or_insert_with(|| {
            tch::no_grad(|| {
                h.batches()
                    .iter()
                    .map(|(x, y, w)| loss(&net.forward(x, s.mode), y, s.loss).double_value(&[]) * w)
                    .sum::<f64>()
            })
        });
        let (tr, se) = hutchinson(&h, s.cfg.probes, s.cfg.probe, seed_for(s.seed, epoch, gi, 0), &like);
        let e = lz(&h, "hessian", s.cfg.top_k, 1);
        let mut v: Vec<(&str, f64)> = vec![
            ("rho", rho),
            ("loss", mean_loss),
            ("trace", tr / n),
            ("trace_stderr", se / n),
            ("top_eig", e.values[0]),
            ("top_eig_residual", e.residuals[0]),
            ("eff_trace", eff(tr / n)),
            ("eff_top_eig", eff(e.values[0])),
        ];
        if s.cfg.riemannian && *g == Group::Si {
            let w = flatten(&h.params.iter().map(|p| p.detach()).collect::<Vec<_>>());
            let r = Riemannian { hessian: &h, grad: h.gradient(), w };
            let (rt, rse) = hutchinson(&r, s.cfg.probes, s.cfg.probe, seed_for(s.seed, epoch, gi, 2), &like);
            let re = lz(&r, "riemannian", 1, 3);
            v.extend([
                ("riemannian_trace", rt / n),
                ("riemannian_trace_stderr", rse / n),
                ("riemannian_top_eig", re.values[0]),
                ("eff_riemannian_trace", rt / n * rho2),
                ("eff_riemannian_top_eig", re.values[0] * rho2),
            ]);
        }
        if s.cfg.gauss_newton {
            let gn = GaussNewton(&h);
            let (gt, gse) = hutchinson(&gn, s.cfg.probes, s.cfg.probe, seed_for(s.seed, epoch, gi, 4), &like);
            let ge = lz(&gn, "gauss_newton", 1, 5);
            v.extend([
                ("gn_trace", gt / n),
                ("gn_trace_stderr", gse / n),
                ("gn_top_eig", ge.values[0]),
                ("eff_gn_trace", eff(gt / n)),
                ("eff_gn_top_eig", eff(ge.values[0])),
            ]);
        }
        v.push(("seconds", t0.elapsed().as_secs_f64()));
        let row = header(s.cfg)
            .into_iter()
            .map(|c| {
                let f = match c.as_str() {
                    "epoch" => Field::Int(epoch as i64),
                    "step" => Field::Int(step as i64),
                    "group" => Field::Str(name.clone()),
                    "params" => Field::Int(n as i64),
                    "bn_mode" => Field::Str(s.bn_name().into()),
                    "ghost_batch" => Field::Int(s.batch as i64),
                    "images" => Field::Int(s.x.size()[0]),
                    c => Field::Float(match c.strip_prefix("eig_").and_then(|k| k.parse::<usize>().ok()) {
                        Some(k) => e.values.get(k - 1).copied().unwrap_or(f64::NAN),
                        None => v.iter().find(|(k, _)| *k == c).map(|(_, x)| *x).unwrap_or(f64::NAN),
                    }),
                };
                (c, f)
            })
            .collect();
        rows.push(Row(row));
    }
    Ok(rows)
}

/// Append rows to a CSV file (header written when the file is new).
pub fn append(path: &Path, header: &[String], rows: &[Row]) -> Result<()> {
    let fresh = !path.is_file();
    let f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    let mut w = csv::Writer::from_writer(f);
    if fresh {
        w.write_record(header)?;
    }
    for r in rows {
        w.write_record(r.fields())?;
    }
    w.flush()?;
    Ok(())
}

/// `RUN_DIR/sharpness.csv`: rows measured during training.
pub fn train_file(dir: &RunDir) -> std::path::PathBuf {
    dir.root.join("sharpness.csv")
}

/// `RUN_DIR/sharpness_posthoc.csv`: rows measured by `silab sharpness`.
pub fn posthoc_file(dir: &RunDir) -> std::path::PathBuf {
    dir.root.join("sharpness_posthoc.csv")
}

/// Receives post-hoc progress.
pub trait Progress {
    fn start(&mut self, _epochs: usize) {}
    fn rows(&mut self, _rows: &[Row]) {}
}

impl Progress for () {}

/// Post hoc: measure the checkpoints of the run in `run_dir` at `epochs` (all checkpoints when
/// `None`), with `sets` (`sharpness.*`, `train.device`, `train.threads` keys) overriding the
/// run's config. Lanczos warm-starts from the previous epoch's vectors. Rows are merged into
/// `sharpness_posthoc.csv` (a row measured again with the same epoch, group and BN mode replaces
/// the old one) and returned.
pub fn posthoc(run_dir: &Path, epochs: Option<&[usize]>, sets: &[String], obs: &mut dyn Progress) -> Result<Vec<Row>> {
    let dir = RunDir::new(run_dir);
    if !dir.config().is_file() {
        bail!("{} is not a run directory (no config.toml)", run_dir.display());
    }
    for s in sets {
        let key = s.split_once('=').map(|(k, _)| k.trim()).unwrap_or(s);
        if !(key.starts_with("sharpness.") || key == "train.device" || key == "train.threads") {
            bail!("--set {key}: only sharpness.*, train.device and train.threads can change for a measurement");
        }
    }
    let text = std::fs::read_to_string(dir.config())?;
    let cfg = RunConfig::from_parts(Some((&text, &dir.config().display().to_string())), sets)?;
    let available = dir.checkpoint_epochs();
    let todo: Vec<usize> = match epochs {
        None => available.clone(),
        Some(es) => {
            if let Some(e) = es.iter().find(|e| !available.contains(e)) {
                bail!("{}: no checkpoint for epoch {e}; checkpoints: {available:?}", run_dir.display());
            }
            es.to_vec()
        }
    };
    if todo.is_empty() {
        bail!("{}: no checkpoints to measure", run_dir.display());
    }
    tch::set_num_threads(cfg.train.threads as i32);
    let dev = crate::run::device(&cfg)?;
    let data = crate::data::load(&cfg.data).context("loading data")?;
    let train = data.train.to_device(dev);
    let mut net = Net::new(&cfg.model, train.classes, cfg.seed, Kind::Float, dev);
    let setup = Setup::new(&cfg, &train);
    let mut warm = WarmStarts::new();
    let mut all = vec![];
    obs.start(todo.len());
    for &e in &todo {
        let (tensors, meta) = store::load_tensors(&dir.checkpoint(e))?;
        net.load(&tensors).map_err(|m| anyhow::anyhow!("{}: {m}", dir.checkpoint(e).display()))?;
        let step = meta.get("step").and_then(|s| s.parse().ok()).unwrap_or(0);
        let rows = measure(&net, &setup, e, step, &mut warm)?;
        obs.rows(&rows);
        all.extend(rows);
    }
    merge_into(&posthoc_file(&dir), &header(&cfg.sharpness), &all)?;
    Ok(all)
}

/// Merge rows into a CSV file, replacing rows with the same (epoch, group, bn_mode).
fn merge_into(path: &Path, header: &[String], rows: &[Row]) -> Result<()> {
    let key = |epoch: &str, group: &str, bn: &str| format!("{epoch}|{group}|{bn}");
    let new_keys: Vec<String> = rows
        .iter()
        .map(|r| {
            key(&(r.get("epoch") as i64).to_string(), r.text("group").unwrap_or(""), r.text("bn_mode").unwrap_or(""))
        })
        .collect();
    let mut kept: Vec<(i64, Vec<String>)> = vec![];
    if path.is_file() {
        let (h, old) = store::read_metrics(path)?;
        if h == header {
            let col = |n: &str| h.iter().position(|c| c == n).unwrap();
            let (ce, cg, cb) = (col("epoch"), col("group"), col("bn_mode"));
            for r in old {
                if !new_keys.contains(&key(&r[ce], &r[cg], &r[cb])) {
                    kept.push((r[ce].parse().unwrap_or(0), r));
                }
            }
        }
    }
    kept.extend(rows.iter().map(|r| (r.get("epoch") as i64, r.fields())));
    kept.sort_by_key(|(e, _)| *e);
    let mut w = csv::Writer::from_writer(vec![]);
    w.write_record(header)?;
    for (_, r) in &kept {
        w.write_record(r)?;
    }
    store::write_atomic(path, &w.into_inner()?)
}
