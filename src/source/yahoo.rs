//! Yahoo Finance's chart API: `GET /v8/finance/chart/{SYMBOL}`.
//!
//! The price is `chart.result[0].meta.regularMarketPrice`, a JSON number whose TEXT is
//! parsed exactly (serde_json's `RawValue` hands us the digits as sent). Unknown symbols
//! answer 404 with `chart.error`; some answer 200 with no price, or with a null currency
//! (a missing price is an error, a null currency is not).

use serde::Deserialize;
use serde_json::value::RawValue;

use super::{Query, Source, excerpt, looks_like_html};
use crate::error::FetchError;
use crate::quote::{Quote, parse_price};
use crate::ticker::Ticker;

pub const DEFAULT_BASE_URL: &str = "https://query1.finance.yahoo.com";
const NAME: &str = "Yahoo";

pub struct Yahoo {
    base_url: String,
}

impl Yahoo {
    /// `base_url` is scheme, host, port (and optional path prefix), with no trailing slash.
    pub fn new(base_url: String) -> Yahoo {
        Yahoo { base_url }
    }
}

impl Source for Yahoo {
    fn name(&self) -> &'static str {
        "yahoo"
    }

    fn display_name(&self) -> &'static str {
        NAME
    }

    fn base_url(&self) -> &str {
        &self.base_url
    }

    fn url(&self, query: &Query) -> String {
        if let Some(date) = query.date {
            return super::yahoo_history::history_url(&self.base_url, &query.ticker, date);
        }
        // range=1d&interval=1d keeps the body to ~1 KiB: only meta and one bar.
        format!(
            "{}/v8/finance/chart/{}?range=1d&interval=1d",
            self.base_url,
            query.ticker.path_segment()
        )
    }

    fn parse(&self, query: &Query, status: u16, body: &[u8]) -> Result<Quote, FetchError> {
        match query.date {
            // A past date's price is that day's close, never meta.regularMarketPrice.
            Some(date) => super::yahoo_history::parse_history(query, date, status, body),
            None => parse_chart(&query.ticker, status, body),
        }
    }
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    chart: Chart<'a>,
}

#[derive(Deserialize)]
struct Chart<'a> {
    #[serde(borrow, default)]
    result: Option<Vec<ChartResult<'a>>>,
    #[serde(default)]
    error: Option<ChartError>,
}

#[derive(Deserialize)]
struct ChartError {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Deserialize)]
struct ChartResult<'a> {
    #[serde(borrow)]
    meta: Meta<'a>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Meta<'a> {
    #[serde(default)]
    currency: Option<String>,
    #[serde(borrow, default)]
    regular_market_price: Option<&'a RawValue>,
    #[serde(default)]
    regular_market_time: Option<serde_json::Number>,
    #[serde(borrow, default)]
    previous_close: Option<&'a RawValue>,
    #[serde(borrow, default)]
    chart_previous_close: Option<&'a RawValue>,
    #[serde(default)]
    long_name: Option<String>,
    #[serde(default)]
    short_name: Option<String>,
    #[serde(default)]
    full_exchange_name: Option<String>,
    #[serde(default)]
    exchange_name: Option<String>,
}

/// Read one chart response. Public for the property tests and fuzz targets: it must
/// return an error, never panic, whatever the bytes.
pub fn parse_chart(ticker: &Ticker, status: u16, body: &[u8]) -> Result<Quote, FetchError> {
    let malformed = |detail: String| FetchError::Malformed { api: NAME, detail };
    if looks_like_html(body) {
        return Err(if status == 200 {
            malformed(
                "expected JSON but got an HTML page (a proxy, captive portal or consent page?)"
                    .into(),
            )
        } else {
            http_error(status, String::new())
        });
    }
    let envelope: Envelope = match serde_json::from_slice(body) {
        Ok(envelope) => envelope,
        Err(_) if status == 404 => return Err(not_found(excerpt(body))),
        Err(_) if status != 200 => return Err(http_error(status, excerpt(body))),
        Err(e) => return Err(malformed(format!("not the chart format ({e})"))),
    };
    let chart = envelope.chart;
    let first = chart.result.and_then(|r| r.into_iter().next());
    let Some(result) = first else {
        let (code, description) = chart
            .error
            // Server text goes into a one-line message: no newlines, no terminal escapes.
            .map(|e| {
                (
                    excerpt(e.code.unwrap_or_default().as_bytes()),
                    excerpt(e.description.unwrap_or_default().as_bytes()),
                )
            })
            .unwrap_or_default();
        return Err(if status == 404 || code == "Not Found" {
            not_found(description)
        } else if status != 200 {
            http_error(status, description)
        } else if !description.is_empty() {
            malformed(format!("{code}: {description}"))
        } else {
            malformed("no chart result".into())
        });
    };
    if status != 200 {
        return Err(http_error(status, String::new()));
    }
    let meta = result.meta;
    let raw_price = meta
        .regular_market_price
        .ok_or_else(|| FetchError::NoPrice {
            api: NAME,
            detail: String::new(),
        })?;
    let price = parse_price(raw_price.get()).map_err(|e| malformed(format!("price {e}")))?;
    let optional_price = |raw: Option<&RawValue>| raw.and_then(|r| parse_price(r.get()).ok());
    Ok(Quote {
        symbol: ticker.clone(),
        source: "yahoo",
        price,
        currency: meta.currency.filter(|c| !c.is_empty()),
        // A time outside the calendar is no time at all (never a silently dropped line).
        time: meta
            .regular_market_time
            .and_then(|n| n.as_i64())
            .filter(|t| jiff::Timestamp::from_second(*t).is_ok()),
        market_date: None,
        previous_close: optional_price(meta.previous_close)
            .or_else(|| optional_price(meta.chart_previous_close)),
        name: meta.long_name.or(meta.short_name),
        exchange: meta.full_exchange_name.or(meta.exchange_name),
    })
}

fn not_found(detail: String) -> FetchError {
    FetchError::NotFound {
        api: NAME,
        detail: if detail.is_empty() {
            "no data for this symbol".into()
        } else {
            detail
        },
    }
}

fn http_error(status: u16, detail: String) -> FetchError {
    FetchError::Http {
        api: NAME,
        status,
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticker(s: &str) -> Ticker {
        Ticker::parse(s).unwrap()
    }

    fn body(price: &str, currency: &str) -> String {
        format!(
            r#"{{"chart":{{"result":[{{"meta":{{"currency":{currency},"symbol":"X","regularMarketTime":1742824293,"regularMarketPrice":{price}}}}}],"error":null}}}}"#
        )
    }

    #[test]
    fn reads_price_currency_and_time() {
        let q = parse_chart(&ticker("X"), 200, body("220.003", "\"USD\"").as_bytes()).unwrap();
        assert_eq!(q.price.to_string(), "220.003");
        assert_eq!(q.currency.as_deref(), Some("USD"));
        assert_eq!(q.time, Some(1742824293));
    }

    #[test]
    fn null_currency_is_not_an_error() {
        let q = parse_chart(&ticker("X"), 200, body("1.5", "null").as_bytes()).unwrap();
        assert_eq!(q.currency, None);
    }

    #[test]
    fn missing_price_is_an_error() {
        let b = r#"{"chart":{"result":[{"meta":{"currency":"USD"}}],"error":null}}"#;
        let err = parse_chart(&ticker("X"), 200, b.as_bytes()).unwrap_err();
        assert_eq!(err.kind(), "no_price");
    }

    #[test]
    fn not_found_body() {
        let b = r#"{"chart":{"result":null,"error":{"code":"Not Found","description":"No data found, symbol may be delisted"}}}"#;
        let err = parse_chart(&ticker("X"), 404, b.as_bytes()).unwrap_err();
        assert_eq!(err.kind(), "not_found");
        assert!(err.to_string().contains("symbol may be delisted"), "{err}");
    }

    #[test]
    fn html_and_garbage_are_malformed() {
        for b in [
            "<html>consent</html>",
            "{",
            "",
            "[]",
            "{\"chart\":{}}",
            "null",
        ] {
            let err = parse_chart(&ticker("X"), 200, b.as_bytes()).unwrap_err();
            assert_eq!(err.kind(), "malformed_response", "{b}");
        }
    }

    #[test]
    fn price_that_is_not_a_number_is_malformed() {
        let err = parse_chart(&ticker("X"), 200, body("\"12\"", "null").as_bytes()).unwrap_err();
        assert_eq!(err.kind(), "malformed_response");
    }
}
