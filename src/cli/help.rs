//! `help` and `help <command>`.

use super::commands::{COMMANDS, usage};

/// `help` and `help <command>`.
pub fn help_text(topic: Option<&str>) -> String {
    match topic {
        Some(t) => match COMMANDS.iter().find(|c| c.0 == t) {
            Some((_, u, d)) => format!("usage: {u}\n  {d}"),
            None => match super::commands::closest(t) {
                Some(c) => format!(
                    "no command `{t}`; did you mean `{c}`?\nusage: {}",
                    usage(c).unwrap_or(c)
                ),
                None => format!("no command `{t}`; type `help` for the list"),
            },
        },
        None => {
            let width = COMMANDS.iter().map(|c| c.0.len()).max().unwrap_or(8);
            let mut s = String::from("commands:\n");
            for (name, _, d) in COMMANDS {
                s.push_str(&format!("  {name:<width$}  {d}\n"));
            }
            s.push_str("`help <command>` shows its usage.");
            s
        }
    }
}
