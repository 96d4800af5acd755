//! `--watch SECONDS`: fetch again and again with the same client (and its open
//! connections) until Ctrl-C or SIGTERM.
//!
//! On a terminal the table is redrawn in place under the time of the last refresh.
//! Anywhere else each round is appended, so `quotes --watch 60 -f jsonl AAPL >> log`
//! builds a log (csv writes its header once). A failing round is reported on stderr and
//! the watch goes on. Ctrl-C or SIGTERM ends it at once, and it dies by that signal like any
//! run (so a shell loop of watches stops too); a round it interrupts prints what arrived
//! and names the tickers it interrupted, as a single run does.
//!
//! Redrawing moves the cursor up over the previous round by SCREEN rows, not lines: a line
//! wider than the terminal (a long name, the not-found hint on stderr) wraps onto several
//! rows, and counting it as one would leave stale rows behind every round.

use std::io::{self, IsTerminal};
use std::time::Duration;

use unicode_width::UnicodeWidthStr;

use crate::exit::{ExitStatus, Signals};
use crate::fetch::Fetcher;
use crate::output::{self, FormatSpec, Style, Written};
use crate::plan::Plan;

/// What `--watch` needs beyond the plan.
pub struct Watch<'a> {
    pub fetcher: &'a Fetcher,
    pub plan: &'a Plan,
    pub format: &'static FormatSpec,
    pub style: Style,
    pub every: Duration,
    /// Stop after this many rounds (hidden `--watch-rounds`).
    pub rounds: Option<u64>,
    pub max_age: Option<Duration>,
}

impl Watch<'_> {
    pub async fn run(self, signals: &mut Signals) -> ExitStatus {
        let redraw = self.format.for_people && io::stdout().is_terminal();
        let mut renderer = (self.format.renderer)();
        let mut ticks = tokio::time::interval(self.every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut drawn_rows = 0;
        let mut round = 0u64;
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                stop = signals.next() => return stop.status(ExitStatus::Success),
            }
            // A signal mid-round ends the fetch: what arrived is printed, and the tickers it
            // interrupted named, as in a single run (issue 18; it used to print nothing).
            let mut stopped = None;
            let stop = async {
                let stop = signals.next().await;
                stopped = Some(stop);
                stop.error()
            };
            let fetched = self.plan.fetch(self.fetcher, None, stop).await;
            round += 1;
            let rows = self.plan.rows(&fetched, self.max_age);
            let mut rendered = output::render(self.format, &mut *renderer, rows, &self.style);
            if redraw {
                (rendered, drawn_rows) = redraw_block(rendered, drawn_rows);
            }
            let status = ExitStatus::from_failed(rendered.failed);
            let written = match output::write_unless_signalled(rendered, signals, stopped).await {
                Ok(written) => written,
                Err(stop) => return stop.status(status),
            };
            if let Some(stop) = stopped {
                return stop.status(status);
            }
            match written {
                Written::Ok => {}
                Written::Gone => return status,
                Written::Failed => return ExitStatus::Failure,
            }
            if self.rounds.is_some_and(|n| round >= n) {
                return status;
            }
        }
    }
}

/// This round's table and status line, preceded by the escapes that move the cursor up
/// over the previous round (`drawn` screen rows) and clear to the end of the screen; and
/// how many screen rows are drawn now (counting stderr's lines when stderr is the same
/// terminal).
fn redraw_block(mut rendered: output::Rendered, drawn: usize) -> (output::Rendered, usize) {
    let now = jiff::Timestamp::now().strftime("%H:%M:%S UTC").to_string();
    rendered
        .stdout
        .extend_from_slice(format!("updated {now}  (Ctrl-C to stop)\n").as_bytes());
    let columns = terminal_columns();
    let mut rows = screen_rows(&String::from_utf8_lossy(&rendered.stdout), columns);
    if io::stderr().is_terminal() {
        rows += screen_rows(&String::from_utf8_lossy(&rendered.stderr), columns);
    }
    if drawn > 0 {
        // Cursor up over the old block, then clear to the end of the screen.
        let mut block = format!("\x1b[{drawn}A\x1b[J").into_bytes();
        block.append(&mut rendered.stdout);
        rendered.stdout = block;
    }
    (rendered, rows)
}

/// How many screen rows `text` takes on a terminal `columns` wide: each line at least one,
/// a longer one as many as it wraps onto. Colour escapes take no room.
pub fn screen_rows(text: &str, columns: usize) -> usize {
    let columns = columns.max(1);
    text.lines()
        .map(|line| visible_width(line).div_ceil(columns).max(1))
        .sum()
}

/// The display width of a line without its SGR colour escapes (`ESC [ … m`).
fn visible_width(line: &str) -> usize {
    let mut width = 0;
    let mut rest = line;
    while let Some(at) = rest.find('\x1b') {
        width += rest[..at].width();
        rest = &rest[at..];
        rest = match rest.find('m') {
            Some(end) => &rest[end + 1..],
            None => "",
        };
    }
    width + rest.width()
}

/// The terminal's width in columns (stdout's), or 80 when it cannot be told.
fn terminal_columns() -> usize {
    terminal_size::terminal_size_of(io::stdout())
        .map_or(80, |(terminal_size::Width(columns), _)| {
            usize::from(columns)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_lines_count_every_screen_row() {
        assert_eq!(screen_rows("a\nb\n", 80), 2);
        assert_eq!(screen_rows(&"x".repeat(80), 80), 1);
        assert_eq!(screen_rows(&"x".repeat(81), 80), 2);
        assert_eq!(screen_rows(&format!("{}\n\n", "x".repeat(200)), 80), 4);
        // Colour escapes take no columns; wide characters take two.
        assert_eq!(
            screen_rows(&format!("\x1b[32m{}\x1b[0m", "x".repeat(80)), 80),
            1
        );
        assert_eq!(screen_rows(&"日".repeat(41), 80), 2);
        assert_eq!(screen_rows("", 80), 0);
    }
}
