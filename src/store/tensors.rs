//! Named tensors as safetensors files, with string metadata.

use super::{StoreError, write_atomic};
use safetensors::tensor::{Dtype, TensorView};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::Path;
use tch::{Kind, Tensor};

/// The metadata key of the checksum: SHA-256 over every tensor (name, dtype, shape, bytes, in
/// name order) and every other metadata entry (in key order). Written by [`save_tensors`],
/// verified by [`load_tensors`]; files with neither it nor [`SCHEME_KEY`] (older silab,
/// PyTorch) load unchecked.
pub const CHECKSUM_KEY: &str = "sha256";
/// A second key naming the scheme (`sha256-v1`), so that damage to one key's name cannot pass
/// for a file without a checksum: either key present means both must be, and match.
pub const SCHEME_KEY: &str = "checksum";
const SCHEME: &str = "sha256-v1";

fn checksum<'a>(
    tensors: impl Iterator<Item = (&'a str, Dtype, &'a [usize], &'a [u8])>,
    meta: &HashMap<String, String>,
) -> String {
    let mut ts: Vec<_> = tensors.collect();
    ts.sort_by(|a, b| a.0.cmp(b.0));
    let mut h = Sha256::new();
    for (name, dtype, shape, bytes) in ts {
        h.update((name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
        h.update(format!("{dtype:?}").as_bytes());
        for d in shape {
            h.update((*d as u64).to_le_bytes());
        }
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    let mut keys: Vec<&String> = meta.keys().filter(|k| *k != CHECKSUM_KEY && *k != SCHEME_KEY).collect();
    keys.sort();
    for k in keys {
        for part in [k, &meta[k]] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

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

/// Save named tensors as safetensors with string metadata and a checksum ([`CHECKSUM_KEY`]),
/// atomically.
pub fn save_tensors(
    path: &Path,
    tensors: &[(String, Tensor)],
    mut metadata: HashMap<String, String>,
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
    let sum = checksum(bufs.iter().map(|(n, d, s, b)| (n.as_str(), *d, s.as_slice(), b.as_slice())), &metadata);
    metadata.insert(CHECKSUM_KEY.into(), sum);
    metadata.insert(SCHEME_KEY.into(), SCHEME.into());
    let views: Vec<(String, TensorView)> = bufs
        .iter()
        .map(|(n, d, s, b)| {
            TensorView::new(*d, s.clone(), b).map(|v| (n.clone(), v)).map_err(|e| StoreError::format(path, e))
        })
        .collect::<Result<_, _>>()?;
    let bytes = safetensors::serialize(views, Some(metadata)).map_err(|e| StoreError::format(path, e))?;
    write_atomic(path, &bytes)
}

/// Load all tensors (sorted by name) and the metadata of a safetensors file, verifying its
/// checksum when it has one: a damaged file is an error, never loaded.
pub fn load_tensors(path: &Path) -> Result<(NamedTensors, HashMap<String, String>), StoreError> {
    let bytes = std::fs::read(path).map_err(|e| StoreError::io(path, e))?;
    let st = safetensors::SafeTensors::deserialize(&bytes)
        .map_err(|e| StoreError::format(path, format!("not a readable safetensors file ({e})")))?;
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| StoreError::format(path, e))?;
    let metadata = meta.metadata().clone().unwrap_or_default();
    match (metadata.get(CHECKSUM_KEY), metadata.get(SCHEME_KEY)) {
        (None, None) => {}
        (Some(want), Some(scheme)) if scheme == SCHEME => {
            let views = st.tensors();
            let got = checksum(views.iter().map(|(n, v)| (n.as_str(), v.dtype(), v.shape(), v.data())), &metadata);
            if &got != want {
                return Err(StoreError::format(
                    path,
                    "checksum mismatch: the file is damaged (its tensors or metadata changed after it was written)",
                ));
            }
        }
        _ => return Err(StoreError::format(path, "its checksum entries are damaged")),
    }
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
