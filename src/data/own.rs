//! What the loaders of your own data share (`tensors`, `folder`, `parquet`): the checks every
//! split passes (integer labels in range, finite inputs, as many labels as inputs, not empty),
//! image decoding, and the step after the split that fixes the number of classes and, for
//! decoded images, the per-channel normalization from the training split.

use super::{DataError, Dataset};
use crate::config::{DataConfig, DataName, SplitName};
use std::path::Path;
use tch::{Kind, Tensor};

/// The most classes own data may have: a label above it is refused (it would size the classifier).
pub const MAX_OWN_CLASSES: usize = 100_000;

/// The error `{source}: {message}`.
pub(crate) fn invalid(source: &Path, message: impl std::fmt::Display) -> DataError {
    DataError::Invalid(format!("{}: {message}", source.display()))
}

/// How a split is called in messages.
pub(crate) fn split_name(split: SplitName) -> &'static str {
    match split {
        SplitName::Train => "train",
        SplitName::Test => "test",
    }
}

/// Labels `[N]` as a tensor, each checked to be in `0..MAX_OWN_CLASSES`; also returns max + 1.
/// `source` and `split` name where they come from in an error, with the row.
pub(crate) fn labels(source: &Path, split: &str, values: &[i64]) -> Result<(Tensor, usize), DataError> {
    let mut max = -1;
    for (row, &l) in values.iter().enumerate() {
        if l < 0 || l >= MAX_OWN_CLASSES as i64 {
            return Err(invalid(
                source,
                format!(
                    "label {l} at row {row} of the {split} split is out of range: labels are class \
                     indices 0, 1, ... (at most {})",
                    MAX_OWN_CLASSES - 1
                ),
            ));
        }
        max = max.max(l);
    }
    Ok((Tensor::from_slice(values), (max + 1) as usize))
}

/// Check that `images` `[N, ...]` are all finite, naming the split and the first bad row.
pub(crate) fn check_finite(source: &Path, split: &str, images: &Tensor) -> Result<(), DataError> {
    let n = images.size()[0];
    if n == 0 {
        return Ok(());
    }
    let ok = images.view([n, -1]).isfinite().all_dim(1, false);
    let bad = ok.logical_not().nonzero();
    if bad.size()[0] > 0 {
        let row = bad.int64_value(&[0, 0]);
        return Err(invalid(
            source,
            format!("the {split} split has NaN or infinite inputs (first at row {row}); fix or drop those rows"),
        ));
    }
    Ok(())
}

/// Inputs and labels of one split, checked: as many labels as inputs, not empty, finite.
pub(crate) fn split_set(
    source: &Path,
    split: &str,
    images: Tensor,
    labels_of: &[i64],
    pad_value: Vec<f32>,
) -> Result<Dataset, DataError> {
    let n = images.size()[0] as usize;
    if n != labels_of.len() {
        return Err(invalid(
            source,
            format!("the {split} split has {n} inputs but {} labels: they must be as many", labels_of.len()),
        ));
    }
    if n == 0 {
        return Err(invalid(source, format!("the {split} split is empty (no rows)")));
    }
    check_finite(source, split, &images)?;
    let (labels, classes) = labels(source, split, labels_of)?;
    Ok(Dataset { images, labels, classes, pad_value })
}

/// Decode a PNG or JPEG image (`what` names it in an error) into `size x size` pixels (bilinear
/// resize, only when its size differs), channels first: 1 channel for grayscale images, 3 for
/// the rest (an alpha channel is dropped).
pub(crate) fn decode(bytes: &[u8], size: u32, what: &dyn std::fmt::Display) -> Result<(usize, Vec<u8>), DataError> {
    let img = image::load_from_memory(bytes)
        .map_err(|e| DataError::Invalid(format!("{what}: cannot be read as a PNG or JPEG image: {e}")))?;
    let img = if img.width() != size || img.height() != size {
        img.resize_exact(size, size, image::imageops::FilterType::Triangle)
    } else {
        img
    };
    let (c, hwc) =
        if img.color().has_color() { (3, img.into_rgb8().into_raw()) } else { (1, img.into_luma8().into_raw()) };
    let px = (size * size) as usize;
    let mut chw = vec![0u8; c * px];
    for (i, v) in hwc.iter().enumerate() {
        chw[(i % c) * px + i / c] = *v;
    }
    Ok((c, chw))
}

/// Images in `[0, 1]` `[N, C, size, size]` from decoded images: when some are in colour, the
/// grayscale ones are repeated to three channels.
pub(crate) fn stack_decoded(decoded: Vec<(usize, Vec<u8>)>, size: usize) -> Tensor {
    let c = decoded.iter().map(|d| d.0).max().unwrap_or(1);
    let px = size * size;
    let mut raw = Vec::with_capacity(decoded.len() * c * px);
    for (ci, d) in &decoded {
        for k in 0..c {
            raw.extend_from_slice(&d[(k % ci) * px..(k % ci + 1) * px]);
        }
    }
    let (n, c, s) = (decoded.len() as i64, c as i64, size as i64);
    Tensor::from_slice(&raw).view([n, c, s, s]).to_kind(Kind::Float) / 255.0
}

/// After the split: the number of classes (max label + 1 over both sets, at least 2), the same
/// channels in both sets (grayscale repeated when the other is in colour), and for decoded
/// images (`folder`, `parquet`) the per-channel normalization by the training split's mean and
/// standard deviation, described in the returned note.
pub(crate) fn finish(
    cfg: &DataConfig,
    train: Dataset,
    test: Dataset,
) -> Result<(Dataset, Dataset, Vec<String>), DataError> {
    let classes = train.classes.max(test.classes);
    let what = data_source(cfg);
    if classes < 2 {
        return Err(invalid(&what, format!("the labels give {classes} class: at least 2 are needed")));
    }
    let (mut train, mut test) = (train, test);
    if cfg.name != DataName::Tensors {
        // a grayscale split beside a colour one (two parquet files): both in colour
        let (ca, cb) = (train.images.size()[1], test.images.size()[1]);
        if ca == 1 && cb == 3 {
            train.images = train.images.repeat([1, 3, 1, 1]);
        } else if ca == 3 && cb == 1 {
            test.images = test.images.repeat([1, 3, 1, 1]);
        }
    }
    let (a, b) = (train.images.size(), test.images.size());
    if a[1..] != b[1..] {
        return Err(invalid(
            &what,
            format!(
                "the train split's inputs have shape {:?} and the test split's {:?}: they must be the same",
                &a[1..],
                &b[1..]
            ),
        ));
    }
    train.classes = classes;
    test.classes = classes;
    if cfg.name == DataName::Tensors {
        return Ok((train, test, vec![]));
    }
    let dims = [0i64, 2, 3];
    let mean = train.images.mean_dim(dims.as_slice(), true, Kind::Float);
    let std = train.images.std_mean_correction(dims.as_slice(), 0, true).0;
    // a constant channel stays as it is but centred, rather than dividing by 0
    let std = std.where_scalarother(&std.gt(1e-6), 1.0);
    let (m, s): (Vec<f32>, Vec<f32>) =
        (Vec::try_from(mean.flatten(0, -1)).expect("f32"), Vec::try_from(std.flatten(0, -1)).expect("f32"));
    train.images = ((&train.images - &mean) / &std).contiguous();
    test.images = ((&test.images - &mean) / &std).contiguous();
    let pad: Vec<f32> = m.iter().zip(&s).map(|(m, s)| -m / s).collect();
    train.pad_value = pad.clone();
    test.pad_value = pad;
    let note = format!(
        "data: {} training images; per-channel normalization from them: mean {m:.4?}, std {s:.4?}",
        train.len()
    );
    Ok((train, test, vec![note]))
}

/// The file or folder the data comes from, for messages.
fn data_source(cfg: &DataConfig) -> std::path::PathBuf {
    if cfg.name == DataName::Folder { cfg.dir.clone() } else { cfg.file.clone() }
}
