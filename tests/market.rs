//! The market the sim lists: every product's contracts for the sim's date, rolled as
//! months expire, option chains, trading sessions — over `webctp exec` and WebSockets.
//! Every test pins the sim's date (`Sim.StartDate`); none reads the wall clock.

mod common;

use std::collections::{BTreeSet, HashMap};

use common::{Client, InProcess};
use serde_json::{Value, json};
use webctp::protocol::errors::ctp;

/// `webctp exec instruments --json` on `date`: the Instrument records.
fn instruments_on(date: &str) -> Vec<Value> {
    let dir = common::TempDir::new("instruments");
    common::succeeds(
        common::webctp()
            .args(["--data-dir", dir.path().to_str().unwrap()])
            .args(["exec", "instruments", "--json"])
            .env("WEBCTP_SIM_START_DATE", date)
            .env("WEBCTP_USER", "lister")
            .env("WEBCTP_PASSWORD", "123456"),
    )
    .lines()
    .map(|l| serde_json::from_str::<Value>(l).expect("one JSON message a line"))
    .map(|v| v["Instrument"].clone())
    .collect()
}

fn ids(list: &[Value]) -> BTreeSet<String> {
    list.iter()
        .map(|i| i["InstrumentID"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn today_lists_every_product_unexpired_in_each_exchanges_code_style_and_a_month_later_rolls() {
    let today = instruments_on("2026-11-25");
    let futures: Vec<&Value> = today.iter().filter(|i| i["ProductClass"] == "1").collect();
    let products: BTreeSet<&str> = futures
        .iter()
        .map(|i| i["ProductID"].as_str().unwrap())
        .collect();
    assert!((85..=100).contains(&products.len()), "{products:?}");
    let exchanges: BTreeSet<&str> = futures
        .iter()
        .map(|i| i["ExchangeID"].as_str().unwrap())
        .collect();
    assert_eq!(
        exchanges.into_iter().collect::<Vec<_>>(),
        ["CFFEX", "CZCE", "DCE", "GFEX", "INE", "SHFE"]
    );
    for i in &today {
        let id = i["InstrumentID"].as_str().unwrap();
        // Nothing expired: the trading day of 2026-11-25 is the 25th or the 26th.
        assert!(i["ExpireDate"].as_str().unwrap() >= "20261125", "{i}");
        assert!(i["CreateDate"].as_str().unwrap() <= "20261126", "{i}");
        if i["ProductClass"] != "1" {
            continue;
        }
        let product = i["ProductID"].as_str().unwrap();
        let digits = &id[product.len()..];
        assert!(id.starts_with(product), "{id}");
        // CZCE writes one year digit (TA701); the others two (rb2701, IF2612).
        let want = if i["ExchangeID"] == "CZCE" { 3 } else { 4 };
        assert_eq!(digits.len(), want, "{id}");
        assert!(digits.chars().all(|c| c.is_ascii_digit()), "{id}");
        let upper = matches!(i["ExchangeID"].as_str(), Some("CZCE" | "CFFEX"));
        assert_eq!(
            product.chars().all(|c| c.is_ascii_uppercase()),
            upper,
            "{id}"
        );
    }
    let now = ids(&today);
    // What a trader types this week.
    for id in [
        "ag2612", "IF2612", "sc2701", "rb2701", "TA701", "m2701", "lc2701",
    ] {
        assert!(now.contains(id), "{id} is not listed");
    }
    for id in ["au2602", "rb2605", "IF2512"] {
        assert!(!now.contains(id), "{id} expired but is listed");
    }

    // A month later: December's contracts expired, new far months listed.
    let later = ids(&instruments_on("2026-12-25"));
    for gone in ["rb2612", "IF2612", "m2612", "TA612", "sc2612"] {
        assert!(now.contains(gone) && !later.contains(gone), "{gone}");
    }
    for new in ["rb2712", "IF2702", "TA712", "cu2712"] {
        assert!(!now.contains(new) && later.contains(new), "{new}");
    }
}

/// One strike of a chain: (strike, call price, put price).
type Strike = (f64, Option<f64>, Option<f64>);

/// The instruments and quotes of one option product and its underlyings, from the
/// sim's own answers.
async fn chain(c: &mut Client, product: &str) -> (Vec<Value>, HashMap<String, f64>) {
    let ins: Vec<Value> = c
        .ask("ReqQryInstrument", 10, json!({"ProductID": product}))
        .await
        .into_iter()
        .map(|m| m["Instrument"].clone())
        .collect();
    let depth = c.ask("ReqQryDepthMarketData", 11, json!({})).await;
    let last = depth
        .iter()
        .map(|m| &m["DepthMarketData"])
        .map(|d| {
            (
                d["InstrumentID"].as_str().unwrap().to_string(),
                d["LastPrice"].as_f64().unwrap(),
            )
        })
        .collect();
    (ins, last)
}

#[tokio::test]
async fn option_chains_bracket_the_underlying_are_monotone_and_keep_parity() {
    // A still market, so every quote is read at the same underlying price.
    let gw = InProcess::start("Sim: {TickRate: 0, AutoSettle: false, StartDate: 2026-11-25}").await;
    let mut c = Client::connect(&gw.td_url).await;
    c.td_login("u-options", "123456").await;
    let rate = webctp::ctp::sim::products::ProductTable::embedded().risk_free_rate;
    let day = webctp::ctp::sim::clock::parse_date("20261125").unwrap();
    for product in ["au_o", "cu_o", "m_o", "SR_o", "IO"] {
        let (ins, last) = chain(&mut c, product).await;
        assert!(ins.len() >= 60, "{product}: {} options", ins.len());
        // (underlying, expiry) -> strike -> (call, put)
        let mut months: HashMap<(String, String), Vec<Strike>> = HashMap::new();
        for i in &ins {
            assert_eq!(i["ProductClass"], "2");
            let key = (
                i["UnderlyingInstrID"].as_str().unwrap().to_string(),
                i["ExpireDate"].as_str().unwrap().to_string(),
            );
            let k = i["StrikePrice"].as_f64().unwrap();
            let px = last[i["InstrumentID"].as_str().unwrap()];
            let row = months.entry(key).or_default();
            let slot = match row.iter_mut().find(|r| r.0 == k) {
                Some(s) => s,
                None => {
                    row.push((k, None, None));
                    row.last_mut().unwrap()
                }
            };
            if i["OptionsType"] == "1" {
                slot.1 = Some(px);
            } else {
                slot.2 = Some(px);
            }
        }
        assert!(months.len() >= 3, "{product}");
        let tick = ins[0]["PriceTick"].as_f64().unwrap();
        for ((underlying, expiry), mut row) in months {
            let f = last[&underlying];
            row.sort_by(|a, b| a.0.total_cmp(&b.0));
            assert!(
                row[0].0 < f && row[row.len() - 1].0 > f,
                "{product} {underlying}"
            );
            let t = webctp::ctp::sim::options::years_to(
                webctp::ctp::sim::clock::parse_date(&expiry).unwrap(),
                day,
            );
            let mut prev: Option<(f64, f64)> = None;
            for (k, call, put) in row {
                let (call, put) = (call.unwrap(), put.unwrap());
                if let Some((pc, pp)) = prev {
                    assert!(call <= pc && put >= pp, "{product} {underlying} K={k}");
                }
                prev = Some((call, put));
                let parity = (-rate * t).exp() * (f - k);
                assert!(
                    (call - put - parity).abs() <= tick + 1e-9,
                    "{product} {underlying} K={k}: C={call} P={put} F={f}"
                );
            }
        }
    }
    // Open interest is highest in the main contract (rb: January, then May, October).
    let depth = c.ask("ReqQryDepthMarketData", 19, json!({})).await;
    let main = depth
        .iter()
        .map(|m| &m["DepthMarketData"])
        .filter(|d| d["InstrumentID"].as_str().unwrap().starts_with("rb"))
        .max_by(|a, b| {
            let oi = |d: &Value| d["OpenInterest"].as_f64().unwrap();
            oi(a).total_cmp(&oi(b))
        })
        .unwrap();
    assert_eq!(main["InstrumentID"], "rb2701");
    let products = c.ask("ReqQryProduct", 20, json!({})).await;
    let classes: Vec<&str> = products
        .iter()
        .map(|p| p["Product"]["ProductClass"].as_str().unwrap())
        .collect();
    assert!(classes.iter().filter(|c| **c == "1").count() >= 85);
    assert_eq!(classes.iter().filter(|c| **c == "2").count(), 5);
    let exchanges = c.ask("ReqQryExchange", 21, json!({})).await;
    assert_eq!(exchanges.len(), 6);
}

#[tokio::test]
async fn at_22_20_in_exchange_sessions_rebar_ticks_and_index_futures_do_not() {
    // Wednesday 2026-11-25, 22:20 Beijing time on the sim's clock.
    let gw = InProcess::start(
        "Sim: {TickRate: 40, AutoSettle: false, StartDate: \"2026-11-25 22:20\", Sessions: exchange}",
    )
    .await;
    let mut md = Client::connect(&gw.md_url).await;
    md.md_login().await;
    md.send(
        json!({"MsgType": "SubscribeMarketData", "InstrumentID": ["rb2701", "IF2612", "m2701"]}),
    )
    .await;
    let subs = md.recv_all("RspSubMarketData").await;
    assert!(
        subs.iter().all(|v| v["RspInfo"]["ErrorID"] == 0),
        "{subs:?}"
    );
    let mut count: HashMap<String, usize> = HashMap::new();
    while count.get("rb2701").copied().unwrap_or(0) < 10 {
        let t = md
            .recv_until(|v| v["MsgType"] == "RtnDepthMarketData")
            .await;
        let d = &t["DepthMarketData"];
        let id = d["InstrumentID"].as_str().unwrap().to_string();
        // A night tick belongs to the next trading day; ActionDay is the calendar day,
        // except on DCE, which sends the trading day there too.
        assert_eq!(d["TradingDay"], "20261126", "{d}");
        let action = if d["ExchangeID"] == "DCE" {
            "20261126"
        } else {
            "20261125"
        };
        assert_eq!(d["ActionDay"], action, "{d}");
        *count.entry(id).or_default() += 1;
    }
    // IF ticks as often as rb when it trades; in ten rb ticks it sent none.
    assert_eq!(count.get("IF2612"), None, "{count:?}");
    assert!(count.get("m2701").is_some_and(|n| *n > 0), "{count:?}");

    // Orders follow the sessions too.
    let mut td = Client::connect(&gw.td_url).await;
    td.td_login("u-night", "123456").await;
    let (_, ask, _, _) = td.book("rb2701").await;
    td.send(common::order(1, "rb2701", "0", "0", ask, 1)).await;
    let (orders, _) = td.until_final().await;
    assert_eq!(orders.last().unwrap()["MsgType"], "RtnOrder", "{orders:?}");
    let (bid, _, _, _) = td.book("IF2612").await;
    td.send(common::order(2, "IF2612", "0", "0", bid, 1)).await;
    let refused = td
        .recv_until(|v| v["MsgType"] == "RspOrderInsert" && v["RequestID"] == 2)
        .await;
    assert_eq!(
        refused["RspInfo"]["ErrorID"],
        ctp::NOT_TRADING_PERIOD,
        "{refused}"
    );
}

/// `webctp exec <args>` on `date` with the data in `dir`: (exit code, stdout).
fn exec_on(dir: &common::TempDir, date: &str, args: &[&str]) -> (i32, String) {
    let out = common::webctp()
        .args(["--data-dir", dir.path().to_str().unwrap(), "exec"])
        .args(args)
        .env("WEBCTP_SIM_START_DATE", date)
        .env("WEBCTP_USER", "holder")
        .env("WEBCTP_PASSWORD", "123456")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn a_position_held_past_its_expiry_is_settled_and_the_journal_still_replays() {
    let dir = common::TempDir::new("expiry");
    let (code, out) = exec_on(&dir, "2025-12-03", &["buy", "au2602", "1"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("AllTraded"), "{out}");
    // A year later the sim rolls to the new day: au2602 expired in February.
    let (code, out) = exec_on(&dir, "2026-11-25", &["positions", "--json"]);
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("au2602"), "{out}");
    let (code, out) = exec_on(&dir, "2026-11-25", &["settlement"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Expired: au2602"), "{out}");
    // The journal (written on two days, across the expiry) replays and checks out.
    let (code, out) = exec_on(&dir, "2026-11-25", &["account"]);
    assert_eq!(code, 0, "{out}");
}
