//! Error codes: CTP's own table (6.7.11, shipped as `ctp-errors.tsv`) and the gateway's
//! negative codes of the webctp protocol.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::fields::RspInfo;

/// Bad parameters: malformed JSON, wrong types, missing or unknown fields.
pub const BAD_PARAMETERS: i32 = -400;
/// The request needs a login on this connection first.
pub const NOT_LOGGED_IN: i32 = -401;
/// Unknown or unimplemented MsgType.
pub const NOT_IMPLEMENTED: i32 = -404;
/// A configured limit (e.g. subscriptions per client) would be exceeded.
pub const LIMIT_EXCEEDED: i32 = -413;
/// Too many requests per second from this client.
pub const RATE_LIMITED: i32 = -429;

/// What a CTP `Req*` call returns when the request did not leave (0: it did).
pub mod request {
    /// The request could not be sent (network, or no session to send it on).
    pub const NETWORK_FAILURE: i32 = -1;
    /// Too many requests are still unanswered (CTP's flow control).
    pub const TOO_MANY_UNANSWERED: i32 = -2;
    /// Too many requests in this second (CTP's flow control).
    pub const TOO_MANY_PER_SECOND: i32 = -3;

    /// Whether CTP's flow control refused the request: try again later.
    pub fn is_flow_control(code: i32) -> bool {
        code == TOO_MANY_UNANSWERED || code == TOO_MANY_PER_SECOND
    }
}

/// webctp's wording of the gateway errors.
pub fn gateway_message(code: i32) -> &'static str {
    match code {
        BAD_PARAMETERS => "参数有误",
        NOT_LOGGED_IN => "未登录",
        NOT_IMPLEMENTED => "Not implemented",
        LIMIT_EXCEEDED => "超过上限",
        RATE_LIMITED => "请求过于频繁",
        request::NETWORK_FAILURE => "CTP:请求失败",
        request::TOO_MANY_UNANSWERED => "CTP:未处理请求超过许可数",
        request::TOO_MANY_PER_SECOND => "CTP:每秒发送请求数超过许可数",
        _ => "",
    }
}

/// CTP error IDs webctp names, by their names in CTP's table (`ctp-errors.tsv`).
pub mod ctp {
    pub const NONE: i32 = 0;
    pub const INVALID_LOGIN: i32 = 3;
    pub const DUPLICATE_LOGIN: i32 = 5;
    pub const NOT_LOGIN_YET: i32 = 6;
    pub const FRONT_NOT_ACTIVE: i32 = 8;
    pub const NO_PRIVILEGE: i32 = 9;
    pub const USER_NOT_FOUND: i32 = 11;
    pub const INVESTOR_NOT_FOUND: i32 = 13;
    pub const OLD_PASSWORD_MISMATCH: i32 = 14;
    pub const BAD_FIELD: i32 = 15;
    pub const INSTRUMENT_NOT_FOUND: i32 = 16;
    pub const INSTRUMENT_NOT_TRADING: i32 = 17;
    pub const DUPLICATE_ORDER_REF: i32 = 22;
    pub const BAD_ORDER_ACTION_FIELD: i32 = 23;
    pub const ORDER_NOT_FOUND: i32 = 25;
    pub const INSUITABLE_ORDER_STATUS: i32 = 26;
    pub const UNSUPPORTED_FUNCTION: i32 = 27;
    pub const OVER_CLOSE_POSITION: i32 = 30;
    pub const INSUFFICIENT_MONEY: i32 = 31;
    pub const SETTLEMENT_INFO_NOT_CONFIRMED: i32 = 42;
    pub const INVALID_INVESTORIDORPASSWORD: i32 = 48;
    pub const OVER_CLOSETODAY_POSITION: i32 = 50;
    pub const OVER_CLOSEYESTERDAY_POSITION: i32 = 51;
    pub const AUTH_FAILED: i32 = 63;
    pub const NOT_AUTHENT: i32 = 64;
    pub const LOGIN_FORBIDDEN: i32 = 75;
    pub const PRICETYPE_NOTSUPPORT_BYEXCHANGE: i32 = 80;
    /// A query the front is not ready to answer yet: ask again later.
    pub const NEED_RETRY: i32 = 90;
    /// The password must be changed before the first login.
    pub const FIRST_LOGIN: i32 = 140;
    pub const PWD_OUT_OF_DATE: i32 = 141;
    pub const PWD_MUST_DIFF: i32 = 142;
    /// Too many failed logins from this address.
    pub const IP_FORBIDDEN: i32 = 143;
    pub const IP_BLACK: i32 = 144;
    /// `CTP:产品不在可以交易的阶段`: the sim's answer to an order outside the product's
    /// sessions (`Sessions: exchange`).
    pub const NOT_TRADING_PERIOD: i32 = 162;
    pub const PRICE_OVER_LIMIT: i32 = 163;
    pub const VOLUME_NOT_VALID: i32 = 164;
    pub const PRICE_WRONG_TICK: i32 = 165;
}

struct Entry {
    name: &'static str,
    message: &'static str,
}

fn table() -> &'static HashMap<i32, Entry> {
    static TABLE: OnceLock<HashMap<i32, Entry>> = OnceLock::new();
    TABLE.get_or_init(|| {
        include_str!("ctp-errors.tsv")
            .lines()
            .skip(1)
            .filter_map(|line| {
                let mut cols = line.split('\t');
                let id = cols.next()?.parse().ok()?;
                let name = cols.next()?;
                let message = cols.next()?;
                Some((id, Entry { name, message }))
            })
            .collect()
    })
}

/// CTP's message for an ErrorID, e.g. 16 -> `CTP:找不到合约`.
pub fn ctp_message(id: i32) -> Option<&'static str> {
    table().get(&id).map(|e| e.message)
}

/// CTP's symbolic name for an ErrorID, e.g. 31 -> `INSUFFICIENT_MONEY`.
pub fn ctp_name(id: i32) -> Option<&'static str> {
    table().get(&id).map(|e| e.name)
}

/// The RspInfo CTP sends for an ErrorID (0 is success, `CTP:正确`).
pub fn rsp_info(id: i32) -> RspInfo {
    let msg = if id < 0 {
        gateway_message(id)
    } else {
        ctp_message(id).unwrap_or("CTP:未知错误")
    };
    RspInfo {
        ErrorID: id,
        ErrorMsg: msg.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_has_the_codes_the_sim_uses() {
        for id in [
            ctp::NONE,
            ctp::INVALID_LOGIN,
            ctp::INSTRUMENT_NOT_FOUND,
            ctp::ORDER_NOT_FOUND,
            ctp::INSUITABLE_ORDER_STATUS,
            ctp::OVER_CLOSE_POSITION,
            ctp::INSUFFICIENT_MONEY,
            ctp::OVER_CLOSETODAY_POSITION,
            ctp::OVER_CLOSEYESTERDAY_POSITION,
            ctp::PRICE_OVER_LIMIT,
            ctp::VOLUME_NOT_VALID,
            ctp::PRICE_WRONG_TICK,
            ctp::LOGIN_FORBIDDEN,
            ctp::DUPLICATE_ORDER_REF,
            ctp::AUTH_FAILED,
            ctp::NOT_TRADING_PERIOD,
        ] {
            assert!(ctp_message(id).is_some(), "{id}");
        }
        // Every named constant is CTP's own name for its number.
        for (id, name) in [
            (ctp::FRONT_NOT_ACTIVE, "FRONT_NOT_ACTIVE"),
            (ctp::USER_NOT_FOUND, "USER_NOT_FOUND"),
            (ctp::INVESTOR_NOT_FOUND, "INVESTOR_NOT_FOUND"),
            (
                ctp::INVALID_INVESTORIDORPASSWORD,
                "INVALID_INVESTORIDORPASSWORD",
            ),
            (ctp::NEED_RETRY, "NEED_RETRY"),
            (ctp::FIRST_LOGIN, "FIRST_LOGIN"),
            (ctp::PWD_OUT_OF_DATE, "PWD_OUT_OF_DATE"),
            (ctp::PWD_MUST_DIFF, "PWD_MUST_DIFF"),
            (ctp::IP_FORBIDDEN, "IP_FORBIDDEN"),
            (ctp::IP_BLACK, "IP_BLACK"),
            (ctp::AUTH_FAILED, "AUTH_FAILED"),
            (ctp::LOGIN_FORBIDDEN, "LOGIN_FORBIDDEN"),
        ] {
            assert_eq!(ctp_name(id), Some(name), "{id}");
        }
        assert!(request::is_flow_control(request::TOO_MANY_PER_SECOND));
        assert!(!request::is_flow_control(request::NETWORK_FAILURE));
        assert_eq!(ctp_message(16), Some("CTP:找不到合约"));
        assert_eq!(ctp_name(31), Some("INSUFFICIENT_MONEY"));
        assert_eq!(rsp_info(0).ErrorMsg, "CTP:正确");
    }
}
