//! The end of a trading day: positions marked to the settlement prices, the
//! settlement statement written, the next day's quotes and listing.

use std::collections::HashMap;
use std::sync::Arc;

use super::Exchange;
use crate::account::{Account, Position, PriceMarks, Side, margin_per_lot};
use crate::instruments::InstrumentTable;
use crate::market::Quote;

impl Exchange {
    /// Ends the day: positions are marked to `settlement`, the next day's contracts
    /// are listed, and positions in `expired` contracts are closed at that price.
    pub(super) fn apply_roll(
        &mut self,
        next_day: &str,
        settlement: &[(String, f64)],
        profit: &[(String, f64)],
        expired: &[String],
    ) {
        let settle: HashMap<&str, f64> = settlement.iter().map(|(i, p)| (i.as_str(), *p)).collect();
        let prices: Vec<f64> = self
            .instruments
            .all()
            .iter()
            .zip(&self.quotes)
            .map(|(s, q)| settle.get(s.id.as_str()).copied().unwrap_or(q.last))
            .collect();
        let day = self.trading_day.clone();
        let marks = PriceMarks {
            prices: &prices,
            table: &self.instruments,
        };
        for account in self.accounts.values_mut() {
            let settled = account.position_profit(&marks);
            let journaled = profit
                .iter()
                .find(|(u, _)| *u == account.user_id)
                .map(|p| p.1);
            if let Some(j) = journaled
                && (j - settled).abs() > 1e-6
            {
                self.audit.mismatches.push(format!(
                    "settlement of {} on {day}: journal says {j}, replay computes {settled}",
                    account.user_id
                ));
            }
            let name = match self.names.get(&account.user_id) {
                Some(n) => n.clone(),
                None => Arc::from(account.user_id.as_str()),
            };
            self.audit.cash.entry(name).or_default().3 += settled;
            account.settlement_text =
                settlement_text(account, &day, &prices, settled, &self.instruments);
            account.settlement_day = day.clone();
            account.pre_balance = account.pre_balance + account.deposit - account.withdraw
                + account.close_profit
                + settled
                - account.commission;
            account.deposit = 0.0;
            account.withdraw = 0.0;
            account.close_profit = 0.0;
            account.commission = 0.0;
            account.frozen_margin = 0.0;
            account.frozen_commission = 0.0;
            account.confirmed = None;
            for ((inst, side), p) in account.positions.iter_mut() {
                let spec = self.instruments.get(*inst);
                for lot in p.lots.iter_mut() {
                    lot.ref_price = prices[*inst];
                    lot.margin = margin_per_lot(spec, *side, prices[*inst]);
                }
                let held = p.total();
                *p = Position {
                    lots: std::mem::take(&mut p.lots),
                    yd_start: held,
                    ..Position::default()
                };
            }
            account.prune();
            account.pre_margin = account.curr_margin();
        }
        self.trading_day = next_day.to_string();
        self.start_quotes(&prices);
        self.roll_listing(expired);
        self.orders = Vec::new();
        self.by_ref = HashMap::new();
        self.trades = Vec::new();
        for r in &mut self.resting {
            r.clear();
        }
    }

    /// Starts the day's market at these settlement prices (indexed like the instrument
    /// table); each quote keeps its share of the product's activity.
    pub(crate) fn start_quotes(&mut self, prices: &[f64]) {
        let mut quotes = Vec::with_capacity(self.quotes.len());
        for (i, s) in self.instruments.all().iter().enumerate() {
            let mut q = Quote::new(s.clone(), prices[i], Some(prices[i]), &mut self.rng);
            if let Some(old) = self.quotes.get(i) {
                q.activity = old.activity;
            }
            quotes.push(q);
        }
        self.quotes = quotes;
    }
}

/// A settlement statement in the style of a futures company's daily statement.
fn settlement_text(
    a: &Account,
    day: &str,
    prices: &[f64],
    settled_profit: f64,
    table: &InstrumentTable,
) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(s, "webctp 模拟交易所 结算单 / settlement statement");
    let _ = writeln!(
        s,
        "交易日 Trading day: {day}    投资者 Investor: {}",
        a.user_id
    );
    let _ = writeln!(s, "期初结存 Balance b/f: {:.2}", a.pre_balance);
    let _ = writeln!(s, "平仓盈亏 Realized P/L: {:.2}", a.close_profit);
    let _ = writeln!(s, "持仓盯市盈亏 MTM P/L: {settled_profit:.2}");
    let _ = writeln!(s, "手续费 Commission: {:.2}", a.commission);
    let end =
        a.pre_balance + a.deposit - a.withdraw + a.close_profit + settled_profit - a.commission;
    let _ = writeln!(s, "期末结存 Balance c/f: {end:.2}");
    let _ = writeln!(s, "持仓 Positions:");
    for ((inst, side), p) in &a.positions {
        if p.total() > 0 {
            let _ = writeln!(
                s,
                "  {} {} {} 手 lots @ 结算价 settlement {}",
                table.get(*inst).id,
                match side {
                    Side::Long => "多 long",
                    Side::Short => "空 short",
                },
                p.total(),
                prices[*inst]
            );
        }
    }
    s
}
