//! The day's orders and trades in a compact form: about 200 bytes an order and 50 a
//! trade, instead of CTP's structs (over 2 KB with their strings). CTP's `Order` and
//! `Trade` are built from these rows only when a push or a query needs them.

use std::sync::Arc;

use super::account::{CloseSplit, Side};
use super::instruments::InstrumentSpec;
use super::record::{Stamp, StatusMsg, pad};
use webctp_protocol::CtpChar;
use webctp_protocol::fields::{Order, Trade};

/// CTP's codes used by the sim.
pub mod code {
    pub const BUY: u8 = b'0';
    pub const SELL: u8 = b'1';
    pub const OPEN: u8 = b'0';
    pub const CLOSE: u8 = b'1';
    pub const FORCE_CLOSE: u8 = b'2';
    pub const CLOSE_TODAY: u8 = b'3';
    pub const CLOSE_YESTERDAY: u8 = b'4';
    pub const ANY_PRICE: u8 = b'1';
    pub const LIMIT_PRICE: u8 = b'2';
    pub const IOC: u8 = b'1';
    pub const GFD: u8 = b'3';
    pub const ANY_VOLUME: u8 = b'1';
    pub const MIN_VOLUME: u8 = b'2';
    pub const ALL_VOLUME: u8 = b'3';
    pub const ALL_TRADED: u8 = b'0';
    pub const PART_TRADED_QUEUEING: u8 = b'1';
    pub const NO_TRADE_QUEUEING: u8 = b'3';
    pub const CANCELED: u8 = b'5';
    pub const UNKNOWN: u8 = b'a';
    pub const INSERT_SUBMITTED: u8 = b'0';
    pub const ACCEPTED: u8 = b'3';
    /// OrderActionStatus of a refused cancel (CTP: 'a' submitted, 'b' accepted, 'c'
    /// rejected).
    pub const ACTION_REJECTED: u8 = b'c';
    pub const SPECULATION: u8 = b'1';
}

/// Participant and trader IDs the sim reports.
pub const PARTICIPANT: &str = "9999";
const TRADER: &str = "9999sim01";

/// An order of the day and what the exchange keeps about it.
#[derive(Debug, Clone)]
pub struct OrderState {
    pub user: Arc<str>,
    pub order_ref: Box<str>,
    /// OrderSysID, also its OrderLocalID.
    pub sys_id: u64,
    pub limit_price: f64,
    pub margin_per_lot: f64,
    pub commission_per_lot: f64,
    pub inst: u32,
    pub front_id: i32,
    pub session_id: i32,
    pub request_id: i32,
    pub volume: i32,
    pub min_volume: i32,
    pub remaining: i32,
    pub traded: i32,
    pub broker_seq: i32,
    pub sequence_no: i32,
    pub notify_sequence: i32,
    /// Which lots a close takes, less what it has filled.
    pub plan: CloseSplit,
    pub insert_date: Stamp,
    pub insert_time: Stamp,
    pub update_time: Stamp,
    pub cancel_time: Stamp,
    pub direction: u8,
    pub offset: u8,
    pub hedge: u8,
    pub price_type: u8,
    pub time_condition: u8,
    pub volume_condition: u8,
    pub status: u8,
    pub msg: StatusMsg,
}

impl OrderState {
    pub fn is_final(&self) -> bool {
        matches!(self.status, code::ALL_TRADED | code::CANCELED)
    }

    pub fn inst(&self) -> usize {
        self.inst as usize
    }

    pub fn buy(&self) -> bool {
        self.direction == code::BUY
    }

    pub fn is_open(&self) -> bool {
        self.offset == code::OPEN
    }

    /// The position side the order opens or closes.
    pub fn side(&self) -> Side {
        match (self.buy(), self.is_open()) {
            (true, true) | (false, false) => Side::Long,
            _ => Side::Short,
        }
    }

    /// `None` for market orders.
    pub fn limit(&self) -> Option<f64> {
        (self.price_type != code::ANY_PRICE).then_some(self.limit_price)
    }

    /// Whatever the book does not fill at once is cancelled.
    pub fn ioc(&self) -> bool {
        self.price_type == code::ANY_PRICE || self.time_condition == code::IOC
    }

    /// The order as CTP reports it now (`spec` is its instrument's; `trading_day` is
    /// the exchange's: orders live one day).
    pub fn to_order(&self, spec: &InstrumentSpec, trading_day: &str) -> Order {
        Order {
            BrokerID: PARTICIPANT.into(),
            InvestorID: self.user.to_string(),
            OrderRef: self.order_ref.to_string(),
            UserID: self.user.to_string(),
            OrderPriceType: CtpChar(self.price_type),
            Direction: CtpChar(self.direction),
            CombOffsetFlag: char::from(self.offset).to_string(),
            CombHedgeFlag: char::from(self.hedge).to_string(),
            LimitPrice: self.limit_price,
            VolumeTotalOriginal: self.volume,
            TimeCondition: CtpChar(self.time_condition),
            VolumeCondition: CtpChar(self.volume_condition),
            MinVolume: self.min_volume,
            ContingentCondition: CtpChar(b'1'),
            ForceCloseReason: CtpChar(b'0'),
            RequestID: self.request_id,
            OrderLocalID: pad(self.sys_id),
            ExchangeID: spec.exchange.into(),
            ParticipantID: PARTICIPANT.into(),
            ClientID: format!("{PARTICIPANT}{}", self.user),
            TraderID: TRADER.into(),
            InstallID: 1,
            OrderSubmitStatus: CtpChar(code::ACCEPTED),
            TradingDay: trading_day.into(),
            SettlementID: 1,
            OrderSysID: pad(self.sys_id),
            OrderSource: CtpChar(b'0'),
            OrderStatus: CtpChar(self.status),
            OrderType: CtpChar(b'0'),
            VolumeTraded: self.traded,
            VolumeTotal: self.remaining,
            InsertDate: self.insert_date.as_str().into(),
            InsertTime: self.insert_time.as_str().into(),
            UpdateTime: self.update_time.as_str().into(),
            CancelTime: self.cancel_time.as_str().into(),
            SequenceNo: self.sequence_no,
            FrontID: self.front_id,
            SessionID: self.session_id,
            StatusMsg: self.msg.text().into(),
            BrokerOrderSeq: self.broker_seq,
            NotifySequence: self.notify_sequence,
            CurrencyID: "CNY".into(),
            InstrumentID: spec.id.clone(),
            ExchangeInstID: spec.id.clone(),
            ..Order::default()
        }
    }

    /// The first report of a new order: submitted, before the exchange numbered it.
    pub fn to_submitted(&self, spec: &InstrumentSpec, trading_day: &str) -> Order {
        let mut o = self.to_order(spec, trading_day);
        o.OrderSysID.clear();
        o.OrderSubmitStatus = CtpChar(code::INSERT_SUBMITTED);
        o.OrderStatus = CtpChar(code::UNKNOWN);
        o.StatusMsg = StatusMsg::Submitted.text().into();
        o.UpdateTime.clear();
        o.NotifySequence = 0;
        o.SequenceNo = self.sequence_no - 1;
        o
    }
}

/// A fill of the day.
#[derive(Debug, Clone, Copy)]
pub struct TradeState {
    /// Index of the order in the day's orders.
    pub order: u32,
    pub trade_id: u64,
    pub price: f64,
    pub volume: i32,
    pub sequence_no: i32,
    pub offset: u8,
    pub date: Stamp,
    pub time: Stamp,
}

impl TradeState {
    /// The trade as CTP reports it; `o` is its order, `spec` their instrument's.
    pub fn to_trade(&self, o: &OrderState, spec: &InstrumentSpec, trading_day: &str) -> Trade {
        Trade {
            BrokerID: PARTICIPANT.into(),
            InvestorID: o.user.to_string(),
            OrderRef: o.order_ref.to_string(),
            UserID: o.user.to_string(),
            ExchangeID: spec.exchange.into(),
            TradeID: pad(self.trade_id),
            Direction: CtpChar(o.direction),
            OrderSysID: pad(o.sys_id),
            ParticipantID: PARTICIPANT.into(),
            ClientID: format!("{PARTICIPANT}{}", o.user),
            TradingRole: CtpChar(b'1'),
            OffsetFlag: CtpChar(self.offset),
            HedgeFlag: CtpChar(code::SPECULATION),
            Price: self.price,
            Volume: self.volume,
            TradeDate: self.date.as_str().into(),
            TradeTime: self.time.as_str().into(),
            TradeType: CtpChar(b'0'),
            PriceSource: CtpChar(b'0'),
            TraderID: TRADER.into(),
            OrderLocalID: pad(o.sys_id),
            ClearingPartID: PARTICIPANT.into(),
            SequenceNo: self.sequence_no,
            TradingDay: trading_day.into(),
            SettlementID: 1,
            BrokerOrderSeq: o.broker_seq,
            TradeSource: CtpChar(b'0'),
            InstrumentID: spec.id.clone(),
            ExchangeInstID: spec.id.clone(),
            ..Trade::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_stay_small() {
        // The budget per order of the issue: a few hundred bytes with its indexes.
        assert!(std::mem::size_of::<OrderState>() <= 192);
        assert!(std::mem::size_of::<TradeState>() <= 56);
    }
}
