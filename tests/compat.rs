//! Drop-in compatibility with clients written for the Python webctp projects
//! (openctp/webctp and Homalos/homalos-webctp, issue #11).
//!
//! Each test is a scripted client flow written as what such a client reads: the keys
//! the Python projects put into each message (webctp sends CTP's whole struct, a
//! superset), the JSON type of every field (integers stay integers, floats are floats,
//! unset one-character codes are `""`, unset market prices the integer `0`), the order
//! of MsgTypes and CTP's error IDs. Every flow runs twice: on the embedded sim and on
//! the native backend over the fake CTP library (the whole FFI path).

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::{Binary, Client, TempDir, order};
use serde::Serialize;
use serde_json::{Value, json};
use webctp::protocol::errors::{BAD_PARAMETERS, NOT_IMPLEMENTED, NOT_LOGGED_IN, ctp};
use webctp::protocol::fields::{
    DepthMarketData, InputOrder, InputOrderAction, Instrument, InvestorPosition, Order,
    OrderAction, RspUserLogin, SettlementInfoConfirm, SpecificInstrument, Trade, TradingAccount,
};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Backend {
    Sim,
    Native,
}

/// A gateway on one backend, with a still market (orders meet a known book) or a
/// ticking one.
fn gateway(backend: Backend, tag: &str, ticking: bool) -> (Binary, TempDir) {
    let dir = TempDir::new(tag);
    let bin = match backend {
        Backend::Sim => {
            let rate = if ticking { 20 } else { 0 };
            Binary::serve(
                &dir,
                &format!("Sim: {{TickRate: {rate}, AutoSettle: false}}\n"),
                &[],
            )
        }
        Backend::Native => {
            let rate = if ticking { "20" } else { "0" };
            Binary::native(&dir, &[("FAKECTP_TICK_RATE", rate)])
        }
    };
    (bin, dir)
}

// ---------------------------------------------------------------------------
// What the Python projects send: the keys of each body (openctp/webctp's
// clients/md_client.py and td_client.py build these dicts field by field).

const DEPTH_MARKET_DATA: &[&str] = &[
    "ActionDay",
    "AskPrice1",
    "AskPrice2",
    "AskPrice3",
    "AskPrice4",
    "AskPrice5",
    "AskVolume1",
    "AskVolume2",
    "AskVolume3",
    "AskVolume4",
    "AskVolume5",
    "AveragePrice",
    "BandingLowerPrice",
    "BandingUpperPrice",
    "BidPrice1",
    "BidPrice2",
    "BidPrice3",
    "BidPrice4",
    "BidPrice5",
    "BidVolume1",
    "BidVolume2",
    "BidVolume3",
    "BidVolume4",
    "BidVolume5",
    "ClosePrice",
    "CurrDelta",
    "ExchangeID",
    "ExchangeInstID",
    "HighestPrice",
    "InstrumentID",
    "LastPrice",
    "LowerLimitPrice",
    "LowestPrice",
    "OpenInterest",
    "OpenPrice",
    "PreClosePrice",
    "PreDelta",
    "PreOpenInterest",
    "PreSettlementPrice",
    "SettlementPrice",
    "TradingDay",
    "Turnover",
    "UpdateMillisec",
    "UpdateTime",
    "UpperLimitPrice",
    "Volume",
    "reserve1",
    "reserve2",
];

const RSP_USER_LOGIN: &[&str] = &[
    "TradingDay",
    "LoginTime",
    "BrokerID",
    "UserID",
    "SystemName",
    "FrontID",
    "SessionID",
    "MaxOrderRef",
    "SHFETime",
    "DCETime",
    "CZCETime",
    "FFEXTime",
    "INETime",
];

const INSTRUMENT: &[&str] = &[
    "InstrumentID",
    "ExchangeID",
    "InstrumentName",
    "ExchangeInstID",
    "ProductID",
    "ProductClass",
    "DeliveryYear",
    "DeliveryMonth",
    "MaxMarketOrderVolume",
    "MinMarketOrderVolume",
    "MaxLimitOrderVolume",
    "MinLimitOrderVolume",
    "VolumeMultiple",
    "PriceTick",
    "CreateDate",
    "OpenDate",
    "ExpireDate",
    "StartDelivDate",
    "EndDelivDate",
    "InstLifePhase",
    "IsTrading",
    "PositionType",
    "PositionDateType",
    "LongMarginRatio",
    "ShortMarginRatio",
    "MaxMarginSideAlgorithm",
    "UnderlyingInstrID",
    "StrikePrice",
    "OptionsType",
    "UnderlyingMultiple",
    "CombinationType",
];

const TRADING_ACCOUNT: &[&str] = &[
    "AccountID",
    "Available",
    "Balance",
    "BizType",
    "BrokerID",
    "CashIn",
    "CloseProfit",
    "Commission",
    "Credit",
    "CurrMargin",
    "CurrencyID",
    "DeliveryMargin",
    "Deposit",
    "ExchangeDeliveryMargin",
    "ExchangeMargin",
    "FrozenCash",
    "FrozenCommission",
    "FrozenMargin",
    "FrozenSwap",
    "FundMortgageAvailable",
    "FundMortgageIn",
    "FundMortgageOut",
    "Interest",
    "InterestBase",
    "Mortgage",
    "MortgageableFund",
    "PositionProfit",
    "PreBalance",
    "PreCredit",
    "PreDeposit",
    "PreFundMortgageIn",
    "PreFundMortgageOut",
    "PreMargin",
    "PreMortgage",
    "RemainSwap",
    "Reserve",
    "ReserveBalance",
    "SettlementID",
    "SpecProductCloseProfit",
    "SpecProductCommission",
    "SpecProductExchangeMargin",
    "SpecProductFrozenCommission",
    "SpecProductFrozenMargin",
    "SpecProductMargin",
    "SpecProductPositionProfit",
    "SpecProductPositionProfitByAlg",
    "TradingDay",
    "Withdraw",
    "WithdrawQuota",
];

const INVESTOR_POSITION: &[&str] = &[
    "AbandonFrozen",
    "BrokerID",
    "CashIn",
    "CloseAmount",
    "CloseProfit",
    "CloseProfitByDate",
    "CloseProfitByTrade",
    "CloseVolume",
    "CombLongFrozen",
    "CombPosition",
    "CombShortFrozen",
    "Commission",
    "ExchangeID",
    "ExchangeMargin",
    "FrozenCash",
    "FrozenCommission",
    "FrozenMargin",
    "HedgeFlag",
    "InstrumentID",
    "InvestUnitID",
    "InvestorID",
    "LongFrozen",
    "LongFrozenAmount",
    "MarginRateByMoney",
    "MarginRateByVolume",
    "OpenAmount",
    "OpenCost",
    "OpenVolume",
    "PosiDirection",
    "Position",
    "PositionCost",
    "PositionCostOffset",
    "PositionDate",
    "PositionProfit",
    "PreMargin",
    "PreSettlementPrice",
    "SettlementID",
    "SettlementPrice",
    "ShortFrozen",
    "ShortFrozenAmount",
    "StrikeFrozen",
    "StrikeFrozenAmount",
    "TasPosition",
    "TasPositionCost",
    "TodayPosition",
    "TradingDay",
    "UseMargin",
    "YdPosition",
    "YdStrikeFrozen",
];

const ORDER: &[&str] = &[
    "BrokerID",
    "InvestorID",
    "OrderRef",
    "UserID",
    "OrderPriceType",
    "Direction",
    "CombOffsetFlag",
    "CombHedgeFlag",
    "LimitPrice",
    "VolumeTotalOriginal",
    "TimeCondition",
    "GTDDate",
    "VolumeCondition",
    "MinVolume",
    "ContingentCondition",
    "StopPrice",
    "ForceCloseReason",
    "IsAutoSuspend",
    "BusinessUnit",
    "RequestID",
    "OrderLocalID",
    "ExchangeID",
    "ParticipantID",
    "ClientID",
    "TraderID",
    "InstallID",
    "OrderSubmitStatus",
    "NotifySequence",
    "TradingDay",
    "SettlementID",
    "OrderSysID",
    "OrderSource",
    "OrderStatus",
    "OrderType",
    "VolumeTraded",
    "VolumeTotal",
    "InsertDate",
    "InsertTime",
    "ActiveTime",
    "SuspendTime",
    "UpdateTime",
    "CancelTime",
    "ActiveTraderID",
    "ClearingPartID",
    "SequenceNo",
    "FrontID",
    "SessionID",
    "UserProductInfo",
    "StatusMsg",
    "UserForceClose",
    "ActiveUserID",
    "BrokerOrderSeq",
    "RelativeOrderSysID",
    "ZCETotalTradedVolume",
    "IsSwapOrder",
    "BranchID",
    "InvestUnitID",
    "AccountID",
    "CurrencyID",
    "MacAddress",
    "InstrumentID",
    "ExchangeInstID",
    "IPAddress",
];

const TRADE: &[&str] = &[
    "BrokerID",
    "InvestorID",
    "OrderRef",
    "UserID",
    "ExchangeID",
    "TradeID",
    "Direction",
    "OrderSysID",
    "ParticipantID",
    "ClientID",
    "TradingRole",
    "OffsetFlag",
    "HedgeFlag",
    "Price",
    "Volume",
    "TradeDate",
    "TradeTime",
    "TradeType",
    "PriceSource",
    "TraderID",
    "OrderLocalID",
    "ClearingPartID",
    "BusinessUnit",
    "SequenceNo",
    "TradingDay",
    "SettlementID",
    "BrokerOrderSeq",
    "TradeSource",
    "InvestUnitID",
    "InstrumentID",
    "ExchangeInstID",
];

const INPUT_ORDER: &[&str] = &[
    "BrokerID",
    "InvestorID",
    "OrderRef",
    "UserID",
    "OrderPriceType",
    "Direction",
    "CombOffsetFlag",
    "CombHedgeFlag",
    "LimitPrice",
    "VolumeTotalOriginal",
    "TimeCondition",
    "GTDDate",
    "VolumeCondition",
    "MinVolume",
    "ContingentCondition",
    "StopPrice",
    "ForceCloseReason",
    "IsAutoSuspend",
    "BusinessUnit",
    "RequestID",
    "UserForceClose",
    "IsSwapOrder",
    "ExchangeID",
    "InvestUnitID",
    "AccountID",
    "CurrencyID",
    "ClientID",
    "MacAddress",
    "InstrumentID",
    "IPAddress",
];

const INPUT_ORDER_ACTION: &[&str] = &[
    "BrokerID",
    "InvestorID",
    "OrderActionRef",
    "OrderRef",
    "RequestID",
    "FrontID",
    "SessionID",
    "ExchangeID",
    "OrderSysID",
    "ActionFlag",
    "LimitPrice",
    "VolumeChange",
    "UserID",
    "InvestUnitID",
    "MacAddress",
    "InstrumentID",
    "IPAddress",
];

const ORDER_ACTION: &[&str] = &[
    "BrokerID",
    "InvestorID",
    "OrderActionRef",
    "OrderRef",
    "RequestID",
    "FrontID",
    "SessionID",
    "ExchangeID",
    "OrderSysID",
    "ActionFlag",
    "LimitPrice",
    "VolumeChange",
    "ActionDate",
    "ActionTime",
    "TraderID",
    "InstallID",
    "OrderLocalID",
    "ActionLocalID",
    "ParticipantID",
    "ClientID",
    "BusinessUnit",
    "OrderActionStatus",
    "UserID",
    "StatusMsg",
    "BranchID",
    "InvestUnitID",
    "MacAddress",
    "InstrumentID",
    "IPAddress",
];

// ---------------------------------------------------------------------------
// Expectations.

/// The JSON type a CTP field has on the wire, from its C type: `char[N]` a string,
/// `char` a one-character code (`""` when unset), `int`/`short` an integer, `double` a
/// float.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Text,
    Code,
    Int,
    Float,
}

/// A CTP struct of the protocol.
trait Struct: Serialize + Default + serde::de::DeserializeOwned {}
impl<T: Serialize + Default + serde::de::DeserializeOwned> Struct for T {}

/// The kinds of a CTP struct's fields, read off its default value (generated from
/// the official headers: strings and codes are `""`, numbers 0 or 0.0).
fn kinds<T: Struct>() -> HashMap<String, Kind> {
    let v = serde_json::to_value(T::default()).unwrap();
    v.as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            let kind = match v {
                Value::String(_) if code_field::<T>(k) => Kind::Code,
                Value::String(_) => Kind::Text,
                Value::Number(n) if n.is_f64() => Kind::Float,
                Value::Number(_) => Kind::Int,
                other => panic!("{k}: {other}"),
            };
            (k.clone(), kind)
        })
        .collect()
}

/// Whether field `k` of `T` is a `char` code: a code is `"0"` when given `"0"` and
/// refuses `"00"`, a string takes both.
fn code_field<T: Struct>(k: &str) -> bool {
    serde_json::from_value::<T>(json!({ k: "00" })).is_err()
}

/// A body as a Python webctp client reads it: every key the Python projects send is
/// there, with the JSON type of its CTP field; unset codes are `""` (never NUL).
/// `unset_price_zero` allows the integer `0` for DBL_MAX prices (DepthMarketData).
fn check_body<T: Struct>(what: &str, body: &Value, python_keys: &[&str], unset_price_zero: bool) {
    let obj = body
        .as_object()
        .unwrap_or_else(|| panic!("{what}: body is not an object: {body}"));
    for k in python_keys {
        assert!(obj.contains_key(*k), "{what}: no `{k}` in {body}");
    }
    let kinds = kinds::<T>();
    for (k, v) in obj {
        let kind = kinds
            .get(k)
            .unwrap_or_else(|| panic!("{what}: `{k}` is no field of the CTP struct"));
        let ok = match kind {
            Kind::Text => v.is_string(),
            Kind::Code => v
                .as_str()
                .is_some_and(|s| s.chars().count() <= 1 && s != "\0"),
            Kind::Int => v.is_i64(),
            Kind::Float => {
                v.is_f64() || (unset_price_zero && v == &json!(0) && k.ends_with("Price"))
            }
        };
        assert!(ok, "{what}: `{k}` should be {kind:?}, is {v}");
    }
}

/// An answer's envelope: MsgType, RspInfo (null or ErrorID/ErrorMsg), the client's
/// RequestID and IsLast.
fn check_envelope(v: &Value, msg_type: &str, request_id: i64, error_id: i32) {
    assert_eq!(v["MsgType"], msg_type, "{v}");
    assert_eq!(v["RequestID"], request_id, "{v}");
    assert!(v["IsLast"].is_boolean(), "{v}");
    match &v["RspInfo"] {
        Value::Null => assert_eq!(error_id, 0, "{v}"),
        info => {
            assert_eq!(info["ErrorID"], error_id, "{v}");
            assert!(
                info["ErrorID"].is_i64() && info["ErrorMsg"].is_string(),
                "{v}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Flows.

/// md: login, subscribe (with a key webctp does not know, and a bare string), ticks,
/// unsubscribe, an unknown MsgType, malformed JSON.
async fn md_flow(backend: Backend) {
    let (gw, _dir) = gateway(backend, "compat-md", true);
    let mut c = Client::connect(&gw.md_url).await;

    c.send(
        json!({"MsgType": "ReqUserLogin", "RequestID": 1, "ClientTag": "py",
        "ReqUserLogin": {"UserID": "028742", "Password": "123456", "Extra": 1}}),
    )
    .await;
    let login = c.recv().await;
    check_envelope(&login, "RspUserLogin", 1, 0);
    assert_eq!(login["IsLast"], true);
    check_body::<RspUserLogin>(
        "md RspUserLogin",
        &login["RspUserLogin"],
        &["TradingDay"],
        false,
    );

    // Row 1: a key the gateway does not know is ignored.
    c.send(
        json!({"MsgType": "SubscribeMarketData", "RequestID": 2, "ClientTag": "x",
        "InstrumentID": ["rb2605", "au2602"]}),
    )
    .await;
    let subs = c.recv_all("RspSubMarketData").await;
    let ids = common::instrument_ids(&subs);
    assert_eq!(ids, ["rb2605", "au2602"]);
    for (i, s) in subs.iter().enumerate() {
        check_envelope(s, "RspSubMarketData", 2, 0);
        assert_eq!(s["IsLast"], i == 1);
        check_body::<SpecificInstrument>(
            "RspSubMarketData",
            &s["SpecificInstrument"],
            &["InstrumentID"],
            false,
        );
    }
    // A bare string is one instrument.
    c.send(json!({"MsgType": "SubscribeMarketData", "RequestID": 3, "InstrumentID": "TA601"}))
        .await;
    let one = c.recv_until(|v| v["MsgType"] == "RspSubMarketData").await;
    check_envelope(&one, "RspSubMarketData", 3, 0);
    assert_eq!(one["SpecificInstrument"]["InstrumentID"], "TA601");

    // Ticks: a push without RspInfo; rows 5 and 7: reserve2 is there, unset prices
    // are the integer 0 (ClosePrice and SettlementPrice are unset during the session).
    let mut seen = std::collections::HashSet::new();
    while seen.len() < 3 {
        let t = c.recv_until(|v| v["MsgType"] == "RtnDepthMarketData").await;
        let keys: Vec<&String> = t.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["MsgType", "DepthMarketData"], "{t}");
        let d = &t["DepthMarketData"];
        check_body::<DepthMarketData>("RtnDepthMarketData", d, DEPTH_MARKET_DATA, true);
        assert!(d["reserve2"].is_string(), "{d}");
        assert!(d["ClosePrice"].is_u64() && d["ClosePrice"] == 0, "{d}");
        assert!(
            d["SettlementPrice"].is_u64() && d["SettlementPrice"] == 0,
            "{d}"
        );
        assert!(
            d["LastPrice"].is_f64() && d["LastPrice"].as_f64().unwrap() > 0.0,
            "{d}"
        );
        assert!(d["Volume"].is_i64() && d["UpdateMillisec"].is_i64(), "{d}");
        seen.insert(d["InstrumentID"].as_str().unwrap().to_string());
    }

    c.send(json!({"MsgType": "UnSubscribeMarketData", "RequestID": 4,
        "InstrumentID": ["rb2605", "au2602", "TA601"]}))
        .await;
    let unsubs = c.recv_all("RspUnSubMarketData").await;
    assert_eq!(unsubs.len(), 3);
    for u in &unsubs {
        check_envelope(u, "RspUnSubMarketData", 4, 0);
        check_body::<SpecificInstrument>(
            "RspUnSubMarketData",
            &u["SpecificInstrument"],
            &["InstrumentID"],
            false,
        );
    }
    let _ = c.drain_for(Duration::from_millis(200)).await;
    let later = c.drain_for(Duration::from_millis(300)).await;
    assert!(
        later.iter().all(|v| v["MsgType"] != "RtnDepthMarketData"),
        "{later:?}"
    );

    // An unknown MsgType: -404 under the request's own MsgType.
    c.send(json!({"MsgType": "ReqFly", "RequestID": 5})).await;
    let e = c.recv().await;
    assert_eq!(
        (&e["MsgType"], &e["RspInfo"]["ErrorID"]),
        (&json!("ReqFly"), &json!(NOT_IMPLEMENTED)),
        "{e}"
    );
    assert_eq!(e["RspInfo"]["ErrorMsg"], "Not implemented");
    // Malformed JSON: -400 with an empty MsgType, as openctp/webctp answers it.
    c.send_text(r#"{"MsgType": "SubscribeMarketData", "InstrumentID": "x""#)
        .await;
    let e = c.recv().await;
    assert_eq!(
        (&e["MsgType"], &e["RspInfo"]["ErrorID"]),
        (&json!(""), &json!(BAD_PARAMETERS)),
        "{e}"
    );
    assert_eq!(e["RspInfo"]["ErrorMsg"], "参数有误");
    assert!(e["Detail"].is_string());
    // A known key with the wrong type is still -400.
    c.send(json!({"MsgType": "SubscribeMarketData", "RequestID": 6, "InstrumentID": [7]}))
        .await;
    let e = c.recv().await;
    assert_eq!(e["RspInfo"]["ErrorID"], BAD_PARAMETERS, "{e}");
}

/// td: login, settlement confirm, account, positions, the instrument query with both
/// projects' body keys, a second login (same user, then another), a wrong password and
/// a query after it.
async fn td_session_flow(backend: Backend) {
    let (gw, _dir) = gateway(backend, "compat-td", false);
    let mut c = Client::connect(&gw.td_url).await;
    c.send(
        json!({"MsgType": "ReqUserLogin", "RequestID": 0, "Source": "py",
        "ReqUserLogin": {"UserID": "u-compat", "Password": "123456", "Extra": {"a": 1}}}),
    )
    .await;
    let login = c.recv().await;
    check_envelope(&login, "RspUserLogin", 0, 0);
    assert_eq!(login["IsLast"], true);
    let info = &login["RspUserLogin"];
    check_body::<RspUserLogin>("td RspUserLogin", info, RSP_USER_LOGIN, false);
    assert_eq!(info["UserID"], "u-compat");

    c.send(
        json!({"MsgType": "ReqSettlementInfoConfirm", "RequestID": 1,
        "SettlementInfoConfirm": {"BrokerID": "9999", "InvestorID": "u-compat"}}),
    )
    .await;
    let confirm = c
        .recv_until(|v| v["MsgType"] == "RspSettlementInfoConfirm")
        .await;
    check_envelope(&confirm, "RspSettlementInfoConfirm", 1, 0);
    check_body::<SettlementInfoConfirm>(
        "RspSettlementInfoConfirm",
        &confirm["SettlementInfoConfirm"],
        &["InvestorID"],
        false,
    );

    let acc = c
        .ask("ReqQryTradingAccount", 2, json!({"Unknown": true}))
        .await;
    assert_eq!(acc.len(), 1);
    check_envelope(&acc[0], "RspQryTradingAccount", 2, 0);
    assert_eq!(acc[0]["IsLast"], true);
    let a = &acc[0]["TradingAccount"];
    check_body::<TradingAccount>("TradingAccount", a, TRADING_ACCOUNT, false);
    assert_eq!(a["Available"], 20_000_000.0);
    // Row 4: an unset code is "", which Python and JavaScript read as false.
    assert_eq!(a["BizType"], "");

    // No positions: one answer with a null body and IsLast.
    let pos = c.ask("ReqQryInvestorPosition", 3, json!({})).await;
    assert_eq!(pos.len(), 1);
    check_envelope(&pos[0], "RspQryInvestorPosition", 3, 0);
    assert_eq!(
        (&pos[0]["IsLast"], &pos[0]["InvestorPosition"]),
        (&json!(true), &Value::Null)
    );

    // Row 3: both body keys; QryInstrument (CTP's and openctp's) is the one read.
    c.send(json!({"MsgType": "ReqQryInstrument", "RequestID": 4,
        "QryInstrument": {"InstrumentID": "rb2605"},
        "ReqQryInstrument": {"InstrumentID": "au2602"}}))
        .await;
    let inst = c.recv_all("RspQryInstrument").await;
    assert_eq!(inst.len(), 1, "{inst:?}");
    check_envelope(&inst[0], "RspQryInstrument", 4, 0);
    let i = &inst[0]["Instrument"];
    check_body::<Instrument>("Instrument", i, INSTRUMENT, false);
    assert_eq!(i["InstrumentID"], "rb2605");
    assert_eq!(i["OptionsType"], "", "a future has no options type: {i}");
    assert!(i["VolumeMultiple"].is_i64() && i["PriceTick"].is_f64());

    // Row 6: the same user logs in again on the connection: the session's own answer.
    c.send(json!({"MsgType": "ReqUserLogin", "RequestID": 5,
        "ReqUserLogin": {"UserID": "u-compat", "Password": "123456"}}))
        .await;
    let again = c.recv_until(|v| v["MsgType"] == "RspUserLogin").await;
    check_envelope(&again, "RspUserLogin", 5, 0);
    assert_eq!(again["RspUserLogin"]["SessionID"], info["SessionID"]);
    assert_eq!(again["RspUserLogin"]["FrontID"], info["FrontID"]);

    // CTP pushes a user's orders to each of the user's sessions: an order from another
    // connection of the same user reaches this one too ...
    let mut first = Client::td_client(&gw.td_url, "u-compat").await;
    let (_, _, _, low) = first.book("rb2605").await;
    first.send(order(7, "rb2605", "0", "0", low, 1)).await;
    let seen = c
        .recv_until(|v| v["MsgType"] == "RtnOrder" && v["Order"]["OrderStatus"] == "3")
        .await;
    assert_eq!(seen["Order"]["UserID"], "u-compat");

    // Another user: a new session; the old one is closed and its pushes end.
    c.send(json!({"MsgType": "ReqUserLogin", "RequestID": 6,
        "ReqUserLogin": {"UserID": "u-compat2", "Password": "123456"}}))
        .await;
    let other = c.recv_until(|v| v["MsgType"] == "RspUserLogin").await;
    check_envelope(&other, "RspUserLogin", 6, 0);
    check_body::<RspUserLogin>(
        "second RspUserLogin",
        &other["RspUserLogin"],
        RSP_USER_LOGIN,
        false,
    );
    assert_eq!(other["RspUserLogin"]["UserID"], "u-compat2");
    assert_ne!(other["RspUserLogin"]["SessionID"], info["SessionID"]);
    // ... but no longer once this connection is another user's.
    first.send(order(8, "rb2605", "0", "0", low, 1)).await;
    first
        .recv_until(|v| {
            v["MsgType"] == "RtnOrder"
                && v["Order"]["OrderStatus"] == "3"
                && v["Order"]["RequestID"] == 8
        })
        .await;
    // Queries answer for the second user; nothing of the first arrives meanwhile.
    c.send(json!({"MsgType": "ReqQryOrder", "RequestID": 9, "QryOrder": {}}))
        .await;
    loop {
        let v = c.recv().await;
        assert_ne!(
            v["MsgType"], "RtnOrder",
            "the old session still pushes: {v}"
        );
        if v["MsgType"] == "RspQryOrder" {
            assert_eq!(
                (&v["IsLast"], &v["Order"]),
                (&json!(true), &Value::Null),
                "{v}"
            );
            break;
        }
    }
    let stray = c.drain_for(Duration::from_millis(300)).await;
    assert!(
        stray.iter().all(|v| v["MsgType"] != "RtnOrder"),
        "{stray:?}"
    );

    // A wrong password: CTP's 3 in RspUserLogin, with a null body.
    let mut w = Client::connect(&gw.td_url).await;
    w.send(json!({"MsgType": "ReqUserLogin", "RequestID": 19,
        "ReqUserLogin": {"UserID": "u-compat", "Password": "wrong"}}))
        .await;
    let refused = w.recv_until(|v| v["MsgType"] == "RspUserLogin").await;
    check_envelope(&refused, "RspUserLogin", 19, ctp::INVALID_LOGIN);
    assert_eq!(refused["RspInfo"]["ErrorMsg"], "CTP:不合法的登录");
    assert_eq!(refused["IsLast"], true);
    assert!(refused["RspUserLogin"].is_null(), "{refused}");
    // Row 8: a query after the failed login is answered by CTP, as the Python projects
    // pass it through: the query's own answer with CTP's 6 (not logged in).
    w.send(json!({"MsgType": "ReqQryTradingAccount", "RequestID": 10, "QryTradingAccount": {}}))
        .await;
    let q = w.recv().await;
    check_envelope(&q, "RspQryTradingAccount", 10, ctp::NOT_LOGIN_YET);
    assert_eq!(q["RspInfo"]["ErrorMsg"], "CTP:还没有登录");
    assert_eq!(q["IsLast"], true);
    assert!(q["TradingAccount"].is_null(), "{q}");
    // Before any login a request is the gateway's -401, as in the Python projects.
    let mut fresh = Client::connect(&gw.td_url).await;
    fresh
        .send(json!({"MsgType": "ReqQryTradingAccount", "RequestID": 11, "QryTradingAccount": {}}))
        .await;
    let e = fresh.recv().await;
    assert_eq!(
        (&e["MsgType"], &e["RspInfo"]["ErrorID"]),
        (&json!("ReqQryTradingAccount"), &json!(NOT_LOGGED_IN)),
        "{e}"
    );
}

/// One order's messages until it is final, as (MsgType, OrderStatus or "").
fn sequence(msgs: &[Value]) -> Vec<(String, String)> {
    msgs.iter()
        .map(|v| {
            (
                v["MsgType"].as_str().unwrap_or_default().to_string(),
                v["Order"]["OrderStatus"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect()
}

/// td: a crossing order (with a key webctp does not know in its body), a resting
/// order and its cancel, a volume-0 order, a second cancel.
async fn td_order_flow(backend: Backend) {
    let (gw, _dir) = gateway(backend, "compat-orders", false);
    let mut c = Client::td_client(&gw.td_url, "u-orders").await;
    let (_, ask, _, low) = c.book("rb2605").await;

    // Row 2: an unknown field inside the body; the order is placed.
    let mut cross = order(20, "rb2605", "0", "0", ask, 1);
    cross["InputOrder"]["Foo"] = json!("bar");
    cross["ClientTag"] = json!("x");
    c.send(cross).await;
    let mut msgs = Vec::new();
    loop {
        let v = c
            .recv_until(|v| {
                matches!(
                    v["MsgType"].as_str(),
                    Some("RtnOrder" | "RtnTrade" | "RspOrderInsert" | "ErrRtnOrderInsert")
                )
            })
            .await;
        let done = v["MsgType"] != "RtnOrder" || v["Order"]["OrderStatus"] == "0";
        msgs.push(v);
        if done && msgs.iter().any(|m| m["MsgType"] == "RtnTrade") {
            break;
        }
        assert!(msgs.len() < 10, "{msgs:?}");
    }
    let seq = sequence(&msgs);
    let expect: Vec<(String, String)> = [
        ("RtnOrder", "a"),
        ("RtnOrder", "3"),
        ("RtnOrder", "0"),
        ("RtnTrade", ""),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(seq, expect, "{msgs:?}");
    for m in &msgs {
        // A push: no RequestID, and RspInfo null (as the Python projects send it).
        assert!(m.get("RequestID").is_none(), "a push: {m}");
        assert_eq!(m.get("RspInfo"), Some(&Value::Null), "a push: {m}");
        match m["MsgType"].as_str() {
            Some("RtnOrder") => check_body::<Order>("RtnOrder", &m["Order"], ORDER, false),
            _ => check_body::<Trade>("RtnTrade", &m["Trade"], TRADE, false),
        }
    }
    let first = &msgs[0]["Order"];
    assert_eq!(first["RequestID"], 20);
    assert_eq!(msgs[3]["Trade"]["Volume"], 1);

    // A resting order, then its cancel: RtnOrder 3, then RtnOrder 5; no RspOrderAction.
    c.send(order(21, "rb2605", "0", "0", low, 1)).await;
    let rest = c
        .recv_until(|v| v["MsgType"] == "RtnOrder" && v["Order"]["OrderStatus"] == "3")
        .await;
    let sys_id = rest["Order"]["OrderSysID"].as_str().unwrap().to_string();
    let cancel = json!({"MsgType": "ReqOrderAction", "RequestID": 22, "InputOrderAction": {
        "ExchangeID": "SHFE", "OrderSysID": sys_id, "ActionFlag": "0", "InstrumentID": "rb2605",
        "Note": "unknown"}});
    c.send(cancel.clone()).await;
    let cancelled = c.recv().await;
    assert_eq!(
        (&cancelled["MsgType"], &cancelled["Order"]["OrderStatus"]),
        (&json!("RtnOrder"), &json!("5")),
        "{cancelled}"
    );
    check_body::<Order>("cancelled RtnOrder", &cancelled["Order"], ORDER, false);

    // A second cancel: CTP's 26 in RspOrderAction, then ErrRtnOrderAction.
    c.send(cancel).await;
    let rsp = c.recv().await;
    check_envelope(&rsp, "RspOrderAction", 22, ctp::INSUITABLE_ORDER_STATUS);
    check_body::<InputOrderAction>(
        "RspOrderAction",
        &rsp["InputOrderAction"],
        INPUT_ORDER_ACTION,
        false,
    );
    let err = c.recv().await;
    assert_eq!(
        (&err["MsgType"], &err["RspInfo"]["ErrorID"]),
        (
            &json!("ErrRtnOrderAction"),
            &json!(ctp::INSUITABLE_ORDER_STATUS)
        ),
        "{err}"
    );
    check_body::<OrderAction>(
        "ErrRtnOrderAction",
        &err["OrderAction"],
        ORDER_ACTION,
        false,
    );

    // Volume 0: CTP's 15 in RspOrderInsert, then ErrRtnOrderInsert.
    c.send(order(23, "rb2605", "0", "0", ask, 0)).await;
    let rsp = c.recv().await;
    check_envelope(&rsp, "RspOrderInsert", 23, ctp::BAD_FIELD);
    check_body::<InputOrder>("RspOrderInsert", &rsp["InputOrder"], INPUT_ORDER, false);
    let err = c.recv().await;
    assert_eq!(
        (&err["MsgType"], &err["RspInfo"]["ErrorID"]),
        (&json!("ErrRtnOrderInsert"), &json!(ctp::BAD_FIELD)),
        "{err}"
    );
    check_body::<InputOrder>("ErrRtnOrderInsert", &err["InputOrder"], INPUT_ORDER, false);

    // The position query after the fill: the record and IsLast.
    let pos = c
        .ask(
            "ReqQryInvestorPosition",
            24,
            json!({"InstrumentID": "rb2605"}),
        )
        .await;
    assert_eq!(pos.len(), 1, "{pos:?}");
    check_body::<InvestorPosition>(
        "InvestorPosition",
        &pos[0]["InvestorPosition"],
        INVESTOR_POSITION,
        false,
    );
    assert_eq!(pos[0]["InvestorPosition"]["Position"], 1);
    // Unset prices in a market-data query are the integer 0 too.
    let d = c
        .ask(
            "ReqQryDepthMarketData",
            25,
            json!({"InstrumentID": "rb2605"}),
        )
        .await;
    let d = &d[0]["DepthMarketData"];
    check_body::<DepthMarketData>("RspQryDepthMarketData", d, &DEPTH_MARKET_DATA[..46], true);
    assert!(d["ClosePrice"].is_u64(), "{d}");
}

#[tokio::test]
async fn sim_md() {
    md_flow(Backend::Sim).await;
}

#[tokio::test]
async fn native_md() {
    md_flow(Backend::Native).await;
}

#[tokio::test]
async fn sim_td_session() {
    td_session_flow(Backend::Sim).await;
}

#[tokio::test]
async fn native_td_session() {
    td_session_flow(Backend::Native).await;
}

#[tokio::test]
async fn sim_td_orders() {
    td_order_flow(Backend::Sim).await;
}

#[tokio::test]
async fn native_td_orders() {
    td_order_flow(Backend::Native).await;
}
