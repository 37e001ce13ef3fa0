//! Where every point of a sweep stands (`silab sweep status`): read from the sweep directory
//! alone (run directories, attempt records) plus the Slurm queue when there is one.

use super::slurm_state::SlurmState;
use super::{Attempt, Manifest, SweepDir, hostname, pid_alive, point_state};
use crate::config::RunConfig;
use crate::run::RunState;
use crate::store::{self, RunDir};
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// One point's line of `silab sweep status`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PointReport {
    pub index: usize,
    /// One of [`RunState::REPORTED`].
    pub status: RunState,
    /// Epochs completed so far (from `metrics.csv`) and in all.
    pub epochs_done: usize,
    pub epochs: usize,
    /// Why (failed), where (running), or empty.
    pub detail: String,
    /// The point's log file.
    pub log: PathBuf,
}

/// What the Slurm queue says of a sweep's array tasks: point index -> (task `JOB_TASK`, its
/// state). `None` when there is no queue to ask.
pub type QueueView = Option<std::collections::HashMap<usize, (String, SlurmState)>>;

/// Epoch rows written so far to a run's metrics.csv (the epoch-0 row excluded; 0 when there is
/// no readable file yet: for progress displays; `sweep status` uses [`read_epochs_done`]).
pub fn epochs_done(rd: &RunDir) -> usize {
    read_epochs_done(rd).unwrap_or(0)
}

/// [`epochs_done`], with a damaged file an error naming its line and column ([`store::Table`]).
pub fn read_epochs_done(rd: &RunDir) -> Result<usize, store::RecordsError> {
    let path = rd.metrics();
    if !path.is_file() {
        return Ok(0);
    }
    match store::Table::read(&path) {
        Ok(t) => Ok(t.epoch_rows().count().saturating_sub(1)),
        // a run killed while writing its first line: nothing done yet
        Err(store::RecordsError::NoHeader { .. }) => Ok(0),
        Err(e) => Err(e),
    }
}

/// Where every point of the sweep in `sd` stands, from its run directory and attempt record, and
/// from the Slurm queue when `queue` is given (see [`super::slurm::queue`]); `finished` maps Slurm
/// tasks that left the queue to their final state when accounting (sacct) knows it.
pub fn status(
    sd: &SweepDir,
    queue: &QueueView,
    finished: &std::collections::HashMap<String, SlurmState>,
) -> Result<Vec<PointReport>> {
    let m = Manifest::read(sd)?;
    let host = hostname();
    let mut out = vec![];
    for p in &m.points {
        let rd = p.run_dir(sd);
        let epochs = RunConfig::from_file(&rd.config(), &[]).map(|c| c.train.epochs).unwrap_or(0);
        let log = sd.log(p.index);
        let queued = queue.as_ref().and_then(|q| q.get(&p.index));
        let state = point_state(sd, p);
        let (status, detail) = if state.is_finished() {
            (RunState::Done, String::new())
        } else if let Some((task, slurm)) = queued {
            // in the queue: waiting, or holding the point (running, completing, suspended...)
            let status = if slurm.run_state() == RunState::Queued { RunState::Queued } else { RunState::Running };
            (status, format!("slurm task {task} {}", slurm.name().to_lowercase()))
        } else {
            from_attempt(Attempt::read(sd, p).as_ref(), state, queue.is_some(), finished, &host)
        };
        out.push(PointReport { index: p.index, status, epochs_done: read_epochs_done(&rd)?, epochs, detail, log });
    }
    Ok(out)
}

/// Where an unfinished point that is not in the Slurm queue stands, from its attempt record
/// (`queue_known`: there is a queue to look for its task in).
fn from_attempt(
    attempt: Option<&Attempt>,
    state: RunState,
    queue_known: bool,
    finished: &std::collections::HashMap<String, SlurmState>,
    host: &str,
) -> (RunState, String) {
    match attempt {
        Some(a) if a.status == RunState::Failed => {
            (RunState::Failed, format!("error: {}", a.error.clone().unwrap_or_default()))
        }
        Some(a) if a.status == RunState::Running => match (&a.slurm_task, queue_known) {
            (Some(task), true) => {
                let how = finished
                    .get(task)
                    .map(|s| s.name().to_lowercase())
                    .unwrap_or_else(|| "cancelled, timed out, preempted or killed".into());
                (RunState::Failed, format!("slurm task {task} left the queue unfinished ({how})"))
            }
            (Some(task), false) => (RunState::Running, format!("slurm task {task} (no queue to check it against)")),
            (None, _) if a.host != host => {
                (RunState::Running, format!("pid {} on {} (another host, not checked)", a.pid, a.host))
            }
            (None, _) if pid_alive(a.pid) => (RunState::Running, format!("pid {}", a.pid)),
            (None, _) => (RunState::Failed, format!("interrupted: its process {} is gone", a.pid)),
        },
        _ if state == RunState::Running => {
            (RunState::Failed, "started but unfinished, and no process is recorded for it".into())
        }
        _ => (RunState::Pending, String::new()),
    }
}

/// Counts per reported state, in [`RunState::REPORTED`] order.
pub fn status_counts(reports: &[PointReport]) -> Vec<(RunState, usize)> {
    RunState::REPORTED.iter().map(|&s| (s, reports.iter().filter(|r| r.status == s).count())).collect()
}

/// `silab sweep status` as text: the counts, then every point that is not done with why and its
/// log. `jobs` are the Slurm job ids of the sweep's submissions.
pub fn render(sd: &SweepDir, reports: &[PointReport], jobs: &[String]) -> String {
    let c: Vec<String> = status_counts(reports).iter().map(|(s, n)| format!("{n} {}", s.name())).collect();
    let via = if jobs.is_empty() { String::new() } else { format!(" (slurm jobs {})", jobs.join(", ")) };
    let mut out = format!("{}: {} points: {}{via}\n", sd.root.display(), reports.len(), c.join(", "));
    for r in reports.iter().filter(|r| r.status != RunState::Done) {
        out += &format!(
            "  point {:>4}  {:<8} epoch {}/{}  {}log {}\n",
            r.index,
            r.status.name(),
            r.epochs_done,
            r.epochs,
            if r.detail.is_empty() { String::new() } else { format!("{}; ", r.detail) },
            r.log.display()
        );
    }
    out
}

/// `silab sweep status --json`: one object with the counts and every point.
pub fn to_json(sd: &SweepDir, reports: &[PointReport], jobs: &[String]) -> serde_json::Value {
    let c: serde_json::Map<String, serde_json::Value> =
        status_counts(reports).iter().map(|(s, n)| (s.name().to_string(), (*n).into())).collect();
    serde_json::json!({"dir": sd.root, "points": reports.len(), "counts": c, "slurm_jobs": jobs, "point_status": reports})
}
