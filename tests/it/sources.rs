//! Integration tests for issue 4: Coinbase beside Yahoo, `--date`, `--max-age` and
//! `--watch`, each against local servers for both sources.
// Some tests here need Unix or Linux (signals, script(1), /dev/full, /proc): elsewhere
// they are not compiled, and the imports only they use are not used.
#![cfg_attr(not(target_os = "linux"), allow(unused_imports))]

use std::io::{BufRead, BufReader};
use std::process::{Command as StdCommand, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use predicates::prelude::*;

use crate::cmd::{BIN, quotes_for_both, quotes_process, require_tool, via};
use crate::support::{Reply, Server, coinbase_body};

/// `--watch` rounds this far apart, which the `--watch-min` test knob allows: the watch tests
/// check what each round does, not the real minimum (the usage-error test in core.rs does).
const FAST_WATCH: [&str; 4] = ["--watch", "0.05", "--watch-min", "0.01"];

fn stdout(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8(assert.get_output().stdout.clone()).unwrap()
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn yahoo_prices() -> Server {
    Server::start(|req| Reply::chart(&req.symbol(), "100.125", Some("USD"), 1_740_000_000))
}

fn coinbase_prices() -> Server {
    Server::start(|req| match req.symbol().as_str() {
        "BTC-USD" => Reply::json(200, coinbase_body("BTC", "USD", "59465.39029629")),
        "ETH-EUR" => Reply::fixture(200, "coinbase_spot_BTC-USD_with_warnings.json"),
        _ => Reply::fixture(404, "coinbase_spot_error_invalid_base_currency.404.json"),
    })
}

#[test]
fn mixed_sources_keep_input_order() {
    let (yahoo, coinbase) = (yahoo_prices(), coinbase_prices());
    let out = quotes_for_both(&yahoo, &coinbase)
        .args(["-f", "tsv", "-o", "symbol,price,currency,source"])
        .args(["VTSAX", "coinbase:BTC-USD", "yahoo:IJS", "COINBASE:eth-eur"])
        .assert()
        .success();
    assert_eq!(
        stdout(&out),
        "VTSAX\t100.12\tUSD\tyahoo\nBTC-USD\t59465.39\tUSD\tcoinbase\nIJS\t100.12\tUSD\tyahoo\nETH-EUR\t8125.00\tUSD\tcoinbase\n"
    );
    // The two Coinbase requests go together: either may arrive first.
    let mut paths: Vec<String> = coinbase.requests().into_iter().map(|r| r.path).collect();
    paths.sort();
    assert_eq!(
        paths,
        ["/v2/prices/BTC-USD/spot", "/v2/prices/ETH-EUR/spot"]
    );
    assert_eq!(yahoo.request_count(), 2);
}

#[test]
fn json_names_each_tickers_source() {
    let (yahoo, coinbase) = (yahoo_prices(), coinbase_prices());
    let out = quotes_for_both(&yahoo, &coinbase)
        .args(["-f", "json", "coinbase:BTC-USD", "VTSAX"])
        .assert()
        .success();
    let parsed: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(parsed[0]["source"], "coinbase");
    assert_eq!(parsed[1]["source"], "yahoo");
    // Coinbase has no timestamp: the time is when it was fetched, which is about now.
    let time = parsed[0]["time"].as_str().unwrap();
    assert!(time.ends_with('Z') && time.len() == 20, "{time}");
}

#[test]
fn coinbase_string_amounts_are_exact() {
    let (yahoo, coinbase) = (yahoo_prices(), coinbase_prices());
    quotes_for_both(&yahoo, &coinbase)
        .args([
            "--source",
            "coinbase",
            "--precision",
            "8",
            "-o",
            "price",
            "BTC-USD",
        ])
        .assert()
        .success()
        .stdout("59465.39029629\n");
    drop(yahoo.expect_no_requests());
}

#[test]
fn coinbase_errors_say_what_to_check() {
    let (yahoo, coinbase) = (yahoo_prices(), coinbase_prices());
    quotes_for_both(&yahoo, &coinbase)
        .args(["coinbase:XRP-USD", "VTSAX"])
        .assert()
        .code(1)
        .stdout("VTSAX  100.12  USD\n")
        .stderr(
            "quotes: XRP-USD: not found on Coinbase (Invalid base currency); check the pair, e.g. BTC-USD\n",
        );
}

#[test]
fn coinbase_rate_limit_is_retried() {
    let yahoo = Server::start(|_| Reply::Close).expect_no_requests();
    let first = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let coinbase = Server::start(move |_| {
        if first.swap(false, std::sync::atomic::Ordering::SeqCst) {
            Reply::json(
                429,
                r#"{"errors":[{"id":"rate_limit_exceeded","message":"Too many requests"}]}"#,
            )
        } else {
            Reply::json(200, coinbase_body("BTC", "USD", "1.5"))
        }
    });
    quotes_for_both(&yahoo, &coinbase)
        .args(["--backoff-base", "0.01", "coinbase:BTC-USD"])
        .assert()
        .success()
        .stdout("BTC-USD  1.50  USD\n");
    assert_eq!(coinbase.hits("BTC-USD"), 2);
}

#[test]
fn unknown_sources_and_non_pairs_never_reach_a_server() {
    let yahoo = Server::start(|_| Reply::Close).expect_no_requests();
    let coinbase = Server::start(|_| Reply::Close).expect_no_requests();
    quotes_for_both(&yahoo, &coinbase)
        .args(["kraken:BTC-USD", "coinbase:AAPL"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(
            predicate::str::contains(
                "quotes: kraken:BTC-USD: invalid ticker: unknown source \"kraken\"; known sources: yahoo, coinbase",
            )
            .and(predicate::str::contains("quotes: coinbase:AAPL: invalid ticker: AAPL is not a currency pair")),
        );
}

fn tsla_history() -> Server {
    Server::start(|req| match req.symbol().as_str() {
        "TSLA" => Reply::fixture(200, "yahoo_chart_TSLA_daily_history.json"),
        "INR=X" => Reply::fixture(200, "yahoo_chart_INR=X_daily_history_with_null_bar.json"),
        "AAPL" => Reply::fixture(200, "yahoo_chart_AAPL_period_2020-01-01_2020-01-03.json"),
        _ => Reply::fixture(404, "yahoo_chart_error_not_found.404.json"),
    })
}

#[test]
fn date_prints_that_days_close_from_the_bars() {
    let yahoo = tsla_history();
    let coinbase = Server::start(|_| Reply::Close).expect_no_requests();
    quotes_for_both(&yahoo, &coinbase)
        .args([
            "--date",
            "2021-01-06",
            "--precision",
            "10",
            "-f",
            "tsv",
            "-o",
            "symbol,price,time",
            "TSLA",
        ])
        .assert()
        .success()
        .stdout("TSLA\t251.9933319092\t2021-01-06T14:30:00Z\n");
    // Beside the window goes a request for the splits since (issue 10): find the window.
    let requests = yahoo.requests();
    let req = requests
        .iter()
        .find(|r| r.query_param("interval").as_deref() == Some("1d"))
        .expect("the window's request");
    let period1: i64 = req.query_param("period1").unwrap().parse().unwrap();
    let period2: i64 = req.query_param("period2").unwrap().parse().unwrap();
    // The window covers the day's session-open bar and a week before it.
    assert!(
        period1 <= 1_609_943_400 - 7 * 86_400 && period2 > 1_609_943_400,
        "{period1} {period2}"
    );
}

#[test]
fn date_on_a_weekend_uses_the_last_trading_day_and_says_so() {
    let yahoo = tsla_history();
    let coinbase = Server::start(|_| Reply::Close).expect_no_requests();
    // 2021-01-09 was a Saturday: Friday's close, stamped Friday.
    quotes_for_both(&yahoo, &coinbase)
        .args(["--date", "2021-01-09", "-f", "ledger", "TSLA"])
        .assert()
        .success()
        .stdout("P 2021-01-08 TSLA 293.34 USD\n");
}

#[test]
fn date_skips_null_bars_and_never_uses_todays_price() {
    let yahoo = tsla_history();
    let coinbase = Server::start(|_| Reply::Close).expect_no_requests();
    // INR=X's bar for 2017-07-11 (London) is all nulls: the 10th's close is used.
    quotes_for_both(&yahoo, &coinbase)
        .args(["--date", "2017-07-11", "-o", "symbol,price,date", "INR=X"])
        .assert()
        .success()
        .stdout("INR=X  64.6117  2017-07-10\n");
    // Stamped 2017-07-09 23:00 UTC, which is already the 10th in London: the directive
    // is dated by the trading day, not by the UTC stamp.
    quotes_for_both(&yahoo, &coinbase)
        .args(["--date", "2017-07-11", "-f", "ledger", "INR=X"])
        .assert()
        .success()
        // INR=X is Yahoo's short form of USDINR=X: a price of USD (issue 10).
        .stdout("P 2017-07-10 USD 64.6117 INR\n");
    // The recorded AAPL body has meta.regularMarketPrice 244.87 (the day it was
    // recorded) and one bar that closed at 75.0875015258789 on 2020-01-02.
    quotes_for_both(&yahoo, &coinbase)
        .args(["--date", "2020-01-02", "-o", "price", "AAPL"])
        .assert()
        .success()
        .stdout("75.09\n");
}

#[test]
fn date_with_no_data_is_a_per_ticker_error() {
    let yahoo = tsla_history();
    let coinbase = Server::start(|_| Reply::Close).expect_no_requests();
    quotes_for_both(&yahoo, &coinbase)
        .args(["--date", "2021-03-01", "TSLA"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::starts_with(
            "quotes: TSLA: no price in the response from Yahoo: no trading day between",
        ));
}

#[test]
fn coinbase_date_asks_for_that_day() {
    let yahoo = Server::start(|_| Reply::Close).expect_no_requests();
    let coinbase = Server::start(|_| Reply::json(200, coinbase_body("BTC", "USD", "34000.5")));
    quotes_for_both(&yahoo, &coinbase)
        .args([
            "--date",
            "2021-01-06",
            "-f",
            "beancount",
            "coinbase:BTC-USD",
        ])
        .assert()
        .success()
        // A pair is a price of its base (issue 10).
        .stdout("2021-01-06 price BTC 34000.50 USD\n");
    let req = &coinbase.requests()[0];
    assert_eq!(req.query_param("date").as_deref(), Some("2021-01-06"));
    quotes_for_both(&yahoo, &coinbase)
        .args(["--date", "2021-01-06", "-f", "ledger", "coinbase:BTC-USD"])
        .assert()
        .success()
        .stdout("P 2021-01-06 BTC 34000.50 USD\n");
}

#[test]
fn max_age_fails_old_prices_and_passes_fresh_ones() {
    let five_days_ago = now() - 5 * 86_400;
    let yahoo =
        Server::start(move |req| Reply::chart(&req.symbol(), "10", Some("USD"), five_days_ago));
    let coinbase = Server::start(|_| Reply::Close).expect_no_requests();
    let day = jiff_free_date(five_days_ago);
    quotes_for_both(&yahoo, &coinbase)
        .args(["--max-age", "3d", "VTSAX"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::starts_with(format!(
            "quotes: VTSAX: stale: last price is from {day}"
        )));
    quotes_for_both(&yahoo, &coinbase)
        .args(["--max-age", "7d", "VTSAX"])
        .assert()
        .success()
        .stdout("VTSAX  10.00  USD\n");
}

/// YYYY-MM-DD of a Unix time, computed here independently of the binary's date code.
fn jiff_free_date(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[test]
fn watch_appends_rounds_over_the_same_connection() {
    let yahoo = Server::start(|req| Reply::chart(&req.symbol(), "1", Some("USD"), 1));
    let coinbase = Server::start(|_| Reply::Close).expect_no_requests();
    let out = quotes_for_both(&yahoo, &coinbase)
        .args(FAST_WATCH)
        .args(["--watch-rounds", "3", "-j", "1", "-f", "jsonl", "A", "B"])
        .assert()
        .success();
    let text = stdout(&out);
    let symbols: Vec<String> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["symbol"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(symbols, ["A", "B", "A", "B", "A", "B"]);
    assert_eq!(yahoo.request_count(), 6);
    assert_eq!(yahoo.connections(), 1, "rounds must reuse the connection");
}

#[test]
fn watch_writes_the_csv_header_once() {
    let yahoo = Server::start(|req| Reply::chart(&req.symbol(), "2", Some("USD"), 1));
    let coinbase = Server::start(|_| Reply::Close).expect_no_requests();
    quotes_for_both(&yahoo, &coinbase)
        .args(FAST_WATCH)
        .args([
            "--watch-rounds",
            "2",
            "-f",
            "csv",
            "-o",
            "symbol,price",
            "A",
        ])
        .assert()
        .success()
        .stdout("symbol,price\r\nA,2.00\r\nA,2.00\r\n");
}

#[test]
fn a_failing_round_is_reported_and_the_watch_goes_on() {
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let yahoo = Server::start(move |req| {
        if calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            Reply::text(503, "down")
        } else {
            Reply::chart(&req.symbol(), "3", Some("USD"), 1)
        }
    });
    let coinbase = Server::start(|_| Reply::Close).expect_no_requests();
    quotes_for_both(&yahoo, &coinbase)
        .args(FAST_WATCH)
        .args(["--watch-rounds", "2", "--retries", "0", "-f", "tsv", "A"])
        .assert()
        .success()
        .stdout("A\t3.00\tUSD\n")
        .stderr("quotes: A: HTTP 503 from Yahoo: a server error; try again later\n");
}

// Signals: Unix. On Windows Ctrl-C ends a watch with status 130 (src/exit.rs).
#[cfg(unix)]
#[test]
fn ctrl_c_and_sigterm_end_a_watch_by_the_signal() {
    // The signal goes out once the first round is on stdout, so the watch is running.
    let yahoo = Server::start(|req| Reply::chart(&req.symbol(), "4", Some("USD"), 1));
    for signal in ["-INT", "-TERM"] {
        let mut child = quotes_process()
            .env("QUOTES_YAHOO_URL", yahoo.url())
            .args(["--watch", "1", "-f", "tsv", "A"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        assert_eq!(lines.next().unwrap().unwrap(), "A\t4.00\tUSD");
        let killed = StdCommand::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let status = child.wait().unwrap();
        // It dies by the signal, like any run, so a shell loop of watches stops too.
        use std::os::unix::process::ExitStatusExt;
        let number = if signal == "-INT" { 2 } else { 15 };
        assert_eq!(status.signal(), Some(number), "{signal}: {status:?}");
    }
}

/// A signal in the middle of a round ends the watch as it ends a single run: what arrived
/// is printed and the tickers it interrupted are named (issue 18: nothing was printed).
// Signals are Unix ones; a Ctrl-C on Windows ends a watch round the same way (src/exit.rs).
#[cfg(unix)]
#[test]
fn a_watch_interrupted_mid_round_prints_what_arrived_and_names_the_rest() {
    let yahoo = Server::start(|req| match req.symbol().as_str() {
        "SLOW" => Reply::Stall,
        symbol => Reply::chart(symbol, "4", Some("USD"), 1),
    });
    for signal in ["-INT", "-TERM"] {
        let asked = yahoo.request_count();
        let child = quotes_process()
            .env("QUOTES_YAHOO_URL", yahoo.url())
            // One at a time: SLOW is asked only once FAST's answer is read.
            .args(["--watch", "60", "-j", "1", "-f", "tsv", "FAST", "SLOW"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        crate::support::wait_until(
            "both tickers were asked",
            std::time::Duration::from_secs(10),
            || yahoo.request_count() >= asked + 2,
        );
        let killed = StdCommand::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let out = child.wait_with_output().unwrap();
        use std::os::unix::process::ExitStatusExt;
        let number = if signal == "-INT" { 2 } else { 15 };
        assert_eq!(
            out.status.signal(),
            Some(number),
            "{signal}: {:?}",
            out.status
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "FAST\t4.00\tUSD\n",
            "{signal}"
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "quotes: SLOW: interrupted before a price arrived\n",
            "{signal}"
        );
    }
}

// script(1) with util-linux's options gives quotes a terminal; what is drawn on a terminal
// is the same on every system (on Windows, through the console's VT mode: src/main.rs).
#[cfg(target_os = "linux")]
#[test]
fn watch_redraws_the_table_in_place_on_a_terminal() {
    if !require_tool("script") {
        return;
    }
    let yahoo = Server::start(|req| Reply::chart(&req.symbol(), "5", Some("USD"), 1));
    let watch = FAST_WATCH.join(" ");
    let out = via("script")
        .args([
            "-qec",
            &format!("{BIN} {watch} --watch-rounds 2 A B"),
            "/dev/null",
        ])
        .env("QUOTES_YAHOO_URL", yahoo.url())
        .assert()
        .success();
    let screen = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert_eq!(screen.matches("A  5.00  USD").count(), 2, "{screen:?}");
    assert!(screen.contains("updated "), "{screen:?}");
    // The second round moves the cursor up over the first (2 rows + status) and clears.
    assert!(screen.contains("\x1b[3A\x1b[J"), "{screen:?}");
}

/// Issue 9: the redraw counts SCREEN rows. On a 40-column terminal a 100-character name
/// wraps onto 3 rows, and the not-found line on stderr (the same terminal) onto 4; counting
/// lines (1 + 1 + 1) left stale rows behind every round.
// script(1) with util-linux's options gives quotes a terminal; what is drawn on a terminal
// is the same on every system (on Windows, through the console's VT mode: src/main.rs).
#[cfg(target_os = "linux")]
#[test]
fn watch_redraws_wrapped_lines_by_screen_rows() {
    if !require_tool("script") {
        return;
    }
    let name = "N".repeat(100);
    let yahoo = Server::start(move |req| match req.symbol().as_str() {
        "NOPE" => Reply::fixture(404, "yahoo_chart_error_not_found.404.json"),
        s => Reply::json(
            200,
            crate::support::chart_body(s, "5", Some("USD"), 1)
                .replace(r#""symbol":"#, &format!(r#""longName":"{name}","symbol":"#)),
        ),
    });
    let watch = FAST_WATCH.join(" ");
    let out = via("script")
        .args([
            "-qec",
            &format!("stty cols 40 rows 50; {BIN} {watch} --watch-rounds 2 -o symbol,name A NOPE"),
            "/dev/null",
        ])
        .env("QUOTES_YAHOO_URL", yahoo.url())
        .assert()
        .code(1);
    let screen = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    // Row: "A  " + 100 characters = 103 columns: 3 rows. Status line: 1 row. The error:
    // "quotes: NOPE: not found on Yahoo (…); check the symbol …" is 127 columns: 4 rows.
    let error = screen
        .lines()
        .find(|l| l.starts_with("quotes: NOPE: "))
        .expect("the error line");
    let error_rows = error.trim_end().chars().count().div_ceil(40);
    assert_eq!(error_rows, 4, "{error:?}");
    let up = format!("\x1b[{}A\x1b[J", 3 + 1 + error_rows);
    assert!(screen.contains(&up), "no {up:?} in {screen:?}");
}

#[test]
fn a_rate_limited_round_does_not_silence_the_next_rounds() {
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let yahoo = Server::start(move |req| {
        if calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            Reply::text(429, "Edge: Too Many Requests")
        } else {
            Reply::chart(&req.symbol(), "6", Some("USD"), 1)
        }
    });
    let coinbase = Server::start(|_| Reply::Close).expect_no_requests();
    quotes_for_both(&yahoo, &coinbase)
        .args(FAST_WATCH)
        .args(["--watch-rounds", "3", "--retries", "0", "-f", "tsv", "RL"])
        .assert()
        .success()
        .stdout("RL\t6.00\tUSD\nRL\t6.00\tUSD\n")
        .stderr(predicate::str::starts_with(
            "quotes: RL: rate limited by Yahoo (HTTP 429)",
        ));
    assert_eq!(yahoo.hits("RL"), 3, "every round asks again");
}
