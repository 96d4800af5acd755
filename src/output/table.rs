//! The default format: aligned columns without a header. Text fields are left-aligned,
//! numbers right-aligned, so `awk '{print $2}'` picks the price. Failed tickers print no
//! line here (their message goes to stderr). On a terminal, the price and the day's
//! change are green or red by the direction of the change.

use std::io::{self, Write};

use super::fields::{self, Field};
use super::{Row, Style};

const GREEN: &str = "\x1b[32m";
const RED: &str = "\x1b[31m";
const RESET: &str = "\x1b[0m";

pub fn write(rows: &[Row], style: &Style, out: &mut impl Write) -> io::Result<()> {
    let quotes: Vec<_> = rows.iter().filter_map(|r| r.result.as_ref().ok()).collect();
    let cells: Vec<Vec<String>> = quotes
        .iter()
        .map(|q| {
            style
                .fields
                .iter()
                .map(|f| f.value(q, style).unwrap_or_default())
                .collect()
        })
        .collect();
    let widths: Vec<usize> = (0..style.fields.len())
        .map(|i| {
            cells
                .iter()
                .map(|c| c[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for (quote, row) in quotes.iter().zip(&cells) {
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
        let mut line = String::new();
        for (i, (field, cell)) in style.fields.iter().zip(row).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            let width = widths[i];
            let padded = if field.is_numeric() {
                format!("{cell:>width$}")
            } else {
                format!("{cell:<width$}")
            };
            match colour {
                Some(c) if colours(*field) => {
                    line.push_str(c);
                    line.push_str(&padded);
                    line.push_str(RESET);
                }
                _ => line.push_str(&padded),
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

fn colours(field: Field) -> bool {
    matches!(field, Field::Price | Field::Change | Field::ChangePercent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::FetchError;
    use crate::output::test_rows::{failed, ok, quote};
    use crate::quote::parse_price;

    fn render(rows: &[Row], style: &Style) -> String {
        let mut out = Vec::new();
        write(rows, style, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn aligns_columns_and_skips_failures() {
        let rows = vec![
            ok(quote("VTSAX", "135.716", Some("USD"))),
            failed("NOPE", FetchError::InvalidTicker("x".into())),
            ok(quote("BRK-A", "712345.5", Some("USD"))),
            ok(quote("X", "1", None)),
        ];
        assert_eq!(
            render(&rows, &Style::default()),
            "VTSAX     135.72  USD\nBRK-A  712345.50  USD\nX           1.00\n"
        );
    }

    #[test]
    fn colours_only_when_asked_and_only_with_a_change() {
        let mut up = quote("UP", "11", Some("USD"));
        up.previous_close = Some(parse_price("10").unwrap());
        let mut down = quote("DOWN", "9", Some("USD"));
        down.previous_close = Some(parse_price("10").unwrap());
        let flat = quote("FLAT", "10", Some("USD"));
        let rows = vec![ok(up), ok(down), ok(flat)];
        let style = Style {
            color: true,
            fields: vec![Field::Symbol, Field::Price, Field::Change],
            ..Style::default()
        };
        assert_eq!(
            render(&rows, &style),
            "UP    \x1b[32m11.00\x1b[0m  \x1b[32m 1.00\x1b[0m\n\
             DOWN  \x1b[31m 9.00\x1b[0m  \x1b[31m-1.00\x1b[0m\n\
             FLAT  10.00\n"
        );
        let plain = render(
            &rows,
            &Style {
                color: false,
                ..style
            },
        );
        assert!(!plain.contains('\x1b'), "{plain:?}");
    }
}
