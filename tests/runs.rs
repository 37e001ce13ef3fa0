//! Whole runs: resume = uninterrupted, the dynamics promised for each mode, real MNIST.

use silab::config::RunConfig;
use silab::progress::Silent;
use silab::store;
use silab::training as run;
use std::path::Path;

mod common;

fn cfg(sets: &[&str]) -> RunConfig {
    let base = ["data.train_size=300", "data.test_size=100", "model.width=4", "train.batch_size=64", "train.threads=2"];
    let all: Vec<String> = base.iter().chain(sets).map(|s| s.to_string()).collect();
    RunConfig::from_parts(None, &all).unwrap()
}

/// metrics.csv without the (non-deterministic) wall_time column.
fn metrics_without_time(dir: &Path) -> Vec<Vec<String>> {
    let (h, rows) = {
        let r = store::read_records(&dir.join("metrics.csv"), false).unwrap();
        (r.header, r.rows)
    };
    let t = h.iter().position(|c| c == "wall_time").unwrap();
    let mut out = vec![h];
    out.extend(rows);
    out.into_iter()
        .map(|mut r| {
            r.remove(t);
            r
        })
        .collect()
}

fn column(dir: &Path, name: &str, epoch_rows_only: bool) -> Vec<f64> {
    let (h, rows) = {
        let r = store::read_records(&dir.join("metrics.csv"), false).unwrap();
        (r.header, r.rows)
    };
    let i = h.iter().position(|c| c == name).unwrap();
    let k = h.iter().position(|c| c == "row").unwrap();
    rows.iter().filter(|r| !epoch_rows_only || r[k] == "epoch").map(|r| r[i].parse().unwrap_or(f64::NAN)).collect()
}

/// A run killed after a checkpoint and resumed ends with the same metrics and weights as an
/// uninterrupted run: momentum, augmentation, label noise, step rows and a schedule all on.
#[test]
fn resume_equals_uninterrupted() {
    let c = cfg(&[
        "optim.mode=\"full\"",
        "optim.lr=0.2",
        "optim.wd=5e-3",
        "optim.momentum=0.5",
        "optim.schedule=\"cosine\"",
        "data.augment=true",
        "data.label_noise=0.1",
        "train.epochs=3",
        "train.log_every=2",
    ]);
    let root = tempfile::tempdir().unwrap();
    let (a, b) = (root.path().join("a"), root.path().join("b"));
    run::train(&c, &a, &mut Silent).unwrap();
    run::train(&c, &b, &mut Silent).unwrap();
    // Simulate a kill during epoch 2, after the epoch-1 checkpoint: later checkpoints are gone,
    // but metrics.csv holds rows logged after the checkpoint (they must be recomputed, not kept).
    let bd = store::RunDir::new(&b);
    for e in [2, 3] {
        std::fs::remove_file(bd.checkpoint(e)).unwrap();
        std::fs::remove_file(bd.optim_state(e)).unwrap();
    }
    let s = run::resume(&b, &mut Silent).unwrap();
    assert_eq!(s.status, silab::run::RunState::Done);
    assert!(std::fs::read_to_string(b.join("summary.json")).unwrap().contains("\"status\": \"completed\""));
    assert_eq!(metrics_without_time(&a), metrics_without_time(&b));
    // TensorBoard's own reader: the uninterrupted run and the resumed one (whose killed session
    // wrote rows past the checkpoint that the resumed session replaced) equal their metrics.csv
    assert!(common::tb_check(&[&a, &b]) > 2 * 4 * 20);
    let (ta, _) = store::load_tensors(&store::RunDir::new(&a).checkpoint(3)).unwrap();
    let (tb, _) = store::load_tensors(&bd.checkpoint(3)).unwrap();
    assert_eq!(ta.len(), tb.len());
    for ((na, xa), (nb, xb)) in ta.iter().zip(&tb) {
        assert_eq!(na, nb);
        assert!(xa.equal(xb), "{na} differs after resume");
    }
    // Rows: epoch 0..=3 plus step rows every 2 steps (5 steps/epoch, not at epoch ends).
    assert_eq!(column(&a, "epoch", true), [0.0, 1.0, 2.0, 3.0]);
}

/// Sphere mode: rho is constant and the ELR equals the configured value in every row.
#[test]
fn sphere_mode_keeps_rho_and_elr() {
    let c = cfg(&["optim.mode=\"sphere\"", "optim.elr=3e-3", "train.epochs=3", "train.log_every=1"]);
    let root = tempfile::tempdir().unwrap();
    let s = run::train(&c, root.path(), &mut Silent).unwrap();
    let rho = column(root.path(), "rho", false);
    let elr = column(root.path(), "elr", false);
    assert!(rho.len() > 10);
    for (r, e) in rho.iter().zip(&elr) {
        assert!((r - s.rho0).abs() / s.rho0 < 1e-6, "rho {r} vs rho0 {}", s.rho0);
        assert!((e - 3e-3).abs() / 3e-3 < 1e-6, "elr {e}");
    }
    // and it learns
    let loss = column(root.path(), "train_loss", true);
    assert!(loss.last().unwrap() < &(loss[0] * 0.5), "train loss {loss:?}");
}

/// Full space with weight decay: after the initial jump, rho shrinks while the loss converges,
/// and the ELR grows accordingly.
#[test]
fn full_mode_with_weight_decay_shrinks_rho() {
    let c = cfg(&["optim.mode=\"full\"", "optim.lr=0.5", "optim.wd=2e-2", "train.epochs=8", "metrics.full_grad=false"]);
    let root = tempfile::tempdir().unwrap();
    run::train(&c, root.path(), &mut Silent).unwrap();
    let rho = column(root.path(), "rho", true);
    let elr = column(root.path(), "elr", true);
    let loss = column(root.path(), "train_loss", true);
    let peak = rho.iter().cloned().fold(0.0, f64::max);
    let tail = &rho[rho.len() - 4..];
    assert!(tail.windows(2).all(|w| w[1] < w[0]), "rho not shrinking at the end: {rho:?}");
    assert!(*rho.last().unwrap() < 0.9 * peak, "rho {rho:?}");
    assert!(elr.last().unwrap() > &elr[elr.len() - 4], "elr {elr:?}");
    assert!(loss.last().unwrap() < &(loss[0] * 0.5), "train loss {loss:?}");
}

/// Real data: ConvNet-4 scale-invariant on the bundled real MNIST test split (8000 train / 2000 held out)
/// passes 95% test accuracy in a few epochs.
#[test]
fn mnist_convnet4_passes_95_percent() {
    let c = RunConfig::from_preset("mnist", &["metrics.full_grad=false".into()]).unwrap();
    assert_eq!(c.model.width, 4);
    let root = tempfile::tempdir().unwrap();
    let s = run::train(&c, root.path(), &mut Silent).unwrap();
    let acc = s.last["test_acc"];
    assert!(acc > 0.95, "test accuracy {acc}");
    assert!(s.epochs_done <= 5);
}

/// The same seed and thread count give the same run; another seed does not.
#[test]
fn runs_are_deterministic() {
    let c = cfg(&["train.epochs=1", "data.augment=true"]);
    let root = tempfile::tempdir().unwrap();
    run::train(&c, &root.path().join("a"), &mut Silent).unwrap();
    run::train(&c, &root.path().join("b"), &mut Silent).unwrap();
    let mut c2 = c.clone();
    c2.seed = 1;
    run::train(&c2, &root.path().join("c"), &mut Silent).unwrap();
    let (a, b, cc) = (
        metrics_without_time(&root.path().join("a")),
        metrics_without_time(&root.path().join("b")),
        metrics_without_time(&root.path().join("c")),
    );
    assert_eq!(a, b);
    assert_ne!(a[2], cc[2]);
}

/// Output files: config.toml round-trips, summary.json parses, checkpoints carry metadata,
/// an existing run directory is refused.
#[test]
fn run_directory_contents() {
    let c = cfg(&["train.epochs=2", "train.checkpoint_every=0", "train.keep_checkpoints=false"]);
    let root = tempfile::tempdir().unwrap();
    run::train(&c, root.path(), &mut Silent).unwrap();
    let d = store::RunDir::new(root.path());
    assert_eq!(RunConfig::from_file(&d.config(), &[]).unwrap(), c);
    let s: serde_json::Value = serde_json::from_slice(&std::fs::read(d.summary()).unwrap()).unwrap();
    assert_eq!(s["status"], "completed");
    assert_eq!(s["config_hash"], c.hash());
    assert_eq!(d.checkpoint_epochs(), [0, 2]);
    let (_, meta) = store::load_tensors(&d.checkpoint(2)).unwrap();
    assert_eq!(meta["epoch"], "2");
    assert_eq!(meta["step"], "10");
    assert_eq!(meta["config_hash"], c.hash());
    let e = run::train(&c, root.path(), &mut Silent).unwrap_err();
    assert!(matches!(e, silab::run::RunError::AlreadyHoldsRun { .. }), "{e:?}");
    assert!(e.to_string().contains("--resume"), "{e}");
    // The header lists every documented column, then per-layer ones.
    let (h, _) = {
        let r = store::read_records(&d.metrics(), false).unwrap();
        (r.header, r.rows)
    };
    for name in silab::schema::METRICS.iter().map(|c| c.name) {
        assert!(h.iter().any(|c| c == name), "{name} missing");
    }
    assert!(h.iter().any(|c| c == "norm:conv_layers.0.weight") && h.iter().any(|c| c == "elr:conv_layers.11.weight"));
}

/// The run directory and resume cases are variants a caller can match on; none of them changes
/// the run's files.
#[test]
fn run_directory_errors_are_typed() {
    use silab::run::RunError;
    let root = tempfile::tempdir().unwrap();
    let c = cfg(&["train.epochs=2"]);
    let d = root.path().join("r");
    run::train(&c, &d, &mut Silent).unwrap();
    let rd = store::RunDir::new(&d);
    let metrics = std::fs::read(rd.metrics()).unwrap();
    // a new run where one is
    let e = run::train(&c, &d, &mut Silent).unwrap_err();
    assert!(matches!(&e, RunError::AlreadyHoldsRun { dir } if dir == &d), "{e:?}");
    // resuming what is no run
    let e = run::resume(root.path(), &mut Silent).unwrap_err();
    assert!(matches!(&e, RunError::NotRunDir { .. }), "{e:?}");
    assert!(!root.path().join("lock").exists(), "a lock file was left in a folder that holds no run");
    // a run another writer holds: its pid
    let held = rd.lock().unwrap();
    let e = run::resume(&d, &mut Silent).unwrap_err();
    assert!(matches!(&e, RunError::Locked { pid: Some(p), .. } if *p == std::process::id()), "{e:?}");
    drop(held);
    // config.toml edited after the run started: its checkpoints are of another config
    let original = std::fs::read(rd.config()).unwrap();
    std::fs::write(rd.config(), cfg(&["train.epochs=2", "optim.elr=5e-3"]).to_toml()).unwrap();
    let e = run::resume(&d, &mut Silent).unwrap_err();
    assert!(matches!(&e, RunError::OtherConfig { expected, .. } if *expected != c.hash()), "{e:?}");
    assert!(e.to_string().contains("another config"), "{e}");
    std::fs::write(rd.config(), original).unwrap();
    // the initial weights are needed to resume from a later checkpoint
    std::fs::remove_file(rd.checkpoint(0)).unwrap();
    let e = run::resume(&d, &mut Silent).unwrap_err();
    assert!(matches!(&e, RunError::NoCheckpoint { path, .. } if *path == rd.checkpoint(0)), "{e:?}");
    assert_eq!(std::fs::read(rd.metrics()).unwrap(), metrics, "a refused resume changed metrics.csv");
    // and a fine-tuning source with no checkpoint
    let bad = cfg(&[&format!("train.init_from=\"{}\"", root.path().join("none").display())]);
    let e = run::train(&bad, &root.path().join("b"), &mut Silent).unwrap_err();
    assert!(matches!(&e, RunError::NoCheckpoint { .. }), "{e:?}");
}

/// Fine-tuning (P2's ELR drops): a run started with `train.init_from` begins exactly at the other
/// run's final weights and BN statistics, and on its sphere.
#[test]
fn fine_tuning_starts_from_another_runs_checkpoint() {
    let root = tempfile::tempdir().unwrap();
    let a = root.path().join("a");
    let s = run::train(&cfg(&["optim.elr=1e-2", "train.epochs=2"]), &a, &mut Silent).unwrap();
    let b = root.path().join("b");
    let c = cfg(&["optim.elr=1e-3", "train.epochs=1", &format!("train.init_from=\"{}\"", a.display())]);
    let sb = run::train(&c, &b, &mut Silent).unwrap();
    let (ta, _) = store::load_tensors(&store::RunDir::new(&a).checkpoint(2)).unwrap();
    let (tb, _) = store::load_tensors(&store::RunDir::new(&b).checkpoint(0)).unwrap();
    for ((na, xa), (nb, xb)) in ta.iter().zip(&tb) {
        assert_eq!(na, nb);
        assert!(xa.equal(xb), "{na} not loaded");
    }
    assert!((sb.rho0 - s.last["rho"]).abs() < 1e-5 * s.rho0);
    assert_eq!(column(&b, "rho", true).len(), 2);
    // a missing source is a clear error
    let bad = cfg(&["train.init_from=\"/no/such/run\""]);
    let e = format!("{:#}", run::train(&bad, &root.path().join("c"), &mut Silent).unwrap_err());
    assert!(e.contains("/no/such/run") && e.contains("checkpoint"), "{e}");
}

/// sharpness.csv without the (non-deterministic) seconds column.
fn sharpness_without_time(dir: &Path) -> Vec<Vec<String>> {
    let (h, rows) = {
        let r = store::read_records(&dir.join("sharpness.csv"), false).unwrap();
        (r.header, r.rows)
    };
    let t = h.iter().position(|c| c == "seconds").unwrap();
    std::iter::once(h)
        .chain(rows)
        .map(|mut r| {
            r.remove(t);
            r
        })
        .collect()
}

/// Curvature measured during training: rows at init and every epoch, per group; measuring does
/// not change the training (metrics equal a run without it); a resumed run measures exactly what
/// an uninterrupted one does.
#[test]
fn sharpness_during_training_resumes_and_leaves_training_alone() {
    let sharp = [
        "train.epochs=3",
        "model.variant=\"si-affine\"",
        "sharpness.every_epochs=1",
        "sharpness.images=64",
        "sharpness.probes=2",
        "sharpness.lanczos_iters=3",
        "sharpness.groups=[\"si\", \"non_si\"]",
    ];
    let root = tempfile::tempdir().unwrap();
    let (a, b, plain) = (root.path().join("a"), root.path().join("b"), root.path().join("plain"));
    run::train(&cfg(&sharp), &a, &mut Silent).unwrap();
    run::train(&cfg(&sharp), &b, &mut Silent).unwrap();
    run::train(&cfg(&sharp[..2]), &plain, &mut Silent).unwrap();
    assert_eq!(metrics_without_time(&a), metrics_without_time(&plain), "measuring changed the training");
    let rows = sharpness_without_time(&a);
    let h = &rows[0];
    let col = |n: &str| h.iter().position(|c| c == n).unwrap();
    // 4 measurements (epochs 0..=3) x 2 groups
    assert_eq!(rows.len(), 1 + 8);
    assert_eq!(rows[1][col("group")], "si");
    assert_eq!(rows[2][col("group")], "non_si");
    assert_eq!(rows[8][col("epoch")], "3");
    assert!(rows[1][col("riemannian_top_eig")].parse::<f64>().is_ok());
    assert_eq!(rows[2][col("riemannian_top_eig")], "", "the Riemannian Hessian is for the SI group only");
    assert_eq!(rows[2][col("eff_top_eig")], "", "non-SI groups have no scale-free value");
    let bd = store::RunDir::new(&b);
    for e in [2, 3] {
        std::fs::remove_file(bd.checkpoint(e)).unwrap();
        std::fs::remove_file(bd.optim_state(e)).unwrap();
    }
    // b's sharpness.csv as silab 0.1 wrote it (without the columns added since, and with a
    // line cut by the kill): the resumed run continues it with today's columns, and the rows
    // measured after the resume point are the uninterrupted run's
    let path = b.join("sharpness.csv");
    let old = store::read_records(&path, false).unwrap();
    let newer = ["top_eig_rel_residual", "converged", "riemannian_top_eig_residual", "gn_top_eig_residual"];
    let keep: Vec<usize> = (0..old.header.len()).filter(|&i| !newer.contains(&old.header[i].as_str())).collect();
    let thin = |r: &Vec<String>| keep.iter().map(|&i| r[i].clone()).collect::<Vec<_>>();
    let mut text = store::Records { header: thin(&old.header), rows: old.rows.iter().map(thin).collect() }.to_csv();
    text.extend_from_slice(b"3,15,si,27");
    std::fs::write(&path, text).unwrap();
    run::resume(&b, &mut Silent).unwrap();
    let (ra, rb) = (sharpness_without_time(&a), sharpness_without_time(&b));
    assert_eq!(ra[0], rb[0], "today's header");
    let c = ra[0].iter().position(|n| n == "converged").unwrap();
    // rows kept from the old file (epochs 0 and 1) have the new cells empty, the others are equal
    for (x, y) in ra.iter().zip(&rb).skip(1) {
        if y[c].is_empty() {
            assert!(y[0] == "0" || y[0] == "1", "{y:?}");
            let same: Vec<usize> = (0..x.len()).filter(|&i| !y[i].is_empty()).collect();
            assert!(same.iter().all(|&i| x[i] == y[i]), "{x:?} vs {y:?}");
        } else {
            assert_eq!(x, y);
        }
    }
    assert_eq!(ra.len(), rb.len());
}

/// `sharpness.every_steps`: rows at init and every N steps, inside epochs too; an epoch end that
/// is also due by epochs is measured once.
#[test]
fn sharpness_every_steps() {
    // 300 images / 64 = 5 steps per epoch, 2 epochs: steps 0, 3, 6, 9 by steps, epoch ends 5, 10
    let c = cfg(&[
        "train.epochs=2",
        "sharpness.every_steps=3",
        "sharpness.every_epochs=2",
        "sharpness.images=32",
        "sharpness.probes=2",
        "sharpness.lanczos_iters=2",
        "sharpness.gauss_newton=false",
        "sharpness.riemannian=false",
    ]);
    let root = tempfile::tempdir().unwrap();
    run::train(&c, root.path(), &mut Silent).unwrap();
    let (h, rows) = {
        let r = store::read_records(&root.path().join("sharpness.csv"), false).unwrap();
        (r.header, r.rows)
    };
    let col = |n: &str| h.iter().position(|c| c == n).unwrap();
    let got: Vec<(String, String)> = rows.iter().map(|r| (r[col("epoch")].clone(), r[col("step")].clone())).collect();
    let want = [("0", "0"), ("0", "3"), ("1", "6"), ("1", "9"), ("2", "10")];
    assert_eq!(got, want.map(|(e, s)| (e.to_string(), s.to_string())));
}
