//! `beancount`: price directives, `2026-11-20 price VTSAX 135.72 USD`, in input order.
//!
//! The commodity is the row's (`NAME` of `TICKER@NAME`, the base of a pair). Beancount's
//! commodity names are restricted; a name or currency that cannot be one is a per-ticker
//! error with a hint (via the format's check), never an invalid line. A `--date`
//! close is dated by its trading day in the exchange's calendar.

use std::io::{self, Write};

use super::directive::{currency_and_date, directives};
use super::{FormatSpec, Render, Row, Style};
use crate::error::FetchError;
use crate::quote::{Quote, format_price};

pub static FORMAT: FormatSpec = FormatSpec {
    name: "beancount",
    about: "beancount price directives: DATE price SYMBOL PRICE CURRENCY",
    appends: Ok(()),
    check,
    renderer: || Box::new(Beancount),
    all_fields: false,
    for_people: false,
};

/// The symbol and the currency must both be beancount commodity names, and the price
/// needs a date.
fn check(row: &Row<'_>, quote: &Quote) -> Result<(), FetchError> {
    let refuse = |why: String| Err(FetchError::Unrepresentable(why));
    if !is_commodity(row.commodity) {
        return refuse(format!(
            "{} cannot be a beancount commodity (names start with a capital letter, end with \
             a capital letter or digit, and use only A-Z 0-9 ' . _ -); name one with \
             {}@NAME, or use -f ledger or -f json for this symbol",
            row.commodity, row.label
        ));
    }
    let currency = currency_and_date(quote, "beancount")?;
    if !is_commodity(currency) {
        let hint = match crate::fx::major_unit(currency) {
            Some(major) => format!(" (a minor unit: drop --keep-minor-units to write {major})"),
            None => String::new(),
        };
        return refuse(format!(
            "currency {currency:?} cannot be a beancount commodity{hint}"
        ));
    }
    Ok(())
}

/// Beancount's lexer: `[A-Z][A-Z0-9'._-]{0,22}[A-Z0-9]`, or a single capital letter.
pub fn is_commodity(name: &str) -> bool {
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

struct Beancount;

impl Render for Beancount {
    fn write(&mut self, rows: &[Row<'_>], style: &Style, out: &mut dyn Write) -> io::Result<()> {
        for (row, quote, currency, when) in directives(rows) {
            writeln!(
                out,
                "{} price {} {} {currency}",
                when.date(),
                row.commodity,
                format_price(quote.price, style.price_places(quote))
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::test_rows::{ok, quote, render};

    #[test]
    fn writes_dated_directives() {
        let q = quote("135.716", Some("USD"));
        assert_eq!(
            render(&FORMAT, &[ok("VTSAX", &q)], &Style::default()),
            "2025-11-20 price VTSAX 135.72 USD\n"
        );
        let mut q = quote("64.6117", Some("INR"));
        q.market_date = Some(jiff::civil::date(2017, 7, 10));
        assert_eq!(
            render(&FORMAT, &[ok("INRX", &q)], &Style::default()),
            "2017-07-10 price INRX 64.61 INR\n"
        );
    }

    #[test]
    fn refuses_names_it_cannot_hold() {
        for bad in ["^GSPC", "EURUSD=X", "0P000071W8.TO", "BRK-"] {
            assert!(!is_commodity(bad), "{bad}");
        }
        for good in ["VTSAX", "BRK-B", "VOD.L", "V", "A1"] {
            assert!(is_commodity(good), "{good}");
        }
        let q = quote("1", Some("USD"));
        let err = check(&ok("^GSPC", &q), &q).unwrap_err();
        assert!(err.to_string().contains("-f ledger"), "{err}");
        let pence = quote("1", Some("GBp"));
        let err = check(&ok("OCDO.L", &pence), &pence).unwrap_err();
        assert!(err.to_string().contains("--keep-minor-units"), "{err}");
    }
}
