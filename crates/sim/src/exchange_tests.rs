//! Tests of the exchange's decisions and their replay.

use super::account::Side;
use super::clock::BeijingTime;
use super::exchange::*;
use super::market::Quote;
use super::rng::Rng;
use webctp_protocol::CtpChar;
use webctp_protocol::errors::ctp;
use webctp_protocol::fields::InputOrder;

mod decisions {
    use super::*;

    /// An exchange on the seed's day (its instruments: au2602, rb2605, m2605...).
    fn exchange() -> Exchange {
        let mut ex = Exchange::new("20251203".into(), Rng::new(3));
        let r = ex.open_account("u1", "pw", 1_000_000.0);
        let _ = r;
        ex.apply(&Record::Confirm {
            user: "u1".into(),
            day: "20251203".into(),
            date: "20251203".into(),
            time: "09:00:00".into(),
        });
        ex
    }

    fn order(inst: &str, dir: u8, offset: u8, price: f64, volume: i32) -> InputOrder {
        InputOrder {
            InstrumentID: inst.into(),
            Direction: CtpChar(dir),
            CombOffsetFlag: char::from(offset).to_string(),
            OrderPriceType: CtpChar(code::LIMIT_PRICE),
            LimitPrice: price,
            VolumeTotalOriginal: volume,
            TimeCondition: CtpChar(code::GFD),
            VolumeCondition: CtpChar(code::ANY_VOLUME),
            ..InputOrder::default()
        }
    }

    fn run(ex: &mut Exchange, recs: Vec<Record>, journal: &mut Vec<Record>) -> Vec<Push> {
        let mut pushes = Vec::new();
        for r in recs {
            let live = ex.apply_live(r).unwrap();
            pushes.extend(live.pushes);
            journal.push(live.record);
        }
        pushes
    }

    /// Inserts `input` for u1 and runs one matching pass over it; returns the
    /// pushes of the insert and of the match.
    fn insert_and_match(
        ex: &mut Exchange,
        journal: &mut Vec<Record>,
        order_ref: &str,
        input: &InputOrder,
        request_id: i32,
        now: &BeijingTime,
    ) -> (Vec<Push>, Vec<Push>) {
        let origin = Origin {
            user: "u1",
            front_id: 1,
            session_id: 7,
            order_ref,
        };
        let recs = ex.decide_insert(&origin, input, request_id, now).unwrap();
        let inserted = run(ex, recs, journal);
        let idx = ex.orders.len() - 1;
        let recs = ex.decide_match(idx, now);
        (inserted, run(ex, recs, journal))
    }

    #[test]
    fn rejections_use_ctp_error_ids() {
        let mut ex = exchange();
        let now = BeijingTime::now();
        let rb = ex.quotes[ex.instruments.index_of("rb2605").unwrap()].clone();
        let cases = [
            (
                order("zz9999", code::BUY, code::OPEN, 3000.0, 1),
                ctp::INSTRUMENT_NOT_FOUND,
            ),
            (
                order("rb2605", code::BUY, code::OPEN, rb.last + 0.5, 1),
                ctp::PRICE_WRONG_TICK,
            ),
            (
                order("rb2605", code::BUY, code::OPEN, rb.upper_limit + 1.0, 1),
                ctp::PRICE_OVER_LIMIT,
            ),
            (
                order("rb2605", code::SELL, code::CLOSE_TODAY, rb.last, 1),
                ctp::OVER_CLOSETODAY_POSITION,
            ),
            (
                order("rb2605", code::SELL, code::CLOSE, rb.last, 1),
                ctp::OVER_CLOSEYESTERDAY_POSITION,
            ),
            (
                order("m2605", code::SELL, code::CLOSE, 2950.0, 1),
                ctp::OVER_CLOSE_POSITION,
            ),
            (
                order("rb2605", code::BUY, code::OPEN, rb.last, 0),
                ctp::BAD_FIELD,
            ),
            (
                order("rb2605", code::BUY, code::OPEN, rb.last, 501),
                ctp::VOLUME_NOT_VALID,
            ),
            (
                order("au2602", code::BUY, code::OPEN, 952.40, 9),
                ctp::INSUFFICIENT_MONEY,
            ),
        ];
        for (input, want) in cases {
            let got = ex.decide_insert(
                &Origin {
                    user: "u1",
                    front_id: 1,
                    session_id: 1,
                    order_ref: "1",
                },
                &input,
                0,
                &now,
            );
            assert_eq!(got.err(), Some(want), "{}", input.InstrumentID);
        }
        let mut market = order("rb2605", code::BUY, code::OPEN, 0.0, 1);
        market.OrderPriceType = CtpChar(code::ANY_PRICE);
        assert_eq!(
            ex.decide_insert(
                &Origin {
                    user: "u1",
                    front_id: 1,
                    session_id: 1,
                    order_ref: "2"
                },
                &market,
                0,
                &now
            )
            .err(),
            Some(ctp::PRICETYPE_NOTSUPPORT_BYEXCHANGE)
        );
    }

    #[test]
    fn open_fill_close_and_replay_agree() {
        let mut ex = exchange();
        let now = BeijingTime::now();
        let mut journal = Vec::new();
        let i = ex.instruments.index_of("rb2605").unwrap();
        let ask = ex.quotes[i].asks[0].price;
        let (inserted, filled) = insert_and_match(
            &mut ex,
            &mut journal,
            "1",
            &order("rb2605", code::BUY, code::OPEN, ask + 5.0, 2),
            3,
            &now,
        );
        assert_eq!(inserted.len(), 2);
        assert!(filled.iter().any(|p| matches!(p, Push::Trade(_))));
        let idx = ex.orders.len() - 1;
        assert_eq!(ex.orders[idx].status, code::ALL_TRADED);
        let pos = &ex.accounts["u1"].positions[&(i, Side::Long)];
        assert_eq!(pos.total(), 2);
        let bid = ex.quotes[i].bids[0].price;
        insert_and_match(
            &mut ex,
            &mut journal,
            "2",
            &order("rb2605", code::SELL, code::CLOSE_TODAY, bid, 1),
            4,
            &now,
        );
        assert_eq!(ex.accounts["u1"].positions[&(i, Side::Long)].total(), 1);
        assert!(ex.accounts["u1"].commission > 0.0);
        ex.verify().unwrap();

        // Replaying the journal rebuilds the same account.
        let mut again = Exchange::new("20251203".into(), Rng::new(99));
        for r in &journal_with_open(&ex, &journal) {
            again.apply(r);
        }
        again.verify().unwrap();
        let (a, b) = (&ex.accounts["u1"], &again.accounts["u1"]);
        assert_eq!(a.positions, b.positions);
        assert!((a.close_profit - b.close_profit).abs() < 1e-9);
        assert!((a.commission - b.commission).abs() < 1e-9);
        assert_eq!(ex.trades.len(), again.trades.len());
    }

    /// What `kill -9` can leave: a crossing order's insert journaled and its fill not
    /// (the kill cut the batch's write between them). Neither was acknowledged; the
    /// replay has the order resting, its margin frozen at its own limit price — not at
    /// the price of other resting orders — and the next match fills it and releases
    /// exactly that margin.
    #[test]
    fn a_journal_cut_between_insert_and_fill_replays_the_order_resting_at_its_price() {
        let mut ex = exchange();
        let now = BeijingTime::now();
        let mut journal = Vec::new();
        let i = ex.instruments.index_of("rb2605").unwrap();
        let (low, up) = (ex.quotes[i].lower_limit, ex.quotes[i].upper_limit);
        insert_and_match(
            &mut ex,
            &mut journal,
            "1",
            &order("rb2605", code::BUY, code::OPEN, low, 1),
            1,
            &now,
        );
        insert_and_match(
            &mut ex,
            &mut journal,
            "2",
            &order("rb2605", code::BUY, code::OPEN, up, 1),
            2,
            &now,
        );
        let fill = journal.len() - 1;
        assert!(matches!(journal[fill], Record::Fill { .. }), "{journal:?}");
        let cut = &journal[..fill];

        let mut again = Exchange::new("20251203".into(), Rng::new(99));
        for r in &journal_with_open(&ex, cut) {
            again.apply(r);
        }
        again.verify().unwrap();
        let spec = again.instruments.get(i).clone();
        let per_lot = |p: f64| crate::account::margin_per_lot(&spec, Side::Long, p);
        let resting: Vec<f64> = again.resting[i]
            .iter()
            .map(|&o| again.orders[o as usize].limit_price)
            .collect();
        assert_eq!(resting, [low, up]);
        let frozen = again.accounts["u1"].frozen_margin;
        assert!(
            (frozen - (per_lot(low) + per_lot(up))).abs() < 1e-6,
            "{frozen}"
        );

        let crossing = again.crossing_orders(i);
        assert_eq!(crossing.len(), 1);
        let fills = again.decide_match(crossing[0], &now);
        assert!(!fills.is_empty());
        for r in fills {
            again.apply_live(r).unwrap();
        }
        again.verify().unwrap();
        assert_eq!(again.orders[crossing[0]].status, code::ALL_TRADED);
        let frozen = again.accounts["u1"].frozen_margin;
        assert!((frozen - per_lot(low)).abs() < 1e-6, "{frozen}");
    }

    fn journal_with_open(ex: &Exchange, journal: &[Record]) -> Vec<Record> {
        let a = &ex.accounts["u1"];
        let mut v = vec![
            Record::Open {
                user: "u1".into(),
                salt: a.salt.clone(),
                digest: a.digest.clone(),
                funds: 1_000_000.0,
            },
            Record::Confirm {
                user: "u1".into(),
                day: "20251203".into(),
                date: "20251203".into(),
                time: "09:00:00".into(),
            },
        ];
        v.extend(journal.iter().cloned());
        v
    }

    #[test]
    fn roll_moves_today_to_yesterday_and_settles() {
        let mut ex = exchange();
        let now = BeijingTime::now();
        let mut journal = Vec::new();
        let i = ex.instruments.index_of("rb2605").unwrap();
        let ask = ex.quotes[i].asks[0].price;
        insert_and_match(
            &mut ex,
            &mut journal,
            "1",
            &order("rb2605", code::BUY, code::OPEN, ask, 1),
            0,
            &now,
        );
        let recs = ex.decide_roll("20251204", &now);
        run(&mut ex, recs, &mut journal);
        assert_eq!(ex.trading_day, "20251204");
        let p = &ex.accounts["u1"].positions[&(i, Side::Long)];
        assert_eq!(p.yd_start, 1);
        assert_eq!(p.yesterday("20251204"), 1);
        assert!(ex.accounts["u1"].confirmed.is_none());
        assert!(ex.accounts["u1"].settlement_text.contains("rb2605"));
        ex.verify().unwrap();
    }
}

mod journal {
    use super::*;

    fn exchange() -> Exchange {
        let mut ex = Exchange::new("20251203".into(), Rng::new(5));
        ex.open_account("u1", "pw", 1_000_000.0);
        ex.apply(&Record::Confirm {
            user: "u1".into(),
            day: "20251203".into(),
            date: "20251203".into(),
            time: "09:00:00".into(),
        });
        ex
    }

    /// Applies decided records as the live path does; returns what it journals.
    fn journal_of(ex: &mut Exchange, recs: Vec<Record>) -> Vec<Record> {
        let mut out = Vec::new();
        for r in recs {
            if let Some(live) = ex.apply_live(r) {
                out.push(live.record);
            }
        }
        out
    }

    /// Everything the live path journals must read back as written (#10, finding 5: a
    /// fill whose apply returned early kept NaN placeholders, written as JSON null).
    #[test]
    fn what_the_live_path_journals_reads_back() {
        let mut ex = exchange();
        let now = BeijingTime::now();
        let i = ex.instruments.index_of("rb2605").unwrap();
        let ask = ex.quotes[i].asks[0].price;
        let input = InputOrder {
            InstrumentID: "rb2605".into(),
            Direction: CtpChar(code::BUY),
            CombOffsetFlag: "0".into(),
            OrderPriceType: CtpChar(code::LIMIT_PRICE),
            LimitPrice: ex.quotes[i].upper_limit,
            VolumeTotalOriginal: 1,
            TimeCondition: CtpChar(code::GFD),
            VolumeCondition: CtpChar(code::ANY_VOLUME),
            ..InputOrder::default()
        };
        let origin = Origin {
            user: "u1",
            front_id: 1,
            session_id: 2,
            order_ref: "1",
        };
        let recs = ex.decide_insert(&origin, &input, 1, &now).unwrap();
        let mut journal = journal_of(&mut ex, recs);
        let idx = ex.orders.len() - 1;
        // The market thread decides matches over several steps before applying them:
        // the same one-lot order can be matched twice.
        let first = ex.decide_match(idx, &now);
        ex.quotes[i] = Quote::new(ex.instruments.get(i).clone(), ask, Some(ask), &mut ex.rng);
        let second = ex.decide_match(idx, &now);
        assert!(!first.is_empty() && !second.is_empty());
        let mut decided = first;
        decided.extend(second);
        // And a fill of an order the exchange does not know.
        decided.push(Record::Fill {
            sys_id: 999_999,
            trade_id: 999_999,
            price: ask,
            volume: 1,
            date: Stamp::new(&now.date()),
            time: Stamp::new(&now.time()),
            commission: f64::NAN,
            close_profit: f64::NAN,
        });
        journal.extend(journal_of(&mut ex, decided));
        // One lot traded once.
        assert_eq!(ex.trades.len(), 1, "{:?}", ex.trades);
        // No journaled fill keeps the decision's NaN placeholders (issue #10, finding
        // 5): a fill that changed nothing is not journaled at all.
        for r in &journal {
            if let Record::Fill {
                commission,
                close_profit,
                ..
            } = r
            {
                assert!(commission.is_finite() && close_profit.is_finite(), "{r:?}");
            }
        }
        assert!(ex.trades.iter().all(|t| t.volume > 0));
        let replayed = super::read_back(&journal);
        assert_eq!(replayed, journal, "a journaled record does not read back");
        let mut again = exchange();
        for r in &replayed {
            again.apply(r);
        }
        again.verify().unwrap();
        assert_eq!(again.trades.len(), 1);
    }
}

/// Records as the journal writes and reads them.
fn read_back(records: &[Record]) -> Vec<Record> {
    records
        .iter()
        .map(|r| {
            let bytes = postcard::to_stdvec(r).expect("encodes");
            postcard::from_bytes(&bytes).expect("decodes")
        })
        .collect()
}
