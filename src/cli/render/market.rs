//! Market data: a quote, five levels of the book, a tick as one line.

use serde_json::Value;

use super::{Instruments, f, fit, i, price, put, s};
use crate::cli::table::{Style, Table, num, paint, text, toned};

/// One instrument's quote.
pub fn quote(d: &Value, inst: &Instruments, style: Style) -> String {
    let id = s(d, "InstrumentID");
    let dec = |k: &str| {
        let v = f(d, k);
        price(v, inst.decimals(id, v))
    };
    let last = f(d, "LastPrice");
    let pre = f(d, "PreSettlementPrice");
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
            toned(dec("LastPrice"), move_),
            toned(change, move_),
            dec("BidPrice1").into(),
            i(d, "BidVolume1").to_string().into(),
            dec("AskPrice1").into(),
            i(d, "AskVolume1").to_string().into(),
            i(d, "Volume").to_string().into(),
            format!("{:.0}", f(d, "OpenInterest")).into(),
            format!("{}.{:03}", s(d, "UpdateTime"), i(d, "UpdateMillisec")).into(),
        ],
    );
    t.render(style)
}

/// Five levels of the book, asks above bids (`depth`), under a line with the last
/// price, its change against the previous settlement, volume, open interest and the
/// tick's time. At most 80 columns.
pub fn depth(d: &Value, inst: &Instruments, style: Style) -> String {
    let id = s(d, "InstrumentID");
    let pre = f(d, "PreSettlementPrice");
    let valid = |x: f64| x > 0.0 && x < f64::MAX / 2.0;
    let mut t = Table::new(&[text("Level", 0), num("Price", 0), num("Volume", 0)]);
    let level = |t: &mut Table, name: String, pk: String, vk: String| {
        let p = f(d, &pk);
        let v = i(d, &vk);
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
    for n in (1..=5).rev() {
        level(
            &mut t,
            format!("Ask {n}"),
            format!("AskPrice{n}"),
            format!("AskVolume{n}"),
        );
    }
    for n in 1..=5 {
        level(
            &mut t,
            format!("Bid {n}"),
            format!("BidPrice{n}"),
            format!("BidVolume{n}"),
        );
    }
    let last = f(d, "LastPrice");
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
        i(d, "Volume"),
        f(d, "OpenInterest"),
        s(d, "UpdateTime"),
        i(d, "UpdateMillisec"),
        t.render(style)
    )
}

/// A tick as one line (for `watch`), with milliseconds.
pub fn tick_line(d: &Value, inst: &Instruments, style: Style) -> String {
    let id = s(d, "InstrumentID");
    let p = |k: &str| {
        let v = f(d, k);
        price(v, inst.decimals(id, v))
    };
    let last = f(d, "LastPrice");
    let pre = f(d, "PreSettlementPrice");
    let mv = if pre > 0.0 && pre < f64::MAX / 2.0 && last > 0.0 && last < f64::MAX / 2.0 {
        last - pre
    } else {
        0.0
    };
    let line = format!(
        "{}.{:03} {:<8} last {:>9}  bid {:>9} x{:<4} ask {:>9} x{:<4} vol {}",
        s(d, "UpdateTime"),
        i(d, "UpdateMillisec"),
        id,
        p("LastPrice"),
        p("BidPrice1"),
        i(d, "BidVolume1"),
        p("AskPrice1"),
        i(d, "AskVolume1"),
        i(d, "Volume")
    );
    let line = match style.width {
        Some(w) => fit(&line, w),
        None => line,
    };
    if style.color && mv != 0.0 {
        // Only the last price is coloured.
        let shown = p("LastPrice");
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
