//! Reference data: instruments, margin and commission rates.

use serde_json::Value;

use super::{f, i, put, s};
use crate::cli::table::{Style, Table, num, text};

/// Instruments.
pub fn instruments(list: &[&Value], style: Style) -> String {
    if list.is_empty() {
        return "no such instrument".into();
    }
    let mut t = Table::new(&[
        text("Instrument", 0),
        text("Exchange", 0),
        text("Name", 3),
        num("Multiple", 0),
        num("Tick", 0),
        num("LongMargin", 2),
        num("ShortMargin", 2),
        text("Expires", 1),
    ]);
    for x in list {
        put(
            &mut t,
            vec![
                s(x, "InstrumentID").into(),
                s(x, "ExchangeID").into(),
                s(x, "InstrumentName").into(),
                i(x, "VolumeMultiple").to_string().into(),
                f(x, "PriceTick").to_string().into(),
                format!("{:.2}%", f(x, "LongMarginRatio") * 100.0).into(),
                format!("{:.2}%", f(x, "ShortMarginRatio") * 100.0).into(),
                s(x, "ExpireDate").into(),
            ],
        );
    }
    t.render(style)
}

/// Margin rates.
pub fn margin(list: &[&Value], style: Style) -> String {
    if list.is_empty() {
        return "no margin rate".into();
    }
    let mut t = Table::new(&[
        text("Instrument", 0),
        num("Long by money", 0),
        num("Long per lot", 1),
        num("Short by money", 0),
        num("Short per lot", 1),
    ]);
    for x in list {
        put(
            &mut t,
            vec![
                s(x, "InstrumentID").into(),
                format!("{:.2}%", f(x, "LongMarginRatioByMoney") * 100.0).into(),
                f(x, "LongMarginRatioByVolume").to_string().into(),
                format!("{:.2}%", f(x, "ShortMarginRatioByMoney") * 100.0).into(),
                f(x, "ShortMarginRatioByVolume").to_string().into(),
            ],
        );
    }
    t.render(style)
}

/// Commission rates.
pub fn commission(list: &[&Value], style: Style) -> String {
    if list.is_empty() {
        return "no commission rate".into();
    }
    let mut t = Table::new(&[
        text("Instrument", 0),
        num("Open", 0),
        num("Close", 0),
        num("Close today", 0),
    ]);
    let both = |x: &Value, money_key: &str, lot_key: &str| {
        let (m, l) = (f(x, money_key), f(x, lot_key));
        match (m > 0.0, l > 0.0) {
            (true, true) => format!("{:.4}‱ + {l}/lot", m * 10_000.0),
            (true, false) => format!("{:.4}‱", m * 10_000.0),
            (false, _) => format!("{l}/lot"),
        }
    };
    for x in list {
        put(
            &mut t,
            vec![
                s(x, "InstrumentID").into(),
                both(x, "OpenRatioByMoney", "OpenRatioByVolume").into(),
                both(x, "CloseRatioByMoney", "CloseRatioByVolume").into(),
                both(x, "CloseTodayRatioByMoney", "CloseTodayRatioByVolume").into(),
            ],
        );
    }
    t.render(style)
}
