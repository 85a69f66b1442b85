//! Routing: what the gateway sends goes to the commands waiting for it, else it is
//! printed; on the way, what later commands need is cached.

use serde_json::Value;
use tokio::sync::mpsc;

use super::{Session, State};
use crate::cli::link::Incoming;
use crate::protocol::Endpoint;

/// Routes what the gateway sends: to the commands waiting for it, else printed.
pub(super) async fn route(
    session: std::sync::Weak<Session>,
    mut rx: mpsc::UnboundedReceiver<Incoming>,
) {
    while let Some(incoming) = rx.recv().await {
        let Some(s) = session.upgrade() else { return };
        match incoming {
            Incoming::Message(ep, v) => {
                let _in_order = s.push_order.lock().unwrap_or_else(|e| e.into_inner());
                let mut consumed = false;
                {
                    let mut st = s.lock();
                    remember(&mut st, ep, &v);
                    st.watchers.retain(|w| !w.tx.is_closed());
                    for w in &st.watchers {
                        if (w.accepts)(ep, &v) {
                            let _ = w.tx.send((ep, v.clone()));
                            consumed = true;
                        }
                    }
                }
                if !consumed {
                    s.on_push(ep, &v);
                }
            }
            Incoming::Closed(ep, reason) => {
                let mut st = s.lock();
                if st.closed.is_none() {
                    st.closed = Some(reason.clone());
                    drop(st);
                    s.say(format!(
                        "connection to /{}/ closed: {reason}",
                        if ep == Endpoint::Md { "md" } else { "td" }
                    ));
                }
                // Waiting commands see their channel end.
                s.lock().watchers.clear();
            }
        }
    }
}

/// Caches what later commands need: ticks for `quote`, orders for `cancel`.
fn remember(st: &mut State, ep: Endpoint, v: &Value) {
    match v["MsgType"].as_str() {
        Some("RtnDepthMarketData") => {
            if let Some(id) = v["DepthMarketData"]["InstrumentID"].as_str() {
                st.ticks.insert(id.to_string(), v.clone());
            }
        }
        Some("RtnOrder") => st.orders.update(&v["Order"]),
        Some("OnFrontDisconnected") => {
            let why = v["RspInfo"]["ErrorMsg"]
                .as_str()
                .filter(|m| !m.is_empty())
                .unwrap_or("disconnected")
                .to_string();
            match ep {
                Endpoint::Md => st.md_down = Some(why),
                Endpoint::Td => st.td_down = Some(why),
            }
        }
        Some("OnFrontConnected") => match ep {
            Endpoint::Md => st.md_down = None,
            Endpoint::Td => st.td_down = None,
        },
        _ => {}
    }
}
