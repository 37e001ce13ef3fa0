//! The one typed reader of run records: `metrics.csv`, the sharpness files and any other CSV
//! table silab writes, read into rows of typed cells by the column types of [`crate::schema`].
//!
//! The written format: integers as integers, floats as numbers, an empty float cell = not
//! measured (read as NaN), an empty integer cell = a column added after the row was written.
//! Anything else that does not parse is an error naming the file, the line (1-based, as an editor
//! shows it) and the column: a garbled cell must not pass for a diverged run.
//!
//! A last line without its newline is a row a kill cut while it was being written (the writers
//! append whole lines, see [`super::append_records`]): every reader drops it, as a resume does
//! (`1.858e-3` cut to `1.858` still parses, so its values cannot be trusted).

use super::{Records, StoreError};
use crate::schema::{self, Kind, MetricCol};
use std::path::{Path, PathBuf};

/// A reader's error: which file, which line and column, what was found.
#[derive(Debug, thiserror::Error)]
pub enum RecordsError {
    /// The file cannot be read (missing, unreadable).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The file has no complete header line.
    #[error("{file}: no header line (the file is empty or damaged)")]
    NoHeader { file: PathBuf },
    /// A complete line that is not valid CSV text (bad quoting, not UTF-8).
    #[error("{file} line {line}: {message}")]
    Malformed { file: PathBuf, line: usize, message: String },
    /// A complete line with another number of fields than the header.
    #[error("{file} line {line}: {found} fields, expected {expected} (the header's)")]
    Width { file: PathBuf, line: usize, found: usize, expected: usize },
    /// A cell that does not parse as its column's type.
    #[error("{file} line {line}, column `{column}`: `{value}` is not a valid {kind:?} (the file is damaged)")]
    BadCell { file: PathBuf, line: usize, column: String, value: String, kind: Kind },
    /// A column the reader needs is not in the header.
    #[error("{file}: no column `{column}`")]
    MissingColumn { file: PathBuf, column: String },
}

/// One typed cell.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    /// An integer column's value; `None` when empty.
    Int(Option<i64>),
    /// A float column's value; NaN when empty (not measured).
    Float(f64),
    Text(String),
}

impl Cell {
    /// The value as a number: integers converted, NaN for text and empty cells.
    pub fn num(&self) -> f64 {
        match self {
            Cell::Int(Some(i)) => *i as f64,
            Cell::Int(None) | Cell::Text(_) => f64::NAN,
            Cell::Float(f) => *f,
        }
    }
    /// The text of a text cell (empty for numbers).
    pub fn text(&self) -> &str {
        match self {
            Cell::Text(s) => s,
            _ => "",
        }
    }
}

/// Which kind of row of `metrics.csv` (its `row` column).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowKind {
    /// The end of an epoch: every column measured.
    Epoch,
    /// Every `train.log_every` steps: the cheap columns only.
    Step,
}

/// One row: its line in the file, its fields as written and as typed cells.
#[derive(Clone, Debug, PartialEq)]
pub struct TypedRow {
    /// 1-based line number in the file.
    pub line: usize,
    pub fields: Vec<String>,
    pub cells: Vec<Cell>,
    /// The `row` column's kind, for tables that have one (`metrics.csv`).
    pub kind: Option<RowKind>,
}

impl TypedRow {
    /// The number in column `i` (NaN when empty, text or absent).
    pub fn num(&self, i: usize) -> f64 {
        self.cells.get(i).map_or(f64::NAN, Cell::num)
    }
}

/// A CSV table read and typed: header, column types, rows of complete lines.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    pub path: PathBuf,
    pub header: Vec<String>,
    pub kinds: Vec<Kind>,
    pub rows: Vec<TypedRow>,
    /// The text after the last newline (a line a kill cut), dropped from `rows`; empty if none.
    pub cut: String,
}

impl Table {
    /// Read and type a CSV file; see the module's rules.
    pub fn read(path: &Path) -> Result<Table, RecordsError> {
        let bytes = std::fs::read(path).map_err(|e| StoreError::io(path, e))?;
        Table::parse(path, &bytes)
    }

    /// Type the CSV text `bytes` of the file `path` (named in errors).
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<Table, RecordsError> {
        let end = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let (complete, cut) = bytes.split_at(end);
        let file = path.to_path_buf();
        let mut r = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(complete);
        let mut records = r.records();
        let header: Vec<String> = match records.next() {
            Some(Ok(h)) => h.iter().map(String::from).collect(),
            Some(Err(e)) => return Err(RecordsError::Malformed { file, line: 1, message: e.to_string() }),
            None => return Err(RecordsError::NoHeader { file }),
        };
        if header.iter().all(|h| h.is_empty()) {
            return Err(RecordsError::NoHeader { file });
        }
        let kinds: Vec<Kind> = header.iter().map(|c| schema::kind_of(c)).collect();
        let row_col = header.iter().position(|c| c == schema::col::ROW.name());
        let mut rows = vec![];
        for rec in records {
            let rec = rec.map_err(|e| {
                let line = e.position().map_or(0, |p| p.line() as usize);
                RecordsError::Malformed { file: file.clone(), line, message: e.to_string() }
            })?;
            let line = rec.position().map_or(0, |p| p.line() as usize);
            let fields: Vec<String> = rec.iter().map(String::from).collect();
            rows.push(type_row(&file, line, &header, &kinds, row_col, fields)?);
        }
        let cut = String::from_utf8_lossy(cut).into_owned();
        Ok(Table { path: file, header, kinds, rows, cut })
    }

    /// The rows' fields as written (for rewriting the file byte for byte).
    pub fn records(&self) -> Records {
        Records { header: self.header.clone(), rows: self.rows.iter().map(|r| r.fields.clone()).collect() }
    }

    /// Index of a column, if present.
    pub fn col(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|c| c == name)
    }

    /// Index of a fixed `metrics.csv` column, if present.
    pub fn metric(&self, c: MetricCol) -> Option<usize> {
        self.col(c.name())
    }

    /// Index of a fixed `metrics.csv` column, or an error naming the file and the column.
    pub fn need(&self, c: MetricCol) -> Result<usize, RecordsError> {
        self.metric(c).ok_or_else(|| RecordsError::MissingColumn { file: self.path.clone(), column: c.name().into() })
    }

    /// The rows of one kind (`metrics.csv`).
    pub fn rows_of(&self, kind: RowKind) -> impl Iterator<Item = &TypedRow> {
        self.rows.iter().filter(move |r| r.kind == Some(kind))
    }

    /// The epoch rows (`metrics.csv`).
    pub fn epoch_rows(&self) -> impl Iterator<Item = &TypedRow> {
        self.rows_of(RowKind::Epoch)
    }

    /// The step rows (`metrics.csv`).
    pub fn step_rows(&self) -> impl Iterator<Item = &TypedRow> {
        self.rows_of(RowKind::Step)
    }
}

/// Type one complete line's fields by the columns' kinds.
fn type_row(
    file: &Path,
    line: usize,
    header: &[String],
    kinds: &[Kind],
    row_col: Option<usize>,
    fields: Vec<String>,
) -> Result<TypedRow, RecordsError> {
    if fields.len() != header.len() {
        return Err(RecordsError::Width { file: file.into(), line, found: fields.len(), expected: header.len() });
    }
    let bad = |i: usize| RecordsError::BadCell {
        file: file.into(),
        line,
        column: header[i].clone(),
        value: fields[i].clone(),
        kind: kinds[i],
    };
    let mut cells = Vec::with_capacity(fields.len());
    for (i, (v, kind)) in fields.iter().zip(kinds).enumerate() {
        cells.push(match kind {
            Kind::Int if v.is_empty() => Cell::Int(None),
            Kind::Int => Cell::Int(Some(v.parse().map_err(|_| bad(i))?)),
            Kind::Float if v.is_empty() => Cell::Float(f64::NAN),
            Kind::Float => Cell::Float(v.parse().map_err(|_| bad(i))?),
            Kind::Text => Cell::Text(v.clone()),
        });
    }
    let kind = match row_col {
        None => None,
        Some(i) => Some(match fields[i].as_str() {
            "epoch" => RowKind::Epoch,
            "step" => RowKind::Step,
            _ => return Err(bad(i)),
        }),
    };
    Ok(TypedRow { line, fields, cells, kind })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Table, RecordsError> {
        Table::parse(Path::new("run/metrics.csv"), text.as_bytes())
    }

    #[test]
    fn empty_float_is_nan_and_rows_are_typed() {
        let t =
            parse("epoch,step,row,train_loss,norm:a\n0,0,epoch,2.5e0,\n0,3,step,,1e0\n1,4,epoch,1e0,2e0\n").unwrap();
        assert_eq!(t.rows.len(), 3);
        assert!(t.rows[0].num(4).is_nan());
        assert_eq!(t.rows[0].cells[0], Cell::Int(Some(0)));
        assert_eq!(t.rows[0].cells[2], Cell::Text("epoch".into()));
        assert_eq!(t.rows[1].num(4), 1.0);
        assert_eq!(t.epoch_rows().map(|r| r.num(1)).collect::<Vec<_>>(), [0.0, 4.0]);
        assert_eq!(t.step_rows().map(|r| r.line).collect::<Vec<_>>(), [3]);
        assert_eq!(t.rows[2].line, 4);
    }

    #[test]
    fn bad_cell_names_file_line_and_column() {
        let e = parse("epoch,step,row,train_loss\n0,0,epoch,2.5e0\n1,4,epoch,0.5x\n").unwrap_err();
        assert!(
            matches!(&e, RecordsError::BadCell { line: 3, column, value, .. } if column == "train_loss" && value == "0.5x")
        );
        let s = e.to_string();
        assert!(s.contains("run/metrics.csv line 3, column `train_loss`: `0.5x`"), "{s}");
        let e = parse("epoch,step,row\n0,x,epoch\n").unwrap_err();
        assert!(e.to_string().contains("line 2, column `step`"), "{e}");
        let e = parse("epoch,step,row\n0,0,epok\n").unwrap_err();
        assert!(e.to_string().contains("column `row`"), "{e}");
        let e = parse("epoch,step,row\n0,0\n").unwrap_err();
        assert!(e.to_string().contains("line 2: 2 fields, expected 3"), "{e}");
    }

    #[test]
    fn header_only_cut_line_and_missing_file() {
        let t = parse("epoch,step,row,train_loss\n").unwrap();
        assert!(t.rows.is_empty() && t.header.len() == 4);
        // a line cut by a kill is dropped, whatever it holds
        let t = parse("epoch,step,row,train_loss\n0,0,epoch,2.5e0\n1,4,epoch,1.8").unwrap();
        assert_eq!((t.rows.len(), t.cut.as_str()), (1, "1,4,epoch,1.8"));
        let t = parse("epoch,step,row,train_loss\n0,0,epoch,2.5e0\n1,4,ep").unwrap();
        assert_eq!(t.rows.len(), 1);
        assert!(matches!(parse(""), Err(RecordsError::NoHeader { .. })));
        assert!(matches!(parse("epoch,step"), Err(RecordsError::NoHeader { .. })));
        let e = Table::read(Path::new("/nonexistent/metrics.csv")).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/metrics.csv"), "{e}");
    }

    #[test]
    fn sharpness_rows_have_no_row_kind() {
        let t = parse("epoch,step,group,top_eig\n1,4,si,3e0\n").unwrap();
        assert_eq!(t.rows[0].kind, None);
        assert_eq!(t.rows[0].cells[2], Cell::Text("si".into()));
    }
}
