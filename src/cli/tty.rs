//! The controlling terminal: its width (tables are drawn to fit it) and a password
//! prompt without echo on which Ctrl-C abandons the prompt instead of killing the
//! process (the gateway may be running inside it).

use std::io::{Read, Write};

/// Columns of the terminal on stdout; `COLUMNS` when stdout is not a terminal;
/// `None` (no limit) when neither is known, as when a script pipes `exec`.
pub fn width() -> Option<usize> {
    if let Some(w) = stdout_columns() {
        return Some(w);
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|w| *w > 0)
}

/// Rows of the terminal on stdout, when it is one.
pub fn height() -> Option<usize> {
    stdout_size().map(|(_, rows)| rows).filter(|r| *r > 0)
}

fn stdout_columns() -> Option<usize> {
    stdout_size().map(|(cols, _)| cols).filter(|c| *c > 0)
}

/// Columns and rows of the terminal on stdout.
#[cfg(unix)]
fn stdout_size() -> Option<(usize, usize)> {
    // SAFETY: TIOCGWINSZ writes a `winsize` into the struct we pass; nothing else.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) };
    (rc == 0).then_some((usize::from(ws.ws_col), usize::from(ws.ws_row)))
}

#[cfg(not(unix))]
fn stdout_size() -> Option<(usize, usize)> {
    None
}

/// Whether to colour output: stdout is a terminal, `NO_COLOR` is unset or empty
/// (<https://no-color.org>) and the terminal is not `dumb`.
pub fn colors() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::env::var("TERM").map_or(true, |t| t != "dumb")
}

/// Wraps lines wider than `width` at spaces (a word longer than a line is cut), so
/// the terminal never wraps a word in two. Continuations are indented two spaces.
pub fn wrap(text: &str, width: Option<usize>) -> String {
    let Some(width) = width.filter(|w| *w >= 20) else {
        return text.to_string();
    };
    let mut out = String::with_capacity(text.len() + 16);
    for (n, line) in text.split('\n').enumerate() {
        if n > 0 {
            out.push('\n');
        }
        if visible_width(line) <= width {
            out.push_str(line);
            continue;
        }
        let mut cur = String::new();
        for word in line.split(' ') {
            let sep = usize::from(!cur.is_empty());
            if !cur.is_empty() && visible_width(&cur) + sep + visible_width(word) > width {
                out.push_str(cur.trim_end());
                out.push('\n');
                cur = "  ".to_string();
            }
            if visible_width(&cur) + visible_width(word) > width {
                // A word longer than a line: cut it where the line ends.
                let mut w = visible_width(&cur);
                for ch in word.chars() {
                    let cw = unicode_width::UnicodeWidthChar::width(ch).unwrap_or(0);
                    if w + cw > width {
                        out.push_str(&cur);
                        out.push('\n');
                        cur = "  ".to_string();
                        w = 2;
                    }
                    cur.push(ch);
                    w += cw;
                }
                continue;
            }
            if !cur.is_empty() && !cur.ends_with(' ') {
                cur.push(' ');
            }
            cur.push_str(word);
        }
        out.push_str(cur.trim_end());
    }
    out
}

/// Columns `s` takes on screen: ANSI colour sequences take none.
pub fn visible_width(s: &str) -> usize {
    use unicode_width::UnicodeWidthStr;
    if !s.contains('\x1b') {
        return s.width();
    }
    let mut plain = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // CSI: ESC [ parameters final-byte.
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain.width()
}

/// What a password prompt ended with.
#[derive(Debug, PartialEq, Eq)]
pub enum Secret {
    Entered(String),
    /// Ctrl-C or Ctrl-D: the user gave up.
    Abandoned,
    /// No terminal to ask on.
    NoTerminal,
}

/// Asks for a secret on the controlling terminal, without echo. The terminal's
/// signal keys are off while it asks, so Ctrl-C is read as a key that abandons the
/// prompt; the terminal's settings are restored afterwards, whatever happens.
#[cfg(unix)]
pub fn read_secret(prompt: &str) -> Secret {
    use std::os::fd::AsRawFd;
    let Ok(mut tty) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
    else {
        return Secret::NoTerminal;
    };
    let fd = tty.as_raw_fd();
    // SAFETY: tcgetattr fills the struct for a valid open fd.
    let mut saved: libc::termios = unsafe { std::mem::zeroed() };
    if unsafe { libc::tcgetattr(fd, &mut saved) } != 0 {
        return Secret::NoTerminal;
    }
    let mut quiet = saved;
    quiet.c_lflag &= !(libc::ECHO | libc::ICANON | libc::ISIG);
    quiet.c_cc[libc::VMIN] = 1;
    quiet.c_cc[libc::VTIME] = 0;
    // SAFETY: a valid fd and a termios derived from its own settings.
    if unsafe { libc::tcsetattr(fd, libc::TCSAFLUSH, &quiet) } != 0 {
        return Secret::NoTerminal;
    }
    let _ = write!(tty, "{prompt}");
    let _ = tty.flush();
    let mut text = Vec::new();
    let mut byte = [0u8; 1];
    let result = loop {
        match tty.read(&mut byte) {
            Ok(1) => match byte[0] {
                b'\r' | b'\n' => break Secret::Entered(String::from_utf8_lossy(&text).into()),
                // Ctrl-C, Ctrl-D, Esc.
                0x03 | 0x04 | 0x1b => break Secret::Abandoned,
                0x7f | 0x08 => {
                    // Backspace: drop the last character (whole UTF-8 sequence).
                    while let Some(b) = text.pop() {
                        if b & 0xC0 != 0x80 {
                            break;
                        }
                    }
                }
                // Ctrl-U clears what was typed.
                0x15 => text.clear(),
                b => text.push(b),
            },
            Ok(_) => break Secret::Abandoned,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break Secret::Abandoned,
        }
    };
    // SAFETY: restores the settings read above on the same fd.
    unsafe { libc::tcsetattr(fd, libc::TCSAFLUSH, &saved) };
    let _ = write!(tty, "\r\n");
    let _ = tty.flush();
    result
}

#[cfg(not(unix))]
pub fn read_secret(_prompt: &str) -> Secret {
    Secret::NoTerminal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_wrap_at_spaces() {
        let text = "the trading front (embedded sim) is down (network read failed); the gateway keeps retrying";
        let w = wrap(text, Some(40));
        assert!(w.lines().all(|l| l.chars().count() <= 40), "{w}");
        assert!(w.lines().count() >= 3, "{w}");
        assert_eq!(w.replace("\n  ", " "), text);
        assert_eq!(wrap("short", Some(40)), "short");
        assert_eq!(wrap(text, None), text);
        let red = format!("P&L \x1b[31m{}\x1b[0m today", "1".repeat(10));
        assert_eq!(visible_width(&red), 20);
        let w = wrap(&format!("{red} {red}"), Some(30));
        assert_eq!(w.lines().count(), 2, "{w}");
        let long = "x".repeat(100);
        assert!(wrap(&long, Some(30)).lines().all(|l| l.len() <= 30));
    }
}
