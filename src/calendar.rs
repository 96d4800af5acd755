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
