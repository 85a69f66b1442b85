//! The simulated market of one instrument: a random walk of the last price (options:
//! their Black-76 value on the underlying's price) with a five-level book around it,
//! and the DepthMarketData snapshot a CTP front would send.

use std::sync::Arc;

use super::clock::BeijingTime;
use super::instruments::{InstrumentSpec, round_decimals};
use super::options;
use super::rng::Rng;
use webctp_protocol::fields::DepthMarketData;

/// CTP's "no value" for prices.
pub const UNSET: f64 = f64::MAX;

/// One price level: price and resting volume.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Level {
    pub price: f64,
    pub volume: i32,
}

/// The market state of one instrument for the current trading day.
#[derive(Debug, Clone)]
pub struct Quote {
    pub spec: Arc<InstrumentSpec>,
    /// The previous day's settlement price: limits and the walk's anchor.
    pub pre_settlement: f64,
    pub last: f64,
    pub pre_close: f64,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub volume: i32,
    pub turnover: f64,
    pub open_interest: f64,
    pub pre_open_interest: f64,
    pub upper_limit: f64,
    pub lower_limit: f64,
    pub bids: [Level; 5],
    pub asks: [Level; 5],
    /// How many snapshots were generated (for tests and stamps).
    pub sequence: u64,
    /// Share of its product's trading (1.0 for the main contract): scales volume.
    pub activity: f64,
}

impl Quote {
    /// Opens a day whose previous settlement is `pre_settlement` at `start` (the last
    /// price seen, or the settlement price).
    pub fn new(
        spec: Arc<InstrumentSpec>,
        pre_settlement: f64,
        start: Option<f64>,
        rng: &mut Rng,
    ) -> Quote {
        let pre_settlement = spec.round_to_tick(pre_settlement);
        let (upper, lower) = spec.limits_around(pre_settlement);
        let last = start
            .filter(|p| p.is_finite() && *p > lower && *p < upper)
            .map_or(pre_settlement, |p| spec.round_to_tick(p));
        let pre_close = spec
            .round_to_tick(pre_settlement + spec.price_tick * rng.range(-3, 3) as f64)
            .max(lower);
        let open_interest = spec.open_interest;
        let mut q = Quote {
            spec,
            pre_settlement,
            last,
            pre_close,
            open: last,
            high: last,
            low: last,
            volume: 0,
            turnover: 0.0,
            open_interest,
            pre_open_interest: open_interest,
            upper_limit: upper,
            lower_limit: lower,
            bids: [Level {
                price: 0.0,
                volume: 0,
            }; 5],
            asks: [Level {
                price: 0.0,
                volume: 0,
            }; 5],
            sequence: 0,
            activity: 1.0,
        };
        q.rebuild_book(rng);
        q
    }

    /// Sets its share of the product's trading and the open interest that goes with it.
    pub fn set_activity(&mut self, activity: f64, product_open_interest: f64) {
        self.activity = activity.clamp(0.0, 1.0);
        let oi = (product_open_interest * self.activity).round();
        self.open_interest = oi;
        self.pre_open_interest = oi;
    }

    fn clamp(&self, p: f64) -> f64 {
        p.min(self.upper_limit).max(self.lower_limit)
    }

    fn rebuild_book(&mut self, rng: &mut Rng) {
        let tick = self.spec.price_tick;
        let d = self.spec.price_decimals();
        // Mostly a one-tick spread with the last price on one side of it.
        let bid1 = if rng.unit() < 0.5 {
            self.last
        } else {
            self.last - tick
        };
        for i in 0..5 {
            let bp = round_decimals(bid1 - tick * i as f64, d);
            let ap = round_decimals(bid1 + tick * (i + 1) as f64, d);
            self.bids[i] = Level {
                price: if bp >= self.lower_limit { bp } else { 0.0 },
                volume: if bp >= self.lower_limit {
                    rng.range(1, 300) as i32
                } else {
                    0
                },
            };
            self.asks[i] = Level {
                price: if ap <= self.upper_limit { ap } else { 0.0 },
                volume: if ap <= self.upper_limit {
                    rng.range(1, 300) as i32
                } else {
                    0
                },
            };
        }
    }

    /// Moves the market one step: the price walks a tick or two (pulled back towards
    /// the settlement price), some volume trades, the book is redrawn.
    pub fn step(&mut self, rng: &mut Rng) {
        let tick = self.spec.price_tick;
        let span = self.pre_settlement * self.spec.limit_ratio;
        let drift = (self.last - self.pre_settlement) / span; // -1..1
        let r = rng.unit();
        if r < 0.55 {
            let up = rng.unit() < 0.5 - 0.35 * drift;
            let size = if rng.unit() < 0.85 { 1.0 } else { 2.0 };
            let next = self.last + if up { tick * size } else { -tick * size };
            self.last = self.spec.round_to_tick(self.clamp(next));
        }
        let traded = rng.range(1, (40.0 * self.activity).ceil().max(2.0) as i64) as i32;
        self.record_trade(self.last, traded);
        self.open_interest =
            (self.open_interest + rng.range(-(traded as i64), traded as i64) as f64).max(0.0);
        self.rebuild_book(rng);
        self.sequence += 1;
    }

    /// Moves an option to its value at the underlying price `f` on day `today` (a day
    /// number): the quoted price of its side of the strike (see
    /// [`options::quote_pair`]), some volume, a new book.
    pub fn step_option(&mut self, f: f64, today: i64, rng: &mut Rng) {
        let Some(o) = self.spec.option.clone() else {
            return self.step(rng);
        };
        let t = options::years_to(o.expiry, today);
        let (call, put) = options::quote_pair(f, o.strike, t, o.vol, o.rate, self.spec.price_tick);
        let price = if o.call { call } else { put };
        self.last = self.spec.round_to_tick(self.clamp(price));
        if rng.unit() < 0.3 {
            let traded = rng.range(1, (20.0 * self.activity).ceil().max(2.0) as i64) as i32;
            self.record_trade(self.last, traded);
        }
        self.rebuild_book(rng);
        self.sequence += 1;
    }

    /// Adds a trade at `price` to the day's statistics.
    pub fn record_trade(&mut self, price: f64, volume: i32) {
        if volume <= 0 {
            return;
        }
        if self.volume == 0 {
            self.open = price;
            self.high = price;
            self.low = price;
        }
        self.last = price;
        self.high = self.high.max(price);
        self.low = self.low.min(price);
        self.volume = self.volume.saturating_add(volume);
        self.turnover += price * f64::from(volume) * f64::from(self.spec.multiple);
    }

    /// Takes up to `volume` lots from the book side a buy (`true`) or sell order meets,
    /// at prices no worse than `limit` (`None` = any). Returns the fills.
    pub fn take(&mut self, buy: bool, volume: i32, limit: Option<f64>) -> Vec<(f64, i32)> {
        let mut fills = Vec::new();
        let mut left = volume;
        let levels = if buy { &mut self.asks } else { &mut self.bids };
        for level in levels.iter_mut() {
            if left == 0 {
                break;
            }
            if level.volume == 0 || level.price == 0.0 {
                continue;
            }
            let acceptable = match limit {
                None => true,
                Some(l) if buy => level.price <= l + 1e-9,
                Some(l) => level.price >= l - 1e-9,
            };
            if !acceptable {
                break;
            }
            let n = left.min(level.volume);
            level.volume -= n;
            left -= n;
            fills.push((level.price, n));
        }
        fills
    }

    /// The snapshot a CTP front sends. Unset prices are DBL_MAX, as CTP sends them.
    ///
    /// ActionDay is the calendar day, except on DCE, whose fronts send the trading day
    /// there too (so a night tick carries the next day in both fields): vnpy's CTP
    /// gateway replaces DCE's ActionDay with the local date for this reason
    /// (vnpy/vnpy_ctp#34), and QuantBox/QuantBox.Data#3 lists DCE's ActionDay as the
    /// trading day.
    pub fn snapshot(&self, trading_day: &str, now: &BeijingTime) -> DepthMarketData {
        let s = &*self.spec;
        let average = if self.volume > 0 {
            let avg = self.turnover / f64::from(self.volume);
            // CZCE reports the average price per unit; the others per lot.
            if s.exchange == "CZCE" {
                avg / f64::from(s.multiple)
            } else {
                avg
            }
        } else {
            0.0
        };
        let traded = self.volume > 0;
        let level = |l: &Level| if l.volume > 0 { l.price } else { UNSET };
        DepthMarketData {
            TradingDay: trading_day.to_string(),
            reserve1: s.id.clone(),
            ExchangeID: s.exchange.to_string(),
            reserve2: String::new(),
            LastPrice: self.last,
            PreSettlementPrice: self.pre_settlement,
            PreClosePrice: self.pre_close,
            PreOpenInterest: self.pre_open_interest,
            OpenPrice: if traded { self.open } else { UNSET },
            HighestPrice: if traded { self.high } else { UNSET },
            LowestPrice: if traded { self.low } else { UNSET },
            Volume: self.volume,
            Turnover: self.turnover,
            OpenInterest: self.open_interest,
            ClosePrice: UNSET,
            SettlementPrice: UNSET,
            UpperLimitPrice: self.upper_limit,
            LowerLimitPrice: self.lower_limit,
            PreDelta: 0.0,
            CurrDelta: UNSET,
            UpdateTime: now.time(),
            UpdateMillisec: now.millis as i32,
            BidPrice1: level(&self.bids[0]),
            BidVolume1: self.bids[0].volume,
            AskPrice1: level(&self.asks[0]),
            AskVolume1: self.asks[0].volume,
            BidPrice2: level(&self.bids[1]),
            BidVolume2: self.bids[1].volume,
            AskPrice2: level(&self.asks[1]),
            AskVolume2: self.asks[1].volume,
            BidPrice3: level(&self.bids[2]),
            BidVolume3: self.bids[2].volume,
            AskPrice3: level(&self.asks[2]),
            AskVolume3: self.asks[2].volume,
            BidPrice4: level(&self.bids[3]),
            BidVolume4: self.bids[3].volume,
            AskPrice4: level(&self.asks[3]),
            AskVolume4: self.asks[3].volume,
            BidPrice5: level(&self.bids[4]),
            BidVolume5: self.bids[4].volume,
            AskPrice5: level(&self.asks[4]),
            AskVolume5: self.asks[4].volume,
            AveragePrice: average,
            ActionDay: if s.exchange == "DCE" {
                trading_day.to_string()
            } else {
                now.date()
            },
            InstrumentID: s.id.clone(),
            ExchangeInstID: s.id.clone(),
            BandingUpperPrice: 0.0,
            BandingLowerPrice: 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::parse_date;
    use crate::instruments::InstrumentTable;
    use crate::products::ProductTable;

    fn seed_table() -> InstrumentTable {
        let mut t = InstrumentTable::new(ProductTable::embedded());
        t.list_for(parse_date("20251203").unwrap(), &|_| 0.0);
        t
    }

    #[test]
    fn walk_stays_on_ticks_and_inside_limits() {
        let mut rng = Rng::new(7);
        let table = seed_table();
        for (_, spec) in table
            .listed()
            .filter(|(_, s)| s.option.is_none())
            .step_by(7)
        {
            let mut q = Quote::new(spec.clone(), spec.pre_settlement, None, &mut rng);
            for _ in 0..5000 {
                q.step(&mut rng);
                assert!(spec.on_tick(q.last), "{} {}", spec.id, q.last);
                assert!(q.last <= q.upper_limit && q.last >= q.lower_limit);
                assert!(q.bids[0].price < q.asks[0].price || q.asks[0].volume == 0);
                for l in q.bids.iter().chain(&q.asks) {
                    assert!(l.volume == 0 || spec.on_tick(l.price));
                }
            }
            let d = q.snapshot("20261124", &BeijingTime::now());
            assert_eq!(d.InstrumentID, spec.id);
            if spec.exchange == "DCE" {
                assert_eq!(d.ActionDay, "20261124");
            }
            assert!(d.Volume > 0 && d.Turnover > 0.0);
            assert_eq!(d.ClosePrice, UNSET);
        }
    }

    #[test]
    fn take_respects_the_limit() {
        let mut rng = Rng::new(1);
        let table = seed_table();
        let spec = table.find("rb2605").unwrap().clone();
        let mut q = Quote::new(spec.clone(), spec.pre_settlement, None, &mut rng);
        let ask1 = q.asks[0].price;
        assert!(q.take(true, 10, Some(ask1 - spec.price_tick)).is_empty());
        let fills = q.take(true, 1, Some(ask1));
        assert_eq!(fills, vec![(ask1, 1)]);
    }
}
