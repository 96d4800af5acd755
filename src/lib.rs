//! `quotes`: the whole program behind `main`, callable from tests.
//!
//! The data flows one way: arguments → validated ticker list → concurrent fetch →
//! results in input order → one writer. Each step has its own module:
//!
//! - `cli`: the command line;
//! - `ticker`: what a valid symbol is;
//! - `fetch`: the one HTTP client, the `--jobs` bound, retries, timeouts;
//! - `source`: one file per price API (`source/yahoo.rs`);
//! - `quote`: a price and its exact rounding;
//! - `output`: the formats;
//! - `error`: what a user can see go wrong for one ticker.

pub mod cli;
pub mod error;
pub mod fetch;
pub mod output;
pub mod quote;
pub mod source;
pub mod ticker;

use std::io::{self, Write};
use std::sync::Arc;

use crate::cli::Cli;
use crate::fetch::{Fetcher, Job, Settings};
use crate::output::{Row, Style, label_for_input};
use crate::source::{Source, Yahoo, normalize_base_url};
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
    if cli.tickers.is_empty() {
        return Err(UsageError(
            "no tickers given; try `quotes AAPL MSFT`, or `quotes --help`".into(),
        )
        .into());
    }
    let yahoo_url =
        normalize_base_url("--yahoo-url/QUOTES_YAHOO_URL", &cli.yahoo_url).map_err(UsageError)?;
    let yahoo: Arc<dyn Source> = Arc::new(Yahoo::new(yahoo_url));

    let settings = Settings {
        jobs: usize::from(cli.jobs),
        timeout: cli.timeout,
        retries: cli.retries,
        user_agent: cli
            .user_agent
            .clone()
            .unwrap_or_else(|| format!("quotes/{}", env!("CARGO_PKG_VERSION"))),
    };
    let fetcher = Fetcher::new(settings)?;

    // Validate at the edge: an invalid ticker never reaches a server.
    let parsed: Vec<Result<Ticker, _>> = cli.tickers.iter().map(|t| Ticker::parse(t)).collect();
    let jobs: Vec<Job> = parsed
        .iter()
        .filter_map(|t| t.as_ref().ok())
        .map(|ticker| Job {
            source: Arc::clone(&yahoo),
            query: source::Query {
                ticker: ticker.clone(),
                date: None,
            },
        })
        .collect();
    let mut fetched = fetcher.fetch_all(&jobs).await.into_iter();
    let rows: Vec<Row> = cli
        .tickers
        .iter()
        .zip(parsed)
        .map(|(input, parsed)| match parsed {
            Ok(ticker) => Row {
                label: ticker.to_string(),
                // fetch_all returns one result per job, jobs are the valid tickers in order.
                result: fetched.next().unwrap_or_else(|| {
                    Err(error::FetchError::Other("internal: result missing".into()))
                }),
            },
            Err(e) => Row {
                label: label_for_input(input),
                result: Err(e),
            },
        })
        .collect();

    let style = Style { precision: 2 };
    let mut status = if rows.iter().all(|r| r.result.is_ok()) {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    };
    if let Err(e) = write_stdout(&rows, style) {
        if e.kind() != io::ErrorKind::BrokenPipe {
            // Broken pipe: the reader (`head -1`) has what it wanted; stay quiet.
            eprintln!("quotes: error writing output: {e}");
            status = ExitStatus::Failure;
        }
    }
    // stderr may be closed too; there is nobody left to tell.
    let _ = output::report_errors(&rows, &mut io::stderr().lock());
    Ok(status)
}

fn write_stdout(rows: &[Row], style: Style) -> io::Result<()> {
    let mut out = io::BufWriter::new(io::stdout().lock());
    output::table::write(rows, style, &mut out)?;
    out.flush()
}
