//! Figures of loss-landscape scans ([`crate::landscape::lines`]): loss, error and rho along
//! lines; loss and error on 1-D slices; a heatmap of log10 train loss on 2-D slices.

use super::figures::{Curve, Figure, Panel, Style, heatmap};
use crate::landscape::Quadrature;
use crate::landscape::lines::ScanRow;
use anyhow::{Result, bail};
use std::path::Path;

fn panel(title: &str, y: &str, x: &str, log_y: bool, curves: Vec<Curve>) -> Panel {
    Panel { title: title.into(), x_label: x.into(), y_label: y.into(), log_y, curves, ..Default::default() }
}

fn curve(label: String, points: Vec<(f64, f64)>, style: Style, color: usize) -> Curve {
    Curve { label, points, style, color }
}

/// `stem.png/svg` for the rows of `scan_line`: loss, error and rho against t, per path.
pub fn line_figure(rows: &[ScanRow], stem: &Path) -> Result<()> {
    let mut paths: Vec<&str> = vec![];
    for r in rows {
        if !paths.contains(&r.path.as_str()) {
            paths.push(&r.path);
        }
    }
    type Get = fn(&ScanRow) -> f64;
    let series = |path: &str, f: Get| -> Vec<(f64, f64)> {
        rows.iter().filter(|r| r.path == path).map(|r| (r.t, f(r))).collect()
    };
    let both = |train: Get, test: Get, what: &str| -> Vec<Curve> {
        paths
            .iter()
            .enumerate()
            .flat_map(|(i, p)| {
                [
                    curve(format!("{p} train {what}"), series(p, train), Style::LinePoints, 2 * i),
                    curve(format!("{p} test {what}"), series(p, test), Style::Line, 2 * i + 1),
                ]
            })
            .collect()
    };
    let rho: Vec<Curve> =
        paths.iter().enumerate().map(|(i, p)| curve(p.to_string(), series(p, |r| r.rho), Style::Line, 2 * i)).collect();
    let panels = vec![
        panel("loss from A (t=0) to B (t=1)", "loss", "t", true, both(|r| r.train_loss, |r| r.test_loss, "loss")),
        panel("error", "error", "t", false, both(|r| 1.0 - r.train_acc, |r| 1.0 - r.test_acc, "error")),
        panel("rho along the path", "rho", "t", false, rho),
    ];
    Figure { panels, cols: 3, panel_size: (520, 400) }.save(stem)
}

/// `stem.png/svg` for the rows of `scan_slice`: line plots of a 1-D slice, or a heatmap of the
/// log10 train loss of a 2-D slice (rows in `beta`-major order, as `scan_slice` writes them).
pub fn slice_figure(rows: &[ScanRow], title: &str, stem: &Path) -> Result<()> {
    let Some(first) = rows.first() else { bail!("no rows to draw") };
    if first.kind == "slice_1d" {
        let pts = |f: fn(&ScanRow) -> f64| rows.iter().map(|r| (r.t, f(r))).collect::<Vec<_>>();
        let panels = vec![
            panel(
                title,
                "loss",
                "alpha",
                true,
                vec![
                    curve("train".into(), pts(|r| r.train_loss), Style::LinePoints, 0),
                    curve("test".into(), pts(|r| r.test_loss), Style::Line, 1),
                ],
            ),
            panel(
                "error",
                "error",
                "alpha",
                false,
                vec![
                    curve("train".into(), pts(|r| 1.0 - r.train_acc), Style::LinePoints, 0),
                    curve("test".into(), pts(|r| 1.0 - r.test_acc), Style::Line, 1),
                ],
            ),
        ];
        return Figure { panels, cols: 2, panel_size: (520, 400) }.save(stem);
    }
    let mut alphas: Vec<f64> = vec![];
    let mut betas: Vec<f64> = vec![];
    for r in rows {
        if !alphas.contains(&r.t) {
            alphas.push(r.t);
        }
        if !betas.contains(&r.beta) {
            betas.push(r.beta);
        }
    }
    if alphas.len() * betas.len() != rows.len() {
        bail!("the rows are not a full alpha x beta grid");
    }
    let n = alphas.len();
    let z: Vec<Vec<f64>> = (0..betas.len()).map(|j| (0..n).map(|i| rows[j * n + i].train_loss).collect()).collect();
    heatmap(stem, title, ("alpha", "beta", "train loss"), &alphas, &betas, &z, true)
}

/// `silab landscape`: run a scan ([`crate::landscape::lines::scan`], which writes the CSV) and
/// draw its figure beside it.
pub fn scan(
    at: &str,
    what: &crate::landscape::lines::Scan,
    opts: &crate::landscape::lines::ScanOptions,
    progress: &mut dyn crate::progress::Progress,
) -> Result<crate::landscape::lines::ScanOutput> {
    use crate::landscape::lines::{self, Scan};
    let out = lines::scan(at, what, opts, progress)?;
    match what {
        Scan::Line { .. } => line_figure(&out.rows, &out.files.figure())?,
        Scan::Slice { dims, group, .. } => {
            let title = if *dims == 1 {
                format!("1-D slice ({group}) at {}", out.at)
            } else {
                format!("train loss, 2-D slice ({group}) at {}", out.at)
            };
            slice_figure(&out.rows, &title, &out.files.figure())?
        }
    }
    Ok(out)
}

/// The Gaussian width of the spectral-density figure, as a fraction of the eigenvalue range.
pub const DENSITY_SIGMA: f64 = 0.01;

/// `RUN_DIR/spectrum.png/svg` from `spectrum_posthoc.csv`: per group, the Hessian's spectral
/// density at each epoch measured (SLQ nodes smoothed by Gaussians of width
/// [`DENSITY_SIGMA`] × the range; log density, as PyHessian draws it, down to 1e-6 of the peak).
/// `None` when the run has no spectrum.
pub fn spectrum_figure(run: &crate::store::RunDir) -> Result<Option<std::path::PathBuf>> {
    let path = run.spectrum_posthoc();
    if !path.is_file() {
        return Ok(None);
    }
    let r = crate::store::Table::read(&path)?.records();
    let col = |n: &str| r.col(n).ok_or_else(|| anyhow::anyhow!("{}: no column `{n}`", path.display()));
    let (ce, cg, cp, cn, cw) = (col("epoch")?, col("group")?, col("probe")?, col("node")?, col("weight")?);
    // a panel per group and BN mode
    let cb = r.col("bn_mode");
    let panel_of = |row: &Vec<String>| match cb {
        Some(b) => format!("{}, BN {}", row[cg], row[b]),
        None => row[cg].clone(),
    };
    let mut groups: Vec<String> = vec![];
    let mut epochs: Vec<i64> = vec![];
    for row in &r.rows {
        if !groups.contains(&panel_of(row)) {
            groups.push(panel_of(row));
        }
        let e: i64 = row[ce].parse()?;
        if !epochs.contains(&e) {
            epochs.push(e);
        }
    }
    epochs.sort();
    let mut panels = vec![];
    for g in &groups {
        // per epoch, per probe: (nodes, weights)
        let mut per_epoch: Vec<(i64, Vec<Quadrature>)> = vec![];
        for &e in &epochs {
            let mut q: std::collections::BTreeMap<i64, Quadrature> = Default::default();
            for row in r.rows.iter().filter(|row| panel_of(row) == *g && row[ce].parse::<i64>().ok() == Some(e)) {
                let p = q.entry(row[cp].parse()?).or_default();
                p.0.push(row[cn].parse()?);
                p.1.push(row[cw].parse()?);
            }
            if !q.is_empty() {
                per_epoch.push((e, q.into_values().collect()));
            }
        }
        // one grid and one width for every epoch of the group, so their densities compare
        let (lo, hi) = per_epoch
            .iter()
            .flat_map(|(_, q)| q.iter().flat_map(|p| &p.0))
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
        let range = (hi - lo).max(1e-12);
        let grid: Vec<f64> = (0..=800).map(|k| lo - 0.05 * range + 1.1 * range * k as f64 / 800.0).collect();
        let mut curves = vec![];
        for (i, (e, q)) in per_epoch.iter().enumerate() {
            let d = crate::landscape::density(q, &grid, DENSITY_SIGMA * range);
            let peak = d.iter().cloned().fold(0.0, f64::max);
            // log density down to 1e-6 of the peak (below that drawn at the floor)
            let pts = grid.iter().zip(d).map(|(&t, v)| (t, v.max(1e-6 * peak))).collect();
            curves.push(curve(format!("epoch {e}"), pts, Style::Line, i));
        }
        panels.push(panel(
            &format!("Hessian spectral density, {g}"),
            "density (floor 1e-6 of peak)",
            "eigenvalue",
            true,
            curves,
        ));
    }
    if panels.is_empty() {
        bail!("{}: no rows", path.display());
    }
    let stem = run.spectrum_figure();
    let cols = panels.len().min(3);
    Figure { panels, cols, panel_size: (560, 400) }.save(&stem)?;
    Ok(Some(stem.with_extension("png")))
}
