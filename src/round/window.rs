//! The window of a round: which job starts next, and each finished job's result until its
//! turn. Jobs start in input order while fewer than `--jobs` are unfinished and the memory
//! the window may need stays within [`BUDGET`]: what each unfinished job may bring (its
//! [`estimate`]: one price, or one per day of its range) and what the finished ones hold
//! while they wait for a slower one before them. Results are taken in the same order. A
//! stop gives every unfinished job the stop's error.

use std::collections::VecDeque;

use super::job::Done;
use crate::error::FetchError;
use crate::fetch::Job;
use crate::quote::Quote;
use crate::source::When;

/// Bytes of prices the jobs of a window may hold at once, in flight or waiting for their
/// turn. Latest prices never come near it (a price is a few hundred bytes); a history of 30
/// years is about 2.8 MB, so about a dozen such jobs are under way at once. The first job of
/// the window always starts, however large.
pub const BUDGET: usize = 48 << 20;

/// About the most bytes a job's prices may take: one price, or one per day of its range
/// (the answer is daily, whatever the interval), each with its currency.
pub fn estimate(job: &Job) -> usize {
    let prices = match job.query.when {
        When::Latest | When::Close(..) => 1,
        When::Range(range) => range
            .to
            .since(range.from)
            .map_or(1, |span| usize::try_from(span.get_days()).unwrap_or(0) + 1),
    };
    prices.saturating_mul(super::PRICE_BYTES)
}

/// About how many bytes `quotes` take.
pub fn held(quotes: &[Quote]) -> usize {
    quotes.len().saturating_mul(super::PRICE_BYTES)
}

/// One job between its start and its turn.
struct Slot {
    /// What it was counted for while unfinished.
    estimate: usize,
    done: Option<Done>,
}

pub struct Window {
    /// Jobs in the round.
    total: usize,
    /// Unfinished jobs at once (`--jobs`).
    limit: usize,
    /// The next job to start.
    next: usize,
    /// The next job to take.
    head: usize,
    /// Jobs `head..next`.
    slots: VecDeque<Slot>,
    /// The estimates of the unfinished jobs and the bytes held by the finished ones.
    committed: usize,
    /// The error of every job unfinished when the round was stopped.
    stopped: Option<FetchError>,
}

impl Window {
    pub fn new(total: usize, limit: usize) -> Window {
        Window {
            total,
            limit: limit.max(1),
            next: 0,
            head: 0,
            slots: VecDeque::new(),
            committed: 0,
            stopped: None,
        }
    }

    /// The next job to start, if the window lets one of `jobs` start with `running`
    /// unfinished.
    pub fn admit(&mut self, running: usize, jobs: &[Job]) -> Option<usize> {
        if self.stopped.is_some() || self.next >= self.total || running >= self.limit {
            return None;
        }
        let estimate = jobs.get(self.next).map_or(0, estimate);
        if !self.slots.is_empty() && self.committed.saturating_add(estimate) > BUDGET {
            return None;
        }
        self.committed += estimate;
        self.slots.push_back(Slot {
            estimate,
            done: None,
        });
        self.next += 1;
        Some(self.next - 1)
    }

    /// Whether jobs are left to start.
    pub fn waiting(&self) -> bool {
        self.stopped.is_none() && self.next < self.total
    }

    /// Job `i` finished.
    pub fn finished(&mut self, i: usize, done: Done) {
        if let Some(slot) = i
            .checked_sub(self.head)
            .and_then(|at| self.slots.get_mut(at))
            .filter(|slot| slot.done.is_none())
        {
            self.committed = self.committed - slot.estimate + done.held;
            slot.done = Some(done);
        }
    }

    /// Job `i`'s result, when `i` is the next to take and it is in (`jobs` are the round's,
    /// for the source a job stopped before it started would have asked).
    pub fn take(&mut self, i: usize, jobs: &[Job]) -> Option<Done> {
        if i != self.head {
            return None;
        }
        let done = match self.slots.front_mut() {
            Some(slot) => {
                let done = slot.done.take()?;
                self.slots.pop_front();
                self.committed -= done.held;
                done
            }
            // Never started: the round was stopped first.
            None => {
                let source = jobs.get(i).map_or("", |job| job.source.spec().name);
                Done::failed(self.stopped.clone()?, source)
            }
        };
        self.head += 1;
        Some(done)
    }

    /// The round is stopped: every job not finished gets `error` (and the source it would
    /// have asked first), and none starts.
    pub fn stop(&mut self, error: FetchError, jobs: &[Job]) {
        for (at, slot) in self.slots.iter_mut().enumerate() {
            if slot.done.is_none() {
                let source = jobs
                    .get(self.head + at)
                    .map_or("", |job| job.source.spec().name);
                self.committed -= slot.estimate;
                slot.done = Some(Done::failed(error.clone(), source));
            }
        }
        self.stopped = Some(error);
    }
}
