//! The Redis names the bus uses, in one place (other programs read them too).

/// Channel of an instrument's ticks.
pub fn tick_channel(instrument: &str) -> String {
    format!("md:tick:{instrument}")
}

/// Prefix of the tick channels (the instrument follows).
pub const TICK_PREFIX: &str = "md:tick:";

/// Key holding an instrument's latest tick.
pub fn snapshot_key(instrument: &str) -> String {
    format!("md:snapshot:{instrument}")
}

/// Stream of an account's order events.
pub fn td_stream(broker_id: &str, user_id: &str) -> String {
    format!("td:{broker_id}:{user_id}")
}

/// Key holding the ingest's market-data `RspUserLogin` body (JSON).
pub const MD_SESSION: &str = "md:session";

/// Sorted set of instruments edges need: member = InstrumentID, score = Unix ms until
/// which the edge wants it.
pub const WANTED: &str = "md:wanted";

/// Channel on which edges announce a newly wanted instrument (payload: InstrumentID).
pub const WANT: &str = "md:want";
