//! `silab landscape line|slice`.

use super::progress::Bars;
use anyhow::Result;
use clap::Subcommand;
use silab::config::{CurvatureBn, GroupSpec};
use silab::landscape::lines::{Paths, Scan, ScanOptions, parse_range};
use std::path::PathBuf;

/// The loss landscape: along the straight line and the great circle between two checkpoints,
/// or on 1-D/2-D slices around one along random directions (tangent to the sphere for the SI
/// group, filter-normalized for the rest). Writes line.csv, slice_1d.csv or slice_2d.csv and
/// figures of the same name (PNG, SVG).
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    what: LandscapeCmd,
}

/// Options shared by `landscape line` and `landscape slice`.
#[derive(clap::Args, Clone)]
struct ScanArgs {
    /// Points along each axis.
    #[arg(long, default_value_t = 21)]
    points: usize,
    /// Training images evaluated (the first ones; 0 = all).
    #[arg(long, default_value_t = 1000)]
    images: usize,
    /// Test images evaluated (the first ones; 0 = all).
    #[arg(long, default_value_t = 1000)]
    test_images: usize,
    /// BatchNorm: `train` (batch statistics of batches of --batch) or `eval` (running statistics,
    /// interpolated / carried along with the weights).
    #[arg(long, value_enum, default_value = "train")]
    bn: CurvatureBn,
    /// Evaluation batch (default: the run's train.batch_size).
    #[arg(long)]
    batch: Option<usize>,
    /// Output folder (default: RUN_DIR/landscape of the first run).
    #[arg(long)]
    out: Option<PathBuf>,
    /// No progress bars or progress lines (results and errors are still printed).
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Subcommand)]
enum LandscapeCmd {
    /// Loss and accuracy from A (t = 0) to B (t = 1) along the straight line and the great
    /// circle (the SI group on the sphere). A and B: RUN_DIR, RUN_DIR@EPOCH or a checkpoint file.
    ///
    /// Writes: line.csv, line.png/svg.
    Line {
        a: String,
        b: String,
        /// t range as LO:HI (beyond [0, 1] extrapolates).
        #[arg(long, default_value = "0:1", allow_hyphen_values = true)]
        range: String,
        /// straight, great-circle or both.
        #[arg(long, value_enum, default_value = "both")]
        path: Paths,
        #[command(flatten)]
        scan: ScanArgs,
    },
    /// A 1-D or 2-D slice around a checkpoint along random directions.
    ///
    /// Writes: slice_1d.csv or slice_2d.csv, slice_1d.png/svg or slice_2d.png/svg.
    Slice {
        /// RUN_DIR, RUN_DIR@EPOCH or a checkpoint file.
        at: String,
        /// 1 or 2 directions.
        #[arg(long, default_value_t = 2)]
        dims: usize,
        /// Half-width of the slice: alpha, beta in [-R, R] (radians on the sphere for the SI
        /// group; multiples of the filter norms for the rest).
        // a negative value is taken (not read as an option) so that the check below names it
        #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
        radius: f64,
        /// Which tensors move: all, si or non_si.
        #[arg(long, default_value = "all")]
        group: GroupSpec,
        /// Seed of the random directions.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[command(flatten)]
        scan: ScanArgs,
    },
}

pub fn run(a: Args) -> Result<()> {
    let (at, what, s) = match a.what {
        LandscapeCmd::Line { a, b, range, path, scan } => {
            (a, Scan::Line { b, range: parse_range(&range)?, paths: path }, scan)
        }
        LandscapeCmd::Slice { at, dims, radius, group, seed, scan } => {
            (at, Scan::Slice { dims, radius, group, seed }, scan)
        }
    };
    let opts = ScanOptions {
        points: s.points,
        images: s.images,
        test_images: s.test_images,
        bn: s.bn,
        batch: s.batch,
        out: s.out,
    };
    let out = silab::report::scan_figures::scan(&at, &what, &opts, &mut Bars::new(s.quiet))?;
    for n in &out.notes {
        eprintln!("warning: {n}");
    }
    println!("{}: {} points; {}", out.label, out.rows.len(), out.files.csv().display());
    println!("figures: {}", out.files.png().display());
    Ok(())
}
