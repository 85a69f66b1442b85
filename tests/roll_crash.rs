//! `kill -9` at any step of a trading day's end loses nothing. The gateway is told to
//! kill itself (SIGKILL, as `kill -9`) at one step of the roll — before the settlement
//! record, after it is durable, in the middle of writing the next journal or the
//! snapshot (a seeded random number of bytes written), after each fsync and rename —
//! and the next start must serve the same account: either the old day with every
//! acknowledged order, or the new day with the positions carried over and the balance
//! settled. Then the day ends again and a further restart still agrees.
//!
//! The day is 2026-01-15, rb2601's last trading day: the account also holds a lot of
//! it, which the day's end settles as expired — whether the roll finished before the
//! kill or start-up finished it.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{Binary, Client, TempDir, http, order, order_sys_ids, sim_config};
use serde_json::{Value, json};

const USER: &str = "u-roll";

/// The contract that expires at the day's end.
const EXPIRING: &str = "rb2601";

fn config() -> String {
    sim_config("TickRate: 0, AutoSettle: false, Seed: 7, StartDate: \"2026-01-15 10:00\"")
}

/// A small seeded generator (xorshift), so a failure can be replayed.
struct Seeded(u64);

impl Seeded {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// A logged-in client and the trading day it logged in on.
async fn login(url: &str) -> (Client, String) {
    let (c, login) = Client::td_session(url, USER, "123456").await;
    (c, common::trading_day(&login))
}

async fn position(c: &mut Client) -> i64 {
    position_in(c, "rb2605").await
}

async fn position_in(c: &mut Client, inst: &str) -> i64 {
    c.ask("ReqQryInvestorPosition", 70, json!({"InstrumentID": inst}))
        .await
        .iter()
        .map(|p| p["InvestorPosition"]["Position"].as_i64().unwrap_or(0))
        .sum()
}

async fn account(c: &mut Client) -> Value {
    c.ask("ReqQryTradingAccount", 71, json!({})).await[0]["TradingAccount"].clone()
}

async fn buy(c: &mut Client, rid: i64, price: f64) -> String {
    buy_in(c, "rb2605", rid, price).await
}

async fn buy_in(c: &mut Client, inst: &str, rid: i64, price: f64) -> String {
    c.send(order(rid, inst, "0", "0", price, 1)).await;
    let (os, _) = c.until_final().await;
    os.last().unwrap()["Order"]["OrderSysID"]
        .as_str()
        .unwrap()
        .trim()
        .to_string()
}

fn journals(dir: &TempDir) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir.path().join("data/sim"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("journal-"))
        .collect();
    v.sort();
    v
}

/// One crash at `point` (with `bytes` for a partial write) and the checks after it.
async fn crash_at(point: &str, bytes: u64) {
    let what = format!("killed at {point}:{bytes}");
    let dir = TempDir::new("roll-crash");
    // A ledger with a day of trading.
    let mut acked = HashSet::new();
    {
        let mut gw = Binary::serve(&dir, &config(), &[]);
        let (mut c, day) = login(&gw.td_url).await;
        assert_eq!(day, "20260115");
        let (_, _, up, low) = c.book("rb2605").await;
        for i in 0..3 {
            acked.insert(buy(&mut c, 10 + i, up).await);
        }
        let (_, _, expiring_up, _) = c.book(EXPIRING).await;
        acked.insert(buy_in(&mut c, EXPIRING, 15, expiring_up).await);
        c.send(order(20, "rb2605", "0", "0", low, 1)).await;
        let v = c
            .recv_until(|v| v["MsgType"] == "RtnOrder" && v["Order"]["OrderStatus"] == "3")
            .await;
        acked.insert(
            v["Order"]["OrderSysID"]
                .as_str()
                .unwrap()
                .trim()
                .to_string(),
        );
        gw.signal("-TERM");
        assert_eq!(gw.wait(Duration::from_secs(10)), Some(0), "{what}");
    }
    // Armed: one more order, then the day's end, which dies part-way.
    let kill = format!("{point}:{bytes}");
    let mut gw = Binary::serve(&dir, &config(), &[("WEBCTP_TEST_KILL_AT", &kill)]);
    let (mut c, day_before) = login(&gw.td_url).await;
    let (_, _, up, _) = c.book("rb2605").await;
    acked.insert(buy(&mut c, 30, up).await);
    let held = position(&mut c).await;
    assert_eq!(position_in(&mut c, EXPIRING).await, 1, "{what}");
    let balance = account(&mut c).await["Balance"].as_f64().unwrap();
    let answer = http(&gw.td_url, "POST", "/admin/settle");
    assert!(
        !answer.contains("settled"),
        "{what}: the roll finished: {answer}"
    );
    assert_eq!(gw.wait(Duration::from_secs(10)), None, "{what}: not killed");
    drop(gw);

    // The next start serves one consistent account.
    let gw = Binary::try_serve(&dir, &config(), &[])
        .unwrap_or_else(|(code, err)| panic!("{what}: refused ({code:?}): {err}"));
    let (mut c, day) = login(&gw.td_url).await;
    assert_eq!(position(&mut c).await, held, "{what}: position");
    let rolled = day != day_before;
    assert_eq!(
        rolled,
        point != "roll-start",
        "{what}: day {day_before} -> {day}"
    );
    if rolled {
        let orders = c.ask("ReqQryOrder", 72, json!({})).await;
        assert!(
            orders[0]["Order"].is_null(),
            "{what}: orders survived the day's end"
        );
        let a = account(&mut c).await;
        let pre = a["PreBalance"].as_f64().unwrap();
        assert!((pre - balance).abs() < 1e-6, "{what}: {pre} != {balance}");
        let st = c.ask("ReqQrySettlementInfo", 73, json!({})).await;
        let text = st[0]["SettlementInfo"]["Content"].as_str().unwrap();
        assert!(text.contains("rb2605"), "{what}: {text}");
        // The expired contract was settled at the roll and is gone.
        assert!(
            text.contains(&format!("到期了结 Expired: {EXPIRING} 多 long 1 手")),
            "{what}: {text}"
        );
        assert_eq!(position_in(&mut c, EXPIRING).await, 0, "{what}");
        assert!(
            dir.path().join("data/sim/state.snapshot").exists(),
            "{what}"
        );
    } else {
        let known = order_sys_ids(&c.ask("ReqQryOrder", 72, json!({})).await);
        assert!(acked.is_subset(&known), "{what}: orders lost");
        assert_eq!(position_in(&mut c, EXPIRING).await, 1, "{what}");
    }
    assert_eq!(journals(&dir).len(), 1, "{what}: {:?}", journals(&dir));
    // Another day's end, an order, and a restart agree.
    assert!(http(&gw.td_url, "POST", "/admin/settle").contains("settled"));
    let (mut c, _) = login(&gw.td_url).await;
    // The day's end moved the price limits.
    let (_, _, up, _) = c.book("rb2605").await;
    let last = buy(&mut c, 40, up).await;
    drop(c);
    let mut gw = gw;
    gw.signal("-TERM");
    assert_eq!(gw.wait(Duration::from_secs(10)), Some(0), "{what}");
    let gw = Binary::serve(&dir, &config(), &[]);
    let (mut c, _) = login(&gw.td_url).await;
    let known = order_sys_ids(&c.ask("ReqQryOrder", 74, json!({})).await);
    assert!(known.contains(&last), "{what}");
    assert_eq!(position(&mut c).await, held + 1, "{what}");
    assert_eq!(position_in(&mut c, EXPIRING).await, 0, "{what}");
}

/// The kill points of a day's end, in order, with how many bytes a partial write gets
/// (drawn from `seed`).
fn points(seed: u64) -> Vec<(&'static str, u64)> {
    let mut rng = Seeded(seed);
    [
        "roll-start",
        "roll-durable",
        "journal-partial",
        "journal-created",
        "snapshot-partial",
        "snapshot-synced",
        "snapshot-renamed",
        "snapshot-durable",
        "rotated",
        "retired",
    ]
    .iter()
    .map(|p| {
        let bytes = match *p {
            "journal-partial" => rng.next() % 64,
            "snapshot-partial" => rng.next() % 20_000,
            _ => 0,
        };
        (*p, bytes)
    })
    .collect()
}

const SEED: u64 = 0x5eed_2026_1124;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_in_the_first_half_of_a_day_end_loses_nothing() {
    for (point, bytes) in &points(SEED)[..5] {
        crash_at(point, *bytes).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_in_the_second_half_of_a_day_end_loses_nothing() {
    for (point, bytes) in &points(SEED)[5..] {
        crash_at(point, *bytes).await;
    }
}
