//! The run configuration: plain serde structs, parsed and validated in one place.
//!
//! A config is built from a TOML file or a named preset, then `--set key.path=value` overrides are
//! applied to the TOML tree *before* it is deserialized, so every error (unknown key, wrong type,
//! value out of range) names the dotted key and what is allowed.
//!
//! One file per section's types (`data`, `model`, `optim`, `train`, `metrics`, `sharpness`),
//! then `presets` (the named presets), `load` (`--set`, the key check, deserializing),
//! `validate` (every value constraint, each error under its own key), `hash` (the config hash
//! that names run directories) and `reference` (every key with its type, default and meaning,
//! read from the types' doc comments).

mod data;
mod hash;
mod load;
mod metrics;
mod model;
mod names;
mod optim;
mod presets;
mod reference;
mod sharpness;
mod train;
mod validate;

pub use data::{DataConfig, DataName, SplitName};
pub use hash::LATER_KEYS;
pub use load::{all_keys, apply_set, merge};
pub use metrics::MetricsConfig;
pub use model::{Arch, ModelConfig, NormName, Pool, SiGroupDecl, Variant};
pub(crate) use names::serde_named;
pub use names::{NotAUnitVariant, serde_name};
pub use optim::{Auto, OptimConfig, OptimMode, OptimName, Schedule, Sphere};
pub use presets::{Preset, preset, presets};
pub use reference::{KeyDoc, reference, reference_markdown};
pub use sharpness::{CurvatureBn, GroupSpec, Probe, SharpnessConfig};
pub use train::{DeviceName, StopWhen, TrainConfig};
pub use validate::{MAX_MLP_WIDTH, MAX_SYNTHETIC, MAX_THREADS, MAX_WIDTH};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Errors of the configuration layer. Each message names the offending key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A config file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    /// A config text is not TOML.
    #[error("{origin}: invalid TOML: {message}")]
    Toml { origin: String, message: String },
    /// A key holds a value of the wrong type or spelling.
    #[error("{origin}: key `{key}`: {message}")]
    Key { origin: String, key: String, message: String },
    /// A key that no section has.
    #[error("{origin}: unknown key `{key}`; allowed here: {allowed}")]
    UnknownKey { origin: String, key: String, allowed: String },
    /// A `--set` argument without `=`.
    #[error("--set expects KEY=VALUE, got `{0}`")]
    SetSyntax(String),
    /// A value out of range, or in conflict with another key: `key` is the one to change.
    #[error("invalid value for `{key}`: {message}")]
    Invalid { key: String, message: String },
    /// A preset name that does not exist.
    #[error("unknown preset `{name}`; available: {available}")]
    UnknownPreset { name: String, available: String },
}

impl ConfigError {
    /// The dotted key the error is about, if it is about one.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Key { key, .. } | ConfigError::UnknownKey { key, .. } | ConfigError::Invalid { key, .. } => {
                Some(key)
            }
            _ => None,
        }
    }
}

/// Loss function.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Loss {
    /// Cross-entropy on the logits.
    Ce,
    /// Mean squared error `||f(x) - onehot(y)||^2 / C` (P3), averaged over the batch.
    Mse,
}

serde_named!(Loss);

/// The seed in TOML, whose integers are i64: a seed above `i64::MAX` (any u64 is valid) is
/// written as a string of digits, and read from an integer or such a string (`--set
/// seed=18446744073709551615` reaches the config as a string, since TOML cannot hold it).
mod seed_serde {
    use serde::{Deserializer, Serializer, de};

    pub fn serialize<S: Serializer>(seed: &u64, s: S) -> Result<S::Ok, S::Error> {
        match i64::try_from(*seed) {
            Ok(i) => s.serialize_i64(i),
            Err(_) => s.serialize_str(&seed.to_string()),
        }
    }

    struct Seed;

    impl de::Visitor<'_> for Seed {
        type Value = u64;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            write!(f, "an integer from 0 to {}", u64::MAX)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
            u64::try_from(v)
                .map_err(|_| E::custom(format!("{v} is negative: a seed is an integer from 0 to {}", u64::MAX)))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
            Ok(v)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
            let digits = !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit());
            v.parse::<u64>()
                .ok()
                .filter(|_| digits)
                .ok_or_else(|| E::custom(format!("`{v}` is not a seed: an integer from 0 to {}", u64::MAX)))
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        d.deserialize_any(Seed)
    }
}

/// A complete, resolved run configuration. Written to `config.toml` in the run directory.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RunConfig {
    /// Seed of the initialisation and of the per-epoch shuffling and augmentation.
    #[serde(with = "seed_serde")]
    #[schemars(with = "u64")]
    pub seed: u64,
    /// `ce` (cross-entropy) or `mse` (`||f(x) - onehot(y)||^2 / C`, averaged over the batch; P3).
    pub loss: Loss,
    /// The data set.
    pub data: DataConfig,
    /// The network.
    pub model: ModelConfig,
    /// The optimizer.
    pub optim: OptimConfig,
    /// The training loop.
    pub train: TrainConfig,
    /// The per-epoch measurements.
    pub metrics: MetricsConfig,
    /// The curvature measurements.
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

impl RunConfig {
    /// Canonical TOML text of the resolved config.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("config serializes")
    }

    /// Number of classes of the configured data set. Your own data (`tensors`, `folder`,
    /// `parquet`) has as many as its labels say, known once it is loaded: here `data.classes`
    /// stands in (the analysis's chance level, `silab check-si`).
    pub fn classes(&self) -> usize {
        match self.data.name {
            DataName::Synthetic | DataName::Tensors | DataName::Folder | DataName::Parquet => self.data.classes,
            DataName::Mnist | DataName::FashionMnist | DataName::Cifar10 => 10,
            DataName::Cifar100 => 100,
        }
    }
}
