//! The one HTTP client, the concurrency bound, retries, timeouts and the body-size limit.
//!
//! Nothing here knows any API: a [`Source`] builds the URL and reads the body. Every
//! ticker becomes one future; `join_all` drives them while a semaphore keeps at most
//! `--jobs` requests in flight; results come back in input order whatever order they
//! finish in. A permit is held only while a request is on the wire, never while waiting
//! to retry, so a backing-off ticker does not starve the others. 429s are handled per
//! source by `gate`; how the client itself is built lives in `client`.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::join_all;
use tokio::sync::Semaphore;

use crate::client::{self, ClientOptions};
use crate::error::FetchError;
use crate::gate::{Admission, Gate, MAX_RETRY_AFTER, backoff};
use crate::progress::Progress;
use crate::quote::Quote;
use crate::source::{Query, Source};

/// The largest body read for one ticker (issue 2: 2 MiB). A chart body is about 1 KiB.
pub const MAX_BODY: usize = 2 * 1024 * 1024;

/// How fetching behaves; filled from the command line.
#[derive(Debug, Clone)]
pub struct Settings {
    pub client: ClientOptions,
    pub retries: u32,
    /// The first retry's backoff (hidden `--backoff-base`).
    pub backoff_base: Duration,
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
    /// One rate-limit gate per source, shared by all its tickers.
    gates: Mutex<HashMap<&'static str, Arc<Gate>>>,
    /// Per https origin: whether its first connection is up (see `send`).
    warmed: Mutex<HashMap<String, Arc<Warmup>>>,
    /// Bumped by the client each time it establishes a connection.
    connected: tokio::sync::watch::Receiver<u64>,
}

/// The first request to an https origin, and the burst waiting behind it.
#[derive(Default)]
struct Warmup {
    started: std::sync::atomic::AtomicBool,
    ready: tokio::sync::watch::Sender<bool>,
}

impl Fetcher {
    pub fn new(settings: Settings) -> anyhow::Result<Fetcher> {
        let (connected_tx, connected) = tokio::sync::watch::channel(0);
        Ok(Fetcher {
            client: client::build(&settings.client, connected_tx)?,
            connected,
            permits: Semaphore::new(settings.client.jobs),
            gates: Mutex::new(HashMap::new()),
            warmed: Mutex::new(HashMap::new()),
            settings,
        })
    }

    /// Fetch every job concurrently; the result at index `i` belongs to `jobs[i]`.
    /// A ticker asked for twice (same source) is fetched once and reported at each place.
    ///
    /// If `stop` finishes first (a deadline, a signal), the fetch is abandoned: every
    /// result already in is kept, and each unfinished ticker gets the error `stop` gives.
    pub async fn fetch_all(
        &self,
        jobs: &[Job],
        progress: Option<&Progress>,
        stop: impl Future<Output = FetchError>,
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
        // Each call (each --watch round) starts with open gates: a source that rate-limited
        // us a minute ago gets another chance.
        self.gates.lock().unwrap_or_else(|e| e.into_inner()).clear();
        let done: Vec<Mutex<Option<Result<Quote, FetchError>>>> =
            unique.iter().map(|_| Mutex::new(None)).collect();
        let work = join_all(unique.iter().zip(&done).map(|(job, slot)| async move {
            let result = self.fetch_one(job).await;
            if let Some(p) = progress {
                p.record(result.is_ok());
            }
            *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
        }));
        let stopped = tokio::select! {
            _ = work => None,
            reason = stop => Some(reason),
        };
        let results: Vec<Result<Quote, FetchError>> = done
            .into_iter()
            .map(|slot| {
                let result = slot.into_inner().unwrap_or_else(|e| e.into_inner());
                result.unwrap_or_else(|| {
                    Err(stopped
                        .clone()
                        .unwrap_or_else(|| FetchError::Other("internal: no result".into())))
                })
            })
            .collect();
        slots.into_iter().map(|i| results[i].clone()).collect()
    }

    fn gate(&self, source: &dyn Source) -> Arc<Gate> {
        let mut gates = self.gates.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(
            gates
                .entry(source.name())
                .or_insert_with(|| Arc::new(Gate::new(self.settings.retries, self.settings.backoff_base))),
        )
    }

    /// One ticker, with retries for transient failures. 429s go through the source's
    /// shared gate; other transient failures back off per ticker.
    pub async fn fetch_one(&self, job: &Job) -> Result<Quote, FetchError> {
        let source = job.source.as_ref();
        let gate = self.gate(source);
        let mut attempt = 0;
        loop {
            let result = {
                // The semaphore is never closed, so acquire cannot fail.
                let permit = self
                    .permits
                    .acquire()
                    .await
                    .expect("semaphore is never closed");
                match gate.admit() {
                    Admission::Go => self.attempt(job).await,
                    Admission::Wait(until) => {
                        drop(permit);
                        tokio::time::sleep_until(until).await;
                        continue;
                    }
                    Admission::RateLimited(retry_after) => {
                        return Err(FetchError::RateLimited {
                            api: source.display_name(),
                            retry_after,
                        });
                    }
                }
            };
            match result {
                Ok(quote) => {
                    gate.succeeded();
                    return Ok(quote);
                }
                Err(FetchError::RateLimited { retry_after, .. })
                    if attempt < self.settings.retries =>
                {
                    // The gate decides how long everyone waits, or that we give up.
                    gate.rate_limited(retry_after);
                    attempt += 1;
                }
                Err(err) if err.is_transient() && attempt < self.settings.retries => {
                    let wait = match &err {
                        FetchError::ServerError {
                            retry_after: Some(asked),
                            ..
                        } => *asked,
                        _ => backoff(self.settings.backoff_base, attempt),
                    };
                    if wait > MAX_RETRY_AFTER {
                        return Err(err);
                    }
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(err) => {
                    if let FetchError::RateLimited { retry_after, .. } = &err {
                        gate.rate_limited(*retry_after);
                    }
                    return Err(err);
                }
            }
        }
    }

    async fn attempt(&self, job: &Job) -> Result<Quote, FetchError> {
        let source = job.source.as_ref();
        // Parsed once here; reqwest takes the parsed URL as it is.
        let mut url = reqwest::Url::parse(&source.url(&job.query))
            .map_err(|e| FetchError::Other(format!("internal: bad request URL: {e}")))?;
        let mut redirects = 0;
        let (status, retry_after, location, body) = loop {
            let response = self
                .send(&url)
                .await
                .map_err(|e| self.classify(&e, source, "before responding"))?;
            let status = response.status().as_u16();
            let retry_after = retry_after(response.headers());
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .map(str::to_string);
            let body = read_limited(response, MAX_BODY)
                .await
                .map_err(|e| match e {
                    BodyError::TooLarge => FetchError::TooLarge {
                        api: source.display_name(),
                        limit: MAX_BODY,
                    },
                    BodyError::Transport(e) => self.classify(&e, source, "mid-response"),
                })?;
            let next = match (status, &location) {
                (301 | 302 | 303 | 307 | 308, Some(to)) if redirects < client::MAX_REDIRECTS => {
                    client::follow(&url, to, &self.settings.client.base_urls)
                }
                _ => None,
            };
            match next {
                Some(next) => {
                    url = next;
                    redirects += 1;
                }
                None => break (status, retry_after, location, body),
            }
        };
        match status {
            429 => Err(FetchError::RateLimited {
                api: source.display_name(),
                retry_after,
            }),
            500 | 502 | 503 | 504 => Err(FetchError::ServerError {
                api: source.display_name(),
                status,
                retry_after,
            }),
            301 | 302 | 303 | 307 | 308 if redirects == client::MAX_REDIRECTS => {
                Err(FetchError::TooManyRedirects {
                    api: source.display_name(),
                    limit: client::MAX_REDIRECTS,
                    location: location
                        .map_or_else(String::new, |l| crate::source::excerpt(l.as_bytes())),
                })
            }
            // A redirect `follow` refused.
            300..=399 => Err(FetchError::Redirected {
                api: source.display_name(),
                status,
                location: location.map_or_else(
                    || "nowhere (no Location header)".into(),
                    |l| crate::source::excerpt(l.as_bytes()),
                ),
            }),
            _ => source.parse(&job.query, status, &body),
        }
    }

    /// Send a GET. The very first request to an https origin goes alone until its
    /// connection is up: before the TLS handshake the client cannot know the server
    /// speaks HTTP/2, and a burst of requests would each open a connection of their own.
    /// Once it is up (or the first answer is in), the rest go and multiplex over that one
    /// connection (issue 6). Plain http (HTTP/1.1) needs no such wait: its requests cannot
    /// share a connection anyway.
    async fn send(&self, url: &reqwest::Url) -> reqwest::Result<reqwest::Response> {
        use std::sync::atomic::Ordering;
        let request = self.client.get(url.clone());
        if url.scheme() != "https" {
            return request.send().await;
        }
        let origin = url.origin().ascii_serialization();
        let warmup = {
            let mut warmed = self.warmed.lock().unwrap_or_else(|e| e.into_inner());
            Arc::clone(warmed.entry(origin).or_default())
        };
        if !warmup.started.swap(true, Ordering::SeqCst) {
            // The first request: when it has an answer (or failed), nobody waits any more.
            let response = request.send().await;
            warmup.ready.send_replace(true);
            return response;
        }
        let mut ready = warmup.ready.subscribe();
        let mut connected = self.connected.clone();
        connected.mark_unchanged();
        tokio::select! {
            _ = ready.wait_for(|ready| *ready) => {}
            _ = connected.changed() => { warmup.ready.send_replace(true); }
        }
        request.send().await
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
            return FetchError::Connect {
                host,
                cause: connect_cause(err.is_timeout(), cause),
            };
        }
        if err.is_timeout() {
            return FetchError::Timeout {
                api: source.display_name(),
                after: self.settings.client.timeout,
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
    fn root_cause_drops_os_error_numbers() {
        let io = std::io::Error::from_raw_os_error(111);
        assert_eq!(root_cause(&io), "connection refused");
    }
}
