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

use super::{GaussNewton, Group, Hessian, LANCZOS_TOL, Operator, Riemannian, flatten, hutchinson, lanczos, slq};
use crate::config::{RunConfig, SharpnessConfig};
use crate::data::Dataset;
use crate::model::{BnMode, Net, loss};
use crate::progress::Progress;
use crate::run::verify::{Key, verify_rows};
use crate::run::{At, Hook, Resume, Workspace};
use crate::schema::{EIG_PREFIX, Kind as ColumnKind, SHARPNESS, SPECTRUM};
use crate::store::{self, Records, RunDir};
use anyhow::{Result, bail};
use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;
use tch::Tensor;

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
            Field::Float(f) => ColumnKind::Float.format(*f),
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

/// Column names for a config: [`SHARPNESS`], then `eig_2` ... `eig_K`.
pub fn header(cfg: &SharpnessConfig) -> Vec<String> {
    let mut h: Vec<String> = SHARPNESS.iter().map(|c| c.name.to_string()).collect();
    h.extend((2..=cfg.top_k).map(|k| format!("{EIG_PREFIX}{k}")));
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
    /// The Hessian of the mean loss on this setup's images, restricted to group `g`.
    fn hessian<'n>(&self, net: &'n Net, g: &Group) -> Hessian<'n> {
        let params: Vec<Tensor> = g.select(net).iter().map(|p| p.tensor.shallow_clone()).collect();
        Hessian {
            net,
            params,
            x: self.x.shallow_clone(),
            y: self.y.shallow_clone(),
            loss: self.loss,
            mode: self.mode,
            batch: self.batch,
        }
    }

    /// The fixed subset of `train` and the BN mode of `run.sharpness`.
    pub fn new(run: &'a RunConfig, train: &Dataset) -> Setup<'a> {
        let cfg = &run.sharpness;
        let sub = train.head(cfg.images);
        let batch = if cfg.ghost_batch == 0 { run.train.batch_size } else { cfg.ghost_batch };
        Setup { cfg, loss: run.loss, x: sub.images, y: sub.labels, mode: cfg.bn_mode.into(), batch, seed: run.seed }
    }
}

/// The warning for a `sharpness.images` larger than the training set `train`: then every
/// image of it is measured on, fewer than asked (0 means all, and is not warned about).
pub fn images_clamped(run: &RunConfig, train: &Dataset) -> Option<String> {
    let (asked, have) = (run.sharpness.images, train.len());
    (asked > have).then(|| {
        format!(
            "sharpness.images = {asked} but the training set has {have} images: curvature is measured on all {have}"
        )
    })
}

fn seed_for(base: u64, epoch: usize, group: usize, what: u64) -> u64 {
    base.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ ((epoch as u64) << 20) ^ ((group as u64) << 4) ^ what
}

/// Measure every configured group of `net` (its current weights) and return one row per group.
/// `warm` carries Lanczos vectors from one call to the next (pass an empty map for cold starts).
/// Leaves the net's weights, gradients and BN statistics as they were.
pub fn measure(net: &Net, s: &Setup, epoch: usize, step: usize, warm: &mut WarmStarts) -> Result<Vec<Row>> {
    let groups = Group::expand(&s.cfg.groups, net).map_err(|e| anyhow::anyhow!("sharpness.groups: {e}"))?;
    // the mean loss does not depend on the group: one pass over the data for all of them
    let mut mean_loss: Option<f64> = None;
    Ok(groups
        .iter()
        .enumerate()
        .map(|(gi, g)| measure_group(net, s, (g, gi), (epoch, step), &mut mean_loss, warm))
        .collect())
}

/// One group's row of [`measure`] (`group`: the group and its index, `at`: epoch and step;
/// `mean_loss`: measured by the first group, reused by the others).
fn measure_group(
    net: &Net,
    s: &Setup,
    (g, gi): (&Group, usize),
    (epoch, step): (usize, usize),
    mean_loss: &mut Option<f64>,
    warm: &mut WarmStarts,
) -> Row {
    let rho = net.rho();
    let rho2 = rho * rho;
    let t0 = Instant::now();
    let h = s.hessian(net, g);
    let n = h.dim() as f64;
    let like = h.params[0].detach();
    let name = g.name();
    let si_only = g.is_si(net);
    // an SI group's own norm makes its values scale-free under scaling it alone
    let grho2 = if matches!(g, Group::SiGroup(_)) { g.rho(net).powi(2) } else { rho2 };
    let eff = |v: f64| if si_only { v * grho2 } else { f64::NAN };
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
        ("top_eig_rel_residual", e.residuals[0] / e.values[0].abs()),
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
            ("riemannian_top_eig_residual", re.residuals[0]),
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
            ("gn_top_eig_residual", ge.residuals[0]),
            ("eff_gn_trace", eff(gt / n)),
            ("eff_gn_top_eig", eff(ge.values[0])),
        ]);
    }
    v.push(("seconds", t0.elapsed().as_secs_f64()));
    to_row(s, (epoch, step), &name, n, &e.values, &v)
}

/// Every Lanczos estimate of a row's values `v` is within [`LANCZOS_TOL`] of its eigenvalue.
fn converged(v: &[(&str, f64)]) -> bool {
    let pairs = [
        ("top_eig", "top_eig_residual"),
        ("riemannian_top_eig", "riemannian_top_eig_residual"),
        ("gn_top_eig", "gn_top_eig_residual"),
    ];
    let value = |k: &str| v.iter().find(|(n, _)| *n == k).map(|(_, x)| *x);
    pairs.iter().all(|(e, r)| match (value(e), value(r)) {
        (Some(e), Some(r)) => r <= LANCZOS_TOL * e.abs(),
        _ => true,
    })
}

/// The row of group `name` (`n` parameters) in the columns of [`header`]: the values `v` by
/// name, the top eigenvalues `eigs` in the `EIG_PREFIX` columns, NaN for what was not measured.
fn to_row(s: &Setup, (epoch, step): (usize, usize), name: &str, n: f64, eigs: &[f64], v: &[(&str, f64)]) -> Row {
    let converged = converged(v);
    let row = header(s.cfg)
        .into_iter()
        .map(|c| {
            let f = match c.as_str() {
                "epoch" => Field::Int(epoch as i64),
                "step" => Field::Int(step as i64),
                "group" => Field::Str(name.to_string()),
                "params" => Field::Int(n as i64),
                "bn_mode" => Field::Str(s.mode.name().into()),
                "ghost_batch" => Field::Int(s.batch as i64),
                "images" => Field::Int(s.x.size()[0]),
                "converged" => Field::Int(converged as i64),
                c => Field::Float(match c.strip_prefix(EIG_PREFIX).and_then(|k| k.parse::<usize>().ok()) {
                    Some(k) => eigs.get(k - 1).copied().unwrap_or(f64::NAN),
                    None => v.iter().find(|(k, _)| *k == c).map(|(_, x)| *x).unwrap_or(f64::NAN),
                }),
            };
            (c, f)
        })
        .collect();
    Row(row)
}

/// The Hessian's spectral density of each group by stochastic Lanczos quadrature
/// (`sharpness.density_probes` probes of `sharpness.lanczos_iters` steps): rows of
/// [`crate::schema::SPECTRUM`], one per probe and Ritz value.
pub fn spectrum(net: &Net, s: &Setup, epoch: usize, step: usize) -> Result<Vec<Vec<String>>> {
    let groups = Group::expand(&s.cfg.groups, net).map_err(|e| anyhow::anyhow!("sharpness.groups: {e}"))?;
    let mut rows = vec![];
    for (gi, g) in groups.iter().enumerate() {
        let h = s.hessian(net, g);
        let like = h.params[0].detach();
        let q = slq(&h, s.cfg.density_probes, s.cfg.lanczos_iters, seed_for(s.seed, epoch, gi, 6), &like);
        for (p, (nodes, weights)) in q.iter().enumerate() {
            for (n, w) in nodes.iter().zip(weights) {
                rows.push(vec![
                    epoch.to_string(),
                    step.to_string(),
                    g.name(),
                    s.mode.name().to_string(),
                    p.to_string(),
                    format!("{n:e}"),
                    format!("{w:e}"),
                ]);
            }
        }
    }
    Ok(rows)
}

/// Append rows to a CSV file (header written when the file is new).
pub fn append(path: &Path, header: &[String], rows: &[Row]) -> Result<()> {
    Ok(store::append_records(path, header, &rows.iter().map(Row::fields).collect::<Vec<_>>())?)
}

/// Curvature during training (`sharpness.every_epochs` / `every_steps`): a [`Hook`] that
/// measures at the log points the config asks for and appends the rows to `sharpness.csv`.
/// Lanczos starts cold at every measurement, so a resumed run measures exactly what an
/// uninterrupted one does.
pub struct InTraining {
    cfg: RunConfig,
    /// The images measured on (the first `sharpness.images` of the training set).
    train: Dataset,
    file: std::path::PathBuf,
    header: Vec<String>,
}

impl InTraining {
    /// For the run of `cfg` in `dir`, measuring on the first images of `train`.
    pub fn new(cfg: &RunConfig, train: &Dataset, dir: &RunDir) -> InTraining {
        InTraining {
            cfg: cfg.clone(),
            train: train.head(cfg.sharpness.images),
            file: dir.sharpness(),
            header: header(&cfg.sharpness),
        }
    }

    /// The `(epoch, step)` of every measurement up to step `max_step`, as [`Hook::after`] makes
    /// them: at initialisation, at the epoch ends of `every_epochs`, every `every_steps` steps.
    fn schedule(&self, steps_per_epoch: usize, max_step: usize) -> Vec<(usize, usize)> {
        let (ee, es) = (self.cfg.sharpness.every_epochs, self.cfg.sharpness.every_steps);
        let mut out = vec![(0, 0)];
        for k in 1..=max_step {
            let epoch = k / steps_per_epoch;
            let by_step = es > 0 && k.is_multiple_of(es);
            let by_epoch = k.is_multiple_of(steps_per_epoch) && ee > 0 && epoch.is_multiple_of(ee);
            if by_step || by_epoch {
                out.push((epoch, k));
            }
        }
        out
    }

    /// Whether the config asks for curvature during training at all.
    pub fn wanted(cfg: &RunConfig) -> bool {
        cfg.sharpness.every_epochs > 0 || cfg.sharpness.every_steps > 0
    }
}

impl Hook for InTraining {
    fn serves(&self) -> &'static str {
        "sharpness"
    }

    fn after(&mut self, net: &Net, at: At, progress: &mut dyn Progress) -> Result<()> {
        let (ee, es) = (self.cfg.sharpness.every_epochs, self.cfg.sharpness.every_steps);
        let by_epoch = at.epoch_end && ee > 0 && at.epoch.is_multiple_of(ee);
        let by_step = es > 0 && at.step.is_multiple_of(es);
        if !(by_epoch || by_step) {
            return Ok(());
        }
        let rows = measure(net, &Setup::new(&self.cfg, &self.train), at.epoch, at.step, &mut WarmStarts::new())?;
        append(&self.file, &self.header, &rows)?;
        for r in &rows {
            progress.line(&format!(
                "epoch {} step {}: sharpness {} trace {:.4e} top_eig {:.4e} eff_top_eig {:.4e}",
                at.epoch,
                at.step,
                r.text("group").unwrap_or(""),
                r.get("trace"),
                r.get("top_eig"),
                r.get("eff_top_eig")
            ));
        }
        Ok(())
    }

    fn rewind(&mut self, net: &Net, resume: Resume) -> Result<()> {
        let Some((_, step)) = resume.from else {
            let _ = std::fs::remove_file(&self.file);
            return Ok(());
        };
        let groups: Vec<String> = Group::expand(&self.cfg.sharpness.groups, net)?.iter().map(Group::name).collect();
        let keys: Vec<Key> = self
            .schedule(resume.steps_per_epoch, step)
            .into_iter()
            .flat_map(|(e, s)| groups.iter().map(move |g| vec![e.to_string(), s.to_string(), g.clone()]))
            .collect();
        // a file an older silab began has fewer columns: continue it with this version's
        store::widen(&self.file, &self.header)?;
        let rows = verify_rows(&self.file, &self.header, &["epoch", "step", "group"], &keys, step)?;
        if self.file.is_file() {
            store::write_records(&self.file, &rows)?;
        }
        Ok(())
    }
}

/// Which checkpoints `silab sharpness` measures: `all`, the `last`, a list `0,10,20`, or a range
/// `start:end:step` (end included; epochs without a checkpoint in the range are skipped).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Epochs {
    All,
    Last,
    List(Vec<usize>),
    Range { start: usize, end: usize, step: usize },
}

impl std::str::FromStr for Epochs {
    type Err = String;
    fn from_str(spec: &str) -> Result<Epochs, String> {
        let spec = spec.trim();
        match spec {
            "all" => Ok(Epochs::All),
            "last" => Ok(Epochs::Last),
            _ if spec.contains(':') => {
                let f: Vec<usize> = spec
                    .split(':')
                    .map(|x| x.trim().parse::<usize>())
                    .collect::<Result<_, _>>()
                    .map_err(|_| format!("--epochs `{spec}`: expected start:end:step"))?;
                if f.len() != 3 || f[2] == 0 {
                    return Err(format!("--epochs `{spec}`: expected start:end:step with step >= 1"));
                }
                Ok(Epochs::Range { start: f[0], end: f[1], step: f[2] })
            }
            _ => spec
                .split(',')
                .map(|x| x.trim().parse::<usize>())
                .collect::<Result<_, _>>()
                .map(Epochs::List)
                .map_err(|_| format!("--epochs `{spec}`: expected all, last, a list 0,10,20 or start:end:step")),
        }
    }
}

impl Epochs {
    /// The epochs to measure, given the epochs that have checkpoints (ascending). A listed epoch
    /// without a checkpoint stays in the list (and is an error when measured).
    pub fn resolve(&self, available: &[usize]) -> Vec<usize> {
        match self {
            Epochs::All => available.to_vec(),
            Epochs::Last => available.last().copied().into_iter().collect(),
            Epochs::List(v) => v.clone(),
            Epochs::Range { start, end, step } => {
                (*start..=*end).step_by(*step).filter(|e| available.contains(e)).collect()
            }
        }
    }
}

/// Post hoc: measure the checkpoints of the run in `run_dir` at `epochs` (all checkpoints when
/// `None`), with `sets` (`sharpness.*`, `train.device`, `train.threads` keys) overriding the
/// run's config. Lanczos warm-starts from the previous epoch's vectors. Rows are handed to
/// `on_rows` as each checkpoint is measured, merged into `sharpness_posthoc.csv` (a row measured
/// again with the same epoch, group and BN mode replaces the old one) and returned. A checkpoint
/// whose weights are not finite is not measured: once the others are written, an error names it.
pub fn posthoc(
    run_dir: &Path,
    epochs: Option<&[usize]>,
    sets: &[String],
    progress: &mut dyn Progress,
    on_rows: &mut dyn FnMut(&[Row]),
) -> Result<Vec<Row>> {
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
    let cfg = RunConfig::from_file(&dir.config(), sets)?;
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
    let Workspace { mut net, data, .. } = Workspace::new(&cfg)?;
    if let Some(w) = images_clamped(&cfg, &data.train) {
        progress.warn(&w);
    }
    let setup = Setup::new(&cfg, &data.train);
    let mut warm = WarmStarts::new();
    let mut all = vec![];
    let mut spectra = vec![];
    progress.start("checkpoints", todo.len(), 0);
    let mut refused = vec![];
    for (i, &e) in todo.iter().enumerate() {
        let (tensors, meta) = store::load_tensors(&dir.checkpoint(e))?;
        // a diverged checkpoint's Hessian is not a measurement (its products read 0 or NaN):
        // no row for it, and an error naming it once the finite ones are written
        if let Some(t) = super::nonfinite_tensor(&tensors) {
            refused.push(format!(
                "{}: the weights are not finite (`{t}` holds inf or NaN; the run diverged): not measured",
                dir.checkpoint(e).display()
            ));
            progress.set(i + 1, "");
            continue;
        }
        net.load(&tensors).map_err(|m| anyhow::anyhow!("{}: {m}", dir.checkpoint(e).display()))?;
        let step = meta.get("step").and_then(|s| s.parse().ok()).unwrap_or(0);
        let rows = measure(&net, &setup, e, step, &mut warm)?;
        if cfg.sharpness.density_probes > 0 {
            spectra.extend(spectrum(&net, &setup, e, step)?);
        }
        on_rows(&rows);
        progress.set(i + 1, "");
        all.extend(rows);
    }
    if !all.is_empty() || refused.is_empty() {
        merge_into(&dir.sharpness_posthoc(), &header(&cfg.sharpness), &all)?;
    }
    if !spectra.is_empty() {
        merge_spectra(&dir.spectrum_posthoc(), spectra)?;
    }
    if !refused.is_empty() {
        bail!("{}", refused.join("\n"));
    }
    Ok(all)
}

/// Merge spectrum rows into `path`, replacing the rows of an (epoch, group, BN mode) measured
/// again.
fn merge_spectra(path: &Path, rows: Vec<Vec<String>>) -> Result<()> {
    let header: Vec<String> = SPECTRUM.iter().map(|c| c.name.to_string()).collect();
    let key = |r: &[String]| (r[0].parse::<i64>().unwrap_or(0), format!("{}|{}", r[2], r[3]));
    let new: std::collections::HashSet<(i64, String)> = rows.iter().map(|r| key(r)).collect();
    let mut out: Vec<Vec<String>> = vec![];
    store::widen(path, &header)?;
    if path.is_file() {
        let old = store::Table::read(path)?.records();
        if old.header == header {
            out.extend(old.rows.into_iter().filter(|r| !new.contains(&key(r))));
        }
    }
    out.extend(rows);
    out.sort_by_key(|r| key(r).0);
    Ok(store::write_records(path, &Records { header, rows: out })?)
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
    // rows an older silab wrote keep their values under this version's columns
    store::widen(path, header)?;
    if path.is_file() {
        let old = store::Table::read(path)?.records();
        if old.header == header {
            let col = |n: &str| old.col(n).expect("a sharpness header");
            let (ce, cg, cb) = (col("epoch"), col("group"), col("bn_mode"));
            for r in old.rows {
                if !new_keys.contains(&key(&r[ce], &r[cg], &r[cb])) {
                    kept.push((r[ce].parse().unwrap_or(0), r));
                }
            }
        }
    }
    kept.extend(rows.iter().map(|r| (r.get("epoch") as i64, r.fields())));
    kept.sort_by_key(|(e, _)| *e);
    let records = Records { header: header.to_vec(), rows: kept.into_iter().map(|(_, r)| r).collect() };
    Ok(store::write_records(path, &records)?)
}
