//! The `silab` command line: a thin layer that maps arguments to library calls.

use anyhow::{Result, bail};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use silab::config::{self, DeviceName, OptimMode, RunConfig};
use silab::metrics::Row;
use silab::run::{self, Observer};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "silab", version, about = "Training dynamics of scale-invariant neural networks")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Train one run (full space or sphere) and record its metrics.
    Train {
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
        /// No progress bar.
        #[arg(long, short)]
        quiet: bool,
    },
    /// List the presets, or with --keys every config key and its default.
    Presets {
        #[arg(long)]
        keys: bool,
    },
    /// Time training steps; prints one JSON line comparable with ../shared/bench/torch_convnet.py.
    Bench {
        #[arg(long, default_value_t = 32)]
        width: i64,
        #[arg(long, default_value = "full", value_parser = ["full", "sphere"])]
        mode: String,
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
        #[arg(long, default_value = "cpu", value_parser = ["cpu", "cuda"])]
        device: String,
    },
}

/// Progress bar over all steps, with loss and ELR; epoch rows are printed above it.
/// Without a terminal (batch jobs, CI logs) indicatif draws nothing, so epoch lines and messages
/// go to stderr directly unless `-q`.
struct Bar {
    pb: ProgressBar,
    quiet: bool,
}

impl Bar {
    fn println(&self, line: String) {
        if !self.pb.is_hidden() {
            self.pb.println(line);
        } else if !self.quiet {
            eprintln!("{line}");
        }
    }
}

impl Observer for Bar {
    fn start(&mut self, total: usize, done: usize) {
        self.pb.set_length(total as u64);
        self.pb.set_position(done as u64);
        self.pb.reset_eta();
    }
    fn step(&mut self, step: usize, loss: f64, elr: f64) {
        self.pb.set_position(step as u64);
        self.pb.set_message(format!("loss {loss:.4} elr {elr:.2e}"));
    }
    fn row(&mut self, _h: &[String], r: &Row) {
        if r.is_epoch {
            // unmeasured values (e.g. g_eff before the first step) print as "-"
            let f = |name: &str, prec: usize| {
                let v = r.get(name);
                if v.is_nan() { "-".to_string() } else { format!("{v:.prec$}") }
            };
            self.println(format!(
                "epoch {:>4}  train_loss {}  train_acc {}  test_acc {}  rho {}  elr {:.2e}  g_eff {}",
                r.epoch,
                f("train_loss", 4),
                f("train_acc", 3),
                f("test_acc", 3),
                f("rho", 3),
                r.get("elr"),
                f("eff_grad_norm", 3),
            ));
        }
    }
    fn message(&mut self, msg: &str) {
        self.println(msg.to_string());
    }
    fn finish(&mut self) {
        self.pb.finish_and_clear();
    }
}

fn main() {
    run::keep_freed_memory();
    if let Err(e) = real_main() {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn real_main() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::Train { config, preset, sets, out, resume, quiet } => {
            let pb = if quiet { ProgressBar::hidden() } else { ProgressBar::new(0) };
            pb.set_style(ProgressStyle::with_template(
                "{bar:30} {pos}/{len} steps [{elapsed_precise}<{eta_precise}] {msg}",
            )?);
            let mut bar = Bar { pb, quiet };
            let (dir, summary) = if let Some(dir) = resume {
                if !sets.is_empty() {
                    bail!("--set cannot change a run being resumed (its config.toml is fixed)");
                }
                let s = run::resume(&dir, &mut bar)?;
                (dir, s)
            } else {
                let (cfg, name) = match (&config, &preset) {
                    (Some(p), None) => (
                        RunConfig::from_file(p, &sets)?,
                        p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or("run".into()),
                    ),
                    (None, Some(n)) => (RunConfig::from_preset(n, &sets)?, n.clone()),
                    (None, None) => (RunConfig::from_parts(None, &sets)?, "run".into()),
                    _ => unreachable!("clap forbids both"),
                };
                let dir = out.unwrap_or_else(|| PathBuf::from(format!("runs/{name}-{}", cfg.hash())));
                let s = run::train(&cfg, &dir, &mut bar)?;
                (dir, s)
            };
            println!(
                "{}: {} epochs, {} steps in {:.1} s; final test_acc {:.4}, train_loss {:.4e}",
                dir.display(),
                summary.epochs_done,
                summary.steps_done,
                summary.wall_time_s,
                summary.last.get("test_acc").copied().unwrap_or(f64::NAN),
                summary.last.get("train_loss").copied().unwrap_or(f64::NAN),
            );
        }
        Cmd::Presets { keys } => {
            if keys {
                for (k, v) in config::all_keys() {
                    println!("{k} = {v}");
                }
            } else {
                for (name, desc, _) in config::PRESETS {
                    println!("{name:<16} {desc}");
                }
            }
        }
        Cmd::Bench { width, mode, threads, batch, classes, steps, warmup, lr, wd, elr, device } => {
            let c = silab::bench::BenchConfig {
                width,
                batch,
                classes,
                steps,
                warmup,
                threads,
                mode: if mode == "full" { OptimMode::Full } else { OptimMode::Sphere },
                lr,
                wd,
                elr,
                device: if device == "cuda" { DeviceName::Cuda } else { DeviceName::Cpu },
            };
            println!("{}", serde_json::to_string(&silab::bench::run(&c)?)?);
        }
    }
    Ok(())
}
