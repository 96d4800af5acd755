//! Writing results: data to stdout in the chosen format, one line per failure to stderr.
//!
//! Every renderer writes to any `impl Write` and keeps input order. Writers never panic
//! when the reader goes away: errors come back as `io::Error` and `lib::run` decides
//! (a broken pipe is quiet, anything else is reported). Which fields exist and how each
//! is written as text lives in `fields`; one file per family of formats:
//! `table` (aligned columns), `delimited` (tsv, csv), `json` (json, jsonl) and
//! `ledger` (ledger, beancount).

pub mod delimited;
pub mod fields;
pub mod json;
pub mod ledger;
pub mod table;

use std::io::{self, Write};

use clap::ValueEnum;

pub use fields::Field;

use crate::error::FetchError;
use crate::quote::Quote;

/// The output formats of `-f/--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns for people (the default)
    Table,
    /// Tab-separated fields, no header
    Tsv,
    /// RFC 4180 CSV with a header row
    Csv,
    /// One JSON array, an element per ticker (failures included)
    Json,
    /// One JSON object per line (failures included)
    Jsonl,
    /// ledger / hledger price directives: P DATE TIME SYMBOL PRICE CURRENCY
    Ledger,
    /// beancount price directives: DATE price SYMBOL PRICE CURRENCY
    Beancount,
}

/// One requested ticker and what became of it, in input order.
#[derive(Debug, Clone)]
pub struct Row {
    /// What the user typed, verbatim (JSON carries it as is).
    pub input: String,
    /// The symbol as shown on stderr and in text formats: uppercased when valid, else an
    /// escaped, shortened copy of the input.
    pub label: String,
    /// The source asked, when the ticker got that far.
    pub source: Option<&'static str>,
    pub result: Result<Quote, FetchError>,
}

/// How values are written.
#[derive(Debug, Clone)]
pub struct Style {
    /// Decimals after rounding half-to-even (`--precision`).
    pub precision: u32,
    /// Columns for table, tsv and csv (`-o/--fields`).
    pub fields: Vec<Field>,
    /// Colour the day's change (table on a terminal only).
    pub color: bool,
    /// Write csv's header row (false for `--watch` rounds after the first).
    pub header: bool,
}

impl Default for Style {
    fn default() -> Style {
        Style {
            precision: 2,
            fields: fields::DEFAULT.to_vec(),
            color: false,
            header: true,
        }
    }
}

/// Turn successes a format cannot write into per-ticker errors (a beancount commodity
/// name that cannot exist, a ledger price without a currency): never an invalid line.
pub fn check_representable(format: Format, rows: &mut [Row]) {
    for row in rows {
        if let Ok(quote) = &row.result
            && let Err(e) = ledger::check(format, quote)
        {
            row.result = Err(e);
        }
    }
}

/// Write all rows in `format`.
pub fn write(format: Format, rows: &[Row], style: &Style, out: &mut impl Write) -> io::Result<()> {
    match format {
        Format::Table => table::write(rows, style, out),
        Format::Tsv => delimited::write_tsv(rows, style, out),
        Format::Csv => delimited::write_csv(rows, style, out),
        Format::Json => json::write_array(rows, style, out),
        Format::Jsonl => json::write_lines(rows, style, out),
        Format::Ledger | Format::Beancount => ledger::write(format, rows, style, out),
    }
}

/// `quotes: SYMBOL: message` on stderr for every failed ticker, in input order.
pub fn report_errors(rows: &[Row], err: &mut impl Write) -> io::Result<()> {
    for row in rows {
        if let Err(e) = &row.result {
            writeln!(err, "quotes: {}: {e}", row.label)?;
        }
    }
    err.flush()
}

/// A user's input made safe to print on one line: control characters escaped, quoted
/// when it holds anything unusual, at most 40 characters.
pub fn label_for_input(input: &str) -> String {
    const MAX: usize = 40;
    let plain = !input.is_empty()
        && input
            .chars()
            .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\');
    let mut shown: String = input.chars().take(MAX).collect();
    if input.chars().count() > MAX {
        shown.push('…');
    }
    if plain {
        shown
    } else {
        format!("\"{}\"", shown.escape_debug())
    }
}

#[cfg(test)]
pub(crate) mod test_rows {
    //! Rows shared by the renderers' unit tests.
    use super::*;
    use crate::quote::parse_price;
    use crate::ticker::Ticker;

    pub fn quote(symbol: &str, price: &str, currency: Option<&str>) -> Quote {
        Quote {
            symbol: Ticker::parse(symbol).unwrap(),
            source: "yahoo",
            price: parse_price(price).unwrap(),
            currency: currency.map(str::to_string),
            time: Some(1_763_672_400), // 2025-11-20T21:00:00Z
            market_date: None,
            previous_close: None,
            name: None,
            exchange: None,
        }
    }

    pub fn ok(quote: Quote) -> Row {
        Row {
            input: quote.symbol.to_string(),
            label: quote.symbol.to_string(),
            source: Some(quote.source),
            result: Ok(quote),
        }
    }

    pub fn failed(symbol: &str, error: FetchError) -> Row {
        Row {
            input: symbol.into(),
            label: symbol.into(),
            source: Some("yahoo"),
            result: Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_single_line_and_short() {
        assert_eq!(label_for_input("AAPL"), "AAPL");
        assert_eq!(label_for_input("A B"), "\"A B\"");
        assert_eq!(label_for_input(""), "\"\"");
        assert_eq!(label_for_input("a\nb"), "\"a\\nb\"");
        let long = label_for_input(&"X".repeat(10_000));
        assert!(long.chars().count() < 50, "{long}");
    }
}
