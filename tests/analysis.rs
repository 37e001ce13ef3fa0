//! Detectors on constructed series with known answers.

use silab::analysis::*;

/// A periodic full-space run: within each period of `p` epochs the loss decays geometrically
/// from 1 to 1e-3 and rho decays; at the start of each new period the loss spikes back to 1 and
/// rho jumps up by 30%.
fn periodic(n: usize, p: usize, first: usize) -> Series {
    let mut s = Series { lr: 0.1, wd: 1e-3, classes: 10, steps_per_epoch: 10, ..Default::default() };
    let mut rho = 10.0;
    for t in 0..n {
        let phase = if t < first { t + p } else { (t - first) % p };
        if t >= first && phase == 0 {
            rho *= 1.3;
        } else {
            rho *= 0.99;
        }
        let loss = 10f64.powf(-3.0 * phase.min(p) as f64 / p as f64);
        s.epoch.push(t as f64);
        s.train_loss.push(loss);
        s.train_acc.push(1.0 - loss / 2.0);
        s.test_acc.push(0.8);
        s.rho.push(rho);
        s.elr.push(0.1 / (rho * rho));
        s.eff_grad_norm.push(0.2);
    }
    s
}

#[test]
fn s_jumps_and_period_on_a_periodic_series() {
    let s = periodic(200, 25, 30);
    let j = s_jumps(&s, &JumpParams::default());
    let epochs: Vec<f64> = j.iter().map(|j| j.epoch).collect();
    assert_eq!(epochs, [30.0, 55.0, 80.0, 105.0, 130.0, 155.0, 180.0]);
    let first = &j[0];
    assert!((first.loss_after - 1.0).abs() < 1e-12);
    assert!(first.loss_before < 2e-3);
    assert!((first.rho_after / first.rho_before - 1.3).abs() < 1e-9);
    assert!((first.elr_at_jump - s.elr[29]).abs() < 1e-15);
    let p = period(&j).unwrap();
    assert_eq!((p.median, p.min, p.max, p.std), (25.0, 25.0, 25.0, 0.0));
}

#[test]
fn a_loss_spike_without_a_rho_jump_is_not_an_s_jump() {
    let mut s = periodic(100, 25, 30);
    // flatten rho: monotone decay only
    for t in 0..s.rho.len() {
        s.rho[t] = 10.0 * 0.99f64.powi(t as i32);
    }
    assert!(s_jumps(&s, &JumpParams::default()).is_empty());
    // and a rho jump without a loss spike neither
    let mut s = periodic(100, 25, 30);
    s.train_loss = vec![0.5; 100];
    assert!(s_jumps(&s, &JumpParams::default()).is_empty());
    assert!(period(&[]).is_none());
}

#[test]
fn only_jumps_from_a_converged_state_count_when_asked() {
    let converged = JumpParams { converged_acc: 0.99, ..JumpParams::default() };
    // before each spike the loss is 1e-3: accuracy 0.9995, a converged state
    let s = periodic(200, 25, 30);
    let all: Vec<f64> = s_jumps(&s, &JumpParams::default()).iter().map(|j| j.epoch).collect();
    let conv = s_jumps(&s, &converged);
    assert_eq!(conv.iter().map(|j| j.epoch).collect::<Vec<_>>(), all);
    assert!(conv.iter().all(|j| j.acc_before > 0.999 && j.acc_before < 1.0), "{conv:?}");
    // the same spikes from a state at 90 % train accuracy: not S-jumps of a converged state
    let mut s = periodic(200, 25, 30);
    s.train_acc = vec![0.9; 200];
    assert!(s_jumps(&s, &converged).is_empty());
    assert_eq!(s_jumps(&s, &JumpParams::default()).len(), all.len());
    // only the epochs before the 3rd spike (80) miss convergence: the spikes from then on count
    let mut s = periodic(200, 25, 30);
    for a in &mut s.train_acc[..70] {
        *a = a.min(0.95);
    }
    let late: Vec<f64> = s_jumps(&s, &converged).iter().map(|j| j.epoch).collect();
    assert_eq!(late, [80.0, 105.0, 130.0, 155.0, 180.0]);
    // and an accuracy outside [0, 1] is refused
    assert!(JumpParams { converged_acc: 1.5, ..JumpParams::default() }.validate().is_err());
}

#[test]
fn the_period_law_exponent_is_the_log_log_slope() {
    // period = 0.8 / (lr*wd) exactly: exponent -1; a square-root law: -0.5
    let pts = |e: f64| -> Vec<(f64, f64)> { [1e-4f64, 3e-4, 1e-3].iter().map(|&k| (k, 0.8 * k.powf(e))).collect() };
    let l = law::Law::fit(pts(-1.0));
    assert!((l.exponent.unwrap() + 1.0).abs() < 1e-12, "{l:?}");
    assert!((l.predicted_ratio.unwrap() - 10.0).abs() < 1e-9 && (l.measured_ratio.unwrap() - 10.0).abs() < 1e-9);
    assert!((law::Law::fit(pts(-0.5)).exponent.unwrap() + 0.5).abs() < 1e-12);
    // one lr*wd value: no law
    assert_eq!(law::Law::fit(vec![(1e-3, 5.0), (1e-3, 6.0)]).exponent, None);
}

#[test]
fn irregular_periods_report_their_spread() {
    let mut s = periodic(120, 1000, 1000);
    s.train_loss = vec![1e-3; 120];
    for &t in &[20usize, 50, 70, 110] {
        s.train_loss[t] = 1.0;
        for r in &mut s.rho[t..] {
            *r *= 1.5;
        }
    }
    let j = s_jumps(&s, &JumpParams::default());
    assert_eq!(j.iter().map(|j| j.epoch).collect::<Vec<_>>(), [20.0, 50.0, 70.0, 110.0]);
    let p = period(&j).unwrap();
    assert_eq!((p.median, p.min, p.max), (30.0, 20.0, 40.0));
}

fn fixed(n: usize, loss: impl Fn(usize) -> f64, acc: impl Fn(usize) -> f64) -> Series {
    let mut s = Series { lr: 0.0, wd: 0.0, classes: 10, steps_per_epoch: 10, ..Default::default() };
    for t in 0..n {
        s.epoch.push(t as f64);
        s.train_loss.push(loss(t));
        s.train_acc.push(acc(t));
        s.test_acc.push(acc(t) * 0.9);
        s.rho.push(5.0);
        s.elr.push(1e-3);
        s.eff_grad_norm.push(1.0);
    }
    s
}

#[test]
fn regimes_on_constructed_runs() {
    let p = RegimeParams::default();
    // converging: loss keeps falling geometrically
    let conv = fixed(50, |t| 2.0 * 0.9f64.powi(t as i32), |t| 1.0 - 0.9f64.powi(t as i32) * 0.9);
    assert_eq!(regime(&conv, &p).regime, Regime::Convergence);
    // converged: accuracy 100%, loss flat
    let done = fixed(50, |_| 1e-4, |_| 1.0);
    assert_eq!(regime(&done, &p).regime, Regime::Convergence);
    // chaotic equilibrium: flat noisy loss well above zero, accuracy well above chance
    let chaos =
        fixed(50, |t| 0.8 + 0.2 * ((t * 7919) % 13) as f64 / 13.0, |t| 0.7 + 0.05 * ((t * 31) % 5) as f64 / 5.0);
    let r = regime(&chaos, &p);
    assert_eq!(r.regime, Regime::Chaotic, "{r:?}");
    // divergence: chance accuracy
    let div = fixed(50, |_| 2.3, |t| 0.1 + 0.01 * (t % 3) as f64);
    assert_eq!(regime(&div, &p).regime, Regime::Divergence);
    // NaN losses diverge too
    let nan = fixed(50, |t| if t > 20 { f64::NAN } else { 1.0 }, |_| 0.5);
    assert_eq!(regime(&nan, &p).regime, Regime::Divergence);
}

#[test]
fn boundaries_of_an_elr_sweep() {
    use Regime::*;
    let pts = [
        (1e-5, Convergence),
        (1e-4, Convergence),
        (1e-4, Chaotic), // a tie at 1e-4 goes to the lower regime
        (5e-4, Convergence),
        (1e-3, Chaotic),
        (1e-3, Chaotic),
        (5e-3, Chaotic),
        (5e-2, Divergence),
        (1e-1, Divergence),
    ];
    let b = boundaries(&pts);
    assert_eq!(b.convergence_chaotic, Some([5e-4, 1e-3]));
    assert_eq!(b.chaotic_divergence, Some([5e-3, 5e-2]));
    assert!(b.ordered);
    let b = boundaries(&[(1e-3, Chaotic), (1e-2, Convergence), (1e-1, Divergence)]);
    assert!(!b.ordered);
    assert_eq!(b.convergence_chaotic, None);
    assert_eq!(b.chaotic_divergence, Some([1e-3, 1e-1]));
}

/// A run built by iterating the norm recursion exactly: the theory's recursion error is ~0 and
/// the measured per-step ELR growth lies between 1 and the no-gradient bound (1 - lr wd)^-2.
#[test]
fn theory_on_an_exact_recursion() {
    let (lr, wd, steps, g) = (0.5, 1e-2, 20usize, 0.3);
    let mut s = Series { lr, wd, classes: 10, steps_per_epoch: steps, ..Default::default() };
    let mut r2: f64 = 4.0;
    for t in 0..60 {
        s.epoch.push(t as f64);
        s.rho.push(r2.sqrt());
        s.elr.push(lr / r2);
        s.eff_grad_norm.push(g);
        s.train_loss.push(1.0 / (t + 1) as f64);
        s.train_acc.push(0.9);
        s.test_acc.push(0.8);
        for _ in 0..steps {
            r2 = (1.0 - lr * wd).powi(2) * r2 + lr * lr * g * g / r2;
        }
    }
    let th = theory(&s).unwrap();
    assert!(th.norm_recursion_median_rel_err < 1e-12, "{th:?}");
    // Equilibrium: rho^4 (1 - q) = lr^2 g^2 with q = (1 - lr wd)^2; the series converges there.
    let q = (1.0 - lr * wd).powi(2);
    let rho2_eq = (lr * lr * g * g / (1.0 - q)).sqrt();
    assert!((s.rho.last().unwrap().powi(2) / rho2_eq - 1.0).abs() < 1e-3);
    // and the spec's closed form rho*^2 ~ g sqrt(lr / (2 wd)) is its small-lr*wd approximation
    assert!((th.rho2_star_predicted / rho2_eq - 1.0).abs() < 0.01, "{th:?}");
    assert!((th.elr_star_predicted / (lr / rho2_eq) - 1.0).abs() < 0.01, "{th:?}");
    assert!((th.elr_growth_predicted - 1.0 / q).abs() < 1e-15);
}

/// A run at chance accuracy whose loss has fallen far below its initial value (MSE learning
/// slowly) is not divergence; one whose loss stays near the initial value is.
#[test]
fn divergence_needs_the_loss_to_stay_near_its_initial_value() {
    let p = RegimeParams::default();
    let slow = fixed(60, |t| if t == 0 { 20.0 } else { 0.3 * 0.995f64.powi(t as i32) }, |_| 0.15);
    assert_eq!(regime(&slow, &p).regime, Regime::Convergence);
    let stuck = fixed(60, |t| if t == 0 { 20.0 } else { 0.4 + 0.05 * ((t * 7) % 5) as f64 }, |_| 0.12);
    assert_eq!(regime(&stuck, &p).regime, Regime::Chaotic);
    let div = fixed(60, |t| if t == 0 { 20.0 } else { 15.0 + ((t * 13) % 7) as f64 }, |_| 0.1);
    assert_eq!(regime(&div, &p).regime, Regime::Divergence);
}

/// The sharpness study's boundary test on constructed points.
#[test]
fn sharpness_boundary_peak_on_constructed_points() {
    use silab::analysis::Regime::*;
    use silab::studies::sharpness_study::{SharpPoint, boundary_peak};
    let pt = |elr: f64, regime, e: f64| SharpPoint {
        elr,
        regime,
        eff_top_eig: e,
        eff_trace: 0.0,
        eff_gn_top_eig: 0.0,
        final_train_loss: 0.0,
        ft_eff_top_eig: 0.0,
        ft_eff_trace: 0.0,
        ft_test_acc: 0.0,
        ft_train_loss: 0.0,
    };
    // the measured cpu pattern: falling in regime 1, a bump at the first chaotic ELR, huge values
    // in divergence (ignored)
    let measured = [
        pt(1e-4, Convergence, 12430.0),
        pt(1e-3, Convergence, 1789.0),
        pt(6e-3, Convergence, 228.0),
        pt(1e-2, Chaotic, 454.0),
        pt(2e-2, Chaotic, 297.0),
        pt(5e-2, Divergence, 27967.0),
    ];
    assert_eq!(boundary_peak(&measured), Some(true));
    // monotone through the boundary: no peak
    let flat = [
        pt(1e-4, Convergence, 900.0),
        pt(1e-3, Convergence, 500.0),
        pt(1e-2, Chaotic, 300.0),
        pt(2e-2, Chaotic, 200.0),
    ];
    assert_eq!(boundary_peak(&flat), Some(false));
    // the last convergence point as the peak
    let last = [pt(1e-4, Convergence, 100.0), pt(1e-3, Convergence, 500.0), pt(1e-2, Chaotic, 300.0)];
    assert_eq!(boundary_peak(&last), Some(true));
    // no chaotic run, or no convergence run: undefined
    assert_eq!(boundary_peak(&measured[..3]), None);
    assert_eq!(boundary_peak(&measured[3..]), None);
}

/// Rotational equilibrium on a constructed angle series: the angle approaches eta_r as
/// 1 - exp(-t/tau) would from below (a norm settling), is pushed down at an S-jump, and recovers.
#[test]
fn equilibrium_time_ratio_and_jump_deviation() {
    let eta = 0.02;
    let epoch: Vec<f64> = (0..60).map(|t| t as f64).collect();
    // epoch 0 has no angle (no step yet)
    let mut angle: Vec<f64> = epoch.iter().map(|&t| eta * (1.0 + 2.0 * (-t / 5.0).exp())).collect();
    angle[0] = f64::NAN;
    // 1 + 2 e^{-t/5} <= 1.1  <=>  t >= 5 ln 20 = 14.98: epoch 15 is the first inside
    let eq = vec![eta; 60];
    let e = equilibrium("all", &epoch, &angle, &eq, &[], 0.1, 2).unwrap();
    assert_eq!(e.first_within, Some(15.0));
    assert_eq!(e.settled, Some(15.0));
    assert!((e.eta_r - eta).abs() < 1e-15);
    assert!((e.ratio - 1.0).abs() < 0.01, "{}", e.ratio);
    // an S-jump at epoch 40: the angle halves for two epochs
    angle[40] = eta * 0.5;
    angle[41] = eta * 0.7;
    let jump = SJump {
        epoch: 40.0,
        loss_before: 1e-3,
        loss_after: 1.0,
        rho_before: 1.0,
        rho_after: 1.3,
        acc_before: 1.0,
        elr_at_jump: 0.1,
        eff_grad_norm_before: 0.1,
    };
    let e = equilibrium("all", &epoch, &angle, &eq, &[jump], 0.1, 2).unwrap();
    assert_eq!(e.first_within, Some(15.0));
    assert_eq!(e.settled, Some(42.0), "leaves the band at the jump, back at 42");
    assert_eq!(e.at_jumps.len(), 1);
    assert!((e.at_jumps[0].ratio - 0.5).abs() < 1e-12);
    // a series that never reaches the band: no time, the ratio of the second half
    let far: Vec<f64> = vec![2.0 * eta; 60];
    let e = equilibrium("x", &epoch, &far, &eq, &[], 0.1, 2).unwrap();
    assert_eq!((e.first_within, e.settled), (None, None));
    assert!((e.ratio - 2.0).abs() < 1e-12);
    // no prediction (NaN angle_eq): nothing to report
    assert!(equilibrium("x", &epoch, &far, &vec![f64::NAN; 60], &[], 0.1, 2).is_none());
}
