//! Logging in: accounts opened on first login, passwords checked, and an address that
//! keeps guessing locked out of the account for a while.

use std::time::{Duration, Instant};

use super::{Out, SimTdSession};
use crate::clock::BeijingTime;
use crate::exchange::Exchange;
use crate::{FRONT_ID, SimCore};
use webctp_protocol::errors::ctp;
use webctp_protocol::fields::*;

/// Failed logins in a row, from one client address, before that address may not log
/// in to the account for a while (CTP 75). Per address, so that someone who knows a
/// UserID cannot lock its owner out.
const MAX_FAILED_LOGINS: u32 = 5;
const LOCK_FOR: Duration = Duration::from_secs(60);
/// Failure records kept before expired ones are swept.
const MAX_FAILURE_RECORDS: usize = 10_000;

impl SimTdSession {
    pub(super) fn login(
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
            if let Some(why) = core.auto_open_refusal(ex.accounts.len()) {
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
            SysVersion: crate::VERSION.into(),
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
}

/// Login attempts per user and client address: counts failures and locks that
/// address out of that account after too many. Also paces automatic account opening.
#[derive(Default)]
pub(crate) struct LoginGuard {
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

    /// Why one more account may not be opened automatically, with `accounts` open;
    /// `None` when it may (and then it counts as opened).
    fn auto_open_refusal(&self, accounts: usize) -> Option<String> {
        let cfg = &self.config;
        if accounts >= cfg.auto_open_max {
            return Some(format!(
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
            return Some(format!(
                "{} accounts opened in the last minute (Sim.AutoOpenPerMinute {})",
                g.opened.len(),
                cfg.auto_open_per_minute
            ));
        }
        g.opened.push_back(now);
        None
    }
}
