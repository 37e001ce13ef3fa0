//! `silab sharpness`.

use super::progress::Bars;
use anyhow::Result;
use silab::landscape::sharpness::{Epochs, Row};
use std::path::PathBuf;

/// Curvature of a run's checkpoints (post hoc): per group, Hessian trace and top eigenvalues,
/// their effective (x rho^2) values, the Riemannian Hessian on the sphere and the
/// Gauss-Newton/Fisher matrix. Settings: the run's `[sharpness]` keys, overridable with --set.
/// Rows go to RUN_DIR/sharpness_posthoc.csv; a sweep directory measures every point and
/// rebuilds its sharpness_posthoc table.
///
/// Writes: sharpness_posthoc.csv.
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
    let f = |n: &str| {
        let v = r.get(n);
        if v.is_nan() { "-".to_string() } else { format!("{v:.4e}") }
    };
    format!(
        "{}epoch {:>4}  {:<14} trace {}  top_eig {}  eff_top_eig {}  riem_top {}  gn_top {}  ({:.1} s)",
        point.map(|p| format!("point {p:>3}  ")).unwrap_or_default(),
        r.get("epoch"),
        r.text("group").unwrap_or(""),
        f("trace"),
        f("top_eig"),
        f("eff_top_eig"),
        f("riemannian_top_eig"),
        f("gn_top_eig"),
        r.get("seconds")
    )
}

pub fn run(a: Args) -> Result<()> {
    let mut bars = Bars::new(a.quiet);
    let printer = bars.printer();
    let json = a.json;
    let mut on_rows = |point: Option<usize>, rows: &[Row]| {
        for r in rows {
            // rows are the command's output: stdout, above the bar
            printer.suspend(|| println!("{}", line(r, point, json)));
        }
    };
    let sweep = silab::sweep::measure_sharpness(&a.dir, &a.epochs, &a.sets, &mut bars, &mut on_rows)?;
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
