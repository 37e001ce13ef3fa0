//! The optimizers: SGD (plain, momentum, Nesterov), Adam and AdamW against torch.optim step for
//! step (f64, weight decay, warmup + cosine), Lion against its published rule, sphere mode
//! depending on directions only, rotational mode turning each row by exactly its angle, resume
//! after SIGKILL exact for every optimizer, `optim.wd_non_si`, and the angular update reaching
//! its predicted rotational equilibrium.

use silab::config::{Arch, Auto, Loss, ModelConfig, OptimConfig, OptimMode, OptimName, Schedule, Sphere, Variant};
use silab::model::{BnMode, Net, Role, loss, sq_norm};
use silab::optim::{Optimizer, Rule};
use silab::store::save_tensors;
use std::collections::HashMap;
use tch::{Device, Kind, Tensor};

mod common;
use common::python;

/// A small MLP with LayerNorm, in f64.
fn mlp(variant: Variant) -> ModelConfig {
    ModelConfig { arch: Arch::Mlp, width: 8, depth: 2, variant, bn_eps: 0.0, ..Default::default() }
}

/// `n` batches of 6 random images, fixed by `seed`.
fn batches(n: usize, seed: i64) -> Vec<(Tensor, Tensor)> {
    tch::manual_seed(seed);
    (0..n)
        .map(|_| {
            (
                Tensor::randn([6, 3, 32, 32], (Kind::Double, Device::Cpu)),
                Tensor::randint(10, [6], (Kind::Int64, Device::Cpu)),
            )
        })
        .collect()
}

fn train(net: &Net, opt: &mut Optimizer, data: &[(Tensor, Tensor)], mut after: impl FnMut(usize, &Net)) {
    for (t, (x, y)) in data.iter().enumerate() {
        net.zero_grad();
        loss(&net.forward(x, BnMode::Train), y, Loss::Ce).backward();
        opt.step(net, t);
        after(t, net);
    }
}

#[test]
fn sgd_adam_adamw_match_torch_optim_step_for_step() {
    let root = tempfile::tempdir().unwrap();
    let cases = [
        (OptimName::Sgd, 0.0, false, 0.05),
        (OptimName::Sgd, 0.9, false, 0.05),
        (OptimName::Sgd, 0.9, true, 0.05),
        (OptimName::Adam, 0.0, false, 0.01),
        (OptimName::Adamw, 0.0, false, 0.01),
    ];
    let mut dirs = vec![];
    for (k, (name, momentum, nesterov, lr)) in cases.into_iter().enumerate() {
        let model = mlp(Variant::Standard);
        let net = Net::new(&model, 10, 3, Kind::Double, Device::Cpu);
        let oc = OptimConfig {
            name,
            mode: OptimMode::Full,
            lr,
            wd: 0.01,
            momentum,
            nesterov,
            schedule: Schedule::Cosine,
            warmup_steps: 3,
            ..Default::default()
        };
        let (steps_per_epoch, epochs) = (4, 6);
        let mut opt = Optimizer::new(&oc, &net, steps_per_epoch, epochs);
        let data = batches(steps_per_epoch * epochs, 11);
        let dir = root.path().join(format!("{k}-{}", name.name()));
        std::fs::create_dir_all(&dir).unwrap();
        save_tensors(&dir.join("init.safetensors"), &net.snapshot(), HashMap::new()).unwrap();
        train(&net, &mut opt, &data, |_, _| {});
        save_tensors(&dir.join("final.safetensors"), &net.snapshot(), HashMap::new()).unwrap();
        let x = Tensor::stack(&data.iter().map(|d| d.0.shallow_clone()).collect::<Vec<_>>(), 0);
        let y = Tensor::stack(&data.iter().map(|d| d.1.shallow_clone()).collect::<Vec<_>>(), 0);
        save_tensors(&dir.join("data.safetensors"), &[("x".into(), x), ("y".into(), y)], HashMap::new()).unwrap();
        let (b1, b2) = oc.betas();
        let lrs: Vec<f64> = (0..data.len()).map(|t| lr * opt.factor(t)).collect();
        let meta = serde_json::json!({
            "model": ModelConfig { norm: model.norm(), ..model },
            "classes": 10,
            "optim": {"name": name.name(), "lrs": lrs, "wd": 0.01, "momentum": momentum, "nesterov": nesterov,
                      "beta1": b1, "beta2": b2, "eps": oc.eps},
        });
        std::fs::write(dir.join("meta.json"), meta.to_string()).unwrap();
        dirs.push(dir);
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/optim_check.py");
    let out = std::process::Command::new(python()).arg(script).args(&dirs).output().expect("the virtualenv's python");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "torch.optim cross-check failed:\n{text}");
    assert_eq!(text.matches("match torch.optim").count(), dirs.len(), "{text}");
}

/// Lion, Algorithm 2 of Chen et al. (2023), written out on plain numbers.
#[test]
fn lion_follows_its_published_rule() {
    let (b1, b2, lr, wd) = (0.9, 0.99, 0.01, 0.5);
    let mut rule = silab::optim::Lion::new(b1, b2, 1);
    let w0 = [0.5, -1.0, 2.0, 0.25];
    let grads = [[0.1, -0.2, 0.0, 0.3], [-0.3, 0.1, 0.2, 0.3], [0.05, 0.05, -0.4, -0.1]];
    let mut w = Tensor::from_slice(&w0);
    let (mut ew, mut em) = (w0.to_vec(), vec![0.0; 4]);
    for (t, g) in grads.iter().enumerate() {
        rule.update(0, &mut w, &Tensor::from_slice(g), lr, wd, t + 1);
        for j in 0..4 {
            let c: f64 = b1 * em[j] + (1.0 - b1) * g[j];
            let sign = if c > 0.0 {
                1.0
            } else if c < 0.0 {
                -1.0
            } else {
                0.0
            };
            ew[j] -= lr * (sign + wd * ew[j]);
            em[j] = b2 * em[j] + (1.0 - b2) * g[j];
        }
        let got: Vec<f64> = Vec::try_from(&w).unwrap();
        for j in 0..4 {
            assert!((got[j] - ew[j]).abs() < 1e-15, "step {t}: {got:?} vs {ew:?}");
        }
    }
}

fn directions(net: &Net) -> Tensor {
    let si = net.si();
    let rho = sq_norm(&si).sqrt();
    Tensor::cat(&si.iter().map(|t| t.flatten(0, -1) / rho).collect::<Vec<_>>(), 0)
}

/// On the sphere, every optimizer depends on the direction only: scaling the initial SI weights
/// by c (and Adam's eps by 1/c) gives the same directions over 20 steps; rho stays at its radius.
#[test]
fn sphere_mode_depends_on_directions_only() {
    let data = batches(20, 5);
    for (name, momentum, sphere) in [
        (OptimName::Sgd, 0.0, Sphere::Global),
        (OptimName::Sgd, 0.9, Sphere::Global),
        (OptimName::Adam, 0.0, Sphere::Global),
        (OptimName::Adamw, 0.0, Sphere::PerGroup),
        (OptimName::Lion, 0.0, Sphere::Global),
    ] {
        let run = |c: f64| -> Vec<Tensor> {
            let net = Net::new(&mlp(Variant::ScaleInvariant), 10, 7, Kind::Double, Device::Cpu);
            tch::no_grad(|| {
                for t in net.si() {
                    let _ = t.shallow_clone().g_mul_scalar_(c);
                }
            });
            let oc = OptimConfig {
                name,
                mode: OptimMode::Sphere,
                elr: if name == OptimName::Sgd { 0.05 } else { 0.002 },
                momentum,
                sphere,
                eps: 1e-8 / c,
                ..Default::default()
            };
            let mut opt = Optimizer::new(&oc, &net, 20, 1);
            let radii: Vec<f64> = net.si_groups().iter().map(|g| sq_norm(&net.group_tensors(g)).sqrt()).collect();
            let rho0 = net.rho();
            let mut dirs = vec![];
            train(&net, &mut opt, &data, |t, net| {
                match sphere {
                    Sphere::Global => assert!((net.rho() - rho0).abs() < 1e-6 * rho0, "{name:?} step {t}"),
                    _ => {
                        for (g, r) in net.si_groups().iter().zip(&radii) {
                            let n = sq_norm(&net.group_tensors(g)).sqrt();
                            assert!((n - r).abs() < 1e-6 * r, "{name:?} step {t} group {}", g.name);
                        }
                    }
                }
                dirs.push(directions(net));
            });
            dirs
        };
        let base = run(1.0);
        for c in [0.1, 10.0] {
            for (t, (a, b)) in base.iter().zip(run(c)).enumerate() {
                let d = (a - &b).abs().max().double_value(&[]);
                assert!(d < 1e-6, "{name:?} {sphere:?} c = {c}: directions differ by {d} at step {t}");
            }
        }
        // and the run moved: the first and last directions differ
        assert!((&base[0] - &base[19]).abs().max().double_value(&[]) > 1e-4, "{name:?} did not move");
    }
}

/// Rotational mode: each SI row turns by exactly the configured angle, its norm held.
#[test]
fn rotational_mode_turns_each_row_by_its_angle() {
    let data = batches(5, 8);
    for name in [OptimName::Sgd, OptimName::Adamw, OptimName::Lion] {
        let net = Net::new(&mlp(Variant::ScaleInvariant), 10, 9, Kind::Double, Device::Cpu);
        let theta = 0.02;
        let oc = OptimConfig { name, mode: OptimMode::Rotational, angle: Auto::Value(theta), ..Default::default() };
        let mut opt = Optimizer::new(&oc, &net, 5, 1);
        for (x, y) in &data {
            let before: Vec<Tensor> = net.si().iter().map(|t| t.detach().copy()).collect();
            net.zero_grad();
            loss(&net.forward(x, BnMode::Train), y, Loss::Ce).backward();
            opt.step(&net, 0);
            for (b, a) in before.iter().zip(net.si()) {
                let (b, a) = (b.view([b.size()[0], -1]), a.view([a.size()[0], -1]));
                let nb = b.square().sum_dim_intlist([1i64].as_slice(), false, Kind::Double).sqrt();
                let na = a.square().sum_dim_intlist([1i64].as_slice(), false, Kind::Double).sqrt();
                let cos = (&b * &a).sum_dim_intlist([1i64].as_slice(), false, Kind::Double) / (&nb * &na);
                let angles: Vec<f64> = Vec::try_from(cos.clamp(-1.0, 1.0).acos()).unwrap();
                assert!(angles.iter().all(|a| (a - theta).abs() < 1e-9), "{name:?}: {angles:?}");
                assert!((na - nb).abs().max().double_value(&[]) < 1e-12);
            }
        }
    }
}

/// The rule's state is checkpointed: a run of each optimizer killed mid-way resumes to the
/// uninterrupted run (metrics.csv without wall_time, every tensor).
#[test]
fn every_optimizer_resumes_exactly() {
    use std::os::unix::process::ExitStatusExt;
    let root = tempfile::tempdir().unwrap();
    let exe = env!("CARGO_BIN_EXE_silab");
    let base = [
        "data.train_size=128",
        "data.test_size=32",
        "model.width=2",
        "train.epochs=3",
        "train.batch_size=32",
        "train.threads=1",
        "optim.mode=\"full\"",
        "optim.wd=0.01",
        "optim.warmup_steps=2",
        "optim.schedule=\"cosine\"",
    ];
    for (i, extra) in [
        vec!["optim.name=\"adam\"", "optim.lr=0.003"],
        vec!["optim.name=\"adamw\"", "optim.lr=0.003"],
        vec!["optim.name=\"lion\"", "optim.lr=0.001"],
        vec!["optim.momentum=0.9", "optim.nesterov=true", "optim.lr=0.05"],
        vec!["optim.mode=\"rotational\"", "optim.name=\"adamw\"", "optim.lr=0.003", "optim.wd=0.1"],
    ]
    .into_iter()
    .enumerate()
    {
        let run = |dir: &std::path::Path, failpoint: Option<&str>| {
            let mut c = std::process::Command::new(exe);
            c.args(["train", "-q", "--out"]).arg(dir);
            for s in base.iter().chain(&extra) {
                c.args(["--set", s]);
            }
            if let Some(f) = failpoint {
                c.env("SILAB_FAILPOINT", f);
            }
            c.output().unwrap()
        };
        let (a, b) = (root.path().join(format!("a{i}")), root.path().join(format!("b{i}")));
        assert!(run(&a, None).status.success(), "{extra:?}");
        assert_eq!(run(&b, Some("after-step:6")).status.signal(), Some(9), "{extra:?}");
        let o = std::process::Command::new(exe).args(["train", "-q", "--resume"]).arg(&b).output().unwrap();
        assert!(o.status.success(), "{extra:?}: {}", String::from_utf8_lossy(&o.stderr));
        let rows = |d: &std::path::Path| {
            let r = silab::store::read_records(&d.join("metrics.csv"), false).unwrap();
            let t = r.col("wall_time").unwrap();
            r.rows
                .into_iter()
                .map(|mut row| {
                    row.remove(t);
                    row
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(rows(&a), rows(&b), "{extra:?}");
        let rd = |d: &std::path::Path| silab::store::RunDir::new(d);
        let (ta, _) = silab::store::load_tensors(&rd(&a).optim_state(3)).unwrap();
        let (tb, _) = silab::store::load_tensors(&rd(&b).optim_state(3)).unwrap();
        assert_eq!(ta.len(), tb.len(), "{extra:?}");
        for ((na, xa), (nb, xb)) in ta.iter().zip(&tb) {
            assert_eq!(na, nb);
            assert!(xa.equal(xb), "{extra:?}: {na}");
        }
    }
}

/// Rotational equilibrium (Kosson et al. 2024), the short form of the README's measurement: in
/// full space with weight decay, on noisy data the nets cannot fit, the mean angular update of
/// the SI group settles at eta_r for SGD, SGD with momentum 0.9 and AdamW, on an MLP with
/// LayerNorm and a ConvNet with BatchNorm (here within 25%; the README's longer runs: 15%).
#[test]
fn angular_update_reaches_the_predicted_equilibrium() {
    let root = tempfile::tempdir().unwrap();
    let exe = env!("CARGO_BIN_EXE_silab");
    let base = [
        "data.train_size=4000",
        "data.test_size=100",
        "data.label_noise=0.3",
        "train.batch_size=50",
        "train.epochs=12",
        "train.threads=1",
        "train.checkpoint_every=0",
        "metrics.train_eval=false",
        "metrics.full_grad=false",
        "metrics.layers=false",
        "optim.mode=\"full\"",
    ];
    let nets = [["model.arch=\"mlp\"", "model.width=32"], ["model.arch=\"convnet\"", "model.width=2"]];
    let optims = [
        vec!["optim.lr=0.2", "optim.wd=0.01"],
        vec!["optim.lr=0.05", "optim.wd=0.01", "optim.momentum=0.9"],
        vec!["optim.name=\"adamw\"", "optim.lr=0.01", "optim.wd=0.2"],
    ];
    // the six runs at once (one thread each)
    let runs: Vec<_> = nets
        .iter()
        .flat_map(|net| optims.iter().map(move |opt| (net, opt)))
        .enumerate()
        .map(|(i, (net, opt))| {
            let dir = root.path().join(format!("r{i}"));
            let mut c = std::process::Command::new(exe);
            c.args(["train", "-q", "--out"]).arg(&dir).stderr(std::process::Stdio::piped());
            for s in base.iter().chain(net).chain(opt) {
                c.args(["--set", s]);
            }
            (format!("{net:?} {opt:?}"), dir, c.spawn().unwrap())
        })
        .collect();
    let mut report = vec![];
    for (what, dir, child) in runs {
        let o = child.wait_with_output().unwrap();
        assert!(o.status.success(), "{what}: {}", String::from_utf8_lossy(&o.stderr));
        let a = silab::analysis::analyze_run(&dir, &Default::default(), &Default::default()).unwrap();
        let q = &a.equilibrium[0];
        assert_eq!(q.name, "all");
        report.push(format!("{what}: eta_r {:.4}, ratio {:.3}", q.eta_r, q.ratio));
        assert!(q.first_within.is_some(), "{}", report.last().unwrap());
        assert!((q.ratio - 1.0).abs() < 0.25, "{}", report.last().unwrap());
    }
    eprintln!("{}", report.join("\n"));
}

/// `optim.wd_non_si` decays the tensors outside the SI groups apart: one SGD and one AdamW step
/// with it at 0 differ from the step with `auto` (= `wd`) exactly by the decay term on the
/// non-SI tensors, and not at all on the SI ones.
#[test]
fn wd_non_si_applies_to_the_non_si_tensors_only() {
    let data = batches(1, 3);
    for name in [OptimName::Sgd, OptimName::Adamw] {
        let (lr, wd) = (0.1, 0.05);
        let step = |wd_non_si: Auto| -> (Vec<(String, Role, Tensor)>, Vec<Tensor>) {
            let net = Net::new(&mlp(Variant::SiAffine), 10, 2, Kind::Double, Device::Cpu);
            let before: Vec<Tensor> = net.trained().iter().map(|p| p.tensor.detach().copy()).collect();
            let oc = OptimConfig { name, mode: OptimMode::Full, lr, wd, wd_non_si, ..Default::default() };
            let mut opt = Optimizer::new(&oc, &net, 1, 1);
            train(&net, &mut opt, &data, |_, _| {});
            let after = net.trained().iter().map(|p| (p.name.clone(), p.role, p.tensor.detach().copy())).collect();
            (after, before)
        };
        let ((off, w0), (on, _)) = (step(Auto::Value(0.0)), step(Auto::Auto));
        assert!(off.iter().any(|p| p.1 != Role::Si) && off.iter().any(|p| p.1 == Role::Si));
        for ((n, role, a), ((_, _, b), w)) in off.iter().zip(on.iter().zip(&w0)) {
            let d = (a - b).abs().max().double_value(&[]);
            if *role == Role::Si {
                assert_eq!(d, 0.0, "{name:?} {n}: the SI tensors' step does not depend on wd_non_si");
            } else {
                // SGD: w - lr*g vs w - lr*(g + wd*w); AdamW: the same update after w vs (1 - lr*wd) w
                let e = (a - b - w * (lr * wd)).abs().max().double_value(&[]);
                assert!(e < 1e-15, "{name:?} {n}: {e}");
            }
        }
    }
}
