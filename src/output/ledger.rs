//! `ledger`: price directives for ledger and hledger, in input order, one line per price.
//!
//! `P 2026-11-20 21:00:00 VTSAX 135.72 USD` (the price's own market time, UTC). A `--date`
//! close is dated by its trading day in the exchange's calendar and carries no time:
//! `P 2026-11-13 VTSAX 134.10 USD`. The commodity is the row's (`NAME` of `TICKER@NAME`, the
//! base of a pair: `P … BTC 97208.17 USD`). Names ledger would misread (digits, `.`, `^`,
//! `=`, `-`) are double-quoted.

use std::io::{self, Write};

use super::directive::{currency_and_date, directives};
use super::{FormatSpec, Render, Row, Style};
use crate::error::FetchError;
use crate::quote::{Quote, format_price};

pub static FORMAT: FormatSpec = FormatSpec {
    name: "ledger",
    about: "ledger / hledger price directives: P DATE TIME SYMBOL PRICE CURRENCY",
    appends: Ok(()),
    check,
    renderer: || Box::new(Ledger),
    all_fields: false,
    for_people: false,
};

/// A price needs a commodity and a currency ledger can name, and a date.
fn check(row: &Row<'_>, quote: &Quote) -> Result<(), FetchError> {
    if !can_quote(row.commodity) {
        return Err(FetchError::Unrepresentable(format!(
            "{:?} cannot be written as a ledger commodity",
            row.commodity
        )));
    }
    let currency = currency_and_date(quote, "ledger")?;
    if !can_quote(currency) {
        return Err(FetchError::Unrepresentable(format!(
            "currency {currency:?} cannot be written as a ledger commodity"
        )));
    }
    Ok(())
}

struct Ledger;

impl Render for Ledger {
    fn write(&mut self, rows: &[Row<'_>], style: &Style, out: &mut dyn Write) -> io::Result<()> {
        for (row, quote, currency, when) in directives(rows) {
            writeln!(
                out,
                "P {when} {} {} {}",
                commodity(row.commodity),
                format_price(quote.price, style.price_places(quote)),
                commodity(currency)
            )?;
        }
        Ok(())
    }
}

/// Whether a name can be a ledger commodity at all, quoted if need be.
fn can_quote(name: &str) -> bool {
    !name.is_empty() && !name.contains(|c: char| c == '"' || c.is_control())
}

/// A ledger/hledger commodity: letters only stand bare, anything else is quoted.
pub fn commodity(name: &str) -> String {
    if name.chars().all(|c| c.is_alphabetic()) {
        name.to_string()
    } else {
        format!("\"{name}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::test_rows::{ok, quote, render};

    fn line(symbol: &str, q: &Quote) -> String {
        render(&FORMAT, &[ok(symbol, q)], &Style::default())
    }

    #[test]
    fn lines_quote_unusual_commodities() {
        assert_eq!(
            line("VTSAX", &quote("135.716", Some("USD"))),
            "P 2025-11-20 21:00:00 VTSAX 135.72 USD\n"
        );
        assert_eq!(
            line("^GSPC", &quote("5000", Some("USD"))),
            "P 2025-11-20 21:00:00 \"^GSPC\" 5000.00 USD\n"
        );
        assert_eq!(
            line("BRK-B", &quote("1", Some("USD"))),
            "P 2025-11-20 21:00:00 \"BRK-B\" 1.00 USD\n"
        );
    }

    #[test]
    fn a_past_close_is_dated_by_its_trading_day() {
        let mut q = quote("64.6117", Some("INR"));
        q.time = Some(1_499_641_200); // 2017-07-09 23:00 UTC = 07-10 00:00 in London
        q.market_date = Some(jiff::civil::date(2017, 7, 10));
        assert_eq!(line("INR=X", &q), "P 2017-07-10 \"INR=X\" 64.61 INR\n");
    }

    #[test]
    fn a_price_without_currency_or_time_is_refused() {
        let q = quote("1", None);
        assert!(check(&ok("X", &q), &q).is_err());
        let mut q = quote("1", Some("USD"));
        q.time = None;
        assert!(check(&ok("X", &q), &q).is_err());
    }
}
