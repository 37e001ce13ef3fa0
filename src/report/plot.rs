//! `silab plot`: curves of any runs or sweeps from their metrics.csv, as PNG + SVG (the
//! [`figures`](super::figures) of the reports) and a self-contained interactive HTML page (plotly.js,
//! embedded; zoom, hover). Runs that differ only in their seed are one curve: the mean, with the
//! min–max spread over the seeds as a band.

use super::figures::{Curve, Figure, Panel, Style};
use crate::config::RunConfig;
use crate::numfmt;
use crate::schema::{self, METRICS};
use crate::store::{self, RunDir, StoreError};
use crate::sweep::{Manifest, SweepDir};
use anyhow::{Context, Result, bail};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The x axis of a plot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum XAxis {
    /// The epoch rows (one point per epoch).
    #[default]
    Epoch,
    /// Every row (epoch rows and `train.log_every` step rows), against the optimizer step.
    Step,
}

/// What to plot.
#[derive(Clone, Debug)]
pub struct PlotSpec {
    /// metrics.csv columns, one panel each (default [`DEFAULT_Y`]).
    pub y: Vec<String>,
    pub x: XAxis,
    /// Colour the curves by this key: a config key (`optim.elr`), `seed` or `run`. Default: the
    /// first key that differs between the runs.
    pub hue: Option<String>,
    /// One row of panels per value of this key.
    pub facet: Option<String>,
    /// Per-layer panels (norm, ELR, angular update of each SI tensor) instead of `y`.
    pub layers: bool,
}

/// The panels of a plot without `--y`.
pub const DEFAULT_Y: [&str; 4] = ["train_loss", "test_acc", "rho", "elr"];

/// The per-layer column families of `--layers`, as `(prefix, title)`.
pub const LAYER_FAMILIES: [(&str, &str); 3] =
    [("norm:", "norm per SI tensor"), ("elr:", "ELR per SI tensor"), ("angle:", "angular update per SI tensor")];

impl Default for PlotSpec {
    fn default() -> Self {
        PlotSpec {
            y: DEFAULT_Y.iter().map(|s| s.to_string()).collect(),
            x: XAxis::Epoch,
            hue: None,
            facet: None,
            layers: false,
        }
    }
}

/// One run to plot: its directory, name, config and metrics.
pub struct Source {
    pub dir: PathBuf,
    /// `runs/p0003` of a sweep, else the directory's name.
    pub name: String,
    config: toml::Table,
    /// Its metrics.csv, typed by the one reader.
    metrics: store::Table,
}

impl Source {
    fn load(dir: &Path, name: String) -> Result<Source> {
        let rd = RunDir::new(dir);
        // through RunConfig: every key present (an older run's config gets today's defaults),
        // so runs compare key by key
        let cfg = RunConfig::from_file(&rd.config(), &[])?;
        let config = toml::Table::try_from(&cfg).context("a config serializes")?;
        // (a killed run's cut last line is dropped by the reader; a garbled cell is an error)
        let metrics = store::Table::read(&rd.metrics())?;
        Ok(Source { dir: dir.to_path_buf(), name, config, metrics })
    }

    /// The raw value of `key` (full precision), for telling runs apart: `run`, `seed` or a
    /// dotted config key.
    fn raw(&self, key: &str) -> Option<String> {
        if key == "run" {
            return Some(self.name.clone());
        }
        self.value(key).map(|v| v.to_string())
    }

    fn value(&self, key: &str) -> Option<&toml::Value> {
        let mut v: Option<&toml::Value> = None;
        let mut table = Some(&self.config);
        for part in key.split('.') {
            v = table?.get(part);
            table = v.and_then(|x| x.as_table());
        }
        v
    }

    /// The value of `key` for this run, for labels (numbers for people): `run`, `seed` or a
    /// dotted config key.
    pub fn key(&self, key: &str) -> Option<String> {
        if key == "run" {
            return Some(self.name.clone());
        }
        Some(match self.value(key)? {
            toml::Value::Float(f) => numfmt::num(*f),
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    }

    /// `(x, y)` of a column over the rows of the x axis (empty cells, not measured, left out).
    fn series(&self, col: &str, x: XAxis) -> Vec<(f64, f64)> {
        let t = &self.metrics;
        let (Some(c), Some(xc)) =
            (t.col(col), t.metric(if x == XAxis::Epoch { schema::col::EPOCH } else { schema::col::STEP }))
        else {
            return vec![];
        };
        t.rows
            .iter()
            .filter(|r| x == XAxis::Step || r.kind == Some(store::RowKind::Epoch))
            .map(|r| (r.num(xc), r.num(c)))
            .filter(|(x, y)| !x.is_nan() && !y.is_nan())
            .collect()
    }

    /// An error naming the file when it has no row to draw along `x` (only a header, or only
    /// step rows for `--x epoch`): a figure of empty axes would say nothing.
    fn has_rows_on(&self, x: XAxis) -> Result<()> {
        let t = &self.metrics;
        let n = if x == XAxis::Epoch { t.epoch_rows().count() } else { t.rows.len() };
        if n > 0 {
            return Ok(());
        }
        if t.rows.is_empty() {
            bail!("{}: no rows (only a header): the run has logged nothing to plot yet", t.path.display());
        }
        bail!(
            "{}: no epoch rows, only {} step rows: nothing to plot along epochs (try --x step)",
            t.path.display(),
            t.rows.len()
        )
    }

    /// The columns of its metrics.csv.
    fn header(&self) -> &[String] {
        &self.metrics.header
    }
}

/// The runs behind `paths`: run directories (with metrics.csv) and sweep directories (every
/// point that has started).
pub fn sources(paths: &[PathBuf]) -> Result<Vec<Source>> {
    let mut out = vec![];
    for p in paths {
        let sd = SweepDir::new(p);
        if sd.exists() {
            let m = Manifest::read(&sd)?;
            let n = out.len();
            for pt in &m.points {
                let rd = pt.run_dir(&sd);
                if rd.metrics().exists() {
                    out.push(Source::load(&rd.root, format!("{}/{}", m.name, pt.dir))?);
                }
            }
            if out.len() == n {
                bail!("{}: no point of the sweep has metrics yet", p.display());
            }
        } else if RunDir::new(p).metrics().exists() {
            let name =
                p.canonicalize().unwrap_or(p.clone()).file_name().map_or("run".into(), |n| n.to_string_lossy().into());
            out.push(Source::load(p, name)?);
        } else {
            bail!("{}: neither a run directory (no metrics.csv) nor a sweep directory (no manifest.json)", p.display());
        }
    }
    Ok(out)
}

/// Config keys whose value differs between the sources, in the config's order.
pub fn varying_keys(src: &[Source]) -> Vec<String> {
    fn walk(t: &toml::Table, prefix: &str, out: &mut Vec<String>) {
        for (k, v) in t {
            let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
            match v.as_table() {
                Some(sub) => walk(sub, &key, out),
                None => out.push(key),
            }
        }
    }
    let mut keys = vec![];
    if let Some(s) = src.first() {
        walk(&s.config, "", &mut keys);
    }
    keys.retain(|k| src.iter().any(|s| s.raw(k) != src[0].raw(k)));
    keys
}

/// A curve of the plot: the runs that differ only in their seed, averaged.
struct Group {
    label: String,
    hue: String,
    facet: String,
    members: Vec<usize>,
}

fn groups(src: &[Source], hue: &Option<String>, facet: &Option<String>) -> Vec<Group> {
    // a curve per value of every varying key but the seed, and of the hue and facet keys
    // (`--hue seed` or `--hue run` draws every run on its own)
    let mut varying: Vec<String> = varying_keys(src).into_iter().filter(|k| k != "seed").collect();
    for k in [hue, facet].into_iter().flatten() {
        if !varying.contains(k) {
            varying.push(k.clone());
        }
    }
    let mut by: BTreeMap<Vec<String>, Group> = BTreeMap::new();
    let mut order = vec![];
    for (i, s) in src.iter().enumerate() {
        let id: Vec<String> = varying.iter().map(|k| s.raw(k).unwrap_or_default()).collect();
        let g = by.entry(id.clone()).or_insert_with(|| {
            order.push(id.clone());
            let label = varying
                .iter()
                .filter(|k| Some(k.as_str()) != facet.as_deref())
                .map(|k| format!("{}={}", short_key(k), s.key(k).unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(" ");
            Group {
                label,
                hue: hue.as_ref().and_then(|h| s.key(h)).unwrap_or_default(),
                facet: facet.as_ref().and_then(|f| s.key(f)).unwrap_or_default(),
                members: vec![],
            }
        });
        g.members.push(i);
    }
    order.into_iter().map(|id| by.remove(&id).unwrap()).collect()
}

/// `optim.elr` → `elr` in legends (the last part of a dotted key).
fn short_key(k: &str) -> &str {
    k.rsplit('.').next().unwrap_or(k)
}

/// `(x, y)` points.
type Series = Vec<(f64, f64)>;

/// Mean and min–max of the members' series at each x they all have.
fn aggregate(src: &[Source], members: &[usize], col: &str, x: XAxis) -> (Series, Series, Series) {
    let mut at: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
    let mut xs: BTreeMap<u64, f64> = BTreeMap::new();
    for &m in members {
        for (xv, yv) in src[m].series(col, x) {
            at.entry(xv.to_bits()).or_default().push(yv);
            xs.insert(xv.to_bits(), xv);
        }
    }
    // only where every member has a value: a seed that stopped early or diverged (NaN cells
    // are empty) ends the curve rather than changing what it averages
    let mut pts: Vec<(f64, Vec<f64>)> =
        at.into_iter().filter(|(_, v)| v.len() == members.len()).map(|(k, v)| (xs[&k], v)).collect();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mean = pts.iter().map(|(x, v)| (*x, v.iter().sum::<f64>() / v.len() as f64)).collect();
    let lo = pts.iter().map(|(x, v)| (*x, v.iter().cloned().fold(f64::INFINITY, f64::min))).collect();
    let hi = pts.iter().map(|(x, v)| (*x, v.iter().cloned().fold(f64::NEG_INFINITY, f64::max))).collect();
    (mean, lo, hi)
}

/// A log y axis when every value is positive and they span more than 1.5 decades.
fn wants_log(curves: &[Curve]) -> bool {
    let ys: Vec<f64> = curves.iter().flat_map(|c| c.points.iter().map(|p| p.1)).filter(|y| y.is_finite()).collect();
    let (lo, hi) = ys.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &y| (a.min(y), b.max(y)));
    !ys.is_empty() && lo > 0.0 && hi / lo > 10f64.powf(1.5)
}

/// The panels of a plot (the same for the PNG/SVG and the HTML) and how many go in a row.
pub fn panels(src: &[Source], spec: &PlotSpec) -> Result<(Vec<Panel>, usize)> {
    if src.is_empty() {
        bail!("nothing to plot");
    }
    let hue = default_hue(src, spec)?;
    let gs = groups(src, &hue, &spec.facet);
    let x_label = if spec.x == XAxis::Epoch { "epoch" } else { "step" };
    if spec.layers {
        return layer_panels(src, &gs, spec.x, x_label);
    }
    let known: Vec<&str> = src[0].header().iter().map(|s| s.as_str()).collect();
    for y in &spec.y {
        if !known.contains(&y.as_str()) && !METRICS.iter().any(|m| m.name == y) {
            let some: Vec<&str> = known.iter().filter(|k| !k.contains(':')).cloned().collect();
            bail!("no column `{y}` in metrics.csv (columns: {})", some.join(", "));
        }
    }
    let out = metric_panels(src, &gs, spec, x_label);
    // an empty figure says nothing (and its axes have no range to draw)
    if out.iter().all(|p| p.curves.iter().all(|c| c.points.is_empty())) {
        let files: Vec<String> = src.iter().map(|s| s.metrics.path.display().to_string()).collect();
        let rows = if spec.x == XAxis::Epoch { "epoch rows" } else { "rows" };
        bail!("nothing to plot: no {rows} with a value of {} in {}", spec.y.join(", "), files.join(", "));
    }
    // a grid of at most 3 columns (2 × 2 for four panels); with --facet one row per value
    let n = spec.y.len();
    let cols = if spec.facet.is_some() {
        n
    } else if n == 4 {
        2
    } else {
        n.min(3)
    };
    Ok((out, cols))
}

/// The key whose values colour the curves: `--hue`, else the first varying key but the seed;
/// runs that differ in nothing at all (copies of one config) are told apart by their name;
/// seeds alone are averaged. Errors when no run has the hue or facet key.
fn default_hue(src: &[Source], spec: &PlotSpec) -> Result<Option<String>> {
    let hue = spec.hue.clone().or_else(|| {
        let v = varying_keys(src);
        let none_varies = v.is_empty() && src.len() > 1;
        v.into_iter().find(|k| k != "seed").or(if none_varies { Some("run".into()) } else { None })
    });
    for key in [&hue, &spec.facet].into_iter().flatten() {
        if src.iter().all(|s| s.key(key).is_none()) {
            bail!(
                "no run has the key `{key}` (a config key such as `optim.elr`, `seed` or `run`; varying here: {})",
                varying_keys(src).join(", ")
            );
        }
    }
    Ok(hue)
}

/// `--layers`: one row per run (or seed-averaged group) and facet value, a panel per family of
/// per-layer columns, and the longest row's number of panels.
fn layer_panels(src: &[Source], gs: &[Group], x: XAxis, x_label: &str) -> Result<(Vec<Panel>, usize)> {
    let mut out = vec![];
    let mut cols = 0;
    for g in gs {
        let s = &src[g.members[0]];
        let fams: Vec<(&str, &str)> = LAYER_FAMILIES
            .iter()
            .cloned()
            .filter(|(p, _)| s.header().iter().any(|h| h.starts_with(p) && h.ends_with(".weight")))
            .collect();
        if fams.is_empty() {
            bail!("{}: no per-layer columns (metrics.layers = false, or a net without SI tensors)", s.dir.display());
        }
        cols = cols.max(fams.len());
        for (prefix, title) in fams {
            let names: Vec<&String> =
                s.header().iter().filter(|h| h.starts_with(prefix) && h.ends_with(".weight")).collect();
            let curves = names
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    let (mean, ..) = aggregate(src, &g.members, n, x);
                    Curve { label: n[prefix.len()..].to_string(), points: mean, style: Style::Line, color: i }
                })
                .collect::<Vec<_>>();
            let title = if g.label.is_empty() { title.to_string() } else { format!("{title} — {}", g.label) };
            out.push(Panel {
                title,
                x_label: x_label.into(),
                y_label: prefix.trim_end_matches(':').into(),
                log_y: wants_log(&curves),
                curves,
                ..Default::default()
            });
        }
    }
    Ok((out, cols))
}

/// A panel per facet value and `--y` column: a curve per group (its mean, over a min–max band
/// when it averages several runs), coloured by its hue value in sorted order.
fn metric_panels(src: &[Source], gs: &[Group], spec: &PlotSpec, x_label: &str) -> Vec<Panel> {
    let mut hues: Vec<String> = gs.iter().map(|g| g.hue.clone()).collect();
    // numeric hue values in numeric order, so colours follow the swept value
    hues.sort_by(|a, b| match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.total_cmp(&y),
        _ => a.cmp(b),
    });
    hues.dedup();
    let mut facets: Vec<String> = gs.iter().map(|g| g.facet.clone()).collect();
    facets.sort();
    facets.dedup();
    let mut out = vec![];
    for f in &facets {
        for y in &spec.y {
            let mut curves = vec![];
            for g in gs.iter().filter(|g| &g.facet == f) {
                let color = hues.iter().position(|h| *h == g.hue).unwrap_or(0);
                let (mean, lo, hi) = aggregate(src, &g.members, y, spec.x);
                if g.members.len() > 1 {
                    let mut band = hi.clone();
                    band.extend(lo.iter().rev());
                    curves.push(Curve { label: String::new(), points: band, style: Style::Band, color });
                }
                let n = if g.members.len() > 1 { format!(" (mean of {})", g.members.len()) } else { String::new() };
                let label = match (g.label.is_empty(), g.members.len()) {
                    (true, 1) => String::new(),
                    (true, k) => format!("mean of {k} runs"),
                    (false, _) => format!("{}{n}", g.label),
                };
                curves.push(Curve { label, points: mean, style: Style::Line, color });
            }
            let title = match (&spec.facet, f.is_empty()) {
                (Some(k), false) => format!("{y} — {}={f}", short_key(k)),
                _ => y.clone(),
            };
            let log_y = wants_log(&curves);
            out.push(Panel { title, x_label: x_label.into(), y_label: y.clone(), log_y, curves, ..Default::default() });
        }
    }
    out
}

/// The files `silab plot` wrote.
pub struct PlotFiles {
    pub png: PathBuf,
    pub svg: PathBuf,
    pub html: PathBuf,
    pub runs: usize,
    pub curves: usize,
}

/// Plot the runs behind `paths` into `stem.png`, `stem.svg` and `stem.html`.
pub fn plot(paths: &[PathBuf], spec: &PlotSpec, stem: &Path, title: &str) -> Result<PlotFiles> {
    let src = sources(paths)?;
    for s in &src {
        s.has_rows_on(spec.x)?;
    }
    let (panels, cols) = panels(&src, spec)?;
    if let Some(d) = stem.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(d).map_err(|e| StoreError::io(d, e))?;
    }
    let curves = panels.iter().map(|p| p.curves.iter().filter(|c| c.style != Style::Band).count()).sum();
    let fig = Figure { panels: panels.clone(), cols, panel_size: (520, 380) };
    let (png, svg, html) = (stem.with_extension("png"), stem.with_extension("svg"), stem.with_extension("html"));
    fig.save(stem).with_context(|| format!("drawing {}", png.display()))?;
    let page = super::interactive::page(title, &panels, cols);
    store::write_atomic(&html, page.as_bytes())?;
    Ok(PlotFiles { png, svg, html, runs: src.len(), curves })
}
