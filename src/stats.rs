//! Small statistics used across the analysis, the studies and the benchmarks, defined once:
//! median, mean, standard deviation, least-squares trend and Spearman's rank correlation.
//!
//! Every function skips nothing silently unless it says so: `median` and `mean` use the finite
//! values only (a diverged run's NaN does not poison a median over runs).

/// Median of the finite values (mean of the middle two for an even count; NaN if none).
pub fn median(v: &[f64]) -> f64 {
    let mut v: Vec<f64> = v.iter().cloned().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { 0.5 * (v[n / 2 - 1] + v[n / 2]) }
}

/// Mean of the finite values (NaN if none).
pub fn mean(v: &[f64]) -> f64 {
    let v: Vec<f64> = v.iter().cloned().filter(|x| x.is_finite()).collect();
    v.iter().sum::<f64>() / v.len() as f64
}

/// Population standard deviation `sqrt(mean((x - mean)^2))` of all values.
pub fn std(v: &[f64]) -> f64 {
    let m = v.iter().sum::<f64>() / v.len() as f64;
    (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64).sqrt()
}

/// Least-squares slope of `y` against `x`, and its t-statistic `slope / se(slope)` (±inf when
/// the points lie exactly on a line).
pub fn trend(x: &[f64], y: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let sxx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let b = sxy / sxx;
    let resid: f64 = x.iter().zip(y).map(|(a, c)| (c - my - b * (a - mx)).powi(2)).sum();
    let se = (resid / (n - 2.0).max(1.0) / sxx).sqrt();
    (
        b,
        if se > 0.0 {
            b / se
        } else if b < 0.0 {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        },
    )
}

/// Ranks 0..n-1 of the values (ties in input order).
fn ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[a].partial_cmp(&v[b]).unwrap_or(std::cmp::Ordering::Equal));
    let mut r = vec![0.0; v.len()];
    for (k, &i) in idx.iter().enumerate() {
        r[i] = k as f64;
    }
    r
}

/// Spearman's rank correlation (no tie correction); `None` under 3 points or for unequal lengths.
pub fn spearman(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.len() < 3 || x.len() != y.len() {
        return None;
    }
    let (rx, ry) = (ranks(x), ranks(y));
    let n = x.len() as f64;
    let m = (n - 1.0) / 2.0;
    let cov: f64 = rx.iter().zip(&ry).map(|(a, b)| (a - m) * (b - m)).sum();
    let var: f64 = rx.iter().map(|a| (a - m).powi(2)).sum();
    Some(cov / var)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_mean_std_on_known_values() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&[f64::NAN, 5.0, 1.0]), 3.0);
        assert!(median(&[f64::NAN]).is_nan());
        assert_eq!(mean(&[1.0, 2.0, f64::INFINITY, 6.0]), 3.0);
        assert_eq!(std(&[1.0, 3.0]), 1.0);
    }

    #[test]
    fn trend_and_spearman() {
        let x = [0.0, 1.0, 2.0, 3.0];
        let (b, t) = trend(&x, &[1.0, 3.0, 5.0, 7.0]);
        assert_eq!(b, 2.0);
        assert_eq!(t, f64::INFINITY);
        let (b, t) = trend(&x, &[1.0, 0.9, 1.1, 0.2]);
        assert!(b < 0.0 && t.is_finite() && t < 0.0);
        assert_eq!(spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), Some(-1.0));
        assert_eq!(spearman(&[1.0, 2.0, 3.0, 4.0], &[1.0, 5.0, 6.0, 9.0]), Some(1.0));
        assert_eq!(spearman(&[1.0, 2.0], &[1.0, 2.0]), None);
    }
}
