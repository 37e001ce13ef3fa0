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
        assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
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
    let nb = || net.params().iter().find(|p| p.name == "conv_layers.1.num_batches_tracked").unwrap().tensor.int64_value(&[]);
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
