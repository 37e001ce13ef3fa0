//! The run directory and its files:
//!
//! ```text
//! RUN_DIR/config.toml                          resolved config
//! RUN_DIR/metrics.csv                          one row per log point
//! RUN_DIR/summary.json                         status, final metrics, timing
//! RUN_DIR/log.txt                              human-readable log
//! RUN_DIR/checkpoints/epoch_NNNNN.safetensors  model tensors, PyTorch names; metadata epoch/step/config_hash
//! RUN_DIR/checkpoints/epoch_NNNNN.optim.safetensors   optimizer state (for resume)
//! ```
//! Every file that is replaced is written to a temporary name and renamed (atomic on POSIX).

use crate::model::NamedTensors;
use anyhow::{Context, Result, bail};
use safetensors::tensor::{Dtype, TensorView};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use tch::{Kind, Tensor};

/// Write `bytes` to `path` atomically (temporary file in the same folder, then rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!("{}.tmp", path.extension().and_then(|e| e.to_str()).unwrap_or("")));
    {
        let mut f = std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path).with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
    Ok(())
}

fn dtype(kind: Kind) -> Result<Dtype> {
    Ok(match kind {
        Kind::Float => Dtype::F32,
        Kind::Double => Dtype::F64,
        Kind::Int64 => Dtype::I64,
        k => bail!("cannot store tensors of kind {k:?}"),
    })
}

fn kind(dtype: Dtype) -> Result<Kind> {
    Ok(match dtype {
        Dtype::F32 => Kind::Float,
        Dtype::F64 => Kind::Double,
        Dtype::I64 => Kind::Int64,
        d => bail!("unsupported safetensors dtype {d:?}"),
    })
}

/// Save named tensors as safetensors with string metadata, atomically.
pub fn save_tensors(path: &Path, tensors: &[(String, Tensor)], metadata: HashMap<String, String>) -> Result<()> {
    let mut bufs = Vec::with_capacity(tensors.len());
    for (name, t) in tensors {
        let t = t.detach().to_device(tch::Device::Cpu).contiguous();
        let n = t.numel() * t.kind().elt_size_in_bytes();
        let mut b = vec![0u8; n];
        t.copy_data_u8(&mut b, t.numel());
        let shape: Vec<usize> = t.size().iter().map(|&s| s as usize).collect();
        bufs.push((name.clone(), dtype(t.kind())?, shape, b));
    }
    let views: Vec<(String, TensorView)> =
        bufs.iter().map(|(n, d, s, b)| Ok((n.clone(), TensorView::new(*d, s.clone(), b)?))).collect::<Result<_>>()?;
    let bytes = safetensors::serialize(views, Some(metadata))?;
    write_atomic(path, &bytes)
}

/// Load all tensors (sorted by name) and the metadata of a safetensors file.
pub fn load_tensors(path: &Path) -> Result<(NamedTensors, HashMap<String, String>)> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let st = safetensors::SafeTensors::deserialize(&bytes).with_context(|| format!("parsing {}", path.display()))?;
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes)?;
    let metadata = meta.metadata().clone().unwrap_or_default();
    let mut out = vec![];
    for (name, view) in st.tensors() {
        let shape: Vec<i64> = view.shape().iter().map(|&s| s as i64).collect();
        let t = Tensor::from_data_size(view.data(), &shape, kind(view.dtype())?);
        out.push((name, t));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok((out, metadata))
}

/// Paths inside a run directory.
#[derive(Clone, Debug)]
pub struct RunDir {
    pub root: PathBuf,
}

impl RunDir {
    pub fn new(root: impl Into<PathBuf>) -> RunDir {
        RunDir { root: root.into() }
    }
    pub fn config(&self) -> PathBuf {
        self.root.join("config.toml")
    }
    pub fn metrics(&self) -> PathBuf {
        self.root.join("metrics.csv")
    }
    pub fn summary(&self) -> PathBuf {
        self.root.join("summary.json")
    }
    pub fn log(&self) -> PathBuf {
        self.root.join("log.txt")
    }
    pub fn checkpoints(&self) -> PathBuf {
        self.root.join("checkpoints")
    }
    pub fn checkpoint(&self, epoch: usize) -> PathBuf {
        self.checkpoints().join(format!("epoch_{epoch:05}.safetensors"))
    }
    pub fn optim_state(&self, epoch: usize) -> PathBuf {
        self.checkpoints().join(format!("epoch_{epoch:05}.optim.safetensors"))
    }
    /// Epochs that have a model checkpoint, ascending.
    pub fn checkpoint_epochs(&self) -> Vec<usize> {
        let mut v: Vec<usize> = std::fs::read_dir(self.checkpoints())
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                name.strip_prefix("epoch_")?.strip_suffix(".safetensors")?.parse().ok()
            })
            .collect();
        v.sort();
        v
    }
    /// The latest epoch with both a model checkpoint and an optimizer state (resumable).
    pub fn latest_resumable(&self) -> Option<usize> {
        self.checkpoint_epochs().into_iter().rev().find(|&e| self.optim_state(e).is_file())
    }
    /// Append a line to the log.
    pub fn log_line(&self, line: &str) -> Result<()> {
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(self.log())?;
        writeln!(f, "{line}")?;
        Ok(())
    }
}

/// Read `metrics.csv` as `(header, rows of fields)`.
pub fn read_metrics(path: &Path) -> Result<(Vec<String>, Vec<Vec<String>>)> {
    let mut r = csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
    let header = r.headers()?.iter().map(String::from).collect();
    let rows = r.records().map(|rec| Ok(rec?.iter().map(String::from).collect())).collect::<Result<_>>()?;
    Ok((header, rows))
}

/// Rewrite `metrics.csv` keeping only the rows with `step <= max_step` (used on resume: rows a
/// killed run logged after its last checkpoint are recomputed).
pub fn truncate_metrics(path: &Path, max_step: usize) -> Result<()> {
    if !path.is_file() {
        return Ok(());
    }
    // A kill can land in the middle of writing the last row: drop a last record of the wrong
    // width instead of refusing to resume.
    let mut r = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .with_context(|| format!("reading {}", path.display()))?;
    let header: Vec<String> = r.headers()?.iter().map(String::from).collect();
    let mut rows: Vec<Vec<String>> =
        r.records().map(|rec| Ok(rec?.iter().map(String::from).collect())).collect::<Result<_>>()?;
    if rows.last().is_some_and(|l: &Vec<String>| l.len() != header.len()) {
        rows.pop();
    }
    let si = header.iter().position(|h| h == "step").context("metrics.csv has no `step` column")?;
    let mut w = csv::Writer::from_writer(vec![]);
    w.write_record(&header)?;
    for r in rows.iter().filter(|r| r[si].parse::<usize>().map(|s| s <= max_step).unwrap_or(false)) {
        w.write_record(r)?;
    }
    write_atomic(path, &w.into_inner()?)
}
