//! The answers the bench server sends, and the price each symbol gets.
//!
//! The latest-price body copies the shape of a real answer (`shared/fixtures/yahoo_chart_QQQ.json`,
//! recorded from `query1.finance.yahoo.com`) with the symbol substituted and a price derived from
//! the symbol alone, so every run, every program and every test sees the same number for the same
//! ticker and can check it. `bench/run` asks the server for those prices
//! (`GET /__prices?symbols=...`) instead of recomputing them.
//!
//! Besides the latest price ([`chart_body`]) the server answers daily history
//! ([`history_body`]: one bar per weekday, a close per symbol and day from [`close_of`]),
//! Coinbase's spot price ([`coinbase_spot_body`]) and Nasdaq's quote ([`nasdaq_info_body`]),
//! each deterministic in the same way; and, told to refuse Yahoo, Yahoo's 429
//! ([`TOO_MANY_REQUESTS_BODY`]).

/// FNV-1a, 64 bit: tiny and stable across Rust versions and platforms (`std`'s hasher is
/// neither stable nor specified), so a price never changes between builds.
fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// The price the server quotes for `symbol`, exactly as written in the body:
/// `100 + (fnv1a64(symbol) % 10000) / 100`, always with two decimals (`"123.40"`).
///
/// ```
/// assert_eq!(quotes_bench::chart::price_of("T0001"), quotes_bench::chart::price_of("T0001"));
/// assert!(quotes_bench::chart::price_of("QQQ").contains('.'));
/// ```
pub fn price_of(symbol: &str) -> String {
    let cents = fnv1a64(symbol.as_bytes()) % 10_000;
    format!("{}.{:02}", 100 + cents / 100, cents % 100)
}

/// The 200 answer for `symbol`: a chart with `meta.regularMarketPrice` = [`price_of`] and
/// currency USD, in the shape of a real `range=1d&interval=1d` answer (one daily bar).
pub fn chart_body(symbol: &str) -> String {
    // serde_json escapes whatever the request path decoded to; the result is a JSON string.
    let sym = serde_json::Value::String(symbol.to_owned()).to_string();
    let name = serde_json::Value::String(format!("Bench instrument {symbol}")).to_string();
    let price = price_of(symbol);
    format!(
        concat!(
            r#"{{"chart":{{"result":[{{"meta":{{"currency":"USD","symbol":{sym},"exchangeName":"NGM","#,
            r#""fullExchangeName":"NasdaqGM","instrumentType":"ETF","firstTradeDate":921076200,"#,
            r#""regularMarketTime":1739998800,"hasPrePostMarketData":true,"gmtoffset":-18000,"#,
            r#""timezone":"EST","exchangeTimezoneName":"America/New_York","regularMarketPrice":{p},"#,
            r#""fiftyTwoWeekHigh":{p},"fiftyTwoWeekLow":{p},"regularMarketDayHigh":{p},"#,
            r#""regularMarketDayLow":{p},"regularMarketVolume":19089856,"longName":{name},"#,
            r#""shortName":{name},"chartPreviousClose":{p},"priceHint":2,"currentTradingPeriod":{{"#,
            r#""pre":{{"timezone":"EST","start":1740042000,"end":1740061800,"gmtoffset":-18000}},"#,
            r#""regular":{{"timezone":"EST","start":1740061800,"end":1740085200,"gmtoffset":-18000}},"#,
            r#""post":{{"timezone":"EST","start":1740085200,"end":1740099600,"gmtoffset":-18000}}}},"#,
            r#""dataGranularity":"1d","range":"1d","validRanges":["1d","5d","1mo","3mo","6mo","1y","#,
            r#""2y","5y","10y","ytd","max"]}},"timestamp":[1739998800],"indicators":{{"quote":[{{"#,
            r#""low":[{p}],"high":[{p}],"volume":[19089856],"close":[{p}],"open":[{p}]}}],"#,
            r#""adjclose":[{{"adjclose":[{p}]}}]}}}}],"error":null}}}}"#
        ),
        sym = sym,
        name = name,
        p = price,
    )
}

/// Yahoo's answer for an unknown symbol or path, sent with status 404
/// (`shared/fixtures/yahoo_chart_error_not_found.404.json`).
pub const NOT_FOUND_BODY: &str = r#"{"chart":{"result":null,"error":{"code":"Not Found","description":"No data found, symbol may be delisted"}}}"#;

/// Coinbase's answer for an unknown base currency, sent with status 404
/// (`shared/fixtures/coinbase_spot_error_invalid_base_currency.404.json`).
pub const COINBASE_NOT_FOUND_BODY: &str =
    r#"{"errors":[{"id":"not_found","message":"Invalid base currency"}]}"#;

/// Coinbase's `GET /v2/prices/{BASE}-{QUOTE}/spot` answer for `pair` (`"BTC-USD"`), in the
/// recorded shape (`shared/fixtures/coinbase_spot_BTC-USD.json`): the amount is
/// [`price_of`]`(pair)`, a JSON string as Coinbase writes it. `None` when `pair` is not
/// `BASE-QUOTE` with both parts non-empty.
///
/// ```
/// use quotes_bench::chart::{coinbase_spot_body, price_of};
/// let body = coinbase_spot_body("BTC-USD").unwrap();
/// let want = format!(r#"{{"data":{{"base":"BTC","currency":"USD","amount":"{}"}}}}"#, price_of("BTC-USD"));
/// assert_eq!(body, want);
/// assert!(coinbase_spot_body("BTCUSD").is_none());
/// ```
pub fn coinbase_spot_body(pair: &str) -> Option<String> {
    let (base, quote) = pair.split_once('-')?;
    if base.is_empty() || quote.is_empty() {
        return None;
    }
    let text = |s: &str| serde_json::Value::String(s.to_owned()).to_string();
    Some(format!(
        r#"{{"data":{{"base":{},"currency":{},"amount":{}}}}}"#,
        text(base),
        text(quote),
        text(&price_of(pair)),
    ))
}

/// Yahoo's rate-limit answer, sent with status 429 as plain text to every chart request by a
/// server told to refuse them (`shared/fixtures/yahoo_too_many_requests.429.txt`).
pub const TOO_MANY_REQUESTS_BODY: &str = "Edge: Too Many Requests";

/// Nasdaq's `GET /api/quote/{SYMBOL}/info?assetclass=…` answer for `symbol`, in the recorded
/// shape of an answer after the close (`shared/fixtures/nasdaq_info_SGOL_etf_2023-02-24_reformatted.json`):
/// `data.primaryData.lastSalePrice` is `$` and [`price_of`]`(symbol)`, the day's close of
/// Feb 24, 2023, whatever the asset class asked.
///
/// ```
/// use quotes_bench::chart::{nasdaq_info_body, price_of};
/// let body: serde_json::Value = serde_json::from_str(&nasdaq_info_body("T0001")).unwrap();
/// let price = format!("${}", price_of("T0001"));
/// assert_eq!(body["data"]["primaryData"]["lastSalePrice"], price.as_str());
/// assert_eq!(body["data"]["symbol"], "T0001");
/// ```
pub fn nasdaq_info_body(symbol: &str) -> String {
    let text = |s: &str| serde_json::Value::String(s.to_owned()).to_string();
    format!(
        concat!(
            r#"{{"data":{{"symbol":{sym},"companyName":{name},"stockType":"Common Stock","#,
            r#""exchange":"NASDAQ-GM","isNasdaqListed":true,"isNasdaq100":false,"isHeld":false,"#,
            r#""primaryData":{{"lastSalePrice":{price},"netChange":"0.00","percentageChange":"0.00%","#,
            r#""deltaIndicator":"","lastTradeTimestamp":"Feb 24, 2023","isRealTime":false,"#,
            r#""bidPrice":"N/A","askPrice":"N/A","bidSize":"N/A","askSize":"N/A","volume":"1,776,935"}},"#,
            r#""secondaryData":null,"marketStatus":"Closed","assetClass":"STOCKS","keyStats":null,"#,
            r#""notifications":[]}},"message":null,"status":{{"rCode":200,"bCodeMessage":null,"#,
            r#""developerMessage":null}}}}"#
        ),
        sym = text(symbol),
        name = text(&format!("Bench instrument {symbol}")),
        price = text(&format!("${}", price_of(symbol))),
    )
}

/// Yahoo's answer to a request it cannot serve (status 400), with `description` as its
/// message, e.g. `Invalid input - interval=7m is not supported`.
pub fn bad_request_body(description: &str) -> String {
    let description = serde_json::Value::String(description.to_owned()).to_string();
    format!(
        r#"{{"chart":{{"result":null,"error":{{"code":"Bad Request","description":{description}}}}}}}"#
    )
}

const SECONDS_PER_DAY: i64 = 86_400;

/// Where in its UTC day a history bar is stamped: 14:30, the New York session open in
/// winter, as Yahoo stamps equity daily bars (never midnight, so a `period2` at midnight of a
/// day leaves that day's bar out, as Yahoo's does).
pub const BAR_TIME_OF_DAY: i64 = 14 * 3_600 + 30 * 60;

/// The earliest and latest instants a history request may name (1900-01-01 and
/// 9999-12-31T23:59:59 UTC): dates stay four-digit years.
const EARLIEST: i64 = -2_208_988_800;
const LATEST: i64 = 253_402_300_799;

/// The bar sizes the history answer knows: Yahoo's `interval=` values `1d`, `1wk`, `1mo`,
/// `3mo`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interval {
    /// One bar per weekday.
    Day,
    /// One bar per week: its first weekday in the period.
    Week,
    /// One bar per calendar month: its first weekday in the period.
    Month,
    /// One bar per calendar quarter: its first weekday in the period.
    Quarter,
}

impl Interval {
    /// `1d`, `1wk`, `1mo` or `3mo`; `None` for anything else.
    pub fn parse(text: &str) -> Option<Interval> {
        match text {
            "1d" => Some(Interval::Day),
            "1wk" => Some(Interval::Week),
            "1mo" => Some(Interval::Month),
            "3mo" => Some(Interval::Quarter),
            _ => None,
        }
    }

    /// The `interval=` text (also the answer's `meta.dataGranularity`).
    pub fn as_str(self) -> &'static str {
        match self {
            Interval::Day => "1d",
            Interval::Week => "1wk",
            Interval::Month => "1mo",
            Interval::Quarter => "3mo",
        }
    }
}

/// The close of `symbol` on `date` (`"YYYY-MM-DD"`, the bar's UTC date, which is also its
/// New York date): [`price_of`]`("{symbol}@{date}")`, two decimals. Deterministic per symbol
/// and day, and different from the latest price, as a past close is.
///
/// ```
/// use quotes_bench::chart::close_of;
/// assert_eq!(close_of("AAPL", "2021-01-04"), close_of("AAPL", "2021-01-04"));
/// assert_ne!(close_of("AAPL", "2021-01-04"), close_of("AAPL", "2021-01-05"));
/// ```
pub fn close_of(symbol: &str, date: &str) -> String {
    price_of(&format!("{symbol}@{date}"))
}

/// One bar of a history answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bar {
    /// Unix seconds: the day's [`BAR_TIME_OF_DAY`].
    pub timestamp: i64,
    /// `YYYY-MM-DD`, the UTC (and New York) date of the bar.
    pub date: String,
}

/// The bars of `?period1=P1&period2=P2&interval=I`: every weekday (Monday to Friday; no
/// holidays) whose 14:30 UTC stamp `t` has `period1 <= t <= period2`, thinned for a coarser
/// interval to the first such weekday of each week, month or quarter. `Err` with Yahoo's
/// kind of message when the period is reversed or outside 1900..9999.
pub fn history_bars(period1: i64, period2: i64, interval: Interval) -> Result<Vec<Bar>, String> {
    if period1 > period2 {
        return Err(format!(
            "Invalid input - start date cannot be after end date. startDate = {period1}, endDate = {period2}"
        ));
    }
    if period1 < EARLIEST || period2 > LATEST {
        return Err(format!(
            "Invalid input - period1={period1}, period2={period2} outside 1900-01-01..9999-12-31"
        ));
    }
    let mut bars: Vec<Bar> = Vec::new();
    let mut last_group = None;
    for day in period1.div_euclid(SECONDS_PER_DAY)..=period2.div_euclid(SECONDS_PER_DAY) {
        let timestamp = day * SECONDS_PER_DAY + BAR_TIME_OF_DAY;
        if timestamp < period1 || timestamp > period2 || !is_weekday(day) {
            continue;
        }
        let (y, m, _) = civil_from_days(day);
        let group = match interval {
            Interval::Day => day,
            // Weeks start on Monday; day 0 (1970-01-01) was a Thursday.
            Interval::Week => (day + 3).div_euclid(7),
            Interval::Month => y * 12 + i64::from(m),
            Interval::Quarter => y * 4 + i64::from((m - 1) / 3),
        };
        if last_group == Some(group) {
            continue;
        }
        last_group = Some(group);
        bars.push(Bar {
            timestamp,
            date: date_text(day),
        });
    }
    Ok(bars)
}

/// The chart answer to `GET /v8/finance/chart/{symbol}?period1=P1&period2=P2&interval=I`
/// (with or without `&events=split`): `meta` as in [`chart_body`] (`currency` USD,
/// `gmtoffset` -18000, `exchangeTimezoneName` America/New_York, `regularMarketPrice` today's
/// [`price_of`]) but with `range` empty, `dataGranularity` I and `chartPreviousClose` the
/// close of the weekday before the period; then one bar per [`history_bars`], its
/// open/high/low/close and `adjclose` all [`close_of`] that day, as JSON numbers with two
/// decimals. No `events`: the bench server knows no splits or dividends. With no bar in the
/// period, `timestamp` is absent and `quote`/`adjclose` are `[{}]`, as Yahoo answers.
/// `Err` (a 400 answer's description) as for [`history_bars`].
pub fn history_body(
    symbol: &str,
    period1: i64,
    period2: i64,
    interval: Interval,
) -> Result<String, String> {
    let bars = history_bars(period1, period2, interval)?;
    let sym = serde_json::Value::String(symbol.to_owned()).to_string();
    let name = serde_json::Value::String(format!("Bench instrument {symbol}")).to_string();
    let price = price_of(symbol);
    // The weekday before the first bar (or before period1 when there is none).
    let mut before = bars
        .first()
        .map_or(period1, |b| b.timestamp)
        .div_euclid(SECONDS_PER_DAY)
        - 1;
    while !is_weekday(before) {
        before -= 1;
    }
    let previous = close_of(symbol, &date_text(before));
    let series = if bars.is_empty() {
        r#""indicators":{"quote":[{}],"adjclose":[{}]}"#.to_owned()
    } else {
        let join = |f: &dyn Fn(&Bar) -> String| bars.iter().map(f).collect::<Vec<_>>().join(",");
        let closes = join(&|b| close_of(symbol, &b.date));
        let stamps = join(&|b| b.timestamp.to_string());
        let volumes = join(&|_| "19089856".to_owned());
        format!(
            concat!(
                r#""timestamp":[{t}],"indicators":{{"quote":[{{"open":[{c}],"high":[{c}],"#,
                r#""low":[{c}],"close":[{c}],"volume":[{v}]}}],"adjclose":[{{"adjclose":[{c}]}}]}}"#
            ),
            t = stamps,
            c = closes,
            v = volumes,
        )
    };
    Ok(format!(
        concat!(
            r#"{{"chart":{{"result":[{{"meta":{{"currency":"USD","symbol":{sym},"exchangeName":"NGM","#,
            r#""fullExchangeName":"NasdaqGM","instrumentType":"ETF","firstTradeDate":921076200,"#,
            r#""regularMarketTime":1739998800,"hasPrePostMarketData":true,"gmtoffset":-18000,"#,
            r#""timezone":"EST","exchangeTimezoneName":"America/New_York","regularMarketPrice":{p},"#,
            r#""fiftyTwoWeekHigh":{p},"fiftyTwoWeekLow":{p},"regularMarketDayHigh":{p},"#,
            r#""regularMarketDayLow":{p},"regularMarketVolume":19089856,"longName":{name},"#,
            r#""shortName":{name},"chartPreviousClose":{prev},"priceHint":2,"currentTradingPeriod":{{"#,
            r#""pre":{{"timezone":"EST","start":1740042000,"end":1740061800,"gmtoffset":-18000}},"#,
            r#""regular":{{"timezone":"EST","start":1740061800,"end":1740085200,"gmtoffset":-18000}},"#,
            r#""post":{{"timezone":"EST","start":1740085200,"end":1740099600,"gmtoffset":-18000}}}},"#,
            r#""dataGranularity":"{g}","range":"","validRanges":["1d","5d","1mo","3mo","6mo","1y","#,
            r#""2y","5y","10y","ytd","max"]}},{series}}}],"error":null}}}}"#
        ),
        sym = sym,
        name = name,
        p = price,
        prev = previous,
        g = interval.as_str(),
        series = series,
    ))
}

/// Monday to Friday (day 0, 1970-01-01, was a Thursday).
fn is_weekday(day: i64) -> bool {
    (day + 3).rem_euclid(7) < 5
}

/// `YYYY-MM-DD` of a day counted from 1970-01-01.
fn date_text(day: i64) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Year, month, day of a day counted from 1970-01-01 (Howard Hinnant's `civil_from_days`,
/// proleptic Gregorian): no date library for one conversion.
fn civil_from_days(day: i64) -> (i64, u32, u32) {
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    // doy < 366 and mp < 12 keep both in range.
    (y, m as u32, d as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn price_is_deterministic_with_two_decimals_in_range() {
        for sym in ["T0001", "T1000", "QQQ", "^GSPC", ""] {
            let p = price_of(sym);
            assert_eq!(p, price_of(sym));
            let (whole, frac) = p.split_once('.').expect("a decimal point");
            assert_eq!(frac.len(), 2, "{p}");
            let whole: u64 = whole.parse().expect("digits");
            assert!((100..200).contains(&whole), "{p}");
        }
        // Pinned: published benchmark results and other branches' tests rely on it.
        assert_eq!(price_of("T0001"), "115.68");
    }

    #[test]
    fn body_is_valid_json_with_symbol_and_price() {
        let body = chart_body("BRK\"B");
        let v: serde_json::Value = serde_json::from_str(&body).expect("valid JSON");
        let meta = &v["chart"]["result"][0]["meta"];
        assert_eq!(meta["symbol"], "BRK\"B");
        assert_eq!(meta["currency"], "USD");
        let price = meta["regularMarketPrice"].as_f64().expect("a number");
        let want: f64 = price_of("BRK\"B").parse().expect("a number");
        assert!((price - want).abs() < 1e-9);
        assert!(body.contains(&format!("\"regularMarketPrice\":{}", price_of("BRK\"B"))));
        let nf: serde_json::Value = serde_json::from_str(NOT_FOUND_BODY).expect("valid JSON");
        assert_eq!(nf["chart"]["error"]["code"], "Not Found");
    }

    /// FNV-1a of `chart_body("T0001")` as the harness first published it (1156 bytes).
    const PINNED_T0001: u64 = 0x76c5_0d34_dfcc_04b3;

    #[test]
    fn existing_answers_stay_byte_identical() {
        // Pinned: published results, peers and other branches' tests read these bytes.
        assert_eq!(
            fnv1a64(chart_body("T0001").as_bytes()),
            PINNED_T0001,
            "{}",
            chart_body("T0001")
        );
    }

    #[test]
    fn dates_and_weekdays() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(date_text(18_628), "2021-01-01");
        assert_eq!(date_text(-25_567), "1900-01-01");
        assert_eq!(date_text(11_016), "2000-02-29");
        assert!(!is_weekday(18_628 + 1)); // 2021-01-02, a Saturday
        assert!(is_weekday(18_628 + 3)); // 2021-01-04, a Monday
        assert!(is_weekday(0)); // Thursday
    }

    #[test]
    fn history_has_one_bar_per_weekday_at_half_past_two() {
        // 2021-01-01T00:00Z .. 2021-01-11T00:00Z: Jan 1 (Fri), 4..8 (Mon..Fri); the 11th's
        // bar is stamped after period2.
        let bars = history_bars(1_609_459_200, 1_610_323_200, Interval::Day).unwrap();
        let dates: Vec<_> = bars.iter().map(|b| b.date.as_str()).collect();
        assert_eq!(
            dates,
            [
                "2021-01-01",
                "2021-01-04",
                "2021-01-05",
                "2021-01-06",
                "2021-01-07",
                "2021-01-08"
            ]
        );
        assert_eq!(bars[1].timestamp, 1_609_770_600); // TSLA's recorded bar of 2021-01-04
        for b in &bars {
            assert_eq!(b.timestamp.rem_euclid(86_400), BAR_TIME_OF_DAY);
        }
        // Bounds are inclusive.
        let one = history_bars(1_609_770_600, 1_609_770_600, Interval::Day).unwrap();
        assert_eq!(one.len(), 1);
        assert!(history_bars(2, 1, Interval::Day).is_err());
        assert!(history_bars(EARLIEST - 1, 0, Interval::Day).is_err());
        // A year in quarters, months and weeks.
        let (y0, y1) = (1_609_459_200, 1_640_995_199); // 2021
        assert_eq!(history_bars(y0, y1, Interval::Quarter).unwrap().len(), 4);
        assert_eq!(history_bars(y0, y1, Interval::Month).unwrap().len(), 12);
        assert_eq!(history_bars(y0, y1, Interval::Week).unwrap().len(), 53);
        assert_eq!(history_bars(y0, y1, Interval::Day).unwrap().len(), 261);
    }

    #[test]
    fn history_body_is_a_chart_with_closes_per_day() {
        let body = history_body("AAPL", 1_609_459_200, 1_610_323_200, Interval::Day).unwrap();
        let v: serde_json::Value = serde_json::from_str(&body).expect("valid JSON");
        let r = &v["chart"]["result"][0];
        assert_eq!(r["meta"]["gmtoffset"], -18000);
        assert_eq!(r["meta"]["exchangeTimezoneName"], "America/New_York");
        assert_eq!(r["meta"]["currency"], "USD");
        assert_eq!(r["meta"]["dataGranularity"], "1d");
        assert_eq!(r["timestamp"].as_array().unwrap().len(), 6);
        assert!(r.get("events").is_none());
        let close = close_of("AAPL", "2021-01-04");
        assert!(body.contains(&format!(
            "\"close\":[{},{close},",
            close_of("AAPL", "2021-01-01")
        )));
        assert_eq!(
            r["indicators"]["quote"][0]["close"],
            r["indicators"]["adjclose"][0]["adjclose"]
        );
        // The weekday before 2021-01-01 is Thursday 2020-12-31.
        let prev: f64 = close_of("AAPL", "2020-12-31").parse().unwrap();
        assert_eq!(r["meta"]["chartPreviousClose"].as_f64(), Some(prev));

        // No weekday in the period (a weekend): a valid chart without bars.
        let empty = history_body("AAPL", 1_609_545_600, 1_609_718_399, Interval::Day).unwrap();
        let v: serde_json::Value = serde_json::from_str(&empty).expect("valid JSON");
        assert!(v["chart"]["result"][0].get("timestamp").is_none());
        let q: serde_json::Value =
            serde_json::from_str(&history_body("X", 0, 100_000_000, Interval::Quarter).unwrap())
                .unwrap();
        assert_eq!(q["chart"]["result"][0]["meta"]["dataGranularity"], "3mo");
        let bad: serde_json::Value = serde_json::from_str(&bad_request_body("a \"b\"")).unwrap();
        assert_eq!(bad["chart"]["error"]["code"], "Bad Request");
    }
}
