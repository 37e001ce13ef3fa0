//! The `[metrics]` section: which of the costlier per-epoch measurements to make.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The `[metrics]` section: which of the costlier per-epoch measurements to make.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Loss/accuracy over the full training set (BN in train mode) each epoch.
    pub train_eval: bool,
    /// Norm of the full-batch (mean) gradient of the SI group; costs one backward pass over the
    /// training set, shared with `train_eval`'s forward pass.
    pub full_grad: bool,
    /// Per-layer norm and ELR columns (and per-tensor angles with `angles`).
    pub layers: bool,
    /// Angular-update columns (`angle_mean`, `update_rel`, `angle_eq` and, with `layers`,
    /// `angle:` / `angle_mean:` per SI tensor and group): costs a copy of the SI weights per step.
    pub angles: bool,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self { train_eval: true, full_grad: true, layers: true, angles: true }
    }
}
