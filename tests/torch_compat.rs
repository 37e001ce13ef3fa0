//! silab checkpoints load into the PyTorch reference modules by name (strict), and PyTorch
//! computes the same logits: checks names, shapes, norm buffers and the architecture itself,
//! for ConvNet and ResNet-18 in every variant (BatchNorm, the papers' networks), every other
//! normalization, the MLP and the ViT. Runs `python/silab_reference.py` with the project's
//! virtualenv python (set up by ./run-tests).

use silab::config::{Arch, Loss, ModelConfig, NormName, OptimConfig, OptimMode, Pool, Variant};
use silab::model::{BnMode, Net, loss};
use silab::optim::Optimizer;
use silab::store::save_tensors;
use std::collections::HashMap;
use tch::{Device, Kind, Tensor};

mod common;
use common::python;

/// The networks checked: `(config, relative tolerance of the logits)`.
fn cases() -> Vec<(ModelConfig, f64)> {
    let mut out = vec![];
    // the papers' networks, BatchNorm, every variant
    for arch in [Arch::Convnet, Arch::Resnet18] {
        for variant in [Variant::Standard, Variant::ScaleInvariant, Variant::SiAffine] {
            out.push((ModelConfig { arch, width: 2, variant, ..Default::default() }, 1e-4));
        }
    }
    // every other normalization
    for norm in [NormName::Layer, NormName::Group, NormName::Rms, NormName::Instance, NormName::Weight, NormName::None]
    {
        out.push((ModelConfig { width: 2, norm, variant: Variant::SiAffine, ..Default::default() }, 1e-5));
    }
    for norm in [NormName::Group, NormName::Weight] {
        let c = ModelConfig { arch: Arch::Resnet18, width: 2, norm, variant: Variant::Standard, ..Default::default() };
        out.push((c, 1e-5));
    }
    // the MLP and the ViT, both variants
    for (norm, variant) in [
        (NormName::Layer, Variant::ScaleInvariant),
        (NormName::Batch, Variant::Standard),
        (NormName::Rms, Variant::SiAffine),
        (NormName::Weight, Variant::Standard),
    ] {
        out.push((ModelConfig { arch: Arch::Mlp, width: 32, depth: 2, norm, variant, ..Default::default() }, 1e-5));
    }
    for (variant, pool, norm) in [
        (Variant::Standard, Pool::Cls, NormName::Layer),
        (Variant::ScaleInvariant, Pool::Cls, NormName::Layer),
        (Variant::ScaleInvariant, Pool::Mean, NormName::Rms),
    ] {
        let c = ModelConfig {
            arch: Arch::Vit,
            dim: 32,
            depth: 2,
            heads: 4,
            patch: 8,
            variant,
            pool,
            norm,
            ..Default::default()
        };
        out.push((c, 1e-5));
    }
    out
}

#[test]
fn checkpoints_load_into_pytorch_with_same_outputs() {
    let root = tempfile::tempdir().unwrap();
    let mut dirs = vec![];
    for (i, (cfg, tol)) in cases().into_iter().enumerate() {
        let net = Net::new(&cfg, 10, 0, Kind::Float, Device::Cpu);
        // A few training steps so that weights and norm running statistics are not at init.
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
        let dir = root.path().join(format!("{i:02}-{}-{}-{}", cfg.arch.name(), cfg.norm().name(), cfg.variant.name()));
        std::fs::create_dir_all(&dir).unwrap();
        save_tensors(&dir.join("model.safetensors"), &net.snapshot(), HashMap::new()).unwrap();
        let io = vec![("x".to_string(), x), ("logits_eval".to_string(), le), ("logits_train".to_string(), lt)];
        save_tensors(&dir.join("io.safetensors"), &io, HashMap::new()).unwrap();
        let model = ModelConfig { norm: cfg.norm(), ..cfg };
        let meta = serde_json::json!({"model": model, "classes": 10, "tolerance": tol});
        std::fs::write(dir.join("meta.json"), meta.to_string()).unwrap();
        dirs.push(dir);
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/silab_reference.py");
    let out = std::process::Command::new(python())
        .arg(script)
        .args(&dirs)
        .output()
        .expect("running the virtualenv's python (./run-tests sets it up)");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "PyTorch cross-check failed:\n{text}");
    assert_eq!(text.matches("logits match").count(), dirs.len(), "{text}");
}
