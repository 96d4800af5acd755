//! The errors a user can meet for one ticker, with the words they are shown in.
//!
//! A failed ticker is data, not a panic: every fetch ends in a `Result<_, FetchError>`, the
//! output layer prints the message as `quotes: SYMBOL: message` on stderr (or as an `error`
//! object in JSON), and `app` turns "any ticker failed" into exit status 1. Messages say what
//! happened and, where there is something to do, what to do. Transport errors (reqwest's)
//! are put into such words here too ([`FetchError::from_transport`]), so that neither the
//! fetcher nor a source has to know what hyper's errors look like.

use std::time::Duration;

/// Why one ticker has no price.
///
/// `Clone` because a ticker given twice is fetched once and reported at each position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("invalid ticker: {0}")]
    InvalidTicker(String),

    #[error("not found on {api} ({detail}); {hint}")]
    NotFound {
        api: &'static str,
        detail: String,
        /// The source's own advice (`check the pair, e.g. BTC-USD`).
        hint: &'static str,
    },

    /// `--max-age`: the price is older than the user accepts.
    #[error("stale: last price is from {as_of}, older than --max-age {max_age}")]
    Stale { as_of: String, max_age: String },

    /// `--max-age`, for a price whose age cannot be told (no time, or a time ahead of us).
    #[error("stale: the price's age cannot be told ({why}), so --max-age {max_age} refuses it")]
    Ageless { why: &'static str, max_age: String },

    #[error("no price in the response from {api}{}", detail_suffix(.detail))]
    NoPrice { api: &'static str, detail: String },

    #[error("rate limited by {api} (HTTP 429){}", retry_hint(.retry_after))]
    RateLimited {
        api: &'static str,
        retry_after: Option<Duration>,
    },

    /// An answer that says an hourly or daily allowance is used up (a 429 in Tiingo's words,
    /// a 200 in Alpha Vantage's): nothing more is sent to the source this run (issue 19).
    #[error("rate limited by {api}: {detail}; nothing more is asked of it this run")]
    QuotaSpent { api: &'static str, detail: String },

    /// A source that needs an API key, without one (issue 19): nothing was sent.
    #[error("{api} needs an API key: set {env} (a free key: {signup})")]
    MissingKey {
        api: &'static str,
        env: &'static str,
        signup: &'static str,
    },

    /// The source's API asked for a session (issue 19: Yahoo's cookie and crumb) and none
    /// could be got: why, in the words of the request that failed. The run's one try: every
    /// request of the source that needs one fails so. Its kind is that failure's.
    #[error("{api} asked for a cookie and crumb, and getting them failed: {cause}")]
    NoSession {
        api: &'static str,
        cause: Box<FetchError>,
    },

    /// A query the source cannot answer (issue 19): nothing was sent.
    #[error("{api} has no {what}")]
    Unsupported { api: &'static str, what: String },

    /// Every source of a ticker's chain failed (issue 19): each source's failure, in the
    /// order they were asked. Its kind is the last one's, the answer that ended the chain.
    #[error("every source failed: {}", chain_failures(.0))]
    AllFailed(Vec<(&'static str, FetchError)>),

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
        "{api} redirected (HTTP {status}) to {location}; quotes follows redirects only within the origin it asked (same scheme, host and port): a consent page or captive portal? try another network, or set HTTPS_PROXY"
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

    /// `--currency`: the price is in, but the rate to convert it is not (issue 11: no rate,
    /// no price; a price is never printed unconverted).
    #[error("no {to} rate for {from}: {why}")]
    NoRate {
        /// The currency asked for: `EUR`.
        to: String,
        /// The price's currency (`USD`), or what stands for it when the answer had none.
        from: String,
        /// Why, in the words of the error the rate's request met.
        why: String,
    },
}

impl FetchError {
    /// A short machine-readable name for the kind, used by the JSON formats.
    pub fn kind(&self) -> &'static str {
        match self {
            FetchError::InvalidTicker(_) => "invalid_ticker",
            FetchError::NotFound { .. } => "not_found",
            FetchError::Stale { .. } | FetchError::Ageless { .. } => "stale",
            FetchError::NoPrice { .. } => "no_price",
            FetchError::RateLimited { .. } | FetchError::QuotaSpent { .. } => "rate_limited",
            FetchError::MissingKey { .. } => "missing_key",
            FetchError::Unsupported { .. } => "unsupported",
            FetchError::AllFailed(failures) => failures.last().map_or("other", |(_, e)| e.kind()),
            FetchError::NoSession { cause, .. } => cause.kind(),
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
            FetchError::NoRate { .. } => "no_rate",
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

impl FetchError {
    /// Put a transport error into words a user understands. `api` is the source's display
    /// name, `when` is "before responding" or "mid-response", `timeout` the per-attempt
    /// limit that was set.
    pub fn from_transport(
        err: &reqwest::Error,
        api: &'static str,
        when: &'static str,
        timeout: Duration,
    ) -> FetchError {
        let cause = root_cause(err);
        let http = hyper_error(err);
        // What the server sent that is not HTTP is its malformed answer: asking again gets
        // the same (issue 18: it used to read "closed before responding", retried).
        if let Some(what) = http.and_then(not_http) {
            return FetchError::Malformed {
                api,
                detail: format!("the server sent {what}"),
            };
        }
        if err.is_connect() {
            let host = err
                .url()
                .map(|u| {
                    let host = u.host_str().unwrap_or("?");
                    match u.port_or_known_default() {
                        Some(port) => format!("{host}:{port}"),
                        None => host.to_string(),
                    }
                })
                .unwrap_or_else(|| api.to_string());
            return FetchError::Connect {
                host,
                cause: connect_cause(err.is_timeout(), cause),
            };
        }
        if err.is_timeout() {
            return FetchError::Timeout {
                api,
                after: timeout,
            };
        }
        // A body cut short surfaces as a decode error too (the gzip layer wraps the body),
        // but then HTTP's own error is in the chain: the connection ended before the length
        // it declared. A decode error without one is a body that arrived whole and does not
        // decode (a corrupt gzip stream, or one cut short inside a complete message: its
        // "unexpected end of file" is the stream's, not the connection's): the server's
        // malformed answer, asked once.
        if err.is_decode() && http.is_none() {
            return FetchError::Malformed {
                api,
                detail: format!("could not decode the body: {cause}"),
            };
        }
        // Nothing final came: the connection closed, or sent only an informational 1xx
        // status (which HTTP skips, and does not say it saw).
        let cause = match http {
            Some(e) if e.is_incomplete_message() => {
                "it sent no final response (nothing, or only an informational 1xx status)"
                    .to_string()
            }
            _ => cause,
        };
        FetchError::Disconnected { api, when, cause }
    }
}

/// The HTTP layer's error in an error's chain, if the HTTP layer failed.
fn hyper_error<'e>(err: &'e (dyn std::error::Error + 'static)) -> Option<&'e hyper::Error> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(http) = e.downcast_ref::<hyper::Error>() {
            return Some(http);
        }
        current = e.source();
    }
    None
}

/// What the server sent, when what it sent is not an HTTP response; `None` for other
/// failures.
fn not_http(e: &hyper::Error) -> Option<String> {
    if !e.is_parse() {
        return None;
    }
    // Only `is_parse_status` is told apart for a client; the rest by hyper's own words.
    let words = e.to_string();
    if e.is_parse_status() {
        Some("a status line that is not HTTP (an invalid status code or reason phrase)".into())
    } else if words.contains("too large") {
        Some("response headers larger than quotes reads (over 100 headers or 400 KiB)".into())
    } else if words.contains("header") {
        Some(
            "a header that is not valid HTTP (a control character, such as an ESC, in its \
             name or value)"
                .into(),
        )
    } else {
        Some(format!("a response that is not HTTP/1.1 ({words})"))
    }
}

/// Why a connection failed, in words that suggest what to do.
fn connect_cause(timed_out: bool, cause: String) -> String {
    if timed_out {
        "timed out".to_string()
    } else if let Some(problem) = cause.strip_prefix("invalid peer certificate: ") {
        format!(
            "TLS certificate not trusted ({problem}); behind a TLS-inspecting proxy, add its CA \
             with --cacert FILE"
        )
    } else if cause.starts_with("failed to lookup address information") {
        format!("host not found ({cause}); check the network, the URL, or HTTPS_PROXY")
    } else {
        cause
    }
}

/// The innermost cause of an error, in plain words: "connection refused", not
/// `hyper::Error(Connect, ConnectError(...))`.
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut current = err;
    while let Some(next) = current.source() {
        current = next;
    }
    // The kinds a user meets most, in the same words on every system (Windows says "No
    // connection could be made because the target machine actively refused it.").
    if let Some(io) = current.downcast_ref::<std::io::Error>() {
        match io.kind() {
            std::io::ErrorKind::ConnectionRefused => return "connection refused".into(),
            std::io::ErrorKind::ConnectionReset => return "connection reset".into(),
            std::io::ErrorKind::ConnectionAborted => return "connection aborted".into(),
            _ => {}
        }
    }
    let text = current.to_string();
    // io::Error's Display appends " (os error 111)"; users don't need the number.
    let text = match text.find(" (os error") {
        Some(at) => &text[..at],
        None => &text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => "unknown error".to_string(),
    }
}

/// `[yahoo] rate limited by Yahoo … [nasdaq] not found on Nasdaq …`: each source's failure
/// after its name, each cut to what one message may be ([`crate::text::MAX_PART`]), so the
/// last source's failure is never lost to a long first one.
fn chain_failures(failures: &[(&'static str, FetchError)]) -> String {
    let parts: Vec<String> = failures
        .iter()
        .map(|(source, e)| {
            format!(
                "[{source}] {}",
                crate::text::clip(&e.to_string(), crate::text::MAX_PART)
            )
        })
        .collect();
    parts.join(" ")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_cause_drops_os_error_numbers() {
        // The system's own number and words for a refused connection (Linux 111, macOS 61,
        // Windows' WSAECONNREFUSED 10061).
        #[cfg(unix)]
        let refused = libc::ECONNREFUSED;
        #[cfg(windows)]
        let refused = 10061;
        let text = root_cause(&std::io::Error::from_raw_os_error(refused));
        assert_eq!(text, "connection refused");
        // Any other error: the system's words, without the number.
        let text = root_cause(&std::io::Error::other("Broken thing (os error 9)"));
        assert_eq!(text, "broken thing");
    }

    #[test]
    fn not_found_carries_the_sources_hint() {
        let err = FetchError::NotFound {
            api: "Coinbase",
            detail: "Invalid base currency".into(),
            hint: "check the pair, e.g. BTC-USD",
        };
        assert_eq!(
            err.to_string(),
            "not found on Coinbase (Invalid base currency); check the pair, e.g. BTC-USD"
        );
    }
}
