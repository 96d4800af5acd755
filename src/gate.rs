//! Rate limits handled per source, as a batch, not request by request: a circuit breaker.
//!
//! When a source answers 429, its gate closes and every request to it waits (for the
//! `Retry-After` it sent, up to 30 s, or an exponential backoff with jitter) instead of each
//! ticker hammering on its own: a burst of 429s is ONE backoff episode. When the wait is
//! over the gate is half-open: ONE request (the probe) goes first, and the others follow
//! only if it gets through. A probe that is rate-limited again starts the next episode.
//!
//! The budget is the run's, never reset by a success in between: a source gets at most
//! `--retries` episodes per run (per `--watch` round), after which its remaining tickers
//! fail at once with "rate limited". So the time a run spends waiting on one source is at
//! most `--retries` × 30 s (`MAX_RETRY_AFTER`) whatever the interleaving of 429s and
//! successes — with the default `--retries 2` and no Retry-After, about 0.75 s — and a
//! source that answers 429 to everything costs at most one burst (`--jobs` requests) plus
//! one probe per episode.
//!
//! **In a chain of sources** (issue 19) only the last source of a ticker's chain waits. For
//! any other, a closed gate, a probe in flight, a spent budget or a 429 of its own sends the
//! ticker on to the next source at once (the 429 still counts here, so the tickers behind it
//! skip the source without a request until the wait is over; then one of them is the probe).
//! So Yahoo refusing everything costs a chain one burst of 429s and no backoff, and a source
//! asked alone, or last, behaves exactly as above.
//!
//! A 429 that says a quota is spent (an hourly or daily allowance; the source reads it,
//! `Source::quota_spent`) ends the source for the run: every request after it fails at once
//! with the source's words, wherever it is in a chain.

use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

/// The longest `Retry-After` honoured; a server asking for more fails the source's
/// tickers instead of holding a script for minutes.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// The shared state of one source's rate limiting.
#[derive(Debug)]
pub struct Gate {
    budget: u32,
    base: Duration,
    state: Mutex<State>,
    /// Bumped whenever the state changes, so requests waiting on a probe wake up.
    changed: watch::Sender<u64>,
}

#[derive(Debug, Default)]
struct State {
    phase: Phase,
    /// Backoff episodes so far in this run (never reset by a success).
    episodes: u32,
    /// The source's words when it said a quota is spent (issue 19): then nothing more is
    /// asked of it this run.
    spent: Option<String>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Requests go.
    #[default]
    Open,
    /// Everyone waits until then; the first request after it is the probe.
    Closed(Instant),
    /// The probe is out; everyone else waits for its outcome.
    Probing,
    /// The budget is spent: fail fast, with the wait the server last asked for, if any.
    Exhausted(Option<Duration>),
}

/// Which episode a request was let through in: a 429 from a request let through before
/// the latest episode began belongs to a burst already accounted for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket(u32);

/// What a request must do before going out.
#[derive(Debug)]
pub enum Admission {
    /// Go. Every outcome is reported ([`Gate::succeeded`], [`Gate::rate_limited`] or
    /// [`Gate::not_limited`]): the one request that goes after a wait is the probe, and
    /// the others wait on its outcome.
    Go(Ticket),
    /// Wait until then, then ask again.
    Wait(Instant),
    /// Wait for the probe's outcome (the receiver changes), then ask again.
    WaitProbe(watch::Receiver<u64>),
    /// Give up: the source keeps rate-limiting us (carrying its Retry-After, if any).
    RateLimited(Option<Duration>),
    /// Give up: the source said a quota is spent (its words).
    QuotaSpent(String),
}

impl Gate {
    /// `budget` is `--retries`: how many backoff episodes a source gets in a run; `base`
    /// is the first backoff (0.25 s; the hidden `--backoff-base` flag changes it, so the
    /// test suite does not wait in real time).
    pub fn new(budget: u32, base: Duration) -> Gate {
        Gate {
            budget,
            base,
            state: Mutex::new(State::default()),
            changed: watch::Sender::new(0),
        }
    }

    pub fn admit(&self) -> Admission {
        let mut state = self.lock();
        if let Some(spent) = &state.spent {
            return Admission::QuotaSpent(spent.clone());
        }
        match state.phase {
            Phase::Open => Admission::Go(Ticket(state.episodes)),
            Phase::Exhausted(retry_after) => Admission::RateLimited(retry_after),
            Phase::Closed(until) if until > Instant::now() => Admission::Wait(until),
            Phase::Closed(_) => {
                state.phase = Phase::Probing;
                Admission::Go(Ticket(state.episodes))
            }
            Phase::Probing => Admission::WaitProbe(self.changed.subscribe()),
        }
    }

    /// A 429 arrived for a request let through with `ticket`. Starts a new backoff episode
    /// unless one is already running (the other requests' 429s from the same burst join it)
    /// or the request went out before the latest episode began (a slow 429 of a burst
    /// already accounted for), or spends the budget.
    pub fn rate_limited(&self, ticket: Ticket, retry_after: Option<Duration>) {
        let mut state = self.lock();
        match state.phase {
            Phase::Exhausted(_) | Phase::Closed(_) => return,
            Phase::Open | Phase::Probing if ticket.0 < state.episodes => return,
            Phase::Open | Phase::Probing => {}
        }
        state.phase =
            if state.episodes >= self.budget || retry_after.is_some_and(|d| d > MAX_RETRY_AFTER) {
                Phase::Exhausted(retry_after)
            } else {
                let wait = retry_after.unwrap_or_else(|| backoff(self.base, state.episodes));
                state.episodes += 1;
                Phase::Closed(Instant::now() + wait)
            };
        drop(state);
        self.changed.send_modify(|n| *n += 1);
    }

    /// The source said a quota is spent (issue 19: a 429 saying an hourly or daily allowance
    /// is used up): every request to it from now on fails at once with its words, and the
    /// requests waiting on a probe wake up to learn it.
    pub fn spent(&self, words: String) {
        self.lock().spent = Some(words);
        self.changed.send_modify(|n| *n += 1);
    }

    /// A request got through: the source is not limiting us now; a probe reopens the gate.
    pub fn succeeded(&self) {
        self.not_limited();
    }

    /// A request ended without a 429 (an answer, or another failure): a probe that did so
    /// reopens the gate, so the requests waiting on it go.
    pub fn not_limited(&self) {
        let mut state = self.lock();
        if state.phase == Phase::Probing {
            state.phase = Phase::Open;
            drop(state);
            self.changed.send_modify(|n| *n += 1);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state stays consistent even if a holder panicked; keep going.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Exponential backoff with ±50% jitter, so that retries spread out.
pub fn backoff(base: Duration, attempt: u32) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.min(6));
    exp.mul_f64(0.5 + fastrand::f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BACKOFF_BASE: Duration = Duration::from_millis(250);

    fn go(admission: Admission) -> Ticket {
        match admission {
            Admission::Go(ticket) => ticket,
            other => panic!("expected Go, got {other:?}"),
        }
    }

    #[test]
    fn backoff_grows_and_stays_jittered() {
        for attempt in 0..4 {
            let nominal = BACKOFF_BASE * (1 << attempt);
            let got = backoff(BACKOFF_BASE, attempt);
            assert!(
                got >= nominal / 2 && got <= nominal * 3 / 2,
                "{attempt}: {got:?}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_is_one_episode_then_one_probe_goes_first() {
        let gate = Gate::new(2, BACKOFF_BASE);
        let burst = go(gate.admit());
        // 100 requests see a 429 in the same burst: one episode, one wait for all.
        for _ in 0..100 {
            gate.rate_limited(burst, Some(Duration::from_secs(1)));
        }
        let Admission::Wait(until) = gate.admit() else {
            panic!("gate should be closed")
        };
        tokio::time::sleep_until(until).await;
        // Half-open: the first request is the probe, the rest wait for its outcome.
        go(gate.admit());
        let Admission::WaitProbe(mut changed) = gate.admit() else {
            panic!("others wait for the probe")
        };
        gate.succeeded();
        changed.changed().await.unwrap();
        go(gate.admit()); // open again after the probe got through
        // A slow 429 from the first burst, arriving now, is no new episode.
        gate.rate_limited(burst, None);
        go(gate.admit());
    }

    #[tokio::test(start_paused = true)]
    async fn the_budget_is_the_runs_whatever_succeeds_in_between() {
        // Four tickers at -j 1, each first answered 429 Retry-After: 30 with a success in
        // between: a success used to reset the budget, and the run waited 120 s.
        let gate = Gate::new(2, BACKOFF_BASE);
        let mut waited = Duration::ZERO;
        for _ in 0..4 {
            let ticket = match gate.admit() {
                Admission::Go(ticket) => ticket,
                Admission::RateLimited(_) => break,
                other => panic!("{other:?}"),
            };
            gate.rate_limited(ticket, Some(MAX_RETRY_AFTER));
            if let Admission::Wait(until) = gate.admit() {
                waited += until - Instant::now();
                tokio::time::sleep_until(until).await;
                go(gate.admit()); // the probe
                gate.succeeded();
            }
        }
        assert_eq!(waited, 2 * MAX_RETRY_AFTER);
        assert!(matches!(gate.admit(), Admission::RateLimited(_)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_probe_that_fails_otherwise_reopens_and_a_limited_one_closes_again() {
        let gate = Gate::new(3, BACKOFF_BASE);
        let first = go(gate.admit());
        gate.rate_limited(first, None);
        let Admission::Wait(until) = gate.admit() else {
            panic!()
        };
        tokio::time::sleep_until(until).await;
        let probe = go(gate.admit());
        gate.rate_limited(probe, None);
        let Admission::Wait(until) = gate.admit() else {
            panic!("a second episode")
        };
        tokio::time::sleep_until(until).await;
        go(gate.admit());
        assert!(matches!(gate.admit(), Admission::WaitProbe(_)));
        gate.not_limited(); // e.g. a 503: not a rate limit
        go(gate.admit());
    }

    #[test]
    fn a_spent_quota_fails_everything_after_it() {
        let gate = Gate::new(2, BACKOFF_BASE);
        go(gate.admit());
        gate.spent("hourly allocation".into());
        assert!(
            matches!(gate.admit(), Admission::QuotaSpent(words) if words == "hourly allocation")
        );
        gate.succeeded();
        assert!(matches!(gate.admit(), Admission::QuotaSpent(_)));
    }

    #[test]
    fn a_long_retry_after_fails_fast() {
        let gate = Gate::new(2, BACKOFF_BASE);
        let ticket = go(gate.admit());
        gate.rate_limited(ticket, Some(Duration::from_secs(120)));
        assert!(matches!(
            gate.admit(),
            Admission::RateLimited(Some(d)) if d == Duration::from_secs(120)
        ));
    }
}
