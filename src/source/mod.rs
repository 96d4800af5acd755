//! Where prices come from: one trait, one file per API.
//!
//! A source knows two things: the URL that asks for one ticker's price, and how to read
//! the answer. Everything else — the shared client, the `--jobs` bound, retries, timeouts,
//! the body-size limit, 429 handling — lives in `fetch` and is the same for every source.
//! Adding a source means one new file here implementing [`Source`], plus its tests.

pub mod coinbase;
pub mod yahoo;
pub mod yahoo_history;

use std::sync::Arc;

use crate::error::FetchError;
use crate::quote::Quote;
use crate::ticker::Ticker;

pub use coinbase::Coinbase;
pub use yahoo::Yahoo;

/// One price API.
pub trait Source: Send + Sync {
    /// The short name used in output and prefixes: `yahoo`.
    fn name(&self) -> &'static str;

    /// The name shown to people in messages: `Yahoo`.
    fn display_name(&self) -> &'static str;

    /// Scheme, host and port (and optional path prefix) requests go to.
    fn base_url(&self) -> &str;

    /// Refuse, before any request, a ticker this source cannot price (a Coinbase ticker
    /// must be a currency pair). Most sources take any valid ticker.
    fn check(&self, _ticker: &Ticker) -> Result<(), FetchError> {
        Ok(())
    }

    /// The full URL that asks for the price `query` wants.
    fn url(&self, query: &Query) -> String;

    /// Read a complete response. Called for every status except the transient ones the
    /// fetcher handles itself (429, 500, 502, 503, 504).
    fn parse(&self, query: &Query, status: u16, body: &[u8]) -> Result<Quote, FetchError>;
}

/// What is asked of a source for one ticker.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Query {
    pub ticker: Ticker,
    /// `--date`: the close of that day instead of the latest price.
    pub date: Option<jiff::civil::Date>,
}

/// The sources a run can use, by the name a ticker prefix or `--source` gives.
pub struct Sources {
    all: Vec<Arc<dyn Source>>,
}

impl Sources {
    pub fn new(all: Vec<Arc<dyn Source>>) -> Sources {
        Sources { all }
    }

    /// The source called `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Source>> {
        self.all
            .iter()
            .find(|s| s.name().eq_ignore_ascii_case(name))
    }

    /// `yahoo, coinbase`: for messages.
    pub fn names(&self) -> String {
        let names: Vec<&str> = self.all.iter().map(|s| s.name()).collect();
        names.join(", ")
    }

    /// Resolve one input (`VTSAX`, `coinbase:BTC-USD`) to its source and validated ticker.
    /// `default` is `--source`, used when the input has no prefix.
    pub fn resolve(
        &self,
        input: &str,
        default: &str,
    ) -> Result<(Arc<dyn Source>, Ticker), FetchError> {
        // `:` is not in the ticker alphabet, so the first one always ends a prefix.
        let (name, symbol) = input.split_once(':').unwrap_or((default, input));
        let source = self.get(name).ok_or_else(|| {
            let shown: String = name.chars().take(20).collect();
            FetchError::InvalidTicker(format!(
                "unknown source {shown:?}; known sources: {}",
                self.names()
            ))
        })?;
        let ticker = Ticker::parse(symbol)?;
        source.check(&ticker)?;
        Ok((Arc::clone(source), ticker))
    }
}

/// Check a base URL given by flag or environment variable: scheme, host and optional port
/// (and optional path prefix), without a trailing slash.
pub fn normalize_base_url(name: &str, url: &str) -> Result<String, String> {
    let parsed =
        reqwest::Url::parse(url).map_err(|e| format!("{name} {url:?} is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "{name} {url:?} must start with http:// or https://"
        ));
    }
    if parsed.host_str().is_none() {
        return Err(format!("{name} {url:?} has no host"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(format!("{name} {url:?} must not have a query or fragment"));
    }
    Ok(parsed.as_str().trim_end_matches('/').to_string())
}

/// A one-line excerpt of a body that is not what we expected, for error messages.
pub fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let line = text.trim().lines().next().unwrap_or("").trim();
    let mut out: String = line.chars().filter(|c| !c.is_control()).take(80).collect();
    if line.chars().count() > 80 {
        out.push('…');
    }
    out
}

/// Whether a body is an HTML page (a captive portal, a consent page, a proxy's error).
pub fn looks_like_html(body: &[u8]) -> bool {
    body.iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'<')
}
