//! The Slurm executor against a real Slurm: a single-node cluster (Debian's slurmctld, slurmd,
//! munge) started on this machine by `scripts/slurm-local.sh`. A 6-point sweep is submitted as
//! an array, one running task is cancelled mid-run, `sweep status` names it, `sweep resubmit`
//! runs it again (resuming from its checkpoint), and the gathered table equals a local run's.
//!
//! Installs Slurm when it is missing (`scripts/slurm-local.sh install`: root with apt) and fails,
//! naming what is missing, where it cannot.

use silab::run::RunState;
use silab::sweep::{self, Attempt, Manifest, SweepDir, slurm, table};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn script() -> PathBuf {
    root().join("scripts/slurm-local.sh")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn have_slurm() -> bool {
    ["sbatch", "squeue", "scancel", "slurmctld", "slurmd", "munged"]
        .iter()
        .all(|b| Command::new("sh").args(["-c", &format!("command -v {b}")]).output().is_ok_and(|o| o.status.success()))
}

/// A started cluster; stopped when dropped (also when the test panics).
struct Cluster {
    state: PathBuf,
    conf: PathBuf,
}

impl Cluster {
    fn start(state: &Path) -> Cluster {
        // Two free ports next to each other (slurmctld, slurmd) so a stray cluster can't collide.
        let port = (0..200)
            .map(|i| 20000 + (std::process::id() as u16 % 500) * 40 + i * 2)
            .find(|&p| {
                std::net::TcpListener::bind(("127.0.0.1", p)).is_ok()
                    && std::net::TcpListener::bind(("127.0.0.1", p + 1)).is_ok()
            })
            .expect("two free ports");
        let o =
            Command::new(script()).arg("start").arg(state).env("SILAB_SLURM_PORT", port.to_string()).output().unwrap();
        assert!(o.status.success(), "cluster did not start: {}", text(&o));
        Cluster { state: state.to_path_buf(), conf: state.join("slurm.conf") }
    }
    fn cmd(&self, prog: &str) -> Command {
        let mut c = Command::new(prog);
        c.env("SLURM_CONF", &self.conf);
        c
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(script()).arg("stop").arg(&self.state).output();
    }
}

const SWEEP: &str = r#"
name = "slurm-test"
seeds = [0, 1]
[base]
data.train_size = 400
data.test_size = 100
model.width = 2
train.epochs = 10
train.batch_size = 40
train.threads = 1
train.checkpoint_every = 1
metrics.full_grad = false
metrics.layers = false
[axes]
"optim.elr" = [1e-3, 3e-3, 1e-2]
"#;

fn wait_until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < Duration::from_secs(secs), "timed out after {secs} s waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn statuses(sd: &SweepDir) -> Vec<sweep::PointReport> {
    slurm::status_now(sd).unwrap()
}

#[test]
fn slurm_array_cancel_resubmit_matches_local() {
    if !have_slurm() {
        let o = Command::new(script()).arg("install").output();
        if !have_slurm() {
            let why = o.map(|o| text(&o)).unwrap_or_else(|e| e.to_string());
            panic!(
                "Slurm (sbatch, squeue, scancel, slurmctld, slurmd, munged) is not installed and \
                 `scripts/slurm-local.sh install` failed: {why}"
            );
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let sweep_file = tmp.path().join("sweep.toml");
    std::fs::write(&sweep_file, SWEEP).unwrap();
    let exe = env!("CARGO_BIN_EXE_silab");

    // The reference: the same sweep run by local workers.
    let local_dir = tmp.path().join("local");
    let o = Command::new(exe)
        .args(["sweep", "-q", "--jobs", "2", "--config"])
        .arg(&sweep_file)
        .arg("--out")
        .arg(&local_dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "local sweep: {}", text(&o));

    // A --dry-run prints the array script and leaves nothing behind.
    let slurm_dir = tmp.path().join("on-slurm");
    let o = Command::new(exe)
        .args(["sweep", "--executor", "slurm", "--dry-run", "--time", "00:10:00", "--max-parallel", "2", "--config"])
        .arg(&sweep_file)
        .arg("--out")
        .arg(&slurm_dir)
        .output()
        .unwrap();
    let dry = text(&o);
    assert!(o.status.success(), "{dry}");
    for needle in ["#SBATCH --array=0-5%2", "#SBATCH --time=00:10:00", "#SBATCH --cpus-per-task=1", "sweep point"] {
        assert!(dry.contains(needle), "`{needle}` not in the dry-run script:\n{dry}");
    }
    assert!(!slurm_dir.exists(), "--dry-run wrote the sweep directory");

    let cluster = Cluster::start(&tmp.path().join("cluster"));
    // The library asks squeue from this process: point it at the test cluster. (The only test in
    // this binary, so no other thread reads the environment meanwhile.)
    unsafe { std::env::set_var("SLURM_CONF", &cluster.conf) };
    let o = cluster
        .cmd(exe)
        .args(["sweep", "--executor", "slurm", "--cpus-per-task", "1", "--time", "00:10:00", "--config"])
        .arg(&sweep_file)
        .arg("--out")
        .arg(&slurm_dir)
        .output()
        .unwrap();
    let said = text(&o);
    assert!(o.status.success() && said.contains("slurm array job"), "{said}");
    let sd = SweepDir::new(&slurm_dir);
    let subs = slurm::submissions(&sd);
    assert_eq!(subs.len(), 1);
    assert_eq!(subs[0].points, (0..6).collect::<Vec<_>>());

    // Cancel one task while it runs, after it has checkpointed a few epochs.
    let m = Manifest::read(&sd).unwrap();
    let mut victim = None;
    wait_until("a task to be mid-run", 240, || {
        for p in &m.points {
            let done = sweep::epochs_done(&p.run_dir(&sd));
            if (2..=6).contains(&done)
                && let Some(a) = Attempt::read(&sd, p)
                && let Some(task) = a.slurm_task
            {
                victim = Some((p.index, task, done));
                return true;
            }
        }
        false
    });
    let (vi, task, at) = victim.unwrap();
    let o = cluster.cmd("scancel").arg(&task).output().unwrap();
    assert!(o.status.success(), "scancel {task}: {}", text(&o));
    wait_until("the array job to leave the queue", 300, || {
        let q = cluster.cmd("squeue").args(["--noheader", "--array", "--jobs", &subs[0].job_id]).output().unwrap();
        text(&q).trim().is_empty()
    });

    // status: five done, the cancelled one failed with its task named and its log.
    let o = cluster.cmd(exe).args(["sweep", "status"]).arg(&slurm_dir).output().unwrap();
    let st = text(&o);
    assert!(o.status.success(), "{st}");
    assert!(st.contains("6 points: 5 done, 0 running, 0 queued, 1 failed, 0 pending"), "{st}");
    assert!(
        st.contains(&format!("point {vi:>4}")) && st.contains(&task) && st.contains(&format!("p{vi:04}.log")),
        "{st}"
    );
    let reports = {
        let mut c = cluster.cmd(exe);
        c.args(["sweep", "status", "--json"]).arg(&slurm_dir);
        let o = c.output().unwrap();
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    assert_eq!(reports["counts"]["failed"], 1);
    let cancelled_epochs = sweep::epochs_done(&m.points[vi].run_dir(&sd));
    assert!(cancelled_epochs >= at && cancelled_epochs < 10, "cancelled at epoch {cancelled_epochs}");

    // resubmit runs only the cancelled point, which resumes from its checkpoint.
    let o = cluster.cmd(exe).args(["sweep", "resubmit"]).arg(&slurm_dir).output().unwrap();
    let said = text(&o);
    assert!(o.status.success() && said.contains("submitted 1 points"), "{said}");
    let subs = slurm::submissions(&sd);
    assert_eq!(subs.len(), 2);
    assert_eq!(subs[1].points, vec![vi]);
    wait_until("the resubmitted point to finish", 300, || {
        let r = statuses(&sd);
        r.iter().all(|r| r.status == RunState::Done)
    });
    let log = std::fs::read_to_string(sd.log(vi)).unwrap();
    assert!(log.contains("resuming") && !log.contains("from epoch 0 "), "the resubmitted task did not resume:\n{log}");
    let o = cluster.cmd(exe).args(["sweep", "resubmit"]).arg(&slurm_dir).output().unwrap();
    assert!(text(&o).contains("nothing to resubmit"), "{}", text(&o));

    // Gathering is the same whatever ran the points: the tables are equal but for wall time.
    let o = Command::new(exe).args(["sweep", "gather"]).arg(&slurm_dir).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let a = table::write(&SweepDir::new(&local_dir)).unwrap();
    let b = table::write(&sd).unwrap();
    let drop_time = |t: &table::Table| t.columns.iter().filter(|(n, _)| n != "wall_time").cloned().collect::<Vec<_>>();
    assert_eq!(a.rows(), 6 * 11);
    assert_eq!(drop_time(&a), drop_time(&b));
}

/// `silab map --executor slurm`: each call submits the next round as an array job and returns;
/// called again once that round has ended, it plans the next, until it prints the map, which
/// equals the map of local workers.
#[test]
fn a_map_on_slurm_round_by_round_equals_the_local_map() {
    if !have_slurm() {
        let o = Command::new(script()).arg("install").output();
        if !have_slurm() {
            let why = o.map(|o| text(&o)).unwrap_or_else(|e| e.to_string());
            panic!("Slurm is not installed and `scripts/slurm-local.sh install` failed: {why}");
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("base.toml");
    std::fs::write(
        &base,
        "data.train_size = 256\ndata.test_size = 64\nmodel.width = 2\ntrain.batch_size = 32\ntrain.threads = 1\n\
         train.epochs = 24\ntrain.regime_window = 4\ntrain.checkpoint_every = 5\nmetrics.full_grad = false\n\
         metrics.layers = false\noptim.mode = \"sphere\"\n",
    )
    .unwrap();
    let exe = env!("CARGO_BIN_EXE_silab");
    let args = |out: &Path| -> Vec<String> {
        ["map", "-q", "--config", base.to_str().unwrap(), "--lo", "1e-3", "--hi", "3", "--factor", "4", "--out"]
            .iter()
            .map(|s| s.to_string())
            .chain([out.display().to_string()])
            .collect()
    };
    let local = tmp.path().join("local");
    let o = Command::new(exe).args(args(&local)).args(["--jobs", "2"]).output().unwrap();
    assert!(o.status.success(), "local map: {}", text(&o));

    let cluster = Cluster::start(&tmp.path().join("cluster"));
    let on = tmp.path().join("on-slurm");
    let mut submitted = 0;
    loop {
        let o = cluster.cmd(exe).args(args(&on)).args(["--executor", "slurm", "--time", "00:10:00"]).output().unwrap();
        let t = text(&o);
        assert!(o.status.success(), "{t}");
        if t.contains("regime map of") {
            break;
        }
        assert!(t.contains("submitted as slurm array job") || t.contains("still running"), "{t}");
        submitted += t.contains("submitted as slurm array job") as usize;
        assert!(submitted <= 20, "more rounds than a map of this range needs: {t}");
        // wait for the round's runs to end (every point of the newest round finished)
        let rounds = on.join("rounds");
        wait_until("the round's runs", 300, || {
            let newest = std::fs::read_dir(&rounds).unwrap().filter_map(|e| e.ok()).map(|e| e.path()).max().unwrap();
            let sd = SweepDir::new(&newest);
            Manifest::read(&sd).is_ok_and(|m| m.points.iter().all(|p| sweep::point_state(&sd, p).is_finished()))
        });
    }
    assert!(submitted >= 2, "a bisection of several rounds, each its own array job ({submitted})");
    let summary = |d: &Path| -> serde_json::Value {
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(d.join("summary.json")).unwrap()).unwrap();
        v.as_object_mut().unwrap().remove("rounds");
        v
    };
    assert_eq!(summary(&on), summary(&local));
    let table = |d: &Path| std::fs::read_to_string(d.join("table.csv")).unwrap();
    assert_eq!(table(&on), table(&local));
    drop(cluster);
}
