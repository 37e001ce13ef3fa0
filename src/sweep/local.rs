//! The local executor: runs the points of a sweep in parallel worker processes
//! (`silab sweep point DIR --index i`), at most `jobs` at a time. libtorch's thread pool is
//! process-wide, so processes (not threads) are the unit of parallelism. Points already done are
//! skipped; interrupted ones resume from their last checkpoint.

use super::{Manifest, PointState, SweepDir, point_state};
use crate::progress::{Part, Progress};
use crate::store;
use anyhow::Result;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// What a local sweep run did.
#[derive(Debug, Default)]
pub struct Report {
    pub done: usize,
    /// `(point index, log file)` of each point whose worker failed.
    pub failed: Vec<(usize, PathBuf)>,
    /// `(point index, holder)` of each point another process was running (not started again).
    pub busy: Vec<(usize, String)>,
}

/// The environment variable through which a local worker learns its parent sweep's pid.
const PARENT_ENV: &str = "SILAB_SWEEP_PARENT";

/// In a local worker (`silab sweep point`, started by [`run`]): die when the sweep that started
/// it dies, so that killing `silab sweep` leaves no orphan worker training on (Linux:
/// `PR_SET_PDEATHSIG`; the run resumes from its checkpoint next time). Elsewhere, and for Slurm
/// tasks, a no-op.
pub fn die_with_parent() {
    #[cfg(target_os = "linux")]
    if let Some(parent) = std::env::var(PARENT_ENV).ok().and_then(|p| p.parse::<i32>().ok()) {
        // SAFETY: prctl with PR_SET_PDEATHSIG only sets a signal for this process.
        unsafe {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
            // the parent may have died before the call: then we are already an orphan
            if libc::getppid() != parent {
                libc::raise(libc::SIGKILL);
            }
        }
    }
}

/// Default number of parallel runs: available cores / threads per run (at least 1).
pub fn default_jobs(threads_per_run: usize) -> usize {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    (cores / threads_per_run.max(1)).max(1)
}

fn epochs_done(sd: &SweepDir, m: &Manifest, i: usize) -> usize {
    super::epochs_done(&m.points[i].run_dir(sd))
}

fn epochs_of(sd: &SweepDir, m: &Manifest, i: usize) -> usize {
    crate::config::RunConfig::from_file(&m.points[i].run_dir(sd).config(), &[]).map(|c| c.train.epochs).unwrap_or(0)
}

/// Run every point that is not done, with `exe` (the `silab` binary) as the worker. `progress`
/// hears about twice a second: points done (`set`), the running ones with their epochs
/// (`parts`), and a line for each point that fails.
pub fn run(sd: &SweepDir, jobs: usize, exe: &Path, progress: &mut dyn Progress) -> Result<Report> {
    run_all(std::slice::from_ref(sd), jobs, exe, progress)
}

/// [`run`] over several sweeps with one pool of `jobs` workers, so that no core idles while
/// another sweep still has points (the arms of an experiment). Point indices in the report are
/// those of each point's own sweep; its log path says which sweep.
pub fn run_all(sds: &[SweepDir], jobs: usize, exe: &Path, progress: &mut dyn Progress) -> Result<Report> {
    let ms: Vec<Manifest> = sds.iter().map(Manifest::read).collect::<Result<_>>()?;
    let total: usize = ms.iter().map(|m| m.points.len()).sum();
    // (sweep, point) pairs, the first to run last in the vector
    let mut queue: Vec<(usize, usize)> = vec![];
    for (k, (sd, m)) in sds.iter().zip(&ms).enumerate() {
        queue.extend(m.points.iter().filter(|p| point_state(sd, p) != PointState::Done).map(|p| (k, p.index)));
        store::create_dir(&sd.logs())?;
    }
    queue.reverse();
    let mut report = Report { done: total - queue.len(), ..Default::default() };
    let mut running: Vec<((usize, usize), Child, usize)> = vec![];
    // a global id per point for the progress display
    let offset: Vec<usize> = ms
        .iter()
        .scan(0, |acc, m| {
            let o = *acc;
            *acc += m.points.len();
            Some(o)
        })
        .collect();
    let many = sds.len() > 1;
    let name = |k: usize, i: usize| {
        if many {
            // an arm's sweep is `arms/<key>/sweep`: named by its key
            let root = &sds[k].root;
            let dir = if root.file_name().is_some_and(|f| f == "sweep") { root.parent() } else { Some(root.as_path()) };
            let dir = dir.and_then(|p| p.file_name()).map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
            format!("{dir} point {i}")
        } else {
            format!("point {i}")
        }
    };
    progress.start("points", total, report.done);
    let status = |r: &Report| if r.failed.is_empty() { String::new() } else { format!("{} failed", r.failed.len()) };
    loop {
        while running.len() < jobs.max(1)
            && let Some((k, i)) = queue.pop()
        {
            let (sd, m) = (&sds[k], &ms[k]);
            if let Some(holder) = store::Lock::holder(&m.points[i].run_dir(sd).lock_file()) {
                progress.warn(&format!("{} is being run by {holder}: not started again", name(k, i)));
                report.busy.push((i, holder));
                continue;
            }
            let log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(sd.log(i))
                .map_err(|e| store::StoreError::io(&sd.log(i), e))?;
            let child = Command::new(exe)
                .args(["sweep", "point"])
                .arg(&sd.root)
                .args(["--index", &i.to_string()])
                .env(PARENT_ENV, std::process::id().to_string())
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log)
                .spawn()?;
            running.push(((k, i), child, epochs_of(sd, m, i)));
        }
        if running.is_empty() {
            break;
        }
        let mut still = vec![];
        for ((k, i), mut child, epochs) in running {
            let (sd, m) = (&sds[k], &ms[k]);
            match child.try_wait()? {
                None => still.push(((k, i), child, epochs)),
                Some(status) => {
                    if status.success() && point_state(sd, &m.points[i]) == PointState::Done {
                        report.done += 1;
                    } else {
                        progress.line(&format!(
                            "{} ({}) failed; its log: {}",
                            name(k, i),
                            m.points[i].label(),
                            sd.log(i).display()
                        ));
                        report.failed.push((i, sd.log(i)));
                    }
                }
            }
        }
        running = still;
        let parts: Vec<Part> = running
            .iter()
            .map(|((k, i), _, e)| Part {
                id: offset[*k] + *i,
                label: format!("{} {}", name(*k, *i), ms[*k].points[*i].label()),
                done: epochs_done(&sds[*k], &ms[*k], *i),
                total: *e,
            })
            .collect();
        progress.set(report.done, &status(&report));
        progress.parts(&parts, report.failed.len());
        if !running.is_empty() {
            std::thread::sleep(Duration::from_millis(250));
        }
    }
    progress.set(report.done, &status(&report));
    progress.parts(&[], report.failed.len());
    progress.finish();
    Ok(report)
}
