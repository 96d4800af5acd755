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
//!
//! Issue 19 adds, each at no cost to a source that does not use it:
//!
//! - **chains** (`chain`): a job's fallback sources are asked one after the other inside the
//!   job's own future, only after the one before failed, so a ticker's chain is one ticker's
//!   work under `--jobs` and never has two sources' requests in flight. Every source but the
//!   last of a chain gets ONE attempt: any failure, a 429 or a closed gate included, sends
//!   the ticker on at once (see `gate`); the last one gets the retry policy below, exactly
//!   as a source asked alone;
//! - **follow-ups** (`Source::follow`): requests decided by the answers, fetched and read in
//!   rounds, at most [`MAX_FOLLOW_UPS`];
//! - **per-source limits** (`limit`), **request headers** (`Source::headers`), **keys**
//!   attached on the wire only (`secret`), **spent quotas** (`Source::quota_spent`);
//! - **`-v`** (`verbose`): a line per attempt and per fallback.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::{BoxFuture, FutureExt, Shared, join_all};
use reqwest::Url;
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::calendar::{Horizon, instant_text};
use crate::chain::{self, Fallbacks, Link};
use crate::error::FetchError;
use crate::gate::{Admission, Gate, MAX_RETRY_AFTER, backoff};
use crate::history::Adjust;
use crate::http::{Http, HttpError, MAX_BODY, MAX_REDIRECTS, Response};
use crate::limit::{Limiter, Limiters};
use crate::progress::Progress;
use crate::quote::Quote;
use crate::secret::Keys;
use crate::source::{Answer, Parsed, Query, SentAs, Source, SourceSpec, Step, When};
use crate::text::excerpt;
use crate::verbose::{self, Log};

/// The most rounds of follow-up requests one source may ask for one query: Nasdaq needs two
/// (the third asset class); a source asking for more is stopped rather than looping.
pub const MAX_FOLLOW_UPS: usize = 3;

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
    /// `-v`: a line on stderr per HTTP attempt and per fallback.
    pub verbose: bool,
    /// The API keys of the run (issue 19), attached to requests on the wire only.
    pub keys: Keys,
}

/// One thing to fetch: what to ask, the source to ask, and the sources to ask after it.
#[derive(Clone)]
pub struct Job {
    pub source: Arc<dyn Source>,
    pub query: Query,
    /// Asked in order, each only when the one before failed (issue 19, `chain`); empty when
    /// the source is asked alone.
    pub fallbacks: Fallbacks,
}

impl Job {
    /// A job for one source, with no fallback.
    pub fn new(source: Arc<dyn Source>, query: Query) -> Job {
        Job {
            source,
            query,
            fallbacks: Fallbacks::default(),
        }
    }
}

/// What one job came to: its prices (one, or one per day of a range), or why not.
pub type Fetched = Result<Vec<Quote>, FetchError>;

/// What one job's answers came to, as its source read them and [`vet`] passed them: its
/// prices and the days they lack (see [`Parsed`]), or why not.
pub type Read = Result<Parsed, FetchError>;

/// A job's result and the source it came from: the one that answered, or the last one
/// asked when none did.
pub struct Outcome {
    pub result: Read,
    pub source: &'static str,
}

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
    /// The limits of the sources that declare some, for the whole run.
    limiters: Limiters,
    /// `-v`'s lines, when asked for.
    log: Option<Log>,
}

impl Fetcher {
    pub fn new(http: Http, settings: Settings) -> Fetcher {
        Fetcher {
            http,
            permits: Semaphore::new(settings.jobs.max(1)),
            log: settings.verbose.then_some(Log),
            settings,
            gates: Mutex::new(HashMap::new()),
            limiters: Limiters::new(),
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
        self.fetch_each(jobs, progress, stop)
            .await
            .into_iter()
            .map(|outcome| outcome.result)
            .collect()
    }

    /// [`Fetcher::fetch_all`], saying for each job which source its result came from.
    pub async fn fetch_each(
        &self,
        jobs: &[Job],
        progress: Option<&Progress>,
        stop: impl Future<Output = FetchError>,
    ) -> Vec<Outcome> {
        if let Some(p) = progress {
            p.set_total(jobs.len());
        }
        let requests = self.share_requests(jobs);
        let done: Vec<Mutex<Option<Outcome>>> = jobs.iter().map(|_| Mutex::new(None)).collect();
        let work = join_all(jobs.iter().zip(requests).zip(&done).map(
            |((job, requests), slot)| async move {
                let spec = job.source.spec();
                let outcome = if job.fallbacks.is_empty() && spec.key.is_none() {
                    // One source, no key to check: the chain is that source, asked as `ask`
                    // does but without its async layer (every ticker of a run without a
                    // chain takes this path, and it is benchmarked).
                    let (source, query) = (job.source.as_ref(), &job.query);
                    let answers = self.answers(source, requests, true).await;
                    Outcome {
                        result: self.read(source, query, answers, true).await,
                        source: spec.name,
                    }
                } else {
                    self.run_chain(job, requests).await
                };
                if let Some(p) = progress {
                    p.record(outcome.result.is_ok());
                }
                *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(outcome);
            },
        ));
        let stopped = tokio::select! {
            _ = work => None,
            reason = stop => Some(reason),
        };
        done.into_iter()
            .zip(jobs)
            .map(|(slot, job)| {
                let outcome = slot.into_inner().unwrap_or_else(|e| e.into_inner());
                outcome.unwrap_or_else(|| Outcome {
                    result: Err(stopped
                        .clone()
                        .unwrap_or_else(|| FetchError::Other("internal: no result".into()))),
                    source: job.source.spec().name,
                })
            })
            .collect()
    }

    /// A job's chain: its source, then each fallback while the one before failed (see
    /// `chain`). `first` are the requests of its first source, shared where other jobs
    /// need the same URL.
    async fn run_chain<'a>(&'a self, job: &'a Job, first: Vec<Request<'a>>) -> Outcome {
        let links = 1 + job.fallbacks.len();
        let mut first = Some(first);
        let mut failures: Vec<(&'static str, FetchError)> = Vec::new();
        for index in 0..links {
            let (source, query) = match index.checked_sub(1).map(|i| &job.fallbacks[i]) {
                None => (&job.source, std::borrow::Cow::Borrowed(&job.query)),
                Some(link) => (
                    &link.source,
                    std::borrow::Cow::Owned(Query {
                        ticker: link.ticker.clone(),
                        when: job.query.when,
                    }),
                ),
            };
            let source = source.as_ref();
            let last = index + 1 == links;
            let next = job.fallbacks.get(index).map_or("", Link::name);
            let name = source.spec().name;
            if let Some(key) = &source.spec().key
                && self.settings.keys.get(name).is_none()
            {
                if last {
                    failures.push((
                        name,
                        FetchError::MissingKey {
                            api: source.spec().display_name,
                            env: key.env,
                            signup: key.signup,
                        },
                    ));
                    break;
                }
                if let Some(log) = &self.log {
                    let why = format!("{} is not set", key.env);
                    log.skipped(query.ticker.as_str(), name, &why, next);
                }
                continue;
            }
            let requests = match first.take() {
                Some(requests) if index == 0 => requests,
                _ => source
                    .requests(&query)
                    .into_iter()
                    .map(Request::Own)
                    .collect(),
            };
            match self.ask(source, &query, requests, last).await {
                Ok(quotes) => {
                    return Outcome {
                        result: Ok(quotes),
                        source: name,
                    };
                }
                Err(error) => {
                    if let Some(log) = self.log.as_ref().filter(|_| !last) {
                        let why = chain::reason(&error);
                        log.fallback(query.ticker.as_str(), name, &why, next);
                    }
                    failures.push((name, error));
                }
            }
        }
        let source = failures
            .last()
            .map_or(job.source.spec().name, |(name, _)| name);
        Outcome {
            result: Err(chain::failed(failures)),
            source,
        }
    }

    /// Ask one source: its requests, then the follow-ups its answers call for, then its
    /// prices. `patient` when it is the last source of the chain (see the module docs).
    async fn ask<'a>(
        &'a self,
        source: &'a dyn Source,
        query: &Query,
        requests: Vec<Request<'a>>,
        patient: bool,
    ) -> Read {
        let answers = self.answers(source, requests, patient).await;
        self.read(source, query, answers, patient).await
    }

    /// The answers to `requests`, all at once. A plain function returning the joined
    /// future, so that a job awaiting it polls it directly (no async layer in between: it is
    /// polled on every wake-up of every ticker's future).
    fn answers<'a>(
        &'a self,
        source: &'a dyn Source,
        requests: Vec<Request<'a>>,
        patient: bool,
    ) -> impl Future<Output = Vec<Result<Arc<Answer>, FetchError>>> + 'a {
        join_all(requests.into_iter().map(move |request| async move {
            match request {
                Request::Own(url) => self.fetch_url(source, url, patient).await.map(Arc::new),
                Request::Shared(answer) => answer.await,
            }
        }))
    }

    /// Read the answers into the source's prices, fetching in rounds the follow-up
    /// requests it asks for (`Source::follow`), and [`vet`] them; names are dropped unless
    /// shown, or kept for the cache (`Plan` drops them once the cache has them).
    async fn read(
        &self,
        source: &dyn Source,
        query: &Query,
        answers: Vec<Result<Arc<Answer>, FetchError>>,
        patient: bool,
    ) -> Read {
        let mut answers = answers
            .into_iter()
            .collect::<Result<Vec<Arc<Answer>>, FetchError>>()?;
        for _ in 0..=MAX_FOLLOW_UPS {
            let read: Vec<&Answer> = answers.iter().map(Arc::as_ref).collect();
            let urls = match source.follow(query, &read)? {
                Step::Done(mut parsed) => {
                    vet(source.spec(), query.when, &mut parsed, Horizon::now())?;
                    // A close the cache may keep keeps its names until it is kept: what the
                    // cache serves later must show what a fetch shows (issue 18).
                    let cached = query.when.adjust() == Some(Adjust::None);
                    if !self.settings.keep_names && !cached {
                        parsed.quotes.iter_mut().for_each(Quote::forget_names);
                    }
                    return Ok(parsed);
                }
                Step::More(urls) => urls,
            };
            let more = urls
                .into_iter()
                .map(|url| async move { self.fetch_url(source, url, patient).await });
            for answer in join_all(more).await {
                answers.push(Arc::new(answer?));
            }
        }
        Err(FetchError::Other(format!(
            "internal: {} asked for more than {MAX_FOLLOW_UPS} rounds of requests",
            source.spec().display_name
        )))
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
                // Shared (an ECB currency several rates use): as patient as the first job
                // needing it, which is the last source of its chain unless it has fallbacks.
                let answer = shared.entry(url.clone()).or_insert_with(|| {
                    let (source, url) = (job.source.as_ref(), url.clone());
                    let patient = job.fallbacks.is_empty();
                    async move { self.fetch_url(source, url, patient).await.map(Arc::new) }
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
    /// shared gate; other transient failures back off per request. Not `patient` (a source
    /// with another after it in the chain): one attempt, and a closed gate is a failure.
    async fn fetch_url(
        &self,
        source: &dyn Source,
        url: Url,
        patient: bool,
    ) -> Result<Answer, FetchError> {
        let limiter = self.limiters.of(source.spec());
        // The source's own slot first, so waiting for it holds no `--jobs` permit.
        let _slot = match limiter {
            Some(limiter) => limiter.slot().await,
            None => None,
        };
        // Every job's future exists from the start and most of them wait here: the state of
        // retries and gates is built (boxed) only once the first permit is held.
        let first = self.acquire().await;
        let request = Attempts {
            source,
            url,
            limiter,
            patient,
        };
        Box::pin(self.fetch_url_holding(request, first)).await
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
        request: Attempts<'_>,
        first: SemaphorePermit<'s>,
    ) -> Result<Answer, FetchError> {
        let Attempts {
            source,
            url,
            limiter,
            patient,
        } = request;
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
                if let Some(limiter) = limiter {
                    limiter.turn().await;
                }
                match gate.admit() {
                    // Boxed: the attempt's state (the HTTP exchange) is the bulk of this
                    // future, and every job's future exists from the start, waiting for a
                    // permit; only the --jobs attempts in flight need that memory.
                    Admission::Go(ticket) => {
                        (ticket, Box::pin(self.attempt(source, &url, attempt)).await)
                    }
                    // Another source is next in the chain: it is asked now, not after the wait.
                    Admission::Wait(_) | Admission::WaitProbe(_) if !patient => {
                        return Err(FetchError::RateLimited {
                            api,
                            retry_after: None,
                        });
                    }
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
                    Admission::QuotaSpent(detail) => {
                        return Err(FetchError::QuotaSpent { api, detail });
                    }
                }
            };
            match result {
                Ok(answer) => {
                    gate.succeeded();
                    return Ok(answer);
                }
                Err(FetchError::QuotaSpent { api, detail }) => {
                    gate.spent(detail.clone());
                    return Err(FetchError::QuotaSpent { api, detail });
                }
                Err(FetchError::RateLimited { retry_after, .. }) => {
                    // The gate decides how long everyone waits, or that we give up.
                    gate.rate_limited(ticket, retry_after);
                    if !patient || attempt >= self.settings.retries {
                        return Err(FetchError::RateLimited { api, retry_after });
                    }
                    attempt += 1;
                }
                Err(err) => {
                    gate.not_limited();
                    if !patient || !err.is_transient() || attempt >= self.settings.retries {
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

    /// One attempt (`attempt` counts from 0), its outcome in the fetcher's terms: an answer
    /// for the source to read, or a failure the retry policy knows (429, 5xx, transport) or
    /// that ends the request. The source's key and headers go on the wire here, and only
    /// here; `-v` shows the attempt.
    async fn attempt(
        &self,
        source: &dyn Source,
        url: &Url,
        attempt: u32,
    ) -> Result<Answer, FetchError> {
        let spec = source.spec();
        let api = spec.display_name;
        let started = self.log.as_ref().map(|_| std::time::Instant::now());
        let headers = source.headers(url);
        let keyed = spec.key.as_ref().and_then(|_| self.with_key(source, url));
        let response = self
            .http
            .get(keyed.as_ref().unwrap_or(url), headers.as_ref())
            .await
            .map_err(|e| match e {
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
            });
        if let (Some(log), Some(started)) = (&self.log, started) {
            let outcome = match &response {
                Ok(r) => verbose::Outcome::Answer {
                    status: r.status,
                    version: r.version,
                    bytes: r.body.len(),
                    redirects: r.redirects,
                },
                Err(e) => verbose::Outcome::Failed(e),
            };
            log.attempt(spec, url, attempt + 1, started.elapsed(), outcome);
        }
        let mut response = response?;
        if response.status == 429 {
            let answer = Answer {
                status: 429,
                body: std::mem::take(&mut response.body),
            };
            if let Some(words) = source.quota_spent(&answer) {
                return Err(FetchError::QuotaSpent { api, detail: words });
            }
        }
        status_outcome(api, response)
    }

    /// `url` with the source's key attached as it declares (issue 19), when it has one; the
    /// key is in this URL only, which goes to `http` and nowhere else.
    fn with_key(&self, source: &dyn Source, url: &Url) -> Option<Url> {
        let key = source.spec().key.as_ref()?;
        let secret = self.settings.keys.get(source.spec().name)?;
        let mut keyed = url.clone();
        match key.sent_as {
            SentAs::Query(param) => {
                keyed.query_pairs_mut().append_pair(param, secret.expose());
            }
        }
        Some(keyed)
    }
}

/// One request and how it is made: to which source, within which limits, and whether it
/// may wait and retry (see [`Fetcher::fetch_url`]).
struct Attempts<'a> {
    source: &'a dyn Source,
    url: Url,
    limiter: Option<&'a Limiter>,
    patient: bool,
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
        ..
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
