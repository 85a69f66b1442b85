//! The exchange's decisions: whether an order is accepted, what the book fills, what
//! the day's end settles. Each returns [`Record`]s for the caller to apply and journal
//! (or a CTP error ID); nothing here changes state except the market's book and the
//! ID counters.

use super::account::{
    CloseFrom, CloseSplit, Position, PriceMarks, Side, digest_password, margin_per_lot,
};
use super::clock::BeijingTime;
use super::exchange::{Exchange, Origin};
use super::orders::code;
use super::record::{InsertRecord, Record, Stamp, StatusMsg, parse_id};
use webctp_protocol::errors::ctp;
use webctp_protocol::fields::{InputOrder, InputOrderAction};

impl Exchange {
    /// Opens `user` with `password` and `funds`.
    pub fn open_account(&mut self, user: &str, password: &str, funds: f64) -> Record {
        let salt = format!("{:016x}", self.rng.next_u64());
        let rec = Record::Open {
            user: user.to_string(),
            digest: digest_password(&salt, password),
            salt,
            funds,
        };
        self.apply(&rec);
        rec
    }

    /// Checks a password.
    pub fn password_ok(&self, user: &str, password: &str) -> bool {
        self.accounts
            .get(user)
            .is_some_and(|a| digest_password(&a.salt, password) == a.digest)
    }

    /// Validates an order insert and decides its records, or CTP's error ID.
    pub fn decide_insert(
        &mut self,
        origin: &Origin<'_>,
        input: &InputOrder,
        request_id: i32,
        now: &BeijingTime,
    ) -> Result<Vec<Record>, i32> {
        let Origin {
            user,
            front_id,
            session_id,
            order_ref,
        } = *origin;
        let account = self.accounts.get(user).ok_or(ctp::NOT_LOGIN_YET)?;
        if account
            .confirmed
            .as_ref()
            .is_none_or(|(day, _, _)| *day != self.trading_day)
        {
            return Err(ctp::SETTLEMENT_INFO_NOT_CONFIRMED);
        }
        let inst = self
            .instruments
            .listed_index(&input.InstrumentID)
            .ok_or(ctp::INSTRUMENT_NOT_FOUND)?;
        let spec = self.instruments.get(inst).clone();
        if !input.ExchangeID.is_empty() && input.ExchangeID != spec.exchange {
            return Err(ctp::INSTRUMENT_NOT_FOUND);
        }
        if !self.is_open(inst, now) {
            return Err(ctp::NOT_TRADING_PERIOD);
        }
        let direction = input.Direction.0;
        if direction != code::BUY && direction != code::SELL {
            return Err(ctp::BAD_FIELD);
        }
        let offset = input.CombOffsetFlag.bytes().next().unwrap_or(0);
        if !(b'0'..=b'6').contains(&offset) {
            return Err(ctp::BAD_FIELD);
        }
        if input.VolumeTotalOriginal <= 0 {
            return Err(ctp::BAD_FIELD);
        }
        let market = match input.OrderPriceType.0 {
            code::ANY_PRICE if spec.allows_market_orders() => true,
            code::LIMIT_PRICE => false,
            _ => return Err(ctp::PRICETYPE_NOTSUPPORT_BYEXCHANGE),
        };
        let max = if market {
            spec.max_market_volume
        } else {
            spec.max_limit_volume
        };
        if input.VolumeTotalOriginal > max {
            return Err(ctp::VOLUME_NOT_VALID);
        }
        let time_condition = if market {
            code::IOC
        } else {
            match input.TimeCondition.0 {
                code::IOC => code::IOC,
                code::GFD | 0 => code::GFD,
                _ => return Err(ctp::BAD_FIELD),
            }
        };
        let volume_condition = match input.VolumeCondition.0 {
            0 | code::ANY_VOLUME => code::ANY_VOLUME,
            code::MIN_VOLUME
                if input.MinVolume > 0 && input.MinVolume <= input.VolumeTotalOriginal =>
            {
                code::MIN_VOLUME
            }
            code::ALL_VOLUME => code::ALL_VOLUME,
            _ => return Err(ctp::BAD_FIELD),
        };
        let quote = &self.quotes[inst];
        let limit = if market {
            0.0
        } else {
            let p = input.LimitPrice;
            if !p.is_finite() || p <= 0.0 || !spec.on_tick(p) {
                return Err(ctp::PRICE_WRONG_TICK);
            }
            if p > quote.upper_limit + 1e-9 || p < quote.lower_limit - 1e-9 {
                return Err(ctp::PRICE_OVER_LIMIT);
            }
            spec.round_to_tick(p)
        };
        if self
            .by_ref
            .contains_key(&(front_id, session_id, order_ref.into()))
        {
            return Err(ctp::DUPLICATE_ORDER_REF);
        }
        let buy = direction == code::BUY;
        let is_open = offset == code::OPEN;
        let side = match (buy, is_open) {
            (true, true) | (false, false) => Side::Long,
            _ => Side::Short,
        };
        let volume = input.VolumeTotalOriginal;
        // Margin is frozen at the worst price the order can trade at.
        let freeze_price = if market {
            if buy {
                quote.upper_limit
            } else {
                quote.lower_limit
            }
        } else {
            limit
        };
        let account = self.accounts.get(user).ok_or(ctp::NOT_LOGIN_YET)?;
        let (plan, margin_per, commission_per) = if is_open {
            let m = margin_per_lot(&spec, side, freeze_price);
            let c = spec.open_commission.of(freeze_price, 1, spec.multiple);
            let need = (m + c) * f64::from(volume);
            if need > account.available(self.quotes.as_slice()) + 1e-6 {
                return Err(ctp::INSUFFICIENT_MONEY);
            }
            (CloseSplit::default(), m, c)
        } else {
            let from = if spec.splits_today() {
                match offset {
                    code::CLOSE_TODAY => CloseFrom::Today,
                    _ => CloseFrom::Yesterday,
                }
            } else {
                CloseFrom::TodayFirst
            };
            let empty = Position::default();
            let pos = account.positions.get(&(inst, side)).unwrap_or(&empty);
            let plan = pos.plan_close(volume, from, &self.trading_day)?;
            let c = spec
                .close_today_commission
                .of(freeze_price, 1, spec.multiple)
                .max(spec.close_commission.of(freeze_price, 1, spec.multiple));
            (plan, 0.0, c)
        };
        self.next_sys_id += 1;
        self.next_broker_seq += 1;
        let sys_id = self.next_sys_id;
        let insert = InsertRecord {
            user: user.to_string(),
            instrument: spec.id.clone(),
            direction,
            offset,
            price_type: if market {
                code::ANY_PRICE
            } else {
                code::LIMIT_PRICE
            },
            limit_price: limit,
            volume,
            time_condition,
            volume_condition,
            min_volume: input.MinVolume,
            hedge: input
                .CombHedgeFlag
                .bytes()
                .next()
                .filter(|b| *b != 0)
                .unwrap_or(code::SPECULATION),
            order_ref: order_ref.to_string(),
            front_id,
            session_id,
            request_id,
            sys_id,
            date: Stamp::new(&now.date()),
            time: Stamp::new(&now.time()),
            broker_seq: self.next_broker_seq,
            plan,
            margin_per_lot: margin_per,
            commission_per_lot: commission_per,
        };
        Ok(vec![Record::Insert(Box::new(insert))])
    }

    /// After an insert was applied: fill what the book allows now, and cancel what an
    /// immediate-or-cancel order could not fill.
    pub fn decide_match(&mut self, idx: usize, now: &BeijingTime) -> Vec<Record> {
        let o = &self.orders[idx];
        if o.is_final() || o.remaining == 0 {
            return Vec::new();
        }
        let (inst, buy, limit, remaining) = (o.inst(), o.buy(), o.limit(), o.remaining);
        let (ioc, vc, min_volume) = (o.ioc(), o.volume_condition, o.min_volume);
        let sys_id = o.sys_id;
        let (date, time) = (Stamp::new(&now.date()), Stamp::new(&now.time()));
        // FOK and minimum-volume orders fill only if enough is there.
        let needed = match vc {
            code::ALL_VOLUME => remaining,
            code::MIN_VOLUME => min_volume,
            _ => 1,
        };
        let mut out = Vec::new();
        let available: i32 = {
            let mut probe = self.quotes[inst].clone();
            probe.take(buy, remaining, limit).iter().map(|f| f.1).sum()
        };
        if available >= needed {
            for (price, volume) in self.quotes[inst].take(buy, remaining, limit) {
                self.quotes[inst].record_trade(price, volume);
                self.next_trade_id += 1;
                out.push(Record::Fill {
                    sys_id,
                    trade_id: self.next_trade_id,
                    price,
                    volume,
                    date,
                    time,
                    commission: f64::NAN,
                    close_profit: f64::NAN,
                });
            }
        }
        let filled: i32 = out
            .iter()
            .map(|r| match r {
                Record::Fill { volume, .. } => *volume,
                _ => 0,
            })
            .sum();
        if ioc && filled < remaining {
            out.push(Record::Cancel {
                sys_id,
                time,
                msg: if filled > 0 {
                    StatusMsg::PartCanceled
                } else {
                    StatusMsg::Canceled
                },
            });
        }
        out
    }

    /// Resting orders of `inst` that the current book crosses.
    pub fn crossing_orders(&self, inst: usize) -> Vec<usize> {
        let q = &self.quotes[inst];
        self.resting[inst]
            .iter()
            .map(|&i| i as usize)
            .filter(|&i| {
                let o = &self.orders[i];
                match (o.buy(), o.limit()) {
                    (true, Some(l)) => q.asks[0].volume > 0 && q.asks[0].price <= l + 1e-9,
                    (false, Some(l)) => q.bids[0].volume > 0 && q.bids[0].price >= l - 1e-9,
                    _ => false,
                }
            })
            .collect()
    }

    /// Finds the order a cancel request names: by OrderSysID (+ExchangeID), else by
    /// FrontID+SessionID+OrderRef.
    pub fn find_order(
        &self,
        user: &str,
        action: &InputOrderAction,
        front_id: i32,
        session_id: i32,
    ) -> Result<usize, i32> {
        let idx = if !action.OrderSysID.trim().is_empty() {
            let i = parse_id(&action.OrderSysID)
                .and_then(|id| self.order_by_sys_id(id))
                .ok_or(ctp::ORDER_NOT_FOUND)?;
            let ex = self.instruments.get(self.orders[i].inst()).exchange;
            if !action.ExchangeID.is_empty() && action.ExchangeID != ex {
                return Err(ctp::ORDER_NOT_FOUND);
            }
            i
        } else {
            let front = if action.FrontID != 0 {
                action.FrontID
            } else {
                front_id
            };
            let session = if action.SessionID != 0 {
                action.SessionID
            } else {
                session_id
            };
            *self
                .by_ref
                .get(&(front, session, action.OrderRef.as_str().into()))
                .ok_or(ctp::ORDER_NOT_FOUND)? as usize
        };
        if *self.orders[idx].user != *user {
            return Err(ctp::ORDER_NOT_FOUND);
        }
        Ok(idx)
    }

    /// The settlement records that end the current trading day and start `next_day`:
    /// resting orders are cancelled, positions settle at the last prices, and those in
    /// contracts that `next_day` does not list expire.
    pub fn decide_roll(&mut self, next_day: &str, now: &BeijingTime) -> Vec<Record> {
        let mut out: Vec<Record> = self
            .resting
            .iter()
            .flatten()
            .map(|&i| Record::Cancel {
                sys_id: self.orders[i as usize].sys_id,
                time: Stamp::new(&now.time()),
                msg: StatusMsg::ClosedCanceled,
            })
            .collect();
        let (settlement, prices) = self.settlement_prices();
        let marks = PriceMarks {
            prices: &prices,
            table: &self.instruments,
        };
        let profit = self
            .accounts
            .values()
            .map(|a| (a.user_id.clone(), a.position_profit(&marks)))
            .collect();
        let expired = self.expiring(next_day, &prices);
        out.push(Record::Settle {
            next_day: next_day.to_string(),
            settlement,
            profit,
            expired,
        });
        out
    }
}
