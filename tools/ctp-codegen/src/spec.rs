//! What of the CTP API the webctp protocol exposes. Everything else in the generated
//! code is derived from these lists and the headers.

/// Trading requests of the webctp protocol (the MsgType is the CTP method name; the
/// body key is the CTP struct name without `CThostFtdc`/`Field`).
pub const TD_REQUESTS: &[&str] = &[
    "ReqAuthenticate",
    "ReqUserLogin",
    "ReqUserLogout",
    "ReqUserPasswordUpdate",
    "ReqSettlementInfoConfirm",
    "ReqQrySettlementInfoConfirm",
    "ReqQrySettlementInfo",
    "ReqOrderInsert",
    "ReqOrderAction",
    "ReqQryMaxOrderVolume",
    "ReqQryOrder",
    "ReqQryTrade",
    "ReqQryInvestorPosition",
    "ReqQryInvestorPositionDetail",
    "ReqQryTradingAccount",
    "ReqQryInvestor",
    "ReqQryTradingCode",
    "ReqQryInstrumentMarginRate",
    "ReqQryInstrumentCommissionRate",
    "ReqQryExchangeMarginRate",
    "ReqQryInstrumentOrderCommRate",
    "ReqQryOptionInstrTradeCost",
    "ReqQryOptionInstrCommRate",
    "ReqQryDepthMarketData",
    "ReqQryProduct",
    "ReqQryExchange",
    "ReqQryInstrument",
];

/// Trading callbacks forwarded to clients besides the `OnRsp` answer of each request.
pub const TD_PUSHES: &[&str] = &[
    "OnRtnOrder",
    "OnRtnTrade",
    "OnErrRtnOrderInsert",
    "OnErrRtnOrderAction",
    "OnRtnInstrumentStatus",
];

/// Market-data requests that carry a struct.
pub const MD_REQUESTS: &[&str] = &["ReqUserLogin", "ReqUserLogout"];

/// Market-data callbacks forwarded to clients.
pub const MD_CALLBACKS: &[&str] = &[
    "OnRspUserLogin",
    "OnRspUserLogout",
    "OnRspSubMarketData",
    "OnRspUnSubMarketData",
    "OnRtnDepthMarketData",
];

/// Structs generated although no listed method names them.
pub const EXTRA_STRUCTS: &[&str] = &["CThostFtdcRspInfoField"];

/// The matching `OnRsp` callback of a request: `ReqQryOrder` -> `OnRspQryOrder`.
pub fn response_of(req: &str) -> String {
    format!("OnRsp{}", req.trim_start_matches("Req"))
}
