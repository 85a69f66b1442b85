//! `webctp ledger check` and `webctp ledger repair`: the sim's ledger looked at (and,
//! when a person decides, cut) without starting the gateway.

use std::process::ExitCode;

use super::args::LedgerCommand;
use crate::config::Config;
use crate::ctp::sim::ledger::check::{self, Check};

/// Runs a ledger command; exit 0 when the ledger would start, 1 when it would be
/// refused (or the repair was refused), 2 when it cannot be read at all.
pub fn run(config: &Config, cmd: &LedgerCommand, json: bool) -> ExitCode {
    let dir = config.data_dir.join("sim");
    match cmd {
        LedgerCommand::Check => match crate::ctp::sim::product_table(&config.sim)
            .map_err(|e| e.to_string())
            .and_then(|products| {
                let now = crate::ctp::sim::clock_of(&config.sim).now();
                check::check(&dir, products, &now).map_err(|e| e.to_string())
            }) {
            Ok(c) => {
                if json {
                    println!("{}", serde_json::to_string_pretty(&c).unwrap_or_default());
                } else {
                    print!("{}", render(&c));
                }
                if c.ok() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                }
            }
            Err(e) => {
                eprintln!("webctp ledger check: {e}");
                ExitCode::from(2)
            }
        },
        LedgerCommand::Repair { truncate_at, file } => {
            match check::repair(&dir, *truncate_at, file.as_deref()) {
                Ok(r) => {
                    if json {
                        println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
                    } else {
                        println!(
                            "cut {} at byte {}: dropped {} bytes ({} whole records among them)\nthe file as it was is kept in {}",
                            r.file.display(),
                            r.offset,
                            r.dropped_bytes,
                            r.dropped_records,
                            r.copy.display()
                        );
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("webctp ledger repair: {e}");
                    ExitCode::from(1)
                }
            }
        }
    }
}

/// The check as text.
pub fn render(c: &Check) -> String {
    use std::fmt::Write;
    let r = &c.report;
    let mut s = String::new();
    let _ = writeln!(s, "ledger in {}", r.dir.display());
    if let Some(owner) = &c.in_use_by {
        let _ = writeln!(
            s,
            "  note         in use by a running webctp{owner}: its last journal may be mid-write"
        );
    }
    if c.empty {
        let _ = writeln!(s, "  empty        no snapshot and no journal: a new ledger");
    }
    if let Some(snap) = &r.snapshot {
        let _ = writeln!(
            s,
            "  snapshot     {}: trading day {}, {} accounts, continues with journal {}",
            file_name(&snap.file),
            snap.trading_day,
            snap.accounts,
            snap.next_journal
        );
    }
    for j in r.legacy.iter().chain(&r.journals) {
        let kinds: Vec<String> = j.kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
        let _ = writeln!(
            s,
            "  journal      {}: day {}, {} records ({}), records end at byte {} of {}",
            file_name(&j.file),
            if j.day.is_empty() { "?" } else { &j.day },
            j.records,
            if kinds.is_empty() {
                "none".to_string()
            } else {
                kinds.join(", ")
            },
            j.end,
            j.file_len
        );
        match j.tail {
            "torn" => {
                let _ = writeln!(
                    s,
                    "               then {} bytes of an incomplete last write (never acknowledged; a start drops them)",
                    j.torn_bytes
                );
            }
            "damaged" => {
                let _ = writeln!(
                    s,
                    "               DAMAGED at byte {}: {}{}",
                    j.damage_at.unwrap_or(j.end),
                    j.problem.as_deref().unwrap_or("?"),
                    j.valid_after
                        .map(|v| format!(" (a valid record follows at byte {v})"))
                        .unwrap_or_default()
                );
            }
            _ => {}
        }
    }
    if !r.archived.is_empty() {
        let _ = writeln!(
            s,
            "  archive      {} files in archive/ (closed days, never read at start)",
            r.archived.len()
        );
    }
    if let Some(st) = &r.state {
        let _ = writeln!(
            s,
            "  state        trading day {}, {} accounts ({}), {} orders and {} trades today, {} day ends replayed",
            st.trading_day,
            st.accounts.len(),
            st.accounts.join(", "),
            st.orders,
            st.trades,
            r.settlements
        );
    }
    for a in &r.actions {
        let _ = writeln!(s, "  on start     {a}");
    }
    match &r.refusal {
        None => {
            let _ = writeln!(s, "  verdict      checks out: a start would accept it");
        }
        Some(refusal) => {
            let _ = writeln!(s, "  verdict      a start would be REFUSED:\n{refusal}");
        }
    }
    s
}

fn file_name(p: &std::path::Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
