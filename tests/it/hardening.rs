//! Integration tests for issue 5: rate limits as a batch, deadlines, signals, redirects,
//! proxies, write errors and too few file descriptors — each triggered for real against
//! a local server.
// Some tests here need Unix or Linux (signals, script(1), /dev/full, /proc): elsewhere
// they are not compiled, and the imports only they use are not used.
#![cfg_attr(not(target_os = "linux"), allow(unused_imports))]

use std::collections::HashMap;
use std::io::Read;
use std::process::{Command as StdCommand, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use predicates::prelude::*;

use crate::cmd::{BIN, quotes, quotes_for, quotes_for_both, quotes_process, via};
use crate::support::{Reply, Server, wait_until};

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[test]
fn when_the_rate_limit_budget_is_spent_the_rest_fail_fast() {
    let server = Server::start(|_| Reply::fixture(429, "yahoo_too_many_requests.429.txt"));
    let tickers: Vec<String> = (0..10).map(|n| format!("R{n}")).collect();
    let out = quotes_for(&server)
        .args(["-j", "1", "--retries", "2", "--backoff-base", "0.01"])
        .args(&tickers)
        .assert()
        .code(1)
        .stdout("");
    // One ticker spends the source's budget (1 try + 2 retries); the other nine never
    // hammer the server: they fail at once, each with its own line, in input order.
    assert_eq!(server.request_count(), 3);
    assert_eq!(
        server.hits("R0"),
        3,
        "the first ticker: one try plus two retries"
    );
    let stderr = text(&out.get_output().stderr);
    assert_eq!(stderr.lines().count(), 10, "{stderr}");
    for (line, ticker) in stderr.lines().zip(&tickers) {
        assert!(
            line.starts_with(&format!(
                "quotes: {ticker}: rate limited by Yahoo (HTTP 429)"
            )),
            "{stderr}"
        );
    }
}

#[test]
fn a_burst_of_429s_backs_off_once_for_everyone() {
    // The first 8 requests (one burst, -j 8) are refused with Retry-After: 1, once all 8
    // are in flight, so the refusals meet a burst; everything after succeeds. The shared
    // gate makes every ticker wait out that one second.
    let calls = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = Arc::clone(&calls);
    let server = Server::start(move |req| {
        let mut seen = seen.lock().unwrap();
        seen.push(Instant::now());
        if seen.len() <= 8 {
            Reply::text(429, "Edge: Too Many Requests")
                .with_header("retry-after", "1")
                .when_in_flight(8)
        } else {
            Reply::chart(&req.symbol(), "1", Some("USD"), 1)
        }
    });
    let tickers: Vec<String> = (0..8).map(|n| format!("B{n}")).collect();
    quotes_for(&server)
        .args(["-j", "8", "--retries", "1", "-o", "symbol"])
        .args(&tickers)
        .assert()
        .success()
        .stdout(format!("{}\n", tickers.join("\n")));
    assert_eq!(
        server.request_count(),
        16,
        "each ticker retried exactly once"
    );
    let times = calls.lock().unwrap();
    let first_refusal = times[0];
    for retry in &times[8..] {
        assert!(
            *retry - first_refusal >= Duration::from_millis(950),
            "a retry went out {:?} after the first 429, before its Retry-After",
            *retry - first_refusal
        );
    }
}

#[test]
fn deadline_prints_what_finished_and_fails_the_rest() {
    let server = Server::start(|req| match req.symbol().as_str() {
        "STUCK" => Reply::Stall,
        s => Reply::chart(s, "2.5", Some("USD"), 1),
    });
    let started = Instant::now();
    quotes_for(&server)
        .args([
            "--deadline",
            "1",
            "--timeout",
            "30",
            "FAST",
            "STUCK",
            "ALSO",
        ])
        .assert()
        .code(1)
        .stdout("FAST  2.50  USD\nALSO  2.50  USD\n")
        .stderr("quotes: STUCK: deadline exceeded (--deadline 1 s) before a price arrived\n");
    // A hang guard, not a speed claim: the 30 s timeout must not have been waited out.
    assert!(started.elapsed() < Duration::from_secs(20));
}

// Signals: Unix. On Windows Ctrl-C ends a run with status 130 after printing what arrived,
// and there is no SIGTERM (src/exit.rs).

/// Start `quotes -j 1 ARGS FAST STUCK`, wait until FAST has been answered AND read, then
/// send `signal`; returns (how it ended, stdout, stderr).
///
/// With `-j 1` quotes asks for STUCK only once FAST's answer is read and parsed (the one
/// permit is held until then), so STUCK's request arriving at the server is the proof that
/// FAST's price is in: the test waits on that count, not on a guess at how long it takes.
#[cfg(unix)]
fn interrupt(signal: &str, args: &[&str]) -> (std::process::ExitStatus, String, String) {
    let server = Server::start(|req| match req.symbol().as_str() {
        "STUCK" => Reply::Stall,
        s => Reply::chart(s, "7.125", Some("USD"), 1),
    });
    let mut child = quotes_process()
        .env("QUOTES_YAHOO_URL", server.url())
        .args(["-j", "1"])
        .args(args)
        .args(["FAST", "STUCK"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until(
        "quotes asked for STUCK, so FAST's answer was read",
        Duration::from_secs(20),
        || server.hits("STUCK") == 1,
    );
    assert_eq!(server.hits("FAST"), 1);
    assert!(
        StdCommand::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let (mut out, mut err) = (String::new(), String::new());
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (child.wait().unwrap(), out, err)
}

/// After printing what arrived, quotes dies BY the signal (handler reset, signal raised
/// again, as fd does), so `for t in …; do quotes $t; done`, make and xargs stop too; a shell
/// still shows 128 + the signal's number.
#[cfg(unix)]
fn assert_died_by(status: std::process::ExitStatus, signal: i32) {
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(signal), "{status:?}");
    assert_eq!(status.code(), None, "{status:?}");
}

#[cfg(unix)]
#[test]
fn ctrl_c_prints_what_arrived_keeps_json_valid_and_dies_by_sigint() {
    let (status, out, err) = interrupt("-INT", &["-f", "json"]);
    assert_died_by(status, 2);
    let parsed: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(parsed[0]["symbol"], "FAST");
    assert!(out.contains(r#""price":7.12"#), "{out}");
    assert_eq!(parsed[1]["error"]["kind"], "interrupted");
    assert_eq!(err, "quotes: STUCK: interrupted before a price arrived\n");
}

#[cfg(unix)]
#[test]
fn sigterm_prints_what_arrived_and_dies_by_sigterm() {
    let (status, out, err) = interrupt("-TERM", &[]);
    assert_died_by(status, 15);
    assert_eq!(out, "FAST  7.12  USD\n");
    assert_eq!(err, "quotes: STUCK: interrupted before a price arrived\n");
}

#[test]
fn redirects_elsewhere_are_refused_and_named() {
    let server = Server::start(|_| {
        Reply::text(302, "").with_header(
            "location",
            "https://consent.yahoo.com/v2/collectConsent?sessionId=1",
        )
    });
    quotes_for(&server)
        .arg("AAPL")
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with(
            "quotes: AAPL: Yahoo redirected (HTTP 302) to https://consent.yahoo.com/v2/collectConsent?sessionId=1;",
        ));
    assert_eq!(server.request_count(), 1);
}

/// Issue 9: with only http base URLs the client has no trust anchors, so a same-host
/// http → https redirect used to be followed and fail as "TLS certificate not trusted … add
/// --cacert". A redirect never leaves the request's origin (scheme, host and port): it is
/// refused and named, and no TLS connection is attempted.
#[test]
fn an_upgrade_to_https_is_another_origin_and_is_refused() {
    let server = Server::start(|req| {
        let to = format!(
            "https://127.0.0.1:{}/v8/finance/chart/AAPL",
            req.connection + 1
        );
        Reply::text(301, "").with_header("location", &to)
    });
    let out = quotes_for(&server).arg("AAPL").assert().code(1).stdout("");
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(
        stderr.starts_with("quotes: AAPL: Yahoo redirected (HTTP 301) to https://127.0.0.1:"),
        "{stderr}"
    );
    assert!(!stderr.contains("certificate"), "{stderr}");
    assert_eq!(server.request_count(), 1);
}

/// Issue 12: a redirect stays within the requesting source's own origin, whatever other
/// sources the run uses. Yahoo redirects to the URL of Coinbase, which the same run asks
/// for BTC-USD: refused, never sent there (it used to be followed, as "a source URL").
#[test]
fn a_redirect_to_another_sources_origin_is_refused() {
    let coinbase =
        Server::start(|_| Reply::json(200, crate::support::coinbase_body("BTC", "USD", "1.5")));
    let to = format!("{}/v8/finance/chart/AAPL", coinbase.url());
    let yahoo = Server::start(move |_| Reply::text(302, "").with_header("location", &to));
    quotes_for_both(&yahoo, &coinbase)
        .args(["AAPL", "coinbase:BTC-USD"])
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with(format!(
            "quotes: AAPL: Yahoo redirected (HTTP 302) to {}/v8/finance/chart/AAPL;",
            coinbase.url()
        )));
    let paths: Vec<String> = coinbase.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/v2/prices/BTC-USD/spot"]);
}

#[test]
fn redirects_within_the_source_are_followed_up_to_five_and_a_loop_says_so() {
    let server = Server::start(|req| {
        let hops: usize = req
            .query_param("hop")
            .and_then(|h| h.parse().ok())
            .unwrap_or(0);
        match req.symbol().as_str() {
            // Five hops, then the answer.
            "MOVED" if hops < 5 => Reply::text(301, "").with_header(
                "location",
                &format!("/v8/finance/chart/MOVED?hop={}", hops + 1),
            ),
            "MOVED" => Reply::chart("MOVED", "9", Some("USD"), 1),
            // A loop.
            _ => Reply::text(302, "").with_header("location", "/v8/finance/chart/LOOP"),
        }
    });
    quotes_for(&server)
        .args(["MOVED", "LOOP"])
        .assert()
        .code(1)
        .stdout("MOVED  9.00  USD\n")
        .stderr(
            "quotes: LOOP: Yahoo redirected more than 5 times (last to \
             /v8/finance/chart/LOOP); giving up\n",
        );
    assert_eq!(server.hits("MOVED"), 6);
    assert_eq!(
        server.hits("LOOP"),
        6,
        "the original request plus five redirects"
    );
}

#[test]
fn http_proxy_is_honoured_and_no_proxy_bypasses_it() {
    // The "proxy" is our server: a proxied request arrives with the absolute URL.
    let proxy = Server::start(|req| Reply::chart(&req.symbol(), "11", Some("USD"), 1));
    quotes()
        .env("QUOTES_YAHOO_URL", "http://quotes-test.invalid")
        .env("HTTP_PROXY", proxy.url())
        .arg("VIA")
        .assert()
        .success()
        .stdout("VIA  11.00  USD\n");
    assert_eq!(proxy.hits("VIA"), 1);
    let req = &proxy.requests()[0];
    assert_eq!(req.header("host"), Some("quotes-test.invalid"));

    // NO_PROXY: straight to a host that does not exist; the proxy sees nothing more.
    quotes()
        .env("QUOTES_YAHOO_URL", "http://quotes-test.invalid")
        .env("HTTP_PROXY", proxy.url())
        .env("NO_PROXY", "quotes-test.invalid")
        .args(["--retries", "0", "DIRECT"])
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with(
            "quotes: DIRECT: could not connect to quotes-test.invalid:80",
        ));
    assert_eq!(proxy.request_count(), 1);
}

// /dev/full is Linux's; a failed write is reported the same way everywhere (src/output).
#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_is_reported_with_status_1_not_a_panic() {
    // Prices, and the setup outputs that are written without any request.
    let server = Server::start(|req| Reply::chart(&req.symbol(), "1", Some("USD"), 1));
    // --help and --version too: clap's own printing used to ignore the error and exit 0.
    for args in [
        &["A"][..],
        &["--completions", "bash"],
        &["--man"],
        &["--help"],
        &["-h"],
        &["--version"],
    ] {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let out = quotes_process()
            .env("QUOTES_YAHOO_URL", server.url())
            .args(args)
            .stdout(full)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(
            text(&out.stderr),
            "quotes: error writing output: No space left on device (os error 28)\n",
            "{args:?}"
        );
    }
    assert_eq!(server.request_count(), 1, "only the price was fetched");
}

// `ulimit -n`: Unix. Windows has no per-process limit on sockets of that kind, and
// quotes uses --jobs as given there (src/client.rs).
#[cfg(unix)]
#[test]
fn too_few_file_descriptors_slow_the_run_down_instead_of_failing_it() {
    // Answers take 100 ms, so that -j 200 would hold far more connections open at once than
    // the 64 descriptors allow if quotes did not keep within the limit.
    let server = Server::start(|req| {
        Reply::chart(&req.symbol(), "3", Some("USD"), 1).with_delay(Duration::from_millis(100))
    });
    let tickers: Vec<String> = (0..400).map(|n| format!("F{n}")).collect();
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("list");
    std::fs::write(&list, tickers.join("\n")).unwrap();
    let out = via("bash")
        .arg("-c")
        .arg(format!(
            "ulimit -n 64 && exec {BIN} -j 200 --timeout 5 -o symbol --file {}",
            list.display()
        ))
        .env("QUOTES_YAHOO_URL", server.url())
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    // quotes keeps its connections within the open-file limit, so nothing fails.
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(server.max_in_flight() < 64, "{}", server.max_in_flight());
    // Every ticker is accounted for exactly once: printed, or failed with a message.
    let mut seen: HashMap<String, usize> = HashMap::new();
    for line in stdout.lines() {
        *seen.entry(line.to_string()).or_default() += 1;
    }
    for line in stderr.lines() {
        let symbol = line
            .strip_prefix("quotes: ")
            .and_then(|l| l.split(':').next())
            .unwrap_or_else(|| panic!("unexpected stderr line: {line}"));
        *seen.entry(symbol.to_string()).or_default() += 1;
    }
    for t in &tickers {
        assert_eq!(
            seen.get(t),
            Some(&1),
            "{t} not accounted for exactly once\n{stderr}"
        );
    }
}
