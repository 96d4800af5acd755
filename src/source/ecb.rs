//! The European Central Bank's euro foreign exchange reference rates, from its data API:
//! `GET /service/data/EXR/D.{CUR}.EUR.SP00.A?format=csvdata&startPeriod=…&endPeriod=…`, or
//! `…&lastNObservations=1` for the latest.
//!
//! This file is the whole of the ECB source: its [`SPEC`] (one line in the registry lists
//! it), the requests and the reading of the answers. Nothing here knows about the client,
//! `--jobs`, retries, `--currency` or output.
//!
//! **What the ECB publishes.** One rate per currency (about 30 of them) per TARGET business
//! day, set at 14:15 CET and published around 16:00: how many units of the currency one euro
//! buys (`OBS_VALUE` 1.2296 for USD on 2021-01-04). The euro is always the base. These are
//! the rates most tax authorities accept.
//!
//! **Tickers are currency pairs**, `BASE-QUOTE`, the price of one BASE in QUOTE, as on
//! Coinbase: `EUR-USD` is the published value; `USD-EUR` its inverse (1 ÷ USD); `GBP-USD` the
//! cross through the euro (USD ÷ GBP). Each currency other than the euro is one request, and
//! the same URL for every ticker of a run that needs it on that day, so the fetcher sends it
//! once ("one request per currency, never one per ticker"). A published rate is written with
//! the decimals the ECB published; an inverse or a cross, a quotient whose exact value does
//! not end, with 6 significant digits ([`Decimals::QUOTIENT`]).
//!
//! **The answer** is CSV with a header row (32 columns, CRLF, quoted fields with commas),
//! read with the `csv` crate by column name: `CURRENCY`, `TIME_PERIOD` (the day), `OBS_VALUE`
//! (parsed exactly, as text) and `DECIMALS` (how many decimals the series is published
//! with). A window without observations is `404` with the text `No results found.` (also
//! the answer for a currency the ECB does not publish at all).
//!
//! **Windows of days.** A dated query reads every observation between two days and picks by
//! day: `--date D` reads the 7 days up to D, so a weekend or a TARGET holiday takes the last
//! rate before it, and the quote's `date` says which day that was. A range of days is the
//! same reading with every day kept.

use std::sync::Arc;

use jiff::civil::{Date, Weekday};
use reqwest::Url;
use rust_decimal::Decimal;

use super::{
    Answer, Endpoint, Parsed, Query, Rates, Source, SourceSpec, When, endpoint_url, pair_base,
};
use crate::calendar::{Horizon, LOOKBACK_DAYS, midnight_utc};
use crate::error::FetchError;
use crate::quote::{Decimals, MAX_SCALE, Quote, parse_price};
use crate::text::excerpt;
use crate::ticker::Ticker;

pub static SPEC: SourceSpec = SourceSpec {
    name: "ecb",
    display_name: "the ECB",
    about: "ECB: euro foreign exchange reference rates, their inverses and crosses",
    tickers: "EUR-USD, USD-EUR, GBP-USD",
    not_found_hint: "the ECB publishes reference rates for about 30 currencies, e.g. EUR-USD",
    endpoints: &[Endpoint {
        flag: "ecb-url",
        env: "QUOTES_ECB_URL",
        default_url: "https://data-api.ecb.europa.eu",
        about: "the ECB's data API",
    }],
    build: |urls| Arc::new(Ecb::new(urls)),
    rates: Some(Rates {
        pair: |from, to| format!("{from}-{to}"),
        base: Some(EURO),
    }),
    key: None,
    limits: super::Limits::NONE,
};

/// The base of every ECB rate.
const EURO: &str = "EUR";

/// The answer's text for a series or window without observations (with status 404).
const NO_RESULTS: &[u8] = b"No results found";

pub struct Ecb {
    base_url: Url,
}

impl Ecb {
    /// `urls` holds the base URL of [`SPEC`]'s one endpoint.
    pub fn new(urls: &[Url]) -> Ecb {
        Ecb {
            base_url: SPEC.base_url(urls, 0),
        }
    }

    /// The request for one currency's series over the query's window.
    fn series_url(&self, currency: &str, when: When) -> Url {
        let key = format!("D.{currency}.{EURO}.SP00.A");
        let segments = ["service", "data", "EXR", key.as_str()];
        match Window::of(when) {
            Window::Latest => endpoint_url(
                &self.base_url,
                &segments,
                &[("format", "csvdata"), ("lastNObservations", "1")],
            ),
            Window::Days { first, last } => endpoint_url(
                &self.base_url,
                &segments,
                &[
                    ("format", "csvdata"),
                    ("startPeriod", &first.to_string()),
                    ("endPeriod", &last.to_string()),
                ],
            ),
        }
    }
}

impl Source for Ecb {
    fn spec(&self) -> &'static SourceSpec {
        &SPEC
    }

    fn check(&self, ticker: &Ticker) -> Result<(), FetchError> {
        Pair::of(ticker).map(|_| ())
    }

    fn commodity(&self, ticker: &Ticker) -> String {
        pair_base(ticker).unwrap_or_else(|| ticker.to_string())
    }

    fn requests(&self, query: &Query) -> Vec<Url> {
        // `check` refused anything that is not a pair before any request was planned.
        let Ok(pair) = Pair::of(&query.ticker) else {
            return Vec::new();
        };
        pair.legs()
            .into_iter()
            .map(|currency| self.series_url(currency, query.when))
            .collect()
    }

    fn parse(&self, query: &Query, answers: &[&Answer]) -> Result<Parsed, FetchError> {
        let pair = Pair::of(&query.ticker)?;
        let legs = pair.legs();
        if answers.len() != legs.len() {
            return Err(FetchError::Other(
                "internal: an ECB answer is missing".into(),
            ));
        }
        let series = legs
            .iter()
            .zip(answers)
            .map(|(currency, answer)| read_observations(currency, answer))
            .collect::<Result<Vec<_>, _>>()?;
        pair.select(query.when, &series).map(Parsed::from)
    }
}

/// Which observations a query reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Window {
    /// The last observation of each series.
    Latest,
    /// Every observation from `first` to `last`, both included.
    Days { first: Date, last: Date },
}

impl Window {
    fn of(when: When) -> Window {
        match when {
            When::Latest => Window::Latest,
            When::Close(day, _) => Window::Days {
                first: day.saturating_sub(jiff::Span::new().days(LOOKBACK_DAYS)),
                last: day,
            },
            When::Range(range) => Window::Days {
                first: range.from,
                last: range.to,
            },
        }
    }
}

/// A checked ticker: two different three-letter currency codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pair<'a> {
    base: &'a str,
    quote: &'a str,
}

impl<'a> Pair<'a> {
    fn of(ticker: &'a Ticker) -> Result<Pair<'a>, FetchError> {
        let is_code = |s: &str| s.len() == 3 && s.bytes().all(|b| b.is_ascii_uppercase());
        match ticker.as_str().split_once('-') {
            Some((base, quote)) if is_code(base) && is_code(quote) && base != quote => {
                Ok(Pair { base, quote })
            }
            Some((base, quote)) if base == quote => Err(FetchError::InvalidTicker(format!(
                "{ticker} is one currency; ECB tickers are pairs of two, like EUR-USD"
            ))),
            _ => Err(FetchError::InvalidTicker(format!(
                "{ticker} is not a currency pair; ECB tickers are pairs of currency codes like \
                 EUR-USD, USD-EUR or GBP-USD"
            ))),
        }
    }

    /// The currencies whose series the pair needs, base first: every one but the euro.
    fn legs(&self) -> Vec<&'a str> {
        [self.base, self.quote]
            .into_iter()
            .filter(|c| *c != EURO)
            .collect()
    }

    /// The pair's rate on every day each of its legs has one, in day order: the published
    /// value (euro base), its inverse (euro quote), or the cross through the euro.
    /// `series` holds each leg's observations, in the order of [`Pair::legs`].
    fn rates(&self, series: &[Vec<Observation>]) -> Vec<Rate> {
        match (self.base == EURO, self.quote == EURO, series) {
            (true, _, [quote]) => quote
                .iter()
                .map(|q| Rate {
                    day: q.day,
                    value: q.value,
                    decimals: Decimals::AtLeast(q.decimals),
                })
                .collect(),
            (_, true, [base]) => base
                .iter()
                .filter_map(|b| {
                    Some(Rate {
                        day: b.day,
                        value: Decimal::ONE.checked_div(b.value)?,
                        decimals: Decimals::QUOTIENT,
                    })
                })
                .collect(),
            (false, false, [base, quote]) => {
                let quote: std::collections::HashMap<Date, &Observation> =
                    quote.iter().map(|q| (q.day, q)).collect();
                base.iter()
                    .filter_map(|b| {
                        let q = quote.get(&b.day)?;
                        Some(Rate {
                            day: b.day,
                            value: q.value.checked_div(b.value)?,
                            decimals: Decimals::QUOTIENT,
                        })
                    })
                    .collect()
            }
            _ => Vec::new(),
        }
    }

    /// The quotes a query asks for from the legs' observations.
    fn select(&self, when: When, series: &[Vec<Observation>]) -> Result<Vec<Quote>, FetchError> {
        let rates = self.rates(series);
        if let When::Range(range) = when {
            // Every day with a rate; none at all is the plan's "no trading day" error.
            return Ok(rates
                .iter()
                .filter(|r| range.contains(r.day))
                .map(|r| self.quote(r))
                .collect());
        }
        let chosen = match Window::of(when) {
            Window::Latest => rates.last().ok_or_else(|| self.no_latest(series))?,
            Window::Days { first, last } => rates
                .iter()
                .rev()
                .find(|r| (first..=last).contains(&r.day))
                .ok_or_else(|| SPEC.no_price(format!("no rate between {first} and {last}")))?,
        };
        Ok(vec![self.quote(chosen)])
    }

    /// Why there is no latest rate: a leg the ECB does not publish, or (for a cross) legs
    /// whose latest rates are from different days (a currency it stopped publishing).
    fn no_latest(&self, series: &[Vec<Observation>]) -> FetchError {
        let legs = self.legs();
        if let Some((currency, _)) = legs.iter().zip(series).find(|(_, s)| s.is_empty()) {
            return SPEC.not_found(format!("no reference rate for {currency}"));
        }
        let days: Vec<String> = legs
            .iter()
            .zip(series)
            .filter_map(|(currency, s)| Some(format!("{currency} on {}", s.last()?.day)))
            .collect();
        SPEC.no_price(format!(
            "the latest rates are from different days ({})",
            days.join(", ")
        ))
    }

    fn quote(&self, rate: &Rate) -> Quote {
        let name = match (self.base == EURO, self.quote == EURO) {
            (true, _) => "ECB euro reference rate",
            (_, true) => "inverse of the ECB euro reference rate",
            _ => "cross of ECB euro reference rates",
        };
        let time = fixing_time(rate.day);
        Quote {
            price: rate.value,
            currency: Some(self.quote.to_string()),
            // A day at the end of the calendar has no 14:15 UTC+1; then it has no time.
            time: jiff::Timestamp::from_second(time).ok().map(|_| time),
            market_date: Some(rate.day),
            previous_close: None,
            name: Some(name.into()),
            exchange: None,
            precision: Some(rate.decimals),
            quoted: None,
            fx: None,
        }
    }
}

/// One day's rate of a pair.
#[derive(Debug, Clone, PartialEq)]
struct Rate {
    day: Date,
    value: Decimal,
    decimals: Decimals,
}

/// One published reference rate: how many units of a currency one euro bought that day.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub day: Date,
    /// Exact, as published.
    pub value: Decimal,
    /// The decimals it was published with (see [`read_observations`]).
    pub decimals: u32,
}

/// Read one currency's answer into its observations, in day order. A window without any is
/// an empty list (`404` with `No results found.`); the caller knows what that means.
///
/// `decimals` is the larger of the series' `DECIMALS` attribute and the decimals in the
/// value's text: the attribute is 4 for USD, whose 1.2250 the answer writes `1.225`, while
/// the text of GBP's 0.90333 has five.
///
/// Public for the property tests and fuzz targets: it must return an error, never panic,
/// whatever the bytes.
pub fn read_observations(currency: &str, answer: &Answer) -> Result<Vec<Observation>, FetchError> {
    let (status, body) = (answer.status, answer.body.as_slice());
    SPEC.refuse_html(answer, "CSV")?;
    match status {
        200 => {}
        404 if contains(body, NO_RESULTS) => return Ok(Vec::new()),
        404 => return Err(SPEC.not_found(excerpt(body))),
        _ => return Err(SPEC.http_error(status, excerpt(body))),
    }
    let malformed = |detail: String| SPEC.malformed(detail);
    // Not flexible: a row with more or fewer fields than the header would be read by
    // position, a column off (issue 18: `TIME_PERIOD,OBS_VALUE` shifted made the rate 9 and
    // the currency a day); such a row is a malformed answer.
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(body);
    let headers = reader
        .byte_headers()
        .map_err(|e| malformed(csv_error(&e)))?
        .clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(h) == name.as_bytes())
    };
    let (Some(currency_at), Some(day_at), Some(value_at)) = (
        column("CURRENCY"),
        column("TIME_PERIOD"),
        column("OBS_VALUE"),
    ) else {
        return Err(malformed(
            "not the csvdata format (no CURRENCY, TIME_PERIOD and OBS_VALUE columns)".into(),
        ));
    };
    let decimals_at = column("DECIMALS");
    let horizon = Horizon::now();
    let mut observations: Vec<Observation> = Vec::new();
    for record in reader.byte_records() {
        let record = record.map_err(|e| malformed(csv_error(&e)))?;
        let field = |at: usize| {
            record
                .get(at)
                .and_then(|b| std::str::from_utf8(b).ok())
                .map(str::trim)
        };
        let (Some(row_currency), Some(day), Some(value)) =
            (field(currency_at), field(day_at), field(value_at))
        else {
            return Err(malformed(format!(
                "a row without CURRENCY, TIME_PERIOD or OBS_VALUE: {}",
                excerpt(record.as_slice())
            )));
        };
        if row_currency != currency {
            continue; // another series' row: not what was asked
        }
        // A day without a rate (SDMX writes `NaN` or nothing) is a day without a rate.
        if value.is_empty() || value.eq_ignore_ascii_case("nan") {
            continue;
        }
        let day = parse_day(day).ok_or_else(|| {
            malformed(format!(
                "TIME_PERIOD {} is not a day",
                excerpt(day.as_bytes())
            ))
        })?;
        // A rate of a day to come would be the latest, and convert every price.
        if !horizon.allows_day(day) {
            return Err(malformed(format!("a rate dated {day} is in the future")));
        }
        let parsed = parse_price(value).map_err(|e| malformed(format!("OBS_VALUE {e}")))?;
        if parsed <= Decimal::ZERO {
            return Err(malformed(format!("OBS_VALUE {value} is not a rate")));
        }
        let published = decimals_at
            .and_then(field)
            .and_then(|d| d.parse::<u32>().ok())
            .unwrap_or(0);
        observations.push(Observation {
            day,
            value: parsed,
            decimals: text_decimals(value, parsed).max(published).min(MAX_SCALE),
        });
    }
    observations.sort_by_key(|o| o.day);
    observations.dedup_by_key(|o| o.day);
    Ok(observations)
}

/// A CSV error in words: a row whose fields do not line up with the header says so.
fn csv_error(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            pos,
            expected_len,
            len,
        } => format!(
            "{} has {len} fields, the header {expected_len}",
            // The header is record 0: record N is the Nth row of data.
            pos.as_ref()
                .map_or_else(|| "a row".to_string(), |p| format!("row {}", p.record()))
        ),
        _ => format!("not CSV ({e})"),
    }
}

/// The decimals a number's text is written with (`1.225` → 3); for an exponent form, those
/// of its value.
fn text_decimals(text: &str, value: Decimal) -> u32 {
    if text.contains(['e', 'E']) {
        return value.normalize().scale();
    }
    text.split_once('.').map_or(0, |(_, fraction)| {
        u32::try_from(fraction.len()).unwrap_or(u32::MAX)
    })
}

/// `YYYY-MM-DD`, strictly (the form of a daily `TIME_PERIOD`).
fn parse_day(text: &str) -> Option<Date> {
    crate::calendar::parse_iso_date(text)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// 14:15 in Frankfurt on `day`, in Unix seconds: when the ECB's rates are set (its own
/// title for the series says "2.15 pm (C.E.T.)"). Summer time (UTC+2) runs from the last
/// Sunday of March to the last Sunday of October, the EU's rule since 1996, before the
/// ECB's first rate; otherwise UTC+1. `--max-age` measures a rate's age from here.
fn fixing_time(day: Date) -> i64 {
    let last_sunday = |month: i8| {
        Date::new(day.year(), month, 1)
            .and_then(|first| first.nth_weekday_of_month(-1, Weekday::Sunday))
            .ok()
    };
    let summer = matches!(
        (last_sunday(3), last_sunday(10)),
        (Some(start), Some(end)) if start <= day && day < end
    );
    let utc_hour = if summer { 12 } else { 13 };
    midnight_utc(day) + utc_hour * 3_600 + 15 * 60
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Adjust;

    const USD: &[u8] =
        include_bytes!("../../tests/fixtures/ecb_EXR_D.USD.EUR.SP00.A_2021-01-04_2021-01-08.csv");
    const GBP: &[u8] =
        include_bytes!("../../tests/fixtures/ecb_EXR_D.GBP.EUR.SP00.A_2021-01-04_2021-01-08.csv");

    fn ecb() -> Ecb {
        Ecb::new(&[Url::parse("http://127.0.0.1:8080").unwrap()])
    }

    fn query(ticker: &str, when: When) -> Query {
        Query {
            ticker: Ticker::parse(ticker).unwrap(),
            when,
        }
    }

    fn on(day: &str) -> When {
        When::Close(day.parse().unwrap(), Adjust::None)
    }

    fn ok(body: &[u8]) -> Answer {
        Answer {
            status: 200,
            body: body.to_vec(),
        }
    }

    /// The answers a test server would give: each leg's fixture cut to the window asked,
    /// 404 `No results found.` when nothing is left (or for a currency without a fixture).
    fn answers_for(q: &Query) -> Vec<Answer> {
        ecb()
            .requests(q)
            .iter()
            .map(|url| {
                let fixture = if url.path().contains(".USD.") {
                    USD
                } else if url.path().contains(".GBP.") {
                    GBP
                } else {
                    b""
                };
                cut(fixture, q.when)
            })
            .collect()
    }

    fn cut(fixture: &[u8], when: When) -> Answer {
        let text = std::str::from_utf8(fixture).unwrap();
        let mut lines = text.split("\r\n").filter(|l| !l.is_empty());
        let header = lines.next().unwrap_or_default();
        let kept: Vec<&str> = match Window::of(when) {
            Window::Latest => lines.last().into_iter().collect(),
            Window::Days { first, last } => lines
                .filter(|r| {
                    let day: Date = r.split(',').nth(6).unwrap().parse().unwrap();
                    (first..=last).contains(&day)
                })
                .collect(),
        };
        if kept.is_empty() {
            return Answer {
                status: 404,
                body: b"No results found.".to_vec(),
            };
        }
        ok(format!("{header}\r\n{}\r\n", kept.join("\r\n")).as_bytes())
    }

    fn parse(ticker: &str, when: When) -> Result<Quote, FetchError> {
        let q = query(ticker, when);
        let answers = answers_for(&q);
        let refs: Vec<&Answer> = answers.iter().collect();
        ecb()
            .parse(&q, &refs)
            .map(|mut parsed| parsed.quotes.remove(0))
    }

    #[test]
    fn one_request_per_currency_and_none_for_the_euro() {
        let urls = |ticker: &str, when: When| -> Vec<String> {
            ecb()
                .requests(&query(ticker, when))
                .iter()
                .map(Url::to_string)
                .collect()
        };
        assert_eq!(
            urls("eur-usd", When::Latest),
            ["http://127.0.0.1:8080/service/data/EXR/D.USD.EUR.SP00.A\
              ?format=csvdata&lastNObservations=1"]
        );
        assert_eq!(
            urls("USD-EUR", on("2021-01-08")),
            ["http://127.0.0.1:8080/service/data/EXR/D.USD.EUR.SP00.A\
              ?format=csvdata&startPeriod=2021-01-01&endPeriod=2021-01-08"]
        );
        // A cross asks for both legs, base first; each is the URL any other ticker needing
        // that currency asks, so the fetcher shares it.
        let cross = urls("GBP-USD", on("2021-01-08"));
        assert_eq!(cross.len(), 2);
        assert!(cross[0].contains("D.GBP.EUR.SP00.A"), "{cross:?}");
        assert_eq!(cross[1], urls("EUR-USD", on("2021-01-08"))[0]);
    }

    #[test]
    fn reads_the_fixture_by_column_name_exactly() {
        let observations = read_observations("USD", &ok(USD)).unwrap();
        let values: Vec<String> = observations.iter().map(|o| o.value.to_string()).collect();
        assert_eq!(values, ["1.2296", "1.2271", "1.2338", "1.2276", "1.225"]);
        assert_eq!(observations[0].day, jiff::civil::date(2021, 1, 4));
        // DECIMALS says 4: 1.225 was published as 1.2250.
        assert!(observations.iter().all(|o| o.decimals == 4));
        // GBP is published to five significant digits: the text has more than DECIMALS.
        let gbp = read_observations("GBP", &ok(GBP)).unwrap();
        assert_eq!(gbp[1].value.to_string(), "0.90333");
        assert_eq!((gbp[0].decimals, gbp[1].decimals), (4, 5));
    }

    #[test]
    fn columns_are_found_by_name_in_any_order() {
        let body = b"OBS_VALUE,TIME_PERIOD,KEY,CURRENCY\n1.5,2021-01-04,x,USD\n";
        let o = read_observations("USD", &ok(body)).unwrap();
        assert_eq!(o[0].value.to_string(), "1.5");
        assert_eq!(o[0].decimals, 1);
        // Another currency's rows are not this one's; a day without a value is skipped.
        let body = b"CURRENCY,TIME_PERIOD,OBS_VALUE\nGBP,2021-01-04,0.9\nUSD,2021-01-05,NaN\n\
                     USD,2021-01-06,\nUSD,2021-01-07,1.2\n";
        let o = read_observations("USD", &ok(body)).unwrap();
        assert_eq!(o.len(), 1);
        assert_eq!(o[0].day, jiff::civil::date(2021, 1, 7));
    }

    #[test]
    fn the_published_rate_keeps_its_published_decimals() {
        let q = parse("EUR-USD", on("2021-01-04")).unwrap();
        assert_eq!(q.price.to_string(), "1.2296");
        assert_eq!(q.currency.as_deref(), Some("USD"));
        assert_eq!(q.market_date, Some(jiff::civil::date(2021, 1, 4)));
        assert_eq!(q.precision, Some(Decimals::AtLeast(4)));
        let q = parse("EUR-USD", When::Latest).unwrap();
        assert_eq!(
            (q.price.to_string(), q.precision),
            ("1.225".to_string(), Some(Decimals::AtLeast(4)))
        );
        let q = parse("EUR-GBP", on("2021-01-05")).unwrap();
        assert_eq!(
            (q.price.to_string(), q.precision),
            ("0.90333".to_string(), Some(Decimals::AtLeast(5)))
        );
    }

    #[test]
    fn the_inverse_and_the_cross_are_exact_quotients_shown_with_six_decimals() {
        let q = parse("USD-EUR", on("2021-01-04")).unwrap();
        assert_eq!(
            q.price,
            Decimal::ONE / Decimal::from_str_exact("1.2296").unwrap()
        );
        assert_eq!(q.currency.as_deref(), Some("EUR"));
        assert_eq!(q.precision, Some(Decimals::QUOTIENT));
        let q = parse("GBP-USD", on("2021-01-04")).unwrap();
        let want =
            Decimal::from_str_exact("1.2296").unwrap() / Decimal::from_str_exact("0.9016").unwrap();
        assert_eq!(q.price, want);
        assert!(q.price.to_string().starts_with("1.363797"), "{}", q.price);
        assert_eq!(q.currency.as_deref(), Some("USD"));
        assert_eq!(q.precision, Some(Decimals::QUOTIENT));
    }

    #[test]
    fn a_day_without_a_rate_takes_the_last_within_seven_days_and_says_which() {
        // 2021-01-10 was a Sunday: Friday's rate.
        let q = parse("EUR-USD", on("2021-01-10")).unwrap();
        assert_eq!(q.market_date, Some(jiff::civil::date(2021, 1, 8)));
        assert_eq!(q.price.to_string(), "1.225");
        // Seven days after the last rate still finds it (the window is the fixture's).
        let q = parse("EUR-USD", on("2021-01-15")).unwrap();
        assert_eq!(q.market_date, Some(jiff::civil::date(2021, 1, 8)));
    }

    #[test]
    fn a_window_without_observations_is_no_rate_in_that_window() {
        // Before the fixture's first day: the server answers 404 "No results found.".
        let err = parse("EUR-USD", on("2021-01-03")).unwrap_err();
        assert_eq!(
            err,
            SPEC.no_price("no rate between 2020-12-27 and 2021-01-03".into())
        );
        assert_eq!(
            err.to_string(),
            "no price in the response from the ECB: no rate between 2020-12-27 and 2021-01-03"
        );
        let err = parse("EUR-USD", on("2021-01-16")).unwrap_err();
        assert_eq!(err.kind(), "no_price");
    }

    #[test]
    fn a_currency_the_ecb_does_not_publish_is_not_found() {
        let err = parse("EUR-TWD", When::Latest).unwrap_err();
        assert_eq!(err.kind(), "not_found");
        assert_eq!(
            err.to_string(),
            "not found on the ECB (no reference rate for TWD); the ECB publishes reference \
             rates for about 30 currencies, e.g. EUR-USD"
        );
    }

    #[test]
    fn latest_legs_from_different_days_are_no_cross_rate() {
        let usd = b"CURRENCY,TIME_PERIOD,OBS_VALUE\nUSD,2021-01-08,1.225\n";
        let rub = b"CURRENCY,TIME_PERIOD,OBS_VALUE\nRUB,2022-03-01,117.2\n";
        let q = query("RUB-USD", When::Latest);
        let (a, b) = (ok(rub), ok(usd));
        let err = ecb().parse(&q, &[&a, &b]).unwrap_err();
        assert_eq!(err.kind(), "no_price");
        assert!(
            err.to_string()
                .contains("from different days (RUB on 2022-03-01, USD on 2021-01-08)"),
            "{err}"
        );
    }

    #[test]
    fn tickers_must_be_pairs_of_two_currencies() {
        for good in ["EUR-USD", "usd-eur", "GBP-USD"] {
            assert!(ecb().check(&Ticker::parse(good).unwrap()).is_ok(), "{good}");
        }
        for bad in [
            "EUR",
            "EURUSD",
            "EUR-",
            "EURO-USD",
            "EUR-US1",
            "EUR-USD-GBP",
            "EUR-EUR",
        ] {
            let err = ecb().check(&Ticker::parse(bad).unwrap()).unwrap_err();
            assert_eq!(err.kind(), "invalid_ticker", "{bad}");
        }
        let err = ecb().check(&Ticker::parse("EUR-EUR").unwrap()).unwrap_err();
        assert!(err.to_string().contains("one currency"), "{err}");
        // A pair is written as its base in price directives.
        let pair = Ticker::parse("EUR-USD").unwrap();
        assert_eq!(ecb().commodity(&pair), "EUR");
    }

    #[test]
    fn the_rate_is_stamped_at_the_fixing_in_frankfurt() {
        // 2021-01-04 14:15 CET = 13:15 UTC; 2021-07-01 14:15 CEST = 12:15 UTC.
        assert_eq!(fixing_time(jiff::civil::date(2021, 1, 4)), 1_609_766_100);
        assert_eq!(fixing_time(jiff::civil::date(2021, 7, 1)), 1_625_141_700);
        // Summer time starts on the last Sunday of March and ends on that of October.
        let hour = |d: Date| (fixing_time(d) - midnight_utc(d)) / 3_600;
        assert_eq!(hour(jiff::civil::date(2021, 3, 27)), 13);
        assert_eq!(hour(jiff::civil::date(2021, 3, 28)), 12);
        assert_eq!(hour(jiff::civil::date(2021, 10, 30)), 12);
        assert_eq!(hour(jiff::civil::date(2021, 10, 31)), 13);
        let q = parse("EUR-USD", on("2021-01-04")).unwrap();
        assert_eq!(q.time, Some(1_609_766_100));
    }

    #[test]
    fn error_answers() {
        let err = read_observations(
            "USD",
            &Answer {
                status: 404,
                body: b"Resource not available".to_vec(),
            },
        )
        .unwrap_err();
        assert_eq!(err.kind(), "not_found");
        let err = read_observations(
            "USD",
            &Answer {
                status: 400,
                body: b"Syntax error".to_vec(),
            },
        )
        .unwrap_err();
        assert_eq!(err, SPEC.http_error(400, "Syntax error".into()));
        let page = b"<!DOCTYPE html><html>consent</html>";
        let err = read_observations("USD", &ok(page)).unwrap_err();
        assert_eq!(err.kind(), "malformed_response");
        assert!(err.to_string().contains("expected CSV"), "{err}");
        let err = read_observations(
            "USD",
            &Answer {
                status: 403,
                body: page.to_vec(),
            },
        )
        .unwrap_err();
        assert_eq!(err.kind(), "http_status");
    }

    #[test]
    fn garbage_is_malformed() {
        for body in [
            &b""[..],
            b"{\"json\":true}",
            b"KEY,FREQ\nx,y\n",
            b"CURRENCY,TIME_PERIOD,OBS_VALUE\nUSD,2021-01-04\n",
            b"CURRENCY,TIME_PERIOD,OBS_VALUE\nUSD,04/01/2021,1.2\n",
            b"CURRENCY,TIME_PERIOD,OBS_VALUE\nUSD,2021-01,1.2\n",
            b"CURRENCY,TIME_PERIOD,OBS_VALUE\nUSD,2021-01-04,abc\n",
            b"CURRENCY,TIME_PERIOD,OBS_VALUE\nUSD,2021-01-04,-1.2\n",
            b"CURRENCY,TIME_PERIOD,OBS_VALUE\nUSD,2021-01-04,0\n",
            b"CURRENCY,TIME_PERIOD,OBS_VALUE\nUSD,2021-01-04,1e400\n",
            b"CURRENCY,TIME_PERIOD,OBS_VALUE\nUSD,2021-02-30,1.2\n",
        ] {
            let err = read_observations("USD", &ok(body)).unwrap_err();
            assert_eq!(
                err.kind(),
                "malformed_response",
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        // A header without rows is a window without observations, not an error.
        let empty = read_observations("USD", &ok(b"CURRENCY,TIME_PERIOD,OBS_VALUE\r\n"));
        assert_eq!(empty, Ok(Vec::new()));
    }

    #[test]
    fn a_row_that_does_not_line_up_with_the_header_is_malformed() {
        // One field too many before TIME_PERIOD: read by position, the rate would be 9 and
        // the day a currency code.
        let shifted = b"CURRENCY,TIME_PERIOD,OBS_VALUE\nUSD,2025-06-02,1.1000\n\
                        USD,EXTRA,2025-06-02,9\n";
        let err = read_observations("USD", &ok(shifted)).unwrap_err();
        assert_eq!(err.kind(), "malformed_response");
        assert!(
            err.to_string().contains("row 2 has 4 fields, the header 3"),
            "{err}"
        );
        let short = b"CURRENCY,TIME_PERIOD,OBS_VALUE,DECIMALS\nUSD,2025-06-02,1.1\n";
        let err = read_observations("USD", &ok(short)).unwrap_err();
        assert_eq!(err.kind(), "malformed_response");
    }

    #[test]
    fn a_rate_from_the_future_is_malformed() {
        let body = b"CURRENCY,TIME_PERIOD,OBS_VALUE\nUSD,2021-01-04,1.2296\nUSD,2999-01-01,1.1\n";
        let err = read_observations("USD", &ok(body)).unwrap_err();
        assert_eq!(
            err,
            SPEC.malformed("a rate dated 2999-01-01 is in the future".into())
        );
    }

    #[test]
    fn never_panics_on_arbitrary_bytes_or_days() {
        let mut samples: Vec<Vec<u8>> = vec![
            vec![0xff, 0xfe, 0x00],
            b"\xEF\xBB\xBFCURRENCY,TIME_PERIOD,OBS_VALUE\nUSD,2021-01-04,1.2\n".to_vec(),
            b"CURRENCY,TIME_PERIOD,OBS_VALUE\nUSD,9999-12-31,1.2\n".to_vec(),
            b"CURRENCY,TIME_PERIOD,OBS_VALUE\nUSD,-001-12-31,1.2\n".to_vec(),
            b"\"CURRENCY\nUSD".to_vec(),
        ];
        for cut in (0..USD.len()).step_by(3) {
            samples.push(USD[..cut].to_vec());
        }
        for body in &samples {
            for status in [200, 404, 500] {
                let answer = Answer {
                    status,
                    body: body.clone(),
                };
                let _ = read_observations("USD", &answer);
                for when in [When::Latest, on("2021-01-08")] {
                    let _ = ecb().parse(&query("EUR-USD", when), &[&answer]);
                    let _ = ecb().parse(&query("GBP-USD", when), &[&answer, &answer]);
                }
            }
        }
        // A rate of 9999-12-31 is from the future: no market's, whatever the answer says.
        let late = read_observations("USD", &ok(&samples[2])).unwrap_err();
        assert_eq!(late.kind(), "malformed_response");
        let far = Pair {
            base: "EUR",
            quote: "USD",
        }
        .quote(&Rate {
            day: Date::MAX,
            value: Decimal::ONE,
            decimals: Decimals::AtLeast(4),
        });
        assert_eq!(far.time, None);
        for day in [Date::MIN, Date::MAX] {
            let _ = ecb().requests(&query("GBP-USD", When::Close(day, Adjust::None)));
            let _ = fixing_time(day);
        }
    }
}
