//! Sim controls (`settle`, `drop-front`) and `raw` protocol messages.

use std::time::Duration;

use serde_json::{Value, json};

use super::{Outcome, Session};
use crate::cli::commands::RawTarget;
use crate::cli::error::{CliError, Result};
use crate::ctp::Backend;
use crate::protocol::Endpoint;
use crate::protocol::client::MsgKind;

impl Session {
    pub(super) async fn admin(
        &self,
        local: impl FnOnce(&dyn Backend) -> Result<String>,
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
                    None => Err(CliError::NoBackend),
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
                    .map_err(CliError::from)
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
                    .map_err(CliError::from)
            },
            &format!("/admin/drop-front?seconds={secs}"),
        )
        .await
    }

    /// `raw [md|td] <json>`: sends a protocol message as typed and prints what comes
    /// back. The message is the user's own JSON, read only for its MsgType and
    /// RequestID; the answers are the gateway's, decoded.
    pub(super) async fn raw(&self, target: RawTarget, text: &str) -> Result<Outcome> {
        let parsed: Option<Value> = serde_json::from_str(text).ok().filter(Value::is_object);
        let ep = match target {
            RawTarget::Md => Endpoint::Md,
            RawTarget::Td => Endpoint::Td,
            RawTarget::Auto => match parsed
                .as_ref()
                .and_then(|v| v.get("MsgType"))
                .and_then(Value::as_str)
            {
                Some("SubscribeMarketData" | "UnSubscribeMarketData") => Endpoint::Md,
                _ => Endpoint::Td,
            },
        };
        let answers = match parsed {
            Some(Value::Object(mut v)) if v.get("MsgType") != Some(&json!("Ping")) => {
                if !v.contains_key("RequestID") {
                    v.insert("RequestID".into(), json!(self.rid()));
                }
                let rid = v.get("RequestID").and_then(Value::as_i64);
                let mut rx = self.watch(Box::new(move |e, m| e == ep && m.request_id == rid));
                let res = async {
                    self.link.send(ep, Value::Object(v).to_string())?;
                    let mut out = Vec::new();
                    loop {
                        match tokio::time::timeout(self.wait, rx.recv()).await {
                            Ok(Some(m)) => {
                                let last = m.is_last;
                                out.push(m);
                                if last {
                                    return Ok::<_, CliError>(out);
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
                    e == ep && (m.kind == MsgKind::Pong || m.error_id() < 0)
                }));
                let res = async {
                    self.link.send(ep, text.to_string())?;
                    Ok::<_, CliError>(
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
                a.json()
            } else {
                a.pretty()
            });
        }
        Ok(if answers.iter().any(|a| a.error_id() != 0) {
            Outcome::Refused
        } else {
            Outcome::Ok
        })
    }
}
