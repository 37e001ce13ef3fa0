//! Early classification (`train.stop_when = "regime"`) on real runs, and `silab map` end to end:
//! the rule stops a run where the same rule replayed on the uninterrupted run decides, with the
//! same regime; a decided run resumes to itself; a map killed between rounds or inside a round
//! resumes to the map an uninterrupted one finds.

use silab::analysis::{self, JumpParams, RegimeParams, Series};
use silab::run::{RunState, Summary};
use silab::store::RunDir;
use std::path::Path;
use std::process::{Command, Output};

fn silab() -> Command {
    Command::new(env!("CARGO_BIN_EXE_silab"))
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// A tiny sphere run: width 2, 256 images, 8 steps per epoch.
const TINY: &[&str] = &[
    "data.train_size=256",
    "data.test_size=64",
    "model.width=2",
    "train.batch_size=32",
    "train.threads=1",
    "train.checkpoint_every=5",
    "metrics.full_grad=false",
    "metrics.layers=false",
    "optim.mode=\"sphere\"",
];

fn train(out: &Path, sets: &[String]) -> Output {
    let mut c = silab();
    c.args(["train", "-q", "--out"]).arg(out);
    for s in TINY.iter().map(|s| s.to_string()).chain(sets.iter().cloned()) {
        c.args(["--set", &s]);
    }
    c.output().unwrap()
}

#[test]
fn a_run_stops_where_the_rule_replayed_on_the_full_run_decides() {
    let tmp = tempfile::tempdir().unwrap();
    // ELR 2 diverges (regime 3); ELR 0.03 settles in regime 2 on this tiny net
    for elr in ["2.0", "0.03"] {
        let full = tmp.path().join(format!("full-{elr}"));
        let early = tmp.path().join(format!("early-{elr}"));
        let sets = |stop: &str| {
            vec![
                format!("optim.elr={elr}"),
                "train.epochs=40".to_string(),
                format!("train.stop_when=\"{stop}\""),
                "train.regime_window=5".to_string(),
            ]
        };
        let o = train(&full, &sets("never"));
        assert!(o.status.success(), "{}", text(&o));
        let o = train(&early, &sets("regime"));
        assert!(o.status.success(), "{}", text(&o));
        let s = Summary::read(&RunDir::new(&early)).unwrap();
        assert_eq!(s.status, RunState::Decided, "ELR {elr}: {s:?}");
        let d = s.decision.clone().expect("a decided run records its decision");
        assert!(d.decided_at_epoch < 40 && d.decided_at_epoch == s.epochs_done, "{d:?}");
        // the checkpoint it stopped with is there
        assert!(RunDir::new(&early).checkpoint(s.epochs_done).exists());
        // the same rule on the full run, read epoch by epoch: the same regime at the same epoch
        let replayed = analysis::first_decision(&Series::from_run(&full).unwrap(), &d.rule).unwrap();
        assert_eq!((replayed.regime, replayed.decided_at_epoch), (d.regime, d.decided_at_epoch), "ELR {elr}");
        // ... and the end-of-run classification of the full run agrees
        let a = analysis::analyze_run(&full, &JumpParams::default(), &RegimeParams::default()).unwrap();
        assert_eq!(a.regime.regime, d.regime, "ELR {elr}: early {} vs end of run {}", d.label(), a.regime.label());
        // the analysis of the stopped run reports the decision, not its short tail
        let b = analysis::analyze_run(&early, &JumpParams::default(), &RegimeParams::default()).unwrap();
        assert_eq!(b.regime.regime, d.regime);
        assert!(b.regime_label().contains("decided at epoch"), "{}", b.regime_label());
        // resuming a decided run trains nothing
        let before = std::fs::read(RunDir::new(&early).metrics()).unwrap();
        let o = silab().args(["train", "-q", "--resume"]).arg(&early).output().unwrap();
        assert!(o.status.success(), "{}", text(&o));
        assert_eq!(std::fs::read(RunDir::new(&early).metrics()).unwrap(), before);
        // training it longer is refused with the reason
        let o = silab().args(["train", "-q", "--resume"]).arg(&early).args(["--epochs", "60"]).output().unwrap();
        assert!(!o.status.success() && text(&o).contains("regime was decided"), "{}", text(&o));
    }
}

#[test]
fn stop_when_regime_is_refused_outside_the_sphere() {
    let tmp = tempfile::tempdir().unwrap();
    let o = train(&tmp.path().join("r"), &["optim.mode=\"full\"".into(), "train.stop_when=\"regime\"".into()]);
    assert!(!o.status.success());
    let t = text(&o);
    assert!(t.contains("train.stop_when") && t.contains("sphere"), "{t}");
    let o = silab()
        .args(["train", "-q", "--set", "train.stop_when=\"sometimes\"", "--out"])
        .arg(tmp.path().join("s"))
        .output()
        .unwrap();
    let t = text(&o);
    assert!(!o.status.success() && t.contains("never") && t.contains("regime"), "{t}");
}

fn base_file(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("base.toml");
    let mut body = String::new();
    for s in TINY {
        body += &format!("{s}\n").replacen('=', " = ", 1);
    }
    body += "train.epochs = 24\ntrain.regime_window = 4\n";
    std::fs::write(&p, body).unwrap();
    p
}

fn map(base: &Path, out: &Path, failpoint: Option<&str>) -> Output {
    let mut c = silab();
    c.args(["map", "-q", "--config"])
        .arg(base)
        .args(["--lo", "1e-3", "--hi", "3", "--factor", "4", "--jobs", "2", "--out"])
        .arg(out);
    if let Some(f) = failpoint {
        c.env("SILAB_FAILPOINT", f);
    }
    c.output().unwrap()
}

/// The map's table without the run directories (the same runs, wherever they ran).
fn table(out: &Path) -> Vec<String> {
    let t = std::fs::read_to_string(out.join("table.csv")).unwrap();
    let mut rows: Vec<String> = t.lines().map(|l| l.rsplit_once(',').unwrap().0.to_string()).collect();
    rows.sort();
    rows
}

fn summary(out: &Path) -> serde_json::Value {
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    v.as_object_mut().unwrap().remove("rounds");
    v
}

#[test]
fn a_killed_map_resumes_to_the_uninterrupted_map() {
    let tmp = tempfile::tempdir().unwrap();
    let base = base_file(tmp.path());
    let whole = tmp.path().join("whole");
    let o = map(&base, &whole, None);
    assert!(o.status.success(), "{}", text(&o));
    let s = summary(&whole);
    assert_eq!(s["done"], true, "{s}");
    assert!(whole.join("fig_map.png").exists() && whole.join("table.parquet").exists());
    let rounds = std::fs::read_dir(whole.join("rounds")).unwrap().count();
    assert!(rounds >= 2, "a bisection of more than one round: {rounds}");

    // killed (SIGKILL) between rounds: after round 1 was written and run
    let between = tmp.path().join("between");
    let o = map(&base, &between, Some("map-round:1"));
    assert!(!o.status.success(), "the failpoint did not kill the map: {}", text(&o));
    let o = map(&base, &between, None);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(summary(&between), s);
    assert_eq!(table(&between), table(&whole));

    // a run killed inside round 0 (every worker at its step 20): the map says which failed,
    // and a rerun resumes the runs from their checkpoints
    let inside = tmp.path().join("inside");
    let o = map(&base, &inside, Some("after-step:20"));
    assert!(!o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("failed"), "{}", text(&o));
    let o = map(&base, &inside, None);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(summary(&inside), s);
    assert_eq!(table(&inside), table(&whole));

    // a rerun with other options is refused before anything runs
    let o = silab()
        .args(["map", "-q", "--config"])
        .arg(&base)
        .args(["--lo", "1e-4", "--hi", "3", "--out"])
        .arg(&whole)
        .output()
        .unwrap();
    assert!(!o.status.success() && text(&o).contains("map.json differs"), "{}", text(&o));
}
