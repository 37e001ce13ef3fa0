//! What can go wrong when a run is started, opened or resumed, as cases a caller can tell apart
//! (a sweep retries a locked point later, a CLI suggests `--resume` for a directory that holds a
//! run, ...). What no caller needs to tell apart (a failed training step, a data set that does
//! not load) is carried as [`RunError::Other`].

use crate::config::ConfigError;
use crate::store::StoreError;
use std::path::PathBuf;

/// An error of a run directory or of resuming a run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A new run was asked for in a directory that already holds one.
    #[error(
        "{} already holds a run; continue it with `silab train --resume {}` or choose another --out",
        dir.display(),
        dir.display()
    )]
    AlreadyHoldsRun { dir: PathBuf },
    /// The directory to resume has no `config.toml`.
    #[error("{} is not a run directory (no config.toml)", dir.display())]
    NotRunDir { dir: PathBuf },
    /// Another process writes to the run directory (its lock file names it).
    #[error(
        "{} is held by {holder}: another silab is writing to this directory; wait for it to finish or stop it",
        lock.display()
    )]
    Locked {
        /// The lock file.
        lock: PathBuf,
        /// The holder as its lock file names it (`pid N on HOST`).
        holder: String,
        /// The holder's process id, when the lock file names one.
        pid: Option<u32>,
    },
    /// A checkpoint was written by another config than the run's `config.toml` (the config was
    /// edited after the run started): resuming from it would mix two runs.
    #[error(
        "{}: checkpoint was written by another config (hash {}, config.toml has {expected}){}; \
         nothing was changed: restore the run's config.toml, train longer with \
         `silab train --resume DIR --epochs N`, or start a new run",
        path.display(),
        found.as_deref().unwrap_or("none"),
        changed.as_deref().map(|c| format!(": config.toml changed {c}")).unwrap_or_default()
    )]
    OtherConfig {
        path: PathBuf,
        found: Option<String>,
        expected: String,
        /// The keys that differ, `key old -> new` (`None` for a checkpoint written before
        /// checkpoints carried their config).
        changed: Option<String>,
    },
    /// The scripted module (`model.file`) is not the file the run's checkpoints were trained
    /// from: resuming would load its weights into another network.
    #[error(
        "{}: the run was trained from {} with SHA-256 {found}, but that file now has SHA-256 {expected}: \
         it was changed; restore the file the run started from, or start a new run",
        path.display(),
        file.display()
    )]
    ModelFileChanged { path: PathBuf, file: PathBuf, found: String, expected: String },
    /// A run cannot be extended to the asked number of epochs (`silab train --resume DIR
    /// --epochs N`): the run, and why (not longer than it is, a cosine schedule, diverged).
    #[error("{}: cannot extend the run: {why}", dir.display())]
    CannotExtend { dir: PathBuf, why: String },
    /// A checkpoint that is needed is not there (or cannot be read).
    #[error("{}: {needed}", path.display())]
    NoCheckpoint {
        /// The checkpoint file, or the run directory that has none.
        path: PathBuf,
        /// What it is needed for, and what was found instead.
        needed: String,
    },
    /// A file of the run cannot be read or written.
    #[error(transparent)]
    Store(StoreError),
    /// The run's config does not load.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Anything else (data, device, a training step, a measurement).
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl From<StoreError> for RunError {
    /// A held lock becomes [`RunError::Locked`]; every other store error stays one.
    fn from(e: StoreError) -> RunError {
        match e {
            StoreError::Locked { path, holder } => {
                let pid = holder.strip_prefix("pid ").and_then(|r| r.split_whitespace().next()?.parse().ok());
                RunError::Locked { lock: path, holder, pid }
            }
            other => RunError::Store(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_names_its_pid() {
        let e = RunError::from(StoreError::Locked { path: "r/lock".into(), holder: "pid 4242 on node7".into() });
        assert!(matches!(e, RunError::Locked { pid: Some(4242), .. }), "{e:?}");
        assert!(e.to_string().contains("held by pid 4242 on node7"), "{e}");
        let e = RunError::from(StoreError::Locked { path: "r/lock".into(), holder: "another process".into() });
        assert!(matches!(e, RunError::Locked { pid: None, .. }), "{e:?}");
        let e = RunError::from(StoreError::format("r/x".as_ref(), "bad"));
        assert!(matches!(e, RunError::Store(_)), "{e:?}");
    }
}
