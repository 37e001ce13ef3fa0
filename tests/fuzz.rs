//! The parsers against arbitrary bytes and arbitrary damage to valid files (proptest, bounded so
//! the suite stays fast): the config and sweep readers, idx and CIFAR, safetensors checkpoints,
//! and the resume check of metrics.csv. None may panic; damage they can see (a wrong length, a
//! header that does not fit, a changed checkpoint byte, a missing, repeated, garbled or cut row)
//! must be an error, never a silent success.
//!
//! What cannot be seen is stated, not tested: a changed pixel of an idx or CIFAR file (the formats
//! carry no checksum), or a changed digit of a number in metrics.csv that is still a number.

use proptest::prelude::*;
use silab::config::RunConfig;
use silab::data::{CifarKind, parse_cifar, parse_idx};
use silab::run::verify::{metrics_keys, verify_rows};
use silab::store;
use silab::sweep::SweepSpec;
use std::collections::HashMap;
use std::path::Path;

const CONFIG: &str = "seed = 3\nloss = \"mse\"\n[data]\ntrain_size = 100\nnoise = 0.5\n[model]\nwidth = 2\n[optim]\nmode = \"full\"\nlr = 0.1\nwd = 1e-3\n[train]\nepochs = 2\nlog_every = 5\n[sharpness]\ngroups = [\"si\", \"layer:conv_layers.0\"]\n";
const SWEEP: &str = "name = \"f\"\nseeds = [0, 1]\nzip = [\"optim.lr\", \"optim.wd\"]\n[base]\nmodel.width = 2\n[axes]\n\"optim.lr\" = [0.1, 0.2]\n\"optim.wd\" = { log = [1e-4, 1e-2, 2] }\n\"optim.elr\" = { lin = [1e-3, 2e-3, 3] }\n";

/// A mutation of a text or byte string: cut at, delete a range, insert bytes, flip a byte.
#[derive(Clone, Debug)]
enum Edit {
    Cut(usize),
    Delete(usize, usize),
    Insert(usize, Vec<u8>),
    Flip(usize, u8),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        any::<usize>().prop_map(Edit::Cut),
        (any::<usize>(), 1usize..20).prop_map(|(a, n)| Edit::Delete(a, n)),
        (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..8)).prop_map(|(a, b)| Edit::Insert(a, b)),
        (any::<usize>(), 1u8..=255).prop_map(|(a, x)| Edit::Flip(a, x)),
    ]
}

fn apply(bytes: &[u8], e: &Edit) -> Vec<u8> {
    let n = bytes.len().max(1);
    let mut v = bytes.to_vec();
    match e {
        Edit::Cut(a) => v.truncate(a % n),
        Edit::Delete(a, k) => {
            let a = a % n;
            v.drain(a..(a + k).min(v.len()));
        }
        Edit::Insert(a, b) => {
            let a = a % (v.len() + 1);
            v.splice(a..a, b.iter().cloned());
        }
        Edit::Flip(a, x) => {
            let a = a % n;
            if a < v.len() {
                v[a] ^= x;
            }
        }
    }
    v
}

fn idx_images() -> Vec<u8> {
    let mut b = vec![0, 0, 8, 3];
    for d in [3u32, 4, 4] {
        b.extend(d.to_be_bytes());
    }
    b.extend((0..48).map(|i| i as u8));
    b
}

fn cifar_records() -> Vec<u8> {
    (0..3).flat_map(|i| std::iter::once(i as u8).chain((0..3072).map(move |p| (p + i) as u8))).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn config_reader_never_panics(raw in ".{0,200}", e in edit()) {
        let _ = RunConfig::from_parts(Some((&raw, "fuzz")), &[]);
        let damaged = String::from_utf8_lossy(&apply(CONFIG.as_bytes(), &e)).into_owned();
        if let Ok(c) = RunConfig::from_parts(Some((&damaged, "fuzz")), &[]) {
            // a damaged file that still parses is a valid config (every key known, every value in range)
            prop_assert!(c.validate().is_ok());
        }
    }

    #[test]
    fn sweep_reader_never_panics(raw in ".{0,200}", e in edit()) {
        let _ = SweepSpec::parse(&raw, "fuzz", &[]);
        let damaged = String::from_utf8_lossy(&apply(SWEEP.as_bytes(), &e)).into_owned();
        if let Ok(s) = SweepSpec::parse(&damaged, "fuzz", &[]) {
            let _ = s.expand();
        }
    }

    #[test]
    fn idx_parser_sees_every_change_of_length_or_layout(raw in proptest::collection::vec(any::<u8>(), 0..64), e in edit()) {
        let p = Path::new("fuzz-idx");
        let _ = parse_idx(&raw, p, 3);
        let good = idx_images();
        let bad = apply(&good, &e);
        match parse_idx(&bad, p, 3) {
            Err(err) => prop_assert!(err.to_string().contains("fuzz-idx")),
            // only a same-length file whose header still announces 48 bytes in 3 dimensions
            // (changed pixels, or dimensions with the same product) can parse
            Ok((dims, payload)) => {
                prop_assert_eq!(bad.len(), good.len());
                prop_assert_eq!(dims.iter().product::<usize>(), 48);
                prop_assert_eq!(payload.len(), 48);
            }
        }
    }

    #[test]
    fn cifar_parser_sees_every_change_of_length_or_label(raw in proptest::collection::vec(any::<u8>(), 0..7000), e in edit()) {
        let p = Path::new("fuzz-cifar");
        let _ = parse_cifar(&raw, p, CifarKind::Cifar10);
        let good = cifar_records();
        let bad = apply(&good, &e);
        match parse_cifar(&bad, p, CifarKind::Cifar10) {
            Err(err) => prop_assert!(err.to_string().contains("fuzz-cifar")),
            Ok((px, labels)) => {
                // whole records with valid labels: the same length (a changed pixel or label
                // byte that is still a class cannot be seen), or whole records cut or added
                prop_assert_eq!(bad.len() % 3073, 0);
                prop_assert_eq!(px.len(), labels.len() * 3072);
                prop_assert!(labels.iter().all(|&l| (0..10).contains(&l)));
            }
        }
    }

    #[test]
    fn a_damaged_checkpoint_never_loads(e in edit()) {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("epoch_00001.safetensors");
        let tensors = vec![
            ("a.weight".to_string(), tch::Tensor::from_slice(&[1.5f32, -2.0, 3.25, 0.0]).view([2, 2])),
            ("b.running_var".to_string(), tch::Tensor::from_slice(&[0.5f64, 7.0])),
        ];
        let meta = HashMap::from([("epoch".to_string(), "1".to_string()), ("step".to_string(), "8".to_string())]);
        store::save_tensors(&path, &tensors, meta).unwrap();
        let good = std::fs::read(&path).unwrap();
        let (want, want_meta) = store::load_tensors(&path).unwrap();
        let bad = apply(&good, &e);
        std::fs::write(&path, &bad).unwrap();
        match store::load_tensors(&path) {
            Err(err) => prop_assert!(err.to_string().contains("epoch_00001.safetensors")),
            // only a change that leaves the content the same may load (e.g. JSON whitespace)
            Ok((got, got_meta)) => {
                prop_assert_eq!(got_meta, want_meta);
                prop_assert_eq!(got.len(), want.len());
                for ((n, t), (m, u)) in got.iter().zip(&want) {
                    prop_assert_eq!(n, m);
                    prop_assert!(t.equal(u));
                }
            }
        }
    }

    #[test]
    fn resume_check_of_metrics_sees_every_structural_change(
        cut in any::<usize>(),
        line in any::<usize>(),
        other in any::<usize>(),
        at in any::<usize>(),
        junk in proptest::sample::select(vec!["x", ",", "\"", ";", "e", " "]),
        kind in 0usize..5,
    ) {
        // 4 steps per epoch, step rows every 3 steps, checkpoint at step 8 of 12
        let header: Vec<String> = ["epoch", "step", "row", "train_loss", "rho"].iter().map(|s| s.to_string()).collect();
        let keys = metrics_keys(4, 3, 12);
        let mut text = header.join(",") + "\n";
        for (i, k) in keys.iter().enumerate() {
            let loss = if k[2] == "epoch" { format!("{:e}", 2.0 / (i + 1) as f64) } else { String::new() };
            text += &format!("{},{},{},{loss},{:e}\n", k[0], k[1], k[2], 6.25 + i as f64);
        }
        let lines: Vec<&str> = text.lines().collect();
        let damaged = match kind {
            0 => text[..cut % text.len()].to_string(),
            1 => { let l = line % lines.len(); lines.iter().enumerate().filter(|(i, _)| *i != l).map(|(_, s)| format!("{s}\n")).collect() }
            2 => { let l = line % lines.len(); lines.iter().enumerate().flat_map(|(i, s)| if i == l { vec![*s, *s] } else { vec![*s] }).map(|s| format!("{s}\n")).collect() }
            3 => { let (a, b) = (line % lines.len(), other % lines.len()); let mut v = lines.clone(); v.swap(a, b); v.iter().map(|s| format!("{s}\n")).collect() }
            _ => { let a = at % text.len(); let a = (0..=a).rev().find(|&i| text.is_char_boundary(i)).unwrap(); format!("{}{junk}{}", &text[..a], &text[a..]) }
        };
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("metrics.csv");
        std::fs::write(&path, &text).unwrap();
        let want = verify_rows(&path, &header, &["epoch", "step", "row"], &metrics_keys(4, 3, 8), 8).unwrap();
        std::fs::write(&path, &damaged).unwrap();
        match verify_rows(&path, &header, &["epoch", "step", "row"], &metrics_keys(4, 3, 8), 8) {
            Err(err) => prop_assert!(err.to_string().contains("metrics.csv")),
            // only damage after the checkpoint's rows (which a resume measures again) may pass,
            // and then the verified rows are the original ones
            Ok(got) => prop_assert_eq!(got, want),
        }
    }
}
