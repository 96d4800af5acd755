//! Price directives for plain-text accounting: `ledger` (ledger and hledger) and
//! `beancount`, in input order, one line per ticker.
//!
//! `P 2026-11-20 21:00:00 VTSAX 135.72 USD` (the price's own market time, UTC) and
//! `2026-11-20 price VTSAX 135.72 USD`. A `--date` close is dated by its trading day in the
//! exchange's calendar and carries no time: `P 2026-11-13 VTSAX 134.10 USD`. Names ledger would misread (digits, `.`, `^`,
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
            if when(quote).is_none() {
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
            if when(quote).is_none() {
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
        // `check` ran before writing (`output::check_representable`), so every quote here
        // has a currency and a time; one that somehow had not would be skipped, never
        // written half.
        let (Some(currency), Some(when)) = (&quote.currency, when(quote)) else {
            continue;
        };
        let price = format_price(quote.price, style.precision);
        match format {
            Format::Beancount => writeln!(
                out,
                "{} price {} {price} {currency}",
                when.date(),
                quote.symbol
            )?,
            _ => writeln!(
                out,
                "P {when} {} {price} {}",
                ledger_commodity(quote.symbol.as_str()),
                ledger_commodity(currency)
            )?,
        }
    }
    Ok(())
}

/// When a price directive says the price was: a past day's close is dated by that trading
/// day in the exchange's calendar (`--date`); the latest price by its own time, in UTC.
enum When {
    Day(jiff::civil::Date),
    Instant(jiff::Timestamp),
}

impl When {
    fn date(&self) -> jiff::civil::Date {
        match self {
            When::Day(day) => *day,
            When::Instant(t) => t.to_zoned(jiff::tz::TimeZone::UTC).date(),
        }
    }
}

impl std::fmt::Display for When {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            When::Day(day) => write!(f, "{day}"),
            When::Instant(t) => write!(f, "{}", t.strftime("%Y-%m-%d %H:%M:%S")),
        }
    }
}

fn when(quote: &Quote) -> Option<When> {
    match quote.market_date {
        Some(day) => Some(When::Day(day)),
        None => quote
            .time
            .and_then(|t| jiff::Timestamp::from_second(t).ok())
            .map(When::Instant),
    }
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
    fn a_past_close_is_dated_by_its_trading_day() {
        let mut q = quote("INR=X", "64.6117", Some("INR"));
        q.time = Some(1_499_641_200); // 2017-07-09 23:00 UTC = 07-10 00:00 in London
        q.market_date = Some(jiff::civil::date(2017, 7, 10));
        assert_eq!(
            render(Format::Ledger, q.clone()),
            "P 2017-07-10 \"INR=X\" 64.61 INR\n"
        );
        q.symbol = crate::ticker::Ticker::parse("INRX").unwrap();
        assert_eq!(
            render(Format::Beancount, q),
            "2017-07-10 price INRX 64.61 INR\n"
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
