//! silab checkpoints load into the PyTorch modules of the spec by name (strict), and PyTorch
//! computes the same logits: checks names, shapes, BN buffers and the architecture itself.
//! Runs `tests/torch_reference.py` with the project's virtualenv python (set up by ./run-tests).

use silab::config::{Arch, Loss, ModelConfig, OptimConfig, OptimMode, Variant};
use silab::model::{BnMode, Net, loss};
use silab::optim::Optimizer;
use silab::store::save_tensors;
use std::collections::HashMap;
use tch::{Device, Kind, Tensor};

fn python() -> String {
    match std::env::var("VIRTUAL_ENV") {
        Ok(v) => format!("{v}/bin/python"),
        Err(_) => format!("{}/.venv/bin/python", env!("CARGO_MANIFEST_DIR")),
    }
}

#[test]
fn checkpoints_load_into_pytorch_with_same_outputs() {
    let root = tempfile::tempdir().unwrap();
    let mut cases = vec![];
    for arch in [Arch::Convnet, Arch::Resnet18] {
        for variant in [Variant::Standard, Variant::ScaleInvariant, Variant::SiAffine] {
            let cfg = ModelConfig { arch, width: 2, variant, ..Default::default() };
            let net = Net::new(&cfg, 10, 0, Kind::Float, Device::Cpu);
            // A few training steps so that weights and BN running statistics are not at init.
            let oc = OptimConfig { mode: OptimMode::Full, lr: 0.01, wd: 1e-3, ..Default::default() };
            let mut opt = Optimizer::new(&oc, &net, 1, 3);
            tch::manual_seed(0);
            for s in 0..3 {
                let x = Tensor::randn([8, 3, 32, 32], (Kind::Float, Device::Cpu));
                let y = Tensor::randint(10, [8], (Kind::Int64, Device::Cpu));
                net.zero_grad();
                loss(&net.forward(&x, BnMode::Train), &y, Loss::Ce).backward();
                opt.step(&net, s);
            }
            let x = Tensor::randn([5, 3, 32, 32], (Kind::Float, Device::Cpu));
            let (le, lt) = tch::no_grad(|| (net.forward(&x, BnMode::Eval), net.forward(&x, BnMode::TrainFrozenStats)));
            let dir = root.path().join(format!("{arch:?}-{variant:?}"));
            std::fs::create_dir_all(&dir).unwrap();
            save_tensors(&dir.join("model.safetensors"), &net.snapshot(), HashMap::new()).unwrap();
            let io = vec![("x".to_string(), x), ("logits_eval".to_string(), le), ("logits_train".to_string(), lt)];
            save_tensors(&dir.join("io.safetensors"), &io, HashMap::new()).unwrap();
            let arch_name = if arch == Arch::Convnet { "convnet" } else { "resnet18" };
            let var_name = match variant {
                Variant::Standard => "standard",
                Variant::ScaleInvariant => "scale-invariant",
                Variant::SiAffine => "si-affine",
            };
            let meta = format!(r#"{{"arch": "{arch_name}", "variant": "{var_name}", "width": 2, "classes": 10}}"#);
            std::fs::write(dir.join("meta.json"), meta).unwrap();
            cases.push(dir);
        }
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/torch_reference.py");
    let out = std::process::Command::new(python())
        .arg(script)
        .args(&cases)
        .output()
        .expect("running the virtualenv's python (./run-tests sets it up)");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "PyTorch cross-check failed:\n{text}");
    assert_eq!(text.matches("logits match").count(), 6, "{text}");
}
