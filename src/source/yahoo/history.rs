//! A past day's close from the chart API's daily bars (`--date`).
//!
//! [`period`] gives the window to ask for: `interval=1d` bars from eight days before the
//! date to two days after it; [`parse_close`] picks the bar of that day or, when the market
//! was closed (weekend, holiday), the last bar within the 7 days before it.
//! `meta.regularMarketPrice` is TODAY's price whatever the period asked for (a recorded 2020
//! answer carries 244.87 from 2025 next to the 2020 close of 75.09), so it is never read
//! here: the price is a bar's `close`, its JSON text parsed exactly.
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

use serde_json::value::RawValue;

use super::{SPEC, chart};
use crate::calendar::midnight_utc;
use crate::error::FetchError;
use crate::quote::{Quote, parse_price};
use crate::source::Answer;

const SECONDS_PER_DAY: i64 = 86_400;

/// How far back a closed market may send us for the last close: a week covers any
/// weekend plus the longest common run of holidays.
pub const LOOKBACK_DAYS: i64 = 7;

/// A bar's day is the local date this long after its stamp: one daylight-saving shift,
/// so that a midnight bar read with the other season's offset stays on its day.
pub const DST_SLACK_SECONDS: i64 = 3_600;

/// `period1` and `period2` (Unix seconds) of the daily bars around `date`.
///
/// `period1` is `date − 8 days` at 00:00 UTC: the 7-day lookback plus a day of padding
/// for exchanges east of UTC, whose local midnight bars are stamped the UTC day before.
/// `period2` is `date + 2 days` at 00:00 UTC: Yahoo drops a bar stamped after `period2`,
/// and an equity bar is stamped at the session OPEN, so a `period2` at midnight of the
/// date would drop the very bar asked for (and west of UTC the local day runs past UTC
/// midnight). Bars after the date are ignored by [`parse_close`].
pub fn period(date: jiff::civil::Date) -> (i64, i64) {
    let midnight = midnight_utc(date);
    (
        midnight - (LOOKBACK_DAYS + 1) * SECONDS_PER_DAY,
        midnight + 2 * SECONDS_PER_DAY,
    )
}

/// Read the daily-bars answer and return the close of `date`, or of the last trading day
/// within [`LOOKBACK_DAYS`] before it. The quote's `time` is that bar's timestamp and its
/// `market_date` the bar's day in the exchange's calendar, so the output says which day the
/// price is from.
///
/// Public for the property tests and fuzz targets: it must return an error, never panic,
/// whatever the bytes.
pub fn parse_close(date: jiff::civil::Date, answer: &Answer) -> Result<Quote, FetchError> {
    let mut result = chart::read(answer)?;
    let (timestamps, closes) = result.bars()?;
    let gmtoffset = result.meta.gmtoffset.unwrap_or(0);
    let offset = i32::try_from(gmtoffset)
        .ok()
        .and_then(|s| jiff::tz::Offset::from_seconds(s).ok())
        .ok_or_else(|| SPEC.malformed(format!("gmtoffset {gmtoffset} is not a UTC offset")))?;

    let earliest = date.saturating_sub(jiff::Span::new().days(LOOKBACK_DAYS));
    // (local date, timestamp, close) of the best bar so far: the latest in the window.
    let mut best: Option<(jiff::civil::Date, i64, &RawValue)> = None;
    for (timestamp, close) in timestamps.iter().zip(&closes) {
        let (Some(timestamp), Some(close)) = (*timestamp, *close) else {
            continue; // a null bar: no trades that day, or Yahoo lost it
        };
        if is_zero(close) {
            continue; // no instrument trades at 0: a bar without a close
        }
        let instant = timestamp
            .checked_add(DST_SLACK_SECONDS)
            .and_then(|s| jiff::Timestamp::from_second(s).ok())
            .ok_or_else(|| SPEC.malformed(format!("timestamp {timestamp} is out of range")))?;
        let day = offset.to_datetime(instant).date();
        if day < earliest || day > date {
            continue;
        }
        if best.is_none_or(|(d, t, _)| (day, timestamp) > (d, t)) {
            best = Some((day, timestamp, close));
        }
    }
    let Some((day, timestamp, close)) = best else {
        return Err(SPEC.no_price(format!("no trading day between {earliest} and {date}")));
    };
    let price = parse_price(close.get()).map_err(|e| SPEC.malformed(format!("close {e}")))?;
    let meta = &mut result.meta;
    Ok(Quote {
        price,
        currency: meta.currency()?,
        time: Some(timestamp),
        market_date: Some(day),
        previous_close: None,
        name: meta.name(),
        exchange: meta.exchange(),
        precision: None,
        quoted: None,
        fx: None,
    })
}

/// Whether a close's text is a zero (`0`, `0.0`, `-0e3`).
fn is_zero(close: &RawValue) -> bool {
    parse_price(close.get()).is_ok_and(|p| p.is_zero())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::Date;

    const TSLA: &[u8] =
        include_bytes!("../../../tests/fixtures/yahoo_chart_TSLA_daily_history.json");
    const INR_WITH_NULL: &[u8] = include_bytes!(
        "../../../tests/fixtures/yahoo_chart_INR=X_daily_history_with_null_bar.json"
    );
    const AAPL_2020: &[u8] = include_bytes!(
        "../../../tests/fixtures/yahoo_chart_AAPL_period_2020-01-01_2020-01-03.json"
    );
    const NOT_FOUND_404: &[u8] =
        include_bytes!("../../../tests/fixtures/yahoo_chart_error_not_found.404.json");

    fn date(s: &str) -> Date {
        s.parse().unwrap()
    }

    fn parse_at(date: Date, status: u16, body: &[u8]) -> Result<Quote, FetchError> {
        parse_close(
            date,
            &Answer {
                status,
                body: body.to_vec(),
            },
        )
    }

    /// The close of `on` (the ticker only names the recording).
    fn close_on(_ticker: &str, body: &[u8], on: &str) -> Result<Quote, FetchError> {
        parse_at(date(on), 200, body)
    }

    /// The bar's day in UTC, to check which bar was picked.
    fn utc_day(q: &Quote) -> String {
        jiff::Timestamp::from_second(q.time.unwrap())
            .unwrap()
            .to_string()[..10]
            .to_string()
    }

    #[test]
    fn the_period_pads_both_sides() {
        // period1 = 2020-12-31T00:00Z (8 days before), period2 = 2021-01-10T00:00Z.
        assert_eq!(period(date("2021-01-08")), (1609372800, 1610236800));
        // TSLA's 2021-01-08 bar is stamped 14:30 UTC, after midnight of the date.
        assert!(period(date("2021-01-08")).1 > 1610116200);
    }

    #[test]
    fn the_period_never_panics_at_the_ends_of_the_calendar() {
        for d in [Date::MIN, Date::MAX] {
            let _ = period(d);
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
        let d = date("2021-01-04");
        let err = parse_at(d, 404, NOT_FOUND_404).unwrap_err();
        assert_eq!(err.kind(), "not_found");
        assert!(err.to_string().contains("symbol may be delisted"), "{err}");
        let not_found_200 =
            br#"{"chart":{"result":null,"error":{"code":"Not Found","description":"gone"}}}"#;
        assert_eq!(
            parse_at(d, 200, not_found_200).unwrap_err().kind(),
            "not_found"
        );
        let err = parse_at(d, 403, b"<html>consent</html>").unwrap_err();
        assert_eq!(err.kind(), "http_status");
        let err = parse_at(d, 200, b"<html>consent</html>").unwrap_err();
        assert_eq!(err.kind(), "malformed_response");
        // Even a complete chart body is an error when the status says so.
        let err = parse_at(d, 500, TSLA).unwrap_err();
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
                let _ = parse_at(date("2020-01-02"), status, b);
            }
        }
        for d in [Date::MIN, Date::MAX] {
            let _ = parse_at(d, 200, AAPL_2020);
        }
    }
}
