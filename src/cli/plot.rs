//! `silab plot`.

use anyhow::Result;
use silab::report::plot::{self, PlotSpec, XAxis};
use std::path::PathBuf;

/// Plot any runs or sweeps from their metrics.csv: one panel per column, curves coloured by a
/// key, runs that differ only in their seed averaged (mean line, min–max band), or per-layer
/// panels with --layers. Writes the figure as PNG and SVG and as an interactive HTML page
/// (zoom, hover; plotly.js embedded, so it opens offline).
///
/// Writes: plot.png, plot.svg, plot.html.
#[derive(clap::Args)]
pub struct Args {
    /// Run directories and/or sweep directories.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Columns of metrics.csv to plot, one panel each (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = plot::DEFAULT_Y.map(String::from))]
    y: Vec<String>,
    /// x axis: the epoch rows, or every row against the optimizer step.
    #[arg(long, value_enum, default_value_t = XAxis::Epoch)]
    x: XAxis,
    /// Colour curves by this key: a config key (optim.elr), seed or run [default: the first key
    /// that differs between the runs].
    #[arg(long)]
    hue: Option<String>,
    /// One row of panels per value of this key.
    #[arg(long)]
    facet: Option<String>,
    /// Per-layer panels: norm, ELR and angular update of every SI tensor (instead of --y).
    #[arg(long)]
    layers: bool,
    /// Output path without extension [default: FIRST_PATH/plot, or FIRST_PATH/plot_layers].
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn run(a: Args) -> Result<()> {
    let spec = PlotSpec { y: a.y, x: a.x, hue: a.hue, facet: a.facet, layers: a.layers };
    let stem = a.out.unwrap_or_else(|| a.paths[0].join(if spec.layers { "plot_layers" } else { "plot" }));
    let title = format!("silab plot {}", a.paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" "));
    let f = plot::plot(&a.paths, &spec, &stem, &title)?;
    let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    println!(
        "{}, {}: {}, {}, {}",
        plural(f.runs, "run"),
        plural(f.curves, "curve"),
        f.png.display(),
        f.svg.display(),
        f.html.display()
    );
    Ok(())
}
