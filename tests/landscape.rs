//! Curvature tools against exact answers.

use silab::config::{GroupSpec, Loss, ModelConfig, Variant};
use silab::landscape::curvature;
use silab::landscape::*;
use silab::model::{BnMode, Net};
use tch::{Device, Kind, Tensor};

fn tiny() -> (Net, Tensor, Tensor) {
    let cfg = ModelConfig { width: 1, variant: Variant::ScaleInvariant, bn_eps: 0.0, ..Default::default() };
    let net = Net::new(&cfg, 10, 3, Kind::Double, Device::Cpu);
    tch::manual_seed(7);
    let x = Tensor::randn([8, 3, 32, 32], (Kind::Double, Device::Cpu));
    let y = Tensor::randint(10, [8], (Kind::Int64, Device::Cpu));
    (net, x, y)
}

fn hessian<'a>(net: &'a Net, x: &Tensor, y: &Tensor, batch: usize) -> Hessian<'a> {
    Hessian {
        net,
        params: net.si().iter().map(|t| t.shallow_clone()).collect(),
        x: x.shallow_clone(),
        y: y.shallow_clone(),
        loss: Loss::Ce,
        mode: BnMode::TrainFrozenStats,
        batch,
    }
}

/// The dense Hessian of the SI group, column by column from central finite differences of the
/// gradient (f64): independent of the double-backward HVP it checks.
fn dense_fd(h: &Hessian) -> Tensor {
    let n = h.dim();
    let eps = 1e-6;
    let mut cols = vec![];
    for i in 0..n {
        let e = Tensor::zeros([n], (Kind::Double, Device::Cpu));
        let _ = e.get(i).fill_(eps);
        let shift = |s: f64| {
            let mut off = 0;
            tch::no_grad(|| {
                for p in &h.params {
                    let k = p.numel() as i64;
                    let _ = p.shallow_clone().g_add_(&(e.narrow(0, off, k).view(p.size().as_slice()) * s));
                    off += k;
                }
            });
        };
        shift(1.0);
        let gp = h.gradient();
        shift(-2.0);
        let gm = h.gradient();
        shift(1.0);
        cols.push((gp - gm) / (2.0 * eps));
    }
    Tensor::stack(&cols, 1)
}

#[test]
fn hvp_matches_a_dense_hessian_and_the_estimators_match_its_spectrum() {
    let (net, x, y) = tiny();
    let h = hessian(&net, &x, &y, 4); // two ghost batches of 4
    let n = h.dim();
    assert_eq!(n, 27 + 18 + 72 + 288);
    let dense = dense_fd(&h);
    let sym = (&dense - dense.transpose(0, 1)).abs().max().double_value(&[]) / dense.abs().max().double_value(&[]);
    assert!(sym < 1e-4, "finite-difference Hessian not symmetric: {sym:e}");
    tch::manual_seed(1);
    for _ in 0..3 {
        let v = Tensor::randn([n], (Kind::Double, Device::Cpu));
        let err = (h.apply(&v) - dense.mv(&v)).norm().double_value(&[]) / dense.mv(&v).norm().double_value(&[]);
        assert!(err < 1e-5, "HVP vs dense Hessian: relative error {err:e}");
    }
    // exact spectrum of the (symmetrised) dense Hessian
    let hs = (&dense + dense.transpose(0, 1)) / 2.0;
    let (evals, _) = hs.linalg_eigh("L");
    let trace = evals.sum(Kind::Double).double_value(&[]);
    let top = evals.double_value(&[n - 1]);
    let like = Tensor::zeros([1], (Kind::Double, Device::Cpu));
    let e = lanczos(&h, 3, 80, None, 0, &like);
    assert!((e.values[0] - top).abs() / top.abs() < 1e-4, "Lanczos {} vs exact {top}", e.values[0]);
    assert!(e.residuals[0] < 1e-3 * top.abs());
    let (pw, _) = power(&h, 500, 1e-10, 0, &like);
    let maxabs = evals.abs().max().double_value(&[]);
    assert!((pw.abs() - maxabs).abs() / maxabs < 1e-3, "power {pw} vs {maxabs}");
    let (tr, se) = hutchinson(&h, 200, Probe::Rademacher, 0, &like);
    assert!((tr - trace).abs() < 4.0 * se + 1e-9, "Hutchinson {tr} ± {se} vs exact {trace}");
}

#[test]
fn estimators_on_a_known_symmetric_operator() {
    // A = Q diag(lambda) Q^T with known eigenvalues
    let lambdas: Vec<f64> =
        (0..60).map(|i| if i < 3 { 100.0 - 10.0 * i as f64 } else { (i as f64) * 0.1 - 2.0 }).collect();
    tch::manual_seed(3);
    let (q, _) = Tensor::linalg_qr(&Tensor::randn([60, 60], (Kind::Double, Device::Cpu)), "reduced");
    let a = q.mm(&Tensor::from_slice(&lambdas).diag(0)).mm(&q.transpose(0, 1));
    let op = Dense(a);
    let like = Tensor::zeros([1], (Kind::Double, Device::Cpu));
    let e = lanczos(&op, 3, 40, None, 0, &like);
    for (got, want) in e.values.iter().zip([100.0, 90.0, 80.0]) {
        assert!((got - want).abs() < 1e-8, "{got} vs {want}");
    }
    assert!(e.residuals.iter().all(|r| *r < 1e-6));
    // warm start from the previous top vector converges in very few steps
    let w = lanczos(&op, 1, 6, Some(&e.vectors[0]), 0, &like);
    assert!((w.values[0] - 100.0).abs() < 1e-8);
    let exact: f64 = lambdas.iter().sum();
    for probe in [Probe::Rademacher, Probe::Gaussian] {
        let (tr, se) = hutchinson(&op, 400, probe, 5, &like);
        assert!((tr - exact).abs() < 4.0 * se, "{probe:?}: {tr} ± {se} vs {exact}");
        assert!(se > 0.0);
    }
}

/// Stochastic Lanczos quadrature on A = Q diag(λ) Qᵀ with known λ: with as many steps as the
/// dimension the nodes are the eigenvalues; each probe's weights sum to 1; the mean of Σ τ θ
/// over probes estimates tr(A)/n; the smoothed density integrates to 1 and puts 3/4 of its mass
/// at the bulk and 1/4 at the outliers, as the eigenvalues are.
#[test]
fn slq_spectral_density_on_a_known_operator() {
    use silab::landscape::{density, slq};
    let lambdas: Vec<f64> = (0..40).map(|i| if i < 30 { i as f64 * 0.01 } else { 5.0 + i as f64 * 0.01 }).collect();
    tch::manual_seed(4);
    let (q, _) = Tensor::linalg_qr(&Tensor::randn([40, 40], (Kind::Double, Device::Cpu)), "reduced");
    let a = q.mm(&Tensor::from_slice(&lambdas).diag(0)).mm(&q.transpose(0, 1));
    let op = Dense(a.shallow_clone());
    let like = Tensor::zeros([1], (Kind::Double, Device::Cpu));
    // full dimension: the nodes are the eigenvalues
    let full = slq(&op, 1, 40, 9, &like);
    let mut nodes = full[0].0.clone();
    nodes.sort_by(f64::total_cmp);
    for (g, w) in nodes.iter().zip(&lambdas) {
        assert!((g - w).abs() < 1e-8, "node {g} vs eigenvalue {w}");
    }
    // 8 steps per probe, 200 probes
    let qs = slq(&op, 200, 8, 1, &like);
    let mut mean = 0.0;
    for (n, w) in &qs {
        assert_eq!(n.len(), 8);
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-10);
        mean += n.iter().zip(w).map(|(t, tau)| t * tau).sum::<f64>() / qs.len() as f64;
    }
    let exact = lambdas.iter().sum::<f64>() / 40.0;
    assert!((mean - exact).abs() < 0.1 * exact, "SLQ mean eigenvalue {mean} vs tr(A)/n {exact}");
    let grid: Vec<f64> = (0..2000).map(|i| -1.0 + i as f64 * 0.004).collect();
    let d = density(&qs, &grid, 0.05);
    let mass: f64 = d.iter().sum::<f64>() * 0.004;
    assert!((mass - 1.0).abs() < 1e-3, "density integrates to {mass}");
    let near = |lo: f64, hi: f64| {
        grid.iter().zip(&d).filter(|(t, _)| **t >= lo && **t <= hi).map(|(_, v)| v * 0.004).sum::<f64>()
    };
    // 30 of 40 eigenvalues in [0, 0.3], 10 in [5.3, 5.4]
    assert!((near(-0.3, 0.6) - 0.75).abs() < 0.1, "mass near the bulk {}", near(-0.3, 0.6));
    assert!((near(4.9, 5.8) - 0.25).abs() < 0.1, "mass near the outliers {}", near(4.9, 5.8));
}

/// f(w) = w^T A w restricted to the sphere: at an eigenvector w = u_i of A, the Riemannian
/// Hessian on the tangent space has eigenvalues 2 (lambda_j - lambda_i), j != i, and maps w to 0.
#[test]
fn riemannian_hessian_of_a_quadratic_on_the_sphere() {
    let lambdas = [5.0, 3.0, 2.0, -1.0];
    tch::manual_seed(4);
    let (q, _) = Tensor::linalg_qr(&Tensor::randn([4, 4], (Kind::Double, Device::Cpu)), "reduced");
    let a = q.mm(&Tensor::from_slice(&lambdas).diag(0)).mm(&q.transpose(0, 1));
    let h = Dense(&a * 2.0); // Euclidean Hessian of w^T A w
    let i = 1; // w = u_1, lambda_i = 3, on a sphere of radius 2
    let w = q.select(1, i) * 2.0;
    let grad = a.mv(&w) * 2.0;
    let r = Riemannian { hessian: &h, w: w.shallow_clone(), grad };
    assert!(r.apply(&w).norm().double_value(&[]) < 1e-12, "normal direction not annihilated");
    for j in 0..4 {
        if j == i as usize {
            continue;
        }
        let u = q.select(1, j as i64);
        // tangent directions stay tangent
        assert!((r.project(&u) * &w).sum(Kind::Double).double_value(&[]).abs() < 1e-12);
        let want = 2.0 * (lambdas[j] - lambdas[i as usize]);
        let got = r.apply(&u);
        assert!((got - &u * want).norm().double_value(&[]) < 1e-10, "eigenvalue along u_{j} should be {want}");
    }
}

/// The dense generalized Gauss–Newton matrix `Σ_b w_b J_bᵀ H_b J_b`, built from explicit
/// Jacobians of the logits (one backward per logit) and the textbook output Hessians: independent
/// of the double-vjp operator it checks.
fn dense_gn(h: &Hessian) -> Tensor {
    let n = h.dim();
    let mut g = Tensor::zeros([n, n], (Kind::Double, Device::Cpu));
    for (x, _, w) in h.batches_for_tests() {
        let z = h.net.forward(&x, h.mode);
        let (b, c) = (z.size()[0], z.size()[1]);
        let mut rows = vec![];
        for i in 0..b {
            for k in 0..c {
                let gr = Tensor::run_backward(&[z.get(i).get(k)], &h.params, true, false);
                rows.push(flatten(&gr));
            }
        }
        let j = Tensor::stack(&rows, 0); // [B*C, n]
        let hout = match h.loss {
            Loss::Mse => Tensor::eye(b * c, (Kind::Double, Device::Cpu)) * (2.0 / (b * c) as f64),
            Loss::Ce => {
                let p = z.detach().softmax(-1, Kind::Double);
                let blocks: Vec<Tensor> =
                    (0..b).map(|i| (p.get(i).diag(0) - p.get(i).outer(&p.get(i))) / b as f64).collect();
                Tensor::block_diag(&blocks)
            }
        };
        g += j.transpose(0, 1).mm(&hout).mm(&j) * w;
    }
    g
}

#[test]
fn gauss_newton_matches_a_dense_jt_h_j_for_ce_and_mse() {
    let (net, x, y) = tiny();
    for l in [Loss::Ce, Loss::Mse] {
        let mut h = hessian(&net, &x, &y, 4);
        h.loss = l;
        let dense = dense_gn(&h);
        let gn = GaussNewton(&h);
        tch::manual_seed(2);
        for _ in 0..3 {
            let v = Tensor::randn([h.dim()], (Kind::Double, Device::Cpu));
            let want = dense.mv(&v);
            let err = (gn.apply(&v) - &want).norm().double_value(&[]) / want.norm().double_value(&[]);
            assert!(err < 1e-9, "{l:?}: GN v vs dense: relative error {err:e}");
        }
        // PSD, and Lanczos/Hutchinson see its spectrum
        let (evals, _) = ((&dense + dense.transpose(0, 1)) / 2.0).linalg_eigh("L");
        assert!(evals.min().double_value(&[]) > -1e-10 * evals.max().double_value(&[]), "{l:?}: GN not PSD");
        let like = Tensor::zeros([1], (Kind::Double, Device::Cpu));
        let top = evals.max().double_value(&[]);
        let e = lanczos(&gn, 1, 60, None, 0, &like);
        assert!((e.values[0] - top).abs() < 1e-6 * top, "{l:?}: Lanczos {} vs {top}", e.values[0]);
        let trace = dense.trace().double_value(&[]);
        let (tr, se) = hutchinson(&gn, 100, Probe::Gaussian, 1, &like);
        assert!((tr - trace).abs() < 4.0 * se, "{l:?}: {tr} ± {se} vs {trace}");
    }
    // MSE and CE have different output Hessians, so different GN matrices (the papers' code used
    // the CE one for MSE too)
    let mut h = hessian(&net, &x, &y, 4);
    let v = Tensor::randn([h.dim()], (Kind::Double, Device::Cpu));
    let ce = GaussNewton(&h).apply(&v);
    h.loss = Loss::Mse;
    let mse = GaussNewton(&h).apply(&v);
    assert!((ce - mse).norm().double_value(&[]) > 1e-3);
}

#[test]
fn groups_partition_the_trained_tensors() {
    let cfg = ModelConfig { width: 1, variant: Variant::SiAffine, ..Default::default() };
    let net = Net::new(&cfg, 10, 0, Kind::Float, Device::Cpu);
    let names = |g: &Group| g.select(&net).iter().map(|p| p.name.clone()).collect::<Vec<_>>();
    let numel = |g: &Group| g.select(&net).iter().map(|p| p.tensor.numel()).sum::<usize>();
    let all = Group::All;
    assert_eq!(numel(&all), numel(&Group::Si) + numel(&Group::NonSi));
    assert!(Group::Si.is_si(&net) && !Group::NonSi.is_si(&net) && !all.is_si(&net));
    let layers = Group::expand(&["layers".parse().unwrap()], &net).unwrap();
    assert_eq!(layers.iter().map(numel).sum::<usize>(), numel(&all));
    assert_eq!(layers[0], Group::Layer("conv_layers.0".into()));
    assert_eq!(names(&layers[0]), ["conv_layers.0.weight"]);
    assert!(layers[0].is_si(&net) && !Group::Layer("conv_layers.1".into()).is_si(&net));
    assert_eq!("layer:conv_layers.3".parse::<GroupSpec>().unwrap().to_string(), "layer:conv_layers.3");
    let e = Group::expand(&["layer:nope".parse().unwrap()], &net).unwrap_err().to_string();
    assert!(e.contains("nope") && e.contains("conv_layers.0"), "{e}");
    assert!("everything".parse::<GroupSpec>().unwrap_err().contains("allowed"));
    // the fully SI variant has no trained non-SI tensor: the group is dropped, `all` = `si`
    let si = Net::new(&ModelConfig { width: 1, ..Default::default() }, 10, 0, Kind::Float, Device::Cpu);
    let gs = Group::expand(&["all".parse().unwrap(), "si".parse().unwrap(), "non_si".parse().unwrap()], &si).unwrap();
    assert_eq!(gs, [Group::All, Group::Si]);
    assert!(Group::All.is_si(&si));
}

fn setup_for<'a>(cfg: &'a silab::config::SharpnessConfig, x: &Tensor, y: &Tensor) -> curvature::Setup<'a> {
    curvature::Setup {
        cfg,
        loss: Loss::Ce,
        x: x.shallow_clone(),
        y: y.shallow_clone(),
        mode: BnMode::TrainFrozenStats,
        batch: 4,
        seed: 0,
    }
}

/// A whole sharpness row against the dense Hessian of the tiny net: per-parameter trace, top
/// eigenvalue, the Riemannian Hessian P H P - (<w,g>/|w|^2) P built densely, and eff = x rho^2.
#[test]
fn sharpness_row_matches_dense_values() {
    let (net, x, y) = tiny();
    let h = hessian(&net, &x, &y, 4);
    let n = h.dim();
    let dense = dense_fd(&h);
    let hs = (&dense + dense.transpose(0, 1)) / 2.0;
    let cfg = silab::config::SharpnessConfig {
        probes: 300,
        lanczos_iters: 120,
        top_k: 2,
        gauss_newton: false,
        ..Default::default()
    };
    let rows = curvature::measure(&net, &setup_for(&cfg, &x, &y), 3, 30, &mut Default::default()).unwrap();
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    assert_eq!(r.text("group"), Some("si"));
    assert_eq!(r.text("bn_mode"), Some("train"));
    assert_eq!(r.get("params") as i64, n);
    assert_eq!(r.get("epoch"), 3.0);
    let (evals, _) = hs.linalg_eigh("L");
    let trace = evals.sum(Kind::Double).double_value(&[]) / n as f64;
    assert!((r.get("trace") - trace).abs() < 4.0 * r.get("trace_stderr"), "{} vs {trace}", r.get("trace"));
    let top = evals.double_value(&[n - 1]);
    assert!((r.get("top_eig") - top).abs() < 1e-4 * top.abs(), "{} vs {top}", r.get("top_eig"));
    assert!((r.get("eig_2") - evals.double_value(&[n - 2])).abs() < 1e-3 * top.abs());
    let rho = net.rho();
    assert!((r.get("eff_top_eig") - r.get("top_eig") * rho * rho).abs() < 1e-9 * r.get("eff_top_eig").abs());
    // dense Riemannian Hessian
    let w = flatten(&h.params.iter().map(|p| p.detach()).collect::<Vec<_>>());
    let g = h.gradient();
    let ww = w.dot(&w);
    let p = Tensor::eye(n, (Kind::Double, Device::Cpu)) - w.outer(&w) / &ww;
    let c = g.dot(&w) / &ww;
    let riem = p.mm(&hs).mm(&p) - &p * c;
    let (rev, _) = ((&riem + riem.transpose(0, 1)) / 2.0).linalg_eigh("L");
    let rtop = rev.double_value(&[n - 1]);
    assert!(
        (r.get("riemannian_top_eig") - rtop).abs() < 1e-4 * rtop.abs(),
        "{} vs {rtop}",
        r.get("riemannian_top_eig")
    );
    let rtrace = rev.sum(Kind::Double).double_value(&[]) / n as f64;
    assert!((r.get("riemannian_trace") - rtrace).abs() < 4.0 * r.get("riemannian_trace_stderr"));
    // gauss_newton = false leaves its columns empty; JSON has the contract's keys
    assert!(r.get("gn_trace").is_nan());
    let j = r.to_json();
    for k in silab::schema::SHARPNESS_CONTRACT {
        assert!(j.get(k).is_some(), "JSON lacks {k}");
    }
    assert!(j["gn_trace"].is_null());
}

/// Scaling the SI group by c scales the Hessian by 1/c^2: raw values move, effective values
/// (x rho^2) and the Riemannian ones x rho^2 do not (exact with bn_eps = 0).
#[test]
fn effective_sharpness_is_scale_free() {
    let (net, x, y) = tiny();
    let cfg = silab::config::SharpnessConfig { probes: 4, lanczos_iters: 30, ..Default::default() };
    let s = setup_for(&cfg, &x, &y);
    let a = curvature::measure(&net, &s, 0, 0, &mut Default::default()).unwrap().remove(0);
    tch::no_grad(|| {
        for t in net.si() {
            let _ = t.shallow_clone().g_mul_scalar_(3.0);
        }
    });
    let b = curvature::measure(&net, &s, 0, 0, &mut Default::default()).unwrap().remove(0);
    let close =
        |u: f64, v: f64, what: &str| assert!((u - v).abs() <= 1e-6 * u.abs().max(v.abs()), "{what}: {u} vs {v}");
    close(a.get("top_eig"), 9.0 * b.get("top_eig"), "top_eig scales 1/c^2");
    close(a.get("trace"), 9.0 * b.get("trace"), "trace scales 1/c^2");
    for k in ["eff_trace", "eff_top_eig", "eff_riemannian_top_eig", "eff_gn_trace", "eff_gn_top_eig"] {
        close(a.get(k), b.get(k), k);
    }
    close(a.get("rho") * 3.0, b.get("rho"), "rho");
}

fn si_norm(net: &Net, w: &silab::model::NamedTensors) -> f64 {
    let names: Vec<String> = net.with_role(silab::model::Role::Si).iter().map(|p| p.name.clone()).collect();
    w.iter()
        .filter(|(n, _)| names.contains(n))
        .map(|(_, t)| t.square().sum(Kind::Double).double_value(&[]))
        .sum::<f64>()
        .sqrt()
}

/// Two sets of weights on the same sphere (same SI norm), as two checkpoints of a sphere run.
fn two_points() -> (Net, silab::model::NamedTensors, silab::model::NamedTensors) {
    let cfg = ModelConfig { width: 1, variant: Variant::SiAffine, ..Default::default() };
    let net = Net::new(&cfg, 10, 0, Kind::Double, Device::Cpu);
    let a = net.snapshot();
    let other = Net::new(&cfg, 10, 1, Kind::Double, Device::Cpu);
    let rho_a = si_norm(&net, &a);
    let rho_b = si_norm(&other, &other.snapshot());
    let names: Vec<String> = net.with_role(silab::model::Role::Si).iter().map(|p| p.name.clone()).collect();
    let b = other
        .snapshot()
        .into_iter()
        .map(|(n, t)| {
            if names.contains(&n) {
                (n, t * (rho_a / rho_b))
            } else if t.kind() == Kind::Int64 {
                (n, t) // num_batches_tracked: carried over, not interpolated
            } else {
                (n, t + 0.5)
            }
        })
        .collect();
    (net, a, b)
}

#[test]
fn great_circle_points_stay_on_the_sphere_and_join_the_endpoints() {
    use silab::landscape::lines::{PathKind, interpolate};
    let (net, a, b) = two_points();
    let rho = si_norm(&net, &a);
    for t in [-0.3, 0.0, 0.1, 0.5, 0.77, 1.0, 1.4] {
        let w = interpolate(&net, &a, &b, t, PathKind::GreatCircle);
        assert!((si_norm(&net, &w) - rho).abs() < 1e-10 * rho, "t = {t}: off the sphere");
    }
    let same = |x: &silab::model::NamedTensors, y: &silab::model::NamedTensors| {
        x.iter().zip(y).all(|((n, u), (m, v))| n == m && (u - v).abs().max().double_value(&[]) < 1e-12)
    };
    for kind in [PathKind::GreatCircle, PathKind::Straight] {
        assert!(same(&interpolate(&net, &a, &b, 0.0, kind), &a), "{kind:?} at t = 0");
        assert!(same(&interpolate(&net, &a, &b, 1.0, kind), &b), "{kind:?} at t = 1");
    }
    // the chord cuts inside the sphere; non-SI tensors move straight on both paths
    let mid = interpolate(&net, &a, &b, 0.5, PathKind::Straight);
    assert!(si_norm(&net, &mid) < rho * (1.0 - 1e-3));
    let gc = interpolate(&net, &a, &b, 0.5, PathKind::GreatCircle);
    let find = |w: &silab::model::NamedTensors, n: &str| w.iter().find(|(m, _)| m == n).unwrap().1.shallow_clone();
    let bn = "conv_layers.1.weight";
    assert!((find(&gc, bn) - find(&mid, bn)).abs().max().double_value(&[]) < 1e-12);
    // equal angles in equal steps: the angle from A grows linearly in t
    let angle = |w: &silab::model::NamedTensors| {
        let names: Vec<String> = net.with_role(silab::model::Role::Si).iter().map(|p| p.name.clone()).collect();
        let dot: f64 = names.iter().map(|n| (find(w, n) * find(&a, n)).sum(Kind::Double).double_value(&[])).sum();
        (dot / (rho * rho)).clamp(-1.0, 1.0).acos()
    };
    let (q1, q2) = (
        angle(&interpolate(&net, &a, &b, 0.25, PathKind::GreatCircle)),
        angle(&interpolate(&net, &a, &b, 0.5, PathKind::GreatCircle)),
    );
    assert!((q2 - 2.0 * q1).abs() < 1e-9, "{q1} {q2}");
}

#[test]
fn slice_directions_are_tangent_and_filter_normalized_and_slices_stay_on_the_sphere() {
    use silab::landscape::lines::{displace, random_direction};
    let (net, w, _) = two_points();
    let rho = si_norm(&net, &w);
    let d1 = random_direction(&net, &w, &Group::All, 3, None);
    let d2 = random_direction(&net, &w, &Group::All, 4, Some(&d1));
    let si: Vec<String> = net.with_role(silab::model::Role::Si).iter().map(|p| p.name.clone()).collect();
    let find = |x: &silab::model::NamedTensors, n: &str| x.iter().find(|(m, _)| m == n).unwrap().1.shallow_clone();
    let dot = |f: &dyn Fn(&str) -> Tensor, g: &dyn Fn(&str) -> Tensor| -> f64 {
        si.iter().map(|n| (f(n) * g(n)).sum(Kind::Double).double_value(&[])).sum()
    };
    // tangent to the sphere at w, unit, and orthogonal to each other
    assert!(dot(&|n| d1.parts[n].shallow_clone(), &|n| find(&w, n)).abs() < 1e-10 * rho);
    assert!(dot(&|n| d2.parts[n].shallow_clone(), &|n| find(&w, n)).abs() < 1e-10 * rho);
    assert!((dot(&|n| d1.parts[n].shallow_clone(), &|n| d1.parts[n].shallow_clone()) - 1.0).abs() < 1e-12);
    assert!(dot(&|n| d1.parts[n].shallow_clone(), &|n| d2.parts[n].shallow_clone()).abs() < 1e-12);
    // non-SI: each filter (or 1-D tensor) of d has the norm of that of w
    for p in net.with_role(silab::model::Role::Trained) {
        let (d, x) = (&d1.parts[&p.name], find(&w, &p.name));
        let (dn, xn) = if x.dim() >= 2 {
            (
                d.flatten(1, -1).norm_scalaropt_dim(2.0, [1i64].as_slice(), false),
                x.flatten(1, -1).norm_scalaropt_dim(2.0, [1i64].as_slice(), false),
            )
        } else {
            (d.norm(), x.norm())
        };
        assert!((dn - xn).abs().max().double_value(&[]) < 1e-9, "{} not filter-normalized", p.name);
    }
    // every slice point is on the sphere; the centre is the point itself; alpha is an angle
    for (a, b) in [(0.0, 0.0), (0.3, -0.2), (-1.0, 0.7), (2.0, 2.0)] {
        let p = displace(&net, &w, &d1, a, Some(&d2), b);
        assert!((si_norm(&net, &p) - rho).abs() < 1e-10 * rho, "({a}, {b}) off the sphere");
    }
    let c = displace(&net, &w, &d1, 0.0, Some(&d2), 0.0);
    assert!(c.iter().zip(&w).all(|((_, u), (_, v))| u.equal(v)));
    let p = displace(&net, &w, &d1, 0.4, None, 0.0);
    let cos = dot(&|n| find(&p, n), &|n| find(&w, n)) / (rho * rho);
    assert!((cos.acos() - 0.4).abs() < 1e-9);
    // a group that leaves the SI group alone moves nothing in it
    let dn = random_direction(&net, &w, &Group::NonSi, 5, None);
    assert!(si.iter().all(|n| !dn.parts.contains_key(n)));
}
