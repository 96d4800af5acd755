//! Streaming rounds (issue 20): each ticker's rows are written once every ticker before it
//! has been, and then dropped, so memory is bounded by the work in flight, never by the
//! number of tickers or rows; and nothing else changes.
//!
//! **Byte for byte.** The output of a round with failures in the middle (a 404, a body cut
//! short, a 503, an invalid ticker, a ticker asked twice), answered in the reverse of
//! input order, is compared byte for byte, stdout and stderr and exit status, in every
//! format (and with `--currency`, and for `--update`), with what the build before streaming
//! (main at ba5c3c3, which rendered each round whole) printed for the same round:
//! `tests/fixtures/streaming/`. A row out of order, a failure moved, a missing or extra
//! byte fails. To record them again with another binary:
//!
//! ```sh
//! QUOTES_STREAMING_RECORD=/path/to/quotes cargo test --test it streaming::
//! ```
//!
//! **The bound.** 300 tickers × 30 years of daily closes (2,347,500 rows; the build before
//! held them all: about 1 GB) are written within 64 MiB of peak resident memory, fetched and
//! from the cache, in the aligned table too, and an empty price file back-filled with 100
//! of them within 128 MiB (Linux: the peak is read from /proc); a slow first ticker holds
//! back a bounded window, not the list. The 300-ticker test is slow in a debug build, so
//! `#[ignore]`d: `.ci/run` runs it with `cargo test --test it -- --ignored`.
//!
//! **The temporary file.** What must wait longer than its turn (a long back-fill's lines,
//! the table's rows) goes to a temporary file in `TMPDIR`, which is left empty; with no
//! temporary directory, or a full one, every line is still written, and stderr says once
//! that it was kept in memory instead.

use std::path::{Path, PathBuf};
use std::time::Duration;

use quotes_bench::chart::{self, Interval};

use crate::cmd::quotes_process;
use crate::support::{Reply, Request, Server};

/// The inputs of the rounds compared: failures in the middle, a ticker asked twice (`T02`,
/// the second time far after the first), an invalid ticker, a named commodity.
const INPUTS: &[&str] = &[
    "T01",
    "T02",
    "NOPE",
    "T03",
    "bad!ticker",
    "T04@FOUR",
    "HALF",
    "T05",
    "DOWN",
    "T02",
    "T06",
];

/// The range of the rounds compared (a past one: the same rows whatever the day).
const FROM: &str = "2021-01-04";
const TO: &str = "2021-03-31";

/// A Yahoo that answers each ticker as the bench server does (a history of a close per
/// weekday, or the latest price), except `NOPE` (404), `HALF` (a chart cut short) and
/// `DOWN` (503); the later a ticker comes in the list, the sooner it is answered, so the
/// answers arrive in the reverse of input order. `USDEUR=X` is a rate in euros.
fn yahoo() -> Server {
    Server::start(|req: &Request| {
        let symbol = req.symbol();
        let place = INPUTS.iter().position(|i| i.starts_with(&symbol));
        let delay = Duration::from_millis(20 * (INPUTS.len() - place.unwrap_or(0)) as u64);
        let reply = match symbol.as_str() {
            "NOPE" => Reply::fixture(404, "yahoo_chart_error_not_found.404.json"),
            "DOWN" => Reply::text(503, "Service Unavailable"),
            // Cut inside `meta`, which is the same whatever the day (a history's length is
            // not: its period ends today).
            "HALF" => Reply::json(200, answer(req, "HALF")[..600].to_string()),
            "USDEUR=X" => Reply::json(
                200,
                answer(req, &symbol).replace(r#""currency":"USD""#, r#""currency":"EUR""#),
            ),
            _ => Reply::json(200, answer(req, &symbol)),
        };
        reply.with_delay(delay)
    })
}

/// The bench server's answer to `req` for `symbol`: a history for a period, else the
/// latest price.
fn answer(req: &Request, symbol: &str) -> String {
    let param = |name| req.query_param(name).and_then(|v| v.parse::<i64>().ok());
    match (param("period1"), param("period2")) {
        (Some(p1), Some(p2)) => {
            let interval = req
                .query_param("interval")
                .and_then(|i| Interval::parse(&i))
                .unwrap_or(Interval::Day);
            chart::history_body(symbol, p1, p2, interval).unwrap_or_default()
        }
        _ => chart::chart_body(symbol),
    }
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/streaming")
}

/// What a run printed: stdout, stderr, and its exit code.
struct Printed {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    code: Option<i32>,
}

/// Run `args` against `server` with the binary under test, or with the one
/// `QUOTES_STREAMING_RECORD` names (then its output is recorded as the fixture `case`).
fn run(server: &Server, args: &[String], case: &str) -> Printed {
    let record = std::env::var_os("QUOTES_STREAMING_RECORD");
    let mut cmd = match &record {
        Some(binary) => crate::cmd::scrubbed(binary),
        None => quotes_process(),
    };
    cmd.env("QUOTES_YAHOO_URL", server.url()).args(args);
    let printed = output(cmd);
    let dir = fixtures();
    if record.is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{case}.stdout")), &printed.stdout).unwrap();
        std::fs::write(dir.join(format!("{case}.stderr")), &printed.stderr).unwrap();
        let code = printed.code.map_or("signal".to_string(), |c| c.to_string());
        std::fs::write(dir.join(format!("{case}.status")), code + "\n").unwrap();
    }
    printed
}

/// Run `cmd` to its end, or kill it after [`crate::cmd::HANG_GUARD`] (a hang fails the test
/// instead of holding up the suite).
fn output(mut cmd: std::process::Command) -> Printed {
    let (mut child, [stdout, stderr]) = crate::cmd::spawn_reading(&mut cmd);
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > crate::cmd::HANG_GUARD {
            let _ = child.kill();
            panic!("quotes hung: {cmd:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Printed {
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
        code: status.code(),
    }
}

/// `printed` is byte for byte the recorded `case`.
fn assert_recorded(printed: &Printed, case: &str) {
    let dir = fixtures();
    let read = |ext: &str| {
        std::fs::read(dir.join(format!("{case}.{ext}")))
            .unwrap_or_else(|e| panic!("fixture {case}.{ext}: {e}"))
    };
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    assert_eq!(
        text(&printed.stdout),
        text(&read("stdout")),
        "{case}: stdout"
    );
    assert_eq!(printed.stdout, read("stdout"), "{case}: stdout bytes");
    assert_eq!(
        text(&printed.stderr),
        text(&read("stderr")),
        "{case}: stderr"
    );
    let code = printed.code.map_or("signal".to_string(), |c| c.to_string());
    assert_eq!(code + "\n", text(&read("status")), "{case}: exit status");
}

fn args(extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = ["--retries", "0"].iter().map(|s| s.to_string()).collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(INPUTS.iter().map(|s| s.to_string()));
    args
}

/// Every format's name.
fn formats() -> impl Iterator<Item = &'static str> {
    quotes::output::FORMATS.iter().map(|f| f.name)
}

#[test]
fn a_range_with_failures_in_the_middle_is_byte_for_byte_what_was_printed_whole() {
    let server = yahoo();
    for format in formats() {
        let case = format!("range.{format}");
        let printed = run(
            &server,
            &args(&["--no-cache", "-f", format, "--from", FROM, "--to", TO]),
            &case,
        );
        assert_recorded(&printed, &case);
    }
    // What was compared is what the test says it is: every failure named, in input order,
    // and the rows of the tickers after them there (T06 is answered first, written last).
    let printed = run(
        &server,
        &args(&["--no-cache", "-f", "tsv", "--from", FROM, "--to", TO]),
        "range.tsv",
    );
    let stderr = String::from_utf8_lossy(&printed.stderr);
    let failed: Vec<&str> = stderr
        .lines()
        .map(|l| l.split(':').nth(1).unwrap_or_default().trim())
        .collect();
    assert_eq!(failed, ["NOPE", "bad!ticker", "HALF", "DOWN"], "{stderr}");
    let stdout = String::from_utf8_lossy(&printed.stdout);
    let symbols: Vec<&str> = stdout
        .lines()
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    let mut order = symbols.clone();
    order.dedup();
    assert_eq!(order, ["T01", "T02", "T03", "T04", "T05", "T02", "T06"]);
    assert_eq!(symbols.len(), 7 * 63, "63 weekdays each");
}

#[test]
fn latest_prices_with_failures_in_the_middle_are_byte_for_byte_what_was_printed_whole() {
    let server = yahoo();
    for format in formats() {
        let case = format!("latest.{format}");
        let printed = run(&server, &args(&["-f", format]), &case);
        assert_recorded(&printed, &case);
    }
}

#[test]
fn a_converted_range_and_a_backfill_are_byte_for_byte_what_they_were() {
    let server = yahoo();
    for format in ["tsv", "json"] {
        let case = format!("currency.{format}");
        let printed = run(
            &server,
            &args(&[
                "--no-cache",
                "--currency",
                "EUR",
                "-f",
                format,
                "--from",
                FROM,
                "--to",
                TO,
            ]),
            &case,
        );
        assert_recorded(&printed, &case);
    }
    // --update: the new lines sorted by date, then input order, whatever the order the
    // answers came in; the failures named in order.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("prices.journal");
    let mut update = vec![
        "--update".to_string(),
        file.display().to_string(),
        "--no-cache".into(),
        "--from".into(),
        FROM.into(),
        "--to".into(),
        TO.into(),
        "--retries".into(),
        "0".into(),
    ];
    update.extend(
        ["T03", "NOPE", "T01", "HALF", "T02@TWO"]
            .iter()
            .map(|s| s.to_string()),
    );
    let mut printed = run(&server, &update, "update");
    // The file's path differs from run to run: the file itself is the output compared.
    printed.stdout = std::fs::read(&file).unwrap();
    printed.stderr = String::from_utf8_lossy(&printed.stderr)
        .replace(&file.display().to_string(), "FILE")
        .into_bytes();
    if std::env::var_os("QUOTES_STREAMING_RECORD").is_some() {
        std::fs::write(fixtures().join("update.stdout"), &printed.stdout).unwrap();
        std::fs::write(fixtures().join("update.stderr"), &printed.stderr).unwrap();
    }
    assert_recorded(&printed, "update");
}

// ---------------------------------------------------------------------------------------
// The bound

/// A Yahoo whose every ticker has the same 30-year history (one body, made once, its
/// `meta.symbol` the ticker's).
#[cfg(target_os = "linux")]
fn thirty_years(from: &str) -> Server {
    let p1 = unix(from);
    let p2 = jiff::Timestamp::now().as_second();
    let body = chart::history_body("TEMPLATE", p1, p2, Interval::Day).unwrap();
    Server::start(move |req: &Request| {
        let symbol = req.symbol();
        Reply::json(
            200,
            body.replacen(
                r#""symbol":"TEMPLATE""#,
                &format!(r#""symbol":"{symbol}""#),
                1,
            ),
        )
    })
}

#[cfg(target_os = "linux")]
fn unix(date: &str) -> i64 {
    let date: jiff::civil::Date = date.parse().unwrap();
    date.to_zoned(jiff::tz::TimeZone::UTC)
        .unwrap()
        .timestamp()
        .as_second()
}

/// The weekdays of `from..=to`, and each one's close in the template history.
#[cfg(target_os = "linux")]
fn closes(from: jiff::civil::Date, to: jiff::civil::Date) -> Vec<(String, String)> {
    let mut days = Vec::new();
    let mut day = from;
    while day <= to {
        if day.weekday().to_monday_zero_offset() < 5 {
            let text = day.to_string();
            let close = chart::close_of("TEMPLATE", &text);
            days.push((text, close));
        }
        day = day.tomorrow().unwrap();
    }
    days
}

/// The 30 years to yesterday (UTC): from the day after yesterday 30 years ago.
#[cfg(target_os = "linux")]
fn thirty_years_to_yesterday() -> (jiff::civil::Date, jiff::civil::Date) {
    let to = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .yesterday()
        .unwrap();
    let from = to
        .checked_sub(jiff::Span::new().years(30))
        .unwrap()
        .tomorrow()
        .unwrap();
    (from, to)
}

#[cfg(target_os = "linux")]
#[test]
#[ignore = "slow in a debug build (about 30 s): .ci/run runs it with --ignored"]
fn thirty_years_of_300_tickers_are_written_within_64_mib() {
    let (from, to) = thirty_years_to_yesterday();
    let server = thirty_years(&from.to_string());
    let days = closes(from, to);
    let tickers: Vec<String> = (1..=300).map(|n| format!("T{n:04}")).collect();
    let cache = tempfile::tempdir().unwrap();
    let run = |format: &str, tickers: &[String], extra: &[&str]| {
        let mut cmd = quotes_process();
        cmd.env("QUOTES_YAHOO_URL", server.url())
            .env("QUOTES_CACHE_DIR", cache.path())
            .args(["-j", "100", "-f", format])
            .args(extra)
            .args(["--from", &from.to_string(), "--to", &to.to_string()])
            .args(tickers);
        crate::cmd::run_measured(cmd)
    };
    const MIB: u64 = 1024;

    // Fetched (and kept in the cache), as tsv: every row, in input order.
    let fetched = run("tsv", &tickers, &[]);
    assert!(fetched.status.success(), "{}", fetched.stderr);
    assert_eq!(fetched.stderr, "");
    let mut lines = fetched.stdout.lines();
    for ticker in &tickers {
        for (day, close) in &days {
            let want = format!("{ticker}\t{day}\t{close}\tUSD");
            assert_eq!(lines.next(), Some(want.as_str()));
        }
    }
    assert_eq!(lines.next(), None);
    assert_eq!(server.request_count(), 300);
    eprintln!("fetched: peak RSS {} MiB", fetched.peak_kib / MIB);
    assert!(
        fetched.peak_kib < 64 * MIB,
        "fetched: peak RSS {} MiB for {} rows",
        fetched.peak_kib / MIB,
        300 * days.len()
    );

    // From the cache, as ledger, 100 of them: no request, the same closes.
    let hundred = &tickers[..100];
    let cached = run("ledger", hundred, &[]);
    assert!(cached.status.success(), "{}", cached.stderr);
    assert_eq!(server.request_count(), 300, "answered from the cache");
    assert_eq!(cached.stdout.lines().count(), 100 * days.len());
    let (last_day, last_close) = days.last().unwrap();
    assert!(
        cached
            .stdout
            .ends_with(&format!("P {last_day} \"T0100\" {last_close} USD\n")),
        "{}",
        &cached.stdout[cached.stdout.len().saturating_sub(200)..]
    );
    eprintln!("from the cache: peak RSS {} MiB", cached.peak_kib / MIB);
    assert!(
        cached.peak_kib < 64 * MIB,
        "from the cache: peak RSS {} MiB",
        cached.peak_kib / MIB
    );

    // The default format, aligned over all 300 × 30 years (from the cache): its rows wait
    // in a temporary file, not in memory (it held about 145 MiB of text before).
    let table = run("table", &tickers, &[]);
    assert!(table.status.success(), "{}", table.stderr);
    assert_eq!(server.request_count(), 300, "answered from the cache");
    let mut lines = table.stdout.lines();
    assert_eq!(
        lines.next(),
        Some(format!("T0001  {}  {}  USD", days[0].0, days[0].1).as_str())
    );
    assert_eq!(lines.count(), 300 * days.len() - 1);
    eprintln!("-f table: peak RSS {} MiB", table.peak_kib / MIB);
    assert!(
        table.peak_kib < 64 * MIB,
        "-f table: peak RSS {} MiB",
        table.peak_kib / MIB
    );

    // An empty price file back-filled with the same 100: sorted by date, then input order.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("prices.journal");
    let update = run(
        "ledger",
        hundred,
        &["--update", &file.display().to_string()],
    );
    assert!(update.status.success(), "{}", update.stderr);
    assert_eq!(
        update.stderr,
        format!("{}: appended {} prices\n", file.display(), 100 * days.len())
    );
    let written = std::fs::read_to_string(&file).unwrap();
    let mut lines = written.lines();
    for (day, close) in &days {
        for ticker in hundred {
            let want = format!("P {day} \"{ticker}\" {close} USD");
            assert_eq!(lines.next(), Some(want.as_str()));
        }
    }
    assert_eq!(lines.next(), None);
    eprintln!("--update: peak RSS {} MiB", update.peak_kib / MIB);
    assert!(
        update.peak_kib < 128 * MIB,
        "--update: peak RSS {} MiB",
        update.peak_kib / MIB
    );
}

/// One slow ticker at the head of a long list holds back a bounded window, never the rest
/// of the list: while T0001 takes 4 s to answer, the tickers after it are fetched only
/// until what they hold waiting for their turn reaches the window's budget
/// (`round::window`: 48 MiB of prices), and nothing goes to a temporary file (there is no
/// temporary directory). 100 tickers × 30 years held whole are over 200 MiB (in a debug
/// build this failed at 132 MiB with 60 tickers and the budget taken out); the run stays
/// within 96 MiB, and every row is written in order.
// Linux: the peak is read from /proc (crate::cmd::run_measured).
#[cfg(target_os = "linux")]
#[test]
fn a_slow_first_ticker_holds_back_a_bounded_window_not_the_list() {
    let (from, to) = thirty_years_to_yesterday();
    let p1 = unix(&from.to_string());
    let now = jiff::Timestamp::now().as_second();
    let body = chart::history_body("TEMPLATE", p1, now, Interval::Day).unwrap();
    let server = Server::start(move |req: &Request| {
        let symbol = req.symbol();
        let answer = body.replacen(
            r#""symbol":"TEMPLATE""#,
            &format!(r#""symbol":"{symbol}""#),
            1,
        );
        let delay = if symbol == "T0001" { 4000 } else { 0 };
        Reply::json(200, answer).with_delay(Duration::from_millis(delay))
    });
    let days = closes(from, to);
    let tickers: Vec<String> = (1..=100).map(|n| format!("T{n:04}")).collect();
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = crate::cmd::quotes_process();
    cmd.env("QUOTES_YAHOO_URL", server.url())
        .env("TMPDIR", tmp.path().join("none"))
        .args(["--no-cache", "-j", "100", "--timeout", "60", "-f", "tsv"])
        .args(["--from", &from.to_string(), "--to", &to.to_string()])
        .args(&tickers);
    let run = crate::cmd::run_measured(cmd);
    assert!(run.status.success(), "{}", run.stderr);
    assert_eq!(run.stderr, "");
    let mut rows = run.stdout.lines();
    for ticker in &tickers {
        for (day, close) in &days {
            assert_eq!(
                rows.next(),
                Some(format!("{ticker}\t{day}\t{close}\tUSD").as_str())
            );
        }
    }
    assert_eq!(rows.next(), None);
    assert_eq!(server.request_count(), tickers.len());
    eprintln!("behind a slow ticker: peak RSS {} MiB", run.peak_kib / 1024);
    assert!(
        run.peak_kib < 96 * 1024,
        "behind a slow ticker: peak RSS {} MiB",
        run.peak_kib / 1024
    );
}

// ---------------------------------------------------------------------------------------
// The temporary file

/// A back-fill whose lines pass what is held in memory (8 MiB: 40 tickers × 30 years, about
/// 10 MB of lines) gathers them in a temporary file in `TMPDIR`, and leaves nothing there.
/// With no temporary directory, or a full one (a 1 MiB tmpfs, as root: the write fails with
/// ENOSPC midway), every line is still appended, the same bytes, and stderr says once that
/// they were kept in memory instead (it used to append nothing when the write failed).
// Linux: TMPDIR is where the temporary file goes on Unix; the full disk is a tmpfs mounted
// in a mount namespace of its own (unshare). Elsewhere the same code keeps the lines in
// memory the same way (src/update/finish.rs, unit tests with /dev/full).
#[cfg(target_os = "linux")]
#[test]
fn a_long_backfill_appends_every_line_whatever_the_temporary_directory() {
    let (from, to) = thirty_years_to_yesterday();
    let server = thirty_years(&from.to_string());
    let days = closes(from, to);
    let tickers: Vec<String> = (1..=40).map(|n| format!("T{n:04}")).collect();
    let count = tickers.len() * days.len();
    let dir = tempfile::tempdir().unwrap();
    // `quotes --update FILE` with TMPDIR set, maybe run through `wrap` (a program and its
    // arguments before quotes'); the file written, and stderr with FILE for its path.
    let backfill = |name: &str, tmpdir: &Path, wrap: &[&std::ffi::OsStr]| {
        let file = dir.path().join(name);
        let mut cmd = match wrap.split_first() {
            None => crate::cmd::quotes_process(),
            Some((program, args)) => {
                let mut cmd = crate::cmd::scrubbed(program);
                cmd.args(args).arg(crate::cmd::BIN);
                cmd
            }
        };
        cmd.env("QUOTES_YAHOO_URL", server.url())
            .env("TMPDIR", tmpdir)
            .args(["--no-cache", "-j", "20", "--update"])
            .arg(&file)
            .args(["--from", &from.to_string(), "--to", &to.to_string()])
            .args(&tickers);
        let out = assert_cmd::Command::from_std(cmd)
            .timeout(crate::cmd::HANG_GUARD)
            .output()
            .unwrap();
        let stderr =
            String::from_utf8_lossy(&out.stderr).replace(&file.display().to_string(), "FILE");
        assert!(out.status.success(), "{name}: {stderr}");
        (std::fs::read(&file).unwrap(), stderr)
    };
    let summary = format!("FILE: appended {count} prices\n");

    // A temporary directory with room: the lines pass through it, and nothing is left.
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let (written, stderr) = backfill("with-room.journal", &tmp, &[]);
    assert_eq!(stderr, summary);
    assert_eq!(
        std::fs::read_dir(&tmp).unwrap().count(),
        0,
        "a temporary file was left behind"
    );
    let text = String::from_utf8(written.clone()).unwrap();
    assert!(
        text.len() > 8 << 20,
        "{} bytes: not past the memory",
        text.len()
    );
    assert_eq!(text.lines().count(), count);
    let (first_day, first_close) = &days[0];
    let (last_day, last_close) = days.last().unwrap();
    assert!(text.starts_with(&format!("P {first_day} \"T0001\" {first_close} USD\n")));
    assert!(text.ends_with(&format!("P {last_day} \"T0040\" {last_close} USD\n")));

    let kept_in_memory = |stderr: &str, tmpdir: &Path, why: &str| {
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 2, "{stderr}");
        let warning = format!(
            "quotes: warning: cannot write a temporary file in {} (",
            tmpdir.display()
        );
        assert!(lines[0].starts_with(&warning), "{stderr}");
        assert!(lines[0].contains(why), "{stderr}");
        assert!(
            lines[0].ends_with(
                "; keeping the prices that wait for their turn in memory instead (set \
                 TMPDIR to a directory with room)"
            ),
            "{stderr}"
        );
        assert_eq!(format!("{}\n", lines[1]), summary);
    };

    // No temporary directory at all.
    let nowhere = dir.path().join("no-such-directory");
    let (same, stderr) = backfill("nowhere.journal", &nowhere, &[]);
    kept_in_memory(&stderr, &nowhere, "No such file or directory");
    assert!(
        same == written,
        "the lines differ without a temporary directory"
    );

    // A full one: a 1 MiB tmpfs, in a mount namespace of this run's own (root only).
    if unsafe { libc::geteuid() } != 0 {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "the full-disk case needs root to mount a tmpfs"
        );
        eprintln!("skipped the full-disk case: not root, so no tmpfs of 1 MiB");
        return;
    }
    let full = dir.path().join("full");
    std::fs::create_dir(&full).unwrap();
    let mount = r#"mount -t tmpfs -o size=1m quotes-test "$TMPDIR" && exec "$0" "$@""#;
    let (same, stderr) = backfill(
        "full.journal",
        &full,
        &[
            "unshare".as_ref(),
            "-m".as_ref(),
            "sh".as_ref(),
            "-c".as_ref(),
            mount.as_ref(),
        ],
    );
    kept_in_memory(&stderr, &full, "No space left on device");
    assert!(
        same == written,
        "the lines differ with a full temporary directory"
    );
}
