//! A trading session on the simulated exchange: what a CTP trading front does with
//! each request, answered with CTP's messages and error IDs.
//!
//! Every request runs under the exchange lock; its records and answers are handed to
//! the ledger in the same critical section, so answers leave in the order the
//! exchange decided them, and only once the records they depend on are on disk.

use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use super::clock::BeijingTime;
use super::exchange::{Exchange, Push, Record, Stamp, StatusMsg, code};
use super::ledger::Delivery;
use super::queries;
use super::{FRONT_ID, SimCore};
use webctp_protocol::backend::{TdEvents, TdSession};
use webctp_protocol::errors::{ctp, rsp_info};
use webctp_protocol::fields::*;
use webctp_protocol::{CtpChar, Reply, TdRequest};

/// Failed logins in a row, from one client address, before that address may not log
/// in to the account for a while (CTP 75). Per address, so that someone who knows a
/// UserID cannot lock its owner out.
const MAX_FAILED_LOGINS: u32 = 5;
const LOCK_FOR: Duration = Duration::from_secs(60);
/// Failure records kept before expired ones are swept.
const MAX_FAILURE_RECORDS: usize = 10_000;

#[derive(Default)]
struct SessionState {
    user: Option<String>,
    authenticated: bool,
    next_order_ref: i64,
}

/// One client's session on the sim's trading front.
pub struct SimTdSession {
    core: Weak<SimCore>,
    pub(super) events: Arc<dyn TdEvents>,
    pub(super) session_id: i32,
    state: Mutex<SessionState>,
}

/// Answers and pushes collected while the exchange is locked.
#[derive(Default)]
struct Out {
    records: Vec<Record>,
    deliveries: Vec<Delivery>,
}

impl Out {
    fn reply(&mut self, to: &Arc<dyn TdEvents>, r: Reply) {
        let to = to.clone();
        self.deliveries.push(Box::new(move || to.reply(r)));
    }
}

impl SimTdSession {
    pub(super) fn new(
        core: Weak<SimCore>,
        events: Arc<dyn TdEvents>,
        session_id: i32,
    ) -> SimTdSession {
        SimTdSession {
            core,
            events,
            session_id,
            state: Mutex::new(SessionState::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, SessionState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The logged-in user.
    pub(super) fn user(&self) -> Option<String> {
        self.lock().user.clone()
    }

    /// Forgets the login (the front went away).
    pub(super) fn disconnected(&self) {
        let mut s = self.lock();
        s.user = None;
        s.authenticated = false;
    }

    fn respond(
        &self,
        out: &mut Out,
        msg_type: &'static str,
        body_key: &'static str,
        body: Option<Body>,
        code: i32,
        rid: i32,
    ) {
        out.reply(
            &self.events,
            Reply::response(msg_type, body_key, body, Some(rsp_info(code)), rid, true),
        );
    }

    /// Answers a query with one message per record, IsLast on the last, and one null
    /// body for an empty result.
    fn answer_all(
        &self,
        out: &mut Out,
        spec_msg: &'static str,
        key: &'static str,
        bodies: Vec<Body>,
        rid: i32,
    ) {
        if bodies.is_empty() {
            out.reply(
                &self.events,
                Reply::response(spec_msg, key, None, None, rid, true),
            );
            return;
        }
        let n = bodies.len();
        for (i, b) in bodies.into_iter().enumerate() {
            out.reply(
                &self.events,
                Reply::response(spec_msg, key, Some(b), Some(rsp_info(0)), rid, i + 1 == n),
            );
        }
    }
}

impl SimTdSession {
    /// Like [`SimTdSession::answer_all`] for a long answer: one delivery builds and
    /// sends each message in turn, so the whole answer never exists at once.
    fn answer_rows(
        &self,
        out: &mut Out,
        spec_msg: &'static str,
        key: &'static str,
        rows: queries::Rows,
        rid: i32,
    ) {
        let to = self.events.clone();
        out.deliveries.push(Box::new(move || {
            let mut rows = rows.peekable();
            if rows.peek().is_none() {
                to.reply(Reply::response(spec_msg, key, None, None, rid, true));
                return;
            }
            while let Some(b) = rows.next() {
                let last = rows.peek().is_none();
                to.reply(Reply::response(
                    spec_msg,
                    key,
                    Some(b),
                    Some(rsp_info(0)),
                    rid,
                    last,
                ));
            }
        }));
    }
}

/// The event sinks of every logged-in session of `user`: a user's pushes reach all
/// of them, as CTP sends private-flow returns to every session of an investor.
fn sessions_of(core: &SimCore, user: &str) -> Vec<Arc<dyn TdEvents>> {
    core.td_sessions()
        .into_iter()
        .filter(|s| s.user().as_deref() == Some(user))
        .map(|s| s.events.clone())
        .collect()
}

/// Deliveries of pushes to every logged-in session of `user`.
fn pushes_to(core: &SimCore, user: &str, pushes: Vec<Push>, out: &mut Out) {
    if pushes.is_empty() {
        return;
    }
    let targets = sessions_of(core, user);
    for p in pushes {
        let reply = match p {
            Push::Order(o) => Reply::push("RtnOrder", "Order", Some(Body::Order(o)), None),
            Push::Trade(t) => Reply::push("RtnTrade", "Trade", Some(Body::Trade(t)), None),
        };
        for t in &targets {
            out.reply(t, reply.clone());
        }
    }
}

/// Applies decided records, journals them and queues the pushes they cause.
fn commit(core: &SimCore, ex: &mut Exchange, records: Vec<Record>, out: &mut Out) {
    for rec in records {
        let Some(live) = ex.apply_live(rec) else {
            continue;
        };
        out.records.push(live.record);
        if let Some(u) = live.user {
            pushes_to(core, &u, live.pushes, out);
        }
    }
}

/// Hands collected records and deliveries to the ledger (caller holds the exchange lock).
fn flush(core: &SimCore, out: Out) -> Result<(), String> {
    if out.records.is_empty() && out.deliveries.is_empty() {
        return Ok(());
    }
    core.ledger.append(&out.records, out.deliveries)
}

/// Records decided outside a request (market moves, day roll), committed the same way.
pub(super) fn commit_and_flush(core: &SimCore, ex: &mut Exchange, records: Vec<Record>) {
    let mut out = Out::default();
    commit(core, ex, records, &mut out);
    if let Err(e) = flush(core, out) {
        tracing::error!("{e}");
    }
}

impl TdSession for SimTdSession {
    fn request(&self, req: &TdRequest, rid: i32) -> i32 {
        let Some(core) = self.core.upgrade() else {
            return -1;
        };
        if !core.front_up() || core.ledger.failed().is_some() {
            return -1;
        }
        if matches!(req, TdRequest::ReqOrderInsert(_))
            && let Some((duration, placed)) = core.take_order_fault()
        {
            return self.order_in_a_drop(&core, req, rid, duration, placed);
        }
        let mut ex = core.exchange.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Out::default();
        self.handle(&core, &mut ex, req, rid, &mut out);
        let result = flush(&core, out);
        drop(ex);
        // Answers go out from this thread once the lock is released (Durability: os);
        // with fsync the ledger thread sends them after the sync.
        core.ledger.drain();
        match result {
            Ok(()) => 0,
            Err(e) => {
                tracing::error!("{e}");
                -1
            }
        }
    }
}

impl SimTdSession {
    /// Fault injection: the front goes down as this order insert arrives. The API took
    /// it (0); either it is lost on the way (`placed` false: the exchange never gets
    /// it), or the exchange places it and every answer to it is lost in the drop.
    fn order_in_a_drop(
        &self,
        core: &Arc<SimCore>,
        req: &TdRequest,
        rid: i32,
        duration: Duration,
        placed: bool,
    ) -> i32 {
        tracing::warn!(placed, "sim: the front drops as an order insert arrives");
        if placed {
            let mut ex = core.exchange.lock().unwrap_or_else(|e| e.into_inner());
            let mut out = Out::default();
            self.handle(core, &mut ex, req, rid, &mut out);
            out.deliveries.clear();
            if let Err(e) = flush(core, out) {
                tracing::error!("{e}");
            }
            drop(ex);
            core.ledger.drain();
        }
        core.drop_front(duration);
        0
    }

    fn handle(&self, core: &SimCore, ex: &mut Exchange, req: &TdRequest, rid: i32, out: &mut Out) {
        let user = self.user();
        let now = core.clock.now();
        match req {
            TdRequest::ReqAuthenticate(a) => {
                let code = if a.AppID.is_empty() || a.AuthCode.is_empty() {
                    ctp::AUTH_FAILED
                } else {
                    self.lock().authenticated = true;
                    0
                };
                let body = RspAuthenticate {
                    BrokerID: a.BrokerID.clone(),
                    UserID: a.UserID.clone(),
                    UserProductInfo: a.UserProductInfo.clone(),
                    AppID: a.AppID.clone(),
                    AppType: CtpChar(b'1'),
                };
                self.respond(
                    out,
                    "RspAuthenticate",
                    "RspAuthenticate",
                    Some(body.into()),
                    code,
                    rid,
                );
            }
            TdRequest::ReqUserLogin(l) => self.login(core, ex, l, rid, &now, out),
            TdRequest::ReqUserLogout(l) => {
                self.lock().user = None;
                self.respond(
                    out,
                    "RspUserLogout",
                    "UserLogout",
                    Some(l.clone().into()),
                    0,
                    rid,
                );
            }
            other => {
                let spec = other.spec();
                let Some(user) = user else {
                    self.respond(
                        out,
                        spec.response,
                        spec.response_body_key,
                        None,
                        ctp::NOT_LOGIN_YET,
                        rid,
                    );
                    return;
                };
                self.logged_in(core, ex, &user, other, rid, &now, out);
            }
        }
    }

    fn login(
        &self,
        core: &SimCore,
        ex: &mut Exchange,
        l: &ReqUserLogin,
        rid: i32,
        now: &BeijingTime,
        out: &mut Out,
    ) {
        let fail = |out: &mut Out, code: i32| {
            self.respond(out, "RspUserLogin", "RspUserLogin", None, code, rid);
        };
        if l.UserID.is_empty() {
            return fail(out, ctp::INVALID_LOGIN);
        }
        // The gateway fills ClientIPAddress with the client's real address.
        let who = (l.UserID.as_str(), l.ClientIPAddress.as_str());
        if !ex.accounts.contains_key(&l.UserID) {
            if !core.config.auto_open_accounts || l.Password.is_empty() {
                return fail(out, ctp::INVALID_LOGIN);
            }
            if let Err(why) = core.may_open_account(ex.accounts.len()) {
                tracing::warn!(user = %l.UserID, "not opening a sim account: {why}");
                return fail(out, ctp::INVALID_LOGIN);
            }
            tracing::info!(user = %l.UserID, funds = core.config.initial_funds, "opening a sim account on its first login");
            let rec = ex.open_account(&l.UserID, &l.Password, core.config.initial_funds);
            out.records.push(rec);
        } else {
            let ok = ex.password_ok(&l.UserID, &l.Password);
            let locked = core.login_locked(who);
            if locked {
                return fail(out, ctp::LOGIN_FORBIDDEN);
            }
            if !ok {
                if core.login_failed(who) >= MAX_FAILED_LOGINS {
                    return fail(out, ctp::LOGIN_FORBIDDEN);
                }
                return fail(out, ctp::INVALID_LOGIN);
            }
            core.login_succeeded(who);
        }
        let mut s = self.lock();
        s.user = Some(l.UserID.clone());
        s.next_order_ref = 0;
        drop(s);
        let body = RspUserLogin {
            TradingDay: ex.trading_day.clone(),
            LoginTime: now.time(),
            BrokerID: if l.BrokerID.is_empty() {
                "9999".into()
            } else {
                l.BrokerID.clone()
            },
            UserID: l.UserID.clone(),
            SystemName: "webctp sim".into(),
            FrontID: FRONT_ID,
            SessionID: self.session_id,
            MaxOrderRef: "0".into(),
            SHFETime: now.time(),
            DCETime: now.time(),
            CZCETime: now.time(),
            FFEXTime: now.time(),
            INETime: now.time(),
            GFEXTime: now.time(),
            SysVersion: super::VERSION.into(),
            ..RspUserLogin::default()
        };
        self.respond(
            out,
            "RspUserLogin",
            "RspUserLogin",
            Some(body.into()),
            0,
            rid,
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn logged_in(
        &self,
        core: &SimCore,
        ex: &mut Exchange,
        user: &str,
        req: &TdRequest,
        rid: i32,
        now: &BeijingTime,
        out: &mut Out,
    ) {
        let spec = req.spec();
        let (rsp, key) = (spec.response, spec.response_body_key);
        match req {
            TdRequest::ReqUserPasswordUpdate(u) => {
                let code = if u.UserID != user {
                    ctp::NO_PRIVILEGE
                } else if !ex.password_ok(user, &u.OldPassword) {
                    ctp::OLD_PASSWORD_MISMATCH
                } else if u.NewPassword.is_empty() {
                    ctp::BAD_FIELD
                } else if u.NewPassword == u.OldPassword {
                    ctp::PWD_MUST_DIFF
                } else {
                    0
                };
                if code == 0 {
                    let salt = format!("{:016x}", ex.rng.next_u64());
                    let rec = Record::Password {
                        user: user.to_string(),
                        digest: super::account::digest_password(&salt, &u.NewPassword),
                        salt,
                    };
                    ex.apply(&rec);
                    out.records.push(rec);
                }
                // The answer echoes the request without the passwords.
                let body = UserPasswordUpdate {
                    BrokerID: u.BrokerID.clone(),
                    UserID: u.UserID.clone(),
                    ..UserPasswordUpdate::default()
                };
                self.respond(out, rsp, key, Some(body.into()), code, rid);
            }
            TdRequest::ReqSettlementInfoConfirm(c) => {
                let rec = Record::Confirm {
                    user: user.to_string(),
                    day: ex.trading_day.clone(),
                    date: now.date(),
                    time: now.time(),
                };
                ex.apply(&rec);
                out.records.push(rec);
                let body = SettlementInfoConfirm {
                    BrokerID: c.BrokerID.clone(),
                    InvestorID: user.to_string(),
                    ConfirmDate: now.date(),
                    ConfirmTime: now.time(),
                    SettlementID: 1,
                    CurrencyID: "CNY".into(),
                    ..SettlementInfoConfirm::default()
                };
                self.respond(out, rsp, key, Some(body.into()), 0, rid);
            }
            TdRequest::ReqQrySettlementInfoConfirm(_) => {
                let body = ex.accounts.get(user).and_then(|a| a.confirmed.clone()).map(
                    |(_, date, time)| {
                        Body::from(SettlementInfoConfirm {
                            BrokerID: "9999".into(),
                            InvestorID: user.to_string(),
                            ConfirmDate: date,
                            ConfirmTime: time,
                            SettlementID: 1,
                            CurrencyID: "CNY".into(),
                            ..SettlementInfoConfirm::default()
                        })
                    },
                );
                self.answer_all(out, rsp, key, body.into_iter().collect(), rid);
            }
            TdRequest::ReqQrySettlementInfo(_) => {
                let body = ex
                    .accounts
                    .get(user)
                    .filter(|a| !a.settlement_text.is_empty())
                    .map(|a| {
                        Body::from(SettlementInfo {
                            TradingDay: a.settlement_day.clone(),
                            SettlementID: 1,
                            BrokerID: "9999".into(),
                            InvestorID: user.to_string(),
                            SequenceNo: 1,
                            Content: a.settlement_text.clone(),
                            CurrencyID: "CNY".into(),
                            ..SettlementInfo::default()
                        })
                    });
                self.answer_all(out, rsp, key, body.into_iter().collect(), rid);
            }
            TdRequest::ReqOrderInsert(o) => self.insert(core, ex, user, o, rid, now, out),
            TdRequest::ReqOrderAction(a) => self.cancel(core, ex, user, a, rid, now, out),
            TdRequest::ReqQryOrder(q) => {
                self.answer_rows(out, rsp, key, queries::orders(ex, user, q), rid)
            }
            TdRequest::ReqQryTrade(q) => {
                self.answer_rows(out, rsp, key, queries::trades(ex, user, q), rid)
            }
            TdRequest::ReqQryInvestorPosition(q) => {
                self.answer_all(out, rsp, key, queries::positions(ex, user, q), rid)
            }
            TdRequest::ReqQryInvestorPositionDetail(q) => {
                self.answer_all(out, rsp, key, queries::position_details(ex, user, q), rid)
            }
            TdRequest::ReqQryTradingAccount(_) => {
                let body = ex
                    .accounts
                    .get(user)
                    .map(|a| Body::from(queries::trading_account(ex, a)));
                self.answer_all(out, rsp, key, body.into_iter().collect(), rid);
            }
            TdRequest::ReqQryInvestor(_) => self.answer_all(
                out,
                rsp,
                key,
                vec![queries::investor(user, now).into()],
                rid,
            ),
            TdRequest::ReqQryTradingCode(q) => {
                self.answer_all(out, rsp, key, queries::trading_codes(user, q), rid)
            }
            TdRequest::ReqQryInstrumentMarginRate(q) => {
                self.answer_all(out, rsp, key, queries::margin_rates(ex, user, q), rid)
            }
            TdRequest::ReqQryInstrumentCommissionRate(q) => {
                self.answer_all(out, rsp, key, queries::commission_rates(ex, user, q), rid)
            }
            TdRequest::ReqQryExchangeMarginRate(q) => {
                self.answer_all(out, rsp, key, queries::exchange_margin_rates(ex, q), rid)
            }
            TdRequest::ReqQryInstrumentOrderCommRate(q) => {
                self.answer_all(out, rsp, key, queries::order_comm_rates(ex, user, q), rid)
            }
            TdRequest::ReqQryOptionInstrTradeCost(q) => {
                let bodies = queries::option_trade_costs(ex, user, q);
                self.answer_all(out, rsp, key, bodies, rid)
            }
            TdRequest::ReqQryOptionInstrCommRate(q) => {
                self.answer_all(out, rsp, key, queries::option_comm_rates(ex, user, q), rid)
            }
            TdRequest::ReqQryDepthMarketData(q) => {
                self.answer_all(out, rsp, key, queries::depth(ex, q, now), rid)
            }
            TdRequest::ReqQryProduct(q) => {
                self.answer_all(out, rsp, key, queries::products(ex, q), rid)
            }
            TdRequest::ReqQryExchange(q) => {
                self.answer_all(out, rsp, key, queries::exchanges(ex, q), rid)
            }
            TdRequest::ReqQryInstrument(q) => {
                self.answer_all(out, rsp, key, queries::instruments(ex, q), rid)
            }
            TdRequest::ReqQryMaxOrderVolume(q) => {
                let body = ex
                    .accounts
                    .get(user)
                    .map(|a| Body::from(queries::max_order_volume(ex, a, q)));
                self.answer_all(out, rsp, key, body.into_iter().collect(), rid);
            }
            // Handled before login; listed for completeness.
            TdRequest::ReqAuthenticate(_)
            | TdRequest::ReqUserLogin(_)
            | TdRequest::ReqUserLogout(_) => {}
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn insert(
        &self,
        core: &SimCore,
        ex: &mut Exchange,
        user: &str,
        o: &InputOrder,
        rid: i32,
        now: &BeijingTime,
        out: &mut Out,
    ) {
        let order_ref = if o.OrderRef.trim().is_empty() {
            let mut s = self.lock();
            s.next_order_ref += 1;
            format!("{:>12}", s.next_order_ref)
        } else {
            o.OrderRef.clone()
        };
        if let Ok(n) = order_ref.trim().parse::<i64>() {
            let mut s = self.lock();
            s.next_order_ref = s.next_order_ref.max(n);
        }
        let origin = super::exchange::Origin {
            user,
            front_id: FRONT_ID,
            session_id: self.session_id,
            order_ref: &order_ref,
        };
        match ex.decide_insert(&origin, o, rid, now) {
            Ok(records) => {
                let before = ex.orders.len();
                commit(core, ex, records, out);
                if ex.orders.len() > before {
                    let fills = ex.decide_match(before, now);
                    commit(core, ex, fills, out);
                }
            }
            Err(code) => {
                let mut echo = o.clone();
                echo.OrderRef = order_ref;
                echo.InvestorID = user.to_string();
                echo.UserID = user.to_string();
                echo.RequestID = rid;
                tracing::debug!(user, code, instrument = %o.InstrumentID, "order rejected");
                self.respond(
                    out,
                    "RspOrderInsert",
                    "InputOrder",
                    Some(echo.clone().into()),
                    code,
                    rid,
                );
                let err = Reply::push(
                    "ErrRtnOrderInsert",
                    "InputOrder",
                    Some(echo.into()),
                    Some(rsp_info(code)),
                );
                for t in sessions_of(core, user) {
                    out.reply(&t, err.clone());
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn cancel(
        &self,
        core: &SimCore,
        ex: &mut Exchange,
        user: &str,
        a: &InputOrderAction,
        rid: i32,
        now: &BeijingTime,
        out: &mut Out,
    ) {
        let found = if a.ActionFlag.is_set() && a.ActionFlag.0 != b'0' {
            Err(ctp::UNSUPPORTED_FUNCTION)
        } else {
            ex.find_order(user, a, FRONT_ID, self.session_id)
                .and_then(|i| {
                    if ex.orders[i].is_final() {
                        Err(ctp::INSUITABLE_ORDER_STATUS)
                    } else {
                        Ok(i)
                    }
                })
        };
        match found {
            Ok(i) => {
                let rec = Record::Cancel {
                    sys_id: ex.orders[i].sys_id,
                    time: Stamp::new(&now.time()),
                    msg: StatusMsg::Canceled,
                };
                commit(core, ex, vec![rec], out);
            }
            Err(code) => {
                self.respond(
                    out,
                    "RspOrderAction",
                    "InputOrderAction",
                    Some(a.clone().into()),
                    code,
                    rid,
                );
                let action = OrderAction {
                    BrokerID: a.BrokerID.clone(),
                    InvestorID: user.to_string(),
                    OrderActionRef: a.OrderActionRef,
                    OrderRef: a.OrderRef.clone(),
                    RequestID: rid,
                    FrontID: a.FrontID,
                    SessionID: a.SessionID,
                    ExchangeID: a.ExchangeID.clone(),
                    OrderSysID: a.OrderSysID.clone(),
                    ActionFlag: CtpChar(b'0'),
                    ActionDate: now.date(),
                    ActionTime: now.time(),
                    OrderActionStatus: CtpChar(code::ACTION_REJECTED),
                    UserID: user.to_string(),
                    StatusMsg: webctp_protocol::errors::ctp_message(code)
                        .unwrap_or_default()
                        .into(),
                    InstrumentID: a.InstrumentID.clone(),
                    ..OrderAction::default()
                };
                let err = Reply::push(
                    "ErrRtnOrderAction",
                    "OrderAction",
                    Some(action.into()),
                    Some(rsp_info(code)),
                );
                for t in sessions_of(core, user) {
                    out.reply(&t, err.clone());
                }
            }
        }
    }
}

/// Login attempts per user and client address: counts failures and locks that
/// address out of that account after too many. Also paces automatic account opening.
#[derive(Default)]
pub(super) struct LoginGuard {
    failures: std::collections::HashMap<(String, String), (u32, Option<Instant>)>,
    /// When accounts were opened automatically in the last minute.
    opened: std::collections::VecDeque<Instant>,
}

impl SimCore {
    fn logins(&self) -> std::sync::MutexGuard<'_, LoginGuard> {
        self.logins.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn login_locked(&self, (user, from): (&str, &str)) -> bool {
        self.logins()
            .failures
            .get(&(user.to_string(), from.to_string()))
            .and_then(|f| f.1)
            .is_some_and(|until| Instant::now() < until)
    }

    fn login_failed(&self, (user, from): (&str, &str)) -> u32 {
        let mut g = self.logins();
        if g.failures.len() >= MAX_FAILURE_RECORDS {
            let now = Instant::now();
            g.failures
                .retain(|_, f| f.1.is_some_and(|until| now < until));
        }
        let f = g
            .failures
            .entry((user.to_string(), from.to_string()))
            .or_default();
        f.0 += 1;
        if f.0 >= MAX_FAILED_LOGINS {
            f.1 = Some(Instant::now() + LOCK_FOR);
            tracing::warn!(
                user = ?user,
                from = ?from,
                "too many failed logins from one address; that address may not log in to the account for {} s",
                LOCK_FOR.as_secs()
            );
        }
        f.0
    }

    fn login_succeeded(&self, (user, from): (&str, &str)) {
        self.logins()
            .failures
            .remove(&(user.to_string(), from.to_string()));
    }

    /// Whether one more account may be opened automatically, with `accounts` open.
    fn may_open_account(&self, accounts: usize) -> Result<(), String> {
        let cfg = &self.config;
        if accounts >= cfg.auto_open_max {
            return Err(format!(
                "the sim holds {accounts} accounts (Sim.AutoOpenMax {})",
                cfg.auto_open_max
            ));
        }
        let mut g = self.logins();
        let now = Instant::now();
        while g
            .opened
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60))
        {
            g.opened.pop_front();
        }
        if g.opened.len() >= cfg.auto_open_per_minute as usize {
            return Err(format!(
                "{} accounts opened in the last minute (Sim.AutoOpenPerMinute {})",
                g.opened.len(),
                cfg.auto_open_per_minute
            ));
        }
        g.opened.push_back(now);
        Ok(())
    }
}
