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

/// Today's date in UTC.
pub fn today_utc() -> jiff::civil::Date {
    jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
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
}
