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

use std::collections::HashMap;
use std::time::Duration;

use futures::FutureExt;

use crate::cache::{Ask, Cache};
use crate::error::FetchError;
use crate::fetch::{Fetched, Fetcher, Job, Read};
use crate::fx::Fx;
use crate::history::{self, Adjust, Range};
use crate::input::label_for_input;
use crate::output::Row;
use crate::progress::Progress;
use crate::quote::Quote;
use crate::source::{Query, Sources, When};

/// One input, as typed, and what it resolved to.
pub struct Entry {
    /// What the user typed, verbatim.
    pub input: String,
    /// How it is shown: the uppercased symbol when valid, else an escaped copy.
    pub label: String,
    /// The index of its job, and its source's name; or why it is not valid.
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
}

impl Plan {
    /// Resolve every input; `default_source` is `--source`.
    pub fn new(sources: &Sources, inputs: &[String], default_source: &str, when: When) -> Plan {
        Plan::each(
            sources,
            inputs.iter().map(|input| (input.as_str(), when)),
            default_source,
        )
    }

    /// Resolve every input with its own query (`--update` asks each commodity from the day
    /// after its last price); `default_source` is `--source`.
    pub fn each<'i>(
        sources: &Sources,
        inputs: impl IntoIterator<Item = (&'i str, When)>,
        default_source: &str,
    ) -> Plan {
        let mut jobs: Vec<Job> = Vec::new();
        let mut index: HashMap<(&'static str, Query), usize> = HashMap::new();
        let entries = inputs
            .into_iter()
            .map(|(input, when)| {
                let named = split_commodity(input);
                let resolved = named.clone().and_then(|(symbol, _)| {
                    sources
                        .resolve(symbol, default_source)
                        .map(|(source, ticker)| {
                            let name = source.spec().name;
                            let query = Query { ticker, when };
                            let job = *index.entry((name, query.clone())).or_insert_with(|| {
                                jobs.push(Job { source, query });
                                jobs.len() - 1
                            });
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
    /// store loaded).
    pub fn uses_https(&self) -> bool {
        // A source's endpoint depends on the kind of query, not the ticker: one job of each
        // (source, kind) tells, rather than building every request twice.
        let mut seen = std::collections::HashSet::new();
        self.fx.uses_https()
            || self
                .jobs
                .iter()
                .filter(|job| {
                    seen.insert((
                        job.source.spec().name,
                        std::mem::discriminant(&job.query.when),
                    ))
                })
                .any(|job| {
                    job.source
                        .requests(&job.query)
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
            fetcher.fetch_all(&wanted, progress, stop.clone()).await
        };
        warn_of_gaps(&wanted, &fetched);
        let mut fetched = fetched.into_iter();
        let mut results: Vec<Fetched> = asks
            .iter_mut()
            .map(|ask| {
                let fetched = ask.fetch.as_ref().map(|_| {
                    fetched.next().unwrap_or_else(|| {
                        Err(FetchError::Other("internal: result missing".into()))
                    })
                });
                ask.combine(fetched)
            })
            .collect();
        if let Some(cache) = &cache {
            // Closes as traded, in the currency quoted: never converted ones.
            results = cache.keep_all(asks, results, stop.clone()).await;
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
        Round { fetched }
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
            let row = |result| entry.row(when, result);
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
fn warn_of_gaps(jobs: &[Job], fetched: &[Read]) {
    let mut text = String::new();
    for (job, result) in jobs.iter().zip(fetched) {
        let Ok(parsed) = result else { continue };
        if parsed.gaps.is_empty() || !matches!(job.query.when, When::Range(_)) {
            continue;
        }
        text.push_str(&format!(
            "quotes: {}: warning: {} sent no close for {}; left out\n",
            job.query.ticker,
            job.source.spec().display_name,
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
