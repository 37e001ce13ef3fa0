//! Sweeps: expansion, resume, the tidy table (read back by polars).

use silab::progress::Silent;
use silab::run::RunState;
use silab::sweep::local;
use silab::sweep::{self, Attempt, SweepDir, SweepSpec, point_state, run_point, table};
use std::path::Path;

mod common;

const BASE: &str = r#"
[base]
data.train_size = 200
data.test_size = 60
model.width = 2
train.epochs = 2
train.threads = 1
train.batch_size = 50
metrics.full_grad = false
"#;

#[test]
fn expansion_cartesian_zip_log_and_seeds() {
    let text = format!(
        r#"
name = "x"
seeds = [3, 4]
zip = ["optim.lr", "optim.wd"]
{BASE}
[axes]
"optim.elr" = {{ log = [1e-4, 1e-2, 3] }}
"optim.lr" = [0.1, 0.2]
"optim.wd" = [1e-3, 2e-3]
"loss" = ["ce", "mse"]
"#
    );
    let s = SweepSpec::parse(&text, "t", &[]).unwrap();
    assert_eq!(
        s.axes.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        ["optim.elr", "optim.lr", "optim.wd", "loss"]
    );
    let elrs: Vec<f64> = s.axes[0].1.iter().map(|v| v.as_float().unwrap()).collect();
    assert_eq!(elrs, [1e-4, 1e-3, 1e-2]);
    let pts = s.expand().unwrap();
    // 3 elr x 2 (lr, wd) pairs x 2 losses x 2 seeds
    assert_eq!(pts.len(), 24);
    for (_, seed, cfg) in &pts {
        assert_eq!(cfg.seed, *seed);
        assert!(
            (cfg.optim.lr, cfg.optim.wd) == (0.1, 1e-3) || (cfg.optim.lr, cfg.optim.wd) == (0.2, 2e-3),
            "zip broken"
        );
        assert_eq!(cfg.model.width, 2);
    }
    // seeds vary fastest, then the last axis
    assert_eq!((pts[0].1, pts[1].1), (3, 4));
    assert_ne!(pts[0].2.loss, pts[2].2.loss);
    let hashes: std::collections::HashSet<String> = pts.iter().map(|p| p.2.hash()).collect();
    assert_eq!(hashes.len(), 24);
    // round trip through sweep.toml
    let again = SweepSpec::parse(&s.to_toml(), "t2", &[]).unwrap();
    assert_eq!(again.manifest().unwrap().0, s.manifest().unwrap().0);
    // --set on [base]
    let s2 = SweepSpec::parse(&text, "t", &["train.epochs=7".into()]).unwrap();
    assert!(s2.expand().unwrap().iter().all(|p| p.2.train.epochs == 7));
}

#[test]
fn bad_sweep_files_name_the_problem() {
    let cases = [
        (format!("{BASE}\n[axes]\n\"optim.lrr\" = [1.0]"), "optim.lrr"),
        (format!("{BASE}\n[axes]\n\"optim.lr\" = {{ log = [0.0, 1.0, 3] }}"), "lo, hi > 0"),
        (
            format!(
                "zip = [\"optim.lr\", \"optim.wd\"]\n{BASE}\n[axes]\n\"optim.lr\" = [1.0, 2.0]\n\"optim.wd\" = [1.0]"
            ),
            "same number",
        ),
        (format!("zip = [\"optim.momentum\"]\n{BASE}\n[axes]\n\"optim.lr\" = [1.0]"), "not an axis"),
        (format!("axis = 1\n{BASE}"), "unknown key `axis`"),
        (format!("{BASE}\n[axes]\n\"optim.mode\" = [\"full\", \"ball\"]"), "ball"),
    ];
    for (text, needle) in cases {
        let e = format!("{:#}", SweepSpec::parse(&text, "f.toml", &[]).unwrap_err());
        assert!(e.contains(needle), "expected `{needle}` in: {e}");
    }
}

fn spec() -> SweepSpec {
    let text = format!(
        "name = \"t\"\nseeds = [0, 1]\n{BASE}\n[axes]\n\"optim.elr\" = [1e-3, 1e-2]\n\"loss\" = [\"ce\", \"mse\"]\n"
    );
    SweepSpec::parse(&text, "t", &[]).unwrap()
}

fn silab_exe() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_silab"))
}

/// A sweep interrupted with one point done and one half-done resumes: the done point is skipped,
/// the started one resumes, and the table equals that of an uninterrupted sweep.
#[test]
fn sweep_resumes_and_table_matches_uninterrupted() {
    let root = tempfile::tempdir().unwrap();
    let (a, b) = (SweepDir::new(root.path().join("a")), SweepDir::new(root.path().join("b")));
    let s = spec();
    sweep::create(&a, &s).unwrap();
    let r = local::run(&a, 2, silab_exe(), &mut Silent).unwrap();
    assert_eq!((r.done, r.failed.len()), (8, 0));
    let ta = table::write(&a).unwrap();

    let m = sweep::create(&b, &s).unwrap();
    run_point(&b.root, 0, &mut Silent).unwrap();
    run_point(&b.root, 5, &mut Silent).unwrap();
    // point 5 "killed" after epoch 1: drop its later checkpoint
    let rd = m.points[5].run_dir(&b);
    std::fs::remove_file(rd.checkpoint(2)).unwrap();
    std::fs::remove_file(rd.optim_state(2)).unwrap();
    std::fs::remove_file(rd.summary()).unwrap();
    assert_eq!(point_state(&b, &m.points[0]), RunState::Done);
    assert_eq!(point_state(&b, &m.points[5]), RunState::Running);
    assert_eq!(point_state(&b, &m.points[1]), RunState::Pending);
    let mtime = std::fs::metadata(m.points[0].run_dir(&b).metrics()).unwrap().modified().unwrap();
    let r = local::run(&b, 2, silab_exe(), &mut Silent).unwrap();
    assert_eq!((r.done, r.failed.len()), (8, 0));
    assert_eq!(
        std::fs::metadata(m.points[0].run_dir(&b).metrics()).unwrap().modified().unwrap(),
        mtime,
        "done point rerun"
    );
    let tb = table::write(&b).unwrap();
    let drop_time = |t: &table::Table| t.columns.iter().filter(|(n, _)| n != "wall_time").cloned().collect::<Vec<_>>();
    assert_eq!(drop_time(&ta), drop_time(&tb));
    // TensorBoard's reader sees every point's metrics.csv, the resumed one included (its START
    // event drops what the killed session wrote after the checkpoint)
    assert!(
        rd.root
            .read_dir()
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with("events.out.tfevents."))
            .count()
            == 2
    );
    let dirs: Vec<_> = m.points.iter().map(|p| p.run_dir(&b).root).collect();
    let n = common::tb_check(&dirs.iter().map(|d| d.as_path()).collect::<Vec<_>>());
    assert!(n > 8 * 3 * 10, "{n} scalars");
    // A different sweep in the same directory is refused.
    let mut other = spec();
    other.seeds = vec![5];
    let e = sweep::create(&b, &other).unwrap_err().to_string();
    assert!(e.contains("different sweep"), "{e}");
}

/// Table schema: point, seed, one column per swept key (typed), then the metrics columns; polars
/// reads the Parquet and CSV files with no glue and sees the same numbers.
#[test]
fn table_schema_and_polars_reads_it() {
    let root = tempfile::tempdir().unwrap();
    let sd = SweepDir::new(root.path());
    let s = spec();
    sweep::create(&sd, &s).unwrap();
    for i in 0..8 {
        run_point(&sd.root, i, &mut Silent).unwrap();
    }
    let t = table::write(&sd).unwrap();
    let names: Vec<&str> = t.columns.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(&names[..6], ["point", "seed", "optim.elr", "loss", "epoch", "step"]);
    assert!(matches!(t.column("optim.elr"), Some(table::Column::Float(_))));
    assert!(matches!(t.column("loss"), Some(table::Column::Str(_))));
    assert!(matches!(t.column("epoch"), Some(table::Column::Int(_))));
    assert_eq!(t.rows(), 8 * 3);
    // on the sphere the elr column is the configured ELR exactly (a group_by on it never splits)
    let Some(table::Column::Float(elr)) = t.column("elr") else { panic!("no float elr column") };
    assert!(elr.iter().all(|e| matches!(e, Some(x) if *x == 1e-3 || *x == 1e-2)), "{elr:?}");
    // analyze: 8 rows told apart by their swept keys and seed; 2 epochs are too short to classify
    let a = silab::analysis::analyze(&sd.root, &Default::default(), &Default::default()).unwrap();
    let text = silab::analysis::to_text(&a);
    let rows: Vec<&str> = text.lines().filter(|l| l.starts_with('p')).collect();
    assert_eq!(rows.len(), 8, "{text}");
    let keys: std::collections::BTreeSet<String> =
        rows.iter().map(|l| l.split_whitespace().skip(1).take(3).collect::<Vec<_>>().join(" ")).collect();
    assert_eq!(keys.len(), 8, "{text}");
    assert!(rows.iter().all(|l| l.contains("too short")), "{text}");
    let header: Vec<&str> = text.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(header[..4], ["run", "optim.elr", "loss", "seed"], "{text}");
    assert!(!text.contains("boundaries"), "no boundaries without classified runs: {text}");
    let python = common::python();
    let script = r#"
import sys, polars as pl
p = pl.read_parquet(sys.argv[1] + "/table.parquet")
c = pl.read_csv(sys.argv[1] + "/table.csv")
assert p.shape == c.shape == (24, p.width), (p.shape, c.shape)
assert p.schema["optim.elr"] == pl.Float64 and p.schema["loss"] == pl.String and p.schema["epoch"] == pl.Int64, p.schema
assert p["point"].to_list() == c["point"].to_list()
d = (p["train_loss"] - c["train_loss"]).abs().max()
assert d < 1e-9, d
g = p.filter(pl.col("row") == "epoch").group_by("optim.elr", "loss").agg(pl.col("test_acc").max())
assert g.height == 4, g
print("polars ok", p.shape)
"#;
    let out = std::process::Command::new(python).args(["-c", script]).arg(root.path()).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && text.contains("polars ok"), "{text}");
}

/// `sweep status` from the directory alone: a point whose run fails is `failed` with its error
/// and log, an attempt whose process is gone is `failed` (interrupted), a live one `running`, a
/// Slurm task that left the queue unfinished `failed`, queue states `running`/`queued`; resubmit
/// picks exactly the failed and pending points.
#[test]
fn status_from_attempt_records_and_queue() {
    use silab::sweep::slurm::{self, SlurmState};
    use silab::sweep::status;
    use std::collections::HashMap;
    let root = tempfile::tempdir().unwrap();
    let sd = SweepDir::new(root.path());
    let m = sweep::create(&sd, &spec()).unwrap();
    run_point(&sd.root, 0, &mut Silent).unwrap();
    // point 1 cannot load its data: the error names the point and its log
    let rd1 = m.points[1].run_dir(&sd);
    let cfg = std::fs::read_to_string(rd1.config()).unwrap();
    let broken =
        cfg.replace("name = \"synthetic\"", "name = \"mnist\"").replace("dir = \"\"", "dir = \"/nonexistent/mnist\"");
    assert_ne!(cfg, broken);
    std::fs::write(rd1.config(), broken).unwrap();
    let e = format!("{:#}", run_point(&sd.root, 1, &mut Silent).unwrap_err());
    assert!(e.contains("point 1") && e.contains("logs/p0001.log") && e.contains("/nonexistent/mnist"), "{e}");
    let a = Attempt::read(&sd, &m.points[1]).unwrap();
    assert_eq!(a.status, RunState::Failed);
    // point 2: "running" in a process that no longer exists; point 3: in this (live) process
    let fake = |pid: u32, task: Option<&str>| Attempt {
        status: RunState::Running,
        host: silab::sweep::hostname(),
        pid,
        slurm_task: task.map(String::from),
        started: 0.0,
        ended: None,
        error: None,
        log: "logs/x.log".into(),
    };
    let write = |i: usize, a: &Attempt| {
        std::fs::write(m.points[i].run_dir(&sd).attempt(), serde_json::to_vec(a).unwrap()).unwrap();
    };
    let dead = {
        let mut c = std::process::Command::new("true").spawn().unwrap();
        let pid = c.id();
        c.wait().unwrap();
        pid
    };
    write(2, &fake(dead, None));
    write(3, &fake(std::process::id(), None));
    // point 4: a Slurm task no longer in the queue; 5 and 6 are in it
    write(4, &fake(1, Some("77_4")));
    let queue = Some(HashMap::from([
        (5, ("77_5".to_string(), SlurmState::parse("RUNNING"))),
        (6, ("77_6".to_string(), SlurmState::parse("PENDING"))),
    ]));
    let finished = HashMap::from([("77_4".to_string(), SlurmState::parse("TIMEOUT"))]);
    let r = status(&sd, &queue, &finished).unwrap();
    let st: Vec<RunState> = r.iter().map(|r| r.status).collect();
    use RunState::*;
    assert_eq!(st, [Done, Failed, Failed, Running, Failed, Running, Queued, Pending]);
    assert!(r[1].detail.contains("/nonexistent/mnist"), "{}", r[1].detail);
    assert!(r[2].detail.contains("interrupted"), "{}", r[2].detail);
    assert!(r[4].detail.contains("77_4") && r[4].detail.contains("timeout"), "{}", r[4].detail);
    assert!(r[1].log.ends_with("logs/p0001.log"));
    assert_eq!(r[0].epochs_done, 2);
    assert_eq!(slurm::to_resubmit(&r), vec![1, 2, 4, 7]);
    // without a queue, a recorded Slurm task cannot be checked: it is reported as running
    let r = status(&sd, &None, &HashMap::new()).unwrap();
    assert_eq!(r[4].status, Running);
}

/// The `--array` value and the batch script, without Slurm.
#[test]
fn slurm_array_spec_and_script() {
    use silab::sweep::slurm::{SlurmOptions, array_spec, script};
    assert_eq!(array_spec(&[0, 1, 2, 3], None), "0-3");
    assert_eq!(array_spec(&[7, 0, 1, 3, 5, 6], Some(2)), "0-1,3,5-7%2");
    assert_eq!(array_spec(&[4], None), "4");
    let root = tempfile::tempdir().unwrap();
    let sd = SweepDir::new(root.path().join("my sweep"));
    sweep::create(&sd, &spec()).unwrap();
    let opts = SlurmOptions {
        partition: Some("gpu".into()),
        time: Some("1-00:00:00".into()),
        gpus_per_task: Some(1),
        max_parallel: Some(3),
        extra: vec!["--account=proj".into()],
        ..Default::default()
    };
    let s = script(&sd, &opts, Path::new("/opt/silab"), &[1, 2, 5]).unwrap();
    for needle in [
        "#SBATCH --array=1-2,5%3",
        "#SBATCH --partition=gpu",
        "#SBATCH --time=1-00:00:00",
        "#SBATCH --gpus-per-task=1",
        "#SBATCH --cpus-per-task=1",
        "#SBATCH --account=proj",
        "#SBATCH --open-mode=append",
        "/opt/silab sweep point '",
        "my sweep' --index \"$i\"",
        "p%4a.log",
    ] {
        assert!(s.contains(needle), "`{needle}` not in:\n{s}");
    }
    let e = script(&sd, &opts, Path::new("/opt/silab"), &[8]).unwrap_err().to_string();
    assert!(e.contains("point 8") && e.contains("8"), "{e}");
    for bad in ["1:2:3:4", "ab", "", "1--2"] {
        let o = SlurmOptions { time: Some(bad.into()), ..Default::default() };
        assert!(o.validate().unwrap_err().to_string().contains("--time"), "{bad}");
    }
    assert!(SlurmOptions { max_parallel: Some(0), ..Default::default() }.validate().is_err());
    assert!(SlurmOptions { extra: vec!["account=x".into()], ..Default::default() }.validate().is_err());
}
