//! MNIST and Fashion-MNIST in the official idx format (big-endian header, `u8` payload),
//! gzipped or not.

use super::{DataError, Dataset, images_from_u8, pad_value};
use crate::config::SplitName;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Which data set in the idx layout: the same files, other images and normalization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdxKind {
    Mnist,
    FashionMnist,
}

impl IdxKind {
    /// Per-channel mean and standard deviation of the training images.
    fn norm(self) -> ([f32; 3], [f32; 3]) {
        match self {
            IdxKind::Mnist => ([0.1307; 3], [0.3081; 3]),
            IdxKind::FashionMnist => ([0.2860; 3], [0.3530; 3]),
        }
    }
    fn name(self) -> &'static str {
        match self {
            IdxKind::Mnist => "mnist",
            IdxKind::FashionMnist => "fashion-mnist",
        }
    }
}
/// The side of an MNIST image, in pixels.
const SIDE: usize = 28;

/// Read a file, transparently gunzipping it when it starts with the gzip magic bytes.
pub(crate) fn read_maybe_gz(path: &Path) -> Result<Vec<u8>, DataError> {
    let raw = std::fs::read(path).map_err(|source| DataError::Io { path: path.to_path_buf(), source })?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..]).read_to_end(&mut out).map_err(|e| DataError::Malformed {
            path: path.to_path_buf(),
            offset: out.len() as u64,
            message: format!("gzip stream ends early or is corrupt ({e}); decompressed {} bytes", out.len()),
        })?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// Parse an idx file of unsigned bytes: returns the dimensions and the payload.
/// `expect_dims` is the number of dimensions the caller needs (1 for labels, 3 for images).
pub fn parse_idx<'a>(bytes: &'a [u8], path: &Path, expect_dims: usize) -> Result<(Vec<usize>, &'a [u8]), DataError> {
    let bad = |offset: usize, message: String| DataError::Malformed {
        path: path.to_path_buf(),
        offset: offset as u64,
        message,
    };
    if bytes.len() < 4 {
        return Err(bad(bytes.len(), format!("file has {} bytes, expected a 4-byte idx magic number", bytes.len())));
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(bad(
            0,
            format!("idx magic must start with two zero bytes, found {:#04x} {:#04x}", bytes[0], bytes[1]),
        ));
    }
    if bytes[2] != 0x08 {
        return Err(bad(2, format!("idx data type {:#04x} is not 0x08 (unsigned byte)", bytes[2])));
    }
    let nd = bytes[3] as usize;
    if nd != expect_dims {
        return Err(bad(3, format!("idx file has {nd} dimensions, expected {expect_dims}")));
    }
    let header = 4 + 4 * nd;
    if bytes.len() < header {
        return Err(bad(
            bytes.len(),
            format!("header truncated: expected {header} header bytes, file has {}", bytes.len()),
        ));
    }
    let dims: Vec<usize> =
        (0..nd).map(|i| u32::from_be_bytes(bytes[4 + 4 * i..8 + 4 * i].try_into().unwrap()) as usize).collect();
    if let Some(i) = dims.iter().position(|&d| d == 0) {
        return Err(bad(4 + 4 * i, format!("the header announces dimensions {dims:?}: dimension {i} is 0")));
    }
    let need = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).ok_or_else(|| {
        bad(4, format!("the header announces dimensions {dims:?}, more bytes than any file can hold"))
    })?;
    let have = bytes.len() - header;
    if have < need {
        return Err(bad(
            bytes.len(),
            format!(
                "truncated: the header announces {dims:?} = {need} data bytes after offset {header}, but only {have} follow"
            ),
        ));
    }
    if have > need {
        return Err(bad(
            header + need,
            format!("{} unexpected trailing bytes after the {need} data bytes", have - need),
        ));
    }
    Ok((dims, &bytes[header..]))
}

/// The bytes of `dir/stem` or `dir/stem.gz` (gunzipped) and the path they came from; `None`
/// when neither is there. When both are there they must hold the same data: otherwise which one
/// trains would be a silent guess, so it is refused naming both.
fn read_one(dir: &Path, stem: &str) -> Result<Option<(Vec<u8>, PathBuf)>, DataError> {
    let (raw, gz) = (dir.join(stem), dir.join(format!("{stem}.gz")));
    match (raw.is_file(), gz.is_file()) {
        (false, false) => Ok(None),
        (true, false) => Ok(Some((read_maybe_gz(&raw)?, raw))),
        (false, true) => Ok(Some((read_maybe_gz(&gz)?, gz))),
        (true, true) => {
            let (a, b) = (read_maybe_gz(&raw)?, read_maybe_gz(&gz)?);
            if a != b {
                return Err(DataError::Invalid(format!(
                    "{} and {} are both there but hold different data ({} and {} bytes unpacked): \
                     remove the one that is not meant",
                    raw.display(),
                    gz.display(),
                    a.len(),
                    b.len()
                )));
            }
            Ok(Some((a, raw)))
        }
    }
}

/// The MNIST test split shipped with silab (`data/mnist` in the repository: the official
/// `t10k-*` idx files, gzipped, 1.6 MB), compiled into the binary so that an installed `silab`
/// needs no data folder. Used when `data.dir` is empty.
const BUNDLED: [(&str, &[u8]); 2] = [
    ("t10k-images-idx3-ubyte.gz", include_bytes!("../../data/mnist/t10k-images-idx3-ubyte.gz")),
    ("t10k-labels-idx1-ubyte.gz", include_bytes!("../../data/mnist/t10k-labels-idx1-ubyte.gz")),
];

/// Where error messages say the bundled files are.
pub const BUNDLED_DIR: &str = "<bundled MNIST test split>";

/// Load one official MNIST split from `dir` (`train-*` or `t10k-*` idx files, `.gz` or not), or
/// the bundled test split when `dir` is empty.
pub fn load_mnist_split(dir: &Path, split: SplitName) -> Result<Dataset, DataError> {
    if dir.as_os_str().is_empty() {
        return load_bundled(split);
    }
    load_idx_split(dir, split, IdxKind::Mnist)
}

/// Load one official split of an idx data set from `dir` (`train-*` or `t10k-*` files, `.gz` or
/// not).
pub fn load_idx_split(dir: &Path, split: SplitName, kind: IdxKind) -> Result<Dataset, DataError> {
    let prefix = match split {
        SplitName::Train => "train",
        SplitName::Test => "t10k",
    };
    let (img_stem, lab_stem) = (format!("{prefix}-images-idx3-ubyte"), format!("{prefix}-labels-idx1-ubyte"));
    let expected = format!("{img_stem}[.gz], {lab_stem}[.gz]");
    if !dir.is_dir() {
        return Err(DataError::MissingDir { dir: dir.to_path_buf(), expected });
    }
    let missing = |stem: &str| DataError::MissingFile {
        path: dir.join(format!("{stem}[.gz]")),
        dataset: kind.name().into(),
        dir: dir.to_path_buf(),
        expected: expected.clone(),
    };
    let (img, img_path) = read_one(dir, &img_stem)?.ok_or_else(|| missing(&img_stem))?;
    let (lab, lab_path) = read_one(dir, &lab_stem)?.ok_or_else(|| missing(&lab_stem))?;
    from_idx_bytes(img, &img_path, lab, &lab_path, kind)
}

/// The bundled test split (the only one silab ships).
fn load_bundled(split: SplitName) -> Result<Dataset, DataError> {
    if split != SplitName::Test {
        return Err(DataError::Invalid(
            "silab ships only the MNIST test split: set data.train_split = \"test\" (with data.holdout > 0 \
             for a test set), or data.dir to a folder with the official train-* files"
                .into(),
        ));
    }
    let gunzip = |(name, raw): (&str, &[u8])| -> Result<(Vec<u8>, PathBuf), DataError> {
        let path = Path::new(BUNDLED_DIR).join(name);
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(raw).read_to_end(&mut out).map_err(|e| DataError::Malformed {
            path: path.clone(),
            offset: out.len() as u64,
            message: format!("bundled file corrupt ({e})"),
        })?;
        Ok((out, path))
    };
    let (img, img_path) = gunzip(BUNDLED[0])?;
    let (lab, lab_path) = gunzip(BUNDLED[1])?;
    from_idx_bytes(img, &img_path, lab, &lab_path, IdxKind::Mnist)
}

/// Images and labels from the bytes of two idx files (named in errors by their paths).
fn from_idx_bytes(
    img_bytes: Vec<u8>,
    img_path: &Path,
    lab_bytes: Vec<u8>,
    lab_path: &Path,
    kind: IdxKind,
) -> Result<Dataset, DataError> {
    let (mean, std) = kind.norm();
    let (idims, ipix) = parse_idx(&img_bytes, img_path, 3)?;
    let (ldims, labs) = parse_idx(&lab_bytes, lab_path, 1)?;
    if idims[0] != ldims[0] {
        return Err(DataError::Invalid(format!(
            "{} holds {} images but {} holds {} labels",
            img_path.display(),
            idims[0],
            lab_path.display(),
            ldims[0]
        )));
    }
    if idims[1..] != [SIDE, SIDE] {
        // any other size is not MNIST (a 32x32 file is padded already, a 1x1 one is a mistake)
        return Err(DataError::Malformed {
            path: img_path.to_path_buf(),
            offset: 8,
            message: format!("images are {}x{}; {} images are {SIDE}x{SIDE}", idims[1], idims[2], kind.name()),
        });
    }
    if let Some(pos) = labs.iter().position(|&l| l > 9) {
        return Err(DataError::Malformed {
            path: lab_path.to_path_buf(),
            offset: (8 + pos) as u64,
            message: format!("label {} is not a digit 0..9", labs[pos]),
        });
    }
    let images = images_from_u8(ipix, idims[0], 1, idims[1], idims[2], mean, std);
    let labels = tch::Tensor::from_slice(labs).to_kind(tch::Kind::Int64);
    Ok(Dataset { images, labels, classes: 10, pad_value: pad_value(mean, std) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(dims: &[u32]) -> Vec<u8> {
        let mut b = vec![0, 0, 8, dims.len() as u8];
        for d in dims {
            b.extend(d.to_be_bytes());
        }
        b
    }

    #[test]
    fn zero_and_overflowing_sizes_are_errors_with_their_offset() {
        let p = Path::new("x-idx3-ubyte");
        let e = parse_idx(&header(&[10000, 0, 0]), p, 3).unwrap_err().to_string();
        assert!(e.contains("x-idx3-ubyte") && e.contains("offset 8") && e.contains("is 0"), "{e}");
        let e = parse_idx(&header(&[u32::MAX, u32::MAX, u32::MAX]), p, 3).unwrap_err().to_string();
        assert!(e.contains("more bytes than any file can hold"), "{e}");
    }
}
