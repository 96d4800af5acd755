//! `--date` for Yahoo: the close of one past day, read from the chart API's daily bars.
//!
//! [`history_url`] asks `/v8/finance/chart/{SYMBOL}` for `interval=1d` bars from eight
//! days before the date to two days after it; [`parse_history`] picks the bar of that day
//! or, when the market was closed (weekend, holiday), the last bar within the 7 days
//! before it. `meta.regularMarketPrice` is TODAY's price whatever the period asked for
//! (a recorded 2020 answer carries 244.87 from 2025 next to the 2020 close of 75.09), so it
//! is never read here: the price is a bar's `close`, its JSON text parsed exactly.
//!
//! Which day a bar belongs to is decided in the exchange's local time: equity bars are
//! stamped at the session open (14:30 UTC for New York in winter), currency bars at local
//! midnight (23:00 UTC the day before, for London in summer), so the UTC date is wrong for
//! the latter. There is no time-zone database in this build; the offset is `meta.gmtoffset`
//! applied as a fixed offset. That is the exchange's offset at the time of the REQUEST, so
//! across daylight saving it can be an hour off for older bars — enough to push a
//! midnight bar to 23:00 the day before, which would pick the NEXT day's close. Daily bars
//! are never stamped in the last hour of the local day, so the day of a bar is read one
//! hour after its stamp ([`DST_SLACK_SECONDS`]), which absorbs that hour either way. A
//! time-zone database would make this exact; for daily closes this is good enough.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::{Query, looks_like_html};
use crate::error::FetchError;
use crate::quote::{Quote, parse_price};
use crate::ticker::Ticker;

const NAME: &str = "Yahoo";
const SECONDS_PER_DAY: i64 = 86_400;

/// How far back a closed market may send us for the last close: a week covers any
/// weekend plus the longest common run of holidays.
pub const LOOKBACK_DAYS: i64 = 7;

/// A bar's day is the local date this long after its stamp: one daylight-saving shift,
/// so that a midnight bar read with the other season's offset stays on its day.
pub const DST_SLACK_SECONDS: i64 = 3_600;

/// The chart URL asking for the daily bars around `date`.
///
/// `period1` is `date − 8 days` at 00:00 UTC: the 7-day lookback plus a day of padding
/// for exchanges east of UTC, whose local midnight bars are stamped the UTC day before.
/// `period2` is `date + 2 days` at 00:00 UTC: Yahoo drops a bar stamped after `period2`,
/// and an equity bar is stamped at the session OPEN, so a `period2` at midnight of the
/// date would drop the very bar asked for (and west of UTC the local day runs past UTC
/// midnight). Bars after the date are ignored by [`parse_history`].
pub fn history_url(base_url: &str, ticker: &Ticker, date: jiff::civil::Date) -> String {
    let midnight = midnight_utc(date);
    let period1 = midnight - (LOOKBACK_DAYS + 1) * SECONDS_PER_DAY;
    let period2 = midnight + 2 * SECONDS_PER_DAY;
    format!(
        "{base_url}/v8/finance/chart/{}?period1={period1}&period2={period2}&interval=1d",
        ticker.path_segment()
    )
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    chart: Chart<'a>,
}

#[derive(Deserialize)]
struct Chart<'a> {
    #[serde(borrow, default)]
    result: Option<Vec<ChartResult<'a>>>,
}

#[derive(Deserialize)]
struct ChartResult<'a> {
    meta: Meta,
    /// Unix seconds of each bar; absent when there are no bars.
    #[serde(default)]
    timestamp: Option<Vec<Option<i64>>>,
    #[serde(borrow, default)]
    indicators: Option<Indicators<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Meta {
    #[serde(default)]
    currency: Option<String>,
    /// The exchange's offset from UTC in seconds (`-18000` for New York in winter).
    #[serde(default)]
    gmtoffset: Option<i64>,
    #[serde(default)]
    long_name: Option<String>,
    #[serde(default)]
    short_name: Option<String>,
    #[serde(default)]
    full_exchange_name: Option<String>,
    #[serde(default)]
    exchange_name: Option<String>,
}

#[derive(Deserialize)]
struct Indicators<'a> {
    #[serde(borrow, default)]
    quote: Option<Vec<Bars<'a>>>,
}

#[derive(Deserialize)]
struct Bars<'a> {
    /// One close per timestamp; `null` for a bar with no trades. `[{}]` has none at all.
    #[serde(borrow, default)]
    close: Option<Vec<Option<&'a RawValue>>>,
}

/// Read the daily-bars answer to [`history_url`] and return the close of `date`, or of the
/// last trading day within [`LOOKBACK_DAYS`] before it. The quote's `time` is that bar's
/// timestamp, so the output says which day the price is from.
///
/// Public for the property tests and fuzz targets: it must return an error, never panic,
/// whatever the bytes.
pub fn parse_history(
    query: &Query,
    date: jiff::civil::Date,
    status: u16,
    body: &[u8],
) -> Result<Quote, FetchError> {
    let malformed = |detail: String| FetchError::Malformed { api: NAME, detail };
    // Error answers (404 with `chart.error`, other statuses, HTML pages) look the same
    // whatever was asked, so they get exactly the latest-price parser's errors.
    if status != 200 || looks_like_html(body) {
        return Err(chart_error(query, status, body));
    }
    let envelope: Envelope = serde_json::from_slice(body)
        .map_err(|e| malformed(format!("not the chart format ({e})")))?;
    let Some(result) = envelope.chart.result.and_then(|r| r.into_iter().next()) else {
        return Err(chart_error(query, status, body));
    };

    let timestamps = result.timestamp.unwrap_or_default();
    let closes = result
        .indicators
        .and_then(|i| i.quote)
        .and_then(|q| q.into_iter().next())
        .and_then(|bars| bars.close)
        .unwrap_or_default();
    // A bar with neither timestamp nor close is no bar (`quote: [{}]`); otherwise the two
    // arrays must line up, or we could pair a close with the wrong day.
    if !closes.is_empty() && closes.len() != timestamps.len() {
        return Err(malformed(format!(
            "{} timestamps but {} closes",
            timestamps.len(),
            closes.len()
        )));
    }
    let gmtoffset = result.meta.gmtoffset.unwrap_or(0);
    let offset = i32::try_from(gmtoffset)
        .ok()
        .and_then(|s| jiff::tz::Offset::from_seconds(s).ok())
        .ok_or_else(|| malformed(format!("gmtoffset {gmtoffset} is not a UTC offset")))?;

    let earliest = date.saturating_sub(jiff::Span::new().days(LOOKBACK_DAYS));
    // (local date, timestamp, close) of the best bar so far: the latest in the window.
    let mut best: Option<(jiff::civil::Date, i64, &RawValue)> = None;
    for (timestamp, close) in timestamps.iter().zip(&closes) {
        let (Some(timestamp), Some(close)) = (*timestamp, *close) else {
            continue; // a null bar: no trades that day, or Yahoo lost it
        };
        let instant = timestamp
            .checked_add(DST_SLACK_SECONDS)
            .and_then(|s| jiff::Timestamp::from_second(s).ok())
            .ok_or_else(|| malformed(format!("timestamp {timestamp} is out of range")))?;
        let day = offset.to_datetime(instant).date();
        if day < earliest || day > date {
            continue;
        }
        if best.is_none_or(|(d, t, _)| (day, timestamp) > (d, t)) {
            best = Some((day, timestamp, close));
        }
    }
    let Some((day, timestamp, close)) = best else {
        return Err(FetchError::NoPrice {
            api: NAME,
            detail: format!("no trading day between {earliest} and {date}"),
        });
    };
    let price = parse_price(close.get()).map_err(|e| malformed(format!("close {e}")))?;
    let meta = result.meta;
    Ok(Quote {
        symbol: query.ticker.clone(),
        source: "yahoo",
        price,
        currency: meta.currency.filter(|c| !c.is_empty()),
        time: Some(timestamp),
        market_date: Some(day),
        previous_close: None,
        name: meta.long_name.or(meta.short_name),
        exchange: meta.full_exchange_name.or(meta.exchange_name),
    })
}

/// The error an answer without bars stands for, as the latest-price parser words it:
/// `NotFound` for `chart.error` "Not Found" or a 404, `Http` for other statuses,
/// `Malformed` for HTML on a 200. Only called for answers that parser cannot read a price
/// from (a status other than 200, an HTML page, or no `chart.result`), so it cannot hand
/// back `regularMarketPrice`; should it ever succeed, that is still no history.
fn chart_error(query: &Query, status: u16, body: &[u8]) -> FetchError {
    match super::yahoo::parse_chart(&query.ticker, status, body) {
        Err(e) => e,
        Ok(_) => FetchError::Malformed {
            api: NAME,
            detail: "no daily bars in the chart".into(),
        },
    }
}

/// Unix seconds of 00:00 UTC on `date`. `duration_since` is total over jiff's date range,
/// so unlike a time-zone conversion this cannot fail.
fn midnight_utc(date: jiff::civil::Date) -> i64 {
    date.duration_since(jiff::civil::date(1970, 1, 1)).as_secs()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::Date;

    const TSLA: &[u8] = include_bytes!("../../tests/fixtures/yahoo_chart_TSLA_daily_history.json");
    const INR_WITH_NULL: &[u8] =
        include_bytes!("../../tests/fixtures/yahoo_chart_INR=X_daily_history_with_null_bar.json");
    const AAPL_2020: &[u8] =
        include_bytes!("../../tests/fixtures/yahoo_chart_AAPL_period_2020-01-01_2020-01-03.json");
    const NOT_FOUND_404: &[u8] =
        include_bytes!("../../tests/fixtures/yahoo_chart_error_not_found.404.json");

    fn date(s: &str) -> Date {
        s.parse().unwrap()
    }

    fn query(ticker: &str, on: &str) -> Query {
        Query {
            ticker: Ticker::parse(ticker).unwrap(),
            date: Some(date(on)),
        }
    }

    fn close_on(ticker: &str, body: &[u8], on: &str) -> Result<Quote, FetchError> {
        parse_history(&query(ticker, on), date(on), 200, body)
    }

    /// The bar's day in UTC, to check which bar was picked.
    fn utc_day(q: &Quote) -> String {
        jiff::Timestamp::from_second(q.time.unwrap())
            .unwrap()
            .to_string()[..10]
            .to_string()
    }

    #[test]
    fn url_pads_the_period_on_both_sides() {
        let url = history_url(
            "http://127.0.0.1:8080",
            &Ticker::parse("^gspc").unwrap(),
            date("2021-01-08"),
        );
        // period1 = 2020-12-31T00:00Z (8 days before), period2 = 2021-01-10T00:00Z.
        assert_eq!(
            url,
            "http://127.0.0.1:8080/v8/finance/chart/%5EGSPC\
             ?period1=1609372800&period2=1610236800&interval=1d"
        );
    }

    #[test]
    fn url_period2_covers_the_session_open_bar() {
        // TSLA's 2021-01-08 bar is stamped 14:30 UTC, after midnight of the date.
        let url = history_url(
            "http://h",
            &Ticker::parse("TSLA").unwrap(),
            date("2021-01-08"),
        );
        let period2: i64 = url.split("period2=").nth(1).unwrap()[..10].parse().unwrap();
        assert!(period2 > 1610116200, "{url}");
    }

    #[test]
    fn url_never_panics_at_the_ends_of_the_calendar() {
        for d in [Date::MIN, Date::MAX] {
            let _ = history_url("http://h", &Ticker::parse("X").unwrap(), d);
        }
    }

    #[test]
    fn picks_the_close_of_the_day_with_its_float_artefacts() {
        for (on, want) in [
            ("2021-01-04", "243.2566680908203"),
            ("2021-01-05", "245.0366668701172"),
            ("2021-01-06", "251.9933319091797"),
            ("2021-01-07", "272.0133361816406"),
            ("2021-01-08", "293.3399963378906"),
        ] {
            let q = close_on("TSLA", TSLA, on).unwrap();
            assert_eq!(q.price.to_string(), want, "{on}");
            assert_eq!(utc_day(&q), on);
        }
    }

    #[test]
    fn time_is_the_bar_timestamp_and_meta_fills_the_rest() {
        let q = close_on("TSLA", TSLA, "2021-01-06").unwrap();
        assert_eq!(q.time, Some(1609943400));
        assert_eq!(q.currency.as_deref(), Some("USD"));
        assert_eq!(q.source, "yahoo");
        assert_eq!(q.symbol.as_str(), "TSLA");
        assert_eq!(q.name.as_deref(), Some("Tesla, Inc."));
        assert_eq!(q.exchange.as_deref(), Some("NasdaqGS"));
        assert_eq!(q.previous_close, None);
    }

    #[test]
    fn a_weekend_date_picks_friday() {
        for on in ["2021-01-09", "2021-01-10"] {
            let q = close_on("TSLA", TSLA, on).unwrap();
            assert_eq!(q.price.to_string(), "293.3399963378906", "{on}");
            assert_eq!(utc_day(&q), "2021-01-08");
        }
    }

    #[test]
    fn the_last_close_counts_for_seven_days_and_no_longer() {
        let q = close_on("TSLA", TSLA, "2021-01-15").unwrap();
        assert_eq!(utc_day(&q), "2021-01-08");
        let err = close_on("TSLA", TSLA, "2021-01-16").unwrap_err();
        assert_eq!(err.kind(), "no_price");
    }

    #[test]
    fn a_date_before_all_bars_is_no_price() {
        let err = close_on("TSLA", TSLA, "2021-01-03").unwrap_err();
        assert_eq!(err.kind(), "no_price");
        let err = close_on("TSLA", TSLA, "2020-12-01").unwrap_err();
        assert_eq!(
            err,
            FetchError::NoPrice {
                api: "Yahoo",
                detail: "no trading day between 2020-11-24 and 2020-12-01".into()
            }
        );
    }

    #[test]
    fn a_null_bar_is_skipped_for_the_day_before() {
        // Bars are stamped 23:00 UTC = 00:00 London (gmtoffset 3600): local days 07-10,
        // 07-11 (all null), 07-12, 07-13. In UTC they would fall a day earlier.
        let q = close_on("INR=X", INR_WITH_NULL, "2017-07-11").unwrap();
        assert_eq!(q.price.to_string(), "64.61170196533203");
        assert_eq!(q.time, Some(1499641200));
        let q = close_on("INR=X", INR_WITH_NULL, "2017-07-12").unwrap();
        assert_eq!(q.price.to_string(), "64.52559661865234");
        let q = close_on("INR=X", INR_WITH_NULL, "2017-07-13").unwrap();
        assert_eq!(q.price.to_string(), "64.36499786376953");
        assert_eq!(q.currency.as_deref(), Some("INR"));
    }

    #[test]
    fn the_close_is_used_never_regular_market_price() {
        let q = close_on("AAPL", AAPL_2020, "2020-01-02").unwrap();
        assert_eq!(q.price.to_string(), "75.0875015258789");
        assert_eq!(q.time, Some(1577975400));
        // A holiday-adjacent date still reads the bar, not meta's 244.87.
        let q = close_on("AAPL", AAPL_2020, "2020-01-05").unwrap();
        assert_eq!(q.price.to_string(), "75.0875015258789");
        let err = close_on("AAPL", AAPL_2020, "2020-01-01").unwrap_err();
        assert_eq!(err.kind(), "no_price");
    }

    #[test]
    fn bars_after_the_date_are_ignored() {
        let q = close_on("TSLA", TSLA, "2021-01-05").unwrap();
        assert_eq!(q.time, Some(1609857000));
    }

    fn chart(bars: &str) -> String {
        format!(
            r#"{{"chart":{{"result":[{{"meta":{{"currency":"USD","gmtoffset":-18000,"regularMarketPrice":244.87}},{bars}}}],"error":null}}}}"#
        )
    }

    #[test]
    fn no_bars_is_no_price() {
        for bars in [
            r#""indicators":{"quote":[{}]}"#,
            r#""indicators":{"quote":[]}"#,
            r#""indicators":{}"#,
            r#""timestamp":[1609770600],"indicators":{"quote":[{}]}"#,
            r#""timestamp":[1609770600],"indicators":{"quote":[{"close":[null]}]}"#,
            r#""timestamp":null,"indicators":{"quote":[{"close":[]}]}"#,
        ] {
            let err = close_on("TSLA", chart(bars).as_bytes(), "2021-01-04").unwrap_err();
            assert_eq!(err.kind(), "no_price", "{bars}");
        }
        // Absent `indicators` altogether, too.
        let err = close_on("TSLA", chart(r#""x":1"#).as_bytes(), "2021-01-04").unwrap_err();
        assert_eq!(err.kind(), "no_price");
    }

    #[test]
    fn misaligned_arrays_are_malformed() {
        let bars = r#""timestamp":[1609770600],"indicators":{"quote":[{"close":[1.0,2.0]}]}"#;
        let err = close_on("TSLA", chart(bars).as_bytes(), "2021-01-04").unwrap_err();
        assert_eq!(err.kind(), "malformed_response");
        // Closes with no timestamps at all are just as unplaceable.
        let bars = r#""indicators":{"quote":[{"close":[1.0]}]}"#;
        let err = close_on("TSLA", chart(bars).as_bytes(), "2021-01-04").unwrap_err();
        assert_eq!(err.kind(), "malformed_response");
    }

    #[test]
    fn local_date_uses_gmtoffset() {
        // 2021-01-05T03:00Z is still 2021-01-04 in New York (−5 h).
        let bars = r#""timestamp":[1609815600],"indicators":{"quote":[{"close":[12.5]}]}"#;
        let q = close_on("X", chart(bars).as_bytes(), "2021-01-04").unwrap();
        assert_eq!(q.price.to_string(), "12.5");
        let err = close_on("X", chart(bars).as_bytes(), "2020-12-31").unwrap_err();
        assert_eq!(err.kind(), "no_price");
    }

    #[test]
    fn a_midnight_bar_keeps_its_day_across_daylight_saving() {
        // London currency bars are stamped at local midnight: 2017-07-09T23:00Z is the bar
        // of 07-10 (BST). Asked in winter, gmtoffset is 0 and that stamp reads as 23:00 on
        // 07-09; without the slack, asking for 07-10 would pick the 07-11 bar.
        let bars =
            r#""timestamp":[1499641200,1499727600],"indicators":{"quote":[{"close":[1.5,2.5]}]}"#;
        let winter = chart(bars).replace("-18000", "0");
        let q = close_on("INR=X", winter.as_bytes(), "2017-07-10").unwrap();
        assert_eq!(q.price.to_string(), "1.5");
        // And a winter bar (00:00Z) read with the summer offset stays on its day.
        let bars =
            r#""timestamp":[1609718400,1609804800],"indicators":{"quote":[{"close":[1.5,2.5]}]}"#;
        let summer = chart(bars).replace("-18000", "3600");
        let q = close_on("INR=X", summer.as_bytes(), "2021-01-04").unwrap();
        assert_eq!(q.price.to_string(), "1.5");
    }

    #[test]
    fn errors_match_the_latest_price_parser() {
        let q = query("NOPE", "2021-01-04");
        let d = date("2021-01-04");
        let err = parse_history(&q, d, 404, NOT_FOUND_404).unwrap_err();
        assert_eq!(err.kind(), "not_found");
        assert!(err.to_string().contains("symbol may be delisted"), "{err}");
        let not_found_200 =
            br#"{"chart":{"result":null,"error":{"code":"Not Found","description":"gone"}}}"#;
        assert_eq!(
            parse_history(&q, d, 200, not_found_200).unwrap_err().kind(),
            "not_found"
        );
        let err = parse_history(&q, d, 403, b"<html>consent</html>").unwrap_err();
        assert_eq!(err.kind(), "http_status");
        let err = parse_history(&q, d, 200, b"<html>consent</html>").unwrap_err();
        assert_eq!(err.kind(), "malformed_response");
        // Even a complete chart body is an error when the status says so.
        let err = parse_history(&q, d, 500, TSLA).unwrap_err();
        assert_eq!(err.kind(), "http_status");
    }

    #[test]
    fn garbage_is_malformed() {
        for b in [
            "",
            "{",
            "null",
            "[]",
            "{\"chart\":{}}",
            &chart(r#""timestamp":["x"],"indicators":{"quote":[{"close":[1.0]}]}"#),
            &chart(r#""timestamp":[1609770600],"indicators":{"quote":[{"close":["1.0"]}]}"#),
            &chart(r#""timestamp":[1609770600],"indicators":{"quote":[{"close":[1e400]}]}"#),
            &chart(r#""timestamp":[1609770600],"indicators":{"quote":{"close":[1.0]}}"#),
            &chart(r#""timestamp":[99999999999999],"indicators":{"quote":[{"close":[1.0]}]}"#),
        ] {
            let err = close_on("TSLA", b.as_bytes(), "2021-01-04").unwrap_err();
            assert_eq!(err.kind(), "malformed_response", "{b}");
        }
        let bad_offset = r#"{"chart":{"result":[{"meta":{"gmtoffset":999999999},"timestamp":[1],"indicators":{"quote":[{"close":[1]}]}}]}}"#;
        let err = close_on("TSLA", bad_offset.as_bytes(), "1970-01-01").unwrap_err();
        assert_eq!(err.kind(), "malformed_response");
    }

    #[test]
    fn never_panics_on_arbitrary_bytes_or_dates() {
        let mut samples: Vec<Vec<u8>> = vec![vec![0xff, 0xfe, 0x00]];
        for cut in (0..AAPL_2020.len()).step_by(7) {
            samples.push(AAPL_2020[..cut].to_vec());
        }
        for b in &samples {
            for status in [200, 404, 500] {
                let _ = parse_history(&query("AAPL", "2020-01-02"), date("2020-01-02"), status, b);
            }
        }
        for d in [Date::MIN, Date::MAX] {
            let _ = parse_history(&query("AAPL", "2020-01-02"), d, 200, AAPL_2020);
        }
    }
}
