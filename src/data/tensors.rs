//! `data.name = "tensors"`: your own arrays in a `.safetensors` or `.npz` file (`data.file`):
//! `x_train`, `y_train`, `x_test`, `y_test`. Inputs `[N, ...]` of any shape, `float32` or
//! `uint8` (divided by 255); labels `[N]` of any integer type. Optional `mean` and `std` arrays
//! `[C]` (C = the size of the inputs' second axis, their channels) normalize every input as
//! `(x - mean) / std` per channel, after the division by 255; without them the inputs are used
//! as they are. npz files are read with `npyz` (its `npz` feature reuses the `zip` crate tch
//! already links), safetensors files with `safetensors`.

use super::own::{invalid, split_name, split_set};
use super::{DataError, Dataset};
use crate::config::SplitName;
use npyz::{DType, TypeChar};
use safetensors::{Dtype, SafeTensors};
use std::path::Path;
use tch::{Kind, Tensor};

/// The values of an array, in the types silab takes (anything else keeps its dtype's name).
enum Values {
    F32(Vec<f32>),
    F64(Vec<f64>),
    U8(Vec<u8>),
    Int(Vec<i64>),
    Other(String),
}

/// One array of the file.
struct Array {
    shape: Vec<i64>,
    values: Values,
}

/// A `.safetensors` (held in memory) or `.npz` file.
enum ArrayFile {
    Safetensors(Vec<u8>),
    Npz(npyz::npz::NpzArchive<std::io::BufReader<std::fs::File>>),
}

fn io_err(path: &Path, e: std::io::Error) -> DataError {
    DataError::Io { path: path.to_path_buf(), source: e }
}

impl ArrayFile {
    fn open(path: &Path) -> Result<ArrayFile, DataError> {
        if !path.is_file() {
            return Err(invalid(path, "file not found (data.file)"));
        }
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        match ext.as_str() {
            "safetensors" => {
                let bytes = std::fs::read(path).map_err(|e| io_err(path, e))?;
                SafeTensors::deserialize(&bytes).map_err(|e| invalid(path, format!("not a safetensors file: {e}")))?;
                Ok(ArrayFile::Safetensors(bytes))
            }
            "npz" => npyz::npz::NpzArchive::open(path)
                .map(ArrayFile::Npz)
                .map_err(|e| invalid(path, format!("not an npz file: {e}"))),
            _ => Err(invalid(path, "data.file must end in .safetensors or .npz")),
        }
    }

    /// The names of the arrays, sorted.
    fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = match self {
            ArrayFile::Safetensors(b) => SafeTensors::deserialize(b)
                .map(|s| s.names().iter().map(|n| n.to_string()).collect())
                .unwrap_or_default(),
            ArrayFile::Npz(z) => z.array_names().map(str::to_string).collect(),
        };
        v.sort();
        v
    }

    /// The array `name`, if the file has it.
    fn get(&mut self, path: &Path, name: &str) -> Result<Option<Array>, DataError> {
        match self {
            ArrayFile::Safetensors(b) => {
                let st = SafeTensors::deserialize(b).map_err(|e| invalid(path, e))?;
                Ok(st.tensor(name).ok().map(|v| from_view(v.dtype(), v.shape(), v.data())))
            }
            ArrayFile::Npz(z) => {
                let Some(npy) = z.by_name(name).map_err(|e| invalid(path, format!("array {name}: {e}")))? else {
                    return Ok(None);
                };
                from_npy(npy).map(Some).map_err(|e| invalid(path, format!("array {name}: {e}")))
            }
        }
    }

    /// The array `name`, or an error naming the file and the arrays it holds.
    fn require(&mut self, path: &Path, name: &str) -> Result<Array, DataError> {
        match self.get(path, name)? {
            Some(a) => Ok(a),
            None => Err(invalid(
                path,
                format!(
                    "no array `{name}`; the file holds [{}], and needs x_train, y_train, x_test, y_test \
                     (optionally mean, std)",
                    self.names().join(", ")
                ),
            )),
        }
    }
}

/// Little-endian values of a safetensors tensor.
fn from_view(dtype: Dtype, shape: &[usize], data: &[u8]) -> Array {
    fn le<const K: usize, T>(data: &[u8], f: impl Fn([u8; K]) -> T) -> Vec<T> {
        data.chunks_exact(K).map(|c| f(c.try_into().expect("K bytes"))).collect()
    }
    let values = match dtype {
        Dtype::F32 => Values::F32(le(data, f32::from_le_bytes)),
        Dtype::F64 => Values::F64(le(data, f64::from_le_bytes)),
        Dtype::U8 => Values::U8(data.to_vec()),
        Dtype::I8 => Values::Int(data.iter().map(|&b| b as i8 as i64).collect()),
        Dtype::I16 => Values::Int(le(data, |b| i16::from_le_bytes(b) as i64)),
        Dtype::U16 => Values::Int(le(data, |b| u16::from_le_bytes(b) as i64)),
        Dtype::I32 => Values::Int(le(data, |b| i32::from_le_bytes(b) as i64)),
        Dtype::U32 => Values::Int(le(data, |b| u32::from_le_bytes(b) as i64)),
        Dtype::I64 => Values::Int(le(data, i64::from_le_bytes)),
        // above i64::MAX wraps negative: refused as a negative label
        Dtype::U64 => Values::Int(le(data, |b| u64::from_le_bytes(b) as i64)),
        other => Values::Other(format!("{other:?}")),
    };
    Array { shape: shape.iter().map(|&s| s as i64).collect(), values }
}

/// The values of an npy array of the file (C order).
fn from_npy<R: std::io::Read>(npy: npyz::NpyFile<R>) -> std::io::Result<Array> {
    let shape: Vec<i64> = npy.shape().iter().map(|&s| s as i64).collect();
    let DType::Plain(ts) = npy.dtype() else {
        return Ok(Array { shape, values: Values::Other(format!("{:?}", npy.dtype())) });
    };
    if npy.order() != npyz::Order::C && shape.len() > 1 {
        return Err(std::io::Error::other("is in Fortran order: save np.ascontiguousarray(x)"));
    }
    fn ints<T: npyz::Deserialize + Into<i64>, R: std::io::Read>(npy: npyz::NpyFile<R>) -> std::io::Result<Values> {
        Ok(Values::Int(npy.into_vec::<T>()?.into_iter().map(Into::into).collect()))
    }
    let values = match (ts.type_char(), ts.size_field()) {
        (TypeChar::Float, 4) => Values::F32(npy.into_vec()?),
        (TypeChar::Float, 8) => Values::F64(npy.into_vec()?),
        (TypeChar::Uint, 1) => Values::U8(npy.into_vec()?),
        (TypeChar::Int, 1) => ints::<i8, R>(npy)?,
        (TypeChar::Int, 2) => ints::<i16, R>(npy)?,
        (TypeChar::Uint, 2) => ints::<u16, R>(npy)?,
        (TypeChar::Int, 4) => ints::<i32, R>(npy)?,
        (TypeChar::Uint, 4) => ints::<u32, R>(npy)?,
        (TypeChar::Int, 8) => ints::<i64, R>(npy)?,
        (TypeChar::Uint, 8) => Values::Int(npy.into_vec::<u64>()?.into_iter().map(|v| v as i64).collect()),
        _ => Values::Other(ts.to_string()),
    };
    Ok(Array { shape, values })
}

/// `x_{split}` as `f32` `[N, ...]`: `float32` as it is, `uint8` divided by 255.
fn inputs(path: &Path, name: &str, a: Array) -> Result<Tensor, DataError> {
    if a.shape.len() < 2 {
        let msg = format!("{name} has shape {:?}; inputs are [N, ...] with at least one axis per row", a.shape);
        return Err(invalid(path, msg));
    }
    let t = match a.values {
        Values::F32(v) => Tensor::from_slice(&v),
        Values::U8(v) => Tensor::from_slice(&v).to_kind(Kind::Float) / 255.0,
        Values::F64(_) => return Err(dtype_error(path, name, "float64")),
        Values::Int(_) => return Err(dtype_error(path, name, "an integer type")),
        Values::Other(d) => return Err(dtype_error(path, name, &d)),
    };
    Ok(t.view(a.shape.as_slice()))
}

fn dtype_error(path: &Path, name: &str, dtype: &str) -> DataError {
    invalid(path, format!("{name} has dtype {dtype}; inputs must be float32 or uint8 (e.g. x.astype(np.float32))"))
}

/// `y_{split}` as `i64` values (shape `[N]`).
fn label_values(path: &Path, name: &str, a: Array) -> Result<Vec<i64>, DataError> {
    if a.shape.len() != 1 {
        return Err(invalid(path, format!("{name} has shape {:?}; labels are one integer per row, [N]", a.shape)));
    }
    match a.values {
        Values::Int(v) => Ok(v),
        Values::U8(v) => Ok(v.into_iter().map(i64::from).collect()),
        Values::F32(_) | Values::F64(_) => {
            Err(invalid(path, format!("{name} holds floats; labels must be integers (e.g. y.astype(np.int64))")))
        }
        Values::Other(d) => Err(invalid(path, format!("{name} has dtype {d}; labels must be integers"))),
    }
}

/// A per-channel `mean` or `std` of the file, `[C]`, as floats.
fn channel_stat(path: &Path, name: &str, a: Array, c: i64) -> Result<Tensor, DataError> {
    let v: Vec<f32> = match a.values {
        Values::F32(v) => v,
        Values::F64(v) => v.into_iter().map(|x| x as f32).collect(),
        _ => return Err(invalid(path, format!("{name} must hold floats"))),
    };
    if a.shape != [c] {
        return Err(invalid(
            path,
            format!("{name} has shape {:?}; the inputs have {c} channels (axis 1): [{c}]", a.shape),
        ));
    }
    if !v.iter().all(|x| x.is_finite()) || (name == "std" && v.iter().any(|&x| x <= 0.0)) {
        return Err(invalid(path, format!("{name} holds {v:?}: it must be finite (std > 0)")));
    }
    Ok(Tensor::from_slice(&v))
}

/// One split of the file: inputs normalized by the file's `mean`/`std` when it has them, and
/// the value a black (zero) input becomes, per channel (what a crop pads with).
pub(crate) fn load_split(path: &Path, split: SplitName) -> Result<Dataset, DataError> {
    let mut f = ArrayFile::open(path)?;
    let s = split_name(split);
    let (xn, yn) = (format!("x_{s}"), format!("y_{s}"));
    let x = f.require(path, &xn)?;
    let y = f.require(path, &yn)?;
    let mut images = inputs(path, &xn, x)?;
    let labels = label_values(path, &yn, y)?;
    let c = if images.dim() >= 2 { images.size()[1] } else { 1 };
    let mut pad = vec![0.0f32; c as usize];
    match (f.get(path, "mean")?, f.get(path, "std")?) {
        (None, None) => {}
        (Some(m), Some(sd)) => {
            let (m, sd) = (channel_stat(path, "mean", m, c)?, channel_stat(path, "std", sd, c)?);
            let mut view = vec![1i64; images.dim()];
            if images.dim() >= 2 {
                view[1] = c;
            }
            images = ((&images - m.view(view.as_slice())) / sd.view(view.as_slice())).contiguous();
            pad = Vec::try_from(-(m / sd)).expect("f32");
        }
        _ => return Err(invalid(path, "has only one of mean and std: give both or neither")),
    }
    split_set(path, s, images, &labels, pad)
}
