//! `silab sweep` and its subcommands.

use super::progress::Bars;
use anyhow::{Result, bail};
use clap::Subcommand;
use silab::sweep::{self, Executor, Launched, SweepDir, SweepSpec, slurm};
use std::path::{Path, PathBuf};

/// Run a grid of runs (axes x seeds) in parallel worker processes, resumably, and gather
/// one tidy table (table.csv, table.parquet).
///
/// Writes: sweep.toml, manifest.json, runs/pNNNN/, logs/pNNNN.log, table.csv, table.parquet.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Option<SweepCmd>,
    /// Sweep file: [base] run config, [axes] dotted keys -> values, seeds, zip.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Override a key of [base]: `--set train.epochs=5` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// Parallel runs (default: cores / train.threads).
    #[arg(long)]
    jobs: Option<usize>,
    /// Sweep directory (default: sweeps/<name>-<hash>). Rerunning on it resumes.
    #[arg(long)]
    out: Option<PathBuf>,
    /// No progress bars or progress lines (results and errors are still printed).
    #[arg(long, short)]
    quiet: bool,
    /// Where the points run: `local` worker processes (waits for them), or a `slurm` array
    /// job (submits it and returns; see `silab sweep status`).
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

#[derive(Subcommand)]
enum SweepCmd {
    /// Run one point of a sweep (what each worker or cluster task does): train, resume or skip.
    Point {
        dir: PathBuf,
        #[arg(long)]
        index: usize,
    },
    /// (Re)build table.csv and table.parquet from the points' run directories.
    Gather { dir: PathBuf },
    /// How many points are done / running / queued / failed / pending, from the sweep directory
    /// and, for Slurm sweeps, squeue (and sacct where accounting is on). Lists every point that is
    /// not done, with why and its log.
    Status {
        dir: PathBuf,
        /// One JSON object: counts and every point.
        #[arg(long)]
        json: bool,
    },
    /// Submit to Slurm, as one array job, every point that is not done and not in the queue
    /// (failed, cancelled, timed out, never run). Options not given are those of the last
    /// submission.
    Resubmit {
        dir: PathBuf,
        #[command(flatten)]
        slurm: SlurmArgs,
    },
}

/// Options of the Slurm array job (`--executor slurm`, `sweep resubmit`).
#[derive(clap::Args, Clone, Default)]
pub(super) struct SlurmArgs {
    /// Slurm partition.
    #[arg(long)]
    partition: Option<String>,
    /// Time limit per task (HH:MM:SS, D-HH:MM:SS, ...).
    #[arg(long)]
    time: Option<String>,
    /// CPUs per task (default: the points' train.threads).
    #[arg(long)]
    cpus_per_task: Option<usize>,
    /// GPUs per task (default: 1 if the points train on cuda, else none).
    #[arg(long)]
    gpus_per_task: Option<usize>,
    /// At most this many tasks at once.
    #[arg(long)]
    max_parallel: Option<usize>,
    /// Any other sbatch option, e.g. `--sbatch-arg=--account=proj` (repeatable).
    #[arg(long = "sbatch-arg", value_name = "OPTION", allow_hyphen_values = true)]
    sbatch_args: Vec<String>,
    /// Print the batch script instead of submitting it.
    #[arg(long)]
    pub(super) dry_run: bool,
}

impl SlurmArgs {
    pub(super) fn options(&self) -> slurm::SlurmOptions {
        slurm::SlurmOptions {
            partition: self.partition.clone(),
            time: self.time.clone(),
            cpus_per_task: self.cpus_per_task,
            gpus_per_task: self.gpus_per_task,
            max_parallel: self.max_parallel,
            extra: self.sbatch_args.clone(),
        }
    }
    pub(super) fn any_given(&self) -> bool {
        self.options() != slurm::SlurmOptions::default() || self.dry_run
    }
}

pub fn run(a: Args) -> Result<()> {
    match a.action {
        Some(SweepCmd::Point { dir, index }) => point(&dir, index),
        Some(SweepCmd::Gather { dir }) => {
            let sd = SweepDir::new(&dir);
            let t = sweep::table::write(&sd)?;
            println!(
                "{}, {} ({} rows, {} columns)",
                sd.table_csv("table").display(),
                sd.table_parquet("table").display(),
                t.rows(),
                t.columns.len()
            );
            Ok(())
        }
        Some(SweepCmd::Status { dir, json }) => status(&dir, json),
        Some(SweepCmd::Resubmit { dir, slurm }) => resubmit(&dir, &slurm),
        None => launch(a),
    }
}

/// A worker's or a Slurm task's job: one point, its lines into the point's log.
fn point(dir: &Path, index: usize) -> Result<()> {
    sweep::local::die_with_parent();
    // Inside a Slurm array task, record which task runs the point (for `sweep status`).
    let task = match (std::env::var("SLURM_ARRAY_JOB_ID"), std::env::var("SLURM_ARRAY_TASK_ID")) {
        (Ok(j), Ok(t)) => Some(format!("{j}_{t}")),
        _ => None,
    };
    sweep::run_point_as(dir, index, task, &mut Bars::lines_only())?;
    Ok(())
}

fn status(dir: &Path, json: bool) -> Result<()> {
    let sd = SweepDir::new(dir);
    let reports = slurm::status_now(&sd)?;
    let jobs: Vec<String> = slurm::submissions(&sd).into_iter().map(|s| s.job_id).collect();
    if json {
        println!("{}", sweep::status::to_json(&sd, &reports, &jobs));
    } else {
        print!("{}", sweep::status::render(&sd, &reports, &jobs));
    }
    Ok(())
}

fn resubmit(dir: &Path, args: &SlurmArgs) -> Result<()> {
    let sd = SweepDir::new(dir);
    let todo = slurm::to_resubmit(&slurm::status_now(&sd)?);
    if todo.is_empty() {
        println!("{}: nothing to resubmit (every point is done, running or queued)", dir.display());
        return Ok(());
    }
    // a sweep run by local workers has no Slurm submission to repeat: say how it reruns, unless
    // the user asks for Slurm with options of their own
    if slurm::submissions(&sd).is_empty() && !sd.slurm_options().exists() && !args.any_given() {
        bail!(
            "{}: a local sweep (never submitted to Slurm), so there is nothing to resubmit; rerun its {} unfinished \
             points with `silab sweep --config {} --out {}` (done points are skipped, interrupted ones resume), \
             or submit them to Slurm by giving Slurm options here (e.g. --partition)",
            dir.display(),
            todo.len(),
            sd.spec().display(),
            dir.display()
        );
    }
    let opts = slurm::saved_options(&sd).updated(&args.options());
    match slurm::submit(&sd, &opts, &std::env::current_exe()?, &todo, args.dry_run)? {
        slurm::Submitted::DryRun(text) => print!("{text}"),
        slurm::Submitted::Job(s) => submitted(dir, &s),
    }
    Ok(())
}

fn submitted(dir: &Path, s: &slurm::Submission) {
    println!(
        "{}: submitted {} points as slurm array job {} ({}); follow with `silab sweep status {}`",
        dir.display(),
        s.points.len(),
        s.job_id,
        dir.join(&s.script).display(),
        dir.display()
    );
}

fn launch(a: Args) -> Result<()> {
    let Some(config) = a.config else {
        bail!("silab sweep needs --config SWEEP.toml (or a subcommand: point, gather, status, resubmit)")
    };
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
    let spec = SweepSpec::from_file(&config, &a.sets)?;
    let dir = a.out.unwrap_or_else(|| spec.default_dir());
    let mut bars = Bars::new(a.quiet);
    match sweep::launch(&spec, &dir, &executor, &std::env::current_exe()?, &mut bars)? {
        Launched::Script(text) => print!("{text}"),
        Launched::Submitted(Some(s)) => submitted(&dir, &s),
        Launched::Submitted(None) => {
            println!(
                "{}: every point is done, running or queued; `silab sweep status {}`",
                dir.display(),
                dir.display()
            )
        }
        Launched::Ran { points, report, table, .. } => {
            let sd = SweepDir::new(&dir);
            println!(
                "{}: {}/{} points done; {}, {} ({} rows)",
                dir.display(),
                report.done,
                points,
                sd.table_csv("table").display(),
                sd.table_parquet("table").display(),
                table.rows()
            );
            if !report.failed.is_empty() {
                for (i, log) in &report.failed {
                    eprintln!("point {i} failed: see {}", log.display());
                }
                bail!("{} of {} points failed; rerun the same command to retry them", report.failed.len(), points);
            }
            if !report.busy.is_empty() {
                bail!(
                    "{} of {} points are being run by other processes ({}); rerun when they are done",
                    report.busy.len(),
                    points,
                    report.busy.iter().map(|(i, h)| format!("point {i}: {h}")).collect::<Vec<_>>().join("; ")
                );
            }
        }
    }
    Ok(())
}
