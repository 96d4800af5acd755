//! Bound, retry, collect: every job of a round fetched concurrently over the one client.
//!
//! Each job (a source and a query) becomes one future; `join_all` drives them while a
//! semaphore keeps at most `--jobs` requests in flight; results come back by index, so
//! output order never depends on completion order. A job may need several requests (a long
//! range, a cross rate); a URL that several jobs need is fetched once and shared. A permit
//! is held only while a request is on the wire, never while waiting to retry, so a
//! backing-off request does not starve the others. 429s are handled per source by `gate`;
//! one request from start to finish (redirects, body limit, time limit, HTTP/2 warm-up) is
//! `http`'s business.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::{BoxFuture, FutureExt, Shared, join_all};
use reqwest::Url;
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::calendar::{Horizon, instant_text};
use crate::error::FetchError;
use crate::gate::{Admission, Gate, MAX_RETRY_AFTER, backoff};
use crate::history::Adjust;
use crate::http::{Http, HttpError, MAX_BODY, MAX_REDIRECTS, Response};
use crate::progress::Progress;
use crate::quote::Quote;
use crate::source::{Answer, Parsed, Query, Source, SourceSpec, When};
use crate::text::excerpt;

/// How fetching behaves; filled from the command line.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Requests in flight at once (`--jobs`, within the open-file limit).
    pub jobs: usize,
    /// Retries of a transient failure (`--retries`).
    pub retries: u32,
    /// The first retry's backoff (hidden `--backoff-base`).
    pub backoff_base: Duration,
    /// Whether names and exchanges are kept: only when the output shows them, so that 10,000
    /// long names cost nothing when nobody asked for them.
    pub keep_names: bool,
}

/// One thing to fetch: what to ask, and the source to ask.
#[derive(Clone)]
pub struct Job {
    pub source: Arc<dyn Source>,
    pub query: Query,
}

/// What one job came to: its prices (one, or one per day of a range), or why not.
pub type Fetched = Result<Vec<Quote>, FetchError>;

/// What one job's answers came to, as its source read them and [`vet`] passed them: its
/// prices and the days they lack (see [`Parsed`]), or why not.
pub type Read = Result<Parsed, FetchError>;

/// One request's answer as the jobs that need it share it.
type SharedAnswer<'a> = Shared<BoxFuture<'a, Result<Arc<Answer>, FetchError>>>;

/// A request one job makes: its own (the common case, fetched inline), or shared with the
/// other jobs that need the same URL (an ECB currency several rates use).
enum Request<'a> {
    Own(Url),
    Shared(SharedAnswer<'a>),
}

pub struct Fetcher {
    http: Http,
    permits: Semaphore,
    settings: Settings,
    /// One rate-limit gate per source, shared by all its requests.
    gates: Mutex<HashMap<&'static str, Arc<Gate>>>,
}

impl Fetcher {
    pub fn new(http: Http, settings: Settings) -> Fetcher {
        Fetcher {
            http,
            permits: Semaphore::new(settings.jobs.max(1)),
            settings,
            gates: Mutex::new(HashMap::new()),
        }
    }

    /// Whether names and exchanges are kept (an output shows them).
    pub fn keeps_names(&self) -> bool {
        self.settings.keep_names
    }

    /// Open every source's rate-limit gate: each round (each `--watch` round) starts afresh,
    /// so a source that rate-limited us a minute ago gets another chance. Within a round,
    /// every call of [`Fetcher::fetch_all`] shares the gates (the rates `--currency` fetches
    /// after the prices do not get a second budget of retries).
    pub fn open_gates(&self) {
        self.gates.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Fetch every job concurrently; the result at index `i` belongs to `jobs[i]`.
    ///
    /// If `stop` finishes first (a deadline, a signal), the fetch is abandoned: every
    /// result already in is kept, and each unfinished job gets the error `stop` gives.
    pub async fn fetch_all(
        &self,
        jobs: &[Job],
        progress: Option<&Progress>,
        stop: impl Future<Output = FetchError>,
    ) -> Vec<Read> {
        if let Some(p) = progress {
            p.set_total(jobs.len());
        }
        let horizon = Horizon::now();
        let requests = self.share_requests(jobs);
        let done: Vec<Mutex<Option<Read>>> = jobs.iter().map(|_| Mutex::new(None)).collect();
        let work = join_all(jobs.iter().zip(requests).zip(&done).map(
            |((job, requests), slot)| async move {
                let source = job.source.as_ref();
                let answers = requests.into_iter().map(|request| async move {
                    match request {
                        Request::Own(url) => self.fetch_url(source, url).await.map(Arc::new),
                        Request::Shared(answer) => answer.await,
                    }
                });
                let result = match join_all(answers)
                    .await
                    .into_iter()
                    .collect::<Result<Vec<Arc<Answer>>, FetchError>>()
                {
                    Ok(answers) => {
                        let answers: Vec<&Answer> = answers.iter().map(Arc::as_ref).collect();
                        job.source
                            .parse(&job.query, &answers)
                            .and_then(|mut parsed| {
                                vet(job.source.spec(), job.query.when, &mut parsed, horizon)?;
                                // A close the cache may keep keeps its names until it is
                                // kept (`Plan` drops them after): what the cache serves
                                // later must show what a fetch shows.
                                let cached = job.query.when.adjust() == Some(Adjust::None);
                                if !self.settings.keep_names && !cached {
                                    parsed.quotes.iter_mut().for_each(Quote::forget_names);
                                }
                                Ok(parsed)
                            })
                    }
                    Err(e) => Err(e),
                };
                if let Some(p) = progress {
                    p.record(result.is_ok());
                }
                *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
            },
        ));
        let stopped = tokio::select! {
            _ = work => None,
            reason = stop => Some(reason),
        };
        done.into_iter()
            .map(|slot| {
                let result = slot.into_inner().unwrap_or_else(|e| e.into_inner());
                result.unwrap_or_else(|| {
                    Err(stopped
                        .clone()
                        .unwrap_or_else(|| FetchError::Other("internal: no result".into())))
                })
            })
            .collect()
    }

    /// Each job's requests: a URL only one job needs is fetched by that job; a URL several
    /// need is one future they share. The map is dropped here, so an answer is freed as soon
    /// as the last job needing it is done.
    fn share_requests<'a>(&'a self, jobs: &'a [Job]) -> Vec<Vec<Request<'a>>> {
        let urls: Vec<Vec<Url>> = jobs
            .iter()
            .map(|job| job.source.requests(&job.query))
            .collect();
        let mut needed: HashMap<&Url, usize> = HashMap::with_capacity(urls.len());
        for url in urls.iter().flatten() {
            *needed.entry(url).or_default() += 1;
        }
        let mut shared: HashMap<Url, SharedAnswer<'a>> = HashMap::new();
        let mut requests = Vec::with_capacity(jobs.len());
        for (job, job_urls) in jobs.iter().zip(&urls) {
            let mut own = Vec::with_capacity(job_urls.len());
            for url in job_urls {
                if needed.get(url).copied().unwrap_or(1) == 1 {
                    own.push(Request::Own(url.clone()));
                    continue;
                }
                let answer = shared.entry(url.clone()).or_insert_with(|| {
                    let (source, url) = (job.source.as_ref(), url.clone());
                    async move { self.fetch_url(source, url).await.map(Arc::new) }
                        .boxed()
                        .shared()
                });
                own.push(Request::Shared(answer.clone()));
            }
            requests.push(own);
        }
        requests
    }

    fn gate(&self, source: &dyn Source) -> Arc<Gate> {
        let mut gates = self.gates.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(gates.entry(source.spec().name).or_insert_with(|| {
            Arc::new(Gate::new(self.settings.retries, self.settings.backoff_base))
        }))
    }

    /// One request, with retries for transient failures. 429s go through the source's
    /// shared gate; other transient failures back off per request.
    async fn fetch_url(&self, source: &dyn Source, url: Url) -> Result<Answer, FetchError> {
        // Every job's future exists from the start and most of them wait here: the state of
        // retries and gates is built (boxed) only once the first permit is held.
        let first = self.acquire().await;
        Box::pin(self.fetch_url_holding(source, url, first)).await
    }

    /// A permit; the semaphore is never closed, so acquire cannot fail.
    async fn acquire(&self) -> SemaphorePermit<'_> {
        self.permits
            .acquire()
            .await
            .expect("semaphore is never closed")
    }

    /// [`Fetcher::fetch_url`] from the first permit on.
    async fn fetch_url_holding<'s>(
        &'s self,
        source: &dyn Source,
        url: Url,
        first: SemaphorePermit<'s>,
    ) -> Result<Answer, FetchError> {
        let api = source.spec().display_name;
        let gate = self.gate(source);
        let mut attempt = 0;
        let mut first = Some(first);
        loop {
            let (ticket, result) = {
                let permit = match first.take() {
                    Some(permit) => permit,
                    None => self.acquire().await,
                };
                match gate.admit() {
                    // Boxed: the attempt's state (the HTTP exchange) is the bulk of this
                    // future, and every job's future exists from the start, waiting for a
                    // permit; only the --jobs attempts in flight need that memory.
                    Admission::Go(ticket) => (ticket, Box::pin(self.attempt(api, &url)).await),
                    Admission::Wait(until) => {
                        drop(permit);
                        Box::pin(tokio::time::sleep_until(until)).await;
                        continue;
                    }
                    Admission::WaitProbe(mut changed) => {
                        drop(permit);
                        let _ = Box::pin(changed.changed()).await;
                        continue;
                    }
                    Admission::RateLimited(retry_after) => {
                        return Err(FetchError::RateLimited { api, retry_after });
                    }
                }
            };
            match result {
                Ok(answer) => {
                    gate.succeeded();
                    return Ok(answer);
                }
                Err(FetchError::RateLimited { retry_after, .. }) => {
                    // The gate decides how long everyone waits, or that we give up.
                    gate.rate_limited(ticket, retry_after);
                    if attempt >= self.settings.retries {
                        return Err(FetchError::RateLimited { api, retry_after });
                    }
                    attempt += 1;
                }
                Err(err) => {
                    gate.not_limited();
                    if !err.is_transient() || attempt >= self.settings.retries {
                        return Err(err);
                    }
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
                    Box::pin(tokio::time::sleep(wait)).await;
                    attempt += 1;
                }
            }
        }
    }

    /// One attempt, its outcome in the fetcher's terms: an answer for the source to read,
    /// or a failure the retry policy knows (429, 5xx, transport) or that ends the request.
    async fn attempt(&self, api: &'static str, url: &Url) -> Result<Answer, FetchError> {
        let response = self.http.get(url).await.map_err(|e| match e {
            HttpError::Transport { error, when } => {
                FetchError::from_transport(&error, api, when, self.http.timeout())
            }
            HttpError::TooLarge => FetchError::TooLarge {
                api,
                limit: MAX_BODY,
            },
            HttpError::Timeout => FetchError::Timeout {
                api,
                after: self.http.timeout(),
            },
        })?;
        status_outcome(api, response)
    }
}

/// The one check every quote passes once its source has read it, whatever the source, so
/// that a source added later has it too (issue 18: values no market produces). A time or a
/// day more than a day ahead of this machine's clock is a malformed answer. A price of 0 is
/// no price; in a range, a day whose close is 0 is a gap, like a `null` close: left out,
/// never cached as a day without trading, and named on stderr. Checks what only a source
/// can see (a split ratio, a rate's row) stay with the source. Allocates nothing unless it
/// finds a 0: it runs over every close of a 30-year history.
pub fn vet(
    spec: &'static SourceSpec,
    when: When,
    parsed: &mut Parsed,
    horizon: Horizon,
) -> Result<(), FetchError> {
    let mut zero = false;
    for quote in &parsed.quotes {
        if let Some(time) = quote.time.filter(|t| !horizon.allows_time(*t)) {
            return Err(spec.malformed(format!(
                "a price stamped {} is in the future",
                instant_text(time)
            )));
        }
        if let Some(day) = quote.market_date.filter(|d| !horizon.allows_day(*d)) {
            return Err(spec.malformed(format!("a price dated {day} is in the future")));
        }
        zero |= quote.price.is_zero();
    }
    if !zero {
        return Ok(());
    }
    if !matches!(when, When::Range(_)) {
        return Err(spec.no_price("the price is 0".into()));
    }
    parsed.gaps.extend(
        parsed
            .quotes
            .iter()
            .filter(|q| q.price.is_zero())
            .filter_map(|q| q.market_date),
    );
    parsed.gaps.sort_unstable();
    parsed.gaps.dedup();
    parsed.quotes.retain(|q| !q.price.is_zero());
    Ok(())
}

/// What a final status means before any source reads the body: 429 and the 5xx worth
/// retrying are the fetcher's; a redirect `http` did not follow is reported with where it
/// pointed; every other answer goes to the source.
fn status_outcome(api: &'static str, response: Response) -> Result<Answer, FetchError> {
    let Response {
        status,
        retry_after,
        location,
        body,
        redirects,
    } = response;
    let shown = |location: &str| excerpt(location.as_bytes());
    match (status, location) {
        (429, _) => Err(FetchError::RateLimited { api, retry_after }),
        (500 | 502 | 503 | 504, _) => Err(FetchError::ServerError {
            api,
            status,
            retry_after,
        }),
        (301 | 302 | 303 | 307 | 308, Some(location)) if redirects == MAX_REDIRECTS => {
            Err(FetchError::TooManyRedirects {
                api,
                limit: MAX_REDIRECTS,
                location: shown(&location),
            })
        }
        // A redirect `http` refused: it left the request's origin.
        (301 | 302 | 303 | 307 | 308, Some(location)) => Err(FetchError::Redirected {
            api,
            status,
            location: shown(&location),
        }),
        (304, _) => Err(FetchError::Http {
            api,
            status,
            detail: "not modified, though quotes asked for nothing to be revalidated".into(),
        }),
        (300..=399, location) => Err(FetchError::Http {
            api,
            status,
            detail: match location {
                Some(location) => format!(
                    "a redirect to {} that quotes does not follow",
                    shown(&location)
                ),
                None => "a redirect status with no Location header".into(),
            },
        }),
        _ => Ok(Answer { status, body }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Adjust, Interval, Range};

    fn close(day: &str, price: &str) -> Quote {
        let day: jiff::civil::Date = day.parse().unwrap();
        Quote {
            price: crate::quote::parse_price(price).unwrap(),
            market_date: Some(day),
            time: Some(crate::calendar::midnight_utc(day) + 50_000),
            ..Quote::default()
        }
    }

    fn range() -> When {
        let day = |d: &str| d.parse().unwrap();
        When::Range(
            Range::new(
                day("2021-01-01"),
                day("2021-01-08"),
                Interval::Day,
                Adjust::None,
            )
            .unwrap(),
        )
    }

    const SPEC: &SourceSpec = &crate::source::coinbase::SPEC;

    /// 2021-01-10T00:00:00Z.
    const NOW: i64 = 1_610_236_800;

    #[test]
    fn a_zero_is_no_price_and_in_a_range_a_gap() {
        let horizon = Horizon::at(NOW);
        let mut parsed = Parsed::from(vec![close("2021-01-04", "0")]);
        let err = vet(SPEC, When::Latest, &mut parsed, horizon).unwrap_err();
        assert_eq!(err, SPEC.no_price("the price is 0".into()));
        let mut parsed = Parsed {
            quotes: vec![
                close("2021-01-04", "1.5"),
                close("2021-01-05", "0.000"),
                close("2021-01-06", "-2"),
            ],
            gaps: vec!["2021-01-07".parse().unwrap()],
        };
        vet(SPEC, range(), &mut parsed, horizon).unwrap();
        let days: Vec<String> = parsed.gaps.iter().map(|d| d.to_string()).collect();
        assert_eq!(days, ["2021-01-05", "2021-01-07"]);
        assert_eq!(parsed.quotes.len(), 2, "negative prices stay (futures)");
    }

    #[test]
    fn a_time_or_day_more_than_a_day_ahead_is_malformed() {
        let horizon = Horizon::at(NOW);
        let mut ok = Parsed::from(vec![close("2021-01-10", "1")]);
        assert_eq!(vet(SPEC, range(), &mut ok, horizon), Ok(()));
        let mut soon = Parsed::from(vec![close("2021-01-12", "1")]);
        let err = vet(SPEC, When::Latest, &mut soon, horizon).unwrap_err();
        assert_eq!(err.kind(), "malformed_response");
        let mut stamped = close("2021-01-04", "1");
        stamped.time = Some(32_503_680_000);
        let err = vet(SPEC, range(), &mut Parsed::from(vec![stamped]), horizon).unwrap_err();
        assert_eq!(
            err,
            SPEC.malformed("a price stamped 3000-01-01T00:00:00Z is in the future".into())
        );
        let mut dated = close("2021-01-04", "1");
        dated.market_date = Some("2999-01-01".parse().unwrap());
        let err = vet(SPEC, range(), &mut Parsed::from(vec![dated]), horizon).unwrap_err();
        assert_eq!(
            err,
            SPEC.malformed("a price dated 2999-01-01 is in the future".into())
        );
    }
}
