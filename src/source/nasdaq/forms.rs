//! The text forms of Nasdaq's answers, parsed exactly: a form not listed here is an error,
//! never a guess.
//!
//! - prices: `"$266.29"`, `"$145"`, `"$266.782"`, `"$1,000.5"` (thousands grouped by commas,
//!   three digits a group);
//! - a history row's day: `"11/04/2022"` (`MM/DD/YYYY`);
//! - the latest trade's time ([`stamp`]): `"Feb 24, 2023"`, `"Feb 24, 2023 10:19 AM ET"`, and
//!   the older `"DATA AS OF Nov 19, 2019"`, `"DATA AS OF Nov 19, 2019 9:27 AM ET"`, with
//!   ` - PRE-MARKET` or ` - AFTER HOURS` after a trade outside the regular session;
//! - the regular session's close beside such a trade ([`closed_at`]):
//!   `"CLOSED AT 4:00 PM ET ON Nov 18, 2019"`.
//!
//! Months are English three-letter abbreviations (`Jan` … `Dec`), days one or two digits,
//! times 12-hour with `AM`/`PM`, `ET` New York time.

use jiff::civil::{Date, Time};
use rust_decimal::Decimal;

use crate::quote::parse_price;

/// A dollar amount: `$`, digits (grouped by commas or not), an optional fraction.
pub fn dollars(text: &str) -> Result<Decimal, String> {
    let bad = || format!("{:?} is not a dollar amount", crate::text::clip(text, 40));
    let amount = text.strip_prefix('$').ok_or_else(bad)?;
    let (whole, fraction) = match amount.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (amount, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let mut groups = whole.split(',');
    let first = groups.next().unwrap_or("");
    let grouped = whole.contains(',');
    if !digits(first) || (grouped && first.len() > 3) {
        return Err(bad());
    }
    if !groups.all(|g| g.len() == 3 && digits(g)) {
        return Err(bad());
    }
    if fraction.is_some_and(|f| !digits(f)) {
        return Err(bad());
    }
    let plain: String = amount.chars().filter(|c| *c != ',').collect();
    parse_price(&plain).map_err(|e| e.to_string())
}

/// `MM/DD/YYYY`, two digits, two digits, four digits.
pub fn us_date(text: &str) -> Result<Date, String> {
    let bad = || {
        format!(
            "{:?} is not a date (MM/DD/YYYY)",
            crate::text::clip(text, 40)
        )
    };
    let parts: Vec<&str> = text.split('/').collect();
    let [month, day, year] = parts.as_slice() else {
        return Err(bad());
    };
    let number = |s: &str, len: usize| {
        (s.len() == len && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<i16>().ok())
            .flatten()
    };
    match (number(month, 2), number(day, 2), number(year, 4)) {
        (Some(m), Some(d), Some(y)) => Date::new(y, m as i8, d as i8).map_err(|_| bad()),
        _ => Err(bad()),
    }
}

/// A session outside the regular one, as a trade's time names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Session {
    PreMarket,
    AfterHours,
}

/// When the latest trade was, as `lastTradeTimestamp` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub date: Date,
    /// New York time; absent when the answer gives the day only.
    pub time: Option<Time>,
    /// Set when the trade was outside the regular session.
    pub session: Option<Session>,
}

/// `lastTradeTimestamp` of the latest price (see the module docs for the forms).
pub fn stamp(text: &str) -> Result<Stamp, String> {
    let bad = || {
        format!(
            "{:?} is not a time Nasdaq is known to write",
            crate::text::clip(text, 60)
        )
    };
    let rest = text.strip_prefix("DATA AS OF ").unwrap_or(text);
    let (rest, session) = match rest.split_once(" - ") {
        Some((rest, "PRE-MARKET")) => (rest, Some(Session::PreMarket)),
        Some((rest, "AFTER HOURS")) => (rest, Some(Session::AfterHours)),
        Some(_) => return Err(bad()),
        None => (rest, None),
    };
    let words: Vec<&str> = rest.split(' ').collect();
    let (date, time) = match words.as_slice() {
        [month, day, year] => (date(month, day, year), None),
        [month, day, year, clock, half, "ET"] => (date(month, day, year), Some(time(clock, half))),
        _ => return Err(bad()),
    };
    Ok(Stamp {
        date: date.ok_or_else(bad)?,
        time: time.map(|t| t.ok_or_else(bad)).transpose()?,
        session,
    })
}

/// `CLOSED AT 4:00 PM ET ON Nov 18, 2019`: the regular session's close shown beside a
/// pre-market or after-hours trade.
pub fn closed_at(text: &str) -> Result<(Date, Time), String> {
    let bad = || {
        format!(
            "{:?} is not a close Nasdaq is known to write",
            crate::text::clip(text, 60)
        )
    };
    let words: Vec<&str> = text.split(' ').collect();
    let ["CLOSED", "AT", clock, half, "ET", "ON", month, day, year] = words.as_slice() else {
        return Err(bad());
    };
    match (date(month, day, year), time(clock, half)) {
        (Some(date), Some(time)) => Ok((date, time)),
        _ => Err(bad()),
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `Nov`, `19,`, `2019`.
fn date(month: &str, day: &str, year: &str) -> Option<Date> {
    let month = MONTHS.iter().position(|m| *m == month)? as i8 + 1;
    let day = day.strip_suffix(',')?;
    let digits = |s: &str, lens: std::ops::RangeInclusive<usize>| {
        lens.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
    };
    if !digits(day, 1..=2) || !digits(year, 4..=4) {
        return None;
    }
    Date::new(year.parse().ok()?, month, day.parse().ok()?).ok()
}

/// `9:27` and `AM`: 12-hour time.
fn time(clock: &str, half: &str) -> Option<Time> {
    let (hour, minute) = clock.split_once(':')?;
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !(1..=2).contains(&hour.len()) || minute.len() != 2 || !digits(hour) || !digits(minute) {
        return None;
    }
    let (hour, minute): (i8, i8) = (hour.parse().ok()?, minute.parse().ok()?);
    if !(1..=12).contains(&hour) {
        return None;
    }
    let hour = match half {
        "AM" => hour % 12,
        "PM" => hour % 12 + 12,
        _ => return None,
    };
    Time::new(hour, minute, 0, 0).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollars_are_read_exactly() {
        for (text, value) in [
            ("$266.29", "266.29"),
            ("$145", "145"),
            ("$1,000.5", "1000.5"),
            ("$266.782", "266.782"),
            ("$1,234,567.00", "1234567"),
            ("$0.0001234", "0.0001234"),
        ] {
            assert_eq!(dollars(text).unwrap().to_string(), value, "{text}");
        }
        for bad in [
            "266.29",
            "$",
            "$.5",
            "$1.",
            "$1,00",
            "$1,0000",
            "$12,345,67",
            "$1234,567",
            "N/A",
            "$-1",
            "$1e3",
            "$ 1",
            "$1,000.5.1",
            "$,100",
            "$1.2,3",
        ] {
            assert!(dollars(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn history_days_are_mm_dd_yyyy() {
        assert_eq!(
            us_date("11/04/2022").unwrap(),
            jiff::civil::date(2022, 11, 4)
        );
        for bad in [
            "11/4/2022",
            "2022-11-04",
            "13/01/2022",
            "02/30/2022",
            "11/04/22",
            "",
        ] {
            assert!(us_date(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_known_timestamp_form_and_no_other() {
        let day = jiff::civil::date;
        let at = |h, m| Some(jiff::civil::time(h, m, 0, 0));
        for (text, expected) in [
            ("Feb 24, 2023", (day(2023, 2, 24), None, None)),
            (
                "Feb 24, 2023 10:19 AM ET",
                (day(2023, 2, 24), at(10, 19), None),
            ),
            ("DATA AS OF Nov 19, 2019", (day(2019, 11, 19), None, None)),
            (
                "DATA AS OF Nov 19, 2019 10:33 AM ET",
                (day(2019, 11, 19), at(10, 33), None),
            ),
            (
                "DATA AS OF Nov 19, 2019 9:27 AM ET - PRE-MARKET",
                (day(2019, 11, 19), at(9, 27), Some(Session::PreMarket)),
            ),
            (
                "Nov 19, 2019 7:59 PM ET - AFTER HOURS",
                (day(2019, 11, 19), at(19, 59), Some(Session::AfterHours)),
            ),
            (
                "Jul 8, 2020 12:00 PM ET",
                (day(2020, 7, 8), at(12, 0), None),
            ),
            ("Jul 8, 2020 12:05 AM ET", (day(2020, 7, 8), at(0, 5), None)),
        ] {
            let (date, time, session) = expected;
            assert_eq!(
                stamp(text).unwrap(),
                Stamp {
                    date,
                    time,
                    session
                },
                "{text}"
            );
        }
        for bad in [
            "",
            "Feb 24 2023",
            "February 24, 2023",
            "feb 24, 2023",
            "24 Feb, 2023",
            "Feb 30, 2023",
            "Feb 24, 2023 10:19 AM",
            "Feb 24, 2023 10:19 AM EST",
            "Feb 24, 2023 13:19 PM ET",
            "Feb 24, 2023 10:9 AM ET",
            "Feb 24, 2023 10:19 ET",
            "Feb 24, 2023 - PRE MARKET",
            "Feb  24, 2023",
            "2023-02-24T10:19:00-05:00",
            "DATA AS OF",
        ] {
            assert!(stamp(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_close_beside_an_extended_hours_trade() {
        assert_eq!(
            closed_at("CLOSED AT 4:00 PM ET ON Nov 18, 2019").unwrap(),
            (
                jiff::civil::date(2019, 11, 18),
                jiff::civil::time(16, 0, 0, 0)
            )
        );
        for bad in [
            "CLOSED AT 4:00 PM ON Nov 18, 2019",
            "Closed at 4:00 PM ET on Nov 18, 2019",
            "Nov 18, 2019",
        ] {
            assert!(closed_at(bad).is_err(), "{bad}");
        }
    }
}
