//! The command line: clap derive, where doc comments ARE the `--help` text.
//!
//! House rules (after xh): a short flag only where it is worth a letter (`-j`); every
//! option that takes a value has an uppercase `value_name`; exit codes are documented in
//! `long_about` and kept in step with `lib::ExitStatus`.

use std::time::Duration;

use clap::Parser;

const ABOUT: &str =
    "Print the latest price of each ticker, fetched concurrently, in the order given.";

const LONG_ABOUT: &str = "\
Print the latest price of each ticker, fetched concurrently, in the order given.

stdout carries data only: one line per ticker (symbol, price rounded half-to-even, currency).
A ticker that fails prints no line on stdout and one line on stderr saying why.

Exit status:
  0  every ticker printed
  1  at least one ticker failed (all others were still printed)
  2  usage error (no tickers, unknown flag, bad option value)";

const AFTER_HELP: &str = "\
Examples:
  quotes VTSAX VTIAX IJS              prices in a terminal
  price=$(quotes VTSAX | awk '{print $2}')
                                      one price into a shell variable
  quotes -j 8 $(cat watchlist)        a watchlist, at most 8 requests at once";

#[derive(Debug, Parser)]
#[command(name = "quotes", version, about = ABOUT, long_about = LONG_ABOUT, after_help = AFTER_HELP)]
pub struct Cli {
    /// Ticker symbols, e.g. VTSAX BRK-B ^GSPC EURUSD=X (case-insensitive)
    #[arg(value_name = "TICKER")]
    pub tickers: Vec<String>,

    /// Most requests in flight at once. The default sends a typical watchlist in one
    /// round trip; over HTTPS Yahoo multiplexes them on one HTTP/2 connection.
    #[arg(short = 'j', long, value_name = "N", default_value_t = 50,
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub jobs: u16,

    /// Seconds to wait for each request (connecting takes at most 10 of them)
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = parse_seconds)]
    pub timeout: Duration,

    /// Retries for connection failures, timeouts, 429 and 5xx answers, with exponential
    /// backoff and jitter; a Retry-After of up to 30 s is honoured
    #[arg(long, value_name = "N", default_value_t = 2,
          value_parser = clap::value_parser!(u32).range(0..=10))]
    pub retries: u32,

    /// User-Agent header to send [default: quotes/VERSION]
    #[arg(long, value_name = "STRING")]
    pub user_agent: Option<String>,

    /// Base URL of the Yahoo chart API: scheme, host and port
    #[arg(long, value_name = "URL", env = "QUOTES_YAHOO_URL",
          default_value = crate::source::yahoo::DEFAULT_BASE_URL, hide_default_value = true)]
    pub yahoo_url: String,
}

/// A positive number of seconds, fractions allowed, at most a day.
pub fn parse_seconds(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if !(secs > 0.0 && secs <= 86_400.0) {
        return Err(format!(
            "{text:?} must be more than 0 and at most 86400 seconds"
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_configuration_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn seconds_must_be_positive_and_finite() {
        assert_eq!(parse_seconds("1.5").unwrap(), Duration::from_millis(1500));
        for bad in ["0", "-1", "nan", "inf", "x", "", "1e9"] {
            assert!(parse_seconds(bad).is_err(), "{bad}");
        }
    }
}
