//! Numbers for people: how tables, legends, axis labels and reports print a value (one home, so
//! every output agrees). Plain decimals between 0.01 and 1e5 (`0.264`, `1500`, `12.35`),
//! scientific notation outside (`2.5e-3`, `3.49e6`), never a trailing `e0` or zeros.

/// `x` with `sig` significant digits at most (≥ 1): plain between 0.01 and 1e5, else scientific;
/// `-` for NaN, `inf` / `-inf`.
pub fn num_sig(x: f64, sig: usize) -> String {
    let sig = sig.max(1);
    if x.is_nan() {
        return "-".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if x == 0.0 {
        return "0".into();
    }
    // round to `sig` significant digits first, so 9.9996 with 4 digits becomes 10 (not 9.9996)
    let sci = format!("{:.*e}", sig - 1, x);
    let (mant, exp) = sci.split_once('e').expect("{:e} has an exponent");
    let exp: i32 = exp.parse().expect("an integer exponent");
    if (-2..5).contains(&exp) {
        let decimals = (sig as i32 - 1 - exp).max(0) as usize;
        trim(&format!("{:.*}", decimals, mant.parse::<f64>().unwrap() * 10f64.powi(exp)))
    } else {
        format!("{}e{}", trim(mant), exp)
    }
}

/// [`num_sig`] with 4 significant digits.
pub fn num(x: f64) -> String {
    num_sig(x, 4)
}

/// `1.500` -> `1.5`, `2.000` -> `2`.
fn trim(s: &str) -> String {
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_for_people() {
        for (x, want) in [
            (0.264, "0.264"),
            (1500.0, "1500"),
            (12.3456, "12.35"),
            (2.5e-3, "2.5e-3"),
            (2.5e-3 * 1.0000001, "2.5e-3"),
            (1e-4, "1e-4"),
            (3.491, "3.491"),
            (3_490_000.0, "3.49e6"),
            (-0.5, "-0.5"),
            (9.99996, "10"),
            (0.001, "1e-3"),
            (0.0123, "0.0123"),
            (99999.0, "1e5"),
            (0.0, "0"),
            (f64::NAN, "-"),
            (f64::INFINITY, "inf"),
            (1.000000052749614e-3, "1e-3"),
        ] {
            assert_eq!(num(x), want, "{x}");
        }
        assert_eq!(num_sig(2.5e-3, 1), "3e-3");
        assert_eq!(num_sig(0.123456, 2), "0.12");
    }
}
