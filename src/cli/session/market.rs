//! Market-data commands: `sub`, `unsub`, `quote`, `watch`, `unwatch`.

use super::{Outcome, Session};
use crate::cli::error::{CliError, Result};
use crate::cli::link::Inbound;
use crate::cli::render;
use crate::protocol::client::{MsgKind, md_login};
use crate::protocol::fields::{DepthMarketData, QryDepthMarketData, SpecificInstrument};
use crate::protocol::{MdRequest, TdRequest};

impl Session {
    pub(super) async fn md_login(&self) -> Result<()> {
        if self.lock().md_logged_in {
            return Ok(());
        }
        let user = self.lock().user.clone().unwrap_or_default();
        let a = self.md_request(md_login(&user)).await?;
        match a.iter().find_map(|m| render::error_sentence(m)) {
            Some(e) => Err(CliError::StepRefused(e)),
            None => {
                self.lock().md_logged_in = true;
                Ok(())
            }
        }
    }

    pub(super) async fn unsubscribe(&self, ids: &[String]) -> Result<Outcome> {
        self.md_login().await?;
        let a = self
            .md_request(MdRequest::Unsubscribe(ids.to_vec()))
            .await?;
        {
            let mut st = self.lock();
            for id in ids {
                st.subscribed.remove(id);
                st.watching.remove(id);
            }
        }
        Ok(self.show(&a, |b: &[&SpecificInstrument]| {
            format!(
                "unsubscribed {}",
                b.iter()
                    .map(|x| x.InstrumentID.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        }))
    }

    pub(super) async fn watch_ticks(&self, ids: Vec<String>) -> Result<Outcome> {
        if ids.is_empty() {
            let mut st = self.lock();
            if st.subscribed.is_empty() {
                drop(st);
                self.say("nothing subscribed: `watch <instrument>...` or `sub` first");
                return Ok(Outcome::Refused);
            }
            st.watch_all = true;
            let list: Vec<String> = st.subscribed.iter().cloned().collect();
            drop(st);
            self.say(format!("watching {} (unwatch to stop)", list.join(" ")));
            return Ok(Outcome::Ok);
        }
        let missing: Vec<String> = {
            let st = self.lock();
            ids.iter()
                .filter(|i| !st.subscribed.contains(*i))
                .cloned()
                .collect()
        };
        if !missing.is_empty() && self.subscribe(&missing, false).await? != Outcome::Ok {
            return Ok(Outcome::Refused);
        }
        self.lock().watching.extend(ids.iter().cloned());
        self.say(format!("watching {} (unwatch to stop)", ids.join(" ")));
        Ok(Outcome::Ok)
    }

    pub(super) fn unwatch_ticks(&self) -> Outcome {
        let mut st = self.lock();
        st.watching.clear();
        st.watch_all = false;
        drop(st);
        self.say("stopped watching");
        Outcome::Ok
    }

    pub(super) async fn subscribe(&self, ids: &[String], report: bool) -> Result<Outcome> {
        self.md_login().await?;
        let a = self.md_request(MdRequest::Subscribe(ids.to_vec())).await?;
        let mut ok = Vec::new();
        let mut failed = Vec::new();
        for m in &a {
            let id = m
                .body::<SpecificInstrument>()
                .map_or("?", |x| x.InstrumentID.as_str())
                .to_string();
            match render::error_sentence(m) {
                None => ok.push(id),
                Some(e) => failed.push(format!("{id}: {}", e.replacen("error: ", "", 1))),
            }
        }
        self.lock().subscribed.extend(ok.iter().cloned());
        if self.json_mode() {
            // A subscription made for a quote or watch is not the answer asked for.
            if report {
                for m in &a {
                    self.say(m.json());
                }
            }
        } else {
            if report && !ok.is_empty() {
                self.say(format!("subscribed {}", ok.join(" ")));
            }
            for f in &failed {
                self.say(format!("not subscribed: {f}"));
            }
        }
        Ok(if failed.is_empty() {
            Outcome::Ok
        } else {
            Outcome::Refused
        })
    }

    /// The latest tick of `id` (a `RtnDepthMarketData` message): cached, asked of
    /// the trading front when logged in, else the first after subscribing. When there
    /// is none, what went wrong has been said and `Err(outcome)` is returned.
    pub(super) async fn latest_tick(&self, id: &str) -> Result<Result<Inbound, Outcome>> {
        self.know_instruments([id]).await;
        let cached = self.lock().ticks.get(id).cloned();
        if let Some(t) = cached {
            return Ok(Ok(t));
        }
        if self.lock().user.is_some() {
            // Logged in: the trading front knows every instrument's latest quote, and
            // says at once when there is no such instrument.
            let a = self
                .request(TdRequest::ReqQryDepthMarketData(QryDepthMarketData {
                    InstrumentID: id.to_string(),
                    ..QryDepthMarketData::default()
                }))
                .await?;
            if let Some(e) = a.iter().find_map(|m| render::error_sentence(m)) {
                if self.json_mode() {
                    for m in &a {
                        self.say(m.json());
                    }
                } else {
                    self.say(format!("{id}: {}", e.replacen("error: ", "", 1)));
                }
                return Ok(Err(Outcome::Refused));
            }
            // The answer stands for the tick it carries.
            let found = a
                .iter()
                .find(|m| {
                    m.body::<DepthMarketData>()
                        .is_some_and(|d| d.InstrumentID == id)
                })
                .and_then(|m| m.with("MsgType", "RtnDepthMarketData".into()).ok());
            return Ok(match found {
                Some(t) => Ok(t),
                None => {
                    self.say(format!("instrument not found: {id}"));
                    Err(Outcome::Refused)
                }
            });
        }
        let was = self.lock().subscribed.contains(id);
        let mut rx = self.watch(tick_of(id));
        let res = async {
            if !was && self.subscribe(&[id.to_string()], false).await? != Outcome::Ok {
                return Ok(None);
            }
            let t = tokio::time::timeout(self.wait, rx.recv()).await;
            Ok::<_, CliError>(t.ok().flatten())
        }
        .await;
        self.unwatch(rx);
        if !was {
            self.drop_subscription(id).await;
        }
        Ok(match res? {
            Some(t) => Ok(t),
            None => {
                self.say(format!(
                    "no quote for {id} within {} s",
                    self.wait.as_secs_f64()
                ));
                Err(Outcome::Refused)
            }
        })
    }

    /// Unsubscribes `id` when this session's subscription was only for a moment.
    pub(super) async fn drop_subscription(&self, id: &str) {
        if self.lock().subscribed.remove(id) {
            let _ = self
                .md_request(MdRequest::Unsubscribe(vec![id.to_string()]))
                .await;
        }
    }

    /// `quote <inst>`, and `depth <inst>` where no live view can be drawn.
    pub(super) async fn quote(&self, id: &str, depth: bool) -> Result<Outcome> {
        let tick = match self.latest_tick(id).await? {
            Ok(t) => t,
            Err(o) => return Ok(o),
        };
        if self.json_mode() {
            self.say(tick.json());
        } else if let Some(d) = tick.body::<DepthMarketData>() {
            let inst = self.lock().instruments.clone();
            self.say(if depth {
                render::depth(d, &inst, self.style())
            } else {
                render::quote(d, &inst, self.style())
            });
        }
        Ok(Outcome::Ok)
    }
}

/// Picks the ticks of one instrument.
pub(super) fn tick_of(id: &str) -> super::Accepts {
    let wanted = id.to_string();
    Box::new(move |_, v| {
        v.kind == MsgKind::RtnDepthMarketData
            && v.body::<DepthMarketData>()
                .is_some_and(|d| d.InstrumentID == wanted)
    })
}
