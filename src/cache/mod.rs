//! Closes that cannot change, kept in an embedded database so that asking again costs no
//! request (issue 10).
//!
//! **What is kept.** Only closes as traded (`--adjust none`, the default) of days that are
//! over, and which days a fetch covered, so that a range already fetched — weekends and
//! holidays included — is answered without a request. Latest prices are never kept, nor
//! adjusted closes (`--adjust splits|all` change with every split or dividend). A day is
//! over for the cache once it is before today in UTC (every exchange's day has ended by
//! then, and the source itself refuses a session still running); a day without a close is
//! recorded as such only 30 hours after its end in UTC or once a later close exists, so a
//! fund whose NAV comes out late in the evening is asked again rather than recorded as
//! closed. Only what a source positively said is kept: a day it sent no close for though
//! the market traded (a gap: a `null` close, a missing candle) is asked again next time,
//! never kept as a day without trading (issue 17).
//!
//! **Where.** SQLite (through `rusqlite`, compiled in), one file, `closes.sqlite3`, in
//! `--cache-dir`, `$QUOTES_CACHE_DIR`, `$XDG_CACHE_HOME/quotes` or `~/.cache/quotes`.
//! Entries are keyed by the API's origin as well as the source and ticker, so a test
//! server or a mirror never answers for the real API. The file is input like any answer:
//! `db` uses it only when its schema is exactly ours and serves only rows that pass the
//! checks a server's answer passes (issue 18).
//!
//! **Two runs at once** (cron and a terminal): write-ahead logging lets readers and a writer
//! work side by side, and a writer waits a few seconds for another (a round writes in one
//! short transaction). **A cache that fails** — cannot be created, is not a database, is
//! corrupt, stays locked — is named once on stderr and ignored for the rest of the run,
//! which goes on from the network; one that is corrupt, or not ours, is started anew. A
//! cache is a convenience, never a reason for a run to fail.
//!
//! **Bounded by the run's stop.** The runtime runs on one thread; SQLite work on it would
//! keep the deadline and Ctrl-C from being seen until it ended (a lock held by another
//! run is seconds of waiting). So every piece of cache work runs on a blocking thread of
//! its own while the run waits for it or for its stop (`--deadline`, SIGINT, SIGTERM),
//! whichever comes first; at the stop, SQLite is interrupted and the work abandoned, and
//! the run goes on with what it has.
//!
//! The fetch of a round goes through [`Ask`]: for each job, what the cache already holds
//! and what is left to fetch (a range is narrowed to the days the cache lacks), and then
//! what to keep of the answer. Sources know nothing of this.

mod db;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, InterruptHandle, TransactionBehavior};

pub use db::FILE_NAME;

use crate::calendar::{Horizon, LOOKBACK_DAYS, utc_date};
use crate::fetch::{Fetched, Job, Read};
use crate::history::{self, Adjust, Range};
use crate::quote::Quote;
use crate::source::When;

/// Where the cache lives: `dir` (`--cache-dir` or `$QUOTES_CACHE_DIR`) when given, else
/// `$XDG_CACHE_HOME/quotes` (when that is an absolute path, as the XDG spec asks), else
/// `~/.cache/quotes`. `None` without any of them.
pub fn dir(given: Option<PathBuf>) -> Option<PathBuf> {
    if let Some(dir) = given.filter(|d| !d.as_os_str().is_empty()) {
        return Some(dir);
    }
    let absolute = |v: std::ffi::OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
    if let Some(xdg) = std::env::var_os("XDG_CACHE_HOME").and_then(absolute) {
        return Some(xdg.join("quotes"));
    }
    std::env::var_os("HOME")
        .and_then(absolute)
        .map(|home| home.join(".cache").join("quotes"))
}

/// The cache of one run.
pub struct Cache {
    path: PathBuf,
    /// `None` once something went wrong: the rest of the run goes without the cache.
    conn: Mutex<Option<Connection>>,
    /// Interrupts the statement running on the connection, from the run's thread.
    interrupt: InterruptHandle,
    /// Set at the run's stop: no statement runs after it, and nothing is reported.
    stopped: AtomicBool,
}

impl Cache {
    /// Open (or create) the cache in `dir`, off the runtime's thread; `None` when it cannot
    /// be used (named on stderr) or `stop` came first.
    pub async fn open(dir: &Path, stop: impl Future) -> Option<Arc<Cache>> {
        let dir = dir.to_path_buf();
        let opening = tokio::task::spawn_blocking(move || Cache::open_here(&dir));
        tokio::select! {
            opened = opening => opened.ok().flatten().map(Arc::new),
            _ = stop => None,
        }
    }

    /// Open (or create) the cache in `dir`, on this thread. A cache that cannot be used is
    /// named on stderr and `None` returned; a corrupt one, or one whose schema is not ours,
    /// is started anew (and named).
    fn open_here(dir: &Path) -> Option<Cache> {
        let path = dir.join(FILE_NAME);
        if let Err(e) = std::fs::create_dir_all(dir) {
            warn(&path, &format!("cannot be created ({e})"));
            return None;
        }
        let unusable = |e: &db::Unusable| warn(&path, &format!("cannot be used ({e})"));
        let conn = match db::connect(&path) {
            Ok(conn) => conn,
            Err(e) => {
                let Some(what) = e.start_anew() else {
                    unusable(&e);
                    return None;
                };
                db::remove(&path);
                warn(&path, &format!("{what} ({e}); starting it anew"));
                match db::connect(&path) {
                    Ok(conn) => conn,
                    Err(e) => {
                        unusable(&e);
                        return None;
                    }
                }
            }
        };
        Some(Cache {
            path,
            interrupt: conn.get_interrupt_handle(),
            conn: Mutex::new(Some(conn)),
            stopped: AtomicBool::new(false),
        })
    }

    /// What the cache holds for each job (with names and exchanges when `names`: an output
    /// shows them), and what is left to fetch; read off the runtime's thread. At `stop`,
    /// everything is left to the network (which the stop then ends too).
    pub async fn ask_all(
        self: &Arc<Self>,
        jobs: &[Job],
        names: bool,
        stop: impl Future,
    ) -> Vec<Ask> {
        let owned = jobs.to_vec();
        let asked = self
            .off_thread(stop, move |cache| {
                owned
                    .iter()
                    .map(|job| cache.ask(job, names))
                    .collect::<Vec<Ask>>()
            })
            .await;
        asked.unwrap_or_else(|| jobs.iter().map(Ask::network).collect())
    }

    /// Keep what the round fetched (see [`Cache::keep`]), off the runtime's thread, unless
    /// `stop` comes first; the results come back whole either way.
    pub async fn keep_all(
        self: &Arc<Self>,
        asks: Vec<Ask>,
        results: Vec<Fetched>,
        stop: impl Future,
    ) -> Vec<Fetched> {
        let results = Arc::new(results);
        let kept = Arc::clone(&results);
        self.off_thread(stop, move |cache| cache.keep(&asks, &kept))
            .await;
        // Abandoned at the stop, the writer may still hold them: then they are copied.
        Arc::try_unwrap(results).unwrap_or_else(|shared| shared.as_ref().clone())
    }

    /// Run `work` on a blocking thread, unless `stop` comes first: then SQLite is
    /// interrupted, the work abandoned, and `None` returned.
    async fn off_thread<T: Send + 'static>(
        self: &Arc<Self>,
        stop: impl Future,
        work: impl FnOnce(&Cache) -> T + Send + 'static,
    ) -> Option<T> {
        let cache = Arc::clone(self);
        let task = tokio::task::spawn_blocking(move || work(&cache));
        tokio::select! {
            done = task => done.ok(),
            _ = stop => {
                self.stopped.store(true, Ordering::SeqCst);
                self.interrupt.interrupt();
                None
            }
        }
    }

    /// What the cache holds for `job` (its names with `names`), and what is left to fetch.
    fn ask(&self, job: &Job, names: bool) -> Ask {
        let Some(key) = Key::of(job) else {
            return Ask::network(job);
        };
        let known = match job.query.when {
            When::Range(range) => self.known(&key, range.from, range.to, names),
            When::Close(date, _) => self.known(&key, back(date, LOOKBACK_DAYS), date, names),
            When::Latest => None,
        };
        let Some(known) = known else {
            return Ask {
                keep: Some(key),
                ..Ask::network(job)
            };
        };
        match job.query.when {
            When::Range(range) => ask_range(job, key, range, known),
            When::Close(date, _) => ask_close(job, key, date, known),
            When::Latest => Ask::network(job),
        }
    }

    /// Keep what the round fetched: for each ask that fetched (and may be kept), its closes
    /// of days that are over, and the days it covered without a close (never its gaps).
    /// One transaction.
    fn keep(&self, asks: &[Ask], results: &[Fetched]) {
        if !asks.iter().any(|a| a.fetch.is_some() && a.keep.is_some()) {
            return; // nothing new: not even a write lock
        }
        let now = jiff::Timestamp::now().as_second();
        self.with(|conn| {
            // Immediate: take the write lock (waiting for another run's) before reading.
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            for (ask, result) in asks.iter().zip(results) {
                let (Some(key), Some(fetched), Ok(quotes)) = (&ask.keep, &ask.fetch, result) else {
                    continue;
                };
                let rows = covered(&fetched.query.when, quotes, &ask.gaps, now);
                if rows.is_empty() {
                    continue;
                }
                let first = quotes.first();
                let id = db::keep_instrument(
                    &tx,
                    (&key.origin, key.source, &key.ticker),
                    first.and_then(|q| q.name.as_deref()),
                    first.and_then(|q| q.exchange.as_deref()),
                )?;
                db::insert_days(&tx, id, &rows)?;
            }
            tx.commit()
        });
    }

    /// Every day the cache knows for `key` in `from..=to` (with its close, if it had one,
    /// and the instrument's names with `names`), ascending, each checked as an answer is;
    /// `None` when it knows none (or failed).
    fn known(
        &self,
        key: &Key,
        from: jiff::civil::Date,
        to: jiff::civil::Date,
        names: bool,
    ) -> Option<Known> {
        let horizon = Horizon::now();
        self.with(|conn| {
            let Some(mut instrument) = db::instrument(conn, &key.origin, key.source, &key.ticker)?
            else {
                return Ok(None);
            };
            if !names {
                // Not shown: not carried by every close of a 30-year range.
                instrument.name = None;
                instrument.exchange = None;
            }
            let days = db::days(conn, &instrument, from, to, horizon)?;
            Ok(Some(Known { days }))
        })
        .flatten()
    }

    /// Run `f` on the connection; the first failure is named on stderr and ends the use of
    /// the cache for this run (a corrupt database is removed, to be started anew next time).
    /// Once the run is stopped, nothing runs and nothing is said.
    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> Option<T> {
        let mut slot = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        if self.stopped.load(Ordering::SeqCst) {
            return None;
        }
        let conn = slot.as_mut()?;
        match f(conn) {
            Ok(value) => Some(value),
            Err(e) => {
                *slot = None;
                if self.stopped.load(Ordering::SeqCst) || db::is_interrupted(&e) {
                    // Stopped on purpose: the run is ending, and says why itself.
                } else if db::is_corrupt(&e) {
                    db::remove(&self.path);
                    warn(
                        &self.path,
                        &format!("is corrupt ({e}); it will be started anew"),
                    );
                } else {
                    warn(&self.path, &format!("failed ({e}); going on without it"));
                }
                None
            }
        }
    }
}

/// Which instrument of which API a job asks about.
#[derive(Debug, Clone)]
struct Key {
    origin: String,
    source: &'static str,
    ticker: String,
}

impl Key {
    /// The key of a job the cache may answer: a past close as traded. `None` otherwise.
    fn of(job: &Job) -> Option<Key> {
        if job.query.when.adjust() != Some(Adjust::None) {
            return None;
        }
        let url = job.source.requests(&job.query).into_iter().next()?;
        Some(Key {
            origin: url.origin().ascii_serialization(),
            source: job.source.spec().name,
            ticker: job.query.ticker.to_string(),
        })
    }
}

/// The days the cache knows in a window, ascending (`ORDER BY day`), each with its close
/// or `None`.
struct Known {
    days: Vec<(jiff::civil::Date, Option<Quote>)>,
}

/// One job of a round as the cache sees it: what it already holds, what is left to fetch,
/// and whether to keep what comes back.
pub struct Ask {
    /// What to fetch: the job, or the part of its range the cache lacks; `None` when the
    /// cache answered it all.
    pub fetch: Option<Job>,
    /// The closes the cache holds outside what is fetched.
    cached: Vec<Quote>,
    /// Where to keep what is fetched (`None`: not a close the cache keeps).
    keep: Option<Key>,
    /// The days the fetch found gaps on: never kept as days without a close.
    gaps: Vec<jiff::civil::Date>,
}

impl Ask {
    /// Everything from the network, nothing kept.
    pub fn network(job: &Job) -> Ask {
        Ask {
            fetch: Some(job.clone()),
            cached: Vec::new(),
            keep: None,
            gaps: Vec::new(),
        }
    }

    /// The job's result: the cached closes and what was fetched (`fetched` is `None` when
    /// nothing was), in ascending order of day for a range. The cached closes move into it
    /// (what [`Cache::keep`] needs of the ask, the gaps among it, stays).
    pub fn combine(&mut self, fetched: Option<Read>) -> Fetched {
        let mut quotes = match fetched {
            Some(Ok(parsed)) => {
                self.gaps = parsed.gaps;
                parsed.quotes
            }
            Some(Err(e)) => return Err(e),
            None => Vec::new(),
        };
        let cached = std::mem::take(&mut self.cached);
        if quotes.is_empty() {
            return Ok(cached); // already ascending, as read
        }
        if !cached.is_empty() {
            quotes.extend(cached);
            quotes.sort_by_key(|q| q.market_date);
        }
        Ok(quotes)
    }
}

/// A range: the cache answers the days it knows, and the rest is fetched in one span from
/// the first day it lacks to the last.
fn ask_range(job: &Job, key: Key, range: Range, known: Known) -> Ask {
    // `known.days` is in ascending order: a bisection per day, no set to build and hash.
    let known_day = |d: &jiff::civil::Date| known.days.binary_search_by_key(d, |(day, _)| *day);
    let mut missing = history::days(range.from, range.to).filter(|d| known_day(d).is_err());
    let Some(first) = missing.next() else {
        return Ask {
            fetch: None,
            cached: known.days.into_iter().filter_map(|(_, q)| q).collect(),
            keep: Some(key),
            gaps: Vec::new(),
        };
    };
    let last = missing.last().unwrap_or(first);
    let mut narrowed = job.clone();
    narrowed.query.when = When::Range(range.between(first, last));
    Ask {
        fetch: Some(narrowed),
        cached: known
            .days
            .into_iter()
            .filter(|(day, _)| *day < first || *day > last)
            .filter_map(|(_, q)| q)
            .collect(),
        keep: Some(key),
        gaps: Vec::new(),
    }
}

/// `--date`: the cache answers when it knows every day from the date back to a close.
fn ask_close(job: &Job, key: Key, date: jiff::civil::Date, known: Known) -> Ask {
    let mut day = date;
    let mut days = known.days.into_iter().rev().peekable();
    for _ in 0..=LOOKBACK_DAYS {
        match days.next_if(|(d, _)| *d == day) {
            Some((_, Some(quote))) => {
                return Ask {
                    fetch: None,
                    cached: vec![quote],
                    keep: Some(key),
                    gaps: Vec::new(),
                };
            }
            Some((_, None)) => day = back(day, 1),
            None => break,
        }
    }
    Ask {
        keep: Some(key),
        ..Ask::network(job)
    }
}

/// How long after the end of a UTC day a day without a close is taken as closed: the
/// latest fund NAVs of a day come out a few hours after midnight UTC.
const QUIET_HOURS: i64 = 30;

/// What a fetch for `when` says about its days, for the cache: each close of a day before
/// today, and each day it covered without a close that is settled (over for
/// [`QUIET_HOURS`], or before a close) — as of `now`, Unix seconds. A day the source sent
/// no close for though the market traded (`gaps`, ascending: a `null` close, a missing
/// candle) is no fact: it is left out, to be asked again (issue 17).
fn covered<'q>(
    when: &When,
    quotes: &'q [Quote],
    gaps: &[jiff::civil::Date],
    now: i64,
) -> Vec<(jiff::civil::Date, Option<&'q Quote>)> {
    let utc_day = |t: i64| utc_date(t).unwrap_or(jiff::civil::Date::MIN);
    let yesterday = back(utc_day(now), 1);
    let quiet = utc_day(now.saturating_sub(QUIET_HOURS * 3_600));
    let (from, to) = match *when {
        When::Range(range) => (range.from, range.to),
        // A `--date` answer says which day had the close and that no day after it, up to
        // the date, had one; nothing about the days before it.
        When::Close(date, _) => match quotes.first().and_then(|q| q.market_date) {
            Some(day) => (day, date),
            None => return Vec::new(),
        },
        When::Latest => return Vec::new(),
    };
    let last_close = quotes.iter().filter_map(|q| q.market_date).max();
    let settled = last_close
        .map_or(quiet, |d| d.max(quiet))
        .min(yesterday)
        .min(to);
    let mut rows = Vec::new();
    let mut closes = quotes.iter().filter(|q| q.market_date.is_some()).peekable();
    for day in history::days(from, settled) {
        while closes.next_if(|q| q.market_date < Some(day)).is_some() {}
        match closes.next_if(|q| q.market_date == Some(day)) {
            Some(quote) => rows.push((day, Some(quote))),
            None if gaps.binary_search(&day).is_ok() => {}
            None => rows.push((day, None)),
        }
    }
    rows
}

fn back(day: jiff::civil::Date, days: i64) -> jiff::civil::Date {
    day.saturating_sub(jiff::Span::new().days(days))
}

fn warn(path: &Path, what: &str) {
    crate::output::write_stderr(
        format!("quotes: the cache {} {what}\n", path.display()).as_bytes(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::midnight_utc;
    use crate::history::Interval;
    use crate::source::{Parsed, Query, Sources};
    use crate::ticker::Ticker;
    use jiff::civil::{Date, date};

    fn sources() -> Sources {
        Sources::new(|e| {
            Ok(reqwest::Url::parse(if e.flag == "yahoo-url" {
                "http://127.0.0.1:1"
            } else {
                "http://127.0.0.1:2"
            })
            .unwrap())
        })
        .unwrap()
    }

    fn job(when: When) -> Job {
        Job::new(
            std::sync::Arc::clone(sources().get("yahoo").unwrap()),
            Query {
                ticker: Ticker::parse("NVDA").unwrap(),
                when,
            },
        )
    }

    fn range(from: Date, to: Date) -> When {
        When::Range(Range::new(from, to, Interval::Day, Adjust::None).unwrap())
    }

    fn close(day: Date, price: &str) -> Quote {
        Quote {
            price: price.parse().unwrap(),
            currency: Some("USD".into()),
            time: Some(midnight_utc(day) + 52_200),
            market_date: Some(day),
            previous_close: None,
            name: Some("NVIDIA".into()),
            exchange: None,
            ..Quote::default()
        }
    }

    /// Ask, "fetch" with `answer`, keep, and return what the round got.
    fn round(cache: &Cache, job: &Job, answer: impl Fn(&When) -> Vec<Quote>) -> (Ask, Fetched) {
        let mut ask = cache.ask(job, true);
        let fetched = ask
            .fetch
            .as_ref()
            .map(|j| Ok(Parsed::from(answer(&j.query.when))));
        let result = ask.combine(fetched);
        cache.keep(std::slice::from_ref(&ask), std::slice::from_ref(&result));
        (ask, result)
    }

    /// Mon 2021-02-01 … Fri 02-05, a weekend, Mon 02-08.
    fn week(when: &When) -> Vec<Quote> {
        let When::Range(r) = when else { panic!() };
        [
            (1, "529.48"),
            (2, "540.1"),
            (3, "545"),
            (4, "550"),
            (5, "555"),
            (8, "560"),
        ]
        .iter()
        .map(|(d, p)| close(date(2021, 2, *d), p))
        .filter(|q| r.contains(q.market_date.unwrap()))
        .collect()
    }

    #[test]
    fn a_range_fetched_once_is_answered_whole_weekends_included() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open_here(dir.path()).unwrap();
        let job = job(range(date(2021, 2, 1), date(2021, 2, 8)));
        let (ask, first) = round(&cache, &job, week);
        assert!(ask.fetch.is_some());
        assert_eq!(first.as_ref().unwrap().len(), 6);
        let (ask, again) = round(&cache, &job, |_| panic!("asked the network"));
        assert!(ask.fetch.is_none());
        assert_eq!(again, first);
        // A cache opened again (another run) holds the same.
        drop(cache);
        let cache = Cache::open_here(dir.path()).unwrap();
        let (_, again) = round(&cache, &job, |_| panic!("asked the network"));
        assert_eq!(again.unwrap()[0].price.to_string(), "529.48");
    }

    #[test]
    fn a_longer_range_fetches_only_the_days_it_lacks() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open_here(dir.path()).unwrap();
        let _ = round(
            &cache,
            &job(range(date(2021, 2, 1), date(2021, 2, 3))),
            week,
        );
        let wider = job(range(date(2021, 2, 1), date(2021, 2, 8)));
        let (ask, result) = round(&cache, &wider, week);
        let Some(When::Range(narrowed)) = ask.fetch.map(|j| j.query.when) else {
            panic!()
        };
        assert_eq!(
            (narrowed.from, narrowed.to),
            (date(2021, 2, 4), date(2021, 2, 8))
        );
        let days: Vec<Date> = result
            .unwrap()
            .iter()
            .map(|q| q.market_date.unwrap())
            .collect();
        assert_eq!(days.len(), 6);
        assert!(days.windows(2).all(|w| w[0] < w[1]), "{days:?}");
    }

    #[test]
    fn a_date_is_answered_from_the_days_back_to_a_close() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open_here(dir.path()).unwrap();
        let _ = round(
            &cache,
            &job(range(date(2021, 2, 1), date(2021, 2, 8))),
            week,
        );
        // Sunday 02-07: Friday's close, from the cache.
        let (ask, result) = round(
            &cache,
            &job(When::Close(date(2021, 2, 7), Adjust::None)),
            |_| panic!("asked the network"),
        );
        assert!(ask.fetch.is_none());
        assert_eq!(result.unwrap()[0].market_date, Some(date(2021, 2, 5)));
        // A day the cache does not know is fetched.
        let ask = cache.ask(&job(When::Close(date(2021, 2, 10), Adjust::None)), true);
        assert!(ask.fetch.is_some());
        // Adjusted closes and latest prices are never the cache's.
        let ask = cache.ask(&job(When::Close(date(2021, 2, 7), Adjust::Splits)), true);
        assert!(ask.fetch.is_some() && ask.keep.is_none());
        assert!(cache.ask(&job(When::Latest), true).keep.is_none());
    }

    #[test]
    fn days_not_over_are_not_kept() {
        let today = date(2026, 11, 23);
        let at = |hour: i64| midnight_utc(today) + hour * 3_600;
        let yesterday = back(today, 1);
        let quotes = vec![close(back(today, 3), "1")];
        let when = range(back(today, 5), today);
        // At 03:00 UTC yesterday may still get a late NAV: kept up to the day before.
        let rows = covered(&when, &quotes, &[], at(3));
        assert_eq!(rows.len(), 4);
        assert!(rows.iter().all(|(d, _)| *d < yesterday));
        assert_eq!(rows.iter().filter(|(_, q)| q.is_some()).count(), 1);
        // From 06:00 UTC yesterday is over too; today never is.
        let rows = covered(&when, &quotes, &[], at(6));
        assert_eq!(
            rows.last().map(|(d, q)| (*d, q.is_some())),
            Some((yesterday, false))
        );
        // A close today settles yesterday, but today's own close is not kept.
        let quotes = vec![close(back(today, 3), "1"), close(today, "2")];
        let rows = covered(&when, &quotes, &[], at(1));
        assert_eq!(
            rows.last().map(|(d, q)| (*d, q.is_some())),
            Some((yesterday, false))
        );
        // A close yesterday is kept at once.
        let quotes = vec![close(yesterday, "1")];
        let rows = covered(&when, &quotes, &[], at(1));
        assert_eq!(
            rows.last().map(|(d, q)| (*d, q.is_some())),
            Some((yesterday, true))
        );
    }

    #[test]
    fn a_corrupt_cache_is_started_anew_and_a_broken_one_ignored() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(FILE_NAME),
            b"this is not a database, at all....",
        )
        .unwrap();
        let cache = Cache::open_here(dir.path()).expect("started anew");
        let job = job(range(date(2021, 2, 1), date(2021, 2, 8)));
        let _ = round(&cache, &job, week);
        assert!(cache.ask(&job, true).fetch.is_none());
        // A directory that cannot be created: no cache, no panic.
        let file = dir.path().join("file");
        std::fs::write(&file, b"").unwrap();
        assert!(Cache::open_here(&file.join("sub")).is_none());
    }

    #[test]
    fn the_directory_follows_flag_then_xdg_then_home() {
        assert_eq!(dir(Some("/x".into())), Some(PathBuf::from("/x")));
    }
}
