//! Scripted PyTorch modules as silab networks (`model.arch = "torchscript"`): loading, modes and
//! buffers, refusals, SI groups, and training step for step as a plain PyTorch loop. The modules
//! are written by `tests/py/scripted_nets.py` with the project's virtualenv python (the tests
//! fail without it).

mod common;

use common::python;
use silab::config::RunConfig;
use silab::model::{BnMode, Net, Role};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use tch::{Device, Kind, Tensor};

/// The modules of `tests/py/scripted_nets.py`, written once per test binary.
fn nets() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/scripted_nets.py");
        let out = std::process::Command::new(python()).arg(script).arg(&dir).output().expect("the virtualenv's python");
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    })
}

fn cfg(file: &str, sets: &[&str]) -> RunConfig {
    let path = nets().join(file);
    let mut all = vec![
        "model.arch=\"torchscript\"".to_string(),
        format!("model.file=\"{}\"", path.display()),
        "data.train_size=64".into(),
        "data.test_size=32".into(),
        "train.batch_size=16".into(),
        "train.threads=1".into(),
    ];
    all.extend(sets.iter().map(|s| s.to_string()));
    RunConfig::from_parts(None, &all).unwrap_or_else(|e| panic!("{e}"))
}

fn load(file: &str, kind: Kind) -> Result<Net, silab::model::scripted::ScriptError> {
    let c = cfg(file, &[]);
    Net::from_config(&c.model, &[3, 32, 32], 10, 0, kind, Device::Cpu)
}

#[test]
fn a_scripted_convnet_has_pytorch_names_roles_and_buffers() {
    let net = load("convnet.pt", Kind::Float).unwrap();
    let names: Vec<&str> = net.params().iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names[0], "conv_layers.0.weight", "{names:?}");
    let role = |n: &str| net.params().iter().find(|p| p.name == n).unwrap_or_else(|| panic!("no {n}: {names:?}")).role;
    assert_eq!(role("conv_layers.1.running_mean"), Role::Buffer);
    assert_eq!(role("conv_layers.12.num_batches_tracked"), Role::Buffer);
    assert_eq!(role("linear_layers.2.weight"), Role::Frozen, "saved with requires_grad = False");
    assert_eq!(role("conv_layers.0.weight"), Role::Trained, "no groups declared: trained, not SI");
    assert_eq!(net.with_role(Role::Buffer).len(), 12);
    assert!(!net.has_si() && net.rho().is_nan());
    assert_eq!(net.classes, 10);
}

#[test]
fn modes_update_keep_or_use_the_running_statistics() {
    let net = load("convnet.pt", Kind::Float).unwrap();
    let x = Tensor::randn([8, 3, 32, 32], (Kind::Float, Device::Cpu));
    let rm = || net.params().iter().find(|p| p.name == "conv_layers.1.running_mean").unwrap().tensor.copy();
    let nb =
        || net.params().iter().find(|p| p.name == "conv_layers.1.num_batches_tracked").unwrap().tensor.int64_value(&[]);
    let before = rm();
    // frozen statistics: exactly unchanged, and the backward pass still works
    let y = net.forward(&x, BnMode::TrainFrozenStats);
    y.sum(Kind::Float).backward();
    assert!(rm().equal(&before) && nb() == 0, "TrainFrozenStats changed the running statistics");
    let g = net.params().iter().find(|p| p.name == "conv_layers.0.weight").unwrap().tensor.grad();
    assert!(g.defined() && g.abs().sum(Kind::Double).double_value(&[]) > 0.0);
    // same output as Train, which updates them
    let yt = tch::no_grad(|| net.forward(&x, BnMode::Train));
    assert!(yt.allclose(&y, 1e-6, 1e-6, false));
    assert!(!rm().equal(&before) && nb() == 1, "Train did not update the running statistics");
    // eval uses them: another output
    let ye = tch::no_grad(|| net.forward(&x, BnMode::Eval));
    assert!(!ye.allclose(&yt, 1e-3, 1e-3, false));
}

#[test]
fn a_traced_module_is_refused_with_what_to_do() {
    let e = load("traced.pt", Kind::Float).unwrap_err().to_string();
    assert!(e.contains("traced") && e.contains("torch.jit.script"), "{e}");
}

#[test]
fn a_forward_of_two_inputs_or_a_tuple_is_refused_naming_it() {
    let e = load("two_inputs.pt", Kind::Float).unwrap_err().to_string();
    assert!(e.contains("one input") && e.contains("forward") && e.contains("Tensor y"), "{e}");
    let e = load("tuple_out.pt", Kind::Float).unwrap_err().to_string();
    assert!(e.contains("a tuple of 2"), "{e}");
}

/// The SI groups of the reference ConvNet-8-SI, declared in the config by globs.
const CONVNET_GROUPS: [&str; 1] = [
    "model.si_groups=[{name=\"conv_layers.0\", params=[\"conv_layers.0.weight\"]}, {name=\"conv_layers.3\", params=[\"conv_layers.3.*\"]}, {name=\"conv_layers.7\", params=[\"conv_layers.7.weight\"]}, {name=\"conv_layers.11\", params=[\"conv_layers.11.weight\"]}]",
];

/// Train `cfg` in silab and the same module in a plain PyTorch loop on silab's batches; the
/// per-step losses and the final state dicts (buffers included) agree to `tol` (relative).
fn same_as_pytorch(cfg: &RunConfig, tol: f64) {
    let root = tempfile::tempdir().unwrap();
    let run = root.path().join("run");
    silab::training::train(cfg, &run, &mut silab::progress::Silent).unwrap_or_else(|e| panic!("{e:#}"));
    // the PyTorch side: the same data, batches and optimizer
    let data = silab::data::load(&cfg.data).unwrap();
    let (n, b) = (data.train.len(), cfg.train.batch_size);
    let batches: Vec<Vec<i64>> =
        (0..cfg.train.epochs).flat_map(|e| silab::data::epoch_batches(n, b, cfg.seed, e)).collect();
    let case = root.path().join("case");
    std::fs::create_dir_all(&case).unwrap();
    let xy = vec![
        ("x".to_string(), data.train.images.shallow_clone()),
        ("y".to_string(), data.train.labels.shallow_clone()),
    ];
    silab::store::save_tensors(&case.join("data.safetensors"), &xy, Default::default()).unwrap();
    let net = Net::from_config(&cfg.model, &[3, 32, 32], 10, 0, Kind::Float, Device::Cpu).unwrap();
    let si: Vec<&str> = net.with_role(Role::Si).iter().map(|p| p.name.as_str()).collect();
    let o = &cfg.optim;
    let meta = serde_json::json!({
        "file": cfg.model.file, "mode": o.mode.to_string(), "lr": o.lr, "momentum": o.momentum, "wd": o.wd,
        "elr": o.elr, "si": si, "batches": batches, "threads": 1,
    });
    std::fs::write(case.join("meta.json"), meta.to_string()).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/scripted_loop.py");
    let out = std::process::Command::new(python()).arg(script).arg(&case).output().expect("the virtualenv's python");
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let theirs: Vec<f64> = serde_json::from_str(&std::fs::read_to_string(case.join("losses.json")).unwrap()).unwrap();
    assert_eq!(theirs.len(), batches.len());
    // per-step losses: step rows hold one step's, epoch rows the epoch's mean
    let r = silab::store::read_records(&run.join("metrics.csv"), false).unwrap();
    let (cs, cl, ck) = (r.col("step").unwrap(), r.col("batch_loss").unwrap(), r.col("row").unwrap());
    let spe = batches.len() / cfg.train.epochs;
    let mut compared = 0;
    for row in r.rows.iter().filter(|row| !row[cl].is_empty()) {
        let step: usize = row[cs].parse().unwrap();
        let ours: f64 = row[cl].parse().unwrap();
        let want = if row[ck] == "epoch" {
            theirs[step - spe..step].iter().sum::<f64>() / spe as f64
        } else {
            theirs[step - 1]
        };
        assert!((ours - want).abs() <= tol * want.abs(), "step {step} ({}): silab {ours} vs PyTorch {want}", row[ck]);
        compared += 1;
    }
    assert_eq!(compared, batches.len(), "every step's loss compared");
    // final weights and buffers
    let last = format!("checkpoints/epoch_{:05}.safetensors", cfg.train.epochs);
    let (ours, _) = silab::store::load_tensors(&run.join(last)).unwrap();
    let (theirs, _) = silab::store::load_tensors(&case.join("final.safetensors")).unwrap();
    assert_eq!(ours.len(), theirs.len(), "the same state dict");
    for (name, t) in &theirs {
        let o = &ours.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("silab lacks {name}")).1;
        let (o, t) = (o.to_kind(Kind::Double), t.to_kind(Kind::Double));
        let err = (&o - &t).abs().max().double_value(&[]) / t.abs().max().double_value(&[]).max(1e-30);
        assert!(err <= tol, "{name}: relative difference {err:e} after {} steps", batches.len());
    }
}

#[test]
fn full_mode_sgd_with_weight_decay_is_pytorchs_step_for_step() {
    let mut sets =
        vec!["optim.mode=\"full\"", "optim.lr=0.05", "optim.momentum=0.9", "optim.wd=0.001", "train.epochs=2"];
    sets.extend(["train.log_every=1", "metrics.full_grad=false"]);
    sets.extend(CONVNET_GROUPS);
    same_as_pytorch(&cfg("convnet.pt", &sets), 1e-4);
}

#[test]
fn sphere_mode_is_pytorchs_step_for_step() {
    let mut sets = vec!["optim.mode=\"sphere\"", "optim.elr=0.01", "optim.momentum=0", "train.epochs=2"];
    sets.extend(["train.log_every=1", "metrics.full_grad=false"]);
    sets.extend(CONVNET_GROUPS);
    same_as_pytorch(&cfg("convnet.pt", &sets), 1e-4);
}
