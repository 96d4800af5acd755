//! `table`, the default format: aligned columns without a header. Text fields are
//! left-aligned, numbers right-aligned, so `awk '{print $2}'` picks the price. Failed
//! tickers print no line here (their message goes to stderr). On a terminal, the price and
//! the day's change are green or red by the direction of the change.
//!
//! Widths are display columns (`unicode-width`: a CJK name takes two per character), and
//! padding is written by hand, never through a `format!` width, which panics past 65,535.

use std::io::{self, Write};

use unicode_width::UnicodeWidthStr;

use super::fields::{self, Field};
use super::{FormatSpec, Render, Row, Style};

pub static FORMAT: FormatSpec = FormatSpec {
    name: "table",
    about: "Aligned columns for people (the default)",
    appends: Ok(()),
    check: super::always,
    renderer: || Box::new(Table),
    all_fields: false,
    for_people: true,
};

const GREEN: &str = "\x1b[32m";
const RED: &str = "\x1b[31m";
const RESET: &str = "\x1b[0m";

struct Table;

impl Render for Table {
    fn write(&mut self, rows: &[Row<'_>], style: &Style, out: &mut dyn Write) -> io::Result<()> {
        write_table(rows, style, out)
    }
}

fn write_table(rows: &[Row<'_>], style: &Style, out: &mut dyn Write) -> io::Result<()> {
    let priced: Vec<_> = rows
        .iter()
        .filter_map(|r| r.result.as_ref().ok().map(|q| (r, *q)))
        .collect();
    let cells: Vec<Vec<String>> = priced
        .iter()
        .map(|(row, quote)| {
            style
                .fields
                .iter()
                .map(|f| f.value(row, quote, style).unwrap_or_default())
                .collect()
        })
        .collect();
    let widths: Vec<usize> = (0..style.fields.len())
        .map(|i| cells.iter().map(|c| c[i].width()).max().unwrap_or(0))
        .collect();
    let mut line = String::new();
    for ((_, quote), row) in priced.iter().zip(&cells) {
        let colour = if style.color {
            match fields::change(quote) {
                Some(c) if c.is_zero() => None,
                Some(c) if c.is_sign_positive() => Some(GREEN),
                Some(_) => Some(RED),
                None => None,
            }
        } else {
            None
        };
        line.clear();
        for (i, (field, cell)) in style.fields.iter().zip(row).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            let pad = widths[i].saturating_sub(cell.width());
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
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
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
