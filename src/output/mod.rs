//! Writing results: data to stdout, one line per failure to stderr.
//!
//! Every renderer writes to any `impl Write` and keeps input order. Writers never panic
//! when the reader goes away: errors come back as `io::Error` and `lib::run` decides
//! (a broken pipe is quiet, anything else is reported).

pub mod table;

use std::io::{self, Write};

use crate::error::FetchError;
use crate::quote::Quote;

/// One requested ticker and what became of it, in input order.
pub struct Row {
    /// The symbol as shown to the user: uppercased when valid, else an escaped,
    /// shortened copy of what was typed.
    pub label: String,
    pub result: Result<Quote, FetchError>,
}

/// How prices are written.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    /// Decimals after rounding half-to-even.
    pub precision: u32,
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
