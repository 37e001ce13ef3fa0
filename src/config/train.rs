//! The `[train]` section: epochs, batches, device, logging and checkpoints.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Compute device.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum DeviceName {
    /// The CPU.
    Cpu,
    /// The first CUDA GPU (needs a CUDA libtorch).
    Cuda,
}

super::serde_named!(DeviceName);

/// The `[train]` section.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Epochs to train.
    pub epochs: usize,
    /// Minibatch size (0 = full-batch gradient descent).
    pub batch_size: usize,
    /// Intra-op threads of libtorch, 1 ... 1024. Results are deterministic for a fixed seed and
    /// thread count.
    pub threads: usize,
    /// `cpu` or `cuda` (needs a CUDA libtorch and a GPU).
    pub device: DeviceName,
    /// Also log every N iterations (0 = once per epoch only). Step rows hold the cheap metrics.
    pub log_every: usize,
    /// Write a checkpoint every N epochs (0 = only at the end); epoch 0 and the last are always
    /// written, and the latest is kept for resume.
    pub checkpoint_every: usize,
    /// Keep every scheduled checkpoint (`true`) or only epoch 0 and the latest (`false`).
    pub keep_checkpoints: bool,
    /// Fine-tuning: start from these weights (model tensors and BN statistics) instead of a fresh
    /// init: a checkpoint file (`.../epoch_00100.safetensors`) or a run directory (its latest
    /// checkpoint). Empty: fresh init. Optimizer state starts fresh; in sphere mode the radius is
    /// the norm of the loaded SI weights. A sweep axis can list several.
    pub init_from: PathBuf,
    /// Stop the run as `diverged` (summary.json, attempt.json) when the minibatch loss or rho
    /// becomes NaN or infinite, instead of training on with non-finite weights; its last row
    /// (a `step` row) shows where.
    pub stop_on_nonfinite: bool,
    /// Also write every `metrics.csv` row to a TensorBoard event file in the run directory.
    pub tensorboard: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 10,
            batch_size: 128,
            threads: 2,
            device: DeviceName::Cpu,
            log_every: 0,
            checkpoint_every: 1,
            keep_checkpoints: true,
            init_from: PathBuf::new(),
            stop_on_nonfinite: true,
            tensorboard: true,
        }
    }
}
