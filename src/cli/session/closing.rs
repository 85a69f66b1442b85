//! Position-aware orders: `close`, `flatten` and `cancel all`. A close is sent as the
//! exchange wants it: SHFE and INE keep today's and yesterday's positions apart and
//! need CloseToday / CloseYesterday (yesterday's first); the others take Close.

use super::{Outcome, Session};
use crate::cli::commands::{CloseArgs, Holding, Offset, OrderArgs, Price, Side};
use crate::cli::error::{CliError, Result};
use crate::cli::render;
use crate::protocol::TdRequest;
use crate::protocol::codes::{posi_direction, position_date};
use crate::protocol::fields::{InvestorPosition, Order, QryInvestorPosition};

/// What can be closed of one instrument and side, from CTP's position rows.
#[derive(Debug, Default, Clone, PartialEq)]
pub(super) struct Closable {
    pub instrument: String,
    pub exchange: String,
    pub long: bool,
    /// Not frozen by working close orders: today's and yesterday's (SHFE/INE), or
    /// the whole position in `yesterday` + `today` for the other exchanges.
    pub today: i64,
    pub yesterday: i64,
}

/// Whether an exchange keeps today's and yesterday's positions apart.
pub(super) fn splits_today(exchange: &str) -> bool {
    matches!(exchange, "SHFE" | "INE")
}

/// Adds CTP's position rows up into what can be closed per instrument and side.
pub(super) fn closables(rows: &[&InvestorPosition]) -> Vec<Closable> {
    let mut out: Vec<Closable> = Vec::new();
    for p in rows {
        let id = p.InstrumentID.as_str();
        let long = match p.PosiDirection {
            posi_direction::LONG => true,
            posi_direction::SHORT => false,
            _ => continue,
        };
        let k = match out
            .iter()
            .position(|c| c.instrument == id && c.long == long)
        {
            Some(k) => k,
            None => {
                out.push(Closable {
                    instrument: id.to_string(),
                    exchange: p.ExchangeID.clone(),
                    long,
                    ..Closable::default()
                });
                out.len() - 1
            }
        };
        let position = i64::from(p.Position);
        let today = i64::from(p.TodayPosition);
        // Close orders against a long position freeze ShortFrozen, and the other way.
        let frozen = i64::from(if long { p.ShortFrozen } else { p.LongFrozen });
        let c = &mut out[k];
        if splits_today(&c.exchange) {
            // One row per day: PositionDate 1 today's, 2 yesterday's.
            let free = (position - frozen).max(0);
            if p.PositionDate == position_date::HISTORY {
                c.yesterday += free;
            } else {
                c.today += free;
            }
        } else {
            let free = (position - frozen).max(0);
            let t = today.min(free);
            c.today += t;
            c.yesterday += free - t;
        }
    }
    out.retain(|c| c.today + c.yesterday > 0);
    out
}

/// The orders that close `volume` lots (all when `None`): (offset, volume) pairs,
/// yesterday's lots first.
pub(super) fn close_plan(c: &Closable, volume: Option<i64>) -> Vec<(Offset, i64)> {
    let want = volume.unwrap_or(c.today + c.yesterday);
    if !splits_today(&c.exchange) {
        return vec![(Offset::Close, want)];
    }
    let yd = want.min(c.yesterday);
    let td = (want - yd).min(c.today);
    let mut plan = Vec::new();
    if yd > 0 {
        plan.push((Offset::CloseYesterday, yd));
    }
    if td > 0 {
        plan.push((Offset::CloseToday, td));
    }
    plan
}

impl Session {
    async fn closables(&self, instrument: Option<&str>) -> Result<Vec<Closable>> {
        let filter = QryInvestorPosition {
            InstrumentID: instrument.unwrap_or_default().to_string(),
            ..QryInvestorPosition::default()
        };
        let a = self
            .request(TdRequest::ReqQryInvestorPosition(filter))
            .await?;
        if let Some(e) = a.iter().find_map(|m| render::error_sentence(m)) {
            return Err(CliError::StepRefused(e));
        }
        let rows: Vec<&InvestorPosition> = a
            .iter()
            .filter_map(|m| m.body::<InvestorPosition>())
            .filter(|p| instrument.is_none_or(|i| p.InstrumentID == i))
            .collect();
        Ok(closables(&rows))
    }

    /// Sends the orders that close `volume` lots of `c`.
    async fn close_one(&self, c: &Closable, volume: Option<i64>, price: Price) -> Result<Outcome> {
        let mut worst = Outcome::Ok;
        for (offset, lots) in close_plan(c, volume) {
            let args = OrderArgs {
                side: if c.long { Side::Sell } else { Side::Buy },
                instrument: c.instrument.clone(),
                volume: i32::try_from(lots).unwrap_or(i32::MAX),
                price,
                offset,
                immediate: None,
            };
            let o = self.order(args).await?;
            if o != Outcome::Ok {
                worst = o;
                break;
            }
        }
        Ok(worst)
    }

    /// `close <inst> [long|short] [volume] [@price|market]`.
    pub(super) async fn close(&self, a: CloseArgs) -> Result<Outcome> {
        let mut held = self.closables(Some(&a.instrument)).await?;
        if let Some(side) = a.side {
            held.retain(|c| c.long == (side == Holding::Long));
        }
        let c = match held.as_slice() {
            [] => {
                self.say(format!(
                    "nothing to close in {}{} (see `positions`: closed, or frozen by working orders)",
                    a.instrument,
                    match a.side {
                        Some(Holding::Long) => " long",
                        Some(Holding::Short) => " short",
                        None => "",
                    }
                ));
                return Ok(Outcome::Refused);
            }
            [c] => c.clone(),
            _ => {
                self.say(format!(
                    "{} is held both long and short: `close {} long` or `close {} short`",
                    a.instrument, a.instrument, a.instrument
                ));
                return Ok(Outcome::Usage);
            }
        };
        let free = c.today + c.yesterday;
        if let Some(v) = a.volume
            && i64::from(v) > free
        {
            self.say(format!(
                "only {free} lot{} of {} can be closed ({} today, {} yesterday)",
                if free == 1 { "" } else { "s" },
                c.instrument,
                c.today,
                c.yesterday
            ));
            return Ok(Outcome::Refused);
        }
        self.close_one(&c, a.volume.map(i64::from), a.price).await
    }

    /// `flatten [inst|all]`: closes every position (of one instrument).
    pub(super) async fn flatten(&self, instrument: Option<&str>) -> Result<Outcome> {
        let held = self.closables(instrument).await?;
        if held.is_empty() {
            self.say(match instrument {
                Some(i) => format!("nothing to close in {i}"),
                None => "nothing to close".to_string(),
            });
            return Ok(Outcome::Ok);
        }
        let mut worst = Outcome::Ok;
        for c in &held {
            let o = self.close_one(c, None, Price::Opposite).await?;
            if o != Outcome::Ok {
                worst = o;
            }
        }
        Ok(worst)
    }

    /// `cancel all [inst]`: cancels every working order of the account (of one
    /// instrument), whichever session sent it.
    pub(super) async fn cancel_all(&self, instrument: Option<&str>) -> Result<Outcome> {
        let a = self
            .request(TdRequest::ReqQryOrder(Default::default()))
            .await?;
        if let Some(e) = a.iter().find_map(|m| render::error_sentence(m)) {
            self.say(e);
            return Ok(Outcome::Refused);
        }
        self.remember_orders(&a);
        let open: Vec<Order> = a
            .iter()
            .filter_map(|m| m.body::<Order>())
            .filter(|o| render::is_working(o))
            .filter(|o| instrument.is_none_or(|i| o.InstrumentID == i))
            .cloned()
            .collect();
        if open.is_empty() {
            self.say("no working orders to cancel");
            return Ok(Outcome::Ok);
        }
        let mut worst = Outcome::Ok;
        for o in open {
            let r = self.cancel_order(o).await?;
            if r != Outcome::Ok {
                worst = r;
            }
        }
        Ok(worst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::codes;

    fn row(ex: &str, dir: &str, date: &str, pos: i32, today: i32, frozen: i32) -> InvestorPosition {
        InvestorPosition {
            InstrumentID: "x".into(),
            ExchangeID: ex.into(),
            PosiDirection: codes::first(dir),
            PositionDate: codes::first(date),
            Position: pos,
            TodayPosition: today,
            ShortFrozen: frozen,
            LongFrozen: 0,
            ..InvestorPosition::default()
        }
    }

    #[test]
    fn shfe_closes_yesterday_first_then_today() {
        let rows = [
            row("SHFE", "2", "1", 1, 1, 0),
            row("SHFE", "2", "2", 1, 0, 0),
        ];
        let c = closables(&rows.iter().collect::<Vec<_>>());
        assert_eq!((c[0].today, c[0].yesterday), (1, 1));
        assert_eq!(
            close_plan(&c[0], None),
            vec![(Offset::CloseYesterday, 1), (Offset::CloseToday, 1)]
        );
        assert_eq!(
            close_plan(&c[0], Some(1)),
            vec![(Offset::CloseYesterday, 1)]
        );
    }

    #[test]
    fn other_exchanges_close_in_one_order_and_frozen_lots_stay() {
        let rows = [row("DCE", "2", "1", 3, 1, 1)];
        let c = closables(&rows.iter().collect::<Vec<_>>());
        assert_eq!(c[0].today + c[0].yesterday, 2);
        assert_eq!(close_plan(&c[0], None), vec![(Offset::Close, 2)]);
        // Closed-out rows are not closable.
        let rows = [row("SHFE", "2", "1", 0, 0, 0)];
        assert!(closables(&rows.iter().collect::<Vec<_>>()).is_empty());
    }
}
