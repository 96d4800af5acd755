//! One job of a round, from the cache to its final prices: the cache asked when the job's
//! turn to start comes (read off the runtime's thread), the days it lacks fetched, what
//! came back kept in the cache, names dropped unless shown, minor units normalised, and a
//! range's interval applied (after the conversion with `--currency`, see `round`).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::cache::{Ask, Cache};
use crate::error::FetchError;
use crate::fetch::{Fetched, Fetcher, Job, Request};
use crate::history;
use crate::plan::{self, Plan};
use crate::quote::Quote;
use crate::source::When;

/// What a job came to.
pub struct Done {
    /// Its prices (one, or one per day of a range), or why not.
    pub result: Fetched,
    /// The source that answered (in a chain, maybe not the first; the last asked when none
    /// did).
    pub source: &'static str,
    /// The days its source sent no close for, in words for stderr.
    pub gaps: Option<String>,
    /// About how many bytes its prices take (see `round::held`).
    pub held: usize,
}

impl Done {
    /// A job that did not finish, and why; `source` is the one it would have asked first.
    pub fn failed(error: FetchError, source: &'static str) -> Done {
        Done {
            result: Err(error),
            source,
            gaps: None,
            held: 0,
        }
    }
}

/// A job in flight, and its index.
pub type Running<'r> = Pin<Box<dyn Future<Output = (usize, Done)> + 'r>>;

/// What a job needs of its round.
pub struct Context<'r> {
    pub plan: &'r Plan,
    pub fetcher: &'r Fetcher,
    pub cache: Option<Arc<Cache>>,
    /// The round's stop, for the cache's work (see [`Halt`]).
    pub halt: Halt,
}

/// The round's stop, as the jobs see it. A job in the network's hands is dropped at the
/// stop, and named with the stop's error; but a job whose prices are in and that waits for
/// the cache to keep them must still be printed (the cache is a convenience, never a reason
/// to lose a price), and one waiting for the cache to be read fails at once: so the cache's
/// work is raced against this, and the round polls such jobs once more after the stop.
#[derive(Clone, Default)]
pub struct Halt(Arc<Halted>);

#[derive(Default)]
pub struct Halted {
    error: std::sync::Mutex<Option<FetchError>>,
    notify: tokio::sync::Notify,
}

impl Halt {
    /// Stop the round's jobs with `error`.
    pub fn halt(&self, error: FetchError) {
        *self.0.error.lock().unwrap_or_else(|e| e.into_inner()) = Some(error);
        self.0.notify.notify_waiters();
    }

    /// The round's stop, when it comes: its error.
    pub async fn halted(&self) -> FetchError {
        loop {
            // Created before the check: a halt between the two still wakes it.
            let notified = self.0.notify.notified();
            if let Some(error) = self
                .0
                .error
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
            {
                return error;
            }
            notified.await;
        }
    }
}

/// Run job `i` with its planned `requests` (see `fetch::Requests`); `asked` is what the
/// cache said before the round, for a job that shares a request with another, and the job
/// its requests were planned for.
pub async fn run<'x>(
    ctx: Context<'x>,
    i: usize,
    requests: Vec<Request<'x>>,
    asked: Option<(Ask, Option<&'x Job>)>,
) -> (usize, Done) {
    let Some(job) = ctx.plan.jobs().get(i) else {
        let missing = FetchError::Other("internal: no such job".into());
        return (i, Done::failed(missing, ""));
    };
    let first = job.source.spec().name;
    let names = ctx.fetcher.keeps_names();
    let (ask, planned) = match (asked, &ctx.cache) {
        (Some((ask, planned)), _) => (Some(ask), planned),
        (None, Some(cache)) if Cache::may_answer(job) => {
            let ask = tokio::select! {
                biased;
                ask = cache.ask(job, names) => ask,
                // Stopped while the cache was read: the job is not fetched.
                error = ctx.halt.halted() => return (i, Done::failed(error, first)),
            };
            (Some(ask), None)
        }
        _ => (None, None),
    };
    /// What is fetched: the job as planned, its narrowed copy, or nothing.
    enum Fetch<'x> {
        Planned(&'x Job),
        Narrowed(Job),
        Cached,
    }
    let fetch = match ask.as_ref().map(|ask| ask.fetch.as_ref()) {
        None => Fetch::Planned(job),
        Some(None) => Fetch::Cached,
        // As planned, unless the cache narrowed it to the days it lacks.
        Some(Some(narrowed)) => match planned {
            Some(planned) => Fetch::Planned(planned),
            None if narrowed.query == job.query => Fetch::Planned(job),
            None => Fetch::Narrowed(narrowed.clone()),
        },
    };
    let outcome = match &fetch {
        Fetch::Planned(planned) => Some(ctx.fetcher.fetch_one(planned, requests).await),
        Fetch::Narrowed(narrowed) => {
            let own = Request::own(narrowed.urls());
            Some(ctx.fetcher.fetch_one(narrowed, own).await)
        }
        Fetch::Cached => None,
    };
    let (read, source) = match outcome {
        Some(outcome) => (Some(outcome.result), outcome.source),
        None => (None, first),
    };
    let gaps = match &read {
        Some(Ok(parsed)) => plan::gaps_warning(job, source, &parsed.gaps),
        _ => None,
    };
    let mut result: Fetched = match ask {
        None => match read {
            Some(read) => read.map(|parsed| parsed.quotes),
            None => Err(FetchError::Other("internal: result missing".into())),
        },
        Some(mut ask) => {
            let combined = ask.combine(read);
            // The cache is keyed by a chain's first source: another's closes are not kept.
            if source != first {
                ask.keep_none();
            }
            match (combined, &ctx.cache) {
                (Ok(quotes), Some(cache)) if ask.keeps() => {
                    let quotes = Arc::new(quotes);
                    tokio::select! {
                        biased;
                        () = cache.keep(ask, Arc::clone(&quotes)) => {}
                        // Stopped while the cache kept them: the prices are in all the same.
                        _ = ctx.halt.halted() => {}
                    }
                    // Abandoned, the cache's thread may still hold them: then they are copied.
                    Ok(Arc::try_unwrap(quotes).unwrap_or_else(|shared| shared.as_ref().clone()))
                }
                (combined, _) => combined,
            }
        }
    };
    if let Ok(quotes) = &mut result {
        // Kept until the cache had them (issue 18: a range read back from the cache lost
        // them), then dropped when no output shows them.
        if !names {
            quotes.iter_mut().for_each(Quote::forget_names);
        }
        ctx.plan.fx().normalise(quotes);
    }
    if !ctx.plan.fx().converts() {
        result = result.map(|daily| select(job.query.when, daily));
    }
    let held = result
        .as_ref()
        .map_or(0, |quotes| super::window::held(quotes));
    (
        i,
        Done {
            result,
            source,
            gaps,
            held,
        },
    )
}

/// A range's daily closes (cached and fetched together) as the rows of its `--interval`.
pub fn select(when: When, daily: Vec<Quote>) -> Vec<Quote> {
    match when {
        When::Range(range) => history::select(range.interval, daily, |q| {
            q.market_date.unwrap_or(range.from)
        }),
        When::Latest | When::Close(..) => daily,
    }
}
