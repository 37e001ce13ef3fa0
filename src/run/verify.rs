//! What a resume checks before it continues: the rows a run's CSV files hold up to the checkpoint
//! it resumes from must be exactly the rows the trainer wrote by then, each complete and
//! parseable. Rows after the checkpoint (logged by the killed run before it died) are dropped,
//! to be measured again; anything else inconsistent is an error naming the file and the line,
//! never a silent repair.

use crate::store::{Records, Table};
use anyhow::{Result, bail};
use std::path::Path;

/// The key of a row: the text of its key columns (e.g. `epoch`, `step`, `row`).
pub type Key = Vec<String>;

/// Verify the CSV file at `path` against `header` and the `expected` keys (in order) of its rows
/// up to step `max_step`, the key columns being `key_cols` (which include `step`). Returns the
/// verified rows (those up to `max_step`) as written; the file itself is not changed.
pub fn verify_rows(
    path: &Path,
    header: &[String],
    key_cols: &[&str],
    expected: &[Key],
    max_step: usize,
) -> Result<Records> {
    Ok(verify_table(path, header, key_cols, expected, max_step)?.records())
}

/// [`verify_rows`] with the rows typed (read by the one reader, [`Table`]).
///
/// A last line without its newline is a row whose writing was cut by a kill: it is dropped if it
/// lies after the checkpoint and an error otherwise (it cannot be trusted: `1.858e-3` cut to
/// `1.858` still parses).
pub fn verify_table(
    path: &Path,
    header: &[String],
    key_cols: &[&str],
    expected: &[Key],
    max_step: usize,
) -> Result<Table> {
    let shown = path.display();
    if !path.is_file() {
        if expected.is_empty() {
            return Ok(Table::parse(path, format!("{}\n", header.join(",")).as_bytes())?);
        }
        bail!(
            "{shown} is missing, but the checkpoint being resumed (step {max_step}) follows {} rows of it; \
             restore the file or start the run again in a new directory",
            expected.len()
        );
    }
    let mut t = Table::read(path)?;
    if t.header != header {
        bail!(
            "{shown} line 1: the header is not this run's: expected `{}`, found `{}`",
            header.join(","),
            t.header.join(",")
        );
    }
    let keys: Vec<usize> = key_cols
        .iter()
        .map(|k| t.col(k).ok_or_else(|| anyhow::anyhow!("{shown}: no `{k}` column")))
        .collect::<Result<_>>()?;
    let step_col = t.col("step").ok_or_else(|| anyhow::anyhow!("{shown}: no `step` column"))?;
    let mut rows = vec![];
    let mut after = false;
    for row in std::mem::take(&mut t.rows) {
        let line = row.line;
        // a key is never empty (an empty cell of another column is a column added later)
        if let Some(&k) = keys.iter().find(|&&k| row.fields[k].is_empty()) {
            bail!("{shown} line {line}, column `{}`: empty, but it is a key of the row", header[k]);
        }
        let step = row.num(step_col);
        if step < 0.0 {
            bail!("{shown} line {line}, column `step`: negative");
        }
        if step > max_step as f64 {
            after = true;
            continue;
        }
        if after {
            bail!("{shown} line {line}: a row of step {step} after rows of later steps (the file is out of order)");
        }
        let key: Key = keys.iter().map(|&k| row.fields[k].clone()).collect();
        match expected.get(rows.len()) {
            Some(want) if *want == key => rows.push(row),
            Some(want) => bail!(
                "{shown} line {line}: expected the row ({}) = ({}), found ({}): rows are missing, repeated or altered",
                key_cols.join(", "),
                want.join(", "),
                key.join(", ")
            ),
            None => bail!(
                "{shown} line {line}: an unexpected row ({}) = ({}) before the checkpoint (step {max_step})",
                key_cols.join(", "),
                key.join(", ")
            ),
        }
    }
    if rows.len() < expected.len() {
        let cut = if t.cut.is_empty() { "" } else { " (its last line was cut off)" };
        bail!(
            "{shown}: {} rows up to the checkpoint (step {max_step}), expected {}{cut}; the first missing is ({}) = ({})",
            rows.len(),
            expected.len(),
            key_cols.join(", "),
            expected[rows.len()].join(", ")
        );
    }
    t.rows = rows;
    Ok(t)
}

/// The keys `(epoch, step, row)` of the rows of `metrics.csv` up to step `max_step`: the epoch
/// row at initialisation, one per completed epoch, and step rows every `log_every` steps inside
/// an epoch.
pub fn metrics_keys(steps_per_epoch: usize, log_every: usize, max_step: usize) -> Vec<Key> {
    let key = |e: usize, s: usize, kind: &str| vec![e.to_string(), s.to_string(), kind.to_string()];
    let mut out = vec![key(0, 0, "epoch")];
    for k in 1..=max_step {
        if k.is_multiple_of(steps_per_epoch) {
            out.push(key(k / steps_per_epoch, k, "epoch"));
        } else if log_every > 0 && k.is_multiple_of(log_every) {
            out.push(key(k / steps_per_epoch, k, "step"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Vec<String> {
        ["epoch", "step", "row", "train_loss"].iter().map(|s| s.to_string()).collect()
    }

    fn write(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("m.csv");
        std::fs::write(&p, text).unwrap();
        (d, p)
    }

    #[test]
    fn keys_of_epoch_and_step_rows() {
        let k = metrics_keys(4, 3, 8);
        let flat: Vec<String> = k.iter().map(|k| k.join(" ")).collect();
        assert_eq!(flat, ["0 0 epoch", "0 3 step", "1 4 epoch", "1 6 step", "2 8 epoch"]);
    }

    #[test]
    fn good_rows_pass_and_later_rows_are_dropped() {
        let (_d, p) = write("epoch,step,row,train_loss\n0,0,epoch,2.3e0\n1,4,epoch,1e0\n2,8,epoch,\n");
        let r = verify_rows(&p, &header(), &["epoch", "step", "row"], &metrics_keys(4, 0, 4), 4).unwrap();
        assert_eq!(r.rows.len(), 2);
        // a cut last line after the checkpoint is dropped too
        let (_d, p) = write("epoch,step,row,train_loss\n0,0,epoch,2.3e0\n1,4,epoch,1e0\n2,8,epo");
        assert_eq!(
            verify_rows(&p, &header(), &["epoch", "step", "row"], &metrics_keys(4, 0, 4), 4).unwrap().rows.len(),
            2
        );
    }

    #[test]
    fn damage_is_an_error_naming_file_and_line() {
        let keys = metrics_keys(4, 0, 8);
        for (text, needle) in [
            ("epoch,step,row,train_loss\n0,0,epoch,2.3e0\n1,4,epoch,1e0\n2,8,epoch,1.858", "cut off"),
            ("epoch,step,row,train_loss\n0,0,epoch,2.3e0\n1,4,epoch,x1e0\n2,8,epoch,1e0\n", "line 3"),
            ("epoch,step,row,train_loss\n0,0,epoch,2.3e0\n2,8,epoch,1e0\n", "line 3"),
            ("epoch,step,row,train_loss\n0,0,epoch,2.3e0\n0,0,epoch,2.3e0\n1,4,epoch,1e0\n2,8,epoch,1e0\n", "line 3"),
            ("epoch,step,row,train_loss\n0,0,epoch,2.3e0\n1,4,epoch\n2,8,epoch,1e0\n", "3 fields"),
            ("epoch,step,row,train_loss\n", "expected 3"),
            ("", "no header"),
            ("epoch,step,row,test_loss\n0,0,epoch,1\n", "header"),
        ] {
            let (_d, p) = write(text);
            let e = verify_rows(&p, &header(), &["epoch", "step", "row"], &keys, 8).unwrap_err().to_string();
            assert!(e.contains(needle) && e.contains("m.csv"), "{needle}: {e}");
        }
        let e = verify_rows(Path::new("/nonexistent/m.csv"), &header(), &["step"], &keys, 8).unwrap_err();
        assert!(e.to_string().contains("missing"), "{e}");
    }
}
