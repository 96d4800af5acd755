//! `table`, the default format: aligned columns without a header. Text fields are
//! left-aligned, numbers right-aligned, so `awk '{print $2}'` picks the price. Failed
//! tickers print no line here (their message goes to stderr). On a terminal, the price and
//! the day's change are green or red by the direction of the change.
//!
//! Widths are display columns (`unicode-width`: a CJK name takes two per character), and
//! padding is written by hand, never through a `format!` width, which panics past 65,535.
//!
//! The columns are aligned over every row of a round, so the table is written at the end of
//! the round (issue 20): until then it keeps each row's cells as text, each behind its
//! length, and the widest cell of each column (a 30-year history is a few dozen MB of
//! text; `-f tsv` writes each row as it comes).

use unicode_width::UnicodeWidthStr;

use super::fields::{self, Field};
use super::{FormatSpec, Render, Row, Style};

pub static FORMAT: FormatSpec = FormatSpec {
    name: "table",
    about: "Aligned columns for people (the default)",
    appends: Ok(()),
    check: super::always,
    renderer: || Box::new(Table::default()),
    all_fields: false,
    for_people: true,
};

const GREEN: &str = "\x1b[32m";
const RED: &str = "\x1b[31m";
const RESET: &str = "\x1b[0m";

/// The round's rows so far, as text.
#[derive(Default)]
struct Table {
    /// Each priced row: its colour (0 none, 1 green, 2 red), then each cell's length (as
    /// a varint) and text.
    cells: Vec<u8>,
    rows: usize,
    /// The widest cell of each column, in display columns.
    widths: Vec<usize>,
}

impl Render for Table {
    fn rows(&mut self, rows: &[Row<'_>], style: &Style, _out: &mut Vec<u8>) {
        self.widths.resize(style.fields.len(), 0);
        let mut cell = String::new();
        for (row, quote) in rows
            .iter()
            .filter_map(|r| r.result.as_ref().ok().map(|q| (r, *q)))
        {
            let colour = match fields::change(quote).filter(|_| style.color) {
                Some(c) if c.is_zero() => 0,
                Some(c) if c.is_sign_positive() => 1,
                Some(_) => 2,
                None => 0,
            };
            self.cells.push(colour);
            for (field, width) in style.fields.iter().zip(&mut self.widths) {
                cell.clear();
                field.push(&mut cell, row, quote, style);
                *width = (*width).max(cell.width());
                push_length(&mut self.cells, cell.len());
                self.cells.extend_from_slice(cell.as_bytes());
            }
            self.rows += 1;
        }
    }

    fn end(&mut self, style: &Style, out: &mut Vec<u8>) {
        let mut cells = self.cells.as_slice();
        let mut line = String::new();
        for _ in 0..self.rows {
            let Some((&colour, rest)) = cells.split_first() else {
                break;
            };
            cells = rest;
            let colour = match colour {
                1 => Some(GREEN),
                2 => Some(RED),
                _ => None,
            };
            line.clear();
            for (i, (field, width)) in style.fields.iter().zip(&self.widths).enumerate() {
                let (cell, rest) = take_cell(cells);
                cells = rest;
                if i > 0 {
                    line.push_str("  ");
                }
                let pad = width.saturating_sub(cell.width());
                let coloured = colour.filter(|_| colours(*field));
                if let Some(c) = coloured {
                    line.push_str(c);
                }
                if field.is_numeric() {
                    push_spaces(&mut line, pad);
                    line.push_str(cell);
                } else {
                    line.push_str(cell);
                    push_spaces(&mut line, pad);
                }
                if coloured.is_some() {
                    line.push_str(RESET);
                }
            }
            out.extend_from_slice(line.trim_end().as_bytes());
            out.push(b'\n');
        }
        *self = Table::default();
    }
}

/// A cell's length, before its text.
fn push_length(cells: &mut Vec<u8>, mut len: usize) {
    loop {
        let byte = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            cells.push(byte);
            return;
        }
        cells.push(byte | 0x80);
    }
}

/// The next cell kept by [`Table::rows`], and what follows it. The bytes were written by
/// this renderer from `String`s, so they are whole cells of UTF-8; anything else (which
/// cannot happen) reads as an empty cell rather than a panic.
fn take_cell(cells: &[u8]) -> (&str, &[u8]) {
    let mut len = 0usize;
    let mut at = 0;
    for (i, byte) in cells.iter().enumerate() {
        len |= usize::from(byte & 0x7f)
            .checked_shl(7 * u32::try_from(i).unwrap_or(u32::MAX))
            .unwrap_or(0);
        if byte & 0x80 == 0 {
            at = i + 1;
            break;
        }
    }
    let Some((text, rest)) = cells.get(at..).and_then(|c| c.split_at_checked(len)) else {
        return ("", &[]);
    };
    (std::str::from_utf8(text).unwrap_or_default(), rest)
}

fn push_spaces(line: &mut String, n: usize) {
    line.extend(std::iter::repeat_n(' ', n));
}

fn colours(field: Field) -> bool {
    matches!(field, Field::Price | Field::Change | Field::ChangePercent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::FetchError;
    use crate::output::test_rows::{failed, ok, quote, render};
    use crate::quote::parse_price;

    #[test]
    fn aligns_columns_and_skips_failures() {
        let (a, b, c) = (
            quote("135.716", Some("USD")),
            quote("712345.5", Some("USD")),
            quote("1", None),
        );
        let rows = vec![
            ok("VTSAX", &a),
            failed("NOPE", FetchError::InvalidTicker("x".into())),
            ok("BRK-A", &b),
            ok("X", &c),
        ];
        assert_eq!(
            render(&FORMAT, &rows, &Style::default()),
            "VTSAX     135.72  USD\nBRK-A  712345.50  USD\nX           1.00\n"
        );
    }

    #[test]
    fn widths_are_display_columns_and_never_panic() {
        let mut wide = quote("1", Some("USD"));
        wide.name = Some("日本株".into());
        let mut huge = quote("2", Some("USD"));
        huge.name = Some("x".repeat(70_000).into());
        let rows = vec![ok("A", &wide), ok("B", &huge)];
        let style = Style {
            fields: vec![Field::Name, Field::Symbol],
            ..Style::default()
        };
        let out = render(&FORMAT, &rows, &style);
        let first = out.lines().next().unwrap();
        assert_eq!(first, format!("日本株{}  A", " ".repeat(70_000 - 6)));
    }

    #[test]
    fn colours_only_when_asked_and_only_with_a_change() {
        let mut up = quote("11", Some("USD"));
        up.previous_close = Some(parse_price("10").unwrap());
        let mut down = quote("9", Some("USD"));
        down.previous_close = Some(parse_price("10").unwrap());
        let flat = quote("10", Some("USD"));
        let rows = vec![ok("UP", &up), ok("DOWN", &down), ok("FLAT", &flat)];
        let style = Style {
            color: true,
            fields: vec![Field::Symbol, Field::Price, Field::Change],
            ..Style::default()
        };
        assert_eq!(
            render(&FORMAT, &rows, &style),
            "UP    \x1b[32m11.00\x1b[0m  \x1b[32m 1.00\x1b[0m\n\
             DOWN  \x1b[31m 9.00\x1b[0m  \x1b[31m-1.00\x1b[0m\n\
             FLAT  10.00\n"
        );
        let plain = render(
            &FORMAT,
            &rows,
            &Style {
                color: false,
                ..style
            },
        );
        assert!(!plain.contains('\x1b'), "{plain:?}");
    }
}
