//! Routing on a session whose link is a pair of channels: the test plays the gateway,
//! reading the requests the session writes and sending typed replies back.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;

use super::*;
use crate::config::{Config, FileConfig, Overrides};
use crate::protocol::codes;
use crate::protocol::errors::rsp_info;
use crate::protocol::fields::{Order, RspUserLogin, Trade};
use crate::protocol::message::front_status;
use crate::protocol::{Reply, Request, parse};

/// Collects what the session prints.
#[derive(Default)]
struct Lines(Mutex<Vec<String>>);

impl Printer for Lines {
    fn print(&self, text: &str) {
        self.0.lock().unwrap().push(text.to_string());
    }
}

impl Lines {
    fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    /// Waits (on the paused clock) until `n` lines are printed.
    async fn wait_for(&self, n: usize) -> Vec<String> {
        for _ in 0..1000 {
            if self.all().len() >= n {
                return self.all();
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        panic!("fewer than {n} lines: {:?}", self.all());
    }
}

struct Harness {
    session: Arc<Session>,
    lines: Arc<Lines>,
    /// What the "gateway" sends to the session.
    to_session: mpsc::UnboundedSender<Incoming>,
    /// What the session sends to /td/.
    td: mpsc::UnboundedReceiver<String>,
}

fn harness() -> Harness {
    let overrides = Overrides {
        password: Some("pw".into()),
        ..Overrides::default()
    };
    let config = Config::resolve(FileConfig::default(), None, overrides).unwrap();
    let (md_tx, _md_rx) = mpsc::unbounded_channel();
    let (td_tx, td) = mpsc::unbounded_channel();
    let (to_session, rx) = mpsc::unbounded_channel();
    let lines = Arc::new(Lines::default());
    let session = Session::start(
        Link::Remote {
            md: md_tx,
            td: td_tx,
        },
        rx,
        Arc::new(config),
        None,
        lines.clone(),
        None,
        Waits {
            answer: Duration::from_secs(5),
            order_final: false,
        },
    );
    Harness {
        session,
        lines,
        to_session,
        td,
    }
}

fn incoming(text: &[u8]) -> Incoming {
    Incoming::read(Endpoint::Td, text)
}

fn order(sys: &str) -> Order {
    Order {
        InstrumentID: "rb2605".into(),
        ExchangeID: "SHFE".into(),
        OrderSysID: format!("{sys:>12}"),
        OrderRef: "           1".into(),
        FrontID: 1,
        SessionID: 5,
        Direction: codes::direction::BUY,
        CombOffsetFlag: "0".into(),
        OrderPriceType: codes::price_type::LIMIT_PRICE,
        LimitPrice: 3170.0,
        VolumeTotalOriginal: 1,
        OrderStatus: codes::order_status::NO_TRADE_QUEUEING,
        ..Order::default()
    }
}

/// The RequestID and MsgType of the next request the session sends to /td/.
async fn next_request(td: &mut mpsc::UnboundedReceiver<String>) -> (i32, String) {
    let text = td.recv().await.expect("a request");
    let p = parse(&text, Endpoint::Td).expect("the gateway can read it");
    assert!(matches!(p.request, Request::Td(_)), "{text}");
    (p.request_id, p.msg_type)
}

#[tokio::test(start_paused = true)]
async fn a_pushed_order_prints_one_line_and_is_remembered() {
    let h = harness();
    let push = Reply::push("RtnOrder", "Order", Some(order("100001").into()), None);
    h.to_session.send(incoming(&push.to_json())).unwrap();
    let lines = h.lines.wait_for(1).await;
    assert_eq!(
        lines,
        ["order 100001 Buy Open rb2605 0/1 @ 3170 NoTradeQueueing "]
    );
    let named = h.session.lock().orders.name("100001", None);
    assert!(matches!(named, orders::Named::One(o) if o.ExchangeID == "SHFE"));
}

#[tokio::test(start_paused = true)]
async fn unreadable_messages_are_reported_and_routing_goes_on() {
    let h = harness();
    let unknown = incoming(br#"{"MsgType":"RtnSomethingNew","Foo":{}}"#);
    let Incoming::Unreadable(ep, e) = &unknown else {
        panic!("{unknown:?}")
    };
    assert_eq!(
        route::unreadable(*ep, e),
        "a message from the gateway on /td/ could not be read and is ignored: RtnSomethingNew is not a message the gateway sends"
    );
    let malformed = incoming(br#"{"MsgType":"RtnOrder","Order":{"LimitPrice":"cheap"}}"#);
    let Incoming::Unreadable(ep, e) = &malformed else {
        panic!("{malformed:?}")
    };
    assert!(
        route::unreadable(*ep, e)
            .contains("RtnOrder has a field that cannot be read: Order.LimitPrice"),
        "{e}"
    );
    // Neither stops the session: the next push is printed.
    h.to_session.send(unknown).unwrap();
    h.to_session.send(malformed).unwrap();
    let push = Reply::push("RtnOrder", "Order", Some(order("100002").into()), None);
    h.to_session.send(incoming(&push.to_json())).unwrap();
    let lines = h.lines.wait_for(1).await;
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with("order 100002 "), "{lines:?}");
}

#[tokio::test(start_paused = true)]
async fn answers_go_to_the_command_by_request_id_and_others_are_pushes() {
    let mut h = harness();
    h.session.lock().user = Some("u1".into());
    let s = h.session.clone();
    let run = tokio::spawn(async move { s.run(Command::Trades).await });
    let (rid, msg_type) = next_request(&mut h.td).await;
    assert_eq!(msg_type, "ReqQryTrade");
    // Another request's answer is not this command's.
    let stray = Reply::response("RspQryTrade", "Trade", None, None, rid + 100, true);
    h.to_session.send(incoming(&stray.to_json())).unwrap();
    for (n, id) in ["7", "8"].into_iter().enumerate() {
        let t = Trade {
            TradeID: format!("{id:>12}"),
            InstrumentID: "rb2605".into(),
            Direction: codes::direction::SELL,
            OffsetFlag: codes::offset::CLOSE,
            Price: 3171.0,
            Volume: 1,
            ..Trade::default()
        };
        let r = Reply::response("RspQryTrade", "Trade", Some(t.into()), None, rid, n == 1);
        h.to_session.send(incoming(&r.to_json())).unwrap();
    }
    // The tick size of rb2605 is asked for; the gateway knows nothing.
    let (rid, msg_type) = next_request(&mut h.td).await;
    assert_eq!(msg_type, "ReqQryInstrument");
    let r = Reply::response("RspQryInstrument", "Instrument", None, None, rid, true);
    h.to_session.send(incoming(&r.to_json())).unwrap();
    assert_eq!(run.await.unwrap(), Outcome::Ok);
    let lines = h.lines.all();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("\n7 ")
            && lines[0].contains("\n8 ")
            && lines[0].contains("Close    3171"),
        "{lines:?}"
    );
}

/// The gateway's answer to a login at a down front is a push saying the front is
/// down, then the refusal saying it again: one line is printed, the refusal.
#[tokio::test(start_paused = true)]
async fn a_refused_login_at_a_down_front_prints_one_line() {
    let mut h = harness();
    let s = h.session.clone();
    let run = tokio::spawn(async move {
        s.run(Command::Login {
            user: Some("u1".into()),
        })
        .await
    });
    let (rid, msg_type) = next_request(&mut h.td).await;
    assert_eq!(msg_type, "ReqUserLogin");
    let down = front_status(
        false,
        0,
        "trading front tcp://192.0.2.1:1 (user u1) is down",
    );
    h.to_session.send(incoming(down.as_bytes())).unwrap();
    let refusal = Reply {
        msg_type: "RspUserLogin",
        body_key: "RspUserLogin",
        body: None,
        rsp_info: Some(rsp_info(-1)),
        request_id: Some(rid),
        is_last: true,
    };
    let mut text: serde_json::Value = serde_json::from_slice(&refusal.to_json()).unwrap();
    if let serde_json::Value::Object(m) = &mut text {
        m.insert(
            "Detail".into(),
            "trading front tcp://192.0.2.1:1 (user u1) is down: not connected after 3 s; webctp keeps retrying it".into(),
        );
    }
    h.to_session
        .send(incoming(text.to_string().as_bytes()))
        .unwrap();
    assert_eq!(run.await.unwrap(), Outcome::Refused);
    let lines = h.lines.all();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("login failed: ")
            && lines[0].contains("192.0.2.1:1 (user u1) is down"),
        "{lines:?}"
    );
    // The terminal knows the front is down all the same.
    assert!(h.session.lock().td_down.is_some());
}

/// A front that drops while a request succeeds is news: it is printed, in the order
/// it came.
#[tokio::test(start_paused = true)]
async fn a_front_drop_during_a_successful_login_is_printed() {
    let mut h = harness();
    let s = h.session.clone();
    let run = tokio::spawn(async move {
        s.run(Command::Login {
            user: Some("u1".into()),
        })
        .await
    });
    let (rid, _) = next_request(&mut h.td).await;
    let down = front_status(false, 0x1001, "trading front gone");
    h.to_session.send(incoming(down.as_bytes())).unwrap();
    let ok = Reply::response(
        "RspUserLogin",
        "RspUserLogin",
        Some(
            RspUserLogin {
                TradingDay: "20261124".into(),
                FrontID: 1,
                SessionID: 9,
                ..RspUserLogin::default()
            }
            .into(),
        ),
        Some(rsp_info(0)),
        rid,
        true,
    );
    h.to_session.send(incoming(&ok.to_json())).unwrap();
    assert_eq!(run.await.unwrap(), Outcome::Ok);
    let lines = h.lines.all();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].contains("is down (network read failed)")
            && lines[0].ends_with("trading front gone"),
        "{lines:?}"
    );
    assert_eq!(
        lines[1],
        "logged in as u1: trading day 20261124, front 1, session 9"
    );
}

#[test]
fn json_output_is_the_message_as_compact_json() {
    let m = Inbound::decode(
        br#"{"MsgType": "RtnTrade", "Trade": {"Price": 3170.0, "TradeID": "  7"}}"#,
    )
    .unwrap();
    assert_eq!(
        m.json(),
        r#"{"MsgType":"RtnTrade","Trade":{"Price":3170.0,"TradeID":"  7"}}"#
    );
    let relabelled = m.with("MsgType", "RtnOrder".into());
    // Relabelled, the body no longer fits the kind's key: the edit says so.
    assert!(relabelled.is_ok_and(|r| r.kind == MsgKind::RtnOrder && r.body.is_none()));
}

/// A FOK order is final as soon as it is matched: the terminal answers with its final
/// state, not with the "queueing" push that comes a moment before the fill.
#[tokio::test(start_paused = true)]
async fn an_immediate_order_is_answered_with_its_final_state() {
    let mut h = harness();
    {
        let mut st = h.session.lock();
        st.user = Some("u1".into());
        st.front_session = Some((1, 5));
    }
    let Ok(Some(cmd)) = crate::cli::commands::parse("buy rb2605 1 @3170 fok") else {
        panic!("the order parses")
    };
    let s = h.session.clone();
    let run = tokio::spawn(async move { s.run(cmd).await });
    let (rid, msg_type) = next_request(&mut h.td).await;
    assert_eq!(msg_type, "ReqOrderInsert");
    let mut o = order("100003");
    o.RequestID = rid;
    o.TimeCondition = codes::time_condition::IOC;
    o.VolumeCondition = codes::volume_condition::COMPLETE_VOLUME;
    let queueing = Reply::push("RtnOrder", "Order", Some(o.clone().into()), None);
    h.to_session.send(incoming(&queueing.to_json())).unwrap();
    // The fill comes later (a loaded machine, a slow front): the answer waits for it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!run.is_finished(), "answered before the order was final");
    o.OrderStatus = codes::order_status::ALL_TRADED;
    o.VolumeTraded = 1;
    let traded = Reply::push("RtnOrder", "Order", Some(o.into()), None);
    h.to_session.send(incoming(&traded.to_json())).unwrap();
    assert_eq!(run.await.unwrap(), Outcome::Ok);
    let lines = h.lines.all();
    assert!(
        lines.iter().any(|l| l.contains("AllTraded"))
            && !lines.iter().any(|l| l.contains("NoTradeQueueing")),
        "{lines:?}"
    );
}
