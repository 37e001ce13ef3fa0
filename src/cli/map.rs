//! `silab map`: the regime map of a network by bisection on log-ELR.

use super::progress::Bars;
use super::sweep::SlurmArgs;
use anyhow::{Result, bail};
use silab::map::exec::{self, MapOutcome, MapRequest};
use silab::map::{MapSpec, schedule};
use silab::numfmt::num;
use silab::sweep::{Executor, Launched};
use std::path::PathBuf;

/// Find where a network's training on the sphere turns from convergence to chaotic equilibrium
/// (1->2) and from chaotic equilibrium to divergence (2->3): bisection on log-ELR over
/// [--lo, --hi], each run stopped once its regime is certain (train.stop_when = "regime"), at
/// least --seeds seeds at the ELRs that decide a boundary. Each round is a sweep in
/// OUT/rounds/rNN (local workers or Slurm); rerunning the command resumes.
///
/// Writes: map.json, rounds/, table.csv, table.parquet, summary.json, fig_map.png/.svg.
#[derive(clap::Args)]
pub struct Args {
    /// Base run config (TOML; any built-in or scripted net, any data, SGD or Adam) with
    /// optim.mode = "sphere": every key but optim.elr and the seed is kept.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Start from a preset instead of a config file (`silab presets`).
    #[arg(long, conflicts_with = "config")]
    preset: Option<String>,
    /// Override a key of the base config: `--set train.epochs=100` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// Lower end of the ELR range.
    #[arg(long, default_value_t = 1e-5)]
    lo: f64,
    /// Upper end of the ELR range.
    #[arg(long, default_value_t = 1.0)]
    hi: f64,
    /// Refine each boundary's bracket until its ends are at most this factor apart.
    #[arg(long, default_value_t = 1.5)]
    factor: f64,
    /// ELRs of the initial grid (both ends included; the lower end runs only when no other ELR
    /// of the grid converges).
    #[arg(long, default_value_t = 3)]
    initial: usize,
    /// Seeds at each ELR that decides a boundary.
    #[arg(long, default_value_t = 2)]
    seeds: usize,
    /// Instead of bisecting, run a dense grid of this many ELRs per decade (one seed each): the
    /// reference a map is checked against.
    #[arg(long, default_value_t = 0)]
    grid: usize,
    /// Train every run to its last epoch (train.stop_when = "never") instead of stopping it once
    /// its regime is certain.
    #[arg(long)]
    full_length: bool,
    /// Once the map is done, run a schedule read off it (regime 2 near the 1->2 boundary for
    /// half the epochs, then below the boundary) beside the best constant ELR and a cosine
    /// schedule, at full length, and measure each final point's sharpness (schedule.json,
    /// fig_schedule.png, schedule/).
    #[arg(long)]
    schedule: bool,
    /// Map directory (default: maps/<config or preset name>). Rerunning on it resumes.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Parallel runs (local; default: cores / train.threads).
    #[arg(long)]
    jobs: Option<usize>,
    /// No progress bars or progress lines (results and errors are still printed).
    #[arg(long, short)]
    quiet: bool,
    /// Where each round's runs go: `local` worker processes, or a `slurm` array job (submits
    /// the round and returns; rerun `silab map` once it has ended).
    #[arg(long, value_enum, default_value_t = ExecutorName::Local)]
    executor: ExecutorName,
    #[command(flatten)]
    slurm: SlurmArgs,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ExecutorName {
    Local,
    Slurm,
}

pub fn run(a: Args) -> Result<()> {
    let (text, origin, name) = match (&a.config, &a.preset) {
        (Some(p), _) => (
            std::fs::read_to_string(p).map_err(|e| anyhow::anyhow!("reading {}: {e}", p.display()))?,
            p.display().to_string(),
            p.file_stem().map_or("map".into(), |s| s.to_string_lossy().into_owned()),
        ),
        (None, Some(n)) => (silab::config::RunConfig::from_preset(n, &[])?.to_toml(), format!("preset {n}"), n.clone()),
        (None, None) => bail!("silab map needs a base config: --config BASE.toml or --preset NAME"),
    };
    let spec =
        MapSpec { lo: a.lo, hi: a.hi, factor: a.factor, initial: a.initial, seeds: a.seeds, grid_per_decade: a.grid };
    spec.validate()?;
    let base = exec::base_config(&text, &origin, &a.sets, a.full_length)?;
    let executor = match a.executor {
        ExecutorName::Local if a.slurm.any_given() => bail!(
            "--partition, --time, --cpus-per-task, --gpus-per-task, --max-parallel, --sbatch-arg and --dry-run need --executor slurm"
        ),
        ExecutorName::Slurm if a.jobs.is_some() => {
            bail!("--jobs is for --executor local; with slurm use --max-parallel")
        }
        ExecutorName::Local => Executor::Local { jobs: a.jobs },
        ExecutorName::Slurm => Executor::Slurm { opts: a.slurm.options(), dry_run: a.slurm.dry_run },
    };
    let dir = a.out.unwrap_or_else(|| PathBuf::from("maps").join(&name));
    let mut bars = Bars::new(a.quiet);
    let request = MapRequest { spec, base };
    match exec::run(&request, &dir, &executor, &std::env::current_exe()?, &mut bars)? {
        MapOutcome::Waiting { round, launched } => {
            match launched {
                Some(Launched::Script(text)) => print!("{text}"),
                Some(Launched::Submitted(Some(s))) => println!(
                    "{}: round {round} submitted as slurm array job {} ({} runs); rerun this command once it has ended",
                    dir.display(),
                    s.job_id,
                    s.points.len()
                ),
                _ => println!(
                    "{}: round {round} is still running or queued; rerun this command once it has ended",
                    dir.display()
                ),
            }
            Ok(())
        }
        MapOutcome::Done(s) => {
            let md = exec::MapDir::new(&dir);
            println!("regime map of {origin} over ELR {} .. {}", num(s.spec.lo), num(s.spec.hi));
            println!(
                "  1->2 (convergence -> chaotic):  {}",
                s.convergence_chaotic.describe("chaotic equilibrium", "convergence")
            );
            println!(
                "  2->3 (chaotic -> divergence):   {}",
                s.chaotic_divergence.describe("divergence", "chaotic equilibrium or convergence")
            );
            if !s.ordered {
                println!("  the regimes are not in increasing-ELR order: see table.csv");
            }
            println!(
                "  {} runs in {} rounds, {} epochs ({:.0}% of the {} epochs of the same runs at full length)",
                s.runs,
                s.rounds,
                s.epochs_spent,
                100.0 * s.epochs_spent as f64 / s.epochs_full_length.max(1) as f64,
                s.epochs_full_length
            );
            println!(
                "{}: summary.json, table.csv, table.parquet, {}",
                dir.display(),
                md.figure().with_extension("png").file_name().unwrap().to_string_lossy()
            );
            if a.schedule {
                let c = schedule::compare(&md, &request, &s, a.jobs, &std::env::current_exe()?, &mut bars)?;
                println!(
                    "\nschedules over {} epochs (the same base config, seed {}):",
                    c.epochs,
                    request_seed(&request)?
                );
                println!(
                    "| schedule | ELR | final train loss | final test acc | best test acc | eff. top eigenvalue |"
                );
                println!("|---|---|---|---|---|---|");
                for arm in &c.arms {
                    println!(
                        "| {} | {} | {} | {:.4} | {:.4} | {} |",
                        arm.name,
                        arm.schedule,
                        silab::numfmt::num_sig(arm.final_train_loss, 3),
                        arm.final_test_acc,
                        arm.best_test_acc,
                        silab::numfmt::num_sig(arm.eff_top_eig, 3)
                    );
                }
                println!(
                    "the map's schedule has {} final test accuracy and {} final train loss; {}",
                    if c.map_best_test_acc { "the best" } else { "not the best" },
                    if c.map_lowest_train_loss { "the lowest" } else { "not the lowest" },
                    dir.join("schedule.json").display()
                );
            }
            Ok(())
        }
    }
}

fn request_seed(r: &MapRequest) -> Result<u64> {
    Ok(silab::config::RunConfig::from_parts(Some((&r.base, "map.json")), &[])?.seed)
}
