//! Every printed number is the source's number (issue 18, "precision"): a price under a cent
//! keeps its significant digits in every format, a source's stated decimals are the floor,
//! an ECB quotient keeps 6 significant digits, an explicit `--precision` that would write a
//! price as zero is that ticker's error, and a conversion whose product cannot be held is
//! refused rather than printed as 0.00. Local servers only.

use predicates::prelude::*;

use crate::cmd::quotes;
use crate::support::{Reply, Request, Server, chart_body, coinbase_body};

/// 2025-03-24T13:51:33Z.
const T: i64 = 1_742_824_293;

/// A port nothing listens on, for the sources a test does not serve.
const NOWHERE: &str = "http://127.0.0.1:9";

/// Output as text (the tests' outputs are UTF-8).
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("UTF-8")
}

/// A chart answer for `symbol` at `price`, stating `hint` decimals (`meta.priceHint`).
fn chart_with_hint(symbol: &str, price: &str, hint: &str) -> Reply {
    let body = chart_body(symbol, price, Some("USD"), T)
        .replace(r#""priceHint":2"#, &format!(r#""priceHint":{hint}"#));
    Reply::json(200, body)
}

/// Yahoo quoting sub-cent and sub-dollar prices as Yahoo sends them.
fn small_yahoo() -> Server {
    Server::start(|req| match req.symbol().as_str() {
        // Yahoo states 4 decimals for currencies; 0.006712 needs 6.
        "JPYUSD=X" => chart_with_hint("JPYUSD=X", "0.006712", "4"),
        "PENNY" => Reply::chart("PENNY", "0.0012", Some("USD"), T),
        "EURUSD=X" => chart_with_hint("EURUSD=X", "1.08", "4"),
        "FLOAT=X" => chart_with_hint("FLOAT=X", "1.0811999797821045", "4"),
        "HUGEHINT" => chart_with_hint("HUGEHINT", "12.5", "4000000000"),
        symbol => Reply::chart(symbol, "220.003", Some("USD"), T),
    })
}

/// Coinbase spot prices: SHIB at 0.00001234, DOGE at 0.3812 (sent with trailing zeros).
fn small_coinbase() -> Server {
    Server::start(|req| match req.symbol().as_str() {
        "SHIB-USD" => Reply::json(200, coinbase_body("SHIB", "USD", "0.00001234")),
        "DOGE-USD" => Reply::json(200, coinbase_body("DOGE", "USD", "0.38120000")),
        _ => Reply::json(200, coinbase_body("BTC", "USD", "97208.17")),
    })
}

#[test]
fn a_price_under_a_cent_keeps_its_significant_digits_in_every_format() {
    let yahoo = small_yahoo();
    let coinbase = small_coinbase();
    let run = |args: &[&str]| {
        let out = crate::cmd::quotes_for_both(&yahoo, &coinbase)
            .args(args)
            .args([
                "JPYUSD=X",
                "PENNY",
                "coinbase:SHIB-USD",
                "coinbase:DOGE-USD",
            ])
            .assert()
            .success();
        text(&out.get_output().stdout)
    };
    assert_eq!(
        run(&[]),
        "JPYUSD=X    0.006712  USD\n\
         PENNY         0.0012  USD\n\
         SHIB-USD  0.00001234  USD\n\
         DOGE-USD      0.3812  USD\n"
    );
    assert_eq!(
        run(&["-f", "tsv", "-o", "symbol,price"]),
        "JPYUSD=X\t0.006712\nPENNY\t0.0012\nSHIB-USD\t0.00001234\nDOGE-USD\t0.3812\n"
    );
    assert_eq!(
        run(&["-f", "csv", "-o", "symbol,price"]),
        "symbol,price\r\nJPYUSD=X,0.006712\r\nPENNY,0.0012\r\nSHIB-USD,0.00001234\r\n\
         DOGE-USD,0.3812\r\n"
    );
    let json: serde_json::Value = serde_json::from_str(&run(&["-f", "json"])).unwrap();
    let prices: Vec<String> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["price"].to_string())
        .collect();
    assert_eq!(prices, ["0.006712", "0.0012", "0.00001234", "0.3812"]);
    let jsonl = run(&["-f", "jsonl"]);
    assert!(jsonl.contains(r#""price":0.00001234,"#), "{jsonl}");
    let ledger = run(&["-f", "ledger"]);
    assert!(ledger.contains(" SHIB 0.00001234 USD\n"), "{ledger}");
    assert!(ledger.contains(" JPY 0.006712 USD\n"), "{ledger}");
    let beancount = run(&["-f", "beancount"]);
    assert!(
        beancount.contains(" price SHIB 0.00001234 USD\n"),
        "{beancount}"
    );
    assert!(
        beancount.contains(" price DOGE 0.3812 USD\n"),
        "{beancount}"
    );
}

#[test]
fn the_decimals_a_source_states_are_the_floor() {
    let yahoo = small_yahoo();
    let out = quotes()
        .env("QUOTES_YAHOO_URL", yahoo.url())
        .args(["-f", "tsv", "-o", "symbol,price"])
        .args(["EURUSD=X", "FLOAT=X", "HUGEHINT", "AAPL"])
        .assert()
        .success();
    assert_eq!(
        text(&out.get_output().stdout),
        // priceHint 4: 1.08 is 1.0800, a float's tail is rounded at the 4th decimal; a
        // hint no market uses is no hint; an ordinary price stays at two decimals.
        "EURUSD=X\t1.0800\nFLOAT=X\t1.0812\nHUGEHINT\t12.50\nAAPL\t220.00\n"
    );
}

/// The ECB's IDR rate (17633.41 rupiah per euro): its inverse is 0.0000567105…, 6
/// significant digits, not 6 decimals (0.000057, 0.6% off).
#[test]
fn an_ecb_inverse_keeps_six_significant_digits() {
    let ecb = Server::start(|req: &Request| {
        assert!(req.path.contains("D.IDR.EUR.SP00.A"), "{}", req.path);
        Reply::text(
            200,
            "KEY,FREQ,CURRENCY,CURRENCY_DENOM,EXR_TYPE,EXR_SUFFIX,TIME_PERIOD,OBS_VALUE,DECIMALS\r\n\
             EXR.D.IDR.EUR.SP00.A,D,IDR,EUR,SP00,A,2025-06-02,17633.41,2\r\n",
        )
    });
    let out = quotes()
        .env("QUOTES_ECB_URL", ecb.url())
        .args(["-f", "ledger", "ecb:IDR-EUR", "ecb:EUR-IDR"])
        .assert()
        .success();
    assert_eq!(
        text(&out.get_output().stdout),
        "P 2025-06-02 IDR 0.0000567105 EUR\nP 2025-06-02 EUR 17633.41 IDR\n"
    );
}

#[test]
fn an_explicit_precision_that_writes_a_price_as_zero_is_that_tickers_error() {
    let coinbase = small_coinbase();
    for format in ["table", "tsv", "csv", "ledger", "beancount"] {
        let out = quotes()
            .env("QUOTES_COINBASE_URL", coinbase.url())
            .args(["-f", format, "--precision", "2"])
            .args(["coinbase:SHIB-USD", "coinbase:BTC-USD"])
            .assert()
            .code(1);
        let stdout = text(&out.get_output().stdout);
        assert!(stdout.contains("97208.17"), "{format}: {stdout}");
        assert!(!stdout.contains("SHIB"), "{format}: {stdout}");
        assert_eq!(
            text(&out.get_output().stderr),
            "quotes: SHIB-USD: the price 0.00001234 rounds to zero at --precision 2; use \
             --precision 8 or more, or leave --precision out\n",
            "{format}"
        );
    }
    let out = quotes()
        .env("QUOTES_COINBASE_URL", coinbase.url())
        .args(["-f", "json", "--precision", "5", "coinbase:SHIB-USD"])
        .assert()
        .success();
    assert!(
        text(&out.get_output().stdout).contains(r#""price":0.00001,"#),
        "5 decimals hold it"
    );
    let out = quotes()
        .env("QUOTES_COINBASE_URL", coinbase.url())
        .args(["-f", "jsonl", "--precision", "4", "coinbase:SHIB-USD"])
        .assert()
        .code(1);
    let line: serde_json::Value = serde_json::from_str(&text(&out.get_output().stdout)).unwrap();
    assert_eq!(line["error"]["kind"], "unrepresentable");
    assert_eq!(line["symbol"], "SHIB-USD");
}

/// Candles for every day asked, each closing at `close`.
fn candles(req: &Request, close: &str) -> Reply {
    candles_by_day(req, |_| Some(close.to_string()))
}

/// Candles for the days asked, newest first as Coinbase sends them, closing at `close(day)`;
/// none for a day it gives `None`.
pub fn candles_by_day(req: &Request, close: impl Fn(jiff::civil::Date) -> Option<String>) -> Reply {
    let day = |param: &str| -> jiff::civil::Date {
        let text = req.query_param(param).expect("start and end");
        text[..10].parse().expect("a day")
    };
    let (start, end) = (day("start"), day("end"));
    let mut rows = Vec::new();
    let mut d = end;
    while d >= start {
        let t = d
            .to_zoned(jiff::tz::TimeZone::UTC)
            .unwrap()
            .timestamp()
            .as_second();
        if let Some(close) = close(d) {
            rows.push(format!("[{t},1,2,3,{close},5]"));
        }
        d = d.yesterday().unwrap();
    }
    Reply::json(200, format!("[{}]", rows.join(",")))
}

#[test]
fn update_refuses_a_price_its_precision_would_write_as_zero() {
    let exchange = Server::start(|req| candles(req, "0.00001234"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("prices.journal");
    std::fs::write(&file, "P 2021-01-01 BTC 24070.97 EUR\n").unwrap();
    let update = |extra: &[&str]| {
        let mut cmd = quotes();
        cmd.env("QUOTES_COINBASE_URL", NOWHERE)
            .env("QUOTES_COINBASE_EXCHANGE_URL", exchange.url())
            .env("QUOTES_CACHE_DIR", dir.path().join("cache"))
            .arg("--update")
            .arg(&file)
            .args(["--from", "2021-01-04", "--to", "2021-01-05"])
            .args(extra)
            .arg("coinbase:SHIB-USD");
        cmd
    };
    let out = update(&["--precision", "2"]).assert().code(1);
    assert!(
        text(&out.get_output().stderr)
            .contains("quotes: SHIB-USD: the price 0.00001234 rounds to zero at --precision 2"),
        "{}",
        text(&out.get_output().stderr)
    );
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "P 2021-01-01 BTC 24070.97 EUR\n",
        "nothing appended"
    );
    update(&[]).assert().success();
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "P 2021-01-01 BTC 24070.97 EUR\n\
         P 2021-01-04 SHIB 0.00001234 USD\n\
         P 2021-01-05 SHIB 0.00001234 USD\n"
    );
}

/// Yahoo with AAPL at 220.003 USD and absurd or tiny USD rates.
fn rates_yahoo(rate: &'static str) -> Server {
    Server::start(move |req| match req.symbol().as_str() {
        "USDEUR=X" => Reply::chart("USDEUR=X", rate, Some("EUR"), T),
        symbol => Reply::chart(symbol, "220.003", Some("USD"), T),
    })
}

#[test]
fn a_conversion_whose_product_cannot_be_held_is_refused_never_printed_as_zero() {
    let absurd = rates_yahoo("1e-28");
    let out = quotes()
        .env("QUOTES_YAHOO_URL", absurd.url())
        .args(["-f", "jsonl", "--currency", "EUR", "AAPL"])
        .assert()
        .code(1);
    let line: serde_json::Value = serde_json::from_str(&text(&out.get_output().stdout)).unwrap();
    assert_eq!(line["error"]["kind"], "unrepresentable", "{line}");
    let message = line["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("the price 220.003 USD at 0.0000000000000000000000000001 EUR per USD"),
        "{message}"
    );
    // A tiny but holdable product keeps its digits; an explicit precision that would
    // write it as zero is refused like any price.
    let tiny = rates_yahoo("0.00001");
    quotes()
        .env("QUOTES_YAHOO_URL", tiny.url())
        .args([
            "-o",
            "price,currency,fx_rate",
            "-f",
            "tsv",
            "--currency",
            "EUR",
            "AAPL",
        ])
        .assert()
        .success()
        .stdout("0.002200\tEUR\t0.00001\n");
    quotes()
        .env("QUOTES_YAHOO_URL", tiny.url())
        .args(["--precision", "2", "--currency", "EUR", "AAPL"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::starts_with(
            "quotes: AAPL: the price 0.00220003 rounds to zero at --precision 2",
        ));
}

// ---------------------------------------------------------------------------------------
// Values no market produces (items 4-7): one rule for every source and path

/// A candle closing at 0 is no close: the day is left out of a range with a warning that
/// names it, and `--update` does not append it (it used to print and append `0.00 USD`).
#[test]
fn a_zero_close_is_no_price_and_never_appended() {
    let exchange = Server::start(|req| {
        candles_by_day(req, |day| {
            Some(if day.day() == 5 {
                "0".into()
            } else {
                "24070.97".into()
            })
        })
    });
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let mut cmd = quotes();
        cmd.env("QUOTES_COINBASE_URL", NOWHERE)
            .env("QUOTES_COINBASE_EXCHANGE_URL", exchange.url())
            .env("QUOTES_CACHE_DIR", dir.path().join("cache"))
            .args(["--from", "2021-01-04", "--to", "2021-01-06"])
            .args(args);
        cmd
    };
    run(&["-f", "tsv", "coinbase:BTC-EUR"])
        .assert()
        .success()
        .stdout("BTC-EUR\t2021-01-04\t24070.97\tEUR\nBTC-EUR\t2021-01-06\t24070.97\tEUR\n")
        .stderr("quotes: BTC-EUR: warning: Coinbase sent no close for 2021-01-05; left out\n");
    let file = dir.path().join("prices.journal");
    std::fs::write(&file, "").unwrap();
    run(&["--update", file.to_str().unwrap(), "coinbase:BTC-EUR"])
        .assert()
        .success();
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "P 2021-01-04 BTC 24070.97 EUR\nP 2021-01-06 BTC 24070.97 EUR\n"
    );
}

/// Each source and path refuses a date or time more than a day ahead of this clock: an ECB
/// rate of 2999 (it was printed as the latest, and converted prices), a Yahoo market time
/// outside the calendar, a split of 2100 (it multiplied every close 1000 times).
#[test]
fn the_future_is_malformed_wherever_it_comes_from() {
    let ecb = Server::start(|_| {
        Reply::text(
            200,
            "KEY,FREQ,CURRENCY,CURRENCY_DENOM,EXR_TYPE,EXR_SUFFIX,TIME_PERIOD,OBS_VALUE\r\n\
             EXR.D.USD.EUR.SP00.A,D,USD,EUR,SP00,A,2025-06-02,1.1400\r\n\
             EXR.D.USD.EUR.SP00.A,D,USD,EUR,SP00,A,2999-01-01,1.1000\r\n",
        )
    });
    let yahoo = Server::start(|req| match req.symbol().as_str() {
        "NVDA" => {
            // A range's window with a split dated 2100-01-01.
            let body = chart_body("NVDA", "13.2", Some("USD"), 1_612_189_800).replace(
                r#""indicators""#,
                r#""events":{"splits":{"4102444800":{"date":4102444800,"numerator":1000,"denominator":1}}},"indicators""#,
            );
            Reply::json(200, body)
        }
        "FAR" => Reply::json(
            200,
            chart_body("FAR", "5", Some("USD"), T).replace(
                &format!(r#""regularMarketTime":{T}"#),
                r#""regularMarketTime":253402300800"#,
            ),
        ),
        "SAP.DE" => Reply::chart("SAP.DE", "250.1", Some("EUR"), T),
        symbol => Reply::chart(symbol, "100", Some("USD"), T),
    });
    let out = quotes()
        .env("QUOTES_ECB_URL", ecb.url())
        .env("QUOTES_YAHOO_URL", yahoo.url())
        .args(["-f", "ledger", "ecb:EUR-USD", "FAR", "AAPL"])
        .assert()
        .code(1);
    assert_eq!(
        text(&out.get_output().stdout),
        "P 2025-03-24 13:51:33 AAPL 100.00 USD\n"
    );
    assert_eq!(
        text(&out.get_output().stderr),
        "quotes: EUR-USD: malformed response from the ECB: a rate dated 2999-01-01 is in the \
         future\n\
         quotes: FAR: malformed response from Yahoo: regularMarketTime 253402300800 is not a \
         time\n"
    );
    // The same rate is no rate for --currency.
    quotes()
        .env("QUOTES_ECB_URL", ecb.url())
        .env("QUOTES_YAHOO_URL", yahoo.url())
        .args(["--currency", "USD", "--fx", "ecb", "SAP.DE"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "no USD rate for EUR: malformed response from the ECB: a rate dated 2999-01-01",
        ));
    let out = quotes()
        .env("QUOTES_YAHOO_URL", yahoo.url())
        .env("QUOTES_CACHE_DIR", tempfile::tempdir().unwrap().path())
        .args(["--from", "2021-02-01", "--to", "2021-02-01", "NVDA"])
        .assert()
        .code(1)
        .stdout("");
    assert!(
        text(&out.get_output().stderr)
            .starts_with("quotes: NVDA: malformed response from Yahoo: a split dated 2100-01-01"),
        "{}",
        text(&out.get_output().stderr)
    );
}

/// The ECB's CSV is read by its header: a row with more fields than the header is malformed,
/// never read by position (`TIME_PERIOD,OBS_VALUE` shifted printed `P 2025-06-02 EUR 9 ZAR`).
#[test]
fn a_csv_row_that_does_not_match_its_header_is_malformed() {
    let ecb = Server::start(|_| {
        Reply::text(
            200,
            "CURRENCY,TIME_PERIOD,OBS_VALUE\r\n\
             ZAR,2025-06-02,20.1234\r\n\
             ZAR,2025-06-02,2025-06-03,9\r\n",
        )
    });
    quotes()
        .env("QUOTES_ECB_URL", ecb.url())
        .args(["-f", "ledger", "ecb:EUR-ZAR"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(
            "quotes: EUR-ZAR: malformed response from the ECB: row 2 has 4 fields, the \
             header 3\n",
        );
}

/// A Yahoo answer about another instrument is malformed: MSFT's chart is never printed as
/// AAPL's. Yahoo's own ways of writing the symbol asked are the same instrument.
#[test]
fn the_symbol_answered_is_the_symbol_asked() {
    let yahoo = Server::start(|req| match req.symbol().as_str() {
        "AAPL" => Reply::chart("MSFT", "400.5", Some("USD"), T),
        // Yahoo writes a pair against the dollar in its short form.
        "USDJPY=X" => Reply::chart("JPY=X", "151.5", Some("JPY"), T),
        "^GSPC" => Reply::chart("^gspc", "5998.74", Some("USD"), T),
        symbol => Reply::chart(symbol, "1", Some("USD"), T),
    });
    let out = quotes()
        .env("QUOTES_YAHOO_URL", yahoo.url())
        .args(["-f", "tsv", "AAPL", "USDJPY=X", "^GSPC"])
        .assert()
        .code(1);
    assert_eq!(
        text(&out.get_output().stdout),
        "USDJPY=X\t151.50\tJPY\n^GSPC\t5998.74\tUSD\n"
    );
    assert_eq!(
        text(&out.get_output().stderr),
        "quotes: AAPL: malformed response from Yahoo: the answer is about MSFT, not AAPL\n"
    );
}
