//! Data sets: built-in synthetic images, MNIST and Fashion-MNIST (idx files) and CIFAR-10/100
//! (official binary layout), downloaded by [`download`], with train subsets, held-out splits, label noise, augmentation and per-epoch shuffling,
//! all deterministic from the run's seed.
//!
//! Every data set is held in memory as normalized `f32` inputs `[N, ...]` and `i64` labels: the
//! built-in ones as images `[N, 3, 32, 32]`; your own (`tensors`, `folder`, `parquet`) in
//! whatever shape the file holds or the images decode to.

mod cifar;
pub mod download;
mod folder;
mod idx;
mod own;
mod parquet;
mod synthetic;
mod tensors;

pub use cifar::{CifarKind, load_cifar, parse_cifar};
pub use idx::{IdxKind, load_idx_split, load_mnist_split, parse_idx};
pub use synthetic::generate as synthetic;

use crate::config::{DataConfig, DataName, SplitName};
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::PathBuf;
use tch::{Device, Kind, Tensor};

/// Errors of the data layer: each names the file, and for malformed files the byte offset.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("data folder {dir} does not exist or is not a folder; expected it to hold: {expected}")]
    MissingDir { dir: PathBuf, expected: String },
    #[error("{path}: file not found; {dataset} expects these files in {dir}: {expected}")]
    MissingFile { path: PathBuf, dataset: String, dir: PathBuf, expected: String },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: malformed at byte offset {offset}: {message}")]
    Malformed { path: PathBuf, offset: u64, message: String },
    #[error("{0}")]
    Invalid(String),
    #[error(
        "{source}\n{name} is not in the download cache: run `silab data get {name}`, or set data.dir to a folder holding its files"
    )]
    NotFetched { name: String, source: Box<DataError> },
}

/// Random-number streams, one per purpose, so that changing one use of randomness never shifts
/// another (e.g. turning augmentation on does not change the shuffling order).
pub mod streams {
    pub const SYNTH_TEMPLATES: u64 = 1;
    pub const SYNTH_TRAIN: u64 = 2;
    pub const SYNTH_TEST: u64 = 3;
    pub const SPLIT: u64 = 4;
    pub const LABEL_NOISE: u64 = 5;
    pub const INIT: u64 = 6;
    /// Per-epoch shuffling uses `SHUFFLE + epoch`.
    pub const SHUFFLE: u64 = 1 << 32;
    /// Per-epoch augmentation uses `AUGMENT + epoch`.
    pub const AUGMENT: u64 = 2 << 32;
}

/// A seeded ChaCha8 generator on its own stream.
pub fn rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    r.set_stream(stream);
    r
}

pub use own::MAX_OWN_CLASSES;

/// An in-memory labelled data set.
#[derive(Debug)]
pub struct Dataset {
    /// `[N, ...]`, `f32`, normalized (`[N, 3, 32, 32]` for the built-in data sets).
    pub images: Tensor,
    /// `[N]`, `i64`.
    pub labels: Tensor,
    pub classes: usize,
    /// Value of a black pixel after normalization, per channel: what crop padding fills with.
    pub pad_value: Vec<f32>,
}

impl Dataset {
    pub fn len(&self) -> usize {
        self.labels.size()[0] as usize
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The shape of one input, `[C, H, W]` for images.
    pub fn input_shape(&self) -> Vec<i64> {
        self.images.size()[1..].to_vec()
    }
    /// The subset at `idx` (in that order).
    pub fn select(&self, idx: &[i64]) -> Dataset {
        let t = Tensor::from_slice(idx);
        Dataset {
            images: self.images.index_select(0, &t),
            labels: self.labels.index_select(0, &t),
            classes: self.classes,
            pad_value: self.pad_value.clone(),
        }
    }
    /// The first `n` images (all of them when `n` is 0 or larger than the set), sharing memory.
    pub fn head(&self, n: usize) -> Dataset {
        let k = if n == 0 { self.len() } else { n.min(self.len()) } as i64;
        Dataset {
            images: self.images.narrow(0, 0, k),
            labels: self.labels.narrow(0, 0, k),
            classes: self.classes,
            pad_value: self.pad_value.clone(),
        }
    }
    /// Copy to a device.
    pub fn to_device(&self, device: Device) -> Dataset {
        Dataset {
            images: self.images.to_device(device),
            labels: self.labels.to_device(device),
            classes: self.classes,
            pad_value: self.pad_value.clone(),
        }
    }
}

/// Training and test sets of a run.
#[derive(Debug)]
pub struct Data {
    pub train: Dataset,
    pub test: Dataset,
    /// What a run shows when it starts (e.g. the normalization computed for your own images).
    pub notes: Vec<String>,
}

/// Build `[N,3,32,32]` normalized float images from raw `u8` planes `[N, C, H, W]` (C = 1 or 3),
/// zero-padding H, W up to 32 (MNIST's 28 -> 32) and repeating a single channel to three.
pub(crate) fn images_from_u8(
    raw: &[u8],
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    mean: [f32; 3],
    std: [f32; 3],
) -> Tensor {
    let t = Tensor::from_slice(raw).view([n as i64, c as i64, h as i64, w as i64]).to_kind(Kind::Float) / 255.0;
    let (ph, pw) = ((32 - h as i64) / 2, (32 - w as i64) / 2);
    let t = if ph > 0 || pw > 0 { t.constant_pad_nd([pw, 32 - w as i64 - pw, ph, 32 - h as i64 - ph]) } else { t };
    let t = if c == 1 { t.repeat([1, 3, 1, 1]) } else { t };
    let mean = Tensor::from_slice(&mean).view([1, 3, 1, 1]);
    let std = Tensor::from_slice(&std).view([1, 3, 1, 1]);
    ((t - mean) / std).contiguous()
}

pub(crate) fn pad_value(mean: [f32; 3], std: [f32; 3]) -> Vec<f32> {
    vec![-mean[0] / std[0], -mean[1] / std[1], -mean[2] / std[2]]
}

/// Load the data of a run: pool, held-out split, subsets and label noise, all drawn from
/// `data.seed`.
pub fn load(cfg: &DataConfig) -> Result<Data, DataError> {
    let seed = cfg.seed;
    if cfg.name == DataName::Synthetic {
        let train = synthetic::generate(cfg.train_size, cfg.classes, cfg.noise, seed, streams::SYNTH_TRAIN);
        let test = synthetic::generate(cfg.test_size, cfg.classes, cfg.noise, seed, streams::SYNTH_TEST);
        let train = apply_label_noise(train, cfg.label_noise, seed);
        return Ok(Data { train, test, notes: vec![] });
    }
    if cfg.train_split == SplitName::Test && cfg.holdout == 0 {
        return Err(DataError::Invalid(
            "data.train_split = \"test\" needs data.holdout > 0, otherwise the test set would be the training set"
                .into(),
        ));
    }
    let load_split = |split: SplitName| -> Result<Dataset, DataError> {
        match cfg.name {
            DataName::Tensors => tensors::load_split(&cfg.file, split),
            DataName::Folder => folder::load_pool(&cfg.dir, cfg.image_size),
            DataName::Parquet => parquet::load_split(cfg, split),
            _ => load_official(cfg, split),
        }
    };
    let pool = load_split(cfg.train_split)?;
    let (train, test) = if cfg.holdout > 0 {
        let n = pool.len();
        if cfg.holdout >= n {
            return Err(DataError::Invalid(format!(
                "data.holdout = {} but the training pool has only {n} images",
                cfg.holdout
            )));
        }
        let mut perm: Vec<i64> = (0..n as i64).collect();
        perm.shuffle(&mut rng(seed, streams::SPLIT));
        let test = pool.select(&perm[..cfg.holdout]);
        let train = pool.select(&perm[cfg.holdout..]);
        (train, test)
    } else {
        let other = match cfg.train_split {
            SplitName::Train => SplitName::Test,
            SplitName::Test => SplitName::Train,
        };
        (pool, load_split(other)?)
    };
    let take = |d: Dataset, k: usize, what: &str| -> Result<Dataset, DataError> {
        if k == 0 || k == d.len() {
            Ok(d)
        } else if k > d.len() {
            Err(DataError::Invalid(format!("data.{what} = {k} but only {} images are available", d.len())))
        } else {
            Ok(d.select(&(0..k as i64).collect::<Vec<_>>()))
        }
    };
    let train = take(train, cfg.train_size, "train_size")?;
    let test = take(test, cfg.test_size, "test_size")?;
    let (train, test, notes) = match cfg.name {
        DataName::Tensors | DataName::Folder | DataName::Parquet => own::finish(cfg, train, test)?,
        _ => (train, test, vec![]),
    };
    if cfg.augment && train.images.dim() != 4 {
        return Err(DataError::Invalid(format!(
            "data.augment (random crop and flip) needs images [C, H, W]; the data set gives inputs {:?}",
            train.input_shape()
        )));
    }
    Ok(Data { train: apply_label_noise(train, cfg.label_noise, seed), test, notes })
}

/// One official split of a data set read from files: from `data.dir`, or when that is empty from
/// the download cache's folder for the name (what `silab data get` fills), except MNIST's test
/// split, which silab carries.
fn load_official(cfg: &DataConfig, split: SplitName) -> Result<Dataset, DataError> {
    let cached = cfg.dir.as_os_str().is_empty();
    if cached && cfg.name == DataName::Mnist && split == SplitName::Test {
        return idx::load_mnist_split(&cfg.dir, split);
    }
    let dir = if cached {
        download::default_dir(cfg.name.name()).map_err(|e| DataError::Invalid(format!("data.dir is empty and {e}")))?
    } else {
        cfg.dir.clone()
    };
    let loaded = match cfg.name {
        DataName::Mnist => idx::load_idx_split(&dir, split, IdxKind::Mnist),
        DataName::FashionMnist => idx::load_idx_split(&dir, split, IdxKind::FashionMnist),
        DataName::Cifar10 => cifar::load_cifar(&dir, CifarKind::Cifar10, split),
        DataName::Cifar100 => cifar::load_cifar(&dir, CifarKind::Cifar100, split),
        DataName::Synthetic | DataName::Tensors | DataName::Folder | DataName::Parquet => {
            unreachable!("not an official data set: generated or read by its own loader")
        }
    };
    match loaded {
        Err(e @ (DataError::MissingDir { .. } | DataError::MissingFile { .. })) if cached => {
            Err(DataError::NotFetched { name: cfg.name.name().into(), source: Box::new(e) })
        }
        other => other,
    }
}

/// Replace the labels of a `fraction` of the images (chosen from the seed) by a uniformly drawn
/// *different* class.
pub fn apply_label_noise(mut d: Dataset, fraction: f64, seed: u64) -> Dataset {
    if fraction <= 0.0 {
        return d;
    }
    let mut labels: Vec<i64> = Vec::<i64>::try_from(&d.labels).expect("labels are i64");
    let mut r = rng(seed, streams::LABEL_NOISE);
    let k = (fraction * labels.len() as f64).round() as usize;
    let mut idx: Vec<usize> = (0..labels.len()).collect();
    idx.shuffle(&mut r);
    for &i in &idx[..k] {
        let shift = r.random_range(1..d.classes as i64);
        labels[i] = (labels[i] + shift) % d.classes as i64;
    }
    d.labels = Tensor::from_slice(&labels);
    d
}

/// Number of minibatches per epoch for `n` images: `ceil(n / b)`, except that a trailing batch of
/// a single image is dropped (BatchNorm cannot normalize one sample). `b = 0` means full batch.
pub fn batches_per_epoch(n: usize, b: usize) -> usize {
    if b == 0 || b >= n {
        return 1;
    }
    n / b + usize::from(n % b > 1)
}

/// Fixed-order batches over `n` items as `(start, len)`: consecutive chunks of `batch` items
/// (`0` = one batch of all). With `fold_single`, a trailing batch of a single item is merged into
/// the one before it: BatchNorm with batch statistics cannot normalize one sample. Every
/// evaluation pass (metrics, curvature) batches with this.
pub fn batch_spans(n: usize, batch: usize, fold_single: bool) -> Vec<(usize, usize)> {
    let batch = if batch == 0 { n } else { batch };
    let mut out = vec![];
    let mut start = 0;
    while start < n {
        let mut len = batch.min(n - start);
        if fold_single && n - start - len == 1 {
            len += 1;
        }
        out.push((start, len));
        start += len;
    }
    out
}

/// The minibatch index lists of one epoch: a permutation of `0..n` drawn from `(seed, epoch)`.
pub fn epoch_batches(n: usize, b: usize, seed: u64, epoch: usize) -> Vec<Vec<i64>> {
    let mut perm: Vec<i64> = (0..n as i64).collect();
    perm.shuffle(&mut rng(seed, streams::SHUFFLE + epoch as u64));
    let b = if b == 0 { n } else { b };
    perm.chunks(b).take(batches_per_epoch(n, b)).map(|c| c.to_vec()).collect()
}

/// Random crop (zero-padding 4, in raw pixel space) and horizontal flip, per image `[C, H, W]`
/// of `images`, drawn from `rng`.
pub fn augment(images: &Tensor, pad_value: &[f32], rng: &mut ChaCha8Rng) -> Tensor {
    let (n, h, w) = (images.size()[0], images.size()[2], images.size()[3]);
    let fill = Tensor::from_slice(pad_value).view([1, -1, 1, 1]).to_device(images.device());
    // Pad with the normalized value of a black pixel, as torchvision pads before normalizing.
    let padded = (images - &fill).constant_pad_nd([4, 4, 4, 4]) + &fill;
    let out = images.empty_like();
    for i in 0..n {
        let (dy, dx): (i64, i64) = (rng.random_range(0..9), rng.random_range(0..9));
        let flip: bool = rng.random();
        let crop = padded.get(i).narrow(1, dy, h).narrow(2, dx, w);
        let crop = if flip { crop.flip([2]) } else { crop };
        out.get(i).copy_(&crop);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_cover_each_index_once() {
        for (n, b) in [(10, 3), (10, 5), (11, 5), (7, 0), (5, 8)] {
            let bs = epoch_batches(n, b, 3, 1);
            assert_eq!(bs.len(), batches_per_epoch(n, b));
            let mut all: Vec<i64> = bs.concat();
            let dropped = if b > 0 && b < n && n % b == 1 { 1 } else { 0 };
            assert_eq!(all.len(), n - dropped);
            all.sort();
            all.dedup();
            assert_eq!(all.len(), n - dropped);
        }
        assert_ne!(epoch_batches(100, 10, 3, 1), epoch_batches(100, 10, 3, 2));
        assert_eq!(epoch_batches(100, 10, 3, 1), epoch_batches(100, 10, 3, 1));
    }

    #[test]
    fn batch_spans_cover_in_order_and_fold_a_single() {
        assert_eq!(batch_spans(10, 4, false), vec![(0, 4), (4, 4), (8, 2)]);
        assert_eq!(batch_spans(9, 4, false), vec![(0, 4), (4, 4), (8, 1)]);
        assert_eq!(batch_spans(9, 4, true), vec![(0, 4), (4, 5)]);
        assert_eq!(batch_spans(7, 0, true), vec![(0, 7)]);
        assert_eq!(batch_spans(1, 4, true), vec![(0, 1)]);
        assert!(batch_spans(0, 4, true).is_empty());
    }

    #[test]
    fn label_noise_changes_exact_fraction_to_other_classes() {
        let d = synthetic::generate(200, 10, 1.0, 0, streams::SYNTH_TRAIN);
        let before = Vec::<i64>::try_from(&d.labels).unwrap();
        let after = Vec::<i64>::try_from(&apply_label_noise(d, 0.25, 7).labels).unwrap();
        let changed = before.iter().zip(&after).filter(|(a, b)| a != b).count();
        assert_eq!(changed, 50);
        assert!(after.iter().all(|&l| (0..10).contains(&l)));
    }

    #[test]
    fn augment_keeps_shape_and_is_a_crop_or_flip() {
        let d = synthetic::generate(6, 2, 1.0, 0, streams::SYNTH_TRAIN);
        let a = augment(&d.images, &d.pad_value, &mut rng(0, 9));
        assert_eq!(a.size(), d.images.size());
        // Each output is exactly one of the 9 x 9 crops of the image padded by 4 with the value
        // of a black pixel, flipped horizontally or not.
        let fill = Tensor::from_slice(&d.pad_value).view([3, 1, 1]);
        let mut moved = 0;
        for i in 0..6 {
            let padded = (d.images.get(i) - &fill).constant_pad_nd([4, 4, 4, 4]) + &fill;
            let out = a.get(i);
            let found = (0..9).flat_map(|dy| (0..9).flat_map(move |dx| [(dy, dx, false), (dy, dx, true)])).find(
                |&(dy, dx, flip)| {
                    let c = padded.narrow(1, dy, 32).narrow(2, dx, 32);
                    let c = if flip { c.flip([2]) } else { c };
                    (&c - &out).abs().max().double_value(&[]) == 0.0
                },
            );
            let (dy, dx, flip) = found.unwrap_or_else(|| panic!("image {i} is not a crop or flip of its padding"));
            if (dy, dx, flip) != (4, 4, false) {
                moved += 1;
            }
        }
        assert!(moved >= 4, "only {moved} of 6 images were moved or flipped");
    }
}
