//! Micro-benchmarks of the hot paths: `cargo bench --bench hot_paths`.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

use webctp::ctp::sim::clock::BeijingTime;
use webctp::ctp::sim::exchange::{Exchange, Origin, Record};
use webctp::ctp::sim::market::Quote;
use webctp::ctp::sim::rng::Rng;
use webctp::protocol::fields::{InputOrder, Order};
use webctp::protocol::message::market_data_json;
use webctp::protocol::{CtpChar, Endpoint, Reply, parse};

fn depth() -> webctp::protocol::fields::DepthMarketData {
    let mut rng = Rng::new(1);
    let ex = Exchange::new("20251203".into(), Rng::new(1));
    let spec = ex
        .instruments
        .find("rb2605")
        .cloned()
        .unwrap_or_else(|| ex.instruments.get(0).clone());
    let mut q = Quote::new(spec.clone(), spec.pre_settlement, None, &mut rng);
    for _ in 0..100 {
        q.step(&mut rng);
    }
    q.snapshot("20261124", &BeijingTime::now())
}

fn serialization(c: &mut Criterion) {
    let d = depth();
    c.bench_function(
        "serialize DepthMarketData (RtnDepthMarketData message)",
        |b| b.iter(|| market_data_json(black_box(&d))),
    );
    c.bench_function(
        "serialize DepthMarketData with serde_json's own formatter",
        |b| b.iter(|| serde_json::to_vec(black_box(&d))),
    );
    let order = Order {
        BrokerID: "9999".into(),
        InvestorID: "028742".into(),
        OrderRef: "           1".into(),
        UserID: "028742".into(),
        OrderPriceType: CtpChar(b'2'),
        Direction: CtpChar(b'0'),
        CombOffsetFlag: "0".into(),
        CombHedgeFlag: "1".into(),
        LimitPrice: 3171.0,
        VolumeTotalOriginal: 1,
        OrderSysID: "      100001".into(),
        OrderStatus: CtpChar(b'0'),
        StatusMsg: "全部成交".into(),
        InstrumentID: "rb2605".into(),
        ExchangeID: "SHFE".into(),
        InsertDate: "20261124".into(),
        InsertTime: "14:42:18".into(),
        ..Order::default()
    };
    let reply = Reply::push("RtnOrder", "Order", Some(order.into()), None);
    c.bench_function("serialize RtnOrder", |b| {
        b.iter(|| black_box(&reply).to_json())
    });
}

fn parsing(c: &mut Criterion) {
    let text = r#"{"MsgType": "ReqOrderInsert", "RequestID": 3, "InputOrder": {"BrokerID": "9999", "InvestorID": "028742", "ExchangeID": "SHFE", "InstrumentID": "rb2605", "LimitPrice": 3171.0, "OrderPriceType": "2", "Direction": "0", "CombOffsetFlag": "0", "CombHedgeFlag": "1", "VolumeTotalOriginal": 1, "TimeCondition": "3", "VolumeCondition": "1", "ContingentCondition": "1", "ForceCloseReason": "0", "IsAutoSuspend": 0, "IsSwapOrder": 0}}"#;
    c.bench_function("parse and validate ReqOrderInsert", |b| {
        b.iter(|| parse(black_box(text), Endpoint::Td))
    });
    let sub =
        r#"{"MsgType": "SubscribeMarketData", "InstrumentID": ["au2602", "rb2605", "TA601"]}"#;
    c.bench_function("parse SubscribeMarketData", |b| {
        b.iter(|| parse(black_box(sub), Endpoint::Md))
    });
}

fn dispatch(c: &mut Criterion) {
    let rt = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(_) => return,
    };
    let dir = std::env::temp_dir().join(format!("webctp-bench-dispatch-{}", std::process::id()));
    let _guard = rt.enter();
    let file = webctp::config::FileConfig::parse("Sim: {TickRate: 0, AutoSettle: false}")
        .unwrap_or_default();
    let overrides = webctp::config::Overrides {
        data_dir: Some(dir.clone()),
        ..Default::default()
    };
    let Ok(cfg) = webctp::config::Config::resolve(file, None, overrides) else {
        return;
    };
    let Ok(d) = webctp::cli::start_dispatcher(cfg) else {
        return;
    };
    let Ok(mut conn) = d.connect(Endpoint::Td) else {
        return;
    };
    c.bench_function(
        "dispatch a Ping through a connection (parse, route, answer)",
        |b| {
            b.iter(|| {
                conn.handle(black_box(r#"{"MsgType":"Ping","Timestamp":1}"#));
                conn.outbox.try_recv()
            })
        },
    );
    c.bench_function("dispatch a request refused before login (-401)", |b| {
        b.iter(|| {
            conn.handle(black_box(
                r#"{"MsgType":"ReqQryOrder","RequestID":1,"QryOrder":{}}"#,
            ));
            conn.outbox.try_recv()
        })
    });
    drop(conn);
    drop(d);
    let _ = std::fs::remove_dir_all(dir);
}

fn matching(c: &mut Criterion) {
    let fresh = || {
        let mut ex = Exchange::new("20251203".into(), Rng::new(5));
        ex.open_account("u1", "pw", 1e12);
        ex.apply(&Record::Confirm {
            user: "u1".into(),
            day: "20251203".into(),
            date: "20251203".into(),
            time: "09:00:00".into(),
        });
        ex
    };
    let i = fresh().instruments.index_of("m2605").unwrap_or(0);
    let now = BeijingTime::now();
    let mut n = 0u64;
    c.bench_function("sim: validate, accept and match a crossing order", |b| {
        b.iter_batched(
            fresh,
            |mut ex| {
                for _ in 0..100 {
                    n += 1;
                    let ask = ex.quotes[i].upper_limit;
                    let o = InputOrder {
                        InstrumentID: "m2605".into(),
                        Direction: CtpChar(b'0'),
                        CombOffsetFlag: "0".into(),
                        OrderPriceType: CtpChar(b'2'),
                        LimitPrice: ask,
                        VolumeTotalOriginal: 1,
                        TimeCondition: CtpChar(b'1'),
                        VolumeCondition: CtpChar(b'1'),
                        ..InputOrder::default()
                    };
                    let order_ref = n.to_string();
                    let origin = Origin {
                        user: "u1",
                        front_id: 1,
                        session_id: 1,
                        order_ref: &order_ref,
                    };
                    if let Ok(recs) = ex.decide_insert(&origin, &o, 1, &now) {
                        let before = ex.orders.len();
                        for r in recs {
                            black_box(ex.apply_live(r));
                        }
                        for r in ex.decide_match(before, &now) {
                            black_box(ex.apply_live(r));
                        }
                    }
                }
                ex
            },
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, serialization, parsing, dispatch, matching);
criterion_main!(benches);
