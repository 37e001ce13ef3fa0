//! Training a run longer (`silab train --resume DIR --epochs N`, `training::extend`), and the
//! refusal of a resume whose config.toml was edited (issue 23, "A run silently thrown away").

use silab::config::RunConfig;
use silab::progress::Silent;
use silab::run::{RunError, RunState};
use silab::store::{self, RunDir};
use silab::training as run;
use std::path::Path;

fn cfg(sets: &[&str]) -> RunConfig {
    let base = ["data.train_size=300", "data.test_size=100", "model.width=4", "train.batch_size=64", "train.threads=2"];
    let all: Vec<String> = base.iter().chain(sets).map(|s| s.to_string()).collect();
    RunConfig::from_parts(None, &all).unwrap()
}

/// metrics.csv without the (non-deterministic) wall_time column.
fn metrics_without_time(dir: &Path) -> Vec<Vec<String>> {
    let r = store::read_records(&dir.join("metrics.csv"), false).unwrap();
    let t = r.header.iter().position(|c| c == "wall_time").unwrap();
    std::iter::once(r.header)
        .chain(r.rows)
        .map(|mut row| {
            row.remove(t);
            row
        })
        .collect()
}

fn assert_same_weights(a: &Path, b: &Path, epoch: usize) {
    let (ta, _) = store::load_tensors(&RunDir::new(a).checkpoint(epoch)).unwrap();
    let (tb, _) = store::load_tensors(&RunDir::new(b).checkpoint(epoch)).unwrap();
    assert_eq!(ta.len(), tb.len());
    for ((na, xa), (nb, xb)) in ta.iter().zip(&tb) {
        assert_eq!(na, nb);
        assert!(xa.equal(xb), "{na} differs between the extended run and the run of that length");
    }
}

/// Every file of a run directory but the lock, path -> bytes (to show a refusal wrote nothing).
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = vec![];
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else if p.file_name().unwrap() != "lock" {
                out.push((p.display().to_string(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// A finished 4-epoch run extended to 6 equals a 6-epoch run (metrics but wall_time, weights),
/// for a schedule: the extension is recorded, and a kill after it resumes from a checkpoint the
/// shorter config wrote.
fn extension_equals_longer_run(schedule: &[&str]) {
    let common = ["optim.mode=\"full\"", "optim.lr=0.2", "optim.momentum=0.5", "optim.wd=5e-3", "train.log_every=2"];
    let sets = |epochs: &'static str| -> Vec<&str> { common.iter().chain(schedule).copied().chain([epochs]).collect() };
    let root = tempfile::tempdir().unwrap();
    let (a, b) = (root.path().join("a"), root.path().join("b"));
    run::train(&cfg(&sets("train.epochs=4")), &a, &mut Silent).unwrap();
    run::train(&cfg(&sets("train.epochs=6")), &b, &mut Silent).unwrap();
    let s = run::extend(&a, 6, &mut Silent).unwrap();
    assert_eq!((s.status, s.epochs_done), (RunState::Done, 6));
    assert_eq!(s.extensions.len(), 1);
    assert_eq!((s.extensions[0].from_epochs, s.extensions[0].to_epochs), (4, 6));
    assert_eq!(metrics_without_time(&a), metrics_without_time(&b));
    assert_same_weights(&a, &b, 6);
    let rd = RunDir::new(&a);
    assert_eq!(RunConfig::from_file(&rd.config(), &[]).unwrap().train.epochs, 6);
    let log = std::fs::read_to_string(rd.log()).unwrap();
    assert!(log.contains("extended from 4 to 6 epochs"), "{log}");
    // killed after the extension, before its first checkpoint: the epoch-4 checkpoint carries
    // the 4-epoch config's hash, and the recorded extension vouches for it
    for e in [5, 6] {
        std::fs::remove_file(rd.checkpoint(e)).unwrap();
        std::fs::remove_file(rd.optim_state(e)).unwrap();
    }
    let s = run::resume(&a, &mut Silent).unwrap();
    assert_eq!((s.status, s.epochs_done, s.extensions.len()), (RunState::Done, 6, 1));
    assert_eq!(metrics_without_time(&a), metrics_without_time(&b));
    assert_same_weights(&a, &b, 6);
}

#[test]
fn extending_a_constant_schedule_equals_the_longer_run() {
    extension_equals_longer_run(&["optim.schedule=\"constant\""]);
}

#[test]
fn extending_a_step_schedule_equals_the_longer_run() {
    // a milestone inside the old length and one beyond it
    extension_equals_longer_run(&["optim.schedule=\"step\"", "optim.milestones=[2, 5]", "optim.gamma=0.5"]);
}

/// A killed run (its last checkpoints gone, rows past them in metrics.csv) extended directly.
#[test]
fn extending_a_killed_run_equals_the_longer_run() {
    let root = tempfile::tempdir().unwrap();
    let (a, b) = (root.path().join("a"), root.path().join("b"));
    run::train(&cfg(&["train.epochs=3"]), &a, &mut Silent).unwrap();
    run::train(&cfg(&["train.epochs=5"]), &b, &mut Silent).unwrap();
    let rd = RunDir::new(&a);
    for e in [2, 3] {
        std::fs::remove_file(rd.checkpoint(e)).unwrap();
        std::fs::remove_file(rd.optim_state(e)).unwrap();
    }
    run::extend(&a, 5, &mut Silent).unwrap();
    assert_eq!(metrics_without_time(&a), metrics_without_time(&b));
    assert_same_weights(&a, &b, 5);
}

/// What cannot be extended is refused with its reason, and nothing in the run is changed.
#[test]
fn extensions_that_cannot_be_are_refused_and_change_nothing() {
    let root = tempfile::tempdir().unwrap();
    let d = root.path().join("r");
    run::train(&cfg(&["train.epochs=2"]), &d, &mut Silent).unwrap();
    let before = files(&d);
    for n in [1, 2] {
        let e = run::extend(&d, n, &mut Silent).unwrap_err();
        assert!(matches!(&e, RunError::CannotExtend { .. }), "{e:?}");
        assert!(e.to_string().contains("configured for 2 epochs"), "{e}");
    }
    assert_eq!(files(&d), before, "a refused extension changed the run");
    // another writer holds the run
    let held = RunDir::new(&d).lock().unwrap();
    let e = run::extend(&d, 3, &mut Silent).unwrap_err();
    assert!(matches!(&e, RunError::Locked { .. }), "{e:?}");
    drop(held);
    // no run there
    let e = run::extend(root.path(), 3, &mut Silent).unwrap_err();
    assert!(matches!(&e, RunError::NotRunDir { .. }), "{e:?}");

    // a cosine schedule's shape depends on the run's length
    let c = root.path().join("c");
    run::train(&cfg(&["train.epochs=1", "optim.schedule=\"cosine\""]), &c, &mut Silent).unwrap();
    let before = files(&c);
    let e = run::extend(&c, 3, &mut Silent).unwrap_err();
    assert!(matches!(&e, RunError::CannotExtend { .. }), "{e:?}");
    assert!(e.to_string().contains("cosine"), "{e}");
    assert_eq!(files(&c), before, "a refused extension changed the run");

    // a diverged run has nothing to continue from
    let x = root.path().join("x");
    run::train(&cfg(&["train.epochs=1", "optim.mode=\"full\"", "optim.lr=1e30"]), &x, &mut Silent).unwrap();
    let before = files(&x);
    let e = run::extend(&x, 3, &mut Silent).unwrap_err();
    assert!(e.to_string().contains("diverged"), "{e}");
    assert_eq!(files(&x), before, "a refused extension changed the run");
}

/// Editing config.toml (train.epochs 4 -> 5) and resuming is refused, names the key with its old
/// and new values, and leaves metrics.csv and the checkpoints as they were.
#[test]
fn a_resume_with_an_edited_config_is_refused_and_names_the_key() {
    let root = tempfile::tempdir().unwrap();
    let d = root.path().join("r");
    let c = cfg(&["train.epochs=4"]);
    run::train(&c, &d, &mut Silent).unwrap();
    let rd = RunDir::new(&d);
    let text = std::fs::read_to_string(rd.config()).unwrap();
    let edited = text.replace("epochs = 4", "epochs = 5");
    assert_ne!(edited, text);
    std::fs::write(rd.config(), &edited).unwrap();
    let before = files(&d);
    let e = run::resume(&d, &mut Silent).unwrap_err();
    assert!(matches!(&e, RunError::OtherConfig { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("train.epochs 4 -> 5"), "{msg}");
    assert!(msg.contains("--epochs N"), "{msg}");
    assert_eq!(files(&d), before, "a refused resume changed the run");
    // two keys, the ELR too
    std::fs::write(rd.config(), edited.replace("elr = 0.001", "elr = 0.005")).unwrap();
    let msg = run::resume(&d, &mut Silent).unwrap_err().to_string();
    assert!(msg.contains("train.epochs 4 -> 5") && msg.contains("optim.elr 0.001 -> 0.005"), "{msg}");
    // what the user wanted: the original config back, then the extension
    std::fs::write(rd.config(), &text).unwrap();
    let s = run::extend(&d, 5, &mut Silent).unwrap();
    assert_eq!(s.epochs_done, 5);
}

/// The command line: `--epochs` needs `--resume`; `--resume DIR --epochs N` trains longer, and
/// a refusal exits non-zero with its reason.
#[test]
fn the_cli_flag_maps_to_the_extension() {
    let silab = || std::process::Command::new(env!("CARGO_BIN_EXE_silab"));
    let text = |o: &std::process::Output| {
        format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
    };
    let root = tempfile::tempdir().unwrap();
    let d = root.path().join("r");
    let sets = ["data.train_size=300", "data.test_size=100", "model.width=4", "train.batch_size=64", "train.epochs=1"];
    let mut cmd = silab();
    cmd.args(["train", "-q", "--out"]).arg(&d);
    for s in sets {
        cmd.args(["--set", s]);
    }
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let o = silab().args(["train", "--epochs", "2"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--resume"), "{}", text(&o));
    let o = silab().args(["train", "-q", "--epochs", "1", "--resume"]).arg(&d).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("cannot extend the run: it is configured for 1 epochs"), "{}", text(&o));
    let o = silab().args(["train", "-q", "--epochs", "2", "--resume"]).arg(&d).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("2 epochs"), "{}", text(&o));
    let s: serde_json::Value = serde_json::from_slice(&std::fs::read(d.join("summary.json")).unwrap()).unwrap();
    assert_eq!((s["epochs_done"].as_u64(), s["extensions"][0]["from_epochs"].as_u64()), (Some(2), Some(1)));
}
