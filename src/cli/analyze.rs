//! `silab analyze`.

use anyhow::Result;
use silab::analysis::{self, JumpParams, RegimeParams};
use std::path::PathBuf;

/// Analyse a run or a sweep: S-jumps and periods, regimes and their boundaries, theory vs
/// measurement, rotational equilibrium. Prints tables and writes analysis.json (into the
/// directory, or to --out).
///
/// Writes: analysis.json.
#[derive(clap::Args)]
pub struct Args {
    /// A run directory or a sweep directory.
    dir: PathBuf,
    /// Where to write analysis.json (a file path; default DIR/analysis.json).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Runs with fewer epochs are reported as "too short" instead of being classified.
    #[arg(long, default_value_t = 10)]
    min_epochs: usize,
    /// S-jump: loss must rise to this multiple of its recent minimum.
    #[arg(long, default_value_t = 5.0)]
    spike_factor: f64,
    /// S-jump: rho must rise by this fraction.
    #[arg(long, default_value_t = 0.01)]
    rho_jump: f64,
    /// S-jump: the train accuracy before it must have reached this (0: not asked); `reproduce
    /// periodic` uses 0.99, a converged state as in P1.
    #[arg(long, default_value_t = 0.0)]
    converged_acc: f64,
    /// Also replay the early rule (`train.stop_when = "regime"`) on the sphere runs that trained
    /// to their last epoch: where each would have stopped, with which regime, whether that
    /// agrees with the end-of-run classification, and the epochs it would have saved (written
    /// to early.json beside analysis.json).
    #[arg(long)]
    early: bool,
    /// The early rule's window in epochs (with --early).
    #[arg(long, default_value_t = 10)]
    window: usize,
}

pub fn run(a: Args) -> Result<()> {
    let jp = JumpParams {
        spike_factor: a.spike_factor,
        rho_jump: a.rho_jump,
        converged_acc: a.converged_acc,
        ..Default::default()
    };
    let rp = RegimeParams { min_epochs: a.min_epochs, ..Default::default() };
    let r = analysis::analyze_and_save(&a.dir, a.out.as_deref(), &jp, &rp)?;
    print!("{}", analysis::to_text(&r));
    if a.early {
        let rep = analysis::replay::replay(&r, &analysis::replay::rule(a.window))?;
        let out = a.out.as_deref().map_or(a.dir.join("early.json"), |o| o.with_file_name("early.json"));
        silab::store::write_json(&out, &rep)?;
        print!("\n{}", analysis::replay::to_text(&rep));
        println!("{}", out.display());
    }
    Ok(())
}
