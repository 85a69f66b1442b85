//! Reference data: instruments, margin and commission rates.

use super::put;
use crate::cli::table::{Style, Table, num, text};
use crate::protocol::fields::{Instrument, InstrumentCommissionRate, InstrumentMarginRate};

/// Instruments.
pub fn instruments(list: &[&Instrument], style: Style) -> String {
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
                x.InstrumentID.as_str().into(),
                x.ExchangeID.as_str().into(),
                x.InstrumentName.as_str().into(),
                x.VolumeMultiple.to_string().into(),
                x.PriceTick.to_string().into(),
                format!("{:.2}%", x.LongMarginRatio * 100.0).into(),
                format!("{:.2}%", x.ShortMarginRatio * 100.0).into(),
                x.ExpireDate.as_str().into(),
            ],
        );
    }
    t.render(style)
}

/// Margin rates.
pub fn margin(list: &[&InstrumentMarginRate], style: Style) -> String {
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
                x.InstrumentID.as_str().into(),
                format!("{:.2}%", x.LongMarginRatioByMoney * 100.0).into(),
                x.LongMarginRatioByVolume.to_string().into(),
                format!("{:.2}%", x.ShortMarginRatioByMoney * 100.0).into(),
                x.ShortMarginRatioByVolume.to_string().into(),
            ],
        );
    }
    t.render(style)
}

/// Commission rates.
pub fn commission(list: &[&InstrumentCommissionRate], style: Style) -> String {
    if list.is_empty() {
        return "no commission rate".into();
    }
    let mut t = Table::new(&[
        text("Instrument", 0),
        num("Open", 0),
        num("Close", 0),
        num("Close today", 0),
    ]);
    let both = |m: f64, l: f64| match (m > 0.0, l > 0.0) {
        (true, true) => format!("{:.4}‱ + {l}/lot", m * 10_000.0),
        (true, false) => format!("{:.4}‱", m * 10_000.0),
        (false, _) => format!("{l}/lot"),
    };
    for x in list {
        put(
            &mut t,
            vec![
                x.InstrumentID.as_str().into(),
                both(x.OpenRatioByMoney, x.OpenRatioByVolume).into(),
                both(x.CloseRatioByMoney, x.CloseRatioByVolume).into(),
                both(x.CloseTodayRatioByMoney, x.CloseTodayRatioByVolume).into(),
            ],
        );
    }
    t.render(style)
}
