//! The Alpha Vantage source (issue 19) against a local server speaking its recorded answers:
//! the key from `ALPHAVANTAGE_API_KEY` as `apikey=`, never shown anywhere; the latest price,
//! then its listing's currency from SYMBOL_SEARCH, kept in the cache directory so a later run
//! does not ask again; London in pence made pounds; closes as traded; what the compact
//! series cannot hold refused; limits and errors told in 200 bodies; one request a second,
//! whatever `-j` says. The keys here are fake.
//!
//! Alpha Vantage is asked at most one request a second, so these tests keep to a few requests
//! each.

use std::time::{Duration, Instant};

use predicates::prelude::*;

use crate::cmd::{assert_key_never_shows, quotes, quotes_for};
use crate::support::{Reply, Request, Server, fixture};

/// A fake key, long enough to be recognised wherever it would show.
const KEY: &str = "fake0123456789abcdefalphavantagekey";

fn alphavantage(server: &Server) -> assert_cmd::Command {
    let mut cmd = quotes();
    cmd.env("QUOTES_ALPHAVANTAGE_URL", server.url())
        .env("ALPHAVANTAGE_API_KEY", KEY);
    cmd
}

fn output(assert: &assert_cmd::assert::Assert) -> (String, String) {
    let out = assert.get_output();
    (
        String::from_utf8(out.stdout.clone()).unwrap(),
        String::from_utf8(out.stderr.clone()).unwrap(),
    )
}

fn function(req: &Request) -> String {
    req.query_param("function").unwrap_or_default()
}

/// The symbol a request is about: `symbol=`, or SYMBOL_SEARCH's `keywords=`.
fn symbol(req: &Request) -> String {
    req.query_param("symbol")
        .or_else(|| req.query_param("keywords"))
        .unwrap_or_default()
}

/// MSFT's listing, in the shape of the recorded searches (`alphavantage_symbol_search_BA.json`).
const MSFT_SEARCH: &str = r#"{"bestMatches":[{"1. symbol":"MSFT","2. name":"Microsoft Corporation","3. type":"Equity","4. region":"United States","5. marketOpen":"09:30","6. marketClose":"16:00","7. timezone":"UTC-04","8. currency":"USD","9. matchScore":"1.0000"}]}"#;

/// Tesco's listing as the recorded SYMBOL_SEARCH of `keywords=tesco` gives it (GBX): block
/// (c) of `alphavantage_london_TSCO.LON_pence_fragment.txt`, a source comment's lines without
/// their `//`.
fn tesco_search() -> String {
    let text =
        String::from_utf8(fixture("alphavantage_london_TSCO.LON_pence_fragment.txt")).unwrap();
    let block = text.split("## (c)").nth(1).unwrap();
    block
        .lines()
        .filter_map(|l| l.strip_prefix("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// TSCO.LON's latest quote: the recorded GLOBAL_QUOTE shape (MSFT's) with the close of
/// 2024-12-09 the recorded TSCO.LON daily series holds, 364.8000 pence.
fn tesco_quote() -> String {
    String::from_utf8(fixture("alphavantage_global_quote_MSFT_2018-10-05.json"))
        .unwrap()
        .replace("\"MSFT\"", "\"TSCO.LON\"")
        .replace("\"112.1300\"", "\"364.8000\"")
        .replace("2018-10-05", "2024-12-09")
}

/// The last `n` weekdays before today, oldest first.
fn last_weekdays(n: usize) -> Vec<jiff::civil::Date> {
    let mut day = jiff::Zoned::now().date();
    let mut days = Vec::new();
    while days.len() < n {
        day = day.yesterday().unwrap();
        if !matches!(
            day.weekday(),
            jiff::civil::Weekday::Saturday | jiff::civil::Weekday::Sunday
        ) {
            days.push(day);
        }
    }
    days.reverse();
    days
}

/// The recorded IBM series (seven days, 2020-12-31 .. 2021-01-11) moved to the last seven
/// weekdays, its closes as recorded: `--from` cannot reach 2021 in a compact series.
fn ibm_series_recent() -> (String, Vec<jiff::civil::Date>) {
    let mut body = String::from_utf8(fixture(
        "alphavantage_time_series_daily_IBM_partial_edited.json",
    ))
    .unwrap();
    let recorded = [
        "2020-12-31",
        "2021-01-04",
        "2021-01-05",
        "2021-01-06",
        "2021-01-07",
        "2021-01-08",
        "2021-01-11",
    ];
    let days = last_weekdays(recorded.len());
    for (old, new) in recorded.iter().zip(&days) {
        body = body.replace(&format!("\"{old}\""), &format!("\"{new}\""));
    }
    (body, days)
}

/// Alpha Vantage answering the recorded bodies: MSFT's and TSCO.LON's quotes, IBM's series
/// (moved to recent days), their listings; an empty quote, "Invalid API call" and an empty
/// search for anything else. Every request must carry the key.
fn recorded() -> Server {
    let (series, _) = ibm_series_recent();
    Server::start(move |req| {
        assert_eq!(req.query_param("apikey").as_deref(), Some(KEY), "{req:?}");
        match (function(req).as_str(), symbol(req).as_str()) {
            ("GLOBAL_QUOTE", "MSFT") => {
                Reply::fixture(200, "alphavantage_global_quote_MSFT_2018-10-05.json")
            }
            ("GLOBAL_QUOTE", "TSCO.LON") => Reply::json(200, tesco_quote()),
            ("GLOBAL_QUOTE", _) => Reply::json(200, r#"{"Global Quote": {}}"#),
            ("TIME_SERIES_DAILY", "IBM") => Reply::json(200, series.clone()),
            ("TIME_SERIES_DAILY", _) => Reply::fixture(
                200,
                "alphavantage_error_invalid_api_call_TIME_SERIES_DAILY_IWDA.AS.json",
            ),
            ("SYMBOL_SEARCH", "MSFT") => Reply::json(200, MSFT_SEARCH),
            ("SYMBOL_SEARCH", "IBM") => Reply::fixture(200, "alphavantage_symbol_search_IBM.json"),
            ("SYMBOL_SEARCH", "TSCO.LON") => Reply::json(200, tesco_search()),
            _ => Reply::json(200, r#"{"bestMatches": []}"#),
        }
    })
}

/// The functions asked, in order.
fn functions(server: &Server) -> Vec<String> {
    server.requests().iter().map(function).collect()
}

#[test]
fn without_a_key_the_ticker_fails_at_once_naming_the_variable() {
    let server = recorded().expect_no_requests();
    quotes()
        .env("QUOTES_ALPHAVANTAGE_URL", server.url())
        .args(["-f", "json", "alphavantage:MSFT"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(r#""kind":"missing_key""#))
        .stderr(predicate::str::contains(
            "Alpha Vantage needs an API key: set ALPHAVANTAGE_API_KEY (a free key: \
             https://www.alphavantage.co/support/#api-key)",
        ));
}

#[test]
fn the_latest_price_then_its_currency_which_is_kept_for_the_next_run() {
    let server = recorded();
    let cache = tempfile::tempdir().unwrap();
    let run = |verbose: bool| {
        let mut cmd = alphavantage(&server);
        cmd.arg("--cache-dir").arg(cache.path()).args([
            "-f",
            "tsv",
            "-o",
            "symbol,price,currency,time,name,source",
            "alphavantage:msft",
        ]);
        if verbose {
            cmd.arg("-v");
        }
        cmd.assert().success()
    };
    let first = run(false);
    assert_eq!(
        output(&first),
        (
            "MSFT\t112.13\tUSD\t2018-10-05T20:00:00Z\tMicrosoft Corporation\talphavantage\n"
                .to_string(),
            String::new()
        )
    );
    assert_eq!(functions(&server), ["GLOBAL_QUOTE", "SYMBOL_SEARCH"]);
    // What the cache directory keeps holds no key: the URL is kept as shown, `apikey`-less.
    let mut kept = 0;
    let mut dirs = vec![cache.path().to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                assert!(
                    !String::from_utf8_lossy(&bytes).contains(KEY),
                    "the key is in {}",
                    path.display()
                );
                kept += 1;
            }
        }
    }
    assert!(kept > 0, "nothing was kept in {}", cache.path().display());
    // The next run asks for the quote only: the listing was kept, and -v says so.
    let again = run(true);
    let (out, err) = output(&again);
    assert_eq!(
        out,
        String::from_utf8(first.get_output().stdout.clone()).unwrap()
    );
    assert_eq!(
        functions(&server),
        ["GLOBAL_QUOTE", "SYMBOL_SEARCH", "GLOBAL_QUOTE"]
    );
    assert!(
        err.contains(&format!(
            "quotes: alphavantage: GET {}/query?function=SYMBOL_SEARCH&keywords=MSFT: kept from \
             an earlier run (the cache), not asked",
            server.url()
        )),
        "{err}"
    );
    // Without the cache, nothing is kept or read.
    alphavantage(&server)
        .args(["--no-cache", "--cache-dir"])
        .arg(cache.path())
        .arg("alphavantage:MSFT")
        .assert()
        .success();
    assert_eq!(
        functions(&server).last().map(String::as_str),
        Some("SYMBOL_SEARCH")
    );
}

#[test]
fn a_kept_listing_it_cannot_read_is_asked_again() {
    let server = recorded();
    let cache = tempfile::tempdir().unwrap();
    let run = || {
        alphavantage(&server)
            .arg("--cache-dir")
            .arg(cache.path())
            .args(["-o", "symbol,price,currency", "alphavantage:MSFT"])
            .assert()
            .success()
            .stdout("MSFT  112.13  USD\n")
    };
    run();
    // Someone edits the kept answer: it no longer lists MSFT.
    let kept: Vec<_> = std::fs::read_dir(cache.path().join("answers"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    let text = std::fs::read_to_string(&kept[0]).unwrap();
    let edited = text.replace("\\\"MSFT\\\"", "\\\"MSFX\\\"");
    assert_ne!(text, edited);
    std::fs::write(&kept[0], edited).unwrap();
    run();
    // Asked again, and kept again: the third run asks for the quote only.
    run();
    assert_eq!(
        functions(&server),
        [
            "GLOBAL_QUOTE",
            "SYMBOL_SEARCH",
            "GLOBAL_QUOTE",
            "SYMBOL_SEARCH",
            "GLOBAL_QUOTE"
        ]
    );
}

#[test]
fn london_is_in_pence_made_pounds_and_yahoos_suffix_is_translated() {
    let server = recorded();
    alphavantage(&server)
        .args([
            "-f",
            "tsv",
            "-o",
            "symbol,price,currency,quoted_price,time",
            "alphavantage:TSCO.L",
        ])
        .assert()
        .success()
        // 16:30 at UTC+01, as the listing says: 15:30 UTC.
        .stdout("TSCO.L\t3.6480\tGBP\t364.80\t2024-12-09T15:30:00Z\n")
        .stderr("");
    let asked: Vec<String> = server.requests().iter().map(symbol).collect();
    assert_eq!(asked, ["TSCO.LON", "TSCO.LON"]);
}

#[test]
fn history_is_the_close_as_traded_and_what_compact_cannot_hold_is_refused() {
    let server = recorded();
    let (_, days) = ibm_series_recent();
    let (first, last) = (days[1], days[5]);
    let assert = alphavantage(&server)
        .args(["--from", &first.to_string(), "--to", &last.to_string()])
        .args(["-f", "tsv", "alphavantage:IBM"])
        .assert()
        .success()
        .stderr("");
    let expected: String = days[1..=5]
        .iter()
        .zip(["123.94", "126.14", "129.29", "128.99", "128.53"])
        .map(|(day, close)| format!("IBM\t{day}\t{close}\tUSD\n"))
        .collect();
    assert_eq!(output(&assert).0, expected);
    // A past day: its close, asked of the same compact series.
    alphavantage(&server)
        .args(["--date", &days[6].to_string(), "-o", "symbol,date,price"])
        .arg("alphavantage:IBM")
        .assert()
        .success()
        .stdout(format!("IBM  {}  128.58\n", days[6]));
    assert_eq!(
        functions(&server),
        [
            "TIME_SERIES_DAILY",
            "SYMBOL_SEARCH",
            "TIME_SERIES_DAILY",
            "SYMBOL_SEARCH"
        ]
    );
    assert!(
        server
            .requests()
            .iter()
            .all(|r| function(r) != "TIME_SERIES_DAILY"
                || r.query_param("outputsize").as_deref() == Some("compact"))
    );
    // A year back, or adjusted closes: refused before any request.
    let quiet = recorded().expect_no_requests();
    alphavantage(&quiet)
        .args([
            "--from",
            "2021-01-04",
            "--to",
            "2021-01-08",
            "alphavantage:IBM",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "Alpha Vantage has no closes as far back as 2021-01-04 for a free key: its daily \
             series (outputsize=compact) holds the last 100 trading days",
        ));
    alphavantage(&quiet)
        .args([
            "--date",
            &days[6].to_string(),
            "--adjust",
            "all",
            "alphavantage:IBM",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "Alpha Vantage has no adjusted closes",
        ));
}

#[test]
fn a_limit_told_in_a_200_ends_the_source_for_the_run() {
    for body in [
        fixture("alphavantage_information_rate_limit_25_per_day_fragment.txt"),
        fixture("alphavantage_note_rate_limit_5_per_min_500_per_day.json"),
    ] {
        let server = Server::start(move |_| Reply::json(200, body.clone()));
        let assert = alphavantage(&server)
            .args([
                "-f",
                "json",
                "--source",
                "alphavantage",
                "MSFT",
                "IBM",
                "SPY",
            ])
            .assert()
            .code(1);
        // One request: the answer said the limit is reached, so nothing more was asked.
        assert_eq!(server.request_count(), 1);
        let (out, err) = output(&assert);
        let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
        for row in rows.as_array().unwrap() {
            assert_eq!(row["error"]["kind"], "rate_limited", "{row}");
        }
        for line in err.lines() {
            assert!(
                line.contains("rate limited by Alpha Vantage: Our standard API ")
                    && line.ends_with("; nothing more is asked of it this run"),
                "{line}"
            );
        }
        assert_eq!(err.lines().count(), 3, "{err}");
    }
}

#[test]
fn errors_in_200_bodies_say_what_they_are() {
    let server = Server::start(|req| match symbol(req).as_str() {
        "BADKEY" => Reply::fixture(200, "alphavantage_error_apikey_invalid_fragment.txt"),
        "NOPE" => Reply::json(200, r#"{"Global Quote": {}}"#),
        "ODD" => Reply::json(
            200,
            r#"{"Global Quote": {"01. symbol": "ODD", "05. price": "1,5"}}"#,
        ),
        "HTML" => Reply::text(200, "<html><body>maintenance</body></html>"),
        _ => Reply::json(200, r#"{"bestMatches": []}"#),
    });
    let assert = alphavantage(&server)
        .args(["-f", "json", "--source", "alphavantage"])
        .args(["BADKEY", "NOPE", "ODD", "HTML"])
        .assert()
        .code(1);
    let (out, err) = output(&assert);
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
    let kinds: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["error"]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "http_status",
            "not_found",
            "malformed_response",
            "malformed_response"
        ]
    );
    assert!(err.contains("the API key was refused"), "{err}");
    assert!(err.contains("check ALPHAVANTAGE_API_KEY"), "{err}");
    assert!(
        err.contains("not found on Alpha Vantage (no quote for NOPE); check the symbol"),
        "{err}"
    );
    // None of them was answered, so no listing was asked.
    assert_eq!(server.request_count(), 4);
}

#[test]
fn a_symbol_its_search_does_not_list_has_no_price_and_nothing_is_kept() {
    let server = Server::start(|req| match function(req).as_str() {
        "GLOBAL_QUOTE" => Reply::fixture(200, "alphavantage_global_quote_MSFT_2018-10-05.json"),
        _ => Reply::fixture(200, "alphavantage_symbol_search_BA.json"),
    });
    let cache = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        alphavantage(&server)
            .arg("--cache-dir")
            .arg(cache.path())
            .arg("alphavantage:MSFT")
            .assert()
            .code(1)
            .stdout("")
            .stderr(predicate::str::contains(
                "its symbol search does not list MSFT, so the price's currency is unknown",
            ));
    }
    assert_eq!(
        functions(&server),
        [
            "GLOBAL_QUOTE",
            "SYMBOL_SEARCH",
            "GLOBAL_QUOTE",
            "SYMBOL_SEARCH"
        ]
    );
}

#[test]
fn one_request_a_second_one_at_a_time_whatever_jobs_says() {
    let server = recorded();
    let started = Instant::now();
    alphavantage(&server)
        .args(["-j", "50", "-o", "symbol,price", "--source", "alphavantage"])
        .args(["MSFT", "TSCO.LON"])
        .assert()
        .success()
        .stdout("MSFT      112.13\nTSCO.LON  3.6480\n");
    // Four requests, started a second apart: three seconds at least.
    assert_eq!(server.request_count(), 4);
    assert_eq!(server.max_in_flight(), 1);
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn no_key_appears_in_any_output_even_with_verbose() {
    // A server that echoes the key back in its errors, and answers one ticker.
    let server = Server::start(|req| {
        let key = req.query_param("apikey").unwrap_or_default();
        match (function(req).as_str(), symbol(req).as_str()) {
            ("GLOBAL_QUOTE", "MSFT") => {
                Reply::fixture(200, "alphavantage_global_quote_MSFT_2018-10-05.json")
            }
            ("SYMBOL_SEARCH", _) => Reply::json(200, MSFT_SEARCH),
            (_, "ECHO") => Reply::json(
                200,
                format!(r#"{{"Error Message": "the parameter apikey {key} is invalid"}}"#),
            ),
            _ => Reply::json(302, "").with_header(
                "location",
                &format!("http://elsewhere.example/x?apikey={key}"),
            ),
        }
    });
    let line = format!(
        "quotes: alphavantage: GET {}/query?function=GLOBAL_QUOTE&symbol=MSFT&apikey=…: 200 \
         HTTP/1.1",
        server.url()
    );
    assert_key_never_shows(
        || {
            let mut cmd = alphavantage(&server);
            cmd.args(["--source", "alphavantage"]);
            cmd
        },
        &server,
        (KEY, "apikey"),
        &["MSFT", "ECHO", "MOVED"],
        (&line, "apikey … is invalid"),
    );
}

#[test]
fn yahoo_refusing_everything_alpha_vantage_prices_the_ticker() {
    let yahoo = Server::start(|_| Reply::fixture(429, "yahoo_too_many_requests.429.txt"));
    let server = recorded();
    quotes_for(&yahoo)
        .env("QUOTES_ALPHAVANTAGE_URL", server.url())
        .env("ALPHAVANTAGE_API_KEY", KEY)
        .args([
            "--source",
            "yahoo,alphavantage",
            "-o",
            "symbol,price,source",
        ])
        .arg("MSFT")
        .assert()
        .success()
        .stdout("MSFT  112.13  alphavantage\n")
        .stderr("");
}
