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

/// When a run may stop before its last epoch.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum StopWhen {
    /// Train every epoch (a non-finite loss still stops the run, `train.stop_on_nonfinite`).
    #[default]
    Never,
    /// Sphere mode: stop once the run's regime (convergence, chaotic equilibrium, divergence) is
    /// certain by the early rule (`silab::regime::early`) over `train.regime_window` epochs;
    /// `summary.json` records the regime, the epoch and the statistic that decided it.
    Regime,
}

super::serde_named!(StopWhen);

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
    /// `never`, or `regime`: stop a sphere run once its regime is certain by the early rule
    /// (`silab map` runs do; the rule: the book's page on the regime map). The decision is
    /// recorded in `summary.json` (status `decided`).
    pub stop_when: StopWhen,
    /// Epochs the early rule's evidence for convergence by fit and for divergence must hold for
    /// (`stop_when = "regime"`); its long window (steady fall, chaotic plateau) is twice this and
    /// at least 30% of `train.epochs`.
    pub regime_window: usize,
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
            stop_when: StopWhen::Never,
            regime_window: 10,
        }
    }
}
