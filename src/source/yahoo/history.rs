//! Past closes from the chart API's daily bars: one day (`--date`) and ranges (`--from`).
//!
//! [`period`] gives the window `--date` asks for: `interval=1d` bars from eight days before
//! the date to two days after it; [`close`] picks the bar of that day or, when the market
//! was closed (weekend, holiday), the last bar within the 7 days before it. A range asks for
//! its own window ([`range_period`]) in ONE request, however long, and [`range`] keeps every
//! bar inside it. `meta.regularMarketPrice` is TODAY's price whatever the period asked for
//! (a recorded 2020 answer carries 244.87 from 2025 next to the 2020 close of 75.09), so it
//! is never read here: the price is a bar's `close`, its JSON text parsed exactly.
//!
//! **As traded** (issue 10). Yahoo's `close` is adjusted for every split up to today. By
//! default a past close is multiplied back by every split dated after its day
//! (`history::as_traded`). Splits come with `events=split`, but only those inside the window
//! asked for. A window ending within [`STRETCH_DAYS`] of today is stretched to today (the
//! bars after its last day are never read); one ending further back asks for the splits
//! since with one more request ([`splits_period`], `interval=3mo`: a handful of bars), sent
//! beside the first.
//! `--adjust splits` prints `close` as sent, `--adjust all` prints `adjclose`.
//!
//! **A session still running is no close.** A bar of the current session (per
//! `meta.currentTradingPeriod.regular`) before its end is the price so far, not the day's
//! close, and is left out; without that period, a bar of the exchange's today is left out.
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
//! time-zone database would make this exact; for daily closes this is good enough. Split
//! events are stamped like bars and read the same way.

use rust_decimal::Decimal;
use serde_json::value::RawValue;

use super::{SPEC, chart};
use crate::calendar::{Horizon, LOOKBACK_DAYS, instant_text, midnight_utc};
use crate::error::FetchError;
use crate::history::{self, Adjust, Range, Split};
use crate::quote::{Decimals, PriceError, Quote, holds_digits, parse_price};
use crate::source::{Answer, Parsed};

const SECONDS_PER_DAY: i64 = 86_400;

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
/// midnight). Bars after the date are ignored by [`close`].
pub fn period(date: jiff::civil::Date) -> (i64, i64) {
    let midnight = midnight_utc(date);
    (
        midnight - (LOOKBACK_DAYS + 1) * SECONDS_PER_DAY,
        midnight + 2 * SECONDS_PER_DAY,
    )
}

/// `period1` and `period2` of a range's daily bars: a day of padding before `from` (east of
/// UTC, a local day starts the UTC day before) and two after `to`, as in [`period`].
pub fn range_period(range: &Range) -> (i64, i64) {
    (
        midnight_utc(range.from) - SECONDS_PER_DAY,
        midnight_utc(range.to) + 2 * SECONDS_PER_DAY,
    )
}

/// How far back a window may end and still be stretched to today to bring the splits since
/// with it: a year of daily bars (~250, some 30 KiB) costs less than a second request, which
/// is one more against the source's rate limit and, when `--jobs` is the bound, one more
/// round trip.
pub const STRETCH_DAYS: i64 = 366;

/// `period1` and `period2` of the request for the splits after a window that ends on
/// `last` (when `last` is before yesterday: the window reaches two days past `last`): from
/// the day before `last` to two days after today, so that every split dated after `last` up to now is in it. Splits inside both
/// windows are the same event and counted once.
pub fn splits_period(last: jiff::civil::Date, today: jiff::civil::Date) -> (i64, i64) {
    (
        midnight_utc(last) - SECONDS_PER_DAY,
        midnight_utc(today) + 2 * SECONDS_PER_DAY,
    )
}

/// One daily bar with a close.
#[derive(Clone)]
struct Bar<'a> {
    /// The trading day, in the exchange's calendar.
    day: jiff::civil::Date,
    time: i64,
    /// Parsed once (a history is tens of thousands of bars); an error only matters for a
    /// bar that is printed.
    close: Result<Decimal, PriceError>,
    adjclose: Option<&'a RawValue>,
}

/// An answer's bars, with what every quote from it repeats.
struct Daily<'a> {
    result: chart::ChartResult<'a>,
    offset: jiff::tz::Offset,
    /// The currency, name, exchange and decimals, checked and bounded once for every quote.
    currency: Option<String>,
    name: Option<std::sync::Arc<str>>,
    exchange: Option<std::sync::Arc<str>>,
    precision: Option<Decimals>,
    /// In ascending order of day, one per day.
    bars: Vec<Bar<'a>>,
    /// The days of bars without a close (`null`, or 0), ascending: Yahoo had a bar but not
    /// its close, so the day is a gap, not a day without trading.
    gaps: Vec<jiff::civil::Date>,
}

/// Read a daily-bars answer about `asked`: the bars with a close, each with its day, one per
/// day in ascending order, and the days of bars without one. With `now`, a bar of a session
/// that has not ended by `now` is left out (see the module docs); without, every bar is
/// kept. A bar stamped more than a day ahead of the clock is a malformed answer.
fn read_daily<'a>(
    answer: &'a Answer,
    asked: &str,
    now: Option<i64>,
) -> Result<Daily<'a>, FetchError> {
    let mut result = chart::read(answer, asked)?;
    let chart::BarColumns {
        timestamps,
        closes,
        adjcloses,
    } = result.bars()?;
    let offset = offset(&result)?;
    let horizon = now.map_or_else(Horizon::now, Horizon::at);
    let running = now.and_then(|now| running_session(&result, offset, now));
    let mut bars = Vec::with_capacity(timestamps.len());
    let mut gaps = Vec::new();
    for (i, (timestamp, close)) in timestamps.iter().zip(&closes).enumerate() {
        let Some(timestamp) = *timestamp else {
            continue; // no stamp, no day: nothing to say about any day
        };
        if !horizon.allows_time(timestamp) {
            return Err(SPEC.malformed(format!(
                "a bar stamped {} is in the future",
                instant_text(timestamp)
            )));
        }
        let day = local_day(timestamp, offset)?;
        if running.is_some_and(|first_open| day >= first_open) {
            continue; // the price so far of a session still running
        }
        // A `null` close: Yahoo lost it (or the market was shut); a close of 0: no
        // instrument trades at 0. Either way a gap, never a close and never a fact.
        let Some(close) = *close else {
            gaps.push(day);
            continue;
        };
        let close = parse_price(close.get());
        if close.as_ref().is_ok_and(Decimal::is_zero) {
            gaps.push(day);
            continue;
        }
        let adjclose = adjcloses.as_ref().and_then(|a| a.get(i).copied().flatten());
        bars.push(Bar {
            day,
            time: timestamp,
            close,
            adjclose,
        });
    }
    // Yahoo sends bars in order; should two land on one day, the later stamp is the close.
    bars.sort_by_key(|b| (b.day, b.time));
    bars.reverse();
    bars.dedup_by_key(|b| b.day);
    bars.reverse();
    // A day with a close is no gap, whatever other bar it had.
    gaps.sort_unstable();
    gaps.dedup();
    gaps.retain(|day| bars.binary_search_by_key(day, |b| b.day).is_err());
    let currency = result.meta.currency()?;
    let name = result.meta.name();
    let exchange = result.meta.exchange();
    let precision = result.meta.decimals();
    Ok(Daily {
        result,
        offset,
        currency,
        name,
        exchange,
        precision,
        bars,
        gaps,
    })
}

/// The exchange's offset from `meta.gmtoffset` (0 when absent).
fn offset(result: &chart::ChartResult<'_>) -> Result<jiff::tz::Offset, FetchError> {
    let gmtoffset = result.meta.gmtoffset.unwrap_or(0);
    i32::try_from(gmtoffset)
        .ok()
        .and_then(|s| jiff::tz::Offset::from_seconds(s).ok())
        .ok_or_else(|| SPEC.malformed(format!("gmtoffset {gmtoffset} is not a UTC offset")))
}

/// The day of a bar or split stamped `timestamp`, in the exchange's calendar.
fn local_day(timestamp: i64, offset: jiff::tz::Offset) -> Result<jiff::civil::Date, FetchError> {
    let instant = timestamp
        .checked_add(DST_SLACK_SECONDS)
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .ok_or_else(|| SPEC.malformed(format!("timestamp {timestamp} is out of range")))?;
    Ok(offset.to_datetime(instant).date())
}

/// The first day whose bar is not a close yet at `now`: the day of the current session
/// when it has not ended (`meta.currentTradingPeriod.regular`), or, without that period,
/// the exchange's today. `None` when the current session is over.
fn running_session(
    result: &chart::ChartResult<'_>,
    offset: jiff::tz::Offset,
    now: i64,
) -> Option<jiff::civil::Date> {
    let day_of = |t: i64| {
        jiff::Timestamp::from_second(t)
            .ok()
            .map(|t| offset.to_datetime(t).date())
    };
    let regular = result
        .meta
        .current_trading_period
        .as_ref()
        .and_then(|p| p.regular.as_ref());
    match regular.and_then(|r| r.end) {
        Some(end) if now >= end => None,
        // The session's day is the day it ends on (a 24-hour session ends at 23:59).
        Some(end) => day_of(end.saturating_sub(1)),
        None => day_of(now),
    }
}

/// The splits an answer lists (`events.splits`), each dated in the exchange's calendar. A
/// split dated more than a day ahead of the clock is malformed: it would multiply every
/// close before it, and be cached as traded.
fn splits(
    result: &mut chart::ChartResult<'_>,
    offset: jiff::tz::Offset,
    horizon: Horizon,
) -> Result<Vec<(i64, Split)>, FetchError> {
    let Some(events) = result.events.take().and_then(|e| e.splits) else {
        return Ok(Vec::new());
    };
    let mut splits = Vec::with_capacity(events.len());
    for (key, event) in events {
        let stamp = event
            .date
            .or_else(|| key.parse().ok())
            .ok_or_else(|| SPEC.malformed(format!("split {key:?} has no date")))?;
        if !horizon.allows_time(stamp) {
            return Err(SPEC.malformed(format!(
                "a split dated {} is in the future",
                instant_text(stamp)
            )));
        }
        let ratio = |raw: Option<&RawValue>, what: &str| {
            raw.ok_or_else(|| format!("has no {what}"))
                .and_then(|r| parse_price(r.get()).map_err(|e| format!("{what} {e}")))
                .and_then(|n| {
                    (n > Decimal::ZERO)
                        .then_some(n)
                        .ok_or_else(|| format!("{what} {n} is not positive"))
                })
                .map_err(|why| SPEC.malformed(format!("split of {stamp} {why}")))
        };
        splits.push((
            stamp,
            Split {
                day: local_day(stamp, offset)?,
                numerator: ratio(event.numerator, "numerator")?,
                denominator: ratio(event.denominator, "denominator")?,
            },
        ));
    }
    Ok(splits)
}

/// The splits of every answer, each counted once (the windows overlap).
fn all_splits(
    first: &mut Daily<'_>,
    more: &[&Answer],
    asked: &str,
    now: Option<i64>,
) -> Result<Vec<Split>, FetchError> {
    let horizon = now.map_or_else(Horizon::now, Horizon::at);
    let mut all = splits(&mut first.result, first.offset, horizon)?;
    for answer in more {
        let mut result = chart::read(answer, asked)?;
        let offset = offset(&result)?;
        all.extend(splits(&mut result, offset, horizon)?);
    }
    all.sort_by_key(|(stamp, _)| *stamp);
    all.dedup_by_key(|(stamp, _)| *stamp);
    Ok(all.into_iter().map(|(_, split)| split).collect())
}

/// The price of `bar` as `adjust` asks.
fn price(bar: &Bar<'_>, adjust: Adjust, splits: &[Split]) -> Result<Decimal, FetchError> {
    let close = bar
        .close
        .clone()
        .map_err(|e| SPEC.malformed(format!("close {e}")))?;
    match adjust {
        Adjust::Splits => Ok(close),
        Adjust::None => match history::as_traded(close, bar.day, splits) {
            // Splits that turn a close into (almost) nothing are no splits any market made.
            Some(traded) if traded == close || holds_digits(traded) => Ok(traded),
            Some(_) => Err(SPEC.malformed(format!(
                "the splits after {} make its close of {} round to zero",
                bar.day,
                close.normalize()
            ))),
            None => Err(SPEC.malformed(format!(
                "the close of {} times its splits is out of range",
                bar.day
            ))),
        },
        Adjust::All => {
            let raw = bar.adjclose.ok_or_else(|| {
                SPEC.no_price(format!("no close adjusted for dividends on {}", bar.day))
            })?;
            parse_price(raw.get()).map_err(|e| SPEC.malformed(format!("adjclose {e}")))
        }
    }
}

fn quote(daily: &Daily<'_>, bar: &Bar<'_>, price: Decimal) -> Quote {
    Quote {
        price,
        currency: daily.currency.clone(),
        time: Some(bar.time),
        market_date: Some(bar.day),
        previous_close: None,
        name: daily.name.clone(),
        exchange: daily.exchange.clone(),
        precision: daily.precision,
        quoted: None,
        fx: None,
    }
}

/// Read the daily-bars answer and return the close of `date`, or of the last trading day
/// within `LOOKBACK_DAYS` (a week) before it, as Yahoo sends it (adjusted for splits), whatever the
/// clock says. The quote's `time` is that bar's timestamp and its `market_date` the bar's
/// day in the exchange's calendar, so the output says which day the price is from.
///
/// Public for the property tests and fuzz targets (the bar picking of [`close`]): it must
/// return an error, never panic, whatever the bytes.
pub fn parse_close(
    date: jiff::civil::Date,
    answer: &Answer,
    asked: &str,
) -> Result<Quote, FetchError> {
    pick_close(date, Adjust::Splits, &[answer], asked, None).map(|(quote, _)| quote)
}

/// `--date`: the close of `date` (or the last within `LOOKBACK_DAYS` (a week) before it) as
/// `adjust` asks, from the answers to the window and, for a close as traded before today,
/// the splits since; with the gaps between that close's day and `date`. A bar of a session
/// still running at `now` is not a close.
pub fn close(
    date: jiff::civil::Date,
    adjust: Adjust,
    answers: &[&Answer],
    asked: &str,
    now: i64,
) -> Result<Parsed, FetchError> {
    let (quote, gaps) = pick_close(date, adjust, answers, asked, Some(now))?;
    Ok(Parsed {
        quotes: vec![quote],
        gaps,
    })
}

fn pick_close(
    date: jiff::civil::Date,
    adjust: Adjust,
    answers: &[&Answer],
    asked: &str,
    now: Option<i64>,
) -> Result<(Quote, Vec<jiff::civil::Date>), FetchError> {
    let Some((&first, more)) = answers.split_first() else {
        return Err(FetchError::Other("internal: no answer to read".into()));
    };
    let mut daily = read_daily(first, asked, now)?;
    let earliest = date.saturating_sub(jiff::Span::new().days(LOOKBACK_DAYS));
    let Some(bar) = daily
        .bars
        .iter()
        .rev()
        .find(|b| b.day <= date && b.day >= earliest)
    else {
        return Err(SPEC.no_price(format!("no trading day between {earliest} and {date}")));
    };
    let bar = bar.clone();
    let splits = match adjust {
        Adjust::None => all_splits(&mut daily, more, asked, now)?,
        Adjust::Splits | Adjust::All => Vec::new(),
    };
    let price = price(&bar, adjust, &splits)?;
    // What the answer says of the days after the close, up to the date: a gap stays one.
    let gaps = daily
        .gaps
        .iter()
        .copied()
        .filter(|d| *d > bar.day && *d <= date)
        .collect();
    Ok((quote(&daily, &bar, price), gaps))
}

/// `--from`/`--to`: the close of every trading day inside `range`, ascending, as
/// `range.adjust` asks, from the answers to the range's window and, for closes as traded
/// of a range ending before today, the splits since. No trading day is an empty list (the
/// caller words that error, after the cache had its say). A bar of a session still
/// running at `now` is not a close.
///
/// Public for the fuzz targets: it must return an error, never panic, whatever the bytes.
pub fn range(
    range: &Range,
    answers: &[&Answer],
    asked: &str,
    now: i64,
) -> Result<Parsed, FetchError> {
    let Some((&first, more)) = answers.split_first() else {
        return Err(FetchError::Other("internal: no answer to read".into()));
    };
    let mut daily = read_daily(first, asked, Some(now))?;
    let splits = match range.adjust {
        Adjust::None => all_splits(&mut daily, more, asked, Some(now))?,
        Adjust::Splits | Adjust::All => Vec::new(),
    };
    // Sized once: collecting `Result`s cannot use the filter's size hint, and growing the
    // vector of quotes by doubling cost 6% of a year's run in copies.
    let mut quotes = Vec::with_capacity(daily.bars.len());
    for bar in daily.bars.iter().filter(|bar| range.contains(bar.day)) {
        quotes.push(quote(&daily, bar, price(bar, range.adjust, &splits)?));
    }
    let mut gaps = std::mem::take(&mut daily.gaps);
    gaps.retain(|day| range.contains(*day));
    Ok(Parsed { quotes, gaps })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Interval;
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
            "TSLA",
        )
    }

    /// The close of `on` from a recording of `ticker`.
    fn close_on(ticker: &str, body: &[u8], on: &str) -> Result<Quote, FetchError> {
        let answer = Answer {
            status: 200,
            body: body.to_vec(),
        };
        parse_close(date(on), &answer, ticker)
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

    const NVDA: &[u8] =
        include_bytes!("../../../tests/fixtures/yahoo_chart_NVDA_split_window.json");

    /// The answer to the request for the splits after the NVDA window: the 10:1 split of
    /// 2024-06-10 (stamped at the session open, 13:30 UTC).
    const NVDA_SPLITS_SINCE: &[u8] = br#"{"chart":{"result":[{"meta":{"currency":"USD","gmtoffset":-14400},"timestamp":[1643639400,1717853400],"events":{"splits":{"1718026200":{"date":1718026200,"numerator":10,"denominator":1,"splitRatio":"10:1"}}},"indicators":{"quote":[{"close":[24.5,120.9]}]}}],"error":null}}"#;

    fn answers(bodies: &[&[u8]]) -> Vec<Answer> {
        bodies
            .iter()
            .map(|b| Answer {
                status: 200,
                body: b.to_vec(),
            })
            .collect()
    }

    fn nvda(from: &str, to: &str, interval: Interval, adjust: Adjust) -> Vec<Quote> {
        let answers = answers(&[NVDA, NVDA_SPLITS_SINCE]);
        let answers: Vec<&Answer> = answers.iter().collect();
        let range = Range::new(date(from), date(to), interval, adjust).unwrap();
        let quotes = super::range(&range, &answers, "NVDA", NOW).unwrap().quotes;
        history::select(interval, quotes, |q| q.market_date.unwrap())
    }

    /// 2025-02-21, when the NVDA answer was recorded (after its session's end).
    const NOW: i64 = 1_740_200_000;

    fn shown(quotes: &[Quote]) -> Vec<(String, String)> {
        quotes
            .iter()
            .map(|q| {
                (
                    q.market_date.unwrap().to_string(),
                    crate::quote::format_price(q.price, 2),
                )
            })
            .collect()
    }

    #[test]
    fn closes_as_traded_multiply_back_every_later_split() {
        let quotes = nvda("2021-02-01", "2021-02-01", Interval::Day, Adjust::None);
        assert_eq!(quotes.len(), 1);
        assert_eq!(
            quotes[0].price.normalize().to_string(),
            "529.48001861572264"
        );
        assert_eq!(quotes[0].time, Some(1612189800));
        assert_eq!(quotes[0].name.as_deref(), Some("NVIDIA Corporation"));
        // The day before the 4:1 split, the split day itself (already post-split), and
        // the last day of the window.
        let days = nvda("2021-07-19", "2021-07-20", Interval::Day, Adjust::None);
        assert_eq!(
            shown(&days),
            [
                ("2021-07-19".into(), "751.19".into()),
                ("2021-07-20".into(), "186.12".into())
            ]
        );
        // As Yahoo sends it, and with dividends.
        let splits = nvda("2021-02-01", "2021-02-01", Interval::Day, Adjust::Splits);
        assert_eq!(splits[0].price.to_string(), "13.237000465393066");
        let all = nvda("2021-02-01", "2021-02-01", Interval::Day, Adjust::All);
        assert_eq!(all[0].price.to_string(), "13.2034912109375");
    }

    #[test]
    fn a_range_keeps_every_trading_day_inside_it_ascending() {
        let quotes = nvda("2021-02-01", "2022-01-31", Interval::Day, Adjust::None);
        assert_eq!(quotes.len(), 252);
        assert!(
            quotes
                .windows(2)
                .all(|w| w[0].market_date < w[1].market_date)
        );
        let week = nvda("2021-03-29", "2021-04-09", Interval::Week, Adjust::None);
        // Good Friday 2021-04-02 was closed: that week ends on Thursday.
        assert_eq!(
            shown(&week)
                .iter()
                .map(|(d, _)| d.as_str())
                .collect::<Vec<_>>(),
            ["2021-04-01", "2021-04-09"]
        );
        let month = nvda("2021-02-01", "2021-03-31", Interval::Month, Adjust::None);
        assert_eq!(
            shown(&month)
                .iter()
                .map(|(d, _)| d.as_str())
                .collect::<Vec<_>>(),
            ["2021-02-26", "2021-03-31"]
        );
        // Nothing inside: an empty list, for the caller to word.
        assert!(nvda("2021-02-06", "2021-02-07", Interval::Day, Adjust::None).is_empty());
    }

    #[test]
    fn a_date_close_is_as_traded_too() {
        let answers = answers(&[NVDA, NVDA_SPLITS_SINCE]);
        let answers: Vec<&Answer> = answers.iter().collect();
        let q = close(date("2021-02-01"), Adjust::None, &answers, "NVDA", NOW)
            .unwrap()
            .quotes
            .remove(0);
        assert_eq!(crate::quote::format_price(q.price, 2), "529.48");
        // Without the second answer only the split inside the window counts.
        let q = close(date("2021-02-01"), Adjust::None, &answers[..1], "NVDA", NOW)
            .unwrap()
            .quotes
            .remove(0);
        assert_eq!(crate::quote::format_price(q.price, 2), "52.95");
        let q = close(
            date("2021-02-01"),
            Adjust::Splits,
            &answers[..1],
            "NVDA",
            NOW,
        )
        .unwrap()
        .quotes
        .remove(0);
        assert_eq!(q.price.to_string(), "13.237000465393066");
    }

    #[test]
    fn bad_splits_are_malformed() {
        for split in [
            r#"{"1626787800":{"date":1626787800,"numerator":0,"denominator":1}}"#,
            r#"{"1626787800":{"date":1626787800,"numerator":4}}"#,
            r#"{"1626787800":{"date":1626787800,"numerator":"4","denominator":1}}"#,
            r#"{"x":{"numerator":4,"denominator":1}}"#,
            r#"{"1":{"date":99999999999999,"numerator":4,"denominator":1}}"#,
            // A split of 2100: it would multiply every close 1000 times, and be cached.
            r#"{"4102444800":{"date":4102444800,"numerator":1000,"denominator":1}}"#,
            // A ratio that makes the close (almost) nothing.
            r#"{"1626787800":{"date":1626787800,"numerator":1,"denominator":1e27}}"#,
        ] {
            let body = chart(&format!(
                r#""timestamp":[1612189800],"events":{{"splits":{split}}},"indicators":{{"quote":[{{"close":[13.2]}}]}}"#
            ));
            let answer = Answer {
                status: 200,
                body: body.into_bytes(),
            };
            let err = close(date("2021-02-01"), Adjust::None, &[&answer], "X", NOW).unwrap_err();
            assert_eq!(err.kind(), "malformed_response", "{split}");
        }
    }

    #[test]
    fn bars_without_a_close_are_gaps_never_days_without_trading() {
        // INR=X's bar of 2017-07-11 (London) is all nulls.
        let answer = Answer {
            status: 200,
            body: INR_WITH_NULL.to_vec(),
        };
        let range = Range::new(
            date("2017-07-10"),
            date("2017-07-13"),
            Interval::Day,
            Adjust::Splits,
        )
        .unwrap();
        let parsed = super::range(&range, &[&answer], "INR=X", NOW).unwrap();
        assert_eq!(parsed.quotes.len(), 3);
        assert_eq!(parsed.gaps, [date("2017-07-11")]);
        // --date on the null day: the close before it, and the null day a gap.
        let parsed = close(date("2017-07-11"), Adjust::Splits, &[&answer], "INR=X", NOW).unwrap();
        assert_eq!(parsed.quotes[0].market_date, Some(date("2017-07-10")));
        assert_eq!(parsed.gaps, [date("2017-07-11")]);
        // A close of 0 is a gap too; a day with another bar that has a close is not.
        let bars = r#""timestamp":[1609770600,1609857000,1609860000],"indicators":{"quote":[{"close":[0.0,null,2.5]}]}"#;
        let answer = Answer {
            status: 200,
            body: chart(bars).into_bytes(),
        };
        let range = Range::new(
            date("2021-01-01"),
            date("2021-01-08"),
            Interval::Day,
            Adjust::Splits,
        )
        .unwrap();
        let parsed = super::range(&range, &[&answer], "X", NOW).unwrap();
        assert_eq!(parsed.gaps, [date("2021-01-04")]);
        assert_eq!(parsed.quotes.len(), 1);
    }

    #[test]
    fn a_bar_from_the_future_is_malformed() {
        let future = jiff::Timestamp::now().as_second() + 2 * 86_400;
        let bars = format!(
            r#""timestamp":[1609770600,{future}],"indicators":{{"quote":[{{"close":[1.5,2.5]}}]}}"#
        );
        let err = close_on("X", chart(&bars).as_bytes(), "2021-01-04").unwrap_err();
        assert_eq!(err.kind(), "malformed_response");
        assert!(err.to_string().contains("in the future"), "{err}");
    }

    #[test]
    fn an_answer_about_another_instrument_is_malformed() {
        let err = close_on("AAPL", TSLA, "2021-01-06").unwrap_err();
        assert_eq!(
            err,
            SPEC.malformed("the answer is about TSLA, not AAPL".into())
        );
        assert!(
            close_on("tsla", TSLA, "2021-01-06").is_ok(),
            "case is no difference"
        );
    }

    #[test]
    fn a_session_still_running_is_no_close() {
        let now = jiff::Timestamp::now().as_second();
        let today_open = now - 3_600;
        let yesterday_open = today_open - 86_400;
        let body = |end: Option<i64>| {
            let period = end.map_or(String::new(), |end| {
                format!(
                    r#","currentTradingPeriod":{{"regular":{{"start":{today_open},"end":{end}}}}}"#
                )
            });
            format!(
                r#"{{"chart":{{"result":[{{"meta":{{"currency":"USD","gmtoffset":0{period}}},"timestamp":[{yesterday_open},{today_open}],"indicators":{{"quote":[{{"close":[1.5,2.5]}}]}}}}]}}}}"#
            )
        };
        let today = jiff::Timestamp::from_second(today_open + DST_SLACK_SECONDS)
            .unwrap()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .date();
        let range = Range::new(
            today.saturating_sub(jiff::Span::new().days(3)),
            today,
            Interval::Day,
            Adjust::Splits,
        )
        .unwrap();
        let read = |body: String| {
            let answer = Answer {
                status: 200,
                body: body.into_bytes(),
            };
            let quotes = super::range(&range, &[&answer], "X", now).unwrap().quotes;
            let last = close(today, Adjust::Splits, &[&answer], "X", now)
                .unwrap()
                .quotes
                .remove(0);
            (quotes.len(), last.price.to_string())
        };
        // Running (ending a second from now, so on the day of the bar whatever the time):
        // only yesterday's close, for the range and for --date today alike.
        assert_eq!(read(body(Some(now + 1))), (1, "1.5".into()));
        // Over: today's close counts.
        assert_eq!(read(body(Some(now - 60))), (2, "2.5".into()));
        // No period at all: today is not trusted.
        assert_eq!(read(body(None)), (1, "1.5".into()));
    }
}
