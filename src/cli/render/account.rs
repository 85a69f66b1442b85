//! Positions, added up per instrument and side, and the trading account.

use super::{Instruments, money, posi_direction, price, put};
use crate::cli::table::{Cell, Style, Table, num, paint, text, toned};
use crate::protocol::fields::{InvestorPosition, TradingAccount};

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
pub fn position_lines(list: &[&InvestorPosition]) -> Vec<PositionLine> {
    let mut out: Vec<PositionLine> = Vec::new();
    for p in list {
        let id = p.InstrumentID.as_str();
        let side = posi_direction(p.PosiDirection);
        let k = match out
            .iter()
            .position(|l| l.instrument == id && l.side == side)
        {
            Some(k) => k,
            None => {
                out.push(PositionLine {
                    instrument: id.to_string(),
                    exchange: p.ExchangeID.clone(),
                    side,
                    ..PositionLine::default()
                });
                out.len() - 1
            }
        };
        let l = &mut out[k];
        l.position += i64::from(p.Position);
        l.today += i64::from(p.TodayPosition);
        // Orders closing a long position freeze ShortFrozen, and the other way round.
        l.frozen += i64::from(if side == "Long" {
            p.ShortFrozen
        } else {
            p.LongFrozen
        });
        l.open_cost += p.OpenCost;
        let mark = p.SettlementPrice;
        if mark > 0.0 && mark < f64::MAX / 2.0 {
            l.mark = mark;
        }
        l.profit += p.PositionProfit;
        l.margin += p.UseMargin;
    }
    out.retain(|l| l.position != 0 || l.frozen != 0);
    out.sort_by(|a, b| (&a.instrument, a.side).cmp(&(&b.instrument, b.side)));
    out
}

/// Positions: one line per instrument and side, with the average open price.
pub fn positions(list: &[&InvestorPosition], inst: &Instruments, style: Style) -> String {
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

/// A key/value table: labels and their cells.
fn fields(rows: Vec<(&str, Cell)>, style: Style) -> String {
    let mut t = Table::new(&[text("Field", 0), num("Value", 0)]);
    for (label, cell) in rows {
        put(&mut t, vec![label.into(), cell]);
    }
    t.render(style)
}

/// The trading account: funds, then the day's P&L and the risk ratio.
pub fn account(a: &TradingAccount, style: Style) -> String {
    let pnl = a.CloseProfit + a.PositionProfit - a.Commission;
    let balance = a.Balance;
    let margin = a.CurrMargin;
    let risk = if balance > 0.0 {
        format!("{:.2}%", margin / balance * 100.0)
    } else {
        "-".into()
    };
    let table = fields(
        vec![
            ("Account", a.AccountID.as_str().into()),
            ("Trading day", a.TradingDay.as_str().into()),
            ("Balance", money(a.Balance).into()),
            ("Available", money(a.Available).into()),
            ("Margin used", money(a.CurrMargin).into()),
            ("Margin frozen", money(a.FrozenMargin).into()),
            ("Commission frozen", money(a.FrozenCommission).into()),
            ("Commission", money(a.Commission).into()),
            ("Close profit", money(a.CloseProfit).into()),
            ("Position profit", money(a.PositionProfit).into()),
            ("Pre-balance", money(a.PreBalance).into()),
            ("Withdraw quota", money(a.WithdrawQuota).into()),
        ],
        style,
    );
    format!(
        "{table}\nP&L today {} (close {} + position {} - commission {}); risk ratio {risk} (margin / balance)",
        paint(&money(pnl), toned("", pnl).tone, style.color),
        money(a.CloseProfit),
        money(a.PositionProfit),
        money(a.Commission),
    )
}
