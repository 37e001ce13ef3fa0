//! `silab reproduce`.

use super::progress::Bars;
use anyhow::Result;
use silab::studies::{self, Experiment, ReproOptions, Scale};
use std::path::PathBuf;

/// Reproduce a paper's experiment, or run one beyond the thesis: sweeps, analysis, figures and
/// report.html in one command.
///
/// Writes: report.html, summary.json, analysis.json, table.csv, table.parquet, sweep/ or arms/.
/// The papers' experiments have one sweep (sweep/); periodic-ln, regimes-ln and rotational have
/// one per network and optimizer (arms/<arm>/); beyond writes the three into periodic-ln/,
/// regimes-ln/ and rotational/ beside its own cross-architecture report.html and summary.json.
/// Each check is printed as ok, FAIL or n/t (not testable: the runs lack what it needs); in
/// summary.json a check is {claim, passed, outcome, why, expected, numbers} (silab 0.1.0: [claim, passed] pairs).
#[derive(clap::Args)]
pub struct Args {
    /// periodic (P1), regimes (P2), mse (P3); beyond the thesis: periodic-ln, regimes-ln,
    /// rotational, or beyond (all three and the cross-architecture summary).
    #[arg(value_enum)]
    experiment: Experiment,
    /// smoke (seconds to a minute: checks the pipeline), cpu (under 20 min on 2 cores, built-in
    /// data: shows the phenomena), paper (ConvNet-32, CIFAR-10, GPU; hours).
    #[arg(long, value_enum, default_value = "cpu")]
    scale: Scale,
    /// CIFAR-10 folder (binary version) for --scale paper.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Output folder (default: reproduce/<experiment>-<scale>). Rerunning on it resumes.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Parallel runs (default: cores / train.threads).
    #[arg(long)]
    jobs: Option<usize>,
    /// Override a key of every run: `--set train.epochs=50`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// No progress bars or progress lines (results and errors are still printed).
    #[arg(long, short)]
    quiet: bool,
    /// regimes / mse / regimes-ln / beyond: also measure the sharpness of every run's final point
    /// and of the minimum reached by fine-tuning it at the smallest ELR (figure
    /// fig_sharpness_vs_elr; regimes-ln: per arm, and fig_sharpness_ln across arms).
    #[arg(long)]
    sharpness: bool,
}

pub fn run(a: Args) -> Result<()> {
    let out = a.out.unwrap_or_else(|| studies::default_dir(a.experiment, a.scale));
    let opts = ReproOptions {
        data_dir: a.data_dir,
        jobs: a.jobs,
        sets: a.sets,
        exe: std::env::current_exe()?,
        sharpness: a.sharpness,
    };
    let s = studies::reproduce(a.experiment, a.scale, &out, &opts, &mut Bars::new(a.quiet))?;
    for c in &s.checks {
        println!("{} {}", c.mark(), c.text());
    }
    let files = silab::store::StudyDir::new(&out);
    println!(
        "{}: report {}, summary {}, figures, tables ({:.1} min)",
        out.display(),
        files.report().display(),
        files.summary().display(),
        s.seconds / 60.0
    );
    Ok(())
}
