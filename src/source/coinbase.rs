//! Coinbase's public price API: `GET /v2/prices/{BASE}-{QUOTE}/spot[?date=YYYY-MM-DD]`.
//!
//! This file is the whole of the Coinbase source: its [`SPEC`] (one line in the registry
//! lists it), the requests and the reading of the answers. Nothing here knows about the
//! client, `--jobs`, retries or output.
//!
//! The answer is `{"data":{"base":"BTC","currency":"USD","amount":"48691.23"}}`. The amount
//! is a JSON STRING with anywhere from 2 to 16 decimals; its text goes to [`parse_price`]
//! as sent, so `"59465.39029629"` stays exact to the last digit. Errors answer
//! `{"errors":[{"id":"not_found","message":"Invalid base currency"}]}` with 404 or 400.
//! Spot prices carry no timestamp: the latest price is stamped with the moment it was
//! read, a `--date` price with 00:00 UTC of that day.
//!
//! **Ranges** (issue 10) come from Coinbase Exchange's daily candles,
//! `GET /products/{PAIR}/candles?granularity=86400&start=…&end=…`, a second endpoint with its
//! own base URL. Each candle is `[time, low, high, open, close, volume]`, JSON numbers, newest
//! first; `time` is the UTC midnight that opens the day, and the close is that UTC day's
//! last price, read exactly from the number's TEXT. At most 300 candles come per request, so
//! a longer range is several requests of at most [`CANDLES_PER_REQUEST`] days, fetched
//! concurrently like any other requests. Today's candle is the price so far, not a close,
//! and is left out. Crypto has no splits: a close is as traded whatever `--adjust` says.

use std::sync::Arc;

use reqwest::Url;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::{Answer, Endpoint, Parsed, Query, Source, SourceSpec, When, endpoint_url, pair_base};
use crate::calendar::{Horizon, instant_text, midnight_utc, today_utc, utc_date};
use crate::error::FetchError;
use crate::history::{self, Range};
use crate::quote::{Quote, parse_price};
use crate::text::{self, excerpt};
use crate::ticker::Ticker;

pub static SPEC: SourceSpec = SourceSpec {
    name: "coinbase",
    display_name: "Coinbase",
    about: "Coinbase: crypto currency pairs",
    tickers: "BTC-USD, ETH-EUR",
    not_found_hint: "check the pair, e.g. BTC-USD",
    endpoints: &[
        Endpoint {
            flag: "coinbase-url",
            env: "QUOTES_COINBASE_URL",
            default_url: "https://api.coinbase.com",
            about: "Coinbase's price API",
        },
        Endpoint {
            flag: "coinbase-exchange-url",
            env: "QUOTES_COINBASE_EXCHANGE_URL",
            default_url: "https://api.exchange.coinbase.com",
            about: "Coinbase Exchange's candles API (ranges of daily closes)",
        },
    ],
    build: |urls| Arc::new(Coinbase::new(urls)),
    rates: None,
    key: None,
    limits: super::Limits::NONE,
};

/// The most daily candles Coinbase Exchange answers in one request.
pub const CANDLES_PER_REQUEST: i64 = 300;

pub struct Coinbase {
    base_url: Url,
    exchange_url: Url,
}

impl Coinbase {
    /// `urls` holds the base URLs of [`SPEC`]'s endpoints: the price API, then Exchange.
    pub fn new(urls: &[Url]) -> Coinbase {
        Coinbase {
            base_url: SPEC.base_url(urls, 0),
            exchange_url: SPEC.base_url(urls, 1),
        }
    }

    /// The candles requests of a range: one per span of at most 300 days.
    fn candles(&self, pair: &str, range: &Range) -> Vec<Url> {
        history::chunks(range.from, range.to, CANDLES_PER_REQUEST)
            .into_iter()
            .map(|(start, end)| {
                let iso = |day: jiff::civil::Date| format!("{day}T00:00:00Z");
                endpoint_url(
                    &self.exchange_url,
                    &["products", pair, "candles"],
                    &[
                        ("granularity", "86400"),
                        ("start", &iso(start)),
                        ("end", &iso(end)),
                    ],
                )
            })
            .collect()
    }
}

impl Source for Coinbase {
    fn spec(&self) -> &'static SourceSpec {
        &SPEC
    }

    fn check(&self, ticker: &Ticker) -> Result<(), FetchError> {
        check_pair(ticker)
    }

    fn requests(&self, query: &Query) -> Vec<Url> {
        if let When::Range(range) = &query.when {
            return self.candles(query.ticker.as_str(), range);
        }
        let segments = ["v2", "prices", query.ticker.as_str(), "spot"];
        // jiff writes a civil date as ISO 8601 `YYYY-MM-DD`, the form Coinbase expects.
        let date = query.when.date().map(|d| d.to_string());
        let params: Vec<(&str, &str)> = date.iter().map(|d| ("date", d.as_str())).collect();
        vec![endpoint_url(&self.base_url, &segments, &params)]
    }

    fn parse(&self, query: &Query, answers: &[&Answer]) -> Result<Parsed, FetchError> {
        if let When::Range(range) = &query.when {
            return parse_candles(&query.ticker, range, answers, today_utc());
        }
        let Some(&answer) = answers.first() else {
            return Err(FetchError::Other("internal: no answer to read".into()));
        };
        parse_spot(query.when, answer).map(|quote| vec![quote].into())
    }

    /// A pair is a price of its base: `BTC-USD` is written `BTC`.
    fn commodity(&self, ticker: &Ticker) -> String {
        pair_base(ticker).unwrap_or_else(|| ticker.to_string())
    }
}

/// Check that a ticker is a Coinbase currency pair, `BASE-QUOTE` with both parts made of
/// letters and digits (`BTC-USD`, `ETH-EUR`). Call it before any request: `AAPL` or
/// `BRK-B.X` would only earn a 404 that says less than this does.
pub fn check_pair(ticker: &Ticker) -> Result<(), FetchError> {
    let is_currency = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric());
    match ticker.as_str().split_once('-') {
        Some((base, quote)) if is_currency(base) && is_currency(quote) => Ok(()),
        _ => Err(FetchError::InvalidTicker(format!(
            "{ticker} is not a currency pair; Coinbase tickers are currency pairs like BTC-USD"
        ))),
    }
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    data: Option<Spot<'a>>,
    #[serde(default)]
    errors: Option<Vec<ApiError>>,
}

#[derive(Deserialize)]
struct Spot<'a> {
    #[serde(default)]
    currency: Option<String>,
    /// A JSON string as documented; a JSON number is taken by its raw text too.
    #[serde(borrow, default)]
    amount: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct ApiError {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// Read one spot-price response. Public for the property tests and fuzz targets: it must
/// return an error, never panic, whatever the bytes.
pub fn parse_spot(when: When, answer: &Answer) -> Result<Quote, FetchError> {
    let (status, body) = (answer.status, answer.body.as_slice());
    let malformed = |detail: String| SPEC.malformed(detail);
    SPEC.refuse_html(answer, "JSON")?;
    let envelope: Envelope = match serde_json::from_slice(body) {
        Ok(envelope) => envelope,
        Err(_) if status == 404 => return Err(not_found(excerpt(body))),
        Err(_) if status != 200 => return Err(SPEC.http_error(status, excerpt(body))),
        Err(e) => {
            return Err(malformed(format!(
                "not the spot-price format ({})",
                text::serde_error(&e)
            )));
        }
    };
    if let Some(error) = envelope.errors.and_then(|e| e.into_iter().next()) {
        return Err(api_error(status, error));
    }
    if status != 200 {
        return Err(SPEC.http_error(status, String::new()));
    }
    let Some(spot) = envelope.data else {
        return Err(malformed("neither data nor errors".into()));
    };
    let raw_amount = spot.amount.ok_or_else(|| SPEC.no_price(String::new()))?;
    let text = amount_text(raw_amount).map_err(|e| malformed(format!("amount {e}")))?;
    let price = parse_price(&text).map_err(|e| malformed(format!("amount {e}")))?;
    if price.is_zero() {
        return Err(SPEC.no_price("the amount is 0".into()));
    }
    let currency = text::currency(spot.currency).map_err(|e| malformed(e.to_string()))?;
    Ok(Quote {
        price,
        currency,
        // Spot is "now": the moment the answer was read.
        time: Some(
            when.date()
                .map_or_else(|| jiff::Timestamp::now().as_second(), midnight_utc),
        ),
        market_date: when.date(),
        previous_close: None,
        name: None,
        exchange: None,
        precision: None,
        quoted: None,
        fx: None,
    })
}

/// The decimal text of `amount`: the contents of a JSON string (unescaped), or the raw
/// text of a JSON number, in the plain form the API sends (`48691.23`): an exponent
/// (`1e5`) is refused like any other text that is not a decimal.
fn amount_text(raw: &RawValue) -> Result<String, String> {
    let text = raw.get();
    let amount = match text.as_bytes().first() {
        Some(b'"') => serde_json::from_str::<String>(text).map_err(|e| text::serde_error(&e))?,
        Some(b'-' | b'0'..=b'9') => text.to_string(),
        _ => String::new(),
    };
    let digits = amount.strip_prefix('-').unwrap_or(&amount);
    let plain = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    if !plain {
        return Err(format!(
            "{} is not a decimal string",
            excerpt(text.as_bytes())
        ));
    }
    Ok(amount)
}

/// Read the candles answers of a range (in the order [`Source::requests`] gave them): the
/// close of every UTC day inside `range` and before `today`, ascending. No candle in the
/// range is an empty list (the caller words that error). A crypto pair trades every day:
/// a day of the range before `today` without a candle is a gap, never a day without
/// trading (issue 17); a candle stamped more than a day ahead of `today` is malformed.
///
/// Public for the property tests and fuzz targets: it must return an error, never panic,
/// whatever the bytes.
pub fn parse_candles(
    pair: &Ticker,
    range: &Range,
    answers: &[&Answer],
    today: jiff::civil::Date,
) -> Result<Parsed, FetchError> {
    let horizon = Horizon::at(midnight_utc(today));
    let mut closes: Vec<(jiff::civil::Date, i64, rust_decimal::Decimal)> = Vec::new();
    for answer in answers {
        for candle in read_candles(answer)? {
            let [time, _low, _high, _open, close, ..] = candle.as_slice() else {
                return Err(SPEC.malformed(format!("a candle has {} values, not 6", candle.len())));
            };
            let time: i64 = time.get().parse().map_err(|_| {
                SPEC.malformed(format!("candle time {}", excerpt(time.get().as_bytes())))
            })?;
            let day = utc_date(time)
                .ok_or_else(|| SPEC.malformed(format!("candle time {time} is out of range")))?;
            // The UTC midnight that opens today is the last a candle can start at (and
            // that one is the price so far); a day later, with slack, is the future.
            if !horizon.allows_time(time) {
                return Err(SPEC.malformed(format!(
                    "a candle stamped {} is in the future",
                    instant_text(time)
                )));
            }
            // Today's candle is the price so far, not a close.
            if !range.contains(day) || day >= today {
                continue;
            }
            let price =
                parse_price(close.get()).map_err(|e| SPEC.malformed(format!("close {e}")))?;
            closes.push((day, time, price));
        }
    }
    closes.sort_by_key(|(day, time, _)| (*day, *time));
    closes.dedup_by_key(|(day, ..)| *day);
    // Every day of the range that is over and has no candle is one Coinbase did not send
    // (a candle of 0 is the fetcher's to turn into a gap, as for any source).
    let mut gaps = Vec::new();
    let mut sent = closes.iter().map(|(day, ..)| *day).peekable();
    let last = today.yesterday().unwrap_or(today).min(range.to);
    for day in history::days(range.from, last) {
        if sent.next_if_eq(&day).is_none() {
            gaps.push(day);
        }
    }
    // Candles carry no currency: it is the pair's quote currency, held to the same rule as
    // a currency a server sends (it goes into ledgers).
    let quote_currency = pair.as_str().split_once('-').map(|(_, q)| q.to_string());
    let currency = text::currency(quote_currency).map_err(|e| SPEC.malformed(e.to_string()))?;
    let quotes = closes
        .into_iter()
        .map(|(day, time, price)| Quote {
            price,
            currency: currency.clone(),
            time: Some(time),
            market_date: Some(day),
            previous_close: None,
            name: None,
            exchange: None,
            ..Quote::default()
        })
        .collect();
    Ok(Parsed { quotes, gaps })
}

/// One candles answer: a list of candles, each a list of numbers borrowed as text; or the
/// error it stands for (`{"message":"NotFound"}` with 404 for an unknown pair).
fn read_candles(answer: &Answer) -> Result<Vec<Vec<&RawValue>>, FetchError> {
    #[derive(Deserialize)]
    struct Message {
        #[serde(default)]
        message: Option<String>,
    }
    let (status, body) = (answer.status, answer.body.as_slice());
    SPEC.refuse_html(answer, "JSON")?;
    if status == 200 {
        return serde_json::from_slice(body)
            .map_err(|e| SPEC.malformed(format!("not the candles format ({e})")));
    }
    let detail = match serde_json::from_slice::<Message>(body) {
        Ok(Message {
            message: Some(message),
        }) => excerpt(message.as_bytes()),
        _ => excerpt(body),
    };
    Err(if status == 404 {
        not_found(detail)
    } else {
        SPEC.http_error(status, detail)
    })
}

/// Map Coinbase's `errors[0]` to what the user can act on.
///
/// An unknown currency is "not found" whichever status carries it: Coinbase says
/// `not_found` / "Invalid base currency" with 404 for an unknown base, but
/// `invalid_request` / "Invalid currency (X)" with 400 for an unknown quote currency. Both
/// mean the pair does not exist, so both are `NotFound`; any other 400 stays an HTTP error
/// with Coinbase's message.
fn api_error(status: u16, error: ApiError) -> FetchError {
    // Server text goes into a one-line message: no newlines, no terminal escapes.
    let id = excerpt(error.id.unwrap_or_default().as_bytes());
    let message = excerpt(error.message.unwrap_or_default().as_bytes());
    let detail = if message.is_empty() {
        id.clone()
    } else {
        message.clone()
    };
    let lower = message.to_ascii_lowercase();
    let unknown_currency = lower.contains("invalid") && lower.contains("currency");
    if status == 429 || id == "rate_limit_exceeded" {
        FetchError::RateLimited {
            api: SPEC.display_name,
            retry_after: None,
        }
    } else if status == 404 || id == "not_found" || unknown_currency {
        not_found(detail)
    } else if status != 200 {
        SPEC.http_error(status, detail)
    } else {
        SPEC.malformed(format!("error {id}: {message}"))
    }
}

fn not_found(detail: String) -> FetchError {
    SPEC.not_found(if detail.is_empty() {
        "no such currency pair".into()
    } else {
        detail
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPOT: &[u8] = include_bytes!("../../tests/fixtures/coinbase_spot_BTC-USD.json");
    const WITH_WARNINGS: &[u8] =
        include_bytes!("../../tests/fixtures/coinbase_spot_BTC-USD_with_warnings.json");
    const NOT_FOUND_404: &[u8] =
        include_bytes!("../../tests/fixtures/coinbase_spot_error_invalid_base_currency.404.json");
    const INVALID_CURRENCY_400: &[u8] =
        include_bytes!("../../tests/fixtures/coinbase_error_invalid_currency.400.json");

    fn query(ticker: &str) -> Query {
        Query {
            ticker: Ticker::parse(ticker).unwrap(),
            when: When::Latest,
        }
    }

    fn on(ticker: &str, date: &str) -> Query {
        Query {
            when: When::Close(date.parse().unwrap(), crate::history::Adjust::None),
            ..query(ticker)
        }
    }

    fn source() -> Coinbase {
        Coinbase::new(&[
            Url::parse("http://127.0.0.1:8080").unwrap(),
            Url::parse("http://127.0.0.1:9090/x/").unwrap(),
        ])
    }

    /// Read `body` as the answer to `query` with `status`.
    fn parse_spot(query: &Query, status: u16, body: &[u8]) -> Result<Quote, FetchError> {
        super::parse_spot(
            query.when,
            &Answer {
                status,
                body: body.to_vec(),
            },
        )
    }

    fn url(query: &Query) -> String {
        source().requests(query)[0].to_string()
    }

    #[test]
    fn url_for_the_latest_price() {
        assert_eq!(
            url(&query("btc-usd")),
            "http://127.0.0.1:8080/v2/prices/BTC-USD/spot"
        );
    }

    #[test]
    fn url_for_a_date() {
        assert_eq!(
            url(&on("BTC-USD", "2024-03-05")),
            "http://127.0.0.1:8080/v2/prices/BTC-USD/spot?date=2024-03-05"
        );
    }

    #[test]
    fn url_keeps_the_pair_one_segment() {
        // check_pair rejects this, but the request must still never build another path.
        assert_eq!(
            url(&query("A^B")),
            "http://127.0.0.1:8080/v2/prices/A^B/spot"
        );
    }

    #[test]
    fn check_pair_accepts_currency_pairs() {
        for ok in ["BTC-USD", "eth-eur", "USDC-USD", "1INCH-USD"] {
            assert!(check_pair(&Ticker::parse(ok).unwrap()).is_ok(), "{ok}");
        }
    }

    #[test]
    fn check_pair_rejects_other_tickers_with_a_hint() {
        for bad in [
            "AAPL",
            "BTC-",
            "-USD",
            "BTC-USD-EUR",
            "BTC.X-USD",
            "BTC-US^D",
            "BTC_USD",
        ] {
            let err = check_pair(&Ticker::parse(bad).unwrap()).unwrap_err();
            assert_eq!(err.kind(), "invalid_ticker", "{bad}");
            assert!(
                err.to_string().contains("currency pairs like BTC-USD"),
                "{err}"
            );
        }
    }

    #[test]
    fn reads_amount_and_currency() {
        let q = parse_spot(&query("BTC-USD"), 200, SPOT).unwrap();
        assert_eq!(q.price.to_string(), "48691.23");
        assert_eq!(q.currency.as_deref(), Some("USD"));
        let now = jiff::Timestamp::now().as_second();
        let stamped = q.time.expect("spot is stamped with the time it was read");
        assert!((now - 5..=now).contains(&stamped), "{stamped} vs {now}");
        assert_eq!((q.previous_close, q.name, q.exchange), (None, None, None));
    }

    #[test]
    fn keeps_every_digit_of_a_long_amount() {
        let b = br#"{"data":{"amount":"59465.39029629","currency":"USD","base":"BTC"}}"#;
        let q = parse_spot(&query("BTC-USD"), 200, b).unwrap();
        assert_eq!(q.price.to_string(), "59465.39029629");
    }

    #[test]
    fn integral_amount_with_zero_decimals() {
        // "8125.00": parse_price keeps the value, not the trailing zeros; the writer pads.
        let q = parse_spot(&query("BTC-USD"), 200, WITH_WARNINGS).unwrap();
        assert_eq!(q.price, rust_decimal::Decimal::from(8125));
    }

    #[test]
    fn warnings_and_other_keys_are_ignored() {
        let q = parse_spot(&query("BTC-USD"), 200, WITH_WARNINGS).unwrap();
        assert_eq!(q.currency.as_deref(), Some("USD"));
        let b = br#"{"warnings":[],"data":{"currency":"EUR","extra":{"x":1},"amount":"1.5"},"meta":null}"#;
        let q = parse_spot(&query("BTC-EUR"), 200, b).unwrap();
        assert_eq!(q.price.to_string(), "1.5");
        assert_eq!(q.currency.as_deref(), Some("EUR"));
    }

    #[test]
    fn a_json_number_amount_is_read_by_its_text() {
        let b = br#"{"data":{"base":"BTC","currency":"USD","amount":59465.39029629}}"#;
        let q = parse_spot(&query("BTC-USD"), 200, b).unwrap();
        assert_eq!(q.price.to_string(), "59465.39029629");
    }

    #[test]
    fn a_dated_price_is_stamped_at_midnight_utc() {
        let q = parse_spot(&on("BTC-USD", "2024-03-05"), 200, SPOT).unwrap();
        // 2024-03-05T00:00:00Z
        assert_eq!(q.time, Some(1709596800));
    }

    #[test]
    fn unknown_base_404_is_not_found() {
        let err = parse_spot(&query("XRP-USD"), 404, NOT_FOUND_404).unwrap_err();
        assert_eq!(err.kind(), "not_found");
        assert!(err.to_string().contains("Invalid base currency"), "{err}");
    }

    #[test]
    fn unknown_currency_400_is_not_found() {
        let err = parse_spot(&query("BTC-X"), 400, INVALID_CURRENCY_400).unwrap_err();
        assert_eq!(err.kind(), "not_found");
        assert!(err.to_string().contains("Invalid currency (X)"), "{err}");
    }

    #[test]
    fn other_400_is_an_http_error_with_the_message() {
        let b = br#"{"errors":[{"id":"invalid_request","message":"date is in the future"}]}"#;
        let err = parse_spot(&query("BTC-USD"), 400, b).unwrap_err();
        assert_eq!(err, SPEC.http_error(400, "date is in the future".into()));
    }

    #[test]
    fn rate_limit_body_is_rate_limited() {
        let b = br#"{"errors":[{"id":"rate_limit_exceeded","message":"Too many requests"}]}"#;
        let err = parse_spot(&query("BTC-USD"), 429, b).unwrap_err();
        assert_eq!(err.kind(), "rate_limited");
    }

    #[test]
    fn non_json_error_bodies_keep_their_status() {
        let err = parse_spot(&query("BTC-USD"), 404, b"Not Found").unwrap_err();
        assert_eq!(err.kind(), "not_found");
        let err = parse_spot(&query("BTC-USD"), 403, b"Forbidden").unwrap_err();
        assert_eq!(err.kind(), "http_status");
        assert!(err.to_string().contains("Forbidden"), "{err}");
    }

    #[test]
    fn a_200_without_amount_is_no_price() {
        for b in [
            r#"{"data":{"base":"BTC","currency":"USD"}}"#,
            r#"{"data":{"base":"BTC","currency":"USD","amount":null}}"#,
        ] {
            let err = parse_spot(&query("BTC-USD"), 200, b.as_bytes()).unwrap_err();
            assert_eq!(err.kind(), "no_price", "{b}");
        }
    }

    #[test]
    fn html_is_malformed_on_200_and_an_http_error_otherwise() {
        let page = b"\n  <!DOCTYPE html><html>Attention Required! | Cloudflare</html>";
        let err = parse_spot(&query("BTC-USD"), 200, page).unwrap_err();
        assert_eq!(err.kind(), "malformed_response");
        assert!(err.to_string().contains("HTML"), "{err}");
        let err = parse_spot(&query("BTC-USD"), 403, page).unwrap_err();
        assert_eq!(err.kind(), "http_status");
    }

    #[test]
    fn garbage_is_malformed() {
        for b in [
            "",
            "{",
            "null",
            "[]",
            "{}",
            "\"48691.23\"",
            r#"{"data":{"amount":"abc"}}"#,
            r#"{"data":{"amount":""}}"#,
            r#"{"data":{"amount":" 1.5"}}"#,
            r#"{"data":{"amount":true}}"#,
            r#"{"data":{"amount":{"value":"1"}}}"#,
            r#"{"data":{"amount":"1e400"}}"#,
            r#"{"data":{"amount":"1.5","currency":7}}"#,
        ] {
            let err = parse_spot(&query("BTC-USD"), 200, b.as_bytes()).unwrap_err();
            assert_eq!(err.kind(), "malformed_response", "{b}");
        }
    }

    #[test]
    fn exponents_zero_and_odd_currencies_are_refused() {
        for amount in [r#""1e5""#, "1e5", r#""1E+2""#, r#""-""#, r#""1.5 ""#] {
            let b = format!(r#"{{"data":{{"currency":"USD","amount":{amount}}}}}"#);
            let err = parse_spot(&query("BTC-USD"), 200, b.as_bytes()).unwrap_err();
            assert_eq!(err.kind(), "malformed_response", "{amount}");
        }
        let b = br#"{"data":{"currency":"USD","amount":"0.00"}}"#;
        let err = parse_spot(&query("BTC-USD"), 200, b).unwrap_err();
        assert_eq!(err.kind(), "no_price");
        let b = br#"{"data":{"currency":"USD","amount":"-0.5"}}"#;
        assert!(
            parse_spot(&query("BTC-USD"), 200, b).is_ok(),
            "negative stays"
        );
        for currency in [r"USD\nEVIL 666", "U", r"\u001b[2J", "DOLLARS"] {
            let b = format!(r#"{{"data":{{"currency":"{currency}","amount":"1"}}}}"#);
            let err = parse_spot(&query("BTC-USD"), 200, b.as_bytes()).unwrap_err();
            assert_eq!(err.kind(), "malformed_response", "{currency}");
            assert!(!err.to_string().contains(['\n', '\x1b']), "{err}");
        }
    }

    #[test]
    fn a_huge_string_in_a_type_error_is_cut() {
        let b = format!(
            r#"{{"data":{{"currency":7,"amount":"{}"}}}}"#,
            "9".repeat(100_000)
        );
        let err = parse_spot(&query("BTC-USD"), 200, b.as_bytes()).unwrap_err();
        assert!(
            err.to_string().len() < 400,
            "{} bytes",
            err.to_string().len()
        );
    }

    #[test]
    fn never_panics_on_arbitrary_bytes() {
        let mut samples: Vec<Vec<u8>> = vec![
            vec![0xff, 0xfe, 0x00],
            b"{\"data\":{\"amount\":\"\xff\"}}".to_vec(),
            b"{\"data\":{\"amount\":\"\\u0031.5\"}}".to_vec(),
        ];
        for cut in 0..SPOT.len() {
            samples.push(SPOT[..cut].to_vec());
        }
        for b in &samples {
            for status in [200, 400, 404, 429, 500] {
                let _ = parse_spot(&query("BTC-USD"), status, b);
            }
        }
    }

    const CANDLES: &[u8] =
        include_bytes!("../../tests/fixtures/coinbase_candles_BTC-EUR_2021-01-01_2021-01-07.json");

    fn range(from: &str, to: &str) -> Range {
        Range::new(
            from.parse().unwrap(),
            to.parse().unwrap(),
            history::Interval::Day,
            history::Adjust::None,
        )
        .unwrap()
    }

    fn candles(range: &Range, bodies: &[(u16, &[u8])]) -> Result<Vec<Quote>, FetchError> {
        let answers: Vec<Answer> = bodies
            .iter()
            .map(|(status, body)| Answer {
                status: *status,
                body: body.to_vec(),
            })
            .collect();
        let answers: Vec<&Answer> = answers.iter().collect();
        candles_of("BTC-EUR", range, &answers)
    }

    fn candles_of(
        pair: &str,
        range: &Range,
        answers: &[&Answer],
    ) -> Result<Vec<Quote>, FetchError> {
        let pair = Ticker::parse(pair).unwrap();
        parse_candles(&pair, range, answers, jiff::civil::date(2026, 1, 1)).map(|p| p.quotes)
    }

    #[test]
    fn a_range_asks_exchange_for_candles_in_spans_of_300_days() {
        let query = Query {
            ticker: Ticker::parse("btc-eur").unwrap(),
            when: When::Range(range("2021-01-01", "2021-01-07")),
        };
        assert_eq!(
            source().requests(&query)[0].as_str(),
            "http://127.0.0.1:9090/x/products/BTC-EUR/candles?granularity=86400\
             &start=2021-01-01T00%3A00%3A00Z&end=2021-01-07T00%3A00%3A00Z"
        );
        let query = Query {
            when: When::Range(range("2020-01-01", "2021-12-31")),
            ..query
        };
        let urls = source().requests(&query);
        assert_eq!(urls.len(), 3);
        assert!(
            urls[1].as_str().contains("start=2020-10-27T"),
            "{}",
            urls[1]
        );
    }

    #[test]
    fn candles_are_read_exactly_oldest_first() {
        let quotes = candles(&range("2021-01-01", "2021-01-07"), &[(200, CANDLES)]).unwrap();
        let days: Vec<String> = quotes
            .iter()
            .map(|q| q.market_date.unwrap().to_string())
            .collect();
        assert_eq!(days.first().map(String::as_str), Some("2021-01-01"));
        assert_eq!(days.len(), 7);
        assert_eq!(quotes[0].price.to_string(), "24070.97");
        assert_eq!(quotes[0].time, Some(1609459200));
        assert_eq!(quotes[0].currency.as_deref(), Some("EUR"));
        assert_eq!(quotes[6].price.to_string(), "32120.19");
        // Only the days of the range, and never today's candle.
        let quotes = candles(&range("2021-01-02", "2021-01-03"), &[(200, CANDLES)]).unwrap();
        assert_eq!(quotes.len(), 2);
        let pair = Ticker::parse("BTC-EUR").unwrap();
        let answer = Answer {
            status: 200,
            body: CANDLES.to_vec(),
        };
        let today = parse_candles(
            &pair,
            &range("2021-01-01", "2021-01-07"),
            &[&answer],
            jiff::civil::date(2021, 1, 7),
        )
        .unwrap();
        assert_eq!(today.quotes.len(), 6);
        // Two answers (two spans) combine, in order; nothing in range is an empty list.
        let both = candles(
            &range("2021-01-01", "2021-01-07"),
            &[(200, b"[[1609545600,1,2,3,4.5,6]]"), (200, CANDLES)],
        )
        .unwrap();
        assert_eq!(both.len(), 7);
        assert!(
            candles(&range("2022-01-01", "2022-01-07"), &[(200, CANDLES)])
                .unwrap()
                .is_empty()
        );
        assert!(
            candles(&range("2022-01-01", "2022-01-07"), &[(200, b"[]")])
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn a_day_without_a_candle_is_a_gap_and_a_candle_to_come_is_malformed() {
        let pair = Ticker::parse("BTC-EUR").unwrap();
        let r = range("2021-01-01", "2021-01-07");
        // The recorded week without 2021-01-03 (1609632000) and 2021-01-05.
        let body = b"[[1609891200,1,2,3,5.5,6],[1609718400,1,2,3,4.5,6],\
                     [1609545600,1,2,3,3.5,6],[1609459200,1,2,3,2.5,6]]";
        let answer = Answer {
            status: 200,
            body: body.to_vec(),
        };
        let parsed = parse_candles(&pair, &r, &[&answer], jiff::civil::date(2021, 1, 8)).unwrap();
        let day = |d: &str| d.parse::<jiff::civil::Date>().unwrap();
        assert_eq!(parsed.quotes.len(), 4);
        assert_eq!(
            parsed.gaps,
            [day("2021-01-03"), day("2021-01-05"), day("2021-01-07")]
        );
        // Today and after are no days yet: no gap.
        let parsed = parse_candles(&pair, &r, &[&answer], jiff::civil::date(2021, 1, 7)).unwrap();
        assert_eq!(parsed.gaps, [day("2021-01-03"), day("2021-01-05")]);
        // A candle stamped two days after today is from no market.
        let err = parse_candles(&pair, &r, &[&answer], jiff::civil::date(2021, 1, 4)).unwrap_err();
        assert_eq!(err.kind(), "malformed_response");
        assert!(err.to_string().contains("in the future"), "{err}");
    }

    #[test]
    fn candle_errors_are_worded() {
        let r = range("2021-01-01", "2021-01-07");
        let err = candles(&r, &[(404, br#"{"message":"NotFound"}"#)]).unwrap_err();
        assert_eq!(err.kind(), "not_found");
        assert!(err.to_string().contains("NotFound"), "{err}");
        let err = candles(&r, &[(400, br#"{"message":"granularity too small"}"#)]).unwrap_err();
        assert_eq!(err, SPEC.http_error(400, "granularity too small".into()));
        for bad in [
            &b""[..],
            b"{}",
            b"[[1609459200,1,2,3]]",
            b"[[\"1609459200\",1,2,3,4,5]]",
            b"[[1609459200,1,2,3,\"4\",5]]",
            b"[[1e3,1,2,3,4,5]]",
            b"[[99999999999999999,1,2,3,4,5]]",
            b"[[1609459200,1,2,3,1e400,5]]",
            b"<html></html>",
        ] {
            let err = candles(&r, &[(200, bad)]).unwrap_err();
            assert_eq!(
                err.kind(),
                "malformed_response",
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        for cut in 0..CANDLES.len() {
            let _ = candles(&r, &[(200, &CANDLES[..cut])]);
        }
        // The currency comes from the pair, and is held to the rule for any currency.
        let answer = Answer {
            status: 200,
            body: CANDLES.to_vec(),
        };
        let err = candles_of("BTC-1INCH", &r, &[&answer]).unwrap_err();
        assert_eq!(err.kind(), "malformed_response");
        assert!(err.to_string().contains("1INCH"), "{err}");
    }

    #[test]
    fn a_pair_is_a_price_of_its_base() {
        assert_eq!(
            source().commodity(&Ticker::parse("btc-usd").unwrap()),
            "BTC"
        );
    }
}
