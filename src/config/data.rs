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
    /// Your own arrays: a `.safetensors` or `.npz` file `data.file` with `x_train`, `y_train`,
    /// `x_test`, `y_test` (inputs of any shape `[N, ...]`).
    Tensors,
    /// Your own images: one sub-folder of `data.dir` per class (PNG/JPEG), test set by `data.holdout`.
    Folder,
    /// A Hugging Face image-classification parquet file `data.file` (and `data.test_file`).
    Parquet,
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
    /// The data set: `synthetic` (built in), `mnist`, `fashion-mnist`, `cifar10`, `cifar100`, or
    /// your own: `tensors`, `folder`, `parquet` (the book: Your own data).
    pub name: DataName,
    /// Folder holding the data files (folder: one sub-folder of images per class); empty for
    /// mnist, fashion-mnist, cifar10, cifar100: the download cache's folder for the name (where
    /// `silab data get NAME` puts them: `$SILAB_DATA/NAME`, else `$XDG_CACHE_HOME/silab/NAME`,
    /// else `~/.cache/silab/NAME`), except that mnist's test split is then the copy bundled with silab.
    pub dir: PathBuf,
    /// tensors: the `.safetensors` or `.npz` file; parquet: the training split's parquet file.
    pub file: PathBuf,
    /// parquet: the test split's parquet file (empty: hold out `data.holdout` training images).
    pub test_file: PathBuf,
    /// folder, parquet: images are resized to `image_size x image_size` pixels (bilinear).
    pub image_size: usize,
    /// parquet: the column of encoded images (a struct with a `bytes` field, or plain binary).
    pub image_column: String,
    /// parquet: the column of integer labels.
    pub label_column: String,
    /// Training images (0 = the whole pool); synthetic: `train_size + test_size` <= 1 000 000.
    pub train_size: usize,
    /// Test images (0 = all of them).
    pub test_size: usize,
    /// Which official split is the training pool (`test` to train on the MNIST test file alone).
    pub train_split: SplitName,
    /// If > 0: hold out this many images of the training pool as the test set (a seeded split),
    /// instead of the official test split. Not for synthetic data (it has `test_size`); required
    /// by `folder`, and by `parquet` without `data.test_file`.
    pub holdout: usize,
    /// Random crop (padding 4) + horizontal flip on training batches (images `[C, H, W]` only).
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
            file: PathBuf::new(),
            test_file: PathBuf::new(),
            image_size: 32,
            image_column: "image".into(),
            label_column: "label".into(),
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
