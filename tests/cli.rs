//! The `silab` binary: a real kill and resume, errors that name keys, presets, bench output.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn silab() -> Command {
    Command::new(env!("CARGO_BIN_EXE_silab"))
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

const SETS: &[&str] = &[
    "--set",
    "data.train_size=1200",
    "--set",
    "data.test_size=200",
    "--set",
    "model.width=4",
    "--set",
    "train.epochs=6",
    "--set",
    "optim.mode=\"full\"",
    "--set",
    "optim.lr=0.3",
    "--set",
    "optim.wd=1e-2",
    "--set",
    "train.log_every=5",
];

fn metrics_without_time(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let t = header.iter().position(|c| *c == "wall_time").unwrap();
    text.lines()
        .map(|l| l.split(',').enumerate().filter(|(i, _)| *i != t).map(|(_, f)| f).collect::<Vec<_>>().join(","))
        .collect()
}

/// SIGKILL a training process after its epoch-2 checkpoint, resume it from the command line, and
/// get the metrics of an uninterrupted run.
#[test]
fn killed_run_resumes_to_the_same_metrics() {
    let root = tempfile::tempdir().unwrap();
    let (full, killed) = (root.path().join("full"), root.path().join("killed"));
    let o = silab().args(["train", "-q", "--out"]).arg(&full).args(SETS).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let mut child = silab().args(["train", "-q", "--out"]).arg(&killed).args(SETS).spawn().unwrap();
    let marker = killed.join("checkpoints/epoch_00002.optim.safetensors");
    let t0 = Instant::now();
    while !marker.exists() {
        assert!(t0.elapsed() < Duration::from_secs(120), "no epoch-2 checkpoint after 120 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!killed.join("checkpoints/epoch_00006.safetensors").exists(), "the run finished before it was killed");
    let o = silab().args(["train", "-q", "--resume"]).arg(&killed).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(metrics_without_time(&full), metrics_without_time(&killed));
    let s: serde_json::Value = serde_json::from_slice(&std::fs::read(killed.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["status"], "completed");
    assert_eq!(s["epochs_done"], 6);
}

#[test]
fn config_errors_name_the_key_and_the_allowed_values() {
    let cases: &[(&[&str], &[&str])] = &[
        (&["--set", "optim.lrr=0.1"], &["optim.lrr", "optim.lr", "optim.elr"]),
        (&["--set", "optim.mode=\"ball\""], &["optim.mode", "full", "sphere"]),
        (&["--set", "train.epochs=-3"], &["train.epochs"]),
        (&["--set", "data.name=\"imagenet\""], &["data.name", "mnist", "cifar10"]),
        (&["--preset", "nope"], &["nope", "quick", "mnist"]),
        (
            &["--set", "data.name=\"mnist\"", "--set", "data.dir=\"/no/such/dir\""],
            &["/no/such/dir", "train-images-idx3-ubyte"],
        ),
    ];
    for (args, needles) in cases {
        let root = tempfile::tempdir().unwrap();
        let o = silab().args(["train", "-q", "--out"]).arg(root.path().join("r")).args(*args).output().unwrap();
        let t = text(&o);
        assert!(!o.status.success(), "{args:?} was accepted");
        assert!(!t.contains("panicked"), "{args:?} panicked: {t}");
        for n in *needles {
            assert!(t.contains(n), "{args:?}: error lacks `{n}`: {t}");
        }
    }
}

/// Also: the binary finds libtorch through its rpath, without LD_LIBRARY_PATH.
#[test]
fn presets_and_keys_are_listed() {
    let o = silab().arg("presets").env_remove("LD_LIBRARY_PATH").output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    for p in ["quick", "full-quick", "mnist", "paper-periodic", "paper-regimes"] {
        assert!(t.contains(p), "{t}");
    }
    let t = text(&silab().args(["presets", "--keys"]).output().unwrap());
    for k in ["seed = 0", "optim.elr = 0.001", "train.device = \"cpu\"", "model.variant = \"scale-invariant\""] {
        assert!(t.contains(k), "{k} missing: {t}");
    }
}

/// `silab bench` prints one JSON line with the fields of ../shared/bench/torch_convnet.py.
#[test]
fn bench_prints_the_pytorch_scripts_fields() {
    let o =
        silab().args(["bench", "--width", "2", "--steps", "3", "--warmup", "1", "--mode", "sphere"]).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for f in [
        "framework",
        "torch",
        "device",
        "threads",
        "mode",
        "width",
        "batch",
        "ms_per_step_median",
        "ms_per_step_min",
        "images_per_s",
    ] {
        assert!(v.get(f).is_some(), "field {f} missing: {v}");
    }
    assert_eq!(v["mode"], "sphere");
    assert!(v["images_per_s"].as_f64().unwrap() > 0.0);
}

/// The README documents every metrics column and every config key (docs that cannot drift).
#[test]
fn readme_documents_every_column_and_key() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for (name, _) in silab::metrics::COLUMNS {
        assert!(readme.contains(&format!("| `{name}` |")), "README lacks column `{name}`");
    }
    for (key, _) in silab::config::all_keys() {
        assert!(readme.contains(&format!("| `{key}` [")), "README lacks config key `{key}`");
    }
}
