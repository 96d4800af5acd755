//! Price directives for plain-text accounting: `ledger` (ledger and hledger) and
//! `beancount`, in input order, one line per ticker.
//!
//! `P 2026-11-20 21:00:00 VTSAX 135.72 USD` (the price's own market time, UTC) and
//! `2026-11-20 price VTSAX 135.72 USD`. Names ledger would misread (digits, `.`, `^`,
//! `=`, `-`) are double-quoted. Beancount's commodity names are restricted; a symbol
//! that cannot be one is a per-ticker error with a hint (via [`check`]), never an
//! invalid line.

use std::io::{self, Write};

use super::{Format, Row, Style};
use crate::error::FetchError;
use crate::quote::{Quote, format_price};

/// Whether `quote` can be written in `format`; the error says why not and what to do.
pub fn check(format: Format, quote: &Quote) -> Result<(), FetchError> {
    let refuse = |why: String| Err(FetchError::Unrepresentable(why));
    match format {
        Format::Ledger => {
            let Some(currency) = &quote.currency else {
                return refuse("no currency in the response; a ledger price needs one".into());
            };
            if currency.is_empty() || currency.contains(|c: char| c == '"' || c.is_control()) {
                return refuse(format!(
                    "currency {currency:?} cannot be written as a ledger commodity"
                ));
            }
            if quote.time.is_none() {
                return refuse("no time for the price; a ledger price needs a date".into());
            }
            Ok(())
        }
        Format::Beancount => {
            if !is_beancount_commodity(quote.symbol.as_str()) {
                return refuse(format!(
                    "{} cannot be a beancount commodity (names start with a capital letter, \
                     end with a capital letter or digit, and use only A-Z 0-9 ' . _ -); \
                     use -f ledger or -f json for this symbol",
                    quote.symbol
                ));
            }
            let Some(currency) = &quote.currency else {
                return refuse("no currency in the response; a beancount price needs one".into());
            };
            if !is_beancount_commodity(currency) {
                let hint = if currency == "GBp" {
                    " (GBp is pence: divide by 100 for GBP)"
                } else {
                    ""
                };
                return refuse(format!(
                    "currency {currency:?} cannot be a beancount commodity{hint}"
                ));
            }
            if quote.time.is_none() {
                return refuse("no time for the price; a beancount price needs a date".into());
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Beancount's lexer: `[A-Z][A-Z0-9'._-]{0,22}[A-Z0-9]`, or a single capital letter.
pub fn is_beancount_commodity(name: &str) -> bool {
    let bytes = name.as_bytes();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    bytes.len() <= 24
        && first.is_ascii_uppercase()
        && (last.is_ascii_uppercase() || last.is_ascii_digit())
        && bytes.iter().all(|b| {
            b.is_ascii_uppercase() || b.is_ascii_digit() || matches!(b, b'\'' | b'.' | b'_' | b'-')
        })
}

/// A ledger/hledger commodity: letters only stand bare, anything else is quoted.
fn ledger_commodity(name: &str) -> String {
    if name.chars().all(|c| c.is_alphabetic()) {
        name.to_string()
    } else {
        format!("\"{name}\"")
    }
}

pub fn write(format: Format, rows: &[Row], style: &Style, out: &mut impl Write) -> io::Result<()> {
    for quote in rows.iter().filter_map(|r| r.result.as_ref().ok()) {
        // `check` ran before writing; a quote it would refuse is skipped, never half-written.
        if check(format, quote).is_err() {
            continue;
        }
        let (Some(currency), Some(time)) = (&quote.currency, quote.time) else {
            continue;
        };
        let Ok(ts) = jiff::Timestamp::from_second(time) else {
            continue;
        };
        let price = format_price(quote.price, style.precision);
        match format {
            Format::Beancount => writeln!(
                out,
                "{} price {} {price} {currency}",
                ts.strftime("%Y-%m-%d"),
                quote.symbol
            )?,
            _ => writeln!(
                out,
                "P {} {} {price} {}",
                ts.strftime("%Y-%m-%d %H:%M:%S"),
                ledger_commodity(quote.symbol.as_str()),
                ledger_commodity(currency)
            )?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::test_rows::{ok, quote};

    fn render(format: Format, quote: Quote) -> String {
        let mut out = Vec::new();
        write(format, &[ok(quote)], &Style::default(), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn ledger_lines_quote_unusual_commodities() {
        assert_eq!(
            render(Format::Ledger, quote("VTSAX", "135.716", Some("USD"))),
            "P 2025-11-20 21:00:00 VTSAX 135.72 USD\n"
        );
        assert_eq!(
            render(Format::Ledger, quote("^GSPC", "5000", Some("USD"))),
            "P 2025-11-20 21:00:00 \"^GSPC\" 5000.00 USD\n"
        );
        assert_eq!(
            render(Format::Ledger, quote("BRK-B", "1", Some("USD"))),
            "P 2025-11-20 21:00:00 \"BRK-B\" 1.00 USD\n"
        );
    }

    #[test]
    fn beancount_refuses_names_it_cannot_hold() {
        assert_eq!(
            render(Format::Beancount, quote("VTSAX", "135.716", Some("USD"))),
            "2025-11-20 price VTSAX 135.72 USD\n"
        );
        for bad in ["^GSPC", "EURUSD=X", "0P000071W8.TO", "BRK-"] {
            assert!(!is_beancount_commodity(bad), "{bad}");
        }
        for good in ["VTSAX", "BRK-B", "VOD.L", "V", "A1"] {
            assert!(is_beancount_commodity(good), "{good}");
        }
        let err = check(Format::Beancount, &quote("^GSPC", "1", Some("USD"))).unwrap_err();
        assert!(err.to_string().contains("-f ledger"), "{err}");
        let pence = check(Format::Beancount, &quote("OCDO.L", "1", Some("GBp"))).unwrap_err();
        assert!(pence.to_string().contains("pence"), "{pence}");
        assert!(check(Format::Ledger, &quote("X", "1", None)).is_err());
    }
}
