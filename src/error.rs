//! The errors a user can meet for one ticker, with the words they are shown in.
//!
//! A failed ticker is data, not a panic: every fetch ends in `Result<Quote, FetchError>`,
//! the output layer prints the message as `quotes: SYMBOL: message` on stderr (or as an
//! `error` object in JSON), and `lib::run` turns "any ticker failed" into exit status 1.
//! Messages say what happened and, where there is something to do, what to do.

use std::time::Duration;

/// Why one ticker has no price.
///
/// `Clone` because a ticker given twice is fetched once and reported at each position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("invalid ticker: {0}")]
    InvalidTicker(String),

    #[error("not found on {api} ({detail}); {}", not_found_hint(.api))]
    NotFound { api: &'static str, detail: String },

    /// `--max-age`: the price is older than the user accepts.
    #[error("stale: last price is from {as_of}, older than --max-age {max_age}")]
    Stale { as_of: String, max_age: String },

    #[error("no price in the response from {api}{}", detail_suffix(.detail))]
    NoPrice { api: &'static str, detail: String },

    #[error("rate limited by {api} (HTTP 429){}", retry_hint(.retry_after))]
    RateLimited {
        api: &'static str,
        retry_after: Option<Duration>,
    },

    /// 500, 502, 503, 504: worth retrying, after the server's `Retry-After` if it sent one.
    #[error("HTTP {status} from {api}: a server error; try again later")]
    ServerError {
        api: &'static str,
        status: u16,
        retry_after: Option<Duration>,
    },

    #[error("HTTP {status} from {api}{}", detail_suffix(.detail))]
    Http {
        api: &'static str,
        status: u16,
        detail: String,
    },

    #[error("timed out after {} waiting for {api}; try a larger --timeout", secs(.after))]
    Timeout { api: &'static str, after: Duration },

    #[error("could not connect to {host}: {cause}")]
    Connect { host: String, cause: String },

    #[error("connection to {api} closed {when}: {cause}")]
    Disconnected {
        api: &'static str,
        when: &'static str,
        cause: String,
    },

    #[error(
        "{api} redirected (HTTP {status}) to {location}; quotes follows only redirects to the same host over HTTPS (a consent page or captive portal? try another network, or set HTTPS_PROXY)"
    )]
    Redirected {
        api: &'static str,
        status: u16,
        location: String,
    },

    #[error("{api} redirected more than {limit} times (last to {location}); giving up")]
    TooManyRedirects {
        api: &'static str,
        limit: usize,
        location: String,
    },

    #[error("deadline exceeded (--deadline {}) before a price arrived", secs(.after))]
    DeadlineExceeded { after: Duration },

    #[error("interrupted before a price arrived")]
    Interrupted,

    #[error("malformed response from {api}: {detail}")]
    Malformed { api: &'static str, detail: String },

    #[error("response from {api} is larger than {limit} bytes; refusing to read more")]
    TooLarge { api: &'static str, limit: usize },

    /// The price was fetched, but the chosen output format cannot express it.
    #[error("{0}")]
    Unrepresentable(String),

    #[error("request failed: {0}")]
    Other(String),
}

impl FetchError {
    /// A short machine-readable name for the kind, used by the JSON formats.
    pub fn kind(&self) -> &'static str {
        match self {
            FetchError::InvalidTicker(_) => "invalid_ticker",
            FetchError::NotFound { .. } => "not_found",
            FetchError::Stale { .. } => "stale",
            FetchError::NoPrice { .. } => "no_price",
            FetchError::RateLimited { .. } => "rate_limited",
            FetchError::Http { .. } | FetchError::ServerError { .. } => "http_status",
            FetchError::Timeout { .. } => "timeout",
            FetchError::Connect { .. } => "connect",
            FetchError::Disconnected { .. } => "disconnected",
            FetchError::Redirected { .. } | FetchError::TooManyRedirects { .. } => "redirected",
            FetchError::DeadlineExceeded { .. } => "deadline_exceeded",
            FetchError::Interrupted => "interrupted",
            FetchError::Malformed { .. } => "malformed_response",
            FetchError::TooLarge { .. } => "response_too_large",
            FetchError::Unrepresentable(_) => "unrepresentable",
            FetchError::Other(_) => "other",
        }
    }

    /// Whether trying the same request again may succeed (issue 2: connection failures,
    /// timeouts, 429, 500, 502, 503, 504). Not found and malformed bodies are final.
    pub fn is_transient(&self) -> bool {
        match self {
            FetchError::RateLimited { .. }
            | FetchError::ServerError { .. }
            | FetchError::Timeout { .. }
            | FetchError::Connect { .. }
            | FetchError::Disconnected { .. } => true,
            FetchError::Http { status, .. } => matches!(status, 500 | 502 | 503 | 504),
            _ => false,
        }
    }
}

fn not_found_hint(api: &str) -> &'static str {
    match api {
        "Coinbase" => "check the pair, e.g. BTC-USD",
        _ => "check the symbol and its exchange suffix, e.g. VOD.L",
    }
}

fn detail_suffix(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(": {detail}")
    }
}

fn retry_hint(retry_after: &Option<Duration>) -> String {
    match retry_after {
        Some(d) => format!(
            "; it asks to wait {}, try again later or with fewer tickers",
            secs(d)
        ),
        None => "; wait a minute and try again, or lower --jobs".to_string(),
    }
}

/// `1.5 s`, `10 s`: durations as a user typed them.
pub fn secs(d: &Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0} s")
    } else {
        format!("{s} s")
    }
}
