//! Named tensors as safetensors files, with string metadata.

use super::{StoreError, write_atomic};
use safetensors::tensor::{Dtype, TensorView};
use std::collections::HashMap;
use std::path::Path;
use tch::{Kind, Tensor};

/// Named tensors, e.g. a checkpoint's contents: `(PyTorch name, tensor)`.
pub type NamedTensors = Vec<(String, Tensor)>;

fn dtype(kind: Kind) -> Option<Dtype> {
    match kind {
        Kind::Float => Some(Dtype::F32),
        Kind::Double => Some(Dtype::F64),
        Kind::Int64 => Some(Dtype::I64),
        _ => None,
    }
}

fn kind(dtype: Dtype) -> Option<Kind> {
    match dtype {
        Dtype::F32 => Some(Kind::Float),
        Dtype::F64 => Some(Kind::Double),
        Dtype::I64 => Some(Kind::Int64),
        _ => None,
    }
}

/// Save named tensors as safetensors with string metadata, atomically.
pub fn save_tensors(
    path: &Path,
    tensors: &[(String, Tensor)],
    metadata: HashMap<String, String>,
) -> Result<(), StoreError> {
    let mut bufs = Vec::with_capacity(tensors.len());
    for (name, t) in tensors {
        let t = t.detach().to_device(tch::Device::Cpu).contiguous();
        let d = dtype(t.kind())
            .ok_or_else(|| StoreError::format(path, format!("cannot store tensor `{name}` of kind {:?}", t.kind())))?;
        let n = t.numel() * t.kind().elt_size_in_bytes();
        let mut b = vec![0u8; n];
        t.copy_data_u8(&mut b, t.numel());
        let shape: Vec<usize> = t.size().iter().map(|&s| s as usize).collect();
        bufs.push((name.clone(), d, shape, b));
    }
    let views: Vec<(String, TensorView)> = bufs
        .iter()
        .map(|(n, d, s, b)| {
            TensorView::new(*d, s.clone(), b).map(|v| (n.clone(), v)).map_err(|e| StoreError::format(path, e))
        })
        .collect::<Result<_, _>>()?;
    let bytes = safetensors::serialize(views, Some(metadata)).map_err(|e| StoreError::format(path, e))?;
    write_atomic(path, &bytes)
}

/// Load all tensors (sorted by name) and the metadata of a safetensors file.
pub fn load_tensors(path: &Path) -> Result<(NamedTensors, HashMap<String, String>), StoreError> {
    let bytes = std::fs::read(path).map_err(|e| StoreError::io(path, e))?;
    let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| StoreError::format(path, e))?;
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| StoreError::format(path, e))?;
    let metadata = meta.metadata().clone().unwrap_or_default();
    let mut out = vec![];
    for (name, view) in st.tensors() {
        let shape: Vec<i64> = view.shape().iter().map(|&s| s as i64).collect();
        let k = kind(view.dtype()).ok_or_else(|| {
            StoreError::format(path, format!("tensor `{name}`: unsupported dtype {:?}", view.dtype()))
        })?;
        out.push((name, Tensor::from_data_size(view.data(), &shape, k)));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok((out, metadata))
}
