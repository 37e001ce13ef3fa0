//! Issue 23, the data and config side: what used to panic (an empty sweep, a run with no epoch
//! row) or was accepted without a word (repeated sweep values, `--jobs 0`, unbounded sizes,
//! thresholds that are NaN, a group that selects nothing, too few images) is now a clear error
//! or warning naming the key, flag or file.

use silab::sweep::{self, SweepDir, SweepSpec};
use std::path::Path;
use std::process::{Command, Output};

fn silab() -> Command {
    Command::new(env!("CARGO_BIN_EXE_silab"))
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// Exit code 1 (an error with a message), never 101 (a panic) nor 0.
fn refused(o: &Output) -> String {
    let t = text(o);
    assert_eq!(o.status.code(), Some(1), "expected a clear error, got: {t}");
    assert!(!t.contains("panicked"), "{t}");
    t
}

/// A tiny trained run (2 epochs, step rows every 3 steps) in `out`.
const TINY: &[&str] = &[
    "data.train_size=128",
    "data.test_size=32",
    "model.width=2",
    "train.epochs=2",
    "train.batch_size=32",
    "train.threads=1",
    "train.log_every=3",
    "metrics.full_grad=false",
    "sharpness.probes=2",
    "sharpness.lanczos_iters=3",
    "sharpness.gauss_newton=false",
    "sharpness.riemannian=false",
];

fn tiny_run(out: &Path) {
    let mut c = silab();
    c.args(["train", "-q", "--out"]).arg(out);
    for s in TINY {
        c.args(["--set", s]);
    }
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
}

/// Keep the header of `metrics.csv` and the rows `keep` accepts.
fn cut_metrics(dir: &Path, keep: impl Fn(&str) -> bool) {
    let p = dir.join("metrics.csv");
    let t = std::fs::read_to_string(&p).unwrap();
    let mut lines = t.lines();
    let header = lines.next().unwrap();
    let row_col = header.split(',').position(|c| c == "row").unwrap();
    let kept: Vec<&str> = lines.filter(|l| keep(l.split(',').nth(row_col).unwrap())).collect();
    std::fs::write(&p, format!("{header}\n{}", kept.iter().map(|l| format!("{l}\n")).collect::<String>())).unwrap();
}

#[test]
fn empty_or_repeated_seeds_and_axis_values_are_refused_before_anything_is_written() {
    let d = tempfile::tempdir().unwrap();
    for (sweep, says) in [
        ("seeds = []\n[axes]\n\"optim.elr\" = [0.1]\n", "`seeds = []`"),
        ("seeds = [1, 2, 1]\n", "seed 1 is listed twice"),
        ("[axes]\n\"optim.elr\" = [0.1, 0.2, 0.1]\n", "axis `optim.elr` lists the value 0.1 twice"),
        ("[axes]\n\"optim.elr\" = { lin = [0.1, 0.1, 3] }\n", "axis `optim.elr` lists the value"),
    ] {
        let file = d.path().join("s.toml");
        std::fs::write(&file, sweep).unwrap();
        let e = format!("{:#}", SweepSpec::from_file(&file, &[]).unwrap_err());
        assert!(e.contains("s.toml") && e.contains(says), "{sweep}: {e}");
        let out = d.path().join("sw");
        let o = silab().args(["sweep", "-q", "--config"]).arg(&file).arg("--out").arg(&out).output().unwrap();
        assert!(refused(&o).contains(says), "{sweep}");
        assert!(!out.exists(), "{sweep}: nothing is written");
    }
}

/// An axis `seed` zipped with other axes pairs each seed with its values (issue 22: each seed
/// with its own classifier draw); a zipped axis may repeat values as long as the tuples differ;
/// an unzipped axis `seed`, or one beside `seeds`, is refused.
#[test]
fn a_zipped_seed_axis_pairs_each_seed_with_its_own_values() {
    let zipped = "zip = [\"optim.wd\", \"seed\", \"model.last_layer_seed\"]\n[axes]\n\"optim.wd\" = [0.1, 0.1, 0.2, 0.2]\nseed = [0, 1, 0, 1]\n\"model.last_layer_seed\" = [5, 6, 5, 6]\n";
    let (m, cfgs) = SweepSpec::parse(zipped, "s.toml", &[]).unwrap().manifest().unwrap();
    let got: Vec<(f64, u64, u64)> = cfgs.iter().map(|c| (c.optim.wd, c.seed, c.model.last_layer_seed)).collect();
    assert_eq!(got, [(0.1, 0, 5), (0.1, 1, 6), (0.2, 0, 5), (0.2, 1, 6)]);
    assert_eq!(m.points.iter().map(|p| p.seed).collect::<Vec<_>>(), [0, 1, 0, 1]);
    // the seed is the point's own column, not a swept key as well
    assert_eq!(m.axes, ["optim.wd", "model.last_layer_seed"]);
    assert!(m.points.iter().all(|p| p.values.iter().all(|(k, _)| k != "seed")));
    // the sweep as written (`sweep.toml`) parses back to the same points
    let spec = SweepSpec::parse(zipped, "s.toml", &[]).unwrap();
    let again = SweepSpec::parse(&spec.to_toml(), "sweep.toml", &[]).unwrap();
    assert_eq!(again.manifest().unwrap().0, m);
    for (sweep, says) in [
        ("[axes]\nseed = [0, 1]\n", "must be zipped"),
        (
            "seeds = [0, 1]\nzip = [\"seed\", \"optim.wd\"]\n[axes]\nseed = [0, 1]\n\"optim.wd\" = [0.1, 0.2]\n",
            "must be zipped",
        ),
        ("zip = [\"seed\", \"optim.wd\"]\n[axes]\nseed = [0, 0]\n\"optim.wd\" = [0.1, 0.1]\n", "twice"),
        ("zip = [\"seed\", \"optim.wd\"]\n[axes]\nseed = [-1, 0]\n\"optim.wd\" = [0.1, 0.1]\n", "non-negative"),
    ] {
        let e = format!("{:#}", SweepSpec::parse(sweep, "s.toml", &[]).unwrap_err());
        assert!(e.contains(says), "{sweep}: {e}");
    }
}

#[test]
fn a_manifest_without_points_left_by_the_old_crash_gives_way_to_the_corrected_sweep() {
    let d = tempfile::tempdir().unwrap();
    let spec = SweepSpec::parse("seeds = [3]\n[base]\ntrain.epochs = 1\n", "s.toml", &[]).unwrap();
    let sd = SweepDir::new(d.path());
    std::fs::create_dir_all(d.path()).unwrap();
    std::fs::write(sd.manifest(), r#"{"format":1,"name":"sweep","axes":[],"points":[]}"#).unwrap();
    let m = sweep::create(&sd, &spec).unwrap();
    assert_eq!(m.points.len(), 1);
    assert_eq!(sweep::Manifest::read(&sd).unwrap(), m);
    assert!(m.points[0].run_dir(&sd).config().is_file());
    // a spec without seeds is refused by the library too, and writes nothing
    let empty = SweepSpec { seeds: vec![], ..spec };
    let d2 = tempfile::tempdir().unwrap();
    let sd2 = SweepDir::new(d2.path().join("x"));
    let e = format!("{:#}", sweep::create(&sd2, &empty).unwrap_err());
    assert!(e.contains("no points"), "{e}");
    assert!(!sd2.root.exists());
}

#[test]
fn jobs_0_and_a_nan_spike_factor_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let file = d.path().join("s.toml");
    std::fs::write(&file, "[base]\ntrain.epochs = 1\n").unwrap();
    let out = d.path().join("sw");
    let o =
        silab().args(["sweep", "-q", "--jobs", "0", "--config"]).arg(&file).arg("--out").arg(&out).output().unwrap();
    assert!(refused(&o).contains("--jobs 0"));
    assert!(!out.exists());
    for bad in ["nan", "inf", "-1", "0.5"] {
        let o = silab().arg("analyze").arg(format!("--spike-factor={bad}")).arg(d.path()).output().unwrap();
        let t = refused(&o);
        assert!(t.contains("--spike-factor") && t.contains(">= 1"), "{bad}: {t}");
    }
}

#[test]
fn analyze_and_plot_of_a_run_without_epoch_rows_name_the_file() {
    let d = tempfile::tempdir().unwrap();
    let run = d.path().join("run");
    tiny_run(&run);
    let orig = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    for (keep_steps, what) in [(false, "only a header"), (true, "only step rows")] {
        std::fs::write(run.join("metrics.csv"), &orig).unwrap();
        cut_metrics(&run, |kind| keep_steps && kind == "step");
        let o = silab().arg("analyze").arg(&run).output().unwrap();
        let t = refused(&o);
        assert!(t.contains("metrics.csv") && t.contains("no epoch rows") && t.contains(what), "{t}");
        let o = silab().arg("plot").arg(&run).arg("--out").arg(d.path().join("fig")).output().unwrap();
        let t = refused(&o);
        assert!(t.contains("metrics.csv") && t.contains(if keep_steps { "--x step" } else { what }), "{t}");
    }
    // with step rows, `--x step` draws them
    let o = silab().args(["plot", "--x", "step"]).arg(&run).arg("--out").arg(d.path().join("fig")).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn a_sweep_point_with_only_a_header_is_left_out_of_analyze_like_a_pending_one() {
    let d = tempfile::tempdir().unwrap();
    let run = d.path().join("run");
    tiny_run(&run);
    let spec = SweepSpec::parse("seeds = [0, 1]\n", "s.toml", &[]).unwrap();
    let sd = SweepDir::new(d.path().join("sw"));
    let m = sweep::create(&sd, &spec).unwrap();
    let (p0, p1) = (m.points[0].run_dir(&sd), m.points[1].run_dir(&sd));
    std::fs::copy(run.join("metrics.csv"), p0.metrics()).unwrap();
    std::fs::copy(run.join("metrics.csv"), p1.metrics()).unwrap();
    cut_metrics(&p1.root, |_| false);
    let o = silab().arg("analyze").arg(&sd.root).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let a: serde_json::Value = serde_json::from_slice(&std::fs::read(sd.root.join("analysis.json")).unwrap()).unwrap();
    assert_eq!(a["runs"].as_array().unwrap().len(), 1, "{a}");
}

#[test]
fn sharpness_says_when_its_groups_are_empty_and_when_it_has_fewer_images_than_asked() {
    let d = tempfile::tempdir().unwrap();
    let run = d.path().join("run");
    tiny_run(&run);
    // the default net is fully scale-invariant: non_si selects nothing
    let o = silab().args(["sharpness", "--set", "sharpness.groups=[\"non_si\"]"]).arg(&run).output().unwrap();
    let t = refused(&o);
    assert!(t.contains("sharpness.groups") && t.contains("non_si") && t.contains("selects no tensor"), "{t}");
    // 128 training images, 5000 asked: measured on 128, and said so
    let o = silab().args(["sharpness", "--set", "sharpness.images=5000"]).arg(&run).output().unwrap();
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("sharpness.images = 5000") && t.contains("has 128 images"), "{t}");
}
