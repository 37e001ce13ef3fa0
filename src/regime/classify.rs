//! Regimes of fixed-ELR runs (P2: convergence, chaotic equilibrium, divergence) and the
//! boundaries between them along an ELR axis.
//!
//! Comparisons are written `!(x >= t)` on purpose: a NaN (a diverged run) must fail them.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use super::series::NonFinite;
use super::series::Series;
use crate::stats::{median, trend};
use serde::{Deserialize, Serialize};

/// Training regime of a fixed-ELR run (P2), or why a run is not classified.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Regime {
    Convergence,
    Chaotic,
    Divergence,
    /// Fewer epochs than [`RegimeParams::min_epochs`]: a tail that short says nothing.
    TooShort,
    /// No train loss was measured (`metrics.train_eval = false`).
    NotMeasured,
}

impl Regime {
    /// How tables print it.
    pub fn name(self) -> &'static str {
        match self {
            Regime::Convergence => "convergence",
            Regime::Chaotic => "chaotic",
            Regime::Divergence => "divergence",
            Regime::TooShort => "too short",
            Regime::NotMeasured => "not measured",
        }
    }
    /// One of the three regimes (not a reason for leaving a run unclassified)?
    pub fn classified(self) -> bool {
        matches!(self, Regime::Convergence | Regime::Chaotic | Regime::Divergence)
    }
}

/// Thresholds of the regime classifier.
#[derive(Clone, Debug, Serialize)]
pub struct RegimeParams {
    /// The tail: this fraction of the epoch rows at the end (at least 4 rows).
    pub tail: f64,
    /// Divergence: median tail train accuracy below chance + `div_margin` * (1 - chance), and ...
    pub div_margin: f64,
    /// ... the median tail train loss still at least this fraction of the initial loss (P2: the
    /// loss stays near its initial value); a loss far below it with chance accuracy (MSE learning
    /// slowly) is not divergence.
    pub div_loss_frac: f64,
    /// Convergence: median tail train accuracy at least this (converged), or ...
    pub conv_acc: f64,
    /// ... the loss still falls significantly: the least-squares slope of ln(train loss) over
    /// the tail's epochs has a t-statistic below `-conv_t` (a steady decrease, not noise).
    pub conv_t: f64,
    /// Runs with fewer epochs are "too short to classify".
    pub min_epochs: usize,
}

impl Default for RegimeParams {
    fn default() -> Self {
        RegimeParams { tail: 0.3, div_margin: 0.15, div_loss_frac: 0.3, conv_acc: 0.99, conv_t: 3.0, min_epochs: 10 }
    }
}

/// What the classifier measured on a run's tail, and its verdict.
#[derive(Clone, Debug, Serialize)]
pub struct RegimeReport {
    pub regime: Regime,
    pub tail_train_loss: f64,
    pub tail_train_acc: f64,
    pub tail_test_acc: f64,
    pub tail_eff_grad_norm: f64,
    /// Least-squares slope of ln(train loss) per epoch over the tail, and its t-statistic.
    pub loss_slope: f64,
    pub loss_slope_t: f64,
    /// Where the run's loss or weights first went non-finite (then the regime is divergence,
    /// whatever the tail: the rows after it are not measurements of a network).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonfinite: Option<NonFinite>,
}

impl RegimeReport {
    /// The verdict as tables print it: the regime's name, and for a run that went non-finite,
    /// where (`divergence (non-finite rho at epoch 1)`).
    pub fn label(&self) -> String {
        match &self.nonfinite {
            Some(n) => format!("{} (non-finite {} at epoch {})", self.regime.name(), n.column, n.epoch),
            None => self.regime.name().to_string(),
        }
    }
}

/// Classify a run from the tail of its train loss and accuracy, relative to chance (1/C) and to
/// the initial loss: divergence when the tail accuracy stays near chance while the loss stays near
/// its initial level without falling steadily (or is not finite: a net learning slowly at a tiny
/// ELR, its loss still falling, is regime 1, not 3); convergence
/// when the net has fitted the training set or its loss keeps falling steadily; chaotic
/// equilibrium otherwise (a stationary loss above zero, accuracy well above chance). Runs of fewer
/// than `min_epochs` epochs are [`Regime::TooShort`]; a run whose loss or weights went
/// non-finite ([`Series::nonfinite`]) is divergence, however short; runs without a measured train loss
/// [`Regime::NotMeasured`].
pub fn regime(s: &Series, p: &RegimeParams) -> RegimeReport {
    let n = s.train_loss.len();
    if n == 0 {
        // no epoch row at all: nothing measured (the reader refuses such runs; a caller that
        // builds a series by hand gets a verdict, not a panic)
        let nan = f64::NAN;
        return RegimeReport {
            regime: Regime::NotMeasured,
            tail_train_loss: nan,
            tail_train_acc: nan,
            tail_test_acc: nan,
            tail_eff_grad_norm: nan,
            loss_slope: nan,
            loss_slope_t: nan,
            nonfinite: None,
        };
    }
    let k = ((n as f64 * p.tail).round() as usize).clamp(4.min(n), n);
    let start = n - k;
    let tl = &s.train_loss[start..];
    let finite = tl.iter().all(|x| x.is_finite() && *x > 0.0);
    let (slope, t) = if finite {
        trend(&s.epoch[start..], &tl.iter().map(|l| l.ln()).collect::<Vec<_>>())
    } else {
        (f64::NAN, f64::NAN)
    };
    let acc = median(&s.train_acc[start..]);
    let chance = 1.0 / s.classes as f64;
    let near_initial = median(tl) >= p.div_loss_frac * s.train_loss[0];
    let regime = if s.nonfinite.is_some() {
        Regime::Divergence
    } else if s.train_loss.iter().all(|x| x.is_nan()) {
        Regime::NotMeasured
    } else if s.epoch.len().saturating_sub(1) < p.min_epochs {
        Regime::TooShort
    } else if !finite || (!(acc >= chance + p.div_margin * (1.0 - chance)) && near_initial && !(t <= -p.conv_t)) {
        Regime::Divergence
    } else if acc >= p.conv_acc || t <= -p.conv_t {
        Regime::Convergence
    } else {
        Regime::Chaotic
    };
    RegimeReport {
        regime,
        tail_train_loss: median(tl),
        tail_train_acc: acc,
        tail_test_acc: median(&s.test_acc[start..]),
        tail_eff_grad_norm: median(&s.eff_grad_norm[start..]),
        loss_slope: slope,
        loss_slope_t: t,
        nonfinite: s.nonfinite.clone(),
    }
}

/// Boundaries between regimes along an ELR axis: `[lo, hi]` = the last ELR of the lower regime
/// and the first of the higher one.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Boundaries {
    pub convergence_chaotic: Option<[f64; 2]>,
    pub chaotic_divergence: Option<[f64; 2]>,
    /// Do the regimes appear in increasing-ELR order (convergence, chaotic, divergence)?
    /// Only meaningful when `regimes_seen` >= 2.
    pub ordered: bool,
    /// How many of the three regimes appear (as the majority regime of some ELR).
    pub regimes_seen: usize,
}

/// The regime of each distinct ELR of a sweep (by increasing ELR): the one most of its runs are
/// in, the lower regime on a tie; unclassified runs are left out.
pub fn regime_per_elr(points: &[(f64, Regime)]) -> Vec<(f64, Regime)> {
    let points: Vec<(f64, Regime)> = points.iter().cloned().filter(|p| p.1.classified()).collect();
    let mut elrs: Vec<f64> = points.iter().map(|p| p.0).collect();
    elrs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    elrs.dedup();
    elrs.iter()
        .map(|&e| {
            let rs: Vec<Regime> = points.iter().filter(|p| p.0 == e).map(|p| p.1).collect();
            let count = |r: Regime| rs.iter().filter(|&&x| x == r).count();
            let best = [Regime::Convergence, Regime::Chaotic, Regime::Divergence]
                .into_iter()
                .max_by_key(|&r| (count(r), std::cmp::Reverse(r)))
                .unwrap();
            (e, best)
        })
        .collect()
}

/// Boundaries from `(elr, regime)` pairs (several seeds per ELR allowed: the majority regime of
/// each ELR counts; ties go to the lower regime).
pub fn boundaries(points: &[(f64, Regime)]) -> Boundaries {
    let per = regime_per_elr(points);
    let ordered = per.windows(2).all(|w| w[0].1 <= w[1].1);
    let mut seen: Vec<Regime> = per.iter().map(|p| p.1).collect();
    seen.sort();
    seen.dedup();
    let boundary = |a: Regime, b: Regime| {
        let last_a = per.iter().filter(|p| p.1 == a).map(|p| p.0).fold(f64::NAN, f64::max);
        let first_b = per.iter().filter(|p| p.1 == b && p.0 > last_a).map(|p| p.0).fold(f64::NAN, f64::min);
        (last_a.is_finite() && first_b.is_finite()).then_some([last_a, first_b])
    };
    Boundaries {
        convergence_chaotic: boundary(Regime::Convergence, Regime::Chaotic),
        chaotic_divergence: boundary(Regime::Chaotic, Regime::Divergence),
        ordered,
        regimes_seen: seen.len(),
    }
}
