//! The Nasdaq source (issue 19) against a local server speaking its recorded answers:
//! latest (the regular session's price), history as traded, the asset class found in at most
//! three requests, not found, rate limited, malformed, its headers and its concurrency cap (a
//! default an explicit `-j` lifts), and Nasdaq as the next source when Yahoo refuses
//! everything.

use std::time::{Duration, Instant};

use predicates::prelude::*;

use crate::cmd::{quotes, quotes_for};
use crate::support::{Reply, Request, Server, fixture};

fn nasdaq(server: &Server) -> assert_cmd::Command {
    let mut cmd = quotes();
    cmd.env("QUOTES_NASDAQ_URL", server.url());
    cmd
}

fn stdout(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8(assert.get_output().stdout.clone()).unwrap()
}

/// `body` (a recorded AAPL answer) about `symbol` instead.
fn about(body: &str, symbol: &str) -> Vec<u8> {
    fixture(body)
        .into_iter()
        .map(char::from)
        .collect::<String>()
        .replace("\"AAPL\"", &format!("\"{symbol}\""))
        .into_bytes()
}

/// The recorded answer after the close, about the symbol asked (`/api/quote/{SYMBOL}/info`).
fn closed_market(req: &Request) -> Reply {
    let symbol = req.path.split('/').nth(3).unwrap_or("X").to_string();
    Reply::json(
        200,
        about(
            "nasdaq_info_AAPL_stocks_market_closed_2019-11-19.json",
            &symbol,
        ),
    )
}

fn class(req: &Request) -> String {
    req.query_param("assetclass").unwrap_or_default()
}

/// Nasdaq's answer to a wrong asset class or an unknown symbol.
fn not_exists() -> Reply {
    Reply::fixture(200, "nasdaq_error_unknown_symbol_rCode400.json")
}

#[test]
fn latest_is_one_request_that_looks_like_the_web_page() {
    let server = Server::start(|req| match (req.path.as_str(), class(req).as_str()) {
        ("/api/quote/AAPL/info", "stocks") => {
            Reply::fixture(200, "nasdaq_info_AAPL_stocks_market_closed_2019-11-19.json")
        }
        _ => not_exists(),
    });
    nasdaq(&server)
        .args([
            "-f",
            "tsv",
            "-o",
            "symbol,price,currency,time,source,name,exchange",
        ])
        .arg("nasdaq:aapl")
        .assert()
        .success()
        .stdout(
            "AAPL\t266.29\tUSD\t2019-11-19T21:00:00Z\tnasdaq\tApple Inc. Common Stock\tNASDAQ-GS\n",
        )
        .stderr("");
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let req = &requests[0];
    assert_eq!(req.header("origin"), Some("https://www.nasdaq.com"));
    assert_eq!(req.header("referer"), Some("https://www.nasdaq.com/"));
    assert_eq!(
        req.header("accept"),
        Some("application/json, text/plain, */*")
    );
    assert!(req.header("accept-language").is_some());
    let agent = req.header("user-agent").unwrap();
    assert!(
        agent.starts_with("Mozilla/5.0 (compatible; quotes/"),
        "{agent}"
    );
}

#[test]
fn before_the_session_the_regular_close_is_printed_not_the_pre_market_trade() {
    let server =
        Server::start(|_| Reply::fixture(200, "nasdaq_info_AAPL_stocks_premarket_2019-11-19.json"));
    nasdaq(&server)
        .args(["-o", "price,time", "nasdaq:AAPL"])
        .assert()
        .success()
        .stdout("267.10  2019-11-18T21:00:00Z\n");
}

#[test]
fn the_asset_class_is_found_in_at_most_three_requests() {
    let server = Server::start(|req| match (req.path.as_str(), class(req).as_str()) {
        ("/api/quote/SGOL/info", "etf") => {
            Reply::fixture(200, "nasdaq_info_SGOL_etf_2023-02-24_reformatted.json")
        }
        ("/api/quote/VTSAX/info", "mutualfunds") => Reply::json(
            200,
            about(
                "nasdaq_info_AAPL_stocks_market_closed_2019-11-19.json",
                "VTSAX",
            ),
        ),
        _ => not_exists(),
    });
    nasdaq(&server)
        .args(["--source", "nasdaq", "-j", "1", "SGOL", "VTSAX", "NOPE"])
        .assert()
        .code(1)
        .stdout("SGOL    17.34  USD\nVTSAX  266.29  USD\n")
        .stderr(
            "quotes: NOPE: not found on Nasdaq (no stock, ETF or mutual fund NOPE (Symbol not \
             exists.)); check the symbol; Nasdaq has US stocks, ETFs and mutual funds only\n",
        );
    let asked = |symbol: &str| -> Vec<String> {
        let path = format!("/api/quote/{symbol}/info");
        server
            .requests()
            .iter()
            .filter(|r| r.path == path)
            .map(class)
            .collect()
    };
    // An ETF: the stock guess, then the right class.
    assert_eq!(asked("SGOL"), ["stocks", "etf"]);
    // Five letters ending in X: a mutual fund, right the first time.
    assert_eq!(asked("VTSAX"), ["mutualfunds"]);
    // Unknown: the three classes, then not found.
    assert_eq!(asked("NOPE"), ["stocks", "etf", "mutualfunds"]);
    assert_eq!(server.request_count(), 6);
}

#[test]
fn history_is_as_traded_and_asks_for_the_whole_window() {
    let server = Server::start(|req| {
        if req.path == "/api/quote/AAPL/historical" && class(req) == "stocks" {
            Reply::fixture(
                200,
                "nasdaq_historical_AAPL_stocks_2022-10-31_2022-11-04.json",
            )
        } else {
            not_exists()
        }
    });
    nasdaq(&server)
        .args(["--from", "2022-10-31", "--to", "2022-11-04", "-f", "tsv"])
        .arg("nasdaq:AAPL")
        .assert()
        .success()
        .stdout(
            "AAPL\t2022-10-31\t153.34\tUSD\nAAPL\t2022-11-01\t150.65\tUSD\n\
             AAPL\t2022-11-02\t145.03\tUSD\nAAPL\t2022-11-03\t138.88\tUSD\n\
             AAPL\t2022-11-04\t138.38\tUSD\n",
        );
    // A Saturday: the close of the Friday before, and the JSON says it is as traded.
    let out = nasdaq(&server)
        .args(["--date", "2022-11-05", "-f", "json", "nasdaq:AAPL"])
        .assert()
        .success();
    let rows: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(rows[0]["price"].to_string(), "138.38");
    assert_eq!(rows[0]["date"], "2022-11-04");
    assert_eq!(rows[0]["adjust"], "none");
    assert_eq!(rows[0]["source"], "nasdaq");
    let windows: Vec<(String, String, String)> = server
        .requests()
        .iter()
        .map(|r| {
            let p = |name| r.query_param(name).unwrap_or_default();
            (p("fromdate"), p("todate"), p("limit"))
        })
        .collect();
    assert_eq!(
        windows,
        [
            ("2022-10-31".into(), "2022-11-04".into(), "5".into()),
            ("2022-10-29".into(), "2022-11-05".into(), "8".into()),
        ]
    );
}

#[test]
fn a_history_cut_short_is_refused_not_read_with_days_missing() {
    let server = Server::start(|_| {
        Reply::fixture(
            200,
            "nasdaq_historical_AAPL_stocks_2022-10-31_2022-11-04_fragment.txt",
        )
    });
    nasdaq(&server)
        .args(["--from", "2021-11-04", "--to", "2022-11-04", "nasdaq:AAPL"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::contains(
            "malformed response from Nasdaq: 5 of the window's 251 rows came",
        ));
}

#[test]
fn adjusted_closes_are_refused_without_a_request() {
    let server = Server::start(|_| not_exists()).expect_no_requests();
    nasdaq(&server)
        .args([
            "--date",
            "2022-11-04",
            "--adjust",
            "all",
            "-f",
            "json",
            "nasdaq:AAPL",
        ])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(r#""kind":"unsupported""#));
}

#[test]
fn rate_limited_and_malformed_answers_fail_their_ticker() {
    let server = Server::start(|req| match req.path.as_str() {
        "/api/quote/LIMIT/info" => Reply::text(429, "Too Many Requests"),
        "/api/quote/PAGE/info" => Reply::text(200, "<html><title>Access Denied</title></html>")
            .with_header("content-type", "text/html"),
        "/api/quote/ODD/info" => Reply::json(
            200,
            about(
                "nasdaq_info_AAPL_stocks_market_closed_2019-11-19.json",
                "ODD",
            )
            .into_iter()
            .map(char::from)
            .collect::<String>()
            .replace("DATA AS OF Nov 19, 2019", "2019-11-19"),
        ),
        _ => not_exists(),
    });
    let out = nasdaq(&server)
        .args(["--retries", "0", "-f", "json"])
        .args(["nasdaq:LIMIT", "nasdaq:PAGE", "nasdaq:ODD"])
        .assert()
        .code(1);
    let rows: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let kinds: Vec<&str> = (0..3)
        .map(|i| rows[i]["error"]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["rate_limited", "malformed_response", "malformed_response"]
    );
    let odd = rows[2]["error"]["message"].as_str().unwrap();
    assert!(odd.contains("\"2019-11-19\" is not a time Nasdaq"), "{odd}");
}

#[test]
fn at_most_ten_requests_in_flight_unless_jobs_says_more() {
    let tickers: Vec<String> = (0..30).map(|i| format!("N{i:02}")).collect();
    // The cap is a default: without -j, ten at once (the first ten answers are held until
    // ten requests are in flight); -j given is the user's choice and lifts it up to N.
    for (jobs, most) in [(None, 10), (Some("30"), 30), (Some("5"), 5)] {
        let server = Server::start(move |req| {
            closed_market(req)
                .with_delay(Duration::from_millis(20))
                .when_in_flight(most)
        });
        let mut cmd = nasdaq(&server);
        cmd.args(["--source", "nasdaq"]);
        if let Some(jobs) = jobs {
            cmd.args(["-j", jobs]);
        }
        cmd.args(&tickers).assert().success();
        assert_eq!(server.request_count(), 30);
        assert_eq!(server.max_in_flight(), most, "-j {jobs:?}");
    }
}

#[test]
fn yahoo_refusing_everything_nasdaq_prices_every_ticker() {
    let yahoo = Server::start(|_| {
        Reply::fixture(429, "yahoo_too_many_requests.429.txt").with_header("retry-after", "30")
    });
    let nasdaq_server = Server::start(closed_market);
    let tickers: Vec<String> = (0..10).map(|i| format!("T{i}")).collect();
    let started = Instant::now();
    let out = quotes_for(&yahoo)
        .env("QUOTES_NASDAQ_URL", nasdaq_server.url())
        .args(["--source", "yahoo,nasdaq", "-o", "symbol,source"])
        .args(&tickers)
        .assert()
        .success()
        .stderr("");
    let expected: String = tickers.iter().map(|t| format!("{t}  nasdaq\n")).collect();
    assert_eq!(stdout(&out), expected);
    assert_eq!(nasdaq_server.request_count(), 10);
    assert!(yahoo.request_count() <= 10);
    // Yahoo's Retry-After is 30 s: the tickers did not wait for it.
    assert!(started.elapsed() < Duration::from_secs(15));
}

#[test]
fn closes_a_later_source_gave_are_not_cached_as_the_first_sources() {
    let yahoo = Server::start(|_| Reply::fixture(404, "yahoo_chart_error_not_found.404.json"));
    let server = Server::start(|_| {
        Reply::fixture(
            200,
            "nasdaq_historical_AAPL_stocks_2022-10-31_2022-11-04.json",
        )
    });
    let cache = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        quotes_for(&yahoo)
            .env("QUOTES_NASDAQ_URL", server.url())
            .arg("--cache-dir")
            .arg(cache.path())
            .args([
                "--source",
                "yahoo,nasdaq",
                "--from",
                "2022-10-31",
                "--to",
                "2022-11-04",
            ])
            .args(["-f", "tsv", "-o", "date,price,source", "AAPL"])
            .assert()
            .success()
            .stdout(predicate::str::starts_with("2022-10-31\t153.34\tnasdaq\n"));
    }
    // Both runs asked both sources: Nasdaq's closes were not filed as Yahoo's.
    assert_eq!(server.request_count(), 2);
    assert!(yahoo.request_count() >= 2);
}
