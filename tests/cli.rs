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

/// `silab presets --keys` shows every key of the reference (from the types' doc comments) with
/// its default and meaning, and `--markdown` prints exactly the reference table.
#[test]
fn presets_keys_print_the_generated_reference() {
    let o = silab().args(["presets", "--keys", "--markdown"]).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), silab::config::reference_markdown());
    let t = text(&silab().args(["presets", "--keys"]).output().unwrap());
    let lines: Vec<&str> = t.lines().collect();
    let reference = silab::config::reference();
    assert_eq!(lines.len(), reference.len(), "{t}");
    for (line, k) in lines.iter().zip(&reference) {
        let head = format!("{} = {} ", k.key, k.default);
        assert!(line.starts_with(&head) && line.ends_with(&k.meaning), "{line} vs {k:?}");
    }
}

/// `silab bench` prints one JSON line with the fields of scripts/bench_torch_convnet.py.
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

/// The book's reference pages are what `silab reference` generates from the code (config keys,
/// output columns, every command's help), byte for byte: docs that cannot drift.
#[test]
fn reference_pages_equal_what_the_code_generates() {
    let out = tempfile::tempdir().unwrap();
    let o = silab().arg("reference").arg("--out").arg(out.path()).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/src/reference");
    for page in ["config.md", "columns.md", "cli.md"] {
        let fresh = std::fs::read_to_string(out.path().join(page)).unwrap();
        let kept = std::fs::read_to_string(committed.join(page)).unwrap_or_default();
        assert!(fresh == kept, "docs/src/reference/{page} is stale: run scripts/gen-reference.sh");
    }
    // The pages hold what they claim: every column, every key, every command.
    let columns = std::fs::read_to_string(out.path().join("columns.md")).unwrap();
    for name in silab::schema::METRICS.iter().chain(silab::schema::SHARPNESS).map(|c| c.name) {
        assert!(columns.contains(&format!("| `{name}` |")), "columns.md lacks `{name}`");
    }
    let config = std::fs::read_to_string(out.path().join("config.md")).unwrap();
    for (key, _) in silab::config::all_keys() {
        assert!(config.contains(&format!("| `{key}` |")), "config.md lacks `{key}`");
    }
    let cli = std::fs::read_to_string(out.path().join("cli.md")).unwrap();
    for cmd in ["train", "sweep status", "landscape slice", "check-si"] {
        assert!(cli.contains(&format!("## `silab {cmd}`")), "cli.md lacks silab {cmd}");
    }
    // ... and what the commands themselves print: `presets --keys` and `--help`.
    let o = silab().args(["presets", "--keys"]).output().unwrap();
    for line in String::from_utf8_lossy(&o.stdout).lines() {
        // `key = default  meaning`
        let (key, rest) = line.split_once(" = ").unwrap();
        let default = rest.split("  ").next().unwrap().trim();
        assert!(config.contains(&format!("| `{key}` | ")) && config.contains(&format!("| `{default}` |")), "{line}");
    }
    for cmd in [&["train"][..], &["sweep", "status"], &["landscape", "slice"]] {
        let o = silab().args(cmd).arg("--help").output().unwrap();
        let help: Vec<&str> = std::str::from_utf8(&o.stdout).unwrap().lines().map(str::trim_end).collect();
        let help = help.join("\n");
        assert!(cli.contains(help.trim_end()), "cli.md differs from `silab {cmd:?} --help`:\n{help}");
    }
    let o = silab().arg("reference").output().unwrap();
    assert!(!o.status.success() && text(&o).contains("--out"), "{}", text(&o));
}

/// The guide pages of the book (docs/src, the generated reference left out), concatenated.
fn guide_text() -> String {
    fn walk(dir: &Path, out: &mut String) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() && p.file_name().unwrap() != "reference" {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "md") {
                *out += &std::fs::read_to_string(&p).unwrap();
            }
        }
    }
    let mut s = String::new();
    walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/src"), &mut s);
    s
}

/// `silab sharpness RUN_DIR --json`: one JSON object per line with the contract's keys, rows
/// merged into sharpness_posthoc.csv (re-measuring replaces), a sweep directory measures every
/// point and gets a table, and bad input is named.
#[test]
fn sharpness_command_json_posthoc_file_and_sweeps() {
    let root = tempfile::tempdir().unwrap();
    let run = root.path().join("r");
    let quick = [
        "--set",
        "data.train_size=200",
        "--set",
        "data.test_size=50",
        "--set",
        "model.width=2",
        "--set",
        "train.epochs=2",
        "--set",
        "train.batch_size=50",
    ];
    let o = silab().args(["train", "-q"]).args(quick).arg("--out").arg(&run).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let m = ["--set", "sharpness.images=50", "--set", "sharpness.probes=2", "--set", "sharpness.lanczos_iters=3"];
    let o = silab().args(["sharpness", "--json", "-q"]).arg(&run).args(m).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let lines: Vec<serde_json::Value> =
        String::from_utf8_lossy(&o.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3, "epochs 0, 1, 2 of group si");
    for l in &lines {
        for k in silab::schema::SHARPNESS_CONTRACT.iter().chain(&["gn_top_eig"]) {
            assert!(l.get(k).is_some_and(|v| !v.is_null()), "{k} missing in {l}");
        }
        assert_eq!(l["group"], "si");
        assert_eq!(l["bn_mode"], "train");
    }
    let posthoc = run.join("sharpness_posthoc.csv");
    let count = || std::fs::read_to_string(&posthoc).unwrap().lines().count();
    assert_eq!(count(), 4);
    // measuring epoch 1 again in eval mode adds rows; measuring it again in train mode replaces
    for (bn, want) in [("eval", 5), ("train", 5)] {
        let o = silab()
            .args(["sharpness", "-q", "--epochs", "1"])
            .arg(&run)
            .args(m)
            .args(["--set", &format!("sharpness.bn_mode=\"{bn}\"")])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        assert_eq!(count(), want, "{bn}");
    }
    // honesty: the table prints each trace's standard error and each top eigenvalue's
    // residual; 2 Lanczos steps do not converge (flag, column, warning on stderr); with
    // density_probes the spectral density's quadrature rows and figure are written
    let o = silab()
        .args(["sharpness", "--epochs", "2", "-q"])
        .arg(&run)
        .args([
            "--set",
            "sharpness.images=50",
            "--set",
            "sharpness.lanczos_iters=2",
            "--set",
            "sharpness.density_probes=3",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    let row = out.lines().find(|l| l.starts_with("epoch")).unwrap();
    assert!(row.contains(" ± ") && row.contains("(residual ") && row.ends_with("NOT CONVERGED"), "{out}");
    assert!(err.contains("Lanczos has not converged") && err.contains("raise sharpness.lanczos_iters"), "{err}");
    let r = silab::store::read_records(&posthoc, false).unwrap();
    let (ce, cc, crr) = (r.col("epoch").unwrap(), r.col("converged").unwrap(), r.col("top_eig_rel_residual").unwrap());
    let last = r.rows.iter().rfind(|x| x[ce] == "2").unwrap();
    assert_eq!(last[cc], "0");
    assert!(last[crr].parse::<f64>().unwrap() > 0.05);
    let sp = silab::store::read_records(&run.join("spectrum_posthoc.csv"), false).unwrap();
    let names: Vec<&str> = silab::schema::SPECTRUM.iter().map(|c| c.name).collect();
    assert_eq!(sp.header, names);
    let c = |n: &str| sp.col(n).unwrap();
    for p in 0..3 {
        let w: f64 = sp
            .rows
            .iter()
            .filter(|x| x[c("probe")] == p.to_string())
            .map(|x| x[c("weight")].parse::<f64>().unwrap())
            .sum();
        assert!((w - 1.0).abs() < 1e-9, "probe {p}: weights sum to {w}");
    }
    assert!(sp.rows.iter().all(|x| x[c("epoch")] == "2" && x[c("group")] == "si" && x[c("bn_mode")] == "train"));
    assert!(out.contains("spectrum.png") && run.join("spectrum.png").is_file() && run.join("spectrum.svg").is_file());
    // 40 steps on this small group converge; no spectrum measured, so no figure line
    let o = silab()
        .args(["sharpness", "--epochs", "2", "-q"])
        .arg(&run)
        .args(["--set", "sharpness.images=50", "--set", "sharpness.lanczos_iters=40"])
        .output()
        .unwrap();
    assert!(o.status.success() && !text(&o).contains("NOT CONVERGED"), "{}", text(&o));
    assert!(!text(&o).contains("spectrum.png"), "{}", text(&o));
    for (args, needle) in [
        (vec!["--epochs", "7"], "no checkpoint for epoch 7"),
        (vec!["--epochs", "1-2"], "--epochs"),
        (vec!["--set", "optim.elr=1"], "only sharpness."),
        (vec!["--set", "sharpness.groups=[\"bogus\"]"], "bogus"),
    ] {
        let o = silab().args(["sharpness", "-q"]).arg(&run).args(args).output().unwrap();
        assert!(!o.status.success() && text(&o).contains(needle), "{needle}: {}", text(&o));
    }
    // a sweep directory: every point, a `point` key, and the sweep's table
    let sweep_file = root.path().join("s.toml");
    std::fs::write(
        &sweep_file,
        "[base]\ndata.train_size = 200\ndata.test_size = 50\nmodel.width = 2\ntrain.epochs = 1\ntrain.batch_size = 50\ntrain.threads = 1\n[axes]\n\"optim.elr\" = [1e-3, 1e-2]\n",
    )
    .unwrap();
    let sd = root.path().join("sw");
    let o = silab().args(["sweep", "-q", "--config"]).arg(&sweep_file).arg("--out").arg(&sd).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let o = silab().args(["sharpness", "--json", "-q", "--epochs", "last"]).arg(&sd).args(m).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let pts: Vec<i64> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["point"].as_i64().unwrap())
        .collect();
    assert_eq!(pts, [0, 1]);
    let t = std::fs::read_to_string(sd.join("sharpness_posthoc.csv")).unwrap();
    assert!(t.starts_with("point,seed,optim.elr,epoch,step,group"), "{}", t.lines().next().unwrap());
    assert!(sd.join("sharpness_posthoc.parquet").is_file());
}

/// `silab landscape line|slice`: CSV rows (great-circle points on the sphere of a sphere run),
/// figures, and errors that name the problem.
#[test]
fn landscape_line_and_slices() {
    let root = tempfile::tempdir().unwrap();
    let run = root.path().join("r");
    let o = silab()
        .args(["train", "-q", "--out"])
        .arg(&run)
        .args(["--set", "data.train_size=200", "--set", "data.test_size=50", "--set", "model.width=2"])
        .args(["--set", "train.epochs=2", "--set", "train.batch_size=50", "--set", "optim.elr=1e-2"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let small = ["--points", "5", "--images", "100", "--test-images", "50", "-q"];
    let out = root.path().join("land");
    let a = format!("{}@0", run.display());
    let b = run.display().to_string();
    let o = silab().args(["landscape", "line", &a, &b]).args(small).arg("--out").arg(&out).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let rows = |f: &str| -> Vec<Vec<String>> {
        let t = std::fs::read_to_string(out.join(f)).unwrap();
        t.lines().skip(1).map(|l| l.split(',').map(String::from).collect()).collect()
    };
    let line = rows("line.csv");
    assert_eq!(line.len(), 10, "5 points x 2 paths");
    let rho: Vec<f64> = line.iter().filter(|r| r[1] == "great_circle").map(|r| r[8].parse().unwrap()).collect();
    assert!(rho.iter().all(|r| (r - rho[0]).abs() < 1e-5 * rho[0]), "great circle off the sphere: {rho:?}");
    let straight_mid: f64 = line.iter().find(|r| r[1] == "straight" && r[2] == "0.5").unwrap()[8].parse().unwrap();
    assert!(straight_mid < rho[0] * 0.9999, "the chord should cut inside the sphere");
    for dims in ["1", "2"] {
        let o = silab()
            .args(["landscape", "slice", &b, "--dims", dims])
            .args(small)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
    }
    assert_eq!(rows("slice_1d.csv").len(), 5);
    assert_eq!(rows("slice_2d.csv").len(), 25);
    for f in ["line.png", "line.svg", "slice_1d.png", "slice_2d.png", "slice_2d.svg"] {
        assert!(out.join(f).is_file(), "{f}");
    }
    for (args, needle) in [
        (vec!["line", &a, "nowhere"], "nowhere"),
        (vec!["line", &a, &b, "--range", "0-1"], "--range"),
        (vec!["slice", &b, "--group", "non_si"], "non_si"),
        (vec!["slice", &b, "--dims", "3"], "--dims"),
    ] {
        let o = silab().arg("landscape").args(&args).args(small).arg("--out").arg(&out).output().unwrap();
        assert!(!o.status.success() && text(&o).contains(needle), "{needle}: {}", text(&o));
    }
}

/// Every command that writes files names them in its `--help` ("Writes: a, b or c."), and the
/// book's guide documents each under the same name.
#[test]
fn help_names_the_files_each_command_writes_as_the_book_does() {
    let guide = guide_text();
    for cmd in [
        &["train"][..],
        &["sweep"],
        &["analyze"],
        &["reproduce"],
        &["sharpness"],
        &["landscape", "line"],
        &["landscape", "slice"],
        &["plot"],
    ] {
        let o = silab().args(cmd).arg("--help").output().unwrap();
        assert!(o.status.success(), "{cmd:?}: {}", text(&o));
        let help = String::from_utf8_lossy(&o.stdout).replace('\n', " ");
        let Some(at) = help.find("Writes: ") else { panic!("{cmd:?} --help names no files:\n{help}") };
        let list = help[at + 8..].split(". ").next().unwrap().trim_end_matches('.');
        let files: Vec<&str> = list.split(", ").flat_map(|f| f.split(" or ")).map(str::trim).collect();
        assert!(!files.is_empty(), "{cmd:?}");
        for f in files {
            assert!(guide.contains(&format!("`{f}")), "{cmd:?} --help names {f}, the book's guide does not");
        }
    }
}

/// A copy of the clone's `./silab` wrapper and `scripts/env.sh` in a folder of its own, its
/// `target/release/silab` a link to the binary under test (no sources beside it, so nothing
/// is newer than the binary), and a `cargo` first on PATH that only records that it was called.
struct Wrapper {
    clone: tempfile::TempDir,
    fake_bin: std::path::PathBuf,
}

impl Wrapper {
    fn new() -> Wrapper {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let clone = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(clone.path().join("scripts")).unwrap();
        std::fs::create_dir_all(clone.path().join("target/release")).unwrap();
        std::fs::copy(repo.join("silab"), clone.path().join("silab")).unwrap();
        std::fs::copy(repo.join("scripts/env.sh"), clone.path().join("scripts/env.sh")).unwrap();
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_silab"), clone.path().join("target/release/silab")).unwrap();
        let fake_bin = clone.path().join("fake-bin");
        std::fs::create_dir_all(&fake_bin).unwrap();
        let cargo = fake_bin.join("cargo");
        std::fs::write(&cargo, "#!/bin/sh\necho \"$@\" > \"$(dirname \"$0\")/cargo-called\"\nexit 1\n").unwrap();
        std::fs::set_permissions(&cargo, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        Wrapper { clone, fake_bin }
    }

    /// `CLONE/silab ARGS` run in `cwd`, with the venv the tests use (never set up anew here).
    fn run(&self, cwd: &Path, args: &[&str]) -> Output {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let venv = std::env::var("SILAB_VENV").map_or_else(|_| repo.join(".venv"), std::path::PathBuf::from);
        assert!(venv.join("bin/python").exists(), "no venv at {} (set SILAB_VENV)", venv.display());
        let path = format!("{}:{}", self.fake_bin.display(), std::env::var("PATH").unwrap_or_default());
        Command::new(self.clone.path().join("silab"))
            .args(args)
            .current_dir(cwd)
            .env("SILAB_VENV", &venv)
            .env("PATH", path)
            .env_remove("CARGO_TARGET_DIR")
            .output()
            .unwrap()
    }

    fn cargo_called(&self) -> bool {
        self.fake_bin.join("cargo-called").exists()
    }
}

/// The wrapper from another folder: `CLONE/silab train --config ./my.toml --out ./r` reads the
/// config and writes the run in the caller's folder, without calling cargo when nothing changed;
/// a source newer than the binary makes it rebuild (with the clone's manifest).
#[test]
fn wrapper_runs_from_any_folder_and_rebuilds_only_on_change() {
    let w = Wrapper::new();
    let here = tempfile::tempdir().unwrap();
    let config = "[data]\ntrain_size = 300\ntest_size = 100\n[model]\nwidth = 2\n[train]\nepochs = 1\n";
    std::fs::write(here.path().join("my.toml"), config).unwrap();
    let o = w.run(here.path(), &["train", "-q", "--config", "./my.toml", "--out", "./r"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(here.path().join("r/metrics.csv").is_file(), "no run in the caller's folder: {}", text(&o));
    assert!(!w.clone.path().join("r").exists(), "the run went into the clone");
    assert!(!w.cargo_called(), "cargo was called with nothing to rebuild");
    // a source newer than the binary: the wrapper rebuilds, with the clone's manifest
    std::thread::sleep(Duration::from_millis(20));
    std::fs::create_dir_all(w.clone.path().join("src")).unwrap();
    std::fs::write(w.clone.path().join("src/lib.rs"), "").unwrap();
    let o = w.run(here.path(), &["--version"]);
    assert!(!o.status.success(), "the fake cargo fails, so must the wrapper: {}", text(&o));
    let args = std::fs::read_to_string(w.fake_bin.join("cargo-called")).unwrap();
    let manifest = w.clone.path().join("Cargo.toml");
    assert!(args.contains(&format!("--manifest-path {}", manifest.display())), "cargo {args}");
}

/// `cargo install --path . --locked` (as the README says, in the shell of `scripts/env.sh`) gives
/// a binary that runs from any folder with nothing else set: it finds libtorch by its rpath.
/// The install reuses the release build in `target/`, so this costs seconds.
#[test]
fn installed_binary_runs_without_the_clone_env() {
    let repo = env!("CARGO_MANIFEST_DIR");
    let root = tempfile::tempdir().unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let o = Command::new(cargo)
        .args(["install", "--quiet", "--locked", "--offline", "--path", repo, "--root"])
        .arg(root.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let elsewhere = tempfile::tempdir().unwrap();
    let o = Command::new(root.path().join("bin/silab"))
        .arg("--version")
        .current_dir(elsewhere.path())
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), format!("silab {}", env!("CARGO_PKG_VERSION")));
}
