//! `silab train`.

use super::progress::Bars;
use anyhow::{Result, bail};
use silab::config::RunConfig;
use std::path::PathBuf;

/// Train one run (full space, sphere or rotational) and record its metrics.
///
/// Writes: config.toml, metrics.csv, summary.json, log.txt, events.out.tfevents.*, checkpoints/, lock,
/// sharpness.csv.
#[derive(clap::Args)]
pub struct Args {
    /// Run config (TOML). Keys not given take their defaults (`silab presets --keys`).
    #[arg(long, conflicts_with_all = ["preset", "resume"])]
    config: Option<PathBuf>,
    /// A named preset (`silab presets`).
    #[arg(long, conflicts_with = "resume")]
    preset: Option<String>,
    /// Override a config key: `--set optim.elr=1e-3` (repeatable; dotted paths).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// Run directory (default: runs/<preset or config name>-<config hash>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Continue a killed run from its latest checkpoint.
    #[arg(long, value_name = "RUN_DIR")]
    resume: Option<PathBuf>,
    /// With --resume: train the run (finished or killed) longer, to N epochs in all. The result
    /// equals a run configured for N epochs from the start (metrics.csv but wall_time, weights);
    /// config.toml gets train.epochs = N and summary.json / log.txt record the extension. Refused
    /// for a cosine schedule (its shape depends on the length), N not above train.epochs, and a
    /// diverged run.
    #[arg(long, value_name = "N", requires = "resume")]
    epochs: Option<usize>,
    /// No progress bar and no per-epoch lines: only the final line (and errors).
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(a: Args) -> Result<()> {
    let mut bars = Bars::new(a.quiet);
    let (dir, summary) = if let Some(dir) = a.resume {
        if !a.sets.is_empty() {
            bail!("--set cannot change a run being resumed (its config.toml is fixed)");
        }
        let s = match a.epochs {
            Some(n) => silab::training::extend(&dir, n, &mut bars)?,
            None => silab::training::resume(&dir, &mut bars)?,
        };
        (dir, s)
    } else {
        let (cfg, name) = match (&a.config, &a.preset) {
            (Some(p), _) => (
                RunConfig::from_file(p, &a.sets)?,
                p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or("run".into()),
            ),
            (None, Some(n)) => (RunConfig::from_preset(n, &a.sets)?, n.clone()),
            (None, None) => (RunConfig::from_parts(None, &a.sets)?, "run".into()),
        };
        let dir = a.out.unwrap_or_else(|| silab::store::default_run_dir(&name, &cfg.hash()));
        let s = silab::training::train(&cfg, &dir, &mut bars)?;
        (dir, s)
    };
    if let Some(step) = summary.diverged_at_step {
        println!(
            "{}: diverged at step {step} (a non-finite loss or rho; train.stop_on_nonfinite) after {} epochs",
            dir.display(),
            summary.epochs_done
        );
        return Ok(());
    }
    if let Some(d) = &summary.decision {
        println!("{}: stopped after {} epochs, its regime decided: {}", dir.display(), summary.epochs_done, d.label());
    }
    let n = summary.epochs_done;
    let last = |k: &str| summary.last.get(k).copied().unwrap_or(f64::NAN);
    // train_loss only where it was measured (metrics.train_eval)
    let train_loss = last("train_loss");
    println!(
        "{}: {n} epoch{}, {} step{} in {:.1} s; final test_acc {:.4}{}",
        dir.display(),
        if n == 1 { "" } else { "s" },
        summary.steps_done,
        if summary.steps_done == 1 { "" } else { "s" },
        summary.wall_time_s,
        last("test_acc"),
        if train_loss.is_nan() { String::new() } else { format!(", train_loss {}", silab::numfmt::num(train_loss)) },
    );
    Ok(())
}
