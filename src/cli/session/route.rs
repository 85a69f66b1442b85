//! Routing: what the gateway sends goes to the commands waiting for it, else it is
//! printed; on the way, what later commands need is cached.

use tokio::sync::mpsc;

use super::{Session, State};
use crate::cli::link::{Inbound, Incoming};
use crate::protocol::Endpoint;
use crate::protocol::client::{DecodeError, MsgKind};
use crate::protocol::fields::{DepthMarketData, Order};

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
            // Logged as a warning: on the screen in the terminal, on stderr for `exec`
            // (whose stdout may be JSON a script reads).
            Incoming::Unreadable(ep, e) => tracing::warn!("{}", unreadable(ep, &e)),
            Incoming::Closed(ep, reason) => {
                let mut st = s.lock();
                if st.closed.is_none() {
                    st.closed = Some(reason.clone());
                    drop(st);
                    s.say(format!(
                        "connection to /{}/ closed: {reason}",
                        super::path_of(ep)
                    ));
                }
                // Waiting commands see their channel end.
                s.lock().watchers.clear();
            }
        }
    }
}

/// The line said when a message from the gateway cannot be read: which message, on
/// which endpoint, and what is wrong with it.
pub(super) fn unreadable(ep: Endpoint, e: &DecodeError) -> String {
    format!(
        "a message from the gateway on /{}/ could not be read and is ignored: {e}",
        super::path_of(ep)
    )
}

/// Caches what later commands need: ticks for `quote`, orders for `cancel`.
fn remember(st: &mut State, ep: Endpoint, v: &Inbound) {
    match v.kind {
        MsgKind::RtnDepthMarketData => {
            if let Some(d) = v.body::<DepthMarketData>() {
                st.ticks.insert(d.InstrumentID.clone(), v.clone());
            }
        }
        MsgKind::RtnOrder => {
            if let Some(o) = v.body::<Order>() {
                st.orders.update(o);
            }
        }
        MsgKind::OnFrontDisconnected => {
            let why = match v.error_msg() {
                "" => "disconnected",
                m => m,
            }
            .to_string();
            match ep {
                Endpoint::Md => st.md_down = Some(why),
                Endpoint::Td => st.td_down = Some(why),
            }
        }
        MsgKind::OnFrontConnected => match ep {
            Endpoint::Md => st.md_down = None,
            Endpoint::Td => st.td_down = None,
        },
        _ => {}
    }
}
