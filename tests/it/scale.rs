//! Scale under faults (issue 5): the real `quotes` binary fetches 10,000 tickers with
//! `-j 200` from a local server that injects faults by symbol, and must still print every
//! price it fetched, exactly once, in input order, and name every failure exactly once.
//!
//! This is a test, not a benchmark: nothing here asserts on elapsed time except a hang
//! guard. Each ticker's fate is a pure function of its number (a fixed hash, so faults are
//! spread through the list rather than clustered), which makes every run ask the same
//! questions and expect the same answers.
//!
//! It takes about ten seconds, so it is `#[ignore]`d in a plain `cargo test`; `.ci/run` runs
//! it with `cargo test --test it -- --ignored`. It keeps the real default backoff (no
//! `--backoff-base` knob): this is the run closest to real use.
//!
//! Peak memory: run with `QUOTES_SCALE_TIME=1` (and `--nocapture`) to wrap the binary in
//! `/usr/bin/time -v` and print its maximum resident set size and wall time. The switch
//! changes no assertion (and, being a `QUOTES_*` variable, never reaches the binary).

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use assert_cmd::Command;

use crate::cmd::{BIN, quotes, via};
use crate::support::{Reply, Request, Server, chart_body};

const TICKERS: u32 = 10_000;
const JOBS: usize = 200;
/// `--timeout`: short, so the stalled tickers (two attempts each) end the run quickly.
const TIMEOUT: Duration = Duration::from_secs(2);
const RETRIES: u32 = 1;
/// The hang guard. The run takes about ten seconds (debug build); anything near this is a
/// hang.
const HANG_GUARD: Duration = Duration::from_secs(120);
const T: i64 = 1_763_672_400; // 2025-11-20T21:00:00Z

/// What the server does with one ticker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    /// Answers after `delay`, with a price of its own.
    Fine { delay: Duration },
    /// Answers 503 the first time it is asked, then like `Fine`.
    UnavailableOnce { delay: Duration },
    /// Accepts the request and never answers.
    Stall,
    /// 200 with a chart body cut in half (complete HTTP, broken JSON).
    Malformed,
    /// 404 with Yahoo's recorded "No data found" body.
    NotFound,
}

/// About 5% 503-once, 1% each stall, malformed and not found, the rest fine with 0–20 ms
/// delays.
fn fate(n: u32) -> Fate {
    let h = mix(n);
    let delay = Duration::from_millis((h >> 32) % 21);
    match h % 100 {
        0..=4 => Fate::UnavailableOnce { delay },
        5 => Fate::Stall,
        6 => Fate::Malformed,
        7 => Fate::NotFound,
        _ => Fate::Fine { delay },
    }
}

/// splitmix64's finaliser: a fixed, well-spread hash, so neighbouring numbers get unrelated
/// fates and the same number always gets the same one.
fn mix(n: u32) -> u64 {
    let mut z = u64::from(n).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn symbol(n: u32) -> String {
    format!("T{n:05}")
}

/// The price text the server sends: three decimals, so that every rounding case occurs
/// (the third digit runs through 0–9, ties included, and `.995` carries into the units).
/// Never zero (a price of 0 is refused as no price): ticker n costs n + 1 units.
fn price_text(n: u32) -> String {
    format!("{}.{:03}", n + 1, n % 1000)
}

/// `price_text(n)` rounded to two decimals, half to even, computed on integers here rather
/// than by any decimal library the binary might share.
fn expected_price(n: u32) -> String {
    let thousandths = u64::from(n + 1) * 1000 + u64::from(n % 1000);
    let (mut hundredths, dropped) = (thousandths / 10, thousandths % 10);
    if dropped > 5 || (dropped == 5 && hundredths % 2 == 1) {
        hundredths += 1;
    }
    format!("{}.{:02}", hundredths / 100, hundredths % 100)
}

/// The fake Yahoo: answers each ticker as its `fate` says, counting attempts per ticker for
/// the 503-once case.
fn fault_server() -> Server {
    let attempts: Mutex<HashMap<u32, u32>> = Mutex::new(HashMap::new());
    Server::start(move |req: &Request| {
        let sym = req.symbol();
        let n: u32 = sym
            .strip_prefix('T')
            .and_then(|digits| digits.parse().ok())
            .filter(|n| *n < TICKERS)
            .unwrap_or_else(|| panic!("unexpected request {} {}", req.method, req.path));
        let attempt = {
            let mut attempts = attempts.lock().unwrap_or_else(|e| e.into_inner());
            let count = attempts.entry(n).or_insert(0);
            *count += 1;
            *count
        };
        let chart = |delay| Reply::chart(&sym, &price_text(n), Some("USD"), T).with_delay(delay);
        match fate(n) {
            Fate::Fine { delay } => chart(delay),
            Fate::UnavailableOnce { .. } if attempt == 1 => Reply::text(503, "Service Unavailable"),
            Fate::UnavailableOnce { delay } => chart(delay),
            Fate::Stall => Reply::Stall,
            Fate::Malformed => {
                let body = chart_body(&sym, &price_text(n), Some("USD"), T);
                Reply::json(200, &body.as_bytes()[..body.len() / 2])
            }
            Fate::NotFound => Reply::fixture(404, "yahoo_chart_error_not_found.404.json"),
        }
    })
}

/// The `quotes` command for the scale run; wrapped in `/usr/bin/time -v` (writing to
/// `time_report`) when `QUOTES_SCALE_TIME` is set.
fn scale_command(
    server: &Server,
    ticker_file: &std::path::Path,
    time_report: &std::path::Path,
) -> Command {
    let mut cmd = if std::env::var_os("QUOTES_SCALE_TIME").is_some() {
        assert!(
            std::path::Path::new("/usr/bin/time").exists(),
            "QUOTES_SCALE_TIME needs GNU time: apt-get install -y time"
        );
        let mut cmd = via("/usr/bin/time");
        // -o keeps time's report out of the stderr the assertions read.
        cmd.arg("-v").arg("-o").arg(time_report).arg(BIN);
        cmd
    } else {
        quotes()
    };
    cmd.env("QUOTES_YAHOO_URL", server.url())
        .arg("--file")
        .arg(ticker_file)
        .args(["-j", &JOBS.to_string()])
        .args(["--timeout", &TIMEOUT.as_secs().to_string()])
        .args(["--retries", &RETRIES.to_string()])
        .args(["-f", "tsv", "-o", "symbol,price"])
        .timeout(HANG_GUARD);
    cmd
}

/// A short account of how `got` differs from `want` (10,000-line diffs help nobody).
fn describe_difference(got: &[&str], want: &[String]) -> String {
    let mut text = format!("got {} lines, want {}\n", got.len(), want.len());
    if let Some(i) = (0..got.len().max(want.len()))
        .find(|&i| got.get(i).copied() != want.get(i).map(String::as_str))
    {
        let _ = writeln!(
            text,
            "first difference at line {}: got {:?}, want {:?}",
            i + 1,
            got.get(i),
            want.get(i)
        );
    }
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for line in got {
        *counts.entry(line).or_default() += 1;
    }
    let want_set: HashSet<&str> = want.iter().map(String::as_str).collect();
    let missing: Vec<&str> = want
        .iter()
        .map(String::as_str)
        .filter(|l| !counts.contains_key(l))
        .collect();
    let repeated: Vec<&str> = got.iter().copied().filter(|l| counts[l] > 1).collect();
    let unexpected: Vec<&str> = got
        .iter()
        .copied()
        .filter(|l| !want_set.contains(l))
        .collect();
    for (what, lines) in [
        ("missing", missing),
        ("repeated", repeated),
        ("unexpected", unexpected),
    ] {
        if !lines.is_empty() {
            let _ = writeln!(
                text,
                "{} {what}, e.g. {:?}",
                lines.len(),
                &lines[..lines.len().min(10)]
            );
        }
    }
    text
}

#[test]
#[ignore = "about ten seconds of 10,000 tickers; run by .ci/run (cargo test --test it -- --ignored)"]
fn ten_thousand_tickers_under_faults_print_every_price_once_in_order() {
    let numbers: Vec<u32> = (0..TICKERS).collect();
    let fates: Vec<Fate> = numbers.iter().map(|&n| fate(n)).collect();
    let count = |pred: fn(&Fate) -> bool| fates.iter().filter(|f| pred(f)).count();
    let unavailable_once = count(|f| matches!(f, Fate::UnavailableOnce { .. }));
    let stalls = count(|f| matches!(f, Fate::Stall));
    // The hash must actually produce every fault, in roughly the proportions asked for.
    assert!(
        (400..=600).contains(&unavailable_once),
        "503-once: {unavailable_once}"
    );
    for (name, n) in [
        ("stall", stalls),
        ("malformed", count(|f| matches!(f, Fate::Malformed))),
        ("not found", count(|f| matches!(f, Fate::NotFound))),
    ] {
        assert!((60..=140).contains(&n), "{name}: {n}");
    }

    let dir = tempfile::tempdir().unwrap();
    let ticker_file = dir.path().join("tickers.txt");
    let list: String = numbers.iter().map(|&n| symbol(n) + "\n").collect();
    std::fs::write(&ticker_file, list).unwrap();
    let time_report = dir.path().join("time.txt");

    let server = fault_server();
    let started = Instant::now();
    let out = scale_command(&server, &ticker_file, &time_report)
        .output()
        .unwrap_or_else(|e| {
            panic!("quotes did not finish within {HANG_GUARD:?} (hang guard): {e}")
        });
    let elapsed = started.elapsed();
    let stdout = String::from_utf8(out.stdout).expect("stdout is UTF-8");
    let stderr = String::from_utf8(out.stderr).expect("stderr is UTF-8");
    let stderr_head: String = stderr
        .lines()
        .take(20)
        .map(|l| format!("  {l}\n"))
        .collect();

    eprintln!(
        "scale: {TICKERS} tickers ({unavailable_once} 503-once, {stalls} stalled) in \
         {elapsed:.2?}; {} requests on {} connections, at most {} in flight at the server \
         (abandoned stalls included)",
        server.request_count(),
        server.connections(),
        server.max_in_flight(),
    );
    if std::env::var_os("QUOTES_SCALE_TIME").is_some() {
        let report = std::fs::read_to_string(&time_report).unwrap_or_default();
        let wanted = [
            "Maximum resident set size",
            "Elapsed (wall clock)",
            "User time",
            "System time",
        ];
        for line in report
            .lines()
            .map(str::trim)
            .filter(|l| wanted.iter().any(|w| l.starts_with(w)))
        {
            eprintln!("scale: {line}");
        }
    }

    assert!(
        !stderr.contains("panicked"),
        "quotes panicked:\n{stderr_head}"
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "exit status; stderr starts:\n{stderr_head}"
    );

    // stdout: every good ticker exactly once, with the right price, in input order.
    let want_stdout: Vec<String> = numbers
        .iter()
        .zip(&fates)
        .filter(|(_, f)| matches!(f, Fate::Fine { .. } | Fate::UnavailableOnce { .. }))
        .map(|(&n, _)| format!("{}\t{}", symbol(n), expected_price(n)))
        .collect();
    let got_stdout: Vec<&str> = stdout.lines().collect();
    assert!(
        got_stdout == want_stdout,
        "stdout is not every good ticker once in input order:\n{}",
        describe_difference(&got_stdout, &want_stdout)
    );

    // stderr: every bad ticker exactly once, naming its cause, and nothing else.
    let want_stderr: Vec<(String, &str)> = numbers
        .iter()
        .zip(&fates)
        .filter_map(|(&n, f)| {
            let cause = match f {
                Fate::Stall => "timed out",
                Fate::Malformed => "malformed response",
                Fate::NotFound => "not found",
                Fate::Fine { .. } | Fate::UnavailableOnce { .. } => return None,
            };
            Some((symbol(n), cause))
        })
        .collect();
    let mut reported: HashMap<&str, Vec<&str>> = HashMap::new();
    let mut reported_order: Vec<&str> = Vec::new();
    for line in stderr.lines() {
        let (sym, message) = line
            .strip_prefix("quotes: ")
            .and_then(|rest| rest.split_once(": "))
            .unwrap_or_else(|| panic!("stderr line not `quotes: SYMBOL: message`: {line:?}"));
        reported.entry(sym).or_default().push(message);
        reported_order.push(sym);
    }
    let mut problems = String::new();
    for (sym, cause) in &want_stderr {
        match reported.get(sym.as_str()).map(Vec::as_slice) {
            None => {
                let _ = writeln!(problems, "{sym} ({cause}): not reported");
            }
            Some([message]) if message.starts_with(cause) => {}
            Some(messages) => {
                let _ = writeln!(
                    problems,
                    "{sym}: want one message starting {cause:?}, got {messages:?}"
                );
            }
        }
    }
    let want_symbols: HashSet<&str> = want_stderr.iter().map(|(s, _)| s.as_str()).collect();
    for (sym, messages) in &reported {
        if !want_symbols.contains(sym) {
            let _ = writeln!(
                problems,
                "{sym}: reported but should have succeeded: {messages:?}"
            );
        }
    }
    assert!(
        problems.is_empty(),
        "stderr is not every bad ticker once with its cause:\n{problems}"
    );
    let want_order: Vec<&str> = want_stderr.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(
        reported_order, want_order,
        "failures are reported in input order"
    );

    // The server: each ticker asked as often as its fate calls for. A 503 and a timeout
    // are retried (once, with --retries 1); a good answer, a 404 and a malformed body are
    // final.
    let mut hits: HashMap<String, usize> = HashMap::new();
    for request in server.requests() {
        *hits.entry(request.symbol()).or_default() += 1;
    }
    let mut wrong_hits = Vec::new();
    for (&n, f) in numbers.iter().zip(&fates) {
        let want = match f {
            Fate::UnavailableOnce { .. } | Fate::Stall => 2,
            Fate::Fine { .. } | Fate::Malformed | Fate::NotFound => 1,
        };
        let got = hits.get(&symbol(n)).copied().unwrap_or(0);
        if got != want {
            wrong_hits.push(format!(
                "{} ({f:?}): asked {got} times, want {want}",
                symbol(n)
            ));
        }
    }
    assert!(
        wrong_hits.is_empty(),
        "{} tickers asked the wrong number of times, e.g.\n{}",
        wrong_hits.len(),
        wrong_hits[..wrong_hits.len().min(10)].join("\n")
    );

    // -j 200 is honoured, as far as this server can tell. The exact bound is tested with
    // few tickers in core.rs; here only a gross breach (the bound lost, every ticker
    // sent at once) can be caught, for two reasons. A stalled request stays in flight at the
    // server until the server is dropped, long after the client timed out and moved on. And
    // this single-threaded server reads requests more slowly than 200 connections can send
    // them, so even a client with -j 1000 shows no more requests in flight here than one
    // with -j 200.
    //
    // Connections show it better, because the client decides when to open one: only when it
    // has a request to send and no idle connection. Each timed-out stall burns one (the
    // client drops a connection whose answer never came); the rest are bounded by twice
    // -j, since the pool may finish a connect in the background for a request that was
    // meanwhile given a returning idle connection. (Seen: about 280 connections with -j 200,
    // 1,435 with -j 1000.)
    let stalled_requests = 2 * stalls;
    assert!(
        server.max_in_flight() <= JOBS + stalled_requests,
        "server saw {} requests in flight: more than -j {JOBS} plus {stalled_requests} \
         abandoned stalls",
        server.max_in_flight(),
    );
    let connection_bound = 2 * JOBS + stalled_requests;
    assert!(
        server.connections() <= connection_bound,
        "{} connections with -j {JOBS} and {stalled_requests} stalled requests (at most \
         {connection_bound} expected)",
        server.connections(),
    );
}
