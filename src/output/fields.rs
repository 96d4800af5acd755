//! The fields of `-o/--fields`, and how each is written as text.
//!
//! One place decides what `price`, `time` or `change_percent` look like, so table, tsv,
//! csv and the JSON formats cannot disagree.

use rust_decimal::Decimal;

use super::{Row, Style};
use crate::quote::{FxRate, Quote, format_price, format_rate, push_price};

/// One column of table, tsv and csv output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Symbol,
    Price,
    Currency,
    Time,
    Date,
    Change,
    ChangePercent,
    PreviousClose,
    Name,
    Exchange,
    Source,
    QuotedPrice,
    QuotedCurrency,
    FxRate,
    FxDate,
    FxSource,
}

/// `symbol,price,currency`: what the core command prints.
pub const DEFAULT: [Field; 3] = [Field::Symbol, Field::Price, Field::Currency];

pub const ALL: [Field; 16] = [
    Field::Symbol,
    Field::Price,
    Field::Currency,
    Field::Time,
    Field::Date,
    Field::Change,
    Field::ChangePercent,
    Field::PreviousClose,
    Field::Name,
    Field::Exchange,
    Field::Source,
    Field::QuotedPrice,
    Field::QuotedCurrency,
    Field::FxRate,
    Field::FxDate,
    Field::FxSource,
];

impl Field {
    pub fn name(self) -> &'static str {
        match self {
            Field::Symbol => "symbol",
            Field::Price => "price",
            Field::Currency => "currency",
            Field::Time => "time",
            Field::Date => "date",
            Field::Change => "change",
            Field::ChangePercent => "change_percent",
            Field::PreviousClose => "previous_close",
            Field::Name => "name",
            Field::Exchange => "exchange",
            Field::Source => "source",
            Field::QuotedPrice => "quoted_price",
            Field::QuotedCurrency => "quoted_currency",
            Field::FxRate => "fx_rate",
            Field::FxDate => "fx_date",
            Field::FxSource => "fx_source",
        }
    }

    /// Numbers are right-aligned in the table.
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            Field::Price
                | Field::Change
                | Field::ChangePercent
                | Field::PreviousClose
                | Field::QuotedPrice
                | Field::FxRate
        )
    }

    /// The field's text for one row's quote; `None` when the source did not say.
    pub fn value(self, row: &Row<'_>, quote: &Quote, style: &Style) -> Option<String> {
        let mut text = String::new();
        self.push(&mut text, row, quote, style).then_some(text)
    }

    /// The field's text appended to `out`; `false` (and nothing appended) when the source
    /// did not say. Written in place, without a string per cell: a long history is tens of
    /// thousands of rows.
    pub fn push(self, out: &mut String, row: &Row<'_>, quote: &Quote, style: &Style) -> bool {
        use std::fmt::Write;
        let text = |out: &mut String, text: Option<&str>| match text {
            Some(text) => {
                out.push_str(text);
                true
            }
            None => false,
        };
        let price = |out: &mut String, value: Option<Decimal>, places: u32| match value {
            Some(value) => {
                push_price(out, value, places);
                true
            }
            None => false,
        };
        let day = |out: &mut String, day: Option<jiff::civil::Date>| match day {
            Some(day) => write!(out, "{day}").is_ok(),
            None => false,
        };
        match self {
            Field::Symbol => text(out, Some(row.label)),
            Field::Price => price(out, Some(quote.price), style.price_places(quote)),
            Field::Currency => text(out, quote.currency.as_deref()),
            Field::Time => text(out, quote.time.and_then(rfc3339).as_deref()),
            Field::Date => day(out, market_date(quote)),
            Field::Change => price(out, change(quote), style.price_places(quote)),
            Field::ChangePercent => price(out, change_percent(quote), 2),
            Field::PreviousClose => match quote.previous_close {
                Some(close) => price(out, Some(close), style.close_places(quote, close)),
                None => false,
            },
            Field::Name => text(out, quote.name.as_deref()),
            Field::Exchange => text(out, quote.exchange.as_deref()),
            Field::Source => text(out, row.source),
            Field::QuotedPrice => text(out, Some(&quoted_price(quote, style))),
            Field::QuotedCurrency => text(out, quoted_currency(quote)),
            Field::FxRate => text(out, quote.fx.as_ref().map(fx_rate).as_deref()),
            Field::FxDate => day(out, quote.fx.as_ref().and_then(|fx| fx.date)),
            Field::FxSource => text(out, quote.fx.as_ref().map(|fx| fx.source)),
        }
    }
}

/// The price as the source quoted it (pence before they became pounds, the price before
/// `--currency` converted it), by its own rule unless `--precision` is given; the price
/// itself when `quotes` did not change it.
pub fn quoted_price(quote: &Quote, style: &Style) -> String {
    match &quote.quoted {
        Some(quoted) => format_price(quoted.price, style.places(quoted.price, quoted.precision)),
        None => format_price(quote.price, style.price_places(quote)),
    }
}

/// The currency the source quoted the price in (`GBp`).
pub fn quoted_currency(quote: &Quote) -> Option<&str> {
    match &quote.quoted {
        Some(quoted) => quoted.currency.as_deref(),
        None => quote.currency.as_deref(),
    }
}

/// A conversion's rate with every decimal sent (at least an ECB rate's published ones), a
/// quotient with 6 significant digits (`quote::rate_places`). `--precision` is for prices,
/// not rates.
pub fn fx_rate(fx: &FxRate) -> String {
    format_rate(fx.rate, fx.precision)
}

/// The value of `-o/--fields` (a newtype, so clap takes the list as one value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldList(pub Vec<Field>);

/// Parse `-o/--fields`: a comma-separated list of field names.
pub fn parse_field_list(text: &str) -> Result<FieldList, String> {
    parse_list(text).map(FieldList)
}

/// Parse a comma-separated list of field names.
pub fn parse_list(text: &str) -> Result<Vec<Field>, String> {
    let mut fields = Vec::new();
    for name in text.split(',').map(str::trim) {
        match ALL.iter().find(|f| f.name().eq_ignore_ascii_case(name)) {
            Some(field) => fields.push(*field),
            None => {
                let valid: Vec<&str> = ALL.iter().map(|f| f.name()).collect();
                return Err(format!(
                    "unknown field {name:?}; valid fields: {}",
                    valid.join(", ")
                ));
            }
        }
    }
    Ok(fields)
}

/// The day's change: price minus the previous close, exact.
pub fn change(quote: &Quote) -> Option<Decimal> {
    quote
        .previous_close
        .and_then(|prev| quote.price.checked_sub(prev))
}

/// The day's change in percent of the previous close.
pub fn change_percent(quote: &Quote) -> Option<Decimal> {
    let prev = quote.previous_close.filter(|p| !p.is_zero())?;
    change(quote)?
        .checked_mul(Decimal::ONE_HUNDRED)?
        .checked_div(prev)
}

/// The day a price belongs to: the trading day of a `--date` close (exchange calendar),
/// else the UTC date of its time.
pub fn market_date(quote: &Quote) -> Option<jiff::civil::Date> {
    quote.market_date.or_else(|| {
        let t = jiff::Timestamp::from_second(quote.time?).ok()?;
        Some(t.to_zoned(jiff::tz::TimeZone::UTC).date())
    })
}

/// Unix seconds as RFC 3339 in UTC: `2026-11-20T21:00:00Z`.
pub fn rfc3339(secs: i64) -> Option<String> {
    jiff::Timestamp::from_second(secs)
        .ok()
        .map(|t| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::test_rows::{ok, quote};
    use crate::quote::{Decimals, parse_price};

    #[test]
    fn parses_lists_and_names_valid_fields_on_error() {
        assert_eq!(
            parse_list("price,symbol").unwrap(),
            [Field::Price, Field::Symbol]
        );
        let err = parse_list("price,bogus").unwrap_err();
        assert!(
            err.contains("\"bogus\"") && err.contains("change_percent"),
            "{err}"
        );
    }

    #[test]
    fn change_and_percent_are_exact() {
        let mut q = quote("110.5", Some("USD"));
        q.previous_close = Some(parse_price("100").unwrap());
        let style = Style::default();
        let value = |field: Field, q: &Quote| field.value(&ok("X", q), q, &style);
        assert_eq!(value(Field::Change, &q).unwrap(), "10.50");
        assert_eq!(value(Field::ChangePercent, &q).unwrap(), "10.50");
        assert_eq!(value(Field::Time, &q).unwrap(), "2025-11-20T21:00:00Z");
        assert_eq!(value(Field::Symbol, &q).unwrap(), "X");
        assert_eq!(value(Field::Source, &q).unwrap(), "yahoo");
        q.previous_close = None;
        assert_eq!(value(Field::Change, &q), None);
    }

    #[test]
    fn each_price_has_its_own_decimals_unless_precision_is_given() {
        let mut q = quote("3.053", Some("GBP"));
        q.precision = Some(crate::quote::Decimals::AtLeast(4));
        q.quoted = Some(crate::quote::Quoted {
            price: parse_price("305.3").unwrap(),
            currency: Some("GBp".into()),
            precision: None,
        });
        let own = Style::default();
        let value = |field: Field, style: &Style| field.value(&ok("X", &q), &q, style);
        assert_eq!(value(Field::Price, &own).unwrap(), "3.0530");
        assert_eq!(value(Field::QuotedPrice, &own).unwrap(), "305.30");
        assert_eq!(value(Field::QuotedCurrency, &own).unwrap(), "GBp");
        let two = Style {
            precision: Some(2),
            ..Style::default()
        };
        assert_eq!(value(Field::Price, &two).unwrap(), "3.05");
        // Without a conversion there is no rate; the quoted price is the price.
        assert_eq!(value(Field::FxRate, &own), None);
        let plain = quote("1.5", Some("USD"));
        let style = Style::default();
        assert_eq!(
            Field::QuotedPrice.value(&ok("Y", &plain), &plain, &style),
            Some("1.50".into())
        );
    }

    #[test]
    fn a_rate_is_shown_with_its_own_decimals_or_as_sent() {
        let rate = |text: &str, precision| FxRate {
            rate: parse_price(text).unwrap(),
            precision,
            source: "ecb",
            date: None,
        };
        assert_eq!(
            fx_rate(&rate("1.225", Some(Decimals::AtLeast(4)))),
            "1.2250"
        );
        // Every decimal sent, even beyond the published ones.
        assert_eq!(
            fx_rate(&rate("0.00671234", Some(Decimals::AtLeast(4)))),
            "0.00671234"
        );
        // A quotient: 6 significant digits, however small.
        assert_eq!(
            fx_rate(&rate(
                "0.8163265306122448979591836735",
                Some(Decimals::QUOTIENT)
            )),
            "0.816327"
        );
        assert_eq!(
            fx_rate(&rate("0.0000567123456789", Some(Decimals::QUOTIENT))),
            "0.0000567123"
        );
        assert_eq!(fx_rate(&rate("0.92165000", None)), "0.92165");
    }
}
