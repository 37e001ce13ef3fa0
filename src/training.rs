//! One run with every in-training measurement its config asks for: the [`crate::run::Trainer`]
//! plus the hooks of the layers above it (curvature from [`crate::landscape::curvature`]). This
//! is the one way to train and resume: `silab train`, sweep points and studies run it, and a
//! Rust user calls [`train`] / [`resume`].
//!
//! Errors are [`RunError`]s, so that a caller can tell the cases apart (a directory that already
//! holds a run, a run locked by another process, a checkpoint of another config, ...).

use crate::config::RunConfig;
use crate::landscape::curvature::{self, InTraining};
use crate::progress::Progress;
use crate::run::{RunError, Summary, Trainer, ended_early};
use crate::store::{Lock, RunDir};
use std::path::Path;

/// Give `t` the hooks its config asks for.
fn with_hooks(mut t: Trainer) -> Trainer {
    if InTraining::wanted(t.config()) {
        let hook = InTraining::new(t.config(), &t.workspace().data.train, t.dir());
        if let Some(w) = curvature::images_clamped(t.config(), &t.workspace().data.train) {
            t.warn_at_start(w);
        }
        t.add_hook(Box::new(hook));
    }
    t
}

/// Start a new run of `cfg` in `out` (created; must not hold a run already).
pub fn train(cfg: &RunConfig, out: &Path, progress: &mut dyn Progress) -> Result<Summary, RunError> {
    Ok(with_hooks(Trainer::create(cfg, out)?).run(progress)?)
}

/// [`train`] with a network the caller built (see [`Trainer::create_with_net`]).
pub fn train_with_net(
    cfg: &RunConfig,
    out: &Path,
    net: crate::model::Net,
    progress: &mut dyn Progress,
) -> Result<Summary, RunError> {
    Ok(with_hooks(Trainer::create_with_net(cfg, out, net)?).run(progress)?)
}

/// Continue the run in `run_dir` from its latest intact checkpoint (from the start if it has
/// none). A run that ended as diverged, or stopped once its regime was decided, has nothing
/// left to do: its summary is returned.
pub fn resume(run_dir: &Path, progress: &mut dyn Progress) -> Result<Summary, RunError> {
    let lock = Trainer::lock(run_dir)?;
    resume_locked(run_dir, lock, progress)
}

/// Train the run in `run_dir` (finished or killed) longer, to `epochs` epochs in all: the result
/// equals a run configured for `epochs` from the start (its `metrics.csv` but `wall_time`, its
/// weights). `config.toml` is rewritten with `train.epochs = epochs` and the extension recorded
/// in `summary.json` (`extensions`) and `log.txt`. Refused ([`RunError::CannotExtend`]) when
/// `epochs` is not more than the run's, for a `cosine` schedule and for a diverged run; a run
/// another process writes to is [`RunError::Locked`].
pub fn extend(run_dir: &Path, epochs: usize, progress: &mut dyn Progress) -> Result<Summary, RunError> {
    let lock = Trainer::lock(run_dir)?;
    Ok(with_hooks(Trainer::extend_locked(run_dir, lock, epochs)?).run(progress)?)
}

/// [`resume`] with the run directory's lock already held.
pub fn resume_locked(run_dir: &Path, lock: Lock, progress: &mut dyn Progress) -> Result<Summary, RunError> {
    if let Some(s) = ended_early(&RunDir::new(run_dir)) {
        return Ok(s);
    }
    Ok(with_hooks(Trainer::open_locked(run_dir, lock)?).run(progress)?)
}
