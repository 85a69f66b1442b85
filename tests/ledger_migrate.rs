//! A ledger written by an earlier webctp (the first, JSON journal format) is migrated
//! on the first start: the same account, positions and today's orders, the old file
//! kept in archive/, and the counters continue. The fixture was written by webctp at
//! 1fede68: two buys, a day's end, a close and a resting buy (trailing zeros removed).
//!
//! That webctp listed the seed's contracts forever; on the fixture's trading day
//! (20261127) the product table's rules no longer list rb2605 and m2605 (they expired
//! in May 2026). Nothing is refused or lost for that: the history replays as it was
//! written (its day's end expired nothing), the positions are kept unlisted — they can
//! no longer be traded — and the next day's end settles them at their settlement price
//! and says so in the statement.

mod common;

use std::time::Duration;

use common::{Binary, Client, TempDir, http, order_sys_ids, sim_config};
use serde_json::{Value, json};
use webctp::protocol::errors::ctp;

const FIXTURE: &[u8] = include_bytes!("fixtures/ledger-v1.journal");

fn config() -> String {
    sim_config("TickRate: 0, AutoSettle: false, Seed: 7")
}

async fn account(c: &mut Client) -> Value {
    c.ask("ReqQryTradingAccount", 5, json!({})).await[0]["TradingAccount"].clone()
}

/// A logged-in client and the trading day it logged in on.
async fn login(url: &str) -> (Client, String) {
    let (c, login) = Client::td_session(url, "u-v1", "123456").await;
    (c, common::trading_day(&login))
}

/// Lots held per instrument.
async fn positions(c: &mut Client) -> Vec<(String, i64)> {
    let mut held: Vec<(String, i64)> = c
        .ask("ReqQryInvestorPosition", 7, json!({}))
        .await
        .iter()
        .filter(|p| !p["InvestorPosition"].is_null())
        .map(|p| {
            let p = &p["InvestorPosition"];
            (
                p["InstrumentID"].as_str().unwrap().to_string(),
                p["Position"].as_i64().unwrap(),
            )
        })
        .filter(|(_, n)| *n != 0)
        .collect();
    held.sort();
    held
}

async fn check_state(url: &str) {
    let (mut c, day) = login(url).await;
    assert_eq!(day, "20261127");
    let a = account(&mut c).await;
    // The figures webctp 1fede68 reported for this ledger.
    for (k, v) in [
        ("PreBalance", 19_999_992.162),
        ("CloseProfit", -10.0),
        ("Commission", 3.168),
        ("FrozenMargin", 3000.0),
        ("FrozenCommission", 3.0),
        ("CurrMargin", 5528.2),
    ] {
        assert!((a[k].as_f64().unwrap() - v).abs() < 1e-6, "{k}: {a}");
    }
    let orders = order_sys_ids(&c.ask("ReqQryOrder", 6, json!({})).await);
    assert_eq!(orders, ["100003", "100004"].map(String::from).into());
    assert_eq!(
        positions(&mut c).await,
        [("m2605".to_string(), 1), ("rb2605".to_string(), 1)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_format_ledger_is_migrated_and_kept() {
    let dir = TempDir::new("migrate");
    let sim = dir.path().join("data/sim");
    std::fs::create_dir_all(&sim).unwrap();
    let mut old = FIXTURE.to_vec();
    old.extend(vec![0u8; 4096]);
    std::fs::write(sim.join("ledger.journal"), &old).unwrap();
    {
        let mut gw = Binary::serve(&dir, &config(), &[("WEBCTP_LOG_LEVEL", "info")]);
        assert!(
            gw.stderr()
                .contains("migrated the first-format sim journal")
        );
        check_state(&gw.td_url).await;
        gw.signal("-TERM");
        assert_eq!(gw.wait(Duration::from_secs(10)), Some(0));
    }
    assert!(!sim.join("ledger.journal").exists());
    assert_eq!(
        std::fs::read(sim.join("archive/ledger.journal.v1")).unwrap(),
        old
    );
    assert!(sim.join("state.snapshot").exists());
    // Again, from the new format; the IDs continue.
    let mut gw = Binary::serve(&dir, &config(), &[]);
    check_state(&gw.td_url).await;
    let (mut c, _) = login(&gw.td_url).await;
    // The expired contracts are not listed: they cannot be traded any more.
    for (rid, inst) in [(8, "rb2605"), (9, "m2605")] {
        c.send(common::order(rid, inst, "1", "1", 3000.0, 1)).await;
        let v = c
            .recv_until(|v| v["MsgType"] == "RspOrderInsert" && v["RequestID"] == rid)
            .await;
        assert_eq!(
            v["RspInfo"]["ErrorID"],
            ctp::INSTRUMENT_NOT_FOUND,
            "{inst}: {v}"
        );
    }
    // A listed month of the same product is, and the IDs continue.
    let (_, _, _, low) = c.book("m2705").await;
    c.send(common::order(10, "m2705", "0", "0", low, 1)).await;
    let v = c
        .recv_until(|v| v["MsgType"] == "RtnOrder" && v["Order"]["OrderStatus"] == "3")
        .await;
    assert_eq!(v["Order"]["OrderSysID"].as_str().unwrap().trim(), "100005");
    let balance = account(&mut c).await["Balance"].as_f64().unwrap();

    // The next day's end settles the expired positions at their settlement price.
    assert!(http(&gw.td_url, "POST", "/admin/settle").contains("settled"));
    let after_roll = |url: String| async move {
        let (mut c, day) = login(&url).await;
        assert_eq!(day, "20261130");
        assert_eq!(positions(&mut c).await, []);
        let a = account(&mut c).await;
        for (k, v) in [
            ("PreBalance", balance),
            ("CurrMargin", 0.0),
            ("FrozenMargin", 0.0),
        ] {
            assert!((a[k].as_f64().unwrap() - v).abs() < 1e-6, "{k}: {a}");
        }
        let orders = c.ask("ReqQryOrder", 11, json!({})).await;
        assert!(orders[0]["Order"].is_null(), "{orders:?}");
        let st = c.ask("ReqQrySettlementInfo", 12, json!({})).await;
        let text = st[0]["SettlementInfo"]["Content"].as_str().unwrap();
        for line in [
            "到期了结 Expired: rb2605 多 long 1 手 lots @ 3169",
            "到期了结 Expired: m2605 多 long 1 手 lots @ 2949",
        ] {
            assert!(text.contains(line), "{line} not in {text}");
        }
    };
    after_roll(gw.td_url.clone()).await;
    gw.signal("-TERM");
    assert_eq!(gw.wait(Duration::from_secs(10)), Some(0));
    // And a restart (the day's snapshot) agrees.
    let gw = Binary::serve(&dir, &config(), &[]);
    after_roll(gw.td_url.clone()).await;
}
