//! What may reach a log line: nothing secret, nothing that forges lines.
//!
//! Log filters are for volume, not for secrecy: `RUST_LOG=trace` must not print a
//! password. So the log writer itself ([`SafeWriter`]) redacts secrets and escapes
//! control characters in every line, whatever crate wrote it and whatever the filter:
//!
//! - values of secret keys (`Password`, `NewPassword`, `OldPassword`, `AuthCode`,
//!   `Token`, `token=`, `Authorization: Bearer ...`), in JSON, in Rust's Debug
//!   spelling (`\"Password\":\"...\"`) and in query strings;
//! - the configured secrets themselves, wherever they appear;
//! - control characters (a newline inside a UserID would forge a second log line;
//!   ESC would drive the reader's terminal) are written as `\n`, `\u{1b}`, ...
//!   (tracing-subscriber already escapes ESC in field values; its own colour codes,
//!   outside of values, are kept).

use std::io::Write;
use std::sync::{OnceLock, RwLock};

/// Keys whose values are secret, compared without case.
const SECRET_KEYS: [&str; 6] = [
    "password",
    "authcode",
    "token",
    "bearer",
    "secret",
    "authorization",
];

/// Secrets configured at start (the token, the md login's password, the AuthCode),
/// redacted wherever they appear.
fn configured() -> &'static RwLock<Vec<String>> {
    static SECRETS: OnceLock<RwLock<Vec<String>>> = OnceLock::new();
    SECRETS.get_or_init(|| RwLock::new(Vec::new()))
}

/// Adds secrets that are to be redacted from every log line. Short strings (under 4
/// characters) are left alone: they would redact ordinary words.
pub fn add_secrets<I: IntoIterator<Item = String>>(secrets: I) {
    let mut s = configured().write().unwrap_or_else(|e| e.into_inner());
    for x in secrets {
        if x.chars().count() >= 4 && !s.contains(&x) {
            s.push(x);
        }
    }
}

/// Escapes control characters (and DEL) so that `text` stays on one line and cannot
/// drive a terminal. Use it for anything a client sent that is logged.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        push_escaped(&mut out, c);
    }
    out
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if c.is_control() => {
            use std::fmt::Write as _;
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
        c => out.push(c),
    }
}

/// Whether `c` ends a secret value.
fn ends_value(c: char) -> bool {
    matches!(c, '"' | '\\' | '&' | ',' | '}' | ']' | ';' | '\'') || c.is_whitespace()
}

/// Replaces the values of secret keys with `***`.
fn redact_keys(line: &str) -> String {
    let lower = line.to_ascii_lowercase();
    let bytes = line.as_bytes();
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    'scan: while i < line.len() {
        for key in SECRET_KEYS {
            if lower[i..].starts_with(key) {
                // Skip the rest of the key (NewPassword, access_token, ...), then the
                // separator: quotes, backslashes, spaces, `:` or `=`.
                let mut j = i + key.len();
                while j < line.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_') {
                    j += 1;
                }
                let sep_start = j;
                let mut saw_sep = false;
                while j < line.len() {
                    match bytes[j] {
                        b'"' | b'\\' | b' ' | b'\'' => j += 1,
                        b':' | b'=' if !saw_sep => {
                            saw_sep = true;
                            j += 1;
                        }
                        _ => break,
                    }
                }
                // "Bearer abc" has a space for a separator.
                let bearer = key == "bearer" && j > sep_start;
                if !(saw_sep || bearer) || j >= line.len() {
                    continue;
                }
                let word_end = |from: usize| {
                    line[from..]
                        .char_indices()
                        .find(|&(_, c)| ends_value(c))
                        .map_or(line.len(), |(k, _)| from + k)
                };
                let mut value_end = word_end(j);
                if value_end == j {
                    continue;
                }
                // `Authorization: Bearer <token>`: the scheme is not the secret.
                let scheme = &line[j..value_end];
                if scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("basic") {
                    let mut k = value_end;
                    while k < line.len() && bytes[k] == b' ' {
                        k += 1;
                    }
                    if k < line.len() && word_end(k) > k {
                        value_end = word_end(k);
                    }
                }
                let value_len = value_end - j;
                out.push_str(&line[i..j]);
                out.push_str("***");
                i = j + value_len;
                continue 'scan;
            }
        }
        let c = line[i..].chars().next().unwrap_or('\0');
        out.push(c);
        i += c.len_utf8().max(1);
    }
    out
}

/// One log line (or any text) made safe: secrets redacted, control characters
/// escaped except ESC (colour codes of the log formatter) and a final newline.
pub fn sanitize_line(line: &str) -> String {
    let mut text = redact_keys(line);
    {
        let secrets = configured().read().unwrap_or_else(|e| e.into_inner());
        for s in secrets.iter() {
            if text.contains(s.as_str()) {
                text = text.replace(s.as_str(), "***");
            }
        }
    }
    let (body, newline) = match text.strip_suffix('\n') {
        Some(b) => (b, true),
        None => (text.as_str(), false),
    };
    let mut out = String::with_capacity(body.len() + 1);
    for c in body.chars() {
        if c == '\x1b' {
            out.push(c);
        } else {
            push_escaped(&mut out, c);
        }
    }
    if newline {
        out.push('\n');
    }
    out
}

/// A log writer that passes every line through [`sanitize_line`]. tracing-subscriber
/// formats an event completely and writes it with one call, so each write is a line.
pub struct SafeWriter<W: Write> {
    inner: W,
}

impl<W: Write> SafeWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> SafeWriter<W> {
        SafeWriter { inner }
    }
}

impl<W: Write> Write for SafeWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.inner.write_all(sanitize_line(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A `MakeWriter` of [`SafeWriter`]s around another `MakeWriter`.
#[derive(Clone)]
pub struct MakeSafe<M>(pub M);

impl<'a, M> tracing_subscriber::fmt::MakeWriter<'a> for MakeSafe<M>
where
    M: tracing_subscriber::fmt::MakeWriter<'a>,
{
    type Writer = SafeWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        SafeWriter::new(self.0.make_writer())
    }
}

/// The most verbose level allowed for a target, whatever the filter says: other
/// crates' debug and trace output carries frame payloads and request headers.
pub fn ceiling(target: &str) -> tracing::Level {
    if target == "webctp" || target.starts_with("webctp::") {
        tracing::Level::TRACE
    } else {
        tracing::Level::DEBUG
    }
}

/// Whether an event of `meta` may be logged at all (see [`ceiling`]). tungstenite's
/// frame traces are the known leak; debug keeps its handshake and close messages.
pub fn allowed(meta: &tracing::Metadata<'_>) -> bool {
    *meta.level() <= ceiling(meta.target())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_in_every_spelling() {
        for (line, secret) in [
            (
                r#"frame {"MsgType":"ReqUserLogin","ReqUserLogin":{"UserID":"u","Password":"s3cr3t-PASS"}}"#,
                "s3cr3t-PASS",
            ),
            (
                r#"Text(Utf8Bytes("{\"Password\":\"s3cr3t-PASS\",\"x\":1}"))"#,
                "s3cr3t-PASS",
            ),
            (
                r#"{"NewPassword": "n3w-p4ss", "OldPassword":"0ld-p4ss"}"#,
                "n3w-p4ss",
            ),
            (
                r#"{"NewPassword": "n3w-p4ss", "OldPassword":"0ld-p4ss"}"#,
                "0ld-p4ss",
            ),
            ("GET /td/?token=abcdef123&x=1 HTTP/1.1", "abcdef123"),
            ("authorization: Bearer tok-tok-tok", "tok-tok-tok"),
            (r#""AuthCode":"0000000000000000""#, "0000000000000000"),
        ] {
            let out = sanitize_line(line);
            assert!(!out.contains(secret), "{line} -> {out}");
            assert!(out.contains("***"), "{out}");
        }
        assert_eq!(sanitize_line("UserID=alice ok\n"), "UserID=alice ok\n");
    }

    #[test]
    fn configured_secrets_and_control_characters() {
        add_secrets(["hunter2-long".to_string(), "ab".to_string()]);
        assert_eq!(sanitize_line("x hunter2-long y"), "x *** y");
        assert_eq!(sanitize_line("ab"), "ab");
        assert_eq!(
            sanitize_line("user x\nINFO fake\u{7}\n"),
            "user x\\nINFO fake\\u{7}\n"
        );
        assert_eq!(escape("a\u{1b}[2J\r\n"), "a\\u{1b}[2J\\r\\n");
    }
}
