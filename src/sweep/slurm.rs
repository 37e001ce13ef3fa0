//! The Slurm executor: a sweep becomes one `sbatch --array` job whose task i runs point i
//! (`silab sweep point DIR --index $SLURM_ARRAY_TASK_ID`), writing into the shared sweep
//! directory. Slurm schedules; silab only writes the script, submits it, and reads the queue.
//!
//! ```text
//! DIR/slurm/options.json       the options of the latest submission (resubmit reuses them)
//! DIR/slurm/submissions.json   every submission: job id, points, script, time
//! DIR/slurm/submit-NN.sh       the batch script of submission NN
//! DIR/logs/pNNNN.log           task output (appended across attempts, as local workers do)
//! ```
//! Tasks are idempotent ([`super::run_point_as`]): a requeued, repeated or resubmitted task skips
//! a done point and resumes a started one from its latest checkpoint, so a task killed by
//! `scancel`, a time limit or preemption loses at most the epochs since that checkpoint
//! (`train.checkpoint_every`).

pub use super::slurm_state::SlurmState;
use super::{Manifest, PointReport, QueueView, SweepDir};
use crate::config::{DeviceName, RunConfig};
use crate::run::RunState;
use crate::store;
use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

/// `sbatch` options of a sweep's array job. Unset options are left to the cluster's defaults,
/// except `cpus_per_task` (default: the points' `train.threads`) and `gpus_per_task` (default: 1
/// when the points train on CUDA).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct SlurmOptions {
    pub partition: Option<String>,
    /// Time limit per task: `MM`, `MM:SS`, `HH:MM:SS`, `D-HH`, `D-HH:MM` or `D-HH:MM:SS`.
    pub time: Option<String>,
    pub cpus_per_task: Option<usize>,
    pub gpus_per_task: Option<usize>,
    /// At most this many tasks at once (`--array=...%M`).
    pub max_parallel: Option<usize>,
    /// Further `sbatch` options, one per entry, e.g. `--account=proj` or `--qos=long`.
    pub extra: Vec<String>,
}

impl SlurmOptions {
    /// Options given in `newer` replace these; `extra` is replaced when `newer` has any.
    pub fn updated(&self, newer: &SlurmOptions) -> SlurmOptions {
        SlurmOptions {
            partition: newer.partition.clone().or_else(|| self.partition.clone()),
            time: newer.time.clone().or_else(|| self.time.clone()),
            cpus_per_task: newer.cpus_per_task.or(self.cpus_per_task),
            gpus_per_task: newer.gpus_per_task.or(self.gpus_per_task),
            max_parallel: newer.max_parallel.or(self.max_parallel),
            extra: if newer.extra.is_empty() { self.extra.clone() } else { newer.extra.clone() },
        }
    }

    /// Check the values before anything is written or submitted.
    pub fn validate(&self) -> Result<()> {
        if let Some(t) = &self.time {
            let ok = !t.is_empty()
                && t.chars().all(|c| c.is_ascii_digit() || c == ':' || c == '-')
                && t.split(['-', ':']).all(|f| !f.is_empty())
                && t.matches('-').count() <= 1
                && t.matches(':').count() <= 2;
            if !ok {
                bail!("--time `{t}`: expected MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS (Slurm's time formats)");
            }
        }
        for (name, v) in [("--cpus-per-task", self.cpus_per_task), ("--max-parallel", self.max_parallel)] {
            if v == Some(0) {
                bail!("{name} must be >= 1");
            }
        }
        if let Some(p) = &self.partition
            && (p.is_empty() || p.contains(char::is_whitespace))
        {
            bail!("--partition `{p}`: expected a partition name");
        }
        for e in &self.extra {
            if !e.starts_with('-') || e.contains('\n') {
                bail!("--sbatch-arg `{e}`: expected one sbatch option such as --account=proj");
            }
        }
        Ok(())
    }
}

/// One `sbatch` submission of (some of) a sweep's points.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Submission {
    /// The array job's id.
    pub job_id: String,
    /// The points (array task ids) it runs.
    pub points: Vec<usize>,
    /// The batch script, relative to the sweep directory.
    pub script: String,
    /// Unix time of the submission.
    pub submitted: f64,
}

/// Slurm's `--array` value for `indices`: runs of consecutive indices as ranges (`0-3,5,7-9`),
/// then `%M` when at most M tasks may run at once.
pub fn array_spec(indices: &[usize], max_parallel: Option<usize>) -> String {
    let mut v = indices.to_vec();
    v.sort_unstable();
    v.dedup();
    let mut parts = vec![];
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j + 1 < v.len() && v[j + 1] == v[j] + 1 {
            j += 1;
        }
        parts.push(if i == j { v[i].to_string() } else { format!("{}-{}", v[i], v[j]) });
        i = j + 1;
    }
    let mut s = parts.join(",");
    if let Some(m) = max_parallel {
        s.push_str(&format!("%{m}"));
    }
    s
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@%".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The batch script that runs `indices` of the sweep in `sd` with the `silab` binary `exe`.
pub fn script(sd: &SweepDir, opts: &SlurmOptions, exe: &Path, indices: &[usize]) -> Result<String> {
    let m = Manifest::read(sd)?;
    let cfgs: Vec<RunConfig> = m
        .points
        .iter()
        .map(|p| RunConfig::from_file(&p.run_dir(sd).config(), &[]).map_err(anyhow::Error::from))
        .collect::<Result<_>>()?;
    script_for(&sd.root, &m, &cfgs, opts, exe, indices)
}

/// The batch script for a sweep that will live in `root` (it need not exist yet), from its
/// manifest and point configs. Paths in it are absolute: the tasks run wherever Slurm puts them,
/// on a file system shared with the submitting machine.
pub fn script_for(
    root: &Path,
    m: &Manifest,
    cfgs: &[RunConfig],
    opts: &SlurmOptions,
    exe: &Path,
    indices: &[usize],
) -> Result<String> {
    if indices.is_empty() {
        bail!("no points to submit");
    }
    if let Some(&bad) = indices.iter().find(|&&i| i >= m.points.len()) {
        bail!("point {bad} does not exist: the sweep has {}", m.points.len());
    }
    let root = std::path::absolute(root)?;
    let exe = std::path::absolute(exe)?;
    let sd = SweepDir::new(&root);
    let threads = cfgs.iter().map(|c| c.train.threads).max().unwrap_or(1);
    let cuda = cfgs.iter().any(|c| c.train.device == DeviceName::Cuda);
    let q = |p: &Path| shell_quote(&p.display().to_string());
    let mut s = String::from("#!/bin/bash\n");
    s += &format!("#SBATCH --job-name={}\n", shell_quote(&format!("silab-{}", m.name)));
    s += &format!("#SBATCH --array={}\n", array_spec(indices, opts.max_parallel));
    s += &format!("#SBATCH --output={}\n", q(&sd.slurm_log_pattern()));
    s += "#SBATCH --open-mode=append\n";
    s += "#SBATCH --requeue\n";
    s += &format!("#SBATCH --cpus-per-task={}\n", opts.cpus_per_task.unwrap_or(threads));
    match opts.gpus_per_task {
        Some(0) => {}
        Some(g) => s += &format!("#SBATCH --gpus-per-task={g}\n"),
        None if cuda => s += "#SBATCH --gpus-per-task=1\n",
        None => {}
    }
    if let Some(p) = &opts.partition {
        s += &format!("#SBATCH --partition={p}\n");
    }
    if let Some(t) = &opts.time {
        s += &format!("#SBATCH --time={t}\n");
    }
    for e in &opts.extra {
        s += &format!("#SBATCH {e}\n");
    }
    s += &format!(
        r#"
# silab sweep `{name}`: array task i runs point i of {manifest}.
# A task is idempotent: it skips a done point and resumes a started one from its latest checkpoint.
i="$SLURM_ARRAY_TASK_ID"
echo "silab: slurm task ${{SLURM_ARRAY_JOB_ID}}_$i (job $SLURM_JOB_ID) on $(hostname) at $(date -Is): point $i"
{exe} sweep point {root} --index "$i"
rc=$?
if [ "$rc" -ne 0 ]; then
    echo "silab: point $i of {root} failed (exit $rc); its log: {logs}/p$(printf %04d "$i").log" >&2
fi
exit "$rc"
"#,
        name = m.name,
        manifest = q(&sd.manifest()),
        exe = q(&exe),
        root = q(&root),
        logs = q(&sd.logs()),
    );
    Ok(s)
}

/// Every submission made so far (oldest first).
pub fn submissions(sd: &SweepDir) -> Vec<Submission> {
    store::read_json(&sd.slurm_submissions()).unwrap_or_default()
}

/// The options of the latest submission (defaults if none).
pub fn saved_options(sd: &SweepDir) -> SlurmOptions {
    store::read_json(&sd.slurm_options()).unwrap_or_default()
}

/// What [`submit`] did.
#[derive(Clone, Debug, PartialEq)]
pub enum Submitted {
    /// `--dry-run`: the script that would be submitted; nothing was written.
    DryRun(String),
    /// Submitted as this job.
    Job(Submission),
}

/// Write the batch script for `indices` and submit it with `sbatch` (or, with `dry_run`, only
/// return it). The submission and the options are recorded in `DIR/slurm/`.
pub fn submit(sd: &SweepDir, opts: &SlurmOptions, exe: &Path, indices: &[usize], dry_run: bool) -> Result<Submitted> {
    opts.validate()?;
    let text = script(sd, opts, exe, indices)?;
    if dry_run {
        return Ok(Submitted::DryRun(text));
    }
    store::create_dir(&sd.slurm())?;
    store::create_dir(&sd.logs())?;
    let mut subs = submissions(sd);
    let rel = SweepDir::slurm_script_rel(subs.len());
    let path = sd.root.join(&rel);
    store::write_atomic(&path, text.as_bytes())?;
    let out = Command::new("sbatch")
        .arg("--parsable")
        .arg(std::path::absolute(&path)?)
        .current_dir(&sd.root)
        .output()
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot run sbatch ({e}): is Slurm installed here and on PATH? (try --dry-run to see the script)"
            )
        })?;
    if !out.status.success() {
        bail!("sbatch refused {}: {}", path.display(), String::from_utf8_lossy(&out.stderr).trim());
    }
    // --parsable prints "jobid" or "jobid;cluster"
    let stdout = String::from_utf8_lossy(&out.stdout);
    let job_id = stdout.trim().split(';').next().unwrap_or_default().to_string();
    if job_id.is_empty() || !job_id.chars().all(|c| c.is_ascii_digit()) {
        bail!("sbatch printed no job id: `{}`", stdout.trim());
    }
    let sub = Submission { job_id, points: indices.to_vec(), script: rel, submitted: super::unix_now() };
    subs.push(sub.clone());
    store::write_json(&sd.slurm_submissions(), &subs)?;
    store::write_json(&sd.slurm_options(), opts)?;
    Ok(Submitted::Job(sub))
}

/// The sweep's array tasks in the Slurm queue (`squeue`), by point. `None` when this sweep was
/// never submitted to Slurm or `squeue` cannot be run here.
pub fn queue(sd: &SweepDir) -> QueueView {
    let subs = submissions(sd);
    if subs.is_empty() {
        return None;
    }
    let out = Command::new("squeue").args(["--noheader", "--array", "--me", "--format=%F|%K|%T"]).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let ours: Vec<&str> = subs.iter().map(|s| s.job_id.as_str()).collect();
    let mut q = HashMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.trim().split('|').collect();
        if f.len() == 3
            && ours.contains(&f[0])
            && let Ok(task) = f[1].parse::<usize>()
        {
            q.insert(task, (format!("{}_{task}", f[0]), SlurmState::parse(f[2])));
        }
    }
    Some(q)
}

/// Final states of the sweep's finished array tasks (`JOB_TASK` -> e.g. `CANCELLED`,
/// `TIMEOUT`, `FAILED`), from Slurm accounting (`sacct`) when it is on, else from what
/// `scontrol show job` still remembers (recently ended jobs, `MinJobAge`); empty otherwise.
pub fn accounting(sd: &SweepDir) -> HashMap<String, SlurmState> {
    let subs = submissions(sd);
    if subs.is_empty() {
        return HashMap::new();
    }
    let ids: Vec<&str> = subs.iter().map(|s| s.job_id.as_str()).collect();
    let run = |c: &mut Command| {
        c.output().ok().filter(|o| o.status.success()).map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
    };
    if let Some(text) = run(Command::new("sacct")
        .args(["--noheader", "--parsable2", "--allocations", "--format=JobID,State"])
        .arg(format!("--jobs={}", ids.join(","))))
    {
        return text
            .lines()
            .filter_map(|l| {
                let (id, state) = l.split_once('|')?;
                Some((id.to_string(), SlurmState::parse(state)))
            })
            .collect();
    }
    let mut out = HashMap::new();
    for id in ids {
        let Some(text) = run(Command::new("scontrol").args(["--oneliner", "show", "job", id])) else { continue };
        for line in text.lines() {
            let field = |k: &str| line.split_whitespace().find_map(|f| f.strip_prefix(k)).map(String::from);
            if let (Some(job), Some(task), Some(state)) =
                (field("ArrayJobId="), field("ArrayTaskId="), field("JobState="))
            {
                out.insert(format!("{job}_{task}"), SlurmState::parse(&state));
            }
        }
    }
    out
}

/// Where every point stands now: [`super::status`] with this machine's Slurm queue and
/// accounting (both optional).
pub fn status_now(sd: &SweepDir) -> Result<Vec<PointReport>> {
    super::status(sd, &queue(sd), &accounting(sd))
}

/// The points a resubmission should run: every point that is neither done nor in the queue.
pub fn to_resubmit(reports: &[PointReport]) -> Vec<usize> {
    reports.iter().filter(|r| matches!(r.status, RunState::Failed | RunState::Pending)).map(|r| r.index).collect()
}
