//! The sim's market-data session: login, subscriptions (counted in the core, so the
//! market thread steps only what someone watches), and the ticks it is sent.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

use super::{FRONT_ID, SimCore, VERSION};
use webctp_protocol::Reply;
use webctp_protocol::backend::{MdEvents, MdSession};
use webctp_protocol::errors::{ctp, request, rsp_info};
use webctp_protocol::fields::{Body, ReqUserLogin, RspUserLogin, SpecificInstrument};

/// The sim's market-data session.
pub struct SimMdSession {
    pub(super) core: Weak<SimCore>,
    pub(super) events: Arc<dyn MdEvents>,
    pub(super) logged_in: AtomicBool,
    pub(super) subscribed: Mutex<HashSet<usize>>,
}

impl Drop for SimMdSession {
    fn drop(&mut self) {
        let held: Vec<usize> = self
            .subscribed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
            .collect();
        if let Some(core) = self.core.upgrade() {
            core.watch(held, false);
        }
    }
}

impl SimMdSession {
    pub(super) fn wants(&self, instrument: usize) -> bool {
        self.logged_in.load(Ordering::Relaxed)
            && self
                .subscribed
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains(&instrument)
    }

    fn core(&self) -> Option<Arc<SimCore>> {
        self.core.upgrade().filter(|c| c.front_up())
    }

    fn answer_each(
        &self,
        core: &SimCore,
        msg_type: &'static str,
        ids: &[String],
        result: impl Fn(&str) -> i32,
    ) {
        let n = ids.len();
        for (i, id) in ids.iter().enumerate() {
            let reply = Reply::response(
                msg_type,
                "SpecificInstrument",
                Some(Body::from(SpecificInstrument {
                    InstrumentID: id.clone(),
                    ..SpecificInstrument::default()
                })),
                Some(rsp_info(result(id))),
                0,
                i + 1 == n,
            );
            let ev = self.events.clone();
            core.post(Box::new(move || ev.reply(reply)));
        }
    }
}

impl MdSession for SimMdSession {
    fn login(&self, req: &ReqUserLogin, request_id: i32) -> i32 {
        let Some(core) = self.core() else {
            return request::NETWORK_FAILURE;
        };
        self.logged_in.store(true, Ordering::Relaxed);
        let now = core.clock.now();
        let body = RspUserLogin {
            TradingDay: core.trading_day(),
            LoginTime: now.time(),
            BrokerID: req.BrokerID.clone(),
            UserID: req.UserID.clone(),
            SystemName: "webctp sim".into(),
            FrontID: FRONT_ID,
            SessionID: 0,
            MaxOrderRef: "1".into(),
            SHFETime: now.time(),
            DCETime: now.time(),
            CZCETime: now.time(),
            FFEXTime: now.time(),
            INETime: now.time(),
            SysVersion: VERSION.into(),
            GFEXTime: now.time(),
            ..RspUserLogin::default()
        };
        let reply = Reply::response(
            "RspUserLogin",
            "RspUserLogin",
            Some(body.into()),
            Some(rsp_info(0)),
            request_id,
            true,
        );
        let ev = self.events.clone();
        core.post(Box::new(move || ev.reply(reply)));
        0
    }

    fn subscribe(&self, ids: &[String]) -> i32 {
        let Some(core) = self.core() else {
            return request::NETWORK_FAILURE;
        };
        let found: Vec<Option<usize>> = {
            let ex = core.exchange.lock().unwrap_or_else(|e| e.into_inner());
            ids.iter()
                .map(|id| ex.instruments.listed_index(id))
                .collect()
        };
        let added: Vec<usize> = {
            let mut subs = self.subscribed.lock().unwrap_or_else(|e| e.into_inner());
            found
                .iter()
                .flatten()
                .filter(|i| subs.insert(**i))
                .copied()
                .collect()
        };
        core.watch(added, true);
        let unknown: HashSet<&str> = ids
            .iter()
            .zip(&found)
            .filter(|(_, f)| f.is_none())
            .map(|(id, _)| id.as_str())
            .collect();
        self.answer_each(&core, "RspSubMarketData", ids, |id| {
            if unknown.contains(id) {
                ctp::INSTRUMENT_NOT_FOUND
            } else {
                0
            }
        });
        0
    }

    fn unsubscribe(&self, ids: &[String]) -> i32 {
        let Some(core) = self.core() else {
            return request::NETWORK_FAILURE;
        };
        let found: Vec<usize> = {
            let ex = core.exchange.lock().unwrap_or_else(|e| e.into_inner());
            ids.iter()
                .filter_map(|id| ex.instruments.index_of(id))
                .collect()
        };
        let removed: Vec<usize> = {
            let mut subs = self.subscribed.lock().unwrap_or_else(|e| e.into_inner());
            found.into_iter().filter(|i| subs.remove(i)).collect()
        };
        core.watch(removed, false);
        self.answer_each(&core, "RspUnSubMarketData", ids, |_| 0);
        0
    }
}
