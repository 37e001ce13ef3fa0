//! `silab bench`.

use anyhow::Result;
use silab::bench::{self, BenchConfig};
use silab::config::{DeviceName, OptimMode};

/// Time training steps; prints one JSON line comparable with ../shared/bench/torch_convnet.py.
#[derive(clap::Args)]
pub struct Args {
    #[arg(long, default_value_t = 32)]
    width: i64,
    #[arg(long, value_enum, default_value = "full")]
    mode: OptimMode,
    #[arg(long, default_value_t = 2)]
    threads: usize,
    #[arg(long, default_value_t = 128)]
    batch: i64,
    #[arg(long, default_value_t = 10)]
    classes: i64,
    #[arg(long, default_value_t = 30)]
    steps: usize,
    #[arg(long, default_value_t = 5)]
    warmup: usize,
    #[arg(long, default_value_t = 0.01)]
    lr: f64,
    #[arg(long, default_value_t = 1e-3)]
    wd: f64,
    #[arg(long, default_value_t = 1e-3)]
    elr: f64,
    #[arg(long, value_enum, default_value = "cpu")]
    device: DeviceName,
    /// Time curvature instead of training: one gradient, one Hessian-vector product and one
    /// Gauss-Newton-vector product over a batch, and a top-eigenvalue estimate (Lanczos).
    #[arg(long)]
    curvature: bool,
    /// Lanczos steps of the top-eigenvalue estimate (--curvature).
    #[arg(long, default_value_t = 20)]
    lanczos_iters: usize,
}

pub fn run(a: Args) -> Result<()> {
    let c = BenchConfig {
        width: a.width,
        batch: a.batch,
        classes: a.classes,
        steps: a.steps,
        warmup: a.warmup,
        threads: a.threads,
        mode: a.mode,
        lr: a.lr,
        wd: a.wd,
        elr: a.elr,
        device: a.device,
    };
    if a.curvature {
        println!("{}", serde_json::to_string(&bench::curvature(&c, a.lanczos_iters)?)?);
    } else {
        println!("{}", serde_json::to_string(&bench::run(&c)?)?);
    }
    Ok(())
}
