//! The ledger under damage, over the real binary: bit flips in every field of the
//! first, middle and last record, truncation at every byte of the last record, garbage
//! after the tail, a zeroed block in the middle, a damaged snapshot. Each start either
//! serves with every acknowledged order and trade present, or refuses naming the file
//! and the byte — and then the files are byte-identical to what they were.

mod common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use common::{Binary, Client, TempDir, http, order, order_sys_ids, sim_config};
use serde_json::{Value, json};

fn config() -> String {
    sim_config("TickRate: 0, AutoSettle: false, Seed: 7")
}

const USER: &str = "u-damage";

/// A ledger with a closed day (in the snapshot) and a current day of orders, fills
/// and cancels, as its files and what the client was told.
struct Pristine {
    /// Files under `data/sim`, by relative path.
    files: Vec<(PathBuf, Vec<u8>)>,
    journal: PathBuf,
    /// Where each record of the journal starts, then where the records end.
    offsets: Vec<u64>,
    orders: HashSet<String>,
    trades: HashSet<String>,
    position: i64,
}

fn files_under(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if e.file_name() != "LOCK" {
                let rel = p.strip_prefix(root).unwrap().to_path_buf();
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// Waits for the order just sent to be final (or resting, when `rests`), and notes
/// what the client was told.
async fn acked(
    c: &mut Client,
    rests: bool,
    orders: &mut HashSet<String>,
    trades: &mut HashSet<String>,
) {
    let sys_of = |v: &Value| {
        v["Order"]["OrderSysID"]
            .as_str()
            .unwrap_or("")
            .trim()
            .to_string()
    };
    if rests {
        let v = c
            .recv_until(|v| v["MsgType"] == "RtnOrder" && v["Order"]["OrderStatus"] == "3")
            .await;
        orders.insert(sys_of(&v));
        return;
    }
    let (os, ts) = c.until_final().await;
    assert_eq!(os.last().unwrap()["Order"]["OrderStatus"], "0", "{os:?}");
    orders.extend(os.iter().map(sys_of).filter(|s| !s.is_empty()));
    trades.extend(
        ts.iter()
            .map(|t| t["Trade"]["TradeID"].as_str().unwrap().trim().to_string()),
    );
}

async fn build() -> Pristine {
    let dir = TempDir::new("damage-pristine");
    let mut gw = Binary::serve(&dir, &config(), &[]);
    let mut c = Client::connect(&gw.td_url).await;
    c.td_login_ok(USER, "123456").await;
    let (_, _, up, _) = c.book("rb2605").await;
    let (mut orders, mut trades) = (HashSet::new(), HashSet::new());
    // Day 1: three lots bought; the day ends.
    for i in 0..3 {
        c.send(order(10 + i, "rb2605", "0", "0", up, 1)).await;
        acked(&mut c, false, &mut orders, &mut trades).await;
    }
    assert!(http(&gw.td_url, "POST", "/admin/settle").contains("settled"));
    // Day 2 (a new login confirms its settlement): buys, resting buys, a cancel, closes.
    let mut c = Client::connect(&gw.td_url).await;
    c.td_login_ok(USER, "123456").await;
    // The day's end moved the price limits.
    let (_, _, up, low) = c.book("rb2605").await;
    let (mut orders, mut trades) = (HashSet::new(), HashSet::new());
    for i in 0..4 {
        c.send(order(20 + i, "rb2605", "0", "0", up, 1)).await;
        acked(&mut c, false, &mut orders, &mut trades).await;
    }
    let mut resting = Vec::new();
    for i in 0..3 {
        c.send(order(30 + i, "rb2605", "0", "0", low, 1)).await;
        let before: HashSet<String> = orders.clone();
        acked(&mut c, true, &mut orders, &mut trades).await;
        resting.extend(orders.difference(&before).cloned());
    }
    c.send(json!({"MsgType": "ReqOrderAction", "RequestID": 40, "InputOrderAction": {
        "ExchangeID": "SHFE", "OrderSysID": resting[0], "ActionFlag": "0", "InstrumentID": "rb2605"}}))
        .await;
    c.recv_until(|v| v["MsgType"] == "RtnOrder" && v["Order"]["OrderStatus"] == "5")
        .await;
    for i in 0..2 {
        // Close yesterday's lots (SHFE: Close takes yesterday's).
        c.send(order(50 + i, "rb2605", "1", "1", low, 1)).await;
        acked(&mut c, false, &mut orders, &mut trades).await;
    }
    let pos = c
        .ask(
            "ReqQryInvestorPosition",
            60,
            json!({"InstrumentID": "rb2605"}),
        )
        .await;
    let position: i64 = pos
        .iter()
        .map(|p| p["InvestorPosition"]["Position"].as_i64().unwrap_or(0))
        .sum();
    assert_eq!(position, 3 + 4 - 2);
    gw.signal("-TERM");
    assert_eq!(gw.wait(Duration::from_secs(10)), Some(0));
    let sim = dir.path().join("data/sim");
    let files = files_under(&sim);
    let journal = files
        .iter()
        .map(|f| f.0.clone())
        .find(|p| p.to_string_lossy().starts_with("journal-"))
        .expect("a journal");
    let data = &files.iter().find(|f| f.0 == journal).unwrap().1;
    let mut offsets = Vec::new();
    let scan =
        webctp::ctp::sim::ledger::format::scan(data, |at, _| offsets.push(at)).expect("reads");
    offsets.push(scan.end);
    assert!(offsets.len() > 10, "{offsets:?}");
    Pristine {
        files,
        journal,
        offsets,
        orders,
        trades,
        position,
    }
}

fn pristine() -> &'static Pristine {
    static P: OnceLock<Pristine> = OnceLock::new();
    P.get_or_init(|| {
        std::thread::spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(build())
        })
        .join()
        .unwrap()
    })
}

/// A data directory holding the pristine ledger with `damage` done to one file.
fn damaged(tag: &str, file: &Path, damage: impl FnOnce(&mut Vec<u8>)) -> TempDir {
    let p = pristine();
    let dir = TempDir::new(tag);
    let sim = dir.path().join("data/sim");
    let mut damage = Some(damage);
    for (rel, bytes) in &p.files {
        let to = sim.join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        if rel == file {
            let mut b = bytes.clone();
            (damage.take().unwrap())(&mut b);
            std::fs::write(&to, b).unwrap();
        } else {
            std::fs::write(&to, bytes).unwrap();
        }
    }
    dir
}

/// Starts the binary on `dir`: either it serves everything the client was told, or it
/// refuses naming the file and changes nothing. Returns whether it refused.
async fn starts_whole_or_refuses(dir: &TempDir, what: &str) -> bool {
    let p = pristine();
    let sim = dir.path().join("data/sim");
    let before = files_under(&sim);
    match Binary::try_serve(dir, &config(), &[]) {
        Ok(gw) => {
            let mut c = Client::connect(&gw.td_url).await;
            c.td_login_ok(USER, "123456").await;
            let known = order_sys_ids(&c.ask("ReqQryOrder", 1, json!({})).await);
            let lost: Vec<_> = p.orders.difference(&known).collect();
            assert!(lost.is_empty(), "{what}: started without orders {lost:?}");
            let listed: HashSet<String> = c
                .ask("ReqQryTrade", 2, json!({}))
                .await
                .iter()
                .filter_map(|t| t["Trade"]["TradeID"].as_str())
                .map(|s| s.trim().to_string())
                .collect();
            assert!(
                p.trades.is_subset(&listed),
                "{what}: started without trades"
            );
            let pos = c
                .ask(
                    "ReqQryInvestorPosition",
                    3,
                    json!({"InstrumentID": "rb2605"}),
                )
                .await;
            let held: i64 = pos
                .iter()
                .map(|v| v["InvestorPosition"]["Position"].as_i64().unwrap_or(0))
                .sum();
            assert_eq!(held, p.position, "{what}: position");
            false
        }
        Err((code, stderr)) => {
            assert_ne!(code, Some(0), "{what}");
            assert!(
                stderr.contains("refusing to start") && stderr.contains("Nothing was changed"),
                "{what}: {stderr}"
            );
            assert_eq!(
                files_under(&sim),
                before,
                "{what}: a refused start changed files"
            );
            true
        }
    }
}

/// Something done to a file's bytes.
type Damage = Box<dyn FnOnce(&mut Vec<u8>)>;

fn flip(at: u64) -> impl FnOnce(&mut Vec<u8>) {
    move |b: &mut Vec<u8>| b[at as usize] ^= 0x01
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bit_flips_in_every_field_of_the_first_middle_and_last_record_are_refused() {
    let p = pristine();
    let n = p.offsets.len() - 1;
    for (which, r) in [("first", 0), ("middle", n / 2), ("last", n - 1)] {
        let (at, next) = (p.offsets[r], p.offsets[r + 1]);
        let body = at + 20 + (next - 1 - at - 20) / 2;
        for (field, byte) in [
            ("length", at + 1),
            ("sequence number", at + 5),
            ("body checksum", at + 13),
            ("header checksum", at + 17),
            ("body", body),
            ("end mark", next - 1),
        ] {
            let what = format!("{which} record, {field} (byte {byte})");
            let dir = damaged("flip", &p.journal, flip(byte));
            let refused = starts_whole_or_refuses(&dir, &what).await;
            // One bit of a record that was acknowledged is damage, never a torn write.
            assert!(refused, "{what}: started");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncation_at_every_byte_of_the_last_record_is_refused() {
    let p = pristine();
    let n = p.offsets.len() - 1;
    let dir = damaged("truncate", &p.journal, |_| {});
    let path = dir.path().join("data/sim").join(&p.journal);
    let original = std::fs::read(&path).unwrap();
    for cut in p.offsets[n - 1]..=p.offsets[n] {
        std::fs::write(&path, &original[..cut as usize]).unwrap();
        let refused = starts_whole_or_refuses(&dir, &format!("truncated at {cut}")).await;
        assert!(refused, "truncated at {cut}: started");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_after_the_tail_and_a_zeroed_block_are_refused() {
    let p = pristine();
    let n = p.offsets.len() - 1;
    let end = p.offsets[n] as usize;
    let cases: Vec<(&str, Damage)> = vec![
        (
            "garbage right after the tail",
            Box::new(move |b: &mut Vec<u8>| b[end..end + 200].fill(0x5a)),
        ),
        (
            "garbage far after the tail",
            Box::new(move |b: &mut Vec<u8>| b[end + 100_000..end + 100_010].fill(0x33)),
        ),
        (
            "a zeroed block in the middle",
            Box::new({
                let at = p.offsets[n / 2] as usize;
                move |b: &mut Vec<u8>| b[at..at + 512].fill(0)
            }),
        ),
        (
            "a file extended past its unit",
            Box::new(|b: &mut Vec<u8>| b.extend(vec![0u8; 4096])),
        ),
    ];
    for (what, damage) in cases {
        let dir = damaged("garbage", &p.journal, damage);
        assert!(starts_whole_or_refuses(&dir, what).await, "{what}: started");
    }
    // The snapshot: any flipped byte is refused.
    let snap = PathBuf::from("state.snapshot");
    let len = p.files.iter().find(|f| f.0 == snap).unwrap().1.len() as u64;
    for at in [3, 17, 30, 40, len / 2, len - 1] {
        let dir = damaged("snapshot", &snap, flip(at));
        assert!(
            starts_whole_or_refuses(&dir, &format!("snapshot byte {at}")).await,
            "snapshot byte {at}: started"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undamaged_copy_starts_and_check_then_repair_handle_damage() {
    let p = pristine();
    let dir = damaged("repair", &p.journal, |_| {});
    assert!(!starts_whole_or_refuses(&dir, "undamaged").await);
    let data = dir.path().join("data");
    let ledger = |args: &[&str]| {
        let out = common::webctp()
            .arg("--data-dir")
            .arg(&data)
            .arg("ledger")
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, _) = ledger(&["check"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("checks out"), "{out}");
    // Damage the last record's body: check names it, repair cuts it, a start serves.
    let n = p.offsets.len() - 1;
    let last = p.offsets[n - 1];
    let path = data.join("sim").join(&p.journal);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[last as usize + 22] ^= 0x40;
    std::fs::write(&path, &bytes).unwrap();
    let (code, out, _) = ledger(&["check", "--json"]);
    assert_eq!(code, Some(1), "{out}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["journals"][0]["damage_at"], last, "{out}");
    assert!(
        v["refusal"]["advice"]
            .as_str()
            .unwrap()
            .contains(&format!("--truncate-at {last}"))
    );
    let (code, _, err) = ledger(&["repair", "--truncate-at", &(last + 1).to_string()]);
    assert_eq!(code, Some(1), "a cut inside a record is refused: {err}");
    let (code, out, err) = ledger(&["repair", "--truncate-at", &last.to_string()]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("kept in"), "{out}");
    let (code, out, _) = ledger(&["check"]);
    assert_eq!(code, Some(0), "{out}");
    let gw = Binary::serve(&dir, &config(), &[]);
    let mut c = Client::connect(&gw.td_url).await;
    c.td_login_ok(USER, "123456").await;
}
