//! CIFAR-10 / CIFAR-100 in the official binary layout.
//!
//! One record = label byte(s) + 3072 pixel bytes (1024 R, 1024 G, 1024 B; rows of 32).
//! CIFAR-10: 1 label byte; files `data_batch_1.bin`..`data_batch_5.bin`, `test_batch.bin`.
//! CIFAR-100: coarse + fine label bytes (silab uses the fine label); files `train.bin`, `test.bin`.

use super::{DataError, Dataset, images_from_u8, pad_value};
use crate::config::SplitName;
use std::path::Path;

/// CIFAR normalization of the spec (§3).
pub const MEAN: [f32; 3] = [0.4914, 0.4822, 0.4465];
pub const STD: [f32; 3] = [0.2023, 0.1994, 0.2010];

/// Which CIFAR (its serde name is `data.name`'s spelling).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CifarKind {
    Cifar10,
    Cifar100,
}

impl CifarKind {
    fn label_bytes(self) -> usize {
        match self {
            CifarKind::Cifar10 => 1,
            CifarKind::Cifar100 => 2,
        }
    }
    fn classes(self) -> usize {
        match self {
            CifarKind::Cifar10 => 10,
            CifarKind::Cifar100 => 100,
        }
    }
    /// File names of a split.
    pub fn files(self, split: SplitName) -> Vec<String> {
        match (self, split) {
            (CifarKind::Cifar10, SplitName::Train) => (1..=5).map(|i| format!("data_batch_{i}.bin")).collect(),
            (CifarKind::Cifar10, SplitName::Test) => vec!["test_batch.bin".into()],
            (CifarKind::Cifar100, SplitName::Train) => vec!["train.bin".into()],
            (CifarKind::Cifar100, SplitName::Test) => vec!["test.bin".into()],
        }
    }
    fn name(self) -> &'static str {
        crate::config::serde_name(&self)
    }
}

/// Parse the bytes of one CIFAR binary file: its pixels (3072 per record) and labels (the fine
/// label for CIFAR-100). Its length must be a whole, non-zero number of records and every label a
/// valid class; errors name `path` and the byte offset.
pub fn parse_cifar(bytes: &[u8], path: &Path, kind: CifarKind) -> Result<(Vec<u8>, Vec<i64>), DataError> {
    let lb = kind.label_bytes();
    let rec = lb + 3072;
    let path = path.to_path_buf();
    if bytes.is_empty() {
        return Err(DataError::Malformed {
            path,
            offset: 0,
            message: format!("empty file, expected records of {rec} bytes"),
        });
    }
    if !bytes.len().is_multiple_of(rec) {
        let whole = bytes.len() / rec;
        return Err(DataError::Malformed {
            path,
            offset: (whole * rec) as u64,
            message: format!(
                "truncated record {whole}: expected {rec} bytes per record ({lb} label + 3072 pixel), only {} remain",
                bytes.len() % rec
            ),
        });
    }
    let mut pixels = Vec::with_capacity(bytes.len() / rec * 3072);
    let mut labels = Vec::with_capacity(bytes.len() / rec);
    for (i, r) in bytes.chunks_exact(rec).enumerate() {
        let label = r[lb - 1];
        if label as usize >= kind.classes() {
            return Err(DataError::Malformed {
                path,
                offset: (i * rec + lb - 1) as u64,
                message: format!("label {label} of record {i} is not a class in 0..{}", kind.classes()),
            });
        }
        labels.push(label as i64);
        pixels.extend_from_slice(&r[lb..]);
    }
    Ok((pixels, labels))
}

/// Load one split from `dir`. Every file is checked record by record: its length must be a whole
/// number of records and every label must be a valid class.
pub fn load_cifar(dir: &Path, kind: CifarKind, split: SplitName) -> Result<Dataset, DataError> {
    let files = kind.files(split);
    let expected = files.join(", ");
    if !dir.is_dir() {
        return Err(DataError::MissingDir { dir: dir.to_path_buf(), expected });
    }
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for f in &files {
        let path = dir.join(f);
        if !path.is_file() {
            return Err(DataError::MissingFile { path, dataset: kind.name().into(), dir: dir.to_path_buf(), expected });
        }
        let bytes = std::fs::read(&path).map_err(|source| DataError::Io { path: path.clone(), source })?;
        let (px, lb) = parse_cifar(&bytes, &path, kind)?;
        pixels.extend_from_slice(&px);
        labels.extend(lb);
    }
    let n = labels.len();
    Ok(Dataset {
        images: images_from_u8(&pixels, n, 3, 32, 32, MEAN, STD),
        labels: tch::Tensor::from_slice(&labels),
        classes: kind.classes(),
        pad_value: pad_value(MEAN, STD),
    })
}
