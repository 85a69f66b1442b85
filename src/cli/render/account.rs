//! Positions, added up per instrument and side, and the trading account.

use serde_json::Value;

use super::{Instruments, code, f, i, money, posi_direction, price, put, s};
use crate::cli::table::{Cell, Style, Table, num, paint, text, toned};

/// One instrument and side of the positions table: CTP's rows (SHFE and INE keep
/// today's and yesterday's in separate rows) added up.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct PositionLine {
    pub instrument: String,
    pub exchange: String,
    pub side: &'static str,
    pub position: i64,
    pub today: i64,
    pub frozen: i64,
    pub open_cost: f64,
    pub mark: f64,
    pub profit: f64,
    pub margin: f64,
}

impl PositionLine {
    /// What is left of yesterday's position (CTP's YdPosition is the day's opening
    /// figure and does not shrink as it is closed).
    pub fn yesterday(&self) -> i64 {
        self.position - self.today
    }
}

/// Adds CTP's position rows up per instrument and side, leaving out closed ones.
pub fn position_lines(list: &[&Value]) -> Vec<PositionLine> {
    let mut out: Vec<PositionLine> = Vec::new();
    for p in list {
        let id = s(p, "InstrumentID");
        let side = posi_direction(code(p, "PosiDirection"));
        let k = match out
            .iter()
            .position(|l| l.instrument == id && l.side == side)
        {
            Some(k) => k,
            None => {
                out.push(PositionLine {
                    instrument: id.to_string(),
                    exchange: s(p, "ExchangeID").to_string(),
                    side,
                    ..PositionLine::default()
                });
                out.len() - 1
            }
        };
        let l = &mut out[k];
        l.position += i(p, "Position");
        l.today += i(p, "TodayPosition");
        // Orders closing a long position freeze ShortFrozen, and the other way round.
        l.frozen += if side == "Long" {
            i(p, "ShortFrozen")
        } else {
            i(p, "LongFrozen")
        };
        l.open_cost += f(p, "OpenCost");
        let mark = f(p, "SettlementPrice");
        if mark > 0.0 && mark < f64::MAX / 2.0 {
            l.mark = mark;
        }
        l.profit += f(p, "PositionProfit");
        l.margin += f(p, "UseMargin");
    }
    out.retain(|l| l.position != 0 || l.frozen != 0);
    out.sort_by(|a, b| (&a.instrument, a.side).cmp(&(&b.instrument, b.side)));
    out
}

/// Positions: one line per instrument and side, with the average open price.
pub fn positions(list: &[&Value], inst: &Instruments, style: Style) -> String {
    let lines = position_lines(list);
    if lines.is_empty() {
        return "no positions".into();
    }
    let mut t = Table::new(&[
        text("Instrument", 0),
        text("Exchange", 4),
        text("Side", 0),
        num("Position", 0),
        num("Today", 0),
        num("Yd", 0),
        num("AvgOpen", 1),
        num("Mark", 3),
        num("Frozen", 5),
        num("P&L", 0),
        num("Margin", 2),
    ]);
    for l in &lines {
        let id = l.instrument.as_str();
        let avg = match inst.multiples.get(id) {
            Some(m) if *m > 0.0 && l.position != 0 => l.open_cost / (l.position as f64 * m),
            _ => 0.0,
        };
        put(
            &mut t,
            vec![
                id.into(),
                l.exchange.clone().into(),
                l.side.into(),
                l.position.to_string().into(),
                l.today.to_string().into(),
                l.yesterday().to_string().into(),
                price(avg, inst.decimals(id, avg)).into(),
                price(l.mark, inst.decimals(id, l.mark)).into(),
                l.frozen.to_string().into(),
                toned(money(l.profit), l.profit),
                money(l.margin).into(),
            ],
        );
    }
    t.render(style)
}

/// A key/value table of chosen fields.
fn fields(v: &Value, rows: &[(&str, &str, bool)], style: Style) -> String {
    let mut t = Table::new(&[text("Field", 0), num("Value", 0)]);
    for (label, key, is_money) in rows {
        let cell: Cell = match &v[*key] {
            Value::Number(n) if *is_money => money(n.as_f64().unwrap_or(0.0)).into(),
            Value::Number(n) => n.to_string().into(),
            Value::String(x) => x.clone().into(),
            other => other.to_string().into(),
        };
        put(&mut t, vec![(*label).into(), cell]);
    }
    t.render(style)
}

/// The trading account: funds, then the day's P&L and the risk ratio.
pub fn account(a: &Value, style: Style) -> String {
    let pnl = f(a, "CloseProfit") + f(a, "PositionProfit") - f(a, "Commission");
    let balance = f(a, "Balance");
    let margin = f(a, "CurrMargin");
    let risk = if balance > 0.0 {
        format!("{:.2}%", margin / balance * 100.0)
    } else {
        "-".into()
    };
    let table = fields(
        a,
        &[
            ("Account", "AccountID", false),
            ("Trading day", "TradingDay", false),
            ("Balance", "Balance", true),
            ("Available", "Available", true),
            ("Margin used", "CurrMargin", true),
            ("Margin frozen", "FrozenMargin", true),
            ("Commission frozen", "FrozenCommission", true),
            ("Commission", "Commission", true),
            ("Close profit", "CloseProfit", true),
            ("Position profit", "PositionProfit", true),
            ("Pre-balance", "PreBalance", true),
            ("Withdraw quota", "WithdrawQuota", true),
        ],
        style,
    );
    format!(
        "{table}\nP&L today {} (close {} + position {} - commission {}); risk ratio {risk} (margin / balance)",
        paint(&money(pnl), toned("", pnl).tone, style.color),
        money(f(a, "CloseProfit")),
        money(f(a, "PositionProfit")),
        money(f(a, "Commission")),
    )
}
