//! Where every point of a sweep stands (`silab sweep status`): read from the sweep directory
//! alone (run directories, attempt records) plus the Slurm queue when there is one.

use super::{Attempt, AttemptStatus, Manifest, PointState, SweepDir, hostname, pid_alive, point_state};
use crate::config::RunConfig;
use crate::store::{self, RunDir};
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Where a point stands, for `silab sweep status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The run completed.
    Done,
    /// A live process or Slurm task is running it.
    Running,
    /// Waiting in the Slurm queue.
    Queued,
    /// Its last attempt ended without completing the run: an error, or killed (cancelled, time
    /// limit, preempted). Resuming it continues from its latest checkpoint.
    Failed,
    /// Never started.
    Pending,
}

impl Status {
    pub const ALL: [Status; 5] = [Status::Done, Status::Running, Status::Queued, Status::Failed, Status::Pending];
    pub fn name(self) -> &'static str {
        match self {
            Status::Done => "done",
            Status::Running => "running",
            Status::Queued => "queued",
            Status::Failed => "failed",
            Status::Pending => "pending",
        }
    }
}

/// One point's line of `silab sweep status`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PointReport {
    pub index: usize,
    pub status: Status,
    /// Epochs completed so far (from `metrics.csv`) and in all.
    pub epochs_done: usize,
    pub epochs: usize,
    /// Why (failed), where (running), or empty.
    pub detail: String,
    /// The point's log file.
    pub log: PathBuf,
}

/// What the Slurm queue says of a sweep's array tasks: point index -> (task `JOB_TASK`, state as
/// squeue prints it, e.g. `RUNNING`, `PENDING`). `None` when there is no queue to ask.
pub type QueueView = Option<std::collections::HashMap<usize, (String, String)>>;

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
/// from the Slurm queue when `queue` is given (see [`slurm::queue`]); `finished` maps Slurm tasks
/// that left the queue to their final state when accounting (sacct) knows it.
pub fn status(
    sd: &SweepDir,
    queue: &QueueView,
    finished: &std::collections::HashMap<String, String>,
) -> Result<Vec<PointReport>> {
    let m = Manifest::read(sd)?;
    let host = hostname();
    let mut out = vec![];
    for p in &m.points {
        let rd = p.run_dir(sd);
        let epochs = RunConfig::from_file(&rd.config(), &[]).map(|c| c.train.epochs).unwrap_or(0);
        let log = sd.log(p.index);
        let attempt = Attempt::read(sd, p);
        let queued = queue.as_ref().and_then(|q| q.get(&p.index));
        let state = point_state(sd, p);
        let (status, detail) = if state == PointState::Done {
            (Status::Done, String::new())
        } else if let Some((task, state)) = queued {
            match state.as_str() {
                "PENDING" | "REQUEUED" | "REQUEUE_HOLD" | "REQUEUE_FED" => {
                    (Status::Queued, format!("slurm task {task} {}", state.to_lowercase()))
                }
                _ => (Status::Running, format!("slurm task {task} {}", state.to_lowercase())),
            }
        } else {
            match &attempt {
                Some(a) if a.status == AttemptStatus::Failed => {
                    (Status::Failed, format!("error: {}", a.error.clone().unwrap_or_default()))
                }
                Some(a) if a.status == AttemptStatus::Running => match (&a.slurm_task, queue) {
                    (Some(task), Some(_)) => {
                        let how = finished
                            .get(task)
                            .map(|s| s.to_lowercase())
                            .unwrap_or_else(|| "cancelled, timed out, preempted or killed".into());
                        (Status::Failed, format!("slurm task {task} left the queue unfinished ({how})"))
                    }
                    (Some(task), None) => {
                        (Status::Running, format!("slurm task {task} (no queue to check it against)"))
                    }
                    (None, _) if a.host != host => {
                        (Status::Running, format!("pid {} on {} (another host, not checked)", a.pid, a.host))
                    }
                    (None, _) if pid_alive(a.pid) => (Status::Running, format!("pid {}", a.pid)),
                    (None, _) => (Status::Failed, format!("interrupted: its process {} is gone", a.pid)),
                },
                _ if state == PointState::Started => {
                    (Status::Failed, "started but unfinished, and no process is recorded for it".into())
                }
                _ => (Status::Pending, String::new()),
            }
        };
        out.push(PointReport { index: p.index, status, epochs_done: read_epochs_done(&rd)?, epochs, detail, log });
    }
    Ok(out)
}

/// Counts per [`Status`], in [`Status::ALL`] order.
pub fn status_counts(reports: &[PointReport]) -> Vec<(Status, usize)> {
    Status::ALL.iter().map(|&s| (s, reports.iter().filter(|r| r.status == s).count())).collect()
}

/// `silab sweep status` as text: the counts, then every point that is not done with why and its
/// log. `jobs` are the Slurm job ids of the sweep's submissions.
pub fn render(sd: &SweepDir, reports: &[PointReport], jobs: &[String]) -> String {
    let c: Vec<String> = status_counts(reports).iter().map(|(s, n)| format!("{n} {}", s.name())).collect();
    let via = if jobs.is_empty() { String::new() } else { format!(" (slurm jobs {})", jobs.join(", ")) };
    let mut out = format!("{}: {} points: {}{via}\n", sd.root.display(), reports.len(), c.join(", "));
    for r in reports.iter().filter(|r| r.status != Status::Done) {
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
