//! Curvature tools against exact answers.

use silab::config::{Loss, ModelConfig, Variant};
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
