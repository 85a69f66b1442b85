//! A short run of the load tool, so it cannot rot. It checks correctness (ticks in
//! order, every order final), not speed: how many ticks a client keeps up with, or
//! how many orders fit in a second, depends on the machine and lives in
//! docs/performance.md.

mod common;

fn bench(args: &[&str]) -> serde_json::Value {
    let out = common::webctp()
        .arg("bench")
        .args(args)
        .arg("--json")
        .env_remove("WEBCTP_CONFIG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bench {args:?} failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap()
}

#[test]
fn md_load_delivers_every_tick_in_order() {
    let r = bench(&[
        "md",
        "--clients",
        "3",
        "--instruments",
        "5",
        "--rate",
        "300",
        "--duration",
        "2",
    ]);
    assert_eq!(r["out_of_order"], 0, "{r}");
    assert!(r["ticks_generated"].as_u64().unwrap() > 0, "{r}");
    assert!(r["messages_delivered"].as_u64().unwrap() > 0, "{r}");
    // A client that falls behind gets the latest tick instead of a backlog; the tool
    // counts what was conflated away, which cannot exceed what was generated.
    let conflated = r["conflated_total"].as_u64().unwrap();
    assert!(
        conflated <= 3 * r["ticks_generated"].as_u64().unwrap(),
        "{r}"
    );
    assert!(r["latency"]["count"].as_u64().unwrap() > 0);
}

#[test]
fn td_load_brings_every_order_to_a_final_state() {
    // A count of orders, not a duration: the same work however fast the machine is.
    let r = bench(&["td", "--clients", "2", "--rate", "0", "--orders", "60"]);
    assert_eq!(r["missing_final"], 0, "{r}");
    assert_eq!(r["orders_sent"], 60, "{r}");
    assert_eq!(r["final_states"], r["orders_sent"], "{r}");
    // The mix crosses the book (trades) and rests (canceled at the end).
    assert!(r["traded"].as_u64().unwrap() > 0, "{r}");
    assert!(r["canceled"].as_u64().unwrap() > 0, "{r}");
    assert!(r["insert_to_rtn_order"]["count"].as_u64().unwrap() > 0);
}
