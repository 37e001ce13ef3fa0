//! Early classification of a fixed-ELR run (`train.stop_when = "regime"`): the regime a run
//! will end in, decided from its epochs so far once the evidence is unambiguous, so that a run
//! whose regime is certain can stop.
//!
//! The rule looks at the last `window` epoch rows (the *window*) after every epoch and decides
//! only on evidence the end-of-run classifier ([`super::classify::regime`]) would read the same way:
//!
//! - **divergence**: the loss, rho or a weight norm went non-finite; or, over the window, the
//!   train accuracy stayed near chance, the loss near its initial value, and the loss did not
//!   fall (the ln-loss trend's t-statistic above `-conv_t`): the random walk of regime 3;
//! - **convergence**: the train accuracy was at least `conv_acc` at every epoch of the window
//!   (the training set is fitted and stays fitted); or, over the long window below, the loss fell
//!   steadily (ln-loss trend t-statistic at most `-steady_t`) and still falls over its second
//!   half (t at most `-conv_t`, and a slope at least `steady_keep` times the first half's, so
//!   that a fall that levels off into a plateau is not taken for it): regime 1 at a small ELR,
//!   learning slowly but surely;
//! - **chaotic equilibrium**: over a longer window (`chaotic_window`: twice `window`, and at
//!   least the tail the end-of-run classifier reads, so that a slow steady decrease hidden in
//!   the noise of a short window is not taken for a plateau), the loss is stationary (its
//!   ln-loss trend's t-statistic within `±flat_t`, and each half's median within a factor
//!   `flat_ratio` of the other), while the accuracy is well above chance and below `conv_acc`
//!   at every epoch.
//!
//! A run that none of these fit runs to its last epoch and is classified there as usual. The
//! thresholds shared with the end-of-run classifier come from [`RegimeParams`]; the rule and
//! its numbers are written into the run's `summary.json` with the decision.
//!
//! Comparisons are written `!(x >= t)` on purpose: a NaN must fail them.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use super::classify::{Regime, RegimeParams};
use super::series::Series;
use crate::stats::{median, trend};
use serde::{Deserialize, Serialize};

/// The early-classification rule: its window and thresholds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EarlyRule {
    /// Epochs the evidence for convergence and divergence must hold for.
    pub window: usize,
    /// Epochs the evidence for chaotic equilibrium must hold for.
    pub chaotic_window: usize,
    /// No decision before this many epochs (except a non-finite state).
    pub min_epochs: usize,
    /// Convergence: train accuracy at least this at every epoch of the window.
    pub conv_acc: f64,
    /// Divergence: accuracy below chance + `div_margin` * (1 - chance) at every epoch of the
    /// window ...
    pub div_margin: f64,
    /// ... and the loss at least this fraction of the initial loss at every epoch ...
    pub div_loss_frac: f64,
    /// ... and not falling: the ln-loss trend's t-statistic above `-conv_t`.
    pub conv_t: f64,
    /// Convergence by a steady fall: the ln-loss trend's t-statistic over the long window at
    /// most `-steady_t` (and at most `-conv_t` over its second half).
    pub steady_t: f64,
    /// ... with the second half's ln-loss slope at least this fraction of the first half's.
    pub steady_keep: f64,
    /// Chaotic: |t| of the ln-loss trend over the long window at most this ...
    pub flat_t: f64,
    /// ... and the medians of the double window's two halves within this factor of each other.
    pub flat_ratio: f64,
}

impl EarlyRule {
    /// The rule for a run of `epochs` epochs with the end-of-run classifier's thresholds and
    /// the given window; the chaotic window is twice it, and at least the classifier's tail.
    pub fn new(window: usize, epochs: usize, p: &RegimeParams) -> EarlyRule {
        let tail = (epochs as f64 * p.tail).round() as usize;
        EarlyRule {
            window,
            chaotic_window: (2 * window).max(tail),
            min_epochs: p.min_epochs.max(window),
            conv_acc: p.conv_acc,
            div_margin: p.div_margin,
            div_loss_frac: p.div_loss_frac,
            conv_t: p.conv_t,
            steady_t: 10.0,
            steady_keep: 0.7,
            flat_t: 1.0,
            flat_ratio: 1.1,
        }
    }

    /// One line for logs and docs.
    pub fn describe(&self) -> String {
        format!(
            "window {} epochs (long window {}), from epoch {}; convergence: train acc >= {} throughout the window, \
             or ln-loss trend t <= -{} over the long window and <= -{} over its second half, whose slope is at \
             least {} x the first half's; divergence: \
             non-finite, or acc < chance + {}*(1 - chance) and loss >= {} x initial throughout, ln-loss trend t > -{}; \
             chaotic (long window): |t| <= {} and the halves' median losses within x{}, acc above the divergence bar \
             and below {}",
            self.window,
            self.chaotic_window,
            self.min_epochs,
            self.conv_acc,
            self.steady_t,
            self.conv_t,
            self.steady_keep,
            self.div_margin,
            self.div_loss_frac,
            self.conv_t,
            self.flat_t,
            self.flat_ratio,
            self.conv_acc
        )
    }
}

/// A regime decided before the end of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub regime: Regime,
    /// The epoch after which it was decided (the last epoch of the window).
    pub decided_at_epoch: usize,
    /// What decided it, e.g. `min train_acc over epochs 31-40`.
    pub statistic: String,
    pub value: f64,
    /// The rule that decided it.
    pub rule: EarlyRule,
}

impl Decision {
    /// `convergence (decided at epoch 40: min train_acc over epochs 31-40 = 0.995)`.
    pub fn label(&self) -> String {
        format!(
            "{} (decided at epoch {}: {} = {})",
            self.regime.name(),
            self.decided_at_epoch,
            self.statistic,
            crate::numfmt::num_sig(self.value, 3)
        )
    }
}

/// The decision the rule takes on the epoch rows of `s` as they stand (the last row is the
/// latest epoch), or `None` while the regime is not yet certain.
pub fn decide(s: &Series, rule: &EarlyRule) -> Option<Decision> {
    let n = s.train_loss.len();
    if n == 0 {
        return None;
    }
    let last = s.epoch[n - 1] as usize;
    let decision = |regime, statistic: String, value| Decision {
        regime,
        decided_at_epoch: last,
        statistic,
        value,
        rule: rule.clone(),
    };
    if let Some(nf) = &s.nonfinite {
        return Some(decision(Regime::Divergence, format!("non-finite {} at epoch", nf.column), nf.epoch as f64));
    }
    let w = rule.window.max(2);
    if last < rule.min_epochs || n < w + 1 {
        return None;
    }
    let span = |k: usize| format!("epochs {}-{}", s.epoch[n - k] as usize, last);
    let acc = &s.train_acc[n - w..];
    let loss = &s.train_loss[n - w..];
    let min_acc = acc.iter().cloned().fold(f64::INFINITY, f64::min);
    let max_acc = acc.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    if min_acc >= rule.conv_acc {
        return Some(decision(Regime::Convergence, format!("min train_acc over {}", span(w)), min_acc));
    }
    let chance = 1.0 / s.classes.max(1) as f64;
    let acc_bar = chance + rule.div_margin * (1.0 - chance);
    let positive = |v: &[f64]| v.iter().all(|x| x.is_finite() && *x > 0.0);
    // least-squares slope of ln(train loss) per epoch over rows a..b, and its t-statistic
    let ln_fit = |a: usize, b: usize| {
        let l = &s.train_loss[a..b];
        if !positive(l) {
            return (f64::NAN, f64::NAN);
        }
        trend(&s.epoch[a..b], &l.iter().map(|x| x.ln()).collect::<Vec<_>>())
    };
    let ln_trend = |k: usize| ln_fit(n - k, n).1;
    let min_loss = loss.iter().cloned().fold(f64::INFINITY, f64::min);
    if max_acc < acc_bar && min_loss >= rule.div_loss_frac * s.train_loss[0] && ln_trend(w) > -rule.conv_t {
        return Some(decision(Regime::Divergence, format!("max train_acc over {}", span(w)), max_acc));
    }
    let w2 = rule.chaotic_window.max(w + 2);
    if n < w2 + 1 || last < rule.min_epochs.max(w2) {
        return None;
    }
    let acc2 = &s.train_acc[n - w2..];
    let in_band = acc2.iter().all(|a| *a >= acc_bar && *a < rule.conv_acc);
    let t = ln_trend(w2);
    let h = w2 / 2;
    let (first, second) = (median(&s.train_loss[n - w2..n - h]), median(&s.train_loss[n - h..]));
    let ratio = (first / second).max(second / first);
    let (slope_first, _) = ln_fit(n - w2, n - h);
    let (slope_second, t_second) = ln_fit(n - h, n);
    if t <= -rule.steady_t && t_second <= -rule.conv_t && slope_second <= rule.steady_keep * slope_first {
        return Some(decision(Regime::Convergence, format!("ln train_loss trend t over {}", span(w2)), t));
    }
    if in_band && t.abs() <= rule.flat_t && ratio <= rule.flat_ratio {
        return Some(decision(Regime::Chaotic, format!("ln train_loss trend t over {}", span(w2)), t));
    }
    None
}

/// The first decision the rule takes on the epoch rows of a run, read epoch by epoch as they
/// were written: what a run with `train.stop_when = "regime"` would have stopped with.
pub fn first_decision(s: &Series, rule: &EarlyRule) -> Option<Decision> {
    let n = s.train_loss.len();
    (1..=n).find_map(|k| decide(&s.prefix(k), rule))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(loss: &[f64], acc: &[f64]) -> Series {
        Series {
            epoch: (0..loss.len()).map(|e| e as f64).collect(),
            train_loss: loss.to_vec(),
            train_acc: acc.to_vec(),
            test_acc: acc.to_vec(),
            classes: 10,
            ..Default::default()
        }
    }

    fn rule() -> EarlyRule {
        EarlyRule::new(10, 60, &RegimeParams::default())
    }

    #[test]
    fn fitted_run_is_decided_once_the_window_is_fitted() {
        // accuracy reaches 0.995 at epoch 20 and stays: decided at epoch 29 (the 10th fitted
        // epoch), before the long window (45 epochs of 150) could say anything
        let acc: Vec<f64> = (0..150).map(|e| if e < 20 { 0.1 + 0.04 * e as f64 } else { 0.995 }).collect();
        let loss: Vec<f64> = (0..150).map(|e| 2.3 * (-0.1 * e as f64).exp()).collect();
        let d = first_decision(&series(&loss, &acc), &EarlyRule::new(10, 150, &RegimeParams::default())).unwrap();
        assert_eq!(d.regime, Regime::Convergence);
        assert_eq!(d.decided_at_epoch, 29);
        assert!(d.statistic.contains("epochs 20-29"), "{}", d.statistic);
    }

    #[test]
    fn stuck_run_at_initial_loss_is_divergence() {
        let loss: Vec<f64> = (0..40).map(|e| 6.0 + 0.3 * ((e * 7 % 5) as f64 - 2.0)).collect();
        let acc: Vec<f64> = (0..40).map(|e| 0.1 + 0.01 * ((e % 3) as f64 - 1.0)).collect();
        let d = first_decision(&series(&loss, &acc), &rule()).unwrap();
        assert_eq!(d.regime, Regime::Divergence);
        assert_eq!(d.decided_at_epoch, 10);
    }

    /// A deterministic wiggle of relative size `a` (noise without a random generator).
    fn wiggle(e: usize, a: f64) -> f64 {
        1.0 + a * (((e * 7919) % 13) as f64 / 6.0 - 1.0)
    }

    #[test]
    fn slow_learner_near_chance_is_convergence_not_divergence() {
        // the loss falls steadily (ln-loss slope -0.004 per epoch, 1% noise) though accuracy is
        // still near chance: regime 1 at a tiny ELR, decided by its steady fall over the long
        // window (30% of 150 epochs), never as divergence
        let loss: Vec<f64> = (0..150).map(|e| 2.3 * (-0.004 * e as f64).exp() * wiggle(e, 0.01)).collect();
        let acc: Vec<f64> = (0..150).map(|e| 0.1 + 0.0005 * e as f64).collect();
        let rule = EarlyRule::new(10, 150, &RegimeParams::default());
        let d = first_decision(&series(&loss, &acc), &rule).unwrap();
        assert_eq!(d.regime, Regime::Convergence, "{}", d.label());
        assert_eq!(d.decided_at_epoch, 45);
    }

    #[test]
    fn a_fall_that_flattens_is_not_taken_for_convergence() {
        // falls for 40 epochs, then a noisy plateau: chaotic, never convergence by trend
        let loss: Vec<f64> = (0..150).map(|e| (0.9 + 1.4 * (-(e as f64) / 12.0).exp()) * wiggle(e, 0.08)).collect();
        let acc: Vec<f64> = (0..150).map(|e| 0.7 - 0.5 * (-(e as f64) / 12.0).exp()).collect();
        let rule = EarlyRule::new(10, 150, &RegimeParams::default());
        let d = first_decision(&series(&loss, &acc), &rule).unwrap();
        assert_eq!(d.regime, Regime::Chaotic, "{}", d.label());
    }

    #[test]
    fn stationary_loss_above_chance_is_chaotic_after_a_double_window() {
        // falls for 30 epochs, then fluctuates around 0.9 with accuracy ~0.7: decided once the
        // long window (45 epochs of 150) lies mostly on the plateau
        let loss: Vec<f64> = (0..150)
            .map(|e| if e < 30 { 2.3 - 1.4 * e as f64 / 30.0 } else { 0.9 + 0.05 * ((e * 7 % 5) as f64 - 2.0) })
            .collect();
        let acc: Vec<f64> = (0..150).map(|e| if e < 30 { 0.1 + 0.02 * e as f64 } else { 0.7 }).collect();
        let d = first_decision(&series(&loss, &acc), &EarlyRule::new(10, 150, &RegimeParams::default())).unwrap();
        assert_eq!(d.regime, Regime::Chaotic, "{}", d.label());
        assert!((45..=80).contains(&d.decided_at_epoch), "{}", d.decided_at_epoch);
    }

    #[test]
    fn still_falling_loss_is_never_chaotic() {
        let loss: Vec<f64> = (0..100).map(|e| 2.3 * (-0.02 * e as f64).exp() * wiggle(e, 0.05)).collect();
        let acc: Vec<f64> = (0..100).map(|e| (0.3 + 0.006 * e as f64).min(0.95)).collect();
        let d = first_decision(&series(&loss, &acc), &rule());
        assert!(d.as_ref().is_none_or(|d| d.regime == Regime::Convergence), "{d:?}");
    }

    #[test]
    fn non_finite_state_decides_divergence_at_once() {
        let mut s = series(&[2.3, 2.0, f64::NAN], &[0.1, 0.2, 0.1]);
        s.nonfinite = Some(crate::regime::series::NonFinite { epoch: 2, column: "train_loss".into() });
        let d = first_decision(&s, &rule()).unwrap();
        assert_eq!((d.regime, d.decided_at_epoch), (Regime::Divergence, 2));
    }

    #[test]
    fn nothing_is_decided_before_min_epochs() {
        let acc = vec![1.0; 9];
        let loss = vec![0.01; 9];
        assert_eq!(first_decision(&series(&loss, &acc), &rule()), None);
    }
}
