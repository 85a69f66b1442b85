//! Subscriptions, reference-counted: the front is asked for an instrument when the
//! first client wants it and released when the last one leaves; each request is
//! answered per instrument, in order, once the front has answered (or the wait ended).

use bytes::Bytes;

use super::state::{HubState, PendingSub, Route, Upstream};
use super::{ClientId, FRONT_NOT_ACTIVE, MdHub, Outgoing, UPSTREAM_WAIT};
use crate::protocol::Reply;
use crate::protocol::errors::{self, rsp_info};
use crate::protocol::fields::{RspInfo, SpecificInstrument};

impl MdHub {
    /// A client's SubscribeMarketData: one RspSubMarketData per instrument, in order,
    /// the last with IsLast.
    pub fn subscribe(&self, id: ClientId, request_id: i32, instruments: &[String]) {
        let mut st = self.lock();
        let mut ask = Vec::new();
        let mut items = Vec::with_capacity(instruments.len());
        let mut waiting = false;
        let up = matches!(st.upstream, Upstream::LoggedIn(_));
        for inst in instruments {
            let Some(client) = st.clients.get(&id) else {
                return;
            };
            let known = client.wanted.contains(inst);
            if !known && client.wanted.len() >= self.max_subscriptions {
                items.push((inst.clone(), Some(limit_info(self.max_subscriptions))));
                continue;
            }
            if known && st.subscribed.contains(inst) {
                items.push((inst.clone(), Some(rsp_info(0))));
            } else if st.subscribed.contains(inst) {
                if let Some(c) = st.clients.get_mut(&id) {
                    c.wanted.insert(inst.clone());
                }
                self.join_route(&mut st, id, inst);
                items.push((inst.clone(), Some(rsp_info(0))));
            } else if !up {
                items.push((inst.clone(), Some(rsp_info(FRONT_NOT_ACTIVE))));
            } else {
                if let Some(c) = st.clients.get_mut(&id) {
                    c.wanted.insert(inst.clone());
                }
                if st.in_flight.insert(inst.clone()) {
                    ask.push(inst.clone());
                }
                items.push((inst.clone(), None));
                waiting = true;
            }
        }
        if !waiting {
            let out = Self::sub_replies(&st, id, request_id, "RspSubMarketData", &items);
            drop(st);
            Self::send(out);
            return;
        }
        let key = st.next_pending;
        st.next_pending += 1;
        st.pending.insert(
            key,
            PendingSub {
                client: id,
                request_id,
                items,
            },
        );
        drop(st);
        self.subscribe_upstream(ask);
        let me = self.me.clone();
        self.runtime.spawn(async move {
            tokio::time::sleep(UPSTREAM_WAIT).await;
            if let Some(hub) = me.upgrade() {
                hub.expire_pending(key);
            }
        });
    }

    pub(super) fn expire_pending(&self, key: u64) {
        let mut st = self.lock();
        let Some(mut p) = st.pending.remove(&key) else {
            return;
        };
        for (inst, result) in &mut p.items {
            if result.is_none() {
                *result = Some(rsp_info(FRONT_NOT_ACTIVE));
                st.in_flight.remove(inst.as_str());
                if let Some(c) = st.clients.get_mut(&p.client) {
                    c.wanted.remove(inst.as_str());
                }
            }
        }
        let out = Self::sub_replies(&st, p.client, p.request_id, "RspSubMarketData", &p.items);
        drop(st);
        Self::send(out);
    }

    /// A client's UnSubscribeMarketData.
    pub fn unsubscribe(&self, id: ClientId, request_id: i32, instruments: &[String]) {
        let mut st = self.lock();
        let Some(client) = st.clients.get_mut(&id) else {
            return;
        };
        for inst in instruments {
            client.wanted.remove(inst);
        }
        let release = self.leave_routes(&mut st, id, instruments.iter());
        let items: Vec<(String, Option<RspInfo>)> = instruments
            .iter()
            .map(|i| (i.clone(), Some(rsp_info(0))))
            .collect();
        let out = Self::sub_replies(&st, id, request_id, "RspUnSubMarketData", &items);
        drop(st);
        Self::send(out);
        self.unsubscribe_upstream(release);
    }

    pub(super) fn sub_replies(
        st: &HubState,
        id: ClientId,
        request_id: i32,
        msg_type: &'static str,
        items: &[(String, Option<RspInfo>)],
    ) -> Outgoing {
        let Some(c) = st.clients.get(&id) else {
            return Vec::new();
        };
        let n = items.len();
        items
            .iter()
            .enumerate()
            .map(|(i, (inst, info))| {
                let body = SpecificInstrument {
                    InstrumentID: inst.clone(),
                    ..SpecificInstrument::default()
                };
                let reply = Reply::response(
                    msg_type,
                    "SpecificInstrument",
                    Some(body.into()),
                    info.clone(),
                    request_id,
                    i + 1 == n,
                );
                (c.outbox.clone(), Bytes::from(reply.to_json()))
            })
            .collect()
    }

    pub(super) fn key_of(st: &mut HubState, inst: &str) -> u32 {
        let next = st.keys.len() as u32;
        *st.keys.entry(inst.to_string()).or_insert(next)
    }

    pub(super) fn join_route(&self, st: &mut HubState, id: ClientId, inst: &str) {
        let Some(outbox) = st.clients.get(&id).map(|c| c.outbox.clone()) else {
            return;
        };
        let key = Self::key_of(st, inst);
        let mut routes = self.routes.write().unwrap_or_else(|e| e.into_inner());
        let route = routes.entry(inst.to_string()).or_insert_with(|| Route {
            key,
            subscribers: Vec::new(),
        });
        if !route.subscribers.iter().any(|(c, _)| *c == id) {
            route.subscribers.push((id, outbox));
        }
    }

    /// Takes the client out of the routes of `instruments`; returns the instruments no
    /// one wants any more.
    pub(super) fn leave_routes<'a>(
        &self,
        st: &mut HubState,
        id: ClientId,
        instruments: impl Iterator<Item = &'a String>,
    ) -> Vec<String> {
        let mut release = Vec::new();
        let mut routes = self.routes.write().unwrap_or_else(|e| e.into_inner());
        for inst in instruments {
            if let Some(route) = routes.get_mut(inst) {
                route.subscribers.retain(|(c, _)| *c != id);
                if route.subscribers.is_empty() {
                    routes.remove(inst);
                    if st.subscribed.remove(inst) {
                        release.push(inst.clone());
                    }
                }
            }
        }
        release
    }

    pub(super) fn subscribe_upstream(&self, instruments: Vec<String>) {
        if instruments.is_empty() {
            return;
        }
        let Some(up) = self.upstream.get() else {
            return;
        };
        let code = up.subscribe(&instruments);
        if code != 0 {
            tracing::warn!(code, ?instruments, "SubscribeMarketData was not sent");
            for inst in &instruments {
                self.resolve(inst, rsp_info(code));
            }
        }
    }

    pub(super) fn unsubscribe_upstream(&self, instruments: Vec<String>) {
        if instruments.is_empty() {
            return;
        }
        if let Some(up) = self.upstream.get() {
            let code = up.unsubscribe(&instruments);
            if code != 0 {
                tracing::warn!(code, ?instruments, "UnSubscribeMarketData was not sent");
            }
        }
    }

    /// The front answered a subscription of `inst`.
    pub(super) fn resolve(&self, inst: &str, info: RspInfo) {
        let mut st = self.lock();
        st.in_flight.remove(inst);
        let ok = info.ErrorID == 0;
        if ok {
            st.subscribed.insert(inst.to_string());
        }
        let mut done = Vec::new();
        let keys: Vec<u64> = st.pending.keys().copied().collect();
        for key in keys {
            let Some(p) = st.pending.get_mut(&key) else {
                continue;
            };
            let mut touched = false;
            for (i, r) in p.items.iter_mut() {
                if i == inst && r.is_none() {
                    *r = Some(info.clone());
                    touched = true;
                }
            }
            if touched {
                let client = p.client;
                let complete = p.items.iter().all(|(_, r)| r.is_some());
                let wanted = st
                    .clients
                    .get(&client)
                    .is_some_and(|c| c.wanted.contains(inst));
                if ok && wanted {
                    self.join_route(&mut st, client, inst);
                } else if !ok && let Some(c) = st.clients.get_mut(&client) {
                    c.wanted.remove(inst);
                }
                if complete && let Some(p) = st.pending.remove(&key) {
                    done.push(p);
                }
            }
        }
        // A subscription nobody waits for any more (the client left) is released.
        let orphan = ok
            && !st.clients.values().any(|c| c.wanted.contains(inst))
            && !self
                .routes
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .contains_key(inst);
        if orphan {
            st.subscribed.remove(inst);
        }
        let mut out = Vec::new();
        for p in done {
            out.extend(Self::sub_replies(
                &st,
                p.client,
                p.request_id,
                "RspSubMarketData",
                &p.items,
            ));
        }
        drop(st);
        Self::send(out);
        if orphan {
            self.unsubscribe_upstream(vec![inst.to_string()]);
        }
    }
}

pub(super) fn limit_info(max: usize) -> RspInfo {
    RspInfo {
        ErrorID: errors::LIMIT_EXCEEDED,
        ErrorMsg: format!("订阅数量超过上限 ({max})"),
    }
}
