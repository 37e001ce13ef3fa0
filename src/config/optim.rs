//! The `[optim]` section: the update rule, where the SI group lives (full space, sphere,
//! rotational), and the schedule.

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// Where the SI group lives during training.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum OptimMode {
    /// The optimizer with weight decay in the full parameter space (P1).
    Full,
    /// The optimizer's step, then projection back onto the sphere of the initial SI norm, at a
    /// fixed ELR (P2, P3).
    Sphere,
    /// Every SI weight vector (output unit) turns by a fixed angle per step along the
    /// optimizer's update, its norm held (the rotational wrappers of Kosson et al. 2024).
    Rotational,
}

/// The update rule (`optim.name`), each with PyTorch's semantics.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum OptimName {
    /// `torch.optim.SGD`: momentum, dampening 0, optional Nesterov; L2 weight decay.
    Sgd,
    /// `torch.optim.Adam`: L2 weight decay added to the gradient.
    Adam,
    /// `torch.optim.AdamW`: decoupled weight decay.
    Adamw,
    /// Lion (Chen et al. 2023): sign of an interpolated momentum; decoupled weight decay.
    Lion,
}

/// Learning-rate (or ELR) schedule over the run.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    /// The base value throughout.
    Constant,
    /// Cosine decay from the base value to 0 over all steps of the run.
    Cosine,
    /// Multiply by `optim.gamma` at each epoch in `optim.milestones`.
    Step,
}

/// Which spheres sphere mode projects onto (`optim.sphere`).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Sphere {
    /// All SI groups jointly on one sphere (as in the papers).
    Global,
    /// Each SI group on the sphere of its own initial norm.
    PerGroup,
    /// Each output unit of each SI tensor on its own sphere.
    PerFilter,
}

super::serde_named!(OptimMode, OptimName, Schedule, Sphere);

/// A number or `"auto"` (a default that depends on other keys).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Auto {
    /// The default that depends on other keys.
    Auto,
    /// A given number.
    Value(f64),
}

impl Auto {
    /// The value, or `default` when `auto`.
    pub fn or(self, default: f64) -> f64 {
        match self {
            Auto::Auto => default,
            Auto::Value(v) => v,
        }
    }
}

impl Serialize for Auto {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Auto::Auto => s.serialize_str("auto"),
            Auto::Value(v) => s.serialize_f64(*v),
        }
    }
}

impl<'de> Deserialize<'de> for Auto {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Auto, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            F(f64),
            I(i64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::F(v) => Ok(Auto::Value(v)),
            Raw::I(v) => Ok(Auto::Value(v as f64)),
            Raw::S(s) if s == "auto" => Ok(Auto::Auto),
            Raw::S(s) => Err(serde::de::Error::custom(format!("expected a number or \"auto\", got \"{s}\""))),
        }
    }
}

impl JsonSchema for Auto {
    fn schema_name() -> Cow<'static, str> {
        "Auto".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "anyOf": [{ "type": "number" }, { "const": "auto" }] })
    }
}

/// The `[optim]` section.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OptimConfig {
    /// The update rule, with `torch.optim`'s semantics: `sgd`, `adam`, `adamw`, `lion`.
    pub name: OptimName,
    /// `full`: the optimizer with weight decay in the full space (P1); `sphere`: fixed ELR on the
    /// sphere (P2, P3); `rotational`: every SI output unit turns by a fixed angle per step.
    pub mode: OptimMode,
    /// Learning rate (full mode; in sphere and rotational mode, for trained non-SI parameters
    /// and inside the default `optim.angle`).
    pub lr: f64,
    /// Weight decay: L2 for sgd and adam, decoupled `w <- (1 - lr * wd) * w` for adamw and lion
    /// (same scope as `lr`).
    pub wd: f64,
    /// Weight decay of the trained tensors outside the SI groups (biases, affine parameters,
    /// classifier, ViT embeddings; `auto`: `wd`).
    pub wd_non_si: Auto,
    /// SGD momentum (dampening 0, PyTorch semantics; the others have `beta1`).
    pub momentum: f64,
    /// SGD: Nesterov momentum (needs `momentum > 0`).
    pub nesterov: bool,
    /// Adam, AdamW, Lion: beta1 (`auto`: 0.9).
    pub beta1: Auto,
    /// Adam, AdamW: beta2 (`auto`: 0.999); Lion: its beta2 (`auto`: 0.99).
    pub beta2: Auto,
    /// Adam, AdamW: epsilon added to the root of the second moment.
    pub eps: f64,
    /// Linear warmup before the schedule: over this many epochs (or `warmup_steps` steps), the
    /// factor grows as (step + 1) / warmup steps.
    pub warmup_epochs: usize,
    /// Linear warmup over this many steps (set this or `warmup_epochs`, not both); a `cosine`
    /// schedule then runs over the remaining steps.
    pub warmup_steps: usize,
    /// Rotational mode: the angle (radians) each SI weight vector turns per step (`auto`: the
    /// predicted equilibrium angle eta_r of the optimizer at `lr`, `wd`).
    pub angle: Auto,
    /// Sphere mode: the effective learning rate of the SI group.
    pub elr: f64,
    /// `constant`, `cosine` (to 0 over the run) or `step`; multiplies `lr`, `elr` and the lr
    /// inside the default angle.
    pub schedule: Schedule,
    /// Epochs at which a `step` schedule multiplies by `gamma`.
    pub milestones: Vec<usize>,
    /// The factor of a `step` schedule.
    pub gamma: f64,
    /// Sphere mode: the radius each SI weight is held at: `global` (all SI groups on one sphere
    /// of radius rho0, as in the papers), `per_group` (each SI group on its own sphere, stepping
    /// with `ELR * r_G^2`), `per_filter` (each output unit of each SI tensor; ConvNet or MLP with
    /// batch, instance or weight norm, SI or si-affine).
    pub sphere: Sphere,
    /// Deprecated spelling of `sphere = "per_filter"` (configs of silab 0.1).
    pub per_filter: bool,
}

impl OptimConfig {
    /// The sphere kind, with the deprecated `per_filter = true` read as `per_filter`.
    pub fn sphere(&self) -> Sphere {
        if self.per_filter { Sphere::PerFilter } else { self.sphere }
    }
    /// beta1 and beta2 with the optimizer's defaults for `auto`.
    pub fn betas(&self) -> (f64, f64) {
        let b2 = if self.name == OptimName::Lion { 0.99 } else { 0.999 };
        (self.beta1.or(0.9), self.beta2.or(b2))
    }
    /// The weight decay of non-SI trained tensors.
    pub fn wd_non_si(&self) -> f64 {
        self.wd_non_si.or(self.wd)
    }
}

impl Default for OptimConfig {
    fn default() -> Self {
        Self {
            name: OptimName::Sgd,
            mode: OptimMode::Sphere,
            lr: 0.01,
            wd: 0.0,
            wd_non_si: Auto::Auto,
            momentum: 0.0,
            nesterov: false,
            beta1: Auto::Auto,
            beta2: Auto::Auto,
            eps: 1e-8,
            warmup_epochs: 0,
            warmup_steps: 0,
            angle: Auto::Auto,
            elr: 1e-3,
            schedule: Schedule::Constant,
            milestones: vec![],
            gamma: 0.1,
            sphere: Sphere::Global,
            per_filter: false,
        }
    }
}
