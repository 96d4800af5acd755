//! Integration tests for the core command (issue 2): the real `quotes` binary against a
//! local server that speaks Yahoo's chart format. Nothing here touches the internet.
// Some tests here need Unix or Linux (signals, script(1), /dev/full, /proc): elsewhere
// they are not compiled, and the imports only they use are not used.
#![cfg_attr(not(target_os = "linux"), allow(unused_imports))]

use std::io::Read;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use predicates::prelude::*;

use crate::cmd::{BIN, quotes, quotes_for, quotes_for_both, quotes_process, via};
use crate::support::{Reply, Server, chart_body};

const T: i64 = 1_763_672_400; // 2025-11-20T21:00:00Z

fn price_server(prices: &'static [(&'static str, &'static str)]) -> Server {
    Server::start(move |req| {
        let symbol = req.symbol();
        match prices.iter().find(|(s, _)| *s == symbol) {
            Some((s, p)) => Reply::chart(s, p, Some("USD"), T),
            None => Reply::fixture(404, "yahoo_chart_error_not_found.404.json"),
        }
    })
}

#[test]
fn prints_recorded_fixtures_in_input_order() {
    let server = Server::start(|req| match req.symbol().as_str() {
        "AAPL" => Reply::fixture(200, "yahoo_chart_AAPL.json"),
        "QQQ" => Reply::fixture(200, "yahoo_chart_QQQ.json"),
        "OCDO.L" => Reply::fixture(200, "yahoo_chart_OCDO.L.json"),
        "BTC-USD" => Reply::fixture(200, "yahoo_chart_BTC-USD.json"),
        _ => Reply::fixture(404, "yahoo_chart_error_not_found.404.json"),
    });
    quotes_for(&server)
        .args(["qqq", "AAPL", "OCDO.L", "btc-usd"])
        .assert()
        .success()
        .stderr("")
        .stdout(
            "QQQ        539.52  USD\n\
             AAPL       220.00  USD\n\
             OCDO.L     3.0530  GBP\n\
             BTC-USD  97208.17  USD\n",
        );
}

#[test]
fn order_is_kept_when_responses_finish_out_of_order() {
    // The first ticker answers last, the last answers first.
    let server = Server::start(|req| {
        let symbol = req.symbol();
        let n: u64 = symbol[1..].parse().unwrap_or(0);
        Reply::chart(&symbol, &format!("{n}.5"), Some("USD"), T)
            .with_delay(Duration::from_millis(40 * (8 - n)))
    });
    let tickers: Vec<String> = (1..=8).map(|n| format!("T{n}")).collect();
    let out = quotes_for(&server).args(&tickers).assert().success();
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    let symbols: Vec<&str> = stdout
        .lines()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(symbols, tickers);
    let prices: Vec<&str> = stdout
        .lines()
        .map(|l| l.split_whitespace().nth(1).unwrap())
        .collect();
    assert_eq!(
        prices,
        [
            "1.50", "2.50", "3.50", "4.50", "5.50", "6.50", "7.50", "8.50"
        ]
    );
}

#[test]
fn rounds_half_to_even_on_the_exact_decimal_text() {
    // Two decimals, half-to-even; below 1 a price keeps 4 significant digits but never
    // more decimals than were sent (issue 18: 0.125 is not 0.12, 4.2e-7 is not 0.00).
    static CASES: &[(&str, &str, &str)] = &[
        ("R1", "2.675", "2.68"),
        ("R2", "0.125", "0.125"),
        ("R3", "0.13555", "0.1356"),
        ("R4", "1.005", "1.00"),
        ("R5", "42", "42.00"),
        ("R6", "1.23456e2", "123.46"),
        ("R7", "4.2e-7", "0.00000042"),
        ("R8", "123456789.987654", "123456789.99"),
        ("R9", "-37.63", "-37.63"),
        ("R10", "9489.0", "9489.00"),
    ];
    let server = Server::start(|req| {
        let symbol = req.symbol();
        let (_, text, _) = CASES.iter().find(|c| c.0 == symbol).expect("known case");
        Reply::chart(&symbol, text, Some("USD"), T)
    });
    let out = quotes_for(&server)
        .args(CASES.iter().map(|c| c.0))
        .assert()
        .success();
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    let got: Vec<(String, String)> = stdout
        .lines()
        .map(|l| {
            let mut f = l.split_whitespace();
            (f.next().unwrap().to_string(), f.next().unwrap().to_string())
        })
        .collect();
    let want: Vec<(String, String)> = CASES
        .iter()
        .map(|c| (c.0.to_string(), c.2.to_string()))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn price_column_is_right_aligned_for_awk() {
    let server = price_server(&[("A", "1.5"), ("LONGER", "12345.678")]);
    quotes_for(&server)
        .args(["A", "LONGER"])
        .assert()
        .success()
        .stdout("A           1.50  USD\nLONGER  12345.68  USD\n");
}

#[test]
fn not_found_fails_that_ticker_only() {
    let server = price_server(&[("AAPL", "220.003")]);
    quotes_for(&server)
        .args(["NOPE", "AAPL"])
        .assert()
        .code(1)
        .stdout("AAPL  220.00  USD\n")
        .stderr(
            predicate::str::starts_with("quotes: NOPE: not found on Yahoo")
                .and(predicate::str::contains("symbol may be delisted"))
                .and(predicate::str::ends_with("\n"))
                .and(predicate::function(|s: &str| s.lines().count() == 1)),
        );
    assert_eq!(server.hits("NOPE"), 1, "a 404 must not be retried");
}

#[test]
fn missing_price_is_an_error_and_null_currency_is_not() {
    let server = Server::start(|req| match req.symbol().as_str() {
        "NOPRICE" => Reply::json(
            200,
            r#"{"chart":{"result":[{"meta":{"currency":"USD","symbol":"NOPRICE","regularMarketTime":1}}],"error":null}}"#,
        ),
        _ => Reply::chart("NULLCUR", "12.345", None, T),
    });
    quotes_for(&server)
        .args(["NOPRICE", "NULLCUR"])
        .assert()
        .code(1)
        .stdout("NULLCUR  12.34\n")
        .stderr("quotes: NOPRICE: no price in the response from Yahoo\n");
}

#[test]
fn malformed_json_and_html_bodies_are_reported_not_retried() {
    let server = Server::start(|req| match req.symbol().as_str() {
        "BROKEN" => Reply::json(200, r#"{"chart":{"result":[{"meta":"#),
        _ => Reply::text(200, "<!DOCTYPE html><html><body>Consent</body></html>")
            .with_header("content-type", "text/html"),
    });
    let out = quotes_for(&server)
        .args(["BROKEN", "HTML"])
        .assert()
        .code(1)
        .stdout("");
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(
        lines[0].starts_with("quotes: BROKEN: malformed response from Yahoo"),
        "{stderr}"
    );
    assert!(
        lines[1].starts_with("quotes: HTML: malformed response from Yahoo"),
        "{stderr}"
    );
    assert!(lines[1].contains("HTML page"), "{stderr}");
    assert_eq!(server.hits("BROKEN"), 1);
    assert_eq!(server.hits("HTML"), 1);
}

#[test]
fn rate_limit_then_success_is_retried() {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&calls);
    let server = Server::start(move |_| {
        if seen.fetch_add(1, Ordering::SeqCst) == 0 {
            Reply::fixture(429, "yahoo_too_many_requests.429.txt")
                .with_header("content-type", "text/plain")
        } else {
            Reply::fixture(200, "yahoo_chart_QQQ.json")
        }
    });
    quotes_for(&server)
        .args(["--backoff-base", "0.01", "QQQ"])
        .assert()
        .success()
        .stdout("QQQ  539.52  USD\n")
        .stderr("");
    assert_eq!(server.hits("QQQ"), 2);
}

#[test]
fn retry_after_beyond_30_seconds_fails_at_once() {
    let server = Server::start(|_| {
        Reply::text(429, "Edge: Too Many Requests").with_header("retry-after", "120")
    });
    quotes_for(&server).arg("QQQ").assert().code(1).stderr(
        predicate::str::contains("rate limited by Yahoo (HTTP 429)")
            .and(predicate::str::contains("120 s")),
    );
    assert_eq!(
        server.hits("QQQ"),
        1,
        "must not retry before the server allows it"
    );
}

#[test]
fn persistent_503_is_retried_then_reported() {
    let server = Server::start(|req| match req.symbol().as_str() {
        "DOWN" => Reply::text(503, "Service Unavailable"),
        _ => Reply::chart("UP", "1", Some("USD"), T),
    });
    quotes_for(&server)
        .args(["--retries", "2", "--backoff-base", "0.01", "DOWN", "UP"])
        .assert()
        .code(1)
        .stdout("UP  1.00  USD\n")
        .stderr("quotes: DOWN: HTTP 503 from Yahoo: a server error; try again later\n");
    assert_eq!(server.hits("DOWN"), 3, "one try plus two retries");
    assert_eq!(server.hits("UP"), 1);
}

#[test]
fn a_server_that_never_answers_times_out_that_ticker_only() {
    let server = Server::start(|req| match req.symbol().as_str() {
        "STALL" => Reply::Stall,
        _ => Reply::chart("FINE", "3.14159", Some("EUR"), T),
    });
    quotes_for(&server)
        .args(["--timeout", "0.5", "--retries", "0", "STALL", "FINE"])
        .assert()
        .code(1)
        .stdout("FINE  3.14  EUR\n")
        .stderr(predicate::str::starts_with(
            "quotes: STALL: timed out after 0.5 s",
        ));
}

#[test]
fn a_body_cut_short_is_retried_then_reported() {
    let server = Server::start(|req| Reply::Truncated {
        body: chart_body(&req.symbol(), "1.0", Some("USD"), T).into_bytes(),
        sent: 20,
    });
    quotes_for(&server)
        .args(["--retries", "1", "--backoff-base", "0.01", "HALF"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::starts_with(
            "quotes: HALF: connection to Yahoo closed mid-response",
        ));
    assert_eq!(server.hits("HALF"), 2, "a cut connection is transient");
}

#[test]
fn a_connection_closed_before_responding_is_reported() {
    let server = Server::start(|_| Reply::Close);
    quotes_for(&server)
        .args(["--retries", "0", "GONE"])
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with(
            "quotes: GONE: connection to Yahoo closed before responding",
        ));
}

#[test]
fn refused_connection_says_could_not_connect() {
    // Bind then drop: nothing listens on that port any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    quotes()
        .env("QUOTES_YAHOO_URL", format!("http://127.0.0.1:{port}"))
        .args(["--retries", "0", "AAPL"])
        .assert()
        .code(1)
        .stderr(format!(
            "quotes: AAPL: could not connect to 127.0.0.1:{port}: connection refused\n"
        ));
}

#[test]
fn an_oversized_body_fails_without_reading_it_all() {
    let server = Server::start(|req| match req.symbol().as_str() {
        "HUGE" => Reply::Endless {
            total: 64 * 1024 * 1024,
        },
        _ => Reply::chart("SMALL", "2", Some("USD"), T),
    });
    quotes_for(&server)
        .args(["HUGE", "SMALL"])
        .assert()
        .code(1)
        .stdout("SMALL  2.00  USD\n")
        .stderr(predicate::str::starts_with(
            "quotes: HUGE: response from Yahoo is larger than 2097152 bytes",
        ));
    assert_eq!(server.hits("HUGE"), 1, "an oversized body is not retried");
}

#[test]
fn an_oversized_content_length_is_refused_up_front() {
    let server = Server::start(|_| Reply::json(200, vec![b' '; 3 * 1024 * 1024]));
    quotes_for(&server)
        .arg("BIG")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("larger than 2097152 bytes"));
}

#[test]
fn invalid_tickers_never_reach_the_server() {
    let server = Server::start(|_| Reply::chart("X", "1", None, T)).expect_no_requests();
    let long = "A".repeat(10_000);
    let bad = [
        "", "A B", "A/B", "A?B", "A#B", "A%2F", "..", ".", "A..B", "ÄPFEL", &long,
    ];
    let out = quotes_for(&server).args(bad).assert().code(1).stdout("");
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert_eq!(stderr.lines().count(), bad.len(), "{stderr}");
    for line in stderr.lines() {
        assert!(
            line.starts_with("quotes: ") && line.contains("invalid ticker"),
            "{line}"
        );
        assert!(line.len() < 200, "message not shortened: {line}");
    }
}

#[test]
fn symbols_are_uppercased_and_sent_as_one_path_segment_each() {
    let server = Server::start(|req| Reply::chart(&req.symbol(), "5000", Some("USD"), T));
    quotes_for(&server)
        .args(["^gspc", "eurusd=x", "brk-b"])
        .assert()
        .success()
        .stdout("^GSPC     5000.00  USD\nEURUSD=X  5000.00  USD\nBRK-B     5000.00  USD\n");
    // `^` and `=` are outside the URL path percent-encode set, so they go as typed (as
    // browsers send them); what matters is that each symbol is exactly one path segment.
    let paths: Vec<String> = server.requests().into_iter().map(|r| r.path).collect();
    assert!(
        paths.contains(&"/v8/finance/chart/^GSPC".to_string()),
        "{paths:?}"
    );
    assert!(
        paths.contains(&"/v8/finance/chart/EURUSD=X".to_string()),
        "{paths:?}"
    );
    assert!(
        paths.contains(&"/v8/finance/chart/BRK-B".to_string()),
        "{paths:?}"
    );
}

#[test]
fn sends_a_user_agent_and_honours_the_override() {
    let server = Server::start(|req| Reply::chart(&req.symbol(), "1", None, T));
    quotes_for(&server).arg("A").assert().success();
    quotes_for(&server)
        .args(["--user-agent", "ledger-bot/2", "B"])
        .assert()
        .success();
    let agents: Vec<Option<String>> = server
        .requests()
        .iter()
        .map(|r| r.header("user-agent").map(str::to_string))
        .collect();
    assert_eq!(
        agents,
        [
            // yahoo-finance2's honest-but-accepted form (issue 19): Yahoo and Nasdaq refuse
            // bare library agents.
            Some(format!(
                "Mozilla/5.0 (compatible; quotes/{})",
                env!("CARGO_PKG_VERSION")
            )),
            Some("ledger-bot/2".to_string())
        ]
    );
}

#[test]
fn fifty_tickers_with_one_job_share_one_connection() {
    let server = Server::start(|req| Reply::chart(&req.symbol(), "1", None, T));
    let tickers: Vec<String> = (0..50).map(|n| format!("K{n}")).collect();
    quotes_for(&server)
        .arg("-j")
        .arg("1")
        .args(&tickers)
        .assert()
        .success();
    assert_eq!(server.request_count(), 50);
    assert_eq!(
        server.connections(),
        1,
        "keep-alive must reuse the connection"
    );
}

#[test]
fn jobs_bounds_requests_in_flight() {
    // Each answer is held 150 ms: long enough for a client that broke the bound to get a
    // fourth request to the server meanwhile, which is what this test exists to see.
    let server = Server::start(|req| {
        Reply::chart(&req.symbol(), "1", None, T).with_delay(Duration::from_millis(150))
    });
    let tickers: Vec<String> = (0..12).map(|n| format!("J{n}")).collect();
    quotes_for(&server)
        .args(["-j", "3"])
        .args(&tickers)
        .assert()
        .success();
    assert_eq!(server.max_in_flight(), 3);
}

#[test]
fn all_tickers_are_in_flight_together_by_default() {
    // 20 tickers, each answered only once all 20 are in flight at the server: with the
    // default --jobs they all go at once. (A client that holds some back waits out the
    // server's guard and fails the assertion below.)
    let server = Server::start(|req| Reply::chart(&req.symbol(), "1", None, T).when_in_flight(20));
    let tickers: Vec<String> = (0..20).map(|n| format!("C{n}")).collect();
    quotes_for(&server).args(&tickers).assert().success();
    assert_eq!(server.max_in_flight(), 20);
}

#[test]
fn a_ticker_given_twice_is_fetched_once_and_printed_twice() {
    let server = price_server(&[("VTSAX", "135.716"), ("IJS", "99.999")]);
    quotes_for(&server)
        .args(["VTSAX", "IJS", "vtsax"])
        .assert()
        .success()
        .stdout("VTSAX  135.72  USD\nIJS    100.00  USD\nVTSAX  135.72  USD\n");
    assert_eq!(server.hits("VTSAX"), 1);
}

/// Who wrote a usage error: clap (`error: …`, then a hint to try `--help`) or `quotes`
/// itself (one line, `quotes: error: …`).
#[derive(Clone, Copy, Debug)]
enum By {
    Clap,
    Quotes,
}

/// One way to call `quotes` wrongly, and what it must say.
struct Misuse<'a> {
    args: &'a [&'a str],
    stdin: &'static str,
    env: Option<(&'static str, &'static str)>,
    says: &'static [&'static str],
    by: By,
}

const MISUSE: Misuse<'static> = Misuse {
    args: &[],
    stdin: "",
    env: None,
    says: &[],
    by: By::Quotes,
};

#[test]
fn usage_errors_exit_2_with_a_message_before_any_request() {
    let yahoo = Server::start(|_| Reply::Close).expect_no_requests();
    let coinbase = Server::start(|_| Reply::Close).expect_no_requests();
    let dir = tempfile::tempdir().unwrap();
    let bad_pem = dir.path().join("bad.pem");
    std::fs::write(&bad_pem, "not a certificate").unwrap();
    let bad_pem = bad_pem.to_str().unwrap();
    // `--source`'s values come from the source registry.
    let names: Vec<&str> = quotes::source::REGISTRY.iter().map(|s| s.name).collect();
    let possible_sources: &'static [&'static str] = Box::leak(Box::new([&*Box::leak(
        format!("[possible values: {}]", names.join(", ")).into_boxed_str(),
    )]));

    let cases = [
        Misuse {
            says: &["no tickers given", "quotes --help"],
            ..MISUSE
        },
        Misuse {
            stdin: "# only a comment\n\n",
            says: &["no tickers given"],
            ..MISUSE
        },
        Misuse {
            args: &["--no-such-flag", "AAPL"],
            says: &["'--no-such-flag'"],
            by: By::Clap,
            ..MISUSE
        },
        Misuse {
            args: &["-j", "0", "AAPL"],
            says: &["--jobs", "1..=1000"],
            by: By::Clap,
            ..MISUSE
        },
        Misuse {
            args: &["--timeout=-1", "AAPL"],
            says: &["--timeout", "at least 0.001"],
            by: By::Clap,
            ..MISUSE
        },
        Misuse {
            args: &["--precision", "11", "X"],
            says: &["--precision", "0..=10"],
            by: By::Clap,
            ..MISUSE
        },
        Misuse {
            args: &["-o", "price,colour", "AAPL"],
            says: &[
                "colour",
                "symbol, price, currency, time, date, change, change_percent, \
                 previous_close, name, exchange, source",
            ],
            by: By::Clap,
            ..MISUSE
        },
        Misuse {
            args: &["--file", "/definitely/not/here", "AAPL"],
            says: &["cannot read /definitely/not/here"],
            ..MISUSE
        },
        Misuse {
            args: &["AAPL"],
            env: Some(("QUOTES_YAHOO_URL", "ftp://example")),
            says: &["QUOTES_YAHOO_URL", "http://"],
            ..MISUSE
        },
        Misuse {
            args: &["--source", "kraken", "BTC-USD"],
            says: possible_sources,
            by: By::Clap,
            ..MISUSE
        },
        Misuse {
            args: &["--date", "2999-01-01", "TSLA"],
            says: &["in the future"],
            by: By::Clap,
            ..MISUSE
        },
        Misuse {
            args: &["--date", "2021-02-30", "TSLA"],
            says: &["YYYY-MM-DD"],
            by: By::Clap,
            ..MISUSE
        },
        Misuse {
            args: &["--watch", "5", "-f", "json", "A"],
            says: &["use -f jsonl"],
            ..MISUSE
        },
        // The real minimum, without the --watch-min knob the rest of the suite uses.
        Misuse {
            args: &["--watch", "0.5", "A"],
            says: &["--watch takes at least 1 s"],
            ..MISUSE
        },
        Misuse {
            args: &["--cacert", bad_pem, "AAPL"],
            says: &["bad.pem"],
            ..MISUSE
        },
        Misuse {
            args: &["--cacert", "/no/such/ca.pem", "AAPL"],
            says: &["cannot read --cacert /no/such/ca.pem"],
            ..MISUSE
        },
        Misuse {
            args: &["--man", "AAPL"],
            says: &["'--man' cannot be used"],
            by: By::Clap,
            ..MISUSE
        },
    ];
    for case in cases {
        let mut cmd = quotes_for_both(&yahoo, &coinbase);
        if let Some((name, value)) = case.env {
            cmd.env(name, value);
        }
        let args = case.args;
        let out = cmd
            .args(args)
            .write_stdin(case.stdin)
            .assert()
            .code(2)
            .stdout("");
        let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
        for words in case.says {
            assert!(
                stderr.contains(words),
                "{args:?}: no {words:?} in\n{stderr}"
            );
        }
        match case.by {
            By::Clap => assert!(
                stderr.starts_with("error: ")
                    && stderr.ends_with("For more information, try '--help'.\n"),
                "{args:?}: not clap's usage error:\n{stderr}"
            ),
            By::Quotes => assert!(
                stderr.starts_with("quotes: error: ") && stderr.lines().count() == 1,
                "{args:?}: not one line from quotes:\n{stderr}"
            ),
        }
        assert_eq!(yahoo.request_count(), 0, "{args:?} reached Yahoo's server");
        assert_eq!(
            coinbase.request_count(),
            0,
            "{args:?} reached Coinbase's server"
        );
    }
}

#[test]
fn base_url_flag_and_trailing_slash() {
    let server = Server::start(|req| Reply::chart(&req.symbol(), "7", None, T));
    quotes()
        .args(["--yahoo-url", &format!("{}/", server.url()), "Z"])
        .assert()
        .success()
        .stdout("Z  7.00\n");
    assert_eq!(server.requests()[0].path, "/v8/finance/chart/Z");
}

#[test]
fn help_documents_exit_codes_and_examples_but_not_the_test_knobs() {
    quotes().arg("--help").assert().success().stdout(
        predicate::str::contains("Exit status")
            .and(predicate::str::contains("0    every ticker printed"))
            .and(predicate::str::contains("2    usage error"))
            .and(predicate::str::contains("Examples, at a terminal"))
            .and(predicate::str::contains("Examples, in scripts"))
            .and(predicate::str::contains("price=$(quotes -o price VTSAX)"))
            .and(predicate::str::contains("--watch-min").not())
            .and(predicate::str::contains("--backoff-base").not())
            .and(predicate::str::contains("--watch-rounds").not()),
    );
}

/// `-h` is a summary (issue 21; it was 100 lines): the usage line and one line per option,
/// as `rg -h`, within 50 lines of 100 columns; `--help` has the rest. Neither speaks of the
/// program's insides.
#[test]
fn short_help_is_one_line_per_option_within_50_lines_of_100_columns() {
    let run = |flag: &str| {
        let out = quotes().arg(flag).env("COLUMNS", "100").assert().success();
        String::from_utf8(out.get_output().stdout.clone()).unwrap()
    };
    let short = run("-h");
    let long = run("--help");
    let lines: Vec<&str> = short.lines().collect();
    assert!(lines.len() <= 50, "-h is {} lines:\n{short}", lines.len());
    assert!(lines[0].starts_with("Usage: quotes "), "{short}");
    for line in &lines {
        assert!(
            line.chars().count() <= 100,
            "longer than 100 columns: {line:?}"
        );
        // A line is a heading, a blank, or one option: never the wrapped rest of one.
        let heading = !line.starts_with(' ') && line.ends_with(':');
        let option = line.starts_with("  -") || line.starts_with("      --");
        assert!(
            line.is_empty()
                || heading
                || option
                || line.starts_with("  [TICKER]")
                || line == &lines[0],
            "an option's help wraps onto a second line: {line:?}\n{short}"
        );
    }
    // Every option of --help is in -h.
    let flags: Vec<&str> = long
        .lines()
        .filter(|l| l.starts_with("  -") || l.starts_with("      --"))
        .filter_map(|l| l.split([' ', ',']).find(|w| w.starts_with("--")))
        .collect();
    assert!(flags.len() > 30, "{flags:?}");
    for flag in flags {
        assert!(
            short
                .lines()
                .any(|l| l.split_whitespace().any(|w| w == flag)),
            "{flag} is in --help but not in -h:\n{short}"
        );
    }
    for text in [&short, &long] {
        for inside in ["registry", "filled by", "test knob", "`command`", "`parse`"] {
            assert!(
                !text.to_lowercase().contains(inside),
                "{inside:?} in:\n{text}"
            );
        }
    }
    assert!(long.contains("Examples, at a terminal") && long.contains("Exit status"));
}

#[test]
fn broken_pipe_is_quiet_and_successful() {
    // stdout is a pipe whose reader is gone before quotes starts (like `| head -0` that
    // already exited), so its very first write fails: no timing involved.
    let server = Server::start(|req| Reply::chart(&req.symbol(), "1", Some("USD"), T));
    let tickers: Vec<String> = (0..200).map(|n| format!("P{n}")).collect();
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut child = quotes_process()
        .env("QUOTES_YAHOO_URL", server.url())
        .args(&tickers)
        .stdout(writer)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(stderr, "");
    assert_eq!(status.code(), Some(0));
    assert_eq!(
        server.request_count(),
        200,
        "quotes fetched before it wrote"
    );
}

// A POSIX shell pipeline (and 6000 arguments, past Windows' 32 KiB command line). A reader
// that goes away is a broken pipe on every system, handled by one path (src/output).
#[cfg(unix)]
#[test]
fn head_dash_1_in_a_real_shell_pipeline_exits_0_quietly() {
    let server = Server::start(|req| Reply::chart(&req.symbol(), "1", Some("USD"), T));
    // Over 64 KiB of output, more than a pipe buffer holds: the write really fails.
    let tickers: Vec<String> = (0..6000).map(|n| format!("H{n}")).collect();
    let script = format!(
        "set -o pipefail; {BIN} {} 2>err.txt | head -1; echo \"status=$?\"; cat err.txt",
        tickers.join(" ")
    );
    let dir = tempfile::tempdir().unwrap();
    via("bash")
        .arg("-c")
        .arg(script)
        .current_dir(dir.path())
        .env("QUOTES_YAHOO_URL", server.url())
        .assert()
        .success()
        .stdout("H0     1.00  USD\nstatus=0\n");
}

#[test]
fn retry_after_on_a_503_is_honoured() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let times = Arc::clone(&seen);
    let server = Server::start(move |req| {
        let mut times = times.lock().unwrap();
        times.push(std::time::Instant::now());
        if times.len() == 1 {
            Reply::text(503, "busy").with_header("retry-after", "1")
        } else {
            Reply::chart(&req.symbol(), "8", Some("USD"), T)
        }
    });
    quotes_for(&server)
        .arg("WAIT")
        .assert()
        .success()
        .stdout("WAIT  8.00  USD\n");
    let times = seen.lock().unwrap();
    assert_eq!(times.len(), 2);
    assert!(
        times[1] - times[0] >= Duration::from_millis(950),
        "retried after {:?}, before the 1 s the server asked for",
        times[1] - times[0]
    );
}
