//! Regimes of fixed-ELR runs, read from their epoch rows: the end-of-run classifier and the
//! boundaries along an ELR axis ([`classify`]), the early rule that decides a run's regime
//! before its end ([`early`], `train.stop_when = "regime"`), and the epoch rows as columns they
//! read ([`series`]). Below the trainer, which runs the early rule; `crate::analysis`
//! re-exports all of it.

pub mod classify;
pub mod early;
pub mod series;

pub use classify::{Boundaries, Regime, RegimeParams, RegimeReport, boundaries, regime, regime_per_elr};
pub use early::{Decision, EarlyRule, decide, first_decision};
pub use series::{NonFinite, Series};
