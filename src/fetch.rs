//! The one HTTP client, the concurrency bound, retries, timeouts and the body-size limit.
//!
//! Nothing here knows any API: a [`Source`] builds the URL and reads the body. Every
//! ticker becomes one future; `join_all` drives them while a semaphore keeps at most
//! `--jobs` requests in flight; results come back in input order whatever order they
//! finish in. A permit is held only while a request is on the wire, never while waiting
//! to retry, so a backing-off ticker does not starve the others.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use tokio::sync::Semaphore;

use crate::error::FetchError;
use crate::progress::Progress;
use crate::quote::Quote;
use crate::source::{Query, Source};

/// The largest body read for one ticker (issue 2: 2 MiB). A chart body is about 1 KiB.
pub const MAX_BODY: usize = 2 * 1024 * 1024;

/// The longest `Retry-After` honoured; a server asking for more fails the ticker instead
/// of holding a script for minutes.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// First retry waits about this long; each further retry doubles it (±50% jitter).
const BACKOFF_BASE: Duration = Duration::from_millis(250);

/// How the client behaves; filled from the command line.
#[derive(Debug, Clone)]
pub struct Settings {
    pub jobs: usize,
    pub timeout: Duration,
    pub retries: u32,
    pub user_agent: String,
}

/// One thing to fetch: what to ask, and the source to ask.
#[derive(Clone)]
pub struct Job {
    pub source: Arc<dyn Source>,
    pub query: Query,
}

pub struct Fetcher {
    client: reqwest::Client,
    permits: Semaphore,
    settings: Settings,
}

impl Fetcher {
    pub fn new(settings: Settings) -> anyhow::Result<Fetcher> {
        // reqwest is built with rustls and no bundled crypto provider: ring compiles
        // faster and smaller than aws-lc. Installing twice (tests) is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .user_agent(settings.user_agent.clone())
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            .pool_max_idle_per_host(settings.jobs)
            .gzip(true)
            .build()?;
        Ok(Fetcher {
            client,
            permits: Semaphore::new(settings.jobs),
            settings,
        })
    }

    /// Fetch every job concurrently; the result at index `i` belongs to `jobs[i]`.
    /// A ticker asked for twice (same source) is fetched once and reported at each place.
    pub async fn fetch_all(
        &self,
        jobs: &[Job],
        progress: Option<&Progress>,
    ) -> Vec<Result<Quote, FetchError>> {
        let mut unique: Vec<&Job> = Vec::new();
        let mut slot_of: HashMap<(&str, &Query), usize> = HashMap::new();
        let slots: Vec<usize> = jobs
            .iter()
            .map(|job| {
                *slot_of
                    .entry((job.source.name(), &job.query))
                    .or_insert_with(|| {
                        unique.push(job);
                        unique.len() - 1
                    })
            })
            .collect();
        if let Some(p) = progress {
            p.set_total(unique.len());
        }
        let results = join_all(unique.iter().map(|job| async move {
            let result = self.fetch_one(job).await;
            if let Some(p) = progress {
                p.record(result.is_ok());
            }
            result
        }))
        .await;
        slots.into_iter().map(|i| results[i].clone()).collect()
    }

    /// One ticker, with retries for transient failures.
    pub async fn fetch_one(&self, job: &Job) -> Result<Quote, FetchError> {
        let mut attempt = 0;
        loop {
            let result = {
                // The semaphore is never closed, so acquire cannot fail.
                let _permit = self
                    .permits
                    .acquire()
                    .await
                    .expect("semaphore is never closed");
                self.attempt(job).await
            };
            match result {
                Err(err) if err.is_transient() && attempt < self.settings.retries => {
                    let wait = match &err {
                        FetchError::RateLimited {
                            retry_after: Some(asked),
                            ..
                        } => {
                            if *asked > MAX_RETRY_AFTER {
                                return Err(err);
                            }
                            *asked
                        }
                        _ => backoff(attempt),
                    };
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn attempt(&self, job: &Job) -> Result<Quote, FetchError> {
        let source = job.source.as_ref();
        let url = source.url(&job.query);
        let response = self
            .client
            .get(&url)
            .send()
            .await
            .map_err(|e| self.classify(&e, source, "before responding"))?;
        let status = response.status().as_u16();
        let retry_after = retry_after(response.headers());
        let body = read_limited(response, MAX_BODY)
            .await
            .map_err(|e| match e {
                BodyError::TooLarge => FetchError::TooLarge {
                    api: source.display_name(),
                    limit: MAX_BODY,
                },
                BodyError::Transport(e) => self.classify(&e, source, "mid-response"),
            })?;
        match status {
            429 => Err(FetchError::RateLimited {
                api: source.display_name(),
                retry_after,
            }),
            500 | 502 | 503 | 504 => Err(FetchError::Http {
                api: source.display_name(),
                status,
                detail: String::new(),
            }),
            _ => source.parse(&job.query, status, &body).map(|mut quote| {
                // A source without a timestamp (Coinbase spot) priced it just now.
                quote
                    .time
                    .get_or_insert_with(|| jiff::Timestamp::now().as_second());
                quote
            }),
        }
    }

    /// Put a transport error into words a user understands.
    fn classify(
        &self,
        err: &reqwest::Error,
        source: &dyn Source,
        when: &'static str,
    ) -> FetchError {
        let cause = root_cause(err);
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
                .unwrap_or_else(|| source.display_name().to_string());
            let cause = if err.is_timeout() {
                "timed out".to_string()
            } else {
                cause
            };
            return FetchError::Connect { host, cause };
        }
        if err.is_timeout() {
            return FetchError::Timeout {
                api: source.display_name(),
                after: self.settings.timeout,
            };
        }
        // A body cut short surfaces as a decode error too (the gzip layer wraps the body);
        // only data that arrived but cannot be decoded is the server's malformed answer.
        if err.is_decode() && root_io_kind(err) == Some(std::io::ErrorKind::InvalidData) {
            return FetchError::Malformed {
                api: source.display_name(),
                detail: format!("could not decode the body: {cause}"),
            };
        }
        FetchError::Disconnected {
            api: source.display_name(),
            when,
            cause,
        }
    }
}

/// Exponential backoff with ±50% jitter, so that many tickers retrying at once spread out.
fn backoff(attempt: u32) -> Duration {
    let exp = BACKOFF_BASE.saturating_mul(1u32 << attempt.min(6));
    exp.mul_f64(0.5 + fastrand::f64())
}

/// `Retry-After` in seconds (the form Yahoo and Coinbase send).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

enum BodyError {
    TooLarge,
    Transport(reqwest::Error),
}

/// Read the whole body, refusing (without buffering more) once it passes `limit` bytes.
async fn read_limited(mut response: reqwest::Response, limit: usize) -> Result<Vec<u8>, BodyError> {
    if response
        .content_length()
        .is_some_and(|len| len > limit as u64)
    {
        return Err(BodyError::TooLarge);
    }
    let capacity = response
        .content_length()
        .unwrap_or(8 * 1024)
        .min(limit as u64) as usize;
    let mut body = Vec::with_capacity(capacity);
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The kind of the innermost `io::Error` in an error's chain, if there is one.
fn root_io_kind(err: &(dyn std::error::Error + 'static)) -> Option<std::io::ErrorKind> {
    let mut current = Some(err);
    let mut kind = None;
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            kind = Some(io.kind());
        }
        current = e.source();
    }
    kind
}

/// The innermost cause of an error, in plain words: "connection refused", not
/// `hyper::Error(Connect, ConnectError(...))`.
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut current = err;
    while let Some(next) = current.source() {
        current = next;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_jittered() {
        for attempt in 0..4 {
            let nominal = BACKOFF_BASE * (1 << attempt);
            let got = backoff(attempt);
            assert!(
                got >= nominal / 2 && got <= nominal * 3 / 2,
                "{attempt}: {got:?}"
            );
        }
    }

    #[test]
    fn root_cause_drops_os_error_numbers() {
        let io = std::io::Error::from_raw_os_error(111);
        assert_eq!(root_cause(&io), "connection refused");
    }
}
