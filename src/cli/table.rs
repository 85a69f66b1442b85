//! Tables for a terminal: no borders, two spaces between columns, a rule under the
//! header, numbers right-aligned. A table never wraps: when the terminal is narrower
//! than every column together, the least important columns are left out (each column
//! has a rank; rank 0 always stays), so no number or word is ever split over lines.

use unicode_width::UnicodeWidthStr;

/// How a cell is aligned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// How a cell is coloured when colours are on (China's convention: red is up).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tone {
    #[default]
    Plain,
    Up,
    Down,
}

/// One cell: its text and its tone.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cell {
    pub text: String,
    pub tone: Tone,
}

impl<T: Into<String>> From<T> for Cell {
    fn from(t: T) -> Cell {
        Cell {
            text: t.into(),
            tone: Tone::Plain,
        }
    }
}

/// A cell coloured by the sign of `change` (red when up, green when down).
pub fn toned(text: impl Into<String>, change: f64) -> Cell {
    Cell {
        text: text.into(),
        tone: if change > 0.0 {
            Tone::Up
        } else if change < 0.0 {
            Tone::Down
        } else {
            Tone::Plain
        },
    }
}

/// A column: its header, alignment, and rank (0 stays; higher ranks leave first).
#[derive(Debug, Clone)]
pub struct Column {
    pub head: &'static str,
    pub align: Align,
    pub rank: u8,
}

/// A left-aligned column.
pub const fn text(head: &'static str, rank: u8) -> Column {
    Column {
        head,
        align: Align::Left,
        rank,
    }
}

/// A right-aligned (numeric) column.
pub const fn num(head: &'static str, rank: u8) -> Column {
    Column {
        head,
        align: Align::Right,
        rank,
    }
}

/// How a table is drawn: the width it must fit and whether it may use colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Style {
    pub width: Option<usize>,
    pub color: bool,
}

/// A table being built.
#[derive(Debug, Clone)]
pub struct Table {
    cols: Vec<Column>,
    rows: Vec<Vec<Cell>>,
}

const GAP: usize = 2;

fn width_of(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// Cuts `s` to at most `w` columns, marking the cut with `…`.
fn cut(s: &str, w: usize) -> String {
    if width_of(s) <= w {
        return s.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for ch in s.chars() {
        let cw = unicode_width::UnicodeWidthChar::width(ch).unwrap_or(0);
        if used + cw + 1 > w {
            break;
        }
        out.push(ch);
        used += cw;
    }
    if w > 0 {
        out.push('…');
    }
    out
}

impl Table {
    pub fn new(cols: &[Column]) -> Table {
        Table {
            cols: cols.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (missing cells are empty; extra cells are ignored).
    pub fn row(&mut self, cells: Vec<Cell>) {
        self.rows.push(cells);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table as lines of text, none wider than `style.width`.
    pub fn render(&self, style: Style) -> String {
        let n = self.cols.len();
        let widths: Vec<usize> = (0..n)
            .map(|c| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(c))
                    .map(|cell| width_of(&cell.text))
                    .chain(std::iter::once(width_of(self.cols[c].head)))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut shown: Vec<usize> = (0..n).collect();
        let total = |shown: &[usize]| -> usize {
            shown.iter().map(|&c| widths[c]).sum::<usize>() + GAP * shown.len().saturating_sub(1)
        };
        let mut widths = widths.clone();
        if let Some(limit) = style.width {
            // Leave out the least important columns (the rightmost first among equals).
            while total(&shown) > limit {
                let Some(pos) = shown
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| self.cols[**c].rank > 0)
                    .max_by_key(|(i, c)| (self.cols[**c].rank, *i))
                    .map(|(i, _)| i)
                else {
                    break;
                };
                shown.remove(pos);
            }
            // Still too wide (a very narrow terminal): the last text column is cut.
            let over = total(&shown).saturating_sub(limit);
            if over > 0
                && let Some(&last) = shown.last()
            {
                widths[last] = widths[last].saturating_sub(over);
            }
        }
        let mut out = String::new();
        let line = |out: &mut String, cells: Vec<(String, Align, usize, Tone)>| {
            let mut l = String::new();
            for (k, (text, align, w, tone)) in cells.iter().enumerate() {
                if k > 0 {
                    l.push_str(&" ".repeat(GAP));
                }
                let text = cut(text, *w);
                let pad = w.saturating_sub(width_of(&text));
                let painted = paint(&text, *tone, style.color);
                match align {
                    Align::Left => {
                        l.push_str(&painted);
                        l.push_str(&" ".repeat(pad));
                    }
                    Align::Right => {
                        l.push_str(&" ".repeat(pad));
                        l.push_str(&painted);
                    }
                }
            }
            out.push_str(l.trim_end());
            out.push('\n');
        };
        line(
            &mut out,
            shown
                .iter()
                .map(|&c| {
                    (
                        self.cols[c].head.to_string(),
                        self.cols[c].align,
                        widths[c],
                        Tone::Plain,
                    )
                })
                .collect(),
        );
        line(
            &mut out,
            shown
                .iter()
                .map(|&c| ("─".repeat(widths[c]), Align::Left, widths[c], Tone::Plain))
                .collect(),
        );
        for r in &self.rows {
            line(
                &mut out,
                shown
                    .iter()
                    .map(|&c| {
                        let cell = r.get(c).cloned().unwrap_or_default();
                        (cell.text, self.cols[c].align, widths[c], cell.tone)
                    })
                    .collect(),
            );
        }
        out.pop();
        out
    }
}

/// `text` in its tone's colour (ANSI), when colours are on.
pub fn paint(text: &str, tone: Tone, color: bool) -> String {
    match (color, tone) {
        (true, Tone::Up) => format!("\x1b[31m{text}\x1b[0m"),
        (true, Tone::Down) => format!("\x1b[32m{text}\x1b[0m"),
        _ => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Table {
        let mut t = Table::new(&[text("ID", 0), num("Price", 0), text("Note", 1)]);
        t.row(vec![
            "rb2605".into(),
            "3170".into(),
            "a long message here".into(),
        ]);
        t.row(vec!["au2602".into(), "952.40".into(), "短".into()]);
        t
    }

    #[test]
    fn columns_align_and_nothing_wraps() {
        let s = sample().render(Style::default());
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines[0], "ID       Price  Note");
        assert_eq!(lines[2], "rb2605    3170  a long message here");
        assert_eq!(lines[3], "au2602  952.40  短");
    }

    #[test]
    fn narrow_terminals_lose_low_ranked_columns_first() {
        let s = sample().render(Style {
            width: Some(20),
            color: false,
        });
        assert!(s.lines().all(|l| width_of(l) <= 20), "{s}");
        assert!(!s.contains("Note") && s.contains("952.40"), "{s}");
        // Narrower than the essential columns: the last is cut, never wrapped.
        let s = sample().render(Style {
            width: Some(10),
            color: false,
        });
        assert!(s.lines().all(|l| width_of(l) <= 10), "{s}");
    }

    #[test]
    fn colours_only_when_asked() {
        let mut t = Table::new(&[num("Chg", 0)]);
        t.row(vec![toned("+1", 1.0)]);
        t.row(vec![toned("-1", -1.0)]);
        let plain = t.render(Style::default());
        assert!(!plain.contains('\x1b'));
        let c = t.render(Style {
            width: None,
            color: true,
        });
        assert!(c.contains("\x1b[31m+1") && c.contains("\x1b[32m-1"), "{c}");
    }
}
