//! The instruments the simulated exchange lists: real contract codes on all six
//! futures exchanges, with plausible prices, ticks, multipliers, margin and commission.

/// How a commission rate is charged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Commission {
    /// Per lot.
    pub by_volume: f64,
    /// Fraction of the traded amount (price x volume x multiplier).
    pub by_money: f64,
}

impl Commission {
    const fn lots(v: f64) -> Commission {
        Commission {
            by_volume: v,
            by_money: 0.0,
        }
    }
    const fn money(r: f64) -> Commission {
        Commission {
            by_volume: 0.0,
            by_money: r,
        }
    }
    /// The commission of `volume` lots at `price`.
    pub fn of(&self, price: f64, volume: i32, multiple: i32) -> f64 {
        let v = f64::from(volume);
        self.by_volume * v + self.by_money * price * v * f64::from(multiple)
    }
}

/// One listed contract.
#[derive(Debug, Clone, PartialEq)]
pub struct InstrumentSpec {
    pub id: &'static str,
    pub exchange: &'static str,
    pub product: &'static str,
    /// CTP's InstrumentName (GBK on the wire from real fronts; UTF-8 here).
    pub name: &'static str,
    pub price_tick: f64,
    pub multiple: i32,
    /// Settlement price of the previous day; the random walk starts here.
    pub pre_settlement: f64,
    /// Daily price limit as a fraction of the previous settlement.
    pub limit_ratio: f64,
    pub long_margin_ratio: f64,
    pub short_margin_ratio: f64,
    pub open_commission: Commission,
    pub close_commission: Commission,
    pub close_today_commission: Commission,
    pub max_limit_volume: i32,
    pub max_market_volume: i32,
    pub create_date: &'static str,
    pub expire_date: &'static str,
    /// A typical open interest, for the generated quotes.
    pub open_interest: f64,
}

impl InstrumentSpec {
    /// SHFE and INE keep today's and yesterday's positions apart (CloseToday/Close).
    pub fn splits_today(&self) -> bool {
        matches!(self.exchange, "SHFE" | "INE")
    }

    /// SHFE and INE take no market orders.
    pub fn allows_market_orders(&self) -> bool {
        !matches!(self.exchange, "SHFE" | "INE")
    }

    /// Decimal places needed to show a price of this instrument.
    pub fn price_decimals(&self) -> usize {
        decimals_of(self.price_tick)
    }

    /// The nearest multiple of the tick.
    pub fn round_to_tick(&self, price: f64) -> f64 {
        let t = (price / self.price_tick).round() * self.price_tick;
        round_decimals(t, self.price_decimals())
    }

    /// Whether `price` is a whole number of ticks.
    pub fn on_tick(&self, price: f64) -> bool {
        let n = price / self.price_tick;
        (n - n.round()).abs() < 1e-6
    }

    /// Upper and lower limit prices of a day settled at the listed price.
    pub fn limits(&self) -> (f64, f64) {
        self.limits_around(self.pre_settlement)
    }

    /// Upper and lower limit prices of a day whose previous settlement is `settle`.
    pub fn limits_around(&self, settle: f64) -> (f64, f64) {
        let span = settle * self.limit_ratio;
        let ticks = (span / self.price_tick).floor();
        let up = round_decimals(settle + ticks * self.price_tick, self.price_decimals());
        let down = round_decimals(settle - ticks * self.price_tick, self.price_decimals());
        (up, down)
    }
}

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

// Positional arguments keep the instrument table below one readable row each.
#[allow(clippy::too_many_arguments)]
const fn spec(
    id: &'static str,
    exchange: &'static str,
    product: &'static str,
    name: &'static str,
    price_tick: f64,
    multiple: i32,
    pre_settlement: f64,
    limit_ratio: f64,
    margin: f64,
    open: Commission,
    close_today: Commission,
    dates: (&'static str, &'static str),
    open_interest: f64,
) -> InstrumentSpec {
    InstrumentSpec {
        id,
        exchange,
        product,
        name,
        price_tick,
        multiple,
        pre_settlement,
        limit_ratio,
        long_margin_ratio: margin,
        short_margin_ratio: margin,
        open_commission: open,
        close_commission: open,
        close_today_commission: close_today,
        max_limit_volume: 500,
        max_market_volume: 100,
        create_date: dates.0,
        expire_date: dates.1,
        open_interest,
    }
}

/// Everything the sim lists.
pub static INSTRUMENTS: &[InstrumentSpec] = &[
    spec(
        "au2602",
        "SHFE",
        "au",
        "黄金2602",
        0.02,
        1000,
        952.40,
        0.10,
        0.16,
        Commission::lots(10.0),
        Commission::lots(0.0),
        ("20250115", "20260213"),
        152_300.0,
    ),
    spec(
        "ag2602",
        "SHFE",
        "ag",
        "白银2602",
        1.0,
        15,
        12_486.0,
        0.12,
        0.17,
        Commission::money(0.00005),
        Commission::money(0.00005),
        ("20250115", "20260213"),
        387_400.0,
    ),
    spec(
        "rb2605",
        "SHFE",
        "rb",
        "螺纹钢2605",
        1.0,
        10,
        3_169.0,
        0.07,
        0.10,
        Commission::money(0.0001),
        Commission::money(0.0001),
        ("20250515", "20260515"),
        1_175_559.0,
    ),
    spec(
        "cu2601",
        "SHFE",
        "cu",
        "铜2601",
        10.0,
        5,
        86_420.0,
        0.08,
        0.12,
        Commission::money(0.00005),
        Commission::money(0.0001),
        ("20241216", "20260115"),
        198_700.0,
    ),
    spec(
        "sc2601",
        "INE",
        "sc",
        "原油2601",
        0.1,
        1000,
        468.3,
        0.10,
        0.15,
        Commission::lots(20.0),
        Commission::lots(0.0),
        ("20231205", "20251219"),
        32_100.0,
    ),
    spec(
        "m2605",
        "DCE",
        "m",
        "豆粕2605",
        1.0,
        10,
        2_948.0,
        0.07,
        0.08,
        Commission::lots(1.5),
        Commission::lots(1.5),
        ("20250515", "20260515"),
        1_702_300.0,
    ),
    spec(
        "i2605",
        "DCE",
        "i",
        "铁矿石2605",
        0.5,
        100,
        781.5,
        0.10,
        0.13,
        Commission::money(0.0001),
        Commission::money(0.0001),
        ("20250515", "20260515"),
        612_800.0,
    ),
    spec(
        "TA601",
        "CZCE",
        "TA",
        "PTA601",
        2.0,
        5,
        4_702.0,
        0.07,
        0.08,
        Commission::lots(3.0),
        Commission::lots(0.0),
        ("20241216", "20260115"),
        1_024_600.0,
    ),
    spec(
        "SR605",
        "CZCE",
        "SR",
        "白糖605",
        1.0,
        10,
        5_412.0,
        0.07,
        0.08,
        Commission::lots(3.0),
        Commission::lots(0.0),
        ("20250515", "20260515"),
        386_500.0,
    ),
    spec(
        "IF2512",
        "CFFEX",
        "IF",
        "沪深300股指2512",
        0.2,
        300,
        4_552.6,
        0.10,
        0.12,
        Commission::money(0.000023),
        Commission::money(0.00023),
        ("20250422", "20251219"),
        96_400.0,
    ),
    spec(
        "IC2512",
        "CFFEX",
        "IC",
        "中证500股指2512",
        0.2,
        200,
        7_046.4,
        0.10,
        0.12,
        Commission::money(0.000023),
        Commission::money(0.00023),
        ("20250422", "20251219"),
        64_200.0,
    ),
    spec(
        "lc2605",
        "GFEX",
        "lc",
        "碳酸锂2605",
        20.0,
        1,
        75_180.0,
        0.09,
        0.12,
        Commission::money(0.00032),
        Commission::money(0.00032),
        ("20250506", "20260515"),
        289_400.0,
    ),
    spec(
        "si2605",
        "GFEX",
        "si",
        "工业硅2605",
        5.0,
        5,
        8_825.0,
        0.07,
        0.10,
        Commission::money(0.0001),
        Commission::money(0.0001),
        ("20250506", "20260515"),
        231_900.0,
    ),
];

/// Looks an instrument up by its exact ID (CTP IDs are case-sensitive).
pub fn find(id: &str) -> Option<&'static InstrumentSpec> {
    INSTRUMENTS.iter().find(|s| s.id == id)
}

/// The index of an instrument in [`INSTRUMENTS`].
pub fn index_of(id: &str) -> Option<usize> {
    INSTRUMENTS.iter().position(|s| s.id == id)
}

/// Exchange names as CTP's ReqQryExchange reports them.
pub static EXCHANGES: &[(&str, &str)] = &[
    ("CFFEX", "中国金融期货交易所"),
    ("CZCE", "郑州商品交易所"),
    ("DCE", "大连商品交易所"),
    ("GFEX", "广州期货交易所"),
    ("INE", "上海国际能源交易中心"),
    ("SHFE", "上海期货交易所"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_exchange_is_listed_and_prices_sit_on_ticks() {
        for (ex, _) in EXCHANGES {
            assert!(INSTRUMENTS.iter().any(|s| s.exchange == *ex), "{ex}");
        }
        for s in INSTRUMENTS {
            assert!(s.on_tick(s.pre_settlement), "{}", s.id);
            let (up, down) = s.limits();
            assert!(s.on_tick(up) && s.on_tick(down), "{}", s.id);
            assert!(up > s.pre_settlement && down < s.pre_settlement);
        }
        assert_eq!(decimals_of(0.02), 2);
        assert_eq!(decimals_of(0.5), 1);
        assert_eq!(decimals_of(10.0), 0);
    }
}
