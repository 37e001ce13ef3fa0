//! The `[data]` section: which data set, how much of it, and what is done to it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Which data set.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DataName {
    /// Built-in, generated in memory from the seed.
    Synthetic,
    /// Official idx files (optionally gzipped) in `data.dir`.
    Mnist,
    /// Fashion-MNIST: official idx files (optionally gzipped) in `data.dir`.
    #[serde(rename = "fashion-mnist")]
    FashionMnist,
    /// Official CIFAR-10 binary batches in `data.dir`.
    Cifar10,
    /// Official CIFAR-100 binary files in `data.dir` (fine labels).
    Cifar100,
}

/// Which official split serves as the pool the training set is drawn from.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SplitName {
    /// The official training split.
    Train,
    /// The official test split.
    Test,
}

super::serde_named!(DataName, SplitName);

/// The `[data]` section.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    /// The data set: `synthetic` (built in), `mnist`, `fashion-mnist`, `cifar10`, `cifar100`.
    pub name: DataName,
    /// Folder holding the data files; empty: the download cache's folder for the name (where
    /// `silab data get NAME` puts them: `$SILAB_DATA/NAME`, else `$XDG_CACHE_HOME/silab/NAME`,
    /// else `~/.cache/silab/NAME`), except that mnist's test split is then the copy bundled with silab.
    pub dir: PathBuf,
    /// Training images (0 = the whole pool); synthetic: `train_size + test_size` <= 1 000 000.
    pub train_size: usize,
    /// Test images (0 = all of them).
    pub test_size: usize,
    /// Which official split is the training pool (`test` to train on the MNIST test file alone).
    pub train_split: SplitName,
    /// If > 0: hold out this many images of the training pool as the test set (a seeded split),
    /// instead of the official test split. MNIST and CIFAR-10 only (synthetic data: `test_size`).
    pub holdout: usize,
    /// Random crop (padding 4) + horizontal flip on training batches.
    pub augment: bool,
    /// Fraction of training labels replaced by a uniformly drawn wrong class (fixed per run).
    pub label_noise: f64,
    /// Seed of the data itself (synthetic images, held-out split, label noise), separate from
    /// the run's `seed` so that a sweep over seeds trains on the same data.
    pub seed: u64,
    /// Synthetic data: number of classes (2..=1000).
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
