use super::*;
use crate::codes;
use crate::errors::rsp_info;
use crate::fields::{Body, DepthMarketData, InputOrder, Order, QryOrder, Trade};
use crate::message::{Reply, front_status, gateway_error, market_data_json, pong};
use crate::td_requests::TD_REQUEST_SPECS;
use crate::{Endpoint, Request, parse};

#[test]
fn every_answer_the_gateway_sends_has_a_kind_with_its_body_key() {
    for spec in TD_REQUEST_SPECS {
        let kind = MsgKind::from_msg_type(spec.response).unwrap_or_else(|| panic!("{spec:?}"));
        assert_eq!(kind.name(), spec.response);
        assert_eq!(kind.body_key(), Some(spec.response_body_key), "{spec:?}");
    }
    for kind in MsgKind::NAMED {
        assert_eq!(MsgKind::from_msg_type(kind.name()), Some(*kind));
        // Every body key is one the decoder reads: an empty body of it decodes.
        if let Some(key) = kind.body_key() {
            let text = format!(r#"{{"MsgType":"{}","{key}":{{}}}}"#, kind.name());
            let m = Received::decode(text.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(m.body.as_ref().map(Body::key), Some(key));
        }
    }
}

#[test]
fn a_pushed_order_decodes_into_its_struct() {
    let order = Order {
        InstrumentID: "rb2605".into(),
        Direction: codes::direction::SELL,
        CombOffsetFlag: "3".into(),
        LimitPrice: 3170.0,
        VolumeTotalOriginal: 2,
        OrderStatus: codes::order_status::PART_TRADED_QUEUEING,
        FrontID: 1,
        SessionID: 7,
        OrderRef: "           1".into(),
        ..Order::default()
    };
    let push = Reply::push("RtnOrder", "Order", Some(order.clone().into()), None);
    let m = Received::decode(&push.to_json()).unwrap();
    assert_eq!(m.kind, MsgKind::RtnOrder);
    assert_eq!(m.request_id, None);
    assert!(m.is_last);
    assert_eq!(m.body::<Order>(), Some(&order));
    assert_eq!(m.body::<Trade>(), None);
}

#[test]
fn answers_keep_their_envelope() {
    let r = Reply::response(
        "RspQryTrade",
        "Trade",
        Some(Trade::default().into()),
        Some(rsp_info(0)),
        7,
        false,
    );
    let m = Received::decode(&r.to_json()).unwrap();
    assert_eq!(
        (m.kind, m.request_id, m.is_last, m.error_id()),
        (MsgKind::RspQryTrade, Some(7), false, 0)
    );
    assert!(m.answers(7));
    // An empty answer: a null body.
    let r = Reply::response("RspQryOrder", "Order", None, None, 8, true);
    let m = Received::decode(&r.to_json()).unwrap();
    assert_eq!(
        (m.kind, m.body.is_none(), m.is_last),
        (MsgKind::RspQryOrder, true, true)
    );
    // A refused order: CTP's second answer.
    let r = Reply::push(
        "ErrRtnOrderInsert",
        "InputOrder",
        Some(InputOrder::default().into()),
        Some(rsp_info(31)),
    );
    let m = Received::decode(&r.to_json()).unwrap();
    assert_eq!((m.kind, m.error_id()), (MsgKind::ErrRtnOrderInsert, 31));
    assert!(m.body::<InputOrder>().is_some());
}

#[test]
fn ticks_decode_with_unset_prices() {
    let d = DepthMarketData {
        InstrumentID: "au2602".into(),
        LastPrice: 952.4,
        ClosePrice: f64::MAX,
        ..DepthMarketData::default()
    };
    let m = Received::decode(&market_data_json(&d)).unwrap();
    assert_eq!(m.kind, MsgKind::RtnDepthMarketData);
    let got = m.body::<DepthMarketData>().unwrap();
    assert_eq!((got.LastPrice, got.ClosePrice), (952.4, 0.0));
}

#[test]
fn the_gateways_own_messages_decode() {
    let m =
        Received::decode(gateway_error("ReqQryOrder", -401, "log in first", Some(3)).as_bytes())
            .unwrap();
    assert_eq!(m.kind, MsgKind::GatewayError);
    assert_eq!(m.msg_type, "ReqQryOrder");
    assert_eq!((m.request_id, m.error_id()), (Some(3), -401));
    assert_eq!(m.detail.as_deref(), Some("log in first"));
    // A request that could not be read at all: no MsgType to echo.
    let m = Received::decode(gateway_error("", -400, "malformed JSON", None).as_bytes()).unwrap();
    assert_eq!((m.kind, m.request_id), (MsgKind::GatewayError, None));
    let m = Received::decode(front_status(false, 0x1001, "front gone").as_bytes()).unwrap();
    assert_eq!(m.kind, MsgKind::OnFrontDisconnected);
    assert_eq!(m.error_msg(), "network read failed");
    let m = Received::decode(pong(None).as_bytes()).unwrap();
    assert_eq!(m.kind, MsgKind::Pong);
}

#[test]
fn an_unknown_msg_type_is_an_error_naming_it() {
    let e = Received::decode(br#"{"MsgType":"RtnSomethingNew","Foo":{}}"#).unwrap_err();
    assert_eq!(
        e,
        DecodeError::UnknownMsgType {
            msg_type: "RtnSomethingNew".into()
        }
    );
    assert_eq!(e.msg_type(), Some("RtnSomethingNew"));
    assert_eq!(
        e.to_string(),
        "RtnSomethingNew is not a message the gateway sends"
    );
}

#[test]
fn a_malformed_body_is_an_error_naming_the_field() {
    let e =
        Received::decode(br#"{"MsgType":"RtnOrder","Order":{"LimitPrice":"cheap"}}"#).unwrap_err();
    assert_eq!(e.msg_type(), Some("RtnOrder"));
    let text = e.to_string();
    assert!(
        text.starts_with("RtnOrder has a field that cannot be read: Order.LimitPrice: "),
        "{text}"
    );
    let e = Received::decode(br#"{"MsgType":"RtnTrade","Trade":{"Direction":"buy"}}"#).unwrap_err();
    assert!(e.to_string().contains("Trade.Direction"), "{e}");
    let e = Received::decode(br#"{"MsgType":"RspQryOrder","RequestID":"7"}"#).unwrap_err();
    assert!(
        e.to_string().contains("RequestID: must be an integer"),
        "{e}"
    );
    let e =
        Received::decode(br#"{"MsgType":"RspQryOrder","RspInfo":{"ErrorID":"x"}}"#).unwrap_err();
    assert!(e.to_string().contains("RspInfo.ErrorID"), "{e}");
    assert_eq!(
        Received::decode(b"[1]").unwrap_err(),
        DecodeError::NoMsgType
    );
    assert!(matches!(
        Received::decode(b"{not json").unwrap_err(),
        DecodeError::NotJson(_)
    ));
}

#[test]
fn requests_written_here_parse_as_the_gateway_reads_them() {
    let req = TdRequest::ReqQryOrder(QryOrder {
        InstrumentID: "rb2605".into(),
        ..QryOrder::default()
    });
    let text = td_request_json(&req, 5);
    assert!(
        text.starts_with(r#"{"MsgType":"ReqQryOrder","QryOrder":{"#),
        "{text}"
    );
    assert!(text.ends_with(r#","RequestID":5}"#), "{text}");
    let p = parse(&text, Endpoint::Td).unwrap();
    assert_eq!((p.request_id, p.request), (5, Request::Td(Box::new(req))));
    assert!(p.ignored.is_empty());
    for md in [
        md_login("u1"),
        MdRequest::Subscribe(vec!["au2602".into(), "rb2605".into()]),
        MdRequest::Unsubscribe(vec!["au2602".into()]),
        MdRequest::Logout(Default::default()),
    ] {
        let text = md_request_json(&md, 9);
        let p = parse(&text, Endpoint::Md).unwrap();
        assert_eq!((p.request_id, p.request), (9, Request::Md(md)), "{text}");
        assert!(p.ignored.is_empty(), "{text}");
    }
    assert_eq!(
        md_request_json(&MdRequest::Subscribe(vec!["au2602".into()]), 1),
        r#"{"MsgType":"SubscribeMarketData","InstrumentID":["au2602"],"RequestID":1}"#
    );
}
