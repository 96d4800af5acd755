//! Ranges and intervals of past closes, and the arithmetic of closes as traded (issue 10).
//!
//! A source answers a range with one close per trading day, ascending; everything that is
//! the same for every source lives here: what a range is and how far it may reach, which
//! days a week or month interval keeps ([`select`]), how a split-adjusted close is turned
//! back into the price as traded ([`as_traded`]), and how a long range is cut into requests
//! of a bounded number of days ([`chunks`]).
//!
//! **As traded.** Yahoo's daily `close` is adjusted to today's share count: NVDA's close of
//! 2021-02-01 is sent as 13.237000465393066, but it traded at 529.48 that day (a 4:1 split
//! in 2021 and a 10:1 split in 2024 came after). A price file must hold what the price was,
//! so by default every past close is multiplied back by the ratio of every split dated AFTER
//! its day — a day ON a split date is already post-split. The multiplication is exact
//! (`Decimal`); rounding happens once, when the price is written.

use rust_decimal::Decimal;

/// The longest range accepted, in years: longer is a usage error.
pub const MAX_YEARS: i16 = 30;

/// `--adjust`: which close a past day gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Adjust {
    /// The price as traded that day (the default).
    #[default]
    None,
    /// Adjusted for every split since, as Yahoo sends its `close`.
    Splits,
    /// Adjusted for splits and dividends: Yahoo's `adjclose`.
    All,
}

impl Adjust {
    /// The name `--adjust` takes and JSON writes (`"adjust":"none"`).
    pub fn name(self) -> &'static str {
        match self {
            Adjust::None => "none",
            Adjust::Splits => "splits",
            Adjust::All => "all",
        }
    }
}

/// `--interval`: how many rows a range gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Interval {
    /// Every trading day.
    #[default]
    Day,
    /// The last trading day of each calendar week (Monday to Sunday) the range touches.
    Week,
    /// The last trading day of each calendar month the range touches.
    Month,
}

impl Interval {
    /// The last day of the latest period (a Monday-to-Sunday week, a calendar month) that
    /// ends on or before `day`; `day` itself for `Day`. `None` before the calendar's start.
    pub fn last_end_by(self, day: jiff::civil::Date) -> Option<jiff::civil::Date> {
        match self {
            Interval::Day => Some(day),
            Interval::Week => {
                let back = i64::from(day.weekday().to_monday_zero_offset() + 1) % 7;
                day.checked_sub(jiff::Span::new().days(back)).ok()
            }
            Interval::Month if day == day.last_of_month() => Some(day),
            Interval::Month => day.first_of_month().yesterday().ok(),
        }
    }
}

/// `--from`/`--to`: the daily closes of the days `from..=to`, and which of them to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Range {
    pub from: jiff::civil::Date,
    pub to: jiff::civil::Date,
    pub interval: Interval,
    pub adjust: Adjust,
}

impl Range {
    /// A range as the user gave it, checked: `to` not before `from`, and at most
    /// [`MAX_YEARS`] long. The message is the usage error.
    pub fn new(
        from: jiff::civil::Date,
        to: jiff::civil::Date,
        interval: Interval,
        adjust: Adjust,
    ) -> Result<Range, String> {
        if to < from {
            return Err(format!("--to {to} is before --from {from}"));
        }
        let limit = from.checked_add(jiff::Span::new().years(MAX_YEARS));
        if limit.is_ok_and(|limit| to > limit) {
            return Err(format!(
                "--from {from} --to {to} is longer than {MAX_YEARS} years; split it into \
                 several runs"
            ));
        }
        Ok(Range {
            from,
            to,
            interval,
            adjust,
        })
    }

    /// Whether `day` is inside the range.
    pub fn contains(&self, day: jiff::civil::Date) -> bool {
        (self.from..=self.to).contains(&day)
    }

    /// The same range over other days (a part the cache does not hold).
    pub fn between(self, from: jiff::civil::Date, to: jiff::civil::Date) -> Range {
        Range { from, to, ..self }
    }
}

/// Keep, of daily closes in ascending order of their day, the rows `interval` prints: all
/// of them, or the last of each calendar week (Monday–Sunday) or month. Each kept row keeps
/// its own day, so its date is a day the price really was the close.
pub fn select<T>(
    interval: Interval,
    daily: Vec<T>,
    day: impl Fn(&T) -> jiff::civil::Date,
) -> Vec<T> {
    let period = |d: jiff::civil::Date| -> (i16, i8) {
        match interval {
            Interval::Day => (d.year(), 0),
            Interval::Week => {
                let week = d.iso_week_date();
                (week.year(), week.week())
            }
            Interval::Month => (d.year(), d.month()),
        }
    };
    if interval == Interval::Day {
        return daily;
    }
    let mut kept: Vec<T> = Vec::new();
    for row in daily {
        let same_period = kept
            .last()
            .is_some_and(|last| period(day(last)) == period(day(&row)));
        if same_period {
            kept.pop();
        }
        kept.push(row);
    }
    kept
}

/// A stock split: on `day` (in the exchange's calendar) each share became
/// `numerator / denominator` shares (4:1 is 4 / 1; a 1:10 reverse split is 1 / 10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    pub day: jiff::civil::Date,
    pub numerator: Decimal,
    pub denominator: Decimal,
}

/// The close of `day` as traded, from a close adjusted for every split up to today:
/// multiplied by the ratio of every split dated after `day` (a day on the split date is
/// already post-split). Exact: the numerators are multiplied first and the denominators
/// divided out once, so a 4:1 and a 10:1 split multiply by exactly 40. `None` if the result
/// does not fit a `Decimal` or a ratio is not positive.
pub fn as_traded(adjusted: Decimal, day: jiff::civil::Date, splits: &[Split]) -> Option<Decimal> {
    let mut value = adjusted;
    let mut denominator = Decimal::ONE;
    for split in splits.iter().filter(|s| s.day > day) {
        if split.numerator <= Decimal::ZERO || split.denominator <= Decimal::ZERO {
            return None;
        }
        value = value.checked_mul(split.numerator)?;
        denominator = denominator.checked_mul(split.denominator)?;
    }
    if denominator == Decimal::ONE {
        Some(value)
    } else {
        value.checked_div(denominator)
    }
}

/// `from..=to` cut into consecutive spans of at most `days` days each (`days` ≥ 1), for an
/// API that answers a bounded number of daily bars per request.
pub fn chunks(
    from: jiff::civil::Date,
    to: jiff::civil::Date,
    days: i64,
) -> Vec<(jiff::civil::Date, jiff::civil::Date)> {
    let step = jiff::Span::new().days(days.max(1) - 1);
    spans(from, to, |start| start.checked_add(step).ok())
}

/// `from..=to` cut into consecutive spans, each from its first day through `last(first)`
/// at the most (`None`: through `to`).
pub fn spans(
    from: jiff::civil::Date,
    to: jiff::civil::Date,
    last: impl Fn(jiff::civil::Date) -> Option<jiff::civil::Date>,
) -> Vec<(jiff::civil::Date, jiff::civil::Date)> {
    let mut spans = Vec::new();
    let mut start = from;
    while start <= to {
        let end = last(start).map_or(to, |end| end.min(to));
        spans.push((start, end));
        match end.tomorrow() {
            Ok(next) => start = next,
            Err(_) => break,
        }
    }
    spans
}

/// Every day of `from..=to`, in order.
pub fn days(
    from: jiff::civil::Date,
    to: jiff::civil::Date,
) -> impl Iterator<Item = jiff::civil::Date> {
    let mut next = Some(from).filter(|f| *f <= to);
    std::iter::from_fn(move || {
        let day = next?;
        next = day.tomorrow().ok().filter(|d| *d <= to);
        Some(day)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::{Date, date};

    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }

    #[test]
    fn ranges_are_checked() {
        let r = Range::new(
            d("2021-01-01"),
            d("2021-01-01"),
            Interval::Day,
            Adjust::None,
        );
        assert!(r.is_ok());
        let err = Range::new(
            d("2021-02-01"),
            d("2021-01-01"),
            Interval::Day,
            Adjust::None,
        )
        .unwrap_err();
        assert!(err.contains("before --from"), "{err}");
        assert!(
            Range::new(
                d("1990-01-01"),
                d("2020-01-01"),
                Interval::Day,
                Adjust::None
            )
            .is_ok()
        );
        let err = Range::new(
            d("1990-01-01"),
            d("2020-01-02"),
            Interval::Day,
            Adjust::None,
        )
        .unwrap_err();
        assert!(err.contains("30 years"), "{err}");
        // At the end of the calendar the limit cannot be computed: never a panic.
        assert!(Range::new(Date::MAX, Date::MAX, Interval::Day, Adjust::None).is_ok());
    }

    #[test]
    fn weeks_and_months_keep_their_last_trading_day() {
        // Thu 2021-04-01, (Good Friday closed), Mon 04-05 … Fri 04-09, Fri 04-30, Mon 05-03.
        let days: Vec<Date> = [
            "2021-03-31",
            "2021-04-01",
            "2021-04-05",
            "2021-04-09",
            "2021-04-30",
            "2021-05-03",
        ]
        .iter()
        .map(|s| d(s))
        .collect();
        let week = select(Interval::Week, days.clone(), |d| *d);
        assert_eq!(
            week,
            [
                d("2021-04-01"),
                d("2021-04-09"),
                d("2021-04-30"),
                d("2021-05-03")
            ]
        );
        let month = select(Interval::Month, days.clone(), |d| *d);
        assert_eq!(month, [d("2021-03-31"), d("2021-04-30"), d("2021-05-03")]);
        assert_eq!(select(Interval::Day, days.clone(), |d| *d), days);
        // The ISO week that spans a new year is one week: Thu 2020-12-31 and Fri 2021-01-01.
        let new_year = select(
            Interval::Week,
            vec![d("2020-12-31"), d("2021-01-01")],
            |d| *d,
        );
        assert_eq!(new_year, [d("2021-01-01")]);
        // The same month in two years is two months.
        let years = select(
            Interval::Month,
            vec![d("2020-01-31"), d("2021-01-29")],
            |d| *d,
        );
        assert_eq!(years.len(), 2);
    }

    #[test]
    fn periods_end_on_sunday_and_on_the_last_of_the_month() {
        // Wed 2021-04-07, Sun 2021-04-11, Fri 2021-04-30, Sun 2021-05-02.
        for (interval, day, end) in [
            (Interval::Day, "2021-04-07", "2021-04-07"),
            (Interval::Week, "2021-04-07", "2021-04-04"),
            (Interval::Week, "2021-04-11", "2021-04-11"),
            (Interval::Week, "2021-04-12", "2021-04-11"),
            (Interval::Month, "2021-04-30", "2021-04-30"),
            (Interval::Month, "2021-05-02", "2021-04-30"),
            (Interval::Month, "2021-03-01", "2021-02-28"),
        ] {
            assert_eq!(
                interval.last_end_by(d(day)),
                Some(d(end)),
                "{interval:?} {day}"
            );
        }
        assert_eq!(Interval::Month.last_end_by(Date::MIN), None);
    }

    #[test]
    fn as_traded_counts_only_later_splits_exactly() {
        let splits = [
            Split {
                day: date(2021, 7, 20),
                numerator: Decimal::from(4),
                denominator: Decimal::ONE,
            },
            Split {
                day: date(2024, 6, 10),
                numerator: Decimal::from(10),
                denominator: Decimal::ONE,
            },
        ];
        let close: Decimal = "13.237000465393066".parse().unwrap();
        let before = as_traded(close, date(2021, 2, 1), &splits).unwrap();
        assert_eq!(before.normalize().to_string(), "529.48001861572264");
        // On the split date the close is already post-split: only the later split counts.
        let on = as_traded(close, date(2021, 7, 20), &splits).unwrap();
        assert_eq!(on, close * Decimal::from(10));
        assert_eq!(as_traded(close, date(2024, 6, 10), &splits), Some(close));
        // A reverse split (1:10) divides, once.
        let reverse = [Split {
            day: date(2022, 1, 1),
            numerator: Decimal::ONE,
            denominator: Decimal::from(3),
        }];
        let third = as_traded(Decimal::from(9), date(2021, 1, 1), &reverse).unwrap();
        assert_eq!(third, Decimal::from(3));
        // Nonsense ratios and overflow are no price, never a panic.
        let zero = [Split {
            denominator: Decimal::ZERO,
            ..reverse[0]
        }];
        assert_eq!(as_traded(Decimal::ONE, date(2021, 1, 1), &zero), None);
        let huge = [Split {
            numerator: Decimal::MAX,
            ..reverse[0]
        }];
        assert_eq!(as_traded(Decimal::MAX, date(2021, 1, 1), &huge), None);
    }

    #[test]
    fn chunks_cover_the_range_in_bounded_spans() {
        let spans = chunks(d("2021-01-01"), d("2021-01-07"), 300);
        assert_eq!(spans, [(d("2021-01-01"), d("2021-01-07"))]);
        let spans = chunks(d("2020-01-01"), d("2021-12-31"), 300);
        assert_eq!(spans.len(), 3);
        assert_eq!(spans[0], (d("2020-01-01"), d("2020-10-26")));
        assert_eq!(spans[1].0, d("2020-10-27"));
        assert_eq!(spans[2].1, d("2021-12-31"));
        for (a, b) in &spans {
            assert!(days(*a, *b).count() <= 300);
        }
        assert_eq!(chunks(Date::MAX, Date::MAX, 300), [(Date::MAX, Date::MAX)]);
        assert!(chunks(d("2021-01-02"), d("2021-01-01"), 300).is_empty());
    }

    #[test]
    fn days_are_inclusive_and_total() {
        assert_eq!(days(d("2021-01-30"), d("2021-02-02")).count(), 4);
        assert_eq!(days(Date::MAX, Date::MAX).count(), 1);
        assert_eq!(days(d("2021-01-02"), d("2021-01-01")).count(), 0);
    }
}
