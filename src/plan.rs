//! Every input resolved once to its source and validated ticker, and what a round fetches.
//!
//! Validation happens at the edge: an invalid ticker or an unknown source becomes that
//! input's error here and never reaches a server. A ticker asked for twice (same source,
//! same query) is one job, fetched once and reported at each place. A round turns the jobs'
//! results back into rows in input order, borrowing the quotes rather than copying them
//! per input. With `--currency`, a round is the prices and then, in one more round, the
//! rates that convert them (`fx`); minor units are normalised there too.

use std::collections::HashMap;
use std::time::Duration;

use futures::FutureExt;

use crate::error::FetchError;
use crate::fetch::{Fetched, Fetcher, Job};
use crate::fx::Fx;
use crate::output::{Row, label_for_input};
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
    /// What price directives write it as, when not its symbol (a pair's base).
    pub commodity: Option<String>,
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
        let mut jobs: Vec<Job> = Vec::new();
        let mut index: HashMap<(&'static str, Query), usize> = HashMap::new();
        let entries = inputs
            .iter()
            .map(|input| {
                let resolved = sources
                    .resolve(input, default_source)
                    .map(|(source, ticker)| {
                        let name = source.spec().name;
                        let query = Query { ticker, when };
                        let job = *index.entry((name, query.clone())).or_insert_with(|| {
                            jobs.push(Job { source, query });
                            jobs.len() - 1
                        });
                        (job, name)
                    });
                let (label, commodity) = match &resolved {
                    Ok((job, _)) => {
                        let Job { source, query } = &jobs[*job];
                        (query.ticker.to_string(), source.commodity(&query.ticker))
                    }
                    Err(_) => (label_for_input(input), None),
                };
                Entry {
                    input: input.clone(),
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

    /// The distinct jobs a round fetches.
    pub fn jobs(&self) -> &[Job] {
        &self.jobs
    }

    /// Whether any request of the plan goes to an https URL (only then is the system trust
    /// store loaded).
    pub fn uses_https(&self) -> bool {
        self.fx.uses_https()
            || self.jobs.iter().any(|job| {
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
        // One stop for both rounds: shared, so the second sees that the first was stopped.
        // One set of rate-limit gates too: opened here, at the start of the round.
        let stop = stop.shared();
        fetcher.open_gates();
        let mut fetched = fetcher.fetch_all(&self.jobs, progress, stop.clone()).await;
        self.fx.apply(fetcher, &self.jobs, &mut fetched, stop).await;
        Round { fetched }
    }

    /// The round's rows in input order: one per price (a range gives several), or one with
    /// the input's error. `max_age` (`--max-age`) turns a price older than that into an
    /// error, so a script never books an old mutual-fund NAV as today's.
    pub fn rows<'a>(&'a self, round: &'a Round, max_age: Option<Duration>) -> Vec<Row<'a>> {
        let now = jiff::Timestamp::now().as_second();
        let mut rows = Vec::with_capacity(self.entries.len());
        for entry in &self.entries {
            let row = |result| Row {
                input: &entry.input,
                label: &entry.label,
                source: entry.resolved.as_ref().ok().map(|(_, name)| *name),
                result,
                commodity: entry.commodity.as_deref(),
            };
            match &entry.resolved {
                Err(e) => rows.push(row(Err(e.clone()))),
                Ok((job, _)) => match round.fetched.get(*job) {
                    Some(Ok(quotes)) => {
                        rows.extend(quotes.iter().map(|q| row(check_age(q, max_age, now))));
                    }
                    Some(Err(e)) => rows.push(row(Err(e.clone()))),
                    None => rows.push(row(Err(FetchError::Other(
                        "internal: result missing".into(),
                    )))),
                },
            }
        }
        rows
    }
}

/// `--max-age`: a price older than `max_age` is an error.
fn check_age(quote: &Quote, max_age: Option<Duration>, now: i64) -> Result<&Quote, FetchError> {
    let (Some(max_age), Some(time)) = (max_age, quote.time) else {
        return Ok(quote);
    };
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
    fn durations_read_back_as_typed() {
        assert_eq!(humanize(Duration::from_secs(3 * 86_400)), "3d");
        assert_eq!(humanize(Duration::from_secs(90)), "90s");
        assert_eq!(humanize(Duration::from_secs(1800)), "30m");
    }
}
