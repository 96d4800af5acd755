//! Progress on stderr for people waiting at a terminal: `quotes: 120/300 done, 2 failed`.
//!
//! Shown only when stderr is a terminal and the run has taken longer than about a
//! second, redrawn in place a few times a second, and cleared when the run ends, so
//! it never mixes with results or with the per-ticker error lines.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// How long a run may take before progress appears.
const QUIET_FOR: Duration = Duration::from_secs(1);
const REDRAW_EVERY: Duration = Duration::from_millis(100);

/// Counters the fetcher updates as tickers finish.
#[derive(Debug, Default)]
pub struct Progress {
    total: AtomicUsize,
    done: AtomicUsize,
    failed: AtomicUsize,
}

impl Progress {
    pub fn set_total(&self, total: usize) {
        self.total.store(total, Ordering::Relaxed);
        self.done.store(0, Ordering::Relaxed);
        self.failed.store(0, Ordering::Relaxed);
    }

    pub fn record(&self, ok: bool) {
        self.done.fetch_add(1, Ordering::Relaxed);
        if !ok {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn line(&self) -> String {
        let done = self.done.load(Ordering::Relaxed);
        let total = self.total.load(Ordering::Relaxed);
        match self.failed.load(Ordering::Relaxed) {
            0 => format!("quotes: {done}/{total} done"),
            failed => format!("quotes: {done}/{total} done, {failed} failed"),
        }
    }
}

/// Run `work` while drawing `progress` on stderr (when `show`), then clear the line.
pub async fn while_running<F: std::future::Future>(
    progress: &Progress,
    show: bool,
    work: F,
) -> F::Output {
    tokio::pin!(work);
    if !show {
        return work.await;
    }
    tokio::select! {
        output = &mut work => return output,
        () = tokio::time::sleep(QUIET_FOR) => {}
    }
    let mut tick = tokio::time::interval(REDRAW_EVERY);
    let output = loop {
        tokio::select! {
            output = &mut work => break output,
            _ = tick.tick() => draw(&format!("\r\x1b[2K{}", progress.line())),
        }
    };
    draw("\r\x1b[2K");
    output
}

/// `\r` and "erase line" redraw in place; a failed write only loses a frame.
fn draw(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
    let _ = err.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_counts_done_and_failed() {
        let p = Progress::default();
        p.set_total(3);
        p.record(true);
        assert_eq!(p.line(), "quotes: 1/3 done");
        p.record(false);
        assert_eq!(p.line(), "quotes: 2/3 done, 1 failed");
    }
}
