//! Where prices come from: the registry of sources, and the trait each one implements.
//!
//! **A source is one file plus one line.** The file implements [`Source`] and describes the
//! source in a static [`SourceSpec`]: its name, the name people see, its base URLs with the
//! flag and environment variable that override each, its ticker syntax and its not-found
//! hint. The line adds that spec to [`REGISTRY`]. Everything a user sees about sources is
//! derived from the registry: `--source`'s accepted values, the `--<source>-url` flags and
//! `QUOTES_<SOURCE>_URL` variables (in `--help`, the completions and the man page), the
//! hints in error messages, and the README's source table (checked against the registry by
//! a test).
//!
//! A source that publishes exchange rates says so in its spec ([`Rates`]): `--fx` offers
//! exactly those sources, and `fx` asks them for rates through the same fetcher.
//!
//! A source knows two things: which requests answer a [`Query`], and how to read their
//! answers. Everything else (the one client, the `--jobs` bound, retries, timeouts, the
//! body-size limit, redirects, 429 handling) lives in `fetch` and `http` and is the same for
//! every source.
//!
//! **Capabilities** (issue 19). What some APIs need beyond that is declared, never special-
//! cased outside this folder; each has a default that asks nothing of the sources that do
//! not need it:
//!
//! - an API key ([`KeySpec`]: its environment variable, where to get a free one, how it is
//!   sent): the fetcher attaches it on the wire only, so no URL a source builds, no cache key
//!   and no message ever holds it;
//! - its own limits ([`Limits`]: a concurrency cap, a spacing between requests), enforced by
//!   the fetcher beside `--jobs`;
//! - request headers ([`Source::headers`]: Nasdaq answers only what looks like its own web
//!   page asking);
//! - follow-up requests ([`Source::follow`]: a request decided by an answer, such as Nasdaq's
//!   next asset class after "Symbol not exists.");
//! - queries it cannot answer ([`Source::supports`]: adjusted closes from a source that has
//!   none), refused before any request;
//! - an answer that means a quota is spent ([`Source::quota_spent`]: a 429 in Tiingo's
//!   words, a 200 in Alpha Vantage's): no more requests to it for the rest of the run,
//!   instead of backing off and asking again;
//! - answers that hold for days ([`Source::keep`]: Alpha Vantage's SYMBOL_SEARCH, a
//!   listing's currency), kept in the cache directory so a later run does not ask again;
//! - a session the API may demand ([`Source::session`]: Yahoo's cookie and crumb), got once
//!   per run when an answer asks for it and kept for a day.

pub mod alphavantage;
pub mod coinbase;
pub mod ecb;
pub mod nasdaq;
pub mod tiingo;
mod us_market;
pub mod yahoo;

use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;
use reqwest::header::HeaderMap;

use crate::error::FetchError;
use crate::history::{Adjust, Range};
use crate::quote::Quote;
use crate::ticker::Ticker;

/// Every source `quotes` knows, in the order `--help` lists them. The first is the default
/// for tickers without a `source:` prefix.
pub static REGISTRY: &[&SourceSpec] = &[
    &yahoo::SPEC,
    &coinbase::SPEC,
    &ecb::SPEC,
    &nasdaq::SPEC,
    &tiingo::SPEC,
    &alphavantage::SPEC,
];

/// What a source is, as users and the rest of the program see it.
#[derive(Debug)]
pub struct SourceSpec {
    /// The short name used in `source:` prefixes, `--source` and output: `yahoo`.
    pub name: &'static str,
    /// The name shown to people in messages: `Yahoo`.
    pub display_name: &'static str,
    /// One line for `--help` and the README: what it prices.
    pub about: &'static str,
    /// Example tickers, as a user writes them after the prefix: `VTSAX, BRK-B, ^GSPC`.
    pub tickers: &'static str,
    /// What to check when a ticker is not found: `check the pair, e.g. BTC-USD`.
    pub not_found_hint: &'static str,
    /// The APIs it asks, each with its default base URL and overrides.
    pub endpoints: &'static [Endpoint],
    /// Build the source from its endpoints' base URLs, in the order of `endpoints`.
    pub build: fn(&[Url]) -> Arc<dyn Source>,
    /// How it names exchange rates, if it publishes them (`--fx` offers such sources).
    pub rates: Option<Rates>,
    /// The API key it needs, if any (issue 19).
    pub key: Option<KeySpec>,
    /// Its own limits, respected by default (issue 19).
    pub limits: Limits,
}

/// An API key a source needs (issue 19). Keys are secrets: they come from the environment
/// only (never a flag, which `ps` shows), are sent only on the wire, and never appear in any
/// output: `-v` shows `token=…` in their place.
#[derive(Debug)]
pub struct KeySpec {
    /// The environment variable holding it: `TIINGO_API_KEY`.
    pub env: &'static str,
    /// Where to get a free one, for the message when it is not set.
    pub signup: &'static str,
    /// How it is sent.
    pub sent_as: SentAs,
}

/// How a key goes on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SentAs {
    /// A query parameter, appended to every request to the source: `token=KEY`.
    Query(&'static str),
}

/// A source's own limits (issue 19), on top of `--jobs`, the same in every run.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The most requests to it in flight at once, whatever `--jobs` allows.
    pub in_flight: Option<usize>,
    /// The least time between the starts of two requests to it. A source with a spacing
    /// should have an `in_flight` cap too (1): a request waiting for its turn holds one of
    /// the `--jobs` permits.
    pub spacing: Option<Duration>,
    /// What its provider allows beyond that, in words for the README (a free key's quota);
    /// empty when nothing is documented.
    pub quota: &'static str,
}

impl Limits {
    /// No limit of its own: `--jobs` and the 429 gate only.
    pub const NONE: Limits = Limits {
        in_flight: None,
        spacing: None,
        quota: "",
    };

    /// Whether the fetcher has anything to enforce.
    pub fn any(&self) -> bool {
        self.in_flight.is_some() || self.spacing.is_some()
    }

    /// The limits in words, for the README's source table: `10 requests at a time unless
    /// -j says more`, `one request a second`. A concurrency cap is a default an explicit `-j`
    /// lifts; a spacing (with the one request at a time it implies) is not (see `limit`).
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        match (self.in_flight, self.spacing) {
            (Some(n), None) => parts.push(format!(
                "{n} request{} at a time unless `-j` says more",
                if n == 1 { "" } else { "s" }
            )),
            (Some(n), Some(_)) if n > 1 => {
                parts.push(format!("{n} requests at a time"));
            }
            _ => {}
        }
        if let Some(spacing) = self.spacing {
            parts.push(if spacing == Duration::from_secs(1) {
                "one request a second".to_string()
            } else {
                format!("one request every {}", crate::error::secs(&spacing))
            });
        }
        if !self.quota.is_empty() {
            parts.push(self.quota.to_string());
        }
        if parts.is_empty() {
            return "`--jobs` only".to_string();
        }
        parts.join("; ")
    }
}

/// What a source says after reading the answers so far ([`Source::follow`]).
#[derive(Debug)]
pub enum Step {
    /// The prices (and the days they lack).
    Done(Parsed),
    /// Ask these too, then read every answer again.
    More(Vec<Url>),
}

/// How a source that publishes exchange rates is asked for one.
#[derive(Debug)]
pub struct Rates {
    /// The ticker of the rate FROM→TO, the price of one FROM in TO: `USDEUR=X`, `EUR-USD`.
    pub pair: fn(from: &str, to: &str) -> String,
    /// The one currency all its rates are against, when there is one (the ECB's are all
    /// against the euro). A conversion then goes through two published rates,
    /// `price × (BASE→TO) ÷ (BASE→FROM)`: one exact quotient, never a rounded cross rate.
    pub base: Option<&'static str>,
}

/// One API a source asks, and how a user points it elsewhere (a mirror, a test server).
#[derive(Debug)]
pub struct Endpoint {
    /// The flag, without dashes: `yahoo-url`.
    pub flag: &'static str,
    /// The environment variable: `QUOTES_YAHOO_URL`.
    pub env: &'static str,
    /// Scheme and host of the real API: `https://query1.finance.yahoo.com`.
    pub default_url: &'static str,
    /// What it is, for `--help`: `Yahoo's chart API`.
    pub about: &'static str,
}

impl SourceSpec {
    /// The ticker is unknown to this source.
    pub fn not_found(&'static self, detail: String) -> FetchError {
        FetchError::NotFound {
            api: self.display_name,
            detail,
            hint: self.not_found_hint,
        }
    }

    /// An HTTP status the source did not expect, with what it said.
    pub fn http_error(&'static self, status: u16, detail: String) -> FetchError {
        FetchError::Http {
            api: self.display_name,
            status,
            detail,
        }
    }

    /// An answer that is not in the source's format.
    pub fn malformed(&'static self, detail: String) -> FetchError {
        FetchError::Malformed {
            api: self.display_name,
            detail,
        }
    }

    /// A well-formed answer without a price.
    pub fn no_price(&'static self, detail: String) -> FetchError {
        FetchError::NoPrice {
            api: self.display_name,
            detail,
        }
    }

    /// An HTML page where JSON was expected (a consent page, a captive portal, a proxy's
    /// error) is the source's malformed answer on a 200, and an HTTP error otherwise.
    /// `expected` names what the source answers in: `JSON`, `CSV`.
    pub fn refuse_html(&'static self, answer: &Answer, expected: &str) -> Result<(), FetchError> {
        if !looks_like_html(&answer.body) {
            return Ok(());
        }
        Err(if answer.status == 200 {
            self.malformed(format!(
                "expected {expected} but got an HTML page (a proxy, captive portal or consent \
                 page?)"
            ))
        } else {
            self.http_error(answer.status, String::new())
        })
    }

    /// `--date` from daily closes (each with its `market_date`, ascending): the close of
    /// `date`, or the last one within `LOOKBACK_DAYS` (a week) before it; else this source's
    /// "no trading day" error.
    pub fn close_on(
        &'static self,
        date: jiff::civil::Date,
        closes: Vec<Quote>,
    ) -> Result<Quote, FetchError> {
        let earliest = date.saturating_sub(jiff::Span::new().days(crate::calendar::LOOKBACK_DAYS));
        closes
            .into_iter()
            .rev()
            .find(|q| q.market_date.is_some_and(|d| d <= date && d >= earliest))
            .ok_or_else(|| self.no_price(format!("no trading day between {earliest} and {date}")))
    }

    /// Daily closes in ascending order of day. A day twice is a malformed answer: which of
    /// the two would be its close?
    pub fn one_per_day(&'static self, mut closes: Vec<Quote>) -> Result<Vec<Quote>, FetchError> {
        closes.sort_by_key(|q| q.market_date);
        if let Some(pair) = closes
            .windows(2)
            .find(|w| w[0].market_date == w[1].market_date)
        {
            let day = pair[0]
                .market_date
                .map(|d| d.to_string())
                .unwrap_or_default();
            return Err(self.malformed(format!("{day} appears twice in the answer")));
        }
        Ok(closes)
    }

    /// A range from daily closes: those of its days.
    pub fn within(&'static self, range: &Range, closes: Vec<Quote>) -> Vec<Quote> {
        closes
            .into_iter()
            .filter(|q| q.market_date.is_some_and(|d| range.contains(d)))
            .collect()
    }

    /// The base URL of endpoint `index` from what `build` was given, or its default.
    pub fn base_url(&'static self, urls: &[Url], index: usize) -> Url {
        urls.get(index).cloned().unwrap_or_else(|| {
            let default = self.endpoints.get(index).map_or("", |e| e.default_url);
            Url::parse(default).expect("registry defaults are URLs (a unit test checks each)")
        })
    }

    /// The spec called `name` (case-insensitive).
    pub fn named(name: &str) -> Option<&'static SourceSpec> {
        REGISTRY
            .iter()
            .copied()
            .find(|s| s.name.eq_ignore_ascii_case(name))
    }
}

/// `yahoo, coinbase`: the registry's names, for messages and help.
pub fn names() -> String {
    let names: Vec<&str> = REGISTRY.iter().map(|s| s.name).collect();
    names.join(", ")
}

/// One price API.
pub trait Source: Send + Sync {
    /// What this source is (see [`SourceSpec`]).
    fn spec(&self) -> &'static SourceSpec;

    /// Refuse, before any request, a ticker this source cannot price (a Coinbase ticker
    /// must be a currency pair). Most sources take any valid ticker.
    fn check(&self, _ticker: &Ticker) -> Result<(), FetchError> {
        Ok(())
    }

    /// Refuse, before any request, a query this source cannot answer (issue 19: adjusted
    /// closes from a source that has none). In a chain the ticker goes to the next source.
    fn supports(&self, _when: When) -> Result<(), FetchError> {
        Ok(())
    }

    /// Headers sent with a request to `url`, beyond the client's own (User-Agent,
    /// Accept-Encoding). None by default.
    fn headers(&self, _url: &Url) -> Option<HeaderMap> {
        None
    }

    /// The requests whose answers [`Source::parse`] reads; usually one. Requests are
    /// fetched concurrently, and a URL that several queries of a run need is fetched once.
    fn requests(&self, query: &Query) -> Vec<Url>;

    /// Read the answers to [`Source::requests`], in the same order. Called with every
    /// status except the transient ones the fetcher handles itself (429, 500, 502, 503,
    /// 504). Must return an error, never panic, whatever the bytes. What only the source
    /// can see is checked here (a split ratio, the instrument the answer is about); what
    /// every quote must be (not zero, not from the future) the fetcher checks after.
    fn parse(&self, query: &Query, answers: &[&Answer]) -> Result<Parsed, FetchError>;

    /// Read the answers so far and say whether more requests are needed (issue 19): the
    /// answers to [`Source::requests`] first, then those to each `Step::More`, in order. By
    /// default every answer is in after the first requests, and this is [`Source::parse`].
    /// The fetcher stops a source that keeps asking after a few rounds.
    fn follow(&self, query: &Query, answers: &[&Answer]) -> Result<Step, FetchError> {
        self.parse(query, answers).map(Step::Done)
    }

    /// Whether an answer says a quota is spent (an hourly or daily allowance, not a burst),
    /// with the source's words: a 429 whose body says so (Tiingo), or an answer of any status
    /// that says so (Alpha Vantage tells its limits in a 200's body). Then nothing more is
    /// sent to the source this run and its tickers fail at once (`rate_limited`), instead of
    /// backing off and asking again. Asked of a 429 before the fetcher's own handling, and
    /// of every other answer before [`Source::follow`] reads it.
    fn quota_spent(&self, _answer: &Answer) -> Option<String> {
        None
    }

    /// How long the answer to `url` stays true, when it is a fact that hardly changes (Alpha
    /// Vantage's SYMBOL_SEARCH: a listing's currency): the fetcher then keeps it in the cache
    /// directory and answers from there while it is fresh, so a later run spends no request
    /// on it. Asked of follow-up requests ([`Step::More`]); an answer is kept only once the
    /// source has read every answer of its query into prices, and one kept that the source
    /// cannot read is asked of the network again. `None` (the default): never kept.
    fn keep(&self, _url: &Url) -> Option<Duration> {
        None
    }

    /// The session the API may demand before it answers ([`Session`]: Yahoo's cookie and
    /// crumb); `None` (the default) for an API that never does.
    fn session(&self) -> Option<&Session> {
        None
    }

    /// The commodity a price of `ticker` is written as in ledger and beancount when the
    /// input names none (`TICKER@NAME`): the ticker itself, or the base of a currency pair
    /// (issue 10: `BTC-USD` is a price of `BTC`, see [`pair_base`]).
    fn commodity(&self, ticker: &Ticker) -> String {
        ticker.to_string()
    }
}

/// A session an API may demand before it answers (issue 19: Yahoo's cookie and crumb): a
/// cookie set by one request, a token got with that cookie from another, and from then on
/// every request to the source carries both (the cookie in `Cookie`, the token as the query
/// parameter `param`). The fetcher gets one for the whole run when an answer asks for it
/// (`wanted`), shared by every ticker, retries that request once with it, and keeps it in
/// the cache directory for a day, in a file only its owner may read (`session`).
#[derive(Debug)]
pub struct Session {
    /// Where the cookie is set: whatever the status, its `Set-Cookie` headers are the cookie.
    pub cookie: Url,
    /// Where the token is got with that cookie.
    pub token: Url,
    /// The query parameter that carries the token: `crumb`.
    pub param: &'static str,
    /// Whether an answer says its request wants a session (Yahoo: 401 "Invalid Crumb").
    pub wanted: fn(&Answer) -> bool,
    /// The token in the token request's answer, or why it holds none (a 429's "Too Many
    /// Requests", an HTML page).
    pub read_token: fn(&Answer) -> Result<String, FetchError>,
}

/// What a source read from its answers to one query.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parsed {
    /// One price, or one per trading day of a range, ascending.
    pub quotes: Vec<Quote>,
    /// The days of the query (a range, or a `--date` back to the close it found) on which
    /// the market traded but the answer holds no close: a `null` close ("Yahoo lost it"), a
    /// close of 0, a UTC day a crypto pair has no candle for. A gap is not a fact: it is
    /// never cached as a day without trading (issue 17), and a range names it on stderr.
    pub gaps: Vec<jiff::civil::Date>,
}

impl From<Vec<Quote>> for Parsed {
    fn from(quotes: Vec<Quote>) -> Parsed {
        Parsed {
            quotes,
            gaps: Vec::new(),
        }
    }
}

/// A complete answer to one request.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

/// What is asked of a source for one ticker.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Query {
    pub ticker: Ticker,
    pub when: When,
}

/// Which price a query asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum When {
    /// The latest price.
    Latest,
    /// `--date`: the close of that day, or the last close within 7 days before it, as
    /// traded unless `--adjust` says otherwise.
    Close(jiff::civil::Date, Adjust),
    /// `--from`/`--to`: the close of every trading day of the range, ascending. A source
    /// answers with DAILY closes inside the range; the interval is applied after (see
    /// `history::select`), so cached and fetched days combine.
    Range(Range),
}

impl When {
    /// The day asked for by `--date`, if any.
    pub fn date(self) -> Option<jiff::civil::Date> {
        match self {
            When::Close(date, _) => Some(date),
            When::Latest | When::Range(_) => None,
        }
    }

    /// Which close a past day gets; `None` for the latest price.
    pub fn adjust(self) -> Option<Adjust> {
        match self {
            When::Latest => None,
            When::Close(_, adjust) => Some(adjust),
            When::Range(range) => Some(range.adjust),
        }
    }
}

/// The sources of one run, built from the registry with their base URLs.
pub struct Sources {
    all: Vec<Arc<dyn Source>>,
}

impl Sources {
    /// Build every registered source; `base_url(endpoint)` gives each endpoint's base URL
    /// (the flag, the environment variable or the default).
    pub fn new(
        mut base_url: impl FnMut(&'static Endpoint) -> Result<Url, String>,
    ) -> Result<Sources, String> {
        let mut all = Vec::with_capacity(REGISTRY.len());
        for spec in REGISTRY {
            let urls = spec
                .endpoints
                .iter()
                .map(&mut base_url)
                .collect::<Result<Vec<Url>, String>>()?;
            all.push((spec.build)(&urls));
        }
        Ok(Sources { all })
    }

    /// The source called `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Source>> {
        self.all
            .iter()
            .find(|s| s.spec().name.eq_ignore_ascii_case(name))
    }
}

/// Check a base URL given by flag or environment variable: scheme, host and optional port
/// (and optional path prefix, kept), without query or fragment. `what` names the setting in
/// the message: `--yahoo-url/QUOTES_YAHOO_URL`.
pub fn parse_base_url(what: &str, url: &str) -> Result<Url, String> {
    let parsed = Url::parse(url).map_err(|e| format!("{what} {url:?} is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "{what} {url:?} must start with http:// or https://"
        ));
    }
    if parsed.host_str().is_none() {
        return Err(format!("{what} {url:?} has no host"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(format!("{what} {url:?} must not have a query or fragment"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(format!(
            "{what} {url:?} must not carry a user name or password"
        ));
    }
    Ok(parsed)
}

/// `base` with `segments` appended to its path, each percent-encoded as one segment (so a
/// ticker can never become another path), and `query` as its query string.
pub fn endpoint_url(base: &Url, segments: &[&str], query: &[(&str, &str)]) -> Url {
    let mut url = base.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        // A base URL given as `http://host:port/` has one empty segment; drop it.
        path.pop_if_empty().extend(segments);
    }
    if query.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(query);
    }
    url
}

/// The base of a currency pair `BASE-QUOTE` (`BTC-USD` → `BTC`): what a pair source's
/// ticker is written as in price directives.
pub fn pair_base(ticker: &Ticker) -> Option<String> {
    ticker
        .as_str()
        .split_once('-')
        .map(|(base, _)| base.to_string())
        .filter(|base| !base.is_empty())
}

/// Whether a body is an HTML page (a captive portal, a consent page, a proxy's error).
pub fn looks_like_html(body: &[u8]) -> bool {
    body.iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'<')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_names_are_unique_lowercase_and_flags_follow_the_convention() {
        let mut names: Vec<&str> = REGISTRY.iter().map(|s| s.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), REGISTRY.len());
        for spec in REGISTRY {
            assert!(
                spec.name.bytes().all(|b| b.is_ascii_lowercase()),
                "{}",
                spec.name
            );
            for endpoint in spec.endpoints {
                assert!(endpoint.flag.starts_with(spec.name), "{}", endpoint.flag);
                assert!(endpoint.flag.ends_with("-url"), "{}", endpoint.flag);
                let env = format!(
                    "QUOTES_{}",
                    endpoint.flag.to_ascii_uppercase().replace('-', "_")
                );
                assert_eq!(endpoint.env, env);
                assert!(parse_base_url("x", endpoint.default_url).is_ok());
            }
        }
    }

    #[test]
    fn endpoint_urls_keep_the_base_path_and_encode_segments() {
        let base = parse_base_url("x", "http://127.0.0.1:8080/mirror/").unwrap();
        let url = endpoint_url(&base, &["v8", "chart", "^GSPC"], &[("range", "1d")]);
        assert_eq!(
            url.as_str(),
            // `^` is outside the path percent-encode set (WHATWG URL), as browsers send it.
            "http://127.0.0.1:8080/mirror/v8/chart/^GSPC?range=1d"
        );
        // A slash is encoded and a dot segment dropped: a segment never climbs the path.
        let base = parse_base_url("x", "https://h").unwrap();
        assert_eq!(
            endpoint_url(&base, &["a", "b/c", ".."], &[]).as_str(),
            "https://h/a/b%2Fc"
        );
    }

    #[test]
    fn base_urls_are_checked() {
        for bad in [
            "ftp://h",
            "h:1",
            "http://h?x=1",
            "http://h#f",
            "nonsense",
            "http://u:p@h",
        ] {
            assert!(parse_base_url("--x-url", bad).is_err(), "{bad}");
        }
    }
}
