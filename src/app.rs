//! The program's run: check the arguments, wire the pieces, run once or `--watch`, and pick
//! the exit status.
//!
//! Following fd's shape, the arguments are first turned into a checked [`Config`] (every
//! usage error is found there, before any request), then run. Nothing below this module
//! sees clap's types.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use crate::cache;
use crate::calendar::today_utc;
use crate::cli::{self, AdjustChoice, Cli, ColorChoice, IntervalChoice};
use crate::client::{self, ClientOptions};
use crate::error::secs;
use crate::exit::{ExitStatus, Signals, Stop, UsageError};
use crate::fetch::{Fetcher, Settings};
use crate::fx::Fx;
use crate::history::{Adjust, Interval, Range};
use crate::http::Http;
use crate::input;
use crate::output::{self, Field, FormatSpec, Style, Written};
use crate::plan::Plan;
use crate::progress::{self, Progress};
use crate::round::sinks::ToStdout;
use crate::round::{Round, Stops};
use crate::secret::Keys;
use crate::source::{Sources, When, parse_base_url};
use crate::text;
use crate::update::{self, Update};
use crate::watch::Watch;

/// Why a run could not even start: a usage error (exit status 2, like clap's own) or
/// something else that went wrong (exit status 1).
#[derive(Debug)]
pub enum Failure {
    Usage(UsageError),
    Fatal(anyhow::Error),
}

impl From<UsageError> for Failure {
    fn from(e: UsageError) -> Failure {
        Failure::Usage(e)
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Failure {
        Failure::Fatal(e)
    }
}

/// A run, checked: everything the arguments say, in the program's own terms.
pub struct Config {
    pub plan: Plan,
    pub format: &'static FormatSpec,
    pub style: Style,
    pub max_age: Option<Duration>,
    pub deadline: Option<Duration>,
    pub watch: Option<Duration>,
    pub watch_rounds: Option<u64>,
    pub jobs: usize,
    /// Whether `-j` was given (it then lifts a source's own concurrency cap).
    pub jobs_given: bool,
    pub timeout: Duration,
    pub retries: u32,
    pub backoff_base: Duration,
    pub user_agent: String,
    /// `-v`: a line on stderr per HTTP attempt and per fallback.
    pub verbose: bool,
    /// The API keys the environment holds, for the sources that need one (issue 19).
    pub keys: Keys,
    pub cacert: Option<PathBuf>,
    /// Where past closes are cached; `None` with `--no-cache` (or nowhere to put it).
    pub cache_dir: Option<PathBuf>,
    /// `--update FILE`: the rows go to the price file instead of stdout.
    pub update: Option<Update>,
    /// `--update FILE` before the run starts: its file is locked and read then (another
    /// run may hold the lock, to be waited for within `--deadline`), and the plan made.
    pub pending_update: Option<PendingUpdate>,
}

/// An `--update` whose file is not read yet, and what its plan will need.
pub struct PendingUpdate {
    request: update::Request,
    sources: Sources,
    fx: Fx,
}

/// What the command line asks for.
pub enum Task {
    /// `--completions SHELL` or `--man`: text generated from the command itself.
    Text(Vec<u8>),
    /// Fetch prices.
    Fetch(Box<Config>),
}

impl Task {
    /// Check the arguments; every usage error is found here.
    pub fn from_cli(cli: Cli) -> Result<Task, UsageError> {
        if let Some(shell) = cli.completions {
            let mut script = Vec::new();
            // Writing into a Vec cannot fail.
            let _ = cli::write_completions(shell, &mut script);
            return Ok(Task::Text(script));
        }
        if cli.man {
            let mut page = Vec::new();
            let _ = cli::write_man(&mut page);
            return Ok(Task::Text(page));
        }
        let usage = |message: String| UsageError(message);
        let format = FormatSpec::named(&cli.format)
            .ok_or_else(|| usage(format!("unknown format {:?}", cli.format)))?;
        if let Some(every) = cli.watch {
            if every < cli.watch_min {
                return Err(usage(format!(
                    "--watch {} is too often; --watch takes at least {}",
                    secs(&every),
                    secs(&cli.watch_min)
                )));
            }
            format.appends.map_err(|why| usage(why.to_string()))?;
        }
        let user_agent = cli.user_agent.clone().unwrap_or_else(default_user_agent);
        if reqwest::header::HeaderValue::from_str(&user_agent).is_err() {
            return Err(usage(format!(
                "--user-agent {:?} cannot be sent: a header holds no line breaks or other \
                 control characters",
                text::clip(&user_agent, 40)
            )));
        }
        let mut base_urls = cli.base_urls.iter();
        let sources = Sources::new(|endpoint| {
            let url = base_urls
                .find(|(e, _)| std::ptr::eq(*e, endpoint))
                .map_or(endpoint.default_url, |(_, url)| url.as_str());
            parse_base_url(&format!("--{}/{}", endpoint.flag, endpoint.env), url)
        })
        .map_err(usage)?;
        // `--source`/`QUOTES_SOURCE`: one source or a chain (issue 19), each name checked by
        // clap; here, that none is named twice.
        let default_source = cli.source.join(",").to_ascii_lowercase();
        crate::chain::default_chain(&sources, &default_source).map_err(usage)?;
        let inputs = input::collect(&cli.inputs).map_err(|e| usage(e.to_string()))?;
        if inputs.is_empty() && cli.update.is_none() {
            return Err(usage(
                "no tickers given; try `quotes AAPL MSFT`, `quotes --file LIST`, or `quotes --help`"
                    .into(),
            ));
        }
        let fx = Fx::new(
            &sources,
            cli.currency.clone(),
            &cli.fx,
            cli.keep_minor_units,
        )
        .map_err(usage)?;
        let history = History::from_cli(&cli)?;
        let (plan, pending_update) = match &cli.update {
            Some(path) => {
                let kind = update::Kind::of(cli.format_given.then_some(format), path).ok_or_else(
                    || {
                        usage(format!(
                            "--update writes price directives: use -f ledger or -f beancount, \
                             not -f {}",
                            format.name
                        ))
                    },
                )?;
                // `--fx` names a source that publishes rates (clap checked its name).
                let (rate_source, rates) = crate::source::REGISTRY
                    .iter()
                    .find(|s| s.name.eq_ignore_ascii_case(&cli.fx))
                    .and_then(|s| Some((s.name, s.rates.as_ref()?)))
                    .ok_or_else(|| usage(format!("--fx {:?} publishes no rates", cli.fx)))?;
                let request = update::Request {
                    path: path.clone(),
                    kind,
                    inputs,
                    from: cli.from,
                    to: history.to,
                    interval: history.interval,
                    adjust: history.adjust,
                    dry_run: cli.dry_run,
                    default_source: default_source.clone(),
                    currency: cli.currency.clone(),
                    rate_source,
                    rates,
                };
                let nothing: [(&str, When); 0] = [];
                let plan = Plan::each(&sources, nothing, &default_source);
                (
                    plan,
                    Some(PendingUpdate {
                        request,
                        sources,
                        fx,
                    }),
                )
            }
            None => (
                Plan::new(&sources, &inputs, &default_source, history.when).with_fx(fx),
                None,
            ),
        };
        // A range prints one row per day: the day is worth a column.
        let fields = match history.when {
            When::Range(_) if !cli.fields_given => RANGE_FIELDS.to_vec(),
            _ => cli.fields.0.clone(),
        };
        let style = Style {
            precision: cli.precision,
            fields,
            color: format.for_people && use_color(cli.color),
        };
        Ok(Task::Fetch(Box::new(Config {
            plan,
            format,
            style,
            max_age: cli.max_age,
            deadline: cli.deadline,
            watch: cli.watch,
            watch_rounds: cli.watch_rounds,
            jobs: usize::from(cli.jobs),
            jobs_given: cli.jobs_given,
            timeout: cli.timeout,
            retries: cli.retries,
            backoff_base: cli.backoff_base,
            user_agent,
            verbose: cli.verbose,
            keys: Keys::from_env(),
            cacert: cli.cacert,
            cache_dir: if cli.no_cache {
                None
            } else {
                cache::dir(cli.cache_dir)
            },
            update: None,
            pending_update,
        })))
    }
}

/// The User-Agent sent unless `--user-agent` says otherwise: yahoo-finance2's honest but
/// accepted form (issue 19). It names `quotes` and its version, and starts like a browser's,
/// because Yahoo (since February 2025) and Nasdaq refuse bare library agents.
fn default_user_agent() -> String {
    format!(
        "Mozilla/5.0 (compatible; quotes/{})",
        env!("CARGO_PKG_VERSION")
    )
}

/// The default fields of a range: `symbol,date,price,currency`.
const RANGE_FIELDS: [Field; 4] = [Field::Symbol, Field::Date, Field::Price, Field::Currency];

/// What `--date`, `--from`, `--to`, `--interval` and `--adjust` ask for, checked.
struct History {
    when: When,
    /// `--to`, or today.
    to: jiff::civil::Date,
    interval: Interval,
    adjust: Adjust,
}

impl History {
    fn from_cli(cli: &Cli) -> Result<History, UsageError> {
        let usage = |m: &str| Err(UsageError(m.to_string()));
        let past = cli.date.is_some() || cli.from.is_some() || cli.update.is_some();
        if cli.to.is_some() && cli.from.is_none() && cli.update.is_none() {
            return usage("--to ends a range: give --from too (or --update)");
        }
        if cli.interval.is_some() && cli.from.is_none() && cli.update.is_none() {
            return usage("--interval applies to a range: give --from (or --update)");
        }
        if cli.adjust.is_some() && !past {
            return usage("--adjust applies to past closes: give --date, --from or --update");
        }
        let interval = match cli.interval {
            None | Some(IntervalChoice::Day) => Interval::Day,
            Some(IntervalChoice::Week) => Interval::Week,
            Some(IntervalChoice::Month) => Interval::Month,
        };
        let adjust = match cli.adjust {
            None | Some(AdjustChoice::None) => Adjust::None,
            Some(AdjustChoice::Splits) => Adjust::Splits,
            Some(AdjustChoice::All) => Adjust::All,
        };
        let to = cli.to.unwrap_or_else(today_utc);
        let when = match (cli.date, cli.from) {
            (Some(date), _) => When::Close(date, adjust),
            (None, Some(from)) => {
                When::Range(Range::new(from, to, interval, adjust).map_err(UsageError)?)
            }
            (None, None) => When::Latest,
        };
        Ok(History {
            when,
            to,
            interval,
            adjust,
        })
    }
}

/// Run `quotes` with parsed arguments.
pub async fn run(cli: Cli) -> Result<ExitStatus, Failure> {
    // --deadline bounds the whole run, reading the ticker list (a slow pipe) included.
    let started = tokio::time::Instant::now();
    let task = match cli.deadline {
        None => Task::from_cli(cli)?,
        Some(deadline) => {
            let checking = tokio::task::spawn_blocking(move || Task::from_cli(cli));
            match tokio::time::timeout(deadline, checking).await {
                Ok(Ok(task)) => task?,
                Ok(Err(e)) => return Err(anyhow::anyhow!("internal: {e}").into()),
                Err(_) => {
                    output::write_stderr(
                        format!(
                            "quotes: error: deadline exceeded (--deadline {}) while reading the \
                             ticker list\n",
                            secs(&deadline)
                        )
                        .as_bytes(),
                    );
                    return Ok(ExitStatus::Failure);
                }
            }
        }
    };
    let mut config = match task {
        Task::Text(text) => {
            return Ok(match output::write_stdout(&text) {
                Written::Ok | Written::Gone => ExitStatus::Success,
                Written::Failed => ExitStatus::Failure,
            });
        }
        Task::Fetch(config) => config,
    };
    let mut signals = Signals::listen()
        .map_err(|e| anyhow::anyhow!("cannot listen for Ctrl-C and SIGTERM: {e}"))?;
    if let Some(pending) = config.pending_update.take() {
        match start_update(pending, started, config.deadline, &mut signals).await? {
            Ok((plan, update)) => {
                config.plan = plan;
                config.update = Some(update);
            }
            Err(status) => return Ok(status),
        }
    }
    let fetcher = connect(&config)?;
    if let Some(every) = config.watch {
        let watch = Watch {
            fetcher: &fetcher,
            plan: &config.plan,
            format: config.format,
            style: config.style.clone(),
            every,
            rounds: config.watch_rounds,
            max_age: config.max_age,
        };
        return Ok(watch.run(&mut signals).await);
    }
    Ok(once(&config, started, &fetcher, &mut signals).await)
}

/// Lock and read the `--update` file and plan the fetch, all within the deadline (counted
/// from `started`) and until a signal: waiting for another run's lock, and reading a file
/// that is slow to read (a network file system). Stopped, the status to end with.
async fn start_update(
    pending: PendingUpdate,
    started: tokio::time::Instant,
    deadline: Option<Duration>,
    signals: &mut Signals,
) -> Result<Result<(Plan, Update), ExitStatus>, Failure> {
    let PendingUpdate {
        request,
        sources,
        fx,
    } = pending;
    let path = request.path.clone();
    let stopped = |stop: Stop, doing: &str| {
        let why = match stop {
            Stop::Deadline(after) => format!("deadline exceeded (--deadline {})", secs(&after)),
            Stop::Interrupt | Stop::Terminate => "stopped".to_string(),
        };
        output::write_stderr(
            format!(
                "quotes: {}: {why} {doing}; nothing written\n",
                path.display()
            )
            .as_bytes(),
        );
        Ok(Err(stop.status(ExitStatus::Failure)))
    };
    let stop = signals.or_deadline(started, deadline);
    tokio::pin!(stop);
    let file = match update::file::open(
        &request.path,
        request.access(),
        request.creates(),
        &mut stop,
    )
    .await
    {
        Ok(file) => file,
        Err(update::file::Refused::Usage(why)) => return Err(UsageError(why).into()),
        Err(update::file::Refused::Stopped(stop)) => {
            return stopped(stop, "while another run was updating it");
        }
    };
    let now = jiff::Timestamp::now();
    let reading = tokio::task::spawn_blocking(move || update::start(request, file, &sources, now));
    tokio::select! {
        read = reading => {
            let (plan, update) = read.map_err(|e| anyhow::anyhow!("internal: {e}"))??;
            Ok(Ok((plan.with_fx(fx), update)))
        }
        stop = stop.as_mut() => stopped(stop, "while it was being read"),
    }
}

/// The one client and the fetcher around it.
fn connect(config: &Config) -> Result<Fetcher, Failure> {
    let extra_roots = match &config.cacert {
        Some(path) => client::read_cacert(path).map_err(UsageError)?,
        None => Vec::new(),
    };
    let jobs = client::usable_jobs(config.jobs);
    let client = client::build(&ClientOptions {
        jobs,
        connect_timeout: config.timeout.min(Duration::from_secs(10)),
        user_agent: config.user_agent.clone(),
        extra_roots,
        https: config.plan.uses_https(),
    })
    .map_err(|e| anyhow::anyhow!("cannot set up the HTTP client: {e}"))?;
    Ok(Fetcher::new(
        Http::new(client, config.timeout),
        Settings {
            jobs,
            jobs_given: config.jobs_given,
            retries: config.retries,
            backoff_base: config.backoff_base,
            keep_names: config.format.all_fields
                || config
                    .style
                    .fields
                    .iter()
                    .any(|f| matches!(f, Field::Name | Field::Exchange)),
            verbose: config.verbose,
            keys: config.keys.clone(),
            cache_dir: config.cache_dir.clone(),
        },
    ))
}

/// One round: fetch until done, the deadline (counted from `started`, when the run began),
/// or a signal; each ticker's rows written as soon as every ticker before it has been
/// (issue 20), and what had not been written yet of the tickers that finished written at a
/// stop, the unfinished ones named in their places.
async fn once(
    config: &Config,
    started: tokio::time::Instant,
    fetcher: &Fetcher,
    signals: &mut Signals,
) -> ExitStatus {
    let progress = Progress::default();
    let mut stops = Stops::new(signals, started, config.deadline);
    let round = Round {
        plan: &config.plan,
        fetcher,
        cache_dir: config.cache_dir.as_deref(),
        progress: Some(&progress),
    };
    // `-v` writes its own lines: a progress line redrawn among them would garble both; so
    // would rows written to the same terminal as they come (the table comes at the end).
    let show = std::io::stderr().is_terminal()
        && !config.verbose
        && (config.format.for_people || !std::io::stdout().is_terminal());
    if let Some(update) = &config.update {
        let mut collect = update.collect(&config.plan, &config.style);
        let ran = progress::while_running(&progress, show, round.run(&mut collect, &mut stops));
        let stopped = match ran.await {
            Ok(()) => stops.stopped(),
            Err(stop) => Some(stop),
        };
        return update.finish(collect, &config.style, stopped);
    }
    let mut renderer = (config.format.renderer)();
    let mut out = ToStdout::new(config.format, &mut *renderer, &config.style, config.max_age);
    let ran = progress::while_running(&progress, show, round.run(&mut out, &mut stops)).await;
    let mut status = ExitStatus::from_failed(out.failed());
    if let Err(stop) = ran {
        return stop.status(status);
    }
    let written = match stops.unless_ended(out.finish()).await {
        Ok(written) => written,
        Err(stop) => return stop.status(status),
    };
    if written == Written::Failed {
        status = ExitStatus::Failure;
    }
    match stops.stopped() {
        Some(stop) => stop.status(status),
        None => status,
    }
}

/// `--color`: auto means stdout is a terminal and `NO_COLOR` is unset or empty
/// (<https://no-color.org>); `always` and `never` are explicit and win.
fn use_color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    }
}
