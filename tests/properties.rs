//! Property runs of the request parser and the REPL grammar: whatever comes in, they
//! answer (accept or refuse with a gateway code) and never panic. A long run of the
//! same targets under cargo-fuzz is described in docs/reliability.md.

use proptest::prelude::*;
use serde_json::{Value, json};
use webctp::cli::commands;
use webctp::protocol::errors::{BAD_PARAMETERS, NOT_IMPLEMENTED};
use webctp::protocol::{Endpoint, parse};

/// JSON values with a bias towards the protocol's shapes.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "[A-Za-z0-9 _\\-\\u{4e00}-\\u{4e10}]{0,100}".prop_map(Value::from),
        prop_oneof![
            Just("ReqOrderInsert"),
            Just("InputOrder"),
            Just("ReqQryOrder"),
            Just("SubscribeMarketData"),
            Just("InstrumentID"),
            Just("Direction"),
            Just("LimitPrice"),
            Just("RequestID"),
            Just("Ping")
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("MsgType".to_string()),
                    Just("RequestID".to_string()),
                    Just("InputOrder".to_string()),
                    Just("QryOrder".to_string()),
                    Just("InstrumentID".to_string()),
                    Just("LimitPrice".to_string()),
                    Just("VolumeTotalOriginal".to_string()),
                    Just("Direction".to_string()),
                    "[A-Za-z]{1,12}"
                ],
                inner,
                0..8
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// The keys of an `InputOrder` body.
fn input_order_keys() -> Vec<String> {
    let v = serde_json::to_value(webctp::protocol::fields::InputOrder::default()).unwrap();
    v.as_object().unwrap().keys().cloned().collect()
}

fn check(text: &str) {
    for ep in [Endpoint::Md, Endpoint::Td] {
        match parse(text, ep) {
            Ok(_) => {}
            Err(e) => {
                assert!(
                    matches!(e.code, BAD_PARAMETERS | NOT_IMPLEMENTED),
                    "{text}: {e:?}"
                );
                // The error message is valid JSON naming the code.
                let v: Value = serde_json::from_str(&e.to_json()).unwrap();
                assert_eq!(v["RspInfo"]["ErrorID"], e.code);
            }
        }
    }
}

proptest! {
    // 3000 cases per property in the test suite; PROPTEST_CASES=N for a long run.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(3000),
        ..ProptestConfig::default()
    })]

    #[test]
    fn parser_answers_arbitrary_text(s in "\\PC{0,300}") {
        check(&s);
    }

    #[test]
    fn parser_answers_arbitrary_json(v in json_value()) {
        check(&v.to_string());
    }

    #[test]
    fn parser_answers_requests_with_random_bodies(
        msg in prop_oneof![Just("ReqOrderInsert"), Just("ReqOrderAction"), Just("ReqQryInstrument"), Just("ReqUserLogin"), Just("SubscribeMarketData")],
        body in json_value(),
        rid in any::<i64>(),
    ) {
        let key = match msg {
            "ReqOrderInsert" => "InputOrder",
            "ReqOrderAction" => "InputOrderAction",
            "ReqQryInstrument" => "QryInstrument",
            "ReqUserLogin" => "ReqUserLogin",
            _ => "InstrumentID",
        };
        check(&json!({"MsgType": msg, "RequestID": rid, key: body}).to_string());
    }

    #[test]
    fn unknown_keys_never_change_what_is_read(
        top in prop::collection::btree_map("[A-Za-z]{1,12}", json_value(), 0..4),
        inner in prop::collection::btree_map("[A-Za-z]{1,12}", json_value(), 0..4),
        buy in any::<bool>(),
        price in 1u32..100_000,
        volume in 1i32..1000,
    ) {
        let known_body = input_order_keys();
        let body = json!({
            "InstrumentID": "rb2605",
            "Direction": if buy { "0" } else { "1" },
            "LimitPrice": price,
            "VolumeTotalOriginal": volume,
        });
        let clean = json!({"MsgType": "ReqOrderInsert", "RequestID": 1, "InputOrder": body});
        let expected = parse(&clean.to_string(), Endpoint::Td).unwrap();
        let mut noisy = clean.clone();
        let mut added = 0;
        for (k, v) in &top {
            if !["MsgType", "RequestID", "InputOrder", "ReqOrderInsert", "ReqInputOrder"].contains(&k.as_str()) {
                noisy[k] = v.clone();
                added += 1;
            }
        }
        for (k, v) in &inner {
            if !known_body.contains(k) {
                noisy["InputOrder"][k] = v.clone();
                added += 1;
            }
        }
        let got = parse(&noisy.to_string(), Endpoint::Td).unwrap();
        prop_assert_eq!(&got.request, &expected.request);
        prop_assert_eq!(got.ignored.total, added);
        prop_assert_eq!(got.strict_error().is_some(), added > 0);
    }

    #[test]
    fn a_known_field_with_a_wrong_type_is_400(
        field in prop::sample::select(vec!["InstrumentID", "Direction", "LimitPrice", "VolumeTotalOriginal", "CombOffsetFlag", "MinVolume"]),
        extra in prop::collection::btree_map("[A-Z][a-z]{12}", json_value(), 0..3),
    ) {
        // A value of a type the field cannot take: an object is never a string or a number.
        let mut body = json!({"InstrumentID": "rb2605", "Direction": "0", "LimitPrice": 3170, "VolumeTotalOriginal": 1});
        body[field] = match field {
            "InstrumentID" | "Direction" | "CombOffsetFlag" => json!(12),
            _ => json!("12"),
        };
        let mut req = json!({"MsgType": "ReqOrderInsert", "RequestID": 2, "InputOrder": body});
        for (k, v) in &extra {
            req[k] = v.clone();
        }
        let e = parse(&req.to_string(), Endpoint::Td).unwrap_err();
        prop_assert_eq!(e.code, BAD_PARAMETERS);
        let path = format!("InputOrder.{field}");
        prop_assert!(e.detail.contains(&path), "{}", e.detail);
    }

    #[test]
    fn repl_grammar_answers_arbitrary_lines(line in "\\PC{0,120}") {
        let _ = commands::parse(&line);
    }

    #[test]
    fn repl_grammar_answers_command_like_lines(
        cmd in prop_oneof![Just("buy"), Just("sell"), Just("cancel"), Just("sub"), Just("raw"), Just("set"), Just("drop-front"), Just("login")],
        args in prop::collection::vec("[@A-Za-z0-9.\\-{}\":]{0,12}", 0..6),
    ) {
        let line = format!("{cmd} {}", args.join(" "));
        if let Err(e) = commands::parse(&line) {
            prop_assert!(e.0.contains("usage:") || e.0.contains("unknown"), "{}", e.0);
        }
    }
}
