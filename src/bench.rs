//! Training-step throughput on the workload of `../shared/bench/torch_convnet.py`: ConvNet-k
//! scale-invariant, random 32x32x3 inputs, batch 128, cross-entropy, full (SGD + wd) or sphere
//! (fixed ELR) mode. The step is silab's own (model forward, loss, backward, optimizer), nothing
//! special-cased for the benchmark.

use crate::config::{Arch, DeviceName, ModelConfig, OptimConfig, OptimMode, Variant};
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
    pub width: i64,
    pub batch: i64,
    pub classes: i64,
    pub steps: usize,
    pub warmup: usize,
    pub threads: usize,
    pub mode: OptimMode,
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
    pub width: i64,
    pub batch: i64,
    pub ms_per_step_median: f64,
    pub ms_per_step_min: f64,
    pub images_per_s: f64,
}

/// Time `steps` training steps after `warmup` ones.
pub fn run(c: &BenchConfig) -> anyhow::Result<BenchResult> {
    tch::set_num_threads(c.threads as i32);
    let dev = match c.device {
        DeviceName::Cpu => Device::Cpu,
        DeviceName::Cuda => Device::Cuda(0),
    };
    let mc =
        ModelConfig { arch: Arch::Convnet, width: c.width, variant: Variant::ScaleInvariant, ..Default::default() };
    let net = Net::new(&mc, c.classes as usize, 0, Kind::Float, dev);
    let oc = OptimConfig { mode: c.mode, lr: c.lr, wd: c.wd, elr: c.elr, ..Default::default() };
    let mut opt = Optimizer::new(&oc, &net, 1, c.steps + c.warmup);
    let mut r = rng(0, 0);
    let xs: Vec<f32> = (0..c.batch * 3 * 32 * 32).map(|_| StandardNormal.sample(&mut r)).collect();
    let x = Tensor::from_slice(&xs).view([c.batch, 3, 32, 32]).to_device(dev);
    let ys: Vec<i64> = (0..c.batch).map(|_| r.random_range(0..c.classes)).collect();
    let y = Tensor::from_slice(&ys).to_device(dev);
    let sync = || {
        if let Device::Cuda(i) = dev {
            tch::Cuda::synchronize(i as i64);
        }
    };
    let mut times = vec![];
    for i in 0..c.warmup + c.steps {
        sync();
        let t = Instant::now();
        net.zero_grad();
        let l = loss(&net.forward(&x, BnMode::Train), &y, crate::config::Loss::Ce);
        l.backward();
        opt.step(&net, i);
        sync();
        if i >= c.warmup {
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = times.len();
    let med = if n % 2 == 1 { times[n / 2] } else { 0.5 * (times[n / 2 - 1] + times[n / 2]) };
    let round = |v: f64, d: i32| (v * 10f64.powi(d)).round() / 10f64.powi(d);
    Ok(BenchResult {
        framework: "silab".into(),
        torch: tch_version(),
        device: format!("{:?}", c.device).to_lowercase(),
        threads: c.threads,
        mode: format!("{:?}", c.mode).to_lowercase(),
        width: c.width,
        batch: c.batch,
        ms_per_step_median: round(med, 3),
        ms_per_step_min: round(times[0], 3),
        images_per_s: round(c.batch as f64 / med * 1e3, 1),
    })
}

/// The libtorch version silab was built against (from `scripts/env.sh`).
pub fn tch_version() -> String {
    env!("SILAB_TORCH_VERSION").into()
}
