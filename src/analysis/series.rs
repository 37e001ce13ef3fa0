//! A run's epoch rows as columns ([`Series`]), read by the one reader of run records
//! ([`store::Table`]): a garbled cell is an error naming file, line and column, never a NaN.

use crate::config::{OptimMode, RunConfig};
use crate::run::Summary;
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
}

impl Series {
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
        let get = |i: usize| rows.iter().map(|r| r.num(i)).collect::<Vec<f64>>();
        let h = &t.header;
        let summary = Summary::read(&rd).ok();
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
            steps_per_epoch: summary.map(|s| s.steps_per_epoch).unwrap_or(0),
        })
    }
}
