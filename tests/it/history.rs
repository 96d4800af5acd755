//! Price history for ledgers (issue 10), against local servers and recorded answers: ranges
//! and intervals, closes as traded (the NVDA split window), Coinbase Exchange candles,
//! commodity names, `--update` of ledger and beancount files (checked by hledger and
//! bean-check), its atomicity under SIGKILL, and the cache of past closes.
//!
//! Every command is the suite's scrubbed one (`crate::cmd`), with the cache directory of
//! the test's own `Dirs`, so that a test can look at (or share, or break) its cache.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Instant;

use crate::cmd::require_tool;
use crate::support::{Reply, Request, Server};
use assert_cmd::Command;
use predicates::prelude::*;

const NVDA: &str = "yahoo_chart_NVDA_split_window.json";
const TSLA: &str = "yahoo_chart_TSLA_daily_history.json";
const INR: &str = "yahoo_chart_INR=X_daily_history_with_null_bar.json";
const CANDLES: &str = "coinbase_candles_BTC-EUR_2021-01-01_2021-01-07.json";

/// The answer to the request for NVDA's splits after the recorded window: the 10:1 split of
/// 2024-06-10, which the window's own answer does not list.
const NVDA_SPLITS_SINCE: &str = r#"{"chart":{"result":[{"meta":{"currency":"USD","symbol":"NVDA","gmtoffset":-14400},"timestamp":[1643639400,1717853400],"events":{"splits":{"1718026200":{"date":1718026200,"numerator":10,"denominator":1,"splitRatio":"10:1"}}},"indicators":{"quote":[{"close":[24.5,120.9]}]}}],"error":null}}"#;

/// A test's own directories: the cache (`QUOTES_CACHE_DIR`), `XDG_CACHE_HOME`, and files.
pub(crate) struct Dirs {
    pub(crate) root: tempfile::TempDir,
}

impl Dirs {
    pub(crate) fn new() -> Dirs {
        Dirs {
            root: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    fn cache(&self) -> PathBuf {
        self.root.path().join("cache")
    }

    pub(crate) fn file(&self, name: &str) -> PathBuf {
        self.root.path().join(name)
    }
}

/// `quotes` in a scrubbed environment: no proxy, no `QUOTES_*` variable from the shell, no
/// colour, and a cache of this test's own.
pub(crate) fn quotes(dirs: &Dirs) -> Command {
    let mut cmd = crate::cmd::quotes();
    cmd.env("XDG_CACHE_HOME", dirs.root.path().join("xdg"))
        .env("QUOTES_CACHE_DIR", dirs.cache());
    cmd
}

/// `quotes` with Yahoo at `yahoo`.
pub(crate) fn yahoo(dirs: &Dirs, yahoo: &Server) -> Command {
    let mut cmd = quotes(dirs);
    cmd.env("QUOTES_YAHOO_URL", yahoo.url());
    cmd
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub(crate) fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Yahoo answering from recorded bodies: NVDA's window and the splits since it, TSLA and
/// INR=X's daily bars (the same bars whatever period is asked), 404 for anything else.
pub fn recorded_yahoo() -> Server {
    Server::start(|req| match req.symbol().as_str() {
        "NVDA" if req.query_param("interval").as_deref() == Some("3mo") => {
            Reply::json(200, NVDA_SPLITS_SINCE)
        }
        "NVDA" => Reply::fixture(200, NVDA),
        "TSLA" => Reply::fixture(200, TSLA),
        "AAPL" => Reply::fixture_as(TSLA, "AAPL"),
        "INR=X" => Reply::fixture(200, INR),
        _ => Reply::fixture(404, "yahoo_chart_error_not_found.404.json"),
    })
}

fn is_window(req: &Request) -> bool {
    req.query_param("interval").as_deref() == Some("1d")
}

fn unix(date: &str) -> i64 {
    let date: jiff::civil::Date = date.parse().expect("a date");
    date.to_zoned(jiff::tz::TimeZone::UTC)
        .expect("in range")
        .timestamp()
        .as_second()
}

fn today() -> jiff::civil::Date {
    jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
}

// ---------------------------------------------------------------------------------------
// Closes as traded

#[test]
fn nvda_before_two_splits_prints_the_price_it_traded_at() {
    let dirs = Dirs::new();
    let server = recorded_yahoo();
    // 13.237000465393066 (adjusted to today's shares) × 4 (2021) × 10 (2024) = 529.48…
    yahoo(&dirs, &server)
        .args(["--no-cache", "-f", "tsv"])
        .args(["--from", "2021-02-01", "--to", "2021-02-01", "NVDA"])
        .assert()
        .success()
        .stderr("")
        .stdout("NVDA\t2021-02-01\t529.48\tUSD\n");
    // One request for the window with its splits, one for the splits since, concurrently.
    let requests = server.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    let window = requests.iter().find(|r| is_window(r)).expect("the window");
    assert_eq!(window.query_param("events").as_deref(), Some("split"));
    let period1: i64 = window.query_param("period1").unwrap().parse().unwrap();
    let period2: i64 = window.query_param("period2").unwrap().parse().unwrap();
    assert!(
        period1 <= 1_612_189_800 && period2 > 1_612_189_800,
        "{window:?}"
    );
    let since = requests.iter().find(|r| !is_window(r)).expect("the splits");
    assert_eq!(since.query_param("interval").as_deref(), Some("3mo"));
    assert_eq!(since.query_param("events").as_deref(), Some("split"));
    let since_from: i64 = since.query_param("period1").unwrap().parse().unwrap();
    assert!(since_from <= unix("2021-02-02"), "{since:?}");
    let since_to: i64 = since.query_param("period2").unwrap().parse().unwrap();
    assert!(since_to >= jiff::Timestamp::now().as_second(), "{since:?}");

    // --date gives the same close, the same way.
    yahoo(&dirs, &server)
        .args(["--no-cache", "--date", "2021-02-01", "-o", "price", "NVDA"])
        .assert()
        .success()
        .stdout("529.48\n");
    assert_eq!(server.request_count(), 4);
}

#[test]
fn a_range_ending_weeks_ago_gets_the_splits_since_in_its_one_request() {
    let dirs = Dirs::new();
    let today = today();
    let day = |n: i64| today.saturating_sub(jiff::Span::new().days(n));
    let (from, to, split) = (day(30), day(20), day(10));
    // Bars at 14:30 UTC on the range's first and last day and on the split's day, Yahoo's
    // closes adjusted for a 2:1 split 10 days ago, which only a window stretched past the
    // range's end lists. The bar after the range is never printed.
    let stamp = |d: jiff::civil::Date| unix(&d.to_string()) + 52_200;
    let body = format!(
        r#"{{"chart":{{"result":[{{"meta":{{"currency":"USD","symbol":"X","gmtoffset":0}},"timestamp":[{},{},{}],"events":{{"splits":{{"{s}":{{"date":{s},"numerator":2,"denominator":1,"splitRatio":"2:1"}}}}}},"indicators":{{"quote":[{{"close":[5.25,6.125,7.5]}}]}}}}],"error":null}}}}"#,
        stamp(from),
        stamp(to),
        stamp(split),
        s = stamp(split),
    );
    let server = Server::start(move |_| Reply::json(200, body.clone()));
    yahoo(&dirs, &server)
        .args([
            "--no-cache",
            "-f",
            "tsv",
            "-o",
            "date,price",
            "--precision",
            "3",
        ])
        .args(["--from", &from.to_string(), "--to", &to.to_string(), "X"])
        .assert()
        .success()
        .stderr("")
        .stdout(format!("{from}\t10.500\n{to}\t12.250\n"));
    // One request: the range's window, reaching past today, with the splits.
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0].query_param("interval").as_deref(), Some("1d"));
    assert_eq!(requests[0].query_param("events").as_deref(), Some("split"));
    let period2: i64 = requests[0].query_param("period2").unwrap().parse().unwrap();
    assert!(period2 > jiff::Timestamp::now().as_second(), "{requests:?}");
}

#[test]
fn a_close_on_the_split_day_is_already_post_split() {
    let dirs = Dirs::new();
    let server = recorded_yahoo();
    yahoo(&dirs, &server)
        .args(["--no-cache", "-f", "tsv", "-o", "date,price"])
        .args(["--from", "2021-07-19", "--to", "2021-07-20", "NVDA"])
        .assert()
        .success()
        // 18.77975082397461 × 40 and 18.61199951171875 × 10.
        .stdout("2021-07-19\t751.19\n2021-07-20\t186.12\n");
}

#[test]
fn adjusted_closes_are_yahoos_and_need_no_second_request() {
    let dirs = Dirs::new();
    let server = recorded_yahoo();
    let range = ["--from", "2021-02-01", "--to", "2021-02-01"];
    yahoo(&dirs, &server)
        .args(range)
        .args(["--adjust", "splits", "-o", "price", "NVDA"])
        .assert()
        .success()
        .stdout("13.24\n");
    assert_eq!(server.request_count(), 1);
    assert_eq!(server.requests()[0].query_param("events"), None);
    yahoo(&dirs, &server)
        .args(range)
        .args(["--adjust", "all", "-o", "price", "NVDA"])
        .assert()
        .success()
        .stdout("13.20\n");
    // JSON says which close it is.
    for (adjust, price) in [("none", "529.48"), ("all", "13.20")] {
        let out = yahoo(&dirs, &server)
            .args(range)
            .args(["-f", "json", "--adjust", adjust, "NVDA"])
            .output()
            .unwrap();
        let text = stdout(&out);
        assert!(text.contains(&format!(r#""price":{price},"#)), "{text}");
        let rows: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(rows[0]["adjust"], adjust, "{rows}");
        assert_eq!(rows[0]["date"], "2021-02-01");
        assert_eq!(rows[0].get("commodity"), None, "{rows}");
    }
}

// ---------------------------------------------------------------------------------------
// Ranges and intervals

#[test]
fn a_range_prints_every_trading_day_per_ticker_in_input_order() {
    let dirs = Dirs::new();
    let server = recorded_yahoo();
    let out = yahoo(&dirs, &server)
        .args(["-f", "csv", "--from", "2021-01-06", "--to", "2021-01-10"])
        .args(["TSLA", "AAPL"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // The default fields of a range; each ticker's days ascending, tickers in input order.
    assert_eq!(
        stdout(&out),
        "symbol,date,price,currency\r\n\
         TSLA,2021-01-06,251.99,USD\r\n\
         TSLA,2021-01-07,272.01,USD\r\n\
         TSLA,2021-01-08,293.34,USD\r\n\
         AAPL,2021-01-06,251.99,USD\r\n\
         AAPL,2021-01-07,272.01,USD\r\n\
         AAPL,2021-01-08,293.34,USD\r\n"
    );
    // -o still chooses the columns.
    yahoo(&dirs, &server)
        .args([
            "-f",
            "tsv",
            "-o",
            "price",
            "--from",
            "2021-01-08",
            "--to",
            "2021-01-08",
        ])
        .arg("TSLA")
        .assert()
        .success()
        .stdout("293.34\n");
}

#[test]
fn a_range_without_a_trading_day_is_that_tickers_error() {
    let dirs = Dirs::new();
    let server = recorded_yahoo();
    yahoo(&dirs, &server)
        .args(["-f", "tsv", "-o", "symbol,date", "--from", "2021-01-08"])
        .args(["--to", "2021-01-10", "INR=X", "TSLA"])
        .assert()
        .code(1)
        .stdout("TSLA\t2021-01-08\n")
        .stderr(
            "quotes: INR=X: no price in the response from Yahoo: no trading day between \
             2021-01-08 and 2021-01-10\n",
        );
    // One day, a Saturday.
    yahoo(&dirs, &server)
        .args(["--from", "2021-01-09", "--to", "2021-01-09", "TSLA"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::contains("no trading day on 2021-01-09"));
}

#[test]
fn a_null_bar_is_skipped_never_printed_as_zero() {
    let dirs = Dirs::new();
    let server = recorded_yahoo();
    // London bars stamped 23:00 UTC are the next day's; 2017-07-11's bar is all nulls.
    yahoo(&dirs, &server)
        .args(["-f", "tsv", "-o", "date,price", "--from", "2017-07-10"])
        .args(["--to", "2017-07-13", "INR=X"])
        .assert()
        .success()
        // Yahoo states 4 decimals for the pair (`priceHint`).
        .stdout("2017-07-10\t64.6117\n2017-07-12\t64.5256\n2017-07-13\t64.3650\n");
}

#[test]
fn weeks_and_months_print_the_close_of_their_last_trading_day() {
    let dirs = Dirs::new();
    let server = recorded_yahoo();
    // Good Friday 2021-04-02 was a holiday: that week's last close is Thursday's.
    yahoo(&dirs, &server)
        .args(["-f", "tsv", "-o", "date,price", "--interval", "week"])
        .args(["--from", "2021-03-29", "--to", "2021-04-09", "NVDA"])
        .assert()
        .success()
        .stdout("2021-04-01\t552.47\n2021-04-09\t576.00\n");
    // The range cuts the last month short: its last trading day INSIDE the range.
    let out = yahoo(&dirs, &server)
        .args(["-f", "tsv", "-o", "date", "--interval", "month"])
        .args(["--from", "2021-02-15", "--to", "2021-04-14", "NVDA"])
        .output()
        .unwrap();
    assert_eq!(stdout(&out), "2021-02-26\n2021-03-31\n2021-04-14\n");
    // Still one window request (and the splits since), never one per period.
    assert_eq!(server.requests().iter().filter(|r| is_window(r)).count(), 2);
}

#[test]
fn range_mistakes_are_usage_errors_before_any_request() {
    let dirs = Dirs::new();
    let server = Server::start(|_| Reply::Close).expect_no_requests();
    for (args, message) in [
        (
            &["--from", "2021-02-01", "--to", "2021-01-01"][..],
            "before --from",
        ),
        (&["--from", "1990-01-01", "--to", "2021-01-01"], "30 years"),
        (&["--from", "2999-01-01"], "in the future"),
        (
            &["--from", "2021-01-01", "--to", "2999-01-01"],
            "in the future",
        ),
        (&["--from", "2021-02-30"], "YYYY-MM-DD"),
        (&["--to", "2021-01-01"], "give --from"),
        (&["--interval", "week"], "give --from"),
        (&["--adjust", "all"], "past closes"),
        (
            &["--from", "2021-01-01", "--date", "2021-01-05"],
            "cannot be used with",
        ),
        (
            &["--from", "2021-01-01", "--watch", "5"],
            "cannot be used with",
        ),
        (
            &["--from", "2021-01-01", "--interval", "year"],
            "invalid value",
        ),
        (&["--dry-run"], "--update"),
    ] {
        yahoo(&dirs, &server)
            .args(args)
            .arg("TSLA")
            .assert()
            .code(2)
            .stdout("")
            .stderr(predicate::str::contains(message));
    }
}

// ---------------------------------------------------------------------------------------
// Coinbase Exchange candles

#[test]
fn coinbase_ranges_read_exchange_candles_exactly() {
    let dirs = Dirs::new();
    let spot = Server::start(|_| Reply::Close).expect_no_requests();
    let exchange = Server::start(|_| Reply::fixture(200, CANDLES));
    let out = quotes(&dirs)
        .env("QUOTES_COINBASE_URL", spot.url())
        .env("QUOTES_COINBASE_EXCHANGE_URL", exchange.url())
        .args(["-f", "tsv", "--from", "2021-01-01", "--to", "2021-01-07"])
        .arg("coinbase:BTC-EUR")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // Newest first on the wire, oldest first here; integral values written without a
    // decimal point on the wire (32900) are closes too.
    assert_eq!(
        stdout(&out),
        "BTC-EUR\t2021-01-01\t24070.97\tEUR\n\
         BTC-EUR\t2021-01-02\t25907.35\tEUR\n\
         BTC-EUR\t2021-01-03\t25644.41\tEUR\n\
         BTC-EUR\t2021-01-04\t26115.94\tEUR\n\
         BTC-EUR\t2021-01-05\t27654.01\tEUR\n\
         BTC-EUR\t2021-01-06\t29838.52\tEUR\n\
         BTC-EUR\t2021-01-07\t32120.19\tEUR\n"
    );
    let req = &exchange.requests()[0];
    assert_eq!(req.path, "/products/BTC-EUR/candles");
    assert_eq!(req.query_param("granularity").as_deref(), Some("86400"));
    assert_eq!(
        req.query_param("start").as_deref(),
        Some("2021-01-01T00:00:00Z")
    );
    assert_eq!(
        req.query_param("end").as_deref(),
        Some("2021-01-07T00:00:00Z")
    );

    // The flag wins over the variable; --date keeps the spot API.
    let other = Server::start(|_| Reply::fixture(200, CANDLES));
    quotes(&dirs)
        .env("QUOTES_COINBASE_EXCHANGE_URL", "http://127.0.0.1:9")
        .args(["--coinbase-exchange-url", &other.url(), "--no-cache"])
        .args(["-o", "price", "--from", "2021-01-07", "--to", "2021-01-07"])
        .arg("coinbase:BTC-EUR")
        .assert()
        .success()
        .stdout("32120.19\n");
}

#[test]
fn a_long_coinbase_range_is_cut_into_requests_of_300_days() {
    let dirs = Dirs::new();
    // Candles for exactly the days asked, newest first, close = the day's number.
    let exchange = Server::start(|req| {
        let day = |name: &str| -> i64 {
            let text = req.query_param(name).unwrap_or_default();
            unix(text.get(..10).unwrap_or("1970-01-01")) / 86_400
        };
        let (start, end) = (day("start"), day("end"));
        if end - start + 1 > 300 {
            return Reply::json(
                400,
                r#"{"message":"granularity too small for the requested time range"}"#,
            );
        }
        let candles: Vec<String> = (start..=end)
            .rev()
            .map(|d| format!("[{},1,2,3,{d}.5,9]", d * 86_400))
            .collect();
        Reply::json(200, format!("[{}]", candles.join(",")))
    });
    let out = quotes(&dirs)
        .env("QUOTES_COINBASE_EXCHANGE_URL", exchange.url())
        .args(["-f", "tsv", "-o", "date,price", "-j", "4"])
        .args([
            "--from",
            "2020-01-01",
            "--to",
            "2021-12-31",
            "coinbase:ETH-USD",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    // 2020 and 2021: 731 days, each once, in order, across three requests.
    assert_eq!(lines.len(), 731);
    assert_eq!(lines[0], "2020-01-01\t18262.50");
    assert_eq!(lines[730], "2021-12-31\t18992.50");
    assert!(lines.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(exchange.request_count(), 3);
}

#[test]
fn help_lists_every_history_flag_and_variable() {
    let dirs = Dirs::new();
    let out = quotes(&dirs).arg("--help").output().unwrap();
    let help = stdout(&out);
    for flag in [
        "--from",
        "--to",
        "--interval",
        "--adjust",
        "--update",
        "--dry-run",
        "--cache-dir",
        "QUOTES_CACHE_DIR",
        "--no-cache",
        "--coinbase-exchange-url",
        "QUOTES_COINBASE_EXCHANGE_URL",
        "https://api.exchange.coinbase.com",
    ] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
}

// ---------------------------------------------------------------------------------------
// Commodity names

#[test]
fn commodity_names_are_what_ledger_and_beancount_write() {
    let dirs = Dirs::new();
    let yahoo_server = Server::start(|req| {
        let symbol = req.symbol();
        let currency = if symbol == "EURUSD=X" { "USD" } else { "GBP" };
        Reply::chart(&symbol, "1.5", Some(currency), 1_763_672_400)
    });
    let coinbase = Server::start(|_| {
        Reply::json(200, crate::support::coinbase_body("BTC", "USD", "97208.17"))
    });
    let list = dirs.file("list.txt");
    std::fs::write(&list, "VWRL.L@VWRL  # named in a file\n").unwrap();
    let run = |format: &str| {
        yahoo(&dirs, &yahoo_server)
            .env("QUOTES_COINBASE_URL", coinbase.url())
            .args(["-f", format, "--file"])
            .arg(&list)
            .args(["EURUSD=X", "coinbase:BTC-USD", "IJS.L@IJS"])
            .output()
            .unwrap()
    };
    let out = run("ledger");
    assert!(out.status.success(), "{}", stderr(&out));
    let ledger = stdout(&out);
    let lines: Vec<&str> = ledger.lines().collect();
    assert_eq!(lines.len(), 4, "{ledger}");
    assert_eq!(lines[0], "P 2025-11-20 21:00:00 VWRL 1.50 GBP");
    assert_eq!(lines[1], "P 2025-11-20 21:00:00 EUR 1.50 USD");
    // A spot price is stamped when it was read: the time varies, the names do not.
    assert!(
        lines[2].starts_with("P ") && lines[2].ends_with(" BTC 97208.17 USD"),
        "{ledger}"
    );
    assert_eq!(lines[3], "P 2025-11-20 21:00:00 IJS 1.50 GBP");
    let beancount = stdout(&run("beancount"));
    let names: Vec<&str> = beancount
        .lines()
        .map(|l| l.split(' ').nth(2).unwrap())
        .collect();
    assert_eq!(names, ["VWRL", "EUR", "BTC", "IJS"]);
    // Other formats keep the ticker; JSON adds the commodity where it differs.
    let tsv = stdout(&run("tsv"));
    assert!(tsv.starts_with("VWRL.L\t1.50\tGBP\nEURUSD=X\t"), "{tsv}");
    let json: serde_json::Value = serde_json::from_slice(&run("json").stdout).unwrap();
    assert_eq!(json[0]["symbol"], "VWRL.L");
    assert_eq!(json[0]["commodity"], "VWRL");
    assert_eq!(json[2]["commodity"], "BTC");
    assert_eq!(json[0].get("adjust"), None, "a latest price has no adjust");
}

#[test]
fn a_bad_commodity_name_is_that_inputs_error() {
    let dirs = Dirs::new();
    let server = Server::start(|req| Reply::chart(&req.symbol(), "1", Some("USD"), 1_763_672_400));
    yahoo(&dirs, &server)
        .args([
            "-f",
            "beancount",
            "AAPL@",
            "^GSPC",
            "AAPL@Apple",
            "AAPL@APPL",
        ])
        .assert()
        .code(1)
        .stdout("2025-11-20 price APPL 1.00 USD\n")
        .stderr(predicate::str::contains(
            "quotes: AAPL@: invalid ticker: the commodity name after @ is empty",
        ))
        .stderr(predicate::str::contains(
            "quotes: ^GSPC: ^GSPC cannot be a beancount commodity",
        ))
        .stderr(predicate::str::contains("name one with ^GSPC@NAME"))
        .stderr(predicate::str::contains(
            "quotes: AAPL: Apple cannot be a beancount",
        ));
}

// ---------------------------------------------------------------------------------------
// --update

/// Whether `tool` can run here. In CI (`CI=true`) a missing tool fails the test; elsewhere
/// the test says why it is skipped.
const JOURNAL: &str = "\
; prices, kept by quotes
P 2021-01-04 TSLA 243.26 USD
P 2021-01-05 TSLA 245.04 USD
P 2021-01-06 AAPL 251.99 USD";

#[test]
fn update_appends_only_the_missing_days_sorted_and_then_says_up_to_date() {
    let dirs = Dirs::new();
    let server = recorded_yahoo();
    let file = dirs.file("prices.journal");
    // No newline at the end: one is added, nothing else of the file changes.
    std::fs::write(&file, JOURNAL).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
    }
    yahoo(&dirs, &server)
        .arg("--update")
        .arg(&file)
        .args(["--to", "2021-01-08"])
        .assert()
        .success()
        .stdout("")
        .stderr(format!("{}: appended 5 prices\n", file.display()));
    let updated = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        updated,
        format!(
            "{JOURNAL}\n\
             P 2021-01-06 TSLA 251.99 USD\n\
             P 2021-01-07 TSLA 272.01 USD\n\
             P 2021-01-07 AAPL 272.01 USD\n\
             P 2021-01-08 TSLA 293.34 USD\n\
             P 2021-01-08 AAPL 293.34 USD\n"
        )
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o640);
    }
    // No temporary file is left beside it.
    let names: Vec<_> = std::fs::read_dir(dirs.root.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        !names
            .iter()
            .any(|n| n.to_string_lossy().contains("quotes-tmp")),
        "{names:?}"
    );

    // Twice in a row: nothing to append, no request, not one byte changed.
    let asked = server.request_count();
    yahoo(&dirs, &server)
        .arg("--update")
        .arg(&file)
        .args(["--to", "2021-01-08"])
        .assert()
        .success()
        .stderr(format!("{}: up to date, 2 commodities\n", file.display()));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), updated);
    assert_eq!(server.request_count(), asked);

    if require_tool("hledger") {
        let out = std::process::Command::new("hledger")
            .arg("-f")
            .arg(&file)
            .arg("prices")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(stdout(&out).lines().count(), 8, "{}", stdout(&out));
    }
    if require_tool("ledger") {
        let out = std::process::Command::new("ledger")
            .arg("-f")
            .arg(&file)
            .arg("pricedb")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
}

#[test]
fn update_dry_run_prints_what_it_would_append_and_changes_nothing() {
    let dirs = Dirs::new();
    let server = recorded_yahoo();
    let file = dirs.file("prices.journal");
    std::fs::write(&file, format!("{JOURNAL}\n")).unwrap();
    yahoo(&dirs, &server)
        .arg("--update")
        .arg(&file)
        // The same commodity twice is still one price a day.
        .args(["--dry-run", "--to", "2021-01-07", "TSLA", "TSLA@TSLA"])
        .assert()
        .success()
        .stdout("P 2021-01-06 TSLA 251.99 USD\nP 2021-01-07 TSLA 272.01 USD\n")
        .stderr(format!(
            "{}: would append 2 prices (dry run)\n",
            file.display()
        ));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        format!("{JOURNAL}\n")
    );
}

#[test]
fn update_a_beancount_file_from_its_beanprice_metadata() {
    let dirs = Dirs::new();
    let yahoo_server = recorded_yahoo();
    let exchange = Server::start(|_| Reply::fixture(200, CANDLES));
    let file = dirs.file("prices.beancount");
    let before = "\
option \"title\" \"Prices\"

2020-01-01 commodity TSLA
  price: \"USD:yahoo/TSLA\"
2020-01-01 commodity BTC
  name: \"Bitcoin\"
  price: \"EUR:coinbase/BTC-EUR\"
2020-01-01 commodity USD
2020-01-01 commodity EUR

2021-01-05 price TSLA 245.04 USD
2021-01-05 price BTC 27654.01 EUR
";
    std::fs::write(&file, before).unwrap();
    yahoo(&dirs, &yahoo_server)
        .env("QUOTES_COINBASE_EXCHANGE_URL", exchange.url())
        .arg("--update")
        .arg(&file)
        .args(["--to", "2021-01-07"])
        .assert()
        .success()
        .stderr(format!("{}: appended 4 prices\n", file.display()));
    let after = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        after,
        format!(
            "{before}\
             2021-01-06 price TSLA 251.99 USD\n\
             2021-01-06 price BTC 29838.52 EUR\n\
             2021-01-07 price TSLA 272.01 USD\n\
             2021-01-07 price BTC 32120.19 EUR\n"
        )
    );
    if require_tool("bean-check") {
        let out = std::process::Command::new("bean-check")
            .arg(&file)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    }
}

#[test]
fn update_refuses_a_file_it_cannot_read_with_the_line_number() {
    let dirs = Dirs::new();
    let server = Server::start(|_| Reply::Close).expect_no_requests();
    let file = dirs.file("prices.journal");
    let text = "P 2021-01-04 TSLA 243.26 USD\ndate,symbol,price\n";
    std::fs::write(&file, text).unwrap();
    yahoo(&dirs, &server)
        .arg("--update")
        .arg(&file)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!("{}:2: ", file.display())))
        .stderr(predicate::str::contains("left unchanged"));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
    // A beancount file, by its extension.
    let bean = dirs.file("p.bean");
    std::fs::write(
        &bean,
        "2021-01-04 price TSLA 1 USD\n2021-01-05 price tsla 2 USD\n",
    )
    .unwrap();
    yahoo(&dirs, &server)
        .arg("--update")
        .arg(&bean)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(":2: price entry"));
    // And a format that has no price directives.
    yahoo(&dirs, &server)
        .args(["-f", "csv", "--update"])
        .arg(&file)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("-f ledger or -f beancount"));
}

#[test]
fn update_needs_from_for_a_commodity_without_a_price() {
    let dirs = Dirs::new();
    let server = recorded_yahoo();
    let file = dirs.file("prices.journal");
    std::fs::write(&file, format!("{JOURNAL}\n")).unwrap();
    // It fails alone: TSLA is appended all the same (issue 17).
    yahoo(&dirs, &server)
        .arg("--update")
        .arg(&file)
        .args(["--to", "2021-01-08", "TSLA", "NVDA@NVIDIA"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "quotes: NVDA: NVIDIA has no price in",
        ))
        .stderr(predicate::str::contains("give --from YYYY-MM-DD"))
        .stderr(predicate::str::contains("appended 3 prices; failed: NVDA"));
    // With --from it starts there; TSLA goes on from its last day.
    yahoo(&dirs, &server)
        .arg("--update")
        .arg(&file)
        .args(["--from", "2022-01-27", "--to", "2022-01-28", "NVDA@NVIDIA"])
        .assert()
        .success();
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.ends_with("P 2022-01-27 NVIDIA 219.44 USD\nP 2022-01-28 NVIDIA 228.40 USD\n"),
        "{text}"
    );
    // A missing file with tickers is a new price file.
    let new = dirs.file("new.journal");
    yahoo(&dirs, &server)
        .arg("--update")
        .arg(&new)
        .args(["--from", "2021-01-07", "--to", "2021-01-08", "TSLA"])
        .assert()
        .success();
    assert_eq!(
        std::fs::read_to_string(&new).unwrap(),
        "P 2021-01-07 TSLA 272.01 USD\nP 2021-01-08 TSLA 293.34 USD\n"
    );
}

#[test]
fn an_update_killed_at_any_moment_loses_nothing_and_the_next_run_completes_it() {
    const KILLS: usize = 20;
    let dirs = Dirs::new();
    let server = recorded_yahoo();
    // Large enough that reading it takes a while: kills land while it is read, fetched
    // and written.
    let mut old = String::with_capacity(8 << 20);
    let start: jiff::civil::Date = "1990-01-01".parse().unwrap();
    let mut day = start;
    for i in 0..100_000u32 {
        if i % 20 == 0 {
            day = day.tomorrow().unwrap();
        }
        old.push_str(&format!(
            "P {day} C{:03} {}.{:02} USD\n",
            i % 20,
            i % 997,
            i % 100
        ));
    }
    old.push_str("P 2021-01-05 TSLA 245.04 USD\n");
    let file = dirs.file("prices.journal");
    let run = || {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_quotes"));
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("QUOTES_") {
                cmd.env_remove(name);
            }
        }
        cmd.env("QUOTES_YAHOO_URL", server.url())
            .arg("--no-cache")
            .arg("--update")
            .arg(&file)
            .args(["--to", "2021-01-08", "TSLA"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cmd
    };
    // The complete new content, and how long a whole run takes.
    std::fs::write(&file, &old).unwrap();
    let began = Instant::now();
    assert!(run().status().unwrap().success());
    let whole = began.elapsed();
    let new = std::fs::read(&file).unwrap();
    assert_eq!(new.len(), old.len() + 3 * 29);
    let (mut saw_old, mut saw_new, mut saw_part) = (0, 0, 0);
    for _ in 0..KILLS {
        std::fs::write(&file, &old).unwrap();
        let mut child = run().spawn().unwrap();
        std::thread::sleep(whole.mul_f64(fastrand::f64() * 1.1));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        // The lines are appended in place, in one write: whatever moment the kill came,
        // the file is the old content and a beginning of the new lines, never anything
        // else (a partial last line is possible only inside that one write, and the next
        // run removes it: see update::a_write_that_dies_midway_is_completed_by_the_next_run).
        let now = std::fs::read(&file).unwrap();
        assert!(
            now.starts_with(old.as_bytes()) && new.starts_with(&now),
            "killed: the file is neither the old content nor a beginning of the new ({} \
             bytes, old {}, new {})",
            now.len(),
            old.len(),
            new.len()
        );
        if now == old.as_bytes() {
            saw_old += 1;
        } else if now == new {
            saw_new += 1;
        } else {
            saw_part += 1;
        }
        // And the next run makes it whole.
        assert!(run().status().unwrap().success());
        assert_eq!(std::fs::read(&file).unwrap(), new);
    }
    eprintln!(
        "killed {KILLS} times: old file {saw_old}, new file {saw_new}, part of the new lines \
         {saw_part}"
    );
    // No temporary file: the lines go into the file itself.
    let names: Vec<_> = std::fs::read_dir(dirs.root.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        !names
            .iter()
            .any(|n| n.to_string_lossy().contains("quotes-tmp")),
        "{names:?}"
    );
}

// ---------------------------------------------------------------------------------------
// The cache

#[test]
fn a_range_fetched_once_is_answered_from_the_cache_weekends_included() {
    let dirs = Dirs::new();
    let server = recorded_yahoo();
    let args = [
        "-f",
        "tsv",
        "--from",
        "2021-01-02",
        "--to",
        "2021-01-10",
        "TSLA",
    ];
    let first = yahoo(&dirs, &server).args(args).output().unwrap();
    assert!(first.status.success(), "{}", stderr(&first));
    assert_eq!(stdout(&first).lines().count(), 5);
    let asked = server.request_count();
    assert_eq!(asked, 2);
    // Again, and a part of it, and a --date inside it: not one request.
    let again = yahoo(&dirs, &server).args(args).output().unwrap();
    assert_eq!(stdout(&again), stdout(&first));
    assert_eq!(stderr(&again), "");
    yahoo(&dirs, &server)
        .args([
            "-f",
            "tsv",
            "--from",
            "2021-01-06",
            "--to",
            "2021-01-09",
            "TSLA",
        ])
        .assert()
        .success()
        .stdout(predicate::str::starts_with(
            "TSLA\t2021-01-06\t251.99\tUSD\n",
        ));
    yahoo(&dirs, &server)
        .args(["-o", "date,price", "--date", "2021-01-10", "TSLA"])
        .assert()
        .success()
        .stdout("2021-01-08  293.34\n");
    assert_eq!(server.request_count(), asked);
    // A wider range asks only for the days it lacks.
    yahoo(&dirs, &server)
        .args(["--from", "2021-01-02", "--to", "2021-01-12", "TSLA"])
        .assert()
        .success();
    let wider: Vec<Request> = server.requests()[asked..].to_vec();
    let window = wider.iter().find(|r| is_window(r)).expect("a window");
    let period1: i64 = window.query_param("period1").unwrap().parse().unwrap();
    assert!(period1 >= unix("2021-01-10"), "{window:?}");
    // --no-cache and adjusted closes always ask; JSON of a cached close is the same.
    let asked = server.request_count();
    yahoo(&dirs, &server)
        .args(args)
        .arg("--no-cache")
        .assert()
        .success();
    yahoo(&dirs, &server)
        .args(args)
        .args(["--adjust", "splits"])
        .assert()
        .success();
    assert_eq!(server.request_count(), asked + 3);
}

#[test]
fn latest_prices_never_touch_the_cache() {
    let dirs = Dirs::new();
    let server = Server::start(|req| Reply::chart(&req.symbol(), "1", Some("USD"), 1_763_672_400));
    yahoo(&dirs, &server).arg("AAPL").assert().success();
    yahoo(&dirs, &server).arg("AAPL").assert().success();
    assert_eq!(server.request_count(), 2);
    assert!(!dirs.cache().exists(), "a latest price created the cache");
}

#[test]
fn a_corrupt_cache_is_named_once_and_started_anew() {
    let dirs = Dirs::new();
    let server = recorded_yahoo();
    std::fs::create_dir_all(dirs.cache()).unwrap();
    let db = dirs.cache().join("closes.sqlite3");
    std::fs::write(&db, vec![0x5a; 8192]).unwrap();
    let args = [
        "-f",
        "tsv",
        "--from",
        "2021-01-04",
        "--to",
        "2021-01-08",
        "TSLA",
    ];
    let out = yahoo(&dirs, &server).args(args).output().unwrap();
    assert!(out.status.success());
    assert_eq!(stdout(&out).lines().count(), 5);
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("closes.sqlite3") && err.contains("corrupt"),
        "{err}"
    );
    // Started anew: the next run is answered from it, silently.
    let asked = server.request_count();
    yahoo(&dirs, &server)
        .args(args)
        .assert()
        .success()
        .stderr("");
    assert_eq!(server.request_count(), asked);

    // A cache that cannot be created at all: named once, the run goes on.
    let blocked = dirs.file("not-a-dir");
    std::fs::write(&blocked, b"").unwrap();
    let out = yahoo(&dirs, &server)
        .env("QUOTES_CACHE_DIR", blocked.join("cache"))
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
}

#[test]
fn two_runs_at_once_share_the_cache() {
    let dirs = Dirs::new();
    let server = recorded_yahoo();
    let spawn = |from: &str, ticker: &str| {
        yahoo(&dirs, &server)
            .args(["-f", "tsv", "--from", from, "--to", "2021-12-31", ticker])
            .output()
    };
    for round in 0..3 {
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(|| spawn("2021-02-01", "NVDA"));
            let b = s.spawn(|| spawn("2021-01-01", "TSLA"));
            (a.join().unwrap().unwrap(), b.join().unwrap().unwrap())
        });
        for out in [&a, &b] {
            assert!(out.status.success(), "round {round}: {}", stderr(out));
            assert_eq!(stderr(out), "", "round {round}");
        }
        assert_eq!(stdout(&b).lines().count(), 5);
    }
    // After the first round everything came from the cache: NVDA 2, TSLA 2.
    assert_eq!(server.request_count(), 4);
}

#[test]
fn a_session_still_running_is_no_close_and_not_kept() {
    let dirs = Dirs::new();
    let today = today();
    let yesterday = today.yesterday().unwrap();
    let midnight = unix(&today.to_string());
    // Bars stamped at 00:00 UTC yesterday and today; today's session ends at the last
    // second of today (UTC), so whatever the time of day (and however slow the machine) it
    // is still running.
    let body = format!(
        r#"{{"chart":{{"result":[{{"meta":{{"currency":"USD","symbol":"X","gmtoffset":0,"currentTradingPeriod":{{"regular":{{"start":{midnight},"end":{}}}}}}},"timestamp":[{},{midnight}],"indicators":{{"quote":[{{"close":[10.5,11.25]}}]}}}}],"error":null}}}}"#,
        midnight + 86_399,
        midnight - 86_400
    );
    let server = Server::start(move |_| Reply::json(200, body.clone()));
    let from = yesterday.yesterday().unwrap().to_string();
    yahoo(&dirs, &server)
        .args(["-f", "tsv", "-o", "date,price", "--from", &from, "X"])
        .assert()
        .success()
        .stdout(format!("{yesterday}\t10.50\n"));
    // Asked again, the day not over is asked again.
    let asked = server.request_count();
    yahoo(&dirs, &server)
        .args(["-f", "tsv", "--from", &from, "X"])
        .assert()
        .success();
    assert!(server.request_count() > asked);
    // An update before the close appends yesterday's close only.
    let file = dirs.file("p.journal");
    std::fs::write(&file, format!("P {from} X 10 USD\n")).unwrap();
    yahoo(&dirs, &server)
        .arg("--update")
        .arg(&file)
        .assert()
        .success();
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        format!("P {from} X 10 USD\nP {yesterday} X 10.50 USD\n")
    );
}
