//! The local executor: runs the points of a sweep in parallel worker processes
//! (`silab sweep point DIR --index i`), at most `jobs` at a time. libtorch's thread pool is
//! process-wide, so processes (not threads) are the unit of parallelism. Points already done are
//! skipped; interrupted ones resume from their last checkpoint.

use super::{Manifest, SweepDir, point_state};
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
        queue.extend(m.points.iter().filter(|p| !point_state(sd, p).is_finished()).map(|p| (k, p.index)));
        store::create_dir(&sd.logs())?;
    }
    queue.reverse();
    let pool = Pool { sds, ms: &ms, exe };
    let mut report = Report { done: total - queue.len(), ..Default::default() };
    let mut running: Vec<Worker> = vec![];
    progress.start("points", total, report.done);
    let status = |r: &Report| if r.failed.is_empty() { String::new() } else { format!("{} failed", r.failed.len()) };
    loop {
        while running.len() < jobs.max(1)
            && let Some(at) = queue.pop()
        {
            if let Some(w) = pool.start(at, &mut report, progress)? {
                running.push(w);
            }
        }
        if running.is_empty() {
            break;
        }
        running = pool.reap(running, &mut report, progress)?;
        progress.set(report.done, &status(&report));
        progress.parts(&pool.parts(&running), report.failed.len());
        if !running.is_empty() {
            std::thread::sleep(Duration::from_millis(250));
        }
    }
    progress.set(report.done, &status(&report));
    progress.parts(&[], report.failed.len());
    progress.finish();
    Ok(report)
}

/// A running worker: its (sweep, point), its process and the point's epochs.
struct Worker {
    at: (usize, usize),
    child: Child,
    epochs: usize,
}

/// The sweeps [`run_all`] runs, and the worker binary.
struct Pool<'a> {
    sds: &'a [SweepDir],
    ms: &'a [Manifest],
    exe: &'a Path,
}

impl Pool<'_> {
    /// How progress lines name point `i` of sweep `k`: by its sweep too when there are several.
    fn name(&self, k: usize, i: usize) -> String {
        if self.sds.len() == 1 {
            return format!("point {i}");
        }
        // an arm's sweep is `arms/<key>/sweep`: named by its key
        let root = &self.sds[k].root;
        let dir = if root.file_name().is_some_and(|f| f == "sweep") { root.parent() } else { Some(root.as_path()) };
        let dir = dir.and_then(|p| p.file_name()).map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        format!("{dir} point {i}")
    }

    /// Start a worker on point `i` of sweep `k`, unless another process runs it (then it is
    /// reported busy and `None` returned).
    fn start(
        &self,
        (k, i): (usize, usize),
        report: &mut Report,
        progress: &mut dyn Progress,
    ) -> Result<Option<Worker>> {
        let (sd, m) = (&self.sds[k], &self.ms[k]);
        if let Some(holder) = store::Lock::holder(&m.points[i].run_dir(sd).lock_file()) {
            progress.warn(&format!("{} is being run by {holder}: not started again", self.name(k, i)));
            report.busy.push((i, holder));
            return Ok(None);
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(sd.log(i))
            .map_err(|e| store::StoreError::io(&sd.log(i), e))?;
        let child = Command::new(self.exe)
            .args(["sweep", "point"])
            .arg(&sd.root)
            .args(["--index", &i.to_string()])
            .env(PARENT_ENV, std::process::id().to_string())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        Ok(Some(Worker { at: (k, i), child, epochs: epochs_of(sd, m, i) }))
    }

    /// Count the workers that ended (done, or failed with a line naming the log); return the
    /// others.
    fn reap(&self, running: Vec<Worker>, report: &mut Report, progress: &mut dyn Progress) -> Result<Vec<Worker>> {
        let mut still = vec![];
        for mut w in running {
            let (k, i) = w.at;
            let (sd, m) = (&self.sds[k], &self.ms[k]);
            match w.child.try_wait()? {
                None => still.push(w),
                Some(status) if status.success() && point_state(sd, &m.points[i]).is_finished() => report.done += 1,
                Some(_) => {
                    let (name, label, log) = (self.name(k, i), m.points[i].label(), sd.log(i));
                    progress.line(&format!("{name} ({label}) failed; its log: {}", log.display()));
                    report.failed.push((i, log));
                }
            }
        }
        Ok(still)
    }

    /// The running points for the progress display, each with a global id.
    fn parts(&self, running: &[Worker]) -> Vec<Part> {
        let offset = |k: usize| self.ms[..k].iter().map(|m| m.points.len()).sum::<usize>();
        running
            .iter()
            .map(|w| {
                let (k, i) = w.at;
                Part {
                    id: offset(k) + i,
                    label: format!("{} {}", self.name(k, i), self.ms[k].points[i].label()),
                    done: epochs_done(&self.sds[k], &self.ms[k], i),
                    total: w.epochs,
                }
            })
            .collect()
    }
}
