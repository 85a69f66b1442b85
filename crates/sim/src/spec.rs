//! One instrument's terms ([`InstrumentSpec`]): tick, multiplier, limits, margins,
//! commissions, and an option's terms — and how a listing builds them from the
//! product table. The table of every listed instrument is `instruments.rs`.

use serde::{Deserialize, Deserializer, Serialize};

use webctp_protocol::price::{decimals_of, round_decimals};

use super::listing::{self, Contract};
use super::products::{Product, static_exchange};

/// How a commission rate is charged.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Commission {
    /// Per lot.
    pub by_volume: f64,
    /// Fraction of the traded amount (price x volume x multiplier).
    pub by_money: f64,
}

impl Commission {
    /// The commission of `volume` lots at `price`.
    pub fn of(&self, price: f64, volume: i32, multiple: i32) -> f64 {
        let v = f64::from(volume);
        self.by_volume * v + self.by_money * price * v * f64::from(multiple)
    }
}

/// What makes an option an option.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptionTerms {
    /// Index of the underlying futures contract in the table (found again from
    /// `underlying_id` when a snapshot is read).
    #[serde(skip)]
    pub underlying: usize,
    pub underlying_id: String,
    pub call: bool,
    pub strike: f64,
    /// Its last trading (and exercise) day.
    pub expiry: i64,
    pub vol: f64,
    pub rate: f64,
}

/// One listed contract. The ledger's snapshot keeps the specs of the day (a contract's
/// terms are fixed when it is listed, and an option's depend on the prices of that day).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstrumentSpec {
    pub id: String,
    #[serde(deserialize_with = "exchange_id")]
    pub exchange: ExchangeId,
    /// CTP's ProductID (`rb`, `m_o`, `IO`).
    pub product: String,
    /// The futures product in the table (of the underlying, for options); found again
    /// from `product` when a snapshot is read.
    #[serde(skip)]
    pub product_index: usize,
    /// CTP's InstrumentName (GBK on the wire from real fronts; UTF-8 here).
    pub name: String,
    pub price_tick: f64,
    pub multiple: i32,
    /// Settlement price before its first day; the random walk starts here.
    pub pre_settlement: f64,
    /// Daily price limit as a fraction of the previous settlement...
    pub limit_ratio: f64,
    /// ...or in price points (options: the underlying's limit).
    pub limit_points: Option<f64>,
    pub long_margin_ratio: f64,
    pub short_margin_ratio: f64,
    /// Added to a short option's margin per lot (half the underlying's margin).
    pub short_margin_fixed: f64,
    pub open_commission: Commission,
    pub close_commission: Commission,
    pub close_today_commission: Commission,
    pub max_limit_volume: i32,
    pub max_market_volume: i32,
    pub create_date: String,
    pub expire_date: String,
    pub delivery_year: i32,
    pub delivery_month: i32,
    /// A typical open interest, for the generated quotes.
    pub open_interest: f64,
    pub option: Option<OptionTerms>,
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
        let span = self.limit_points.unwrap_or(settle * self.limit_ratio);
        let ticks = (span / self.price_tick).floor().max(1.0);
        let d = self.price_decimals();
        let up = round_decimals(settle + ticks * self.price_tick, d);
        let down = round_decimals(settle - ticks * self.price_tick, d);
        // An option never goes below one tick.
        let floor = if self.option.is_some() {
            self.price_tick
        } else {
            self.price_tick.min(settle)
        };
        (up, down.max(floor))
    }
}

/// An exchange's ID. (An alias, so that serde does not take the field for a string
/// borrowed from its input.)
pub type ExchangeId = &'static str;

fn exchange_id<'de, D: Deserializer<'de>>(d: D) -> Result<ExchangeId, D::Error> {
    let id = String::deserialize(d)?;
    static_exchange(&id).ok_or_else(|| serde::de::Error::custom(format!("unknown exchange {id}")))
}

/// A strike as it appears in a code: `960`, `4500`, `2.5`.
pub(crate) fn strike_text(k: f64) -> String {
    let s = format!("{}", round_decimals(k, 4));
    s.trim_end_matches(".0").to_string()
}

pub(crate) fn future_spec(
    p: &Product,
    pi: usize,
    c: &Contract,
    id: &str,
    price: f64,
) -> InstrumentSpec {
    let digits: String = id.chars().filter(char::is_ascii_digit).collect();
    InstrumentSpec {
        id: id.to_string(),
        exchange: p.exchange,
        product: p.id.clone(),
        product_index: pi,
        name: format!("{}{digits}", p.name),
        price_tick: p.tick,
        multiple: p.multiple,
        pre_settlement: price,
        limit_ratio: p.limit,
        limit_points: None,
        long_margin_ratio: p.margin,
        short_margin_ratio: p.margin,
        short_margin_fixed: 0.0,
        open_commission: p.fee,
        close_commission: p.fee,
        close_today_commission: p.close_today_fee,
        max_limit_volume: p.max_volume,
        max_market_volume: p.max_volume.min(100),
        create_date: super::clock::date_string(c.first_day),
        expire_date: super::clock::date_string(c.last_day),
        delivery_year: c.year as i32,
        delivery_month: c.month as i32,
        open_interest: (p.open_interest * c.weight).round(),
        option: None,
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn option_spec(
    p: &Product,
    pi: usize,
    underlying: &InstrumentSpec,
    terms: OptionTerms,
    om: &listing::OptionMonth,
    id: &str,
    premium: f64,
    day: i64,
) -> InstrumentSpec {
    let Some(o) = &p.options else {
        unreachable!("option_spec is only called for products with options")
    };
    let yymm = format!("{:02}{:02}", om.year.rem_euclid(100), om.month);
    let name = format!(
        "{}{yymm}{}{}",
        p.name,
        if terms.call { "购" } else { "沽" },
        strike_text(terms.strike)
    );
    let mult = f64::from(o.multiple);
    InstrumentSpec {
        id: id.to_string(),
        exchange: p.exchange,
        product: o.id.clone(),
        product_index: pi,
        name,
        price_tick: o.tick,
        multiple: o.multiple,
        pre_settlement: premium,
        limit_ratio: p.limit,
        // The option moves at most as far as its underlying.
        limit_points: Some(underlying.pre_settlement * p.limit),
        // A buyer's "margin" is the premium itself; a seller adds half the
        // underlying's margin on the strike (the exchanges' minimum margin term).
        long_margin_ratio: 1.0,
        short_margin_ratio: 1.0,
        short_margin_fixed: 0.5 * p.margin * terms.strike * mult,
        open_commission: o.fee,
        close_commission: o.fee,
        close_today_commission: o.fee,
        max_limit_volume: p.max_volume.min(200),
        max_market_volume: p.max_volume.min(100),
        create_date: super::clock::date_string(day),
        expire_date: super::clock::date_string(terms.expiry),
        delivery_year: om.year as i32,
        delivery_month: om.month as i32,
        open_interest: 2000.0,
        option: Some(terms),
    }
}
