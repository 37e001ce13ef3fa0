//! Nothing lost, nothing silently wrong: a real `silab train` killed (SIGKILL) at exact moments
//! resumes to the uninterrupted run bit for bit; one writer per run directory; damaged files are
//! errors that name the file and line (or fall back to an intact checkpoint); non-finite values
//! stop a run as `diverged`; bad input gives messages, not panics.

use silab::store::{self, RunDir};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn silab() -> Command {
    Command::new(env!("CARGO_BIN_EXE_silab"))
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// A tiny run: 8 steps per epoch, step rows every 3 steps, curvature every 2 epochs, 4 epochs.
const TINY: &[&str] = &[
    "data.train_size=256",
    "data.test_size=64",
    "model.width=2",
    "train.epochs=4",
    "train.batch_size=32",
    "train.threads=1",
    "train.log_every=3",
    "metrics.full_grad=false",
    "sharpness.every_epochs=2",
    "sharpness.images=32",
    "sharpness.probes=2",
    "sharpness.lanczos_iters=3",
    "sharpness.gauss_newton=false",
    "sharpness.riemannian=false",
];

fn train(out: &Path, sets: &[&str], failpoint: Option<&str>) -> Output {
    let mut c = silab();
    c.args(["train", "-q", "--out"]).arg(out);
    for s in sets {
        c.args(["--set", s]);
    }
    if let Some(f) = failpoint {
        c.env("SILAB_FAILPOINT", f);
    }
    c.output().unwrap()
}

fn resume(dir: &Path) -> Output {
    silab().args(["train", "-q", "--resume"]).arg(dir).output().unwrap()
}

/// A CSV file's rows without the non-deterministic columns (wall time, seconds).
fn rows(path: &Path) -> Vec<Vec<String>> {
    let r = store::read_records(path, false).unwrap();
    let drop: Vec<usize> =
        r.header.iter().enumerate().filter(|(_, c)| *c == "wall_time" || *c == "seconds").map(|(i, _)| i).collect();
    std::iter::once(r.header)
        .chain(r.rows)
        .map(|row| row.into_iter().enumerate().filter(|(i, _)| !drop.contains(i)).map(|(_, v)| v).collect())
        .collect()
}

/// A checkpoint's tensors (model and optimizer state) as `(name, values)`.
type Flat = Vec<(String, Vec<f64>)>;

/// Every tensor of every checkpoint, by epoch.
fn tensors(dir: &Path) -> Vec<(usize, Flat)> {
    let rd = RunDir::new(dir);
    rd.checkpoint_epochs()
        .into_iter()
        .map(|e| {
            let mut all = vec![];
            for f in [rd.checkpoint(e), rd.optim_state(e)] {
                let (ts, _) = store::load_tensors(&f).unwrap();
                for (n, t) in ts {
                    let v: Vec<f64> = t.to_kind(tch::Kind::Double).flatten(0, -1).try_into().unwrap();
                    all.push((n, v));
                }
            }
            (e, all)
        })
        .collect()
}

fn assert_same_run(a: &Path, b: &Path, what: &str) {
    assert_eq!(rows(&a.join("metrics.csv")), rows(&b.join("metrics.csv")), "{what}: metrics.csv");
    assert_eq!(rows(&a.join("sharpness.csv")), rows(&b.join("sharpness.csv")), "{what}: sharpness.csv");
    assert_eq!(tensors(a), tensors(b), "{what}: checkpoint tensors");
    let s: serde_json::Value = serde_json::from_slice(&std::fs::read(b.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["status"], "completed", "{what}");
}

/// SIGKILL at 12 moments spread over a run, each followed by `--resume`: the resumed run equals
/// the uninterrupted one (metrics.csv and sharpness.csv without time, every tensor of every
/// checkpoint), and no row is written twice, dropped or altered.
#[test]
fn killed_at_any_moment_resumes_bit_identical() {
    let root = tempfile::tempdir().unwrap();
    let reference = root.path().join("reference");
    let o = train(&reference, TINY, None);
    assert!(o.status.success(), "{}", text(&o));
    let moments = [
        "mid-append:metrics.csv:0,0,epoch",            // the very first row, half written
        "mid-write:epoch_00000.safetensors",           // the first checkpoint, half written
        "before-rename:epoch_00000.optim.safetensors", // model saved, optimizer state not yet
        "after-step:3",                                // during epoch 1 (resume from epoch 0)
        "mid-append:metrics.csv:0,3,step",             // a step row
        "mid-append:metrics.csv:1,8,epoch",            // the epoch-1 row
        "before-rename:summary.json",                  // the first summary
        "mid-append:sharpness.csv:2,16,si",            // a curvature row during training
        "mid-write:epoch_00002.optim.safetensors",     // a later checkpoint, half written
        "after-step:21",                               // during epoch 3
        "before-rename:epoch_00004.safetensors",       // the last checkpoint
        "mid-append:metrics.csv:4,32,epoch",           // the last row
    ];
    for m in moments {
        let d = root.path().join(m.replace([':', ','], "_"));
        let o = train(&d, TINY, Some(m));
        assert_eq!(o.status.signal(), Some(9), "{m}: the failpoint did not kill the run: {}", text(&o));
        let o = resume(&d);
        assert!(o.status.success(), "{m}: resume failed: {}", text(&o));
        assert_same_run(&reference, &d, m);
    }
}

/// A second writer on a run directory (a resume while the run trains, two resumes at once) is
/// refused with the holder named, and the run's rows are not duplicated.
#[test]
fn one_writer_per_run_directory() {
    let root = tempfile::tempdir().unwrap();
    let d = root.path().join("r");
    let sets = ["data.train_size=2000", "model.width=4", "train.epochs=6", "train.threads=1"];
    let mut c = silab();
    c.args(["train", "-q", "--out"]).arg(&d);
    for s in sets {
        c.args(["--set", s]);
    }
    let mut child = c.stdout(std::process::Stdio::null()).spawn().unwrap();
    let t = Instant::now();
    while !d.join("metrics.csv").is_file() {
        assert!(t.elapsed() < Duration::from_secs(60), "the run did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let o = resume(&d);
    assert!(!o.status.success(), "a second writer was let in");
    let e = text(&o);
    assert!(e.contains(&format!("pid {}", child.id())) && e.contains("another silab is writing"), "{e}");
    assert!(child.wait().unwrap().success());
    let epochs = |d: &Path| rows(&d.join("metrics.csv")).iter().filter(|r| r[2] == "epoch").count();
    assert_eq!(epochs(&d), 7, "epoch rows 0..=6, none twice");
    // after it ends, resuming is allowed (and has nothing left to do)
    let o = resume(&d);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(epochs(&d), 7);
}

/// Killing `silab sweep` kills its workers; a rerun finishes the sweep with no row twice.
#[test]
fn killed_sweep_leaves_no_orphan_workers() {
    let root = tempfile::tempdir().unwrap();
    let file = root.path().join("s.toml");
    std::fs::write(
        &file,
        "[base]\ndata.train_size = 2000\ndata.test_size = 100\nmodel.width = 4\ntrain.epochs = 8\ntrain.threads = 1\n\
         metrics.full_grad = false\n[axes]\n\"optim.elr\" = [1e-3, 1e-2]\n",
    )
    .unwrap();
    let out = root.path().join("sw");
    let mut sweep =
        silab().args(["sweep", "-q", "--jobs", "2", "--config"]).arg(&file).arg("--out").arg(&out).spawn().unwrap();
    let attempt = |i: usize| out.join(format!("runs/p{i:04}/attempt.json"));
    let t = Instant::now();
    while !(attempt(0).is_file() && attempt(1).is_file() && out.join("runs/p0001/metrics.csv").is_file()) {
        assert!(t.elapsed() < Duration::from_secs(60), "the workers did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let pids: Vec<u32> = (0..2)
        .map(|i| {
            let a: serde_json::Value = serde_json::from_slice(&std::fs::read(attempt(i)).unwrap()).unwrap();
            a["pid"].as_u64().unwrap() as u32
        })
        .collect();
    sweep.kill().unwrap();
    sweep.wait().unwrap();
    let t = Instant::now();
    while pids.iter().any(|&p| store::pid_alive(p) && !zombie(p)) {
        // an orphan would train on for several more seconds
        assert!(t.elapsed() < Duration::from_secs(2), "workers {pids:?} outlived their sweep");
        std::thread::sleep(Duration::from_millis(50));
    }
    let o = silab().args(["sweep", "-q", "--config"]).arg(&file).arg("--out").arg(&out).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let table = rows(&out.join("table.csv"));
    assert_eq!(table.len() - 1, 2 * 9, "2 points x epoch rows 0..=8");
}

fn zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map(|s| s.contains(") Z ")).unwrap_or(true)
}

/// A finished run with checkpoints at epochs 0..=3: resuming it checks every row of metrics.csv
/// against its last checkpoint (and has nothing left to train).
fn run_to_resume(root: &Path, name: &str) -> PathBuf {
    let d = root.join(name);
    let sets = ["data.train_size=256", "data.test_size=64", "model.width=2", "train.epochs=3", "train.threads=1"];
    let o = train(&d, &sets, None);
    assert!(o.status.success(), "{}", text(&o));
    d
}

/// Damaged files: a resume refuses what it cannot trust, naming the file and the line, and
/// falls back from a damaged checkpoint to the one before (the result equal to the undamaged run).
#[test]
fn damaged_files_are_errors_or_fall_back() {
    let root = tempfile::tempdir().unwrap();
    let reference = run_to_resume(root.path(), "reference");
    let rd = |d: &Path| RunDir::new(d);
    let metrics = |d: &Path| std::fs::read_to_string(d.join("metrics.csv")).unwrap();
    type Damage<'a> = Box<dyn Fn(&Path) + 'a>;
    let damage: Vec<(&str, Damage, &str)> = vec![
        (
            "garbled middle row",
            Box::new(|d: &Path| {
                let m = metrics(d).replacen("\n1,", "\n1,x", 1);
                std::fs::write(d.join("metrics.csv"), m).unwrap();
            }),
            "line 3",
        ),
        ("deleted metrics.csv", Box::new(|d: &Path| std::fs::remove_file(d.join("metrics.csv")).unwrap()), "missing"),
        (
            "header only",
            Box::new(|d: &Path| {
                let m = metrics(d);
                std::fs::write(d.join("metrics.csv"), &m[..=m.find('\n').unwrap()]).unwrap();
            }),
            "expected 4",
        ),
        (
            "last row cut inside its last number",
            Box::new(|d: &Path| {
                let m = metrics(d);
                std::fs::write(d.join("metrics.csv"), &m[..m.len() - 4]).unwrap();
            }),
            "cut off",
        ),
        (
            "a row repeated",
            Box::new(|d: &Path| {
                let m = metrics(d);
                let second = m.lines().nth(1).unwrap().to_string();
                std::fs::write(d.join("metrics.csv"), m.replacen(&second, &format!("{second}\n{second}"), 1)).unwrap();
            }),
            "line 3",
        ),
    ];
    for (what, f, needle) in damage {
        let d = run_to_resume(root.path(), &what.replace(' ', "_"));
        f(&d);
        let before = std::fs::read(d.join("metrics.csv")).ok();
        let o = resume(&d);
        assert!(!o.status.success(), "{what}: resumed anyway");
        let e = text(&o);
        assert!(e.contains("metrics.csv") && e.contains(needle), "{what}: {e}");
        assert_eq!(std::fs::read(d.join("metrics.csv")).ok(), before, "{what}: the file was changed");
    }
    // altered tensor bytes in the latest checkpoint: the checksum catches it, the resume falls
    // back to epoch 2, and the result equals the undamaged run
    let d = run_to_resume(root.path(), "bitflip");
    let ck = rd(&d).checkpoint(3);
    let mut bytes = std::fs::read(&ck).unwrap();
    let n = bytes.len();
    bytes[n - 7] ^= 0x40;
    std::fs::write(&ck, bytes).unwrap();
    let e = store::load_tensors(&ck).unwrap_err().to_string();
    assert!(e.contains("checksum") && e.contains("epoch_00003"), "{e}");
    let o = resume(&d);
    let said = text(&o);
    assert!(o.status.success() && said.contains("checkpoint of epoch 3 cannot be used"), "{said}");
    assert_eq!(rows(&reference.join("metrics.csv")), rows(&d.join("metrics.csv")));
    assert_eq!(tensors(&reference), tensors(&d));
    // a truncated latest checkpoint: the same
    let d = run_to_resume(root.path(), "truncated");
    let ck = rd(&d).optim_state(3);
    let bytes = std::fs::read(&ck).unwrap();
    std::fs::write(&ck, &bytes[..bytes.len() / 2]).unwrap();
    let o = resume(&d);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(tensors(&reference), tensors(&d));
}

/// A loss that becomes non-finite stops the run as diverged: summary.json says so and reads
/// back, analyze calls it divergence, a sweep point is done (not failed); non-finite config
/// values are refused up front.
#[test]
fn non_finite_is_a_state_not_a_crash() {
    let root = tempfile::tempdir().unwrap();
    let d = root.path().join("r");
    let sets = [
        "data.train_size=256",
        "data.test_size=64",
        "model.width=2",
        "train.epochs=3",
        "optim.mode=\"full\"",
        "optim.lr=1e30",
    ];
    let o = train(&d, &sets, None);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("diverged at step"), "{}", text(&o));
    let s = silab::run::Summary::read(&RunDir::new(&d)).unwrap();
    assert_eq!(s.status, silab::run::RunState::Diverged);
    assert!(s.diverged_at_step.is_some());
    let raw = std::fs::read_to_string(d.join("summary.json")).unwrap();
    assert!(raw.contains("\"status\": \"diverged\""), "{raw}");
    let o = silab().args(["analyze"]).arg(&d).output().unwrap();
    assert!(o.status.success() && text(&o).contains("divergence"), "{}", text(&o));
    // resuming a diverged run has nothing left to do
    let o = resume(&d);
    assert!(o.status.success() && text(&o).contains("diverged"), "{}", text(&o));
    for (set, key) in [("optim.lr=inf", "optim.lr"), ("optim.elr=inf", "optim.elr"), ("optim.wd=nan", "optim.wd")] {
        let o = train(&root.path().join("x"), &[set], None);
        assert!(!o.status.success() && text(&o).contains(key) && text(&o).contains("finite"), "{set}: {}", text(&o));
    }
    // in a sweep: the point is done and diverged, the sweep succeeds
    let file = root.path().join("s.toml");
    std::fs::write(
        &file,
        "[base]\ndata.train_size = 256\ndata.test_size = 64\nmodel.width = 2\ntrain.epochs = 2\ntrain.threads = 1\n\
         optim.mode = \"full\"\n[axes]\n\"optim.lr\" = [0.1, 1e30]\n",
    )
    .unwrap();
    let out = root.path().join("sw");
    let o = silab().args(["sweep", "-q", "--config"]).arg(&file).arg("--out").arg(&out).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let a: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("runs/p0001/attempt.json")).unwrap()).unwrap();
    assert_eq!(a["status"], "diverged");
    let o = silab().args(["sweep", "status"]).arg(&out).output().unwrap();
    assert!(text(&o).contains("2 points: 2 done"), "{}", text(&o));
}

/// Input that used to panic or abort gives an error message and exit code 1.
#[test]
fn bad_input_gives_messages_not_panics() {
    let root = tempfile::tempdir().unwrap();
    let small = ["data.train_size=128", "data.test_size=32", "train.epochs=1", "train.threads=1"];
    let conv = root.path().join("conv");
    assert!(train(&conv, &[&small[..], &["model.width=2"]].concat(), None).status.success());
    let resnet = root.path().join("resnet");
    assert!(
        train(&resnet, &[&small[..], &["model.width=2", "model.arch=\"resnet18\""]].concat(), None).status.success()
    );
    let wide = root.path().join("wide");
    assert!(train(&wide, &[&small[..], &["model.width=4"]].concat(), None).status.success());
    let check = |args: Vec<String>, needle: &str| {
        let o = silab().args(&args).output().unwrap();
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", text(&o));
        assert!(text(&o).contains(needle) && !text(&o).contains("panicked"), "{args:?}: {}", text(&o));
    };
    let p = |d: &Path| d.display().to_string();
    check(vec!["landscape".into(), "line".into(), p(&conv), p(&resnet), "-q".into()], "missing tensor");
    check(vec!["landscape".into(), "line".into(), p(&conv), p(&wide), "-q".into()], "has shape");
    check(
        vec!["landscape".into(), "line".into(), p(&conv), p(&conv), "--points".into(), "1000000000000".into()],
        "--points",
    );
    check(vec!["landscape".into(), "slice".into(), p(&conv), "--radius=nan".into()], "--radius");
    let outside = root.path().join("lone.safetensors");
    std::fs::copy(RunDir::new(&conv).checkpoint(1), &outside).unwrap();
    check(vec!["landscape".into(), "slice".into(), p(&outside)], "not in a run directory");
    for (set, key) in [
        ("data.train_size=100000000000", "data.train_size"),
        ("model.width=1000000", "model.width"),
        ("train.threads=100000", "train.threads"),
    ] {
        check(vec!["train".into(), "--set".into(), set.into(), "--out".into(), p(&root.path().join("y"))], key);
    }
    // a failed start leaves nothing behind: the corrected command works on the same --out
    let d = root.path().join("fix");
    let o = train(&d, &["data.name=\"mnist\"", "data.dir=\"/nonexistent\""], None);
    assert!(!o.status.success() && text(&o).contains("/nonexistent"), "{}", text(&o));
    assert!(!d.join("config.toml").exists(), "a failed start left config.toml");
    assert!(train(&d, &small, None).status.success());
    // sweep axes that cannot be expanded
    for axis in ["{ log = [1e-4, 1e-1, -3] }", "{ log = [1e-4, 1e-1, 2.5] }", "{ lin = [0, inf, 3] }"] {
        let f = root.path().join("bad.toml");
        std::fs::write(&f, format!("[axes]\n\"optim.elr\" = {axis}\n")).unwrap();
        check(vec!["sweep".into(), "--config".into(), p(&f)], "whole number of points");
    }
    // a full disk: the error names the file that could not be written
    let full = root.path().join("full");
    std::fs::create_dir_all(&full).unwrap();
    std::os::unix::fs::symlink("/dev/full", full.join("metrics.csv")).unwrap();
    let o = train(&full, &small, None);
    assert!(
        !o.status.success() && text(&o).contains("metrics.csv") && text(&o).contains("No space left"),
        "{}",
        text(&o)
    );
    // a deleted summary.json: the error names it; a resume writes it again
    std::fs::remove_file(conv.join("summary.json")).unwrap();
    let e = silab::run::Summary::read(&RunDir::new(&conv)).unwrap_err().to_string();
    assert!(e.contains("summary.json"), "{e}");
    assert!(resume(&conv).status.success());
    assert!(conv.join("summary.json").is_file());
}

/// A deleted point directory of a sweep is made again from sweep.toml and run.
#[test]
fn deleted_sweep_point_is_restored() {
    let root = tempfile::tempdir().unwrap();
    let file = root.path().join("s.toml");
    std::fs::write(
        &file,
        "[base]\ndata.train_size = 128\ndata.test_size = 32\nmodel.width = 2\ntrain.epochs = 1\ntrain.threads = 1\n\
         [axes]\n\"optim.elr\" = [1e-3, 1e-2]\n",
    )
    .unwrap();
    let out = root.path().join("sw");
    let run = || silab().args(["sweep", "-q", "--config"]).arg(&file).arg("--out").arg(&out).output().unwrap();
    assert!(run().status.success());
    std::fs::remove_dir_all(out.join("runs/p0001")).unwrap();
    let o = run();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(rows(&out.join("table.csv")).len() - 1, 4);
}
