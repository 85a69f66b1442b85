//! What kind of message the gateway sent, named by its MsgType: one variant per
//! message the gateway sends, with the JSON key its body travels under.

macro_rules! kinds {
    ($( $(#[$doc:meta])* $kind:ident => $key:expr, )*) => {
        /// The kind of a message from the gateway, read from its `MsgType`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum MsgKind {
            $( $(#[$doc])* $kind, )*
            /// The gateway's refusal of a request it could not serve (-400, -401,
            /// -404, ...). It echoes the request's MsgType, whatever the client sent,
            /// so it is known by its error rather than its name.
            GatewayError,
        }

        impl MsgKind {
            /// Every kind that has a MsgType of its own.
            pub const NAMED: &'static [MsgKind] = &[$(MsgKind::$kind,)*];

            /// The kind a MsgType names; `None` for a MsgType the gateway does not
            /// send (or a request's, echoed in a gateway error).
            pub fn from_msg_type(msg_type: &str) -> Option<MsgKind> {
                match msg_type {
                    $( stringify!($kind) => Some(MsgKind::$kind), )*
                    _ => None,
                }
            }

            /// The MsgType (`GatewayError` has none of its own).
            pub fn name(self) -> &'static str {
                match self {
                    $( MsgKind::$kind => stringify!($kind), )*
                    MsgKind::GatewayError => "GatewayError",
                }
            }

            /// The JSON key of the body, if the message has one.
            pub fn body_key(self) -> Option<&'static str> {
                let key: &'static str = match self {
                    $( MsgKind::$kind => $key, )*
                    MsgKind::GatewayError => "",
                };
                (!key.is_empty()).then_some(key)
            }
        }
    };
}

kinds! {
    // Answers to trading requests, in the order of the CTP API (TD_REQUEST_SPECS).
    RspAuthenticate => "RspAuthenticate",
    RspUserLogin => "RspUserLogin",
    RspUserLogout => "UserLogout",
    RspUserPasswordUpdate => "UserPasswordUpdate",
    RspSettlementInfoConfirm => "SettlementInfoConfirm",
    RspQrySettlementInfoConfirm => "SettlementInfoConfirm",
    RspQrySettlementInfo => "SettlementInfo",
    RspOrderInsert => "InputOrder",
    RspOrderAction => "InputOrderAction",
    RspQryMaxOrderVolume => "QryMaxOrderVolume",
    RspQryOrder => "Order",
    RspQryTrade => "Trade",
    RspQryInvestorPosition => "InvestorPosition",
    RspQryInvestorPositionDetail => "InvestorPositionDetail",
    RspQryTradingAccount => "TradingAccount",
    RspQryInvestor => "Investor",
    RspQryTradingCode => "TradingCode",
    RspQryInstrumentMarginRate => "InstrumentMarginRate",
    RspQryInstrumentCommissionRate => "InstrumentCommissionRate",
    RspQryExchangeMarginRate => "ExchangeMarginRate",
    RspQryInstrumentOrderCommRate => "InstrumentOrderCommRate",
    RspQryOptionInstrTradeCost => "OptionInstrTradeCost",
    RspQryOptionInstrCommRate => "OptionInstrCommRate",
    RspQryDepthMarketData => "DepthMarketData",
    RspQryProduct => "Product",
    RspQryExchange => "Exchange",
    RspQryInstrument => "Instrument",
    /// A market-data subscription's answer, one per instrument.
    RspSubMarketData => "SpecificInstrument",
    RspUnSubMarketData => "SpecificInstrument",
    /// CTP's `OnRspError`: a request refused without its own answer.
    RspError => "",
    /// A tick.
    RtnDepthMarketData => "DepthMarketData",
    /// An order's new state.
    RtnOrder => "Order",
    RtnTrade => "Trade",
    /// An order refused after its answer (CTP answers a refusal twice).
    ErrRtnOrderInsert => "InputOrder",
    ErrRtnOrderAction => "OrderAction",
    RtnInstrumentStatus => "InstrumentStatus",
    /// The upstream front came back.
    OnFrontConnected => "",
    /// The upstream front went away (or cannot be reached).
    OnFrontDisconnected => "",
    /// The gateway's heartbeat.
    Ping => "",
    /// The answer to a client's heartbeat.
    Pong => "",
}

impl std::fmt::Display for MsgKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
