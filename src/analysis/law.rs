//! Power laws in lr*wd: how a period (or a time) scales with lr*wd over a set of runs, fitted
//! on a log-log scale. P1 predicts steps ∝ 1/(lr*wd), an exponent of -1.

use crate::stats::{median, trend};
use serde::Serialize;

/// How a period (or a time) scales with lr*wd over the runs of an arm.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct Law {
    /// `(lr*wd, steps)` of each run that has the quantity, by increasing lr*wd.
    pub points: Vec<(f64, f64)>,
    /// Least-squares slope of ln(steps) against ln(lr*wd): -1 when steps ∝ 1/(lr*wd); None
    /// under two lr*wd values.
    pub exponent: Option<f64>,
    /// Steps at the smallest lr*wd over steps at the largest, and what 1/(lr*wd) predicts (the
    /// ratio of the lr*wd values).
    pub measured_ratio: Option<f64>,
    pub predicted_ratio: Option<f64>,
    /// Median of steps × lr*wd (constant when steps ∝ 1/(lr*wd)).
    pub steps_times_lr_wd: Option<f64>,
}

impl Law {
    pub fn fit(mut points: Vec<(f64, f64)>) -> Law {
        points.retain(|p| p.0 > 0.0 && p.1 > 0.0 && p.1.is_finite());
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        let xs: Vec<f64> = points.iter().map(|p| p.0.ln()).collect();
        let distinct = xs.windows(2).any(|w| w[1] > w[0]);
        let exponent = distinct.then(|| trend(&xs, &points.iter().map(|p| p.1.ln()).collect::<Vec<_>>()).0);
        let (first, last) = (points.first().copied(), points.last().copied());
        let (measured_ratio, predicted_ratio) = match (first, last) {
            (Some(f), Some(l)) if distinct => (Some(f.1 / l.1), Some(l.0 / f.0)),
            _ => (None, None),
        };
        let st: Vec<f64> = points.iter().map(|p| p.0 * p.1).collect();
        Law {
            exponent,
            measured_ratio,
            predicted_ratio,
            steps_times_lr_wd: (!st.is_empty()).then(|| median(&st)),
            points,
        }
    }
    /// Does the ratio of the extreme points lie within `tol` (0.25 = 25%) of 1/(lr*wd)'s?
    pub fn within(&self, tol: f64) -> bool {
        matches!((self.measured_ratio, self.predicted_ratio), (Some(m), Some(p)) if (m / p - 1.0).abs() <= tol)
    }
    pub fn describe(&self) -> String {
        match (self.exponent, self.measured_ratio, self.predicted_ratio) {
            (Some(b), Some(m), Some(p)) => format!("∝ (lr·wd)^{b:.2}; ratio {m:.2} vs {p:.2} for 1/(lr·wd)"),
            _ => format!("no law ({} run(s) with a value)", self.points.len()),
        }
    }
}
