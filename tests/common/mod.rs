//! Shared by the integration tests: the project's virtualenv python and the checks that run in it.
#![allow(dead_code)] // each test crate uses a part

use std::path::Path;

/// The virtualenv's python (`$VIRTUAL_ENV`, else the project's `.venv`, set up by ./run-tests).
pub fn python() -> String {
    match std::env::var("VIRTUAL_ENV") {
        Ok(v) => format!("{v}/bin/python"),
        Err(_) => format!("{}/.venv/bin/python", env!("CARGO_MANIFEST_DIR")),
    }
}

/// TensorBoard's own reader (`tests/tb_check.py`) finds every scalar of each run's metrics.csv
/// in its event files, at its step, equal as float32; returns how many it compared.
pub fn tb_check(dirs: &[&Path]) -> usize {
    let script = format!("{}/tests/tb_check.py", env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new(python()).arg(script).args(dirs).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    let oks: Vec<usize> =
        text.lines().filter_map(|l| l.strip_prefix("tb ok ")?.rsplit(' ').next()?.parse().ok()).collect();
    assert_eq!(oks.len(), dirs.len(), "{text}");
    oks.iter().sum()
}

/// The DOM of `page` after headless Chromium has loaded it and run its scripts (10 s of virtual
/// time). Panics when no Chromium runs here: pages are checked, not skipped.
pub fn chromium_dom(page: &Path) -> String {
    use std::process::Command;
    let chromium = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| Command::new(c).arg("--version").output().map(|o| o.status.success()).unwrap_or(false))
        .expect(
            "pages must be checked in headless Chromium, but none ran here: install Debian's `chromium` \
             (./run-tests does on first use, as root with apt)",
        );
    let profile = tempfile::tempdir().unwrap();
    let o = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--virtual-time-budget=10000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("file://{}", page.canonicalize().unwrap().display()))
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned()
}
