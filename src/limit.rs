//! A source's own limits, enforced for the whole run (issue 19): at most so many of its
//! requests in flight at once, and at least so long between the starts of two of them.
//!
//! The limits are declared in the registry (`SourceSpec::limits`: Nasdaq's small
//! concurrency, Alpha Vantage's one request a second) and hold on top of `--jobs`: a request
//! to a limited source first takes one of its source's slots, then one of the `--jobs`
//! permits, then waits for its turn. Taking the source's slot first means requests queued
//! behind a slow source never hold `--jobs` permits other sources could use. The spacing is
//! counted between starts of requests (retries included) and is never reset, not even by a
//! `--watch` round. Sources without limits cost nothing here: they have no limiter.
//!
//! **Whose choice wins** (issue 19, the lead's decision). A concurrency cap is a politeness
//! default: an explicit `-j N` is the user's choice and lifts it up to N (`--jobs` then bounds
//! that source as it bounds every other). A spacing, and the one request at a time that
//! enforces it, is the provider's rule (Alpha Vantage answers a second request within a
//! second with a refusal that spends the run), and no flag lifts it; nor does one lift a
//! quota, which the source reads from its answers (`Source::quota_spent`).

use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;

use crate::source::{Limits, REGISTRY, SourceSpec};

/// One limited source's state.
#[derive(Debug)]
pub struct Limiter {
    slots: Option<Semaphore>,
    spacing: Option<Spacing>,
}

#[derive(Debug)]
struct Spacing {
    every: Duration,
    /// When the next request may start.
    next: std::sync::Mutex<Instant>,
}

impl Limiter {
    /// `None` when nothing is left to enforce.
    fn new(limits: &Limits) -> Option<Limiter> {
        limits.any().then(|| Limiter {
            slots: limits.in_flight.map(|n| Semaphore::new(n.max(1))),
            spacing: limits.spacing.map(|every| Spacing {
                every,
                next: std::sync::Mutex::new(Instant::now()),
            }),
        })
    }

    /// One of the source's slots, held for the whole request (its retries included); `None`
    /// when it has no cap.
    pub async fn slot(&self) -> Option<SemaphorePermit<'_>> {
        match &self.slots {
            // The semaphore is never closed, so acquire cannot fail.
            Some(slots) => slots.acquire().await.ok(),
            None => None,
        }
    }

    /// Wait for this request's turn: at least the spacing after the start of the one before.
    pub async fn turn(&self) {
        let Some(spacing) = &self.spacing else {
            return;
        };
        let start = {
            let mut next = spacing.next.lock().unwrap_or_else(|e| e.into_inner());
            let start = (*next).max(Instant::now());
            *next = start + spacing.every;
            start
        };
        tokio::time::sleep_until(start).await;
    }
}

/// The limiters of every registered source that has limits, built once per run.
#[derive(Debug)]
pub struct Limiters {
    limiters: Vec<(&'static str, Limiter)>,
}

impl Limiters {
    /// The limits of the run: each source's own, but with `jobs_given` (an explicit `-j`)
    /// the concurrency caps of the sources without a spacing are lifted (see the module docs).
    pub fn new(jobs_given: bool) -> Limiters {
        Limiters {
            limiters: REGISTRY
                .iter()
                .filter_map(|spec| {
                    let limits = effective(&spec.limits, jobs_given);
                    Some((spec.name, Limiter::new(&limits)?))
                })
                .collect(),
        }
    }

    /// The limiter of `spec`'s source; `None` (at the cost of a field read) when it has no
    /// limits.
    pub fn of(&self, spec: &SourceSpec) -> Option<&Limiter> {
        if !spec.limits.any() {
            return None;
        }
        self.limiters
            .iter()
            .find(|(name, _)| *name == spec.name)
            .map(|(_, limiter)| limiter)
    }
}

/// What of `limits` holds in a run: a concurrency cap unless `-j` was given, a spacing (and
/// the cap that comes with it) always.
pub fn effective(limits: &Limits, jobs_given: bool) -> Limits {
    if jobs_given && limits.spacing.is_none() {
        return Limits {
            in_flight: None,
            ..*limits
        };
    }
    *limits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_explicit_jobs_lifts_a_cap_but_never_a_spacing() {
        let capped = Limits {
            in_flight: Some(10),
            spacing: None,
            quota: "",
        };
        assert_eq!(effective(&capped, false).in_flight, Some(10));
        assert_eq!(effective(&capped, true).in_flight, None);
        let spaced = Limits {
            in_flight: Some(1),
            spacing: Some(Duration::from_secs(1)),
            quota: "25 a day",
        };
        let lifted = effective(&spaced, true);
        assert_eq!(
            (lifted.in_flight, lifted.spacing),
            (Some(1), Some(Duration::from_secs(1)))
        );
        // Every registered source: with -j, only spaced ones keep a limiter.
        let limiters = Limiters::new(true);
        for spec in REGISTRY {
            assert_eq!(
                limiters.of(spec).is_some(),
                spec.limits.spacing.is_some(),
                "{}",
                spec.name
            );
        }
        let limiters = Limiters::new(false);
        for spec in REGISTRY {
            assert_eq!(
                limiters.of(spec).is_some(),
                spec.limits.any(),
                "{}",
                spec.name
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn turns_are_spaced_from_start_to_start() {
        let limiter = Limiter::new(&Limits {
            in_flight: Some(1),
            spacing: Some(Duration::from_secs(1)),
            quota: "",
        })
        .unwrap();
        let started = Instant::now();
        let mut starts = Vec::new();
        for _ in 0..3 {
            let _slot = limiter.slot().await;
            limiter.turn().await;
            starts.push(started.elapsed());
        }
        assert_eq!(
            starts,
            [
                Duration::ZERO,
                Duration::from_secs(1),
                Duration::from_secs(2)
            ]
        );
        // A long pause earns no burst: the next turn is now, the one after a second later.
        tokio::time::sleep(Duration::from_secs(10)).await;
        let before = Instant::now();
        limiter.turn().await;
        limiter.turn().await;
        assert_eq!(before.elapsed(), Duration::from_secs(1));
    }

    #[tokio::test]
    async fn slots_cap_what_is_in_flight() {
        let limiter = Limiter::new(&Limits {
            in_flight: Some(2),
            spacing: None,
            quota: "",
        })
        .unwrap();
        let a = limiter.slot().await;
        let b = limiter.slot().await;
        assert!(a.is_some() && b.is_some());
        let third = tokio::time::timeout(Duration::from_millis(20), limiter.slot()).await;
        assert!(third.is_err(), "a third request must wait");
        drop(a);
        assert!(limiter.slot().await.is_some());
        assert!(Limiter::new(&Limits::NONE).is_none());
    }
}
