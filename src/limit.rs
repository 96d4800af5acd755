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
    fn new(limits: &Limits) -> Limiter {
        Limiter {
            slots: limits.in_flight.map(|n| Semaphore::new(n.max(1))),
            spacing: limits.spacing.map(|every| Spacing {
                every,
                next: std::sync::Mutex::new(Instant::now()),
            }),
        }
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
    pub fn new() -> Limiters {
        Limiters {
            limiters: REGISTRY
                .iter()
                .filter(|spec| spec.limits.any())
                .map(|spec| (spec.name, Limiter::new(&spec.limits)))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn turns_are_spaced_from_start_to_start() {
        let limiter = Limiter::new(&Limits {
            in_flight: Some(1),
            spacing: Some(Duration::from_secs(1)),
            quota: "",
        });
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
        });
        let a = limiter.slot().await;
        let b = limiter.slot().await;
        assert!(a.is_some() && b.is_some());
        let third = tokio::time::timeout(Duration::from_millis(20), limiter.slot()).await;
        assert!(third.is_err(), "a third request must wait");
        drop(a);
        assert!(limiter.slot().await.is_some());
        let unlimited = Limiter::new(&Limits::NONE);
        assert!(unlimited.slot().await.is_none());
    }
}
