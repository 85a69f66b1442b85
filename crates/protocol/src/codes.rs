//! CTP's `char` codes by name (`THOST_FTDC_*` in `ThostFtdcUserApiDataType.h`), for
//! code that builds or reads CTP structs without spelling `'0'` and `'3'`.

use crate::ctp_types::CtpChar;

/// `TThostFtdcDirectionType`.
pub mod direction {
    use super::CtpChar;
    pub const BUY: CtpChar = CtpChar(b'0');
    pub const SELL: CtpChar = CtpChar(b'1');
}

/// `TThostFtdcOffsetFlagType` (the first character of `CombOffsetFlag`).
pub mod offset {
    use super::CtpChar;
    pub const OPEN: CtpChar = CtpChar(b'0');
    pub const CLOSE: CtpChar = CtpChar(b'1');
    pub const FORCE_CLOSE: CtpChar = CtpChar(b'2');
    pub const CLOSE_TODAY: CtpChar = CtpChar(b'3');
    pub const CLOSE_YESTERDAY: CtpChar = CtpChar(b'4');
}

/// `TThostFtdcOrderStatusType`.
pub mod order_status {
    use super::CtpChar;
    pub const ALL_TRADED: CtpChar = CtpChar(b'0');
    pub const PART_TRADED_QUEUEING: CtpChar = CtpChar(b'1');
    pub const PART_TRADED_NOT_QUEUEING: CtpChar = CtpChar(b'2');
    pub const NO_TRADE_QUEUEING: CtpChar = CtpChar(b'3');
    pub const NO_TRADE_NOT_QUEUEING: CtpChar = CtpChar(b'4');
    pub const CANCELED: CtpChar = CtpChar(b'5');
    /// Sent; the exchange has not answered yet.
    pub const UNKNOWN: CtpChar = CtpChar(b'a');
    pub const NOT_TOUCHED: CtpChar = CtpChar(b'b');
    pub const TOUCHED: CtpChar = CtpChar(b'c');
}

/// `TThostFtdcPosiDirectionType`.
pub mod posi_direction {
    use super::CtpChar;
    pub const NET: CtpChar = CtpChar(b'1');
    pub const LONG: CtpChar = CtpChar(b'2');
    pub const SHORT: CtpChar = CtpChar(b'3');
}

/// `TThostFtdcPositionDateType`: SHFE and INE report today's and yesterday's
/// positions in separate rows.
pub mod position_date {
    use super::CtpChar;
    pub const TODAY: CtpChar = CtpChar(b'1');
    pub const HISTORY: CtpChar = CtpChar(b'2');
}

/// `TThostFtdcOrderPriceTypeType`.
pub mod price_type {
    use super::CtpChar;
    pub const ANY_PRICE: CtpChar = CtpChar(b'1');
    pub const LIMIT_PRICE: CtpChar = CtpChar(b'2');
}

/// `TThostFtdcTimeConditionType`.
pub mod time_condition {
    use super::CtpChar;
    /// Immediate or cancel (FAK/FOK).
    pub const IOC: CtpChar = CtpChar(b'1');
    /// Good for the day.
    pub const GFD: CtpChar = CtpChar(b'3');
}

/// `TThostFtdcVolumeConditionType`.
pub mod volume_condition {
    use super::CtpChar;
    pub const ANY_VOLUME: CtpChar = CtpChar(b'1');
    pub const MIN_VOLUME: CtpChar = CtpChar(b'2');
    /// All or nothing (FOK).
    pub const COMPLETE_VOLUME: CtpChar = CtpChar(b'3');
}

/// `TThostFtdcHedgeFlagType`.
pub mod hedge_flag {
    use super::CtpChar;
    pub const SPECULATION: CtpChar = CtpChar(b'1');
}

/// `TThostFtdcContingentConditionType`.
pub mod contingent_condition {
    use super::CtpChar;
    pub const IMMEDIATELY: CtpChar = CtpChar(b'1');
}

/// `TThostFtdcForceCloseReasonType`.
pub mod force_close_reason {
    use super::CtpChar;
    pub const NOT_FORCE_CLOSE: CtpChar = CtpChar(b'0');
}

/// `TThostFtdcActionFlagType`.
pub mod action_flag {
    use super::CtpChar;
    pub const DELETE: CtpChar = CtpChar(b'0');
}

/// The first code of a combined field such as `CombOffsetFlag` (`"0"`, or `"00"` for
/// a combination's legs); NUL when empty.
pub fn first(comb: &str) -> CtpChar {
    comb.chars().next().map_or(CtpChar::NUL, CtpChar::from)
}

/// A code as the one-character string of a combined field (`CombOffsetFlag`).
pub fn comb(code: CtpChar) -> String {
    if code.is_set() {
        code.as_char().to_string()
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combined_fields() {
        assert_eq!(first("3"), offset::CLOSE_TODAY);
        assert_eq!(first("01"), offset::OPEN);
        assert_eq!(first(""), CtpChar::NUL);
        assert_eq!(comb(offset::CLOSE_YESTERDAY), "4");
        assert_eq!(comb(CtpChar::NUL), "");
    }
}
