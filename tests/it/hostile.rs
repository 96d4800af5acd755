//! Hostile servers and hostile terminals (issue 12): what a compromised proxy, a hijacked
//! DNS entry or a broken API could send, each against a local server that really sends it.
//! Every test here failed before its fix.
// Some tests here need Unix or Linux (signals, script(1), /dev/full, /proc): elsewhere
// they are not compiled, and the imports only they use are not used.
#![cfg_attr(not(target_os = "linux"), allow(unused_imports))]

use std::io::Read;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use predicates::prelude::*;

use crate::cmd::{quotes_for, quotes_process};
use crate::support::{Reply, Server, chart_body, wait_until};

/// A chart answer for `symbol` with `field: value` (raw JSON text) added to its `meta`.
fn chart_with(symbol: &str, field: &str, value: &str) -> Reply {
    let body = chart_body(symbol, "12.5", Some("USD"), 1_740_000_000).replacen(
        r#""symbol":"#,
        &format!(r#""{field}":{value},"symbol":"#),
        1,
    );
    Reply::json(200, body)
}

/// A JSON string of `n` copies of `c`.
fn long_json_string(c: char, n: usize) -> String {
    format!("\"{}\"", c.to_string().repeat(n))
}

/// Runs `cmd` to completion and returns its status, stdout and peak resident set (KiB).
///
/// The peak is the process's own `VmHWM`, read from /proc while it runs (it only grows). Not
/// wait4's `ru_maxrss`: a child started by vfork/posix_spawn shares this test process's
/// memory until it execs, and Linux counts that high-water mark as the child's, so a busy
/// test process would show its own size.
#[cfg(target_os = "linux")]
fn run_measured(mut cmd: std::process::Command) -> (std::process::ExitStatus, String, u64) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        stdout.read_to_string(&mut out).unwrap();
        out
    });
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0;
    let started = Instant::now();
    let status = loop {
        if let Ok(text) = std::fs::read_to_string(&status_file)
            && let Some(kib) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            peak_kib = peak_kib.max(kib);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "hung");
        std::thread::sleep(Duration::from_millis(5));
    };
    (status, reader.join().unwrap(), peak_kib)
}

// ---------------------------------------------------------------------------------------
// 1. A long string never crashes a format

/// A currency of 70,000 characters used to abort the whole run in table format
/// ("Formatting argument out of range", status 134, nothing printed). Now it is that
/// ticker's malformed answer, and the other tickers print.
#[test]
fn a_huge_currency_fails_its_ticker_and_crashes_nothing() {
    let server = Server::start(|req| match req.symbol().as_str() {
        "HUGE" => Reply::json(
            200,
            chart_body("HUGE", "1", Some(&"X".repeat(70_000)), 1_740_000_000),
        ),
        s => Reply::chart(s, "2", Some("USD"), 1_740_000_000),
    });
    for format in [
        "table",
        "tsv",
        "csv",
        "json",
        "jsonl",
        "ledger",
        "beancount",
    ] {
        let out = quotes_for(&server)
            .args(["-f", format, "OK", "HUGE"])
            .assert()
            .code(1);
        let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
        let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
        assert!(stdout.contains("OK"), "{format}: {stdout}");
        assert!(stdout.len() < 2_000, "{format}: {} bytes", stdout.len());
        if !format.starts_with("json") {
            assert!(
                stderr.starts_with("quotes: HUGE: malformed response from Yahoo: currency"),
                "{format}: {stderr}"
            );
            assert!(stderr.len() < 400, "{format}: {} bytes", stderr.len());
        }
    }
}

/// A 70,000-character name shown in the table is cut to 200 characters at parse time.
#[test]
fn a_huge_name_is_cut_and_the_table_still_aligns() {
    let server =
        Server::start(|req| chart_with(&req.symbol(), "longName", &long_json_string('n', 70_000)));
    let out = quotes_for(&server)
        .args(["-o", "symbol,name,price", "AB", "C"])
        .assert()
        .success();
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    let name = format!("{}…", "n".repeat(200));
    assert_eq!(stdout, format!("AB  {name}  12.50\nC   {name}  12.50\n"),);
}

// ---------------------------------------------------------------------------------------
// 2. Terminal injection and forged rows

/// `currency: "USD\nEVIL  666.00  USD"` used to make `quotes X | awk '{print $1,$2}'` print
/// `EVIL 666.00`: a currency that is not 3–4 letters is a malformed answer now.
#[test]
fn a_newline_in_the_currency_cannot_forge_a_row() {
    let server = Server::start(|_| {
        Reply::json(
            200,
            chart_body("X", "1", Some("USD\nEVIL  666.00  USD"), 1_740_000_000),
        )
    });
    for format in ["table", "tsv", "csv", "ledger"] {
        quotes_for(&server)
            .args(["-f", format, "X"])
            .assert()
            .code(1)
            .stdout(predicate::str::contains("EVIL").not())
            .stderr(
                predicate::str::starts_with("quotes: X: malformed response from Yahoo: currency")
                    .and(predicate::function(|e: &str| e.lines().count() == 1)),
            );
    }
}

/// Free text (name, exchange) with ESC sequences, OSC 52/8, CR, NUL, DEL, C1 controls, bidi
/// overrides, zero-width and separator characters reaches no format raw: each such
/// character is replaced by U+FFFD. JSON keeps valid, escaped text.
#[test]
fn control_and_bidi_characters_never_reach_the_output_raw() {
    // JSON escapes for: ESC [2J, OSC 52 clipboard write (BEL-terminated), OSC 8 link, CR,
    // NUL, DEL, CSI as one C1 character, U+202E, U+200B, U+2028.
    let nasty = r#""Evil\u001b[2J\u001b]52;c;SGVsbG8=\u0007\u001b]8;;http://x\u001b\\\r\u0000\u007f\u009b31m\u202eRLO\u200bZW\u2028LS""#;
    let server = Server::start(move |req| {
        let body = chart_body(&req.symbol(), "3", Some("USD"), 1_740_000_000)
            .replacen(
                r#""symbol":"#,
                &format!(r#""longName":{nasty},"symbol":"#),
                1,
            )
            .replacen(r#""NasdaqGS""#, nasty, 1);
        Reply::json(200, body)
    });
    let forbidden = |c: char| {
        c.is_control()
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{200b}'..='\u{200f}' | '\u{2028}' | '\u{2029}')
    };
    for format in ["table", "tsv", "csv", "json", "jsonl"] {
        let out = quotes_for(&server)
            .args(["-f", format, "-o", "symbol,name,exchange", "X"])
            .assert()
            .success();
        let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
        // Line ends (and tsv's tabs) are the format's own; nothing else may be a control.
        let body: String = stdout.replace("\r\n", "\n").replace(['\n', '\t'], "");
        assert!(
            !body.chars().any(forbidden),
            "{format}: {:?}",
            body.chars().filter(|c| forbidden(*c)).collect::<String>()
        );
        let lines = match format {
            "csv" => 2,  // the header and the row
            "json" => 3, // `[`, the element, `]`
            _ => 1,
        };
        assert_eq!(stdout.matches('\n').count(), lines, "{format}: {stdout:?}");
        assert!(stdout.contains("Evil\u{FFFD}[2J"), "{format}: {stdout:?}");
        assert!(
            stdout.contains("\u{FFFD}RLO\u{FFFD}ZW\u{FFFD}LS"),
            "{format}: {stdout:?}"
        );
    }
}

/// Error text taken from a server (Yahoo's `chart.error.description`) is made safe too:
/// U+202E used to pass `excerpt`.
#[test]
fn server_error_text_is_made_safe_on_stderr_and_in_json() {
    let server = Server::start(|_| {
        Reply::json(
            404,
            r#"{"chart":{"result":null,"error":{"code":"Not Found","description":"gone\u202e\u001b[31mred\u2028x"}}}"#,
        )
    });
    let out = quotes_for(&server).arg("X").assert().code(1);
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr:?}");
    assert!(
        stderr.contains("gone\u{FFFD}\u{FFFD}[31mred\u{FFFD}x"),
        "{stderr:?}"
    );
    let out = quotes_for(&server)
        .args(["-f", "jsonl", "X"])
        .assert()
        .code(1);
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(!stdout.contains('\u{202e}'), "{stdout:?}");
    assert!(!stdout.contains("\\u202e"), "{stdout:?}");
    let row: serde_json::Value = serde_json::from_str(stdout.trim_end()).expect("one JSON row");
    let message = row["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("gone\u{FFFD}"), "{stdout:?}");
}

/// A 1.9 MB string in a type error used to be quoted whole on one stderr line.
#[test]
fn a_huge_value_in_a_type_error_is_cut() {
    let server = Server::start(|_| {
        Reply::json(
            200,
            format!(
                r#"{{"chart":{{"result":[{{"meta":{}}}]}}}}"#,
                long_json_string('z', 1_900_000)
            ),
        )
    });
    let out = quotes_for(&server).arg("X").assert().code(1);
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(
        stderr.starts_with("quotes: X: malformed response from Yahoo: not the chart format"),
        "{}",
        &stderr[..100.min(stderr.len())]
    );
    assert!(stderr.len() < 400, "{} bytes", stderr.len());
}

// ---------------------------------------------------------------------------------------
// 3. Memory amplification

/// 400 tickers at `-j 200`, each answered with a valid chart carrying a 2,000,000-character
/// `longName` (inside the 2 MiB body cap), the names shown: peak RSS stays under 64 MiB. It
/// used to keep every name whole and read every body at once (1.6 GB for 400 tickers).
// The bound holds on every system (it is the fetcher's, not the OS's); the peak is read from
// /proc, so it is measured on Linux.
#[cfg(target_os = "linux")]
#[test]
fn huge_names_at_200_in_flight_stay_within_64_mib() {
    // One body for every ticker, so without `meta.symbol` (an answer about another
    // instrument is refused).
    let body: Arc<Vec<u8>> = Arc::new(
        chart_body("BIG", "12.5", Some("USD"), 1_740_000_000)
            .replacen(
                r#""symbol":"BIG","#,
                &format!(r#""longName":{},"#, long_json_string('n', 2_000_000)),
                1,
            )
            .into_bytes(),
    );
    assert!(body.len() < 2 * 1024 * 1024);
    let server = Server::start(move |_| Reply::json(200, body.as_ref().clone()));
    let tickers: Vec<String> = (0..400).map(|n| format!("T{n:03}")).collect();
    let mut cmd = quotes_process();
    cmd.env("QUOTES_YAHOO_URL", server.url())
        .args(["-j", "200", "-o", "symbol,name"])
        .args(&tickers);
    let (status, stdout, peak_kib) = run_measured(cmd);
    assert!(status.success(), "{status:?}");
    assert!(peak_kib > 0, "the peak RSS was never read");
    assert_eq!(stdout.lines().count(), 400);
    assert!(stdout.lines().all(|l| l.ends_with("n…")), "names are cut");
    assert!(
        peak_kib < 64 * 1024,
        "peak RSS {} MiB for 400 huge answers at -j 200",
        peak_kib / 1024
    );
    assert_eq!(server.request_count(), 400);
}

// ---------------------------------------------------------------------------------------
// 5. Signals while writing (Unix: SIGTERM and FIONREAD. Windows has no SIGTERM; Ctrl-C there
// ends a run with status 130, see src/exit.rs.)

/// Bytes a full pipe holds: 64 KiB on Linux; macOS starts a pipe at 16 KiB (and grows it
/// only for large writes), so there a writer may block at 16.
#[cfg(unix)]
const PIPE_FULL: usize = if cfg!(target_os = "linux") {
    64 * 1024
} else {
    16 * 1024
};

/// Bytes waiting in the pipe behind `fd` (FIONREAD).
#[cfg(unix)]
fn buffered(fd: &impl std::os::fd::AsRawFd) -> usize {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int we own.
    unsafe { libc::ioctl(fd.as_raw_fd(), libc::FIONREAD, &mut n) };
    usize::try_from(n).unwrap_or(0)
}

/// Starts `quotes -o symbol,name TICKERS` with stdout a pipe nobody reads; 2,000 names of
/// 300 characters are enough to fill a pipe (64 KiB) several times over.
#[cfg(unix)]
fn blocked_writer(server: &Server, extra: &[&str]) -> std::process::Child {
    let tickers: Vec<String> = (0..2000).map(|n| format!("W{n:04}")).collect();
    quotes_process()
        .env("QUOTES_YAHOO_URL", server.url())
        .args(["-o", "symbol,name"])
        .args(&tickers)
        .args(extra)
        .stdout(Stdio::piped()) // never read
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Sends SIGTERM once and asserts that the run dies by it within a few seconds.
#[cfg(unix)]
fn one_sigterm_ends(child: &mut std::process::Child) {
    use std::os::unix::process::ExitStatusExt;
    let signalled = Instant::now();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(5),
            "one SIGTERM did not end a run whose output is blocked on a full pipe"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(status.signal(), Some(libc::SIGTERM), "{status:?}");
}

/// Once the results are being written to a pipe nobody reads, SIGTERM used to be swallowed
/// and the run exited 0 later. Now it ends the run at once, by the signal.
#[cfg(unix)]
#[test]
fn sigterm_while_stdout_is_blocked_ends_the_run_at_once() {
    let server =
        Server::start(|req| chart_with(&req.symbol(), "longName", &long_json_string('w', 300)));
    let mut child = blocked_writer(&server, &[]);
    // The pipe is full: the writer is blocked on it.
    let pipe = child.stdout.take().unwrap();
    wait_until("the pipe full", Duration::from_secs(30), || {
        buffered(&pipe) >= PIPE_FULL
    });
    one_sigterm_ends(&mut child);
}

/// SIGTERM while a ticker still hangs stops the fetch; what arrived is then written to a
/// pipe nobody reads. ONE signal must end that too (it used to wait for a second one).
#[cfg(unix)]
#[test]
fn one_sigterm_during_the_fetch_ends_a_run_whose_output_then_blocks() {
    let server = Server::start(|req| match req.symbol().as_str() {
        "STUCK" => Reply::Stall,
        s => chart_with(s, "longName", &long_json_string('w', 300)),
    });
    let mut child = blocked_writer(&server, &["STUCK"]);
    let pipe = child.stdout.take().unwrap();
    wait_until("every request out", Duration::from_secs(30), || {
        server.request_count() == 2001
    });
    one_sigterm_ends(&mut child);
    // What arrived was written after the signal, until the pipe was full.
    assert!(
        buffered(&pipe) >= PIPE_FULL,
        "{} bytes written",
        buffered(&pipe)
    );
}

// ---------------------------------------------------------------------------------------
// 8. --timeout covers the whole of one attempt

/// Six hops of 400 ms each with `--timeout 1`: the attempt ends after about a second, not
/// 2.4 s (each hop used to get its own timeout).
#[test]
fn timeout_covers_every_redirect_of_an_attempt() {
    let server = Server::start(|req| {
        let hop: usize = req
            .query_param("hop")
            .and_then(|h| h.parse().ok())
            .unwrap_or(0);
        Reply::text(302, "")
            .with_header(
                "location",
                &format!("/v8/finance/chart/SLOW?hop={}", hop + 1),
            )
            .with_delay(Duration::from_millis(400))
    });
    quotes_for(&server)
        .args(["--timeout", "1", "--retries", "0", "SLOW"])
        .assert()
        .code(1)
        .stderr("quotes: SLOW: timed out after 1 s waiting for Yahoo; try a larger --timeout\n");
    assert!(
        server.request_count() <= 3,
        "{} hops",
        server.request_count()
    );
}

// ---------------------------------------------------------------------------------------
// Should fix

/// `--user-agent $'x\r\nX-Injected: 1'` is a usage error naming the problem (exit 2), not a
/// "builder error" at exit 1, and nothing is sent.
#[test]
fn a_user_agent_with_a_line_break_is_a_usage_error() {
    let server = Server::start(|_| Reply::Close).expect_no_requests();
    quotes_for(&server)
        .args(["--user-agent", "x\r\nX-Injected: 1", "AAPL"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--user-agent"));
}

/// An endless stdin, `--file /dev/zero` or `--cacert /dev/zero` stops with a usage error after
/// a bound, instead of growing until the allocator (or the kernel) kills the run.
#[test]
fn endless_input_is_refused_after_a_bound() {
    let server = Server::start(|_| Reply::Close).expect_no_requests();
    // An endless file is a Unix device; the bound is the reader's, the same everywhere, and
    // the endless stdin below checks it on every system.
    #[cfg(unix)]
    {
        quotes_for(&server)
            .args(["--file", "/dev/zero"])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("/dev/zero"));
        quotes_for(&server)
            .args(["--cacert", "/dev/zero", "AAPL"])
            .assert()
            .code(2)
            .stderr(predicate::str::contains(
                "--cacert /dev/zero is larger than",
            ));
    }
    let out = quotes_for(&server)
        .args(["-"])
        .write_stdin("A ".repeat(1_000_001))
        .assert()
        .code(2);
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(stderr.contains("1000000 tickers"), "{stderr}");
}

/// A Location that is not ASCII is reported as what it is (it used to be "no Location
/// header"), and 300/304 without one are not described as a consent page.
#[test]
fn odd_redirects_are_described_as_they_are() {
    let server = Server::start(|req| match req.symbol().as_str() {
        // Same origin, but not plain ASCII: not followed (it used to be decoded lossily
        // and followed to a URL the server never sent).
        "UTF" => Reply::text(302, "").with_header("location", "/v8/finance/chart/caf\u{e9}"),
        "MULTI" => Reply::text(300, ""),
        "NOTMOD" => Reply::text(304, ""),
        _ => Reply::text(305, ""),
    });
    let out = quotes_for(&server)
        .args(["--retries=0", "UTF", "MULTI", "NOTMOD", "PROXY"])
        .assert()
        .code(1);
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 4, "{stderr}");
    assert!(
        lines[0].starts_with("quotes: UTF: Yahoo redirected (HTTP 302) to /v8/finance/chart/caf"),
        "{stderr}"
    );
    assert_eq!(
        server.requests().len(),
        4,
        "the odd Location was not followed"
    );
    assert_eq!(
        lines[1],
        "quotes: MULTI: HTTP 300 from Yahoo: a redirect status with no Location header"
    );
    assert_eq!(
        lines[2],
        "quotes: NOTMOD: HTTP 304 from Yahoo: not modified, though quotes asked for nothing to \
         be revalidated"
    );
    assert_eq!(
        lines[3],
        "quotes: PROXY: HTTP 305 from Yahoo: a redirect status with no Location header"
    );
    // None of the three is worded as a consent page.
    assert!(
        lines[1..].iter().all(|l| !l.contains("consent")),
        "{stderr}"
    );
}

// ---------------------------------------------------------------------------------------
// 4. The 429 wait bound is the run's

/// Four tickers at `-j 1`, each first answered `429 Retry-After: 1`, then 200: a success
/// between two 429s used to reset the budget, so every ticker got its own episode (8
/// requests, 4 waits: with Retry-After 30 that was 120 s). The budget (`--retries 2`) is the
/// run's now: two episodes, then the rest of the source fails at once.
#[test]
fn a_success_in_between_does_not_reset_the_rate_limit_budget() {
    let seen = Arc::new(std::sync::Mutex::new(std::collections::HashSet::new()));
    let server = Server::start(move |req| {
        if seen.lock().unwrap().insert(req.symbol()) {
            Reply::text(429, "Edge: Too Many Requests").with_header("retry-after", "1")
        } else {
            Reply::chart(&req.symbol(), "1", Some("USD"), 1_740_000_000)
        }
    });
    let out = quotes_for(&server)
        .args(["-j", "1", "--retries", "2", "A", "B", "C", "D"])
        .assert()
        .code(1)
        .stdout("A  1.00  USD\nB  1.00  USD\n");
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(
        lines[0].starts_with("quotes: C: rate limited by Yahoo (HTTP 429)"),
        "{stderr}"
    );
    assert!(
        lines[1].starts_with("quotes: D: rate limited by Yahoo (HTTP 429)"),
        "{stderr}"
    );
    assert_eq!(
        (
            server.hits("A"),
            server.hits("B"),
            server.hits("C"),
            server.hits("D")
        ),
        (2, 2, 1, 0)
    );
}

/// A source that answers 429 to everything, 100 tickers at the default `-j` (50): one burst,
/// then after each backoff ONE probe (the gate's half-open state), not a burst each time:
/// at most `-j` + `--retries` requests (it used to be 150), every ticker reported.
#[test]
fn a_source_that_always_answers_429_costs_one_burst_and_a_probe_per_episode() {
    let server = Server::start(|_| Reply::text(429, "Edge: Too Many Requests"));
    let tickers: Vec<String> = (0..100).map(|n| format!("R{n:03}")).collect();
    let out = quotes_for(&server)
        .args(["--backoff-base", "0.01"])
        .args(&tickers)
        .assert()
        .code(1)
        .stdout("");
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert_eq!(stderr.lines().count(), 100);
    assert!(
        stderr
            .lines()
            .all(|l| l.contains("rate limited by Yahoo (HTTP 429)")),
        "{stderr}"
    );
    assert!(
        server.request_count() <= 50 + 2,
        "{} requests",
        server.request_count()
    );
}

// ---------------------------------------------------------------------------------------
// 6. --deadline and Ctrl-C bound the process, whatever DNS does

/// `quotes ARGS` with the system resolver pointed at `nameserver` (a file bind-mounted over
/// /etc/resolv.conf in a mount namespace of its own, so nothing else on the machine sees
/// it). Needs root (or passwordless sudo): `None`, with the reason printed, when neither is
/// available outside CI; in CI (which runs as root) that is a failure.
#[cfg(target_os = "linux")]
fn with_resolver(resolv_conf: &std::path::Path, args: &[&str]) -> Option<std::process::Command> {
    let root = unsafe { libc::geteuid() } == 0;
    let sudo = !root
        && std::process::Command::new("sudo")
            .args(["-n", "true"])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    if !root && !sudo {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "the DNS test needs root or passwordless sudo to unshare a mount namespace"
        );
        eprintln!("skipped: not root and no passwordless sudo, so no private /etc/resolv.conf");
        return None;
    }
    let script = r#"mount --bind "$1" /etc/resolv.conf && shift && exec "$@""#;
    // The suite's scrubbed environment (crate::cmd), kept across sudo.
    let mut cmd = if sudo {
        let mut c = crate::cmd::scrubbed("sudo");
        c.args(["-n", "--preserve-env", "unshare", "-m"]);
        c
    } else {
        let mut c = crate::cmd::scrubbed("unshare");
        c.arg("-m");
        c
    };
    cmd.args(["sh", "-c", script, "sh"])
        .arg(resolv_conf)
        .arg(crate::cmd::BIN)
        .args(args);
    Some(cmd)
}

/// A DNS server that never answers, on 127.0.0.1:53 (UDP; glibc asks there first), counting
/// the queries it swallows. `None` (skipped with the reason, or failing in CI) when the port
/// is taken.
#[cfg(target_os = "linux")]
fn silent_dns() -> Option<(std::net::UdpSocket, Arc<std::sync::atomic::AtomicUsize>)> {
    let socket = match std::net::UdpSocket::bind("127.0.0.1:53") {
        Ok(socket) => socket,
        Err(e) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "UDP 127.0.0.1:53 must be free in CI for the silent DNS server: {e}"
            );
            eprintln!("skipped: UDP 127.0.0.1:53 is taken ({e}), so no silent DNS server");
            return None;
        }
    };
    let queries = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (reader, count) = (socket.try_clone().unwrap(), Arc::clone(&queries));
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while reader.recv(&mut buf).is_ok() {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    Some((socket, queries))
}

/// With a DNS server that never answers, the error line used to come at the deadline but
/// the process exited 8 s later (the runtime waited for the blocked resolver threads), and
/// Ctrl-C meanwhile was ignored. The process ends at the deadline, and at Ctrl-C.
// Linux: a private /etc/resolv.conf needs a mount namespace (unshare). The deadline and
// Ctrl-C end the run the same way on every system (src/exit.rs, src/main.rs).
#[cfg(target_os = "linux")]
#[test]
fn deadline_and_ctrl_c_end_the_process_while_dns_hangs() {
    let dir = tempfile::tempdir().unwrap();
    let resolv = dir.path().join("resolv.conf");
    std::fs::write(
        &resolv,
        "nameserver 127.0.0.1\noptions timeout:10 attempts:3\n",
    )
    .unwrap();
    let args = [
        "--yahoo-url",
        "http://quotes-dns-test.example",
        "--deadline",
        "1",
        "AAPL",
    ];
    let Some(mut cmd) = with_resolver(&resolv, &args) else {
        return;
    };
    let Some((_dns, queries)) = silent_dns() else {
        return;
    };

    // --deadline 1: the ticker fails with "deadline exceeded" and the process is gone
    // within a second or so of the deadline, not 8 s after it.
    let started = Instant::now();
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("quotes: AAPL: deadline exceeded"),
        "{stderr}"
    );
    assert!(
        queries.load(std::sync::atomic::Ordering::SeqCst) > 0,
        "DNS was asked"
    );
    assert!(took < Duration::from_secs(3), "exited {took:?} after start");

    // Ctrl-C while the lookup hangs: dies by SIGINT at once.
    use std::os::unix::process::ExitStatusExt;
    let before = queries.load(std::sync::atomic::Ordering::SeqCst);
    let no_deadline = [args[0], args[1], "AAPL"];
    let mut child = with_resolver(&resolv, &no_deadline)
        .unwrap()
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until("quotes asked DNS", Duration::from_secs(10), || {
        queries.load(std::sync::atomic::Ordering::SeqCst) > before
    });
    let signalled = Instant::now();
    // As root, unshare and sh exec: the child IS quotes. Under sudo, quotes is sudo's
    // child (sudo passes a SIGINT on to it as well).
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(3),
            "Ctrl-C did not end a run waiting on DNS"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(
        status.signal() == Some(libc::SIGINT) || status.code() == Some(130),
        "{status:?}"
    );
}

/// A price of zero is no price (no instrument trades at 0; negative prices stay), a
/// `regularMarketTime` an hour in the future is malformed (it would fool --max-age), and a
/// Coinbase amount in exponent form is refused like other non-decimal text.
#[test]
fn zero_prices_future_times_and_exponents_are_refused() {
    let future = jiff::Timestamp::now().as_second() + 3600;
    let yahoo = Server::start(move |req| match req.symbol().as_str() {
        "ZERO" => Reply::chart("ZERO", "0.0", Some("USD"), 1_740_000_000),
        "NEG" => Reply::chart("NEG", "-37.63", Some("USD"), 1_740_000_000),
        _ => Reply::chart("SOON", "5", Some("USD"), future),
    });
    let coinbase =
        Server::start(|_| Reply::json(200, crate::support::coinbase_body("BTC", "USD", "1e5")));
    let out = crate::cmd::quotes_for_both(&yahoo, &coinbase)
        .args(["ZERO", "NEG", "SOON", "coinbase:BTC-USD"])
        .assert()
        .code(1)
        .stdout("NEG  -37.63  USD\n");
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 3, "{stderr}");
    assert!(
        lines[0].starts_with("quotes: ZERO: no price in the response from Yahoo"),
        "{stderr}"
    );
    assert!(
        lines[1].starts_with("quotes: SOON: malformed response from Yahoo: regularMarketTime"),
        "{stderr}"
    );
    assert!(
        lines[2].starts_with("quotes: BTC-USD: malformed response from Coinbase: amount"),
        "{stderr}"
    );
}

/// `--max-age` cannot be fooled: an answer without a time is refused as stale, not passed as
/// fresh; one with a time outside the calendar (year 9999 and beyond) is malformed with or
/// without `--max-age`, never printed without its time (issue 18).
#[test]
fn max_age_refuses_a_price_whose_age_cannot_be_told() {
    let server = Server::start(|req| {
        let body = chart_body(&req.symbol(), "7", Some("USD"), 1_740_000_000);
        let body = match req.symbol().as_str() {
            "NOTIME" => body.replace(r#""regularMarketTime":1740000000,"#, ""),
            "HUGE" => body.replace(
                r#""regularMarketTime":1740000000"#,
                r#""regularMarketTime":99999999999999"#,
            ),
            _ => body,
        };
        Reply::json(200, body)
    });
    let out = quotes_for(&server)
        .args(["--max-age", "100000d", "OLD", "NOTIME", "HUGE"])
        .assert()
        .code(1)
        .stdout("OLD  7.00  USD\n");
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert_eq!(
        stderr,
        "quotes: NOTIME: stale: the price's age cannot be told (the answer gave no time), so \
         --max-age 100000d refuses it\n\
         quotes: HUGE: malformed response from Yahoo: regularMarketTime 99999999999999 is not \
         a time\n"
    );
    // Without --max-age a price without a time is a price like any other; one from outside
    // the calendar is not.
    quotes_for(&server)
        .args(["NOTIME", "HUGE"])
        .assert()
        .code(1)
        .stdout("NOTIME  7.00  USD\n");
}

/// A corrupt gzip body is the server's malformed answer, asked once (it used to be worded
/// as a dropped connection and retried); a body cut short stays a dropped connection.
#[test]
fn a_corrupt_gzip_body_is_malformed_and_not_retried() {
    let server = Server::start(|_| {
        Reply::json(
            200,
            b"\x1f\x8b\x08\x00not-deflate-at-all-xxxxxxxxxxxxxxxxxxx".to_vec(),
        )
        .with_header("content-encoding", "gzip")
    });
    quotes_for(&server)
        .args(["--backoff-base", "0.01", "BAD"])
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with(
            "quotes: BAD: malformed response from Yahoo: could not decode the body",
        ));
    assert_eq!(server.request_count(), 1);
}

/// A gzip stream cut short inside a complete message (a `Content-Length` that matches what
/// was sent, on a connection kept alive) is the server's malformed answer, asked once: the
/// stream's "unexpected end of file" is not the connection's (issue 18; it was reported as
/// a dropped connection and asked again and again). A body whose connection really ends before
/// its length stays a dropped connection, asked again.
#[test]
fn a_gzip_stream_cut_short_in_a_whole_message_is_malformed_and_asked_once() {
    // A chart about GZ, gzipped, without its last 12 bytes (the end of the stream and its
    // checksum): 101 bytes, all sent.
    const CUT: &[u8] = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\x03\xab\x56\x4a\xce\x48\x2c\x2a\x51\
        \xb2\xaa\x56\x2a\x4a\x2d\x2e\xcd\x01\xb2\xa2\xab\x95\x72\x53\x4b\x12\x41\x42\xc9\xa5\x45\
        \x45\xa9\x79\xc9\x95\x4a\x56\x4a\xa1\xc1\x2e\x4a\x3a\x4a\xc5\x95\xb9\x49\xf9\x39\x40\xae\
        \x7b\x14\x90\x57\x94\x9a\x5e\x9a\x93\x58\xe4\x9b\x58\x94\x9d\x5a\x12\x50\x94\x99\x9c\xaa\
        \x64\x65\x8a\x26\x1c\x92\x99\x0b\x14\x35\x34\x37\x31\x80\x80\xda\xda";
    let server = Server::start(|req| match req.symbol().as_str() {
        "GZ" => Reply::json(200, CUT.to_vec())
            .with_header("content-encoding", "gzip")
            .with_header("connection", "keep-alive"),
        _ => Reply::Truncated {
            body: CUT.to_vec(),
            sent: 40,
        },
    });
    quotes_for(&server)
        .args(["--backoff-base", "0.01", "GZ"])
        .assert()
        .code(1)
        .stderr(
            "quotes: GZ: malformed response from Yahoo: could not decode the body: unexpected \
             end of file\n",
        );
    assert_eq!(server.hits("GZ"), 1, "asked once");
    quotes_for(&server)
        .args(["--backoff-base", "0.01", "CUT"])
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with(
            "quotes: CUT: connection to Yahoo closed mid-response",
        ));
    assert!(
        server.hits("CUT") > 1,
        "a dropped connection is asked again"
    );
}

/// What a server sent that is not HTTP is said as such, and asked once: it used to read
/// "connection to Yahoo closed before responding", asked again and again. An informational
/// status and no final one is said as much as HTTP lets `quotes` know.
#[test]
fn a_response_that_is_not_http_says_what_the_server_sent() {
    let server = Server::start(|req| {
        let head = |text: &str| Reply::Raw(text.as_bytes().to_vec());
        match req.symbol().as_str() {
            "REASON" => head("HTTP/1.1 200 O\x01K\r\ncontent-length: 0\r\n\r\n"),
            "ESC" => head("HTTP/1.1 302 Found\r\nlocation: /x\x1b[2J\r\ncontent-length: 0\r\n\r\n"),
            "HUGE" => {
                let many: String = (0..200).map(|i| format!("x-h{i}: a\r\n")).collect();
                Reply::Raw(
                    format!("HTTP/1.1 200 OK\r\n{many}content-length: 0\r\n\r\n").into_bytes(),
                )
            }
            _ => head("HTTP/1.1 102 Processing\r\n\r\n"),
        }
    });
    let out = quotes_for(&server)
        .args(["--backoff-base", "0.01", "REASON", "ESC", "HUGE", "INFO"])
        .assert()
        .code(1);
    assert_eq!(
        String::from_utf8_lossy(&out.get_output().stderr),
        "quotes: REASON: malformed response from Yahoo: the server sent a status line that is \
         not HTTP (an invalid status code or reason phrase)\n\
         quotes: ESC: malformed response from Yahoo: the server sent a header that is not \
         valid HTTP (a control character, such as an ESC, in its name or value)\n\
         quotes: HUGE: malformed response from Yahoo: the server sent response headers larger \
         than quotes reads (over 100 headers or 400 KiB)\n\
         quotes: INFO: connection to Yahoo closed before responding: it sent no final \
         response (nothing, or only an informational 1xx status)\n"
    );
    for malformed in ["REASON", "ESC", "HUGE"] {
        assert_eq!(server.hits(malformed), 1, "{malformed} asked once");
    }
}

/// `--deadline` bounds the whole run, reading the ticker list included: a pipe that never
/// closes (`slow-producer | quotes --deadline 1`) used to hold the run as long as it liked.
#[test]
fn deadline_covers_reading_the_ticker_list() {
    let mut child = quotes_process()
        .args(["--deadline", "1"])
        .stdin(Stdio::piped()) // held open, nothing written
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _stdin = child.stdin.take();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "--deadline 1 did not end a run waiting on stdin"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr,
        "quotes: error: deadline exceeded (--deadline 1 s) while reading the ticker list\n"
    );
}
