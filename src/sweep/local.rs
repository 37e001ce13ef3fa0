//! The local executor: runs the points of a sweep in parallel worker processes
//! (`silab sweep point DIR --index i`), at most `jobs` at a time. libtorch's thread pool is
//! process-wide, so processes (not threads) are the unit of parallelism. Points already done are
//! skipped; interrupted ones resume from their last checkpoint.

use super::{Manifest, PointState, SweepDir, point_state};
use anyhow::Result;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Progress of one point, for display.
#[derive(Clone, Debug, PartialEq)]
pub struct PointProgress {
    pub index: usize,
    pub epochs_done: usize,
    pub epochs: usize,
}

/// Receives the state of the sweep while it runs.
pub trait SweepObserver {
    /// Called about twice a second: how many points are done, how many failed, the running ones.
    fn update(&mut self, _done: usize, _failed: usize, _total: usize, _running: &[PointProgress]) {}
    /// A point failed: its index and its log file.
    fn failed(&mut self, _index: usize, _log: &Path) {}
}

/// An observer that ignores everything.
pub struct Quiet;
impl SweepObserver for Quiet {}

/// What a local sweep run did.
#[derive(Debug, Default)]
pub struct Report {
    pub done: usize,
    /// `(point index, log file)` of each point whose worker failed.
    pub failed: Vec<(usize, PathBuf)>,
}

/// Default number of parallel runs: available cores / threads per run (at least 1).
pub fn default_jobs(threads_per_run: usize) -> usize {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    (cores / threads_per_run.max(1)).max(1)
}

fn epochs_done(sd: &SweepDir, m: &Manifest, i: usize) -> usize {
    super::epochs_done(&sd.run_dir(&m.points[i]))
}

fn epochs_of(sd: &SweepDir, m: &Manifest, i: usize) -> usize {
    crate::config::RunConfig::from_file(&sd.run_dir(&m.points[i]).config(), &[]).map(|c| c.train.epochs).unwrap_or(0)
}

/// Run every point that is not done, with `exe` (the `silab` binary) as the worker.
pub fn run(sd: &SweepDir, jobs: usize, exe: &Path, obs: &mut dyn SweepObserver) -> Result<Report> {
    let m = sd.manifest()?;
    let total = m.points.len();
    let mut queue: Vec<usize> =
        m.points.iter().filter(|p| point_state(sd, p) != PointState::Done).map(|p| p.index).collect();
    queue.reverse();
    let mut report = Report { done: total - queue.len(), ..Default::default() };
    let mut running: Vec<(usize, Child, usize)> = vec![];
    std::fs::create_dir_all(sd.root.join("logs"))?;
    loop {
        while running.len() < jobs.max(1)
            && let Some(i) = queue.pop()
        {
            let log = std::fs::OpenOptions::new().create(true).append(true).open(sd.log(i))?;
            let child = Command::new(exe)
                .args(["sweep", "point"])
                .arg(&sd.root)
                .args(["--index", &i.to_string()])
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log)
                .spawn()?;
            running.push((i, child, epochs_of(sd, &m, i)));
        }
        if running.is_empty() {
            break;
        }
        let mut still = vec![];
        for (i, mut child, epochs) in running {
            match child.try_wait()? {
                None => still.push((i, child, epochs)),
                Some(status) => {
                    if status.success() && point_state(sd, &m.points[i]) == PointState::Done {
                        report.done += 1;
                    } else {
                        obs.failed(i, &sd.log(i));
                        report.failed.push((i, sd.log(i)));
                    }
                }
            }
        }
        running = still;
        let progress: Vec<PointProgress> = running
            .iter()
            .map(|(i, _, e)| PointProgress { index: *i, epochs_done: epochs_done(sd, &m, *i), epochs: *e })
            .collect();
        obs.update(report.done, report.failed.len(), total, &progress);
        if !running.is_empty() {
            std::thread::sleep(Duration::from_millis(250));
        }
    }
    obs.update(report.done, report.failed.len(), total, &[]);
    Ok(report)
}
