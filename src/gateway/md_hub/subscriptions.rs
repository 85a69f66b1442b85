//! Subscriptions, reference-counted: the front is asked for an instrument when the
//! first client wants it and released when the last one leaves; each request is
//! answered per instrument, in order, once the front has answered (or the wait ended).
//! Pure: see [`Machine`].

use bytes::Bytes;

use super::actions::{Actions, Call, Timer};
use super::state::{Machine, PendingSub, Upstream};
use super::{ClientId, FRONT_NOT_ACTIVE, UPSTREAM_WAIT};
use crate::protocol::Reply;
use crate::protocol::errors::{self, rsp_info};
use crate::protocol::fields::{RspInfo, SpecificInstrument};

impl Machine {
    /// A client's SubscribeMarketData: one RspSubMarketData per instrument, in order,
    /// the last with IsLast.
    pub(super) fn subscribe(
        &mut self,
        id: ClientId,
        request_id: i32,
        instruments: &[String],
    ) -> Actions {
        let mut a = Actions::default();
        let mut ask = Vec::new();
        let mut items = Vec::with_capacity(instruments.len());
        let mut waiting = false;
        let up = matches!(self.upstream, Upstream::LoggedIn(_));
        for inst in instruments {
            let Some(client) = self.clients.get(&id) else {
                return a;
            };
            let known = client.wanted.contains(inst);
            if !known && client.wanted.len() >= self.cfg.max_subscriptions {
                items.push((inst.clone(), Some(limit_info(self.cfg.max_subscriptions))));
                continue;
            }
            if known && self.subscribed.contains(inst) {
                items.push((inst.clone(), Some(rsp_info(0))));
            } else if self.subscribed.contains(inst) {
                if let Some(c) = self.clients.get_mut(&id) {
                    c.wanted.insert(inst.clone());
                }
                self.join_route(&mut a, id, inst);
                items.push((inst.clone(), Some(rsp_info(0))));
            } else if !up {
                items.push((inst.clone(), Some(rsp_info(FRONT_NOT_ACTIVE))));
            } else {
                if let Some(c) = self.clients.get_mut(&id) {
                    c.wanted.insert(inst.clone());
                }
                if self.in_flight.insert(inst.clone()) {
                    ask.push(inst.clone());
                }
                items.push((inst.clone(), None));
                waiting = true;
            }
        }
        if !waiting {
            a.send = self.sub_replies(id, request_id, "RspSubMarketData", &items);
            return a;
        }
        let key = self.next_pending;
        self.next_pending += 1;
        self.pending.insert(
            key,
            PendingSub {
                client: id,
                request_id,
                items,
            },
        );
        if !ask.is_empty() {
            a.calls.push(Call::Subscribe(ask));
        }
        a.timers
            .push((self.now + UPSTREAM_WAIT, Timer::SubscriptionExpired(key)));
        a
    }

    /// A subscription's wait for the front is over (or the front dropped): what is
    /// still unanswered failed.
    pub(super) fn expire_pending(&mut self, key: u64) -> Actions {
        let mut a = Actions::default();
        let Some(mut p) = self.pending.remove(&key) else {
            return a;
        };
        for (inst, result) in &mut p.items {
            if result.is_none() {
                *result = Some(rsp_info(FRONT_NOT_ACTIVE));
                self.in_flight.remove(inst.as_str());
                if let Some(c) = self.clients.get_mut(&p.client) {
                    c.wanted.remove(inst.as_str());
                }
            }
        }
        a.send = self.sub_replies(p.client, p.request_id, "RspSubMarketData", &p.items);
        a
    }

    /// A client's UnSubscribeMarketData.
    pub(super) fn unsubscribe(
        &mut self,
        id: ClientId,
        request_id: i32,
        instruments: &[String],
    ) -> Actions {
        let mut a = Actions::default();
        let Some(client) = self.clients.get_mut(&id) else {
            return a;
        };
        for inst in instruments {
            client.wanted.remove(inst);
        }
        let release = self.leave_routes(&mut a, id, instruments.iter());
        let items: Vec<(String, Option<RspInfo>)> = instruments
            .iter()
            .map(|i| (i.clone(), Some(rsp_info(0))))
            .collect();
        a.send = self.sub_replies(id, request_id, "RspUnSubMarketData", &items);
        if !release.is_empty() {
            a.calls.push(Call::Unsubscribe(release));
        }
        a
    }

    /// A client left: what only it was subscribed to is released.
    pub(super) fn remove_client(&mut self, id: ClientId) -> Actions {
        let mut a = Actions::default();
        let Some(entry) = self.clients.remove(&id) else {
            return a;
        };
        self.pending.retain(|_, p| p.client != id);
        self.login_waiters.retain(|(c, _)| *c != id);
        let mut wanted: Vec<&String> = entry.wanted.iter().collect();
        wanted.sort();
        let release = self.leave_routes(&mut a, id, wanted.into_iter());
        if !release.is_empty() {
            a.calls.push(Call::Unsubscribe(release));
        }
        a
    }

    pub(super) fn sub_replies(
        &self,
        id: ClientId,
        request_id: i32,
        msg_type: &'static str,
        items: &[(String, Option<RspInfo>)],
    ) -> Vec<(ClientId, Bytes)> {
        if !self.clients.contains_key(&id) {
            return Vec::new();
        }
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
                (id, Bytes::from(reply.to_json()))
            })
            .collect()
    }

    fn key_of(&mut self, inst: &str) -> u32 {
        let next = self.keys.len() as u32;
        *self.keys.entry(inst.to_string()).or_insert(next)
    }

    /// Puts the client on the instrument's tick route.
    fn join_route(&mut self, a: &mut Actions, id: ClientId, inst: &str) {
        if !self.clients.contains_key(&id) {
            return;
        }
        let key = self.key_of(inst);
        let route = self.routes.entry(inst.to_string()).or_default();
        if !route.contains(&id) {
            route.push(id);
            a.join.push((inst.to_string(), key, id));
        }
    }

    /// Takes the client off the routes of `instruments`; returns the instruments no
    /// one wants any more.
    fn leave_routes<'a>(
        &mut self,
        a: &mut Actions,
        id: ClientId,
        instruments: impl Iterator<Item = &'a String>,
    ) -> Vec<String> {
        let mut release = Vec::new();
        for inst in instruments {
            if let Some(route) = self.routes.get_mut(inst) {
                if let Some(i) = route.iter().position(|c| *c == id) {
                    route.remove(i);
                    a.leave.push((inst.clone(), id));
                }
                if route.is_empty() {
                    self.routes.remove(inst);
                    if self.subscribed.remove(inst) {
                        release.push(inst.clone());
                    }
                }
            }
        }
        release
    }

    /// The front answered a subscription of `inst`.
    pub(super) fn resolve(&mut self, inst: &str, info: RspInfo) -> Actions {
        let mut a = Actions::default();
        self.in_flight.remove(inst);
        let ok = info.ErrorID == 0;
        if ok {
            self.subscribed.insert(inst.to_string());
        }
        let mut done = Vec::new();
        let mut keys: Vec<u64> = self.pending.keys().copied().collect();
        keys.sort_unstable();
        for key in keys {
            let Some(p) = self.pending.get_mut(&key) else {
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
                let wanted = self
                    .clients
                    .get(&client)
                    .is_some_and(|c| c.wanted.contains(inst));
                if ok && wanted {
                    self.join_route(&mut a, client, inst);
                } else if !ok && let Some(c) = self.clients.get_mut(&client) {
                    c.wanted.remove(inst);
                }
                if complete && let Some(p) = self.pending.remove(&key) {
                    done.push(p);
                }
            }
        }
        // A subscription nobody waits for any more (the client left) is released.
        let orphan = ok
            && !self.clients.values().any(|c| c.wanted.contains(inst))
            && !self.routes.contains_key(inst);
        if orphan {
            self.subscribed.remove(inst);
            a.calls.push(Call::Unsubscribe(vec![inst.to_string()]));
        }
        for p in done {
            a.send
                .extend(self.sub_replies(p.client, p.request_id, "RspSubMarketData", &p.items));
        }
        a
    }
}

pub(super) fn limit_info(max: usize) -> RspInfo {
    RspInfo {
        ErrorID: errors::LIMIT_EXCEEDED,
        ErrorMsg: format!("订阅数量超过上限 ({max})"),
    }
}
