//! `help` and `help <command>`: every command with its aliases.

use super::commands::{COMMANDS, aliases_of, canonical, closest, usage};

fn name_with_aliases(name: &str) -> String {
    let a = aliases_of(name);
    if a.is_empty() {
        name.to_string()
    } else {
        format!("{name} ({})", a.join(", "))
    }
}

/// `help` and `help <command>` (an alias shows its command).
pub fn help_text(topic: Option<&str>) -> String {
    match topic {
        Some(t) => {
            let name = canonical(t);
            match COMMANDS.iter().find(|c| c.0 == name) {
                Some((n, u, d)) => {
                    let a = aliases_of(n);
                    let also = if a.is_empty() {
                        String::new()
                    } else {
                        format!("\n  also: {}", a.join(", "))
                    };
                    format!("usage: {u}\n  {d}{also}")
                }
                None => match closest(t) {
                    Some(c) => format!(
                        "no command `{t}`; did you mean `{c}`?\nusage: {}",
                        usage(c).unwrap_or(c)
                    ),
                    None => format!("no command `{t}`; type `help` for the list"),
                },
            }
        }
        None => {
            let names: Vec<String> = COMMANDS.iter().map(|c| name_with_aliases(c.0)).collect();
            let width = names.iter().map(|n| n.len()).max().unwrap_or(8);
            let mut s = String::from("commands:\n");
            for (name, (_, _, d)) in names.iter().zip(COMMANDS) {
                s.push_str(&format!("  {name:<width$}  {d}\n"));
            }
            s.push_str("`help <command>` shows its usage.");
            s
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_show_their_command() {
        assert!(
            help_text(Some("b")).starts_with("usage: buy "),
            "{}",
            help_text(Some("b"))
        );
        assert!(help_text(Some("pos")).contains("usage: positions"));
        let all = help_text(None);
        assert!(
            all.contains("buy (b)") && all.contains("account (acc, funds)"),
            "{all}"
        );
    }
}
