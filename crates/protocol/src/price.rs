//! Prices as CTP's instruments quote them: a tick size fixes how many decimals a price
//! has (0.02 -> 2, 5 -> 0), and arithmetic on ticks is rounded back to them.

/// Decimal places of a tick size such as 0.02 (2) or 5 (0).
pub fn decimals_of(tick: f64) -> usize {
    (0..8)
        .find(|&d| {
            let s = tick * 10f64.powi(d as i32);
            (s - s.round()).abs() < 1e-9
        })
        .unwrap_or(8)
}

/// Rounds away binary noise (3170.0000000001 -> 3170).
pub fn round_decimals(v: f64, decimals: usize) -> f64 {
    let f = 10f64.powi(decimals as i32);
    (v * f).round() / f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_follow_the_tick() {
        assert_eq!(decimals_of(0.02), 2);
        assert_eq!(decimals_of(5.0), 0);
        assert_eq!(decimals_of(0.5), 1);
        assert_eq!(decimals_of(0.0001), 4);
        assert_eq!(round_decimals(3_170.000_000_000_1, 0), 3170.0);
        assert_eq!(round_decimals(0.1 + 0.2, 2), 0.3);
    }
}
