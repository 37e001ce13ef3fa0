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
    /// Warnings of building the network (a scripted module's undeclared SI tensors).
    pub notes: Vec<String>,
}

impl Workspace {
    /// Threads and device from `train.threads` / `train.device`, the data of `data`, the network
    /// of `model` initialised from `seed` (in `f32`).
    pub fn new(cfg: &RunConfig) -> Result<Workspace> {
        let (device, data) = Workspace::data(cfg)?;
        let shape = data.train.input_shape();
        let net = Net::from_config(&cfg.model, &shape, data.train.classes, cfg.seed, Kind::Float, device)?;
        let notes = if net.source().is_some() { crate::model::si::verify_declared(&net, cfg.seed)? } else { vec![] };
        Ok(Workspace { device, data, net, notes })
    }

    /// The device and the data of `cfg`, with a network the caller built (on that device):
    /// see [`crate::run::Trainer::create_with_net`].
    pub fn with_net(cfg: &RunConfig, net: Net) -> Result<Workspace> {
        let (device, data) = Workspace::data(cfg)?;
        if net.device() != device {
            bail!("the network is on {:?} but train.device gives {device:?}", net.device());
        }
        Ok(Workspace { device, data, net, notes: vec![] })
    }

    fn data(cfg: &RunConfig) -> Result<(Device, Data)> {
        let device = runtime(cfg.train.threads, cfg.train.device)?;
        let data = data::load(&cfg.data).context("loading data")?;
        Ok((device, Data { train: data.train.to_device(device), test: data.test.to_device(device), notes: data.notes }))
    }
}
