//! `silab analyze`.

use anyhow::Result;
use silab::analysis::{self, JumpParams, RegimeParams};
use std::path::PathBuf;

/// Analyse a run or a sweep: S-jumps and periods, regimes and their boundaries, theory vs
/// measurement. Prints tables and writes analysis.json into the directory.
#[derive(clap::Args)]
pub struct Args {
    dir: PathBuf,
    /// S-jump: loss must rise to this multiple of its recent minimum.
    #[arg(long, default_value_t = 5.0)]
    spike_factor: f64,
    /// S-jump: rho must rise by this fraction.
    #[arg(long, default_value_t = 0.01)]
    rho_jump: f64,
}

pub fn run(a: Args) -> Result<()> {
    let jp = JumpParams { spike_factor: a.spike_factor, rho_jump: a.rho_jump, ..Default::default() };
    let r = analysis::analyze_and_save(&a.dir, &jp, &RegimeParams::default())?;
    print!("{}", analysis::to_text(&r));
    Ok(())
}
