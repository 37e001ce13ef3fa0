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

use super::Group;
use crate::config::Loss;
use crate::data::{Dataset, rng};
use crate::metrics::evaluate;
use crate::model::{BnMode, NamedTensors, Net, Role, sq_norm};
use rand_distr::{Distribution, StandardNormal};
use std::collections::HashMap;
use tch::{Kind, Tensor};

/// Which path a line follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathKind {
    Straight,
    GreatCircle,
}

impl PathKind {
    pub fn name(self) -> &'static str {
        match self {
            PathKind::Straight => "straight",
            PathKind::GreatCircle => "great_circle",
        }
    }
}

fn si_names(net: &Net) -> Vec<String> {
    net.with_role(Role::Si).iter().map(|p| p.name.clone()).collect()
}

fn find<'a>(t: &'a NamedTensors, name: &str) -> &'a Tensor {
    &t.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("tensor `{name}` missing")).1
}

/// The weights at `t` on the path from `a` (t = 0) to `b` (t = 1); both hold every tensor of
/// `net` (a checkpoint's contents).
pub fn interpolate(net: &Net, a: &NamedTensors, b: &NamedTensors, t: f64, kind: PathKind) -> NamedTensors {
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
) -> Result<Point, String> {
    net.load(weights)?;
    let tr = evaluate(net, train, batch, mode, loss, false);
    let te = evaluate(net, test, batch, mode, loss, false);
    Ok(Point { train_loss: tr.loss, train_acc: tr.acc, test_loss: te.loss, test_acc: te.acc, rho: net.rho() })
}

/// The first `n` images of a data set (all when `n` is 0 or larger).
pub fn head(d: &Dataset, n: usize) -> Dataset {
    let k = if n == 0 { d.len() } else { n.min(d.len()) } as i64;
    Dataset {
        images: d.images.narrow(0, 0, k),
        labels: d.labels.narrow(0, 0, k),
        classes: d.classes,
        pad_value: d.pad_value,
    }
}

/// One evaluated point of a line or slice: `landscape.csv`'s row.
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
) -> Result<Vec<ScanRow>, String> {
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
) -> Result<Vec<ScanRow>, String> {
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

/// Write rows as CSV.
pub fn write_csv(path: &std::path::Path, rows: &[ScanRow]) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(vec![]);
    for r in rows {
        w.serialize(r)?;
    }
    crate::run::store::write_atomic(path, &w.into_inner()?)
}

/// A point in weight space named on the command line: `RUN_DIR` (its latest checkpoint),
/// `RUN_DIR@EPOCH`, or a checkpoint file (`RUN_DIR/checkpoints/epoch_00100.safetensors`).
/// Returns the run's config, the tensors, and a label (`RUN_DIR@EPOCH`).
pub fn load_point(spec: &str) -> anyhow::Result<(crate::config::RunConfig, NamedTensors, String)> {
    use crate::run::store::{self, RunDir};
    use anyhow::{Context, bail};
    let p = std::path::Path::new(spec);
    let (dir, file) = if p.is_file() {
        let dir = p.parent().and_then(|c| c.parent()).context("a checkpoint file lies in RUN_DIR/checkpoints/")?;
        (dir.to_path_buf(), p.to_path_buf())
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
        (rd.root.clone(), rd.checkpoint(e))
    };
    let cfg = crate::config::RunConfig::from_file(&RunDir::new(&dir).config(), &[])?;
    let (t, meta) = store::load_tensors(&file)?;
    let label = format!("{}@{}", dir.display(), meta.get("epoch").cloned().unwrap_or_default());
    Ok((cfg, t, label))
}
