//! The run configuration: plain serde structs, parsed and validated in one place.
//!
//! A config is built from a TOML file or a named preset, then `--set key.path=value` overrides are
//! applied to the TOML tree *before* it is deserialized, so every error (unknown key, wrong type,
//! value out of range) names the dotted key and what is allowed.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Errors of the configuration layer. Each message names the offending key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{origin}: invalid TOML: {message}")]
    Toml { origin: String, message: String },
    #[error("{origin}: key `{key}`: {message}")]
    Key { origin: String, key: String, message: String },
    #[error("{origin}: unknown key `{key}`; allowed here: {allowed}")]
    UnknownKey { origin: String, key: String, allowed: String },
    #[error("--set expects KEY=VALUE, got `{0}`")]
    SetSyntax(String),
    #[error("invalid value for `{key}`: {message}")]
    Invalid { key: String, message: String },
    #[error("unknown preset `{name}`; available: {available}")]
    UnknownPreset { name: String, available: String },
}

/// Loss function.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Loss {
    /// Cross-entropy on the logits.
    Ce,
    /// Mean squared error `||f(x) - onehot(y)||^2 / C` (P3), averaged over the batch.
    Mse,
}

/// Which data set.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DataName {
    /// Built-in, generated in memory from the seed.
    Synthetic,
    /// Official idx files (optionally gzipped) in `data.dir`.
    Mnist,
    /// Official CIFAR-10 binary batches in `data.dir`.
    Cifar10,
    /// Official CIFAR-100 binary files in `data.dir` (fine labels).
    Cifar100,
}

/// Which official split serves as the pool the training set is drawn from.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SplitName {
    Train,
    Test,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    pub name: DataName,
    /// Folder with the data files (mnist, cifar10, cifar100). Ignored for synthetic.
    pub dir: PathBuf,
    /// Number of training images (0 = the whole pool).
    pub train_size: usize,
    /// Number of test images (0 = all of them).
    pub test_size: usize,
    /// Official split used as the training pool (`test` for the MNIST test file shipped here).
    pub train_split: SplitName,
    /// If > 0: hold out this many images of the training pool as the test set, instead of the
    /// official test split.
    pub holdout: usize,
    /// Random crop (padding 4) + horizontal flip on training batches.
    pub augment: bool,
    /// Fraction of training labels replaced by a uniformly drawn wrong class (fixed per run).
    pub label_noise: f64,
    /// Seed of everything about the data itself (synthetic images, held-out split, label noise),
    /// separate from the run's `seed` so that a sweep over seeds trains on the same data.
    pub seed: u64,
    /// Synthetic data: number of classes.
    pub classes: usize,
    /// Synthetic data: per-pixel noise level relative to the class signal (harder when larger).
    pub noise: f64,
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            name: DataName::Synthetic,
            dir: PathBuf::new(),
            train_size: 5000,
            test_size: 2000,
            train_split: SplitName::Train,
            holdout: 0,
            augment: false,
            label_noise: 0.0,
            seed: 0,
            classes: 10,
            noise: 1.0,
        }
    }
}

/// Network architecture.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    /// ConvNet-k of depth 3 (spec §2).
    Convnet,
    /// Pre-activation ResNet-18-k.
    Resnet18,
    /// flatten -> [Linear -> norm -> ReLU] x `depth` -> Linear, `width` units per hidden layer.
    Mlp,
    /// Vision Transformer: patch embedding, pre-norm blocks of attention and MLP, `depth`
    /// blocks of `dim` features and `heads` heads.
    Vit,
}

impl Arch {
    pub fn name(self) -> &'static str {
        match self {
            Arch::Convnet => "convnet",
            Arch::Resnet18 => "resnet18",
            Arch::Mlp => "mlp",
            Arch::Vit => "vit",
        }
    }
}

/// The normalization of the network (`model.norm`), with PyTorch's semantics.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum NormName {
    /// `batch` for ConvNet and ResNet, `layer` for MLP and ViT.
    Auto,
    /// BatchNorm (running statistics; batch statistics in training).
    Batch,
    /// LayerNorm: over the features of a sample (`GroupNorm(1, C)` for feature maps).
    Layer,
    /// GroupNorm with `model.groups` groups.
    Group,
    /// RMSNorm: divide by the root mean square over the features, scale only.
    Rms,
    /// InstanceNorm (per sample and channel; feature maps only).
    Instance,
    /// Weight normalization: each layer's weight is `g * v / ||v||` per output unit; `v` is SI.
    Weight,
    /// No normalization (nothing is scale-invariant).
    None,
}

impl NormName {
    pub fn name(self) -> &'static str {
        match self {
            NormName::Auto => "auto",
            NormName::Batch => "batch",
            NormName::Layer => "layer",
            NormName::Group => "group",
            NormName::Rms => "rms",
            NormName::Instance => "instance",
            NormName::Weight => "weight",
            NormName::None => "none",
        }
    }
    pub const ALL: [NormName; 7] = [
        NormName::Batch,
        NormName::Layer,
        NormName::Group,
        NormName::Rms,
        NormName::Instance,
        NormName::Weight,
        NormName::None,
    ];
}

/// How a ViT pools its tokens for the classifier.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Pool {
    /// A learned class token, prepended to the patches.
    Cls,
    /// The mean over the patch tokens.
    Mean,
}

impl Variant {
    pub fn name(self) -> &'static str {
        match self {
            Variant::Standard => "standard",
            Variant::ScaleInvariant => "scale-invariant",
            Variant::SiAffine => "si-affine",
        }
    }
}

/// Which parameters are normalized / trained (spec §2).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// Conv bias on, BN affine on, every parameter trained.
    #[serde(rename = "standard")]
    Standard,
    /// Fully scale-invariant: no conv bias, BN without affine, last layer fixed at norm 10.
    #[serde(rename = "scale-invariant")]
    ScaleInvariant,
    /// As scale-invariant but BN affine on and every parameter trained.
    #[serde(rename = "si-affine")]
    SiAffine,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    pub arch: Arch,
    /// Width factor k (ConvNet, ResNet); units per hidden layer (MLP); unused by ViT (`dim`).
    pub width: i64,
    pub variant: Variant,
    /// The normalization: `auto` (batch for ConvNet/ResNet, layer for MLP/ViT), `batch`,
    /// `layer`, `group`, `rms`, `instance`, `weight`, `none`.
    pub norm: NormName,
    /// GroupNorm: number of groups (must divide every normalized width).
    pub groups: i64,
    /// MLP: hidden layers; ViT: transformer blocks.
    pub depth: i64,
    /// ViT: embedding dimension.
    pub dim: i64,
    /// ViT: attention heads (must divide `dim`).
    pub heads: i64,
    /// ViT: hidden units of each block's MLP, as a multiple of `dim`.
    pub mlp_ratio: f64,
    /// ViT: patch size (must divide 32).
    pub patch: i64,
    /// ViT: `cls` token or `mean` pooling.
    pub pool: Pool,
    /// Frobenius norm the last linear layer's weight is rescaled to at init (<= 0: not rescaled).
    pub last_layer_norm: f64,
    /// Epsilon of the normalization (every kind but weight; PyTorch's default 1e-5). Scale
    /// invariance is exact only for eps = 0: with eps > 0, BN(c*x) differs from BN(x) when
    /// c^2 * var(x) is comparable to eps.
    pub bn_eps: f64,
    /// Seed of the last layer's initialisation, separate from `seed` so that every run of a
    /// sweep shares the same last layer (as P2 does).
    pub last_layer_seed: u64,
    /// Every SI weight is multiplied by this after initialisation: the function is unchanged
    /// (scale invariance), the norm and so the effective step start elsewhere (a net far from
    /// its rotational equilibrium).
    pub init_scale: f64,
}

impl ModelConfig {
    /// The normalization actually used (`auto` resolved by architecture).
    pub fn norm(&self) -> NormName {
        match (self.norm, self.arch) {
            (NormName::Auto, Arch::Convnet | Arch::Resnet18) => NormName::Batch,
            (NormName::Auto, Arch::Mlp | Arch::Vit) => NormName::Layer,
            (n, _) => n,
        }
    }

    /// Whether the architecture takes this normalization, and if not why.
    pub fn check(&self) -> Result<(), String> {
        let norm = self.norm();
        match self.arch {
            Arch::Mlp if norm == NormName::Instance => {
                return Err("instance normalization needs feature maps; the MLP has vectors".into());
            }
            Arch::Vit if !matches!(norm, NormName::Layer | NormName::Rms) => {
                return Err(format!("a ViT takes model.norm = \"layer\" or \"rms\", not \"{}\"", norm.name()));
            }
            Arch::Vit if self.variant == Variant::SiAffine => {
                return Err(
                    "a ViT is `standard` or `scale-invariant` (its feed-forward linears followed by LayerNorm)".into(),
                );
            }
            _ => {}
        }
        if norm == NormName::Group {
            let widths: Vec<i64> = match self.arch {
                Arch::Convnet | Arch::Resnet18 => vec![self.width],
                Arch::Mlp => vec![self.width],
                Arch::Vit => vec![self.dim],
            };
            if self.groups < 1 || widths.iter().any(|w| w % self.groups != 0) {
                return Err(format!("model.groups = {} must divide the normalized width {widths:?}", self.groups));
            }
        }
        if self.arch == Arch::Vit {
            if self.dim < 1 || self.heads < 1 || self.dim % self.heads != 0 {
                return Err(format!("model.heads = {} must divide model.dim = {}", self.heads, self.dim));
            }
            if !(1..=32).contains(&self.patch) || 32 % self.patch != 0 {
                return Err(format!("model.patch = {} must divide the image size 32", self.patch));
            }
            if self.mlp_ratio.is_nan() || self.dim as f64 * self.mlp_ratio < 1.0 {
                return Err(format!("model.mlp_ratio = {} must give at least one hidden unit", self.mlp_ratio));
            }
        }
        if matches!(self.arch, Arch::Mlp | Arch::Vit) && !(1..=64).contains(&self.depth) {
            return Err(format!("model.depth = {} must be in 1..=64", self.depth));
        }
        Ok(())
    }
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            arch: Arch::Convnet,
            width: 8,
            variant: Variant::ScaleInvariant,
            norm: NormName::Auto,
            groups: 2,
            depth: 3,
            dim: 64,
            heads: 4,
            mlp_ratio: 2.0,
            patch: 4,
            pool: Pool::Cls,
            last_layer_norm: 10.0,
            bn_eps: 1e-5,
            last_layer_seed: 0,
            init_scale: 1.0,
        }
    }
}

/// Where the SI group lives during training.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
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
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
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

impl OptimName {
    pub fn name(self) -> &'static str {
        match self {
            OptimName::Sgd => "sgd",
            OptimName::Adam => "adam",
            OptimName::Adamw => "adamw",
            OptimName::Lion => "lion",
        }
    }
}

/// A number or `"auto"` (a default that depends on other keys).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Auto {
    Auto,
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

/// Learning-rate (or ELR) schedule over the run.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    Constant,
    /// Cosine decay from the base value to 0 over all steps of the run.
    Cosine,
    /// Multiply by `optim.gamma` at each epoch in `optim.milestones`.
    Step,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OptimConfig {
    /// The update rule: `sgd`, `adam`, `adamw`, `lion`.
    pub name: OptimName,
    pub mode: OptimMode,
    /// Learning rate (full mode; in sphere and rotational mode, for trained non-SI parameters only).
    pub lr: f64,
    /// Weight decay (L2 for sgd and adam, decoupled for adamw and lion).
    pub wd: f64,
    /// Weight decay of the trained tensors outside the SI groups (`auto`: `wd`).
    pub wd_non_si: Auto,
    /// SGD momentum (dampening 0, PyTorch semantics).
    pub momentum: f64,
    /// SGD: Nesterov momentum.
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
    pub warmup_steps: usize,
    /// Rotational mode: the angle (radians) each SI weight vector turns per step (`auto`: the
    /// predicted equilibrium angle eta_r of the optimizer at `lr`, `wd`).
    pub angle: Auto,
    /// Effective learning rate of the SI group in sphere mode.
    pub elr: f64,
    pub schedule: Schedule,
    /// Epochs at which a `step` schedule multiplies by `gamma`.
    pub milestones: Vec<usize>,
    pub gamma: f64,
    /// Sphere mode: the radius each SI weight is held at: `global` (all SI groups jointly, as in
    /// the papers), `per_group` (each SI group at its own initial norm), `per_filter` (each
    /// output unit of each SI tensor at its own; needs per-channel normalization).
    pub sphere: Sphere,
    /// Deprecated spelling of `sphere = "per_filter"` (configs of silab 0.1).
    pub per_filter: bool,
}

/// Which spheres sphere mode projects onto (`optim.sphere`).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Sphere {
    Global,
    PerGroup,
    PerFilter,
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

/// Compute device.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum DeviceName {
    Cpu,
    Cuda,
}

impl DeviceName {
    /// The config's spelling: `cpu`, `cuda`.
    pub fn name(self) -> &'static str {
        match self {
            DeviceName::Cpu => "cpu",
            DeviceName::Cuda => "cuda",
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    pub epochs: usize,
    /// Minibatch size (0 = full-batch gradient descent).
    pub batch_size: usize,
    /// Intra-op threads of libtorch. Results are deterministic for a fixed seed and thread count.
    pub threads: usize,
    pub device: DeviceName,
    /// Also log every N iterations (0 = once per epoch only). Step rows hold the cheap metrics.
    pub log_every: usize,
    /// Write a checkpoint every N epochs (0 = only at the end). The latest is always kept for resume.
    pub checkpoint_every: usize,
    /// Keep every scheduled checkpoint (`true`) or only the latest (`false`).
    pub keep_checkpoints: bool,
    /// Fine-tuning: start from these weights (model tensors and BN statistics) instead of a fresh
    /// init: a checkpoint file (`.../epoch_00100.safetensors`) or a run directory (its latest
    /// checkpoint). Empty: fresh init. Optimizer state starts fresh; in sphere mode the radius is
    /// the norm of the loaded SI weights.
    pub init_from: PathBuf,
    /// Stop the run as `diverged` (summary.json, attempt.json) when the minibatch loss or rho
    /// becomes NaN or infinite, instead of training on with non-finite weights.
    pub stop_on_nonfinite: bool,
    /// Also write every metrics row to a TensorBoard event file in the run directory.
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

/// Which of the costlier per-epoch measurements to make.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Loss/accuracy over the full training set (BN in train mode) each epoch.
    pub train_eval: bool,
    /// Norm of the full-batch (mean) gradient of the SI group; costs one backward pass over the
    /// training set, shared with `train_eval`'s forward pass.
    pub full_grad: bool,
    /// Per-layer norms and ELRs as extra columns.
    pub layers: bool,
    /// The angular update of every step (per SI tensor and group with `layers`), averaged
    /// between rows (`angle_mean*` columns): costs a copy of the SI weights per step.
    pub angles: bool,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self { train_eval: true, full_grad: true, layers: true, angles: true }
    }
}

/// BatchNorm while curvature (or a landscape scan) is measured.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum CurvatureBn {
    /// Batch statistics of each ghost batch of `sharpness.ghost_batch` images (as in training),
    /// running statistics untouched.
    Train,
    /// Running statistics (as at test time).
    Eval,
}

/// Probe distribution of Hutchinson's trace estimator.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Probe {
    Rademacher,
    Gaussian,
}

/// A parameter group by name, as configured (`sharpness.groups`) or given on the command line:
/// `all`, `si`, `non_si`, `layers` (one group per module with trained tensors), `layer:MODULE`
/// (the trained tensors of one module, by its PyTorch name), `si_groups` (one group per SI group
/// of the model) or `group:NAME` (one SI group). The one grammar of group names;
/// `landscape::Group` is what a name selects in a network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum GroupSpec {
    All,
    Si,
    NonSi,
    Layers,
    Layer(String),
    SiGroups,
    SiGroup(String),
}

impl GroupSpec {
    /// The names a user can write (for error messages).
    pub const ALLOWED: &'static str = "all, si, non_si, layers, layer:MODULE, si_groups, group:NAME";
}

impl std::str::FromStr for GroupSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<GroupSpec, String> {
        match s {
            "all" => Ok(GroupSpec::All),
            "si" => Ok(GroupSpec::Si),
            "non_si" => Ok(GroupSpec::NonSi),
            "layers" => Ok(GroupSpec::Layers),
            "si_groups" => Ok(GroupSpec::SiGroups),
            _ => match (s.strip_prefix("layer:"), s.strip_prefix("group:")) {
                (Some(m), _) if !m.is_empty() => Ok(GroupSpec::Layer(m.to_string())),
                (_, Some(g)) if !g.is_empty() => Ok(GroupSpec::SiGroup(g.to_string())),
                _ => Err(format!("unknown group `{s}`; allowed: {}", GroupSpec::ALLOWED)),
            },
        }
    }
}

impl TryFrom<String> for GroupSpec {
    type Error = String;
    fn try_from(s: String) -> Result<GroupSpec, String> {
        s.parse()
    }
}

impl std::fmt::Display for GroupSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GroupSpec::All => write!(f, "all"),
            GroupSpec::Si => write!(f, "si"),
            GroupSpec::NonSi => write!(f, "non_si"),
            GroupSpec::Layers => write!(f, "layers"),
            GroupSpec::Layer(m) => write!(f, "layer:{m}"),
            GroupSpec::SiGroups => write!(f, "si_groups"),
            GroupSpec::SiGroup(g) => write!(f, "group:{g}"),
        }
    }
}

impl From<GroupSpec> for String {
    fn from(g: GroupSpec) -> String {
        g.to_string()
    }
}

/// Curvature measurements (Hessian, Gauss–Newton, Riemannian Hessian on the sphere), during
/// training every `every_epochs` epochs (rows in `sharpness.csv`) or post hoc with
/// `silab sharpness RUN_DIR`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SharpnessConfig {
    /// During training: measure at initialisation and every N epochs (0 = never).
    pub every_epochs: usize,
    /// During training: measure at initialisation and every N optimizer steps (0 = never); a
    /// step that is also a scheduled epoch end is measured once.
    pub every_steps: usize,
    /// Parameter groups: `all`, `si`, `non_si`, `layers` (each module) or `layer:MODULE`.
    pub groups: Vec<GroupSpec>,
    /// Measure on the first N images of the training set, a fixed subset (0 = all of them).
    pub images: usize,
    /// BatchNorm mode: `train` (ghost batches, batch statistics) or `eval` (running statistics).
    pub bn_mode: CurvatureBn,
    /// Ghost-batch size in `train` mode, and the accumulation batch in `eval` mode
    /// (0 = `train.batch_size`).
    pub ghost_batch: usize,
    /// Hutchinson probes per trace (the papers use 5).
    pub probes: usize,
    pub probe: Probe,
    /// Lanczos steps per top-eigenvalue estimate.
    pub lanczos_iters: usize,
    /// Number of top eigenvalues (beyond the first: columns `eig_2` ... `eig_K`).
    pub top_k: usize,
    /// Also the Gauss–Newton / Fisher matrix (`gn_*` columns).
    pub gauss_newton: bool,
    /// Also the Riemannian Hessian on the sphere of the SI group (`riemannian_*`, group `si`).
    pub riemannian: bool,
    /// Post hoc only: the Hessian's spectral density by stochastic Lanczos quadrature with this
    /// many random probes of `lanczos_iters` steps each (0 = off), into `spectrum_posthoc.csv`.
    pub density_probes: usize,
}

impl Default for SharpnessConfig {
    fn default() -> Self {
        Self {
            every_epochs: 0,
            every_steps: 0,
            groups: vec![GroupSpec::Si],
            images: 1000,
            bn_mode: CurvatureBn::Train,
            ghost_batch: 0,
            probes: 5,
            probe: Probe::Rademacher,
            lanczos_iters: 20,
            density_probes: 0,
            top_k: 1,
            gauss_newton: true,
            riemannian: true,
        }
    }
}

/// A complete, resolved run configuration. Written to `config.toml` in the run directory.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RunConfig {
    pub seed: u64,
    pub loss: Loss,
    pub data: DataConfig,
    pub model: ModelConfig,
    pub optim: OptimConfig,
    pub train: TrainConfig,
    pub metrics: MetricsConfig,
    pub sharpness: SharpnessConfig,
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            loss: Loss::Ce,
            data: DataConfig::default(),
            model: ModelConfig::default(),
            optim: OptimConfig::default(),
            train: TrainConfig::default(),
            metrics: MetricsConfig::default(),
            sharpness: SharpnessConfig::default(),
        }
    }
}

/// A named preset: a line about it and its overrides of the defaults (a TOML tree).
#[derive(Clone, Debug, PartialEq)]
pub struct Preset {
    pub name: String,
    pub about: String,
    pub table: toml::Table,
}

/// The presets, from `presets.toml` (compiled in), in file order.
pub fn presets() -> Vec<Preset> {
    let all: toml::Table = include_str!("presets.toml").parse().expect("presets.toml parses");
    all.into_iter()
        .map(|(name, v)| {
            let mut table = match v {
                toml::Value::Table(t) => t,
                _ => panic!("presets.toml: `{name}` is not a table"),
            };
            let about = table.remove("about").and_then(|a| a.as_str().map(String::from)).unwrap_or_default();
            Preset { name, about, table }
        })
        .collect()
}

/// The overrides of the preset `name`, or an error listing the presets.
pub fn preset(name: &str) -> Result<Preset, ConfigError> {
    let all = presets();
    let names = all.iter().map(|p| p.name.clone()).collect::<Vec<_>>().join(", ");
    all.into_iter()
        .find(|p| p.name == name)
        .ok_or(ConfigError::UnknownPreset { name: name.to_string(), available: names })
}

fn parse_table(text: &str, origin: &str) -> Result<toml::Table, ConfigError> {
    text.parse::<toml::Table>().map_err(|e| ConfigError::Toml { origin: origin.to_string(), message: e.to_string() })
}

/// Merge `over` into `base` recursively (tables merge, other values replace).
pub fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// The TOML tree of the defaults: the schema against which keys are checked.
fn schema() -> toml::Table {
    toml::Table::try_from(RunConfig::default()).expect("default config serializes")
}

/// Check that every key of `t` exists in `schema` (same nesting), naming the allowed keys if not.
fn check_keys(t: &toml::Table, schema: &toml::Table, prefix: &str, origin: &str) -> Result<(), ConfigError> {
    for (k, v) in t {
        let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        match schema.get(k) {
            None => {
                let allowed: Vec<String> = schema
                    .keys()
                    .map(|s| if prefix.is_empty() { s.clone() } else { format!("{prefix}.{s}") })
                    .collect();
                return Err(ConfigError::UnknownKey { origin: origin.to_string(), key, allowed: allowed.join(", ") });
            }
            Some(toml::Value::Table(s)) => {
                if let toml::Value::Table(sub) = v {
                    check_keys(sub, s, &key, origin)?;
                }
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Parse the value part of `--set key=value`: TOML syntax if it parses, else a bare string.
fn parse_value(raw: &str) -> toml::Value {
    match format!("v = {raw}").parse::<toml::Table>() {
        Ok(mut t) => t.remove("v").unwrap(),
        Err(_) => toml::Value::String(raw.to_string()),
    }
}

/// Apply one `KEY=VALUE` override (dotted key) to a TOML tree.
pub fn apply_set(t: &mut toml::Table, set: &str) -> Result<(), ConfigError> {
    let (key, raw) = set.split_once('=').ok_or_else(|| ConfigError::SetSyntax(set.to_string()))?;
    let key = key.trim();
    let parts: Vec<&str> = key.split('.').collect();
    let mut cur = t;
    for p in &parts[..parts.len() - 1] {
        let entry = cur.entry(p.to_string()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        cur = match entry {
            toml::Value::Table(t) => t,
            _ => {
                return Err(ConfigError::Invalid {
                    key: key.to_string(),
                    message: format!("`{p}` is a value, not a table"),
                });
            }
        };
    }
    cur.insert(parts[parts.len() - 1].to_string(), parse_value(raw.trim()));
    Ok(())
}

impl RunConfig {
    /// Build a config from an optional TOML text (file contents or preset) plus `--set` overrides,
    /// then validate it. `origin` names the source in error messages.
    pub fn from_parts(text: Option<(&str, &str)>, sets: &[String]) -> Result<Self, ConfigError> {
        let mut t = toml::Table::new();
        let mut origin = "--set".to_string();
        if let Some((text, o)) = text {
            origin = if sets.is_empty() { o.to_string() } else { format!("{o} with --set") };
            t = parse_table(text, o)?;
        }
        for s in sets {
            apply_set(&mut t, s)?;
        }
        check_keys(&t, &schema(), "", &origin)?;
        let mut full = schema();
        merge(&mut full, t);
        let cfg: RunConfig = serde_path_to_error::deserialize(toml::Value::Table(full)).map_err(|e| {
            // toml appends "in `key`" on a second line; the key is already in our message.
            let message = e.inner().to_string().lines().next().unwrap_or_default().to_string();
            ConfigError::Key { origin: origin.clone(), key: e.path().to_string(), message }
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Load from a TOML file plus overrides.
    pub fn from_file(path: &Path, sets: &[String]) -> Result<Self, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        Self::from_parts(Some((&text, &path.display().to_string())), sets)
    }

    /// Load a named preset plus overrides.
    pub fn from_preset(name: &str, sets: &[String]) -> Result<Self, ConfigError> {
        let p = preset(name)?;
        let text = toml::to_string(&p.table).expect("a preset serializes");
        Self::from_parts(Some((&text, &format!("preset `{name}`"))), sets)
    }

    /// Every value constraint, in one place. (`!(x > 0.0)` rather than `x <= 0.0` so NaN is rejected.)
    #[allow(clippy::neg_cmp_op_on_partial_ord)]
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, message: String| Err(ConfigError::Invalid { key: key.into(), message });
        // no key takes a non-finite number (TOML allows inf and nan)
        if let Some((key, v)) = all_keys_of(&toml::Table::try_from(self).expect("a config serializes"))
            .into_iter()
            .find(|(_, v)| v.as_float().is_some_and(|f| !f.is_finite()))
        {
            return bad(&key, format!("must be a finite number, got {v}"));
        }
        let max_width = if self.model.arch == Arch::Mlp { MAX_MLP_WIDTH } else { MAX_WIDTH };
        if !(1..=max_width).contains(&self.model.width) {
            return bad(
                "model.width",
                format!("must be in 1..={max_width} for {}, got {}", self.model.arch.name(), self.model.width),
            );
        }
        if !(1..=4096).contains(&self.model.dim) {
            return bad("model.dim", format!("must be in 1..=4096, got {}", self.model.dim));
        }
        if !(1..=MAX_THREADS).contains(&self.train.threads) {
            return bad("train.threads", format!("must be in 1..={MAX_THREADS}, got {}", self.train.threads));
        }
        if self.data.name == DataName::Synthetic
            && self.data.train_size.saturating_add(self.data.test_size) > MAX_SYNTHETIC
        {
            return bad(
                "data.train_size",
                format!(
                    "synthetic data holds at most {MAX_SYNTHETIC} images in all (12 KiB each in memory), got {} + {}",
                    self.data.train_size, self.data.test_size
                ),
            );
        }
        if !(self.model.init_scale > 0.0 && self.model.init_scale.is_finite()) {
            return bad("model.init_scale", format!("must be a finite number > 0, got {}", self.model.init_scale));
        }
        if !(self.model.bn_eps >= 0.0) {
            return bad("model.bn_eps", format!("must be >= 0, got {}", self.model.bn_eps));
        }
        if let Err(message) = self.model.check() {
            return bad("model.norm", message);
        }
        if self.optim.per_filter && self.optim.sphere == Sphere::PerGroup {
            return bad("optim.per_filter", "contradicts optim.sphere = \"per_group\"; use optim.sphere alone".into());
        }
        if self.optim.sphere() == Sphere::PerFilter {
            let per_channel = matches!(self.model.norm(), NormName::Batch | NormName::Instance | NormName::Weight);
            if !(matches!(self.model.arch, Arch::Convnet | Arch::Mlp)
                && self.model.variant != Variant::Standard
                && per_channel)
            {
                return bad(
                    "optim.sphere",
                    "per-filter spheres need each filter to be scale-invariant on its own: ConvNet or MLP with batch, instance or weight normalization, in the scale-invariant or si-affine variant".into(),
                );
            }
        }
        if !(0.0..1.0).contains(&self.data.label_noise) {
            return bad("data.label_noise", format!("must be in [0, 1), got {}", self.data.label_noise));
        }
        if self.data.name == DataName::Synthetic {
            if self.data.classes < 2 {
                return bad("data.classes", format!("must be >= 2, got {}", self.data.classes));
            }
            if self.data.train_size == 0 || self.data.test_size == 0 {
                return bad("data.train_size", "synthetic data needs train_size and test_size > 0".into());
            }
            if !(self.data.noise >= 0.0) {
                return bad("data.noise", format!("must be >= 0, got {}", self.data.noise));
            }
        } else if self.data.dir.as_os_str().is_empty() {
            return bad("data.dir", "the folder holding the data files is required for this data set".into());
        }
        if !(self.optim.lr > 0.0) {
            return bad("optim.lr", format!("must be > 0, got {}", self.optim.lr));
        }
        if !(self.optim.wd >= 0.0) {
            return bad("optim.wd", format!("must be >= 0, got {}", self.optim.wd));
        }
        if !(0.0..1.0).contains(&self.optim.momentum) {
            return bad("optim.momentum", format!("must be in [0, 1), got {}", self.optim.momentum));
        }
        if self.optim.nesterov && (self.optim.name != OptimName::Sgd || self.optim.momentum == 0.0) {
            return bad("optim.nesterov", "needs optim.name = \"sgd\" and optim.momentum > 0".into());
        }
        if self.optim.momentum > 0.0 && self.optim.name != OptimName::Sgd {
            return bad("optim.momentum", format!("is SGD's; {} has beta1", self.optim.name.name()));
        }
        let (b1, b2) = self.optim.betas();
        for (key, b) in [("optim.beta1", b1), ("optim.beta2", b2)] {
            if !(0.0..1.0).contains(&b) {
                return bad(key, format!("must be in [0, 1), got {b}"));
            }
        }
        if !(self.optim.eps > 0.0) {
            return bad("optim.eps", format!("must be > 0, got {}", self.optim.eps));
        }
        if !(self.optim.wd_non_si() >= 0.0) {
            return bad("optim.wd_non_si", format!("must be >= 0, got {}", self.optim.wd_non_si()));
        }
        if self.optim.warmup_epochs > 0 && self.optim.warmup_steps > 0 {
            return bad("optim.warmup_steps", "give optim.warmup_epochs or optim.warmup_steps, not both".into());
        }
        if self.optim.mode == OptimMode::Rotational {
            if self.model.norm() == NormName::None {
                return bad(
                    "optim.mode",
                    "rotational mode needs scale-invariant weights; model.norm = \"none\" has none".into(),
                );
            }
            match self.optim.angle {
                Auto::Auto if self.optim.name == OptimName::Adam => {
                    return bad("optim.angle", "Adam has no equilibrium angle to default to: give optim.angle".into());
                }
                Auto::Auto if !(self.optim.wd > 0.0) => {
                    return bad(
                        "optim.angle",
                        "`auto` is the equilibrium angle, which needs optim.wd > 0; or give the angle".into(),
                    );
                }
                Auto::Value(a) if !(a > 0.0 && a < std::f64::consts::FRAC_PI_2) => {
                    return bad("optim.angle", format!("must be in (0, pi/2) radians, got {a}"));
                }
                _ => {}
            }
        }
        if self.optim.mode == OptimMode::Sphere && !(self.optim.elr > 0.0) {
            return bad("optim.elr", format!("must be > 0 in sphere mode, got {}", self.optim.elr));
        }
        if !(self.optim.gamma > 0.0) {
            return bad("optim.gamma", format!("must be > 0, got {}", self.optim.gamma));
        }
        if self.optim.sphere() != Sphere::Global && self.optim.mode != OptimMode::Sphere {
            return bad("optim.sphere", "only applies to optim.mode = \"sphere\"".into());
        }
        if self.optim.mode == OptimMode::Sphere && self.model.norm() == NormName::None {
            return bad(
                "optim.mode",
                "sphere mode needs scale-invariant weights; model.norm = \"none\" has none".into(),
            );
        }
        if self.train.epochs == 0 {
            return bad("train.epochs", "must be >= 1".into());
        }
        let sh = &self.sharpness;
        if sh.groups.is_empty() {
            return bad("sharpness.groups", format!("name at least one group: {}", GroupSpec::ALLOWED));
        }
        if sh.probes < 2 {
            return bad("sharpness.probes", format!("must be >= 2 (for a standard error), got {}", sh.probes));
        }
        if sh.density_probes > 1000 {
            return bad("sharpness.density_probes", format!("must be in 0..=1000, got {}", sh.density_probes));
        }
        if sh.lanczos_iters == 0 {
            return bad("sharpness.lanczos_iters", "must be >= 1".into());
        }
        if sh.top_k == 0 || sh.top_k > sh.lanczos_iters {
            return bad(
                "sharpness.top_k",
                format!("must be in 1..=sharpness.lanczos_iters ({}), got {}", sh.lanczos_iters, sh.top_k),
            );
        }
        Ok(())
    }

    /// Canonical TOML text of the resolved config.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("config serializes")
    }

    /// Short stable hash of the resolved config: the first 16 hex digits of SHA-256 of its TOML,
    /// leaving out the keys added after silab 0.1 ([`LATER_KEYS`]) while they hold their default,
    /// so that a run made before they existed keeps its hash (its checkpoints still resume, its
    /// sweep's manifest still matches).
    pub fn hash(&self) -> String {
        let mut t = toml::Table::try_from(self).expect("a config serializes");
        let defaults = schema();
        for key in LATER_KEYS {
            let (table, name) = key.split_once('.').unwrap_or(("", key));
            let default = defaults.get(table).and_then(|d| d.get(name)).cloned();
            if let Some(toml::Value::Table(sub)) = t.get_mut(table)
                && sub.get(name) == default.as_ref()
            {
                sub.remove(name);
            }
        }
        let digest = Sha256::digest(toml::to_string(&t).expect("a config serializes").as_bytes());
        digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
    }

    /// Number of classes of the configured data set.
    pub fn classes(&self) -> usize {
        match self.data.name {
            DataName::Synthetic => self.data.classes,
            DataName::Mnist | DataName::Cifar10 => 10,
            DataName::Cifar100 => 100,
        }
    }
}

/// Keys added after silab 0.1: left out of [`RunConfig::hash`] while at their default.
pub const LATER_KEYS: &[&str] = &[
    "train.stop_on_nonfinite",
    "train.tensorboard",
    "sharpness.density_probes",
    "optim.name",
    "optim.wd_non_si",
    "optim.nesterov",
    "optim.beta1",
    "optim.beta2",
    "optim.eps",
    "optim.warmup_epochs",
    "optim.warmup_steps",
    "optim.angle",
    "metrics.angles",
    "model.norm",
    "model.groups",
    "model.depth",
    "model.dim",
    "model.heads",
    "model.mlp_ratio",
    "model.patch",
    "model.pool",
    "optim.sphere",
    "model.init_scale",
];

/// The widest network (`model.width`): ConvNet-k has ~378 k^2 parameters, so k = 1024 is ~400 M.
pub const MAX_WIDTH: i64 = 1024;
/// The widest MLP (`model.width` hidden units).
pub const MAX_MLP_WIDTH: i64 = 65536;
/// The most libtorch threads (`train.threads`).
pub const MAX_THREADS: usize = 1024;
/// The most synthetic images (`data.train_size + data.test_size`), ~12 GiB in memory.
pub const MAX_SYNTHETIC: usize = 1_000_000;

/// Every dotted key of a TOML tree with its value.
fn all_keys_of(t: &toml::Table) -> Vec<(String, toml::Value)> {
    fn walk(t: &toml::Table, prefix: &str, out: &mut Vec<(String, toml::Value)>) {
        for (k, v) in t {
            let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
            match v {
                toml::Value::Table(s) => walk(s, &key, out),
                v => out.push((key, v.clone())),
            }
        }
    }
    let mut out = vec![];
    walk(t, "", &mut out);
    out
}

/// All dotted keys of the schema with their default values, for `silab presets --keys` and docs.
pub fn all_keys() -> Vec<(String, String)> {
    all_keys_of(&schema()).into_iter().map(|(k, v)| (k, v.to_string())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_parse_and_validate() {
        let all = presets();
        assert!(all.len() >= 5);
        for p in all {
            assert!(!p.about.is_empty(), "{}", p.name);
            RunConfig::from_preset(&p.name, &[]).unwrap();
        }
        let e = RunConfig::from_preset("quik", &[]).unwrap_err().to_string();
        assert!(e.contains("quik") && e.contains("full-quick"), "{e}");
    }

    #[test]
    fn set_overrides_and_roundtrip() {
        let c = RunConfig::from_preset("quick", &["optim.elr=0.5".into(), "loss=mse".into()]).unwrap();
        assert_eq!(c.optim.elr, 0.5);
        assert_eq!(c.loss, Loss::Mse);
        let back = RunConfig::from_parts(Some((&c.to_toml(), "x")), &[]).unwrap();
        assert_eq!(back, c);
        assert_eq!(back.hash(), c.hash());
    }

    #[test]
    fn unknown_key_names_key_and_allowed() {
        let e = RunConfig::from_parts(None, &["optim.lrr=0.1".into()]).unwrap_err().to_string();
        assert!(e.contains("optim.lrr") && e.contains("optim.lr") && e.contains("optim.elr"), "{e}");
        let e = RunConfig::from_parts(Some(("[modle]\nwidth=3", "f.toml")), &[]).unwrap_err().to_string();
        assert!(e.contains("modle") && e.contains("model"), "{e}");
    }

    #[test]
    fn bad_values_name_key() {
        let e = RunConfig::from_parts(None, &["loss=hinge".into()]).unwrap_err().to_string();
        assert!(e.contains("loss") && e.contains("ce") && e.contains("mse"), "{e}");
        let e = RunConfig::from_parts(None, &["optim.lr=abc".into()]).unwrap_err().to_string();
        assert!(e.contains("optim.lr"), "{e}");
        let e = RunConfig::from_parts(None, &["optim.momentum=1.5".into()]).unwrap_err().to_string();
        assert!(e.contains("optim.momentum"), "{e}");
        let e = RunConfig::from_parts(None, &["model.variant=si".into()]).unwrap_err().to_string();
        assert!(e.contains("model.variant") && e.contains("scale-invariant"), "{e}");
    }

    #[test]
    fn keys_added_later_leave_the_hash_of_older_configs_alone() {
        // the hash silab 0.1 (before train.stop_on_nonfinite existed) gave this config
        let sets = ["train.epochs=1".to_string(), "data.train_size=64".into(), "data.test_size=16".into()];
        assert_eq!(RunConfig::from_parts(None, &sets).unwrap().hash(), "ef446e454de08a0a");
        let mut c = RunConfig::default();
        c.train.stop_on_nonfinite = false;
        assert_ne!(c.hash(), RunConfig::default().hash());
    }

    #[test]
    fn non_finite_numbers_and_sizes_beyond_bounds_are_refused() {
        for (set, key) in [
            ("optim.lr=inf", "optim.lr"),
            ("optim.elr=inf", "optim.elr"),
            ("optim.wd=nan", "optim.wd"),
            ("data.noise=inf", "data.noise"),
            ("sharpness.probes=2", ""),
            ("data.train_size=100000000000", "data.train_size"),
            ("model.width=1000000", "model.width"),
            ("train.threads=100000", "train.threads"),
            ("train.threads=0", "train.threads"),
        ] {
            let r = RunConfig::from_parts(None, &[set.into()]);
            if key.is_empty() {
                assert!(r.is_ok(), "{set}");
            } else {
                let e = r.unwrap_err().to_string();
                assert!(e.contains(key), "{set}: {e}");
            }
        }
        assert!(RunConfig::from_parts(None, &["optim.lr=1e30".into()]).is_ok(), "large but finite is allowed");
    }
}
