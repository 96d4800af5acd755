//! The latest price from the chart API (`range=1d&interval=1d`).
//!
//! The price is `chart.result[0].meta.regularMarketPrice`, a JSON number whose TEXT is
//! parsed exactly. Unknown symbols answer 404 with `chart.error`; some answer 200 with no
//! price, or with a null currency (a missing price is an error, a null currency is not).
//!
//! The day's change needs yesterday's close: `meta.previousClose` when Yahoo sends it;
//! otherwise `meta.chartPreviousClose`, but only when the answer's `meta.range` is `1d` —
//! for any other window that is the close before the WINDOW, and a "day's change" computed
//! from it would be a multi-year change. Without either, the change is left out.

use super::chart;
use crate::error::FetchError;
use crate::quote::{Quote, parse_price};
use crate::source::Answer;

use super::SPEC;

/// How far ahead of our clock a market time may be (clock skew) before it is refused.
const MAX_CLOCK_SKEW_SECONDS: i64 = 300;

/// Read one latest-price answer to a request for `asked`. Public for the property tests and
/// fuzz targets: it must return an error, never panic, whatever the bytes.
pub fn parse(answer: &Answer, asked: &str) -> Result<Quote, FetchError> {
    let mut result = chart::read(answer, asked)?;
    let meta = &mut result.meta;
    let raw_price = meta
        .regular_market_price
        .ok_or_else(|| SPEC.no_price(String::new()))?;
    let price = parse_price(raw_price.get()).map_err(|e| SPEC.malformed(format!("price {e}")))?;
    if price.is_zero() {
        // No instrument trades at 0 (negative prices stay: futures have traded below zero).
        return Err(SPEC.no_price("the price is 0".into()));
    }
    let time = match meta.regular_market_time.as_ref().and_then(|n| n.as_i64()) {
        // A time outside the calendar (year 9999 and beyond) is no time of any market: the
        // answer is malformed, never a price printed without its time (issue 18).
        Some(t) if jiff::Timestamp::from_second(t).is_err() => {
            return Err(SPEC.malformed(format!("regularMarketTime {t} is not a time")));
        }
        // A price from the future is not one: it would fool --max-age.
        Some(t) if t > jiff::Timestamp::now().as_second() + MAX_CLOCK_SKEW_SECONDS => {
            return Err(SPEC.malformed(format!("regularMarketTime {t} is in the future")));
        }
        time => time,
    };
    let optional_price =
        |raw: Option<&serde_json::value::RawValue>| raw.and_then(|r| parse_price(r.get()).ok());
    let previous_close = match meta.previous_close {
        Some(raw) => optional_price(Some(raw)),
        None if meta.range.as_deref() == Some("1d") => optional_price(meta.chart_previous_close),
        None => None,
    };
    Ok(Quote {
        price,
        currency: meta.currency()?,
        time,
        market_date: None,
        previous_close,
        name: meta.name(),
        exchange: meta.exchange(),
        precision: meta.decimals(),
        quoted: None,
        fx: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_chart(status: u16, body: &[u8]) -> Result<Quote, FetchError> {
        parse(
            &Answer {
                status,
                body: body.to_vec(),
            },
            "X",
        )
    }

    fn body(price: &str, currency: &str) -> String {
        format!(
            r#"{{"chart":{{"result":[{{"meta":{{"currency":{currency},"symbol":"X","regularMarketTime":1742824293,"regularMarketPrice":{price}}}}}],"error":null}}}}"#
        )
    }

    #[test]
    fn reads_price_currency_and_time() {
        let q = parse_chart(200, body("220.003", "\"USD\"").as_bytes()).unwrap();
        assert_eq!(q.price.to_string(), "220.003");
        assert_eq!(q.currency.as_deref(), Some("USD"));
        assert_eq!(q.time, Some(1742824293));
    }

    #[test]
    fn null_currency_is_not_an_error() {
        let q = parse_chart(200, body("1.5", "null").as_bytes()).unwrap();
        assert_eq!(q.currency, None);
    }

    #[test]
    fn missing_price_is_an_error() {
        let b = r#"{"chart":{"result":[{"meta":{"currency":"USD"}}],"error":null}}"#;
        let err = parse_chart(200, b.as_bytes()).unwrap_err();
        assert_eq!(err.kind(), "no_price");
    }

    #[test]
    fn not_found_body() {
        let b = r#"{"chart":{"result":null,"error":{"code":"Not Found","description":"No data found, symbol may be delisted"}}}"#;
        let err = parse_chart(404, b.as_bytes()).unwrap_err();
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
            let err = parse_chart(200, b.as_bytes()).unwrap_err();
            assert_eq!(err.kind(), "malformed_response", "{b}");
        }
    }

    #[test]
    fn zero_future_times_and_odd_currencies_are_refused() {
        let err = parse_chart(200, body("0.0", "\"USD\"").as_bytes()).unwrap_err();
        assert_eq!(err.kind(), "no_price");
        assert!(parse_chart(200, body("-37.63", "\"USD\"").as_bytes()).is_ok());
        let future = jiff::Timestamp::now().as_second() + 3600;
        let b = body("1", "\"USD\"").replace("1742824293", &future.to_string());
        let err = parse_chart(200, b.as_bytes()).unwrap_err();
        assert_eq!(err.kind(), "malformed_response");
        // A minute of clock skew is not an error.
        let skew = jiff::Timestamp::now().as_second() + 60;
        let b = body("1", "\"USD\"").replace("1742824293", &skew.to_string());
        assert!(parse_chart(200, b.as_bytes()).is_ok());
        for currency in [
            "\"USD\\nEVIL  666.00  USD\"",
            "\"\\u001b]52;c;SGVsbG8=\\u0007\"",
            "\"DOLLAR\"",
        ] {
            let err = parse_chart(200, body("1", currency).as_bytes()).unwrap_err();
            assert_eq!(err.kind(), "malformed_response", "{currency}");
        }
    }

    #[test]
    fn a_chart_of_another_instrument_is_malformed() {
        let b = body("1", "\"USD\"").replace(r#""symbol":"X""#, r#""symbol":"MSFT\u001b[2J""#);
        let err = parse_chart(200, b.as_bytes()).unwrap_err();
        assert_eq!(err.kind(), "malformed_response");
        assert_eq!(
            err.to_string(),
            "malformed response from Yahoo: the answer is about MSFT\u{FFFD}[2J, not X"
        );
        // No symbol at all (an old stub): nothing to compare.
        let b = body("1", "\"USD\"").replace(r#""symbol":"X","#, "");
        assert!(parse_chart(200, b.as_bytes()).is_ok());
    }

    #[test]
    fn names_are_bounded_and_made_safe() {
        let name = format!("Evil\\u001b[2J\\u202e{}", "x".repeat(2_000_000));
        let b = body("1", "\"USD\"").replace(
            r#""symbol":"X""#,
            &format!(r#""symbol":"X","longName":"{name}","fullExchangeName":"NYSE\r\n""#),
        );
        let q = parse_chart(200, b.as_bytes()).unwrap();
        let name = q.name.unwrap();
        assert!(
            name.starts_with("Evil\u{FFFD}[2J\u{FFFD}xxx"),
            "{}",
            &name[..20]
        );
        assert_eq!(name.chars().count(), crate::text::MAX_FREE_TEXT + 1);
        assert_eq!(q.exchange.as_deref(), Some("NYSE\u{FFFD}\u{FFFD}"));
    }

    #[test]
    fn price_that_is_not_a_number_is_malformed() {
        let err = parse_chart(200, body("\"12\"", "null").as_bytes()).unwrap_err();
        assert_eq!(err.kind(), "malformed_response");
    }
}

#[cfg(test)]
mod previous_close {
    use super::*;

    const AAPL_RANGE_1D: &[u8] =
        include_bytes!("../../../tests/fixtures/yahoo_chart_AAPL_range_1d_2020-03-02.json");
    const QQQ: &[u8] = include_bytes!("../../../tests/fixtures/yahoo_chart_QQQ.json");

    fn read(body: &[u8], symbol: &str) -> Quote {
        let answer = Answer {
            status: 200,
            body: body.to_vec(),
        };
        parse(&answer, symbol).unwrap()
    }

    #[test]
    fn chart_previous_close_counts_only_for_a_one_day_range() {
        // Recorded with range=1d after the close of 2020-03-02: chartPreviousClose is the
        // close of 2020-02-28, the trading day before.
        let q = read(AAPL_RANGE_1D, "AAPL");
        assert_eq!(q.previous_close.unwrap().to_string(), "273.36");
        // QQQ's recording carries chartPreviousClose 212.61 for a multi-year window: it is
        // not yesterday's close, so there is no day's change at all.
        let q = read(QQQ, "QQQ");
        assert_eq!(q.previous_close, None);
    }

    #[test]
    fn previous_close_wins_whatever_the_range() {
        let body = br#"{"chart":{"result":[{"meta":{"currency":"USD","regularMarketPrice":10,"previousClose":9.5,"chartPreviousClose":1,"range":"5y"}}]}}"#;
        assert_eq!(read(body, "X").previous_close.unwrap().to_string(), "9.5");
        let body = br#"{"chart":{"result":[{"meta":{"currency":"USD","regularMarketPrice":10,"chartPreviousClose":1}}]}}"#;
        assert_eq!(read(body, "X").previous_close, None);
    }
}
