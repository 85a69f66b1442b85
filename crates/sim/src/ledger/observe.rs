//! A hook for the durations of journal syncs, so that the gateway's metrics can see
//! them without the ledger knowing about metrics.

use std::sync::OnceLock;
use std::time::Duration;

static SYNC_OBSERVER: OnceLock<fn(Duration)> = OnceLock::new();

/// Sets the function told how long each group commit's write + sync took (first
/// caller wins).
pub fn set_sync_observer(f: fn(Duration)) {
    let _ = SYNC_OBSERVER.set(f);
}

/// Reports one sync's duration.
pub(crate) fn synced(d: Duration) {
    if let Some(f) = SYNC_OBSERVER.get() {
        f(d);
    }
}
