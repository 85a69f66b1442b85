//! Where a message is handled: the [`Dispatcher`] validates and routes every request;
//! the [`MdHub`] is the market-data session all clients share; a [`TdSession`] is one
//! client's trading session, whose [`order_tracker`] follows the orders it sent until
//! they are final; an [`Outbox`] is the bounded queue to one client; a [`front_watch::FrontWatch`]
//! tells the log when a front connects, drops, or stays down.

pub mod dispatcher;
pub mod front_watch;
pub mod md_hub;
pub mod order_tracker;
pub mod outbox;
pub mod td_session;

pub use dispatcher::{Connection, Dispatcher, Handled, Refused};
pub use md_hub::MdHub;
pub use outbox::Outbox;
pub use td_session::TdSession;
