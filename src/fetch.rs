//! Bound, retry, collect: every job of a round fetched concurrently over the one client.
//!
//! Each job (a source and a query) becomes one future ([`Fetcher::fetch_one`]); a round
//! drives them in input order under its window (`round`), [`Fetcher::fetch_all`] all at
//! once with `join_all` (the rates `--currency` needs); a semaphore keeps at most `--jobs`
//! requests in flight either way, and results come back by index, so output order never
//! depends on completion order. A job may need several requests (a long range, a cross
//! rate); a URL that several jobs need is fetched once and shared ([`Requests`]). A permit
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
//!   attached on the wire only (`secret`), **spent quotas** told by any answer
//!   (`Source::quota_spent`: a 429's words, an Alpha Vantage 200);
//! - **answers kept for days** (`Source::keep`, `kept`): a follow-up answered from the cache
//!   directory, kept once its query was read into prices, asked again when unreadable;
//! - **sessions** (`Source::session`, `session`): when an answer asks for one (Yahoo's 401
//!   "Invalid Crumb"), one cookie and token for the run, the request asked again once with
//!   them; a request waiting for it holds no permit, and nothing of it runs until asked;
//! - **`-v`** (`verbose`): a line per attempt and per fallback.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::{BoxFuture, FutureExt, Shared, join_all};
use reqwest::Url;
use reqwest::header::{COOKIE, HeaderMap, HeaderValue};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::calendar::{Horizon, instant_text};
use crate::chain::{self, Fallbacks, Link};
use crate::error::FetchError;
use crate::gate::{Admission, Gate, MAX_RETRY_AFTER, backoff};
use crate::history::Adjust;
use crate::http::{Http, HttpError, MAX_BODY, MAX_REDIRECTS, Response};
use crate::kept::Kept;
use crate::limit::{Limiter, Limiters};
use crate::quote::Quote;
use crate::secret::Keys;
use crate::session::{self, Credentials, Sessions};
use crate::source::{Answer, Parsed, Query, SentAs, Session, Source, SourceSpec, Step, When};
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
    /// Whether `-j` was given: then it lifts a source's own concurrency cap (`limit`).
    pub jobs_given: bool,
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
    /// The cache directory (`None` with `--no-cache`): where answers that hold for days and
    /// sessions are kept (`kept`).
    pub cache_dir: Option<std::path::PathBuf>,
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
pub enum Request<'a> {
    Own(Url),
    Shared(SharedAnswer<'a>),
}

impl Request<'_> {
    /// Requests of one job that no other job shares.
    pub fn own<'b>(urls: Vec<Url>) -> Vec<Request<'b>> {
        urls.into_iter().map(Request::Own).collect()
    }
}

impl Job {
    /// The URLs this job's (first) source asks.
    pub fn urls(&self) -> Vec<Url> {
        self.source.requests(&self.query)
    }
}

/// The requests of a round's jobs, planned before the first is sent: a URL only one job
/// needs is that job's own; a URL several need is one future they share, made when the
/// first of them takes it, and let go when the last has, so that its answer is freed as
/// soon as the last job needing it is done with it.
pub struct Requests<'a> {
    fetcher: &'a Fetcher,
    jobs: &'a [Job],
    /// Each job's URLs, until it takes them.
    urls: Vec<Vec<Url>>,
    /// The URLs several jobs need, and how many of those jobs have not taken theirs yet.
    waiting: HashMap<Url, usize>,
    shared: HashMap<Url, SharedAnswer<'a>>,
}

impl<'a> Requests<'a> {
    /// `urls[i]` are what `jobs[i]` will ask.
    pub fn new(fetcher: &'a Fetcher, jobs: &'a [Job], urls: Vec<Vec<Url>>) -> Requests<'a> {
        let mut needed: HashMap<&Url, usize> = HashMap::with_capacity(urls.len());
        for url in urls.iter().flatten() {
            *needed.entry(url).or_default() += 1;
        }
        let waiting = needed
            .into_iter()
            .filter(|(_, n)| *n > 1)
            .map(|(url, n)| (url.clone(), n))
            .collect();
        Requests {
            fetcher,
            jobs,
            urls,
            waiting,
            shared: HashMap::new(),
        }
    }

    /// Job `i`'s requests. Shared ones are as patient as the first job that takes them,
    /// which is the last source of its chain unless it has fallbacks. A job that does not
    /// send them after all (the cache answered it) just drops them: a shared request that
    /// nobody polls is never sent.
    pub fn take(&mut self, i: usize) -> Vec<Request<'a>> {
        let urls = self.urls.get_mut(i).map(std::mem::take).unwrap_or_default();
        if self.waiting.is_empty() {
            return Request::own(urls);
        }
        let mut requests = Vec::with_capacity(urls.len());
        for url in urls {
            let Some(left) = self.waiting.get_mut(&url) else {
                requests.push(Request::Own(url));
                continue;
            };
            *left -= 1;
            let answer = match self.shared.get(&url) {
                Some(answer) => answer.clone(),
                None => {
                    let Some(job) = self.jobs.get(i) else {
                        continue;
                    };
                    let (fetcher, source, patient) =
                        (self.fetcher, job.source.as_ref(), job.fallbacks.is_empty());
                    let fetching = {
                        let url = url.clone();
                        async move { fetcher.fetch_url(source, url, patient).await.map(Arc::new) }
                    };
                    let answer = fetching.boxed().shared();
                    self.shared.insert(url.clone(), answer.clone());
                    answer
                }
            };
            if *left == 0 {
                self.waiting.remove(&url);
                self.shared.remove(&url);
            }
            requests.push(Request::Shared(answer));
        }
        requests
    }
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
    /// Answers that hold for days, kept in the cache directory (`Source::keep`).
    kept: Option<Kept>,
    /// The sessions APIs asked for (`Source::session`: Yahoo's cookie and crumb).
    sessions: Sessions,
}

impl Fetcher {
    pub fn new(http: Http, settings: Settings) -> Fetcher {
        let kept = settings.cache_dir.clone().map(Kept::new);
        Fetcher {
            http,
            permits: Semaphore::new(settings.jobs.max(1)),
            log: settings.verbose.then_some(Log),
            limiters: Limiters::new(settings.jobs_given),
            sessions: Sessions::new(kept.clone()),
            kept,
            settings,
            gates: Mutex::new(HashMap::new()),
        }
    }

    /// Whether names and exchanges are kept (an output shows them).
    pub fn keeps_names(&self) -> bool {
        self.settings.keep_names
    }

    /// Requests in flight at once (`--jobs`).
    pub fn jobs(&self) -> usize {
        self.settings.jobs.max(1)
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
        stop: impl Future<Output = FetchError>,
    ) -> Vec<Read> {
        let mut requests = Requests::new(self, jobs, jobs.iter().map(Job::urls).collect());
        let done: Vec<Mutex<Option<Read>>> = jobs.iter().map(|_| Mutex::new(None)).collect();
        let work = join_all(jobs.iter().enumerate().zip(&done).map(|((i, job), slot)| {
            let requests = requests.take(i);
            async move {
                let outcome = self.fetch_one(job, requests).await;
                *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(outcome.result);
            }
        }));
        let stopped = tokio::select! {
            _ = work => None,
            reason = stop => Some(reason),
        };
        done.into_iter()
            .map(|slot| {
                let read = slot.into_inner().unwrap_or_else(|e| e.into_inner());
                read.unwrap_or_else(|| {
                    Err(stopped
                        .clone()
                        .unwrap_or_else(|| FetchError::Other("internal: no result".into())))
                })
            })
            .collect()
    }

    /// Fetch one job with its `requests` (see [`Requests`]): its source, or its chain.
    pub async fn fetch_one<'a>(&'a self, job: &'a Job, requests: Vec<Request<'a>>) -> Outcome {
        let spec = job.source.spec();
        if job.fallbacks.is_empty() && spec.key.is_none() {
            // One source, no key to check: the chain is that source, asked as `ask` does
            // but without its async layer (every ticker of a run without a chain takes this
            // path, and it is benchmarked).
            let (source, query) = (job.source.as_ref(), &job.query);
            let answers = self.answers(source, requests, true).await;
            Outcome {
                result: self.read(source, query, answers, true).await,
                source: spec.name,
            }
        } else {
            self.run_chain(job, requests).await
        }
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
    ///
    /// A follow-up whose answer holds for days (`Source::keep`) is answered from the cache
    /// directory when it was kept there; fetched, it is kept once the source has read every
    /// answer into prices (never an error it could not read). One read from the cache that
    /// the source cannot read (an edited file, a format that changed) is forgotten and asked
    /// of the network again, once.
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
        // The follow-ups the source keeps, by their index in `answers` (none for most).
        let mut kept: Vec<KeptAnswer> = Vec::new();
        let mut rounds = 0;
        loop {
            let read: Vec<&Answer> = answers.iter().map(Arc::as_ref).collect();
            let step = source.follow(query, &read).and_then(|step| match step {
                Step::Done(mut parsed) => {
                    vet(source.spec(), query.when, &mut parsed, Horizon::now())?;
                    Ok(Step::Done(parsed))
                }
                more => Ok(more),
            });
            let urls = match step {
                Ok(Step::Done(mut parsed)) => {
                    if !kept.is_empty() {
                        Box::pin(self.keep_answers(&kept, &answers)).await;
                    }
                    // A close the cache may keep keeps its names until it is kept: what the
                    // cache serves later must show what a fetch shows (issue 18).
                    let cached = query.when.adjust() == Some(Adjust::None);
                    if !self.settings.keep_names && !cached {
                        parsed.quotes.iter_mut().for_each(Quote::forget_names);
                    }
                    return Ok(parsed);
                }
                Ok(Step::More(urls)) if rounds < MAX_FOLLOW_UPS => urls,
                Ok(Step::More(_)) => {
                    return Err(FetchError::Other(format!(
                        "internal: {} asked for more than {MAX_FOLLOW_UPS} rounds of requests",
                        source.spec().display_name
                    )));
                }
                Err(error) => {
                    let again = !kept.is_empty()
                        && Box::pin(self.ask_kept_again(source, &mut kept, &mut answers, patient))
                            .await?;
                    if again {
                        continue;
                    }
                    return Err(error);
                }
            };
            rounds += 1;
            let more = urls
                .into_iter()
                .map(|url| async move { self.follow_up(source, url, patient).await });
            for answer in join_all(more).await {
                let (answer, from) = answer?;
                if let Some((url, from_cache)) = from {
                    kept.push(KeptAnswer {
                        index: answers.len(),
                        url,
                        from_cache,
                    });
                }
                answers.push(answer);
            }
        }
    }

    /// One follow-up request's answer; for one the source keeps, also its URL and whether the
    /// answer came from the cache directory.
    async fn follow_up(
        &self,
        source: &dyn Source,
        url: Url,
        patient: bool,
    ) -> Result<(Arc<Answer>, Option<(Url, bool)>), FetchError> {
        let (Some(store), Some(fresh)) = (&self.kept, source.keep(&url)) else {
            let answer = self.fetch_url(source, url, patient).await?;
            return Ok((Arc::new(answer), None));
        };
        if let Some(answer) = store.answer(&url, fresh).await {
            if let Some(log) = &self.log {
                log.kept(source.spec(), &url);
            }
            return Ok((Arc::new(answer), Some((url, true))));
        }
        let answer = self.fetch_url(source, url.clone(), patient).await?;
        Ok((Arc::new(answer), Some((url, false))))
    }

    /// Keep the follow-ups fetched (not read from the cache) that the source keeps.
    async fn keep_answers(&self, kept: &[KeptAnswer], answers: &[Arc<Answer>]) {
        let Some(store) = &self.kept else {
            return;
        };
        for fetched in kept.iter().filter(|k| !k.from_cache) {
            if let Some(answer) = answers.get(fetched.index) {
                store.keep_answer(&fetched.url, answer).await;
            }
        }
    }

    /// Forget every answer read from the cache directory and ask the network for it instead;
    /// `false` when none was (the source's error is the query's).
    async fn ask_kept_again(
        &self,
        source: &dyn Source,
        kept: &mut [KeptAnswer],
        answers: &mut [Arc<Answer>],
        patient: bool,
    ) -> Result<bool, FetchError> {
        let Some(store) = &self.kept else {
            return Ok(false);
        };
        let mut asked = false;
        for stale in kept.iter_mut().filter(|k| k.from_cache) {
            store.forget_answer(&stale.url).await;
            let answer = self.fetch_url(source, stale.url.clone(), patient).await?;
            if let Some(slot) = answers.get_mut(stale.index) {
                *slot = Arc::new(answer);
            }
            stale.from_cache = false;
            asked = true;
        }
        Ok(asked)
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
            // `carried`: the session the attempt carried (`Source::session`), if any.
            let (ticket, result, carried) = {
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
                        let carried = self.sessions.current(source.spec().name);
                        let attempt = self.attempt(source, &url, attempt, carried.as_ref());
                        (ticket, Box::pin(attempt).await, carried)
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
                    // An answer asking for a session: asked again with one (not a retry).
                    // Boxed: a rare path, kept out of every request's future.
                    if let Some(session) = source.session().filter(|s| (s.wanted)(&answer))
                        && Box::pin(self.renew_session(source, session, carried.as_ref())).await?
                    {
                        continue;
                    }
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
    /// that ends the request. The source's key, its headers and the session it carries go on
    /// the wire here, and only here; `-v` shows the attempt.
    async fn attempt(
        &self,
        source: &dyn Source,
        url: &Url,
        attempt: u32,
        session: Option<&Arc<Credentials>>,
    ) -> Result<Answer, FetchError> {
        let spec = source.spec();
        let api = spec.display_name;
        let mut headers = source.headers(url);
        let mut wire = spec.key.as_ref().and_then(|_| self.with_key(source, url));
        let carried = session.and_then(|c| Some((c, source.session()?)));
        if let Some((credentials, session)) = carried {
            let mut sent = wire.unwrap_or_else(|| url.clone());
            sent.query_pairs_mut()
                .append_pair(session.param, &credentials.token);
            wire = Some(sent);
            headers
                .get_or_insert_with(HeaderMap::new)
                .insert(COOKIE, credentials.cookie.clone());
        }
        let started = self.log.as_ref().map(|_| std::time::Instant::now());
        let response = self
            .http
            .get(wire.as_ref().unwrap_or(url), headers.as_ref())
            .await
            .map_err(|e| self.http_error(api, e));
        if let Some(started) = started {
            let shown = verbose::shown_url(spec, url, carried.map(|(_, s)| s.param));
            self.log_exchange(spec, &shown, attempt, started, &response);
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
        let answer = status_outcome(api, response)?;
        // A spent quota told in an answer that is no 429 (Alpha Vantage's 200 `Information`).
        if let Some(words) = source.quota_spent(&answer) {
            return Err(FetchError::QuotaSpent { api, detail: words });
        }
        Ok(answer)
    }

    /// `http`'s failure in the fetcher's terms.
    fn http_error(&self, api: &'static str, error: HttpError) -> FetchError {
        match error {
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
        }
    }

    /// `-v`'s line for one exchange begun at `started` with `spec`'s server, its URL `shown`
    /// (without key or token).
    fn log_exchange(
        &self,
        spec: &SourceSpec,
        shown: &str,
        attempt: u32,
        started: std::time::Instant,
        response: &Result<Response, FetchError>,
    ) {
        let Some(log) = &self.log else {
            return;
        };
        let outcome = match response {
            Ok(r) => verbose::Outcome::Answer {
                status: r.status,
                version: r.version,
                bytes: r.body.len(),
                redirects: r.redirects,
            },
            Err(e) => verbose::Outcome::Failed(e),
        };
        log.attempt(spec, shown, attempt + 1, started.elapsed(), outcome);
    }

    /// One request of a session (its cookie, its token): `http`'s answer whatever the
    /// status, its cookies collected, shown by `-v` as sent (it carries no key or token).
    async fn session_request(
        &self,
        source: &dyn Source,
        url: &Url,
        headers: Option<&HeaderMap>,
    ) -> Result<Response, FetchError> {
        let spec = source.spec();
        let started = std::time::Instant::now();
        let response = self
            .http
            .get_with_cookies(url, headers)
            .await
            .map_err(|e| self.http_error(spec.display_name, e));
        self.log_exchange(spec, url.as_str(), 0, started, &response);
        response
    }

    /// After an answer asked for `session` (its request carried `carried`, or none): whether
    /// a session is at hand to ask again with (`true`), or nothing better than `carried` to
    /// try (`false`: the answer is the request's, for its source to read; see `session`).
    /// Getting a session failed: that failure, the request's.
    async fn renew_session(
        &self,
        source: &dyn Source,
        session: &Session,
        carried: Option<&Arc<Credentials>>,
    ) -> Result<bool, FetchError> {
        let renewed = self
            .sessions
            .renew(source.spec().name, session, carried, || {
                self.open_session(source, session)
            })
            .await?;
        Ok(renewed.is_some())
    }

    /// A new session from `source`'s servers: its cookie, then its token asked with that
    /// cookie (once each: this is the run's one try).
    async fn open_session(
        &self,
        source: &dyn Source,
        session: &Session,
    ) -> Result<Credentials, FetchError> {
        let api = source.spec().display_name;
        let failed = |cause: FetchError| FetchError::NoSession {
            api,
            cause: Box::new(cause),
        };
        let set = self
            .session_request(source, &session.cookie, None)
            .await
            .map_err(failed)?;
        let cookie = session::cookie_header(&set.cookies).ok_or_else(|| {
            failed(FetchError::Malformed {
                api,
                detail: format!(
                    "{} set no cookie (HTTP {})",
                    crate::text::clip(session.cookie.as_str(), 80),
                    set.status
                ),
            })
        })?;
        let unsendable = || {
            failed(FetchError::Malformed {
                api,
                detail: "its cookie cannot be sent back (not a header's text, or too long)".into(),
            })
        };
        let header = HeaderValue::from_str(&cookie).map_err(|_| unsendable())?;
        let headers = HeaderMap::from_iter([(COOKIE, header)]);
        let token = self
            .session_request(source, &session.token, Some(&headers))
            .await
            .map_err(failed)?;
        let token = (session.read_token)(&Answer {
            status: token.status,
            body: token.body,
        })
        .map_err(failed)?;
        session::credentials(&cookie, token, true).ok_or_else(unsendable)
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

/// A follow-up whose answer its source keeps (`Source::keep`): where the answer is in the
/// query's answers, its URL, and whether it came from the cache directory.
struct KeptAnswer {
    index: usize,
    url: Url,
    from_cache: bool,
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
