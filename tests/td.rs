//! Trading on the embedded sim over real WebSockets.

mod common;

use std::collections::HashMap;

use common::{Client, InProcess, order};
use serde_json::{Value, json};
use webctp::protocol::errors::{NOT_IMPLEMENTED, NOT_LOGGED_IN, ctp};

/// A sim with a still market (tick rate 0), so prices are known when orders go in.
const STILL: &str = "Sim: {TickRate: 0, AutoSettle: false}";

async fn logged_in(gw: &InProcess, user: &str) -> Client {
    Client::td_client(&gw.td_url, user).await
}

#[tokio::test]
async fn seed_login_confirms_settlement_and_answers_login_fields() {
    let gw = InProcess::start(STILL).await;
    let mut c = Client::connect(&gw.td_url).await;
    c.send_text(r#"{"MsgType": "ReqUserLogin", "ReqUserLogin": {"UserID": "028742", "Password": "123456"}, "RequestID": 0}"#)
        .await;
    let login = c.recv_until(|v| v["MsgType"] == "RspUserLogin").await;
    assert_eq!(login["RspInfo"]["ErrorID"], 0);
    assert_eq!(login["RequestID"], 0);
    let body = &login["RspUserLogin"];
    assert_eq!(body["UserID"], "028742");
    assert_eq!(body["FrontID"], 1);
    assert!(body["SessionID"].as_i64().unwrap() != 0);
    assert_eq!(body["TradingDay"].as_str().unwrap().len(), 8);
    assert!(body["MaxOrderRef"].is_string());
    // The gateway confirmed the settlement before answering.
    let c1 = c.ask("ReqQrySettlementInfoConfirm", 2, json!({})).await;
    assert_eq!(c1.len(), 1);
    assert_eq!(c1[0]["SettlementInfoConfirm"]["InvestorID"], "028742");
    // A new account starts with SimNow's 20,000,000.
    let acc = c
        .ask(
            "ReqQryTradingAccount",
            3,
            json!({"BrokerID": "9999", "InvestorID": "028742"}),
        )
        .await;
    let a = &acc[0]["TradingAccount"];
    assert_eq!(a["Balance"], 20_000_000.0);
    assert_eq!(a["Available"], 20_000_000.0);
}

#[tokio::test]
async fn buy_close_today_and_funds_stay_consistent() {
    let gw = InProcess::start(STILL).await;
    let mut c = logged_in(&gw, "u-trade").await;
    let (_, ask, _, _) = c.book("rb2605").await;
    c.send(order(10, "rb2605", "0", "0", ask + 3.0, 2)).await;
    let (orders, trades) = c.until_final().await;
    let statuses: Vec<&str> = orders
        .iter()
        .map(|o| o["Order"]["OrderStatus"].as_str().unwrap())
        .collect();
    assert_eq!(statuses[0], "a", "{statuses:?}");
    assert_eq!(statuses[1], "3", "{statuses:?}");
    assert_eq!(*statuses.last().unwrap(), "0", "{statuses:?}");
    let first = &orders[0]["Order"];
    assert_eq!(first["StatusMsg"], "报单已提交");
    assert_eq!(first["RequestID"], 10);
    let accepted = &orders[1]["Order"];
    assert!(!accepted["OrderSysID"].as_str().unwrap().trim().is_empty());
    assert!(!accepted["OrderLocalID"].as_str().unwrap().trim().is_empty());
    assert_eq!(accepted["InsertTime"].as_str().unwrap().len(), 8);
    let (volume, open_cost) = common::trades_volume_and_cost(&trades);
    assert_eq!(volume, 2);
    for t in &trades {
        assert!(!t["Trade"]["TradeID"].as_str().unwrap().trim().is_empty());
        assert!(t["Trade"]["Price"].as_f64().unwrap() <= ask + 3.0);
    }

    let pos = c
        .ask(
            "ReqQryInvestorPosition",
            11,
            json!({"InstrumentID": "rb2605"}),
        )
        .await;
    assert_eq!(pos.len(), 1, "{pos:?}");
    let p = &pos[0]["InvestorPosition"];
    assert_eq!(p["PosiDirection"], "2");
    assert_eq!(p["Position"], 2);
    assert_eq!(p["TodayPosition"], 2);
    assert_eq!(p["YdPosition"], 0);
    assert_eq!(p["PositionDate"], "1");
    assert!((p["UseMargin"].as_f64().unwrap() - open_cost * 10.0 * 0.10).abs() < 1e-6);

    let acc = c.ask("ReqQryTradingAccount", 12, json!({})).await;
    let a = &acc[0]["TradingAccount"];
    let f = |k: &str| a[k].as_f64().unwrap();
    let commission = open_cost * 10.0 * 0.0001;
    assert!((f("Commission") - commission).abs() < 1e-6, "{a}");
    assert!((f("CurrMargin") - open_cost * 10.0 * 0.10).abs() < 1e-6);
    assert!(
        (f("Balance")
            - (f("PreBalance") + f("CloseProfit") + f("PositionProfit") - f("Commission")))
        .abs()
            < 1e-6
    );
    assert!(
        (f("Available")
            - (f("Balance") - f("CurrMargin") - f("FrozenMargin") - f("FrozenCommission")))
        .abs()
            < 1e-6
    );

    // Close one lot with CloseToday (SHFE keeps today's lots apart).
    let (bid, _, _, _) = c.book("rb2605").await;
    let mut close = order(13, "rb2605", "1", "3", bid - 3.0, 1);
    close["InputOrder"]["OrderRef"] = json!("77");
    c.send(close).await;
    let (orders, close_trades) = c.until_final().await;
    assert_eq!(orders.last().unwrap()["Order"]["OrderStatus"], "0");
    assert_eq!(orders.last().unwrap()["Order"]["OrderRef"], "77");
    let close_price = close_trades[0]["Trade"]["Price"].as_f64().unwrap();
    assert_eq!(close_trades[0]["Trade"]["OffsetFlag"], "3");
    let first_open = trades[0]["Trade"]["Price"].as_f64().unwrap();
    let acc = c.ask("ReqQryTradingAccount", 14, json!({})).await;
    let a = &acc[0]["TradingAccount"];
    let profit = a["CloseProfit"].as_f64().unwrap();
    assert!(
        (profit - (close_price - first_open) * 10.0).abs() < 1e-6,
        "close profit {profit}"
    );
    let pos = c
        .ask(
            "ReqQryInvestorPosition",
            15,
            json!({"InstrumentID": "rb2605"}),
        )
        .await;
    assert_eq!(pos[0]["InvestorPosition"]["Position"], 1);
    assert_eq!(pos[0]["InvestorPosition"]["CloseVolume"], 1);
    let trades_q = c.ask("ReqQryTrade", 16, json!({})).await;
    assert_eq!(trades_q.len(), trades.len() + close_trades.len());
    let orders_q = c
        .ask("ReqQryOrder", 17, json!({"InstrumentID": "rb2605"}))
        .await;
    assert_eq!(orders_q.len(), 2);
}

#[tokio::test]
async fn resting_order_is_cancelled_and_cancel_errors_are_ctps() {
    let gw = InProcess::start(STILL).await;
    let mut c = logged_in(&gw, "u-cancel").await;
    let (bid, _, _, low) = c.book("m2605").await;
    assert!(low < bid);
    c.send(order(20, "m2605", "0", "0", low, 1)).await;
    let accepted = c
        .recv_until(|v| v["MsgType"] == "RtnOrder" && v["Order"]["OrderStatus"] == "3")
        .await;
    let o = &accepted["Order"];
    let sys_id = o["OrderSysID"].as_str().unwrap().to_string();
    // Margin and commission are frozen while it rests.
    let acc = c.ask("ReqQryTradingAccount", 21, json!({})).await;
    assert!(acc[0]["TradingAccount"]["FrozenMargin"].as_f64().unwrap() > 0.0);
    c.send(
        json!({"MsgType": "ReqOrderAction", "RequestID": 22, "InputOrderAction": {
        "ExchangeID": "DCE", "OrderSysID": sys_id, "ActionFlag": "0", "InstrumentID": "m2605"}}),
    )
    .await;
    let cancelled = c.recv_until(|v| v["MsgType"] == "RtnOrder").await;
    assert_eq!(cancelled["Order"]["OrderStatus"], "5");
    assert!(
        !cancelled["Order"]["CancelTime"]
            .as_str()
            .unwrap()
            .is_empty()
    );
    let acc = c.ask("ReqQryTradingAccount", 23, json!({})).await;
    assert_eq!(acc[0]["TradingAccount"]["FrozenMargin"], 0.0);
    assert_eq!(acc[0]["TradingAccount"]["FrozenCommission"], 0.0);

    // Cancelling it again: 26. An unknown order: 25. Both as RspOrderAction and ErrRtnOrderAction.
    for (sys, code) in [
        (sys_id.as_str(), ctp::INSUITABLE_ORDER_STATUS),
        ("999999999", ctp::ORDER_NOT_FOUND),
    ] {
        c.send(
            json!({"MsgType": "ReqOrderAction", "RequestID": 24, "InputOrderAction": {
            "ExchangeID": "DCE", "OrderSysID": sys, "ActionFlag": "0"}}),
        )
        .await;
        let rsp = c.recv_until(|v| v["MsgType"] == "RspOrderAction").await;
        assert_eq!(rsp["RspInfo"]["ErrorID"], code);
        assert_eq!(rsp["RequestID"], 24);
        let err = c.recv_until(|v| v["MsgType"] == "ErrRtnOrderAction").await;
        assert_eq!(err["RspInfo"]["ErrorID"], code);
        // CTP's OrderActionStatus of a refused action: 'c' rejected.
        assert_eq!(err["OrderAction"]["OrderActionStatus"], "c", "{err}");
        assert_eq!(err["OrderAction"]["ActionFlag"], "0");
        assert_eq!(err["OrderAction"]["RequestID"], 24);
    }

    // Cancel by FrontID + SessionID + OrderRef.
    let mut o2 = order(25, "m2605", "0", "0", low, 1);
    o2["InputOrder"]["OrderRef"] = json!("5001");
    c.send(o2).await;
    let acc = c
        .recv_until(|v| v["MsgType"] == "RtnOrder" && v["Order"]["OrderStatus"] == "3")
        .await;
    let (front, session) = (
        acc["Order"]["FrontID"].clone(),
        acc["Order"]["SessionID"].clone(),
    );
    c.send(
        json!({"MsgType": "ReqOrderAction", "RequestID": 26, "InputOrderAction": {
        "FrontID": front, "SessionID": session, "OrderRef": "5001", "ActionFlag": "0"}}),
    )
    .await;
    let cancelled = c.recv_until(|v| v["MsgType"] == "RtnOrder").await;
    assert_eq!(cancelled["Order"]["OrderStatus"], "5");
    assert_eq!(cancelled["Order"]["OrderRef"], "5001");
}

/// The market is seeded (`Seed: 7`) and only this instrument moves, so the walk that
/// brings the ask down to the resting bid is the same on every run, however fast the
/// machine ticks.
#[tokio::test]
async fn resting_order_fills_on_a_later_tick() {
    let gw = InProcess::start("Sim: {TickRate: 200, AutoSettle: false, Seed: 7}").await;
    let mut c = logged_in(&gw, "u-rest").await;
    let (bid, _, _, _) = c.book("i2605").await;
    c.send(order(30, "i2605", "0", "0", bid, 3)).await;
    let mut traded = 0;
    while traded < 3 {
        let v = c.recv_until(|v| v["MsgType"] == "RtnTrade").await;
        assert!(v["Trade"]["Price"].as_f64().unwrap() <= bid);
        traded += v["Trade"]["Volume"].as_i64().unwrap();
    }
    assert_eq!(traded, 3);
}

async fn rejected(c: &mut Client, req: Value) -> i32 {
    let rid = req["RequestID"].clone();
    c.send(req).await;
    let rsp = c.recv_until(|v| v["MsgType"] == "RspOrderInsert").await;
    assert_eq!(rsp["RequestID"], rid);
    let code = rsp["RspInfo"]["ErrorID"]
        .as_i64()
        .and_then(|c| i32::try_from(c).ok())
        .unwrap_or_else(|| panic!("an ErrorID that is a CTP code: {rsp}"));
    let err = c.recv_until(|v| v["MsgType"] == "ErrRtnOrderInsert").await;
    assert_eq!(err["RspInfo"]["ErrorID"], code);
    assert!(
        err["RspInfo"]["ErrorMsg"]
            .as_str()
            .unwrap()
            .starts_with("CTP")
    );
    code
}

#[tokio::test]
async fn rejections_carry_ctp_error_ids() {
    let gw = InProcess::start(STILL).await;
    let mut c = logged_in(&gw, "u-reject").await;
    let (bid, ask, up, _) = c.book("rb2605").await;
    assert_eq!(
        rejected(&mut c, order(40, "zz9999", "0", "0", 100.0, 1)).await,
        ctp::INSTRUMENT_NOT_FOUND
    );
    assert_eq!(
        rejected(&mut c, order(41, "rb2605", "0", "0", ask + 0.5, 1)).await,
        ctp::PRICE_WRONG_TICK
    );
    assert_eq!(
        rejected(&mut c, order(42, "rb2605", "0", "0", up + 10.0, 1)).await,
        ctp::PRICE_OVER_LIMIT
    );
    assert_eq!(
        rejected(&mut c, order(43, "rb2605", "1", "3", bid, 1)).await,
        ctp::OVER_CLOSETODAY_POSITION
    );
    assert_eq!(
        rejected(&mut c, order(44, "rb2605", "1", "1", bid, 1)).await,
        ctp::OVER_CLOSEYESTERDAY_POSITION
    );
    assert_eq!(
        rejected(&mut c, order(45, "m2605", "1", "1", 2948.0, 1)).await,
        ctp::OVER_CLOSE_POSITION
    );
    assert_eq!(
        rejected(&mut c, order(46, "au2602", "0", "0", 952.4, 300)).await,
        ctp::INSUFFICIENT_MONEY
    );
    let mut market = order(47, "rb2605", "0", "0", 0.0, 1);
    market["InputOrder"]["OrderPriceType"] = json!("1");
    assert_eq!(
        rejected(&mut c, market).await,
        ctp::PRICETYPE_NOTSUPPORT_BYEXCHANGE
    );
    let mut dup = order(48, "rb2605", "0", "0", bid - 20.0, 1);
    dup["InputOrder"]["OrderRef"] = json!("42");
    c.send(dup.clone()).await;
    c.recv_until(|v| v["MsgType"] == "RtnOrder" && v["Order"]["OrderStatus"] == "3")
        .await;
    assert_eq!(rejected(&mut c, dup).await, ctp::DUPLICATE_ORDER_REF);
    // The error IDs name CTP's own messages.
    c.send(order(49, "zz9999", "0", "0", 1.0, 1)).await;
    let rsp = c.recv_until(|v| v["MsgType"] == "RspOrderInsert").await;
    assert_eq!(rsp["RspInfo"]["ErrorMsg"], "CTP:找不到合约");
}

#[tokio::test]
async fn login_errors_not_logged_in_and_unconfirmed_settlement() {
    let gw =
        InProcess::start("AutoConfirmSettlement: false\nSim: {TickRate: 0, AutoSettle: false}")
            .await;
    let mut c = Client::connect(&gw.td_url).await;
    c.send(json!({"MsgType": "ReqQryTradingAccount", "RequestID": 1, "QryTradingAccount": {}}))
        .await;
    assert_eq!(c.recv().await["RspInfo"]["ErrorID"], NOT_LOGGED_IN);
    c.td_login_ok("u-pw", "right").await;
    let mut other = Client::connect(&gw.td_url).await;
    let bad = other.td_login("u-pw", "wrong").await;
    assert_eq!(bad["RspInfo"]["ErrorID"], ctp::INVALID_LOGIN);
    assert_eq!(bad["RspInfo"]["ErrorMsg"], "CTP:不合法的登录");
    // Without the automatic confirm, orders need an explicit one.
    assert_eq!(
        rejected(&mut c, order(2, "rb2605", "0", "0", 3100.0, 1)).await,
        ctp::SETTLEMENT_INFO_NOT_CONFIRMED
    );
    c.send(
        json!({"MsgType": "ReqSettlementInfoConfirm", "RequestID": 3,
        "SettlementInfoConfirm": {"BrokerID": "9999", "InvestorID": "u-pw"}}),
    )
    .await;
    let r = c
        .recv_until(|v| v["MsgType"] == "RspSettlementInfoConfirm")
        .await;
    assert_eq!(r["RspInfo"]["ErrorID"], 0);
    assert_eq!(r["SettlementInfoConfirm"]["InvestorID"], "u-pw");
    let (bid, _, _, _) = c.book("rb2605").await;
    c.send(order(4, "rb2605", "0", "0", bid - 10.0, 1)).await;
    let o = c.recv_until(|v| v["MsgType"] == "RtnOrder").await;
    assert_eq!(o["Order"]["OrderStatus"], "a");
}

#[tokio::test]
async fn password_update_changes_the_login() {
    let gw = InProcess::start(STILL).await;
    let mut c = logged_in(&gw, "u-chpw").await;
    let r = c.password_update(5, json!({"BrokerID": "9999", "UserID": "u-chpw", "OldPassword": "nope", "NewPassword": "654321"})).await;
    assert_eq!(r["RspInfo"]["ErrorID"], ctp::OLD_PASSWORD_MISMATCH);
    let r = c.password_update(6, json!({"BrokerID": "9999", "UserID": "u-chpw", "OldPassword": "123456", "NewPassword": "654321"})).await;
    assert_eq!(r["RspInfo"]["ErrorID"], 0);
    assert!(
        !r.to_string().contains("654321"),
        "the answer must not echo passwords"
    );
    let mut again = Client::connect(&gw.td_url).await;
    assert_eq!(
        again.td_login("u-chpw", "123456").await["RspInfo"]["ErrorID"],
        ctp::INVALID_LOGIN
    );
    let mut again = Client::connect(&gw.td_url).await;
    again.td_login_ok("u-chpw", "654321").await;
}

#[tokio::test]
async fn fak_fok_and_market_orders() {
    let gw = InProcess::start(STILL).await;
    let mut c = logged_in(&gw, "u-fak").await;
    // FOK for more than the best level holds (at most 300): cancelled, nothing traded.
    let (_, ask, _, _) = c.book("m2605").await;
    let mut fok = order(60, "m2605", "0", "0", ask, 400);
    fok["InputOrder"]["TimeCondition"] = json!("1");
    fok["InputOrder"]["VolumeCondition"] = json!("3");
    c.send(fok).await;
    let (orders, trades) = c.until_final().await;
    assert_eq!(orders.last().unwrap()["Order"]["OrderStatus"], "5");
    assert!(trades.is_empty());
    // FAK at ask1: what is there fills, the rest is cancelled.
    let mut fak = order(61, "m2605", "0", "0", ask, 400);
    fak["InputOrder"]["TimeCondition"] = json!("1");
    c.send(fak).await;
    let (orders, trades) = c.until_final().await;
    let last = &orders.last().unwrap()["Order"];
    assert_eq!(last["OrderStatus"], "5");
    let traded = last["VolumeTraded"].as_i64().unwrap();
    assert!(traded > 0 && traded < 400, "{last}");
    assert_eq!(
        trades
            .iter()
            .map(|t| t["Trade"]["Volume"].as_i64().unwrap())
            .sum::<i64>(),
        traded
    );
    assert!(trades.iter().all(|t| t["Trade"]["Price"] == ask));
    // A market order on DCE fills.
    let mut market = order(62, "m2605", "1", "1", 0.0, 1);
    market["InputOrder"]["OrderPriceType"] = json!("1");
    market["InputOrder"]["TimeCondition"] = json!("1");
    c.send(market).await;
    let (orders, trades) = c.until_final().await;
    assert_eq!(orders.last().unwrap()["Order"]["OrderStatus"], "0");
    assert_eq!(trades.len(), 1);
}

#[tokio::test]
async fn twenty_orders_at_once_have_consistent_outcomes() {
    let gw = InProcess::start(STILL).await;
    let mut c = logged_in(&gw, "u-burst").await;
    let (bid, ask, _, _) = c.book("TA601").await;
    for i in 0..20 {
        // Alternate crossing buys and resting buys.
        let price = if i % 2 == 0 { ask + 10.0 } else { bid - 20.0 };
        let mut o = order(100 + i, "TA601", "0", "0", price, 1);
        o["InputOrder"]["OrderRef"] = json!(format!("{}", 1000 + i));
        c.send(o).await;
    }
    let mut last_status: HashMap<String, String> = HashMap::new();
    let mut traded = 0;
    let deadline = tokio::time::Instant::now() + common::WAIT;
    while tokio::time::Instant::now() < deadline {
        let done = traded == 10
            && (0..20).all(|i| {
                let want = if i % 2 == 0 { "0" } else { "3" };
                last_status
                    .get(&format!("{}", 1000 + i))
                    .map(String::as_str)
                    == Some(want)
            });
        if done {
            break;
        }
        let v = c
            .recv_until(|v| v["MsgType"] == "RtnOrder" || v["MsgType"] == "RtnTrade")
            .await;
        if v["MsgType"] == "RtnTrade" {
            traded += v["Trade"]["Volume"].as_i64().unwrap();
        } else {
            let o = &v["Order"];
            last_status.insert(
                o["OrderRef"].as_str().unwrap().to_string(),
                o["OrderStatus"].as_str().unwrap().to_string(),
            );
        }
    }
    assert_eq!(last_status.len(), 20);
    assert_eq!(traded, 10);
    for i in 0..20 {
        let s = &last_status[&format!("{}", 1000 + i)];
        assert_eq!(s, if i % 2 == 0 { "0" } else { "3" }, "order {i}");
    }
    let pos = c
        .ask(
            "ReqQryInvestorPosition",
            200,
            json!({"InstrumentID": "TA601"}),
        )
        .await;
    let p = &pos[0]["InvestorPosition"];
    assert_eq!(p["Position"], 10);
    assert_eq!(p["LongFrozen"], 10);
    let orders = c.ask("ReqQryOrder", 201, json!({})).await;
    assert_eq!(orders.len(), 20);
}

#[tokio::test]
async fn every_query_answers_with_is_last() {
    let gw = InProcess::start(STILL).await;
    let mut c = logged_in(&gw, "u-query").await;
    let queries = [
        ("ReqQryOrder", "Order", false),
        ("ReqQryTrade", "Trade", false),
        ("ReqQryInvestorPosition", "InvestorPosition", false),
        (
            "ReqQryInvestorPositionDetail",
            "InvestorPositionDetail",
            false,
        ),
        ("ReqQryTradingAccount", "TradingAccount", true),
        ("ReqQryInvestor", "Investor", true),
        ("ReqQryTradingCode", "TradingCode", true),
        ("ReqQryInstrumentMarginRate", "InstrumentMarginRate", true),
        (
            "ReqQryInstrumentCommissionRate",
            "InstrumentCommissionRate",
            true,
        ),
        ("ReqQryExchangeMarginRate", "ExchangeMarginRate", true),
        (
            "ReqQryInstrumentOrderCommRate",
            "InstrumentOrderCommRate",
            true,
        ),
        // The sim lists option chains (au, cu, m, SR, IO).
        ("ReqQryOptionInstrTradeCost", "OptionInstrTradeCost", true),
        ("ReqQryOptionInstrCommRate", "OptionInstrCommRate", true),
        ("ReqQryDepthMarketData", "DepthMarketData", true),
        ("ReqQryProduct", "Product", true),
        ("ReqQryExchange", "Exchange", true),
        ("ReqQryInstrument", "Instrument", true),
        ("ReqQrySettlementInfo", "SettlementInfo", false),
        ("ReqQrySettlementInfoConfirm", "SettlementInfoConfirm", true),
    ];
    for (i, (q, key, has_rows)) in queries.iter().enumerate() {
        let msgs = c.ask(q, 300 + i as i64, json!({})).await;
        let last = msgs.last().unwrap();
        assert_eq!(last["IsLast"], true, "{q}");
        if *has_rows {
            assert!(msgs.iter().all(|m| m[*key].is_object()), "{q}: {msgs:?}");
        } else {
            assert_eq!(msgs.len(), 1, "{q}");
            assert!(last[*key].is_null(), "{q}: {last}");
        }
        assert!(msgs[..msgs.len() - 1].iter().all(|m| m["IsLast"] == false));
    }
    let ex = c.ask("ReqQryExchange", 400, json!({})).await;
    assert_eq!(ex.len(), 6);
    let ins = c
        .ask("ReqQryInstrument", 401, json!({"InstrumentID": "IF2512"}))
        .await;
    assert_eq!(ins[0]["Instrument"]["VolumeMultiple"], 300);
    assert_eq!(ins[0]["Instrument"]["PriceTick"], 0.2);
    let mov = c
        .ask("ReqQryMaxOrderVolume", 402, json!({"InstrumentID": "rb2605", "Direction": "0", "OffsetFlag": "0", "HedgeFlag": "1"}))
        .await;
    assert!(mov[0]["QryMaxOrderVolume"]["MaxVolume"].as_i64().unwrap() > 100);
    // The td depth query sends unset prices as 0, like the md endpoint.
    let d = c
        .ask(
            "ReqQryDepthMarketData",
            403,
            json!({"InstrumentID": "rb2605"}),
        )
        .await;
    assert_eq!(d[0]["DepthMarketData"]["ClosePrice"], 0.0);
    // An unknown request is -404.
    c.send(json!({"MsgType": "ReqQryNotice", "RequestID": 5, "QryNotice": {}}))
        .await;
    let e = c.recv_until(|v| v["RequestID"] == 5).await;
    assert_eq!(e["RspInfo"]["ErrorID"], NOT_IMPLEMENTED);
}

#[tokio::test]
async fn settlement_moves_positions_to_yesterday() {
    let gw = InProcess::start(STILL).await;
    let mut c = logged_in(&gw, "u-settle").await;
    let (_, ask, _, _) = c.book("cu2601").await;
    c.send(order(70, "cu2601", "0", "0", ask, 1)).await;
    c.until_final().await;
    let next = gw.dispatcher.backend.settle().unwrap();
    assert_eq!(next.len(), 8);
    // A new day: the settlement must be confirmed again, and the statement is there.
    c.send(json!({"MsgType": "ReqSettlementInfoConfirm", "RequestID": 71, "SettlementInfoConfirm": {}})).await;
    c.recv_until(|v| v["MsgType"] == "RspSettlementInfoConfirm")
        .await;
    let info = c.ask("ReqQrySettlementInfo", 72, json!({})).await;
    let content = info[0]["SettlementInfo"]["Content"].as_str().unwrap();
    assert!(content.contains("cu2601"), "{content}");
    let pos = c
        .ask(
            "ReqQryInvestorPosition",
            73,
            json!({"InstrumentID": "cu2601"}),
        )
        .await;
    assert_eq!(pos.len(), 1);
    let p = &pos[0]["InvestorPosition"];
    assert_eq!(p["PositionDate"], "2");
    assert_eq!(p["YdPosition"], 1);
    assert_eq!(p["Position"], 1);
    assert_eq!(p["TradingDay"], next);
    // Closing yesterday's lot leaves YdPosition as the day began (CTP's definition).
    let (bid, _, _, _) = c.book("cu2601").await;
    c.send(order(74, "cu2601", "1", "1", bid, 1)).await;
    c.until_final().await;
    let pos = c
        .ask(
            "ReqQryInvestorPosition",
            75,
            json!({"InstrumentID": "cu2601"}),
        )
        .await;
    let p = &pos[0]["InvestorPosition"];
    assert_eq!(p["YdPosition"], 1);
    assert_eq!(p["Position"], 0);
}

#[tokio::test]
async fn two_sessions_of_one_user_both_get_pushes() {
    let gw = InProcess::start(STILL).await;
    let mut a = logged_in(&gw, "u-two").await;
    let mut b = logged_in(&gw, "u-two").await;
    let (_, ask, _, _) = a.book("SR605").await;
    a.send(order(80, "SR605", "0", "0", ask, 1)).await;
    let t = b.recv_until(|v| v["MsgType"] == "RtnTrade").await;
    assert_eq!(t["Trade"]["InstrumentID"], "SR605");
    let t = a.recv_until(|v| v["MsgType"] == "RtnTrade").await;
    assert_eq!(t["Trade"]["InstrumentID"], "SR605");
}

#[tokio::test]
async fn authentication_runs_when_an_app_id_is_configured() {
    let gw = InProcess::start("AppID: simnow_client_test\nAuthCode: \"0000000000000000\"\nSim: {TickRate: 0, AutoSettle: false}").await;
    let mut c = Client::connect(&gw.td_url).await;
    c.td_login_ok("u-auth", "pw").await;
    // A client's own ReqAuthenticate is answered too.
    let mut d = Client::connect(&gw.td_url).await;
    d.send(
        json!({"MsgType": "ReqAuthenticate", "RequestID": 4, "ReqAuthenticate": {
        "BrokerID": "9999", "UserID": "u-auth", "AppID": "my_app", "AuthCode": ""}}),
    )
    .await;
    let a = d.recv_until(|v| v["MsgType"] == "RspAuthenticate").await;
    assert_eq!(a["RspInfo"]["ErrorID"], ctp::AUTH_FAILED);
    assert_eq!(a["RequestID"], 4);

    // An AppID without an AuthCode is refused by the sim: the client gets
    // RspAuthenticate and RspUserLogin, both with CTP's error 63.
    let gw =
        InProcess::start("AppID: simnow_client_test\nSim: {TickRate: 0, AutoSettle: false}").await;
    let mut c = Client::connect(&gw.td_url).await;
    c.send(json!({"MsgType": "ReqUserLogin", "RequestID": 9, "ReqUserLogin": {"UserID": "u-auth", "Password": "pw"}}))
        .await;
    let auth = c.recv_until(|v| v["MsgType"] == "RspAuthenticate").await;
    assert_eq!(auth["RspInfo"]["ErrorID"], ctp::AUTH_FAILED);
    let login = c.recv_until(|v| v["MsgType"] == "RspUserLogin").await;
    assert_eq!(login["RspInfo"]["ErrorID"], ctp::AUTH_FAILED);
    assert_eq!(login["RequestID"], 9);
}
