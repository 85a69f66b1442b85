//! A ledger written by an earlier webctp (the first, JSON journal format) is migrated
//! on the first start: the same account, positions and today's orders, the old file
//! kept in archive/, and the counters continue. The fixture was written by webctp at
//! 1fede68: two buys, a day's end, a close and a resting buy (trailing zeros removed).

mod common;

use std::time::Duration;

use common::{Binary, Client, TempDir, order_sys_ids, sim_config};
use serde_json::{Value, json};

const FIXTURE: &[u8] = include_bytes!("fixtures/ledger-v1.journal");

fn config() -> String {
    sim_config("TickRate: 0, AutoSettle: false, Seed: 7")
}

async fn account(c: &mut Client) -> Value {
    c.ask("ReqQryTradingAccount", 5, json!({})).await[0]["TradingAccount"].clone()
}

async fn check_state(url: &str) {
    let mut c = Client::connect(url).await;
    let rsp = c.td_login("u-v1", "123456").await;
    assert_eq!(rsp["RspInfo"]["ErrorID"], 0, "{rsp}");
    assert_eq!(rsp["RspUserLogin"]["TradingDay"], "20261127");
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
    let pos = c.ask("ReqQryInvestorPosition", 7, json!({})).await;
    let held = |inst: &str| -> i64 {
        pos.iter()
            .filter(|p| p["InvestorPosition"]["InstrumentID"] == inst)
            .map(|p| p["InvestorPosition"]["Position"].as_i64().unwrap())
            .sum()
    };
    assert_eq!((held("rb2605"), held("m2605")), (1, 1), "{pos:?}");
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
    let gw = Binary::serve(&dir, &config(), &[]);
    check_state(&gw.td_url).await;
    let mut c = Client::connect(&gw.td_url).await;
    c.td_login("u-v1", "123456").await;
    c.send(common::order(9, "m2605", "0", "0", 2900.0, 1)).await;
    let v = c
        .recv_until(|v| v["MsgType"] == "RtnOrder" && v["Order"]["OrderStatus"] == "3")
        .await;
    assert_eq!(v["Order"]["OrderSysID"].as_str().unwrap().trim(), "100005");
}
