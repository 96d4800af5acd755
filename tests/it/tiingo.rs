//! The Tiingo source (issue 19) against a local server speaking its recorded answers: the
//! key from `TIINGO_API_KEY` as `token=`, never shown anywhere (not even by `-v`, nor when a
//! server echoes it back); a missing key fails at once and sends nothing, or is skipped in
//! a chain; latest, history as traded, `adjClose` for `--adjust all`, not found, a spent
//! allowance, malformed answers. The keys here are fake.

use predicates::prelude::*;

use crate::cmd::{assert_key_never_shows, quotes, quotes_for};
use crate::support::{Reply, Server};

/// A fake key, long enough to be recognised wherever it would show.
const KEY: &str = "fake0123456789abcdef0123456789tiingokey";

fn tiingo(server: &Server) -> assert_cmd::Command {
    let mut cmd = quotes();
    cmd.env("QUOTES_TIINGO_URL", server.url())
        .env("TIINGO_API_KEY", KEY);
    cmd
}

fn output(assert: &assert_cmd::assert::Assert) -> (String, String) {
    let out = assert.get_output();
    (
        String::from_utf8(out.stdout.clone()).unwrap(),
        String::from_utf8(out.stderr.clone()).unwrap(),
    )
}

/// Tiingo answering the recorded bodies: AAPL's latest, GOOGL's 2015 window, AAPL's weekly
/// bars for 2018, 404 for anything else.
fn recorded() -> Server {
    Server::start(|req| {
        let window = req.query_param("startDate").is_some();
        match (req.path.as_str(), window) {
            ("/tiingo/daily/AAPL/prices", false) => Reply::fixture(
                200,
                "tiingo_daily_prices_latest_AAPL_2020-07-17_prettyprinted.json",
            ),
            ("/tiingo/daily/GOOGL/prices", true) => {
                Reply::fixture(200, "tiingo_daily_prices_GOOGL_2015-01-01_2015-01-05.json")
            }
            ("/tiingo/daily/AAPL/prices", true) => {
                Reply::fixture(200, "tiingo_weekly_prices_AAPL_2018-01-05_2018-01-19.json")
            }
            _ => Reply::fixture(404, "tiingo_error_404_prices_unknown_ticker_BADTICKER.json"),
        }
    })
}

#[test]
fn without_a_key_the_ticker_fails_at_once_naming_the_variable() {
    let server = recorded().expect_no_requests();
    quotes()
        .env("QUOTES_TIINGO_URL", server.url())
        .args(["tiingo:AAPL", "--source", "tiingo", "MSFT"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(
            "quotes: AAPL: Tiingo needs an API key: set TIINGO_API_KEY (a free key: \
             https://www.tiingo.com/account/api/token)\nquotes: MSFT: Tiingo needs an API key: \
             set TIINGO_API_KEY (a free key: https://www.tiingo.com/account/api/token)\n",
        );
    // An empty variable is no key either.
    quotes()
        .env("QUOTES_TIINGO_URL", server.url())
        .env("TIINGO_API_KEY", "")
        .args(["-f", "json", "tiingo:AAPL"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(r#""kind":"missing_key""#));
}

#[test]
fn the_latest_close_with_the_key_as_token() {
    let server = recorded();
    tiingo(&server)
        .args([
            "-f",
            "tsv",
            "-o",
            "symbol,price,currency,time,source",
            "tiingo:aapl",
        ])
        .assert()
        .success()
        .stdout("AAPL\t385.31\tUSD\t2020-07-17T20:00:00Z\ttiingo\n")
        .stderr("");
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path, "/tiingo/daily/AAPL/prices");
    assert_eq!(requests[0].query_param("token").as_deref(), Some(KEY));
}

#[test]
fn history_is_as_traded_and_adj_close_is_asked_for() {
    let server = recorded();
    tiingo(&server)
        .args([
            "--from",
            "2015-01-01",
            "--to",
            "2015-01-05",
            "-f",
            "tsv",
            "tiingo:GOOGL",
        ])
        .assert()
        .success()
        .stdout("GOOGL\t2015-01-02\t529.55\tUSD\nGOOGL\t2015-01-05\t519.46\tUSD\n");
    // As traded, the 2018 close of AAPL before its 2020 split: 175.00; with dividends, 173.63.
    tiingo(&server)
        .args([
            "--date",
            "2018-01-05",
            "-o",
            "symbol,date,price",
            "tiingo:AAPL",
        ])
        .assert()
        .success()
        .stdout("AAPL  2018-01-05  175.00\n");
    tiingo(&server)
        .args([
            "--date",
            "2018-01-05",
            "--adjust",
            "all",
            "-o",
            "price",
            "tiingo:AAPL",
        ])
        .assert()
        .success()
        .stdout("173.63\n");
    let windows: Vec<(String, String)> = server
        .requests()
        .iter()
        .map(|r| {
            let p = |name| r.query_param(name).unwrap_or_default();
            (p("startDate"), p("endDate"))
        })
        .collect();
    assert_eq!(
        windows,
        [
            ("2015-01-01".into(), "2015-01-05".into()),
            ("2017-12-29".into(), "2018-01-05".into()),
            ("2017-12-29".into(), "2018-01-05".into()),
        ]
    );
    // No close adjusted for splits alone: refused without a request.
    let quiet = recorded().expect_no_requests();
    tiingo(&quiet)
        .args(["--date", "2018-01-05", "--adjust", "splits", "tiingo:AAPL"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "Tiingo has no closes adjusted for splits alone",
        ));
}

#[test]
fn not_found_and_malformed_answers() {
    let server = Server::start(|req| match req.path.as_str() {
        "/tiingo/daily/ODD/prices" => {
            Reply::json(200, r#"[{"date":"2018-04-12","close":1037.29}]"#)
        }
        _ => Reply::fixture(404, "tiingo_error_404_prices_unknown_ticker_BADTICKER.json"),
    });
    tiingo(&server)
        .args(["tiingo:BADTICKER", "tiingo:ODD"])
        .assert()
        .code(1)
        .stderr(
            "quotes: BADTICKER: not found on Tiingo (Error: Ticker 'BADTICKER' not found); \
             check the symbol; Tiingo has US stocks, ETFs and mutual funds\nquotes: ODD: \
             malformed response from Tiingo: date \"2018-04-12\" is not a form Tiingo is known \
             to write\n",
        );
}

#[test]
fn a_spent_allowance_ends_the_source_for_the_run() {
    let fragment = String::from_utf8(crate::support::fixture(
        "tiingo_rate_limit_429_bodies_fragment.txt",
    ))
    .unwrap();
    // The JSON form as Tiingo sends it (the fragment quotes it as a Python dict), then the
    // plain-text forms as quoted.
    let hourly = fragment
        .lines()
        .find(|l| l.starts_with("Error: You have run over your hourly request allocation. Please"))
        .unwrap();
    let bodies = [
        serde_json::json!({ "detail": hourly }).to_string(),
        hourly.to_string(),
        fragment
            .lines()
            .find(|l| l.contains("monthly unique symbol"))
            .unwrap()
            .to_string(),
    ];
    for body in bodies {
        let server = Server::start(move |_| Reply::json(429, body.clone()));
        let assert = tiingo(&server)
            .args(["-j", "1", "--source", "tiingo", "AAPL", "MSFT", "SPY"])
            .assert()
            .code(1)
            .stdout("");
        let (_, err) = output(&assert);
        // One request: the 429 said the allowance is spent, so nothing more was asked.
        assert_eq!(server.request_count(), 1, "{err}");
        assert_eq!(err.lines().count(), 3, "{err}");
        for line in err.lines() {
            assert!(
                line.contains("rate limited by Tiingo: Error: You have")
                    && line.ends_with("nothing more is asked of it this run"),
                "{line}"
            );
        }
    }
}

#[test]
fn no_key_appears_in_any_output_even_with_verbose() {
    // A server that echoes the token back in its errors, and answers one ticker.
    let server = Server::start(|req| {
        let token = req.query_param("token").unwrap_or_default();
        match req.path.as_str() {
            "/tiingo/daily/AAPL/prices" => Reply::fixture(
                200,
                "tiingo_daily_prices_latest_AAPL_2020-07-17_prettyprinted.json",
            ),
            "/tiingo/daily/ECHO/prices" => {
                Reply::json(401, format!(r#"{{"detail":"Invalid token {token}"}}"#))
            }
            _ => Reply::json(302, "").with_header(
                "location",
                &format!("http://elsewhere.example/x?token={token}"),
            ),
        }
    });
    let line = format!(
        "quotes: tiingo: GET {}/tiingo/daily/AAPL/prices?token=…: 200 HTTP/1.1",
        server.url()
    );
    assert_key_never_shows(
        || {
            let mut cmd = tiingo(&server);
            cmd.args(["--source", "tiingo"]);
            cmd
        },
        &server,
        (KEY, "token"),
        &["AAPL", "ECHO", "MOVED"],
        (&line, "Invalid token …"),
    );
}

#[test]
fn in_a_chain_a_source_without_its_key_is_skipped_silently_unless_it_is_last() {
    let yahoo = Server::start(|_| Reply::fixture(404, "yahoo_chart_error_not_found.404.json"));
    let tiingo_server = recorded().expect_no_requests();
    let nasdaq = Server::start(|_| {
        Reply::fixture(200, "nasdaq_info_AAPL_stocks_market_closed_2019-11-19.json")
    });
    quotes_for(&yahoo)
        .env("QUOTES_TIINGO_URL", tiingo_server.url())
        .env("QUOTES_NASDAQ_URL", nasdaq.url())
        .args([
            "--source",
            "yahoo,tiingo,nasdaq",
            "-o",
            "symbol,price,source",
            "AAPL",
        ])
        .assert()
        .success()
        .stdout("AAPL  266.29  nasdaq\n")
        .stderr("");
    // -v says why it was skipped.
    quotes_for(&yahoo)
        .env("QUOTES_TIINGO_URL", tiingo_server.url())
        .env("QUOTES_NASDAQ_URL", nasdaq.url())
        .args(["--source", "yahoo,tiingo,nasdaq", "-v", "AAPL"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "quotes: AAPL: tiingo skipped (TIINGO_API_KEY is not set); asking nasdaq",
        ));
    // Last in the chain: its missing key is part of the ticker's error.
    quotes_for(&yahoo)
        .env("QUOTES_TIINGO_URL", tiingo_server.url())
        .args(["--source", "yahoo,tiingo", "AAPL"])
        .assert()
        .code(1)
        .stderr(predicate::str::ends_with(
            "[tiingo] Tiingo needs an API key: set TIINGO_API_KEY (a free key: \
             https://www.tiingo.com/account/api/token)\n",
        ));
}

#[test]
fn yahoo_refusing_everything_tiingo_prices_every_ticker() {
    let yahoo = Server::start(|_| Reply::fixture(429, "yahoo_too_many_requests.429.txt"));
    let server = Server::start(|_| {
        Reply::fixture(
            200,
            "tiingo_daily_prices_latest_AAPL_2020-07-17_prettyprinted.json",
        )
    });
    quotes_for(&yahoo)
        .env("QUOTES_TIINGO_URL", server.url())
        .env("TIINGO_API_KEY", KEY)
        .args(["--source", "yahoo,tiingo", "-o", "symbol,price,source"])
        .args(["AAPL", "MSFT", "SPY"])
        .assert()
        .success()
        .stdout("AAPL  385.31  tiingo\nMSFT  385.31  tiingo\nSPY   385.31  tiingo\n")
        .stderr("");
    assert_eq!(server.request_count(), 3);
}
