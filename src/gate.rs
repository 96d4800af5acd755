//! Rate limits handled per source, as a batch, not ticker by ticker.
//!
//! When a source answers 429, every request to it waits on one shared gate (for the
//! `Retry-After` it sent, or an exponential backoff with jitter) instead of each ticker
//! hammering on its own. Each 429 that arrives while the gate is open again starts a new
//! backoff episode; after `--retries` episodes the budget is spent and the remaining
//! tickers of that source fail at once with "rate limited". So the time a run spends
//! waiting on one source is bounded by the sum of at most `--retries` waits, each at most
//! 30 s (`MAX_RETRY_AFTER`) — with the default `--retries 2` and no Retry-After, about
//! 0.75 s.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// The longest `Retry-After` honoured; a server asking for more fails the source's
/// tickers instead of holding a script for minutes.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// First backoff waits about this long; each further one doubles it (±50% jitter). The
/// hidden `--backoff-base` flag changes it, so the test suite does not wait in real time.
pub const BACKOFF_BASE: Duration = Duration::from_millis(250);

/// The shared state of one source's rate limiting.
#[derive(Debug)]
pub struct Gate {
    budget: u32,
    base: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Requests wait until then.
    closed_until: Option<Instant>,
    /// Backoff episodes so far (reset by a success).
    episodes: u32,
    /// The budget is spent: fail fast, with the wait the server asked for, if any.
    exhausted: Option<Option<Duration>>,
}

/// What a request must do before going out.
#[derive(Debug, PartialEq, Eq)]
pub enum Admission {
    Go,
    Wait(Instant),
    /// Give up: the source keeps rate-limiting us (carrying its Retry-After, if any).
    RateLimited(Option<Duration>),
}

impl Gate {
    /// `budget` is `--retries`: how many backoff episodes a source gets.
    pub fn new(budget: u32, base: Duration) -> Gate {
        Gate {
            budget,
            base,
            state: Mutex::new(State::default()),
        }
    }

    pub fn admit(&self) -> Admission {
        let state = self.lock();
        if let Some(retry_after) = state.exhausted {
            return Admission::RateLimited(retry_after);
        }
        match state.closed_until {
            Some(until) if until > Instant::now() => Admission::Wait(until),
            _ => Admission::Go,
        }
    }

    /// A 429 arrived. Starts a new backoff episode unless one is already running (the
    /// other tickers' 429s from the same burst join it).
    pub fn rate_limited(&self, retry_after: Option<Duration>) {
        let mut state = self.lock();
        let now = Instant::now();
        if state.exhausted.is_some() || state.closed_until.is_some_and(|until| until > now) {
            return;
        }
        if state.episodes >= self.budget || retry_after.is_some_and(|d| d > MAX_RETRY_AFTER) {
            state.exhausted = Some(retry_after);
            return;
        }
        let wait = retry_after.unwrap_or_else(|| backoff(self.base, state.episodes));
        state.episodes += 1;
        state.closed_until = Some(now + wait);
    }

    /// A request got through: the source is not limiting us any more.
    pub fn succeeded(&self) {
        let mut state = self.lock();
        if state.exhausted.is_none() {
            state.episodes = 0;
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
    async fn a_burst_of_429s_is_one_episode_and_the_budget_ends_it() {
        let gate = Gate::new(2, BACKOFF_BASE);
        assert_eq!(gate.admit(), Admission::Go);
        // 100 tickers see a 429 in the same burst: one episode, one wait for all.
        for _ in 0..100 {
            gate.rate_limited(Some(Duration::from_secs(1)));
        }
        let Admission::Wait(until) = gate.admit() else {
            panic!("gate should be closed")
        };
        tokio::time::sleep_until(until).await;
        assert_eq!(gate.admit(), Admission::Go);
        gate.rate_limited(Some(Duration::from_secs(1)));
        tokio::time::sleep(Duration::from_secs(2)).await;
        // Third episode is beyond a budget of 2: everyone fails fast.
        gate.rate_limited(None);
        assert_eq!(gate.admit(), Admission::RateLimited(None));
    }

    #[test]
    fn a_long_retry_after_fails_fast_and_success_resets_episodes() {
        let gate = Gate::new(2, BACKOFF_BASE);
        gate.rate_limited(Some(Duration::from_secs(120)));
        assert_eq!(
            gate.admit(),
            Admission::RateLimited(Some(Duration::from_secs(120)))
        );
        let gate = Gate::new(1, BACKOFF_BASE);
        gate.rate_limited(Some(Duration::ZERO));
        gate.succeeded();
        gate.rate_limited(Some(Duration::ZERO));
        assert_eq!(gate.admit(), Admission::Go, "a success restores the budget");
    }
}
