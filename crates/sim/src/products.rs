//! The product table: the futures products of the six exchanges with their contract
//! specifications, read from `config/products.yaml` (built in) or from a copy named by
//! `Sim.Products`. Contracts are generated from it ([`super::listing`]).
//!
//! The file is written for people: rules are short English phrases ("10th trading
//! day", "3rd Friday"), parsed here once, with errors that name the product and key.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, OnceLock};

use serde::Deserialize;

use super::calendar::Calendar;
use super::clock;
use super::error::SimError;
use super::instruments::Commission;
pub use super::rules::{DayRule, LastDay, Listing, Span, StrikeSteps, add_months};
use super::rules::{parse_months, parse_span};

/// The built-in table.
pub const EMBEDDED: &str = include_str!("../../../config/products.yaml");

fn invalid(msg: impl Into<String>) -> SimError {
    SimError::ProductTableInvalid {
        file: None,
        message: msg.into(),
    }
}

// ------------------------------------------------------------------ the file

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTable {
    #[serde(rename = "RiskFreeRate", default)]
    risk_free_rate: f64,
    #[serde(rename = "Sessions")]
    sessions: BTreeMap<String, Vec<String>>,
    #[serde(rename = "Holidays", default)]
    holidays: BTreeMap<String, Vec<u32>>,
    #[serde(rename = "Exchanges")]
    exchanges: Vec<FileExchange>,
    #[serde(rename = "Products")]
    products: Vec<FileProduct>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileExchange {
    #[serde(rename = "Id")]
    id: String,
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Code")]
    code: String,
    #[serde(rename = "LastDay")]
    last_day: String,
    #[serde(rename = "Day")]
    day: String,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileFee {
    #[serde(rename = "Lot", default)]
    lot: f64,
    #[serde(rename = "Money", default)]
    money: f64,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileListing {
    #[serde(rename = "Consecutive", default)]
    consecutive: u32,
    #[serde(rename = "Window")]
    window: Option<u32>,
    #[serde(rename = "Next")]
    next: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileProduct {
    #[serde(rename = "Id")]
    id: String,
    #[serde(rename = "Exchange")]
    exchange: String,
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Multiple")]
    multiple: i32,
    #[serde(rename = "Tick")]
    tick: f64,
    #[serde(rename = "Price")]
    price: f64,
    #[serde(rename = "Limit")]
    limit: f64,
    #[serde(rename = "Margin")]
    margin: f64,
    #[serde(rename = "Fee")]
    fee: FileFee,
    #[serde(rename = "CloseTodayFee")]
    close_today_fee: Option<FileFee>,
    #[serde(rename = "Months")]
    months: Option<String>,
    #[serde(rename = "Listing")]
    listing: Option<FileListing>,
    #[serde(rename = "LastDay")]
    last_day: Option<String>,
    #[serde(rename = "Day")]
    day: Option<String>,
    #[serde(rename = "Night")]
    night: Option<String>,
    #[serde(rename = "Main")]
    main: Option<String>,
    #[serde(rename = "Carry", default)]
    carry: f64,
    #[serde(rename = "OpenInterest")]
    open_interest: Option<f64>,
    #[serde(rename = "MaxVolume")]
    max_volume: Option<i32>,
    #[serde(rename = "Options")]
    options: Option<FileOptions>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileOptions {
    #[serde(rename = "Id")]
    id: String,
    #[serde(rename = "Code")]
    code: String,
    #[serde(rename = "Multiple")]
    multiple: Option<i32>,
    #[serde(rename = "Tick")]
    tick: f64,
    #[serde(rename = "Vol")]
    vol: f64,
    #[serde(rename = "Steps")]
    steps: String,
    #[serde(rename = "Strikes")]
    strikes: u32,
    #[serde(rename = "Months")]
    months: Option<u32>,
    #[serde(rename = "Listing")]
    listing: Option<FileListing>,
    #[serde(rename = "LastDay")]
    last_day: String,
    #[serde(rename = "Fee")]
    fee: FileFee,
}

/// How a commission is charged, from `{Lot: x}` or `{Money: r}`.
fn fee(f: FileFee) -> Commission {
    Commission {
        by_volume: f.lot,
        by_money: f.money,
    }
}

/// Which contract is the most traded one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Main {
    /// The nearest contract.
    Front,
    /// The second nearest.
    Next,
    /// The first listed contract in one of these months (skipping one about to expire).
    Months(Vec<u32>),
}

/// An option chain on a product's contracts.
#[derive(Debug, Clone, PartialEq)]
pub struct OptionRules {
    /// ProductID of the options (e.g. `m_o`, `IO`).
    pub id: String,
    /// Code template: `{underlying}`, `{product}`, `{yymm}`, `{cp}` (C/P), `{strike}`.
    pub code: String,
    pub multiple: i32,
    pub tick: f64,
    /// Annual volatility used by Black-76.
    pub vol: f64,
    pub steps: StrikeSteps,
    /// Strikes on each side of the at-the-money one.
    pub strikes: u32,
    /// On the nearest this many futures months (when `listing` is `None`).
    pub months: u32,
    /// Months of its own (index options): underlying is the nearest futures contract.
    pub listing: Option<Listing>,
    pub last_day: LastDay,
    pub fee: Commission,
}

/// One futures product.
#[derive(Debug, Clone, PartialEq)]
pub struct Product {
    pub id: String,
    pub exchange: &'static str,
    pub name: String,
    pub multiple: i32,
    pub tick: f64,
    pub price: f64,
    pub limit: f64,
    pub margin: f64,
    pub fee: Commission,
    pub close_today_fee: Commission,
    /// Allowed delivery months, `months[m - 1]`.
    pub months: [bool; 12],
    pub listing: Listing,
    pub last_day: LastDay,
    /// Index into [`ProductTable::sessions`].
    pub day: usize,
    pub night: Option<usize>,
    pub main: Main,
    pub carry: f64,
    pub open_interest: f64,
    pub max_volume: i32,
    /// How contract codes are written: `{product}{yymm}` or `{product}{ymm}`.
    pub code: String,
    pub options: Option<OptionRules>,
}

impl Product {
    /// The contract code for delivery month `(y, m)`: `rb2701`, `TA701`, `IF2612`.
    pub fn code_for(&self, y: i64, m: u32) -> String {
        fill_code(&self.code, &self.id, y, m)
    }

    /// The trading sessions of this product: day spans, then night spans.
    pub fn spans<'a>(&self, table: &'a ProductTable) -> impl Iterator<Item = &'a Span> + 'a {
        let day = &table.sessions[self.day].1;
        let night = self.night.map(|n| &table.sessions[n].1);
        day.iter().chain(night.into_iter().flatten())
    }
}

/// `{product}{yymm}` / `{product}{ymm}` filled in.
pub fn fill_code(template: &str, product: &str, y: i64, m: u32) -> String {
    template
        .replace("{product}", product)
        .replace("{yymm}", &format!("{:02}{m:02}", y.rem_euclid(100)))
        .replace("{ymm}", &format!("{}{m:02}", y.rem_euclid(10)))
}

/// An exchange's name as ReqQryExchange reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct ExchangeInfo {
    pub id: &'static str,
    pub name: String,
}

/// The whole table, parsed and checked.
#[derive(Debug)]
pub struct ProductTable {
    pub risk_free_rate: f64,
    pub sessions: Vec<(String, Vec<Span>)>,
    pub exchanges: Vec<ExchangeInfo>,
    pub products: Vec<Product>,
    pub calendar: Calendar,
    by_id: HashMap<String, usize>,
}

/// The exchanges CTP knows, as static strings (the table may only use these).
pub const EXCHANGE_IDS: [&str; 6] = ["CFFEX", "CZCE", "DCE", "GFEX", "INE", "SHFE"];

/// The static ID of an exchange CTP knows.
pub fn static_exchange(id: &str) -> Option<&'static str> {
    EXCHANGE_IDS.iter().copied().find(|e| *e == id)
}

fn listing(l: Option<FileListing>, what: &str) -> Result<Listing, SimError> {
    let l = l.unwrap_or(FileListing {
        consecutive: 0,
        window: Some(12),
        next: None,
    });
    match (l.window, l.next) {
        (Some(w), None) if (1..=60).contains(&w) && l.consecutive <= w => {}
        (None, Some(n)) if n + l.consecutive >= 1 && n + l.consecutive <= 24 => {}
        _ => {
            return Err(invalid(format!(
                "{what}: Listing needs either Window (1-60, at least Consecutive) or Next"
            )));
        }
    }
    Ok(Listing {
        consecutive: l.consecutive,
        window: l.window,
        next: l.next,
    })
}

impl ProductTable {
    /// The built-in table (parsed once).
    pub fn embedded() -> Arc<ProductTable> {
        static TABLE: OnceLock<Arc<ProductTable>> = OnceLock::new();
        TABLE
            .get_or_init(|| {
                // The built-in file is checked by a unit test; a broken build would fail
                // there first.
                Arc::new(
                    ProductTable::parse(EMBEDDED)
                        .unwrap_or_else(|e| panic!("the built-in product table: {e}")),
                )
            })
            .clone()
    }

    /// The table in `path`.
    pub fn load(path: &Path) -> Result<ProductTable, SimError> {
        let text = std::fs::read_to_string(path).map_err(|source| SimError::ProductTableRead {
            path: path.to_path_buf(),
            source,
        })?;
        ProductTable::parse(&text).map_err(|e| e.in_table_file(path))
    }

    /// Parses and checks a table.
    pub fn parse(text: &str) -> Result<ProductTable, SimError> {
        let file: FileTable =
            yaml_serde::from_str(text).map_err(|e| SimError::ProductTableYaml {
                file: None,
                message: e.to_string(),
            })?;
        let mut sessions = Vec::new();
        for (name, spans) in &file.sessions {
            let parsed = spans
                .iter()
                .map(|s| {
                    parse_span(s).ok_or_else(|| {
                        invalid(format!("session {name}: `{s}` is not like 09:00-10:15"))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            sessions.push((name.clone(), parsed));
        }
        let session = |name: &str, what: &str| {
            sessions
                .iter()
                .position(|(n, _)| n == name)
                .ok_or_else(|| invalid(format!("{what}: no session named `{name}`")))
        };
        let mut holidays = Vec::new();
        let mut years = Vec::new();
        for (year, days) in &file.holidays {
            let y: i64 = year
                .parse()
                .map_err(|_| invalid(format!("Holidays: `{year}` is not a year")))?;
            years.push(y);
            for d in days {
                let day = clock::parse_date(&d.to_string())
                    .filter(|day| clock::ymd(*day).0 == y)
                    .ok_or_else(|| invalid(format!("Holidays {year}: {d} is not a date of {y}")))?;
                holidays.push(day);
            }
        }
        let calendar = Calendar::new(holidays, years);
        let mut exchanges = Vec::new();
        let mut defaults = HashMap::new();
        for e in &file.exchanges {
            let id = static_exchange(&e.id).ok_or_else(|| {
                invalid(format!(
                    "exchange {}: CTP knows only {}",
                    e.id,
                    EXCHANGE_IDS.join(", ")
                ))
            })?;
            let last = LastDay::parse(&e.last_day).ok_or_else(|| {
                invalid(format!(
                    "exchange {id}: LastDay `{}` is not a rule",
                    e.last_day
                ))
            })?;
            check_template(&e.code, &["{product}"], &format!("exchange {id}"))?;
            defaults.insert(id, (last, session(&e.day, id)?, e.code.clone()));
            exchanges.push(ExchangeInfo {
                id,
                name: e.name.clone(),
            });
        }
        let mut products = Vec::new();
        let mut by_id = HashMap::new();
        for p in file.products {
            let what = format!("product {}", p.id);
            let exchange = static_exchange(&p.exchange)
                .filter(|e| defaults.contains_key(e))
                .ok_or_else(|| invalid(format!("{what}: unknown Exchange {}", p.exchange)))?;
            let (default_last, default_day, code) = defaults[exchange].clone();
            if p.id.is_empty() || !p.id.chars().all(|c| c.is_ascii_alphabetic()) {
                return Err(invalid(format!("{what}: Id must be letters")));
            }
            let positive = [
                ("Multiple", f64::from(p.multiple)),
                ("Tick", p.tick),
                ("Price", p.price),
                ("Limit", p.limit),
                ("Margin", p.margin),
            ];
            for (key, v) in positive {
                if !(v.is_finite() && v > 0.0) {
                    return Err(invalid(format!("{what}: {key} must be positive")));
                }
            }
            if p.limit >= 1.0 || p.margin > 1.0 || !p.carry.is_finite() || p.carry.abs() > 0.1 {
                return Err(invalid(format!(
                    "{what}: Limit and Margin are fractions (0.07 = 7%), Carry at most 0.1"
                )));
            }
            let last_day = match &p.last_day {
                Some(t) => LastDay::parse(t)
                    .ok_or_else(|| invalid(format!("{what}: LastDay `{t}` is not a rule")))?,
                None => default_last,
            };
            let months = match &p.months {
                Some(t) => parse_months(t)
                    .ok_or_else(|| invalid(format!("{what}: Months `{t}` is not like 1,5,9")))?,
                None => [true; 12],
            };
            let main = match p.main.as_deref() {
                None | Some("next") => Main::Next,
                Some("front") => Main::Front,
                Some(t) => {
                    let m = parse_months(t)
                        .ok_or_else(|| invalid(format!("{what}: Main `{t}` is not like 1,5,9")))?;
                    Main::Months((1..=12).filter(|i| m[*i as usize - 1]).collect())
                }
            };
            let options = match p.options {
                None => None,
                Some(o) => Some(option_rules(o, &what, p.multiple, &code)?),
            };
            let product = Product {
                exchange,
                name: p.name,
                multiple: p.multiple,
                tick: p.tick,
                price: p.price,
                limit: p.limit,
                margin: p.margin,
                fee: fee(p.fee),
                close_today_fee: fee(p.close_today_fee.unwrap_or(p.fee)),
                months,
                listing: listing(p.listing, &what)?,
                last_day,
                day: match &p.day {
                    Some(d) => session(d, &what)?,
                    None => default_day,
                },
                night: p.night.as_deref().map(|n| session(n, &what)).transpose()?,
                main,
                carry: p.carry,
                open_interest: p.open_interest.unwrap_or(100_000.0).max(0.0),
                max_volume: p.max_volume.unwrap_or(500).max(1),
                code,
                options,
                id: p.id,
            };
            if by_id.insert(product.id.clone(), products.len()).is_some() {
                return Err(invalid(format!("{what} is listed twice")));
            }
            products.push(product);
        }
        if !file.risk_free_rate.is_finite() || file.risk_free_rate.abs() > 0.5 {
            return Err(invalid("RiskFreeRate must be a fraction such as 0.015"));
        }
        Ok(ProductTable {
            risk_free_rate: file.risk_free_rate,
            sessions,
            exchanges,
            products,
            calendar,
            by_id,
        })
    }

    /// A product by its ID (case-sensitive, as CTP's ProductID).
    pub fn product(&self, id: &str) -> Option<&Product> {
        self.by_id.get(id).map(|&i| &self.products[i])
    }

    /// The index of a product.
    pub fn product_index(&self, id: &str) -> Option<usize> {
        self.by_id.get(id).copied()
    }
}

fn check_template(t: &str, required: &[&str], what: &str) -> Result<(), SimError> {
    for r in required {
        if !t.contains(r) {
            return Err(invalid(format!("{what}: Code `{t}` must contain {r}")));
        }
    }
    if !(t.contains("{yymm}") || t.contains("{ymm}") || t.contains("{underlying}")) {
        return Err(invalid(format!(
            "{what}: Code `{t}` must contain {{yymm}}, {{ymm}} or {{underlying}}"
        )));
    }
    Ok(())
}

fn option_rules(
    o: FileOptions,
    what: &str,
    multiple: i32,
    _futures_code: &str,
) -> Result<OptionRules, SimError> {
    let what = format!("{what} Options");
    check_template(&o.code, &["{cp}", "{strike}"], &what)?;
    if !(o.tick > 0.0 && o.vol > 0.0 && o.vol < 5.0) || o.strikes == 0 || o.strikes > 50 {
        return Err(invalid(format!(
            "{what}: Tick and Vol must be positive, Strikes between 1 and 50"
        )));
    }
    Ok(OptionRules {
        steps: StrikeSteps::parse(&o.steps).ok_or_else(|| {
            invalid(format!(
                "{what}: Steps `{}` is not like `25 below 2000, 50`",
                o.steps
            ))
        })?,
        last_day: LastDay::parse(&o.last_day)
            .ok_or_else(|| invalid(format!("{what}: LastDay `{}` is not a rule", o.last_day)))?,
        listing: o.listing.map(|l| listing(Some(l), &what)).transpose()?,
        multiple: o.multiple.unwrap_or(multiple).max(1),
        months: o.months.unwrap_or(6).clamp(1, 24),
        id: o.id,
        code: o.code,
        tick: o.tick,
        vol: o.vol,
        strikes: o.strikes,
        fee: fee(o.fee),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_table_parses_with_about_ninety_products_on_six_exchanges() {
        let t = ProductTable::parse(EMBEDDED).unwrap();
        assert!(
            (85..=100).contains(&t.products.len()),
            "{}",
            t.products.len()
        );
        for ex in EXCHANGE_IDS {
            assert!(t.products.iter().any(|p| p.exchange == ex), "{ex}");
        }
        let rb = t.product("rb").unwrap();
        assert_eq!(rb.code_for(2027, 1), "rb2701");
        assert_eq!(t.product("TA").unwrap().code_for(2027, 1), "TA701");
        assert_eq!(t.product("IF").unwrap().code_for(2026, 12), "IF2612");
        for id in ["au", "cu", "m", "SR", "IF"] {
            assert!(t.product(id).unwrap().options.is_some(), "{id}");
        }
    }

    #[test]
    fn bad_rules_are_named_with_their_product() {
        let broken = EMBEDDED.replace("LastDay: \"last Monday\"", "LastDay: \"last Sunday\"");
        let e = ProductTable::parse(&broken).unwrap_err().to_string();
        assert!(e.contains("product ec") && e.contains("last Sunday"), "{e}");
        let broken = EMBEDDED.replace("Id: rb, Exchange: SHFE", "Id: rb, Exchange: LME");
        let e = ProductTable::parse(&broken).unwrap_err().to_string();
        assert!(e.contains("product rb") && e.contains("LME"), "{e}");
    }

    /// A table loaded from a file names the file in every refusal.
    #[test]
    fn a_bad_table_file_is_named() {
        let dir = std::env::temp_dir().join(format!("webctp-products-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("products.yaml");
        let broken = EMBEDDED.replace("Id: rb, Exchange: SHFE", "Id: rb, Exchange: LME");
        for (text, starts) in [
            (Some(broken.as_str()), "the product table {} is invalid: "),
            (
                Some("Products: ["),
                "the product table {} is not valid YAML: ",
            ),
            (None, "cannot read the product table {}: "),
        ] {
            match text {
                Some(t) => std::fs::write(&file, t).unwrap(),
                None => std::fs::remove_file(&file).unwrap(),
            }
            let e = ProductTable::load(&file).unwrap_err().to_string();
            let want = starts.replace("{}", &file.display().to_string());
            assert!(e.starts_with(&want), "{e}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
