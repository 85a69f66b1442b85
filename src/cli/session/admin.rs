//! Sim controls (`settle`, `drop-front`) and `raw` protocol messages.

use std::time::Duration;

use serde_json::{Value, json};

use super::{Outcome, Session, rid_of};
use crate::cli::commands::RawTarget;
use crate::ctp::Backend;
use crate::protocol::Endpoint;

impl Session {
    pub(super) async fn admin(
        &self,
        local: impl FnOnce(&dyn Backend) -> Result<String, String>,
        path: &str,
    ) -> Outcome {
        let result = match &self.backend {
            Some(b) => local(b.as_ref()),
            None => {
                let url = self
                    .remote
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone();
                match url {
                    Some(u) => {
                        crate::cli::link::admin_post(&u, path, self.config.token.as_deref()).await
                    }
                    None => Err("no backend to command".into()),
                }
            }
        };
        match result {
            Ok(msg) => {
                self.say(msg);
                Outcome::Ok
            }
            Err(e) => {
                self.say(format!("error: {e}"));
                Outcome::Refused
            }
        }
    }

    /// `settle`: ends the sim's trading day.
    pub(super) async fn settle(&self) -> Outcome {
        self.admin(
            |b| {
                b.settle()
                    .map(|day| {
                        format!("trading day settled; the new trading day is {day} (confirm the settlement before trading)")
                    })
                    .map_err(|e| e.to_string())
            },
            "/admin/settle",
        )
        .await
    }

    /// `drop-front`: takes the sim's front down for a while.
    pub(super) async fn drop_front(&self, secs: f64) -> Outcome {
        self.admin(
            |b| {
                b.drop_front(Duration::from_secs_f64(secs))
                    .map(|()| format!("front dropped for {secs} s"))
                    .map_err(|e| e.to_string())
            },
            &format!("/admin/drop-front?seconds={secs}"),
        )
        .await
    }

    pub(super) async fn raw(&self, target: RawTarget, text: &str) -> Result<Outcome, String> {
        let parsed: Option<Value> = serde_json::from_str(text).ok().filter(Value::is_object);
        let ep = match target {
            RawTarget::Md => Endpoint::Md,
            RawTarget::Td => Endpoint::Td,
            RawTarget::Auto => match parsed.as_ref().and_then(|v| v["MsgType"].as_str()) {
                Some("SubscribeMarketData" | "UnSubscribeMarketData") => Endpoint::Md,
                _ => Endpoint::Td,
            },
        };
        let answers = match parsed {
            Some(mut v) if v["MsgType"] != "Ping" => {
                if v.get("RequestID").is_none() {
                    v["RequestID"] = json!(self.rid());
                }
                let rid = rid_of(&v);
                let mut rx = self.watch(Box::new(move |e, m| e == ep && rid_of(m) == rid));
                let res = async {
                    self.link.send(ep, v.to_string())?;
                    let mut out = Vec::new();
                    loop {
                        match tokio::time::timeout(self.wait, rx.recv()).await {
                            Ok(Some(m)) => {
                                let last = m["IsLast"] != false;
                                out.push(m);
                                if last {
                                    return Ok::<_, String>(out);
                                }
                            }
                            Ok(None) => return Err(self.closed_reason()),
                            Err(_) => return Ok(out),
                        }
                    }
                }
                .await;
                self.unwatch(rx);
                res?
            }
            // Pings and text that is not a JSON object: show whatever comes back first.
            _ => {
                let mut rx = self.watch(Box::new(move |e, m| {
                    e == ep
                        && (m["MsgType"] == "Pong"
                            || m["RspInfo"]["ErrorID"].as_i64().unwrap_or(0) < 0)
                }));
                let res = async {
                    self.link.send(ep, text.to_string())?;
                    Ok::<_, String>(
                        tokio::time::timeout(self.wait, rx.recv())
                            .await
                            .ok()
                            .flatten(),
                    )
                }
                .await;
                self.unwatch(rx);
                res?.into_iter().collect()
            }
        };
        if answers.is_empty() {
            self.say(format!("no answer within {} s", self.wait.as_secs_f64()));
            return Ok(Outcome::Failed);
        }
        for a in &answers {
            self.say(if self.json_mode() {
                a.to_string()
            } else {
                serde_json::to_string_pretty(a).unwrap_or_default()
            });
        }
        Ok(
            if answers
                .iter()
                .any(|a| a["RspInfo"]["ErrorID"].as_i64().unwrap_or(0) != 0)
            {
                Outcome::Refused
            } else {
                Outcome::Ok
            },
        )
    }
}
