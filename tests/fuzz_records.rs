//! Every reader of run records against arbitrary bytes and arbitrary rows, and every numeric
//! config key against arbitrary values (proptest, bounded so the file stays fast).
//!
//! Readers: the typed CSV reader (`metrics.csv`, `sharpness.csv`, a spectrum CSV),
//! `summary.json`, a sweep's `manifest.json`, `attempt.json`, a checkpoint's safetensors bytes,
//! `config.toml`, and `analyze` / `plot` on a run directory holding such a file. The property:
//! no panic, and every error names its file (and, for a CSV line, the line).
//!
//! Config keys: every key of [`silab::config::reference`] whose type is a number, set through
//! `--set` to 0, negative, huge, non-finite or arbitrary values: no panic, and a refusal names
//! the key.

use proptest::prelude::*;
use silab::analysis::{self, JumpParams, RegimeParams};
use silab::config::{self, RunConfig};
use silab::report::plot::{self, PlotSpec, XAxis};
use silab::run::Summary;
use silab::schema;
use silab::store::{self, RecordsError, RunDir, SweepDir, Table};
use silab::sweep::{Attempt, Manifest, Point};
use std::path::{Path, PathBuf};

/// A cell of a CSV row: numbers of every size, non-finite words, text, quotes, separators.
fn cell() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("nan".to_string()),
        Just("NaN".to_string()),
        Just("inf".to_string()),
        Just("-inf".to_string()),
        Just("1e400".to_string()),
        Just("-0".to_string()),
        Just("18446744073709551616".to_string()),
        Just("9223372036854775807".to_string()),
        Just("\"".to_string()),
        Just("\"a,b\"".to_string()),
        Just("epoch".to_string()),
        Just("step".to_string()),
        any::<i64>().prop_map(|i| i.to_string()),
        any::<f64>().prop_map(|f| format!("{f:e}")),
        (0u32..100).prop_map(|i| i.to_string()),
        "[ -~]{0,6}",
    ]
}

/// A line of a CSV file: `width` cells (give or take), joined by commas.
fn line(width: usize) -> impl Strategy<Value = String> {
    (proptest::collection::vec(cell(), 0..width + 3), 0u8..8).prop_map(move |(mut cells, damage)| {
        // most lines have the header's width, some more or fewer fields
        if damage > 1 {
            cells.resize(width, String::new());
        }
        cells.join(",")
    })
}

/// A CSV text: the given header, then arbitrary rows, the last one perhaps cut, perhaps with
/// raw non-UTF-8 bytes inserted.
fn csv_text(header: Vec<&'static str>) -> impl Strategy<Value = Vec<u8>> {
    let width = header.len();
    (proptest::collection::vec(line(width), 0..6), any::<bool>(), proptest::option::of((any::<usize>(), 0x80u8..=0xff)))
        .prop_map(move |(rows, newline_at_end, junk)| {
            let mut text = header.join(",") + "\n" + &rows.join("\n");
            if newline_at_end && !rows.is_empty() {
                text.push('\n');
            }
            let mut bytes = text.into_bytes();
            if let Some((at, b)) = junk {
                let at = at % (bytes.len() + 1);
                bytes.insert(at, b);
            }
            bytes
        })
}

/// A cell valid for its column's kind, with the edges: non-finite, huge, negative, empty.
fn typed_cell(col: &'static schema::Column) -> BoxedStrategy<String> {
    match (col.name, col.kind) {
        ("row", _) => proptest::sample::select(vec!["epoch", "step"]).prop_map(String::from).boxed(),
        ("epoch" | "step", _) => prop_oneof![4 => 0i64..6, 1 => any::<i64>()].prop_map(|i| i.to_string()).boxed(),
        (_, schema::Kind::Int) => prop_oneof![(0i64..10).prop_map(|i| i.to_string()), any::<i64>().prop_map(|i| i.to_string())].boxed(),
        (_, schema::Kind::Text) => "[a-z_]{0,8}".boxed(),
        (_, schema::Kind::Float) => prop_oneof![
            3 => (0.0f64..2.0).prop_map(|f| format!("{f:e}")),
            1 => proptest::sample::select(vec!["", "nan", "inf", "-inf", "0", "-1", "1e308", "-1e308", "5e-324"]).prop_map(String::from),
            1 => any::<f64>().prop_map(|f| format!("{f:e}")),
        ]
        .boxed(),
    }
}

/// A metrics.csv whose every cell types (so the readers above the parser see it): rows of
/// extreme values, in any order, perhaps none.
fn typed_metrics() -> impl Strategy<Value = Vec<u8>> {
    let row: Vec<BoxedStrategy<String>> = schema::METRICS.iter().map(typed_cell).collect();
    proptest::collection::vec(row, 0..8).prop_map(|rows| {
        let mut text = names(schema::METRICS).join(",") + "\n";
        for r in rows {
            text += &(r.join(",") + "\n");
        }
        text.into_bytes()
    })
}

fn names(cols: &[schema::Column]) -> Vec<&'static str> {
    cols.iter().map(|c| c.name).collect()
}

/// The typed reader's error names the file, and the line for what is on a line.
fn check_table_error(e: &RecordsError, file: &str) -> Result<(), TestCaseError> {
    let msg = e.to_string();
    prop_assert!(msg.contains(file), "{msg} does not name {file}");
    if matches!(e, RecordsError::Malformed { .. } | RecordsError::Width { .. } | RecordsError::BadCell { .. }) {
        prop_assert!(msg.contains(" line "), "{msg} does not name the line");
    }
    Ok(())
}

/// A run directory with the `quick` preset's config and the given `metrics.csv`.
fn run_dir(metrics: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("run");
    std::fs::create_dir_all(&root).unwrap();
    let rd = RunDir::new(&root);
    let cfg = RunConfig::from_preset("quick", &[]).unwrap();
    std::fs::write(rd.config(), cfg.to_toml()).unwrap();
    std::fs::write(rd.metrics(), metrics).unwrap();
    (d, root)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn typed_reader_names_file_and_line(
        raw in proptest::collection::vec(any::<u8>(), 0..200),
        metrics in csv_text(names(schema::METRICS)),
        sharp in csv_text(names(schema::SHARPNESS)),
        spectrum in csv_text(names(schema::SPECTRUM)),
    ) {
        for (file, bytes) in [("metrics.csv", &raw), ("metrics.csv", &metrics), ("sharpness.csv", &sharp), ("spectrum_posthoc.csv", &spectrum)] {
            if let Err(e) = Table::parse(Path::new(file), bytes) {
                check_table_error(&e, file)?;
            }
        }
    }

    #[test]
    fn json_records_name_their_file(raw in proptest::collection::vec(any::<u8>(), 0..200), text in "[ -~]{0,120}", num in any::<f64>()) {
        let d = tempfile::tempdir().unwrap();
        let rd = RunDir::new(d.path());
        let sd = SweepDir::new(d.path());
        let point = Point { index: 0, seed: 0, values: vec![], dir: ".".into(), config_hash: String::new() };
        let summary = format!("{{\"status\": \"done\", \"epochs_done\": {num}, \"last\": {{\"rho\": {text}}}}}");
        let manifest = format!("{{\"format\": 1, \"name\": \"x\", \"axes\": [], \"points\": [{text}]}}");
        for bytes in [raw.clone(), text.clone().into_bytes(), summary.into_bytes(), manifest.into_bytes()] {
            std::fs::write(rd.summary(), &bytes).unwrap();
            if let Err(e) = Summary::read(&rd) {
                prop_assert!(e.to_string().contains("summary.json"), "{e}");
            }
            std::fs::write(sd.manifest(), &bytes).unwrap();
            if let Err(e) = Manifest::read(&sd) {
                prop_assert!(format!("{e:#}").contains("manifest.json"), "{e:#}");
            }
            std::fs::write(rd.attempt(), &bytes).unwrap();
            // a point's attempt is optional: unreadable reads as none
            let _ = Attempt::read(&sd, &point);
        }
    }

    #[test]
    fn checkpoint_bytes_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..300), header_len in any::<u64>(), json in "[ -~]{0,80}") {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("epoch_00001.safetensors");
        let mut framed = header_len.to_le_bytes().to_vec();
        framed.extend(json.as_bytes());
        let mut sized = (json.len() as u64).to_le_bytes().to_vec();
        sized.extend(json.as_bytes());
        for bytes in [raw, framed, sized] {
            std::fs::write(&path, &bytes).unwrap();
            if let Err(e) = store::load_tensors(&path) {
                prop_assert!(e.to_string().contains("epoch_00001.safetensors"), "{e}");
            }
        }
    }

    #[test]
    fn config_file_bytes_name_the_file(raw in proptest::collection::vec(any::<u8>(), 0..200)) {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("config.toml");
        std::fs::write(&path, &raw).unwrap();
        if let Err(e) = RunConfig::from_file(&path, &[]) {
            prop_assert!(e.to_string().contains("config.toml"), "{e}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn analyze_and_plot_name_a_damaged_metrics_file(
        damaged in csv_text(names(schema::METRICS)),
        typed in typed_metrics(),
        pick_typed in any::<bool>(),
        x_step in any::<bool>(),
    ) {
        let (_d, root) = run_dir(if pick_typed { &typed } else { &damaged });
        if let Err(e) = analysis::analyze(&root, &JumpParams::default(), &RegimeParams::default()) {
            let msg = format!("{e:#}");
            prop_assert!(msg.contains("metrics.csv"), "{msg}");
        }
        let spec = PlotSpec { y: plot::DEFAULT_Y.iter().map(|s| s.to_string()).collect(), x: if x_step { XAxis::Step } else { XAxis::Epoch }, hue: None, facet: None, layers: false };
        if let Err(e) = plot::plot(std::slice::from_ref(&root), &spec, &root.join("plot"), "fuzz") {
            let msg = format!("{e:#}");
            prop_assert!(msg.contains("metrics.csv"), "{msg}");
        }
    }
}

/// Found by the property above: a header-only metrics.csv made `plot` spend ~40 s drawing an
/// empty figure. It is refused at once, naming the file.
#[test]
fn plot_refuses_a_metrics_file_without_rows() {
    let header = names(schema::METRICS).join(",") + "\n";
    let step_only = header.clone()
        + &schema::METRICS
            .iter()
            .map(|c| match c.name {
                "row" => "step",
                "epoch" | "step" => "1",
                _ => "",
            })
            .collect::<Vec<_>>()
            .join(",")
        + "\n";
    for (text, x) in [(&header, XAxis::Epoch), (&header, XAxis::Step), (&step_only, XAxis::Epoch)] {
        let (_d, root) = run_dir(text.as_bytes());
        let spec = PlotSpec {
            y: plot::DEFAULT_Y.iter().map(|s| s.to_string()).collect(),
            x,
            hue: None,
            facet: None,
            layers: false,
        };
        let t0 = std::time::Instant::now();
        let e = plot::plot(std::slice::from_ref(&root), &spec, &root.join("plot"), "fuzz").err().expect("refused");
        let msg = format!("{e:#}");
        assert!(msg.contains("nothing to plot") && msg.contains("metrics.csv"), "{msg}");
        assert!(t0.elapsed().as_secs() < 5, "{:?}", t0.elapsed());
        assert!(!root.join("plot.png").exists());
    }
}

/// The keys whose value is a number (float, integer, or a number or "auto").
fn numeric_keys() -> Vec<String> {
    config::reference()
        .into_iter()
        .filter(|k| k.ty.contains("number") || k.ty.contains("integer"))
        .filter(|k| !k.ty.starts_with("array"))
        .map(|k| k.key)
        .collect()
}

#[test]
fn there_are_numeric_keys() {
    let keys = numeric_keys();
    assert!(keys.len() >= 30, "{keys:?}");
    assert!(keys.iter().any(|k| k == "optim.lr") && keys.iter().any(|k| k == "train.epochs"));
}

/// A TOML value for a numeric key: the edges, then arbitrary numbers.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::sample::select(vec![
            "0",
            "-1",
            "1",
            "0.0",
            "-0.0",
            "1e308",
            "-1e308",
            "1e-308",
            "5e-324",
            "nan",
            "inf",
            "-inf",
            "-nan",
            "9223372036854775807",
            "-9223372036854775808",
            "18446744073709551615",
            "1e19",
            "4294967296",
            "0.5",
            "2.5",
            "\"auto\"",
            "\"x\"",
            "true",
            "[]",
        ])
        .prop_map(String::from),
        any::<i64>().prop_map(|i| i.to_string()),
        any::<f64>().prop_filter("a TOML float", |f| f.is_finite()).prop_map(|f| format!("{f:e}")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn every_numeric_key_refuses_by_name(key in proptest::sample::select(numeric_keys()), v in value()) {
        let set = format!("{key}={v}");
        match RunConfig::from_preset("quick", std::slice::from_ref(&set)) {
            // a refusal names the key that was set
            Err(e) => prop_assert!(e.to_string().contains(&key), "{set}: {e}"),
            // an accepted value is a valid config: every problem is empty, and it prints back
            Ok(c) => {
                prop_assert!(c.problems().is_empty());
                let back = RunConfig::from_parts(Some((&c.to_toml(), "back")), &[]);
                prop_assert!(back.is_ok(), "{set}: {:?}", back.err());
            }
        }
    }
}
