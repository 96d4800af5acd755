//! `json`: one array, an element per row in input order, failures included as
//! `{"symbol", "error": {"kind", "message"}}`. `jsonl` writes the same objects one per line.
//!
//! `price` is a JSON number carrying exactly `--precision` decimals (`135.70`, not
//! `135.7`), or the price's own: it is written from the rounded decimal's text through
//! `RawValue`, never through a float. Every field that is known is present; unknown ones are
//! left out. A price `quotes` changed (pence into pounds, `--currency`) carries what was
//! quoted (`quoted_price`, `quoted_currency`), and a converted one its rate (`fx_rate`,
//! `fx_source`, `fx_date`).

use std::io::{self, Write};

use serde::Serialize;
use serde_json::value::RawValue;

use super::fields::{self, Field};
use super::{FormatSpec, Render, Row, Style};
use crate::history::Adjust;
use crate::quote::format_price;

pub static FORMAT: FormatSpec = FormatSpec {
    name: "json",
    about: "One JSON array, an element per ticker (failures included)",
    appends: Err("--watch appends a round at a time, which one JSON array cannot do; use -f jsonl"),
    check: super::always,
    renderer: || Box::new(Array),
    all_fields: true,
    for_people: false,
};

#[derive(Serialize)]
struct Success<'a> {
    symbol: &'a str,
    price: Box<RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    currency: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    change: Option<Box<RawValue>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    change_percent: Option<Box<RawValue>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_close: Option<Box<RawValue>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exchange: Option<&'a str>,
    source: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    quoted_price: Option<Box<RawValue>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    quoted_currency: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fx_rate: Option<Box<RawValue>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fx_source: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fx_date: Option<String>,
    /// The commodity ledger and beancount write, when it is not the symbol.
    #[serde(skip_serializing_if = "Option::is_none")]
    commodity: Option<&'a str>,
    /// Which close a past day's price is: `none` (as traded), `splits` or `all`.
    #[serde(skip_serializing_if = "Option::is_none")]
    adjust: Option<&'static str>,
}

#[derive(Serialize)]
struct Failure<'a> {
    /// The uppercased symbol when the ticker was valid (as in successes and on stderr),
    /// else exactly what was typed.
    symbol: &'a str,
    /// What was typed, when it differs from `symbol` (`coinbase:xrp-usd`, `vtsax`).
    #[serde(skip_serializing_if = "Option::is_none")]
    input: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<&'a str>,
    error: ErrorBody<'a>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    kind: &'a str,
    message: String,
}

/// A decimal's text as a JSON number. Our formatter only ever produces `-?\d+(\.\d+)?`,
/// which is valid JSON; should that ever break, fall back to a string rather than panic.
fn number(text: String) -> Box<RawValue> {
    RawValue::from_string(text.clone()).unwrap_or_else(|_| {
        RawValue::from_string(serde_json::Value::String(text).to_string())
            .unwrap_or_else(|_| RawValue::NULL.to_owned())
    })
}

/// One row as one JSON object (also each line of `jsonl`).
pub fn object(row: &Row<'_>, style: &Style) -> String {
    let text = match &row.result {
        Ok(q) => {
            let p = style.price_places(q);
            // What was quoted, when `quotes` changed it.
            let quoted = q
                .quoted
                .as_ref()
                .filter(|o| o.price != q.price || o.currency != q.currency);
            serde_json::to_string(&Success {
                symbol: row.label,
                price: number(format_price(q.price, p)),
                currency: q.currency.as_deref(),
                time: Field::Time.value(row, q, style),
                date: Field::Date.value(row, q, style),
                change: fields::change(q).map(|c| number(format_price(c, p))),
                change_percent: fields::change_percent(q).map(|c| number(format_price(c, 2))),
                previous_close: q
                    .previous_close
                    .map(|c| number(format_price(c, style.close_places(q, c)))),
                name: q.name.as_deref(),
                exchange: q.exchange.as_deref(),
                source: row.source.unwrap_or_default(),
                quoted_price: quoted
                    .map(|o| number(format_price(o.price, style.places(o.price, o.precision)))),
                quoted_currency: quoted.and_then(|o| o.currency.as_deref()),
                fx_rate: q.fx.as_ref().map(|fx| number(fields::fx_rate(fx))),
                fx_source: q.fx.as_ref().map(|fx| fx.source),
                fx_date: q.fx.as_ref().and_then(|fx| fx.date).map(|d| d.to_string()),
                commodity: (row.commodity != row.label).then_some(row.commodity),
                adjust: row.adjust.map(Adjust::name),
            })
        }
        Err(e) => serde_json::to_string(&Failure {
            // A source is known only for valid tickers; their label is the symbol.
            symbol: if row.is_resolved() {
                row.label
            } else {
                row.input
            },
            input: (row.is_resolved() && row.input != row.label).then_some(row.input),
            source: row.source,
            error: ErrorBody {
                kind: e.kind(),
                message: crate::text::message(&e.to_string()),
            },
        }),
    };
    // Serializing these plain structs cannot fail; keep the output valid JSON regardless.
    text.unwrap_or_else(|_| "null".to_string())
}

struct Array;

impl Render for Array {
    fn write(&mut self, rows: &[Row<'_>], style: &Style, out: &mut dyn Write) -> io::Result<()> {
        if rows.is_empty() {
            return writeln!(out, "[]");
        }
        writeln!(out, "[")?;
        for (i, row) in rows.iter().enumerate() {
            let comma = if i + 1 < rows.len() { "," } else { "" };
            writeln!(out, "  {}{comma}", object(row, style))?;
        }
        writeln!(out, "]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::FetchError;
    use crate::output::test_rows::{failed, ok, quote, render};

    #[test]
    fn price_keeps_its_trailing_zeros_and_failures_are_objects() {
        let q = quote("135.7", Some("USD"));
        let rows = vec![
            ok("VTSAX", &q),
            failed(
                "NOPE",
                FetchError::NotFound {
                    api: "Yahoo",
                    detail: "gone".into(),
                    hint: "check it",
                },
            ),
        ];
        let text = render(&FORMAT, &rows, &Style::default());
        assert!(text.contains(r#""price":135.70,"#), "{text}");
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed[0]["time"], "2025-11-20T21:00:00Z");
        assert_eq!(parsed[1]["error"]["kind"], "not_found");
        assert_eq!(parsed[1]["symbol"], "NOPE");
        // Nothing was converted: no quoted or fx fields at all.
        for key in [
            "quoted_price",
            "quoted_currency",
            "fx_rate",
            "fx_source",
            "fx_date",
        ] {
            assert!(parsed[0].get(key).is_none(), "{key}: {text}");
        }
    }

    #[test]
    fn a_converted_price_says_what_was_quoted_and_at_which_rate() {
        let mut q = quote("2.4406", Some("EUR"));
        q.precision = Some(crate::quote::Decimals::AtLeast(4));
        q.quoted = Some(crate::quote::Quoted {
            price: crate::quote::parse_price("305.3").unwrap(),
            currency: Some("GBp".into()),
            precision: None,
        });
        q.fx = Some(crate::quote::FxRate {
            rate: crate::quote::parse_price("1.1090").unwrap(),
            precision: Some(crate::quote::Decimals::QUOTIENT),
            source: "ecb",
            date: Some(jiff::civil::date(2021, 1, 8)),
        });
        let text = object(&ok("OCDO.L", &q), &Style::default());
        assert!(
            text.ends_with(
                r#""source":"yahoo","quoted_price":305.30,"quoted_currency":"GBp","fx_rate":1.10900,"fx_source":"ecb","fx_date":"2021-01-08"}"#
            ),
            "{text}"
        );
        assert!(text.contains(r#""price":2.4406,"#), "{text}");
    }
}
