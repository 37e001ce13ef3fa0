//! Training-step throughput on the workload of `scripts/bench_torch_convnet.py`: ConvNet-k
//! scale-invariant, random 32x32x3 inputs, batch 128, cross-entropy, full (SGD + wd) or sphere
//! (fixed ELR) mode; with `arch` = `mlp` or `vit` the same workload on those networks (their
//! PyTorch side: `scripts/bench_torch_models.py`), with any optimizer (`optim`; the optimizer
//! step alone is timed too). The step is silab's own (model forward, loss, backward, optimizer),
//! nothing special-cased for the benchmark.

use crate::config::{DeviceName, ModelConfig, OptimConfig, OptimMode, OptimName};
use crate::data::rng;
use crate::model::{BnMode, Net, loss};
use crate::optim::Optimizer;
use rand::RngExt;
use rand_distr::{Distribution, StandardNormal};
use serde::Serialize;
use std::time::Instant;
use tch::{Device, Kind, Tensor};

/// Benchmark settings (the Python script's flags).
#[derive(Clone, Debug)]
pub struct BenchConfig {
    /// The network (its defaults but `width`, `depth`, `dim`, `heads`, `patch`; scale-invariant).
    pub model: ModelConfig,
    pub width: i64,
    pub batch: i64,
    pub classes: i64,
    pub steps: usize,
    pub warmup: usize,
    pub threads: usize,
    pub mode: OptimMode,
    pub optim: OptimName,
    /// SGD momentum.
    pub momentum: f64,
    pub lr: f64,
    pub wd: f64,
    pub elr: f64,
    pub device: DeviceName,
}

/// One JSON line, with the same fields as the PyTorch script's output.
#[derive(Serialize, Debug)]
pub struct BenchResult {
    pub framework: String,
    pub torch: String,
    pub device: String,
    pub threads: usize,
    pub mode: String,
    pub arch: String,
    pub width: i64,
    pub batch: i64,
    pub ms_per_step_median: f64,
    pub ms_per_step_min: f64,
    pub images_per_s: f64,
    pub optim: String,
    /// Median time of the optimizer step alone (after forward and backward).
    pub opt_ms_median: f64,
}

/// The benchmark's workload: ConvNet-k SI (seed 0), one batch of random images and labels, on
/// the configured device with the configured threads.
fn workload(c: &BenchConfig) -> anyhow::Result<(Net, Tensor, Tensor, Device)> {
    let dev = crate::run::runtime(c.threads, c.device)?;
    let mc = ModelConfig { width: c.width, ..c.model.clone() };
    // a scripted module (`--model-file`) runs as saved, its SI groups from its manifest
    let net = if mc.arch == crate::config::Arch::Torchscript {
        Net::from_config(&mc, &[3, 32, 32], c.classes as usize, 0, Kind::Float, dev)?
    } else {
        Net::new(&mc, c.classes as usize, 0, Kind::Float, dev)
    };
    let mut r = rng(0, 0);
    let xs: Vec<f32> = (0..c.batch * 3 * 32 * 32).map(|_| StandardNormal.sample(&mut r)).collect();
    let x = Tensor::from_slice(&xs).view([c.batch, 3, 32, 32]).to_device(dev);
    let ys: Vec<i64> = (0..c.batch).map(|_| r.random_range(0..c.classes)).collect();
    let y = Tensor::from_slice(&ys).to_device(dev);
    Ok((net, x, y, dev))
}

/// Time `steps` training steps after `warmup` ones.
pub fn run(c: &BenchConfig) -> anyhow::Result<BenchResult> {
    let (net, x, y, dev) = workload(c)?;
    let oc = OptimConfig {
        mode: c.mode,
        name: c.optim,
        momentum: c.momentum,
        lr: c.lr,
        wd: c.wd,
        elr: c.elr,
        ..Default::default()
    };
    let mut opt = Optimizer::new(&oc, &net, 1, c.steps + c.warmup);
    let sync = || {
        if let Device::Cuda(i) = dev {
            tch::Cuda::synchronize(i as i64);
        }
    };
    let (mut times, mut opt_times) = (vec![], vec![]);
    for i in 0..c.warmup + c.steps {
        sync();
        let t = Instant::now();
        net.zero_grad();
        let l = loss(&net.forward(&x, BnMode::Train), &y, crate::config::Loss::Ce);
        l.backward();
        sync();
        let t_opt = Instant::now();
        opt.step(&net, i);
        sync();
        if i >= c.warmup {
            times.push(t.elapsed().as_secs_f64() * 1e3);
            opt_times.push(t_opt.elapsed().as_secs_f64() * 1e3);
        }
    }
    let med = crate::stats::median(&times);
    let min = times.iter().cloned().fold(f64::INFINITY, f64::min);
    let round = |v: f64, d: i32| (v * 10f64.powi(d)).round() / 10f64.powi(d);
    Ok(BenchResult {
        framework: "silab".into(),
        torch: tch_version(),
        device: c.device.name().into(),
        threads: c.threads,
        mode: format!("{:?}", c.mode).to_lowercase(),
        arch: c.model.arch.name().into(),
        width: c.width,
        batch: c.batch,
        ms_per_step_median: round(med, 3),
        ms_per_step_min: round(min, 3),
        images_per_s: round(c.batch as f64 / med * 1e3, 1),
        optim: c.optim.name().into(),
        opt_ms_median: round(crate::stats::median(&opt_times), 4),
    })
}

/// The libtorch version silab was built against (from `scripts/env.sh`).
pub fn tch_version() -> String {
    env!("SILAB_TORCH_VERSION").into()
}

/// Curvature cost on the benchmark's workload (ConvNet-k SI, random images, cross-entropy, BN in
/// train mode with batch statistics): one gradient, one Hessian-vector product and one
/// Gauss–Newton-vector product over the same batch, each timed `steps` times after `warmup`,
/// and one top-eigenvalue estimate (Lanczos, `lanczos_iters` HVPs plus the residual's).
#[derive(Serialize, Debug)]
pub struct CurvatureBench {
    pub framework: String,
    pub torch: String,
    pub device: String,
    pub threads: usize,
    pub width: i64,
    pub batch: i64,
    pub params: i64,
    pub grad_ms_median: f64,
    pub hvp_ms_median: f64,
    pub gn_ms_median: f64,
    /// hvp_ms_median / grad_ms_median (same run).
    pub hvp_over_grad: f64,
    pub gn_over_grad: f64,
    pub lanczos_iters: usize,
    pub top_eig: f64,
    pub top_eig_residual: f64,
    pub top_eig_s: f64,
}

/// Run the curvature benchmark (the SI group of ConvNet-`c.width`, batch `c.batch`).
pub fn curvature(c: &BenchConfig, lanczos_iters: usize) -> anyhow::Result<CurvatureBench> {
    use crate::landscape::{GaussNewton, Hessian, Operator, lanczos};
    let (net, x, y, dev) = workload(c)?;
    let h = Hessian {
        net: &net,
        params: net.si().iter().map(|t| t.shallow_clone()).collect(),
        x,
        y,
        loss: crate::config::Loss::Ce,
        mode: BnMode::TrainFrozenStats,
        batch: 0,
    };
    let gn = GaussNewton(&h);
    let v = Tensor::randn([h.dim()], (Kind::Float, dev));
    let sync = || {
        if let Device::Cuda(i) = dev {
            tch::Cuda::synchronize(i as i64);
        }
    };
    let time = |f: &dyn Fn() -> Tensor| {
        let mut t = vec![];
        for i in 0..c.warmup + c.steps {
            sync();
            let s = Instant::now();
            let _ = f();
            sync();
            if i >= c.warmup {
                t.push(s.elapsed().as_secs_f64() * 1e3);
            }
        }
        crate::stats::median(&t)
    };
    let grad = time(&|| h.gradient());
    let hvp = time(&|| h.apply(&v));
    let gnv = time(&|| gn.apply(&v));
    let s = Instant::now();
    let e = lanczos(&h, 1, lanczos_iters, None, 0, &v);
    sync();
    let top_s = s.elapsed().as_secs_f64();
    let round = |v: f64, d: i32| (v * 10f64.powi(d)).round() / 10f64.powi(d);
    Ok(CurvatureBench {
        framework: "silab".into(),
        torch: tch_version(),
        device: c.device.name().into(),
        threads: c.threads,
        width: c.width,
        batch: c.batch,
        params: h.dim(),
        grad_ms_median: round(grad, 3),
        hvp_ms_median: round(hvp, 3),
        gn_ms_median: round(gnv, 3),
        hvp_over_grad: round(hvp / grad, 2),
        gn_over_grad: round(gnv / grad, 2),
        lanczos_iters,
        top_eig: e.values[0],
        top_eig_residual: e.residuals[0],
        top_eig_s: round(top_s, 3),
    })
}
