//! silab: training dynamics and loss landscape of networks with scale-invariant parameters.
//!
//! The library does everything; the `silab` binary is a thin CLI over it (`src/cli/`, one file
//! per command). Layers, from the bottom; a module imports only from layers below it (checked by
//! `scripts/check-layers.py` in CI):
//!
//! ```text
//! studies     silab reproduce: the papers' experiments as data (setups.toml), the sharpness study;
//!             map: silab map, the regime boundaries of a network by bisection on log-ELR
//! report      figures, the papers' figures, report.html, landscape figures
//! analysis    S-jumps, periods, regimes, boundaries, theory: reads run dirs and tables, never trains
//! sweep       expansion, manifest, executors (local | slurm), status, tidy tables
//! training    one run with every in-training measurement its config asks for
//! landscape   HVP, Gauss-Newton, Lanczos, sharpness rows (and the in-training hook), lines, slices
//! run         the trainer's stages, hooks, checkpoint policy, resume; the workspace (device, data, net)
//! metrics     measurements behind metrics.csv; optim: SGD in full space and on the sphere
//! model       networks, the SI group, loss; data: synthetic, idx, cifar, batches;
//!             regime: the regime classifiers (end of run, early) on a run's epoch rows
//! config      schema, presets, validation; schema: every column; store: every file name;
//! progress    the one progress trait; stats: median, trend, rank correlation; numfmt: numbers for people
//! ```
//! `bench` (training-step and curvature timings) sits beside `landscape`.
//! The book (`docs/`, built with mdBook) has the guide and the reference; the papers have for the maths (Kodryan et al.,
//! NeurIPS 2022, arXiv 2209.03695; Lobacheva et al., NeurIPS 2021, arXiv 2106.15739).
//!
//! ```no_run
//! use silab::{config::RunConfig, progress::Silent, training};
//! let cfg = RunConfig::from_preset("quick", &["optim.elr=2e-3".into()]).unwrap();
//! let summary = training::train(&cfg, "runs/example".as_ref(), &mut Silent).unwrap();
//! println!("final test accuracy {}", summary.last["test_acc"]);
//! ```

pub mod analysis;
pub mod bench;
pub mod config;
pub mod data;
pub mod landscape;
pub mod map;
pub mod metrics;
pub mod model;
pub mod numfmt;
pub mod optim;
pub mod progress;
pub mod regime;
pub mod report;
pub mod run;
pub mod schema;
pub mod stats;
pub mod store;
pub mod studies;
pub mod sweep;
pub mod training;
