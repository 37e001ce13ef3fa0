//! silab: training dynamics and loss landscape of networks with scale-invariant parameters.
//!
//! The library does everything; the `silab` binary is a thin CLI over it. Data flows one way:
//! [`config`] → [`run`] (loop, checkpoints, resume) → [`optim`] / [`model`] / [`metrics`] /
//! [`data`]; [`sweep`] expands grids into run directories and runs them in worker processes;
//! [`analysis`] reads run directories (never trains); [`report`] draws figures and writes reports.
//! See `README.md` for the tour and `../shared/spec/EXPERIMENTS.md` for the maths.
//!
//! ```no_run
//! use silab::{config::RunConfig, run};
//! let cfg = RunConfig::from_preset("quick", &["optim.elr=2e-3".into()]).unwrap();
//! let summary = run::train(&cfg, "runs/example".as_ref(), &mut run::Silent).unwrap();
//! println!("final test accuracy {}", summary.last["test_acc"]);
//! ```

pub mod analysis;
pub mod bench;
pub mod config;
pub mod data;
pub mod landscape;
pub mod metrics;
pub mod model;
pub mod optim;
pub mod report;
pub mod run;
pub mod sweep;
