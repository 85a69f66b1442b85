//! Live views (`depth` in the terminal): a block of lines redrawn in place below
//! everything printed, and the keys that end it.
//!
//! [`LiveRegion`] only computes the bytes to write (cursor movements and the new
//! frame), so that what a push printed during a live view does to the screen is
//! unit-tested; [`Keys`] reads single key presses while the line editor is idle.

use crate::cli::tty::visible_width;

/// ANSI: move to the first column, `n` lines up.
fn up(n: usize) -> String {
    if n == 0 {
        "\r".to_string()
    } else {
        format!("\r\x1b[{n}A")
    }
}

/// Clears from the cursor to the end of the line.
const CLEAR_LINE: &str = "\x1b[K";
/// Clears from the cursor to the end of the screen.
const CLEAR_BELOW: &str = "\x1b[J";

/// A block of lines at the bottom of the output, redrawn in place. The cursor rests
/// at the start of the line below the block.
#[derive(Debug, Default)]
pub struct LiveRegion {
    /// Lines of the frame on screen.
    lines: usize,
    /// The frame on screen, redrawn below text printed while the view is live.
    frame: Vec<String>,
}

/// Cuts `line` to `width` columns; colour sequences take none and are kept whole
/// (a colour cut short is reset).
pub fn cut_visible(line: &str, width: usize) -> String {
    if visible_width(line) <= width {
        return line.to_string();
    }
    let mut out = String::with_capacity(line.len());
    let mut used = 0;
    let mut coloured = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            out.push(c);
            for d in chars.by_ref() {
                out.push(d);
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
            coloured = true;
            continue;
        }
        let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w > width {
            break;
        }
        out.push(c);
        used += w;
    }
    if coloured {
        out.push_str("\x1b[0m");
    }
    out
}

impl LiveRegion {
    /// Whether a frame is on screen.
    pub fn is_active(&self) -> bool {
        self.lines > 0
    }

    /// The bytes that replace the frame on screen with `frame`, each line cut to
    /// `width` and at most `height - 1` lines (the cursor cannot move above the top
    /// of the screen, so a taller frame could not be redrawn in place).
    pub fn draw(&mut self, frame: &str, width: Option<usize>, height: Option<usize>) -> String {
        let mut lines: Vec<String> = frame
            .lines()
            .map(|l| match width {
                Some(w) => cut_visible(l, w),
                None => l.to_string(),
            })
            .collect();
        if let Some(h) = height {
            lines.truncate(h.saturating_sub(1).max(1));
        }
        let mut out = if self.lines > 0 {
            up(self.lines)
        } else {
            "\r".to_string()
        };
        for l in &lines {
            out.push_str(l);
            out.push_str(CLEAR_LINE);
            out.push_str("\r\n");
        }
        // A shorter frame leaves nothing of the longer one below it.
        out.push_str(CLEAR_BELOW);
        self.lines = lines.len();
        self.frame = lines;
        out
    }

    /// The bytes that print `text` where the frame is and draw the frame again
    /// below it: what is printed during a live view scrolls up above the view.
    pub fn print_above(&self, text: &str) -> String {
        let mut out = up(self.lines);
        out.push_str(CLEAR_BELOW);
        for l in text.split('\n') {
            out.push_str(l);
            out.push_str("\r\n");
        }
        for l in &self.frame {
            out.push_str(l);
            out.push_str(CLEAR_LINE);
            out.push_str("\r\n");
        }
        out
    }

    /// Ends the view: the last frame stays on screen as printed text.
    pub fn end(&mut self) {
        self.lines = 0;
        self.frame.clear();
    }
}

/// A key that ends a live view: `q`, Ctrl-C, Ctrl-D or Esc.
pub fn ends_view(bytes: &[u8]) -> bool {
    matches!(
        bytes,
        [b'q' | b'Q' | 0x03 | 0x04 | 0x1b] | [b'q' | b'Q', ..]
    )
}

/// Single key presses from the terminal on stdin, while a live view runs. The
/// terminal's line editing, echo and signal keys are off meanwhile (Ctrl-C arrives
/// as a key and ends the view, not the command as a signal would); everything is
/// restored when this is dropped, and the reader thread has stopped by then, so no
/// key meant for the line editor is taken.
#[cfg(unix)]
pub struct Keys {
    rx: tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    saved: libc::termios,
}

#[cfg(unix)]
impl Keys {
    /// Starts reading keys; `None` when stdin is not a terminal.
    pub fn start() -> Option<Keys> {
        use std::sync::atomic::{AtomicBool, Ordering};
        let fd = libc::STDIN_FILENO;
        // SAFETY: isatty and tcgetattr only read the state of fd 0.
        if unsafe { libc::isatty(fd) } != 1 {
            return None;
        }
        let mut saved: libc::termios = unsafe { std::mem::zeroed() };
        if unsafe { libc::tcgetattr(fd, &mut saved) } != 0 {
            return None;
        }
        let mut keys = saved;
        keys.c_lflag &= !(libc::ECHO | libc::ICANON | libc::ISIG);
        keys.c_cc[libc::VMIN] = 1;
        keys.c_cc[libc::VTIME] = 0;
        // SAFETY: a termios derived from fd 0's own settings.
        if unsafe { libc::tcsetattr(fd, libc::TCSANOW, &keys) } != 0 {
            return None;
        }
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let halt = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 16];
            while !halt.load(Ordering::Relaxed) {
                let mut pfd = libc::pollfd {
                    fd,
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one valid pollfd; a short timeout so that `stop` is seen
                // quickly and no key is read after the view ended.
                let ready = unsafe { libc::poll(&mut pfd, 1, 50) };
                if ready <= 0 || halt.load(Ordering::Relaxed) {
                    continue;
                }
                // SAFETY: reads at most buf.len() bytes into buf.
                let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
                if n <= 0 {
                    // End of input or an error: nothing more will come.
                    let _ = tx.send(Vec::new());
                    return;
                }
                if tx.send(buf[..n as usize].to_vec()).is_err() {
                    return;
                }
            }
        });
        Some(Keys {
            rx,
            stop,
            thread: Some(thread),
            saved,
        })
    }

    /// The next key press (the bytes of one read); `None` when input ended.
    pub async fn next(&mut self) -> Option<Vec<u8>> {
        self.rx.recv().await.filter(|b| !b.is_empty())
    }
}

#[cfg(unix)]
impl Drop for Keys {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        // SAFETY: restores the settings read in `start` on the same fd.
        unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &self.saved) };
    }
}

/// Without a Unix terminal there are no single key presses: live views are
/// replaced by a snapshot.
#[cfg(not(unix))]
pub struct Keys;

#[cfg(not(unix))]
impl Keys {
    pub fn start() -> Option<Keys> {
        None
    }
    pub async fn next(&mut self) -> Option<Vec<u8>> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_replace_each_other_in_place() {
        let mut r = LiveRegion::default();
        let first = r.draw("a\nb\nc", Some(80), Some(24));
        assert_eq!(first, "\ra\x1b[K\r\nb\x1b[K\r\nc\x1b[K\r\n\x1b[J");
        // The next frame starts three lines up, where the first began.
        let second = r.draw("x\ny", Some(80), Some(24));
        assert!(second.starts_with("\r\x1b[3A"), "{second:?}");
        assert!(second.ends_with("y\x1b[K\r\n\x1b[J"), "{second:?}");
        assert!(r.is_active());
        // Printed text goes where the frame was, and the frame is drawn below it.
        let above = r.print_above("order 100001 AllTraded");
        assert_eq!(
            above,
            "\r\x1b[2A\x1b[Jorder 100001 AllTraded\r\nx\x1b[K\r\ny\x1b[K\r\n"
        );
        r.end();
        assert!(!r.is_active());
        assert!(r.draw("z", None, None).starts_with("\rz"));
    }

    #[test]
    fn frames_fit_the_screen() {
        let mut r = LiveRegion::default();
        let long = format!("\x1b[31m{}\x1b[0m", "9".repeat(100));
        let out = r.draw(&format!("{long}\n2\n3\n4"), Some(20), Some(3));
        // Two lines fit a 3-line screen (the cursor rests on the third).
        assert_eq!(out.matches("\r\n").count(), 2, "{out:?}");
        let first = out.split("\x1b[K").next().unwrap();
        assert_eq!(visible_width(first.trim_start_matches('\r')), 20);
        assert!(first.ends_with("\x1b[0m"));
    }

    #[test]
    fn keys_that_end_a_view() {
        assert!(ends_view(b"q") && ends_view(&[0x03]) && ends_view(&[0x1b]));
        // An arrow key sends ESC [ A: not a lone Esc.
        assert!(!ends_view(b"\x1b[A") && !ends_view(b"x"));
    }
}
