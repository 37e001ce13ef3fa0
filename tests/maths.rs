//! The mathematics of scale invariance, on tiny networks in f64.

use proptest::prelude::*;
use silab::config::{Arch, Loss, ModelConfig, OptimConfig, OptimMode, Schedule, Variant};
use silab::model::{BnMode, Net, Role, loss, sq_norm};
use silab::optim::Optimizer;
use tch::{Device, Kind, Tensor};

const VARIANTS: [Variant; 3] = [Variant::Standard, Variant::ScaleInvariant, Variant::SiAffine];

fn net(arch: Arch, variant: Variant, width: i64) -> Net {
    net_eps(arch, variant, width, 1e-5)
}

fn net_eps(arch: Arch, variant: Variant, width: i64, bn_eps: f64) -> Net {
    let cfg = ModelConfig { arch, width, variant, bn_eps, ..Default::default() };
    Net::new(&cfg, 10, 1, Kind::Double, Device::Cpu)
}

fn batch(n: i64, seed: i64) -> (Tensor, Tensor) {
    tch::manual_seed(seed);
    let x = Tensor::randn([n, 3, 32, 32], (Kind::Double, Device::Cpu));
    let y = Tensor::randint(10, [n], (Kind::Int64, Device::Cpu));
    (x, y)
}

fn scale_si(net: &Net, c: f64) {
    tch::no_grad(|| {
        for w in net.si() {
            let _ = w.shallow_clone().g_mul_scalar_(c);
        }
    });
}

fn max_rel_diff(a: &Tensor, b: &Tensor) -> f64 {
    let d = (a - b).abs().max().double_value(&[]);
    d / b.abs().max().double_value(&[]).max(1e-12)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, .. ProptestConfig::default() })]
    /// L(c w_SI) = L(w_SI): the logits are unchanged when the SI group is scaled by c in [0.1, 10]
    /// (BN in train mode), for every architecture and variant. Exact with BN eps = 0.
    #[test]
    fn outputs_invariant_to_si_scaling(c in 0.1f64..10.0, vi in 0usize..3, resnet in any::<bool>()) {
        let arch = if resnet { Arch::Resnet18 } else { Arch::Convnet };
        let n = net_eps(arch, VARIANTS[vi], 2, 0.0);
        let (x, _) = batch(6, 0);
        let before = n.forward(&x, BnMode::TrainFrozenStats);
        scale_si(&n, c);
        let after = n.forward(&x, BnMode::TrainFrozenStats);
        let d = max_rel_diff(&after, &before);
        prop_assert!(d < 1e-9, "c = {c}: logits moved by {d:e} (relative)");
    }

    /// With PyTorch's eps = 1e-5 invariance holds to within the eps effect for c >= 1.
    #[test]
    fn outputs_nearly_invariant_with_default_eps(c in 1.0f64..10.0, vi in 0usize..3) {
        let n = net(Arch::Convnet, VARIANTS[vi], 2);
        let (x, _) = batch(6, 0);
        let before = n.forward(&x, BnMode::TrainFrozenStats);
        scale_si(&n, c);
        let d = max_rel_diff(&n.forward(&x, BnMode::TrainFrozenStats), &before);
        prop_assert!(d < 1e-3, "c = {c}: logits moved by {d:e} (relative)");
    }
}

/// Scaling a non-SI trained tensor does change the output: the SI test above can fail.
#[test]
fn non_si_scaling_changes_outputs() {
    let n = net(Arch::Convnet, Variant::SiAffine, 2);
    let (x, _) = batch(6, 0);
    let before = n.forward(&x, BnMode::TrainFrozenStats);
    tch::no_grad(|| {
        for p in n.with_role(Role::Trained) {
            let _ = p.tensor.shallow_clone().g_mul_scalar_(3.0);
        }
    });
    assert!(max_rel_diff(&n.forward(&x, BnMode::TrainFrozenStats), &before) > 1e-3);
}

fn grads(n: &Net, x: &Tensor, y: &Tensor, lk: Loss) -> Vec<Tensor> {
    n.zero_grad();
    loss(&n.forward(x, BnMode::TrainFrozenStats), y, lk).backward();
    n.si().iter().map(|w| w.grad().copy()).collect()
}

/// <grad L(w), w> = 0 for the SI group, and grad L(c w) = grad L(w) / c.
#[test]
fn gradient_orthogonal_to_si_weights_and_scales_as_one_over_c() {
    for arch in [Arch::Convnet, Arch::Resnet18] {
        for v in VARIANTS {
            for lk in [Loss::Ce, Loss::Mse] {
                let n = net_eps(arch, v, 2, 0.0);
                let (x, y) = batch(6, 1);
                let g = grads(&n, &x, &y, lk);
                let dot: f64 = n.si().iter().zip(&g).map(|(w, g)| (*w * g).sum(Kind::Double).double_value(&[])).sum();
                let gn = sq_norm(&g.iter().collect::<Vec<_>>()).sqrt();
                let cos = dot / (gn * n.rho());
                assert!(cos.abs() < 1e-9, "{arch:?} {v:?} {lk:?}: cos(g, w) = {cos:e}");
                scale_si(&n, 4.0);
                let g4 = grads(&n, &x, &y, lk);
                for (a, b) in g4.iter().zip(&g) {
                    assert!(max_rel_diff(&(a * 4.0), b) < 1e-6, "{arch:?} {v:?}: grad L(4w) != grad L(w)/4");
                }
            }
        }
    }
}

/// Backprop gradients of every trained tensor agree with central finite differences along
/// random directions (f64). eps = 1e-7 keeps the perturbation from crossing ReLU/max-pool kinks
/// (at 1e-6 a ResNet direction crossed one) while f64 round-off stays ~1e-9 relative.
#[test]
fn gradients_match_finite_differences() {
    for arch in [Arch::Convnet, Arch::Resnet18] {
        for v in [Variant::Standard, Variant::SiAffine] {
            for lk in [Loss::Ce, Loss::Mse] {
                let n = net(arch, v, 2);
                let (x, y) = batch(4, 2);
                let f = |n: &Net| loss(&n.forward(&x, BnMode::TrainFrozenStats), &y, lk).double_value(&[]);
                n.zero_grad();
                loss(&n.forward(&x, BnMode::TrainFrozenStats), &y, lk).backward();
                let trained: Vec<&Tensor> = n.trained().iter().map(|p| &p.tensor).collect();
                let g: Vec<Tensor> = trained.iter().map(|t| t.grad().copy()).collect();
                for k in 0..3 {
                    tch::manual_seed(100 + k);
                    let dirs: Vec<Tensor> = trained.iter().map(|t| t.randn_like()).collect();
                    let analytic: f64 =
                        g.iter().zip(&dirs).map(|(g, d)| (g * d).sum(Kind::Double).double_value(&[])).sum();
                    let eps = 1e-7;
                    let shift = |s: f64| {
                        tch::no_grad(|| {
                            for (t, d) in trained.iter().zip(&dirs) {
                                let _ = t.shallow_clone().g_add_(&(d * s));
                            }
                        })
                    };
                    shift(eps);
                    let lp = f(&n);
                    shift(-2.0 * eps);
                    let lm = f(&n);
                    shift(eps);
                    let numeric = (lp - lm) / (2.0 * eps);
                    let rel = (numeric - analytic).abs() / analytic.abs().max(1e-3);
                    assert!(rel < 1e-5, "{arch:?} {v:?} {lk:?}: fd {numeric:e} vs backprop {analytic:e} (rel {rel:e})");
                }
            }
        }
    }
}

fn si_snapshot(n: &Net) -> Vec<Tensor> {
    n.si().iter().map(|t| t.detach().copy()).collect()
}

/// A sphere step keeps rho to 1e-6 (relative) and equals projected SGD:
/// w' = rho0 * normalize(w - ELR * rho0^2 * g).
#[test]
fn sphere_step_is_projected_sgd_and_keeps_rho() {
    for per_filter in [false, true] {
        let n = net(Arch::Convnet, Variant::ScaleInvariant, 2);
        let cfg = OptimConfig { mode: OptimMode::Sphere, elr: 0.05, per_filter, ..Default::default() };
        let mut opt = Optimizer::new(&cfg, &n, 10, 1);
        let rho0 = n.rho();
        let w0 = si_snapshot(&n);
        let r0: Vec<Tensor> = w0
            .iter()
            .map(|w| w.flatten(1, -1).square().sum_dim_intlist(&[1i64][..], true, Kind::Double).sqrt())
            .collect();
        for step in 0..5 {
            let (x, y) = batch(6, 10 + step);
            let w = si_snapshot(&n);
            let g = grads(&n, &x, &y, Loss::Ce);
            opt.step(&n, step as usize);
            let expected: Vec<Tensor> = if per_filter {
                w.iter()
                    .zip(&g)
                    .zip(&r0)
                    .map(|((w, g), r)| {
                        let o = w.size()[0];
                        let v = w.view([o, -1]) - g.view([o, -1]) * (r * r) * 0.05;
                        let vn = v.square().sum_dim_intlist(&[1i64][..], true, Kind::Double).sqrt();
                        (v * r / vn).view(w.size().as_slice())
                    })
                    .collect()
            } else {
                let v: Vec<Tensor> = w.iter().zip(&g).map(|(w, g)| w - g * (0.05 * rho0 * rho0)).collect();
                let vn = sq_norm(&v.iter().collect::<Vec<_>>()).sqrt();
                v.iter().map(|v| v * (rho0 / vn)).collect()
            };
            for (a, b) in n.si().iter().zip(&expected) {
                assert!(max_rel_diff(a, b) < 1e-12, "per_filter={per_filter}: step differs from projected SGD");
            }
            assert!((n.rho() - rho0).abs() / rho0 < 1e-6, "rho drifted: {} vs {rho0}", n.rho());
            if per_filter {
                for (w, r) in n.si().iter().zip(&r0) {
                    let rn = w.flatten(1, -1).square().sum_dim_intlist(&[1i64][..], true, Kind::Double).sqrt();
                    assert!(max_rel_diff(&rn, r) < 1e-9);
                }
            }
        }
    }
}

/// Full space, SGD + weight decay, no momentum: since g ⟂ w,
/// rho'^2 = (1 - lr*wd)^2 rho^2 + lr^2 g_eff^2 / rho^2  with g_eff = rho * ||g||.
#[test]
fn weight_decay_norm_recursion() {
    let n = net_eps(Arch::Convnet, Variant::ScaleInvariant, 2, 0.0);
    let (lr, wd) = (0.3, 0.01);
    let cfg = OptimConfig { mode: OptimMode::Full, lr, wd, ..Default::default() };
    let mut opt = Optimizer::new(&cfg, &n, 10, 1);
    for step in 0..5 {
        let (x, y) = batch(6, 20 + step);
        let g = grads(&n, &x, &y, Loss::Ce);
        let rho = n.rho();
        let geff = rho * sq_norm(&g.iter().collect::<Vec<_>>()).sqrt();
        let predicted = (1.0 - lr * wd).powi(2) * rho * rho + lr * lr * geff * geff / (rho * rho);
        opt.step(&n, step as usize);
        let got = n.rho().powi(2);
        assert!((got - predicted).abs() / predicted < 1e-10, "rho'^2 = {got}, recursion gives {predicted}");
    }
}

/// Momentum follows PyTorch's SGD: buf = m*buf + (g + wd*w); w -= lr*buf.
#[test]
fn momentum_matches_pytorch_semantics() {
    let n = net(Arch::Convnet, Variant::SiAffine, 2);
    let (lr, wd, m) = (0.1, 1e-3, 0.9);
    let cfg = OptimConfig { mode: OptimMode::Full, lr, wd, momentum: m, ..Default::default() };
    let mut opt = Optimizer::new(&cfg, &n, 10, 1);
    let mut bufs: Vec<Option<Tensor>> = n.trained().iter().map(|_| None).collect();
    for step in 0..3 {
        let (x, y) = batch(6, 30 + step);
        n.zero_grad();
        loss(&n.forward(&x, BnMode::TrainFrozenStats), &y, Loss::Ce).backward();
        let expected: Vec<Tensor> = n
            .trained()
            .iter()
            .zip(bufs.iter_mut())
            .map(|(p, b)| {
                let d = p.tensor.grad() + &p.tensor.detach() * wd;
                let nb = match b.take() {
                    None => d,
                    Some(b) => b * m + d,
                };
                let w = p.tensor.detach() - &nb * lr;
                *b = Some(nb);
                w
            })
            .collect();
        opt.step(&n, step as usize);
        for (p, e) in n.trained().iter().zip(&expected) {
            assert!(max_rel_diff(&p.tensor.detach(), e) < 1e-12, "{}", p.name);
        }
    }
}

#[test]
fn schedules() {
    let n = net(Arch::Convnet, Variant::ScaleInvariant, 2);
    let mut cfg = OptimConfig { mode: OptimMode::Full, lr: 1.0, schedule: Schedule::Cosine, ..Default::default() };
    let opt = Optimizer::new(&cfg, &n, 10, 10);
    assert_eq!(opt.lr_at(0), 1.0);
    assert!((opt.lr_at(50) - 0.5).abs() < 1e-12);
    assert!(opt.lr_at(100).abs() < 1e-12);
    cfg.schedule = Schedule::Step;
    cfg.milestones = vec![3, 6];
    cfg.gamma = 0.1;
    let opt = Optimizer::new(&cfg, &n, 10, 10);
    assert_eq!(opt.lr_at(29), 1.0);
    assert!((opt.lr_at(30) - 0.1).abs() < 1e-12);
    assert!((opt.lr_at(60) - 0.01).abs() < 1e-12);
}

/// The SI group is what the spec says, per architecture and variant.
#[test]
fn si_groups_and_roles() {
    let names = |n: &Net, r: Role| n.with_role(r).iter().map(|p| p.name.clone()).collect::<Vec<_>>();
    let n = net(Arch::Convnet, Variant::ScaleInvariant, 2);
    assert_eq!(
        names(&n, Role::Si),
        ["conv_layers.0.weight", "conv_layers.3.weight", "conv_layers.7.weight", "conv_layers.11.weight"]
    );
    assert_eq!(names(&n, Role::Frozen), ["linear_layers.2.weight", "linear_layers.2.bias"]);
    assert!(names(&n, Role::Trained).is_empty());
    let last = n.params().iter().find(|p| p.name == "linear_layers.2.weight").unwrap();
    assert!((last.tensor.norm().double_value(&[]) - 10.0).abs() < 1e-9);
    let n = net(Arch::Convnet, Variant::Standard, 2);
    assert!(names(&n, Role::Si).contains(&"conv_layers.0.bias".to_string()));
    assert!(names(&n, Role::Trained).contains(&"conv_layers.1.weight".to_string()));
    let n = net(Arch::Resnet18, Variant::ScaleInvariant, 2);
    assert_eq!(names(&n, Role::Si).len(), 20, "17 3x3 convs + 3 shortcut convs");
    assert!(names(&n, Role::Si).contains(&"layer2.0.shortcut.1.weight".to_string()));
    assert_eq!(names(&n, Role::Frozen), ["linear.weight"]);
    let n = net(Arch::Resnet18, Variant::Standard, 2);
    assert_eq!(names(&n, Role::Si).len(), 8, "each block's conv1");
    // Two different run seeds share the last layer (P2), but not the conv weights.
    let cfg = ModelConfig { width: 2, ..Default::default() };
    let (a, b) = (Net::new(&cfg, 10, 1, Kind::Float, Device::Cpu), Net::new(&cfg, 10, 2, Kind::Float, Device::Cpu));
    let get = |n: &Net, name: &str| n.params().iter().find(|p| p.name == name).unwrap().tensor.copy();
    assert!(get(&a, "linear_layers.2.weight").equal(&get(&b, "linear_layers.2.weight")));
    assert!(!get(&a, "conv_layers.0.weight").equal(&get(&b, "conv_layers.0.weight")));
}

/// Kaiming-uniform init: weights inside ±1/sqrt(fan_in) and spread over it.
#[test]
fn pytorch_default_init_bounds() {
    let n = Net::new(&ModelConfig { width: 8, ..Default::default() }, 10, 0, Kind::Float, Device::Cpu);
    let w = &n.params().iter().find(|p| p.name == "conv_layers.3.weight").unwrap().tensor;
    let b = 1.0 / ((8 * 9) as f64).sqrt();
    let m = w.abs().max().double_value(&[]);
    assert!(m <= b && m > 0.95 * b, "max |w| = {m}, bound {b}");
    // variance of U(-b, b) is b^2/3
    let var = w.square().mean(Kind::Double).double_value(&[]);
    assert!((var / (b * b / 3.0) - 1.0).abs() < 0.1);
}
