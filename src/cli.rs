//! The command line: clap derive, where doc comments ARE the `--help` text, plus what the
//! registries add.
//!
//! House rules (after xh): a short flag only where it is worth a letter (`-j`, `-f`,
//! `-o`); every option that takes a value has an uppercase `value_name`; exit codes are
//! documented in `AFTER_LONG_HELP` and kept in step with `exit::ExitStatus`. Options are
//! grouped under headings by task. A doc comment's first paragraph is the option's one line
//! of `-h` (at most 50 lines of 100 columns in all, a test holds it so); the whole comment is
//! its text in `--help`. Help speaks of what the values are, never of the code that makes
//! them. Nothing below `app` sees these types.
//!
//! The source registry adds one `--<source>-url` flag per endpoint (with its
//! `QUOTES_<SOURCE>_URL` variable) and `--source`'s values; the format registry adds
//! `-f`'s values. [`command`] is the one place the full command is built, for parsing,
//! `--completions` and `--man` alike.

use std::path::PathBuf;
use std::time::Duration;

use clap::builder::{PossibleValue, PossibleValuesParser};
use clap::parser::ValueSource;
use clap::{Arg, ArgMatches, CommandFactory, FromArgMatches, Parser, ValueEnum};

use crate::input::Input;
use crate::output::FORMATS;
use crate::output::fields::{self, FieldList};
use crate::source::{Endpoint, REGISTRY};

/// The first line of `--help` and of the man page.
const ABOUT: &str =
    "Print the latest price of each ticker, fetched concurrently, in the order given.";

/// What `--help` says before the usage line (`-h` is the usage line and the options alone).
const LONG_ABOUT: &str = "\
Print the latest price of each ticker, fetched concurrently, in the order given.

stdout carries data only: one line per ticker (symbol, price rounded half-to-even, currency).
A ticker that fails prints no line on stdout (JSON formats carry an error object) and one
line on stderr saying why.

Tickers come from the arguments, from standard input (`-`, or when no tickers are given
and stdin is not a terminal) and from --file; lists are separated by whitespace, commas or
newlines, and `#` starts a comment.";

/// `--help`'s and the man page's last part.
const AFTER_LONG_HELP: &str = "\
Examples, at a terminal:
  quotes VTSAX VTIAX IJS                  latest prices
  quotes VTSAX coinbase:BTC-USD           funds and crypto in one call
  quotes --source yahoo,nasdaq VTSAX      ask Nasdaq for what Yahoo cannot price
  quotes -o symbol,price,change_percent,name AAPL MSFT
                                          choose the columns
  quotes --watch 30 AAPL MSFT             refresh every 30 s until Ctrl-C
Examples, in scripts:
  price=$(quotes -o price VTSAX)          one price into a variable
  quotes -j 8 --file watchlist.txt        a watchlist, 8 requests at a time
  grep -v '^#' funds | quotes -f csv > prices.csv
  quotes -f ledger --max-age 3d VTSAX >> prices.journal
                                          fail rather than book an old NAV
  quotes -f beancount --date 2026-11-13 VTSAX
                                          back-fill a past close
  quotes -f ledger --from 2026-01-01 VTSAX coinbase:BTC-EUR@BTC
                                          a year of closes as traded
  quotes --update prices.journal          append the closes the file lacks (cron)
  quotes --currency EUR AAPL VOD.L SAP.DE one portfolio in euros (pence become pounds first)
  quotes -f beancount --fx ecb --currency EUR --date 2026-11-13 VTSAX
                                          a past close at that day's ECB reference rate
  quotes -f ledger ecb:EUR-USD ecb:GBP-USD  the ECB's reference rates themselves
  quotes -f json AAPL NOPE | jq '.[] | select(.error)'

Exit status:
  0    every ticker printed
  1    at least one ticker failed (all others were still printed)
  2    usage error (no tickers, unknown flag or field, bad option value)
  130  interrupted by Ctrl-C (what had arrived was printed)
  143  terminated by SIGTERM (what had arrived was printed; Unix)";

/// `-h` is the usage line and one line per option (as `rg -h`); `--help` adds the
/// description before it (`before_long_help`), each option's whole text, and the examples
/// and exit statuses after it. Each option's doc comment is both: its first paragraph is the
/// one line of `-h`, the whole comment the text of `--help` (clap derive's rule). A value
/// list or default that would not fit one line of `-h` is hidden from clap and written in
/// the text instead.
const HELP_TEMPLATE: &str = "{before-help}{usage-heading} {usage}\n\n{all-args}{after-help}";

#[derive(Debug, Parser)]
#[command(name = "quotes", version, about = ABOUT, long_about = LONG_ABOUT,
          before_long_help = LONG_ABOUT, after_long_help = AFTER_LONG_HELP,
          help_template = HELP_TEMPLATE, next_display_order = 1)]
// What --fx serves: converting (--currency), or pricing a price file's currencies (--update).
#[command(group(clap::ArgGroup::new("rates_for").args(["currency", "update"]).multiple(true)))]
pub struct Cli {
    /// Tickers, e.g. VTSAX BRK-B coinbase:BTC-USD; `-` reads standard input
    ///
    /// Symbols are case-insensitive (BRK-B, ^GSPC, EURUSD=X, VOD.L); a `source:` prefix picks
    /// another source than --source's (coinbase:BTC-USD, ecb:EUR-USD); TICKER@NAME names the
    /// commodity that ledger and beancount lines are written with (VWRL.L@VWRL).
    #[arg(
        value_name = "TICKER",
        help_heading = "Input and output",
        display_order = 0
    )]
    pub tickers: Vec<String>,

    /// Read tickers from a file (repeatable)
    ///
    /// Read in command-line order with the arguments: whitespace, commas or newlines
    /// separate tickers, `#` starts a comment.
    #[arg(long = "file", value_name = "PATH", help_heading = "Input and output")]
    pub files: Vec<PathBuf>,

    /// Output format (its values and default are set by `command`)
    #[arg(
        short = 'f',
        long,
        value_name = "FORMAT",
        help_heading = "Input and output"
    )]
    pub format: String,

    /// Columns for table, tsv and csv (its text, with the fields, is set by `command`)
    #[arg(short = 'o', long, value_name = "LIST", default_value = "symbol,price,currency",
          value_parser = fields::parse_field_list, help_heading = "Input and output")]
    pub fields: FieldList,

    /// Decimals in prices, 0 to 10, rounded half-to-even
    ///
    /// A price it would write as 0 is that ticker's error. [default: 2, or the decimals the
    /// source states; below 1, at least 4 significant digits, as many as were sent; 6
    /// significant digits for an ECB inverse or cross; 2 more for pence shown as pounds]
    #[arg(long, value_name = "N",
          value_parser = clap::value_parser!(u32).range(0..=crate::quote::MAX_PRECISION as i64),
          help_heading = "Input and output")]
    pub precision: Option<u32>,

    /// Colour the day's change: auto, always or never [default: auto]
    ///
    /// In the table; auto means when stdout is a terminal and NO_COLOR is unset or empty.
    #[arg(long, value_name = "WHEN", value_enum, default_value_t = ColorChoice::Auto,
          hide_possible_values = true, hide_default_value = true,
          help_heading = "Input and output")]
    pub color: ColorChoice,

    /// Source for tickers without a prefix, or a chain of them (its values are set by
    /// `command`)
    #[arg(
        long,
        value_name = "NAMES",
        env = "QUOTES_SOURCE",
        value_delimiter = ',',
        help_heading = "Prices and history"
    )]
    pub source: Vec<String>,

    /// The close of a past day, YYYY-MM-DD, instead of the latest price
    ///
    /// A day without trading gives the last close before it, within 7 days.
    #[arg(long, value_name = "DATE", value_parser = parse_date, help_heading = "Prices and history",
          conflicts_with_all = ["max_age", "watch"])]
    pub date: Option<jiff::civil::Date>,

    /// Fail a ticker whose price is older than this: 3d, 12h, 30m, 90s
    #[arg(long, value_name = "DURATION", value_parser = parse_age, help_heading = "Prices and history")]
    pub max_age: Option<Duration>,

    /// Fetch again every SECONDS until Ctrl-C
    ///
    /// At least 1. The table redraws in place on a terminal; other formats append each round
    /// (not json: use jsonl).
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds, help_heading = "Prices and history")]
    pub watch: Option<Duration>,

    /// Stop --watch after N rounds (for tests and scripts)
    #[arg(long, value_name = "N", hide = true, requires = "watch")]
    pub watch_rounds: Option<u64>,

    /// The shortest --watch interval accepted (a test knob: the suite watches every 0.05 s)
    #[arg(long, value_name = "SECONDS", hide = true, default_value = "1",
          value_parser = parse_seconds)]
    pub watch_min: Duration,

    /// The first retry's backoff, doubled for each further one (a test knob)
    #[arg(long, value_name = "SECONDS", hide = true, default_value = "0.25",
          value_parser = parse_seconds)]
    pub backoff_base: Duration,

    /// Print the completion script for bash, elvish, fish, powershell or zsh
    // Not `exclusive`: clap counts a QUOTES_*_URL from the environment as an argument.
    #[arg(long, value_name = "SHELL", value_enum, hide_possible_values = true,
          conflicts_with_all = ["tickers", "files", "man"])]
    pub completions: Option<clap_complete::Shell>,

    /// Print the man page (roff) and exit
    #[arg(long, conflicts_with_all = ["tickers", "files"])]
    pub man: bool,

    /// Most requests in flight at once
    ///
    /// The default sends a typical watchlist in one round trip; over HTTPS Yahoo multiplexes
    /// them on one HTTP/2 connection. A source's own concurrency cap (Nasdaq: 10 at a time)
    /// holds by default; -j given lifts it up to N. A source's spacing (Alpha Vantage: one
    /// request a second, hence one at a time) and its quota are never lifted.
    #[arg(short = 'j', long, value_name = "N", default_value_t = 50,
          value_parser = clap::value_parser!(u16).range(1..=1000), help_heading = "Network")]
    pub jobs: u16,

    /// Seconds one attempt of a request may take
    ///
    /// Every redirect and the whole answer included; connecting takes at most 10 of them.
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = parse_seconds,
          help_heading = "Network")]
    pub timeout: Duration,

    /// How often to retry a failed request
    ///
    /// After a failed connection, a timeout, a 429 or a 5xx answer, with exponential backoff
    /// and jitter; a Retry-After of up to 30 s is honoured.
    #[arg(long, value_name = "N", default_value_t = 2,
          value_parser = clap::value_parser!(u32).range(0..=10), help_heading = "Network")]
    pub retries: u32,

    /// Give up on the whole run after SECONDS (for cron)
    ///
    /// Unfinished tickers fail with "deadline exceeded"; everything finished is printed.
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds, help_heading = "Network",
          conflicts_with = "watch")]
    pub deadline: Option<Duration>,

    /// Also trust the certificates in this PEM file
    ///
    /// For a proxy that inspects TLS; TLS is always verified.
    #[arg(long, value_name = "FILE", help_heading = "Network")]
    pub cacert: Option<PathBuf>,

    /// User-Agent header to send
    ///
    /// [default: Mozilla/5.0 (compatible; quotes/VERSION)]
    #[arg(long, value_name = "STRING", help_heading = "Network")]
    pub user_agent: Option<String>,

    /// Show every HTTP attempt and every fallback on stderr
    ///
    /// One line per attempt (source, method, URL with API keys written `…`, status, HTTP
    /// version, bytes, milliseconds, attempt number) and one per fallback
    /// (`VTSAX: yahoo failed (rate limited); asking nasdaq`).
    #[arg(short = 'v', long, help_heading = "Network")]
    pub verbose: bool,

    /// Tickers, stdin and files in command-line order (filled by `parse`).
    #[arg(skip)]
    pub inputs: Vec<Input>,

    /// Each endpoint's base URL from `--<source>-url`, its variable or its default, in
    /// registry order (filled by `parse`).
    #[arg(skip)]
    pub base_urls: Vec<(&'static Endpoint, String)>,

    /// Convert every price into this currency: EUR, USD, GBP...
    ///
    /// Any ISO 4217 code, in any case. The change and previous close are converted too, at
    /// the rate of the price's day; a ticker whose rate cannot be fetched fails.
    #[arg(long, value_name = "CODE", value_parser = crate::fx::parse_currency,
          help_heading = "Prices and history")]
    pub currency: Option<String>,

    /// Where exchange rates come from (its values and default are set by `command`)
    ///
    /// For --currency, and for the currencies an --update file prices.
    #[arg(
        long,
        value_name = "SOURCE",
        requires = "rates_for",
        help_heading = "Prices and history"
    )]
    pub fx: String,

    /// Keep prices in pence or cents (GBp, ZAc, ILA) as quoted
    ///
    /// Prices quoted in pence, South African cents or agorot (GBp, GBX, ZAc, ZAC, ILA) are
    /// otherwise divided by 100 into GBP, ZAR and ILS.
    #[arg(long, help_heading = "Prices and history", conflicts_with = "currency")]
    pub keep_minor_units: bool,

    /// First day of a range of daily closes, YYYY-MM-DD
    ///
    /// For each ticker, one row per trading day through --to, dates ascending, each that
    /// day's close as traded.
    #[arg(long, value_name = "DATE", value_parser = parse_date, help_heading = "Prices and history",
          conflicts_with_all = ["date", "max_age", "watch"])]
    pub from: Option<jiff::civil::Date>,

    /// Last day of the range, YYYY-MM-DD [default: today]
    #[arg(long, value_name = "DATE", value_parser = parse_date, help_heading = "Prices and history",
          conflicts_with_all = ["date", "max_age", "watch"])]
    pub to: Option<jiff::civil::Date>,

    /// Rows of a range: day, week or month [default: day]
    ///
    /// day: every trading day; week: the close of the last trading day of each week, Monday
    /// to Sunday; month: of each month.
    #[arg(
        long,
        value_name = "INTERVAL",
        value_enum,
        hide_possible_values = true,
        help_heading = "Prices and history"
    )]
    pub interval: Option<IntervalChoice>,

    /// Past closes as traded, or adjusted: none, splits, all [default: none]
    ///
    /// Past closes (--date, --from, --update) as traded that day (none), adjusted for the
    /// splits since (splits), or for splits and dividends (all).
    #[arg(
        long,
        value_name = "WHICH",
        value_enum,
        hide_possible_values = true,
        help_heading = "Prices and history"
    )]
    pub adjust: Option<AdjustChoice>,

    /// Append to a ledger or beancount price file the closes it lacks
    ///
    /// The daily closes from the day after each commodity's last price in each currency
    /// through --to. The format is -f's, or beancount for .beancount and .bean files; the
    /// file is locked while it is read and appended to, only whole lines are ever added, and
    /// a second run appends nothing.
    #[arg(long, value_name = "FILE", help_heading = "Prices and history",
          conflicts_with_all = ["date", "max_age", "watch"])]
    pub update: Option<PathBuf>,

    /// With --update: print what would be appended, and change nothing
    #[arg(long, requires = "update", help_heading = "Prices and history")]
    pub dry_run: bool,

    /// Where past closes are cached
    ///
    /// Also what sources keep for later runs: Alpha Vantage's currencies (30 days), Yahoo's
    /// cookie and crumb when its chart API asked for them (a day, readable by you only).
    /// [default: $XDG_CACHE_HOME/quotes, or ~/.cache/quotes]
    #[arg(
        long,
        value_name = "DIR",
        env = "QUOTES_CACHE_DIR",
        help_heading = "Prices and history"
    )]
    pub cache_dir: Option<PathBuf>,

    /// Neither read nor write the cache of past closes
    ///
    /// Nor what sources keep there: a currency or a crumb is asked again.
    #[arg(long, help_heading = "Prices and history")]
    pub no_cache: bool,

    /// Whether `-f` was given (filled by `parse`): `--update` guesses the format otherwise.
    #[arg(skip)]
    pub format_given: bool,

    /// Whether `-o` was given (filled by `parse`): a range has other default fields.
    #[arg(skip)]
    pub fields_given: bool,

    /// Whether `-j` was given (filled by `parse`): it lifts a source's own concurrency cap.
    #[arg(skip)]
    pub jobs_given: bool,
}

/// `--interval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IntervalChoice {
    Day,
    Week,
    Month,
}

/// `--adjust`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AdjustChoice {
    None,
    Splits,
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// The whole command: the derived flags, plus what the source and format registries add.
/// Their values are named in the help text (one line of `-h` each, a line per value in
/// `--help`), so clap's own lists of values and defaults are hidden for them.
pub fn command() -> clap::Command {
    let formats: Vec<PossibleValue> = FORMATS
        .iter()
        .map(|f| PossibleValue::new(f.name).help(f.about))
        .collect();
    let sources: Vec<PossibleValue> = REGISTRY
        .iter()
        .map(|s| {
            let help = match &s.key {
                Some(key) => format!("{} (API key in {})", s.about, key.env),
                None => s.about.to_string(),
            };
            PossibleValue::new(s.name).help(help)
        })
        .collect();
    let rate_sources: Vec<PossibleValue> = REGISTRY
        .iter()
        .filter(|s| s.rates.is_some())
        .map(|s| PossibleValue::new(s.name).help(s.about))
        .collect();
    // Defaults: the first format, the first source, the first source that publishes rates.
    let format_default = FORMATS[0].name;
    let source_default = REGISTRY[0].name;
    let rate_default = REGISTRY
        .iter()
        .find(|s| s.rates.is_some())
        .map_or("", |s| s.name);
    let format_help = (
        format!("Output format: {}", names_with_default(&formats)),
        format!(
            "Output format [default: {format_default}]:\n{}",
            value_list(&formats)
        ),
    );
    let source_help = (
        format!("Source, or chain a,b,c, for tickers without a prefix [default: {source_default}]"),
        format!(
            "Source for tickers without a `source:` prefix, or a chain of them, \
             comma-separated (yahoo,nasdaq,tiingo): each source is asked only for the tickers \
             the ones before it could not price, at once [default: {source_default}] \
             [env: QUOTES_SOURCE]:\n{}",
            value_list(&sources)
        ),
    );
    let fx_help = (
        format!(
            "Where --currency's rates come from: {}",
            names_with_default(&rate_sources)
        ),
        format!(
            "Where --currency's rates come from [default: {rate_default}]:\n{}",
            value_list(&rate_sources)
        ),
    );
    let fields_long_help = format!(
        "Columns for table, tsv and csv, comma-separated, from: {}",
        fields::ALL.map(|f| f.name()).join(", ")
    );
    // "quotes" whatever the file is called (`quotes.exe` on Windows).
    let mut command = Cli::command()
        .bin_name("quotes")
        .mut_arg("format", |a| {
            a.value_parser(PossibleValuesParser::new(formats))
                .default_value(format_default)
                .required(false)
                .hide_possible_values(true)
                .hide_default_value(true)
                .help(format_help.0)
                .long_help(format_help.1)
        })
        .mut_arg("source", |a| {
            a.value_parser(PossibleValuesParser::new(sources))
                .ignore_case(true)
                .default_value(source_default)
                .hide_env(true)
                .required(false)
                .hide_possible_values(true)
                .hide_default_value(true)
                .help(source_help.0)
                .long_help(source_help.1)
        })
        .mut_arg("fields", |a| {
            a.help("Columns for table, tsv and csv")
                .long_help(fields_long_help)
        })
        .mut_arg("fx", |a| {
            a.value_parser(PossibleValuesParser::new(rate_sources))
                .ignore_case(true)
                .default_value(rate_default)
                .required(false)
                .hide_possible_values(true)
                .hide_default_value(true)
                .help(fx_help.0)
                .long_help(fx_help.1)
        });
    for spec in REGISTRY {
        for endpoint in spec.endpoints {
            // `-h` gets what the API is; a parenthesis saying more is for `--help`.
            let api = endpoint.about.split(" (").next().unwrap_or(endpoint.about);
            command = command.arg(
                Arg::new(endpoint.flag)
                    .long(endpoint.flag)
                    .value_name("URL")
                    .env(endpoint.env)
                    .default_value(endpoint.default_url)
                    .hide_default_value(true)
                    .hide_env(true)
                    .help_heading("Network")
                    .help(format!("Base URL of {api}"))
                    .long_help(format!(
                        "Base URL of {}: scheme, host and port are replaced, paths kept \
                         [default: {}] [env: {}]",
                        endpoint.about, endpoint.default_url, endpoint.env
                    )),
            );
        }
    }
    command
}

/// `a (default), b, c`: the first value is the default.
fn names_with_default(values: &[PossibleValue]) -> String {
    let names: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, v)| match i {
            0 => format!("{} (default)", v.get_name()),
            _ => v.get_name().to_string(),
        })
        .collect();
    names.join(", ")
}

/// One line per value, its name and what it is, aligned.
fn value_list(values: &[PossibleValue]) -> String {
    let width = values.iter().map(|v| v.get_name().len()).max().unwrap_or(0);
    let lines: Vec<String> = values
        .iter()
        .map(|v| {
            let about = v.get_help().map(|h| h.to_string()).unwrap_or_default();
            format!("  {:width$}  {about}", v.get_name())
        })
        .collect();
    lines.join("\n")
}

impl Cli {
    /// Parse the process's arguments; usage errors exit 2 with clap's message.
    pub fn parse_args() -> Cli {
        Cli::try_parse_args(std::env::args_os()).unwrap_or_else(|e| e.exit())
    }

    /// Parse `args` (the first is the program name).
    pub fn try_parse_args<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let matches = command().try_get_matches_from(args)?;
        let mut cli = Cli::from_arg_matches(&matches)?;
        cli.inputs = ordered_inputs(&matches);
        let given = |id: &str| matches.value_source(id) == Some(ValueSource::CommandLine);
        cli.format_given = given("format");
        cli.fields_given = given("fields");
        cli.jobs_given = given("jobs");
        cli.base_urls = REGISTRY
            .iter()
            .flat_map(|spec| spec.endpoints)
            .map(|endpoint| {
                let url = matches
                    .get_one::<String>(endpoint.flag)
                    .cloned()
                    .unwrap_or_else(|| endpoint.default_url.to_string());
                (endpoint, url)
            })
            .collect();
        Ok(cli)
    }
}

/// Ticker arguments and `--file`s interleaved as they were given.
fn ordered_inputs(matches: &ArgMatches) -> Vec<Input> {
    let mut placed: Vec<(usize, Input)> = Vec::new();
    if let (Some(values), Some(indices)) = (
        matches.get_many::<String>("tickers"),
        matches.indices_of("tickers"),
    ) {
        placed.extend(indices.zip(values.map(|v| Input::Arg(v.clone()))));
    }
    if let (Some(values), Some(indices)) = (
        matches.get_many::<PathBuf>("files"),
        matches.indices_of("files"),
    ) {
        placed.extend(indices.zip(values.map(|v| Input::File(v.clone()))));
    }
    placed.sort_by_key(|(index, _)| *index);
    placed.into_iter().map(|(_, input)| input).collect()
}

/// A positive number of seconds, fractions allowed, at most a day.
pub fn parse_seconds(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if !(0.001..=86_400.0).contains(&secs) {
        return Err(format!(
            "{text:?} must be at least 0.001 and at most 86400 seconds"
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// `--date`: a calendar date, `YYYY-MM-DD`, not after today (UTC).
pub fn parse_date(text: &str) -> Result<jiff::civil::Date, String> {
    let date = crate::calendar::parse_iso_date(text)
        .ok_or_else(|| format!("{text:?} is not a date; use YYYY-MM-DD, e.g. 2026-11-20"))?;
    let today = crate::calendar::today_utc();
    if date > today {
        return Err(format!("{date} is in the future (today is {today} UTC)"));
    }
    Ok(date)
}

/// `--max-age`: a number with a unit, s, m, h or d (`3d`, `90m`); a bare number is seconds.
pub fn parse_age(text: &str) -> Result<Duration, String> {
    let bad = || format!("{text:?} is not a duration; use a number and s, m, h or d, e.g. 3d");
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let n: u64 = number.parse().map_err(|_| bad())?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(seconds)
        .filter(|s| *s > 0)
        .map(Duration::from_secs)
        .ok_or_else(bad)
}

/// `--completions SHELL`: the completion script on `out`. Generated into memory first:
/// clap_complete panics on a write error, and a full disk must be an error message.
pub fn write_completions(
    shell: clap_complete::Shell,
    out: &mut impl std::io::Write,
) -> std::io::Result<()> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut visible_command(), "quotes", &mut script);
    out.write_all(&script)?;
    out.flush()
}

/// The command as completions offer it: clap_complete lists hidden arguments too, so the
/// test knobs (`--watch-rounds`, `--watch-min`, `--backoff-base`) are left out here, as they
/// are from `--help` and the man page.
fn visible_command() -> clap::Command {
    let full = command();
    let visible: Vec<Arg> = full
        .get_arguments()
        .filter(|a| !a.is_hide_set())
        .cloned()
        .collect();
    // The groups that visible arguments require (derive's group of every field is not one).
    let groups = full
        .get_groups()
        .filter(|g| {
            g.get_args()
                .all(|id| visible.iter().any(|a| a.get_id() == id))
        })
        .cloned()
        .collect::<Vec<_>>();
    clap::Command::new("quotes")
        .version(env!("CARGO_PKG_VERSION"))
        .args(visible)
        .groups(groups)
}

/// `--man`: the man page in roff on `out`.
pub fn write_man(out: &mut impl std::io::Write) -> std::io::Result<()> {
    clap_mangen::Man::new(command()).render(out)?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_configuration_is_consistent() {
        command().debug_assert();
        visible_command().debug_assert();
    }

    #[test]
    fn every_registered_source_and_format_is_on_the_command_line() {
        let help = command().render_long_help().to_string();
        for spec in REGISTRY {
            assert!(help.contains(spec.name), "{}", spec.name);
            for endpoint in spec.endpoints {
                assert!(help.contains(&format!("--{}", endpoint.flag)), "{help}");
                assert!(help.contains(endpoint.env), "{help}");
            }
        }
        for format in FORMATS {
            assert!(help.contains(format.name), "{}", format.name);
        }
        let cli = Cli::try_parse_args(["quotes", "--coinbase-url", "http://h:1", "X"]).unwrap();
        let coinbase = cli
            .base_urls
            .iter()
            .find(|(e, _)| e.flag == "coinbase-url")
            .unwrap();
        assert_eq!(coinbase.1, "http://h:1");
        assert!(Cli::try_parse_args(["quotes", "-f", "xml", "X"]).is_err());
        assert!(Cli::try_parse_args(["quotes", "--source", "nope", "X"]).is_err());
        assert_eq!(
            Cli::try_parse_args(["quotes", "--source", "Coinbase", "X"])
                .unwrap()
                .source,
            ["Coinbase"]
        );
        // A chain, in order (issue 19); every name must be a source.
        assert_eq!(
            Cli::try_parse_args(["quotes", "--source", "yahoo,coinbase", "X"])
                .unwrap()
                .source,
            ["yahoo", "coinbase"]
        );
        for bad in ["yahoo,nope", "yahoo,", ","] {
            assert!(
                Cli::try_parse_args(["quotes", "--source", bad, "X"]).is_err(),
                "{bad}"
            );
        }
        assert_eq!(
            Cli::try_parse_args(["quotes", "X"]).unwrap().source,
            ["yahoo"]
        );
    }

    #[test]
    fn seconds_must_be_positive_and_finite() {
        assert_eq!(parse_seconds("1.5").unwrap(), Duration::from_millis(1500));
        for bad in ["0", "-1", "nan", "inf", "x", "", "1e9", "1e-300", "0.0001"] {
            assert!(parse_seconds(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dates_ages_and_watch_intervals() {
        assert_eq!(parse_date("2024-02-29").unwrap().to_string(), "2024-02-29");
        for bad in [
            "2023-02-29",
            "2024-2-1",
            "20240201",
            "yesterday",
            "2024-02-01T00:00",
        ] {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
        let future = parse_date("2999-01-01").unwrap_err();
        assert!(future.contains("future"), "{future}");
        assert_eq!(parse_age("3d").unwrap(), Duration::from_secs(3 * 86_400));
        assert_eq!(parse_age("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_age("15m").unwrap(), Duration::from_secs(900));
        for bad in ["", "d", "3w", "-1d", "0s", "1.5h", "99999999999999999999d"] {
            assert!(parse_age(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn files_and_arguments_keep_command_line_order() {
        let cli =
            Cli::try_parse_args(["quotes", "A", "--file", "f1", "B", "--file", "f2", "-"]).unwrap();
        assert_eq!(
            cli.inputs,
            [
                Input::Arg("A".into()),
                Input::File("f1".into()),
                Input::Arg("B".into()),
                Input::File("f2".into()),
                Input::Arg("-".into()),
            ]
        );
    }

    #[test]
    fn currency_flags() {
        let parse =
            |args: &[&str]| Cli::try_parse_args(["quotes"].iter().chain(args).chain(&["X"]));
        let cli = parse(&["--currency", "eur"]).unwrap();
        assert_eq!(cli.currency.as_deref(), Some("EUR"));
        assert_eq!(cli.fx, "yahoo");
        assert_eq!(cli.precision, None);
        let cli = parse(&["--currency", "USD", "--fx", "ECB"]).unwrap();
        assert_eq!(cli.fx.to_ascii_lowercase(), "ecb");
        for bad in [
            &["--currency", "EURO"][..],
            &["--currency", "GBX"],
            &["--currency", "EUR", "--fx", "coinbase"],
            &["--fx", "ecb"],
            &["--currency", "EUR", "--keep-minor-units"],
        ] {
            let err = parse(bad).err().unwrap();
            assert_eq!(err.exit_code(), 2, "{bad:?}: {err}");
        }
        // --update prices the currencies of its file at --fx's rates too.
        let cli = parse(&["--update", "p.journal", "--fx", "ecb"]).unwrap();
        assert_eq!(cli.fx.to_ascii_lowercase(), "ecb");
        assert!(parse(&["--keep-minor-units"]).unwrap().keep_minor_units);
        let help = command().render_long_help().to_string();
        for flag in [
            "--currency",
            "--fx",
            "--keep-minor-units",
            "--ecb-url",
            "QUOTES_ECB_URL",
        ] {
            assert!(help.contains(flag), "{flag}");
        }
    }

    #[test]
    fn unknown_field_is_a_usage_error_listing_valid_ones() {
        let err = Cli::try_parse_args(["quotes", "-o", "price,nope", "X"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("change_percent"), "{err}");
    }
}
