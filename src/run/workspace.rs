//! What every piece of work on a configured network starts from: the thread count and device,
//! the data on that device, and the network. Training, curvature measurements, landscape scans
//! and the benchmarks all build it here, once.

use crate::config::{DeviceName, RunConfig};
use crate::data::{self, Data};
use crate::model::Net;
use anyhow::{Context, Result, bail};
use tch::{Device, Kind};

/// Set libtorch's (process-wide) intra-op thread count and resolve the device, with a clear
/// error when CUDA is asked for and not there.
pub fn runtime(threads: usize, device: DeviceName) -> Result<Device> {
    tch::set_num_threads(threads as i32);
    match device {
        DeviceName::Cpu => Ok(Device::Cpu),
        DeviceName::Cuda => {
            if tch::Cuda::is_available() {
                Ok(Device::Cuda(0))
            } else {
                bail!("train.device = \"cuda\" but this libtorch sees no CUDA device; use train.device = \"cpu\"")
            }
        }
    }
}

/// The device, the data on it and a freshly initialised network of a config.
pub struct Workspace {
    pub device: Device,
    pub data: Data,
    pub net: Net,
}

impl Workspace {
    /// Threads and device from `train.threads` / `train.device`, the data of `data`, the network
    /// of `model` initialised from `seed` (in `f32`).
    pub fn new(cfg: &RunConfig) -> Result<Workspace> {
        let device = runtime(cfg.train.threads, cfg.train.device)?;
        let data = data::load(&cfg.data).context("loading data")?;
        let data = Data { train: data.train.to_device(device), test: data.test.to_device(device), notes: data.notes };
        let input = data.train.input_shape();
        let net = Net::for_input(&cfg.model, data.train.classes, &input, cfg.seed, Kind::Float, device)?;
        Ok(Workspace { device, data, net })
    }
}
