//! One reader of run records: a garbled cell of a real run's metrics.csv makes every command that
//! reads it (`analyze`, `plot`, `sweep status`, `train --resume`) fail naming the file, the line
//! and the column, never read it as NaN; a line cut by a kill is dropped by all of them alike; a
//! header-only file is a clear error, not a panic.

use std::path::Path;
use std::process::{Command, Output};

fn silab() -> Command {
    Command::new(env!("CARGO_BIN_EXE_silab"))
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// The commands that read a run's metrics.csv, on the run `run` of the sweep `sweep`.
fn readers(sweep: &Path, run: &Path) -> Vec<(&'static str, Output)> {
    let out = |c: &mut Command| c.output().unwrap();
    let plot_out = sweep.join("plot_test");
    vec![
        ("analyze run", out(silab().arg("analyze").arg(run).arg("--out").arg(sweep.join("a.json")))),
        ("analyze sweep", out(silab().arg("analyze").arg(sweep).arg("--out").arg(sweep.join("a.json")))),
        ("plot", out(silab().arg("plot").arg(sweep).arg("--out").arg(&plot_out))),
        ("sweep status", out(silab().args(["sweep", "status"]).arg(sweep))),
        ("train --resume", out(silab().args(["train", "-q", "--resume"]).arg(run))),
    ]
}

/// The line (1-based) of the first epoch row after the initial one, and the file with its `rho`
/// cell garbled there.
fn garble(metrics: &str) -> (usize, String) {
    let header: Vec<&str> = metrics.lines().next().unwrap().split(',').collect();
    let rho = header.iter().position(|c| *c == "rho").unwrap();
    let mut line_no = 0;
    let lines: Vec<String> = metrics
        .lines()
        .enumerate()
        .map(|(i, l)| {
            let mut f: Vec<String> = l.split(',').map(String::from).collect();
            if line_no == 0 && i > 1 && f[2] == "epoch" {
                line_no = i + 1;
                f[rho] += "x";
            }
            f.join(",")
        })
        .collect();
    (line_no, lines.join("\n") + "\n")
}

#[test]
fn a_garbled_cell_is_an_error_naming_file_line_and_column_everywhere() {
    let root = tempfile::tempdir().unwrap();
    let sweep_file = root.path().join("s.toml");
    std::fs::write(
        &sweep_file,
        "name = \"g\"\nseeds = [0]\n[base]\ndata.train_size = 200\ndata.test_size = 50\nmodel.width = 2\n\
         train.epochs = 2\ntrain.batch_size = 50\ntrain.threads = 1\ntrain.log_every = 2\n\
         metrics.full_grad = false\n[axes]\n\"optim.elr\" = [1e-3]\n",
    )
    .unwrap();
    let sd = root.path().join("sw");
    let o = silab().args(["sweep", "-q", "--config"]).arg(&sweep_file).arg("--out").arg(&sd).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let run = sd.join("runs/p0000");
    let path = run.join("metrics.csv");
    let intact = std::fs::read_to_string(&path).unwrap();
    for (what, o) in readers(&sd, &run) {
        assert!(o.status.success(), "{what} on the intact run: {}", text(&o));
    }

    // a cut last line (a kill mid-append): every reader drops it alike
    std::fs::write(&path, format!("{intact}2,9,step,5e-1,,,,,1.2")).unwrap();
    for (what, o) in readers(&sd, &run).into_iter().filter(|(w, _)| *w != "train --resume") {
        assert!(o.status.success(), "{what} with a cut last line: {}", text(&o));
    }

    let (line, garbled) = garble(&intact);
    assert!(line > 2, "no epoch row to garble in\n{intact}");
    std::fs::write(&path, garbled).unwrap();
    let needle = format!("metrics.csv line {line}, column `rho`: `");
    for (what, o) in readers(&sd, &run) {
        let t = text(&o);
        assert!(!o.status.success(), "{what} accepted a garbled cell: {t}");
        assert!(t.contains(&needle) && t.contains("runs/p0000/metrics.csv"), "{what}: expected `{needle}` in: {t}");
        assert!(!t.contains("panicked"), "{what}: {t}");
    }

    // a header-only file: a clear error, not a panic
    std::fs::write(&path, intact.lines().next().unwrap().to_string() + "\n").unwrap();
    let o = silab().arg("analyze").arg(&run).arg("--out").arg(sd.join("a.json")).output().unwrap();
    let t = text(&o);
    assert!(!o.status.success() && t.contains("no epoch rows") && !t.contains("panicked"), "{t}");
}
