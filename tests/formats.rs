//! Integration tests for output formats and input handling (issue 3): every format's
//! exact output for the same recorded responses, parsed back by real parsers, and
//! checked by hledger/ledger/bean-check when they are installed.

mod support;

use std::path::Path;
use std::process::Command as StdCommand;
use std::time::Duration;

use assert_cmd::Command;
use predicates::prelude::*;
use support::{Reply, Server};

/// Recorded bodies: equity, ETF, pence-quoted London listing, crypto; anything else 404.
fn recorded() -> Server {
    Server::start(|req| match req.symbol().as_str() {
        "AAPL" => Reply::fixture(200, "yahoo_chart_AAPL.json"),
        "QQQ" => Reply::fixture(200, "yahoo_chart_QQQ.json"),
        "OCDO.L" => Reply::fixture(200, "yahoo_chart_OCDO.L.json"),
        "BTC-USD" => Reply::fixture(200, "yahoo_chart_BTC-USD.json"),
        "^GSPC" => Reply::chart("^GSPC", "5998.74", Some("USD"), 1_740_000_000),
        _ => Reply::fixture(404, "yahoo_chart_error_not_found.404.json"),
    })
}

fn quotes(server: &Server) -> Command {
    let mut cmd = Command::cargo_bin("quotes").unwrap();
    cmd.env("QUOTES_YAHOO_URL", server.url())
        .env_remove("NO_COLOR")
        .timeout(Duration::from_secs(60));
    cmd
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
        quotes(&server)
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
    let out = stdout_of(quotes(&server).args(["-f", "tsv", "-o", all]).args(FOUR), 0);
    assert_eq!(
        out,
        "AAPL\t220.00\tUSD\t2025-03-24T13:51:33Z\t52.70\t31.50\t167.30\tApple Inc.\tNasdaqGS\tyahoo\n\
         QQQ\t539.52\tUSD\t2025-02-19T21:00:00Z\t326.91\t153.76\t212.61\tInvesco QQQ Trust\tNasdaqGM\tyahoo\n\
         OCDO.L\t305.30\tGBp\t2025-02-20T11:32:23Z\t-973.70\t-76.13\t1279.00\tOcado Group plc\tLSE\tyahoo\n\
         BTC-USD\t97208.17\tUSD\t2025-02-20T11:44:00Z\t90008.00\t1250.08\t7200.17\tBitcoin USD\tCCC\tyahoo\n"
    );
}

#[test]
fn csv_has_a_header_and_parses_back() {
    let server = recorded();
    let out = stdout_of(
        quotes(&server)
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
        quotes(&server).args(["-f", "csv", "-o", "symbol,name", "ACME"]),
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
        quotes(&server).args(["-f", "json", "QQQ", "NOPE", "A B", "OCDO.L"]),
        1,
    );
    // price is a number with exactly --precision decimals, as text.
    assert!(out.contains(r#""price":305.30"#), "{out}");
    let parsed: serde_json::Value = serde_json::from_str(&out).unwrap();
    let items = parsed.as_array().unwrap();
    assert_eq!(items.len(), 4);
    assert_eq!(items[0]["symbol"], "QQQ");
    assert_eq!(items[0]["currency"], "USD");
    assert_eq!(items[0]["time"], "2025-02-19T21:00:00Z");
    assert_eq!(items[0]["source"], "yahoo");
    assert_eq!(items[0]["name"], "Invesco QQQ Trust");
    assert!(out.contains(r#""previous_close":212.61"#), "{out}");
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
    assert_eq!(items[3]["price"].as_f64(), Some(305.3));
}

#[test]
fn json_is_valid_when_every_ticker_fails() {
    let server = recorded();
    let out = stdout_of(quotes(&server).args(["-f", "json", "NOPE", "ALSO-NOPE"]), 1);
    let parsed: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(parsed.as_array().unwrap().len(), 2);
    assert!(parsed[0]["error"].is_object() && parsed[1]["error"].is_object());
}

#[test]
fn jsonl_is_one_object_per_line() {
    let server = recorded();
    let out = stdout_of(
        quotes(&server).args(["-f", "jsonl", "--precision", "4", "AAPL", "NOPE"]),
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
            quotes(&server).args(["-o", "price", "--precision", precision, "X"]),
            0,
        );
        assert_eq!(out, format!("{want}\n"), "--precision {precision}");
    }
    quotes(&server)
        .args(["--precision", "11", "X"])
        .assert()
        .code(2);
}

#[test]
fn dash_o_price_prints_just_the_number() {
    let server = recorded();
    let out = stdout_of(quotes(&server).args(["-o", "price", "AAPL"]), 0);
    assert_eq!(out, "220.00\n");
}

#[test]
fn unknown_field_is_a_usage_error_listing_valid_fields() {
    let server = Server::start(|_| Reply::Close).expect_no_requests();
    quotes(&server)
        .args(["-o", "price,colour", "AAPL"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("colour").and(predicate::str::contains(
            "symbol, price, currency, time, date, change, change_percent, previous_close, name, exchange, source",
        )));
}

#[test]
fn ledger_output_quotes_odd_commodities() {
    let server = recorded();
    let out = stdout_of(
        quotes(&server).args(["-f", "ledger", "QQQ", "^GSPC", "OCDO.L"]),
        0,
    );
    assert_eq!(
        out,
        "P 2025-02-19 21:00:00 QQQ 539.52 USD\n\
         P 2025-02-19 21:20:00 \"^GSPC\" 5998.74 USD\n\
         P 2025-02-20 11:32:23 \"OCDO.L\" 3.0530 GBP\n"
    );
    check_with_hledger_or_ledger(&out);
}

#[test]
fn beancount_refuses_symbols_it_cannot_name_with_a_hint() {
    let server = recorded();
    let out = quotes(&server)
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

/// Run `hledger` (or `ledger`) on a journal of our price directives when installed.
fn check_with_hledger_or_ledger(journal: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("prices.journal");
    std::fs::write(&file, journal).unwrap();
    let mut checked = false;
    if have("hledger") {
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
        assert!(
            text.contains("\"^GSPC\" 5998.74 USD") || text.contains("^GSPC"),
            "{text}"
        );
        checked = true;
    }
    if have("ledger") {
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
        checked = true;
    }
    if !checked {
        eprintln!("note: neither hledger nor ledger installed; journal not checked by a real tool");
    }
}

/// Run `bean-check` on our price directives when installed.
fn check_with_bean_check(prices: &str) {
    if !have("bean-check") {
        eprintln!("note: bean-check not installed; beancount output not checked by the real tool");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("prices.beancount");
    // Declare the commodities the way a strict ledger would, then the prices.
    std::fs::write(&file, prices).unwrap();
    let out = StdCommand::new("bean-check").arg(&file).output().unwrap();
    assert!(
        out.status.success(),
        "bean-check rejected:\n{prices}\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn have(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| Path::new(&dir).join(tool).is_file())
    })
}

#[test]
fn tickers_come_from_stdin_files_and_arguments_in_order() {
    let server = Server::start(|req| Reply::chart(&req.symbol(), "1", None, 1));
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("watchlist");
    std::fs::write(&list, "# funds\nF1, F2\n\n  F3 # trailing comment\n").unwrap();
    let out = stdout_of(
        quotes(&server)
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
        quotes(&server)
            .args(["-o", "symbol"])
            .write_stdin("b1 b2\n"),
        0,
    );
    assert_eq!(out, "B1\nB2\n");
}

#[test]
fn no_tickers_at_all_is_a_usage_error_with_a_hint() {
    let server = Server::start(|_| Reply::Close).expect_no_requests();
    quotes(&server)
        .write_stdin("# only a comment\n\n")
        .assert()
        .code(2)
        .stdout("")
        .stderr(
            predicate::str::contains("no tickers given")
                .and(predicate::function(|s: &str| s.lines().count() == 1)),
        );
}

#[test]
fn a_missing_file_is_a_usage_error() {
    let server = Server::start(|_| Reply::Close).expect_no_requests();
    quotes(&server)
        .args(["--file", "/definitely/not/here", "AAPL"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot read /definitely/not/here"));
}

#[test]
fn no_colour_when_not_a_terminal_or_when_asked() {
    let server = recorded();
    // Not a terminal: no escapes even with the change column.
    let out = stdout_of(
        quotes(&server).args(["-o", "symbol,price,change", "AAPL"]),
        0,
    );
    assert!(!out.contains('\x1b'), "{out:?}");
    // --color always forces it; NO_COLOR does not override an explicit request
    // (https://no-color.org: command-line arguments override NO_COLOR).
    let out = stdout_of(
        quotes(&server)
            .env("NO_COLOR", "1")
            .args(["--color", "always", "AAPL"]),
        0,
    );
    assert!(out.contains("\x1b[32m"), "{out:?}");
    let out = stdout_of(quotes(&server).args(["--color", "never", "AAPL"]), 0);
    assert!(!out.contains('\x1b'), "{out:?}");
}

#[test]
fn colour_and_progress_on_a_terminal_follow_no_color() {
    // `script` gives the program a pseudo-terminal, as a person's shell would.
    if !Path::new("/usr/bin/script").exists() {
        eprintln!("note: script(1) not installed; terminal behaviour not checked");
        return;
    }
    let server = Server::start(|req| {
        support::Reply::fixture(200, "yahoo_chart_AAPL.json").with_delay(Duration::from_millis(
            if req.symbol() == "SLOW" { 1600 } else { 0 },
        ))
    });
    let bin = assert_cmd::cargo::cargo_bin("quotes");
    let run = |no_color: bool| {
        let mut cmd = StdCommand::new("script");
        cmd.args(["-qec", &format!("{} AAPL SLOW", bin.display()), "/dev/null"])
            .env("QUOTES_YAHOO_URL", server.url());
        if no_color {
            cmd.env("NO_COLOR", "1");
        } else {
            cmd.env_remove("NO_COLOR");
        }
        String::from_utf8(cmd.output().unwrap().stdout).unwrap()
    };
    let coloured = run(false);
    assert!(coloured.contains("\x1b[32m220.00\x1b[0m"), "{coloured:?}");
    // The run took > 1 s on a terminal: progress was drawn and then cleared.
    assert!(coloured.contains("quotes: 1/2 done"), "{coloured:?}");
    assert!(coloured.contains("\r\x1b[2K"), "{coloured:?}");
    let plain = run(true);
    assert!(!plain.contains("\x1b[32m"), "{plain:?}");
}

#[test]
fn progress_is_never_written_when_stderr_is_not_a_terminal() {
    let server = Server::start(|req| {
        Reply::chart(&req.symbol(), "1", None, 1).with_delay(Duration::from_millis(1500))
    });
    quotes(&server)
        .args(["S1", "S2"])
        .assert()
        .success()
        .stderr("");
}

#[test]
fn completions_and_man_page() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = Command::cargo_bin("quotes")
            .unwrap()
            .args(["--completions", shell])
            .assert()
            .success();
        let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
        assert!(text.contains("precision"), "{shell} completion lacks flags");
    }
    Command::cargo_bin("quotes")
        .unwrap()
        .arg("--man")
        .assert()
        .success()
        .stdout(predicate::str::starts_with(".ie").and(predicate::str::contains("\\-\\-format")));
}

#[test]
fn help_has_examples_for_terminal_and_scripts() {
    Command::cargo_bin("quotes")
        .unwrap()
        .arg("--help")
        .assert()
        .success()
        .stdout(
            predicate::str::contains("Examples, at a terminal")
                .and(predicate::str::contains("Examples, in scripts"))
                .and(predicate::str::contains("price=$(quotes -o price VTSAX)")),
        );
}

#[test]
fn json_failures_name_the_symbol_like_successes_and_keep_the_input() {
    let server = recorded();
    let coinbase = Server::start(|_| {
        Reply::fixture(404, "coinbase_spot_error_invalid_base_currency.404.json")
    });
    let out = stdout_of(
        quotes(&server)
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
    let out = stdout_of(quotes(&server).args(["-f", "jsonl", "QQQ", "NOPE"]), 1);
    assert_eq!(
        out,
        concat!(
            r#"{"symbol":"QQQ","price":539.52,"currency":"USD","time":"2025-02-19T21:00:00Z","date":"2025-02-19","change":326.91,"change_percent":153.76,"previous_close":212.61,"name":"Invesco QQQ Trust","exchange":"NasdaqGM","source":"yahoo"}"#,
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
    quotes(&server)
        .args(["-o", "symbol"])
        .write_stdin(input)
        .assert()
        .code(1)
        .stdout("GOOD\nALSO\n")
        .stderr(predicate::str::contains("invalid ticker"));
}

#[test]
fn a_time_outside_the_calendar_is_an_error_in_ledger_output_never_a_lost_line() {
    let server =
        Server::start(|req| Reply::chart(&req.symbol(), "5", Some("USD"), 999_999_999_999_999));
    quotes(&server)
        .args(["-f", "ledger", "ODD"])
        .assert()
        .code(1)
        .stdout("")
        .stderr("quotes: ODD: no time for the price; a ledger price needs a date\n");
}

#[test]
fn completions_and_man_work_with_the_url_variables_set() {
    for args in [&["--completions", "bash"][..], &["--man"][..]] {
        Command::cargo_bin("quotes")
            .unwrap()
            .env("QUOTES_YAHOO_URL", "http://127.0.0.1:9")
            .env("QUOTES_COINBASE_URL", "http://127.0.0.1:9")
            .args(args)
            .assert()
            .success();
    }
    Command::cargo_bin("quotes")
        .unwrap()
        .args(["--man", "AAPL"])
        .assert()
        .code(2);
}

#[test]
fn completions_to_a_full_disk_are_an_error_not_a_panic() {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = StdCommand::new(assert_cmd::cargo::cargo_bin("quotes"))
        .args(["--completions", "bash"])
        .stdout(full)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "quotes: error writing output: No space left on device (os error 28)\n"
    );
}
