//! The bottom layer: the directories silab writes and every file name in them, atomic writes,
//! named tensors as safetensors, CSV records and their one typed reader ([`Table`]: cells typed
//! by `schema`, a bad cell an error naming file, line and column). Nothing above this module
//! spells a file name; every I/O error names its path ([`StoreError`]).
//!
//! A run directory ([`RunDir`]):
//! ```text
//! RUN_DIR/config.toml                          resolved config
//! RUN_DIR/metrics.csv                          one row per log point
//! RUN_DIR/summary.json                         status, final metrics, timing
//! RUN_DIR/log.txt                              human-readable log
//! RUN_DIR/sharpness.csv                        curvature rows measured during training
//! RUN_DIR/sharpness_posthoc.csv                curvature rows of `silab sharpness`
//! RUN_DIR/attempt.json                         a sweep point's latest attempt
//! RUN_DIR/analysis.json                        `silab analyze`
//! RUN_DIR/landscape/                           `silab landscape` (default output folder)
//! RUN_DIR/checkpoints/epoch_NNNNN.safetensors  model tensors, PyTorch names; metadata epoch/step/config_hash
//! RUN_DIR/checkpoints/epoch_NNNNN.optim.safetensors   optimizer state (for resume)
//! ```
//! A sweep directory ([`SweepDir`]) and a reproduction's output ([`StudyDir`]) are described on
//! their types. Every file that is replaced is written to a temporary name and renamed (atomic on
//! POSIX).

mod csv_records;
mod dirs;
pub mod json_num;
mod process;
mod records;
pub mod tensorboard;
mod tensors;

pub use csv_records::{Records, append_records, read_header, read_records, widen, write_records};
pub use dirs::{RunDir, ScanFiles, StudyDir, SweepDir, default_run_dir, default_study_dir, default_sweep_dir};
pub use process::{Lock, failpoint, hostname, pid_alive, unix_now};
pub use records::{Cell, RecordsError, RowKind, Table, TypedRow};
pub use tensors::{NamedTensors, load_tensors, save_tensors};

use std::io::Write;
use std::path::{Path, PathBuf};

/// An error of the store: which file, and what went wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Format { path: PathBuf, message: String },
    /// Another process writes here (the lock names it).
    #[error("{path} is held by {holder}: another silab is writing to this directory; wait for it to finish or stop it")]
    Locked { path: PathBuf, holder: String },
}

impl StoreError {
    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> StoreError {
        StoreError::Io { path: path.to_path_buf(), source }
    }
    /// A malformed file.
    pub fn format(path: &Path, message: impl std::fmt::Display) -> StoreError {
        StoreError::Format { path: path.to_path_buf(), message: message.to_string() }
    }
}

/// Write `bytes` to `path` atomically (temporary file in the same folder, then rename). A kill
/// or a full disk leaves at most the temporary file, never a half-written `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let tmp = path.with_extension(format!("{}.tmp", path.extension().and_then(|e| e.to_str()).unwrap_or("")));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    {
        let mut f = std::fs::File::create(&tmp).map_err(|e| StoreError::io(&tmp, e))?;
        let (a, b) = bytes.split_at(bytes.len() / 2);
        f.write_all(a).map_err(|e| StoreError::io(&tmp, e))?;
        failpoint(&format!("mid-write:{name}"));
        f.write_all(b).map_err(|e| StoreError::io(&tmp, e))?;
        f.sync_all().map_err(|e| StoreError::io(&tmp, e))?;
    }
    failpoint(&format!("before-rename:{name}"));
    std::fs::rename(&tmp, path).map_err(|e| StoreError::io(path, e))
}

/// Serialize `value` as pretty JSON and write it atomically.
pub fn write_json<T: serde::Serialize + ?Sized>(path: &Path, value: &T) -> Result<(), StoreError> {
    let bytes = serde_json::to_vec_pretty(value).map_err(|e| StoreError::format(path, e))?;
    write_atomic(path, &bytes)
}

/// Read and parse a JSON file.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, StoreError> {
    let bytes = std::fs::read(path).map_err(|e| StoreError::io(path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| StoreError::format(path, e))
}

/// Read a whole text file.
pub fn read_text(path: &Path) -> Result<String, StoreError> {
    std::fs::read_to_string(path).map_err(|e| StoreError::io(path, e))
}

/// Create a folder and its parents. A regular file in the way (the folder itself or one of its
/// parents) is named as such: the OS only says "File exists" or "Not a directory".
pub fn create_dir(path: &Path) -> Result<(), StoreError> {
    std::fs::create_dir_all(path).map_err(|e| {
        match path.ancestors().find(|a| !a.as_os_str().is_empty() && a.exists() && !a.is_dir()) {
            Some(file) => {
                StoreError::format(file, "exists and is a file, not a directory: move it or choose another path")
            }
            None => StoreError::io(path, e),
        }
    })
}

/// Append one line to a text file (created if missing).
pub fn append_line(path: &Path, line: &str) -> Result<(), StoreError> {
    let mut f =
        std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(|e| StoreError::io(path, e))?;
    writeln!(f, "{line}").map_err(|e| StoreError::io(path, e))
}

/// Copy a file.
pub fn copy(from: &Path, to: &Path) -> Result<(), StoreError> {
    std::fs::copy(from, to).map(|_| ()).map_err(|e| StoreError::io(from, e))
}
