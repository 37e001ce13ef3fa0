//! TensorBoard event files: every `metrics.csv` row also goes to `RUN_DIR/events.out.tfevents.*`
//! as scalars (one tag per column, the optimizer step as TensorBoard's step), flushed row by row,
//! so `tensorboard --logdir runs/` shows runs and sweeps while they train.
//!
//! The format is TensorFlow's record file: per record a little-endian u64 length, the masked
//! CRC-32C of those 8 bytes, the bytes of one `tensorflow.Event` protocol buffer, and its masked
//! CRC-32C. The three messages needed (`Event`, `Summary`, `SessionLog`) are declared here with
//! prost's derive, with the field numbers of tensorflow/core/util/event.proto and
//! tensorflow/core/framework/summary.proto.

use super::StoreError;
use prost::Message;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// `tensorflow.Event` (the fields silab writes).
#[derive(Clone, PartialEq, Message)]
pub struct Event {
    #[prost(double, tag = "1")]
    pub wall_time: f64,
    #[prost(int64, tag = "2")]
    pub step: i64,
    #[prost(oneof = "What", tags = "3, 5, 7")]
    pub what: Option<What>,
}

/// The `what` of an event.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum What {
    /// `"brain.Event:2"`, the first event of every file.
    #[prost(string, tag = "3")]
    FileVersion(String),
    #[prost(message, tag = "5")]
    Summary(Summary),
    #[prost(message, tag = "7")]
    SessionLog(SessionLog),
}

/// `tensorflow.Summary`: tagged values.
#[derive(Clone, PartialEq, Message)]
pub struct Summary {
    #[prost(message, repeated, tag = "1")]
    pub value: Vec<SummaryValue>,
}

/// `tensorflow.Summary.Value` with a scalar (`simple_value` sits in a oneof upstream, so it is
/// written even when 0).
#[derive(Clone, PartialEq, Message)]
pub struct SummaryValue {
    #[prost(string, tag = "1")]
    pub tag: String,
    #[prost(float, optional, tag = "2")]
    pub simple_value: Option<f32>,
}

/// `tensorflow.SessionLog`: a `START` at step s tells TensorBoard to drop what an earlier
/// session wrote at steps ≥ s (a run resumed from a checkpoint rewrites them).
#[derive(Clone, PartialEq, Message)]
pub struct SessionLog {
    /// 1 = START.
    #[prost(int32, tag = "1")]
    pub status: i32,
}

/// TensorFlow's masked CRC-32C.
fn masked_crc(data: &[u8]) -> u32 {
    let c = crc32c::crc32c(data);
    (c.rotate_right(15)).wrapping_add(0xa282_ead8)
}

/// One record of a TFRecord file.
pub fn record(data: &[u8]) -> Vec<u8> {
    let len = (data.len() as u64).to_le_bytes();
    let mut out = Vec::with_capacity(data.len() + 16);
    out.extend_from_slice(&len);
    out.extend_from_slice(&masked_crc(&len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&masked_crc(data).to_le_bytes());
    out
}

/// Writes one event file; each [`EventWriter::scalars`] call is one event, flushed.
pub struct EventWriter {
    path: PathBuf,
    file: File,
}

impl EventWriter {
    /// A new event file in `dir` (`events.out.tfevents.<unix s>.<host>.<pid>`), starting with
    /// the file-version event and a session START at `start_step`: TensorBoard then drops what
    /// earlier files of the folder hold at steps ≥ `start_step` (a resumed session rewrites
    /// them; a run started again from scratch, at 0, replaces them all).
    pub fn create(dir: &Path, start_step: i64) -> Result<EventWriter, StoreError> {
        let now = super::unix_now();
        // TensorBoard reads a folder's event files in name order, and a resumed session's START
        // must come after what it replaces: the seconds in the name are later than any there
        let prefix = "events.out.tfevents.";
        let last = std::fs::read_dir(dir)
            .map_err(|e| StoreError::io(dir, e))?
            .filter_map(|e| e.ok()?.file_name().to_str()?.strip_prefix(prefix)?.split('.').next()?.parse::<u64>().ok())
            .max();
        let secs = last.map_or(now as u64, |l| (now as u64).max(l + 1));
        let name = format!("{prefix}{secs:010}.{}.{}", super::hostname(), std::process::id());
        let path = dir.join(name);
        let file = OpenOptions::new().create(true).append(true).open(&path).map_err(|e| StoreError::io(&path, e))?;
        let mut w = EventWriter { path, file };
        w.write(&Event { wall_time: now, step: 0, what: Some(What::FileVersion("brain.Event:2".into())) })?;
        w.write(&Event { wall_time: now, step: start_step, what: Some(What::SessionLog(SessionLog { status: 1 })) })?;
        Ok(w)
    }

    /// The file written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write(&mut self, e: &Event) -> Result<(), StoreError> {
        self.file
            .write_all(&record(&e.encode_to_vec()))
            .and_then(|_| self.file.flush())
            .map_err(|e| StoreError::io(&self.path, e))
    }

    /// `(column, value)` scalars at `step`, each under [`tag`]`(column)` (non-finite values are left out, as metrics.csv leaves
    /// their cells empty).
    pub fn scalars(&mut self, step: i64, values: &[(&str, f64)]) -> Result<(), StoreError> {
        let value: Vec<SummaryValue> = values
            .iter()
            .filter(|(_, v)| v.is_finite())
            .map(|(t, v)| SummaryValue { tag: tag(t), simple_value: Some(*v as f32) })
            .collect();
        if value.is_empty() {
            return Ok(());
        }
        self.write(&Event { wall_time: super::unix_now(), step, what: Some(What::Summary(Summary { value })) })
    }
}

/// The TensorBoard tag of a metrics.csv column: the column's name, with the `:` of a per-layer
/// column made a `/` (`norm:conv_layers.0.weight` → `norm/conv_layers.0.weight`), since
/// TensorBoard groups the cards of a run by what precedes the first `/`.
pub fn tag(column: &str) -> String {
    column.replacen(':', "/", 1)
}

/// Read back the records of an event file (for tests and tools): every record's bytes, checking
/// both CRCs; an error names the file and the offset of the first bad record.
pub fn read_records(path: &Path) -> Result<Vec<Vec<u8>>, StoreError> {
    let data = std::fs::read(path).map_err(|e| StoreError::io(path, e))?;
    let mut out = vec![];
    let mut at = 0usize;
    let bad = |at: usize, what: &str| StoreError::format(path, format!("offset {at}: {what}"));
    while at < data.len() {
        if data.len() - at < 12 {
            return Err(bad(at, "truncated record header"));
        }
        let len_bytes = &data[at..at + 8];
        let len = u64::from_le_bytes(len_bytes.try_into().unwrap()) as usize;
        if u32::from_le_bytes(data[at + 8..at + 12].try_into().unwrap()) != masked_crc(len_bytes) {
            return Err(bad(at, "length CRC mismatch"));
        }
        let body = at + 12;
        if data.len() < body + len + 4 {
            return Err(bad(at, "truncated record"));
        }
        let payload = &data[body..body + len];
        if u32::from_le_bytes(data[body + len..body + len + 4].try_into().unwrap()) != masked_crc(payload) {
            return Err(bad(at, "data CRC mismatch"));
        }
        out.push(payload.to_vec());
        at = body + len + 4;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The masked CRC of TensorFlow's record format, on a known value (crc32c("123456789") =
    /// 0xE3069283, RFC 3720's check value).
    #[test]
    fn crc_and_round_trip() {
        assert_eq!(crc32c::crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(masked_crc(b"123456789"), 0xE306_9283u32.rotate_right(15).wrapping_add(0xa282_ead8));
        let d = tempfile_dir();
        let mut w = EventWriter::create(&d, 7).unwrap();
        w.scalars(8, &[("a", 0.0), ("b", f64::NAN), ("norm:c.weight", 2.5)]).unwrap();
        let recs = read_records(w.path()).unwrap();
        assert_eq!(recs.len(), 3);
        let e = Event::decode(recs[2].as_slice()).unwrap();
        assert_eq!(e.step, 8);
        let Some(What::Summary(s)) = e.what else { panic!() };
        let got: Vec<(String, Option<f32>)> = s.value.into_iter().map(|v| (v.tag, v.simple_value)).collect();
        assert_eq!(got, [("a".to_string(), Some(0.0)), ("norm/c.weight".to_string(), Some(2.5))]);
        // a flipped byte is found, with its offset
        let mut bytes = std::fs::read(w.path()).unwrap();
        let n = bytes.len();
        bytes[n - 6] ^= 1;
        std::fs::write(w.path(), bytes).unwrap();
        let e = read_records(w.path()).unwrap_err().to_string();
        assert!(e.contains("CRC") && e.contains("offset"), "{e}");
        // a second session's file sorts after the first (TensorBoard reads them in name order)
        let w2 = EventWriter::create(&d, 0).unwrap();
        assert!(w2.path().file_name() > w.path().file_name());
        std::fs::remove_dir_all(d).unwrap();
    }

    fn tempfile_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("silab-tb-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
