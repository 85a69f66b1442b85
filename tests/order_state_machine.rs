//! A state-machine test of order truth (issue #10) on the embedded sim, in process:
//! random sequences of limit, FAK, FOK and market orders, cancels and front drops, sent
//! by two sessions of one user over WebSockets; after every step each client's view is
//! checked against the ledger's (see `tests/common/machine.rs` for the rules).
//! `tests/order_restarts.rs` runs the same machine on the real binary with `kill -9`
//! and restarts, on the sim and on the native backend.
//!
//! Failures shrink to a minimal sequence (proptest). The suite runs a few cases with a
//! fixed seed; a long run: `WEBCTP_PROPTEST_CASES=2000 cargo test --release --test
//! order_state_machine` (optionally `WEBCTP_PROPTEST_SEED=<n>` for other sequences).

mod common;

use common::machine::{self, Target};

#[test]
fn every_clients_view_matches_the_ledger() {
    machine::run(
        Target::InProcess("AdminEndpoints: true\nSim: {TickRate: 10, AutoSettle: false, Seed: 11}"),
        3,
        10,
        false,
        true,
    );
}
