//! The order-truth state machine (issue #10, `tests/common/machine.rs`) on the real
//! binary: besides orders, cancels and front drops, the gateway is killed (`kill -9`)
//! and started again on the same data (at times just after an order was sent, which
//! may or may not be acknowledged first), and both clients connect and log in again.
//! After every step each client's view — every connection it had — is checked against
//! the ledger: nothing acknowledged is lost or undone by the kill, the live connection
//! learns the final state of every order, no trade is told twice on a connection,
//! RequestIDs are their senders'.
//!
//! Once on the sim and once on the native backend over the fake CTP library (whose
//! own ledger lives in the data dir too, so it survives the kill as well). The suite
//! runs two short sequences of each; a long run:
//! `WEBCTP_PROPTEST_CASES=500 cargo test --release --test order_restarts`
//! (`WEBCTP_PROPTEST_SEED=<n>` for other sequences). A failure prints the minimal
//! sequence.

mod common;

use common::machine::{self, Kind, Step, Target};

const SIM: &str = "AdminEndpoints: true\nSim: {TickRate: 10, AutoSettle: false, Seed: 11}\n";
const NATIVE: &str = "AdminEndpoints: true\nQueryInterval: 10\n";
const FAKE_ENV: &[(&str, &str)] = &[("FAKECTP_TICK_RATE", "10")];

/// Whatever the seed draws, the suite kills a gateway with resting and filled orders of
/// both clients, then drops the front of the restarted one and cancels.
fn kill_then_drop() -> Vec<Step> {
    let order = |client, buy, ticks| Step::Order {
        client,
        instrument: "rb2605",
        buy,
        kind: Kind::Limit,
        ticks,
        volume: 2,
    };
    vec![
        order(0, true, -2),
        order(1, false, 1),
        order(1, true, -1),
        Step::Restart { in_flight: true },
        order(0, false, -2),
        Step::DropFront,
        Step::Cancel { client: 1, nth: 0 },
        Step::Restart { in_flight: false },
        Step::Cancel { client: 0, nth: 0 },
    ]
}

#[test]
fn sim_kill_then_drop() {
    machine::run_fixed(Target::Sim(SIM), &kill_then_drop(), true);
}

#[test]
fn native_kill_then_drop() {
    machine::run_fixed(Target::Native(NATIVE, FAKE_ENV), &kill_then_drop(), true);
}

#[test]
fn sim_views_match_the_ledger_through_kills_and_restarts() {
    machine::run(Target::Sim(SIM), 2, 8, true, true);
}

#[test]
fn native_views_match_the_ledger_through_kills_and_restarts() {
    machine::run(Target::Native(NATIVE, FAKE_ENV), 2, 8, true, true);
}
