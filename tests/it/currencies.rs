//! Integration tests for issue 11, currencies: minor units divided into major ones,
//! `--currency` converting every price in one extra round of requests, and the ECB's
//! reference rates as a source (`ecb:BASE-QUOTE`) and as `--fx ecb`. The real binary runs
//! against local servers that speak Yahoo's chart format, Coinbase's spot format and the
//! ECB's csvdata, answering with the recorded fixtures (`tests/fixtures/`, see SOURCES.md).

use std::ops::{Deref, DerefMut};

use assert_cmd::Command;
use predicates::prelude::*;

use crate::support::{Reply, Request, Server, chart_body, coinbase_body, fixture};

/// 2025-03-24T13:51:33Z, the recorded AAPL answer's `regularMarketTime`.
const T: i64 = 1_742_824_293;

/// A port nothing listens on: a source a test did not point at a server of its own
/// fails to connect instead of reaching the internet.
const NOWHERE: &str = "http://127.0.0.1:9";

/// The suite's scrubbed `quotes` command (`crate::cmd`), with every source pointed at
/// [`NOWHERE`] until a test points it at its server.
struct Quotes {
    command: Command,
}

fn quotes() -> Quotes {
    let mut command = crate::cmd::quotes();
    command
        .env("QUOTES_YAHOO_URL", NOWHERE)
        .env("QUOTES_COINBASE_URL", NOWHERE)
        .env("QUOTES_ECB_URL", NOWHERE);
    Quotes { command }
}

impl Quotes {
    fn yahoo(mut self, server: &Server) -> Quotes {
        self.command.env("QUOTES_YAHOO_URL", server.url());
        self
    }

    fn coinbase(mut self, server: &Server) -> Quotes {
        self.command.env("QUOTES_COINBASE_URL", server.url());
        self
    }

    fn ecb(mut self, server: &Server) -> Quotes {
        self.command.env("QUOTES_ECB_URL", server.url());
        self
    }
}

impl Deref for Quotes {
    type Target = Command;

    fn deref(&self) -> &Command {
        &self.command
    }
}

impl DerefMut for Quotes {
    fn deref_mut(&mut self) -> &mut Command {
        &mut self.command
    }
}

fn stdout(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8(assert.get_output().stdout.clone()).expect("UTF-8 on stdout")
}

fn json(assert: &assert_cmd::assert::Assert) -> serde_json::Value {
    serde_json::from_str(&stdout(assert)).expect("JSON on stdout")
}

/// A chart answer with a previous close, so `change` can be checked.
fn chart_with_previous_close(symbol: &str, price: &str, currency: &str, previous: &str) -> Reply {
    let body = chart_body(symbol, price, Some(currency), T).replace(
        r#""regularMarketPrice":"#,
        &format!(r#""previousClose":{previous},"regularMarketPrice":"#),
    );
    Reply::json(200, body)
}

/// Yahoo with the recorded AAPL (220.003 USD) and OCDO.L (305.3 GBp) answers, a few
/// synthetic listings, and currency pairs at fixed rates; anything else is not found.
fn yahoo() -> Server {
    Server::start(|req| match req.symbol().as_str() {
        "AAPL" => Reply::fixture(200, "yahoo_chart_AAPL.json"),
        "OCDO.L" => Reply::fixture(200, "yahoo_chart_OCDO.L.json"),
        "MSFT" => Reply::chart("MSFT", "400.5", Some("USD"), T),
        "SAP.DE" => Reply::chart("SAP.DE", "250.1", Some("EUR"), T),
        "USDEUR=X" => Reply::chart("USDEUR=X", "0.9123", Some("EUR"), T),
        "GBPEUR=X" => Reply::chart("GBPEUR=X", "1.1854", Some("EUR"), T),
        "USDGBP=X" => Reply::chart("USDGBP=X", "0.8", Some("GBP"), T),
        _ => Reply::fixture(404, "yahoo_chart_error_not_found.404.json"),
    })
}

/// The ECB's data API over the recorded USD and GBP series (2021-01-04..08): each answer
/// cut to the window asked (`lastNObservations=1`: the last day), `404 No results found.`
/// when nothing is left or for another currency, as the real API answers.
pub fn ecb() -> Server {
    Server::start(ecb_answer)
}

fn ecb_answer(req: &Request) -> Reply {
    let no_results = || Reply::text(404, "No results found.");
    let series = req.symbol();
    let name = match series.as_str() {
        "D.USD.EUR.SP00.A" => "ecb_EXR_D.USD.EUR.SP00.A_2021-01-04_2021-01-08.csv",
        "D.GBP.EUR.SP00.A" => "ecb_EXR_D.GBP.EUR.SP00.A_2021-01-04_2021-01-08.csv",
        _ => return no_results(),
    };
    assert!(
        req.path.starts_with("/service/data/EXR/"),
        "unexpected path {}",
        req.path
    );
    assert_eq!(req.query_param("format").as_deref(), Some("csvdata"));
    let text = String::from_utf8(fixture(name)).expect("a UTF-8 fixture");
    let mut lines = text.split("\r\n").filter(|l| !l.is_empty());
    let header = lines.next().unwrap_or_default();
    let rows: Vec<&str> = lines.collect();
    let day = |row: &str| row.split(',').nth(6).unwrap_or_default().to_string();
    let kept: Vec<&str> = if req.query_param("lastNObservations").as_deref() == Some("1") {
        rows.last().copied().into_iter().collect()
    } else {
        let first = req.query_param("startPeriod").unwrap_or_default();
        let last = req.query_param("endPeriod").unwrap_or_default();
        // ISO dates compare as text.
        rows.into_iter()
            .filter(|r| (first.as_str()..=last.as_str()).contains(&day(r).as_str()))
            .collect()
    };
    if kept.is_empty() {
        return no_results();
    }
    Reply::text(200, &format!("{header}\r\n{}\r\n", kept.join("\r\n"))).with_header(
        "content-type",
        "application/vnd.sdmx.data+csv; version=1.0.0",
    )
}

// ---------------------------------------------------------------------------------------
// Minor units
// ---------------------------------------------------------------------------------------

#[test]
fn pence_are_printed_as_pounds_with_four_decimals_by_default() {
    let yahoo = yahoo();
    quotes()
        .yahoo(&yahoo)
        .args(["OCDO.L", "AAPL"])
        .assert()
        .success()
        .stderr("")
        .stdout("OCDO.L  3.0530  GBP\nAAPL    220.00  USD\n");
    // --precision wins over a price's own decimals, half-to-even as everywhere.
    quotes()
        .yahoo(&yahoo)
        .args(["--precision", "2", "-o", "price,currency", "OCDO.L"])
        .assert()
        .success()
        .stdout("3.05  GBP\n");
    // --keep-minor-units prints what the source quoted.
    quotes()
        .yahoo(&yahoo)
        .args(["--keep-minor-units", "OCDO.L"])
        .assert()
        .success()
        .stdout("OCDO.L  305.30  GBp\n");
}

#[test]
fn json_says_what_was_quoted_when_it_differs() {
    let yahoo = yahoo();
    let out = quotes()
        .yahoo(&yahoo)
        .args(["-f", "json", "OCDO.L", "AAPL"])
        .assert()
        .success();
    let text = stdout(&out);
    assert!(
        text.contains(r#""price":3.0530,"currency":"GBP""#),
        "{text}"
    );
    assert!(
        text.contains(r#""quoted_price":305.30,"quoted_currency":"GBp""#),
        "{text}"
    );
    let rows = json(&out);
    assert_eq!(rows[0]["quoted_currency"], "GBp");
    assert!(rows[0].get("fx_rate").is_none(), "no conversion: {text}");
    // AAPL is as quoted: no quoted_* and no fx_* fields.
    for key in [
        "quoted_price",
        "quoted_currency",
        "fx_rate",
        "fx_source",
        "fx_date",
    ] {
        assert!(rows[1].get(key).is_none(), "{key}: {text}");
    }
}

#[test]
fn every_minor_unit_is_divided_and_change_and_previous_close_with_it() {
    let yahoo = Server::start(|req| match req.symbol().as_str() {
        "BARC.L" => chart_with_previous_close("BARC.L", "183.06", "GBX", "180"),
        "NPN.JO" => chart_with_previous_close("NPN.JO", "12345", "ZAc", "12000"),
        "AGL.JO" => chart_with_previous_close("AGL.JO", "50000", "ZAC", "50000"),
        "TEVA.TA" => chart_with_previous_close("TEVA.TA", "6123.5", "ILA", "6200"),
        _ => Reply::fixture(404, "yahoo_chart_error_not_found.404.json"),
    });
    quotes()
        .yahoo(&yahoo)
        .args([
            "-f",
            "tsv",
            "-o",
            "symbol,price,currency,change,change_percent,previous_close",
        ])
        .args(["BARC.L", "NPN.JO", "AGL.JO", "TEVA.TA"])
        .assert()
        .success()
        .stdout(
            "BARC.L\t1.8306\tGBP\t0.0306\t1.70\t1.8000\n\
             NPN.JO\t123.4500\tZAR\t3.4500\t2.88\t120.0000\n\
             AGL.JO\t500.0000\tZAR\t0.0000\t0.00\t500.0000\n\
             TEVA.TA\t61.2350\tILS\t-0.7650\t-1.23\t62.0000\n",
        );
}

#[test]
fn a_london_listing_quoted_in_pounds_or_dollars_is_not_divided() {
    // The currency field decides, never the `.L` suffix.
    let yahoo = Server::start(|req| match req.symbol().as_str() {
        "VOD.L" => Reply::chart("VOD.L", "72.5", Some("GBP"), T),
        "0R2V.L" => Reply::chart("0R2V.L", "150.25", Some("USD"), T),
        _ => Reply::fixture(404, "yahoo_chart_error_not_found.404.json"),
    });
    let out = quotes()
        .yahoo(&yahoo)
        .args(["-f", "json", "VOD.L", "0R2V.L"])
        .assert()
        .success();
    let text = stdout(&out);
    assert!(text.contains(r#""price":72.50,"currency":"GBP""#), "{text}");
    assert!(
        text.contains(r#""price":150.25,"currency":"USD""#),
        "{text}"
    );
    assert!(!text.contains("quoted_price"), "{text}");
}

#[test]
fn pence_round_half_to_even_at_the_fourth_decimal() {
    // 123.455 GBp = 1.23455 GBP: the tie goes to the even 1.2346; 123.445 to 1.2344.
    let yahoo = Server::start(|req| {
        let price = match req.symbol().as_str() {
            "UP.L" => "123.455",
            "DOWN.L" => "123.445",
            _ => "123.465",
        };
        Reply::chart(&req.symbol(), price, Some("GBp"), T)
    });
    quotes()
        .yahoo(&yahoo)
        .args(["-o", "symbol,price", "UP.L", "DOWN.L", "EVEN.L"])
        .assert()
        .success()
        .stdout("UP.L    1.2346\nDOWN.L  1.2344\nEVEN.L  1.2346\n");
}

#[test]
fn bean_check_accepts_prices_converted_into_pounds() {
    let yahoo = yahoo();
    let pence = quotes()
        .yahoo(&yahoo)
        .args(["-f", "beancount", "OCDO.L"])
        .assert()
        .success();
    assert_eq!(stdout(&pence), "2025-02-20 price OCDO.L 3.0530 GBP\n");
    let converted = quotes()
        .yahoo(&yahoo)
        .args(["-f", "beancount", "--currency", "GBP", "AAPL", "OCDO.L"])
        .assert()
        .success();
    assert_eq!(
        stdout(&converted),
        "2025-03-24 price AAPL 176.00 GBP\n2025-02-20 price OCDO.L 3.0530 GBP\n"
    );
    bean_check(&format!(
        "2020-01-01 commodity GBP\n2020-01-01 commodity OCDO.L\n2020-01-01 commodity AAPL\n{}{}",
        stdout(&pence),
        stdout(&converted)
    ));
}

/// `bean-check` must accept `text` (skipped on a laptop without it, failing in CI).
fn bean_check(text: &str) {
    crate::formats::check_with_bean_check(text);
}

// ---------------------------------------------------------------------------------------
// --currency
// ---------------------------------------------------------------------------------------

#[test]
fn currency_fetches_each_pair_once_in_one_extra_round() {
    let yahoo = yahoo();
    quotes()
        .yahoo(&yahoo)
        .args(["--currency", "eur", "-f", "tsv"])
        .args(["AAPL", "MSFT", "OCDO.L", "SAP.DE", "AAPL"])
        .assert()
        .success()
        .stderr("")
        .stdout(
            "AAPL\t200.71\tEUR\n\
             MSFT\t365.38\tEUR\n\
             OCDO.L\t3.6190\tEUR\n\
             SAP.DE\t250.10\tEUR\n\
             AAPL\t200.71\tEUR\n",
        );
    // Four prices (AAPL once), then one rate per currency: USD and GBP (pence normalised
    // first), none for the euro listing. The rates come after every price is in.
    let asked: Vec<String> = yahoo.requests().iter().map(Request::symbol).collect();
    assert_eq!(asked.len(), 6, "{asked:?}");
    let mut prices = asked[..4].to_vec();
    prices.sort();
    assert_eq!(prices, ["AAPL", "MSFT", "OCDO.L", "SAP.DE"]);
    let mut rates = asked[4..].to_vec();
    rates.sort();
    assert_eq!(rates, ["GBPEUR=X", "USDEUR=X"]);
}

#[test]
fn a_conversion_is_the_exact_product_rounded_once() {
    let yahoo = yahoo();
    quotes()
        .yahoo(&yahoo)
        .args([
            "--currency",
            "EUR",
            "--precision",
            "7",
            "-o",
            "price",
            "AAPL",
        ])
        .assert()
        .success()
        .stdout("200.7087369\n");
    let out = quotes()
        .yahoo(&yahoo)
        .args(["--currency", "EUR", "-f", "json", "AAPL"])
        .assert()
        .success();
    let text = stdout(&out);
    assert!(
        text.contains(
            r#""quoted_price":220.00,"quoted_currency":"USD","fx_rate":0.9123,"fx_source":"yahoo","fx_date":"2025-03-24""#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#""price":200.71,"currency":"EUR""#),
        "{text}"
    );
}

#[test]
fn change_and_previous_close_are_converted_change_percent_is_not() {
    let yahoo = Server::start(|req| match req.symbol().as_str() {
        "MSFT" => chart_with_previous_close("MSFT", "400.5", "USD", "390"),
        _ => Reply::chart("USDEUR=X", "0.9", Some("EUR"), T),
    });
    quotes()
        .yahoo(&yahoo)
        .args(["--currency", "EUR", "-f", "tsv"])
        .args([
            "-o",
            "price,change,change_percent,previous_close,quoted_price,fx_rate",
        ])
        .arg("MSFT")
        .assert()
        .success()
        // The rate as sent, with at least the 2 decimals Yahoo states (`priceHint`).
        .stdout("360.45\t9.45\t2.69\t351.00\t400.50\t0.90\n");
}

#[test]
fn a_price_already_in_the_target_currency_costs_no_request() {
    let yahoo = yahoo();
    let out = quotes()
        .yahoo(&yahoo)
        .args(["--currency", "USD", "-f", "json", "AAPL", "MSFT"])
        .assert()
        .success();
    assert_eq!(yahoo.request_count(), 2);
    let text = stdout(&out);
    assert!(!text.contains("fx_") && !text.contains("quoted_"), "{text}");
}

#[test]
fn no_rate_no_price() {
    let yahoo = Server::start(|req| match req.symbol().as_str() {
        "AAPL" => Reply::fixture(200, "yahoo_chart_AAPL.json"),
        "SAP.DE" => Reply::chart("SAP.DE", "250.1", Some("EUR"), T),
        _ => Reply::fixture(404, "yahoo_chart_error_not_found.404.json"),
    });
    quotes()
        .yahoo(&yahoo)
        .args(["--currency", "EUR", "AAPL", "SAP.DE"])
        .assert()
        .code(1)
        .stdout("SAP.DE  250.10  EUR\n")
        .stderr(
            "quotes: AAPL: no EUR rate for USD: not found on Yahoo (No data found, symbol may \
             be delisted); check the symbol and its exchange suffix, e.g. VOD.L\n",
        );
    let out = quotes()
        .yahoo(&yahoo)
        .args(["--currency", "EUR", "-f", "json", "AAPL"])
        .assert()
        .code(1);
    let rows = json(&out);
    assert_eq!(rows[0]["error"]["kind"], "no_rate");
    assert!(rows[0].get("price").is_none(), "never printed unconverted");
}

#[test]
fn a_rate_that_does_not_arrive_before_the_deadline_fails_its_tickers() {
    let yahoo = Server::start(|req| match req.symbol().as_str() {
        "AAPL" => Reply::fixture(200, "yahoo_chart_AAPL.json"),
        _ => Reply::Stall,
    });
    quotes()
        .yahoo(&yahoo)
        .args(["--currency", "EUR", "--deadline", "1", "AAPL"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(
            "quotes: AAPL: no EUR rate for USD: deadline exceeded (--deadline 1 s) before a \
             price arrived\n",
        );
}

#[test]
fn currency_codes_are_checked_before_any_request() {
    let yahoo = Server::start(|_| Reply::Close).expect_no_requests();
    for bad in ["EURO", "GBX", "BTC", "E"] {
        quotes()
            .yahoo(&yahoo)
            .args(["--currency", bad, "AAPL"])
            .assert()
            .code(2)
            .stdout("")
            .stderr(predicate::str::contains("is not an ISO 4217 currency code"));
    }
    for (args, says) in [
        (
            &["--currency", "EUR", "--keep-minor-units", "AAPL"][..],
            "'--currency <CODE>' cannot be used with '--keep-minor-units'",
        ),
        (
            &["--currency", "EUR", "--fx", "coinbase", "AAPL"],
            "invalid value 'coinbase' for '--fx <SOURCE>'",
        ),
        (&["--fx", "ecb", "AAPL"], "--currency <CODE>"),
    ] {
        quotes()
            .yahoo(&yahoo)
            .args(args)
            .assert()
            .code(2)
            .stdout("")
            .stderr(predicate::str::contains(says));
    }
}

#[test]
fn the_fields_say_what_was_quoted_and_the_rate() {
    let yahoo = yahoo();
    quotes()
        .yahoo(&yahoo)
        .args(["--currency", "EUR", "-f", "csv"])
        .args([
            "-o",
            "symbol,price,currency,quoted_price,quoted_currency,fx_rate,fx_date,fx_source",
        ])
        .args(["OCDO.L", "SAP.DE"])
        .assert()
        .success()
        .stdout(
            "symbol,price,currency,quoted_price,quoted_currency,fx_rate,fx_date,fx_source\r\n\
             OCDO.L,3.6190,EUR,305.30,GBp,1.1854,2025-03-24,yahoo\r\n\
             SAP.DE,250.10,EUR,250.10,EUR,,,\r\n",
        );
}

#[test]
fn every_watch_round_converts_again() {
    let yahoo = yahoo();
    let out = quotes()
        .yahoo(&yahoo)
        .args([
            "--watch",
            "0.05",
            "--watch-min",
            "0.05",
            "--watch-rounds",
            "2",
        ])
        .args(["-f", "jsonl", "--currency", "EUR", "AAPL"])
        .assert()
        .success();
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines
            .iter()
            .all(|l| l.contains(r#""price":200.71,"currency":"EUR""#)),
        "{lines:?}"
    );
    assert_eq!(yahoo.hits("USDEUR=X"), 2);
}

// ---------------------------------------------------------------------------------------
// --fx ecb
// ---------------------------------------------------------------------------------------

#[test]
fn ecb_rates_convert_through_the_euro_one_request_per_currency() {
    let (yahoo, ecb) = (yahoo(), ecb());
    let out = quotes()
        .yahoo(&yahoo)
        .ecb(&ecb)
        .args(["--fx", "ecb", "--currency", "EUR", "-f", "json"])
        .args(["AAPL", "MSFT", "OCDO.L", "SAP.DE"])
        .assert()
        .success();
    let rows = json(&out);
    let text = stdout(&out);
    // 220.003 USD ÷ 1.225 USD per euro (2021-01-08, the last of the recorded days).
    assert!(
        text.contains(r#""price":179.59,"currency":"EUR""#),
        "{text}"
    );
    assert!(
        text.contains(r#""price":326.94,"currency":"EUR""#),
        "{text}"
    );
    // 3.053 GBP ÷ 0.90128 GBP per euro, with the 4 decimals of pence.
    assert!(
        text.contains(r#""price":3.3874,"currency":"EUR""#),
        "{text}"
    );
    assert!(
        text.contains(r#""fx_rate":0.816327,"fx_source":"ecb","fx_date":"2021-01-08""#),
        "{text}"
    );
    assert!(rows[3].get("fx_rate").is_none(), "{text}");
    assert_eq!(ecb.request_count(), 2);
    assert_eq!(ecb.hits("D.USD.EUR.SP00.A"), 1);
    assert_eq!(ecb.hits("D.GBP.EUR.SP00.A"), 1);
    for request in ecb.requests() {
        assert_eq!(
            request.query_param("lastNObservations").as_deref(),
            Some("1")
        );
    }
    assert!(yahoo.requests().iter().all(|r| !r.symbol().ends_with("=X")));
}

#[test]
fn ecb_cross_conversion_multiplies_then_divides() {
    let (yahoo, ecb) = (yahoo(), ecb());
    quotes()
        .yahoo(&yahoo)
        .ecb(&ecb)
        .args(["--fx", "ecb", "--currency", "USD", "-f", "tsv"])
        .args([
            "-o",
            "symbol,price,currency,fx_rate,fx_date",
            "OCDO.L",
            "AAPL",
        ])
        .assert()
        .success()
        .stdout("OCDO.L\t4.1496\tUSD\t1.35918\t2021-01-08\nAAPL\t220.00\tUSD\t\t\n");
}

#[test]
fn a_past_day_is_converted_at_that_days_rate_or_the_last_before_it() {
    let ecb = ecb();
    let coinbase = Server::start(|_| Reply::json(200, coinbase_body("BTC", "USD", "34000.5")));
    // 2021-01-10 was a Sunday: Friday's ECB rate, and the row says so.
    let out = quotes()
        .coinbase(&coinbase)
        .ecb(&ecb)
        .args([
            "--fx",
            "ecb",
            "--currency",
            "EUR",
            "--date",
            "2021-01-10",
            "-f",
            "json",
        ])
        .arg("coinbase:BTC-USD")
        .assert()
        .success();
    let text = stdout(&out);
    assert!(
        text.contains(
            r#""price":27755.51,"currency":"EUR","time":"2021-01-10T00:00:00Z","date":"2021-01-10""#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#""fx_source":"ecb","fx_date":"2021-01-08""#),
        "{text}"
    );
    let request = &ecb.requests()[0];
    assert_eq!(
        request.query_param("startPeriod").as_deref(),
        Some("2021-01-03")
    );
    assert_eq!(
        request.query_param("endPeriod").as_deref(),
        Some("2021-01-10")
    );
    // A Yahoo close is converted at its own trading day's rate: TSLA's Friday close.
    let yahoo = Server::start(|req| match req.symbol().as_str() {
        "TSLA" => Reply::fixture(200, "yahoo_chart_TSLA_daily_history.json"),
        // One daily bar, stamped 2021-01-06T14:30Z: that day in New York (gmtoffset -4 h).
        _ => Reply::chart("USDEUR=X", "0.8123", Some("EUR"), 1_609_943_400),
    });
    quotes()
        .yahoo(&yahoo)
        .args(["--currency", "EUR", "--date", "2021-01-06", "-f", "tsv"])
        .args([
            "-o",
            "symbol,date,price,quoted_price,fx_rate,fx_date",
            "TSLA",
        ])
        .assert()
        .success()
        .stdout("TSLA\t2021-01-06\t204.69\t251.99\t0.8123\t2021-01-06\n");
    let rate = yahoo
        .requests()
        .into_iter()
        .find(|r| r.symbol() == "USDEUR=X")
        .expect("the rate was asked for");
    assert!(rate.query_param("period1").is_some(), "{}", rate.query);
}

#[test]
fn an_ecb_window_without_rates_is_no_rate_in_that_window() {
    let ecb = ecb();
    quotes()
        .ecb(&ecb)
        .args(["--date", "2021-01-03", "ecb:EUR-USD"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(
            "quotes: EUR-USD: no price in the response from the ECB: no rate between \
             2020-12-27 and 2021-01-03\n",
        );
    let coinbase = Server::start(|_| Reply::json(200, coinbase_body("BTC", "USD", "29000")));
    quotes()
        .coinbase(&coinbase)
        .ecb(&ecb)
        .args(["--fx", "ecb", "--currency", "EUR", "--date", "2021-01-03"])
        .arg("coinbase:BTC-USD")
        .assert()
        .code(1)
        .stdout("")
        .stderr(
            "quotes: BTC-USD: no EUR rate for USD: no rate between 2020-12-27 and 2021-01-03\n",
        );
    assert!(
        ecb.requests()
            .iter()
            .all(|r| r.query_param("endPeriod").as_deref() == Some("2021-01-03"))
    );
}

// ---------------------------------------------------------------------------------------
// ecb: as a source
// ---------------------------------------------------------------------------------------

#[test]
fn ecb_pairs_are_the_published_rate_its_inverse_and_crosses() {
    let ecb = ecb();
    quotes()
        .ecb(&ecb)
        .args([
            "--date",
            "2021-01-05",
            "-f",
            "tsv",
            "-o",
            "symbol,price,currency,date",
        ])
        .args(["ecb:EUR-USD", "ecb:usd-eur", "ecb:GBP-USD", "ecb:EUR-GBP"])
        .assert()
        .success()
        .stdout(
            "EUR-USD\t1.2271\tUSD\t2021-01-05\n\
             USD-EUR\t0.814930\tEUR\t2021-01-05\n\
             GBP-USD\t1.35842\tUSD\t2021-01-05\n\
             EUR-GBP\t0.90333\tGBP\t2021-01-05\n",
        );
    // Two currencies, two requests, whatever the number of tickers needing them.
    assert_eq!(ecb.request_count(), 2);
    // The latest, with the decimals the ECB published (1.225 was published as 1.2250).
    quotes()
        .ecb(&ecb)
        .args(["--source", "ECB", "EUR-USD"])
        .assert()
        .success()
        .stdout("EUR-USD  1.2250  USD\n");
    quotes()
        .ecb(&ecb)
        .args(["--precision", "2", "ecb:EUR-USD"])
        .assert()
        .success()
        .stdout("EUR-USD  1.22  USD\n");
}

#[test]
fn ecb_rates_read_back_from_the_cache_keep_their_decimals() {
    let ecb = ecb();
    let cache = crate::cmd::fresh_cache_dir();
    for run in ["fetched", "from the cache"] {
        quotes()
            .ecb(&ecb)
            .arg("--cache-dir")
            .arg(&cache)
            .args([
                "--date",
                "2021-01-05",
                "-f",
                "tsv",
                "-o",
                "symbol,price,currency",
            ])
            .args(["ecb:EUR-USD", "ecb:USD-EUR"])
            .assert()
            .success()
            .stdout("EUR-USD\t1.2271\tUSD\nUSD-EUR\t0.814930\tEUR\n")
            .stderr(predicate::str::is_empty().name(run));
    }
    assert_eq!(
        ecb.request_count(),
        1,
        "the second run was not read from the cache"
    );
}

#[test]
fn ecb_rates_are_written_as_their_base_in_ledger_and_beancount() {
    let ecb = ecb();
    quotes()
        .ecb(&ecb)
        .args([
            "--date",
            "2021-01-04",
            "-f",
            "ledger",
            "ecb:EUR-USD",
            "ecb:GBP-USD",
        ])
        .assert()
        .success()
        .stdout("P 2021-01-04 EUR 1.2296 USD\nP 2021-01-04 GBP 1.36380 USD\n");
    let out = quotes()
        .ecb(&ecb)
        .args(["-f", "beancount", "ecb:EUR-USD", "ecb:USD-EUR"])
        .assert()
        .success();
    assert_eq!(
        stdout(&out),
        "2021-01-08 price EUR 1.2250 USD\n2021-01-08 price USD 0.816327 EUR\n"
    );
    bean_check(&format!(
        "2020-01-01 commodity EUR\n2020-01-01 commodity USD\n{}",
        stdout(&out)
    ));
}

#[test]
fn the_ecb_url_comes_from_its_flag_or_variable() {
    let ecb = ecb();
    quotes()
        .args(["--ecb-url", &ecb.url(), "ecb:EUR-GBP"])
        .assert()
        .success()
        .stdout("EUR-GBP  0.90128  GBP\n");
    quotes()
        .args(["--ecb-url", "ftp://x", "ecb:EUR-GBP"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--ecb-url/QUOTES_ECB_URL"));
}

#[test]
fn ecb_tickers_that_are_not_two_currencies_never_reach_a_server() {
    let ecb = Server::start(|_| Reply::Close).expect_no_requests();
    quotes()
        .ecb(&ecb)
        .args(["ecb:USD", "ecb:EUR-EUR", "ecb:EURO-USD"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(
            "quotes: ecb:USD: invalid ticker: USD is not a currency pair; ECB tickers are pairs of \
             currency codes like EUR-USD, USD-EUR or GBP-USD\n\
             quotes: ecb:EUR-EUR: invalid ticker: EUR-EUR is one currency; ECB tickers are pairs of \
             two, like EUR-USD\n\
             quotes: ecb:EURO-USD: invalid ticker: EURO-USD is not a currency pair; ECB tickers are \
             pairs of currency codes like EUR-USD, USD-EUR or GBP-USD\n",
        );
}

#[test]
fn a_currency_the_ecb_does_not_publish_is_not_found() {
    let ecb = ecb();
    quotes()
        .ecb(&ecb)
        .arg("ecb:EUR-TWD")
        .assert()
        .code(1)
        .stderr(
            "quotes: EUR-TWD: not found on the ECB (no reference rate for TWD); the ECB \
             publishes reference rates for about 30 currencies, e.g. EUR-USD\n",
        );
}

#[test]
fn help_lists_the_currency_flags_and_the_ecb() {
    let out = quotes().arg("--help").assert().success();
    let help = stdout(&out);
    for needle in [
        "--currency <CODE>",
        "--fx <SOURCE>",
        "--keep-minor-units",
        "--ecb-url <URL>",
        "QUOTES_ECB_URL",
        "ecb:",
        "quoted_price",
        "fx_rate",
    ] {
        assert!(help.contains(needle), "{needle} is missing from --help");
    }
}

#[test]
fn rates_share_the_rate_limit_of_the_prices_round() {
    // With --retries 0 a 429 spends Yahoo's budget for the round: the rate is not asked
    // for again, and the price it would convert fails with Yahoo's reason.
    let yahoo = Server::start(|req| match req.symbol().as_str() {
        "AAPL" => Reply::fixture(200, "yahoo_chart_AAPL.json"),
        _ => Reply::fixture(429, "yahoo_too_many_requests.429.txt"),
    });
    quotes()
        .yahoo(&yahoo)
        .args(["--retries", "0", "--currency", "EUR", "AAPL", "MSFT"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(
            predicate::str::contains("quotes: AAPL: no EUR rate for USD: rate limited by Yahoo")
                .and(predicate::str::contains(
                    "quotes: MSFT: rate limited by Yahoo",
                )),
        );
    assert_eq!(yahoo.hits("USDEUR=X"), 0);
}

/// A range converted into `--currency`: each day's close at THAT day's rate, and all the
/// days' rates of a pair from ONE request (a week before the first day through the last),
/// never one request per day.
#[test]
fn a_range_is_converted_day_by_day_with_one_request_per_pair() {
    // USDEUR=X: one bar a day at 00:00 UTC, 0.81 on 2021-01-04 up to 0.85 on 01-08.
    let days = [
        "2021-01-04",
        "2021-01-05",
        "2021-01-06",
        "2021-01-07",
        "2021-01-08",
    ];
    let stamps: Vec<i64> = days
        .iter()
        .map(|d| {
            d.parse::<jiff::civil::Date>()
                .unwrap()
                .to_zoned(jiff::tz::TimeZone::UTC)
                .unwrap()
                .timestamp()
                .as_second()
        })
        .collect();
    let rates = format!(
        r#"{{"chart":{{"result":[{{"meta":{{"currency":"EUR","gmtoffset":0,"regularMarketPrice":0.9}},"timestamp":{stamps:?},"indicators":{{"quote":[{{"close":[0.81,0.82,0.83,0.84,0.85]}}]}}}}]}}}}"#
    );
    let yahoo = Server::start(move |req| match req.symbol().as_str() {
        "USDEUR=X" => Reply::json(200, rates.clone()),
        _ => Reply::fixture(200, "yahoo_chart_TSLA_daily_history.json"),
    });
    let out = quotes()
        .yahoo(&yahoo)
        .args([
            "--currency",
            "EUR",
            "-f",
            "tsv",
            "--from",
            "2021-01-04",
            "--to",
        ])
        .args(["2021-01-08", "TSLA"])
        .assert()
        .success();
    assert_eq!(
        stdout(&out),
        "TSLA\t2021-01-04\t197.04\tEUR\n\
         TSLA\t2021-01-05\t200.93\tEUR\n\
         TSLA\t2021-01-06\t209.15\tEUR\n\
         TSLA\t2021-01-07\t228.49\tEUR\n\
         TSLA\t2021-01-08\t249.34\tEUR\n"
    );
    let pair: Vec<Request> = yahoo
        .requests()
        .into_iter()
        .filter(|r| r.symbol() == "USDEUR=X")
        .collect();
    assert_eq!(pair.len(), 1, "{pair:?}");
    // From a week before the first day (its rate may be older), through the last.
    let period1: i64 = pair[0].query_param("period1").unwrap().parse().unwrap();
    assert!(period1 <= stamps[0] - 7 * 86_400, "{:?}", pair[0]);
}
