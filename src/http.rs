//! One request, start to finish: send it over the one client, follow redirects within its
//! origin, read the body up to a limit, all within one time limit.
//!
//! - **Redirects** (301, 302, 303, 307, 308) are followed at most [`MAX_REDIRECTS`] times,
//!   and only within the origin the request was sent to (scheme, host and port): never to
//!   another host (Yahoo's EU consent page), never from https down to http, never to another
//!   source's URL. A refused redirect ends the request with the answer that carried it, and
//!   the fetcher reports where it pointed.
//! - **The body** is read to at most [`MAX_BODY`] bytes (after gzip); a longer one fails
//!   without being read further. Memory stays bounded however many requests are in flight
//!   (issue 12): every body may grow to [`SMALL_BODY`] (a chart is about 1 KiB), but only
//!   [`LARGE_BODIES`] at a time may grow beyond it, each holding a permit while it is read
//!   (a body declared large waits for its permit before any of it is read). An HTTP/1.1
//!   origin that has sent [`LARGE_BODIES`] large bodies is in *large-answer mode* for the
//!   rest of the run: each further request to it takes its permit before it is sent, because
//!   an HTTP/1.1 connection that carried a large body reads up to 400 KiB of the next answer
//!   at once, and 200 such answers waiting to be read cost 80 MiB. (HTTP/2's flow control
//!   bounds what is read ahead, and one large error page is no pattern, so neither throttles
//!   anything.) So 200 requests in flight against a server that sends 2 MiB to each cost
//!   tens of MiB, not 400 MiB.
//! - **The time limit** (`--timeout`) covers the whole of one attempt: connecting, every
//!   redirect, and the body.
//! - **HTTP/2 warm-up**: the very first request to an https origin goes alone until its
//!   connection is up. Before the TLS handshake the client cannot know the server speaks
//!   HTTP/2, and a burst of requests would each open a connection of their own (a burst of
//!   handshakes is exactly what earns 429s). Once it is up, the rest go and multiplex over
//!   that one connection. Each origin warms up on its own (see `client::Warmup`). Plain
//!   http (HTTP/1.1) needs no such wait: its requests cannot share a connection anyway.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Url;
use reqwest::header::HeaderMap;

use tokio::sync::SemaphorePermit;

use crate::client::Warmup;

/// The largest body read for one request (issue 2: 2 MiB). A chart body is about 1 KiB.
pub const MAX_BODY: usize = 2 * 1024 * 1024;

/// What a body may grow to without a large-body permit.
pub const SMALL_BODY: usize = 64 * 1024;

/// How many bodies may grow beyond [`SMALL_BODY`] at once.
pub const LARGE_BODIES: usize = 8;

/// The most redirects followed for one request.
pub const MAX_REDIRECTS: usize = 5;

/// The HTTP side of fetching: the one client, and what it knows about each origin.
pub struct Http {
    client: reqwest::Client,
    timeout: Duration,
    /// What is known about each origin (`scheme://host:port`).
    origins: Mutex<HashMap<String, Arc<Origin>>>,
    /// Permits to read a body beyond [`SMALL_BODY`].
    large_bodies: tokio::sync::Semaphore,
}

/// One origin's state.
#[derive(Default)]
struct Origin {
    /// Its HTTP/2 warm-up (https only).
    warmup: Arc<Warmup>,
    /// How many bodies larger than [`SMALL_BODY`] it has sent over HTTP/1.
    large_answers: std::sync::atomic::AtomicUsize,
}

/// The final answer to a request, after the redirects that were followed.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// `Retry-After`, in its seconds form.
    pub retry_after: Option<Duration>,
    /// `Location`, as sent (lossily decoded: a non-ASCII location is still shown).
    pub location: Option<String>,
    pub body: Vec<u8>,
    /// How many redirects were followed to get here.
    pub redirects: usize,
    /// The HTTP version it came over (for `-v`).
    pub version: reqwest::Version,
    /// Its `Set-Cookie` headers, as sent, for [`Http::get_with_cookies`] (issue 19: the
    /// cookie of a session, `session`); otherwise empty, and nothing looked up or allocated.
    pub cookies: Vec<String>,
}

/// Why a request got no complete answer.
#[derive(Debug)]
pub enum HttpError {
    /// The transport failed; `when` is "before responding" or "mid-response".
    Transport {
        error: reqwest::Error,
        when: &'static str,
    },
    /// The body was longer than [`MAX_BODY`].
    TooLarge,
    /// The attempt took longer than the time limit.
    Timeout,
}

impl Http {
    /// `timeout` bounds each attempt as a whole.
    pub fn new(client: reqwest::Client, timeout: Duration) -> Http {
        Http {
            client,
            timeout,
            origins: Mutex::new(HashMap::new()),
            large_bodies: tokio::sync::Semaphore::new(LARGE_BODIES),
        }
    }

    /// The time limit of one attempt.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// GET `url` with `headers` (beyond the client's own; resent on every redirect),
    /// following redirects within its origin, within the time limit.
    pub async fn get(&self, url: &Url, headers: Option<&HeaderMap>) -> Result<Response, HttpError> {
        let origin = self.origin(url);
        // Waiting for a permit is not part of the attempt's time.
        let large_mode = origin
            .large_answers
            .load(std::sync::atomic::Ordering::Relaxed)
            >= LARGE_BODIES;
        let permit = if large_mode {
            Some(self.large_body().await)
        } else {
            None
        };
        let clock = Clock(Mutex::new(tokio::time::Instant::now() + self.timeout));
        self.follow(url, headers, false, &origin, permit, &clock)
            .await
    }

    /// [`Http::get`] for a session's requests (issue 19, `session`), with the answer's
    /// `Set-Cookie` headers collected. A function of its own so that `get`, which every other
    /// request goes through, keeps its one caller and stays inlined there (no cost to them).
    pub async fn get_with_cookies(
        &self,
        url: &Url,
        headers: Option<&HeaderMap>,
    ) -> Result<Response, HttpError> {
        let origin = self.origin(url);
        let clock = Clock(Mutex::new(tokio::time::Instant::now() + self.timeout));
        // Two small answers once a run: no large-body permit taken before they are sent.
        self.follow(url, headers, true, &origin, None, &clock).await
    }

    fn origin(&self, url: &Url) -> Arc<Origin> {
        let mut origins = self.origins.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(
            origins
                .entry(url.origin().ascii_serialization())
                .or_default(),
        )
    }

    /// The request and its redirects; `cookies`: collect the final answer's `Set-Cookie`.
    async fn follow(
        &self,
        first: &Url,
        headers: Option<&HeaderMap>,
        cookies: bool,
        origin: &Origin,
        mut permit: Option<SemaphorePermit<'_>>,
        clock: &Clock,
    ) -> Result<Response, HttpError> {
        let mut url = first.clone();
        let mut redirects = 0;
        loop {
            let response = clock
                .within(self.send(&url, headers, &origin.warmup))
                .await?
                .map_err(|error| HttpError::Transport {
                    error,
                    when: "before responding",
                })?;
            let status = response.status().as_u16();
            let version = response.version();
            let answered = response.headers();
            let retry_after = retry_after(answered);
            let raw_location = answered.get(reqwest::header::LOCATION);
            // Followed only as sent: a Location that is not plain ASCII is no URL to guess at
            // (it is reported, lossily decoded, instead).
            let followable = raw_location
                .and_then(|l| l.to_str().ok())
                .map(str::to_string);
            let location = raw_location.map(|l| String::from_utf8_lossy(l.as_bytes()).into_owned());
            let set_cookies = if cookies {
                answered
                    .get_all(reqwest::header::SET_COOKIE)
                    .iter()
                    .map(|c| String::from_utf8_lossy(c.as_bytes()).into_owned())
                    .collect()
            } else {
                Vec::new()
            };
            let body = self.read_body(response, origin, &mut permit, clock).await?;
            let next = match (status, &followable) {
                (301 | 302 | 303 | 307 | 308, Some(to)) if redirects < MAX_REDIRECTS => {
                    within_origin(first, &url, to)
                }
                _ => None,
            };
            match next {
                Some(next) => {
                    url = next;
                    redirects += 1;
                }
                None => {
                    return Ok(Response {
                        status,
                        retry_after,
                        location,
                        body,
                        redirects,
                        version,
                        cookies: set_cookies,
                    });
                }
            }
        }
    }

    async fn send(
        &self,
        url: &Url,
        headers: Option<&HeaderMap>,
        warmup: &Arc<Warmup>,
    ) -> reqwest::Result<reqwest::Response> {
        let mut request = self.client.get(url.clone());
        if let Some(headers) = headers {
            request = request.headers(headers.clone());
        }
        let request = request.send();
        if url.scheme() != "https" {
            return request.await;
        }
        if warmup.claim_first() {
            return warmup.first(request).await;
        }
        warmup.wait().await;
        request.await
    }
}

/// The time limit of one attempt: network waits count, waits for our own large-body
/// permits do not (under load, waiting for a permit is not the server being slow).
struct Clock(Mutex<tokio::time::Instant>);

impl Clock {
    /// `work`, unless the deadline passes first.
    async fn within<F: std::future::Future>(&self, work: F) -> Result<F::Output, HttpError> {
        tokio::time::timeout_at(self.deadline(), work)
            .await
            .map_err(|_| HttpError::Timeout)
    }

    /// `wait`, with the deadline moved by as long as it took.
    async fn paused<F: std::future::Future>(&self, wait: F) -> F::Output {
        let started = tokio::time::Instant::now();
        let output = wait.await;
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) += started.elapsed();
        output
    }

    fn deadline(&self) -> tokio::time::Instant {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Where a redirect from `current` to `location` leads, if it stays within the origin of
/// the request as first sent (`first`): scheme, host and port. Anything else is refused,
/// including https → http and a hop to another source's URL.
pub fn within_origin(first: &Url, current: &Url, location: &str) -> Option<Url> {
    let next = current.join(location).ok()?;
    (next.origin() == first.origin()).then_some(next)
}

/// `Retry-After` in seconds (the form Yahoo and Coinbase send).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

impl Http {
    /// Read the whole body, refusing (without buffering more) once it passes [`MAX_BODY`]
    /// bytes; beyond [`SMALL_BODY`] only while holding a large-body permit. A declared
    /// length is never trusted for an allocation beyond `SMALL_BODY`.
    async fn read_body<'a>(
        &'a self,
        mut response: reqwest::Response,
        origin: &Origin,
        permit: &mut Option<SemaphorePermit<'a>>,
        clock: &Clock,
    ) -> Result<Vec<u8>, HttpError> {
        let declared = response.content_length();
        if declared.is_some_and(|len| len > MAX_BODY as u64) {
            return Err(HttpError::TooLarge);
        }
        let http1 = response.version() < reqwest::Version::HTTP_2;
        let mut counted = false;
        // A large body: counted once (over HTTP/1), and whether it still needs its permit.
        let mut large = |permit: &mut Option<SemaphorePermit<'a>>| {
            if http1 && !counted {
                counted = true;
                origin
                    .large_answers
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            permit.is_none()
        };
        // A body declared large waits for its permit BEFORE any of it is read: hyper has
        // read little of it yet, so a waiting request holds little. (One that turns out large
        // on the way holds what it has read while it waits.)
        if declared.is_some_and(|len| len > SMALL_BODY as u64) && large(permit) {
            *permit = Some(clock.paused(self.large_body()).await);
        }
        let capacity = declared.unwrap_or(8 * 1024).min(if permit.is_some() {
            MAX_BODY
        } else {
            SMALL_BODY
        } as u64) as usize;
        let mut body = Vec::with_capacity(capacity);
        let mid_response = |error| HttpError::Transport {
            error,
            when: "mid-response",
        };
        while let Some(chunk) = clock
            .within(response.chunk())
            .await?
            .map_err(mid_response)?
        {
            let len = body.len() + chunk.len();
            if len > MAX_BODY {
                return Err(HttpError::TooLarge);
            }
            if len > SMALL_BODY && large(permit) {
                *permit = Some(clock.paused(self.large_body()).await);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    async fn large_body(&self) -> tokio::sync::SemaphorePermit<'_> {
        // The semaphore is never closed, so acquire cannot fail.
        self.large_bodies
            .acquire()
            .await
            .expect("semaphore is never closed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_stay_within_the_origin_of_the_request() {
        let first = Url::parse("https://query1.finance.yahoo.com/v8/finance/chart/AAPL").unwrap();
        let to = |location: &str| within_origin(&first, &first, location).map(String::from);
        assert_eq!(
            to("/v8/finance/chart/AAPL?x=1").as_deref(),
            Some("https://query1.finance.yahoo.com/v8/finance/chart/AAPL?x=1")
        );
        assert_eq!(to("https://consent.yahoo.com/collect"), None);
        assert_eq!(
            to("http://query1.finance.yahoo.com/x"),
            None,
            "no downgrade to plain http"
        );
        assert_eq!(to("https://query1.finance.yahoo.com:8443/x"), None);
        // An upgrade is another origin too: an http source is never sent to https.
        let plain = Url::parse("http://127.0.0.1:8080/a").unwrap();
        assert_eq!(
            within_origin(&plain, &plain, "https://127.0.0.1:8080/a"),
            None
        );
        assert_eq!(
            within_origin(&plain, &plain, "/b")
                .map(String::from)
                .as_deref(),
            Some("http://127.0.0.1:8080/b")
        );
    }
}
