//! The parser's unit tests: the seed's examples, refusals that name the field,
//! unknown keys skipped and named.

use super::*;
use crate::CtpChar;

fn td(text: &str) -> Result<ParsedRequest, RequestError> {
    parse(text, Endpoint::Td)
}

#[test]
fn seed_md_examples() {
    let p = parse(
        r#"{"MsgType": "ReqUserLogin", "ReqUserLogin": {"UserID": "028742", "Password": "123456"}}"#,
        Endpoint::Md,
    )
    .unwrap();
    assert!(matches!(p.request, Request::Md(MdRequest::Login(ref l)) if l.UserID == "028742"));
    let p = parse(
        r#"{"MsgType": "SubscribeMarketData", "InstrumentID": ["au2602", "rb2605", "TA601"]}"#,
        Endpoint::Md,
    )
    .unwrap();
    assert_eq!(
        p.request,
        Request::Md(MdRequest::Subscribe(vec![
            "au2602".into(),
            "rb2605".into(),
            "TA601".into()
        ]))
    );
    assert_eq!(p.request_id, 0);
}

#[test]
fn order_insert_both_spellings() {
    for name in ["ReqOrderInsert", "ReqInputOrder"] {
        let p = td(&format!(
            r#"{{"MsgType":"{name}","RequestID":3,"InputOrder":{{"InstrumentID":"rb2605","Direction":"0","LimitPrice":3170,"VolumeTotalOriginal":1}}}}"#
        ))
        .unwrap();
        let Request::Td(req) = p.request else {
            panic!("{p:?}")
        };
        let TdRequest::ReqOrderInsert(o) = *req else {
            panic!("not an order insert")
        };
        assert_eq!(o.Direction, CtpChar(b'0'));
        assert_eq!(o.LimitPrice, 3170.0);
        assert_eq!(p.request_id, 3);
    }
}

#[test]
fn instrument_query_accepts_both_body_keys() {
    for key in ["QryInstrument", "ReqQryInstrument"] {
        let p = td(&format!(
            r#"{{"MsgType":"ReqQryInstrument","RequestID":1,"{key}":{{"InstrumentID":"au2602"}}}}"#
        ))
        .unwrap();
        assert!(
            matches!(p.request, Request::Td(ref r) if matches!(**r, TdRequest::ReqQryInstrument(ref q) if q.InstrumentID == "au2602"))
        );
    }
}

#[test]
fn bad_inputs_are_400_and_name_the_field() {
    let cases = [
        ("{", ""),
        ("[]", "JSON object"),
        (r#"{"RequestID":1}"#, "MsgType"),
        (r#"{"MsgType":1}"#, "MsgType"),
        (
            r#"{"MsgType":"ReqQryOrder","RequestID":"x","QryOrder":{}}"#,
            "RequestID",
        ),
        (
            r#"{"MsgType":"ReqQryOrder","RequestID":1e30,"QryOrder":{}}"#,
            "RequestID",
        ),
        (r#"{"MsgType":"ReqQryOrder","RequestID":1}"#, "QryOrder"),
        (
            r#"{"MsgType":"ReqQryOrder","RequestID":1,"QryOrder":[]}"#,
            "QryOrder",
        ),
        (
            r#"{"MsgType":"ReqOrderInsert","InputOrder":{"VolumeTotalOriginal":99999999999}}"#,
            "InputOrder.VolumeTotalOriginal",
        ),
        (
            r#"{"MsgType":"ReqOrderInsert","InputOrder":{"LimitPrice":"3170"}}"#,
            "InputOrder.LimitPrice",
        ),
        (
            r#"{"MsgType":"ReqOrderInsert","InputOrder":{"Direction":"buy"}}"#,
            "InputOrder.Direction",
        ),
    ];
    for (text, needle) in cases {
        let e = td(text).unwrap_err();
        assert_eq!(e.code, BAD_PARAMETERS, "{text}: {e:?}");
        assert!(e.detail.contains(needle), "{text}: {}", e.detail);
    }
    let long = "x".repeat(81);
    let e = td(&format!(
        r#"{{"MsgType":"ReqQryOrder","QryOrder":{{"InstrumentID":"{long}"}}}}"#
    ))
    .unwrap_err();
    assert!(e.detail.contains("QryOrder.InstrumentID"), "{}", e.detail);
    let deep = format!("{}{}", "[".repeat(1000), "]".repeat(1000));
    assert_eq!(td(&deep).unwrap_err().code, BAD_PARAMETERS);
}

#[test]
fn unknown_keys_are_skipped_and_named() {
    let p = td(
        r#"{"MsgType":"ReqOrderInsert","RequestID":4,"ClientTag":"x","InputOrder":{"InstrumentID":"rb2605","Direction":"1","LimitPrice":3170,"VolumeTotalOriginal":2,"Foo":{"Bar":[1]}}}"#,
    )
    .unwrap();
    let Request::Td(req) = &p.request else {
        panic!("{p:?}")
    };
    let TdRequest::ReqOrderInsert(o) = &**req else {
        panic!("{req:?}")
    };
    assert_eq!((o.Direction, o.VolumeTotalOriginal), (CtpChar(b'1'), 2));
    assert_eq!(p.ignored.total, 2);
    assert_eq!(p.ignored.paths, ["InputOrder.Foo", "ClientTag"]);
    let e = p.strict_error().unwrap();
    assert_eq!((e.code, e.request_id), (BAD_PARAMETERS, Some(4)));
    assert!(e.detail.contains("`InputOrder.Foo`"), "{}", e.detail);

    // The same request without them parses to the same thing and nothing skipped.
    let clean = td(
        r#"{"MsgType":"ReqOrderInsert","RequestID":4,"InputOrder":{"InstrumentID":"rb2605","Direction":"1","LimitPrice":3170,"VolumeTotalOriginal":2}}"#,
    )
    .unwrap();
    assert_eq!(clean.request, p.request);
    assert!(clean.ignored.is_empty() && clean.strict_error().is_none());

    let p = parse(
        r#"{"MsgType":"SubscribeMarketData","InstrumentID":"au2602","Extra":null}"#,
        Endpoint::Md,
    )
    .unwrap();
    assert_eq!(
        p.request,
        Request::Md(MdRequest::Subscribe(vec!["au2602".into()]))
    );
    assert_eq!(p.ignored.paths, ["Extra"]);
    let p = parse(
        r#"{"MsgType":"ReqUserLogin","ReqUserLogin":{"UserID":"1","Mac":"x"}}"#,
        Endpoint::Md,
    )
    .unwrap();
    assert_eq!(p.ignored.paths, ["ReqUserLogin.Mac"]);

    // Many keys: all counted, a few named, long names cut.
    let keys: Vec<String> = (0..50)
        .map(|i| format!(r#""k{i}{}":1"#, "x".repeat(300)))
        .collect();
    let p = td(&format!(
        r#"{{"MsgType":"ReqQryOrder","QryOrder":{{}},{}}}"#,
        keys.join(",")
    ))
    .unwrap();
    assert_eq!(p.ignored.total, 50);
    assert_eq!(p.ignored.paths.len(), IgnoredKeys::KEPT);
    assert!(p.ignored.paths.iter().all(|k| k.len() <= 120));
}

#[test]
fn both_instrument_body_keys_read_qry_instrument() {
    let p = td(
        r#"{"MsgType":"ReqQryInstrument","RequestID":1,"ReqQryInstrument":{"InstrumentID":"rb2605"},"QryInstrument":{"InstrumentID":"au2602"}}"#,
    )
    .unwrap();
    assert!(
        matches!(p.request, Request::Td(ref r) if matches!(**r, TdRequest::ReqQryInstrument(ref q) if q.InstrumentID == "au2602"))
    );
    assert_eq!(p.ignored.paths, ["ReqQryInstrument"]);
    let e = p.strict_error().unwrap();
    assert!(
        e.detail
            .contains("both `QryInstrument` and `ReqQryInstrument`"),
        "{}",
        e.detail
    );
    // The skipped one is not looked into: whatever it holds is no error.
    let p =
        td(r#"{"MsgType":"ReqQryInstrument","QryInstrument":{},"ReqQryInstrument":7}"#).unwrap();
    assert_eq!(p.ignored.total, 1);
}

#[test]
fn known_fields_with_wrong_types_stay_400() {
    for text in [
        r#"{"MsgType":"ReqOrderInsert","Extra":1,"InputOrder":{"LimitPrice":"3170","Foo":1}}"#,
        r#"{"MsgType":"ReqOrderInsert","InputOrder":{"Direction":0}}"#,
        r#"{"MsgType":"ReqOrderInsert","InputOrder":{"VolumeTotalOriginal":1.5}}"#,
        r#"{"MsgType":"ReqQryInstrument","QryInstrument":{"InstrumentID":["au2602"]}}"#,
        r#"{"MsgType":"ReqQryInstrument","QryInstrument":[],"ReqQryInstrument":{}}"#,
        r#"{"MsgType":"ReqQryOrder","RequestID":"1","QryOrder":{}}"#,
    ] {
        let e = td(text).unwrap_err();
        assert_eq!(e.code, BAD_PARAMETERS, "{text}: {e:?}");
    }
}

#[test]
fn unknown_requests_are_404() {
    let e = td(r#"{"MsgType":"ReqQryNotice","RequestID":2,"QryNotice":{}}"#).unwrap_err();
    assert_eq!(e.code, NOT_IMPLEMENTED);
    assert_eq!(e.request_id, Some(2));
    let e = parse(r#"{"MsgType":"ReqQryOrder","QryOrder":{}}"#, Endpoint::Md).unwrap_err();
    assert_eq!(e.code, NOT_IMPLEMENTED);
    assert!(e.detail.contains("/td/"));
}

#[test]
fn ping_keeps_its_timestamp() {
    let p = td(r#"{"MsgType":"Ping","Timestamp":1702198765123}"#).unwrap();
    assert_eq!(
        p.request,
        Request::Ping {
            timestamp: Some(serde_json::json!(1702198765123u64))
        }
    );
}
