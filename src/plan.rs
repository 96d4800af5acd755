//! Every input resolved once to its source, validated ticker and commodity name, and what
//! a round fetches.
//!
//! Validation happens at the edge: an invalid ticker or an unknown source becomes that
//! input's error here and never reaches a server. `TICKER@NAME` names the commodity that
//! ledger and beancount write (issue 10); without a name, a currency pair is a price of its
//! base (`coinbase:BTC-USD` is `BTC`), as the source says. A ticker asked for twice (same source,
//! same query) is one job, fetched once and reported at each place. A round turns the jobs'
//! results back into rows in input order, borrowing the quotes rather than copying them
//! per input. With `--currency`, a round is the prices and then, in one more round, the
//! rates that convert them (`fx`); minor units are normalised there too.
//!
//! Each input resolves to a chain of sources (issue 19, `chain`): `--source`'s list for a
//! ticker without a prefix, the one source of `source:TICKER`. A round records which source
//! answered each job, and that is the `source` its rows show. The cache of past closes is
//! keyed by a chain's first source: it is asked for that source's closes, and keeps only
//! closes that source answered (a fallback's are fetched again next time, never filed under
//! another source's name).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;

use crate::cache::{Ask, Cache};
use crate::chain::{self, Fallbacks};
use crate::error::FetchError;
use crate::fetch::{Fetched, Fetcher, Job, Outcome};
use crate::fx::Fx;
use crate::history::{self, Adjust, Range};
use crate::input::label_for_input;
use crate::output::Row;
use crate::progress::Progress;
use crate::quote::Quote;
use crate::source::{Query, Source, SourceSpec, Sources, When};
use crate::ticker::Ticker;

/// One input, as typed, and what it resolved to.
pub struct Entry {
    /// What the user typed, verbatim.
    pub input: String,
    /// How it is shown: the uppercased symbol when valid, else an escaped copy.
    pub label: String,
    /// The index of its job, and its (first) source's name; or why it is not valid.
    pub resolved: Result<(usize, &'static str), FetchError>,
    /// The commodity ledger and beancount write its prices as: `NAME` of `TICKER@NAME`,
    /// else what the source calls it (the base of a currency pair), else the label.
    pub commodity: String,
}

impl Entry {
    /// This input's row for one of its prices, or for its error; `when` is what it asked.
    pub fn row<'a>(&'a self, when: Option<When>, result: Result<&'a Quote, FetchError>) -> Row<'a> {
        Row {
            input: &self.input,
            label: &self.label,
            source: self.resolved.as_ref().ok().map(|(_, name)| *name),
            result,
            commodity: &self.commodity,
            adjust: when.and_then(When::adjust),
        }
    }
}

/// What a run asks for, input by input.
pub struct Plan {
    entries: Vec<Entry>,
    jobs: Vec<Job>,
    /// Minor units and `--currency`.
    fx: Fx,
}

/// The results of one round, by job.
pub struct Round {
    fetched: Vec<Fetched>,
    /// The source each job's result came from (issue 19: in a chain, who answered).
    answered: Vec<&'static str>,
}

impl Plan {
    /// Resolve every input; `default_source` is `--source`: a source's name, or a chain of
    /// them, comma-separated (`yahoo,nasdaq`).
    pub fn new(sources: &Sources, inputs: &[String], default_source: &str, when: When) -> Plan {
        Plan::each(
            sources,
            inputs.iter().map(|input| (input.as_str(), when)),
            default_source,
        )
    }

    /// Resolve every input with its own query (`--update` asks each commodity from the day
    /// after its last price); `default_source` is `--source` (a name or a chain). An input
    /// may also be a chain of its own: `source:TICKER` alternatives joined by commas
    /// (`yahoo:VTSAX,nasdaq:VTSAX`, as beanprice lists them per commodity), each source
    /// asked for its own ticker.
    pub fn each<'i>(
        sources: &Sources,
        inputs: impl IntoIterator<Item = (&'i str, When)>,
        default_source: &str,
    ) -> Plan {
        let default = chain::default_chain(sources, default_source);
        let mut jobs: Vec<Job> = Vec::new();
        // A job is its whole chain and query: the same ticker asked of the same sources
        // (however typed) is fetched once. One source alone (every ticker of a run without
        // a chain) is keyed by its name, a chain by every source and ticker in it.
        let mut alone: HashMap<(&'static str, Query), usize> = HashMap::new();
        type Chain = Vec<(&'static str, crate::ticker::Ticker)>;
        let mut chained: HashMap<(&'static str, Query, Chain), usize> = HashMap::new();
        let entries = inputs
            .into_iter()
            .map(|(input, when)| {
                let named = split_commodity(input);
                let resolved = named.clone().and_then(|(symbol, _)| {
                    let default = default
                        .as_deref()
                        .map_err(|e| FetchError::InvalidTicker(e.clone()))?;
                    chain::resolve(sources, symbol, default, when).map(|(first, fallbacks)| {
                        let name = first.name();
                        let query = Query {
                            ticker: first.ticker,
                            when,
                        };
                        let chain: Chain = fallbacks
                            .iter()
                            .map(|link| (link.name(), link.ticker.clone()))
                            .collect();
                        let add = |query| {
                            jobs.push(Job {
                                source: first.source,
                                query,
                                fallbacks: Fallbacks::new(fallbacks),
                            });
                            jobs.len() - 1
                        };
                        let job = if chain.is_empty() {
                            *alone
                                .entry((name, query.clone()))
                                .or_insert_with(|| add(query))
                        } else {
                            *chained
                                .entry((name, query.clone(), chain))
                                .or_insert_with(|| add(query))
                        };
                        (job, name)
                    })
                });
                let (label, commodity) = match (&resolved, named) {
                    (Ok((job, _)), Ok((_, name))) => {
                        let job = &jobs[*job];
                        let commodity = name.map_or_else(
                            || job.source.commodity(&job.query.ticker),
                            str::to_string,
                        );
                        (job.query.ticker.to_string(), commodity)
                    }
                    _ => {
                        let label = label_for_input(input);
                        (label.clone(), label)
                    }
                };
                Entry {
                    input: input.to_string(),
                    label,
                    resolved,
                    commodity,
                }
            })
            .collect();
        Plan {
            entries,
            jobs,
            fx: Fx::default(),
        }
    }

    /// The plan with `fx` applied to every round: minor units, `--currency`.
    pub fn with_fx(self, fx: Fx) -> Plan {
        Plan { fx, ..self }
    }

    /// Every input, in order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Whether any job asks for past closes the cache may hold (only then is it opened).
    pub fn wants_cache(&self) -> bool {
        self.jobs
            .iter()
            .any(|job| job.query.when.adjust() == Some(Adjust::None))
    }

    /// Whether any request of the plan goes to an https URL (only then is the system trust
    /// store loaded), a chain's later sources included.
    pub fn uses_https(&self) -> bool {
        // A source's endpoint depends on the kind of query, not the ticker: one job of each
        // (source, kind) tells, rather than building every request twice.
        let mut seen = std::collections::HashSet::new();
        let asked = self.jobs.iter().flat_map(|job| {
            let first = (&job.source, std::borrow::Cow::Borrowed(&job.query));
            let later = job.fallbacks.iter().map(|link| {
                let query = Query {
                    ticker: link.ticker.clone(),
                    when: job.query.when,
                };
                (&link.source, std::borrow::Cow::Owned(query))
            });
            std::iter::once(first).chain(later)
        });
        self.fx.uses_https()
            || asked
                .filter(|(source, query)| {
                    seen.insert((source.spec().name, std::mem::discriminant(&query.when)))
                })
                .any(|(source, query)| {
                    source
                        .requests(&query)
                        .iter()
                        .any(|u| u.scheme() == "https")
                })
    }

    /// Fetch every job once, then the rates `--currency` needs (at most one more round);
    /// `stop` ends either early (see `Fetcher::fetch_all`).
    pub async fn fetch(
        &self,
        fetcher: &Fetcher,
        progress: Option<&Progress>,
        stop: impl std::future::Future<Output = FetchError>,
    ) -> Round {
        self.fetch_cached(fetcher, None, progress, stop).await
    }

    /// Fetch every job once, asking the cache in `cache_dir` first (opened only when a job
    /// may use it: a latest price never touches the disk): what it holds is not fetched
    /// again (a range only the days it lacks), and what was fetched is kept in it. A
    /// range's daily closes, cached and fetched together, then become the rows of its
    /// `--interval`. `stop` bounds the cache's work as it bounds the fetch.
    pub async fn fetch_cached(
        &self,
        fetcher: &Fetcher,
        cache_dir: Option<&std::path::Path>,
        progress: Option<&Progress>,
        stop: impl std::future::Future<Output = FetchError>,
    ) -> Round {
        // One stop for both rounds (prices, then the rates `--currency` needs): shared, so
        // the second sees that the first was stopped. One set of rate-limit gates too,
        // opened here, at the start of the round.
        let stop = stop.shared();
        fetcher.open_gates();
        let cache = match cache_dir {
            Some(dir) if self.wants_cache() => Cache::open(dir, stop.clone()).await,
            _ => None,
        };
        let mut asks: Vec<Ask> = match &cache {
            Some(cache) => {
                let names = fetcher.keeps_names();
                cache.ask_all(&self.jobs, names, stop.clone()).await
            }
            None => self.jobs.iter().map(Ask::network).collect(),
        };
        let wanted: Vec<Job> = asks.iter().filter_map(|ask| ask.fetch.clone()).collect();
        let fetched = if wanted.is_empty() {
            Vec::new()
        } else {
            fetcher.fetch_each(&wanted, progress, stop.clone()).await
        };
        warn_of_gaps(&wanted, &fetched);
        let mut fetched = fetched.into_iter();
        let mut answered = Vec::with_capacity(self.jobs.len());
        let mut results: Vec<Fetched> = asks
            .iter_mut()
            .zip(&self.jobs)
            .map(|(ask, job)| {
                let mut source = job.source.spec().name;
                let fetched = ask.fetch.as_ref().map(|_| {
                    let outcome = fetched.next().unwrap_or_else(|| crate::fetch::Outcome {
                        result: Err(FetchError::Other("internal: result missing".into())),
                        source,
                    });
                    source = outcome.source;
                    outcome.result
                });
                answered.push(source);
                ask.combine(fetched)
            })
            .collect();
        if let Some(cache) = &cache {
            // Closes as traded, in the currency quoted: never converted ones, and only the
            // closes of the source the cache is keyed by (a chain's first). Another source's
            // are set aside while the cache keeps the rest (an error is kept as nothing).
            let not_kept = || Err(FetchError::Other("answered by a later source".into()));
            let by_others: Vec<(usize, Fetched)> = self
                .jobs
                .iter()
                .zip(&answered)
                .enumerate()
                .filter(|(_, (job, source))| job.source.spec().name != **source)
                .map(|(i, _)| (i, std::mem::replace(&mut results[i], not_kept())))
                .collect();
            results = cache.keep_all(asks, results, stop.clone()).await;
            for (i, result) in by_others {
                results[i] = result;
            }
        }
        if !fetcher.keeps_names() {
            // Kept until the cache had them (issue 18: a range read back from the cache
            // lost them), then dropped when no output shows them.
            results
                .iter_mut()
                .flatten()
                .flatten()
                .for_each(Quote::forget_names);
        }
        self.fx.apply(fetcher, &self.jobs, &mut results, stop).await;
        let fetched = self
            .jobs
            .iter()
            .zip(results)
            .map(|(job, result)| match job.query.when {
                When::Range(range) => result.map(|daily| {
                    history::select(range.interval, daily, |q| {
                        q.market_date.unwrap_or(range.from)
                    })
                }),
                When::Latest | When::Close(..) => result,
            })
            .collect();
        Round { fetched, answered }
    }

    /// The source the round's result for `entry` came from: in a chain, the one that
    /// answered (or was asked last); else the entry's own.
    fn answered_by(&self, round: &Round, entry: &Entry) -> Option<&'static str> {
        let (job, first) = entry.resolved.as_ref().ok()?;
        Some(round.answered.get(*job).copied().unwrap_or(first))
    }

    /// Each input with what it asked and its job's prices (one, or one per day of a range:
    /// none when the range had no trading day) or its error, in input order.
    pub fn results<'a>(
        &'a self,
        round: &'a Round,
    ) -> impl Iterator<Item = (&'a Entry, Option<When>, Result<&'a [Quote], FetchError>)> {
        self.entries.iter().map(move |entry| {
            let job = match &entry.resolved {
                Ok((job, _)) => *job,
                Err(e) => return (entry, None, Err(e.clone())),
            };
            let result = match round.fetched.get(job) {
                Some(Ok(quotes)) => Ok(quotes.as_slice()),
                Some(Err(e)) => Err(e.clone()),
                None => Err(FetchError::Other("internal: result missing".into())),
            };
            (entry, self.jobs.get(job).map(|j| j.query.when), result)
        })
    }

    /// The round's rows in input order: one per price (a range gives several), or one with
    /// the input's error. `max_age` (`--max-age`) turns a price older than that into an
    /// error, so a script never books an old mutual-fund NAV as today's.
    pub fn rows<'a>(&'a self, round: &'a Round, max_age: Option<Duration>) -> Vec<Row<'a>> {
        let now = jiff::Timestamp::now().as_second();
        let mut rows = Vec::with_capacity(self.entries.len());
        for (entry, when, result) in self.results(round) {
            let source = self.answered_by(round, entry);
            let row = |result| Row {
                source,
                ..entry.row(when, result)
            };
            match (result, when) {
                // A range without a trading day is an error that says so.
                (Ok([]), Some(When::Range(range))) => {
                    let source = entry
                        .resolved
                        .as_ref()
                        .ok()
                        .map(|(job, _)| &self.jobs[*job]);
                    rows.push(row(Err(no_trading_day(source, &range))));
                }
                (Ok(quotes), _) => {
                    rows.extend(quotes.iter().map(|q| row(check_age(q, max_age, now))));
                }
                (Err(e), _) => rows.push(row(Err(e))),
            }
        }
        rows
    }
}

/// Name on stderr the days of each range its source sent no close for though the market
/// traded (a `null` close, a close of 0, a crypto pair's missing candle): they are left
/// out of the output and never cached, and a silent hole in a price history is how a
/// wrong balance starts (issue 17). A `--date` says which day its close is from instead.
fn warn_of_gaps(jobs: &[Job], fetched: &[Outcome]) {
    let mut text = String::new();
    for (job, outcome) in jobs.iter().zip(fetched) {
        let Ok(parsed) = &outcome.result else {
            continue;
        };
        if parsed.gaps.is_empty() || !matches!(job.query.when, When::Range(_)) {
            continue;
        }
        // The source that answered: in a chain, maybe not the first.
        let api = SourceSpec::named(outcome.source).map_or(outcome.source, |s| s.display_name);
        text.push_str(&format!(
            "quotes: {}: warning: {api} sent no close for {}; left out\n",
            job.query.ticker,
            days_text(&parsed.gaps)
        ));
    }
    if !text.is_empty() {
        crate::output::write_stderr(text.as_bytes());
    }
}

/// Days, ascending, as few words as they take: `2021-01-03`, `2021-01-03 and 2021-01-05`,
/// runs as `2021-01-07..2021-01-09`, and after five, how many more days.
fn days_text(days: &[jiff::civil::Date]) -> String {
    const SHOWN: usize = 5;
    let mut runs: Vec<(jiff::civil::Date, jiff::civil::Date, usize)> = Vec::new();
    for &day in days {
        match runs.last_mut() {
            Some((_, last, count)) if last.tomorrow().is_ok_and(|next| next == day) => {
                *last = day;
                *count += 1;
            }
            _ => runs.push((day, day, 1)),
        }
    }
    let mut words: Vec<String> = runs
        .iter()
        .take(SHOWN)
        .map(|(first, last, count)| match count {
            1 => first.to_string(),
            _ => format!("{first}..{last} ({count} days)"),
        })
        .collect();
    let more: usize = runs.iter().skip(SHOWN).map(|(.., count)| count).sum();
    if more > 0 {
        words.push(format!("{more} more days"));
    }
    match words.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => words.concat(),
    }
}

/// The error of a range in which the source had no trading day.
fn no_trading_day(job: Option<&Job>, range: &Range) -> FetchError {
    let detail = if range.from == range.to {
        format!("no trading day on {}", range.from)
    } else {
        format!("no trading day between {} and {}", range.from, range.to)
    };
    match job {
        Some(job) => job.source.spec().no_price(detail),
        None => FetchError::Other(detail),
    }
}

/// One input resolved: its source, its validated ticker, and the commodity ledger and
/// beancount write its prices as.
pub struct Resolved {
    pub source: Arc<dyn Source>,
    pub ticker: Ticker,
    /// `NAME` of `TICKER@NAME`, else what the source calls the ticker (the base of a
    /// currency pair).
    pub commodity: String,
}

/// Resolve one input (`VTSAX`, `coinbase:BTC-USD@BTC`, or a chain of alternatives
/// `yahoo:VTSAX,nasdaq:VTSAX@VTSAX`) to its first source and ticker; `default_source` is
/// `--source` (a source, or a chain of them). What the fetch then asks, each source in turn,
/// is [`Plan::each`]'s business; this is what names the commodity.
pub fn resolve(
    sources: &Sources,
    input: &str,
    default_source: &str,
) -> Result<Resolved, FetchError> {
    let (symbol, name) = split_commodity(input)?;
    let default =
        chain::default_chain(sources, default_source).map_err(FetchError::InvalidTicker)?;
    let (first, _) = chain::resolve(sources, symbol, &default, When::Latest)?;
    let commodity = name.map_or_else(|| first.source.commodity(&first.ticker), str::to_string);
    Ok(Resolved {
        source: first.source,
        ticker: first.ticker,
        commodity,
    })
}

/// `TICKER@NAME`: the ticker part and the commodity name, checked. `@` is not in the
/// ticker alphabet, so the first one always starts the name.
fn split_commodity(input: &str) -> Result<(&str, Option<&str>), FetchError> {
    let Some((symbol, name)) = input.split_once('@') else {
        return Ok((input, None));
    };
    let bad = |why: &str| {
        Err(FetchError::InvalidTicker(format!(
            "the commodity name after @ {why}; write TICKER@NAME, e.g. VWRL.L@VWRL"
        )))
    };
    if name.is_empty() {
        return bad("is empty");
    }
    if name.chars().count() > MAX_COMMODITY_LEN {
        return bad(&format!("is longer than {MAX_COMMODITY_LEN} characters"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '@' | ';'))
    {
        return bad(&format!("contains {:?}", c));
    }
    Ok((symbol, Some(name)))
}

/// The longest commodity name accepted after `@`.
const MAX_COMMODITY_LEN: usize = 64;

/// `--max-age`: a price older than `max_age` is an error.
fn check_age(quote: &Quote, max_age: Option<Duration>, now: i64) -> Result<&Quote, FetchError> {
    let Some(max_age) = max_age else {
        return Ok(quote);
    };
    // A price without a time, or from the future, cannot be vouched for: a server that
    // leaves the time out (or sends 2099) must not slip an old price past --max-age.
    let Some(time) = quote.time else {
        return Err(FetchError::Ageless {
            why: "the answer gave no time",
            max_age: humanize(max_age),
        });
    };
    if time > now + MAX_CLOCK_SKEW_SECONDS {
        return Err(FetchError::Ageless {
            why: "the answer's time is ahead of this clock",
            max_age: humanize(max_age),
        });
    }
    let age = now.saturating_sub(time);
    if age > 0 && age.unsigned_abs() > max_age.as_secs() {
        let as_of = jiff::Timestamp::from_second(time)
            .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_else(|_| time.to_string());
        return Err(FetchError::Stale {
            as_of,
            max_age: humanize(max_age),
        });
    }
    Ok(quote)
}

/// How far ahead of this clock a price's time may be (clock skew) for `--max-age`.
const MAX_CLOCK_SKEW_SECONDS: i64 = 300;

/// `3d`, `12h`, `90s`: a duration the way `--max-age` takes it.
fn humanize(d: Duration) -> String {
    let s = d.as_secs();
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60)] {
        if s.is_multiple_of(size) {
            return format!("{}{unit}", s / size);
        }
    }
    format!("{s}s")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chains_later_sources_count_for_https() {
        // Yahoo at a local http server, Nasdaq at its https default.
        let sources = Sources::new(|e| {
            let url = match e.flag {
                "yahoo-url" => "http://127.0.0.1:9",
                _ => e.default_url,
            };
            Ok(reqwest::Url::parse(url).unwrap())
        })
        .unwrap();
        let inputs = ["VTSAX".to_string()];
        let alone = Plan::new(&sources, &inputs, "yahoo", When::Latest);
        assert!(!alone.uses_https());
        let chained = Plan::new(&sources, &inputs, "yahoo,nasdaq", When::Latest);
        assert!(chained.uses_https());
        // One job for one ticker asked twice, whatever its chain.
        let twice = ["VTSAX".to_string(), "vtsax".to_string()];
        assert_eq!(
            Plan::new(&sources, &twice, "yahoo,nasdaq", When::Latest)
                .jobs
                .len(),
            1
        );
    }

    #[test]
    fn max_age_refuses_what_it_cannot_date() {
        let now = 1_800_000_000;
        let day = Some(Duration::from_secs(86_400));
        let at = |time: Option<i64>| Quote {
            time,
            ..Quote::default()
        };
        assert!(check_age(&at(Some(now - 3600)), day, now).is_ok());
        assert!(
            check_age(&at(Some(now + 60)), day, now).is_ok(),
            "clock skew"
        );
        for (quote, why) in [
            (at(Some(now - 2 * 86_400)), "older than"),
            (at(Some(now + 86_400 * 365 * 70)), "ahead of this clock"),
            (at(None), "gave no time"),
        ] {
            let err = check_age(&quote, day, now).unwrap_err();
            assert_eq!(err.kind(), "stale");
            assert!(err.to_string().contains(why), "{err}");
        }
        assert!(
            check_age(&at(None), None, now).is_ok(),
            "no --max-age, no check"
        );
    }

    #[test]
    fn gaps_are_named_in_runs() {
        let day = |d: &str| d.parse::<jiff::civil::Date>().unwrap();
        assert_eq!(days_text(&[day("2021-01-03")]), "2021-01-03");
        assert_eq!(
            days_text(&[day("2021-01-03"), day("2021-01-05")]),
            "2021-01-03 and 2021-01-05"
        );
        let many: Vec<_> = [
            "01-01", "01-03", "01-04", "01-05", "01-07", "01-09", "01-11",
        ]
        .iter()
        .chain(&["01-13", "01-14"])
        .map(|d| day(&format!("2021-{d}")))
        .collect();
        assert_eq!(
            days_text(&many),
            "2021-01-01, 2021-01-03..2021-01-05 (3 days), 2021-01-07, 2021-01-09, \
             2021-01-11 and 2 more days"
        );
    }

    #[test]
    fn durations_read_back_as_typed() {
        assert_eq!(humanize(Duration::from_secs(3 * 86_400)), "3d");
        assert_eq!(humanize(Duration::from_secs(90)), "90s");
        assert_eq!(humanize(Duration::from_secs(1800)), "30m");
    }
}
