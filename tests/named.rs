//! Every state named for what it is (issue 23): a run whose rho, loss or weights went non-finite
//! is called so by `analyze`, refused by `sharpness` and named by `landscape line` (whose finite
//! endpoint keeps its exact values); misleading messages replaced by ones naming the real problem.

use silab::analysis::{Regime, RegimeParams, Series, analyze_run, regime};
use silab::config::RunConfig;
use silab::store::RunDir;
use silab::sweep::SweepDir;
use std::path::Path;
use std::process::{Command, Output};

fn silab() -> Command {
    Command::new(env!("CARGO_BIN_EXE_silab"))
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

const TINY: &[&str] =
    &["model.width=2", "data.train_size=256", "data.test_size=64", "train.threads=1", "metrics.full_grad=false"];

fn train(out: &Path, sets: &[&str]) -> Output {
    let mut c = silab();
    c.args(["train", "-q", "--out"]).arg(out);
    for s in TINY.iter().chain(sets) {
        c.args(["--set", s]);
    }
    c.output().unwrap()
}

/// The issue's run: full space, lr 1e30, not stopped on non-finite values; rho is inf from epoch 1.
fn diverged(out: &Path) {
    let sets = ["train.epochs=2", "optim.mode=full", "optim.lr=1e30", "train.stop_on_nonfinite=false"];
    let o = train(out, &sets);
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn a_nonfinite_run_is_named_by_analyze_sharpness_and_landscape() {
    let root = tempfile::tempdir().unwrap();
    let run = root.path().join("nf");
    diverged(&run);

    // analyze: divergence, with where it went non-finite (not "chaotic", not "too short")
    let a = analyze_run(&run, &Default::default(), &RegimeParams::default()).unwrap();
    assert_eq!(a.regime.regime, Regime::Divergence);
    let n = a.regime.nonfinite.as_ref().expect("flagged non-finite");
    assert_eq!((n.epoch, n.column.as_str()), (1, "rho"));
    assert_eq!(a.regime.label(), "divergence (non-finite rho at epoch 1)");
    let o = silab().arg("analyze").arg(&run).output().unwrap();
    assert!(text(&o).contains("divergence (non-finite rho at epoch 1)"), "{}", text(&o));

    // sharpness: the finite checkpoint is measured, the others are refused by name
    let o = silab()
        .args(["sharpness", "-q"])
        .arg(&run)
        .args(["--set", "sharpness.images=32", "--set", "sharpness.probes=2", "--set", "sharpness.lanczos_iters=3"])
        .args(["--set", "sharpness.gauss_newton=false", "--set", "sharpness.riemannian=false"])
        .output()
        .unwrap();
    let t = text(&o);
    assert!(!o.status.success(), "{t}");
    for e in ["epoch_00001.safetensors", "epoch_00002.safetensors"] {
        assert!(t.contains(&format!("{e}: the weights are not finite")), "{t}");
    }
    let rows = silab::store::Table::read(&RunDir::new(&run).sharpness_posthoc()).unwrap();
    let epochs: Vec<f64> = rows.rows.iter().map(|r| r.num(rows.col("epoch").unwrap())).collect();
    assert!(!epochs.is_empty() && epochs.iter().all(|&e| e == 0.0), "{epochs:?}");

    // landscape line: t = 0 is the finite checkpoint exactly, the non-finite end is named
    let out = root.path().join("line");
    let o = silab()
        .args(["landscape", "line", "-q"])
        .arg(format!("{}@0", run.display()))
        .arg(format!("{}@2", run.display()))
        .args(["--points", "3", "--images", "64", "--test-images", "64", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("@2: the weights are not finite"), "{t}");
    let line = silab::store::Table::read(&out.join("line.csv")).unwrap();
    let (tc, loss, rho) = (line.col("t").unwrap(), line.col("train_loss").unwrap(), line.col("rho").unwrap());
    let starts: Vec<_> = line.rows.iter().filter(|r| r.num(tc) == 0.0).collect();
    assert_eq!(starts.len(), 2, "one row at t = 0 per path");
    for r in starts {
        assert!(r.num(loss).is_finite() && (r.num(rho) - 3.187).abs() < 1e-3, "{:?}", r.fields);
    }

    // a slice through the non-finite checkpoint is refused
    let o = silab().args(["landscape", "slice"]).arg(format!("{}@2", run.display())).output().unwrap();
    assert!(!o.status.success() && text(&o).contains("the weights are not finite"), "{}", text(&o));
}

#[test]
fn a_finite_run_keeps_its_regime_label() {
    let n = 12;
    let s = Series {
        epoch: (0..n).map(|e| e as f64).collect(),
        train_loss: vec![1.0; n],
        train_acc: vec![0.5; n],
        test_acc: vec![0.5; n],
        eff_grad_norm: vec![1.0; n],
        classes: 10,
        ..Default::default()
    };
    let r = regime(&s, &RegimeParams::default());
    assert_eq!((r.regime, r.label()), (Regime::Chaotic, "chaotic".to_string()));
    assert!(!serde_json::to_string(&r).unwrap().contains("nonfinite"));
}

#[test]
fn a_file_where_a_directory_goes_is_named() {
    let root = tempfile::tempdir().unwrap();
    let file = root.path().join("f");
    std::fs::write(&file, "x").unwrap();
    let o = train(&file, &["train.epochs=1"]);
    assert!(text(&o).contains("f: exists and is a file, not a directory"), "{}", text(&o));
    let o = train(&file.join("sub"), &["train.epochs=1"]);
    assert!(text(&o).contains("f: exists and is a file, not a directory"), "{}", text(&o));
    // checkpoints/ taken by a file
    let out = root.path().join("run");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("checkpoints"), "x").unwrap();
    let o = train(&out, &["train.epochs=1"]);
    assert!(!o.status.success() && text(&o).contains("checkpoints: exists and is a file"), "{}", text(&o));
}

#[test]
fn a_negative_radius_reaches_its_check() {
    let root = tempfile::tempdir().unwrap();
    let run = root.path().join("r");
    let o = train(&run, &["train.epochs=1"]);
    assert!(o.status.success(), "{}", text(&o));
    for r in ["-1", "0"] {
        let o = silab().args(["landscape", "slice"]).arg(&run).args(["--radius", r]).output().unwrap();
        assert!(text(&o).contains(&format!("--radius must be a positive number, got {r}")), "{}", text(&o));
    }
}

#[test]
fn a_checkpoint_copied_over_another_is_named_and_skipped() {
    let root = tempfile::tempdir().unwrap();
    let run = root.path().join("r");
    let o = train(&run, &["train.epochs=3"]);
    assert!(o.status.success(), "{}", text(&o));
    let rd = RunDir::new(&run);
    let before = std::fs::read_to_string(rd.metrics()).unwrap();
    std::fs::copy(rd.checkpoint(2), rd.checkpoint(3)).unwrap();
    std::fs::copy(rd.optim_state(2), rd.optim_state(3)).unwrap();
    std::fs::remove_file(rd.summary()).unwrap();
    let o = silab().args(["train", "--resume"]).arg(&run).output().unwrap();
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("epoch_00003.safetensors: holds epoch 2 (step 4, its metadata) but its name says epoch 3"),
        "{t}"
    );
    assert!(t.contains("resuming") && t.contains("from epoch 2"), "{t}");
    let drop_wall =
        |s: &str| s.lines().map(|l| l.split(',').take(18).collect::<Vec<_>>().join(",")).collect::<Vec<_>>();
    assert_eq!(drop_wall(&std::fs::read_to_string(rd.metrics()).unwrap()), drop_wall(&before));
}

#[test]
fn resuming_a_missing_directory_says_so() {
    let o = silab().args(["train", "--resume", "/nonexistent/r23b"]).output().unwrap();
    assert!(text(&o).contains("/nonexistent/r23b is not a run directory (no config.toml)"), "{}", text(&o));
    assert!(!text(&o).contains("lock"), "{}", text(&o));
}

#[test]
fn resubmit_of_a_local_sweep_says_how_to_rerun() {
    let root = tempfile::tempdir().unwrap();
    let sd = SweepDir::new(root.path().join("s"));
    let spec = silab::sweep::SweepSpec::parse(
        "name = \"t\"\n[base]\nmodel.width = 2\n[axes]\n\"optim.elr\" = [1e-3, 1e-2]\n",
        "t",
        &[],
    )
    .unwrap();
    silab::sweep::create(&sd, &spec).unwrap();
    let o = silab().args(["sweep", "resubmit"]).arg(&sd.root).output().unwrap();
    let t = text(&o);
    assert!(!o.status.success() && t.contains("a local sweep (never submitted to Slurm)"), "{t}");
    assert!(t.contains(&format!("silab sweep --config {} --out", sd.spec().display())) && !t.contains("sbatch"), "{t}");
}

#[test]
fn every_u64_seed_is_accepted_and_written_back() {
    let c = RunConfig::from_parts(None, &["seed=18446744073709551615".into()]).unwrap();
    assert_eq!(c.seed, u64::MAX);
    let again = RunConfig::from_parts(Some((&c.to_toml(), "config.toml")), &[]).unwrap();
    assert_eq!(again, c);
    let c = RunConfig::from_parts(Some(("seed = \"9223372036854775808\"", "f.toml")), &[]).unwrap();
    assert_eq!(c.seed, 1 << 63);
    // seeds that fit TOML's integers are written as before (config hashes unchanged)
    assert!(RunConfig::from_parts(None, &["seed=7".into()]).unwrap().to_toml().contains("seed = 7\n"));
    for bad in ["seed=-1", "seed=18446744073709551616", "seed=\"12a\""] {
        let e = RunConfig::from_parts(None, &[bad.into()]).unwrap_err();
        assert_eq!(e.key(), Some("seed"), "{bad}: {e}");
        assert!(e.to_string().contains("18446744073709551615"), "{bad}: {e}");
    }
}
