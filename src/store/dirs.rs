//! The directories silab writes, as path types: every file name lives here.

use super::{StoreError, append_line};
use std::path::{Path, PathBuf};

/// Where `silab train` puts a run by default: `runs/<name>-<config hash>`.
pub fn default_run_dir(name: &str, hash: &str) -> PathBuf {
    PathBuf::from(format!("runs/{name}-{hash}"))
}

/// Where `silab sweep` puts a sweep by default: `sweeps/<name>-<sweep hash>`.
pub fn default_sweep_dir(name: &str, hash: &str) -> PathBuf {
    PathBuf::from(format!("sweeps/{name}-{hash}"))
}

/// Where `silab reproduce` writes by default: `reproduce/<experiment>-<scale>`.
pub fn default_study_dir(experiment: &str, scale: &str) -> PathBuf {
    PathBuf::from(format!("reproduce/{experiment}-{scale}"))
}

/// Paths inside a run directory (layout in the module docs of [`crate::store`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunDir {
    pub root: PathBuf,
}

impl RunDir {
    pub fn new(root: impl Into<PathBuf>) -> RunDir {
        RunDir { root: root.into() }
    }
    pub fn config(&self) -> PathBuf {
        self.root.join("config.toml")
    }
    pub fn metrics(&self) -> PathBuf {
        self.root.join("metrics.csv")
    }
    pub fn summary(&self) -> PathBuf {
        self.root.join("summary.json")
    }
    pub fn log(&self) -> PathBuf {
        self.root.join("log.txt")
    }
    /// Curvature rows measured during training.
    pub fn sharpness(&self) -> PathBuf {
        self.root.join("sharpness.csv")
    }
    /// Curvature rows measured by `silab sharpness`.
    pub fn sharpness_posthoc(&self) -> PathBuf {
        self.root.join("sharpness_posthoc.csv")
    }
    /// `spectrum_posthoc.csv`: Hessian spectral densities (SLQ) measured post hoc.
    pub fn spectrum_posthoc(&self) -> PathBuf {
        self.root.join("spectrum_posthoc.csv")
    }
    /// `spectrum.png` / `spectrum.svg` (the figure of spectrum_posthoc.csv), without extension.
    pub fn spectrum_figure(&self) -> PathBuf {
        self.root.join("spectrum")
    }
    /// A sweep point's latest attempt.
    pub fn attempt(&self) -> PathBuf {
        self.root.join("attempt.json")
    }
    /// What `silab analyze` wrote.
    pub fn analysis(&self) -> PathBuf {
        self.root.join("analysis.json")
    }
    /// The lock file: one writer per run directory ([`RunDir::lock`]).
    pub fn lock_file(&self) -> PathBuf {
        self.root.join("lock")
    }
    /// Become the only writer of this run directory for as long as the lock lives; fails at once,
    /// naming the holder, when another process writes here.
    pub fn lock(&self) -> Result<super::Lock, StoreError> {
        super::Lock::acquire(&self.lock_file())
    }
    /// The default output folder of `silab landscape`.
    pub fn landscape(&self) -> PathBuf {
        self.root.join("landscape")
    }
    pub fn checkpoints(&self) -> PathBuf {
        self.root.join("checkpoints")
    }
    pub fn checkpoint(&self, epoch: usize) -> PathBuf {
        self.checkpoints().join(format!("epoch_{epoch:05}.safetensors"))
    }
    pub fn optim_state(&self, epoch: usize) -> PathBuf {
        self.checkpoints().join(format!("epoch_{epoch:05}.optim.safetensors"))
    }
    /// The run directory a checkpoint file lies in (`RUN_DIR/checkpoints/epoch_N.safetensors`).
    pub fn of_checkpoint(file: &Path) -> Option<RunDir> {
        file.parent().and_then(|c| c.parent()).map(RunDir::new)
    }
    /// Epochs that have a model checkpoint, ascending.
    pub fn checkpoint_epochs(&self) -> Vec<usize> {
        let mut v: Vec<usize> = std::fs::read_dir(self.checkpoints())
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                name.strip_prefix("epoch_")?.strip_suffix(".safetensors")?.parse().ok()
            })
            .collect();
        v.sort();
        v
    }
    /// The latest epoch with both a model checkpoint and an optimizer state (resumable).
    pub fn latest_resumable(&self) -> Option<usize> {
        self.checkpoint_epochs().into_iter().rev().find(|&e| self.optim_state(e).is_file())
    }
    /// Append a line to the log.
    pub fn log_line(&self, line: &str) -> Result<(), StoreError> {
        append_line(&self.log(), line)
    }
}

/// Paths inside a sweep directory:
/// ```text
/// DIR/sweep.toml            the sweep file as given (with --set applied to [base])
/// DIR/manifest.json         every point: index, run dir, axis values, seed, config hash
/// DIR/runs/pNNNN/           one run directory per point (config.toml written up front)
/// DIR/logs/pNNNN.log        the worker's output (local workers and Slurm tasks alike)
/// DIR/slurm/                Slurm executor: options.json, submissions.json, submit-NN.sh
/// DIR/table.csv, table.parquet   all points x all log points, one column per swept key
/// DIR/sharpness.csv/.parquet, sharpness_posthoc.csv/.parquet   the points' curvature rows
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SweepDir {
    pub root: PathBuf,
}

impl SweepDir {
    pub fn new(root: impl Into<PathBuf>) -> SweepDir {
        SweepDir { root: root.into() }
    }
    pub fn manifest(&self) -> PathBuf {
        self.root.join("manifest.json")
    }
    pub fn spec(&self) -> PathBuf {
        self.root.join("sweep.toml")
    }
    /// Is there a sweep here (a manifest)?
    pub fn exists(&self) -> bool {
        self.manifest().is_file()
    }
    pub fn logs(&self) -> PathBuf {
        self.root.join("logs")
    }
    /// Point `i`'s log, relative to the sweep directory.
    pub fn log_rel(i: usize) -> String {
        format!("logs/p{i:04}.log")
    }
    pub fn log(&self, i: usize) -> PathBuf {
        self.root.join(Self::log_rel(i))
    }
    /// The Slurm `--output` pattern of the logs (`%4a` is the array task id, zero-padded).
    pub fn slurm_log_pattern(&self) -> PathBuf {
        self.logs().join("p%4a.log")
    }
    /// Point `i`'s run directory, relative to the sweep directory.
    pub fn point_rel(i: usize) -> String {
        format!("runs/p{i:04}")
    }
    /// A point's run directory from its relative path (as the manifest holds it).
    pub fn run(&self, rel: &str) -> RunDir {
        RunDir::new(self.root.join(rel))
    }
    /// A gathered table: `stem` is `table`, `sharpness` or `sharpness_posthoc`.
    pub fn table_csv(&self, stem: &str) -> PathBuf {
        self.root.join(format!("{stem}.csv"))
    }
    pub fn table_parquet(&self, stem: &str) -> PathBuf {
        self.root.join(format!("{stem}.parquet"))
    }
    /// What `silab analyze` wrote.
    pub fn analysis(&self) -> PathBuf {
        self.root.join("analysis.json")
    }
    pub fn slurm(&self) -> PathBuf {
        self.root.join("slurm")
    }
    pub fn slurm_options(&self) -> PathBuf {
        self.slurm().join("options.json")
    }
    pub fn slurm_submissions(&self) -> PathBuf {
        self.slurm().join("submissions.json")
    }
    /// Submission `n`'s batch script, relative to the sweep directory.
    pub fn slurm_script_rel(n: usize) -> String {
        format!("slurm/submit-{n:02}.sh")
    }
}

/// The output folder of `silab reproduce`:
/// ```text
/// OUT/sweep/          the experiment's sweep        OUT/finetune/   the sharpness study's fine-tuning sweep
/// OUT/report.html     the self-contained report     OUT/summary.json, analysis.json, sharpness.json
/// OUT/table.csv, table.parquet   the sweep's table  OUT/timing.json  wall time over invocations
/// OUT/fig_*.png, fig_*.svg       the figures
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StudyDir {
    pub root: PathBuf,
}

impl StudyDir {
    pub fn new(root: impl Into<PathBuf>) -> StudyDir {
        StudyDir { root: root.into() }
    }
    pub fn sweep(&self) -> SweepDir {
        SweepDir::new(self.root.join("sweep"))
    }
    pub fn finetune(&self) -> SweepDir {
        SweepDir::new(self.root.join("finetune"))
    }
    pub fn report(&self) -> PathBuf {
        self.root.join("report.html")
    }
    pub fn summary(&self) -> PathBuf {
        self.root.join("summary.json")
    }
    pub fn analysis(&self) -> PathBuf {
        self.root.join("analysis.json")
    }
    pub fn sharpness(&self) -> PathBuf {
        self.root.join("sharpness.json")
    }
    pub fn timing(&self) -> PathBuf {
        self.root.join("timing.json")
    }
    pub fn table_csv(&self) -> PathBuf {
        self.root.join("table.csv")
    }
    pub fn table_parquet(&self) -> PathBuf {
        self.root.join("table.parquet")
    }
    /// A figure's stem (`OUT/fig_dynamics`: `.png` and `.svg` are added when drawn).
    pub fn figure(&self, stem: &str) -> PathBuf {
        self.root.join(stem)
    }
}

/// The files of a landscape scan in its output folder: `line.csv` / `slice_1d.csv` /
/// `slice_2d.csv` and figures of the same stem (`.png`, `.svg`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScanFiles {
    pub dir: PathBuf,
    /// `line`, `slice_1d` or `slice_2d`.
    pub stem: String,
}

impl ScanFiles {
    pub fn csv(&self) -> PathBuf {
        self.dir.join(format!("{}.csv", self.stem))
    }
    pub fn figure(&self) -> PathBuf {
        self.dir.join(&self.stem)
    }
    pub fn png(&self) -> PathBuf {
        self.dir.join(format!("{}.png", self.stem))
    }
}
