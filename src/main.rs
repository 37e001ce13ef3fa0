//! The `silab` command line: a thin layer that maps arguments to library calls.

use anyhow::{Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use silab::analysis;
use silab::config::{self, DeviceName, OptimMode, RunConfig};
use silab::metrics::Row;
use silab::run::{self, Observer};
use silab::sweep::{
    self, SweepDir, SweepSpec,
    local::{PointProgress, SweepObserver},
};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "silab", version, about = "Training dynamics of scale-invariant neural networks")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

/// (A CLI enum parsed once: its size does not matter.)
#[allow(clippy::large_enum_variant)]
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
    /// Run a grid of runs (axes x seeds) in parallel worker processes, resumably, and gather
    /// one tidy table (table.csv, table.parquet).
    #[command(args_conflicts_with_subcommands = true)]
    Sweep {
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
        #[arg(long, short)]
        quiet: bool,
        /// Where the points run: `local` worker processes (waits for them), or a `slurm` array
        /// job (submits it and returns; see `silab sweep status`).
        #[arg(long, value_enum, default_value_t = Executor::Local)]
        executor: Executor,
        #[command(flatten)]
        slurm: SlurmArgs,
    },
    /// Analyse a run or a sweep: S-jumps and periods, regimes and their boundaries, theory vs
    /// measurement. Prints tables and writes analysis.json into the directory.
    Analyze {
        dir: PathBuf,
        /// S-jump: loss must rise to this multiple of its recent minimum.
        #[arg(long, default_value_t = 5.0)]
        spike_factor: f64,
        /// S-jump: rho must rise by this fraction.
        #[arg(long, default_value_t = 0.01)]
        rho_jump: f64,
    },
    /// Reproduce a paper's experiment: sweep, analysis, figures and report.html in one command.
    Reproduce {
        /// periodic (P1), regimes (P2) or mse (P3).
        experiment: String,
        /// smoke (< 2 min), cpu (< 20 min, built-in data), paper (ConvNet-32, CIFAR-10, GPU).
        #[arg(long, default_value = "cpu")]
        scale: String,
        /// CIFAR-10 folder (binary version) for --scale paper.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Output folder (default: reproduce/<experiment>-<scale>). Rerunning on it resumes.
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long)]
        jobs: Option<usize>,
        /// Override a key of every run: `--set train.epochs=50`.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        #[arg(long, short)]
        quiet: bool,
        /// regimes / mse: also measure the sharpness of every run's final point and of the minimum
        /// reached by fine-tuning it at the smallest ELR (figure fig_sharpness_vs_elr).
        #[arg(long)]
        sharpness: bool,
    },
    /// Curvature of a run's checkpoints (post hoc): per group, Hessian trace and top eigenvalues,
    /// their effective (x rho^2) values, the Riemannian Hessian on the sphere and the
    /// Gauss-Newton/Fisher matrix. Settings: the run's `[sharpness]` keys, overridable with --set.
    /// Rows go to RUN_DIR/sharpness_posthoc.csv; a sweep directory measures every point and
    /// rebuilds its sharpness_posthoc table.
    Sharpness {
        /// A run directory, or a sweep directory (every point).
        dir: PathBuf,
        /// Epochs to measure: a list `0,10,20`, a range `0:100:10` (start:end:step, end
        /// included), or `all` checkpoints (default); `last` for the latest.
        #[arg(long, default_value = "all")]
        epochs: String,
        /// Print one JSON object per row (per line) instead of a table.
        #[arg(long)]
        json: bool,
        /// Override a measurement key: `--set sharpness.images=500` (also train.device, train.threads).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        #[arg(long, short)]
        quiet: bool,
    },
    /// The loss landscape: along the straight line and the great circle between two checkpoints,
    /// or on 1-D/2-D slices around one along random directions (tangent to the sphere for the SI
    /// group, filter-normalized for the rest). Writes landscape.csv and figures (PNG, SVG).
    Landscape {
        #[command(subcommand)]
        what: LandscapeCmd,
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
        /// Time curvature instead of training: one gradient, one Hessian-vector product and one
        /// Gauss-Newton-vector product over a batch, and a top-eigenvalue estimate (Lanczos).
        #[arg(long)]
        curvature: bool,
        /// Lanczos steps of the top-eigenvalue estimate (--curvature).
        #[arg(long, default_value_t = 20)]
        lanczos_iters: usize,
    },
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

/// Options shared by `landscape line` and `landscape slice`.
#[derive(Args, Clone)]
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
    #[arg(long, default_value = "train", value_parser = ["train", "eval"])]
    bn: String,
    /// Evaluation batch (default: the run's train.batch_size).
    #[arg(long)]
    batch: Option<usize>,
    /// Output folder (default: RUN_DIR/landscape of the first run).
    #[arg(long)]
    out: Option<PathBuf>,
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Subcommand)]
enum LandscapeCmd {
    /// Loss and accuracy from A (t = 0) to B (t = 1) along the straight line and the great
    /// circle (the SI group on the sphere). A and B: RUN_DIR, RUN_DIR@EPOCH or a checkpoint file.
    Line {
        a: String,
        b: String,
        /// t range as LO:HI (beyond [0, 1] extrapolates).
        #[arg(long, default_value = "0:1", allow_hyphen_values = true)]
        range: String,
        /// straight, great-circle or both.
        #[arg(long, default_value = "both", value_parser = ["both", "straight", "great-circle"])]
        path: String,
        #[command(flatten)]
        scan: ScanArgs,
    },
    /// A 1-D or 2-D slice around a checkpoint along random directions.
    Slice {
        /// RUN_DIR, RUN_DIR@EPOCH or a checkpoint file.
        at: String,
        /// 1 or 2 directions.
        #[arg(long, default_value_t = 2)]
        dims: usize,
        /// Half-width of the slice: alpha, beta in [-R, R] (radians on the sphere for the SI
        /// group; multiples of the filter norms for the rest).
        #[arg(long, default_value_t = 1.0)]
        radius: f64,
        /// Which tensors move: all, si or non_si.
        #[arg(long, default_value = "all")]
        group: String,
        /// Seed of the random directions.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[command(flatten)]
        scan: ScanArgs,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Executor {
    Local,
    Slurm,
}

/// Options of the Slurm array job (`--executor slurm`, `sweep resubmit`).
#[derive(Args, Clone, Default)]
struct SlurmArgs {
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
    dry_run: bool,
}

impl SlurmArgs {
    fn options(&self) -> sweep::slurm::SlurmOptions {
        sweep::slurm::SlurmOptions {
            partition: self.partition.clone(),
            time: self.time.clone(),
            cpus_per_task: self.cpus_per_task,
            gpus_per_task: self.gpus_per_task,
            max_parallel: self.max_parallel,
            extra: self.sbatch_args.clone(),
        }
    }
    fn any_given(&self) -> bool {
        self.options() != sweep::slurm::SlurmOptions::default() || self.dry_run
    }
}

/// Submit `indices` of a sweep to Slurm and say what was done.
fn slurm_submit(
    dir: &std::path::Path,
    opts: &sweep::slurm::SlurmOptions,
    dry_run: bool,
    indices: &[usize],
) -> Result<()> {
    use sweep::slurm::{Submitted, submit};
    match submit(&SweepDir::new(dir), opts, &std::env::current_exe()?, indices, dry_run)? {
        Submitted::DryRun(text) => print!("{text}"),
        Submitted::Job(s) => println!(
            "{}: submitted {} points as slurm array job {} ({}); follow with `silab sweep status {}`",
            dir.display(),
            s.points.len(),
            s.job_id,
            dir.join(&s.script).display(),
            dir.display()
        ),
    }
    Ok(())
}

/// Sweep progress: one bar for the points, one per running point.
struct SweepBars {
    mp: MultiProgress,
    main: ProgressBar,
    points: Vec<(usize, ProgressBar)>,
}

impl SweepObserver for SweepBars {
    fn update(&mut self, done: usize, failed: usize, total: usize, running: &[PointProgress]) {
        self.main.set_length(total as u64);
        self.main.set_position(done as u64);
        self.main.set_message(if failed > 0 { format!("{failed} failed") } else { String::new() });
        self.points.retain(|(i, pb)| {
            let keep = running.iter().any(|r| r.index == *i);
            if !keep {
                pb.finish_and_clear();
            }
            keep
        });
        for r in running {
            if !self.points.iter().any(|(i, _)| *i == r.index) {
                let pb = self.mp.add(ProgressBar::new(r.epochs as u64));
                pb.set_style(ProgressStyle::with_template("  point {prefix:>4} {bar:30} {pos}/{len} epochs").unwrap());
                pb.set_prefix(r.index.to_string());
                self.points.push((r.index, pb));
            }
            if let Some((_, pb)) = self.points.iter().find(|(i, _)| *i == r.index) {
                pb.set_position(r.epochs_done as u64);
            }
        }
    }
    fn failed(&mut self, index: usize, log: &std::path::Path) {
        let line = format!("point {index} failed; its log: {}", log.display());
        if self.mp.is_hidden() {
            eprintln!("{line}")
        } else {
            let _ = self.mp.println(line);
        }
    }
}

fn sweep_bars(quiet: bool, total: usize) -> Result<SweepBars> {
    let mp = if quiet { MultiProgress::with_draw_target(ProgressDrawTarget::hidden()) } else { MultiProgress::new() };
    let main = mp.add(ProgressBar::new(total as u64));
    main.set_style(ProgressStyle::with_template(
        "{bar:30} {pos}/{len} points [{elapsed_precise}<{eta_precise}] {msg}",
    )?);
    Ok(SweepBars { mp, main, points: vec![] })
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

/// `--epochs`: `all`, `last`, `a,b,c` or `start:end:step`, against the available checkpoints.
fn parse_epochs(spec: &str, available: &[usize]) -> Result<Vec<usize>> {
    let spec = spec.trim();
    Ok(match spec {
        "all" => available.to_vec(),
        "last" => available.last().copied().into_iter().collect(),
        _ if spec.contains(':') => {
            let f: Vec<usize> = spec
                .split(':')
                .map(|x| x.trim().parse::<usize>())
                .collect::<Result<_, _>>()
                .map_err(|_| anyhow::anyhow!("--epochs `{spec}`: expected start:end:step"))?;
            if f.len() != 3 || f[2] == 0 {
                bail!("--epochs `{spec}`: expected start:end:step with step >= 1");
            }
            (f[0]..=f[1]).step_by(f[2]).filter(|e| available.contains(e)).collect()
        }
        _ => {
            spec.split(',').map(|x| x.trim().parse::<usize>()).collect::<Result<_, _>>().map_err(|_| {
                anyhow::anyhow!("--epochs `{spec}`: expected all, last, a list 0,10,20 or start:end:step")
            })?
        }
    })
}

/// Post-hoc progress: a bar over epochs, rows printed above it (or as JSON lines).
struct SharpBar {
    pb: ProgressBar,
    json: bool,
    point: Option<usize>,
}

impl silab::landscape::sharpness::Progress for SharpBar {
    fn start(&mut self, epochs: usize) {
        self.pb.set_length(epochs as u64);
        self.pb.set_position(0);
    }
    fn rows(&mut self, rows: &[silab::landscape::sharpness::Row]) {
        for r in rows {
            let line = if self.json {
                let mut j = r.to_json();
                if let (Some(p), Some(o)) = (self.point, j.as_object_mut()) {
                    o.insert("point".into(), p.into());
                }
                j.to_string()
            } else {
                let f = |n: &str| {
                    let v = r.get(n);
                    if v.is_nan() { "-".to_string() } else { format!("{v:.4e}") }
                };
                format!(
                    "{}epoch {:>4}  {:<14} trace {}  top_eig {}  eff_top_eig {}  riem_top {}  gn_top {}  ({:.1} s)",
                    self.point.map(|p| format!("point {p:>3}  ")).unwrap_or_default(),
                    r.get("epoch"),
                    r.text("group").unwrap_or(""),
                    f("trace"),
                    f("top_eig"),
                    f("eff_top_eig"),
                    f("riemannian_top_eig"),
                    f("gn_top_eig"),
                    r.get("seconds")
                )
            };
            // rows are the command's output: stdout, above the bar
            self.pb.suspend(|| println!("{line}"));
        }
        self.pb.inc(1);
    }
}

fn landscape_cmd(what: LandscapeCmd) -> Result<()> {
    use silab::landscape::{
        Group,
        lines::{self, PathKind, ScanData},
    };
    let first = match &what {
        LandscapeCmd::Line { a, .. } => a.clone(),
        LandscapeCmd::Slice { at, .. } => at.clone(),
    };
    let (cfg, wa, la) = lines::load_point(&first)?;
    let scan = match &what {
        LandscapeCmd::Line { scan, .. } | LandscapeCmd::Slice { scan, .. } => scan.clone(),
    };
    if scan.points == 0 {
        bail!("--points must be >= 1");
    }
    tch::set_num_threads(cfg.train.threads as i32);
    let dev = run::device(&cfg)?;
    let data = silab::data::load(&cfg.data)?;
    let d = ScanData {
        train: lines::head(&data.train, scan.images).to_device(dev),
        test: lines::head(&data.test, scan.test_images).to_device(dev),
        loss: cfg.loss,
        mode: if scan.bn == "eval" { silab::model::BnMode::Eval } else { silab::model::BnMode::TrainFrozenStats },
        batch: scan.batch.unwrap_or(cfg.train.batch_size),
    };
    let mut net = silab::model::Net::new(&cfg.model, d.train.classes, cfg.seed, tch::Kind::Float, dev);
    let run_dir = la.rsplit_once('@').map(|(d, _)| d.to_string()).unwrap_or_default();
    let out = scan.out.clone().unwrap_or_else(|| PathBuf::from(&run_dir).join("landscape"));
    std::fs::create_dir_all(&out)?;
    let pb = if scan.quiet { ProgressBar::hidden() } else { ProgressBar::new(0) };
    pb.set_style(ProgressStyle::with_template("{bar:30} {pos}/{len} points [{elapsed_precise}<{eta_precise}]")?);
    let ev = |m: String| anyhow::anyhow!(m);
    match what {
        LandscapeCmd::Line { b, range, path, .. } => {
            let (_, wb, lb) = lines::load_point(&b)?;
            let (lo, hi) = range
                .split_once(':')
                .and_then(|(l, h)| Some((l.trim().parse::<f64>().ok()?, h.trim().parse::<f64>().ok()?)))
                .ok_or_else(|| anyhow::anyhow!("--range `{range}`: expected LO:HI, e.g. -0.25:1.25"))?;
            let kinds = match path.as_str() {
                "straight" => vec![PathKind::Straight],
                "great-circle" => vec![PathKind::GreatCircle],
                _ => vec![PathKind::Straight, PathKind::GreatCircle],
            };
            let ts = lines::grid(lo, hi, scan.points);
            pb.set_length((ts.len() * kinds.len()) as u64);
            let rows = lines::scan_line(&mut net, &wa, &wb, &ts, &kinds, &d, || pb.inc(1)).map_err(ev)?;
            pb.finish_and_clear();
            lines::write_csv(&out.join("line.csv"), &rows)?;
            silab::report::landscape::line_figure(&rows, &out.join("line"))?;
            println!("{la} -> {lb}: {} points; {}", rows.len(), out.join("line.csv").display());
            println!("figures: {}", out.join("line.png").display());
        }
        LandscapeCmd::Slice { dims, radius, group, seed, .. } => {
            if !(1..=2).contains(&dims) {
                bail!("--dims must be 1 or 2");
            }
            let g = Group::parse(&group).map_err(ev)?;
            if !matches!(g, Group::All | Group::Si | Group::NonSi) {
                bail!("--group: all, si or non_si");
            }
            if g.select(&net).is_empty() {
                bail!("--group {group}: no such tensors in this model");
            }
            let alphas = lines::grid(-radius, radius, scan.points);
            let betas = if dims == 2 { alphas.clone() } else { vec![] };
            pb.set_length((alphas.len() * betas.len().max(1)) as u64);
            let rows = lines::scan_slice(&mut net, &wa, &g, seed, &alphas, &betas, &d, || pb.inc(1)).map_err(ev)?;
            pb.finish_and_clear();
            let name = if dims == 1 { "slice_1d" } else { "slice_2d" };
            lines::write_csv(&out.join(format!("{name}.csv")), &rows)?;
            let title = if dims == 1 {
                format!("1-D slice ({group}) at {la}")
            } else {
                format!("train loss, 2-D slice ({group}) at {la}")
            };
            silab::report::landscape::slice_figure(&rows, &title, &out.join(name))?;
            println!("{la}: {} points; {}", rows.len(), out.join(format!("{name}.csv")).display());
            println!("figures: {}", out.join(format!("{name}.png")).display());
        }
    }
    Ok(())
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
        Cmd::Sweep { action: Some(SweepCmd::Point { dir, index }), .. } => {
            let mut bar = Bar { pb: ProgressBar::hidden(), quiet: false };
            // Inside a Slurm array task, record which task runs the point (for `sweep status`).
            let task = match (std::env::var("SLURM_ARRAY_JOB_ID"), std::env::var("SLURM_ARRAY_TASK_ID")) {
                (Ok(j), Ok(t)) => Some(format!("{j}_{t}")),
                _ => None,
            };
            sweep::run_point_as(&dir, index, task, &mut bar)?;
        }
        Cmd::Sweep { action: Some(SweepCmd::Status { dir, json }), .. } => {
            let sd = SweepDir::new(&dir);
            let reports = sweep::slurm::status_now(&sd)?;
            let counts = sweep::status_counts(&reports);
            let jobs: Vec<String> = sweep::slurm::submissions(&sd).into_iter().map(|s| s.job_id).collect();
            if json {
                let c: serde_json::Map<String, serde_json::Value> =
                    counts.iter().map(|(s, n)| (s.name().to_string(), (*n).into())).collect();
                let v = serde_json::json!({"dir": dir, "points": reports.len(), "counts": c, "slurm_jobs": jobs, "point_status": reports});
                println!("{v}");
            } else {
                let c: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {}", s.name())).collect();
                let via = if jobs.is_empty() { String::new() } else { format!(" (slurm jobs {})", jobs.join(", ")) };
                println!("{}: {} points: {}{via}", dir.display(), reports.len(), c.join(", "));
                for r in reports.iter().filter(|r| r.status != sweep::Status::Done) {
                    println!(
                        "  point {:>4}  {:<8} epoch {}/{}  {}{}",
                        r.index,
                        r.status.name(),
                        r.epochs_done,
                        r.epochs,
                        if r.detail.is_empty() { String::new() } else { format!("{}; ", r.detail) },
                        format_args!("log {}", r.log.display())
                    );
                }
            }
        }
        Cmd::Sweep { action: Some(SweepCmd::Resubmit { dir, slurm }), .. } => {
            let sd = SweepDir::new(&dir);
            let reports = sweep::slurm::status_now(&sd)?;
            let todo = sweep::slurm::to_resubmit(&reports);
            if todo.is_empty() {
                println!("{}: nothing to resubmit (every point is done, running or queued)", dir.display());
            } else {
                let opts = sweep::slurm::saved_options(&sd).updated(&slurm.options());
                slurm_submit(&dir, &opts, slurm.dry_run, &todo)?;
            }
        }
        Cmd::Sweep { action: Some(SweepCmd::Gather { dir }), .. } => {
            let t = sweep::table::write(&SweepDir::new(&dir))?;
            println!("{}: table.csv, table.parquet ({} rows, {} columns)", dir.display(), t.rows(), t.columns.len());
        }
        Cmd::Sweep { action: None, config, sets, jobs, out, quiet, executor, slurm } => {
            let Some(config) = config else {
                bail!("silab sweep needs --config SWEEP.toml (or a subcommand: point, gather, status, resubmit)")
            };
            if executor == Executor::Local && slurm.any_given() {
                bail!(
                    "--partition, --time, --cpus-per-task, --gpus-per-task, --max-parallel, --sbatch-arg and --dry-run need --executor slurm"
                );
            }
            if executor == Executor::Slurm && jobs.is_some() {
                bail!("--jobs is for --executor local; with slurm use --max-parallel");
            }
            let spec = SweepSpec::from_file(&config, &sets)?;
            let (m, cfgs) = spec.manifest()?;
            let hash = {
                use sha2::Digest;
                let d = sha2::Sha256::digest(spec.to_toml().as_bytes());
                d.iter().take(4).map(|b| format!("{b:02x}")).collect::<String>()
            };
            let dir = out.unwrap_or_else(|| PathBuf::from(format!("sweeps/{}-{hash}", spec.name)));
            let sd = SweepDir::new(&dir);
            if executor == Executor::Slurm {
                let opts = slurm.options();
                opts.validate()?;
                if slurm.dry_run {
                    let all: Vec<usize> = (0..m.points.len()).collect();
                    print!("{}", sweep::slurm::script_for(&dir, &m, &cfgs, &opts, &std::env::current_exe()?, &all)?);
                    return Ok(());
                }
                sd.create(&spec)?;
                let reports = sweep::slurm::status_now(&sd)?;
                let todo = sweep::slurm::to_resubmit(&reports);
                if todo.is_empty() {
                    println!(
                        "{}: every point is done, running or queued; `silab sweep status {}`",
                        dir.display(),
                        dir.display()
                    );
                    return Ok(());
                }
                return slurm_submit(&dir, &opts, false, &todo);
            }
            sd.create(&spec)?;
            let jobs = jobs.unwrap_or_else(|| sweep::local::default_jobs(cfgs[0].train.threads));
            eprintln!("{}: {} points, {} at a time", dir.display(), m.points.len(), jobs);
            let mp = if quiet {
                MultiProgress::with_draw_target(ProgressDrawTarget::hidden())
            } else {
                MultiProgress::new()
            };
            let main = mp.add(ProgressBar::new(m.points.len() as u64));
            main.set_style(ProgressStyle::with_template(
                "{bar:30} {pos}/{len} points [{elapsed_precise}<{eta_precise}] {msg}",
            )?);
            let mut bars = SweepBars { mp, main, points: vec![] };
            let report = sweep::local::run(&sd, jobs, &std::env::current_exe()?, &mut bars)?;
            bars.main.finish_and_clear();
            let t = sweep::table::write(&sd)?;
            println!(
                "{}: {}/{} points done; table.csv, table.parquet ({} rows)",
                dir.display(),
                report.done,
                m.points.len(),
                t.rows()
            );
            if !report.failed.is_empty() {
                for (i, log) in &report.failed {
                    eprintln!("point {i} failed: see {}", log.display());
                }
                bail!(
                    "{} of {} points failed; rerun the same command to retry them",
                    report.failed.len(),
                    m.points.len()
                );
            }
        }
        Cmd::Analyze { dir, spike_factor, rho_jump } => {
            let jp = analysis::JumpParams { spike_factor, rho_jump, ..Default::default() };
            let a = analysis::analyze(&dir, &jp, &analysis::RegimeParams::default())?;
            print!("{}", analysis::to_text(&a));
            silab::run::store::write_atomic(&dir.join("analysis.json"), &serde_json::to_vec_pretty(&a)?)?;
        }
        Cmd::Reproduce { experiment, scale, data_dir, out, jobs, sets, quiet, sharpness } => {
            use silab::report::reproduce::{self, Experiment, Scale};
            let (e, sc) = (Experiment::parse(&experiment)?, Scale::parse(&scale)?);
            let out = out.unwrap_or_else(|| PathBuf::from(format!("reproduce/{}-{}", e.name(), sc.name())));
            std::fs::create_dir_all(&out)?;
            let mut bars = sweep_bars(quiet, 0)?;
            let opts = reproduce::ReproOptions { data_dir, jobs, sets, exe: std::env::current_exe()?, sharpness };
            let s = reproduce::reproduce(e, sc, &out, &opts, &mut bars)?;
            bars.main.finish_and_clear();
            for (what, ok) in &s.checks {
                println!("{} {what}", if *ok { "ok  " } else { "FAIL" });
            }
            println!(
                "{}: report.html, summary.json, figures, table.csv/parquet ({:.1} min)",
                out.display(),
                s.seconds / 60.0
            );
        }
        Cmd::Sharpness { dir, epochs, json, sets, quiet } => {
            use silab::landscape::sharpness;
            let pb = if quiet { ProgressBar::hidden() } else { ProgressBar::new(0) };
            pb.set_style(ProgressStyle::with_template(
                "{bar:30} {pos}/{len} checkpoints [{elapsed_precise}<{eta_precise}]",
            )?);
            let sd = SweepDir::new(&dir);
            let runs: Vec<(Option<usize>, PathBuf)> = if sd.manifest_path().is_file() {
                let m = sd.manifest()?;
                m.points.iter().map(|p| (Some(p.index), sd.run_dir(p).root)).collect()
            } else {
                vec![(None, dir.clone())]
            };
            for (point, rd) in &runs {
                let available = silab::run::store::RunDir::new(rd).checkpoint_epochs();
                if point.is_some() && available.is_empty() {
                    continue; // a point not started yet
                }
                let todo = parse_epochs(&epochs, &available)?;
                let mut bar = SharpBar { pb: pb.clone(), json, point: *point };
                sharpness::posthoc(rd, Some(&todo), &sets, &mut bar)?;
            }
            pb.finish_and_clear();
            if runs.len() > 1 || runs[0].0.is_some() {
                sweep::table::write(&sd)?;
                if !json {
                    println!("{}: sharpness_posthoc.csv, sharpness_posthoc.parquet", dir.display());
                }
            }
        }
        Cmd::Landscape { what } => landscape_cmd(what)?,
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
        Cmd::Bench {
            width,
            mode,
            threads,
            batch,
            classes,
            steps,
            warmup,
            lr,
            wd,
            elr,
            device,
            curvature,
            lanczos_iters,
        } => {
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
            if curvature {
                println!("{}", serde_json::to_string(&silab::bench::curvature(&c, lanczos_iters)?)?);
            } else {
                println!("{}", serde_json::to_string(&silab::bench::run(&c)?)?);
            }
        }
    }
    Ok(())
}
