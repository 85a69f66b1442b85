//! Market data: a quote, five levels of the book, a tick as one line.

use super::{Instruments, fit, price, put};
use crate::cli::table::{Style, Table, num, paint, text, toned};
use crate::protocol::fields::DepthMarketData;

/// Five levels of one side of the book: (price, volume), best first.
type Side = [(f64, i32); 5];

/// The five levels of each side of the book (asks, bids).
fn levels(d: &DepthMarketData) -> (Side, Side) {
    (
        [
            (d.AskPrice1, d.AskVolume1),
            (d.AskPrice2, d.AskVolume2),
            (d.AskPrice3, d.AskVolume3),
            (d.AskPrice4, d.AskVolume4),
            (d.AskPrice5, d.AskVolume5),
        ],
        [
            (d.BidPrice1, d.BidVolume1),
            (d.BidPrice2, d.BidVolume2),
            (d.BidPrice3, d.BidVolume3),
            (d.BidPrice4, d.BidVolume4),
            (d.BidPrice5, d.BidVolume5),
        ],
    )
}

/// One instrument's quote.
pub fn quote(d: &DepthMarketData, inst: &Instruments, style: Style) -> String {
    let id = d.InstrumentID.as_str();
    let dec = |v: f64| price(v, inst.decimals(id, v));
    let last = d.LastPrice;
    let pre = d.PreSettlementPrice;
    let valid = |x: f64| x > 0.0 && x < f64::MAX / 2.0;
    let move_ = if valid(pre) && valid(last) {
        last - pre
    } else {
        0.0
    };
    let change = if valid(pre) && valid(last) {
        format!("{:+.2}%", move_ / pre * 100.0)
    } else {
        "-".into()
    };
    let mut t = Table::new(&[
        text("Instrument", 0),
        num("Last", 0),
        num("Change", 1),
        num("Bid", 0),
        num("BidVol", 2),
        num("Ask", 0),
        num("AskVol", 2),
        num("Volume", 3),
        num("OpenInt", 4),
        text("Time", 3),
    ]);
    put(
        &mut t,
        vec![
            id.into(),
            toned(dec(d.LastPrice), move_),
            toned(change, move_),
            dec(d.BidPrice1).into(),
            d.BidVolume1.to_string().into(),
            dec(d.AskPrice1).into(),
            d.AskVolume1.to_string().into(),
            d.Volume.to_string().into(),
            format!("{:.0}", d.OpenInterest).into(),
            format!("{}.{:03}", d.UpdateTime, d.UpdateMillisec).into(),
        ],
    );
    t.render(style)
}

/// Five levels of the book, asks above bids (`depth`), under a line with the last
/// price, its change against the previous settlement, volume, open interest and the
/// tick's time. At most 80 columns.
pub fn depth(d: &DepthMarketData, inst: &Instruments, style: Style) -> String {
    let id = d.InstrumentID.as_str();
    let pre = d.PreSettlementPrice;
    let valid = |x: f64| x > 0.0 && x < f64::MAX / 2.0;
    let mut t = Table::new(&[text("Level", 0), num("Price", 0), num("Volume", 0)]);
    let level = |t: &mut Table, name: String, (p, v): (f64, i32)| {
        let mv = if valid(p) && valid(pre) { p - pre } else { 0.0 };
        put(
            t,
            vec![
                name.into(),
                toned(price(p, inst.decimals(id, p)), mv),
                if valid(p) { v.to_string() } else { "-".into() }.into(),
            ],
        );
    };
    let (asks, bids) = levels(d);
    for (n, ask) in asks.into_iter().enumerate().rev() {
        level(&mut t, format!("Ask {}", n + 1), ask);
    }
    for (n, bid) in bids.into_iter().enumerate() {
        level(&mut t, format!("Bid {}", n + 1), bid);
    }
    let last = d.LastPrice;
    let mv = if valid(pre) && valid(last) {
        last - pre
    } else {
        0.0
    };
    let change = if valid(pre) && valid(last) {
        format!("{:+.2}%", mv / pre * 100.0)
    } else {
        "-".into()
    };
    let tone = toned("", mv).tone;
    format!(
        "{id}  last {}  {}  vol {}  OI {:.0}  {}.{:03}\n{}",
        paint(&price(last, inst.decimals(id, last)), tone, style.color),
        paint(&change, tone, style.color),
        d.Volume,
        d.OpenInterest,
        d.UpdateTime,
        d.UpdateMillisec,
        t.render(style)
    )
}

/// A tick as one line (for `watch`), with milliseconds.
pub fn tick_line(d: &DepthMarketData, inst: &Instruments, style: Style) -> String {
    let id = d.InstrumentID.as_str();
    let p = |v: f64| price(v, inst.decimals(id, v));
    let last = d.LastPrice;
    let pre = d.PreSettlementPrice;
    let mv = if pre > 0.0 && pre < f64::MAX / 2.0 && last > 0.0 && last < f64::MAX / 2.0 {
        last - pre
    } else {
        0.0
    };
    let line = format!(
        "{}.{:03} {:<8} last {:>9}  bid {:>9} x{:<4} ask {:>9} x{:<4} vol {}",
        d.UpdateTime,
        d.UpdateMillisec,
        id,
        p(d.LastPrice),
        p(d.BidPrice1),
        d.BidVolume1,
        p(d.AskPrice1),
        d.AskVolume1,
        d.Volume
    );
    let line = match style.width {
        Some(w) => fit(&line, w),
        None => line,
    };
    if style.color && mv != 0.0 {
        // Only the last price is coloured.
        let shown = p(d.LastPrice);
        let at = line.find(" last ").map(|k| k + 6);
        if let Some(at) = at
            && let Some(rel) = line[at..].find(shown.as_str())
        {
            let k = at + rel;
            return format!(
                "{}{}{}",
                &line[..k],
                paint(&shown, toned("", mv).tone, true),
                &line[k + shown.len()..]
            );
        }
    }
    line
}
