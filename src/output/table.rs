//! The default format: aligned columns, symbol left, price right, then currency, so that
//! `awk '{print $2}'` picks the price. Failed tickers print no line here.

use std::io::{self, Write};

use super::{Row, Style};
use crate::quote::format_price;

pub fn write(rows: &[Row], style: Style, out: &mut impl Write) -> io::Result<()> {
    let lines: Vec<(&str, String, &str)> = rows
        .iter()
        .filter_map(|row| row.result.as_ref().ok())
        .map(|q| {
            (
                q.symbol.as_str(),
                format_price(q.price, style.precision),
                q.currency.as_deref().unwrap_or(""),
            )
        })
        .collect();
    let symbol_width = lines.iter().map(|l| l.0.len()).max().unwrap_or(0);
    let price_width = lines.iter().map(|l| l.1.len()).max().unwrap_or(0);
    for (symbol, price, currency) in &lines {
        let line = format!("{symbol:<symbol_width$}  {price:>price_width$}  {currency}");
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::FetchError;
    use crate::quote::{Quote, parse_price};
    use crate::ticker::Ticker;

    fn row(symbol: &str, price: &str, currency: Option<&str>) -> Row {
        Row {
            label: symbol.into(),
            result: Ok(Quote {
                symbol: Ticker::parse(symbol).unwrap(),
                source: "yahoo",
                price: parse_price(price).unwrap(),
                currency: currency.map(str::to_string),
                time: None,
                previous_close: None,
                name: None,
                exchange: None,
            }),
        }
    }

    #[test]
    fn aligns_columns_and_skips_failures() {
        let rows = vec![
            row("VTSAX", "135.716", Some("USD")),
            Row {
                label: "NOPE".into(),
                result: Err(FetchError::InvalidTicker("x".into())),
            },
            row("BRK-A", "712345.5", Some("USD")),
            row("X", "1", None),
        ];
        let mut out = Vec::new();
        write(&rows, Style { precision: 2 }, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "VTSAX     135.72  USD\nBRK-A  712345.50  USD\nX           1.00\n"
        );
    }
}
