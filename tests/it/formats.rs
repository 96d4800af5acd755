//! Integration tests for output formats and input handling (issue 3): every format's
//! exact output for the same recorded responses, parsed back by real parsers, and
//! checked by hledger, ledger and bean-check (skipped when one is missing, except in CI).
// Some tests here need Unix or Linux (signals, script(1), /dev/full, /proc): elsewhere
// they are not compiled, and the imports only they use are not used.
#![cfg_attr(not(target_os = "linux"), allow(unused_imports))]

use std::process::Command as StdCommand;
use std::time::Duration;

use assert_cmd::Command;
use predicates::prelude::*;

use crate::cmd::{BIN, quotes, quotes_for, require_tool, via};
use crate::support::{Reply, Server};

/// Recorded bodies: equity, ETF, pence-quoted London listing, crypto, and AAPL as asked with
/// `range=1d` after the close of 2020-03-02 (the one recording whose `chartPreviousClose` is
/// yesterday's close); anything else 404.
fn recorded() -> Server {
    Server::start(|req| match req.symbol().as_str() {
        "AAPL" => Reply::fixture(200, "yahoo_chart_AAPL.json"),
        "AAPL-2020" => Reply::fixture_as("yahoo_chart_AAPL_range_1d_2020-03-02.json", "AAPL-2020"),
        "QQQ" => Reply::fixture(200, "yahoo_chart_QQQ.json"),
        "OCDO.L" => Reply::fixture(200, "yahoo_chart_OCDO.L.json"),
        "BTC-USD" => Reply::fixture(200, "yahoo_chart_BTC-USD.json"),
        "^GSPC" => Reply::chart("^GSPC", "5998.74", Some("USD"), 1_740_000_000),
        _ => Reply::fixture(404, "yahoo_chart_error_not_found.404.json"),
    })
}

fn stdout_of(cmd: &mut Command, code: i32) -> String {
    let out = cmd.assert().code(code);
    String::from_utf8(out.get_output().stdout.clone()).unwrap()
}

const FOUR: [&str; 4] = ["AAPL", "QQQ", "OCDO.L", "BTC-USD"];

#[test]
fn tsv_is_tab_separated_without_header_or_padding() {
    let server = recorded();
    let out = stdout_of(
        quotes_for(&server)
            .args(["-f", "tsv", "-o", "symbol,price,currency,time"])
            .args(FOUR),
        0,
    );
    assert_eq!(
        out,
        "AAPL\t220.00\tUSD\t2025-03-24T13:51:33Z\n\
         QQQ\t539.52\tUSD\t2025-02-19T21:00:00Z\n\
         OCDO.L\t3.0530\tGBP\t2025-02-20T11:32:23Z\n\
         BTC-USD\t97208.17\tUSD\t2025-02-20T11:44:00Z\n"
    );
}

#[test]
fn every_field_can_be_chosen_and_is_computed_exactly() {
    let server = recorded();
    let all =
        "symbol,price,currency,time,change,change_percent,previous_close,name,exchange,source";
    let out = stdout_of(
        quotes_for(&server)
            .args(["-f", "tsv", "-o", all])
            .args(FOUR)
            .arg("AAPL-2020"),
        0,
    );
    // The four recordings were asked for multi-year windows: their chartPreviousClose is
    // the close before the window, not yesterday's, so there is no day's change at all.
    // The range=1d recording's is yesterday's close (2020-02-28): 298.81 - 273.36.
    assert_eq!(
        out,
        "AAPL\t220.00\tUSD\t2025-03-24T13:51:33Z\t\t\t\tApple Inc.\tNasdaqGS\tyahoo\n\
         QQQ\t539.52\tUSD\t2025-02-19T21:00:00Z\t\t\t\tInvesco QQQ Trust\tNasdaqGM\tyahoo\n\
         OCDO.L\t3.0530\tGBP\t2025-02-20T11:32:23Z\t\t\t\tOcado Group plc\tLSE\tyahoo\n\
         BTC-USD\t97208.17\tUSD\t2025-02-20T11:44:00Z\t\t\t\tBitcoin USD\tCCC\tyahoo\n\
         AAPL-2020\t298.81\tUSD\t2020-03-02T21:00:01Z\t25.45\t9.31\t273.36\t\tNMS\tyahoo\n"
    );
}

#[test]
fn csv_has_a_header_and_parses_back() {
    let server = recorded();
    let out = stdout_of(
        quotes_for(&server)
            .args(["-f", "csv", "-o", "symbol,price,name,exchange"])
            .args(["QQQ", "NOPE", "AAPL"]),
        1,
    );
    assert_eq!(
        out,
        "symbol,price,name,exchange\r\nQQQ,539.52,Invesco QQQ Trust,NasdaqGM\r\nAAPL,220.00,Apple Inc.,NasdaqGS\r\n"
    );
    let mut reader = csv::Reader::from_reader(out.as_bytes());
    let headers = reader.headers().unwrap().clone();
    assert_eq!(
        headers.iter().collect::<Vec<_>>(),
        ["symbol", "price", "name", "exchange"]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(&rows[1][0], "AAPL");
}

#[test]
fn csv_quotes_names_with_commas() {
    let server = Server::start(|_| {
        Reply::json(
            200,
            r#"{"chart":{"result":[{"meta":{"currency":"USD","regularMarketPrice":10,"longName":"Acme, \"The\" Co."}}],"error":null}}"#,
        )
    });
    let out = stdout_of(
        quotes_for(&server).args(["-f", "csv", "-o", "symbol,name", "ACME"]),
        0,
    );
    assert_eq!(out, "symbol,name\r\nACME,\"Acme, \"\"The\"\" Co.\"\r\n");
    let mut reader = csv::Reader::from_reader(out.as_bytes());
    let row = reader.records().next().unwrap().unwrap();
    assert_eq!(&row[1], "Acme, \"The\" Co.");
}

#[test]
fn json_is_one_array_in_input_order_with_errors_as_objects() {
    let server = recorded();
    let out = stdout_of(
        quotes_for(&server).args(["-f", "json", "QQQ", "NOPE", "A B", "OCDO.L"]),
        1,
    );
    // price is a number with exactly --precision decimals, as text.
    // Pence become pounds, with every decimal kept; the quoted price says what was sent.
    assert!(out.contains(r#""price":3.0530"#), "{out}");
    assert!(
        out.contains(r#""quoted_price":305.30,"quoted_currency":"GBp""#),
        "{out}"
    );
    let parsed: serde_json::Value = serde_json::from_str(&out).unwrap();
    let items = parsed.as_array().unwrap();
    assert_eq!(items.len(), 4);
    assert_eq!(items[0]["symbol"], "QQQ");
    assert_eq!(items[0]["currency"], "USD");
    assert_eq!(items[0]["time"], "2025-02-19T21:00:00Z");
    assert_eq!(items[0]["source"], "yahoo");
    assert_eq!(items[0]["name"], "Invesco QQQ Trust");
    // A multi-year recording: its chartPreviousClose is not a previous day's close.
    assert!(items[0].get("previous_close").is_none(), "{out}");
    assert!(items[0].get("change").is_none(), "{out}");
    assert_eq!(items[1]["symbol"], "NOPE");
    assert_eq!(items[1]["error"]["kind"], "not_found");
    assert!(
        items[1]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not found")
    );
    assert_eq!(items[2]["symbol"], "A B");
    assert_eq!(items[2]["error"]["kind"], "invalid_ticker");
    assert_eq!(items[3]["symbol"], "OCDO.L");
    assert_eq!(items[3]["currency"], "GBP");
    assert_eq!(items[3]["quoted_currency"], "GBp");
}

#[test]
fn json_is_valid_when_every_ticker_fails() {
    let server = recorded();
    let out = stdout_of(
        quotes_for(&server).args(["-f", "json", "NOPE", "ALSO-NOPE"]),
        1,
    );
    let parsed: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(parsed.as_array().unwrap().len(), 2);
    assert!(parsed[0]["error"].is_object() && parsed[1]["error"].is_object());
}

#[test]
fn jsonl_is_one_object_per_line() {
    let server = recorded();
    let out = stdout_of(
        quotes_for(&server).args(["-f", "jsonl", "--precision", "4", "AAPL", "NOPE"]),
        1,
    );
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert!(
        out.lines().next().unwrap().contains(r#""price":220.0030,"#),
        "{out}"
    );
    assert_eq!(lines[1]["error"]["kind"], "not_found");
}

#[test]
fn precision_rounds_half_to_even() {
    let server = Server::start(|req| Reply::chart(&req.symbol(), "2.675", Some("USD"), 1));
    for (precision, want) in [
        ("0", "3"),
        ("1", "2.7"),
        ("2", "2.68"),
        ("3", "2.675"),
        ("10", "2.6750000000"),
    ] {
        let out = stdout_of(
            quotes_for(&server).args(["-o", "price", "--precision", precision, "X"]),
            0,
        );
        assert_eq!(out, format!("{want}\n"), "--precision {precision}");
    }
}

#[test]
fn dash_o_price_prints_just_the_number() {
    let server = recorded();
    let out = stdout_of(quotes_for(&server).args(["-o", "price", "AAPL"]), 0);
    assert_eq!(out, "220.00\n");
}

#[test]
fn ledger_output_quotes_odd_commodities() {
    let server = recorded();
    let out = stdout_of(
        quotes_for(&server).args(["-f", "ledger", "QQQ", "^GSPC", "OCDO.L"]),
        0,
    );
    assert_eq!(
        out,
        "P 2025-02-19 21:00:00 QQQ 539.52 USD\n\
         P 2025-02-19 21:20:00 \"^GSPC\" 5998.74 USD\n\
         P 2025-02-20 11:32:23 \"OCDO.L\" 3.0530 GBP\n"
    );
    check_with_hledger_and_ledger(&out);
}

#[test]
fn beancount_refuses_symbols_it_cannot_name_with_a_hint() {
    let server = recorded();
    let out = quotes_for(&server)
        .args([
            "-f",
            "beancount",
            "--keep-minor-units",
            "QQQ",
            "^GSPC",
            "AAPL",
            "OCDO.L",
        ])
        .assert()
        .code(1)
        .stdout("2025-02-19 price QQQ 539.52 USD\n2025-03-24 price AAPL 220.00 USD\n")
        .stderr(
            predicate::str::contains("quotes: ^GSPC: ^GSPC cannot be a beancount commodity")
                .and(predicate::str::contains("-f ledger"))
                .and(predicate::str::contains("quotes: OCDO.L: currency \"GBp\""))
                .and(predicate::str::contains(
                    "drop --keep-minor-units to write GBP",
                )),
        );
    let out = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    check_with_bean_check(&out);
}

/// `hledger` and `ledger` must both read a journal of our price directives.
fn check_with_hledger_and_ledger(journal: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("prices.journal");
    std::fs::write(&file, journal).unwrap();
    if require_tool("hledger") {
        let out = StdCommand::new("hledger")
            .args(["-f"])
            .arg(&file)
            .args(["prices"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "hledger rejected:\n{journal}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            text.lines().count(),
            journal.lines().count(),
            "hledger read:\n{text}"
        );
        assert!(text.contains("^GSPC"), "{text}");
    }
    if require_tool("ledger") {
        let out = StdCommand::new("ledger")
            .args(["-f"])
            .arg(&file)
            .args(["bal"])
            .output()
            .unwrap();
        // ledger lists only prices of commodities it holds, so this checks the syntax.
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "ledger rejected:\n{journal}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// `bean-check` must accept our price directives.
pub(crate) fn check_with_bean_check(prices: &str) {
    if !require_tool("bean-check") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("prices.beancount");
    std::fs::write(&file, prices).unwrap();
    let out = StdCommand::new("bean-check").arg(&file).output().unwrap();
    assert!(
        out.status.success(),
        "bean-check rejected:\n{prices}\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn tickers_come_from_stdin_files_and_arguments_in_order() {
    let server = Server::start(|req| Reply::chart(&req.symbol(), "1", None, 1));
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("watchlist");
    std::fs::write(&list, "# funds\nF1, F2\n\n  F3 # trailing comment\n").unwrap();
    let out = stdout_of(
        quotes_for(&server)
            .args(["-o", "symbol", "A1", "--file"])
            .arg(&list)
            .args(["-", "Z9"])
            .write_stdin("S1\nS2,S3 # c\n"),
        0,
    );
    assert_eq!(out, "A1\nF1\nF2\nF3\nS1\nS2\nS3\nZ9\n");
}

#[test]
fn stdin_is_read_when_no_tickers_are_given() {
    let server = Server::start(|req| Reply::chart(&req.symbol(), "1", None, 1));
    let out = stdout_of(
        quotes_for(&server)
            .args(["-o", "symbol"])
            .write_stdin("b1 b2\n"),
        0,
    );
    assert_eq!(out, "B1\nB2\n");
}

#[test]
fn no_colour_when_not_a_terminal_or_when_asked() {
    let server = recorded();
    // Not a terminal: no escapes even with the change column.
    let out = stdout_of(
        quotes_for(&server).args(["-o", "symbol,price,change", "AAPL-2020"]),
        0,
    );
    assert!(!out.contains('\x1b'), "{out:?}");
    // --color always forces it; NO_COLOR does not override an explicit request
    // (https://no-color.org: command-line arguments override NO_COLOR).
    let out = stdout_of(
        quotes_for(&server)
            .env("NO_COLOR", "1")
            .args(["--color", "always", "AAPL-2020"]),
        0,
    );
    assert!(out.contains("\x1b[32m"), "{out:?}");
    let out = stdout_of(
        quotes_for(&server).args(["--color", "never", "AAPL-2020"]),
        0,
    );
    assert!(!out.contains('\x1b'), "{out:?}");
}

// script(1) with util-linux's options gives quotes a terminal; what is drawn on a terminal
// is the same on every system (on Windows, through the console's VT mode: src/main.rs).
#[cfg(target_os = "linux")]
#[test]
fn colour_and_progress_on_a_terminal_follow_no_color() {
    // `script` gives the program a pseudo-terminal, as a person's shell would.
    if !require_tool("script") {
        return;
    }
    // SLOW takes longer than the second after which progress appears (progress.rs).
    let server = Server::start(|req| {
        Reply::fixture_as("yahoo_chart_AAPL_range_1d_2020-03-02.json", &req.symbol()).with_delay(
            Duration::from_millis(if req.symbol() == "SLOW" { 1600 } else { 0 }),
        )
    });
    let run = |no_color: bool| {
        let mut cmd = via("script");
        cmd.args(["-qec", &format!("{BIN} AAPL SLOW"), "/dev/null"])
            .env("QUOTES_YAHOO_URL", server.url());
        if no_color {
            cmd.env("NO_COLOR", "1");
        }
        let out = cmd.assert().success();
        String::from_utf8(out.get_output().stdout.clone()).unwrap()
    };
    let coloured = run(false);
    assert!(coloured.contains("\x1b[32m298.81\x1b[0m"), "{coloured:?}");
    // The run took > 1 s on a terminal: progress was drawn and then cleared.
    assert!(coloured.contains("quotes: 1/2 done"), "{coloured:?}");
    assert!(coloured.contains("\r\x1b[2K"), "{coloured:?}");
    let plain = run(true);
    assert!(!plain.contains("\x1b[32m"), "{plain:?}");
}

#[test]
fn progress_is_never_written_when_stderr_is_not_a_terminal() {
    // Slower than the second after which a terminal would see progress (progress.rs).
    let server = Server::start(|req| {
        Reply::chart(&req.symbol(), "1", None, 1).with_delay(Duration::from_millis(1500))
    });
    quotes_for(&server)
        .args(["S1", "S2"])
        .assert()
        .success()
        .stderr("");
}

#[test]
fn completions_and_man_page() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = quotes().args(["--completions", shell]).assert().success();
        let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
        assert!(text.contains("precision"), "{shell} completion lacks flags");
        // The hidden test knobs are in neither --help nor the man page; nor here.
        for hidden in ["watch-rounds", "watch-min", "backoff-base"] {
            assert!(
                !text.contains(hidden),
                "{shell} completion offers --{hidden}"
            );
        }
    }
    quotes()
        .arg("--man")
        .assert()
        .success()
        .stdout(predicate::str::starts_with(".ie").and(predicate::str::contains("\\-\\-format")));
}

#[test]
fn json_failures_name_the_symbol_like_successes_and_keep_the_input() {
    let server = recorded();
    let coinbase = Server::start(|_| {
        Reply::fixture(404, "coinbase_spot_error_invalid_base_currency.404.json")
    });
    let out = stdout_of(
        quotes_for(&server)
            .env("QUOTES_COINBASE_URL", coinbase.url())
            .args(["-f", "jsonl", "nope", "coinbase:xrp-usd", "A B"]),
        1,
    );
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["symbol"], "NOPE");
    assert_eq!(lines[0]["input"], "nope");
    assert_eq!(lines[1]["symbol"], "XRP-USD");
    assert_eq!(lines[1]["input"], "coinbase:xrp-usd");
    assert_eq!(lines[1]["source"], "coinbase");
    assert_eq!(lines[2]["symbol"], "A B");
    assert!(lines[2].get("input").is_none(), "{}", lines[2]);
}

#[test]
fn jsonl_output_is_exact_for_a_recorded_response() {
    let server = recorded();
    let out = stdout_of(quotes_for(&server).args(["-f", "jsonl", "QQQ", "NOPE"]), 1);
    assert_eq!(
        out,
        concat!(
            r#"{"symbol":"QQQ","price":539.52,"currency":"USD","time":"2025-02-19T21:00:00Z","date":"2025-02-19","name":"Invesco QQQ Trust","exchange":"NasdaqGM","source":"yahoo"}"#,
            "\n",
            r#"{"symbol":"NOPE","source":"yahoo","error":{"kind":"not_found","message":"not found on Yahoo (No data found, symbol may be delisted); check the symbol and its exchange suffix, e.g. VOD.L"}}"#,
            "\n"
        )
    );
}

#[test]
fn invalid_utf8_on_stdin_is_one_bad_ticker_not_a_failed_run() {
    let server = Server::start(|req| Reply::chart(&req.symbol(), "1", None, 1));
    let mut input = b"GOOD\n".to_vec();
    input.extend_from_slice(&[0xff, 0xfe, b'\n']);
    input.extend_from_slice(b"ALSO\n");
    quotes_for(&server)
        .args(["-o", "symbol"])
        .write_stdin(input)
        .assert()
        .code(1)
        .stdout("GOOD\nALSO\n")
        .stderr(predicate::str::contains("invalid ticker"));
}

#[test]
fn a_time_outside_the_calendar_is_an_error_in_ledger_output_never_a_lost_line() {
    // A time outside the calendar is no market's (issue 18): the answer is malformed.
    let server =
        Server::start(|req| Reply::chart(&req.symbol(), "5", Some("USD"), 999_999_999_999_999));
    quotes_for(&server)
        .args(["-f", "ledger", "ODD"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(
            "quotes: ODD: malformed response from Yahoo: regularMarketTime 999999999999999 is \
             not a time\n",
        );
    // A price without a time is refused by the format that needs a date.
    let server = Server::start(|req| {
        let body = crate::support::chart_body(&req.symbol(), "5", Some("USD"), 1_740_000_000)
            .replace(r#""regularMarketTime":1740000000,"#, "");
        Reply::json(200, body)
    });
    quotes_for(&server)
        .args(["-f", "ledger", "ODD"])
        .assert()
        .code(1)
        .stdout("")
        .stderr("quotes: ODD: no time for the price; a ledger price needs a date\n");
}

#[test]
fn completions_and_man_work_with_the_url_variables_set() {
    for args in [&["--completions", "bash"][..], &["--man"][..]] {
        quotes()
            .env("QUOTES_YAHOO_URL", "http://127.0.0.1:9")
            .env("QUOTES_COINBASE_URL", "http://127.0.0.1:9")
            .args(args)
            .assert()
            .success()
            .stdout(predicate::str::contains("yahoo"))
            .stderr("");
    }
}
