//! `quotes`: the whole program behind `main`, callable from tests.
//!
//! The data flows one way: arguments → validated ticker list → concurrent fetch →
//! results in input order → one writer. Each step has its own module:
//!
//! - `cli`: the command line; `input`: tickers from arguments, stdin and files;
//! - `ticker`: what a valid symbol is;
//! - `fetch`: the `--jobs` bound, retries, timeouts; `client`: how the one HTTP client is
//!   built (TLS, redirects, proxies); `gate`: 429s handled per source;
//! - `source`: one file per price API (`source/yahoo.rs`, `source/coinbase.rs`);
//! - `watch`: `--watch`, fetching again every few seconds;
//! - `quote`: a price and its exact rounding;
//! - `output`: the formats; `progress`: the terminal progress line;
//! - `error`: what a user can see go wrong for one ticker.

pub mod cli;
pub mod client;
pub mod error;
pub mod fetch;
pub mod gate;
pub mod input;
pub mod output;
pub mod progress;
pub mod quote;
pub mod source;
pub mod ticker;
pub mod watch;

use std::io::{self, IsTerminal, Write};
use std::sync::Arc;
use std::time::Duration;

use crate::cli::{Cli, ColorChoice};
use crate::client::ClientOptions;
use crate::error::FetchError;
use crate::fetch::{Fetcher, Job, Settings};
use crate::output::{Format, Row, Style, label_for_input};
use crate::progress::Progress;
use crate::quote::Quote;
use crate::source::{Coinbase, Query, Sources, Yahoo, normalize_base_url};

/// How a run ended; `main` turns it into the process exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: every ticker printed.
    Success,
    /// 1: at least one ticker failed, or output could not be written.
    Failure,
    /// 130: stopped by Ctrl-C (SIGINT) after printing what had arrived.
    Interrupted,
    /// 143: stopped by SIGTERM after printing what had arrived.
    Terminated,
}

impl ExitStatus {
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 1,
            ExitStatus::Interrupted => 130,
            ExitStatus::Terminated => 143,
        }
    }
}

/// Why a run stopped before every ticker finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Deadline(Duration),
    Interrupt,
    Terminate,
}

/// Finishes when the run must stop early: `--deadline` passed, or SIGINT/SIGTERM arrived.
/// Records the reason in `why` and returns the error unfinished tickers get.
async fn stop_signal(limit: Option<Duration>, why: &std::cell::Cell<Option<Stop>>) -> FetchError {
    let started = tokio::time::Instant::now();
    let deadline = async {
        match limit {
            Some(d) => tokio::time::sleep_until(started + d).await,
            None => std::future::pending().await,
        }
    };
    let terminate = async {
        #[cfg(unix)]
        if let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            term.recv().await;
            return;
        }
        std::future::pending::<()>().await
    };
    let reason = tokio::select! {
        () = deadline => Stop::Deadline(limit.unwrap_or_default()),
        _ = tokio::signal::ctrl_c() => Stop::Interrupt,
        () = terminate => Stop::Terminate,
    };
    why.set(Some(reason));
    match reason {
        Stop::Deadline(after) => FetchError::DeadlineExceeded { after },
        Stop::Interrupt | Stop::Terminate => FetchError::Interrupted,
    }
}

/// A mistake in how `quotes` was called: exit status 2, like clap's own errors.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Run `quotes` with parsed arguments.
pub async fn run(cli: Cli) -> anyhow::Result<ExitStatus> {
    if let Some(shell) = cli.completions {
        return Ok(finish_stdout(cli::write_completions(shell, &mut io::stdout().lock())).0);
    }
    if cli.man {
        return Ok(finish_stdout(cli::write_man(&mut io::stdout().lock())).0);
    }
    let inputs = input::collect(&cli.inputs).map_err(|e| UsageError(e.to_string()))?;
    if inputs.is_empty() {
        return Err(UsageError(
            "no tickers given; try `quotes AAPL MSFT`, `quotes --file LIST`, or `quotes --help`"
                .into(),
        )
        .into());
    }
    if let Some(every) = cli.watch
        && every < cli.watch_min
    {
        return Err(UsageError(format!(
            "--watch {} is too often; --watch takes at least {}",
            error::secs(&every),
            error::secs(&cli.watch_min)
        ))
        .into());
    }
    if cli.watch.is_some() && cli.format == Format::Json {
        return Err(UsageError(
            "--watch appends a round at a time, which one JSON array cannot do; use -f jsonl"
                .into(),
        )
        .into());
    }
    let base = |name, url: &str| normalize_base_url(name, url).map_err(UsageError);
    let sources = Sources::new(vec![
        Arc::new(Yahoo::new(base(
            "--yahoo-url/QUOTES_YAHOO_URL",
            &cli.yahoo_url,
        )?)),
        Arc::new(Coinbase::new(base(
            "--coinbase-url/QUOTES_COINBASE_URL",
            &cli.coinbase_url,
        )?)),
    ]);
    if sources.get(&cli.source).is_none() {
        return Err(UsageError(format!(
            "unknown --source {:?}; known sources: {}",
            cli.source,
            sources.names()
        ))
        .into());
    }

    let plan = Plan::new(&sources, &inputs, &cli.source, cli.date, cli.max_age);
    let extra_roots = match &cli.cacert {
        Some(path) => client::read_cacert(path).map_err(UsageError)?,
        None => Vec::new(),
    };
    let fetcher = Fetcher::new(Settings {
        client: ClientOptions {
            jobs: client::usable_jobs(usize::from(cli.jobs)),
            timeout: cli.timeout,
            user_agent: cli
                .user_agent
                .clone()
                .unwrap_or_else(|| format!("quotes/{}", env!("CARGO_PKG_VERSION"))),
            extra_roots,
            base_urls: plan.base_urls(),
        },
        retries: cli.retries,
        backoff_base: cli.backoff_base,
    })?;
    let style = Style {
        precision: cli.precision,
        fields: cli.fields.0.clone(),
        color: cli.format == Format::Table && use_color(cli.color),
        header: true,
    };
    if let Some(every) = cli.watch {
        return Ok(watch::run(&fetcher, &plan, cli.format, style, every, cli.watch_rounds).await);
    }
    let progress = Progress::default();
    let why = std::cell::Cell::new(None);
    let rows = progress::while_running(
        &progress,
        io::stderr().is_terminal(),
        plan.fetch(&fetcher, Some(&progress), stop_signal(cli.deadline, &why)),
    )
    .await;
    let status = emit(cli.format, rows, &style).0;
    Ok(match why.get() {
        Some(Stop::Interrupt) => ExitStatus::Interrupted,
        Some(Stop::Terminate) => ExitStatus::Terminated,
        Some(Stop::Deadline(_)) | None => status,
    })
}

/// Every input resolved once to a source and a validated ticker; what each round fetches.
pub struct Plan {
    inputs: Vec<String>,
    resolved: Vec<Result<Job, FetchError>>,
    max_age: Option<Duration>,
}

impl Plan {
    pub fn new(
        sources: &Sources,
        inputs: &[String],
        default_source: &str,
        date: Option<jiff::civil::Date>,
        max_age: Option<Duration>,
    ) -> Plan {
        // Validate at the edge: an invalid ticker never reaches a server.
        let resolved = inputs
            .iter()
            .map(|input| {
                sources
                    .resolve(input, default_source)
                    .map(|(source, ticker)| Job {
                        source,
                        query: Query { ticker, date },
                    })
            })
            .collect();
        Plan {
            inputs: inputs.to_vec(),
            resolved,
            max_age,
        }
    }

    /// The base URLs of the sources this plan will ask (so the client loads the system
    /// trust store only when one of them is https).
    pub fn base_urls(&self) -> Vec<reqwest::Url> {
        let mut bases: Vec<&str> = self
            .resolved
            .iter()
            .flatten()
            .map(|job| job.source.base_url())
            .collect();
        bases.sort_unstable();
        bases.dedup();
        bases
            .into_iter()
            .filter_map(|base| reqwest::Url::parse(base).ok())
            .collect()
    }

    /// Fetch every valid ticker and put the results back in input order.
    pub async fn fetch(
        &self,
        fetcher: &Fetcher,
        progress: Option<&Progress>,
        stop: impl std::future::Future<Output = FetchError>,
    ) -> Vec<Row> {
        let jobs: Vec<Job> = self
            .resolved
            .iter()
            .filter_map(|j| j.as_ref().ok())
            .cloned()
            .collect();
        let mut fetched = fetcher.fetch_all(&jobs, progress, stop).await.into_iter();
        let now = jiff::Timestamp::now().as_second();
        self.inputs
            .iter()
            .zip(&self.resolved)
            .map(|(input, resolved)| match resolved {
                Ok(job) => Row {
                    input: input.clone(),
                    label: job.query.ticker.to_string(),
                    source: Some(job.source.name()),
                    // fetch_all returns one result per job; jobs are the valid inputs in order.
                    result: fetched
                        .next()
                        .unwrap_or_else(|| {
                            Err(FetchError::Other("internal: result missing".into()))
                        })
                        .and_then(|quote| self.check_age(quote, now)),
                },
                Err(e) => Row {
                    input: input.clone(),
                    label: label_for_input(input),
                    source: None,
                    result: Err(e.clone()),
                },
            })
            .collect()
    }

    /// `--max-age`: a price older than that is an error, so a script never books an old
    /// mutual-fund NAV as today's.
    fn check_age(&self, quote: Quote, now: i64) -> Result<Quote, FetchError> {
        let (Some(max_age), Some(time)) = (self.max_age, quote.time) else {
            return Ok(quote);
        };
        let age = now.saturating_sub(time);
        if age > 0 && age.unsigned_abs() > max_age.as_secs() {
            let as_of = jiff::Timestamp::from_second(time)
                .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
                .unwrap_or_else(|_| time.to_string());
            return Err(FetchError::Stale {
                as_of,
                max_age: humanize(max_age),
            });
        }
        Ok(quote)
    }
}

/// `3d`, `12h`, `90s`: a duration the way `--max-age` takes it.
fn humanize(d: Duration) -> String {
    let s = d.as_secs();
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60)] {
        if s.is_multiple_of(size) {
            return format!("{}{unit}", s / size);
        }
    }
    format!("{s}s")
}

/// Write one round: the rows to stdout in `format`, failures to stderr. Returns the exit
/// status and whether stdout is gone (a closed pipe: nothing more to write, ever).
pub fn emit(format: Format, mut rows: Vec<Row>, style: &Style) -> (ExitStatus, bool) {
    output::check_representable(format, &mut rows);
    let mut status = if rows.iter().all(|r| r.result.is_ok()) {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    };
    let mut out = io::BufWriter::new(io::stdout().lock());
    let written = output::write(format, &rows, style, &mut out).and_then(|()| out.flush());
    let (write_status, gone) = finish_stdout(written);
    if write_status == ExitStatus::Failure {
        status = ExitStatus::Failure;
    }
    // stderr may be closed too; there is nobody left to tell.
    let _ = output::report_errors(&rows, &mut io::stderr().lock());
    (status, gone)
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

/// What a write to stdout means for the exit status, and whether stdout is gone. A
/// broken pipe means the reader (`head -1`) has what it wanted: quiet, and not a failure
/// (ripgrep does the same). Anything else (a full disk, `> /dev/full`) is reported.
fn finish_stdout(result: io::Result<()>) -> (ExitStatus, bool) {
    match result {
        Ok(()) => (ExitStatus::Success, false),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => (ExitStatus::Success, true),
        Err(e) => {
            let _ = writeln!(io::stderr(), "quotes: error writing output: {e}");
            (ExitStatus::Failure, true)
        }
    }
}
