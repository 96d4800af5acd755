//! `-v`, `--verbose` (issue 19): what happened on the wire, on stderr, enough to file a bug
//! with (curl's `-v` and pricehist's `-vvv` are the anchors).
//!
//! One line per HTTP attempt — source, method, URL, status, HTTP version, bytes, milliseconds,
//! attempt number — and one per fallback in a chain:
//!
//! ```text
//! quotes: yahoo: GET https://query1.finance.yahoo.com/v8/finance/chart/VTSAX?range=1d&interval=1d: 429 HTTP/2.0, 23 bytes, 41 ms (attempt 1)
//! quotes: VTSAX: yahoo failed (rate limited); asking nasdaq
//! quotes: nasdaq: GET https://api.nasdaq.com/api/quote/VTSAX/info?assetclass=mutualfunds: 200 HTTP/2.0, 761 bytes, 88 ms (attempt 1)
//! ```
//!
//! Each line is written whole as it happens, through the same making-safe as every server
//! text (`text::message`: no control characters, no API key). A URL is shown as sent, except
//! that a key or a session's token is written `…` (`token=…`, `crumb=…`); a cookie is never
//! shown. A follow-up answered from the cache directory (`Source::keep`) gets a line too,
//! saying no request was sent. Without `-v` nothing here runs: a ticker a later source
//! priced adds nothing to stderr.

use std::io::Write;
use std::time::Duration;

use reqwest::Url;

use crate::source::{SentAs, SourceSpec};

/// Writes `-v`'s lines; the fetcher holds one only with `-v`.
#[derive(Debug, Default)]
pub struct Log;

/// How one attempt ended, as `-v` shows it.
pub enum Outcome<'a> {
    /// An answer: status, HTTP version, body bytes, redirects followed.
    Answer {
        status: u16,
        version: reqwest::Version,
        bytes: usize,
        redirects: usize,
    },
    /// No answer: why.
    Failed(&'a dyn std::fmt::Display),
}

impl Log {
    /// One HTTP attempt to `shown` (the URL as [`shown_url`] writes it: no key, no token)
    /// of `spec`'s source.
    pub fn attempt(
        &self,
        spec: &SourceSpec,
        shown: &str,
        attempt: u32,
        took: Duration,
        outcome: Outcome<'_>,
    ) {
        let ms = took.as_millis();
        let line = match outcome {
            Outcome::Answer {
                status,
                version,
                bytes,
                redirects,
            } => {
                let redirects = match redirects {
                    0 => String::new(),
                    1 => ", after 1 redirect".to_string(),
                    n => format!(", after {n} redirects"),
                };
                format!(
                    "{}: GET {shown}: {status} {version:?}, {bytes} bytes, {ms} ms{redirects} \
                     (attempt {attempt})",
                    spec.name
                )
            }
            Outcome::Failed(why) => format!(
                "{}: GET {shown}: no answer after {ms} ms: {why} (attempt {attempt})",
                spec.name
            ),
        };
        write(&line);
    }

    /// A ticker goes on to the next source of its chain: `VTSAX: yahoo failed (rate
    /// limited); asking nasdaq`.
    pub fn fallback(&self, ticker: &str, failed: &str, why: &str, next: &str) {
        write(&format!("{ticker}: {failed} failed ({why}); asking {next}"));
    }

    /// A source of a chain is skipped without a request: `VTSAX: tiingo skipped
    /// (TIINGO_API_KEY is not set); asking nasdaq`.
    pub fn skipped(&self, ticker: &str, skipped: &str, why: &str, next: &str) {
        write(&format!(
            "{ticker}: {skipped} skipped ({why}); asking {next}"
        ));
    }

    /// A follow-up request answered from the cache directory (`Source::keep`): no attempt,
    /// so its URL is shown as the source built it (no key was added to it).
    pub fn kept(&self, spec: &SourceSpec, url: &Url) {
        write(&format!(
            "{}: GET {url}: kept from an earlier run (the cache), not asked",
            spec.name
        ));
    }
}

/// `url` as sent to `spec`'s source, with its key (when the source has one) and the
/// session's token (`session`: its query parameter, when the request carries one) written
/// `…`, in the order they are sent: `…/prices?token=…`, `…?range=1d&interval=1d&crumb=…`.
pub fn shown_url(spec: &SourceSpec, url: &Url, session: Option<&str>) -> String {
    let mut shown = url.to_string();
    let mut query = url.query().is_some();
    let mut hide = |param: &str| {
        shown.push(if query { '&' } else { '?' });
        query = true;
        shown.push_str(param);
        shown.push_str("=…");
    };
    if let Some(key) = &spec.key {
        match key.sent_as {
            SentAs::Query(param) => hide(param),
        }
    }
    if let Some(param) = session {
        hide(param);
    }
    shown
}

/// One whole line on stderr, made safe; a closed stderr loses it quietly.
fn write(line: &str) {
    let line = format!("quotes: {}\n", crate::text::message(line));
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(line.as_bytes());
}
