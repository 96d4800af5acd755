//! One request, start to finish: send it over the one client, follow redirects within its
//! origin, read the body up to a limit, all within one time limit.
//!
//! - **Redirects** (301, 302, 303, 307, 308) are followed at most [`MAX_REDIRECTS`] times,
//!   and only within the origin the request was sent to (scheme, host and port): never to
//!   another host (Yahoo's EU consent page), never from https down to http, never to another
//!   source's URL. A refused redirect ends the request with the answer that carried it, and
//!   the fetcher reports where it pointed.
//! - **The body** is read to at most [`MAX_BODY`] bytes (after gzip); a longer one fails
//!   without being read further.
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

use crate::client::Warmup;

/// The largest body read for one request (issue 2: 2 MiB). A chart body is about 1 KiB.
pub const MAX_BODY: usize = 2 * 1024 * 1024;

/// The most redirects followed for one request.
pub const MAX_REDIRECTS: usize = 5;

/// The HTTP side of fetching: the one client, and what it knows about each origin.
pub struct Http {
    client: reqwest::Client,
    timeout: Duration,
    warmups: Mutex<HashMap<String, Arc<Warmup>>>,
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
            warmups: Mutex::new(HashMap::new()),
        }
    }

    /// The time limit of one attempt.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// GET `url`, following redirects within its origin, within the time limit.
    pub async fn get(&self, url: &Url) -> Result<Response, HttpError> {
        tokio::time::timeout(self.timeout, self.follow(url))
            .await
            .unwrap_or(Err(HttpError::Timeout))
    }

    async fn follow(&self, first: &Url) -> Result<Response, HttpError> {
        let mut url = first.clone();
        let mut redirects = 0;
        loop {
            let response = self
                .send(&url)
                .await
                .map_err(|error| HttpError::Transport {
                    error,
                    when: "before responding",
                })?;
            let status = response.status().as_u16();
            let headers = response.headers();
            let retry_after = retry_after(headers);
            let location = headers
                .get(reqwest::header::LOCATION)
                .map(|l| String::from_utf8_lossy(l.as_bytes()).into_owned());
            let body = read_limited(response, MAX_BODY).await?;
            let next = match (status, &location) {
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
                    });
                }
            }
        }
    }

    async fn send(&self, url: &Url) -> reqwest::Result<reqwest::Response> {
        let request = self.client.get(url.clone()).send();
        if url.scheme() != "https" {
            return request.await;
        }
        let warmup = {
            let mut warmups = self.warmups.lock().unwrap_or_else(|e| e.into_inner());
            Arc::clone(
                warmups
                    .entry(url.origin().ascii_serialization())
                    .or_default(),
            )
        };
        if warmup.claim_first() {
            return warmup.first(request).await;
        }
        warmup.wait().await;
        request.await
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

/// Read the whole body, refusing (without buffering more) once it passes `limit` bytes.
async fn read_limited(mut response: reqwest::Response, limit: usize) -> Result<Vec<u8>, HttpError> {
    if response
        .content_length()
        .is_some_and(|len| len > limit as u64)
    {
        return Err(HttpError::TooLarge);
    }
    let capacity = response
        .content_length()
        .unwrap_or(8 * 1024)
        .min(limit as u64) as usize;
    let mut body = Vec::with_capacity(capacity);
    let mid_response = |error| HttpError::Transport {
        error,
        when: "mid-response",
    };
    while let Some(chunk) = response.chunk().await.map_err(mid_response)? {
        if body.len() + chunk.len() > limit {
            return Err(HttpError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
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
