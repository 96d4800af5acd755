//! The US market's clock, for the sources that price US listings (Nasdaq, Tiingo): New York
//! time, and the regular session's close at 16:00 there.
//!
//! Their answers say "10:19 AM ET" or give a bare day; turning those into instants needs the
//! New York time zone with its daylight-saving history. It is compiled in from the tz
//! database when `quotes` is built (jiff's `static` feature: one zone, a few hundred bytes),
//! so it is exact for every past date and the same on every platform, Windows included,
//! without reading the system's zone files at run time.

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use rust_decimal::Decimal;

use crate::quote::Quote;

/// America/New_York, the zone "ET" means.
static NEW_YORK: TimeZone = jiff::tz::get!("America/New_York");

/// 16:00, when the regular session of the US exchanges closes (and mutual funds strike
/// their NAV).
pub const CLOSE: Time = jiff::civil::time(16, 0, 0, 0);

/// The instant (Unix seconds) of `time` on `day` in New York; in the hour a clock change
/// repeats or skips, the compatible reading (the earlier of two, the later for a gap).
pub fn instant(day: Date, time: Time) -> Option<i64> {
    NEW_YORK
        .to_timestamp(day.to_datetime(time))
        .ok()
        .map(|t| t.as_second())
}

/// The instant of `day`'s close, 16:00 New York time.
pub fn close_of(day: Date) -> Option<i64> {
    instant(day, CLOSE)
}

/// Whether `day`'s regular session is over at `now` (Unix seconds): a daily bar of a day
/// whose session is still running is the price so far, not a close.
pub fn is_over(day: Date, now: i64) -> bool {
    close_of(day).is_some_and(|close| close <= now)
}

/// A US listing's close of `day`: in US dollars, at 16:00 New York time. `None` for a price
/// of 0 (a day without trades) and for a day whose session is not over at `now`.
pub fn close(day: Date, price: Decimal, now: i64) -> Option<Quote> {
    if price.is_zero() || !is_over(day, now) {
        return None;
    }
    Some(Quote {
        price,
        currency: Some("USD".into()),
        time: close_of(day),
        market_date: Some(day),
        ..Quote::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_york_time_follows_daylight_saving_through_history() {
        // Winter (EST, UTC-5) and summer (EDT, UTC-4).
        let winter = close_of(jiff::civil::date(2023, 2, 24)).unwrap();
        assert_eq!(winter, 1_677_272_400); // 2023-02-24T21:00:00Z
        let summer = close_of(jiff::civil::date(2020, 7, 17)).unwrap();
        assert_eq!(summer, 1_595_016_000); // 2020-07-17T20:00:00Z
        // Before 2007 DST began in April: 2005-03-20 was still EST.
        let old = close_of(jiff::civil::date(2005, 3, 20)).unwrap();
        assert_eq!(old, 1_111_352_400); // 2005-03-20T21:00:00Z
        let morning = instant(
            jiff::civil::date(2019, 11, 19),
            jiff::civil::time(9, 27, 0, 0),
        );
        assert_eq!(morning, Some(1_574_173_620)); // 14:27Z
    }

    #[test]
    fn a_session_is_over_at_its_close() {
        let day = jiff::civil::date(2023, 2, 24);
        let close = close_of(day).unwrap();
        assert!(!is_over(day, close - 1));
        assert!(is_over(day, close));
    }
}
