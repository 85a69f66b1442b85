//! Applying the records of an order's life: accepted, filled (in part or whole),
//! cancelled. Each updates the order, the account's frozen funds and positions, and
//! the audit's running totals.

use std::sync::Arc;

use super::{Applied, Exchange, code};
use crate::account::{Lot, margin_per_lot};
use crate::instruments::InstrumentSpec;
use crate::orders::{OrderState, TradeState};
use crate::record::{InsertRecord, Stamp, StatusMsg, pad};

impl Exchange {
    pub(super) fn apply_insert(&mut self, r: &InsertRecord) -> Applied {
        let Some(inst) = self.resolve_instrument(&r.instrument) else {
            self.audit.mismatches.push(format!(
                "order {} is for {}, which the product table does not list",
                r.sys_id, r.instrument
            ));
            return Applied::Nothing;
        };
        let is_open = r.offset == code::OPEN;
        if self.orders.last().is_some_and(|o| o.sys_id >= r.sys_id) {
            self.audit.mismatches.push(format!(
                "order {} is journaled after order {}",
                r.sys_id,
                self.orders.last().map_or(0, |o| o.sys_id)
            ));
            return Applied::Nothing;
        }
        self.next_sys_id = self.next_sys_id.max(r.sys_id);
        self.next_broker_seq = self.next_broker_seq.max(r.broker_seq);
        if !self.accounts.contains_key(&r.user) {
            return Applied::Nothing;
        }
        let user = self.name(&r.user);
        self.sequence += 2;
        let o = OrderState {
            user,
            order_ref: r.order_ref.as_str().into(),
            sys_id: r.sys_id,
            limit_price: r.limit_price,
            margin_per_lot: r.margin_per_lot,
            commission_per_lot: r.commission_per_lot,
            inst: inst as u32,
            front_id: r.front_id,
            session_id: r.session_id,
            request_id: r.request_id,
            volume: r.volume,
            min_volume: r.min_volume,
            remaining: r.volume,
            traded: 0,
            broker_seq: r.broker_seq,
            sequence_no: self.sequence,
            notify_sequence: 1,
            plan: r.plan,
            insert_date: r.date,
            insert_time: r.time,
            update_time: r.time,
            cancel_time: Stamp::default(),
            direction: r.direction,
            offset: r.offset,
            hedge: r.hedge,
            price_type: r.price_type,
            time_condition: r.time_condition,
            volume_condition: r.volume_condition,
            status: code::NO_TRADE_QUEUEING,
            msg: StatusMsg::NoTrade,
        };
        let side = o.side();
        let Some(account) = self.accounts.get_mut(&r.user) else {
            return Applied::Nothing;
        };
        if is_open {
            account.frozen_margin += r.margin_per_lot * f64::from(r.volume);
            account.frozen_commission += r.commission_per_lot * f64::from(r.volume);
            account.position_mut(inst, side).frozen_open += r.volume;
        } else {
            account.frozen_commission += r.commission_per_lot * f64::from(r.volume);
            let p = account.position_mut(inst, side);
            p.frozen_close.today += r.plan.today;
            p.frozen_close.yesterday += r.plan.yesterday;
        }
        let idx = self.orders.len();
        self.by_ref
            .insert((r.front_id, r.session_id, o.order_ref.clone()), idx as u32);
        self.resting[inst].insert(idx as u32);
        self.orders.push(o);
        Applied::Insert(idx)
    }

    pub(super) fn apply_fill(
        &mut self,
        sys_id: u64,
        trade_id: u64,
        price: f64,
        volume: i32,
        (date, time): (Stamp, Stamp),
        (journaled_commission, journaled_close_profit): (f64, f64),
    ) -> Applied {
        let Some(idx) = self.order_by_sys_id(sys_id) else {
            self.audit
                .mismatches
                .push(format!("fill {trade_id} of unknown order {sys_id}"));
            return Applied::Nothing;
        };
        self.next_trade_id = self.next_trade_id.max(trade_id);
        let volume = volume.min(self.orders[idx].remaining);
        if volume <= 0 || self.orders[idx].is_final() {
            // A fill decided for an order that has traded or gone since: nothing to do.
            return Applied::Nothing;
        }
        let seq = self.next_seq();
        let o = &mut self.orders[idx];
        let inst = o.inst();
        let side = o.side();
        let spec: Arc<InstrumentSpec> = self.instruments.get(inst).clone();
        let Some(account) = self.accounts.get_mut(&*o.user) else {
            return Applied::Nothing;
        };
        let (commission, close_profit, offset) = if o.is_open() {
            account.frozen_margin -= o.margin_per_lot * f64::from(volume);
            account.frozen_commission -= o.commission_per_lot * f64::from(volume);
            let commission = spec.open_commission.of(price, volume, spec.multiple);
            let margin = margin_per_lot(&spec, side, price);
            let p = account.position_mut(inst, side);
            p.frozen_open -= volume;
            p.lots.push_back(Lot {
                trade_id: pad(trade_id),
                open_date: self.trading_day.clone(),
                open_price: price,
                ref_price: price,
                volume,
                margin,
            });
            p.open_volume += volume;
            p.open_amount += price * f64::from(volume) * f64::from(spec.multiple);
            p.commission += commission;
            (commission, 0.0, code::OPEN)
        } else {
            account.frozen_commission -= o.commission_per_lot * f64::from(volume);
            let split = o.plan.take(volume);
            let p = account.position_mut(inst, side);
            p.frozen_close.today -= split.today;
            p.frozen_close.yesterday -= split.yesterday;
            let closed = p.close(split, price, side, &self.trading_day, spec.multiple);
            let commission = spec
                .close_today_commission
                .of(price, closed.today, spec.multiple)
                + spec
                    .close_commission
                    .of(price, closed.yesterday, spec.multiple);
            p.close_volume += volume;
            p.close_amount += price * f64::from(volume) * f64::from(spec.multiple);
            p.commission += commission;
            p.close_profit_by_date += closed.profit_by_date;
            p.close_profit_by_trade += closed.profit_by_trade;
            account.close_profit += closed.profit_by_date;
            (commission, closed.profit_by_date, o.offset)
        };
        account.commission += commission;
        let cash = self.audit.cash.entry(o.user.clone()).or_default();
        cash.1 += commission;
        cash.2 += close_profit;
        let net = self
            .audit
            .net
            .entry((o.user.clone(), inst, side))
            .or_default();
        *net += if o.is_open() {
            i64::from(volume)
        } else {
            -i64::from(volume)
        };
        self.last_fill_cost = Some((commission, close_profit));
        if journaled_commission.is_finite()
            && ((journaled_commission - commission).abs() > 1e-6
                || (journaled_close_profit - close_profit).abs() > 1e-6)
        {
            self.audit.mismatches.push(format!(
                "fill {trade_id}: journal says commission {journaled_commission} and close profit {journaled_close_profit}, replay computes {commission} and {close_profit}"
            ));
        }
        o.remaining -= volume;
        o.traded += volume;
        o.update_time = time;
        o.sequence_no = seq;
        o.notify_sequence += 1;
        if o.remaining == 0 {
            o.status = code::ALL_TRADED;
            o.msg = StatusMsg::AllTraded;
            self.resting[inst].remove(&(idx as u32));
        } else {
            o.status = code::PART_TRADED_QUEUEING;
            o.msg = StatusMsg::PartTraded;
        }
        let trade = self.trades.len();
        self.trades.push(TradeState {
            order: idx as u32,
            trade_id,
            price,
            volume,
            sequence_no: seq,
            offset,
            date,
            time,
        });
        Applied::Fill { order: idx, trade }
    }

    pub(super) fn apply_cancel(&mut self, sys_id: u64, time: Stamp, msg: StatusMsg) -> Applied {
        let Some(idx) = self.order_by_sys_id(sys_id) else {
            return Applied::Nothing;
        };
        if self.orders[idx].is_final() {
            return Applied::Nothing;
        }
        let seq = self.next_seq();
        let o = &mut self.orders[idx];
        let left = o.remaining;
        let (inst, side) = (o.inst(), o.side());
        if let Some(account) = self.accounts.get_mut(&*o.user) {
            account.frozen_commission -= o.commission_per_lot * f64::from(left);
            if o.is_open() {
                account.frozen_margin -= o.margin_per_lot * f64::from(left);
                account.position_mut(inst, side).frozen_open -= left;
            } else {
                let p = account.position_mut(inst, side);
                p.frozen_close.today -= o.plan.today;
                p.frozen_close.yesterday -= o.plan.yesterday;
                o.plan = Default::default();
            }
        }
        o.remaining = 0;
        o.status = code::CANCELED;
        o.cancel_time = time;
        o.update_time = time;
        o.msg = msg;
        o.sequence_no = seq;
        o.notify_sequence += 1;
        self.resting[inst].remove(&(idx as u32));
        Applied::Cancel(idx)
    }
}
