//! Nasdaq's quote API (`api.nasdaq.com`, the one nasdaq.com's pages call): US stocks, ETFs
//! and mutual funds, no key (issue 19).
//!
//! - **Latest**: `GET /api/quote/{SYMBOL}/info?assetclass=stocks|etf|mutualfunds` (`latest`).
//! - **History**: `GET /api/quote/{SYMBOL}/historical?assetclass=…&fromdate=…&todate=…&limit=N`
//!   (`history`), with a `limit` covering every day of the window: without it the endpoint
//!   answers only a few recent rows.
//!
//! **The asset class is not in the ticker**, and a wrong one answers HTTP 200 with
//! `status.rCode` 400 and "Symbol not exists." (the same body as an unknown symbol). So the
//! likely class is asked first — a five-letter symbol ending in X is a mutual fund
//! (`VTSAX`), anything else a stock — and, on "Symbol not exists.", the next one, as a
//! follow-up request (`Source::follow`): one request when the first guess is right, at most
//! three, and "not found" after the third.
//!
//! **Looking like its web page.** Nasdaq answers only what looks like a browser on
//! nasdaq.com: besides the default User-Agent, each request carries the `Accept`,
//! `Accept-Language`, `Origin` and `Referer` that page sends (as public clients do).
//!
//! **Text, parsed exactly** (`forms`): prices come as `"$266.29"`, `"$145"`, `"$1,000.5"`, days
//! as `"MM/DD/YYYY"` and times as `"Feb 24, 2023 10:19 AM ET"`; a form not listed there is a
//! malformed answer, never a guess. Prices are US dollars; times are New York's
//! (`us_market`).
//!
//! **Limits**: at most [`IN_FLIGHT`] requests at once, whatever `--jobs` says.

mod forms;
mod history;
mod latest;

use std::sync::Arc;

use reqwest::Url;
use reqwest::header::{HeaderMap, HeaderValue};
use serde::Deserialize;

use super::{
    Answer, Endpoint, Limits, Parsed, Query, Source, SourceSpec, Step, When, endpoint_url,
};
use crate::error::FetchError;
use crate::history::Adjust;
use crate::quote::Quote;
use crate::text::{self, excerpt};
use crate::ticker::Ticker;

/// At most this many requests to Nasdaq at once: it refuses clients that look like a
/// scraper, and one user's watchlist needs no more.
pub const IN_FLIGHT: usize = 10;

pub static SPEC: SourceSpec = SourceSpec {
    name: "nasdaq",
    display_name: "Nasdaq",
    about: "Nasdaq: US stocks, ETFs and mutual funds",
    tickers: "AAPL, SPY, VTSAX",
    not_found_hint: "check the symbol; Nasdaq has US stocks, ETFs and mutual funds only",
    endpoints: &[Endpoint {
        flag: "nasdaq-url",
        env: "QUOTES_NASDAQ_URL",
        default_url: "https://api.nasdaq.com",
        about: "Nasdaq's quote API",
    }],
    build: |urls| Arc::new(Nasdaq::new(urls)),
    rates: None,
    key: None,
    limits: Limits {
        in_flight: Some(IN_FLIGHT),
        spacing: None,
        quota: "",
    },
};

/// The headers nasdaq.com's own pages send with their API requests.
const BROWSER_HEADERS: [(&str, &str); 4] = [
    ("accept", "application/json, text/plain, */*"),
    ("accept-language", "en-US,en;q=0.9"),
    ("origin", "https://www.nasdaq.com"),
    ("referer", "https://www.nasdaq.com/"),
];

/// The asset classes Nasdaq's API knows for what `quotes` prices.
const STOCKS: &str = "stocks";
const ETF: &str = "etf";
const MUTUAL_FUNDS: &str = "mutualfunds";

pub struct Nasdaq {
    base_url: Url,
}

impl Nasdaq {
    /// `urls` holds the base URL of [`SPEC`]'s one endpoint.
    pub fn new(urls: &[Url]) -> Nasdaq {
        Nasdaq {
            base_url: SPEC.base_url(urls, 0),
        }
    }

    /// The request for `query` with the asset class `class`.
    fn url(&self, query: &Query, class: &str) -> Url {
        let symbol = query.ticker.as_str();
        let (from, to) = match query.when {
            When::Latest => {
                return endpoint_url(
                    &self.base_url,
                    &["api", "quote", symbol, "info"],
                    &[("assetclass", class)],
                );
            }
            When::Close(date, _) => (
                date.saturating_sub(jiff::Span::new().days(crate::calendar::LOOKBACK_DAYS)),
                date,
            ),
            When::Range(range) => (range.from, range.to),
        };
        // A row per calendar day at most: `limit` covers the whole window.
        let days = (to - from).get_days().max(0) + 1;
        let (from, to, limit) = (from.to_string(), to.to_string(), days.to_string());
        endpoint_url(
            &self.base_url,
            &["api", "quote", symbol, "historical"],
            &[
                ("assetclass", class),
                ("fromdate", &from),
                ("todate", &to),
                ("limit", &limit),
            ],
        )
    }
}

/// The asset classes to try for `ticker`, likeliest first: a five-letter symbol ending in
/// X is a mutual fund (`VTSAX`, `FXAIX`); anything else a stock, then an ETF.
fn classes(ticker: &Ticker) -> [&'static str; 3] {
    let symbol = ticker.as_str();
    let fund = symbol.len() == 5
        && symbol.ends_with('X')
        && symbol.bytes().all(|b| b.is_ascii_uppercase());
    if fund {
        [MUTUAL_FUNDS, ETF, STOCKS]
    } else {
        [STOCKS, ETF, MUTUAL_FUNDS]
    }
}

impl Source for Nasdaq {
    fn spec(&self) -> &'static SourceSpec {
        &SPEC
    }

    /// Yahoo's forms for what Nasdaq does not price (`^GSPC`, `EURUSD=X`, `GC=F`) are refused
    /// before any request.
    fn check(&self, ticker: &Ticker) -> Result<(), FetchError> {
        if ticker.as_str().contains(['^', '=']) {
            return Err(FetchError::InvalidTicker(format!(
                "{ticker} is not a US stock, ETF or mutual fund, which is all Nasdaq prices"
            )));
        }
        Ok(())
    }

    /// Nasdaq's closes are as traded; it has no adjusted ones.
    fn supports(&self, when: When) -> Result<(), FetchError> {
        match when.adjust() {
            Some(Adjust::Splits | Adjust::All) => Err(FetchError::Unsupported {
                api: SPEC.display_name,
                what: "adjusted closes (--adjust splits or all), only closes as traded".into(),
            }),
            Some(Adjust::None) | None => Ok(()),
        }
    }

    fn headers(&self, _url: &Url) -> Option<HeaderMap> {
        let mut headers = HeaderMap::with_capacity(BROWSER_HEADERS.len());
        for (name, value) in BROWSER_HEADERS {
            headers.insert(name, HeaderValue::from_static(value));
        }
        Some(headers)
    }

    fn requests(&self, query: &Query) -> Vec<Url> {
        vec![self.url(query, classes(&query.ticker)[0])]
    }

    /// After "Symbol not exists.", the next asset class, up to the third.
    fn follow(&self, query: &Query, answers: &[&Answer]) -> Result<Step, FetchError> {
        let Some(&last) = answers.last() else {
            return Err(FetchError::Other("internal: no answer to read".into()));
        };
        let classes = classes(&query.ticker);
        match (symbol_not_exists(last), classes.get(answers.len())) {
            (true, Some(next)) => Ok(Step::More(vec![self.url(query, next)])),
            (true, None) => Err(SPEC.not_found(format!(
                "no stock, ETF or mutual fund {} (Symbol not exists.)",
                query.ticker
            ))),
            (false, _) => self.parse(query, answers).map(Step::Done),
        }
    }

    /// Reads the last answer: the one of the asset class that was right.
    fn parse(&self, query: &Query, answers: &[&Answer]) -> Result<Parsed, FetchError> {
        // A close missing on a weekday may be a holiday: nothing here tells a gap from one.
        self.quotes(query, answers).map(Parsed::from)
    }
}

impl Nasdaq {
    /// Reads the last answer: the one of the asset class that was right.
    fn quotes(&self, query: &Query, answers: &[&Answer]) -> Result<Vec<Quote>, FetchError> {
        let Some(&answer) = answers.last() else {
            return Err(FetchError::Other("internal: no answer to read".into()));
        };
        let now = jiff::Timestamp::now().as_second();
        match query.when {
            When::Latest => Ok(vec![latest::parse(&query.ticker, answer, now)?]),
            When::Close(date, _) => {
                let closes = history::parse(&query.ticker, answer, now)?;
                Ok(vec![SPEC.close_on(date, closes)?])
            }
            When::Range(range) => {
                Ok(SPEC.within(&range, history::parse(&query.ticker, answer, now)?))
            }
        }
    }
}

/// Nasdaq's envelope around every answer: `{"data": …, "message": …, "status": {…}}`.
#[derive(Deserialize)]
struct Envelope<T> {
    #[serde(default = "Option::default")]
    data: Option<T>,
    #[serde(default)]
    status: Option<Status>,
}

/// `status`: `rCode` 200, or 400 with `bCodeMessage` saying why.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Status {
    #[serde(default)]
    r_code: Option<i64>,
    #[serde(default)]
    b_code_message: Option<Vec<CodeMessage>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CodeMessage {
    #[serde(default)]
    error_message: Option<String>,
}

/// What "Symbol not exists." looks like: the symbol, or the asset class asked, is wrong.
const NOT_EXISTS: &str = "Symbol not exists.";

/// Whether `answer` is Nasdaq's "Symbol not exists.": HTTP 200, `rCode` 400.
fn symbol_not_exists(answer: &Answer) -> bool {
    #[derive(Deserialize)]
    struct Skim {
        #[serde(default)]
        status: Option<Status>,
    }
    answer.status == 200
        && serde_json::from_slice::<Skim>(&answer.body)
            .ok()
            .and_then(|skim| skim.status)
            .is_some_and(|status| status.r_code == Some(400) && status.says(NOT_EXISTS))
}

impl Status {
    fn messages(&self) -> String {
        let messages: Vec<&str> = self
            .b_code_message
            .iter()
            .flatten()
            .filter_map(|m| m.error_message.as_deref())
            .collect();
        excerpt(messages.join("; ").as_bytes())
    }

    fn says(&self, message: &str) -> bool {
        self.b_code_message
            .iter()
            .flatten()
            .any(|m| m.error_message.as_deref().map(str::trim) == Some(message))
    }
}

/// Read an answer's `data`, or the error it stands for: an HTML page (Nasdaq's "Access
/// Denied" to clients that do not look like a browser) or a status other than 200 is an
/// HTTP error; `rCode` other than 200 says why there is no data; `data: null` has none.
fn read<T: serde::de::DeserializeOwned>(answer: &Answer, what: &str) -> Result<T, FetchError> {
    SPEC.refuse_html(answer, "JSON")?;
    if answer.status == 404 {
        return Err(SPEC.not_found(excerpt(&answer.body)));
    }
    if answer.status != 200 {
        return Err(SPEC.http_error(answer.status, excerpt(&answer.body)));
    }
    let envelope: Envelope<T> = serde_json::from_slice(&answer.body).map_err(|e| {
        SPEC.malformed(format!("not the {what} format ({})", text::serde_error(&e)))
    })?;
    if let Some(status) = &envelope.status
        && let Some(code) = status.r_code.filter(|code| *code != 200)
    {
        return Err(SPEC.no_price(format!("rCode {code}: {}", status.messages())));
    }
    envelope
        .data
        .ok_or_else(|| SPEC.no_price("no data in the answer".into()))
}

/// Refuse an answer about another symbol than the one asked (a server that lies).
fn check_symbol(ticker: &Ticker, symbol: Option<&str>) -> Result<(), FetchError> {
    match symbol {
        Some(symbol) if !symbol.trim().eq_ignore_ascii_case(ticker.as_str()) => Err(SPEC
            .malformed(format!(
                "the answer is about {}, not {ticker}",
                excerpt(symbol.as_bytes())
            ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nasdaq() -> Nasdaq {
        Nasdaq::new(&[Url::parse("http://127.0.0.1:8080").unwrap()])
    }

    fn query(ticker: &str, when: When) -> Query {
        Query {
            ticker: Ticker::parse(ticker).unwrap(),
            when,
        }
    }

    fn answer(body: &[u8]) -> Answer {
        Answer {
            status: 200,
            body: body.to_vec(),
        }
    }

    const NOT_EXISTS_BODY: &[u8] =
        include_bytes!("../../../tests/fixtures/nasdaq_error_unknown_symbol_rCode400.json");

    #[test]
    fn the_likely_asset_class_goes_first() {
        let urls = |t| nasdaq().requests(&query(t, When::Latest));
        assert_eq!(
            urls("aapl")[0].as_str(),
            "http://127.0.0.1:8080/api/quote/AAPL/info?assetclass=stocks"
        );
        assert_eq!(
            urls("VTSAX")[0].as_str(),
            "http://127.0.0.1:8080/api/quote/VTSAX/info?assetclass=mutualfunds"
        );
        // Five letters ending in X, but not only letters; four letters ending in X.
        assert!(urls("VTSX").first().unwrap().as_str().ends_with("=stocks"));
        assert!(urls("VT5AX").first().unwrap().as_str().ends_with("=stocks"));
    }

    #[test]
    fn symbol_not_exists_asks_the_next_class_at_most_three_times() {
        let nasdaq = nasdaq();
        let q = query("SGOL", When::Latest);
        let missing = answer(NOT_EXISTS_BODY);
        let step = nasdaq.follow(&q, &[&missing]).unwrap();
        let Step::More(urls) = step else {
            panic!("expected a follow-up, got {step:?}")
        };
        assert_eq!(
            urls[0].as_str(),
            "http://127.0.0.1:8080/api/quote/SGOL/info?assetclass=etf"
        );
        let Step::More(urls) = nasdaq.follow(&q, &[&missing, &missing]).unwrap() else {
            panic!("expected the third class")
        };
        assert!(urls[0].as_str().ends_with("assetclass=mutualfunds"));
        let err = nasdaq
            .follow(&q, &[&missing, &missing, &missing])
            .unwrap_err();
        assert_eq!(err.kind(), "not_found");
        assert!(err.to_string().contains("Symbol not exists."), "{err}");
        // Another rCode 400 is no reason to try another class.
        let other = answer(
            br#"{"data":null,"message":null,"status":{"rCode":400,"bCodeMessage":[{"code":1,"errorMessage":"Bad request"}]}}"#,
        );
        let err = nasdaq.follow(&q, &[&other]).unwrap_err();
        assert_eq!(err.kind(), "no_price");
        assert!(err.to_string().contains("rCode 400: Bad request"), "{err}");
    }

    #[test]
    fn history_asks_for_every_day_of_the_window() {
        let range = crate::history::Range::new(
            jiff::civil::date(2022, 10, 31),
            jiff::civil::date(2022, 11, 4),
            crate::history::Interval::Day,
            Adjust::None,
        )
        .unwrap();
        let urls = nasdaq().requests(&query("AAPL", When::Range(range)));
        assert_eq!(
            urls[0].as_str(),
            "http://127.0.0.1:8080/api/quote/AAPL/historical?assetclass=stocks\
             &fromdate=2022-10-31&todate=2022-11-04&limit=5"
        );
        let close = When::Close(jiff::civil::date(2022, 11, 4), Adjust::None);
        let urls = nasdaq().requests(&query("AAPL", close));
        assert!(
            urls[0]
                .as_str()
                .ends_with("&fromdate=2022-10-28&todate=2022-11-04&limit=8"),
            "{}",
            urls[0]
        );
    }

    #[test]
    fn adjusted_closes_and_yahoo_only_forms_are_refused_before_any_request() {
        let nasdaq = nasdaq();
        let day = jiff::civil::date(2022, 11, 4);
        assert!(nasdaq.supports(When::Close(day, Adjust::None)).is_ok());
        assert!(nasdaq.supports(When::Latest).is_ok());
        for adjust in [Adjust::Splits, Adjust::All] {
            let err = nasdaq.supports(When::Close(day, adjust)).unwrap_err();
            assert_eq!(err.kind(), "unsupported");
        }
        for ticker in ["^GSPC", "EURUSD=X", "GC=F"] {
            let err = nasdaq.check(&Ticker::parse(ticker).unwrap()).unwrap_err();
            assert_eq!(err.kind(), "invalid_ticker", "{ticker}");
        }
        assert!(nasdaq.check(&Ticker::parse("BRK.B").unwrap()).is_ok());
    }

    #[test]
    fn errors_say_what_came() {
        let html = Answer {
            status: 403,
            body: b"<HTML><HEAD><TITLE>Access Denied</TITLE></HEAD></HTML>".to_vec(),
        };
        let err = nasdaq()
            .parse(&query("AAPL", When::Latest), &[&html])
            .unwrap_err();
        assert_eq!(err.kind(), "http_status");
        let no_data = answer(br#"{"data":null,"message":null,"status":{"rCode":200}}"#);
        let err = nasdaq()
            .parse(&query("AAPL", When::Latest), &[&no_data])
            .unwrap_err();
        assert_eq!(err.kind(), "no_price");
        for garbage in [&b""[..], b"{", b"[]", b"null", b"{\"data\":[]}"] {
            let err = nasdaq()
                .parse(&query("AAPL", When::Latest), &[&answer(garbage)])
                .unwrap_err();
            assert!(
                matches!(err.kind(), "malformed_response" | "no_price"),
                "{garbage:?}: {err}"
            );
        }
    }
}
