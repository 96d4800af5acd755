//! `--watch SECONDS`: fetch again and again with the same client (and its open
//! connections) until Ctrl-C.
//!
//! On a terminal the table is redrawn in place under the time of the last refresh.
//! Anywhere else each round is appended, so `quotes --watch 60 -f jsonl AAPL >> log`
//! builds a log (csv writes its header once). A failing round is reported on stderr and
//! the watch goes on; Ctrl-C ends it with status 0.

use std::io::{self, IsTerminal, Write};
use std::time::Duration;

use crate::fetch::Fetcher;
use crate::output::{self, Format, Style};
use crate::{ExitStatus, Plan, emit};

pub async fn run(
    fetcher: &Fetcher,
    plan: &Plan,
    format: Format,
    mut style: Style,
    every: Duration,
    rounds: Option<u64>,
) -> ExitStatus {
    let redraw = format == Format::Table && io::stdout().is_terminal();
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut status;
    let mut drawn_lines = 0;
    let mut round = 0u64;
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = &mut ctrl_c => return ExitStatus::Success,
        }
        let rows = tokio::select! {
            rows = plan.fetch(fetcher, None, std::future::pending()) => rows,
            _ = &mut ctrl_c => return ExitStatus::Success,
        };
        round += 1;
        let gone;
        if redraw {
            (status, drawn_lines) = redraw_table(rows, &style, drawn_lines);
            gone = false;
        } else {
            (status, gone) = emit(format, rows, &style);
            style.header = false;
        }
        if gone || rounds.is_some_and(|n| round >= n) {
            return status;
        }
    }
}

/// Replace the previous round's lines on the terminal with this round's; returns how
/// many lines are now drawn (table, status line, and errors when stderr is the terminal).
fn redraw_table(rows: Vec<output::Row>, style: &Style, drawn: usize) -> (ExitStatus, usize) {
    let mut block = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = output::table::write(&rows, style, &mut block);
    let now = jiff::Timestamp::now().strftime("%H:%M:%S UTC").to_string();
    let _ = writeln!(block, "updated {now}  (Ctrl-C to stop)");
    let mut lines = block.iter().filter(|b| **b == b'\n').count();
    let mut out = io::stdout().lock();
    if drawn > 0 {
        // Cursor up over the old block, then clear to the end of the screen.
        let _ = write!(out, "\x1b[{drawn}A\x1b[J");
    }
    let _ = out.write_all(&block);
    let _ = out.flush();
    let failed = rows.iter().filter(|r| r.result.is_err()).count();
    let _ = output::report_errors(&rows, &mut io::stderr().lock());
    if io::stderr().is_terminal() {
        lines += failed;
    }
    let status = if failed == 0 {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    };
    (status, lines)
}
