//! `silab sharpness`.

use super::progress::Bars;
use anyhow::Result;
use silab::landscape::curvature::{Epochs, Row};
use silab::store::RunDir;
use std::path::PathBuf;

/// Curvature of a run's checkpoints (post hoc): per group, Hessian trace and top eigenvalues,
/// their effective (x rho^2) values, the Riemannian Hessian on the sphere and the
/// Gauss-Newton/Fisher matrix. Settings: the run's `[sharpness]` keys, overridable with --set.
/// Rows go to RUN_DIR/sharpness_posthoc.csv; a sweep directory measures every point and
/// rebuilds its sharpness_posthoc table.
///
/// With --set sharpness.density_probes=N (N > 0) also the Hessian's spectral density by
/// stochastic Lanczos quadrature and its figure.
///
/// Writes: sharpness_posthoc.csv, spectrum_posthoc.csv, spectrum.png/svg.
#[derive(clap::Args)]
pub struct Args {
    /// A run directory, or a sweep directory (every point).
    dir: PathBuf,
    /// Epochs to measure: a list `0,10,20`, a range `0:100:10` (start:end:step, end
    /// included), or `all` checkpoints (default); `last` for the latest.
    #[arg(long, default_value = "all")]
    epochs: Epochs,
    /// Print one JSON object per row (per line) instead of a table.
    #[arg(long)]
    json: bool,
    /// Override a measurement key: `--set sharpness.images=500` (also train.device, train.threads).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// No progress bars or progress lines (results and errors are still printed).
    #[arg(long, short)]
    quiet: bool,
}

/// A row as the command prints it: JSON (with the point, in a sweep) or one line of the headline
/// values.
fn line(r: &Row, point: Option<usize>, json: bool) -> String {
    if json {
        let mut j = r.to_json();
        if let (Some(p), Some(o)) = (point, j.as_object_mut()) {
            o.insert("point".into(), p.into());
        }
        return j.to_string();
    }
    let f = |n: &str| silab::numfmt::num(r.get(n));
    let flag = if r.get("converged") == 0.0 { "  NOT CONVERGED" } else { "" };
    format!(
        "{}epoch {:>4}  {:<14} trace {} ± {}  top_eig {} (residual {})  eff_top_eig {}  riem_top {}  gn_top {}  ({:.1} s){flag}",
        point.map(|p| format!("point {p:>3}  ")).unwrap_or_default(),
        r.get("epoch"),
        r.text("group").unwrap_or(""),
        f("trace"),
        f("trace_stderr"),
        f("top_eig"),
        f("top_eig_residual"),
        f("eff_top_eig"),
        f("riemannian_top_eig"),
        f("gn_top_eig"),
        r.get("seconds")
    )
}

/// The warning for a row whose Lanczos estimates have not converged.
fn warning(r: &Row) -> Option<String> {
    if r.get("converged") != 0.0 {
        return None;
    }
    let worst = [
        ("top_eig", "top_eig_residual"),
        ("riemannian_top_eig", "riemannian_top_eig_residual"),
        ("gn_top_eig", "gn_top_eig_residual"),
    ]
    .iter()
    .map(|(e, res)| (*e, r.get(e), r.get(res)))
    .filter(|(_, e, res)| e.is_finite() && res.is_finite())
    .max_by(|a, b| (a.2 / a.1.abs()).total_cmp(&(b.2 / b.1.abs())))?;
    Some(format!(
        "warning: epoch {} group {}: Lanczos has not converged: {} = {} with residual {} ({:.0}% > {:.0}%); raise sharpness.lanczos_iters",
        r.get("epoch"),
        r.text("group").unwrap_or(""),
        worst.0,
        silab::numfmt::num(worst.1),
        silab::numfmt::num(worst.2),
        100.0 * worst.2 / worst.1.abs(),
        100.0 * silab::landscape::LANCZOS_TOL,
    ))
}

pub fn run(a: Args) -> Result<()> {
    let mut bars = Bars::new(a.quiet);
    let printer = bars.printer();
    let json = a.json;
    let mut on_rows = |point: Option<usize>, rows: &[Row]| {
        for r in rows {
            // rows are the command's output: stdout, above the bar; warnings go to stderr
            printer.suspend(|| {
                println!("{}", line(r, point, json));
                if let Some(w) = warning(r) {
                    eprintln!("{w}");
                }
            });
        }
    };
    let started = std::time::SystemTime::now();
    let sweep = silab::sweep::measure_sharpness(&a.dir, &a.epochs, &a.sets, &mut bars, &mut on_rows)?;
    // the spectral density's figure, for every run whose spectrum this command measured
    // (sharpness.density_probes > 0)
    let runs: Vec<PathBuf> = if sweep {
        let sd = silab::store::SweepDir::new(&a.dir);
        silab::sweep::Manifest::read(&sd)?.points.iter().map(|p| p.run_dir(&sd).root).collect()
    } else {
        vec![a.dir.clone()]
    };
    let fresh = |r: &PathBuf| {
        let m = std::fs::metadata(RunDir::new(r).spectrum_posthoc()).and_then(|m| m.modified());
        m.is_ok_and(|t| t >= started)
    };
    for r in runs.iter().filter(|r| !a.json && fresh(r)) {
        if let Some(png) = silab::report::scan_figures::spectrum_figure(&silab::store::RunDir::new(r))? {
            println!("{}, {}", RunDir::new(r).spectrum_posthoc().display(), png.display());
        }
    }
    if sweep && !a.json {
        let sd = silab::store::SweepDir::new(&a.dir);
        println!(
            "{}, {}",
            sd.table_csv("sharpness_posthoc").display(),
            sd.table_parquet("sharpness_posthoc").display()
        );
    }
    Ok(())
}
