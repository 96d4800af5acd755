//! Days and instants: which calendar day a timestamp falls on, and when a day begins.
//!
//! Prices are dated by days (a close belongs to its trading day in the exchange's own
//! calendar) and stamped with instants (Unix seconds); the conversions between the two live
//! here so that every source and format agrees on them.

/// Unix seconds of 00:00 UTC on `date`. `duration_since` is total over jiff's date range,
/// so unlike a time-zone conversion this cannot fail.
pub fn midnight_utc(date: jiff::civil::Date) -> i64 {
    date.duration_since(jiff::civil::date(1970, 1, 1)).as_secs()
}

/// A date written exactly `YYYY-MM-DD` (as `--date` takes it and the ECB writes it), or
/// `None`: jiff alone would also take `2024-2-1` or a time after the date.
pub fn parse_iso_date(text: &str) -> Option<jiff::civil::Date> {
    let well_formed = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    well_formed.then(|| text.parse().ok()).flatten()
}

/// How far back `--date` looks for the last close (or rate) before a day the market was
/// closed: a weekend plus the longest run of holidays (Good Friday to Easter Monday) fits in
/// a week. Every source, the cache and the currency rates share this one rule.
pub const LOOKBACK_DAYS: i64 = 7;

/// The UTC calendar day of Unix time `secs`; `None` outside the range of dates.
pub fn utc_date(secs: i64) -> Option<jiff::civil::Date> {
    let instant = jiff::Timestamp::from_second(secs).ok()?;
    Some(instant.to_zoned(jiff::tz::TimeZone::UTC).date())
}

/// Today's date in UTC.
pub fn today_utc() -> jiff::civil::Date {
    jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
}

/// How far ahead of this machine's clock a time or a day may be before it is the future, no
/// market's (issue 18): a day covers clock skew and an exchange whose day begins before
/// UTC's (Auckland is 13 hours ahead).
pub const FUTURE_SLACK_SECONDS: i64 = 86_400;

/// The last instant and the last day anything may be dated, as of one moment: later is the
/// future, whoever says so (a source, the cache).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Horizon {
    last_second: i64,
    last_day: jiff::civil::Date,
}

impl Horizon {
    /// The horizon as of `now`, Unix seconds.
    pub fn at(now: i64) -> Horizon {
        let last_second = now.saturating_add(FUTURE_SLACK_SECONDS);
        Horizon {
            last_second,
            last_day: utc_date(last_second).unwrap_or(jiff::civil::Date::MAX),
        }
    }

    /// The horizon as of this machine's clock.
    pub fn now() -> Horizon {
        Horizon::at(jiff::Timestamp::now().as_second())
    }

    /// Whether Unix time `secs` is not in the future.
    pub fn allows_time(&self, secs: i64) -> bool {
        secs <= self.last_second
    }

    /// Whether `day` is not in the future.
    pub fn allows_day(&self, day: jiff::civil::Date) -> bool {
        day <= self.last_day
    }
}

/// Unix seconds as people read them (`2999-01-01T00:00:00Z`), or the number itself when it
/// is no instant of the calendar.
pub fn instant_text(secs: i64) -> String {
    jiff::Timestamp::from_second(secs).map_or_else(|_| secs.to_string(), |t| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn midnight_is_total_over_the_calendar() {
        assert_eq!(midnight_utc(jiff::civil::date(2021, 1, 1)), 1_609_459_200);
        let _ = midnight_utc(jiff::civil::Date::MIN);
        let _ = midnight_utc(jiff::civil::Date::MAX);
    }

    #[test]
    fn the_future_begins_a_day_ahead_of_the_clock() {
        // 2021-01-01T12:00:00Z.
        let horizon = Horizon::at(1_609_502_400);
        assert!(horizon.allows_time(1_609_502_400 + 86_400));
        assert!(!horizon.allows_time(1_609_502_400 + 86_401));
        assert!(horizon.allows_day(jiff::civil::date(2021, 1, 2)));
        assert!(!horizon.allows_day(jiff::civil::date(2021, 1, 3)));
        assert!(Horizon::at(i64::MAX).allows_day(jiff::civil::Date::MAX));
        assert_eq!(instant_text(32_503_680_000), "3000-01-01T00:00:00Z");
        assert_eq!(instant_text(i64::MAX), i64::MAX.to_string());
    }
}
