//! A round: every job of a plan fetched once, and every input given its turn, in input
//! order, as soon as it can have it (issue 20). Memory is bounded by the work in flight,
//! never by the number of tickers or rows.
//!
//! How the parts fit, in the order a ticker's prices go through them:
//!
//! 1. **The window** ([`window`]): jobs start in input order, at most `--jobs` unfinished
//!    at once (the ordered form of the design's `join_all`), and each job's result waits
//!    there until every job before it has had its turn. Finished results waiting for a
//!    slower one before them are held up to [`HELD`] bytes; past that no job starts until
//!    the slow one is in, so one stalled ticker delays the others without holding the rest
//!    of a long list in memory. (A window of `--jobs` results in all, in flight or
//!    finished, would let one stalled ticker stop every other: a 10,000-ticker list with
//!    1% of stalls would take minutes instead of seconds. Latest prices are small, so in
//!    practice they never wait; a history of 30 years is a couple of MB, so a handful do.)
//! 2. **A job** ([`job`]): the cache is asked for it when its turn to start comes, the days
//!    it lacks are fetched (`fetch`), what came back is kept in the cache, minor units are
//!    normalised and the range's interval applied.
//! 3. **The turns**: each input, in order, gets its job's prices ([`Turn`]) and hands them
//!    to the [`Sink`]: the output stream (`output`), the collector of `--update`, or a
//!    `--watch` round. A job asked for by several inputs is set aside ([`spill`]) from its
//!    first turn to its last. Then the job's result is dropped.
//! 4. **With `--currency`** the rates are fetched after every price is in, as before, so
//!    the prices wait: each job's prices are set aside compactly as they come (and in a
//!    temporary file past a budget, [`spill`]) while the rates they need are gathered;
//!    then the rates are fetched, and each input's prices are read back, converted and
//!    handed on in order. The requests, their order and the output are what they were.
//!
//! **Stopping.** A deadline or a signal stops the fetch: the jobs in flight are dropped
//! (the cache's work interrupted), every input whose job had finished still gets its turn,
//! and every other one gets the stop's error in its place. After a signal, what is left to
//! write gets a moment ([`Stops`]); a second signal ends the run at once, and so does a
//! signal once nothing is left to fetch. Once every job is in, the deadline no longer
//! matters: what arrived is written whatever the clock says, as it always was.

mod job;
pub mod sinks;
mod window;

use std::collections::HashMap;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use futures::stream::{FuturesUnordered, StreamExt};

use crate::cache::{Ask, Cache};
use crate::error::FetchError;
use crate::exit::{Signals, Stop};
use crate::fetch::{Fetched, Fetcher, Job, Requests};
use crate::plan::{Plan, Turn};
use crate::progress::Progress;
use crate::quote::Quote;
use crate::spill::{Id, Spill};

use window::Window;

/// About how many bytes a price takes in memory: a `Quote` and its currency's text.
const PRICE_BYTES: usize = std::mem::size_of::<Quote>() + 32;

/// Bytes of prices set aside that stay in memory ([`spill`]); beyond it they go to a
/// temporary file. Set-aside prices are encoded (about a dozen bytes a close), so this is
/// about a million closes.
const SPILL_BUDGET: usize = 16 << 20;

/// Rendered bytes a sink may hold before the round stops handing it turns until they are
/// written.
const FLUSH_AT: usize = 256 << 10;

/// Where the turns go: the output stream, `--update`'s collector, a `--watch` round.
pub(crate) trait Sink {
    /// An input's turn, in input order.
    fn turn(&mut self, plan: &Plan, turn: Turn<'_>);

    /// A line for stderr, in order with the turns (a range's missing closes).
    fn warn(&mut self, text: String);

    /// Bytes waiting to be written.
    fn pending(&self) -> usize {
        0
    }

    /// Write some of what is waiting, waiting while the output is behind. Cancel-safe:
    /// dropped before it is done, nothing is lost.
    async fn flush(&mut self) {}
}

/// What stops a round: the deadline and the signals (see the module docs).
pub struct Stops<'s> {
    signals: &'s mut Signals,
    deadline: Option<(Duration, Pin<Box<tokio::time::Sleep>>)>,
    /// The first stop, which ended the fetch.
    stopped: Option<Stop>,
    /// After a signal: how long what arrived may take to be written.
    grace: Option<Pin<Box<tokio::time::Sleep>>>,
}

/// How long what arrived may take to be written once a signal stopped the fetch.
const SIGNALLED_WRITE_GRACE: Duration = Duration::from_secs(1);

/// What [`Stops::next`] came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Stop fetching; write what arrived.
    StopFetching(Stop),
    /// End the run now.
    EndNow(Stop),
}

impl<'s> Stops<'s> {
    /// `deadline` counted from `started`, the start of the run.
    pub fn new(
        signals: &'s mut Signals,
        started: tokio::time::Instant,
        deadline: Option<Duration>,
    ) -> Stops<'s> {
        Stops {
            signals,
            deadline: deadline
                .map(|after| (after, Box::pin(tokio::time::sleep_until(started + after)))),
            stopped: None,
            grace: None,
        }
    }

    /// The stop that ended the fetch, if one did.
    pub fn stopped(&self) -> Option<Stop> {
        self.stopped
    }

    /// The next reason to stop. While `fetching`, the deadline or a signal stops the fetch;
    /// after that, or once nothing is left to fetch, a signal ends the run (and so does the
    /// end of the grace after a signal).
    pub async fn next(&mut self, fetching: bool) -> Event {
        if fetching && self.stopped.is_none() {
            let expired = async {
                match &mut self.deadline {
                    Some((after, sleep)) => {
                        sleep.as_mut().await;
                        Stop::Deadline(*after)
                    }
                    None => std::future::pending().await,
                }
            };
            let stop = tokio::select! {
                stop = expired => stop,
                stop = self.signals.next() => stop,
            };
            self.stopped = Some(stop);
            if !matches!(stop, Stop::Deadline(_)) {
                self.grace = Some(Box::pin(tokio::time::sleep(SIGNALLED_WRITE_GRACE)));
            }
            return Event::StopFetching(stop);
        }
        let grace = async {
            match (&mut self.grace, self.stopped) {
                (Some(sleep), Some(stop)) => {
                    sleep.as_mut().await;
                    stop
                }
                _ => std::future::pending().await,
            }
        };
        tokio::select! {
            stop = grace => Event::EndNow(stop),
            stop = self.signals.next() => Event::EndNow(stop),
        }
    }

    /// `work` (writing what is left), unless the run must end first; `Err` says why.
    pub async fn unless_ended<F: std::future::Future>(
        &mut self,
        work: F,
    ) -> Result<F::Output, Stop> {
        tokio::pin!(work);
        loop {
            tokio::select! {
                done = &mut work => return Ok(done),
                event = self.next(false) => match event {
                    Event::EndNow(stop) => return Err(stop),
                    Event::StopFetching(_) => {}
                },
            }
        }
    }
}

/// One round of a plan.
pub struct Round<'r> {
    pub plan: &'r Plan,
    pub fetcher: &'r Fetcher,
    /// Where the cache of past closes is (`None`: `--no-cache`); opened only when a job
    /// may use it.
    pub cache_dir: Option<&'r Path>,
    pub progress: Option<&'r Progress>,
}

/// A job's result as the inputs after its first one find it: set aside, or its error.
type Kept = (Result<Id, FetchError>, &'static str);

impl<'r> Round<'r> {
    /// Fetch every job and hand every input its turn, in input order, to `sink`. `Err` is
    /// a stop that ends the run at once (the turns not given yet are lost).
    pub(crate) async fn run<S: Sink>(
        &self,
        sink: &mut S,
        stops: &mut Stops<'_>,
    ) -> Result<(), Stop> {
        // Each round starts with open rate-limit gates (one set for its prices and rates).
        self.fetcher.open_gates();
        let jobs = self.plan.jobs();
        if let Some(progress) = self.progress {
            progress.set_total(jobs.len());
        }
        let cache = match self.cache_dir {
            Some(dir) if self.plan.wants_cache() => {
                tokio::select! {
                    cache = Cache::open(dir) => cache,
                    event = stops.next(true) => match event {
                        Event::EndNow(stop) => return Err(stop),
                        Event::StopFetching(_) => None,
                    },
                }
            }
            _ => None,
        };
        let (mut asked, narrowed, urls) = self.plan_requests(cache.as_ref(), stops).await?;
        let asked: Vec<Option<(Ask, Option<&Job>)>> = asked
            .iter_mut()
            .zip(&narrowed)
            .map(|(ask, narrowed)| ask.take().map(|ask| (ask, narrowed.as_ref())))
            .collect();
        let requests = Requests::new(self.fetcher, jobs, urls);
        let mut spill = Spill::new(SPILL_BUDGET);
        let converts = self.plan.fx().converts();
        let mut ctx = Driving {
            plan: self.plan,
            fetcher: self.fetcher,
            cache,
            requests,
            asked,
            window: Window::new(jobs.len(), self.fetcher.jobs()),
            running: FuturesUnordered::new(),
            halt: job::Halt::default(),
        };
        if let Some(stop) = stops.stopped() {
            // Stopped while the cache was opened or asked: no job starts.
            ctx.stop(stop.error(), jobs);
        }
        if converts {
            self.run_converting(&mut ctx, sink, stops, &mut spill).await
        } else {
            self.run_direct(&mut ctx, sink, stops, &mut spill).await
        }
    }

    /// Each job's planned requests. With a cache, the jobs that share a request with
    /// another (an ECB currency several pairs need) ask it first, all at once, so that the
    /// requests they share are the ones they will make; every other job asks it when its
    /// turn comes.
    #[allow(clippy::type_complexity)]
    async fn plan_requests(
        &self,
        cache: Option<&Arc<Cache>>,
        stops: &mut Stops<'_>,
    ) -> Result<(Vec<Option<Ask>>, Vec<Option<Job>>, Vec<Vec<reqwest::Url>>), Stop> {
        let jobs = self.plan.jobs();
        let mut urls: Vec<Vec<reqwest::Url>> = jobs.iter().map(|job| job.urls()).collect();
        let mut asked: Vec<Option<Ask>> = Vec::new();
        let mut narrowed: Vec<Option<Job>> = Vec::new();
        let Some(cache) = cache else {
            return Ok((asked, narrowed, urls));
        };
        let mut count: HashMap<&reqwest::Url, usize> = HashMap::new();
        for url in urls.iter().flatten() {
            *count.entry(url).or_default() += 1;
        }
        let sharing: Vec<usize> = (0..jobs.len())
            .filter(|&i| Cache::may_answer(&jobs[i]))
            .filter(|&i| {
                urls[i]
                    .iter()
                    .any(|url| count.get(url).is_some_and(|n| *n > 1))
            })
            .collect();
        drop(count);
        asked.resize_with(jobs.len(), || None);
        narrowed.resize_with(jobs.len(), || None);
        if sharing.is_empty() {
            return Ok((asked, narrowed, urls));
        }
        let sharers: Vec<_> = sharing.iter().map(|&i| jobs[i].clone()).collect();
        let names = self.fetcher.keeps_names();
        let asks = tokio::select! {
            asks = cache.ask_all(&sharers, names) => asks,
            event = stops.next(true) => match event {
                Event::EndNow(stop) => return Err(stop),
                Event::StopFetching(_) => sharers.iter().map(Ask::network).collect(),
            },
        };
        for (i, ask) in sharing.into_iter().zip(asks) {
            urls[i] = ask.fetch.as_ref().map(|job| job.urls()).unwrap_or_default();
            narrowed[i] = ask.fetch.clone();
            asked[i] = Some(ask);
        }
        Ok((asked, narrowed, urls))
    }

    /// Without `--currency`: each input's turn as soon as its job and every one before it
    /// are in.
    async fn run_direct<S: Sink>(
        &self,
        ctx: &mut Driving<'_>,
        sink: &mut S,
        stops: &mut Stops<'_>,
        spill: &mut Spill,
    ) -> Result<(), Stop> {
        let entries = self.plan.entries();
        let last_turn = self.last_turns();
        let mut kept: HashMap<usize, Kept> = HashMap::new();
        let mut at = 0;
        while at < entries.len() {
            // Every turn that can be given now, until the sink holds enough to write.
            while at < entries.len() && sink.pending() < FLUSH_AT {
                let Some(job) = self.job_of(sink, at) else {
                    at += 1;
                    continue;
                };
                if let Some((result, source)) = kept.get(&job) {
                    let last = last_turn[job] == at;
                    give_kept(self.plan, sink, spill, at, (result, *source), last);
                    if last {
                        kept.remove(&job);
                    }
                    at += 1;
                    continue;
                }
                let Some(done) = ctx.window.take(job, self.plan.jobs()) else {
                    break; // not in yet
                };
                if let Some(text) = done.gaps {
                    sink.warn(text);
                }
                if last_turn[job] > at {
                    let set_aside = match &done.result {
                        Ok(quotes) => Ok(spill.put(quotes)),
                        Err(e) => Err(e.clone()),
                    };
                    kept.insert(job, (set_aside, done.source));
                }
                sink.turn(self.plan, turn(self.plan, at, &done.result, done.source));
                at += 1;
            }
            if at == entries.len() && sink.pending() == 0 {
                break;
            }
            ctx.admit();
            self.wait(ctx, sink, stops).await?;
        }
        Ok(())
    }

    /// With `--currency`: every job's prices set aside as they come, with the rates they
    /// need; then the rates; then every input's turn, its prices read back and converted.
    async fn run_converting<S: Sink>(
        &self,
        ctx: &mut Driving<'_>,
        sink: &mut S,
        stops: &mut Stops<'_>,
        spill: &mut Spill,
    ) -> Result<(), Stop> {
        let jobs = self.plan.jobs();
        let mut needs = self.plan.fx().needs();
        let mut kept: Vec<Kept> = Vec::with_capacity(jobs.len());
        while kept.len() < jobs.len() {
            while let Some(done) = ctx.window.take(kept.len(), jobs) {
                if let Some(text) = done.gaps {
                    sink.warn(text);
                }
                let job = &jobs[kept.len()];
                let set_aside = match &done.result {
                    Ok(quotes) => {
                        needs.add(job.query.when, quotes);
                        Ok(spill.put(quotes))
                    }
                    Err(e) => Err(e.clone()),
                };
                kept.push((set_aside, done.source));
                if kept.len() == jobs.len() {
                    break;
                }
            }
            if kept.len() == jobs.len() {
                break;
            }
            ctx.admit();
            self.wait(ctx, sink, stops).await?;
        }
        // The rates, in one more round of requests, unless the fetch was stopped: then each
        // rate fails with the stop's reason, and so does every price needing one.
        let stopped = stops.stopped().map(Stop::error);
        let fetching = needs.fetch(self.fetcher, stopped.clone(), async {
            match stops.next(true).await {
                Event::StopFetching(stop) | Event::EndNow(stop) => stop.error(),
            }
        });
        let converter = fetching.await;
        let entries = self.plan.entries();
        let last_turn = self.last_turns();
        let mut at = 0;
        while at < entries.len() {
            while at < entries.len() && sink.pending() < FLUSH_AT {
                let Some(job) = self.job_of(sink, at) else {
                    at += 1;
                    continue;
                };
                let (set_aside, source) = &kept[job];
                let mut result: Fetched = match set_aside {
                    Ok(id) => spill.get(*id).map_err(set_aside_error),
                    Err(e) => Err(e.clone()),
                };
                let when = jobs[job].query.when;
                converter.convert(when, &mut result);
                let result = result.map(|daily| job::select(when, daily));
                if last_turn[job] == at
                    && let Ok(id) = set_aside
                {
                    spill.remove(*id);
                }
                sink.turn(self.plan, turn(self.plan, at, &result, source));
                at += 1;
            }
            if at == entries.len() && sink.pending() == 0 {
                break;
            }
            stops.unless_ended(sink.flush()).await?;
        }
        Ok(())
    }

    /// Wait for the next thing to happen: a job finishing, what the sink holds going out,
    /// or a stop.
    async fn wait<S: Sink>(
        &self,
        ctx: &mut Driving<'_>,
        sink: &mut S,
        stops: &mut Stops<'_>,
    ) -> Result<(), Stop> {
        let fetching = !ctx.running.is_empty() || ctx.window.waiting();
        let pending = sink.pending() > 0;
        // A result in first, then writing: what is ready goes out in one piece.
        tokio::select! {
            biased;
            event = stops.next(fetching) => match event {
                Event::EndNow(stop) => return Err(stop),
                Event::StopFetching(stop) => ctx.stop(stop.error(), self.plan.jobs()),
            },
            Some((i, done)) = ctx.running.next(), if !ctx.running.is_empty() => {
                if let Some(progress) = self.progress {
                    progress.record(done.result.is_ok());
                }
                ctx.window.finished(i, done);
            }
            () = sink.flush(), if pending => {}
        }
        Ok(())
    }

    /// The job of the input at `at`; `None` once an input that is no valid ticker has had
    /// its turn (its error).
    fn job_of<S: Sink>(&self, sink: &mut S, at: usize) -> Option<usize> {
        let entry = &self.plan.entries()[at];
        match &entry.resolved {
            Ok((job, _)) => Some(*job),
            Err(e) => {
                sink.turn(self.plan, invalid(entry, e));
                None
            }
        }
    }

    /// For each job, the last input that asks for it.
    fn last_turns(&self) -> Vec<usize> {
        let mut last = vec![0; self.plan.jobs().len()];
        for (at, entry) in self.plan.entries().iter().enumerate() {
            if let Ok((job, _)) = &entry.resolved
                && let Some(slot) = last.get_mut(*job)
            {
                *slot = at;
            }
        }
        last
    }
}

/// The state of a round being driven: the jobs in flight and their window.
struct Driving<'x> {
    plan: &'x Plan,
    fetcher: &'x Fetcher,
    cache: Option<Arc<Cache>>,
    requests: Requests<'x>,
    /// Jobs the cache was asked for before the round (see [`Round::plan_requests`]), and
    /// the jobs their requests were planned for.
    asked: Vec<Option<(Ask, Option<&'x Job>)>>,
    window: Window,
    running: FuturesUnordered<job::Running<'x>>,
    halt: job::Halt,
}

impl<'x> Driving<'x> {
    /// Start every job the window lets start.
    fn admit(&mut self) {
        while let Some(i) = self.window.admit(self.running.len(), self.plan.jobs()) {
            let requests = self.requests.take(i);
            let asked = self.asked.get_mut(i).and_then(Option::take);
            let round = job::Context {
                plan: self.plan,
                fetcher: self.fetcher,
                cache: self.cache.clone(),
                halt: self.halt.clone(),
            };
            self.running
                .push(Box::pin(job::run(round, i, requests, asked)));
        }
    }

    /// The round is stopped: the jobs whose prices are in but wait for the cache finish
    /// now (see [`job::Halt`]); every other unfinished job gets `error`.
    fn stop(&mut self, error: FetchError, jobs: &[Job]) {
        self.halt.halt(error.clone());
        if let Some(cache) = &self.cache {
            cache.stop();
        }
        // The jobs the halt woke finish when polled; a job still pending is the network's.
        while let Some(Some((i, done))) = self.running.next().now_or_never() {
            self.window.finished(i, done);
        }
        self.running.clear();
        self.window.stop(error, jobs);
    }
}

/// The turn of the input at `at`, with its job's result.
fn turn<'a>(plan: &'a Plan, at: usize, result: &'a Fetched, source: &'static str) -> Turn<'a> {
    let entry = &plan.entries()[at];
    let when = entry
        .resolved
        .as_ref()
        .ok()
        .and_then(|(job, _)| plan.jobs().get(*job))
        .map(|job| job.query.when);
    Turn {
        entry,
        when,
        result: match result {
            Ok(quotes) => Ok(quotes.as_slice()),
            Err(e) => Err(e.clone()),
        },
        source: Some(source),
    }
}

/// The turn of an input that is no valid ticker.
fn invalid<'a>(entry: &'a crate::plan::Entry, error: &FetchError) -> Turn<'a> {
    Turn {
        entry,
        when: None,
        result: Err(error.clone()),
        source: None,
    }
}

/// The turn of an input whose job an earlier input had: read back from the spill.
fn give_kept<S: Sink>(
    plan: &Plan,
    sink: &mut S,
    spill: &mut Spill,
    at: usize,
    (result, source): (&Result<Id, FetchError>, &'static str),
    last: bool,
) {
    let read: Fetched = match result {
        Ok(id) => spill.get(*id).map_err(set_aside_error),
        Err(e) => Err(e.clone()),
    };
    sink.turn(plan, turn(plan, at, &read, source));
    if last && let Ok(id) = result {
        spill.remove(*id);
    }
}

/// A ticker whose prices, set aside, could not be read back (a disk that failed).
fn set_aside_error(e: std::io::Error) -> FetchError {
    FetchError::Other(format!(
        "its prices, set aside in a temporary file, could not be read back ({e})"
    ))
}
