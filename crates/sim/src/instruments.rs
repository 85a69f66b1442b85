//! The instruments the simulated exchange lists: futures contracts of every product in
//! the product table, in each exchange's code style, plus option chains — generated
//! for the trading day and rolled at every day roll.
//!
//! The table only grows while the sim runs: an expired contract stays (unlisted) so
//! that indices held by positions and orders never move. Nothing on disk holds an
//! index: the journal names instruments by ID, and the ledger's snapshot keeps the
//! specs of the day's listed and held instruments (`day_state.rs`), from which a
//! restart rebuilds the same listing.

use std::collections::HashMap;
use std::sync::Arc;

pub use webctp_protocol::price::{decimals_of, round_decimals};

use super::error::SimError;
use super::listing::{self, Contract};
use super::options;
use super::products::{Product, ProductTable, fill_code};
pub use super::spec::{Commission, ExchangeId, InstrumentSpec, OptionTerms};
use super::spec::{future_spec, option_spec, strike_text};

/// Every instrument the sim has listed since it started, and which are listed today.
#[derive(Debug, Clone)]
pub struct InstrumentTable {
    products: Arc<ProductTable>,
    specs: Vec<Arc<InstrumentSpec>>,
    by_id: HashMap<String, usize>,
    listed: Vec<bool>,
    /// Share of the product's activity of each instrument today.
    weight: Vec<f64>,
    day: i64,
}

impl InstrumentTable {
    /// An empty table over `products`.
    pub fn new(products: Arc<ProductTable>) -> InstrumentTable {
        InstrumentTable {
            products,
            specs: Vec::new(),
            by_id: HashMap::new(),
            listed: Vec::new(),
            weight: Vec::new(),
            day: 0,
        }
    }

    /// The product table behind it.
    pub fn products(&self) -> &Arc<ProductTable> {
        &self.products
    }

    /// The trading day it was last listed for (day number).
    pub fn day(&self) -> i64 {
        self.day
    }

    /// How many instruments it holds (listed or not).
    pub fn len(&self) -> usize {
        self.specs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.specs.is_empty()
    }

    /// The instrument at `i`.
    pub fn get(&self, i: usize) -> &Arc<InstrumentSpec> {
        &self.specs[i]
    }

    /// All instruments, listed or not, by index.
    pub fn all(&self) -> &[Arc<InstrumentSpec>] {
        &self.specs
    }

    /// The index of any instrument the table holds (CTP IDs are case-sensitive).
    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.by_id.get(id).copied()
    }

    /// The index of an instrument listed today.
    pub fn listed_index(&self, id: &str) -> Option<usize> {
        self.index_of(id).filter(|&i| self.listed[i])
    }

    /// A listed instrument by ID.
    pub fn find(&self, id: &str) -> Option<&Arc<InstrumentSpec>> {
        self.listed_index(id).map(|i| &self.specs[i])
    }

    /// Whether instrument `i` is listed today.
    pub fn is_listed(&self, i: usize) -> bool {
        self.listed.get(i).copied().unwrap_or(false)
    }

    /// Its share of its product's volume and open interest today.
    pub fn weight(&self, i: usize) -> f64 {
        self.weight.get(i).copied().unwrap_or(0.02)
    }

    /// The instruments listed today, by index.
    pub fn listed(&self) -> impl Iterator<Item = (usize, &Arc<InstrumentSpec>)> + '_ {
        self.specs
            .iter()
            .enumerate()
            .filter(|(i, _)| self.listed[*i])
    }

    /// The futures product of an instrument.
    pub fn product_of(&self, i: usize) -> &Product {
        &self.products.products[self.specs[i].product_index]
    }

    fn push(&mut self, spec: InstrumentSpec) -> usize {
        let i = self.specs.len();
        self.by_id.insert(spec.id.clone(), i);
        self.specs.push(Arc::new(spec));
        self.listed.push(false);
        self.weight.push(0.02);
        i
    }

    /// Lists what the exchanges list on `day`: new contracts are added (priced from
    /// `last`, the current last price of each instrument the table held before this
    /// call), expired ones are unlisted. Returns the indices added.
    pub fn list_for(&mut self, day: i64, last: &dyn Fn(usize) -> f64) -> Vec<usize> {
        self.day = day;
        let before = self.specs.len();
        let last = Prices { before, last };
        self.listed.iter_mut().for_each(|l| *l = false);
        let products = self.products.clone();
        for (pi, product) in products.products.iter().enumerate() {
            let contracts = listing::contracts_of(&products, pi, day);
            let main = listing::main_month(&contracts);
            let mut listed_here = Vec::new();
            // The furthest contract of this product that was already listed: new months
            // continue the curve from its price.
            let mut known: Option<(usize, i64)> = None;
            for c in &contracts {
                let id = product.code_for(c.year, c.month);
                let i = match self.index_of(&id) {
                    Some(i) => i,
                    None => {
                        let price =
                            new_contract_price(product, c, main, known, |i| last.of(self, i));
                        let spec = future_spec(product, pi, c, &id, price);
                        self.push(spec)
                    }
                };
                if i < last.before {
                    known = Some((i, month_index(c.year, c.month)));
                }
                self.listed[i] = true;
                self.weight[i] = c.weight;
                listed_here.push(i);
            }
            if product.options.is_some() {
                self.list_options(pi, &contracts, &listed_here, day, &last);
            }
        }
        (before..self.specs.len()).collect()
    }

    fn list_options(
        &mut self,
        pi: usize,
        futures: &[Contract],
        futures_index: &[usize],
        day: i64,
        last: &Prices<'_>,
    ) {
        let products = self.products.clone();
        let p = &products.products[pi];
        let Some(o) = &p.options else { return };
        let rate = products.risk_free_rate;
        let months = listing::option_months(&products, pi, futures, day);
        let live: Vec<(i64, u32)> = months.iter().map(|m| (m.year, m.month)).collect();
        // Strikes listed on earlier days stay until their month expires.
        for (i, s) in self.specs.iter().enumerate() {
            if let Some(t) = &s.option
                && s.product == o.id
                && t.expiry >= day
                && live.contains(&(i64::from(s.delivery_year), s.delivery_month as u32))
            {
                self.listed[i] = true;
                self.weight[i] = 0.02;
            }
        }
        for om in &months {
            let ui = futures_index[om.underlying];
            let underlying = self.specs[ui].clone();
            let f = last.of(self, ui);
            let step = o.steps.step_at(f);
            let atm = (f / step).round() * step;
            let t = options::years_to(om.expiry, day);
            for k in -i64::from(o.strikes)..=i64::from(o.strikes) {
                let strike = round_decimals(atm + step * k as f64, 4);
                if strike <= 0.0 {
                    continue;
                }
                let (call_q, put_q) = options::quote_pair(f, strike, t, o.vol, rate, o.tick);
                for (call, premium) in [(true, call_q), (false, put_q)] {
                    let id = fill_code(&o.code, &o.id, om.year, om.month)
                        .replace("{underlying}", &underlying.id)
                        .replace("{cp}", if call { "C" } else { "P" })
                        .replace("{strike}", &strike_text(strike));
                    let i = match self.index_of(&id) {
                        Some(i) => i,
                        None => {
                            let terms = OptionTerms {
                                underlying: ui,
                                underlying_id: underlying.id.clone(),
                                call,
                                strike,
                                expiry: om.expiry,
                                vol: o.vol,
                                rate,
                            };
                            let spec =
                                option_spec(p, pi, &underlying, terms, om, &id, premium, day);
                            self.push(spec)
                        }
                    };
                    self.listed[i] = true;
                    // Near the money trades most.
                    let moneyness = ((strike - f) / (step * 3.0)).powi(2);
                    self.weight[i] = (0.05 * (-moneyness).exp()).max(0.005);
                }
            }
        }
    }

    /// Adds (unlisted) an instrument kept by a snapshot, linking it to the product table
    /// and, for an option, to its underlying (which must come first). `Err` says why it
    /// cannot be linked.
    pub fn restore(&mut self, mut spec: InstrumentSpec) -> Result<usize, SimError> {
        if let Some(i) = self.index_of(&spec.id) {
            return Ok(i);
        }
        let products = self.products.clone();
        spec.product_index = match &spec.option {
            None => products.product_index(&spec.product),
            Some(_) => products
                .products
                .iter()
                .position(|p| p.options.as_ref().is_some_and(|o| o.id == spec.product)),
        }
        .filter(|&pi| products.products[pi].exchange == spec.exchange)
        .ok_or_else(|| SimError::UnknownProduct {
            product: spec.product.clone(),
            exchange: spec.exchange.to_string(),
        })?;
        if let Some(o) = &mut spec.option {
            o.underlying =
                self.index_of(&o.underlying_id)
                    .ok_or_else(|| SimError::MissingUnderlying {
                        underlying: o.underlying_id.clone(),
                    })?;
        }
        Ok(self.push(spec))
    }

    /// Finds or adds an instrument named in a journal written on another day (or by an
    /// older webctp): a futures code of a known product is rebuilt, unlisted.
    pub fn resolve(&mut self, id: &str) -> Option<usize> {
        if let Some(i) = self.index_of(id) {
            return Some(i);
        }
        let split = id.find(|c: char| c.is_ascii_digit())?;
        let (code, digits) = id.split_at(split);
        let pi = self.products.product_index(code)?;
        let p = self.products.products[pi].clone();
        let (y, m) = match digits.len() {
            4 => (
                2000 + digits[..2].parse::<i64>().ok()?,
                digits[2..].parse::<u32>().ok()?,
            ),
            3 => {
                // One year digit: the year of that decade nearest the table's day.
                let (today, _, _) = super::clock::ymd(self.day);
                let d = digits[..1].parse::<i64>().ok()?;
                let y = (today - 5..=today + 5).find(|y| y.rem_euclid(10) == d)?;
                (y, digits[1..].parse::<u32>().ok()?)
            }
            _ => return None,
        };
        if !(1..=12).contains(&m) || p.code_for(y, m) != id {
            return None;
        }
        let cal = &self.products.calendar;
        let c = Contract {
            product: pi,
            year: y,
            month: m,
            first_day: self.day,
            last_day: p.last_day.resolve(cal, y, m),
            weight: 0.02,
        };
        let spec = future_spec(&p, pi, &c, id, p.price);
        Some(self.push(spec))
    }
}

/// The main futures contract of every product of the built-in table on `day`
/// (`YYYYMMDD`), in table order: a spread of instruments over all six exchanges, for
/// tools that need IDs without a running sim.
pub fn main_contracts_on(day: &str) -> Vec<String> {
    let Some(day) = super::clock::parse_date(day) else {
        return Vec::new();
    };
    let table = ProductTable::embedded();
    (0..table.products.len())
        .filter_map(|i| {
            let contracts = listing::contracts_of(&table, i, day);
            let (y, m) = listing::main_month(&contracts)?;
            Some(table.products[i].code_for(y, m))
        })
        .collect()
}

fn month_index(y: i64, m: u32) -> i64 {
    y * 12 + i64::from(m)
}

/// The starting price of a newly listed futures contract: the price of the furthest
/// month already listed (`known`, moved along the product's carry), else the table's
/// level for the main month.
fn new_contract_price(
    p: &Product,
    c: &Contract,
    main: Option<(i64, u32)>,
    known: Option<(usize, i64)>,
    last: impl Fn(usize) -> f64,
) -> f64 {
    let target = month_index(c.year, c.month);
    let (base, from) = match known {
        Some((i, month)) => (last(i), month),
        None => {
            let (y, m) = main.unwrap_or((c.year, c.month));
            (p.price, month_index(y, m))
        }
    };
    let price = base * (1.0 + p.carry * (target - from) as f64);
    let ticks = (price / p.tick).round().max(1.0);
    round_decimals(ticks * p.tick, decimals_of(p.tick))
}

/// Current prices while listing: `last` for what the table held before, the listing
/// price for what this listing added.
struct Prices<'a> {
    before: usize,
    last: &'a dyn Fn(usize) -> f64,
}

impl Prices<'_> {
    fn of(&self, table: &InstrumentTable, i: usize) -> f64 {
        if i < self.before {
            (self.last)(i)
        } else {
            table.specs[i].pre_settlement
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::parse_date;

    fn table_on(day: &str) -> InstrumentTable {
        let mut t = InstrumentTable::new(ProductTable::embedded());
        t.list_for(parse_date(day).unwrap(), &|_| {
            unreachable!("a new table has no prices")
        });
        t
    }

    #[test]
    fn seed_instruments_are_listed_on_the_seed_day_with_their_prices() {
        let t = table_on("20251203");
        for id in [
            "au2602", "ag2602", "rb2605", "cu2601", "sc2601", "m2605", "i2605", "TA601", "SR605",
            "IF2512", "IC2512", "lc2605", "si2605",
        ] {
            assert!(t.find(id).is_some(), "{id}");
        }
        assert_eq!(t.find("rb2605").unwrap().pre_settlement, 3169.0);
        assert_eq!(t.find("IF2512").unwrap().pre_settlement, 4552.6);
        assert_eq!(t.find("TA601").unwrap().exchange, "CZCE");
        for (_, s) in t.listed() {
            assert!(s.on_tick(s.pre_settlement), "{} {}", s.id, s.pre_settlement);
            let (up, down) = s.limits();
            assert!(s.on_tick(up) && s.on_tick(down), "{}", s.id);
            assert!(
                up > s.pre_settlement && down <= s.pre_settlement,
                "{}",
                s.id
            );
        }
    }

    #[test]
    fn an_old_contract_code_resolves_unlisted() {
        let mut t = table_on("20261125");
        assert!(t.find("au2604").is_none());
        let i = t.resolve("au2604").unwrap();
        assert!(!t.is_listed(i));
        assert_eq!(t.get(i).expire_date, "20260415");
        let i = t.resolve("TA601").unwrap();
        assert_eq!(t.get(i).delivery_year, 2026);
        assert!(t.resolve("zz9999").is_none());
        assert!(t.resolve("rb2613").is_none());
    }
}
