//! The cache of past closes is input too (issue 18, items 8-10; issue 17, item 7): only what
//! a source positively said is kept, every field read back passes the checks a server's
//! answer passes, a crafted file cannot run SQL `quotes` did not write, `--deadline` and
//! signals bound cache work, and what the cache serves is byte for byte what a fetch prints.
//! Every cache file here is made by the test, in a directory of its own.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use assert_cmd::Command;

use crate::numbers::text;
use crate::support::{Reply, Request, Server};

/// A port nothing listens on, for the sources a test does not serve.
const NOWHERE: &str = "http://127.0.0.1:9";

/// `quotes` with every source at `NOWHERE` and the cache in `dir`.
fn quotes(dir: &std::path::Path) -> Command {
    let mut cmd = crate::cmd::quotes();
    cmd.env("QUOTES_YAHOO_URL", NOWHERE)
        .env("QUOTES_COINBASE_URL", NOWHERE)
        .env("QUOTES_COINBASE_EXCHANGE_URL", NOWHERE)
        .env("QUOTES_ECB_URL", NOWHERE)
        .env("QUOTES_CACHE_DIR", dir);
    cmd
}

/// Unix seconds of 14:30 UTC (a New York session's open in winter) on `day`.
fn open_of(day: &str) -> i64 {
    let day: jiff::civil::Date = day.parse().unwrap();
    day.to_zoned(jiff::tz::TimeZone::UTC)
        .unwrap()
        .timestamp()
        .as_second()
        + 52_200
}

/// Daily bars of XYZ for 2021-01-04..06, the 5th's close `null` until `filled`.
fn bars(filled: bool) -> String {
    let middle = if filled { "2.25" } else { "null" };
    format!(
        r#"{{"chart":{{"result":[{{"meta":{{"currency":"USD","symbol":"XYZ","gmtoffset":-18000,"priceHint":2}},"timestamp":[{},{},{}],"indicators":{{"quote":[{{"close":[1.5,{middle},2.5]}}]}}}}],"error":null}}}}"#,
        open_of("2021-01-04"),
        open_of("2021-01-05"),
        open_of("2021-01-06"),
    )
}

/// A `null` close is Yahoo losing the day, not a day without trading: it is not cached as
/// one, so the next run asks again and prints the close once Yahoo has it.
#[test]
fn a_null_close_is_not_cached_as_a_day_without_trading() {
    let filled = Arc::new(AtomicBool::new(false));
    let seen = Arc::clone(&filled);
    let yahoo = Server::start(move |_| Reply::json(200, bars(seen.load(Ordering::SeqCst))));
    let dir = tempfile::tempdir().unwrap();
    let run = || {
        let mut cmd = quotes(dir.path());
        cmd.env("QUOTES_YAHOO_URL", yahoo.url())
            .args(["-f", "tsv", "-o", "date,price"])
            .args(["--from", "2021-01-04", "--to", "2021-01-06", "XYZ"]);
        cmd
    };
    run()
        .assert()
        .success()
        .stdout("2021-01-04\t1.50\n2021-01-06\t2.50\n")
        .stderr("quotes: XYZ: warning: Yahoo sent no close for 2021-01-05; left out\n");
    filled.store(true, Ordering::SeqCst);
    let asked = yahoo.request_count();
    run()
        .assert()
        .success()
        .stdout("2021-01-04\t1.50\n2021-01-05\t2.25\n2021-01-06\t2.50\n")
        .stderr("");
    assert!(yahoo.request_count() > asked, "the gap was asked again");
    // Now every day is known: the third run is the cache's alone.
    let asked = yahoo.request_count();
    run()
        .assert()
        .success()
        .stdout("2021-01-04\t1.50\n2021-01-05\t2.25\n2021-01-06\t2.50\n");
    assert_eq!(yahoo.request_count(), asked);
}

/// A crypto pair trades every day: a UTC day without a candle is named on stderr and never
/// cached as a day without trading.
#[test]
fn a_missing_candle_is_named_and_not_cached() {
    let filled = Arc::new(AtomicBool::new(false));
    let seen = Arc::clone(&filled);
    let exchange = Server::start(move |req: &Request| {
        let all = seen.load(Ordering::SeqCst);
        crate::numbers::candles_by_day(req, |day| {
            (all || day.day() != 5).then(|| format!("{}.5", day.day()))
        })
    });
    let dir = tempfile::tempdir().unwrap();
    let run = || {
        let mut cmd = quotes(dir.path());
        cmd.env("QUOTES_COINBASE_EXCHANGE_URL", exchange.url())
            .args(["-f", "tsv", "-o", "date,price"])
            .args([
                "--from",
                "2021-01-04",
                "--to",
                "2021-01-06",
                "coinbase:BTC-EUR",
            ]);
        cmd
    };
    run()
        .assert()
        .success()
        .stdout("2021-01-04\t4.50\n2021-01-06\t6.50\n")
        .stderr("quotes: BTC-EUR: warning: Coinbase sent no close for 2021-01-05; left out\n");
    filled.store(true, Ordering::SeqCst);
    run()
        .assert()
        .success()
        .stdout("2021-01-04\t4.50\n2021-01-05\t5.50\n2021-01-06\t6.50\n")
        .stderr("");
}

// ---------------------------------------------------------------------------------------
// What the cache serves is what a fetch prints (item 10)

/// Every field, for table, tsv and csv.
const ALL_FIELDS: &str = "symbol,price,currency,time,date,change,change_percent,previous_close,\
                          name,exchange,source,quoted_price,quoted_currency,fx_rate,fx_date,\
                          fx_source";

/// Each format, with every field where `-o` applies.
const FORMATS: [&[&str]; 7] = [
    &["-f", "table", "-o", ALL_FIELDS],
    &["-f", "tsv", "-o", ALL_FIELDS],
    &["-f", "csv", "-o", ALL_FIELDS],
    &["-f", "json"],
    &["-f", "jsonl"],
    &["-f", "ledger"],
    &["-f", "beancount"],
];

/// A range read from the cache used to lose `name` and `exchange` (a run that did not show
/// them dropped them before the cache kept them): now every format and field of a range
/// served by the cache is byte for byte what a fetch prints.
#[test]
fn what_the_cache_serves_is_byte_for_byte_what_a_fetch_prints() {
    let yahoo = crate::history::recorded_yahoo();
    let ecb = crate::currencies::ecb();
    let exchange = Server::start(|_| {
        Reply::fixture(200, "coinbase_candles_BTC-EUR_2021-01-01_2021-01-07.json")
    });
    let dir = tempfile::tempdir().unwrap();
    let quotes = |extra: &[&str]| {
        let mut cmd = quotes(dir.path());
        cmd.env("QUOTES_YAHOO_URL", yahoo.url())
            .env("QUOTES_ECB_URL", ecb.url())
            .env("QUOTES_COINBASE_EXCHANGE_URL", exchange.url())
            .args(extra);
        cmd
    };
    for (ticker, from, to) in [
        ("NVDA", "2021-02-01", "2021-02-05"),
        ("ecb:GBP-USD", "2021-01-04", "2021-01-08"),
        ("coinbase:BTC-EUR", "2021-01-01", "2021-01-07"),
    ] {
        let range = ["--from", from, "--to", to, ticker];
        // The first run shows no names: the cache still keeps them.
        quotes(&range).assert().success();
        let asked = yahoo.request_count() + ecb.request_count() + exchange.request_count();
        for format in FORMATS {
            let cached = quotes(format).args(range).assert().success();
            let fetched = quotes(format)
                .arg("--no-cache")
                .args(range)
                .assert()
                .success();
            let (cached, fetched) = (&cached.get_output().stdout, &fetched.get_output().stdout);
            assert_eq!(
                String::from_utf8_lossy(cached),
                String::from_utf8_lossy(fetched),
                "{ticker} {format:?}"
            );
        }
        let fetches = FORMATS.len();
        assert_eq!(
            yahoo.request_count() + ecb.request_count() + exchange.request_count(),
            // A fetch of NVDA asks for its window and the splits since, of a cross for
            // its two currencies' series.
            asked
                + fetches
                    * if ticker.starts_with("coinbase:") {
                        1
                    } else {
                        2
                    },
            "{ticker}: the cached runs asked no server"
        );
    }
}

// ---------------------------------------------------------------------------------------
// The cache is input too (items 8, 9)

/// Open a cache file the way another program would, to edit it.
fn open(dir: &std::path::Path) -> rusqlite::Connection {
    rusqlite::Connection::open(dir.join("closes.sqlite3")).expect("the cache file")
}

/// Days since 1970-01-01, as the cache stores a day.
fn day_number(day: &str) -> i64 {
    let day: jiff::civil::Date = day.parse().unwrap();
    day.to_zoned(jiff::tz::TimeZone::UTC)
        .unwrap()
        .timestamp()
        .as_second()
        / 86_400
}

/// A cached row edited to forge a table row and write the clipboard (OSC 52), a precision
/// of 4,000,000,000 (it aborted the run) and a price of 0 (it printed 0.00): each row is
/// checked as an answer is, not served, and fetched again; names are made safe.
#[test]
fn a_cache_someone_edited_is_checked_like_an_answer() {
    let yahoo = crate::history::recorded_yahoo();
    let dir = tempfile::tempdir().unwrap();
    let run = |fields: &str| {
        let mut cmd = quotes(dir.path());
        cmd.env("QUOTES_YAHOO_URL", yahoo.url())
            .args(["-f", "tsv", "-o", fields])
            .args(["--from", "2021-02-01", "--to", "2021-02-05", "NVDA"]);
        cmd
    };
    let fetched = run("symbol,date,price,currency").assert().success();
    let fetched = fetched.get_output().stdout.clone();
    let conn = open(dir.path());
    conn.execute(
        "UPDATE days SET currency = ?1 WHERE day = ?2",
        rusqlite::params![
            "USD\nEVIL\t2025-01-01\t666.00\tUSD\x1b]52;c;SGVsbG8=\x07",
            day_number("2021-02-01")
        ],
    )
    .unwrap();
    conn.execute(
        "UPDATE days SET precision = 4000000000 WHERE day = ?1",
        [day_number("2021-02-02")],
    )
    .unwrap();
    conn.execute(
        "UPDATE days SET price = '0' WHERE day = ?1",
        [day_number("2021-02-03")],
    )
    .unwrap();
    conn.execute("UPDATE instruments SET name = 'Evil\x1b[2J\u{202e}'", [])
        .unwrap();
    drop(conn);
    let asked = yahoo.request_count();
    let again = run("symbol,date,price,currency").assert().success();
    assert_eq!(
        String::from_utf8_lossy(&again.get_output().stdout),
        String::from_utf8_lossy(&fetched)
    );
    assert!(
        yahoo.request_count() > asked,
        "the bad rows were fetched again"
    );
    // The name read back is made safe before anything shows it.
    let named = run("name").assert().success();
    let names = text(&named.get_output().stdout);
    assert!(!names.contains(['\x1b', '\u{202e}']), "{names:?}");
}

/// The `user_version` a cache made by this `quotes` has.
fn schema_version() -> i64 {
    let dir = tempfile::tempdir().unwrap();
    let yahoo = crate::history::recorded_yahoo();
    quotes(dir.path())
        .env("QUOTES_YAHOO_URL", yahoo.url())
        .args(["--from", "2021-02-01", "--to", "2021-02-01", "NVDA"])
        .assert()
        .success();
    open(dir.path())
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap()
}

/// Waits for `child` at most `limit`; kills it and fails the test if it is still running.
fn wait_at_most(
    child: &mut std::process::Child,
    limit: std::time::Duration,
    what: &str,
) -> std::process::ExitStatus {
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: still running after {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// A cache whose `days` is a view over an endless recursive CTE used to hang the run at
/// 100% CPU, deaf to --deadline and Ctrl-C: a schema `quotes` did not create is never
/// used; the file is started anew, and the run goes on.
#[test]
fn a_crafted_cache_cannot_run_sql_quotes_did_not_write() {
    let version = schema_version();
    let yahoo = crate::history::recorded_yahoo();
    let dir = tempfile::tempdir().unwrap();
    let conn = open(dir.path());
    conn.execute_batch(&format!(
        "CREATE TABLE instruments (id INTEGER PRIMARY KEY, origin TEXT NOT NULL, \
         source TEXT NOT NULL, ticker TEXT NOT NULL, name TEXT, exchange TEXT, \
         UNIQUE (origin, source, ticker));
         CREATE VIEW days AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c)
         SELECT 1 AS instrument, x AS day, '1' AS price, 'USD' AS currency, 0 AS time,
         NULL AS precision FROM c;
         PRAGMA user_version = {version};"
    ))
    .unwrap();
    conn.execute(
        "INSERT INTO instruments (id, origin, source, ticker) VALUES (1, ?1, 'yahoo', 'NVDA')",
        [yahoo.url().trim_end_matches('/')],
    )
    .unwrap();
    drop(conn);
    let mut child = crate::cmd::quotes_process()
        .env("QUOTES_YAHOO_URL", yahoo.url())
        .env("QUOTES_CACHE_DIR", dir.path())
        .args(["-f", "tsv", "-o", "date,price"])
        .args(["--from", "2021-02-01", "--to", "2021-02-02", "NVDA"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_at_most(&mut child, std::time::Duration::from_secs(20), "quotes");
    let out = child.wait_with_output().unwrap();
    assert!(status.success(), "{status:?}: {}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "2021-02-01\t529.48\n2021-02-02\t542.27\n"
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("closes.sqlite3 was not made by quotes (it holds view \"days\", ")
            && stderr.contains("); starting it anew"),
        "{stderr}"
    );
    // The file started anew is ours, and serves the next run.
    let views: i64 = open(dir.path())
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'view'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(views, 0);
}

/// Another run's write lock makes the cache wait up to seconds to keep a round; the run's
/// thread used to wait with it, deaf to `--deadline` and SIGTERM. Now the cache waits on a
/// thread of its own, and the deadline or the signal ends the run at once with what it has.
// Unix: `kill -TERM` and death by the signal; on Windows a Ctrl-C interrupts the cache's
// work the same way (src/cache/mod.rs races it against the run's stop), and --deadline too.
#[cfg(unix)]
#[test]
fn deadline_and_signals_bound_cache_work() {
    use std::os::unix::process::ExitStatusExt;
    let yahoo = crate::history::recorded_yahoo();
    let dir = tempfile::tempdir().unwrap();
    // A cache of ours, then held: a write transaction kept open, as another run's.
    quotes(dir.path())
        .env("QUOTES_YAHOO_URL", yahoo.url())
        .args(["--from", "2021-02-01", "--to", "2021-02-01", "NVDA"])
        .assert()
        .success();
    let lock = open(dir.path());
    lock.execute_batch("BEGIN IMMEDIATE").unwrap();
    let spawn = |extra: &[&str]| {
        crate::cmd::quotes_process()
            .env("QUOTES_YAHOO_URL", yahoo.url())
            .env("QUOTES_CACHE_DIR", dir.path())
            .args(["-f", "tsv", "-o", "date,price"])
            .args(["--from", "2021-02-02", "--to", "2021-02-03", "NVDA"])
            .args(extra)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let started = std::time::Instant::now();
    let mut child = spawn(&["--deadline", "1"]);
    wait_at_most(
        &mut child,
        std::time::Duration::from_secs(20),
        "quotes --deadline 1",
    );
    let elapsed = started.elapsed();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "2021-02-02\t542.27\n2021-02-03\t541.22\n"
    );
    // The deadline, not the cache's 3 s of waiting for the lock, ended it.
    assert!(
        elapsed < std::time::Duration::from_millis(2500),
        "{elapsed:?}"
    );

    let asked = yahoo.request_count();
    let mut child = spawn(&[]);
    crate::support::wait_until(
        "the run fetched its range",
        std::time::Duration::from_secs(10),
        || yahoo.request_count() >= asked + 2,
    );
    let signalled = std::time::Instant::now();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = wait_at_most(&mut child, std::time::Duration::from_secs(20), "quotes");
    let elapsed = signalled.elapsed();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        status.signal(),
        Some(libc::SIGTERM),
        "{}",
        text(&out.stderr)
    );
    assert!(
        elapsed < std::time::Duration::from_millis(1500),
        "{elapsed:?}"
    );
    assert_eq!(
        text(&out.stdout),
        "2021-02-02\t542.27\n2021-02-03\t541.22\n"
    );
    lock.execute_batch("ROLLBACK").unwrap();
}
