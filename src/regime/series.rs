//! A run's epoch rows as columns ([`Series`]), read by the one reader of run records
//! ([`store::Table`]): a garbled cell is an error naming file, line and column, never a NaN.

use crate::config::{OptimMode, RunConfig};
use crate::schema::{self, col};
use crate::store::{self, RunDir};
use anyhow::{Result, bail};
use std::path::Path;

/// The epoch rows of one run, as columns, plus what the analysis needs from its config.
#[derive(Clone, Debug, Default)]
pub struct Series {
    pub epoch: Vec<f64>,
    pub train_loss: Vec<f64>,
    pub train_acc: Vec<f64>,
    pub test_acc: Vec<f64>,
    pub rho: Vec<f64>,
    pub elr: Vec<f64>,
    pub eff_grad_norm: Vec<f64>,
    /// Mean angular update per step over each epoch: `("all", angle_mean)` for the whole SI
    /// group, then one entry per `angle_mean:<name>` column (SI tensors and groups).
    pub angles: Vec<(String, Vec<f64>)>,
    /// Predicted equilibrium angle per step (`angle_eq`) at each epoch row.
    pub angle_eq: Vec<f64>,
    pub lr: f64,
    pub wd: f64,
    pub classes: usize,
    pub steps_per_epoch: usize,
    /// The first epoch row where the loss, rho or a weight norm was written as a non-finite
    /// number (`inf`, `NaN`; an empty cell is "not measured", not this): the run diverged there,
    /// whatever its later rows say.
    pub nonfinite: Option<NonFinite>,
}

/// Where a run's state first went non-finite.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct NonFinite {
    /// The epoch of the row.
    pub epoch: usize,
    /// The column holding the non-finite value.
    pub column: String,
}

/// The columns whose non-finite value means the run's state is no longer a number: the loss,
/// the norms of the weights (rho and `norm:<tensor>`).
fn state_column(c: &str) -> bool {
    c == col::TRAIN_LOSS.name() || c == col::TEST_LOSS.name() || c == col::RHO.name() || c.starts_with("norm:")
}

/// The first epoch row with a non-finite number (written, not empty) in a state column.
fn first_nonfinite(t: &store::Table, rows: &[&store::TypedRow], epoch: usize) -> Option<NonFinite> {
    let cols: Vec<usize> = (0..t.header.len()).filter(|&i| state_column(&t.header[i])).collect();
    rows.iter().find_map(|r| {
        let bad = cols.iter().find(|&&i| {
            let written = r.fields.get(i).is_some_and(|f| !f.trim().is_empty());
            written && !r.num(i).is_finite()
        })?;
        Some(NonFinite { epoch: r.num(epoch) as usize, column: t.header[*bad].clone() })
    })
}

impl Series {
    /// The first `k` epoch rows (what the run had logged after epoch `k - 1`), with the
    /// non-finite marker only if it falls inside them.
    pub fn prefix(&self, k: usize) -> Series {
        let cut = |v: &Vec<f64>| v[..k.min(v.len())].to_vec();
        let last = self.epoch.get(k.min(self.epoch.len()).wrapping_sub(1)).copied();
        Series {
            epoch: cut(&self.epoch),
            train_loss: cut(&self.train_loss),
            train_acc: cut(&self.train_acc),
            test_acc: cut(&self.test_acc),
            rho: cut(&self.rho),
            elr: cut(&self.elr),
            eff_grad_norm: cut(&self.eff_grad_norm),
            angles: self.angles.iter().map(|(n, a)| (n.clone(), cut(a))).collect(),
            angle_eq: cut(&self.angle_eq),
            nonfinite: self.nonfinite.clone().filter(|nf| last.is_some_and(|e| nf.epoch as f64 <= e)),
            ..self.clone()
        }
    }

    /// Read the epoch rows of a run directory (a run without any, only a header, is an error).
    pub fn from_run(dir: &Path) -> Result<Series> {
        let rd = RunDir::new(dir);
        let cfg = RunConfig::from_file(&rd.config(), &[])?;
        let t = store::Table::read(&rd.metrics())?;
        let (e, tl, ta, te, r, el, g) = (
            t.need(col::EPOCH)?,
            t.need(col::TRAIN_LOSS)?,
            t.need(col::TRAIN_ACC)?,
            t.need(col::TEST_ACC)?,
            t.need(col::RHO)?,
            t.need(col::ELR)?,
            t.need(col::EFF_GRAD_NORM)?,
        );
        t.need(col::ROW)?;
        let rows: Vec<&store::TypedRow> = t.epoch_rows().collect();
        if rows.is_empty() {
            let what = if t.rows.is_empty() { "only a header" } else { "only step rows" };
            bail!("{}: no epoch rows ({what}): the run has logged no epoch to analyse yet", t.path.display());
        }
        let nonfinite = first_nonfinite(&t, &rows, e);
        let get = |i: usize| rows.iter().map(|r| r.num(i)).collect::<Vec<f64>>();
        let h = &t.header;
        // summary.json read as plain JSON: this module sits below `run` (whose trainer reads
        // series for its early rule), so it does not name `run::Summary`
        let steps_per_epoch = store::read_json::<serde_json::Value>(&rd.summary())
            .ok()
            .and_then(|v| v.get("steps_per_epoch").and_then(|n| n.as_u64()))
            .unwrap_or(0) as usize;
        // angle columns are absent from runs made before they existed (or with metrics.angles off)
        let mut angles = vec![];
        let mut angle_eq = vec![];
        for (i, c) in h.iter().enumerate() {
            if c == col::ANGLE_MEAN.name() {
                angles.insert(0, ("all".to_string(), get(i)));
            } else if let Some(name) = c.strip_prefix(schema::ANGLE_MEAN_PREFIX) {
                // an SI group of one tensor repeats that tensor's column: listed once
                let a = get(i);
                let same =
                    |b: &Vec<f64>| a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits());
                if !angles.iter().any(|(_, b)| same(b)) {
                    angles.push((name.to_string(), a));
                }
            } else if c == col::ANGLE_EQ.name() {
                angle_eq = get(i);
            }
        }
        Ok(Series {
            epoch: get(e),
            train_loss: get(tl),
            train_acc: get(ta),
            test_acc: get(te),
            rho: get(r),
            elr: get(el),
            eff_grad_norm: get(g),
            angles,
            angle_eq,
            lr: cfg.optim.lr,
            wd: if cfg.optim.mode == OptimMode::Full { cfg.optim.wd } else { 0.0 },
            classes: cfg.classes(),
            steps_per_epoch,
            nonfinite,
        })
    }
}
