//! A short run of the load tool, so it cannot rot. It checks correctness (every tick
//! in order, every order final), not speed: speed lives in docs/performance.md.

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
    assert_eq!(r["conflated_total"], 0, "{r}");
    let generated = r["ticks_generated"].as_f64().unwrap();
    let delivered = r["messages_delivered"].as_f64().unwrap();
    assert!(generated > 300.0, "{r}");
    // Every client gets every tick of the window (give or take the ticks in flight at
    // its edges).
    assert!((delivered - 3.0 * generated).abs() <= 3.0 * 10.0, "{r}");
    assert!(r["latency"]["count"].as_u64().unwrap() > 0);
}

#[test]
fn td_load_brings_every_order_to_a_final_state() {
    let r = bench(&["td", "--clients", "2", "--rate", "200", "--duration", "2"]);
    assert_eq!(r["missing_final"], 0, "{r}");
    assert!(r["orders_sent"].as_u64().unwrap() >= 300, "{r}");
    assert_eq!(r["final_states"], r["orders_sent"], "{r}");
    assert!(r["traded"].as_u64().unwrap() > 0, "{r}");
    assert!(r["canceled"].as_u64().unwrap() > 0, "{r}");
    assert!(r["insert_to_rtn_order"]["count"].as_u64().unwrap() > 0);
}
