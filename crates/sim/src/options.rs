//! Option prices: Black-76 on the underlying futures price, put on the tick grid so
//! that the quoted call and put of a strike keep put-call parity within half a tick.

/// The standard normal distribution function (Abramowitz & Stegun 7.1.26 on erf,
/// absolute error below 1.5e-7 — far below any option tick).
pub fn norm_cdf(x: f64) -> f64 {
    let z = x.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * z);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-z * z).exp();
    if x >= 0.0 {
        0.5 * (1.0 + erf)
    } else {
        0.5 * (1.0 - erf)
    }
}

/// The Black-76 value of a European option on a future at `f`, strike `k`, `t` years
/// to expiry, volatility `vol`, rate `r`.
pub fn black76(call: bool, f: f64, k: f64, t: f64, vol: f64, r: f64) -> f64 {
    let disc = (-r * t).exp();
    if t <= 0.0 || vol <= 0.0 || f <= 0.0 || k <= 0.0 {
        let intrinsic = if call { f - k } else { k - f };
        return disc * intrinsic.max(0.0);
    }
    let sd = vol * t.sqrt();
    let d1 = ((f / k).ln() + 0.5 * sd * sd) / sd;
    let d2 = d1 - sd;
    if call {
        disc * (f * norm_cdf(d1) - k * norm_cdf(d2))
    } else {
        disc * (k * norm_cdf(-d2) - f * norm_cdf(-d1))
    }
}

fn on_tick(v: f64, tick: f64) -> f64 {
    let d = super::instruments::decimals_of(tick);
    super::instruments::round_decimals((v / tick).round() * tick, d)
}

/// Quoted `(call, put)` of one strike: the out-of-the-money side is its Black-76 value
/// on the tick grid (at least one tick, the smallest price an exchange accepts); the
/// in-the-money side is that plus the discounted intrinsic value, so `C - P` is within
/// half a tick of `e^{-rT}(F - K)` whatever the rounding.
pub fn quote_pair(f: f64, k: f64, t: f64, vol: f64, r: f64, tick: f64) -> (f64, f64) {
    let forward = (-r * t.max(0.0)).exp() * (f - k);
    if k < f {
        let put = on_tick(black76(false, f, k, t, vol, r), tick).max(tick);
        (on_tick(put + forward, tick), put)
    } else {
        let call = on_tick(black76(true, f, k, t, vol, r), tick).max(tick);
        (call, on_tick(call - forward, tick))
    }
}

/// Years from `today` to an expiry day (day numbers); the expiry day itself counts as
/// half a day, so an option never has zero time left while it trades.
pub fn years_to(expiry: i64, today: i64) -> f64 {
    ((expiry - today) as f64 + 0.5).max(0.5) / 365.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn black76_matches_known_values_and_parity() {
        // F=100, K=100, T=1, vol=20%, r=0: 100 * (2N(0.1) - 1) = 7.9656.
        let c = black76(true, 100.0, 100.0, 1.0, 0.2, 0.0);
        assert!((c - 7.9656).abs() < 1e-3, "{c}");
        let (f, k, t, v, r) = (3000.0, 2900.0, 0.25, 0.2, 0.015);
        let c = black76(true, f, k, t, v, r);
        let p = black76(false, f, k, t, v, r);
        assert!((c - p - (-r * t).exp() * (f - k)).abs() < 1e-6);
        assert!((norm_cdf(1.96) - 0.975).abs() < 1e-4);
    }

    #[test]
    fn quoted_pairs_keep_parity_and_monotonicity() {
        let (f, t, v, r, tick) = (2948.0, 0.3, 0.2, 0.015, 0.5);
        let mut last: Option<(f64, f64)> = None;
        for i in -10..=10 {
            let k = 2950.0 + 50.0 * f64::from(i);
            let (c, p) = quote_pair(f, k, t, v, r, tick);
            let parity = (-r * t).exp() * (f - k);
            assert!((c - p - parity).abs() <= tick / 2.0 + 1e-9, "{k}: {c} {p}");
            assert!(c >= tick && p >= tick);
            if let Some((lc, lp)) = last {
                assert!(c <= lc && p >= lp, "{k}");
            }
            last = Some((c, p));
        }
    }
}
