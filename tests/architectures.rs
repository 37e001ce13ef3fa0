//! Every architecture x normalization x variant: the declared SI groups are scale-invariant
//! (property test, f64, eps 0), gradients are orthogonal to each group, backprop matches finite
//! differences (MLP, ViT), `check-si` flags a wrong declaration, per-group spheres keep each
//! group's norm, and every combination trains, measures curvature and scans the landscape.

use proptest::prelude::*;
use silab::config::{Arch, Loss, ModelConfig, NormName, Pool, Variant};
use silab::model::{BnMode, Net, loss, si, sq_norm};
use tch::{Device, Kind, Tensor};

/// Small versions of every valid (arch, norm, variant).
fn combos() -> Vec<ModelConfig> {
    let mut out = vec![];
    for arch in [Arch::Convnet, Arch::Resnet18, Arch::Mlp, Arch::Vit] {
        for norm in NormName::ALL {
            for variant in [Variant::Standard, Variant::ScaleInvariant, Variant::SiAffine] {
                let cfg = ModelConfig {
                    arch,
                    norm,
                    variant,
                    width: if arch == Arch::Mlp { 16 } else { 2 },
                    depth: 2,
                    dim: 16,
                    heads: 2,
                    patch: 8,
                    groups: 2,
                    bn_eps: 0.0,
                    ..Default::default()
                };
                if cfg.check().is_ok() {
                    out.push(cfg);
                }
            }
        }
    }
    out
}

fn batch(n: i64, seed: i64) -> (Tensor, Tensor) {
    tch::manual_seed(seed);
    let x = Tensor::randn([n, 3, 32, 32], (Kind::Double, Device::Cpu));
    let y = Tensor::randint(10, [n], (Kind::Int64, Device::Cpu));
    (x, y)
}

fn loss_of(net: &Net, x: &Tensor, y: &Tensor) -> f64 {
    tch::no_grad(|| loss(&net.forward(x, BnMode::TrainFrozenStats), y, Loss::Ce).double_value(&[]))
}

#[test]
fn every_combination_is_built_with_its_groups() {
    let all = combos();
    // 7 norms x 3 variants (ConvNet, ResNet), 6 x 3 (MLP: no instance), 2 x 2 (ViT)
    assert_eq!(all.len(), 21 + 21 + 18 + 4, "{}", all.len());
    for cfg in &all {
        let net = Net::new(cfg, 10, 0, Kind::Double, Device::Cpu);
        let si_tensors = net.si().len();
        let in_groups: usize = net.si_groups().iter().map(|g| g.params.len()).sum();
        assert_eq!(si_tensors, in_groups, "{cfg:?}: every SI tensor in exactly one group");
        assert_eq!(net.has_si(), cfg.norm() != NormName::None, "{cfg:?}");
        let (x, _) = batch(4, 0);
        let z = net.forward(&x, BnMode::TrainFrozenStats);
        assert_eq!(z.size(), [4, 10], "{cfg:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// The loss is unchanged (1e-5 relative) when any one declared SI group is scaled by c.
    #[test]
    fn each_si_group_is_scale_invariant(k in 0usize..1000, g in 0usize..1000, c in 0.1f64..10.0) {
        let all = combos();
        let cfg = &all[k % all.len()];
        let net = Net::new(cfg, 10, 1, Kind::Double, Device::Cpu);
        prop_assume!(net.has_si());
        let (x, y) = batch(8, 3);
        let l0 = loss_of(&net, &x, &y);
        let group = &net.si_groups()[g % net.si_groups().len()];
        tch::no_grad(|| for t in net.group_tensors(group) { let _ = t.shallow_clone().g_mul_scalar_(c); });
        let l1 = loss_of(&net, &x, &y);
        prop_assert!((l1 - l0).abs() <= 1e-5 * l0.abs(), "{cfg:?} group {}: {l0} -> {l1}", group.name);
    }
}

/// grad L ⟂ w for every SI group (Euler: <grad_G, w_G> = 0 for a function invariant to scaling G).
#[test]
fn gradients_are_orthogonal_to_each_si_group() {
    for cfg in combos() {
        let net = Net::new(&cfg, 10, 2, Kind::Double, Device::Cpu);
        let (x, y) = batch(8, 4);
        net.zero_grad();
        loss(&net.forward(&x, BnMode::TrainFrozenStats), &y, Loss::Ce).backward();
        for g in net.si_groups() {
            let ts = net.group_tensors(g);
            let dot: f64 = ts.iter().map(|w| (w.grad() * *w).sum(Kind::Double).double_value(&[])).sum();
            let gn = sq_norm(&ts.iter().map(|w| w.grad()).collect::<Vec<_>>().iter().collect::<Vec<_>>()).sqrt();
            let wn = sq_norm(&ts).sqrt();
            assert!(dot.abs() <= 1e-9 * gn * wn + 1e-14, "{cfg:?} {}: <g, w> = {dot}", g.name);
        }
    }
}

/// Backprop of the MLP and the ViT against central finite differences along random directions.
#[test]
fn mlp_and_vit_gradients_match_finite_differences() {
    for cfg in combos().into_iter().filter(|c| matches!(c.arch, Arch::Mlp | Arch::Vit)) {
        if cfg.norm() == NormName::Batch {
            continue; // batch statistics of 8 samples: fine, but covered by the ConvNet test
        }
        let net = Net::new(&cfg, 10, 5, Kind::Double, Device::Cpu);
        let (x, y) = batch(6, 6);
        net.zero_grad();
        loss(&net.forward(&x, BnMode::TrainFrozenStats), &y, Loss::Ce).backward();
        tch::manual_seed(7);
        let params: Vec<&Tensor> = net.trained().iter().map(|p| &p.tensor).collect();
        let dirs: Vec<Tensor> = params.iter().map(|p| Tensor::randn(p.size(), (Kind::Double, Device::Cpu))).collect();
        let analytic: f64 =
            params.iter().zip(&dirs).map(|(p, d)| (p.grad() * d).sum(Kind::Double).double_value(&[])).sum();
        let eps = 1e-6;
        let shift = |s: f64| {
            tch::no_grad(|| {
                for (p, d) in params.iter().zip(&dirs) {
                    let _ = p.shallow_clone().g_add_(&(d * s));
                }
            })
        };
        shift(eps);
        let lp = loss_of(&net, &x, &y);
        shift(-2.0 * eps);
        let lm = loss_of(&net, &x, &y);
        shift(eps);
        let numeric = (lp - lm) / (2.0 * eps);
        assert!((numeric - analytic).abs() <= 1e-6 * analytic.abs().max(1.0), "{cfg:?}: {numeric} vs {analytic}");
    }
}

/// check-si passes every built-in declaration and fails a wrong one: the BatchNorm bias after a
/// conv declared SI together with the conv.
#[test]
fn check_si_accepts_the_built_in_groups_and_flags_a_broken_one() {
    for cfg in combos() {
        let r = si::check(&cfg, 10, 0);
        assert!(r.ok(), "{cfg:?}:\n{}", si::to_text(&r));
    }
    let cfg = ModelConfig { width: 2, variant: Variant::SiAffine, bn_eps: 0.0, ..Default::default() };
    let mut net = Net::new(&cfg, 10, 0, Kind::Double, Device::Cpu);
    net.declare_si_groups(&[
        ("conv_and_bias_after_norm".into(), vec!["conv_layers.0.weight".into(), "conv_layers.1.bias".into()]),
        ("conv_layers.3".into(), vec!["conv_layers.3.weight".into()]),
    ])
    .unwrap();
    let r = si::check_net(&net, 0);
    assert!(!r.ok());
    let bad: Vec<&str> = r.groups.iter().filter(|g| !g.invariant).map(|g| g.what.as_str()).collect();
    assert_eq!(bad, ["conv_and_bias_after_norm", "all"], "{}", si::to_text(&r));
    assert!(si::to_text(&r).contains("declaration WRONG"));
    // what the wrong declaration left out (conv_layers.7, .11) is found as undeclared SI
    let found: Vec<&str> = r.undeclared.iter().map(|u| u.what.as_str()).collect();
    assert!(found.contains(&"conv_layers.7.weight") && found.contains(&"conv_layers.11.weight"), "{found:?}");
    assert!(net.declare_si_groups(&[("x".into(), vec!["nope".into()])]).is_err());
}

/// The SI groups of the ViT are the ones its module docs name.
#[test]
fn vit_groups_are_named_as_documented() {
    let base = ModelConfig { arch: Arch::Vit, depth: 2, dim: 16, heads: 2, patch: 8, ..Default::default() };
    let names = |c: &ModelConfig| {
        let n = Net::new(c, 10, 0, Kind::Float, Device::Cpu);
        n.si_groups().iter().map(|g| g.name.clone()).collect::<Vec<_>>()
    };
    assert_eq!(names(&base), ["blocks.0.mlp.fc1", "blocks.0.mlp.fc2", "blocks.1.mlp.fc1", "blocks.1.mlp.fc2"]);
    let std = ModelConfig { variant: Variant::Standard, pool: Pool::Mean, ..base.clone() };
    assert_eq!(names(&std), ["residual"]);
    let n = Net::new(&std, 10, 0, Kind::Float, Device::Cpu);
    let members: Vec<String> = n.si_groups()[0].params.iter().map(|&i| n.params()[i].name.clone()).collect();
    for m in ["patch_embed.proj.weight", "pos_embed", "blocks.1.attn.proj.bias", "blocks.0.mlp.fc2.weight"] {
        assert!(members.contains(&m.to_string()), "{m} in {members:?}");
    }
    assert!(!members.iter().any(|m| m.contains("qkv") || m.contains("fc1")));
}

/// Each architecture and normalization trains one epoch: on per-group spheres where it has SI
/// groups (each group keeps its initial norm, `elr:<group>` is the configured ELR), in full space
/// without (`none`); its curvature is measured over its SI groups; its landscape is scanned.
#[test]
fn every_architecture_and_norm_trains_and_is_measured() {
    use silab::landscape::{curvature, lines};
    let root = tempfile::tempdir().unwrap();
    let mut n = 0;
    for model in combos().into_iter().filter(|c| c.variant != Variant::Standard || c.arch == Arch::Vit) {
        if model.norm() == NormName::Instance && model.arch == Arch::Resnet18 {
            continue; // covered by ConvNet; ResNet is the slowest
        }
        n += 1;
        let sphere = model.norm() != NormName::None;
        let mut sets = vec![
            "data.train_size=64".to_string(),
            "data.test_size=32".into(),
            "train.epochs=1".into(),
            "train.batch_size=16".into(),
            "train.threads=1".into(),
            "metrics.full_grad=false".into(),
            "optim.elr=0.01".into(),
        ];
        sets.push(if sphere { "optim.sphere=\"per_group\"".into() } else { "optim.mode=\"full\"".into() });
        let text = format!("[model]\n{}", toml::to_string(&ModelConfig { bn_eps: 1e-5, ..model.clone() }).unwrap());
        let cfg = silab::config::RunConfig::from_parts(Some((&text, "t")), &sets).unwrap();
        let dir = root.path().join(format!("r{n}"));
        silab::training::train(&cfg, &dir, &mut silab::progress::Silent).unwrap_or_else(|e| panic!("{model:?}: {e:#}"));
        let r = silab::store::read_records(&dir.join("metrics.csv"), false).unwrap();
        let net = Net::new(&cfg.model, 10, cfg.seed, Kind::Float, Device::Cpu);
        for g in net.si_groups() {
            let col =
                |p: &str| r.col(&format!("{p}{}", g.name)).unwrap_or_else(|| panic!("{model:?}: no {p}{}", g.name));
            let rho: Vec<f64> = r.rows.iter().map(|row| row[col("rho:")].parse().unwrap()).collect();
            assert!(rho.iter().all(|x| (x - rho[0]).abs() <= 1e-5 * rho[0]), "{model:?} {}: rho {rho:?}", g.name);
            let elr: Vec<f64> = r.rows.iter().map(|row| row[col("elr:")].parse().unwrap()).collect();
            assert!(elr.iter().all(|e| (e - 0.01).abs() <= 1e-4 * 0.01), "{model:?} {}: elr {elr:?}", g.name);
        }
        if !sphere {
            assert_eq!(r.rows[0][r.col("rho").unwrap()], "", "no SI group: rho is not measured");
            continue;
        }
        // curvature of every SI group and of the union, on the trained weights
        let (tensors, _) = silab::store::load_tensors(&dir.join("checkpoints/epoch_00001.safetensors")).unwrap();
        let mut net = net;
        net.load(&tensors).unwrap();
        let sc = silab::config::SharpnessConfig {
            groups: vec!["si".parse().unwrap(), "si_groups".parse().unwrap()],
            images: 16,
            probes: 2,
            lanczos_iters: 2,
            gauss_newton: false,
            riemannian: false,
            ..Default::default()
        };
        let (x, y) = batch(16, 9);
        let setup = curvature::Setup {
            cfg: &sc,
            loss: Loss::Ce,
            x: x.to_kind(Kind::Float),
            y,
            mode: BnMode::TrainFrozenStats,
            batch: 16,
            seed: 0,
        };
        let rows = curvature::measure(&net, &setup, 1, 4, &mut Default::default()).unwrap();
        assert_eq!(rows.len(), 1 + net.si_groups().len(), "{model:?}");
        for row in &rows {
            assert!(row.get("eff_top_eig").is_finite() && row.get("trace").is_finite(), "{model:?}: {row:?}");
        }
        assert_eq!(rows[1].text("group"), Some(format!("group:{}", net.si_groups()[0].name).as_str()));
        // the landscape: a straight line and a great circle from init to the trained weights
        if model.arch != Arch::Resnet18 {
            let (init, _) = silab::store::load_tensors(&dir.join("checkpoints/epoch_00000.safetensors")).unwrap();
            let data = silab::data::load(&cfg.data).unwrap();
            let d = lines::ScanData {
                train: data.train.head(32),
                test: data.test.head(32),
                loss: Loss::Ce,
                mode: BnMode::TrainFrozenStats,
                batch: 16,
            };
            let kinds = [lines::PathKind::Straight, lines::PathKind::GreatCircle];
            let pts = lines::scan_line(&mut net, &init, &tensors, &[0.0, 0.5, 1.0], &kinds, &d, || {}).unwrap();
            assert_eq!(pts.len(), 6);
            assert!(pts.iter().all(|p| p.train_loss.is_finite()), "{model:?}");
        }
    }
    assert!(n >= 20, "{n} combinations trained");
}

/// `model.init_scale` multiplies every SI tensor, and only those, by its factor at init: the norm
/// of the SI weights grows by c, the other trained tensors are untouched, and every combination
/// with SI groups computes the same loss (f64, eps 0).
#[test]
fn init_scale_scales_the_si_weights_only() {
    for cfg in combos() {
        let scaled = ModelConfig { init_scale: 7.0, ..cfg.clone() };
        let (a, b) =
            (Net::new(&cfg, 10, 3, Kind::Double, Device::Cpu), Net::new(&scaled, 10, 3, Kind::Double, Device::Cpu));
        if !a.has_si() {
            continue;
        }
        assert!((b.rho() / a.rho() - 7.0).abs() < 1e-12, "{cfg:?}");
        for (p, q) in a.params().iter().zip(b.params()) {
            let ratio = sq_norm(&[&q.tensor]).sqrt() / sq_norm(&[&p.tensor]).sqrt().max(1e-300);
            let is_si = a.si().iter().any(|t| t.data_ptr() == p.tensor.data_ptr());
            if sq_norm(&[&p.tensor]) > 0.0 {
                assert!((ratio - if is_si { 7.0 } else { 1.0 }).abs() < 1e-12, "{cfg:?} {}", p.name);
            }
        }
        let (x, y) = batch(8, 4);
        let (la, lb) = (loss_of(&a, &x, &y), loss_of(&b, &x, &y));
        assert!((la - lb).abs() <= 1e-9 * la.abs(), "{cfg:?}: {la} vs {lb}");
    }
}
