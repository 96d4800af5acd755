//! `quotes`: the whole program behind `main`, callable from tests.
//!
//! The data flows one way: arguments → validated ticker list → concurrent fetch →
//! results in input order → one writer. Each step has its own module:
//!
//! - `cli`: the command line; `input`: tickers from arguments, stdin and files;
//! - `ticker`: what a valid symbol is;
//! - `fetch`: the one HTTP client, the `--jobs` bound, retries, timeouts;
//! - `source`: one file per price API (`source/yahoo.rs`);
//! - `quote`: a price and its exact rounding;
//! - `output`: the formats; `progress`: the terminal progress line;
//! - `error`: what a user can see go wrong for one ticker.

pub mod cli;
pub mod error;
pub mod fetch;
pub mod input;
pub mod output;
pub mod progress;
pub mod quote;
pub mod source;
pub mod ticker;

use std::io::{self, IsTerminal, Write};
use std::sync::Arc;

use crate::cli::{Cli, ColorChoice};
use crate::error::FetchError;
use crate::fetch::{Fetcher, Job, Settings};
use crate::output::{Format, Row, Style, label_for_input};
use crate::progress::Progress;
use crate::source::{Query, Source, Yahoo, normalize_base_url};
use crate::ticker::Ticker;

/// How a run ended; `main` turns it into the process exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: every ticker printed.
    Success,
    /// 1: at least one ticker failed, or output could not be written.
    Failure,
}

impl ExitStatus {
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 1,
        }
    }
}

/// A mistake in how `quotes` was called: exit status 2, like clap's own errors.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Run `quotes` with parsed arguments.
pub async fn run(cli: Cli) -> anyhow::Result<ExitStatus> {
    if let Some(shell) = cli.completions {
        cli::write_completions(shell, &mut io::stdout().lock());
        return Ok(ExitStatus::Success);
    }
    if cli.man {
        return Ok(finish_stdout(cli::write_man(&mut io::stdout().lock())));
    }
    let inputs = input::collect(&cli.inputs).map_err(|e| UsageError(e.to_string()))?;
    if inputs.is_empty() {
        return Err(UsageError(
            "no tickers given; try `quotes AAPL MSFT`, `quotes --file LIST`, or `quotes --help`"
                .into(),
        )
        .into());
    }
    let yahoo_url =
        normalize_base_url("--yahoo-url/QUOTES_YAHOO_URL", &cli.yahoo_url).map_err(UsageError)?;
    let yahoo: Arc<dyn Source> = Arc::new(Yahoo::new(yahoo_url));

    let fetcher = Fetcher::new(Settings {
        jobs: usize::from(cli.jobs),
        timeout: cli.timeout,
        retries: cli.retries,
        user_agent: cli
            .user_agent
            .clone()
            .unwrap_or_else(|| format!("quotes/{}", env!("CARGO_PKG_VERSION"))),
    })?;
    let progress = Progress::default();
    let show_progress = io::stderr().is_terminal();
    let mut rows = progress::while_running(
        &progress,
        show_progress,
        fetch_rows(&fetcher, &yahoo, &inputs, &progress),
    )
    .await;

    output::check_representable(cli.format, &mut rows);
    let style = Style {
        precision: cli.precision,
        fields: cli.fields.0.clone(),
        color: cli.format == Format::Table && use_color(cli.color),
    };
    let mut status = if rows.iter().all(|r| r.result.is_ok()) {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    };
    let mut out = io::BufWriter::new(io::stdout().lock());
    let written = output::write(cli.format, &rows, &style, &mut out).and_then(|()| out.flush());
    if finish_stdout(written) == ExitStatus::Failure {
        status = ExitStatus::Failure;
    }
    // stderr may be closed too; there is nobody left to tell.
    let _ = output::report_errors(&rows, &mut io::stderr().lock());
    Ok(status)
}

/// Validate every input, fetch the valid ones, and put the results back in input order.
async fn fetch_rows(
    fetcher: &Fetcher,
    yahoo: &Arc<dyn Source>,
    inputs: &[String],
    progress: &Progress,
) -> Vec<Row> {
    // Validate at the edge: an invalid ticker never reaches a server.
    let parsed: Vec<Result<Job, FetchError>> = inputs
        .iter()
        .map(|input| {
            Ticker::parse(input).map(|ticker| Job {
                source: Arc::clone(yahoo),
                query: Query { ticker, date: None },
            })
        })
        .collect();
    let jobs: Vec<Job> = parsed
        .iter()
        .filter_map(|j| j.as_ref().ok())
        .cloned()
        .collect();
    let mut fetched = fetcher.fetch_all(&jobs, Some(progress)).await.into_iter();
    inputs
        .iter()
        .zip(parsed)
        .map(|(input, parsed)| match parsed {
            Ok(job) => Row {
                input: input.clone(),
                label: job.query.ticker.to_string(),
                source: Some(job.source.name()),
                // fetch_all returns one result per job, and jobs are the valid inputs in order.
                result: fetched
                    .next()
                    .unwrap_or_else(|| Err(FetchError::Other("internal: result missing".into()))),
            },
            Err(e) => Row {
                input: input.clone(),
                label: label_for_input(input),
                source: None,
                result: Err(e),
            },
        })
        .collect()
}

/// `--color`: auto means stdout is a terminal and `NO_COLOR` is unset or empty
/// (<https://no-color.org>); `always` and `never` are explicit and win.
fn use_color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    }
}

/// What a write to stdout means for the exit status. A broken pipe means the reader
/// (`head -1`) has what it wanted: quiet, and not a failure (ripgrep does the same).
/// Anything else (a full disk, `> /dev/full`) is reported.
fn finish_stdout(result: io::Result<()>) -> ExitStatus {
    match result {
        Ok(()) => ExitStatus::Success,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitStatus::Success,
        Err(e) => {
            let _ = writeln!(io::stderr(), "quotes: error writing output: {e}");
            ExitStatus::Failure
        }
    }
}
