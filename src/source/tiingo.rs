//! Tiingo's end-of-day API (issue 19): US stocks, ETFs and mutual funds, decades of daily
//! closes; a free key in `TIINGO_API_KEY`, sent as the `token` query parameter (by the
//! fetcher, on the wire only: see `secret`).
//!
//! `GET /tiingo/daily/{TICKER}/prices` answers the latest day's bar, a one-element array;
//! with `startDate`/`endDate` every day of the window (`--date` asks for the week up to the
//! date). Each bar is `{"date": "2015-01-02T00:00:00.000Z", "close": 529.55, "adjClose": …}`
//! (the latest form writes the date `2018-04-12T00:00:00+00:00`; those two forms are read,
//! any other is malformed). The day is the date's; the price's time is that day's close,
//! 16:00 New York (`us_market`).
//!
//! **Which close.** `close` is the raw close, as traded that day (Tiingo's documentation:
//! "both raw prices and adjusted prices are available"; the recorded AAPL close of
//! 2018-01-05 is 175.0 where `adjClose` is 173.63); `adjClose` is adjusted for splits and
//! dividends, for `--adjust all`. Tiingo has no close adjusted for splits alone, so
//! `--adjust splits` is refused before any request (in a chain, the next source is asked).
//!
//! **Currency.** The prices endpoint names none. Tiingo's list of supported tickers gives
//! each one's `priceCurrency`: USD for its US listings, CNY for the Shanghai and Shenzhen
//! ones, whose tickers are six digits. Those are refused before any request, so a Tiingo
//! price is always US dollars.
//!
//! **Limits.** A free key allows 50 requests an hour, 1,000 a day and 500 symbols a month;
//! over that Tiingo answers 429 ("You have run over your hourly request allocation"). Every
//! Tiingo 429 is such a spent allowance, not a burst to back off from, so it ends the
//! source for the run (`Source::quota_spent`): its remaining tickers fail at once, or go on
//! to the next source of their chain.

use std::sync::Arc;

use reqwest::Url;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::{
    Answer, Endpoint, KeySpec, Limits, Parsed, Query, SentAs, Source, SourceSpec, When,
    endpoint_url, us_market,
};
use crate::calendar::{LOOKBACK_DAYS, parse_iso_date};
use crate::error::FetchError;
use crate::history::Adjust;
use crate::quote::{Quote, parse_price};
use crate::text::{self, excerpt};
use crate::ticker::Ticker;

pub static SPEC: SourceSpec = SourceSpec {
    name: "tiingo",
    display_name: "Tiingo",
    about: "Tiingo: US stocks, ETFs and mutual funds, decades of daily closes",
    tickers: "AAPL, SPY, VTSAX",
    not_found_hint: "check the symbol; Tiingo has US stocks, ETFs and mutual funds",
    endpoints: &[Endpoint {
        flag: "tiingo-url",
        env: "QUOTES_TIINGO_URL",
        default_url: "https://api.tiingo.com",
        about: "Tiingo's end-of-day API",
    }],
    build: |urls| Arc::new(Tiingo::new(urls)),
    rates: None,
    key: Some(KeySpec {
        env: "TIINGO_API_KEY",
        signup: "https://www.tiingo.com/account/api/token",
        sent_as: SentAs::Query("token"),
    }),
    limits: Limits {
        in_flight: None,
        spacing: None,
        quota: "a free key: 50 requests an hour, 1,000 a day, 500 symbols a month",
    },
};

pub struct Tiingo {
    base_url: Url,
}

impl Tiingo {
    /// `urls` holds the base URL of [`SPEC`]'s one endpoint.
    pub fn new(urls: &[Url]) -> Tiingo {
        Tiingo {
            base_url: SPEC.base_url(urls, 0),
        }
    }
}

impl Source for Tiingo {
    fn spec(&self) -> &'static SourceSpec {
        &SPEC
    }

    /// Six digits are a Shanghai or Shenzhen listing, priced in CNY with no currency in the
    /// answer; Yahoo's forms (`^GSPC`, `EURUSD=X`) are not Tiingo's.
    fn check(&self, ticker: &Ticker) -> Result<(), FetchError> {
        let symbol = ticker.as_str();
        if symbol.bytes().all(|b| b.is_ascii_digit()) || symbol.contains(['^', '=']) {
            return Err(FetchError::InvalidTicker(format!(
                "{ticker} is not a US stock, ETF or mutual fund, which is all quotes asks \
                 Tiingo for"
            )));
        }
        Ok(())
    }

    fn supports(&self, when: When) -> Result<(), FetchError> {
        if when.adjust() == Some(Adjust::Splits) {
            return Err(FetchError::Unsupported {
                api: SPEC.display_name,
                what: "closes adjusted for splits alone (--adjust splits); --adjust all gives \
                       them adjusted for splits and dividends"
                    .into(),
            });
        }
        Ok(())
    }

    fn requests(&self, query: &Query) -> Vec<Url> {
        let segments = ["tiingo", "daily", query.ticker.as_str(), "prices"];
        let (from, to) = match query.when {
            When::Latest => return vec![endpoint_url(&self.base_url, &segments, &[])],
            When::Close(date, _) => (
                date.saturating_sub(jiff::Span::new().days(LOOKBACK_DAYS)),
                date,
            ),
            When::Range(range) => (range.from, range.to),
        };
        let (from, to) = (from.to_string(), to.to_string());
        vec![endpoint_url(
            &self.base_url,
            &segments,
            &[("startDate", &from), ("endDate", &to)],
        )]
    }

    fn parse(&self, query: &Query, answers: &[&Answer]) -> Result<Parsed, FetchError> {
        // A close missing on a weekday may be a holiday: nothing here tells a gap from one.
        self.quotes(query, answers).map(Parsed::from)
    }

    /// Every Tiingo 429 is a spent allowance (hourly, daily, or a month's symbols).
    fn quota_spent(&self, answer: &Answer) -> Option<String> {
        (answer.status == 429).then(|| detail(&answer.body))
    }
}

impl Tiingo {
    fn quotes(&self, query: &Query, answers: &[&Answer]) -> Result<Vec<Quote>, FetchError> {
        let Some(&answer) = answers.first() else {
            return Err(FetchError::Other("internal: no answer to read".into()));
        };
        let now = jiff::Timestamp::now().as_second();
        let adjust = query.when.adjust().unwrap_or(Adjust::None);
        let days = parse_bars(answer, adjust, now)?;
        match query.when {
            When::Latest => {
                let latest = days
                    .into_iter()
                    .last()
                    .ok_or_else(|| SPEC.no_price("no bar in the answer".into()))?;
                Ok(vec![Quote {
                    market_date: None,
                    ..latest
                }])
            }
            When::Close(date, _) => Ok(vec![SPEC.close_on(date, days)?]),
            When::Range(range) => Ok(SPEC.within(&range, days)),
        }
    }
}

/// One daily bar; the numbers borrowed as text, parsed exactly.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Bar<'a> {
    #[serde(default)]
    date: Option<String>,
    #[serde(borrow, default)]
    close: Option<&'a RawValue>,
    #[serde(borrow, default)]
    adj_close: Option<&'a RawValue>,
}

/// Read a prices answer: its bars as closes (`close`, or `adjClose` for `Adjust::All`),
/// ascending by day, leaving out a day whose session is not over at `now`. Public for the
/// fuzz targets: it must return an error, never panic, whatever the bytes.
pub fn parse_bars(answer: &Answer, adjust: Adjust, now: i64) -> Result<Vec<Quote>, FetchError> {
    SPEC.refuse_html(answer, "JSON")?;
    match answer.status {
        200 => {}
        404 => return Err(SPEC.not_found(detail(&answer.body))),
        401 | 403 => {
            let why = detail(&answer.body);
            return Err(SPEC.http_error(
                answer.status,
                format!("{why}; check {}", SPEC.key.as_ref().map_or("", |k| k.env)),
            ));
        }
        status => return Err(SPEC.http_error(status, detail(&answer.body))),
    }
    let bars: Vec<Bar> = serde_json::from_slice(&answer.body).map_err(|e| {
        SPEC.malformed(format!(
            "not the prices format ({}): {}",
            text::serde_error(&e),
            detail(&answer.body)
        ))
    })?;
    let mut closes = Vec::with_capacity(bars.len());
    for bar in bars {
        let day = bar
            .date
            .as_deref()
            .ok_or_else(|| SPEC.malformed("a bar without a date".into()))
            .and_then(day)?;
        let (raw, what) = match adjust {
            Adjust::All => (bar.adj_close, "adjClose"),
            Adjust::None | Adjust::Splits => (bar.close, "close"),
        };
        let Some(raw) = raw.filter(|r| r.get() != "null") else {
            continue; // a day without that close
        };
        let price =
            parse_price(raw.get()).map_err(|e| SPEC.malformed(format!("{what} of {day}: {e}")))?;
        // Not a close: no trade, or the price so far of a session still running.
        closes.extend(us_market::close(day, price, now));
    }
    SPEC.one_per_day(closes)
}

/// A bar's `date`: `YYYY-MM-DDT00:00:00.000Z` or `YYYY-MM-DDT00:00:00+00:00`, the day itself.
fn day(text: &str) -> Result<jiff::civil::Date, FetchError> {
    text.strip_suffix("T00:00:00.000Z")
        .or_else(|| text.strip_suffix("T00:00:00+00:00"))
        .and_then(parse_iso_date)
        .ok_or_else(|| {
            SPEC.malformed(format!(
                "date {:?} is not a form Tiingo is known to write",
                excerpt(text.as_bytes())
            ))
        })
}

/// What an error body says: Tiingo's JSON `detail`, or the text itself; one safe line.
fn detail(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Detail {
        detail: String,
    }
    match serde_json::from_slice::<Detail>(body) {
        Ok(Detail { detail }) => excerpt(detail.as_bytes()),
        Err(_) => excerpt(body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Interval, Range};

    const LATEST: &[u8] =
        include_bytes!("../../tests/fixtures/tiingo_daily_prices_latest_GOOGL_2018-04-12.json");
    const LATEST_PRETTY: &[u8] = include_bytes!(
        "../../tests/fixtures/tiingo_daily_prices_latest_AAPL_2020-07-17_prettyprinted.json"
    );
    const GOOGL_2015: &[u8] =
        include_bytes!("../../tests/fixtures/tiingo_daily_prices_GOOGL_2015-01-01_2015-01-05.json");
    const WEEKLY: &[u8] =
        include_bytes!("../../tests/fixtures/tiingo_weekly_prices_AAPL_2018-01-05_2018-01-19.json");
    const NOT_FOUND: &[u8] = include_bytes!(
        "../../tests/fixtures/tiingo_error_404_prices_unknown_ticker_BADTICKER.json"
    );

    /// 2023-03-01, after every recorded answer.
    const LATER: i64 = 1_677_628_800;

    fn tiingo() -> Tiingo {
        Tiingo::new(&[Url::parse("http://127.0.0.1:8080").unwrap()])
    }

    fn answer(status: u16, body: &[u8]) -> Answer {
        Answer {
            status,
            body: body.to_vec(),
        }
    }

    fn query(ticker: &str, when: When) -> Query {
        Query {
            ticker: Ticker::parse(ticker).unwrap(),
            when,
        }
    }

    #[test]
    fn requests_name_the_window_and_never_the_key() {
        let urls = |when| tiingo().requests(&query("aapl", when));
        assert_eq!(
            urls(When::Latest)[0].as_str(),
            "http://127.0.0.1:8080/tiingo/daily/AAPL/prices"
        );
        let day = jiff::civil::date(2015, 1, 5);
        assert_eq!(
            urls(When::Close(day, Adjust::None))[0].as_str(),
            "http://127.0.0.1:8080/tiingo/daily/AAPL/prices?startDate=2014-12-29&endDate=2015-01-05"
        );
    }

    #[test]
    fn the_latest_bar_is_the_close_of_its_day() {
        let q = tiingo()
            .quotes(&query("GOOGL", When::Latest), &[&answer(200, LATEST)])
            .unwrap();
        assert_eq!(q[0].price.to_string(), "1037.29");
        assert_eq!(q[0].currency.as_deref(), Some("USD"));
        assert_eq!(q[0].time, Some(1_523_563_200)); // 2018-04-12T20:00:00Z
        assert_eq!(q[0].market_date, None);
        let q = tiingo()
            .quotes(&query("AAPL", When::Latest), &[&answer(200, LATEST_PRETTY)])
            .unwrap();
        assert_eq!(q[0].price.to_string(), "385.31");
    }

    #[test]
    fn close_is_as_traded_and_adj_close_is_for_adjust_all() {
        let none = parse_bars(&answer(200, WEEKLY), Adjust::None, LATER).unwrap();
        let all = parse_bars(&answer(200, WEEKLY), Adjust::All, LATER).unwrap();
        assert_eq!(none[0].price.to_string(), "175");
        assert_eq!(all[0].price.to_string(), "173.6258731716");
        assert_eq!(none[0].market_date.unwrap().to_string(), "2018-01-05");
        let closes = parse_bars(&answer(200, GOOGL_2015), Adjust::None, LATER).unwrap();
        let shown: Vec<String> = closes
            .iter()
            .map(|q| format!("{} {}", q.market_date.unwrap(), q.price))
            .collect();
        assert_eq!(shown, ["2015-01-02 529.55", "2015-01-05 519.46"]);
        let range = Range::new(
            jiff::civil::date(2015, 1, 3),
            jiff::civil::date(2015, 1, 5),
            Interval::Day,
            Adjust::None,
        )
        .unwrap();
        let q = tiingo()
            .quotes(
                &query("GOOGL", When::Range(range)),
                &[&answer(200, GOOGL_2015)],
            )
            .unwrap();
        assert_eq!(q.len(), 1);
        assert!(tiingo().supports(When::Range(range)).is_ok());
        let splits = Range {
            adjust: Adjust::Splits,
            ..range
        };
        assert_eq!(
            tiingo().supports(When::Range(splits)).unwrap_err().kind(),
            "unsupported"
        );
    }

    #[test]
    fn errors_and_odd_answers() {
        let err = parse_bars(&answer(404, NOT_FOUND), Adjust::None, LATER).unwrap_err();
        assert_eq!(
            err.to_string(),
            "not found on Tiingo (Error: Ticker 'BADTICKER' not found); check the symbol; \
             Tiingo has US stocks, ETFs and mutual funds"
        );
        let err = parse_bars(
            &answer(401, br#"{"detail":"Invalid token."}"#),
            Adjust::None,
            LATER,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "HTTP 401 from Tiingo: Invalid token.; check TIINGO_API_KEY"
        );
        for (body, kind) in [
            (
                &br#"{"detail":"Error: something"}"#[..],
                "malformed_response",
            ),
            (
                b"[{\"date\":\"2015-01-02\",\"close\":1}]",
                "malformed_response",
            ),
            (
                b"[{\"date\":\"2015-01-02T00:00:00Z\",\"close\":1}]",
                "malformed_response",
            ),
            (
                b"[{\"date\":\"2015-01-02T00:00:00.000Z\",\"close\":\"1\"}]",
                "malformed_response",
            ),
            (b"[{\"close\":1}]", "malformed_response"),
            (b"<html></html>", "malformed_response"),
        ] {
            let err = parse_bars(&answer(200, body), Adjust::None, LATER).unwrap_err();
            assert_eq!(err.kind(), kind, "{}", String::from_utf8_lossy(body));
        }
        let err = tiingo()
            .parse(&query("AAPL", When::Latest), &[&answer(200, b"[]")])
            .unwrap_err();
        assert_eq!(err.kind(), "no_price");
        for cut in 0..GOOGL_2015.len() {
            let _ = parse_bars(&answer(200, &GOOGL_2015[..cut]), Adjust::All, LATER);
        }
    }

    #[test]
    fn chinese_listings_and_yahoo_forms_are_not_asked() {
        for ticker in ["600000", "000001", "^GSPC", "EURUSD=X"] {
            let err = tiingo().check(&Ticker::parse(ticker).unwrap()).unwrap_err();
            assert_eq!(err.kind(), "invalid_ticker", "{ticker}");
        }
        assert!(tiingo().check(&Ticker::parse("BRK-B").unwrap()).is_ok());
    }

    #[test]
    fn every_429_is_a_spent_allowance_in_tiingos_words() {
        let json = br#"{"detail":"Error: You have run over your hourly request allocation. Please upgrade at https://api.tiingo.com/pricing to have your limits increased."}"#;
        let words = tiingo().quota_spent(&answer(429, json)).unwrap();
        assert!(
            words.starts_with("Error: You have run over your hourly request"),
            "{words}"
        );
        let plain = b"Error: You have exceeded your monthly unique symbol request allocation";
        let words = tiingo().quota_spent(&answer(429, plain)).unwrap();
        assert_eq!(words, String::from_utf8_lossy(plain));
        // Any other answer is read as an answer.
        assert_eq!(tiingo().quota_spent(&answer(200, plain)), None);
    }
}
