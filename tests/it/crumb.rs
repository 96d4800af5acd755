//! Yahoo's cookie and crumb (issue 19), asked for only when the chart API wants them: a
//! local Yahoo that answers 401 "Invalid Crumb" without them, and a cookie server. One
//! cookie request and one crumb request for the whole run, however many tickers were
//! refused; every ticker asked again once, with `&crumb=` and the cookie; both kept in the
//! cache directory for a day, in a file only its owner may read; a crumb request answered
//! 429 or with an HTML page is not a crumb, and fails the run's tickers after one try. The
//! crumb and cookie never show, not even with `-v`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use predicates::prelude::*;

use crate::cmd::quotes;
use crate::support::{Reply, Request, Server, chart_body, fixture};

/// The crumb Yahoo gives, as recorded (`yahoo_getcrumb_body_2025-02-16.txt`).
const CRUMB: &str = "haT3oykhHqZ";

/// The cookie the cookie server sets (the recorded `A3`, cut short).
const COOKIE: &str = "A3=d=AQABBPu5wGoCEPCyFodXSWWJJvA9rlLQAisFEgEBAQELwmrKatw20iMA_eMDAA&S=AQAAAtFfP3sBj7YwVnvSiMsEoh8";

/// `fc.yahoo.com`: a 404 page that sets the cookie, as the real one answers.
fn cookie_server() -> Server {
    let set = fixture("yahoo_finance_quote_page_set_cookie_headers_fragment.txt");
    let lines: Vec<String> = String::from_utf8(set)
        .unwrap()
        .lines()
        .map(str::to_string)
        .filter(|l| l.starts_with("A1=") || l.starts_with("A3="))
        .collect();
    Server::start(move |_| {
        lines
            .iter()
            .fold(Reply::text(404, "Not Found"), |reply, line| {
                reply.with_header("set-cookie", line)
            })
    })
}

/// Whether a request carries the cookie (among others).
fn has_cookie(req: &Request) -> bool {
    req.header("cookie")
        .is_some_and(|c| c.split("; ").any(|pair| pair == COOKIE))
}

/// A Yahoo whose chart API wants the crumb `crumb` and the cookie; `getcrumb` answers its
/// crumb requests.
fn yahoo_wanting(
    crumb: &'static str,
    getcrumb: impl Fn(&Request) -> Reply + Send + Sync + 'static,
) -> Server {
    yahoo_wanting_now(move || crumb, getcrumb)
}

/// [`yahoo_wanting`], the crumb it wants being what `crumb()` says at each request.
fn yahoo_wanting_now(
    crumb: impl Fn() -> &'static str + Send + Sync + 'static,
    getcrumb: impl Fn(&Request) -> Reply + Send + Sync + 'static,
) -> Server {
    Server::start(move |req| {
        if req.path == "/v1/test/getcrumb" {
            return getcrumb(req);
        }
        if has_cookie(req) && req.query_param("crumb").as_deref() == Some(crumb()) {
            let body = chart_body(&req.symbol(), "101.5", Some("USD"), 1_742_824_293);
            Reply::json(200, body)
        } else {
            Reply::fixture(401, "yahoo_error_401_invalid_crumb_2023-04-19.json")
        }
    })
}

/// getcrumb as Yahoo answers it: the crumb to a request with the cookie.
fn gives(crumb: &'static str) -> impl Fn(&Request) -> Reply + Send + Sync + 'static {
    move |req| {
        if has_cookie(req) {
            Reply::text(200, crumb)
        } else {
            Reply::text(403, "")
        }
    }
}

fn run(yahoo: &Server, cookies: &Server, cache: &std::path::Path) -> assert_cmd::Command {
    let mut cmd = quotes();
    cmd.env("QUOTES_YAHOO_URL", yahoo.url())
        .env("QUOTES_YAHOO_COOKIE_URL", cookies.url())
        .arg("--cache-dir")
        .arg(cache);
    cmd
}

/// One run pricing AAPL from `yahoo`, which gets it a session: the cookie server it used and
/// the cache directory that keeps the session.
fn priced_once(yahoo: &Server) -> (Server, tempfile::TempDir) {
    let cookies = cookie_server();
    let cache = tempfile::tempdir().unwrap();
    run(yahoo, &cookies, cache.path())
        .arg("AAPL")
        .assert()
        .success();
    (cookies, cache)
}

fn tickers(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("T{i:03}")).collect()
}

fn getcrumbs(server: &Server) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| r.path == "/v1/test/getcrumb")
        .count()
}

#[test]
fn one_cookie_and_one_crumb_for_every_ticker_refused_at_once() {
    let yahoo = yahoo_wanting(CRUMB, gives(CRUMB));
    let cookies = cookie_server();
    let cache = tempfile::tempdir().unwrap();
    let tickers = tickers(60);
    let assert = run(&yahoo, &cookies, cache.path())
        .args(["-j", "50", "-o", "symbol,price"])
        .args(&tickers)
        .assert()
        .success()
        .stderr("");
    let expected: String = tickers.iter().map(|t| format!("{t}  101.50\n")).collect();
    assert_eq!(
        String::from_utf8(assert.get_output().stdout.clone()).unwrap(),
        expected
    );
    assert_eq!(cookies.request_count(), 1);
    assert_eq!(getcrumbs(&yahoo), 1);
    // Each ticker asked at most twice: without the crumb (the first 50 at once), then with it.
    let charts: Vec<Request> = yahoo
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/v8/"))
        .collect();
    for ticker in &tickers {
        let asked = charts.iter().filter(|r| &r.symbol() == ticker).count();
        assert!((1..=2).contains(&asked), "{ticker} asked {asked} times");
    }
    let with_crumb = charts
        .iter()
        .filter(|r| r.query_param("crumb").as_deref() == Some(CRUMB) && has_cookie(r))
        .count();
    assert_eq!(with_crumb, 60);
    // Kept for a day, readable by its owner only.
    let kept = cache.path().join("sessions").join("yahoo.json");
    let text = std::fs::read_to_string(&kept).unwrap();
    assert!(text.contains(CRUMB) && text.contains(COOKIE), "{text}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&kept).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn a_chart_api_that_wants_no_crumb_gets_none_and_no_cookie_is_asked() {
    let yahoo = Server::start(|req| {
        assert!(req.header("cookie").is_none() && req.query_param("crumb").is_none());
        Reply::json(
            200,
            chart_body(&req.symbol(), "7", Some("USD"), 1_742_824_293),
        )
    });
    let cookies = cookie_server().expect_no_requests();
    let cache = tempfile::tempdir().unwrap();
    run(&yahoo, &cookies, cache.path())
        .args(tickers(5))
        .assert()
        .success();
    assert!(!cache.path().join("sessions").exists());
}

#[test]
fn the_next_run_uses_the_kept_session_and_asks_for_none() {
    let yahoo = yahoo_wanting(CRUMB, gives(CRUMB));
    let (cookies, cache) = priced_once(&yahoo);
    assert_eq!((cookies.request_count(), getcrumbs(&yahoo)), (1, 1));
    run(&yahoo, &cookies, cache.path())
        .args(["-o", "symbol,price", "MSFT", "IBM"])
        .assert()
        .success()
        .stdout("MSFT  101.50\nIBM   101.50\n");
    assert_eq!((cookies.request_count(), getcrumbs(&yahoo)), (1, 1));
    // Without the cache, a new one.
    run(&yahoo, &cookies, cache.path())
        .args(["--no-cache", "AAPL"])
        .assert()
        .success();
    assert_eq!((cookies.request_count(), getcrumbs(&yahoo)), (2, 2));
}

#[test]
fn a_kept_crumb_yahoo_no_longer_takes_is_replaced_by_a_new_one() {
    // A Yahoo whose crumb changes between two runs: "oldCrumb123", then "newCrumb456".
    let rotated = Arc::new(AtomicUsize::new(0));
    let now = Arc::clone(&rotated);
    let crumb = move || {
        if now.load(Ordering::SeqCst) == 0 {
            "oldCrumb123"
        } else {
            "newCrumb456"
        }
    };
    let wanted = crumb.clone();
    let yahoo = yahoo_wanting_now(wanted, move |req| gives(crumb())(req));
    let (cookies, cache) = priced_once(&yahoo);
    rotated.store(1, Ordering::SeqCst);
    let before = yahoo.request_count();
    run(&yahoo, &cookies, cache.path())
        .args(["-o", "symbol,price", "MSFT"])
        .assert()
        .success()
        .stdout("MSFT  101.50\n");
    // Without a crumb, with the kept one (refused), with a new one.
    let second: Vec<(String, Option<String>)> = yahoo.requests()[before..]
        .iter()
        .map(|r| (r.path.clone(), r.query_param("crumb")))
        .collect();
    let chart = "/v8/finance/chart/MSFT".to_string();
    assert_eq!(
        second,
        [
            (chart.clone(), None),
            (chart.clone(), Some("oldCrumb123".into())),
            ("/v1/test/getcrumb".into(), None),
            (chart, Some("newCrumb456".into())),
        ]
    );
    assert_eq!(cookies.request_count(), 2);
}

#[test]
fn a_crumb_request_refused_fails_every_ticker_after_one_try() {
    for (refusal, kind, words) in [
        (
            Reply::fixture(
                429,
                "yahoo_429_getcrumb_body_edge_too_many_requests_fragment.txt",
            ),
            "rate_limited",
            "rate limited by Yahoo (HTTP 429)",
        ),
        (
            Reply::text(200, "Too Many Requests"),
            "malformed_response",
            "the crumb request answered \"Too Many Requests\", which is not a crumb",
        ),
        (
            Reply::text(
                200,
                "<!DOCTYPE html><html><body>consent.yahoo.com</body></html>",
            )
            .with_header("content-type", "text/html"),
            "malformed_response",
            "expected a crumb but got an HTML page",
        ),
    ] {
        let yahoo = yahoo_wanting(CRUMB, move |_| refusal.clone());
        let cookies = cookie_server();
        let cache = tempfile::tempdir().unwrap();
        let assert = run(&yahoo, &cookies, cache.path())
            .args(["-f", "json"])
            .args(tickers(20))
            .assert()
            .code(1);
        let out = String::from_utf8(assert.get_output().stdout.clone()).unwrap();
        let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
        for row in rows.as_array().unwrap() {
            assert_eq!(row["error"]["kind"], kind, "{row}");
            let message = row["error"]["message"].as_str().unwrap();
            assert!(
                message
                    .starts_with("Yahoo asked for a cookie and crumb, and getting them failed: ")
                    && message.contains(words),
                "{message}"
            );
        }
        assert_eq!((cookies.request_count(), getcrumbs(&yahoo)), (1, 1));
        // Nothing kept: the next run tries again.
        assert!(!cache.path().join("sessions").join("yahoo.json").exists());
    }
}

#[test]
fn a_cookie_server_that_sets_none_fails_the_tickers_saying_so() {
    let yahoo = yahoo_wanting(CRUMB, gives(CRUMB));
    let cookies = Server::start(|_| Reply::text(404, "Not Found"));
    let cache = tempfile::tempdir().unwrap();
    run(&yahoo, &cookies, cache.path())
        .args(["AAPL", "MSFT"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!(
            "quotes: AAPL: Yahoo asked for a cookie and crumb, and getting them failed: \
             malformed response from Yahoo: {}/ set no cookie (HTTP 404)",
            cookies.url()
        )));
    assert_eq!(cookies.request_count(), 1);
    assert_eq!(getcrumbs(&yahoo), 0);
}

#[test]
fn neither_crumb_nor_cookie_shows_even_with_verbose_or_an_echo() {
    // This Yahoo echoes what it was sent in its errors.
    let yahoo = Server::start(|req| {
        if req.path == "/v1/test/getcrumb" {
            return gives(CRUMB)(req);
        }
        let crumb = req.query_param("crumb");
        match (req.symbol().as_str(), crumb.as_deref()) {
            (_, None) => Reply::fixture(401, "yahoo_error_401_invalid_crumb_2023-04-19.json"),
            ("ECHO", Some(crumb)) => Reply::json(
                404,
                format!(
                    r#"{{"chart":{{"result":null,"error":{{"code":"Not Found","description":"no {crumb} for {}"}}}}}}"#,
                    req.header("cookie").unwrap_or_default()
                ),
            ),
            (symbol, Some(_)) => {
                Reply::json(200, chart_body(symbol, "3", Some("USD"), 1_742_824_293))
            }
        }
    });
    let cookies = cookie_server();
    let cache = tempfile::tempdir().unwrap();
    let assert = run(&yahoo, &cookies, cache.path())
        .args(["-v", "-f", "json", "AAPL", "ECHO"])
        .assert()
        .code(1);
    let out = String::from_utf8(assert.get_output().stdout.clone()).unwrap();
    let err = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
    for secret in [
        CRUMB,
        "AQABBPu5wGoCEPCyFodXSWWJJvA9rlLQAisFEgEBAQELwmrKatw20iMA_eMDAA",
    ] {
        assert!(
            !out.contains(secret) && !err.contains(secret),
            "{out}\n{err}"
        );
    }
    // -v shows the cookie and crumb requests, and the retry with `crumb=…`.
    for line in [
        format!("quotes: yahoo: GET {}/: 404 HTTP/1.1", cookies.url()),
        format!(
            "quotes: yahoo: GET {}/v1/test/getcrumb: 200 HTTP/1.1",
            yahoo.url()
        ),
        format!(
            "quotes: yahoo: GET {}/v8/finance/chart/AAPL?range=1d&interval=1d&crumb=…: 200 \
             HTTP/1.1",
            yahoo.url()
        ),
    ] {
        assert!(err.contains(&line), "{line}\n{err}");
    }
    assert!(out.contains("no … for …"), "{out}");
}
