//! The loss landscape along paths and on slices.
//!
//! * **Lines** between two sets of weights (two checkpoints): the straight line
//!   `(1−t)·a + t·b` for every tensor, and the great circle, where the SI group moves along the
//!   sphere, `w(t) = ((1−t)ρ_a + tρ_b) · slerp(â, b̂; t)` (on the sphere itself when ρ_a = ρ_b, as
//!   in sphere-mode runs), and every other tensor (non-SI parameters, BN running statistics) moves
//!   straight.
//! * **Slices** around a point along one or two random directions: for the SI group, orthonormal
//!   directions tangent to the sphere, followed by the exponential map
//!   `w(α, β) = cos(r)·w + sin(r)·ρ·(α d₁ + β d₂)/r`, `r = √(α² + β²)` (α, β are angles in radians;
//!   every point stays on the sphere); for the other trained tensors, filter-normalized directions
//!   (Li et al. 2018: each output filter of `d` rescaled to the norm of that filter of `w`; 1-D
//!   tensors to the tensor's norm) and `w + α d₁ + β d₂`.

use super::{Group, LandscapeError, nonfinite_tensor};
use crate::config::{CurvatureBn, GroupSpec, Loss, RunConfig};
use crate::data::{Dataset, rng};
use crate::metrics::evaluate;
use crate::model::{BnMode, ModelError, NamedTensors, Net, Role, sq_norm};
use crate::progress::Progress;
use crate::run::Workspace;
use crate::store::{self, RunDir, ScanFiles};
use anyhow::{Context, Result, bail};
use rand_distr::{Distribution, StandardNormal};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tch::{Kind, Tensor};

/// Which path a line follows (its serde name is the `path` column of the scan).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PathKind {
    Straight,
    GreatCircle,
}

/// Which paths a line scan follows (`--path`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Paths {
    Both,
    Straight,
    GreatCircle,
}

impl Paths {
    pub fn kinds(self) -> Vec<PathKind> {
        match self {
            Paths::Both => vec![PathKind::Straight, PathKind::GreatCircle],
            Paths::Straight => vec![PathKind::Straight],
            Paths::GreatCircle => vec![PathKind::GreatCircle],
        }
    }
}

impl PathKind {
    /// How the scan's rows name the path: `straight`, `great_circle`.
    pub fn name(self) -> &'static str {
        crate::config::serde_name(&self)
    }
}

fn si_names(net: &Net) -> Vec<String> {
    net.with_role(Role::Si).iter().map(|p| p.name.clone()).collect()
}

/// A tensor of a point; the point was checked against the net ([`Net::check_compatible`]) before
/// any scan, so every name is there.
fn find<'a>(t: &'a NamedTensors, name: &str) -> &'a Tensor {
    &t.iter().find(|(n, _)| n == name).expect("a point checked against the net").1
}

/// The weights at `t` on the path from `a` (t = 0) to `b` (t = 1); both hold every tensor of
/// `net` (a checkpoint's contents).
pub fn interpolate(net: &Net, a: &NamedTensors, b: &NamedTensors, t: f64, kind: PathKind) -> NamedTensors {
    // the endpoints exactly: 0 * inf is NaN, so a non-finite B must not spoil A's row (and back)
    if t == 0.0 || t == 1.0 {
        let end = if t == 0.0 { a } else { b };
        return net.params().iter().map(|p| (p.name.clone(), find(end, &p.name).shallow_clone())).collect();
    }
    let si = si_names(net);
    let (ra, rb, theta) = if kind == PathKind::GreatCircle {
        let av: Vec<&Tensor> = si.iter().map(|n| find(a, n)).collect();
        let bv: Vec<&Tensor> = si.iter().map(|n| find(b, n)).collect();
        let (ra, rb) = (sq_norm(&av).sqrt(), sq_norm(&bv).sqrt());
        let dot: f64 = av
            .iter()
            .zip(&bv)
            .map(|(x, y)| (x.to_kind(Kind::Double) * y.to_kind(Kind::Double)).sum(Kind::Double).double_value(&[]))
            .sum();
        (ra, rb, (dot / (ra * rb)).clamp(-1.0, 1.0).acos())
    } else {
        (1.0, 1.0, 0.0)
    };
    // slerp weights on the unit vectors; linear when the angle is ~0
    let (ca, cb) = if theta.abs() < 1e-9 {
        (1.0 - t, t)
    } else {
        (((1.0 - t) * theta).sin() / theta.sin(), (t * theta).sin() / theta.sin())
    };
    let radius = (1.0 - t) * ra + t * rb;
    net.params()
        .iter()
        .map(|p| {
            let (x, y) = (find(a, &p.name), find(b, &p.name));
            let v = if p.tensor.kind() == Kind::Int64 {
                x.shallow_clone()
            } else if kind == PathKind::GreatCircle && si.contains(&p.name) {
                (x.to_kind(Kind::Double) * (ca * radius / ra) + y.to_kind(Kind::Double) * (cb * radius / rb))
                    .to_kind(x.kind())
            } else {
                (x.to_kind(Kind::Double) * (1.0 - t) + y.to_kind(Kind::Double) * t).to_kind(x.kind())
            };
            (p.name.clone(), v)
        })
        .collect()
}

/// A direction in weight space: one tensor per moved tensor name. The SI part (if any) is a unit
/// vector tangent to the sphere at the centre; the rest is filter-normalized.
#[derive(Debug)]
pub struct Direction {
    pub parts: HashMap<String, Tensor>,
}

/// A random direction at `center` over the tensors of `group`, drawn from `seed`; with `orth`,
/// its SI part is made orthogonal to that direction's (Gram–Schmidt), for 2-D slices.
pub fn random_direction(
    net: &Net,
    center: &NamedTensors,
    group: &Group,
    seed: u64,
    orth: Option<&Direction>,
) -> Direction {
    let mut r = rng(seed, 7);
    let moved: Vec<(String, Role)> = group.select(net).iter().map(|p| (p.name.clone(), p.role)).collect();
    let mut parts = HashMap::new();
    for (name, _) in &moved {
        let w = find(center, name);
        let v: Vec<f64> = (0..w.numel()).map(|_| StandardNormal.sample(&mut r)).collect();
        parts.insert(name.clone(), Tensor::from_slice(&v).view(w.size().as_slice()).to_kind(Kind::Double));
    }
    let si: Vec<&String> = moved.iter().filter(|(_, r)| *r == Role::Si).map(|(n, _)| n).collect();
    if !si.is_empty() {
        // tangent: remove the component along w, then along the other direction; unit norm
        let w: HashMap<&String, Tensor> = si.iter().map(|n| (*n, find(center, n).to_kind(Kind::Double))).collect();
        let dot = |a: &dyn Fn(&String) -> Tensor, b: &dyn Fn(&String) -> Tensor| -> f64 {
            si.iter().map(|n| (a(n) * b(n)).sum(Kind::Double).double_value(&[])).sum()
        };
        let ww = dot(&|n| w[n].shallow_clone(), &|n| w[n].shallow_clone());
        let dw = dot(&|n| parts[n].shallow_clone(), &|n| w[n].shallow_clone());
        for n in &si {
            let d = &parts[*n] - &w[*n] * (dw / ww);
            parts.insert((*n).clone(), d);
        }
        if let Some(o) = orth {
            let dd = dot(&|n| parts[n].shallow_clone(), &|n| o.parts[n].shallow_clone());
            let oo = dot(&|n| o.parts[n].shallow_clone(), &|n| o.parts[n].shallow_clone());
            for n in &si {
                let d = &parts[*n] - &o.parts[*n] * (dd / oo);
                parts.insert((*n).clone(), d);
            }
        }
        let norm = dot(&|n| parts[n].shallow_clone(), &|n| parts[n].shallow_clone()).sqrt();
        for n in &si {
            let d = &parts[*n] / norm;
            parts.insert((*n).clone(), d);
        }
    }
    for (name, role) in &moved {
        if *role == Role::Si {
            continue;
        }
        let w = find(center, name).to_kind(Kind::Double);
        let d = &parts[name];
        let nd = if w.dim() >= 2 {
            // per output filter (first dimension)
            let dims: Vec<i64> = (1..w.dim() as i64).collect();
            let wn = w.square().sum_dim_intlist(dims.as_slice(), true, Kind::Double).sqrt();
            let dn = d.square().sum_dim_intlist(dims.as_slice(), true, Kind::Double).sqrt();
            d * wn / dn.clamp_min(1e-12)
        } else {
            d * (w.norm().double_value(&[]) / d.norm().double_value(&[]).max(1e-12))
        };
        parts.insert(name.clone(), nd);
    }
    Direction { parts }
}

/// The weights at `(alpha, beta)` of the slice through `center` spanned by `d1` (and `d2`).
pub fn displace(
    net: &Net,
    center: &NamedTensors,
    d1: &Direction,
    alpha: f64,
    d2: Option<&Direction>,
    beta: f64,
) -> NamedTensors {
    let si = si_names(net);
    let rho = sq_norm(&si.iter().map(|n| find(center, n)).collect::<Vec<_>>()).sqrt();
    let r = (alpha * alpha + beta * beta).sqrt();
    net.params()
        .iter()
        .map(|p| {
            let w = find(center, &p.name);
            let Some(a) = d1.parts.get(&p.name) else { return (p.name.clone(), w.shallow_clone()) };
            let b = d2.and_then(|d| d.parts.get(&p.name));
            let wd = w.to_kind(Kind::Double);
            let v = if p.role == Role::Si {
                if r < 1e-15 {
                    wd
                } else {
                    let mut u = a * (alpha / r);
                    if let Some(b) = b {
                        u += b * (beta / r);
                    }
                    wd * r.cos() + u * (rho * r.sin())
                }
            } else {
                let mut v = wd + a * alpha;
                if let Some(b) = b {
                    v += b * beta;
                }
                v
            };
            (p.name.clone(), v.to_kind(w.kind()))
        })
        .collect()
}

/// Loss and accuracy of the net with `weights` loaded, on a train subset and the test set.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    pub train_loss: f64,
    pub train_acc: f64,
    pub test_loss: f64,
    pub test_acc: f64,
    pub rho: f64,
}

/// Load `weights` into `net` and measure (BatchNorm in `mode`, batches of `batch`).
pub fn evaluate_at(
    net: &mut Net,
    weights: &NamedTensors,
    train: &Dataset,
    test: &Dataset,
    loss: Loss,
    mode: BnMode,
    batch: usize,
) -> Result<Point, ModelError> {
    net.load(weights)?;
    let tr = evaluate(net, train, batch, mode, loss, false);
    let te = evaluate(net, test, batch, mode, loss, false);
    Ok(Point { train_loss: tr.loss, train_acc: tr.acc, test_loss: te.loss, test_acc: te.acc, rho: net.rho() })
}

/// One evaluated point of a line or slice: a row of `line.csv`, `slice_1d.csv` or `slice_2d.csv`.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ScanRow {
    /// `line`, `slice_1d` or `slice_2d`.
    pub kind: String,
    /// Lines: `straight` or `great_circle`; slices: empty.
    pub path: String,
    /// Lines: position t (0 = A, 1 = B); slices: α along the first direction.
    pub t: f64,
    /// 2-D slices: β along the second direction (0 otherwise).
    pub beta: f64,
    pub train_loss: f64,
    pub train_acc: f64,
    pub test_loss: f64,
    pub test_acc: f64,
    /// ||w_SI|| at the point.
    pub rho: f64,
}

/// What a scan measures on.
pub struct ScanData {
    pub train: Dataset,
    pub test: Dataset,
    pub loss: Loss,
    pub mode: BnMode,
    pub batch: usize,
}

fn row(kind: &str, path: &str, t: f64, beta: f64, p: Point) -> ScanRow {
    ScanRow {
        kind: kind.into(),
        path: path.into(),
        t,
        beta,
        train_loss: p.train_loss,
        train_acc: p.train_acc,
        test_loss: p.test_loss,
        test_acc: p.test_acc,
        rho: p.rho,
    }
}

/// `n` evenly spaced values from `lo` to `hi` (both included).
pub fn grid(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if n <= 1 {
        return vec![lo];
    }
    (0..n).map(|i| lo + (hi - lo) * i as f64 / (n - 1) as f64).collect()
}

/// Evaluate the lines from `a` to `b` at `ts`, for each path in `kinds`.
pub fn scan_line(
    net: &mut Net,
    a: &NamedTensors,
    b: &NamedTensors,
    ts: &[f64],
    kinds: &[PathKind],
    d: &ScanData,
    mut progress: impl FnMut(),
) -> Result<Vec<ScanRow>, LandscapeError> {
    net.check_compatible(a)?;
    net.check_compatible(b)?;
    let mut out = vec![];
    for &k in kinds {
        for &t in ts {
            let w = interpolate(net, a, b, t, k);
            out.push(row("line", k.name(), t, 0.0, evaluate_at(net, &w, &d.train, &d.test, d.loss, d.mode, d.batch)?));
            progress();
        }
    }
    Ok(out)
}

/// Evaluate a 1-D (`betas` empty) or 2-D slice through `center` along random directions over
/// `group`, drawn from `seed`.
#[allow(clippy::too_many_arguments)]
pub fn scan_slice(
    net: &mut Net,
    center: &NamedTensors,
    group: &Group,
    seed: u64,
    alphas: &[f64],
    betas: &[f64],
    d: &ScanData,
    mut progress: impl FnMut(),
) -> Result<Vec<ScanRow>, LandscapeError> {
    net.check_compatible(center)?;
    let d1 = random_direction(net, center, group, seed, None);
    let d2 = (!betas.is_empty()).then(|| random_direction(net, center, group, seed + 1, Some(&d1)));
    let mut out = vec![];
    let bs: Vec<f64> = if betas.is_empty() { vec![0.0] } else { betas.to_vec() };
    let kind = if betas.is_empty() { "slice_1d" } else { "slice_2d" };
    for &b in &bs {
        for &a in alphas {
            let w = displace(net, center, &d1, a, d2.as_ref(), b);
            out.push(row(kind, "", a, b, evaluate_at(net, &w, &d.train, &d.test, d.loss, d.mode, d.batch)?));
            progress();
        }
    }
    Ok(out)
}

/// Write rows as CSV (columns: [`crate::schema::SCAN`]).
pub fn write_csv(path: &Path, rows: &[ScanRow]) -> Result<()> {
    let mut w = csv::Writer::from_writer(vec![]);
    for r in rows {
        w.serialize(r)?;
    }
    Ok(store::write_atomic(path, &w.into_inner()?)?)
}

/// A point in weight space named on the command line: `RUN_DIR` (its latest checkpoint),
/// `RUN_DIR@EPOCH`, or a checkpoint file (`RUN_DIR/checkpoints/epoch_00100.safetensors`).
/// Returns the run's config, the tensors, and a label (`RUN_DIR@EPOCH`).
pub fn load_point(spec: &str) -> Result<(RunConfig, NamedTensors, String)> {
    let p = Path::new(spec);
    let (dir, file) = if p.is_file() {
        let dir = RunDir::of_checkpoint(p).context("a checkpoint file lies in RUN_DIR/checkpoints/")?;
        (dir, p.to_path_buf())
    } else {
        let (d, epoch) = match spec.rsplit_once('@') {
            Some((d, e)) => (d, Some(e.parse::<usize>().with_context(|| format!("`{spec}`: expected RUN_DIR@EPOCH"))?)),
            None => (spec, None),
        };
        let rd = RunDir::new(d);
        let avail = rd.checkpoint_epochs();
        let e = match epoch {
            Some(e) if avail.contains(&e) => e,
            Some(e) => bail!("{d}: no checkpoint for epoch {e}; checkpoints: {avail:?}"),
            None => *avail.last().with_context(|| format!("{d}: not a run directory with checkpoints"))?,
        };
        let file = rd.checkpoint(e);
        (rd, file)
    };
    if !dir.config().is_file() {
        bail!(
            "{spec}: not in a run directory (no {}): name RUN_DIR, RUN_DIR@EPOCH or RUN_DIR/checkpoints/epoch_N.safetensors",
            dir.config().display()
        );
    }
    let cfg = RunConfig::from_file(&dir.config(), &[])?;
    let (t, meta) = store::load_tensors(&file)?;
    let label = format!("{}@{}", dir.root.display(), meta.get("epoch").cloned().unwrap_or_default());
    Ok((cfg, t, label))
}

/// `LO:HI`, e.g. `-0.25:1.25`.
pub fn parse_range(range: &str) -> Result<(f64, f64)> {
    range
        .split_once(':')
        .and_then(|(l, h)| Some((l.trim().parse::<f64>().ok()?, h.trim().parse::<f64>().ok()?)))
        .filter(|(l, h)| l.is_finite() && h.is_finite())
        .with_context(|| format!("--range `{range}`: expected LO:HI, e.g. -0.25:1.25"))
}

/// What a scan evaluates.
#[derive(Clone, Debug, PartialEq)]
pub enum Scan {
    /// From the first point (t = 0) to `b` (t = 1), along `paths`, at t in `range`.
    Line { b: String, range: (f64, f64), paths: Paths },
    /// A `dims`-D slice (1 or 2) of half-width `radius` through the first point, along random
    /// directions over `group` (all, si or non_si) drawn from `seed`.
    Slice { dims: usize, radius: f64, group: GroupSpec, seed: u64 },
}

/// How a scan evaluates.
#[derive(Clone, Debug, PartialEq)]
pub struct ScanOptions {
    /// Points along each axis.
    pub points: usize,
    /// Training / test images evaluated (the first ones; 0 = all).
    pub images: usize,
    pub test_images: usize,
    /// BatchNorm: batch statistics of batches of `batch` (`train`) or running statistics (`eval`).
    pub bn: CurvatureBn,
    /// Evaluation batch (default: the run's `train.batch_size`).
    pub batch: Option<usize>,
    /// Output folder (default: the first run's `landscape/`).
    pub out: Option<PathBuf>,
}

/// What a scan wrote.
#[derive(Clone, Debug)]
pub struct ScanOutput {
    pub rows: Vec<ScanRow>,
    pub files: ScanFiles,
    /// `A -> B` for lines, `A` for slices (`RUN_DIR@EPOCH` each).
    pub label: String,
    /// The first point's label.
    pub at: String,
    /// What the caller should tell the user (an endpoint whose weights are not finite).
    pub notes: Vec<String>,
}

/// The sentence naming a point (`RUN_DIR@EPOCH`) whose weights are not finite, if they are not.
fn nonfinite(label: &str, w: &NamedTensors) -> Option<String> {
    nonfinite_tensor(w)
        .map(|t| format!("{label}: the weights are not finite (`{t}` holds inf or NaN; the run diverged)"))
}

/// The most points a scan evaluates (a 2-D slice evaluates `points^2`).
pub const MAX_SCAN_POINTS: usize = 1_000_000;

/// Run a scan at the point `at` (`RUN_DIR`, `RUN_DIR@EPOCH` or a checkpoint file) and write its
/// CSV; the caller draws the figure (`crate::report::scan_figures`).
pub fn scan(at: &str, what: &Scan, o: &ScanOptions, progress: &mut dyn Progress) -> Result<ScanOutput> {
    let per_axis = |n: usize| if matches!(what, Scan::Slice { dims: 2, .. }) { n.saturating_mul(n) } else { n };
    if o.points == 0 || per_axis(o.points) > MAX_SCAN_POINTS {
        bail!(
            "--points must be in 1..={} per scan (a 2-D slice evaluates points^2), got {}",
            MAX_SCAN_POINTS,
            o.points
        );
    }
    let (cfg, wa, la) = load_point(at)?;
    let mut notes = vec![];
    let Workspace { mut net, data, .. } = Workspace::new(&cfg)?;
    let d = ScanData {
        train: data.train.head(o.images),
        test: data.test.head(o.test_images),
        loss: cfg.loss,
        mode: BnMode::from(o.bn),
        batch: o.batch.unwrap_or(cfg.train.batch_size),
    };
    let run_dir = la.rsplit_once('@').map(|(d, _)| d.to_string()).unwrap_or_default();
    let dir = o.out.clone().unwrap_or_else(|| RunDir::new(&run_dir).landscape());
    store::create_dir(&dir)?;
    let (rows, stem, label) = match what {
        Scan::Line { b, range, paths } => {
            let (_, wb, lb) = load_point(b)?;
            let bad: Vec<String> = [(&la, &wa), (&lb, &wb)].iter().filter_map(|(l, w)| nonfinite(l, w)).collect();
            if bad.len() == 2 {
                bail!("{}; {}: no point of the line is a measurement", bad[0], bad[1]);
            }
            notes.extend(bad.into_iter().map(|b| format!("{b}: the rows between the endpoints are NaN")));
            let kinds = paths.kinds();
            let ts = grid(range.0, range.1, o.points);
            progress.start("points", ts.len() * kinds.len(), 0);
            let mut i = 0;
            let rows = scan_line(&mut net, &wa, &wb, &ts, &kinds, &d, || {
                i += 1;
                progress.set(i, "")
            })
            .with_context(|| format!("{la} -> {lb}"))?;
            (rows, "line", format!("{la} -> {lb}"))
        }
        Scan::Slice { dims, radius, group, seed } => {
            if !(1..=2).contains(dims) {
                bail!("--dims must be 1 or 2");
            }
            if !radius.is_finite() || *radius <= 0.0 {
                bail!("--radius must be a positive number, got {radius}");
            }
            let g = match group {
                GroupSpec::All => Group::All,
                GroupSpec::Si => Group::Si,
                GroupSpec::NonSi => Group::NonSi,
                _ => bail!("--group: all, si or non_si"),
            };
            if let Some(bad) = nonfinite(&la, &wa) {
                bail!("{bad}: no point of a slice through it is a measurement");
            }
            if g.select(&net).is_empty() {
                bail!("--group {group}: no such tensors in this model");
            }
            let alphas = grid(-radius, *radius, o.points);
            let betas = if *dims == 2 { alphas.clone() } else { vec![] };
            progress.start("points", alphas.len() * betas.len().max(1), 0);
            let mut i = 0;
            let rows = scan_slice(&mut net, &wa, &g, *seed, &alphas, &betas, &d, || {
                i += 1;
                progress.set(i, "")
            })
            .with_context(|| la.clone())?;
            (rows, if *dims == 1 { "slice_1d" } else { "slice_2d" }, la.clone())
        }
    };
    progress.finish();
    let files = ScanFiles { dir, stem: stem.into() };
    write_csv(&files.csv(), &rows)?;
    Ok(ScanOutput { rows, files, label, at: la, notes })
}
