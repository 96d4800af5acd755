//! Alpha Vantage (issue 19): stocks and ETFs of the US and other exchanges (London as
//! `VOD.LON`), with a free key in `ALPHAVANTAGE_API_KEY`, sent as the `apikey` query
//! parameter (by the fetcher, on the wire only: see `secret`).
//!
//! - **Latest**: `GET /query?function=GLOBAL_QUOTE&symbol=SYM`: `"Global Quote"`, every
//!   field a string: `"05. price"`, `"07. latest trading day"`, `"08. previous close"`. An
//!   unknown symbol answers `{"Global Quote": {}}`.
//! - **History** (`--date`, `--from`): `GET /query?function=TIME_SERIES_DAILY&symbol=SYM&
//!   outputsize=compact`: `"Time Series (Daily)"`, each day's `"4. close"`, the last 100
//!   trading days, which is all a free key gets (`outputsize=full` is a premium feature). A
//!   window reaching further back is refused before any request when it clearly does (more
//!   than [`COMPACT_REACH`] weekdays back), and otherwise when the answer shows it (a full
//!   100 days that begin after the window does): never printed with its older days missing.
//! - **Which close.** `"4. close"` is the close as traded that day: Alpha Vantage documents
//!   TIME_SERIES_DAILY as its "raw (as-traded)" series, the adjusted one (with splits and
//!   dividends) being TIME_SERIES_DAILY_ADJUSTED, a premium endpoint; the recorded answers
//!   agree (IBM's `"4. close"` of 2021-01-11 is 128.58, its traded close, where the adjusted
//!   series says 125.47). No recorded answer spans a split to show it further. So `--adjust
//!   splits` and `all` are refused before any request (in a chain, the next source is asked).
//! - **Currency.** Neither answer names one. `SYMBOL_SEARCH` (`keywords=SYM`) lists each
//!   match's `"8. currency"` (GBX for London: pence, which `fx` makes pounds as it does
//!   Yahoo's GBp), and its market's close and time zone (`"6. marketClose"` `"16:30"`,
//!   `"7. timezone"` `"UTC+01"`), which say when a day's close was. It is asked as a follow-up
//!   once the prices answered (never for a ticker they do not know), and kept in the cache
//!   directory for [`KEEP_SEARCH`] (`Source::keep`): a later run does not spend one of its 25
//!   requests on it. A symbol the search does not list has no currency, and so no price:
//!   a number printed without its unit (pence read as pounds) would be worse.
//! - **When.** A US listing's close is 16:00 New York time (`us_market`); another's is its
//!   market's close at the offset the search gave (which does not follow daylight saving
//!   for the days since, so it may be an hour off). A daily bar of a session still running
//!   is not a close; a latest price whose session is not over has no time `quotes` can tell.
//! - **Errors are HTTP 200 bodies.** `Note` or `Information` is a limit reached (25 requests
//!   a day, or a burst): `rate_limited`, and nothing more is asked of it this run
//!   (`Source::quota_spent`). `Error Message` is an invalid call: for a symbol it does not
//!   know, "Invalid API call" (not found); or an invalid key.
//! - **Tickers.** Alpha Vantage's own (`VOD.LON`, `SHOP.TRT`); Yahoo's suffixes of the same
//!   exchanges are translated (`VOD.L` is asked as `VOD.LON`), so a chain after Yahoo finds
//!   them. Yahoo's indices, currencies and futures (`^GSPC`, `EURUSD=X`, `GC=F`) are refused
//!   before any request.
//! - **Limits**: one request a second, so one at a time (no `-j` lifts it); a free key's 25
//!   requests a day are its quota.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use jiff::civil::{Date, Time};
use reqwest::Url;
use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};

use super::{
    Answer, Endpoint, KeySpec, Limits, Parsed, Query, SentAs, Source, SourceSpec, Step, When,
    endpoint_url, us_market,
};
use crate::calendar::{Horizon, LOOKBACK_DAYS, midnight_utc, parse_iso_date, today_utc};
use crate::error::FetchError;
use crate::history::Adjust;
use crate::quote::{Quote, parse_price};
use crate::text::{self, excerpt};
use crate::ticker::Ticker;

pub static SPEC: SourceSpec = SourceSpec {
    name: "alphavantage",
    display_name: "Alpha Vantage",
    about: "Alpha Vantage: stocks and ETFs of the US, London and other exchanges, \
            the last 100 daily closes",
    tickers: "IBM, VOD.LON, SHOP.TRT",
    not_found_hint: "check the symbol and its exchange suffix, e.g. VOD.LON",
    endpoints: &[Endpoint {
        flag: "alphavantage-url",
        env: "QUOTES_ALPHAVANTAGE_URL",
        default_url: "https://www.alphavantage.co",
        about: "Alpha Vantage's API",
    }],
    build: |urls| Arc::new(AlphaVantage::new(urls)),
    rates: None,
    key: Some(KeySpec {
        env: "ALPHAVANTAGE_API_KEY",
        signup: "https://www.alphavantage.co/support/#api-key",
        sent_as: SentAs::Query("apikey"),
    }),
    limits: Limits {
        in_flight: Some(1),
        spacing: Some(Duration::from_secs(1)),
        quota: "a free key: 25 requests a day",
    },
};

/// How many trading days a compact series holds.
pub const COMPACT_DAYS: usize = 100;

/// A window starting more weekdays back than this cannot be in a compact series, whatever
/// the holidays (100 trading days and the most holidays of any exchange in that span).
pub const COMPACT_REACH: i64 = 115;

/// How long a SYMBOL_SEARCH answer is kept: a listing's currency and hours hardly change.
pub const KEEP_SEARCH: Duration = Duration::from_secs(30 * 86_400);

/// Yahoo's suffixes of the exchanges Alpha Vantage names otherwise: London, Toronto, TSX
/// Venture, XETRA, Bombay, Shanghai, Shenzhen.
const SUFFIXES: [(&str, &str); 7] = [
    (".L", ".LON"),
    (".TO", ".TRT"),
    (".V", ".TRV"),
    (".DE", ".DEX"),
    (".BO", ".BSE"),
    (".SS", ".SHH"),
    (".SZ", ".SHZ"),
];

/// What the start of Alpha Vantage's words on a limit says, left out of messages so the rest
/// fits: "Thank you for using Alpha Vantage! Our standard API rate limit is 25 requests per
/// day. …".
const THANKS: &str = "Thank you for using Alpha Vantage!";

pub struct AlphaVantage {
    base_url: Url,
}

impl AlphaVantage {
    /// `urls` holds the base URL of [`SPEC`]'s one endpoint.
    pub fn new(urls: &[Url]) -> AlphaVantage {
        AlphaVantage {
            base_url: SPEC.base_url(urls, 0),
        }
    }

    fn url(&self, function: &str, params: &[(&str, &str)]) -> Url {
        let mut query = vec![("function", function)];
        query.extend_from_slice(params);
        endpoint_url(&self.base_url, &["query"], &query)
    }

    /// The request for the prices of `query`.
    fn data_url(&self, query: &Query) -> Url {
        let symbol = symbol(&query.ticker);
        match query.when {
            When::Latest => self.url("GLOBAL_QUOTE", &[("symbol", &symbol)]),
            When::Close(..) | When::Range(_) => self.url(
                "TIME_SERIES_DAILY",
                &[("symbol", &symbol), ("outputsize", "compact")],
            ),
        }
    }

    /// The request for the listing of `ticker` (its currency and market hours).
    fn search_url(&self, ticker: &Ticker) -> Url {
        self.url("SYMBOL_SEARCH", &[("keywords", &symbol(ticker))])
    }
}

/// The symbol Alpha Vantage knows `ticker` by: Yahoo's exchange suffix translated.
pub fn symbol(ticker: &Ticker) -> Cow<'_, str> {
    let text = ticker.as_str();
    for (yahoo, ours) in SUFFIXES {
        if let Some(stem) = text.strip_suffix(yahoo).filter(|s| !s.is_empty()) {
            return Cow::Owned(format!("{stem}{ours}"));
        }
    }
    Cow::Borrowed(text)
}

impl Source for AlphaVantage {
    fn spec(&self) -> &'static SourceSpec {
        &SPEC
    }

    /// Yahoo's forms of what Alpha Vantage does not price here (`^GSPC`, `EURUSD=X`, `GC=F`).
    fn check(&self, ticker: &Ticker) -> Result<(), FetchError> {
        if ticker.as_str().contains(['^', '=']) {
            return Err(FetchError::InvalidTicker(format!(
                "{ticker} is not a stock or ETF, which is all quotes asks Alpha Vantage for"
            )));
        }
        Ok(())
    }

    /// Closes as traded only, and only of the last 100 trading days: a window that clearly
    /// starts before them is refused before any request.
    fn supports(&self, when: When) -> Result<(), FetchError> {
        if matches!(when.adjust(), Some(Adjust::Splits | Adjust::All)) {
            return Err(FetchError::Unsupported {
                api: SPEC.display_name,
                what: "adjusted closes (--adjust splits or all) for a free key, only closes \
                       as traded"
                    .into(),
            });
        }
        let start = match when {
            When::Latest => return Ok(()),
            When::Close(date, _) => date,
            When::Range(range) => range.from,
        };
        if weekdays_between(start, today_utc()) > COMPACT_REACH {
            return Err(beyond_compact(start));
        }
        Ok(())
    }

    fn requests(&self, query: &Query) -> Vec<Url> {
        vec![self.data_url(query)]
    }

    /// Once the prices answered (and only then), the listing's currency and hours.
    fn follow(&self, query: &Query, answers: &[&Answer]) -> Result<Step, FetchError> {
        match answers {
            [data] => {
                read_data(query, data)?;
                Ok(Step::More(vec![self.search_url(&query.ticker)]))
            }
            _ => self.parse(query, answers).map(Step::Done),
        }
    }

    fn parse(&self, query: &Query, answers: &[&Answer]) -> Result<Parsed, FetchError> {
        let [data, search] = answers else {
            return Err(FetchError::Other("internal: no answer to read".into()));
        };
        let now = jiff::Timestamp::now().as_second();
        let listing = read_listing(search, &symbol(&query.ticker))?;
        let quotes = match read_data(query, data)? {
            Data::Latest(latest) => vec![latest.quote(&listing, now)?],
            Data::Daily(days) => {
                let closes = daily_closes(days, &listing, now)?;
                match query.when {
                    When::Close(date, _) => {
                        let earliest = date.saturating_sub(jiff::Span::new().days(LOOKBACK_DAYS));
                        match SPEC.close_on(date, closes.quotes) {
                            Ok(close) => vec![close],
                            Err(_) if closes.cut_before.is_some_and(|d| d > earliest) => {
                                return Err(beyond_compact(earliest));
                            }
                            Err(e) => return Err(e),
                        }
                    }
                    When::Range(range) => {
                        if closes.cut_before.is_some_and(|d| d > range.from) {
                            return Err(beyond_compact(range.from));
                        }
                        SPEC.within(&range, closes.quotes)
                    }
                    When::Latest => closes.quotes,
                }
            }
        };
        Ok(quotes.into())
    }

    /// `Note` or `Information` in a 200: a limit reached (see the module docs).
    fn quota_spent(&self, answer: &Answer) -> Option<String> {
        if answer.status != 200 {
            return None;
        }
        let limit = serde_json::from_slice::<Limit>(&answer.body).ok()?;
        let words = limit.note.or(limit.information)?;
        (!is_premium(&words)).then(|| words_of(&words))
    }

    /// SYMBOL_SEARCH: a listing's currency and hours, kept for [`KEEP_SEARCH`].
    fn keep(&self, url: &Url) -> Option<Duration> {
        url.query_pairs()
            .any(|(k, v)| k == "function" && v == "SYMBOL_SEARCH")
            .then_some(KEEP_SEARCH)
    }
}

/// The error of a window reaching before the compact series.
fn beyond_compact(start: Date) -> FetchError {
    FetchError::Unsupported {
        api: SPEC.display_name,
        what: format!(
            "closes as far back as {start} for a free key: its daily series (outputsize=compact) \
             holds the last {COMPACT_DAYS} trading days"
        ),
    }
}

/// Weekdays after `from` up to `to` (0 when `to` is not after it).
fn weekdays_between(from: Date, to: Date) -> i64 {
    let days = i64::from((to - from).get_days().max(0));
    let mut weekdays = days / 7 * 5;
    let mut day = from.saturating_add(jiff::Span::new().days(days / 7 * 7));
    while day < to {
        day = day.tomorrow().unwrap_or(to);
        if !matches!(
            day.weekday(),
            jiff::civil::Weekday::Saturday | jiff::civil::Weekday::Sunday
        ) {
            weekdays += 1;
        }
    }
    weekdays
}

/// Whether an `Information` text is about a premium endpoint, not a limit.
fn is_premium(words: &str) -> bool {
    words.contains("premium endpoint")
}

/// Alpha Vantage's words, without the thanks they begin with: one safe line.
fn words_of(words: &str) -> String {
    let words = words.trim();
    let words = words.strip_prefix(THANKS).unwrap_or(words).trim();
    text::clip(words, text::MAX_EXCERPT * 2)
}

/// The top-level fields that say a limit is reached.
#[derive(Deserialize)]
struct Limit {
    #[serde(rename = "Note", default)]
    note: Option<String>,
    #[serde(rename = "Information", default)]
    information: Option<String>,
}

/// Every answer's fields: each function fills its own, and an error fills one of the last.
#[derive(Deserialize)]
struct Body {
    #[serde(rename = "Global Quote", default)]
    global_quote: Option<GlobalQuote>,
    #[serde(rename = "Meta Data", default)]
    meta: Option<Meta>,
    #[serde(rename = "Time Series (Daily)", default, deserialize_with = "in_order")]
    series: Option<Vec<(String, Bar)>>,
    #[serde(rename = "bestMatches", default)]
    matches: Option<Vec<Match>>,
    #[serde(rename = "Error Message", default)]
    error: Option<String>,
    #[serde(rename = "Note", default)]
    note: Option<String>,
    #[serde(rename = "Information", default)]
    information: Option<String>,
}

#[derive(Deserialize)]
struct GlobalQuote {
    #[serde(rename = "01. symbol", default)]
    symbol: Option<String>,
    #[serde(rename = "05. price", default)]
    price: Option<String>,
    #[serde(rename = "07. latest trading day", default)]
    day: Option<String>,
    #[serde(rename = "08. previous close", default)]
    previous_close: Option<String>,
}

#[derive(Deserialize)]
struct Meta {
    #[serde(rename = "2. Symbol", default)]
    symbol: Option<String>,
}

#[derive(Deserialize)]
struct Bar {
    #[serde(rename = "4. close", default)]
    close: Option<String>,
}

#[derive(Deserialize)]
struct Match {
    #[serde(rename = "1. symbol", default)]
    symbol: Option<String>,
    #[serde(rename = "2. name", default)]
    name: Option<String>,
    #[serde(rename = "4. region", default)]
    region: Option<String>,
    #[serde(rename = "6. marketClose", default)]
    market_close: Option<String>,
    #[serde(rename = "7. timezone", default)]
    timezone: Option<String>,
    #[serde(rename = "8. currency", default)]
    currency: Option<String>,
}

/// A JSON object's members in the order sent, duplicates kept (a day twice is malformed,
/// which a map would hide).
fn in_order<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<(String, Bar)>>, D::Error> {
    struct Members;
    impl<'de> Visitor<'de> for Members {
        type Value = Option<Vec<(String, Bar)>>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an object of days")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut members = Vec::with_capacity(map.size_hint().unwrap_or(0).min(1024));
            while let Some(member) = map.next_entry()? {
                members.push(member);
            }
            Ok(Some(members))
        }
    }
    d.deserialize_map(Members)
}

/// Read an answer of Alpha Vantage's, or the error it stands for.
fn read_body(answer: &Answer) -> Result<Body, FetchError> {
    SPEC.refuse_html(answer, "JSON")?;
    if answer.status != 200 {
        return Err(SPEC.http_error(answer.status, excerpt(&answer.body)));
    }
    let body: Body = serde_json::from_slice(&answer.body).map_err(|e| {
        SPEC.malformed(format!(
            "not Alpha Vantage's format ({}): {}",
            text::serde_error(&e),
            excerpt(&answer.body)
        ))
    })?;
    if let Some(error) = &body.error {
        let words = words_of(error);
        return Err(if error.contains("Invalid API call") {
            SPEC.not_found(words)
        } else if error.contains("apikey") {
            let env = SPEC.key.as_ref().map_or("", |k| k.env);
            SPEC.http_error(
                answer.status,
                format!("the API key was refused ({words}); check {env}"),
            )
        } else {
            SPEC.http_error(answer.status, words)
        });
    }
    // A limit is the fetcher's (`quota_spent`); a premium endpoint's words, or a limit the
    // fetcher was not shown, end here.
    if let Some(words) = body.note.as_deref().or(body.information.as_deref()) {
        return Err(SPEC.http_error(answer.status, words_of(words)));
    }
    Ok(body)
}

/// What a prices answer holds, before its listing says its currency and hours.
enum Data {
    Latest(Latest),
    /// Each day's close as sent, in the order sent.
    Daily(Vec<(Date, rust_decimal::Decimal)>),
}

struct Latest {
    price: rust_decimal::Decimal,
    day: Date,
    previous_close: Option<rust_decimal::Decimal>,
}

/// Read the prices answer to `query`.
fn read_data(query: &Query, answer: &Answer) -> Result<Data, FetchError> {
    let asked = symbol(&query.ticker);
    let body = read_body(answer)?;
    match query.when {
        When::Latest => {
            let quote = body
                .global_quote
                .ok_or_else(|| SPEC.malformed("no \"Global Quote\" in the answer".into()))?;
            read_latest(quote, &asked).map(Data::Latest)
        }
        When::Close(..) | When::Range(_) => {
            let answered = body.meta.and_then(|m| m.symbol);
            check_symbol(answered.as_deref(), &asked)?;
            let series = body
                .series
                .ok_or_else(|| SPEC.malformed("no \"Time Series (Daily)\" in the answer".into()))?;
            let mut days = Vec::with_capacity(series.len());
            for (day_text, bar) in series {
                let day = parse_iso_date(&day_text).ok_or_else(|| {
                    SPEC.malformed(format!("{:?} is not a day", excerpt(day_text.as_bytes())))
                })?;
                let Some(close) = bar.close.as_deref() else {
                    return Err(SPEC.malformed(format!("{day} has no \"4. close\"")));
                };
                let close = parse_price(close)
                    .map_err(|e| SPEC.malformed(format!("the close of {day}: {e}")))?;
                days.push((day, close));
            }
            Ok(Data::Daily(days))
        }
    }
}

fn read_latest(quote: GlobalQuote, asked: &str) -> Result<Latest, FetchError> {
    let Some(price) = quote.price.as_deref() else {
        // `{"Global Quote": {}}`: a symbol it does not know.
        return Err(SPEC.not_found(format!("no quote for {asked}")));
    };
    check_symbol(quote.symbol.as_deref(), asked)?;
    let price = parse_price(price).map_err(|e| SPEC.malformed(format!("price {e}")))?;
    let day = quote
        .day
        .as_deref()
        .and_then(parse_iso_date)
        .ok_or_else(|| SPEC.malformed("no latest trading day in the answer".into()))?;
    if !Horizon::now().allows_day(day) {
        return Err(SPEC.malformed(format!("a latest trading day of {day} is in the future")));
    }
    let previous_close = quote.previous_close.and_then(|p| parse_price(&p).ok());
    Ok(Latest {
        price,
        day,
        previous_close,
    })
}

/// Refuse an answer about another symbol than the one asked (a server that lies).
fn check_symbol(answered: Option<&str>, asked: &str) -> Result<(), FetchError> {
    match answered {
        Some(answered) if !answered.trim().eq_ignore_ascii_case(asked) => {
            Err(SPEC.malformed(format!(
                "the answer is about {}, not {asked}",
                excerpt(answered.as_bytes())
            )))
        }
        _ => Ok(()),
    }
}

/// A listing as SYMBOL_SEARCH describes it.
#[derive(Debug, Clone, PartialEq)]
struct Listing {
    currency: String,
    name: Option<Arc<str>>,
    closes: Closing,
}

/// When its market's days close.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Closing {
    /// A US listing: 16:00 New York time, daylight saving and all.
    NewYork,
    /// At `time`, `offset` seconds ahead of UTC (as the search said it).
    At { time: Time, offset: i64 },
    /// Not said in a form known here.
    Unknown,
}

impl Closing {
    /// The instant `day`'s session closes, if known.
    fn instant(self, day: Date) -> Option<i64> {
        match self {
            Closing::NewYork => us_market::close_of(day),
            Closing::At { time, offset } => {
                let seconds = i64::from(time.hour()) * 3600 + i64::from(time.minute()) * 60;
                Some(midnight_utc(day) + seconds - offset)
            }
            Closing::Unknown => None,
        }
    }

    /// Whether `day`'s session is over at `now`: by its close when known, else once the day
    /// is over everywhere (at noon UTC the next day).
    fn over(self, day: Date, now: i64) -> bool {
        let end = self
            .instant(day)
            .unwrap_or_else(|| midnight_utc(day) + 36 * 3600);
        end <= now
    }
}

/// Read a SYMBOL_SEARCH answer: the listing of `asked`, or why there is none.
fn read_listing(answer: &Answer, asked: &str) -> Result<Listing, FetchError> {
    let body = read_body(answer)?;
    let matches = body
        .matches
        .ok_or_else(|| SPEC.malformed("no \"bestMatches\" in the symbol search".into()))?;
    let found = matches
        .into_iter()
        .find(|m| {
            m.symbol
                .as_deref()
                .is_some_and(|s| s.trim().eq_ignore_ascii_case(asked))
        })
        .ok_or_else(|| {
            SPEC.no_price(format!(
                "its symbol search does not list {asked}, so the price's currency is unknown"
            ))
        })?;
    let currency = text::currency(found.currency)
        .map_err(|e| SPEC.malformed(e.to_string()))?
        .ok_or_else(|| SPEC.no_price(format!("its symbol search names no currency for {asked}")))?;
    let closes = if found.region.as_deref() == Some("United States") {
        Closing::NewYork
    } else {
        match (
            found.market_close.as_deref().and_then(clock_time),
            found.timezone.as_deref().and_then(utc_offset),
        ) {
            (Some(time), Some(offset)) => Closing::At { time, offset },
            _ => Closing::Unknown,
        }
    };
    Ok(Listing {
        currency,
        name: text::free_text(found.name.map(|n| n.trim().to_string())).map(Arc::from),
        closes,
    })
}

/// `16:30`.
fn clock_time(text: &str) -> Option<Time> {
    let (h, m) = text.trim().split_once(':')?;
    let digits = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(h) || !digits(m) {
        return None;
    }
    Time::new(h.parse().ok()?, m.parse().ok()?, 0, 0).ok()
}

/// `UTC+01`, `UTC-04`, `UTC+05:30`: seconds ahead of UTC, at most 14 hours.
fn utc_offset(text: &str) -> Option<i64> {
    let rest = text.trim().strip_prefix("UTC")?;
    let (sign, rest) = match rest.as_bytes().first()? {
        b'+' => (1, &rest[1..]),
        b'-' => (-1, &rest[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':').unwrap_or((rest, "00"));
    let digits = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(h) || !digits(m) {
        return None;
    }
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 14 && m < 60).then_some(sign * (h * 3600 + m * 60))
}

impl Latest {
    /// The latest price in the listing's currency, stamped with its day's close when that is
    /// over (a price of a session still running has no time `quotes` can tell).
    fn quote(&self, listing: &Listing, now: i64) -> Result<Quote, FetchError> {
        let time = listing
            .closes
            .instant(self.day)
            .filter(|close| *close <= now);
        Ok(Quote {
            price: self.price,
            currency: Some(listing.currency.clone()),
            time,
            previous_close: self.previous_close,
            name: listing.name.clone(),
            ..Quote::default()
        })
    }
}

/// A series' closes, ascending, and where it was cut.
struct Series {
    quotes: Vec<Quote>,
    /// The first day of a full compact series: the days before it were left out.
    cut_before: Option<Date>,
}

/// The closes of a daily series in the listing's currency, ascending, leaving out a day
/// whose session is not over at `now`.
fn daily_closes(
    days: Vec<(Date, rust_decimal::Decimal)>,
    listing: &Listing,
    now: i64,
) -> Result<Series, FetchError> {
    let cut_before = (days.len() >= COMPACT_DAYS)
        .then(|| days.iter().map(|(d, _)| *d).min())
        .flatten();
    let quotes = days
        .into_iter()
        .filter(|(day, _)| listing.closes.over(*day, now))
        .map(|(day, price)| Quote {
            price,
            currency: Some(listing.currency.clone()),
            time: listing.closes.instant(day),
            market_date: Some(day),
            name: listing.name.clone(),
            ..Quote::default()
        })
        .collect();
    Ok(Series {
        quotes: SPEC.one_per_day(quotes)?,
        cut_before,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Interval, Range};

    const MSFT: &[u8] =
        include_bytes!("../../tests/fixtures/alphavantage_global_quote_MSFT_2018-10-05.json");
    const IWDA: &[u8] =
        include_bytes!("../../tests/fixtures/alphavantage_global_quote_IWDA.AS_2019-08-30.json");
    const IBM_DAILY: &[u8] = include_bytes!(
        "../../tests/fixtures/alphavantage_time_series_daily_IBM_partial_edited.json"
    );
    const IBM_ADJUSTED: &[u8] = include_bytes!(
        "../../tests/fixtures/alphavantage_time_series_daily_adjusted_IBM_partial.json"
    );
    const SEARCH_BA: &[u8] =
        include_bytes!("../../tests/fixtures/alphavantage_symbol_search_BA.json");
    const SEARCH_IBM: &[u8] =
        include_bytes!("../../tests/fixtures/alphavantage_symbol_search_IBM.json");
    const INVALID_CALL: &[u8] = include_bytes!(
        "../../tests/fixtures/alphavantage_error_invalid_api_call_TIME_SERIES_DAILY_IWDA.AS.json"
    );
    const BAD_KEY: &[u8] =
        include_bytes!("../../tests/fixtures/alphavantage_error_apikey_invalid_fragment.txt");
    const NOTE: &[u8] = include_bytes!(
        "../../tests/fixtures/alphavantage_note_rate_limit_5_per_min_500_per_day.json"
    );
    const DAILY_LIMIT: &[u8] = include_bytes!(
        "../../tests/fixtures/alphavantage_information_rate_limit_25_per_day_fragment.txt"
    );
    const PREMIUM: &[u8] = include_bytes!(
        "../../tests/fixtures/alphavantage_information_premium_endpoint_fragment.txt"
    );

    /// 2023-03-01, after every recorded answer.
    const LATER: i64 = 1_677_628_800;

    fn av() -> AlphaVantage {
        AlphaVantage::new(&[Url::parse("http://127.0.0.1:8080").unwrap()])
    }

    fn answer(body: &[u8]) -> Answer {
        Answer {
            status: 200,
            body: body.to_vec(),
        }
    }

    fn query(ticker: &str, when: When) -> Query {
        Query {
            ticker: Ticker::parse(ticker).unwrap(),
            when,
        }
    }

    fn us() -> Listing {
        read_listing(&answer(SEARCH_IBM), "IBM").unwrap()
    }

    #[test]
    fn requests_name_the_function_and_never_the_key() {
        let urls = |t, when| av().requests(&query(t, when))[0].to_string();
        assert_eq!(
            urls("msft", When::Latest),
            "http://127.0.0.1:8080/query?function=GLOBAL_QUOTE&symbol=MSFT"
        );
        let day = jiff::civil::date(2021, 1, 8);
        assert_eq!(
            urls("IBM", When::Close(day, Adjust::None)),
            "http://127.0.0.1:8080/query?function=TIME_SERIES_DAILY&symbol=IBM&outputsize=compact"
        );
        // Yahoo's suffix, Alpha Vantage's exchange.
        assert_eq!(
            urls("VOD.L", When::Latest),
            "http://127.0.0.1:8080/query?function=GLOBAL_QUOTE&symbol=VOD.LON"
        );
        assert_eq!(
            av().search_url(&Ticker::parse("shop.to").unwrap()).as_str(),
            "http://127.0.0.1:8080/query?function=SYMBOL_SEARCH&keywords=SHOP.TRT"
        );
        for (ticker, asked) in [("VOD.LON", "VOD.LON"), ("BRK-B", "BRK-B"), (".L", ".L")] {
            assert_eq!(symbol(&Ticker::parse(ticker).unwrap()), asked);
        }
    }

    #[test]
    fn the_quote_then_its_listing_then_the_price() {
        let av = av();
        let q = query("MSFT", When::Latest);
        let Step::More(urls) = av.follow(&q, &[&answer(MSFT)]).unwrap() else {
            panic!("expected the symbol search")
        };
        assert_eq!(
            urls[0].as_str(),
            "http://127.0.0.1:8080/query?function=SYMBOL_SEARCH&keywords=MSFT"
        );
        let search = br#"{"bestMatches":[{"1. symbol":"MSFT","2. name":"Microsoft Corporation","4. region":"United States","6. marketClose":"16:00","7. timezone":"UTC-04","8. currency":"USD"}]}"#;
        let Step::Done(parsed) = av.follow(&q, &[&answer(MSFT), &answer(search)]).unwrap() else {
            panic!("expected the price")
        };
        let quote = &parsed.quotes[0];
        assert_eq!(quote.price.to_string(), "112.13");
        assert_eq!(quote.currency.as_deref(), Some("USD"));
        assert_eq!(quote.previous_close.unwrap().to_string(), "112.79");
        assert_eq!(quote.name.as_deref(), Some("Microsoft Corporation"));
        // 2018-10-05 16:00 New York (EDT) = 20:00 UTC.
        assert_eq!(quote.time, Some(1_538_769_600));
        assert_eq!(quote.market_date, None);
        // A symbol it does not know: no search asked.
        let empty = answer(br#"{"Global Quote": {}}"#);
        let err = av.follow(&q, &[&empty]).unwrap_err();
        assert_eq!(err.kind(), "not_found");
        // The search is kept; the quote is not.
        assert_eq!(av.keep(&urls[0]), Some(KEEP_SEARCH));
        assert_eq!(av.keep(&av.requests(&q)[0]), None);
    }

    #[test]
    fn a_listing_says_the_currency_and_when_its_day_closes() {
        let listing = read_listing(&answer(SEARCH_IBM), "IBM.LON").unwrap();
        assert_eq!(listing.currency, "USD");
        // London at UTC+01 closes at 16:30, 15:30 UTC.
        let day = jiff::civil::date(2021, 7, 20);
        assert_eq!(
            listing.closes.instant(day),
            Some(midnight_utc(day) + 15 * 3600 + 30 * 60)
        );
        let hkd = read_listing(&answer(SEARCH_BA), "6190.HKG").unwrap();
        assert_eq!(hkd.currency, "HKD");
        assert_eq!(us().closes, Closing::NewYork);
        let tesco = br#"{"bestMatches":[{"1. symbol":"TSCO.LON","2. name":"Tesco PLC","3. type":"Equity","4. region":"United Kingdom","5. marketOpen":"08:00","6. marketClose":"16:30","7. timezone":"UTC+01","8. currency":"GBX","9. matchScore":"0.7273"}]}"#;
        assert_eq!(
            read_listing(&answer(tesco), "TSCO.LON").unwrap().currency,
            "GBX"
        );
        // Not listed, no currency, a currency that is none: no price.
        let err = read_listing(&answer(SEARCH_BA), "VOD.LON").unwrap_err();
        assert_eq!(err.kind(), "no_price");
        assert!(err.to_string().contains("currency is unknown"), "{err}");
        let none = br#"{"bestMatches":[{"1. symbol":"X","8. currency":""}]}"#;
        assert_eq!(
            read_listing(&answer(none), "X").unwrap_err().kind(),
            "no_price"
        );
        let evil = br#"{"bestMatches":[{"1. symbol":"X","8. currency":"USD\nEVIL"}]}"#;
        assert_eq!(
            read_listing(&answer(evil), "X").unwrap_err().kind(),
            "malformed_response"
        );
        for (text, offset) in [
            ("UTC+01", Some(3600)),
            ("UTC-04", Some(-4 * 3600)),
            ("UTC+05:30", Some(5 * 3600 + 1800)),
            ("UTC+15", None),
            ("GMT+01", None),
            ("UTC1", None),
        ] {
            assert_eq!(utc_offset(text), offset, "{text}");
        }
        assert_eq!(clock_time("16:30"), Some(jiff::civil::time(16, 30, 0, 0)));
        assert_eq!(clock_time("4:30 PM"), None);
    }

    #[test]
    fn history_is_the_close_as_traded() {
        let range = Range::new(
            jiff::civil::date(2021, 1, 4),
            jiff::civil::date(2021, 1, 8),
            Interval::Day,
            Adjust::None,
        )
        .unwrap();
        let Data::Daily(days) =
            read_data(&query("IBM", When::Range(range)), &answer(IBM_DAILY)).unwrap()
        else {
            panic!("a series")
        };
        let closes = daily_closes(days, &us(), LATER).unwrap();
        assert_eq!(
            closes.cut_before, None,
            "seven days are no full compact series"
        );
        let shown: Vec<String> = SPEC
            .within(&range, closes.quotes)
            .iter()
            .map(|q| format!("{} {}", q.market_date.unwrap(), q.price))
            .collect();
        assert_eq!(
            shown,
            [
                "2021-01-04 123.94",
                "2021-01-05 126.14",
                "2021-01-06 129.29",
                "2021-01-07 128.99",
                "2021-01-08 128.53"
            ]
        );
        // The adjusted series' "4. close" is the same traded close; its adjusted close is not
        // what is read.
        let Data::Daily(days) =
            read_data(&query("IBM", When::Range(range)), &answer(IBM_ADJUSTED)).unwrap()
        else {
            panic!("a series")
        };
        assert_eq!(days[0].1.to_string(), "128.58");
        // A session still running is no close.
        let day = jiff::civil::date(2021, 1, 11);
        let close = us_market::close_of(day).unwrap();
        let Data::Daily(days) =
            read_data(&query("IBM", When::Range(range)), &answer(IBM_DAILY)).unwrap()
        else {
            panic!()
        };
        let closes = daily_closes(days, &us(), close - 1).unwrap();
        assert!(closes.quotes.iter().all(|q| q.market_date != Some(day)));
    }

    #[test]
    fn a_full_compact_series_that_starts_after_the_window_is_refused() {
        let mut series =
            String::from(r#"{"Meta Data":{"2. Symbol":"IBM"},"Time Series (Daily)":{"#);
        let mut day = jiff::civil::date(2021, 6, 1);
        let mut rows = Vec::new();
        while rows.len() < COMPACT_DAYS {
            if !matches!(
                day.weekday(),
                jiff::civil::Weekday::Saturday | jiff::civil::Weekday::Sunday
            ) {
                rows.push(format!(r#""{day}":{{"4. close":"100.00"}}"#));
            }
            day = day.tomorrow().unwrap();
        }
        rows.reverse();
        series.push_str(&rows.join(","));
        series.push_str("}}");
        let av = av();
        let search = answer(SEARCH_IBM);
        let window = |from| {
            When::Range(
                Range::new(
                    from,
                    jiff::civil::date(2021, 7, 30),
                    Interval::Day,
                    Adjust::None,
                )
                .unwrap(),
            )
        };
        let inside = av
            .parse(
                &query("IBM", window(jiff::civil::date(2021, 6, 1))),
                &[&answer(series.as_bytes()), &search],
            )
            .unwrap();
        assert!(!inside.quotes.is_empty());
        let err = av
            .parse(
                &query("IBM", window(jiff::civil::date(2021, 5, 31))),
                &[&answer(series.as_bytes()), &search],
            )
            .unwrap_err();
        assert_eq!(err.kind(), "unsupported");
        assert!(err.to_string().contains("last 100 trading days"), "{err}");
    }

    #[test]
    fn what_cannot_be_answered_is_refused_before_any_request() {
        let av = av();
        let today = today_utc();
        let ago = |days| today.saturating_sub(jiff::Span::new().days(days));
        assert!(av.supports(When::Latest).is_ok());
        assert!(av.supports(When::Close(ago(30), Adjust::None)).is_ok());
        for adjust in [Adjust::Splits, Adjust::All] {
            let err = av.supports(When::Close(ago(30), adjust)).unwrap_err();
            assert_eq!(err.kind(), "unsupported");
        }
        let err = av
            .supports(When::Close(ago(200), Adjust::None))
            .unwrap_err();
        assert_eq!(err.kind(), "unsupported");
        let range = Range::new(ago(365), today, Interval::Month, Adjust::None).unwrap();
        assert!(av.supports(When::Range(range)).is_err());
        for ticker in ["^GSPC", "EURUSD=X", "GC=F"] {
            let err = av.check(&Ticker::parse(ticker).unwrap()).unwrap_err();
            assert_eq!(err.kind(), "invalid_ticker", "{ticker}");
        }
        assert_eq!(
            weekdays_between(jiff::civil::date(2024, 1, 5), jiff::civil::date(2024, 1, 8)),
            1
        );
        assert_eq!(
            weekdays_between(
                jiff::civil::date(2024, 1, 1),
                jiff::civil::date(2024, 1, 29)
            ),
            20
        );
        assert_eq!(
            weekdays_between(jiff::civil::date(2024, 1, 8), jiff::civil::date(2024, 1, 8)),
            0
        );
    }

    #[test]
    fn errors_are_200_bodies() {
        let av = av();
        // Limits: the fetcher's, in Alpha Vantage's words without the thanks.
        let words = av.quota_spent(&answer(DAILY_LIMIT)).unwrap();
        assert!(
            words.starts_with("Our standard API rate limit is 25 requests per day."),
            "{words}"
        );
        assert!(av.quota_spent(&answer(NOTE)).is_some());
        assert_eq!(av.quota_spent(&answer(PREMIUM)), None);
        assert_eq!(av.quota_spent(&answer(MSFT)), None);
        assert_eq!(
            av.quota_spent(&Answer {
                status: 404,
                body: NOTE.to_vec()
            }),
            None
        );
        let q = query(
            "IWDA.AS",
            When::Close(jiff::civil::date(2019, 8, 30), Adjust::None),
        );
        let err = av.follow(&q, &[&answer(INVALID_CALL)]).unwrap_err();
        assert_eq!(err.kind(), "not_found");
        let err = av.follow(&q, &[&answer(BAD_KEY)]).unwrap_err();
        assert_eq!(err.kind(), "http_status");
        assert!(
            err.to_string().ends_with("; check ALPHAVANTAGE_API_KEY"),
            "{err}"
        );
        let err = av.follow(&q, &[&answer(PREMIUM)]).unwrap_err();
        assert!(err.to_string().contains("premium endpoint"), "{err}");
        for garbage in [
            &b"<html></html>"[..],
            b"",
            b"[]",
            b"{}",
            br#"{"Global Quote": {"01. symbol":"MSFT","05. price":"1e3","07. latest trading day":"2018-10-05"}}"#,
            br#"{"Meta Data":{"2. Symbol":"MSFT"},"Time Series (Daily)":{"2021-01-04":{"4. close":"1"}}}"#,
            br#"{"Time Series (Daily)":{"2021-1-4":{"4. close":"1"}}}"#,
            br#"{"Time Series (Daily)":{"2021-01-04":{"1. open":"1"}}}"#,
        ] {
            let latest = query("IBM", When::Latest);
            let range = query("IBM", q.when);
            let a = av.follow(&latest, &[&answer(garbage)]);
            let b = av.follow(&range, &[&answer(garbage)]);
            assert!(a.is_err() || b.is_err(), "{}", String::from_utf8_lossy(garbage));
        }
        // A day twice: which is its close?
        let twice = br#"{"Time Series (Daily)":{"2021-01-04":{"4. close":"1"},"2021-01-04":{"4. close":"2"}}}"#;
        let range = Range::new(
            jiff::civil::date(2021, 1, 4),
            jiff::civil::date(2021, 1, 4),
            Interval::Day,
            Adjust::None,
        )
        .unwrap();
        let err = av
            .parse(
                &query("IBM", When::Range(range)),
                &[&answer(twice), &answer(SEARCH_IBM)],
            )
            .unwrap_err();
        assert_eq!(err.kind(), "malformed_response");
        // A quote of another symbol.
        let err = av
            .follow(&query("IBM", When::Latest), &[&answer(MSFT)])
            .unwrap_err();
        assert!(err.to_string().contains("about MSFT, not IBM"), "{err}");
        // No panic on any prefix of any answer.
        for body in [MSFT, IWDA, IBM_DAILY, SEARCH_IBM] {
            for cut in 0..body.len() {
                let _ = av.follow(&query("IBM", When::Latest), &[&answer(&body[..cut])]);
                let _ = read_listing(&answer(&body[..cut]), "IBM");
            }
        }
    }
}
