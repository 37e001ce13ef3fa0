//! `data.name = "parquet"`: the Hugging Face image-classification layout, one parquet file per
//! split: `data.file` (train) and `data.test_file` (test; without it `data.holdout` images of
//! the training file are held out). Column `data.image_column` (default `image`) holds encoded
//! PNG/JPEG images, either as the `datasets` library writes them (a struct `{bytes, path}`) or
//! as plain binary; column `data.label_column` (default `label`) integers. Images are decoded
//! as in `folder`: resized to `data.image_size` squared, 1 channel when grayscale, 3 otherwise.

use super::own::{decode, invalid, split_name, split_set, stack_decoded};
use super::{DataError, Dataset};
use crate::config::{DataConfig, SplitName};
use arrow_array::cast::AsArray;
use arrow_array::types::{Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type, UInt32Type, UInt64Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::path::Path;

/// The integer values of a label column (row `offset` + i names a null or negative value).
fn label_ints(path: &Path, name: &str, col: &ArrayRef, offset: usize) -> Result<Vec<i64>, DataError> {
    if let Some(i) = (0..col.len()).find(|&i| col.is_null(i)) {
        return Err(invalid(path, format!("column `{name}` has no label at row {}", offset + i)));
    }
    macro_rules! try_int {
        ($($t:ty),*) => {$(
            if let Some(a) = col.as_primitive_opt::<$t>() {
                return Ok(a.values().iter().map(|&v| v as i64).collect());
            }
        )*};
    }
    try_int!(Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type, UInt32Type, UInt64Type);
    Err(invalid(path, format!("column `{name}` has type {}; labels must be integers", col.data_type())))
}

/// The encoded image bytes of an image column: a struct with a `bytes` field, or binary.
fn image_bytes<'a>(path: &Path, name: &str, col: &'a ArrayRef, offset: usize) -> Result<Vec<&'a [u8]>, DataError> {
    let col: &'a dyn Array = match col.as_struct_opt() {
        Some(s) => s.column_by_name("bytes").map(|c| c.as_ref()).ok_or_else(|| {
            invalid(
                path,
                format!("column `{name}` is a struct without a `bytes` field (the Hugging Face image layout)"),
            )
        })?,
        None => col.as_ref(),
    };
    if let Some(i) = (0..col.len()).find(|&i| col.is_null(i)) {
        return Err(invalid(path, format!("column `{name}` has no image bytes at row {}", offset + i)));
    }
    if let Some(b) = col.as_binary_opt::<i32>() {
        return Ok(b.iter().map(|v| v.unwrap_or_default()).collect());
    }
    if let Some(b) = col.as_binary_opt::<i64>() {
        return Ok(b.iter().map(|v| v.unwrap_or_default()).collect());
    }
    Err(invalid(path, format!("column `{name}` has type {}; expected encoded images (binary)", col.data_type())))
}

fn column<'a>(path: &Path, batch: &'a RecordBatch, name: &str, key: &str) -> Result<&'a ArrayRef, DataError> {
    batch.column_by_name(name).ok_or_else(|| {
        let found: Vec<String> = batch.schema().fields().iter().map(|f| f.name().clone()).collect();
        invalid(path, format!("no column `{name}` ({key}); the file has columns [{}]", found.join(", ")))
    })
}

/// One split's file, images in `[0, 1]` (normalized after the split).
pub(crate) fn load_split(cfg: &DataConfig, split: SplitName) -> Result<Dataset, DataError> {
    let path = match split {
        SplitName::Train => &cfg.file,
        SplitName::Test => &cfg.test_file,
    };
    let file = std::fs::File::open(path).map_err(|e| DataError::Io { path: path.clone(), source: e })?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .map_err(|e| invalid(path, format!("not a readable parquet file: {e}")))?;
    let (mut decoded, mut labels) = (vec![], vec![]);
    for batch in reader {
        let batch = batch.map_err(|e| invalid(path, format!("reading row {}: {e}", labels.len())))?;
        let offset = labels.len();
        let images = column(path, &batch, &cfg.image_column, "data.image_column")?;
        let label_col = column(path, &batch, &cfg.label_column, "data.label_column")?;
        for (i, bytes) in image_bytes(path, &cfg.image_column, images, offset)?.into_iter().enumerate() {
            let what = format!("{}: the image at row {}", path.display(), offset + i);
            decoded.push(decode(bytes, cfg.image_size as u32, &what)?);
        }
        labels.extend(label_ints(path, &cfg.label_column, label_col, offset)?);
    }
    let s = split_name(split);
    if decoded.is_empty() {
        return Err(invalid(path, format!("the {s} split is empty (no rows)")));
    }
    split_set(path, s, stack_decoded(decoded, cfg.image_size), &labels, vec![])
}
