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

fn load_classes(file: &str, classes: usize) -> Result<Net, silab::model::ModelError> {
    let c = cfg(file, &[]);
    Net::from_config(&c.model, &[3, 32, 32], classes, 0, Kind::Float, Device::Cpu)
}

fn load(file: &str, kind: Kind) -> Result<Net, silab::model::ModelError> {
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
    // the SI groups silab.export wrote to convnet.silab.toml beside it
    assert_eq!(role("conv_layers.0.weight"), Role::Si, "a group of the exported manifest");
    assert_eq!(net.with_role(Role::Buffer).len(), 12);
    assert!(net.has_si() && net.rho().is_finite());
    assert_eq!(net.classes, 10);
    // the same file without its manifest and without groups in the config: trained, not SI
    let root = tempfile::tempdir().unwrap();
    let bare = root.path().join("bare.pt");
    std::fs::copy(nets().join("convnet.pt"), &bare).unwrap();
    let net = load(bare.to_str().unwrap(), Kind::Float).unwrap();
    let role = |n: &str| net.params().iter().find(|p| p.name == n).unwrap().role;
    assert_eq!(role("conv_layers.0.weight"), Role::Trained, "no groups declared: trained, not SI");
    assert!(!net.has_si() && net.rho().is_nan());
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
/// `kill`: silab's run is killed after the checkpoint of epoch 1 and resumed.
fn same_as_pytorch(cfg: &RunConfig, tol: f64, kill: bool) {
    let root = tempfile::tempdir().unwrap();
    let run = root.path().join("run");
    silab::training::train(cfg, &run, &mut silab::progress::Silent).unwrap_or_else(|e| panic!("{e:#}"));
    if kill {
        let rd = silab::store::RunDir::new(&run);
        for e in 2..=cfg.train.epochs {
            std::fs::remove_file(rd.checkpoint(e)).unwrap();
            std::fs::remove_file(rd.optim_state(e)).unwrap();
        }
        std::fs::remove_file(run.join("summary.json")).unwrap();
        silab::training::resume(&run, &mut silab::progress::Silent).unwrap_or_else(|e| panic!("{e:#}"));
    }
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
    same_as_pytorch(&cfg("convnet.pt", &sets), 1e-4, false);
}

#[test]
fn a_scripted_resnet_killed_and_resumed_is_pytorchs_step_for_step_buffers_included() {
    let sets = ["optim.mode=\"full\"", "optim.lr=0.05", "optim.momentum=0.9", "optim.wd=0.001", "train.epochs=2"];
    same_as_pytorch(
        &cfg("resnet.pt", &[&sets[..], &["train.log_every=1", "metrics.full_grad=false"]].concat()),
        1e-4,
        true,
    );
}

/// On the sphere with the SI groups `silab.export` wrote to the manifest beside the file (no
/// groups in the config): the manifest is read, its groups are the four BatchNorm-fed layers of
/// the reference ConvNet, its frozen classifier stays untouched, and training is PyTorch's.
#[test]
fn sphere_mode_with_the_exported_manifest_is_pytorchs_step_for_step() {
    let manifest = std::fs::read_to_string(nets().join("convnet.silab.toml")).expect("silab.export's manifest");
    assert!(manifest.contains("[[si_groups]]"), "{manifest}");
    let sets = ["optim.mode=\"sphere\"", "optim.elr=0.01", "optim.momentum=0", "train.epochs=2"];
    let c = cfg("convnet.pt", &[&sets[..], &["train.log_every=1", "metrics.full_grad=false"]].concat());
    assert!(c.model.si_groups.is_empty(), "the groups come from the manifest, not the config");
    let net = Net::from_config(&c.model, &[3, 32, 32], 10, 0, Kind::Float, Device::Cpu).unwrap();
    let mut si: Vec<&str> = net.with_role(Role::Si).iter().map(|p| p.name.as_str()).collect();
    si.sort();
    assert_eq!(si, ["conv_layers.0.weight", "conv_layers.11.weight", "conv_layers.3.weight", "conv_layers.7.weight"]);
    let frozen: Vec<&str> = net.with_role(Role::Frozen).iter().map(|p| p.name.as_str()).collect();
    assert!(frozen.iter().any(|n| n.starts_with("linear_layers.2")), "{frozen:?}");
    same_as_pytorch(&c, 1e-4, false);
}

/// The scripted ConvNet in f64 with its SI groups declared, and x, y of `n` examples.
fn convnet_f64(n: i64) -> (Net, Tensor, Tensor) {
    let c = cfg("convnet.pt", &CONVNET_GROUPS);
    let net = Net::from_config(&c.model, &[3, 32, 32], 10, 0, Kind::Double, Device::Cpu).unwrap();
    tch::manual_seed(3);
    let x = Tensor::randn([n, 3, 32, 32], (Kind::Double, Device::Cpu));
    let y = Tensor::randint(10, [n], (Kind::Int64, Device::Cpu));
    (net, x, y)
}

fn hessian<'a>(net: &'a Net, x: &Tensor, y: &Tensor) -> silab::landscape::Hessian<'a> {
    silab::landscape::Hessian {
        net,
        params: net.si().iter().map(|t| t.shallow_clone()).collect(),
        x: x.shallow_clone(),
        y: y.shallow_clone(),
        loss: silab::config::Loss::Ce,
        mode: BnMode::TrainFrozenStats,
        batch: 8,
    }
}

fn rel(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).norm().double_value(&[]) / b.norm().double_value(&[])
}

#[test]
fn hvp_through_the_scripted_module_is_finite_differences_and_the_builtin_convnets() {
    use silab::landscape::Operator;
    let (net, x, y) = convnet_f64(16);
    let h = hessian(&net, &x, &y);
    let v = Tensor::randn([h.dim()], (Kind::Double, Device::Cpu));
    let v = &v / v.norm();
    let hv = h.apply(&v);
    // the same product, again and again: libtorch's profiling executor optimizes a scripted
    // graph after its first runs (pytorch issues 49764, 54133); it must not change the result
    for _ in 0..4 {
        let again = h.apply(&v);
        assert!(rel(&again, &hv) < 1e-12, "HVP changed on a later call: {:e}", rel(&again, &hv));
    }
    // central finite differences of the gradient
    let eps = 1e-5;
    let shift = |s: f64| {
        tch::no_grad(|| {
            let mut at = 0;
            for t in net.si() {
                let n = t.numel() as i64;
                let _ = t.shallow_clone().g_add_(&(v.narrow(0, at, n).view(t.size().as_slice()) * s));
                at += n;
            }
        })
    };
    shift(eps);
    let gp = h.gradient();
    shift(-2.0 * eps);
    let gm = h.gradient();
    shift(eps);
    let fd = (gp - gm) / (2.0 * eps);
    assert!(rel(&hv, &fd) < 1e-6, "HVP vs finite differences: {:e}", rel(&hv, &fd));
    // the built-in ConvNet-8-SI with the same weights (and buffers)
    let builtin_cfg = silab::config::ModelConfig { width: 8, ..Default::default() };
    let mut builtin = Net::new(&builtin_cfg, 10, 0, Kind::Double, Device::Cpu);
    builtin.load(&net.snapshot()).unwrap();
    let hb = hessian(&builtin, &x, &y);
    let hvb = hb.apply(&v);
    assert!(rel(&hv, &hvb) < 1e-10, "scripted vs built-in HVP: {:e}", rel(&hv, &hvb));
}

#[test]
fn a_never_seen_prenorm_net_trains_on_the_sphere_and_has_a_sharpness() {
    // groups from the manifest beside prenorm.pt, verified before training
    let c =
        cfg("prenorm.pt", &["optim.mode=\"sphere\"", "optim.elr=0.01", "train.epochs=2", "metrics.full_grad=false"]);
    let root = tempfile::tempdir().unwrap();
    let run = root.path().join("run");
    silab::training::train(&c, &run, &mut silab::progress::Silent).unwrap_or_else(|e| panic!("{e:#}"));
    let r = silab::store::read_records(&run.join("metrics.csv"), false).unwrap();
    let rho: Vec<f64> = r.rows.iter().map(|row| row[r.col("rho").unwrap()].parse().unwrap()).collect();
    assert!(rho.iter().all(|x| (x - rho[0]).abs() <= 1e-5 * rho[0]), "on the sphere: rho {rho:?}");
    for g in ["stem", "blocks.0.fc1", "blocks.1.fc1"] {
        assert!(r.col(&format!("rho:{g}")).is_some(), "a per-group column for {g}: {:?}", r.header);
    }
    let loss = |row: &Vec<String>| -> f64 { row[r.col("train_loss").unwrap()].parse().unwrap() };
    let (first, last) = (loss(&r.rows[0]), loss(r.rows.last().unwrap()));
    assert!(last.is_finite() && last < first, "it learns: train_loss {first} at epoch 0, {last} at epoch 2");
    let sets: Vec<String> = ["sharpness.images=32", "sharpness.probes=2", "sharpness.lanczos_iters=4"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let rows = silab::landscape::curvature::posthoc(&run, Some(&[2]), &sets, &mut silab::progress::Silent, &mut |_| {})
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert!(!rows.is_empty());
    for row in &rows {
        for col in ["trace", "top_eig"] {
            assert!(row.get(col).is_finite(), "{col} of {:?}", row.0);
        }
    }
}

#[test]
fn a_bias_after_a_norm_declared_si_is_refused_before_training() {
    let c = cfg("bias_after_norm.pt", &["optim.mode=\"sphere\"", "optim.elr=0.01", "train.epochs=1"]);
    let root = tempfile::tempdir().unwrap();
    let run = root.path().join("run");
    let e = silab::training::train(&c, &run, &mut silab::progress::Silent).unwrap_err();
    let e = format!("{e:#}");
    assert!(e.contains("SI group `stem`") && e.contains("not scale-invariant") && e.contains("stem_norm.bias"), "{e}");
    assert!(e.contains("by 0.1 and by 10") && e.contains("loss by"), "names the scales and the change: {e}");
    assert!(!run.join("config.toml").exists(), "nothing trained");
}

#[test]
fn check_si_propose_finds_the_prenorm_groups() {
    let c = cfg("prenorm.pt", &[]);
    let net = silab::model::si::exact_scripted(&c.model, None, None).unwrap();
    let p = silab::model::si::propose(&net, 0);
    let found: Vec<(&str, Vec<&str>)> =
        p.found.iter().map(|s| (s.what.as_str(), s.tensors.iter().map(|t| t.as_str()).collect())).collect();
    assert_eq!(
        found,
        vec![
            ("stem", vec!["stem.weight", "stem.bias"]),
            ("blocks.0.fc1", vec!["blocks.0.fc1.weight", "blocks.0.fc1.bias"]),
            ("blocks.1.fc1", vec!["blocks.1.fc1.weight", "blocks.1.fc1.bias"]),
        ]
    );
    assert!(p.tried.iter().any(|s| s.what == "stem_norm.bias" && !s.invariant), "the bias after a norm was tried");
}

#[test]
fn no_groups_means_full_mode_only_and_a_changed_file_is_refused_on_resume() {
    let root = tempfile::tempdir().unwrap();
    let file = root.path().join("net.pt");
    std::fs::copy(nets().join("convnet.pt"), &file).unwrap();
    let sets = |mode: &str| {
        vec![
            "model.arch=\"torchscript\"".to_string(),
            format!("model.file=\"{}\"", file.display()),
            format!("optim.mode=\"{mode}\""),
            "optim.elr=0.01".into(),
            "data.train_size=32".into(),
            "data.test_size=16".into(),
            "train.batch_size=16".into(),
            "train.threads=1".into(),
            "train.epochs=2".into(),
        ]
    };
    // no manifest, no groups: sphere mode is refused, pointing to check-si --propose
    let c = RunConfig::from_parts(None, &sets("sphere")).unwrap();
    let e =
        format!("{:#}", silab::training::train(&c, &root.path().join("s"), &mut silab::progress::Silent).unwrap_err());
    assert!(e.contains("check-si --propose") && e.contains("manifest"), "{e}");
    // full mode trains, with rho NaN
    let c = RunConfig::from_parts(None, &sets("full")).unwrap();
    let run = root.path().join("f");
    silab::training::train(&c, &run, &mut silab::progress::Silent).unwrap_or_else(|e| panic!("{e:#}"));
    let r = silab::store::read_records(&run.join("metrics.csv"), false).unwrap();
    assert_eq!(r.rows[0][r.col("rho").unwrap()], "", "no SI group: rho is not measured");
    // the file changes: resuming is refused, naming it
    std::fs::copy(nets().join("prenorm.pt"), &file).unwrap();
    std::fs::remove_file(run.join("summary.json")).ok();
    let e = silab::training::resume(&run, &mut silab::progress::Silent).unwrap_err().to_string();
    assert!(e.contains("SHA-256") && e.contains("net.pt"), "{e}");
}

/// `silab ARGS` (the built binary) in `dir`; its stdout, or a panic with its output.
fn silab(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_silab")).current_dir(dir).args(args).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "silab {args:?}:\n{text}");
    text
}

/// Every number of `cols` of a CSV, after its first `skip` rows, is finite (no NaN, inf or
/// empty measurement); returns the number of rows.
fn finite_columns(path: &Path, cols: &[&str], skip: usize) -> usize {
    let r = silab::store::read_records(path, false).unwrap();
    for c in cols {
        let i = r.col(c).unwrap_or_else(|| panic!("{}: no column {c}: {:?}", path.display(), r.header));
        for row in &r.rows[skip..] {
            let v: f64 = row[i].parse().unwrap_or(f64::NAN);
            assert!(v.is_finite(), "{}: {c} = {:?}", path.display(), row[i]);
        }
    }
    r.rows.len()
}

#[test]
fn rotational_mode_landscape_and_every_sharpness_run_on_a_scripted_net() {
    let root = tempfile::tempdir().unwrap();
    let file = format!("model.file=\"{}\"", nets().join("prenorm.pt").display());
    let sets = [
        "model.arch=\"torchscript\"",
        &file,
        "optim.mode=\"rotational\"",
        "optim.wd=0.0005",
        "optim.lr=0.05",
        "data.train_size=64",
        "data.test_size=32",
        "train.batch_size=16",
        "train.epochs=2",
        "train.threads=1",
        "metrics.full_grad=false",
    ];
    let mut args = vec!["train", "--out", "run", "-q"];
    for s in &sets {
        args.extend(["--set", s]);
    }
    silab(root.path(), &args);
    let metrics = root.path().join("run/metrics.csv");
    // (the initial row has no step, so no angles)
    finite_columns(&metrics, &["rho", "elr", "angle_mean", "angle_eq", "rho:stem", "angle:blocks.0.fc1"], 1);
    silab(
        root.path(),
        &[
            "sharpness",
            "run",
            "--epochs",
            "2",
            "--set",
            "sharpness.images=32",
            "--set",
            "sharpness.probes=2",
            "--set",
            "sharpness.lanczos_iters=4",
            "--set",
            "sharpness.gauss_newton=true",
            "--set",
            "sharpness.riemannian=true",
            "--set",
            "sharpness.density_probes=1",
        ],
    );
    let cols = ["trace", "top_eig", "gn_trace", "riemannian_top_eig"];
    let csv = root.path().join("run/sharpness_posthoc.csv");
    let r = silab::store::read_records(&csv, false).unwrap();
    let si = r.rows.iter().find(|row| row[r.col("group").unwrap()] == "si").expect("an si row");
    for c in cols {
        let v: f64 = si[r.col(c).unwrap()].parse().unwrap_or(f64::NAN);
        assert!(v.is_finite(), "{c} = {v}");
    }
    silab(root.path(), &["landscape", "slice", "run", "--points", "3", "--out", "land"]);
    let scan = std::fs::read_dir(root.path().join("land")).unwrap().filter_map(|e| e.ok()).map(|e| e.path());
    let csv: Vec<PathBuf> = scan.filter(|p| p.extension().is_some_and(|e| e == "csv")).collect();
    assert!(!csv.is_empty(), "a scan CSV");
    assert_eq!(finite_columns(&csv[0], &["train_loss"], 0), 9, "a 3 x 3 slice");
}

#[test]
fn a_killed_scripted_run_resumes_to_the_same_weights_and_running_statistics() {
    let root = tempfile::tempdir().unwrap();
    let mut sets = vec!["optim.mode=\"full\"", "optim.lr=0.05", "optim.wd=0.001", "train.epochs=2"];
    sets.extend(CONVNET_GROUPS);
    let c = cfg("convnet.pt", &sets);
    let a = root.path().join("a");
    silab::training::train(&c, &a, &mut silab::progress::Silent).unwrap();
    // the same run, killed after its epoch-1 checkpoint
    let b = root.path().join("b");
    silab::training::train(&c, &b, &mut silab::progress::Silent).unwrap();
    let rd = silab::store::RunDir::new(&b);
    std::fs::remove_file(rd.checkpoint(2)).unwrap();
    std::fs::remove_file(rd.optim_state(2)).unwrap();
    std::fs::remove_file(b.join("summary.json")).unwrap();
    silab::training::resume(&b, &mut silab::progress::Silent).unwrap_or_else(|e| panic!("{e:#}"));
    let (wa, _) = silab::store::load_tensors(&silab::store::RunDir::new(&a).checkpoint(2)).unwrap();
    let (wb, _) = silab::store::load_tensors(&rd.checkpoint(2)).unwrap();
    assert!(wa.iter().any(|(n, _)| n == "conv_layers.1.running_var"));
    for ((na, ta), (nb, tb)) in wa.iter().zip(&wb) {
        assert_eq!(na, nb);
        assert!(ta.equal(tb), "{na} differs after the resume");
    }
}

#[test]
fn a_rust_caller_brings_its_own_net() {
    // a built-in ConvNet whose SI declaration the caller changed: one group of the first conv
    let c = RunConfig::from_parts(
        None,
        &["optim.mode=\"sphere\"", "optim.elr=0.01", "data.train_size=32", "data.test_size=16", "train.batch_size=16"]
            .iter()
            .chain(&["train.epochs=1", "train.threads=1", "model.width=2"])
            .map(|s| s.to_string())
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let mut net = Net::new(&c.model, 10, c.seed, Kind::Float, Device::Cpu);
    net.declare_si_groups(&[("first".into(), vec!["conv_layers.0.weight".into()])]).unwrap();
    let root = tempfile::tempdir().unwrap();
    let run = root.path().join("run");
    silab::training::train_with_net(&c, &run, net, &mut silab::progress::Silent).unwrap_or_else(|e| panic!("{e:#}"));
    let r = silab::store::read_records(&run.join("metrics.csv"), false).unwrap();
    assert!(r.col("rho:first").is_some() && r.col("rho:conv_layers.3").is_none(), "{:?}", r.header);
}

#[test]
fn scripted_keys_are_validated_naming_the_key() {
    let err = |sets: &[&str]| match RunConfig::from_parts(None, &sets.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    {
        Err(silab::config::ConfigError::Invalid { key, .. }) => key,
        other => panic!("{sets:?}: {other:?}"),
    };
    assert_eq!(err(&["model.file=\"net.pt\""]), "model.file", "a file for a built-in arch");
    assert_eq!(err(&["model.frozen=[\"a\"]"]), "model.frozen");
    assert_eq!(err(&["model.arch=\"torchscript\""]), "model.file", "torchscript needs a file");
    let empty = ["model.arch=\"torchscript\"", "model.file=\"n.pt\"", "model.si_groups=[{name=\"g\", params=[]}]"];
    assert_eq!(err(&empty), "model.si_groups[0].params");
    // a pattern that matches nothing names the group, the pattern and the parameters
    let c = cfg("convnet.pt", &["model.si_groups=[{name=\"g\", params=[\"conv_layers.0.weight\", \"nope.*\"]}]"]);
    let e = Net::from_config(&c.model, &[3, 32, 32], 10, 0, Kind::Float, Device::Cpu).unwrap_err().to_string();
    assert!(e.contains("model.si_groups[0] (g)") && e.contains("`nope.*` matches no parameter"), "{e}");
    // a data set of another number of classes
    let e = load_classes("convnet.pt", 7).unwrap_err().to_string();
    assert!(e.contains("outputs 10 logits") && e.contains("7 classes"), "{e}");
    // inputs of another shape than the module was exported for: its manifest says so, before
    // the module runs
    let c = cfg("convnet.pt", &[]);
    let e = Net::from_config(&c.model, &[1, 28, 28], 10, 0, Kind::Float, Device::Cpu).unwrap_err().to_string();
    assert!(
        e.contains("convnet.silab.toml") && e.contains("input_shape = [3, 32, 32]") && e.contains("[1, 28, 28]"),
        "{e}"
    );
    // without a manifest, the module's own forward fails on them, named
    let root = tempfile::tempdir().unwrap();
    let bare = root.path().join("bare.pt");
    std::fs::copy(nets().join("convnet.pt"), &bare).unwrap();
    let c = cfg(bare.to_str().unwrap(), &[]);
    let e = Net::from_config(&c.model, &[1, 28, 28], 10, 0, Kind::Float, Device::Cpu).unwrap_err().to_string();
    assert!(e.contains("[2, 1, 28, 28]") && e.contains("failed"), "{e}");
}

/// The warnings of a run.
#[derive(Default)]
struct Warnings(Vec<String>);
impl silab::progress::Progress for Warnings {
    fn warn(&mut self, text: &str) {
        self.0.push(text.to_string());
    }
}

#[test]
fn an_si_tensor_in_no_group_is_reported_when_the_run_starts() {
    let one = "model.si_groups=[{name=\"conv_layers.0\", params=[\"conv_layers.0.weight\"]}]";
    let c = cfg("convnet.pt", &[one, "optim.mode=\"sphere\"", "optim.elr=0.01", "train.epochs=1"]);
    let root = tempfile::tempdir().unwrap();
    let mut w = Warnings::default();
    silab::training::train(&c, &root.path().join("run"), &mut w).unwrap_or_else(|e| panic!("{e:#}"));
    for t in ["conv_layers.3.weight", "conv_layers.7.weight", "conv_layers.11.weight"] {
        assert!(w.0.iter().any(|l| l.contains(t) && l.contains("in no SI group")), "{t}: {:?}", w.0);
    }
    assert!(!w.0.iter().any(|l| l.contains("conv_layers.0.weight")), "{:?}", w.0);
}

/// Your own data through your own model (issues 21 and 22): a scripted module taking one-channel
/// 12 x 12 inputs trains on the sphere on a `tensors` file of that shape; the same module on the
/// built-in 3 x 32 x 32 images is refused before training, naming the module's file.
#[test]
fn a_scripted_net_trains_on_a_tensors_file_of_its_own_shape() {
    let root = tempfile::tempdir().unwrap();
    let file = root.path().join("gray.safetensors");
    let x = |n: i64| Tensor::randn([n, 1, 12, 12], (Kind::Float, Device::Cpu));
    let y = |n: i64| Tensor::arange(n, (Kind::Int64, Device::Cpu)).remainder(3);
    let (xt, yt, xs, ys) = (x(48), y(48), x(24), y(24));
    Tensor::write_safetensors(&[("x_train", &xt), ("y_train", &yt), ("x_test", &xs), ("y_test", &ys)], &file).unwrap();
    let data = [
        "data.name=\"tensors\"".to_string(),
        format!("data.file=\"{}\"", file.display()),
        "data.train_size=0".into(),
        "data.test_size=0".into(),
        "data.classes=3".into(),
        "optim.mode=\"sphere\"".into(),
        "train.epochs=2".into(),
    ];
    let sets: Vec<&str> = data.iter().map(String::as_str).collect();
    let c = cfg("tiny_gray.pt", &sets);
    let run = root.path().join("run");
    silab::training::train(&c, &run, &mut silab::progress::Silent).unwrap_or_else(|e| panic!("{e:#}"));
    let metrics = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    let rows: Vec<&str> = metrics.lines().filter(|l| l.contains(",epoch,")).collect();
    assert_eq!(rows.len(), 3, "{metrics}");
    let loss_col = metrics.lines().next().unwrap().split(',').position(|h| h == "train_loss").unwrap();
    for r in &rows {
        let loss: f64 = r.split(',').nth(loss_col).unwrap().parse().unwrap();
        assert!(loss.is_finite() && loss > 0.0, "{r}");
    }
    // the same module on the built-in images: refused, naming its file
    let e = silab::training::train(&cfg("tiny_gray.pt", &[]), &root.path().join("r2"), &mut silab::progress::Silent)
        .unwrap_err();
    assert!(format!("{e:#}").contains("tiny_gray.pt"), "{e:#}");
}
