//! CSV files as records of text fields: one reader, one appender, one atomic writer, for every
//! table silab writes (`metrics.csv`, the sharpness files, sweep tables).

use super::{StoreError, write_atomic};
use std::io::Write;
use std::path::Path;

/// A CSV file's header and rows (text fields as written).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Records {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Records {
    /// Index of a column, if present.
    pub fn col(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|c| c == name)
    }
    /// The CSV text.
    pub fn to_csv(&self) -> Vec<u8> {
        let mut w = csv::Writer::from_writer(vec![]);
        // Writing to memory cannot fail but for a record of the wrong width, which the
        // callers never build; the writer is flexible to keep that a non-issue.
        let _ = w.write_record(&self.header);
        for r in &self.rows {
            let _ = w.write_record(r);
        }
        w.into_inner().unwrap_or_default()
    }
}

/// Read a CSV file. With `flexible`, rows of another width than the header are kept as they are
/// (the caller decides); otherwise such a row is an error naming the file and the line.
pub fn read_records(path: &Path, flexible: bool) -> Result<Records, StoreError> {
    let mut r = csv::ReaderBuilder::new().flexible(flexible).from_path(path).map_err(|e| csv_error(path, e))?;
    let header = r.headers().map_err(|e| csv_error(path, e))?.iter().map(String::from).collect();
    let rows = r
        .records()
        .map(|rec| rec.map(|r| r.iter().map(String::from).collect()).map_err(|e| csv_error(path, e)))
        .collect::<Result<_, _>>()?;
    Ok(Records { header, rows })
}

/// Widen a CSV file written by an older silab to `header`: when every column of its header is
/// one of `header`'s (and it lacks some), rewrite it with `header`'s columns, the new cells empty.
/// Complete lines only (what follows the last newline, a line a kill cut, is dropped as a resume
/// would). Returns whether the file was rewritten; a file with other columns is left alone.
pub fn widen(path: &Path, header: &[String]) -> Result<bool, StoreError> {
    let Some(found) = read_header(path) else { return Ok(false) };
    if found == header {
        return Ok(false);
    }
    let Some(cols) = found.iter().map(|c| header.iter().position(|h| h == c)).collect::<Option<Vec<usize>>>() else {
        return Ok(false);
    };
    let bytes = std::fs::read(path).map_err(|e| StoreError::io(path, e))?;
    let complete = &bytes[..bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1)];
    let mut r = csv::ReaderBuilder::new().flexible(true).from_reader(complete);
    let mut rows = vec![];
    for rec in r.records() {
        let rec = rec.map_err(|e| csv_error(path, e))?;
        let mut row = vec![String::new(); header.len()];
        for (v, &c) in rec.iter().zip(&cols) {
            row[c] = v.to_string();
        }
        rows.push(row);
    }
    write_atomic(path, &Records { header: header.to_vec(), rows }.to_csv())?;
    Ok(true)
}

/// The header line of a CSV file, if it has one.
pub fn read_header(path: &Path) -> Option<Vec<String>> {
    let mut r = csv::ReaderBuilder::new().flexible(true).from_path(path).ok()?;
    let h: Vec<String> = r.headers().ok()?.iter().map(String::from).collect();
    (!h.is_empty()).then_some(h)
}

fn csv_error(path: &Path, e: csv::Error) -> StoreError {
    if e.is_io_error() {
        match e.into_kind() {
            csv::ErrorKind::Io(io) => StoreError::io(path, io),
            _ => unreachable!("is_io_error"),
        }
    } else {
        StoreError::format(path, e)
    }
}

/// Append rows to a CSV file, writing `header` first when the file is new; written in one
/// `write` and flushed before returning, so a kill leaves at most the last line incomplete
/// (without its newline), which a resume recognises.
pub fn append_records(path: &Path, header: &[String], rows: &[Vec<String>]) -> Result<(), StoreError> {
    let fresh = !path.is_file();
    let mut w = csv::Writer::from_writer(vec![]);
    if fresh {
        w.write_record(header).map_err(|e| csv_error(path, e))?;
    }
    for r in rows {
        w.write_record(r).map_err(|e| csv_error(path, e))?;
    }
    let bytes = w.into_inner().map_err(|e| StoreError::format(path, e))?;
    let mut f =
        std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(|e| StoreError::io(path, e))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let key = rows.first().map(|r| r.iter().take(3).cloned().collect::<Vec<_>>().join(",")).unwrap_or_default();
    let (a, b) = bytes.split_at(bytes.len() / 2);
    f.write_all(a).map_err(|e| StoreError::io(path, e))?;
    super::failpoint(&format!("mid-append:{name}:{key}"));
    f.write_all(b).map_err(|e| StoreError::io(path, e))?;
    f.flush().map_err(|e| StoreError::io(path, e))
}

/// Replace a CSV file atomically.
pub fn write_records(path: &Path, records: &Records) -> Result<(), StoreError> {
    write_atomic(path, &records.to_csv())
}
