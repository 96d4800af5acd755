//! Fallback chains (issue 19): `--source a,b` and `QUOTES_SOURCE`, each ticker asked of the
//! next source only when the one before failed, without waiting on the first's rate limit;
//! who answered in `-o source` and JSON; one line naming every source's failure; `-v`.
//!
//! The chains here are Yahoo then Coinbase, with currency pairs (`BTC-USD`) that both can
//! price; the Nasdaq and Tiingo tests chain them too (`nasdaq.rs`, `tiingo.rs`).

use std::time::{Duration, Instant};

use predicates::prelude::*;

use crate::cmd::{quotes, quotes_for_both};
use crate::support::{Reply, Server, coinbase_body};

fn stdout(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8(assert.get_output().stdout.clone()).unwrap()
}

fn stderr(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8(assert.get_output().stderr.clone()).unwrap()
}

/// Yahoo answering 429 to everything, asking to come back in 30 s.
fn yahoo_refusing() -> Server {
    Server::start(|_| {
        Reply::fixture(429, "yahoo_too_many_requests.429.txt").with_header("retry-after", "30")
    })
}

/// Coinbase pricing every pair at 2.50 in its quote currency.
fn coinbase_pricing() -> Server {
    Server::start(|req| {
        let pair = req.symbol();
        let (base, quote) = pair.split_once('-').unwrap_or((&pair, "USD"));
        Reply::json(200, coinbase_body(base, quote, "2.50"))
    })
}

fn pairs(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("T{i:03}-USD")).collect()
}

#[test]
fn yahoo_refusing_everything_costs_one_burst_and_no_wait_before_the_next_source() {
    let (yahoo, coinbase) = (yahoo_refusing(), coinbase_pricing());
    let tickers = pairs(20);
    let started = Instant::now();
    let out = quotes_for_both(&yahoo, &coinbase)
        .args(["--source", "yahoo,coinbase", "-j", "4", "-f", "tsv"])
        .args(["-o", "symbol,price,source"])
        .args(&tickers)
        .assert()
        .success();
    let took = started.elapsed();
    let expected: String = tickers
        .iter()
        .map(|t| format!("{t}\t2.50\tcoinbase\n"))
        .collect();
    assert_eq!(stdout(&out), expected);
    // A ticker a later source priced adds nothing to stderr.
    assert_eq!(stderr(&out), "");
    // One burst: the four first requests met the 429 and closed Yahoo's gate; the other
    // tickers went straight to Coinbase, without a request to Yahoo and without waiting.
    assert_eq!(yahoo.request_count(), 4, "{:?}", yahoo.requests());
    assert_eq!(coinbase.request_count(), 20);
    // Waiting out Yahoo's Retry-After would take 30 s at least.
    assert!(took < Duration::from_secs(15), "took {took:?}");
}

#[test]
fn a_later_source_is_asked_only_for_the_tickers_that_failed_before_it() {
    let yahoo = Server::start(|req| match req.symbol().as_str() {
        "BTC-USD" => Reply::chart("BTC-USD", "97208.17", Some("USD"), 1_740_000_000),
        _ => Reply::fixture(404, "yahoo_chart_error_not_found.404.json"),
    });
    let coinbase = coinbase_pricing();
    let out = quotes_for_both(&yahoo, &coinbase)
        .args(["--source", "yahoo,coinbase", "-f", "json"])
        .args(["BTC-USD", "ETH-EUR", "BTC-USD"])
        .assert()
        .success();
    let rows: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let shown: Vec<(String, String, String)> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["symbol"].as_str().unwrap().to_string(),
                r["price"].to_string(),
                r["source"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            ("BTC-USD".into(), "97208.17".into(), "yahoo".into()),
            ("ETH-EUR".into(), "2.5".into(), "coinbase".into()),
            ("BTC-USD".into(), "97208.17".into(), "yahoo".into()),
        ]
    );
    let asked: Vec<String> = coinbase.requests().iter().map(|r| r.symbol()).collect();
    assert_eq!(asked, ["ETH-EUR"]);
    assert_eq!(stderr(&out), "");
}

#[test]
fn when_every_source_fails_one_line_names_each_failure() {
    let yahoo = Server::start(|_| Reply::fixture(404, "yahoo_chart_error_not_found.404.json"));
    let coinbase = Server::start(|_| {
        Reply::fixture(404, "coinbase_spot_error_invalid_base_currency.404.json")
    });
    quotes_for_both(&yahoo, &coinbase)
        .args(["--source", "yahoo,coinbase", "XRP-USD"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(
            "quotes: XRP-USD: every source failed: [yahoo] not found on Yahoo (No data found, \
             symbol may be delisted); check the symbol and its exchange suffix, e.g. VOD.L \
             [coinbase] not found on Coinbase (Invalid base currency); check the pair, e.g. \
             BTC-USD\n",
        );
    let out = quotes_for_both(&yahoo, &coinbase)
        .args(["--source", "yahoo,coinbase", "-f", "json", "XRP-USD"])
        .assert()
        .code(1);
    let rows: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    // The kind is the last source's: the answer that ended the chain.
    assert_eq!(rows[0]["error"]["kind"], "not_found");
    assert_eq!(rows[0]["source"], "coinbase");
    let message = rows[0]["error"]["message"].as_str().unwrap();
    assert!(message.contains("[yahoo] not found on Yahoo"), "{message}");
}

#[test]
fn a_prefix_means_that_source_only_and_it_keeps_its_retries() {
    let yahoo = yahoo_refusing();
    let coinbase = coinbase_pricing().expect_no_requests();
    // Yahoo alone is the last source of its chain: the 429's Retry-After exceeds what is
    // waited for, so it fails as before; Coinbase is never asked.
    quotes_for_both(&yahoo, &coinbase)
        .args([
            "--source",
            "yahoo,coinbase",
            "--retries",
            "0",
            "yahoo:BTC-USD",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with(
            "quotes: BTC-USD: rate limited by Yahoo (HTTP 429)",
        ));
    drop(coinbase);
    // And coinbase:BTC-USD never goes to Yahoo.
    let yahoo = yahoo_refusing().expect_no_requests();
    let coinbase = coinbase_pricing();
    quotes_for_both(&yahoo, &coinbase)
        .args(["-o", "symbol,source", "coinbase:BTC-USD"])
        .assert()
        .success()
        .stdout("BTC-USD  coinbase\n");
}

#[test]
fn the_last_source_of_a_chain_retries_and_the_others_move_on_at_once() {
    // Yahoo: 503 (worth a retry when alone), Coinbase: 429 once, then the price.
    let yahoo = Server::start(|_| Reply::text(503, "Service Unavailable"));
    let first = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let coinbase = Server::start(move |_| {
        if first.swap(false, std::sync::atomic::Ordering::SeqCst) {
            Reply::json(429, r#"{"errors":[{"id":"rate_limit_exceeded"}]}"#)
        } else {
            Reply::json(200, coinbase_body("BTC", "USD", "1.50"))
        }
    });
    quotes_for_both(&yahoo, &coinbase)
        .args(["--source", "yahoo,coinbase", "--backoff-base", "0.01"])
        .args(["-o", "symbol,price,source", "BTC-USD"])
        .assert()
        .success()
        .stdout("BTC-USD  1.50  coinbase\n")
        .stderr("");
    assert_eq!(
        yahoo.request_count(),
        1,
        "Yahoo is not the last: one attempt"
    );
    assert_eq!(coinbase.request_count(), 2, "Coinbase is the last: retried");
}

#[test]
fn quotes_source_sets_the_chain_and_the_flag_wins() {
    let (yahoo, coinbase) = (yahoo_refusing(), coinbase_pricing());
    quotes_for_both(&yahoo, &coinbase)
        .env("QUOTES_SOURCE", "yahoo,coinbase")
        .args(["-o", "symbol,source", "BTC-USD"])
        .assert()
        .success()
        .stdout("BTC-USD  coinbase\n");
    quotes_for_both(&yahoo, &coinbase)
        .env("QUOTES_SOURCE", "yahoo,coinbase")
        .args(["--source", "coinbase", "-o", "symbol,source", "ETH-USD"])
        .assert()
        .success()
        .stdout("ETH-USD  coinbase\n");
    assert_eq!(yahoo.request_count(), 1);
    quotes()
        .env("QUOTES_SOURCE", "yahoo,nope")
        .arg("BTC-USD")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("nope"));
    quotes()
        .args(["--source", "yahoo,coinbase,yahoo", "BTC-USD"])
        .assert()
        .code(2)
        .stderr("quotes: error: --source names yahoo twice\n");
}

#[test]
fn verbose_shows_every_attempt_and_every_fallback() {
    let (yahoo, coinbase) = (yahoo_refusing(), coinbase_pricing());
    let out = quotes_for_both(&yahoo, &coinbase)
        .args(["--source", "yahoo,coinbase", "-v", "BTC-USD"])
        .assert()
        .success()
        .stdout("BTC-USD  2.50  USD\n");
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 3, "{err}");
    let attempt = regex_like(
        lines[0],
        &format!(
            "quotes: yahoo: GET {}/v8/finance/chart/BTC-USD?range=1d&interval=1d: 429 \
             HTTP/1.1, 23 bytes, # ms (attempt 1)",
            yahoo.url()
        ),
    );
    assert!(attempt, "{}", lines[0]);
    assert_eq!(
        lines[1],
        "quotes: BTC-USD: yahoo failed (rate limited); asking coinbase"
    );
    let attempt = regex_like(
        lines[2],
        &format!(
            "quotes: coinbase: GET {}/v2/prices/BTC-USD/spot: 200 HTTP/1.1, # bytes, # ms \
             (attempt 1)",
            coinbase.url()
        ),
    );
    assert!(attempt, "{}", lines[2]);
}

#[test]
fn a_deadline_ends_a_chain_too() {
    let yahoo = Server::start(|_| Reply::Stall);
    let coinbase = coinbase_pricing().expect_no_requests();
    let started = Instant::now();
    quotes_for_both(&yahoo, &coinbase)
        .args(["--source", "yahoo,coinbase", "--deadline", "0.5", "BTC-USD"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("deadline exceeded"));
    assert!(started.elapsed() < Duration::from_secs(8));
}

/// Whether `line` is `pattern` with each `#` standing for a number.
fn regex_like(line: &str, pattern: &str) -> bool {
    let mut rest = line;
    for (i, part) in pattern.split('#').enumerate() {
        if i > 0 {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return false;
            }
            rest = &rest[digits..];
        }
        match rest.strip_prefix(part) {
            Some(after) => rest = after,
            None => return false,
        }
    }
    rest.is_empty()
}
