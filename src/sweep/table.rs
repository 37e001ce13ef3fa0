//! The tidy table of a sweep: one row per (point, log point), columns
//! `point, seed, <each swept key>, <every metrics.csv column>`. Written as `table.csv` and
//! `table.parquet` (pandas/polars read both with no glue). Gathering reads the points' run
//! directories only, so it is the same whether they ran locally or on a cluster.

use super::{Manifest, SweepDir};
use crate::schema::{self, SWEEP_KEYS};
use crate::store::{self, RunDir};
use anyhow::{Context, Result};
use arrow_array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use std::sync::Arc;

/// A typed column.
#[derive(Clone, Debug, PartialEq)]
pub enum Column {
    Int(Vec<Option<i64>>),
    Float(Vec<Option<f64>>),
    Bool(Vec<Option<bool>>),
    Str(Vec<Option<String>>),
}

impl Column {
    fn len(&self) -> usize {
        match self {
            Column::Int(v) => v.len(),
            Column::Float(v) => v.len(),
            Column::Bool(v) => v.len(),
            Column::Str(v) => v.len(),
        }
    }
    fn csv_field(&self, i: usize) -> String {
        match self {
            Column::Int(v) => v[i].map(|x| x.to_string()).unwrap_or_default(),
            Column::Float(v) => v[i].map(|x| format!("{x:e}")).unwrap_or_default(),
            Column::Bool(v) => v[i].map(|x| x.to_string()).unwrap_or_default(),
            Column::Str(v) => v[i].clone().unwrap_or_default(),
        }
    }
    fn arrow(&self) -> (DataType, ArrayRef) {
        match self {
            Column::Int(v) => (DataType::Int64, Arc::new(Int64Array::from(v.clone()))),
            Column::Float(v) => (DataType::Float64, Arc::new(Float64Array::from(v.clone()))),
            Column::Bool(v) => (DataType::Boolean, Arc::new(BooleanArray::from(v.clone()))),
            Column::Str(v) => (DataType::Utf8, Arc::new(StringArray::from(v.clone()))),
        }
    }
}

/// A table: named, typed, equally long columns.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    pub columns: Vec<(String, Column)>,
}

impl Table {
    pub fn rows(&self) -> usize {
        self.columns.first().map(|(_, c)| c.len()).unwrap_or(0)
    }
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|(n, _)| n == name).map(|(_, c)| c)
    }
    /// Tables one after another, with a first column `key` (text) naming each one's part. A
    /// column missing from a part is empty there; a column typed differently by two parts
    /// becomes a float column if both are numeric, else text.
    pub fn stack(key: &str, parts: &[(String, Table)]) -> Table {
        let total: usize = parts.iter().map(|(_, t)| t.rows()).sum();
        let mut names: Vec<&str> = vec![];
        for (_, t) in parts {
            for (n, _) in &t.columns {
                if !names.contains(&n.as_str()) {
                    names.push(n);
                }
            }
        }
        let mut columns = vec![(
            key.to_string(),
            Column::Str(parts.iter().flat_map(|(k, t)| std::iter::repeat_n(Some(k.clone()), t.rows())).collect()),
        )];
        for n in names {
            let cols: Vec<(usize, Option<&Column>)> = parts.iter().map(|(_, t)| (t.rows(), t.column(n))).collect();
            let kinds: Vec<u8> = cols
                .iter()
                .filter_map(|c| c.1)
                .map(|c| match c {
                    Column::Int(_) => 0,
                    Column::Float(_) => 1,
                    Column::Bool(_) => 2,
                    Column::Str(_) => 3,
                })
                .collect();
            let same = kinds.windows(2).all(|w| w[0] == w[1]);
            let numeric = kinds.iter().all(|k| *k <= 1);
            let col = match (same, kinds.first()) {
                (true, Some(0)) => Column::Int(
                    cols.iter()
                        .flat_map(|(n, c)| match c {
                            Some(Column::Int(v)) => v.clone(),
                            _ => vec![None; *n],
                        })
                        .collect(),
                ),
                (true, Some(2)) => Column::Bool(
                    cols.iter()
                        .flat_map(|(n, c)| match c {
                            Some(Column::Bool(v)) => v.clone(),
                            _ => vec![None; *n],
                        })
                        .collect(),
                ),
                _ if numeric => Column::Float(
                    cols.iter()
                        .flat_map(|(n, c)| match c {
                            Some(Column::Int(v)) => v.iter().map(|x| x.map(|x| x as f64)).collect(),
                            Some(Column::Float(v)) => v.clone(),
                            _ => vec![None; *n],
                        })
                        .collect(),
                ),
                _ => Column::Str(
                    cols.iter()
                        .flat_map(|(n, c)| match c {
                            Some(Column::Str(v)) => v.clone(),
                            Some(c) => (0..*n).map(|i| Some(c.csv_field(i)).filter(|f| !f.is_empty())).collect(),
                            None => vec![None; *n],
                        })
                        .collect(),
                ),
            };
            debug_assert_eq!(col.len(), total);
            columns.push((n.to_string(), col));
        }
        Table { columns }
    }
    /// CSV text (empty field = missing).
    pub fn to_csv(&self) -> Result<Vec<u8>> {
        let mut w = csv::Writer::from_writer(vec![]);
        w.write_record(self.columns.iter().map(|(n, _)| n))?;
        for i in 0..self.rows() {
            w.write_record(self.columns.iter().map(|(_, c)| c.csv_field(i)))?;
        }
        Ok(w.into_inner()?)
    }
    /// Parquet bytes (uncompressed), via Arrow.
    pub fn to_parquet(&self) -> Result<Vec<u8>> {
        let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) = self
            .columns
            .iter()
            .map(|(n, c)| {
                let (t, a) = c.arrow();
                (Field::new(n, t, true), a)
            })
            .unzip();
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?;
        let mut buf = vec![];
        let mut w = parquet::arrow::ArrowWriter::try_new(&mut buf, batch.schema(), None)?;
        w.write(&batch)?;
        w.close()?;
        Ok(buf)
    }
}

/// A column of a run's CSV file, typed by the schema ([`schema::kind_of`]).
fn metric_column(name: &str, fields: Vec<&str>) -> Column {
    match schema::kind_of(name) {
        schema::Kind::Int => Column::Int(fields.iter().map(|f| f.parse().ok()).collect()),
        schema::Kind::Text => Column::Str(fields.iter().map(|f| Some(f.to_string())).collect()),
        schema::Kind::Float => Column::Float(fields.iter().map(|f| f.parse().ok()).collect()),
    }
}

fn axis_column(values: Vec<Option<&serde_json::Value>>) -> Column {
    let present: Vec<&serde_json::Value> = values.iter().flatten().copied().collect();
    if present.iter().all(|v| v.is_i64() || v.is_u64()) {
        Column::Int(values.iter().map(|v| v.and_then(|v| v.as_i64())).collect())
    } else if present.iter().all(|v| v.is_number()) {
        Column::Float(values.iter().map(|v| v.and_then(|v| v.as_f64())).collect())
    } else if present.iter().all(|v| v.is_boolean()) {
        Column::Bool(values.iter().map(|v| v.and_then(|v| v.as_bool())).collect())
    } else {
        Column::Str(
            values.iter().map(|v| v.map(|v| v.as_str().map(String::from).unwrap_or_else(|| v.to_string()))).collect(),
        )
    }
}

/// A file of a run directory, by its path method ([`RunDir::metrics`], [`RunDir::sharpness`], ...).
pub type RunFile = fn(&RunDir) -> std::path::PathBuf;

/// Gather every point's `metrics.csv` (points not started yet contribute no rows).
pub fn gather(sd: &SweepDir, m: &Manifest) -> Result<Table> {
    gather_file(sd, m, RunDir::metrics)
}

/// Gather one CSV file of every point's run directory (`metrics.csv`, `sharpness.csv`,
/// `sharpness_posthoc.csv`: [`RunDir::metrics`], ...) into one table with the point, seed and
/// swept keys in front.
pub fn gather_file(sd: &SweepDir, m: &Manifest, file: RunFile) -> Result<Table> {
    let mut metric_names: Vec<String> = vec![];
    let mut per_point = vec![];
    for p in &m.points {
        let path = file(&p.run_dir(sd));
        if !path.exists() {
            continue;
        }
        // the one reader: a garbled cell is an error naming file, line and column (never a null)
        let r = store::Table::read(&path).with_context(|| format!("point {}", p.index))?.records();
        let (h, rows) = (r.header, r.rows);
        for c in &h {
            if !metric_names.contains(c) {
                metric_names.push(c.clone());
            }
        }
        per_point.push((p, h, rows));
    }
    let mut point = vec![];
    let mut seed = vec![];
    let mut axis_vals: Vec<Vec<Option<&serde_json::Value>>> = vec![vec![]; m.axes.len()];
    let mut fields: Vec<Vec<&str>> = vec![vec![]; metric_names.len()];
    for (p, h, rows) in &per_point {
        let idx: Vec<Option<usize>> = metric_names.iter().map(|n| h.iter().position(|c| c == n)).collect();
        for r in rows {
            point.push(Some(p.index as i64));
            seed.push(Some(p.seed as i64));
            for (a, key) in m.axes.iter().enumerate() {
                axis_vals[a].push(p.values.iter().find(|(k, _)| k == key).map(|(_, v)| v));
            }
            for (j, i) in idx.iter().enumerate() {
                fields[j].push(i.map(|i| r[i].as_str()).unwrap_or(""));
            }
        }
    }
    let mut columns =
        vec![(SWEEP_KEYS[0].name.to_string(), Column::Int(point)), (SWEEP_KEYS[1].name.to_string(), Column::Int(seed))];
    for (key, vals) in m.axes.iter().zip(axis_vals) {
        columns.push((key.clone(), axis_column(vals)));
    }
    for (name, f) in metric_names.iter().zip(fields) {
        columns.push((name.clone(), metric_column(name, f)));
    }
    Ok(Table { columns })
}

/// Gather and write `table.csv` and `table.parquet`, and, where points have sharpness rows,
/// `sharpness.csv`/`.parquet` (measured during training) and `sharpness_posthoc.csv`/`.parquet`
/// (`silab sharpness`); returns the metrics table.
pub fn write(sd: &SweepDir) -> Result<Table> {
    let m = Manifest::read(sd)?;
    let t = gather(sd, &m)?;
    let save = |stem: &str, t: &Table| -> Result<()> {
        store::write_atomic(&sd.table_csv(stem), &t.to_csv()?)?;
        store::write_atomic(&sd.table_parquet(stem), &t.to_parquet()?)?;
        Ok(())
    };
    save("table", &t)?;
    let files: [(&str, RunFile); 2] =
        [("sharpness", RunDir::sharpness), ("sharpness_posthoc", RunDir::sharpness_posthoc)];
    for (stem, file) in files {
        let s = gather_file(sd, &m, file)?;
        if s.rows() > 0 {
            save(stem, &s)?;
        }
    }
    Ok(t)
}
