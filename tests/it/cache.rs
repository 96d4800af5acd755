//! The cache of past closes is input too (issue 18, items 8-10; issue 17, item 7): only what
//! a source positively said is kept, every field read back passes the checks a server's
//! answer passes, a crafted file cannot run SQL `quotes` did not write, `--deadline` and
//! signals bound cache work, and what the cache serves is byte for byte what a fetch prints.
//! Every cache file here is made by the test, in a directory of its own.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use assert_cmd::Command;

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
