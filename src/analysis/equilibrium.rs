//! Rotational equilibrium (Kosson et al. 2024): the angular update per step against its
//! predicted value eta_r, the time to reach it, and the deviation at S-jumps.

use super::SJump;
use crate::stats::median;
use serde::Serialize;

/// How far the angular update is from its predicted equilibrium at one S-jump.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct JumpDeviation {
    pub epoch: f64,
    /// The ratio measured/predicted farthest from 1 over the epochs `[jump - 1, jump + after]`.
    pub ratio: f64,
}

/// Rotational equilibrium (Kosson et al. 2024) of one SI tensor or group: how its mean angular
/// update per step compares with the predicted eta_r (`angle_eq`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Equilibrium {
    /// `all` (the whole SI group, column `angle_mean`) or the tensor / group name.
    pub name: String,
    /// Predicted eta_r at the last epoch row.
    pub eta_r: f64,
    /// First epoch whose mean angular update is within `tol` of eta_r.
    pub first_within: Option<f64>,
    /// Time to equilibrium: the first epoch after which the mean angular update stays within
    /// `tol` of eta_r to the end of the run (None when it leaves the band again, e.g. at an S-jump).
    pub settled: Option<f64>,
    /// Median ratio measured/predicted over the epochs from `first_within` on (the second half of
    /// the run when it never gets within `tol`).
    pub ratio: f64,
    pub at_jumps: Vec<JumpDeviation>,
}

/// Equilibrium of one angle series against `eq` (both per epoch row; NaN rows, such as epoch 0,
/// are skipped). `tol` is the relative band (0.1 = 10%); `after` the epochs after a jump that its
/// deviation is looked for in.
pub fn equilibrium(
    name: &str,
    epoch: &[f64],
    angle: &[f64],
    eq: &[f64],
    jumps: &[SJump],
    tol: f64,
    after: usize,
) -> Option<Equilibrium> {
    let pts: Vec<(f64, f64, f64)> = (0..epoch.len().min(angle.len()).min(eq.len()))
        .filter(|&i| angle[i].is_finite() && eq[i].is_finite() && eq[i] > 0.0)
        .map(|i| (epoch[i], angle[i] / eq[i], eq[i]))
        .collect();
    if pts.is_empty() {
        return None;
    }
    let within = |r: f64| (r - 1.0).abs() <= tol;
    let first = pts.iter().position(|p| within(p.1));
    // the first point of the final run of points inside the band
    let last_out = pts.iter().rposition(|p| !within(p.1));
    let settled = match last_out {
        None => Some(pts[0].0),
        Some(i) if i + 1 < pts.len() => Some(pts[i + 1].0),
        _ => None,
    };
    let from = first.unwrap_or(pts.len() / 2);
    let ratios: Vec<f64> = pts[from..].iter().map(|p| p.1).collect();
    let at_jumps = jumps
        .iter()
        .filter_map(|j| {
            pts.iter()
                .filter(|p| p.0 >= j.epoch - 1.0 && p.0 <= j.epoch + after as f64)
                .map(|p| p.1)
                .max_by(|a, b| (a - 1.0).abs().total_cmp(&(b - 1.0).abs()))
                .map(|ratio| JumpDeviation { epoch: j.epoch, ratio })
        })
        .collect();
    Some(Equilibrium {
        name: name.to_string(),
        eta_r: pts.last().unwrap().2,
        first_within: first.map(|i| pts[i].0),
        settled,
        ratio: median(&ratios),
        at_jumps,
    })
}

/// Relative band of [`equilibrium`] used by `silab analyze` (the 10%).
pub const EQUILIBRIUM_TOL: f64 = 0.1;
