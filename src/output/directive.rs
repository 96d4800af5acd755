//! What the two price-directive formats, `ledger` and `beancount`, share: when a directive
//! says the price was, and the checks every directive needs (a currency, a date).

use super::Row;
use crate::error::FetchError;
use crate::quote::Quote;

/// The rows a directive format writes: each price with its currency and date. The format's
/// check ran before writing, so every price has both; one that somehow had not is skipped,
/// never written half.
pub fn directives<'r, 'a>(
    rows: &'r [Row<'a>],
) -> impl Iterator<Item = (&'r Row<'a>, &'a Quote, &'a str, When)> {
    rows.iter().filter_map(|row| {
        let quote = *row.result.as_ref().ok()?;
        Some((row, quote, quote.currency.as_deref()?, When::of(quote)?))
    })
}

/// When a price directive says the price was: a past day's close is dated by that trading
/// day in the exchange's calendar (`--date`); the latest price by its own time, in UTC.
pub enum When {
    Day(jiff::civil::Date),
    Instant(jiff::Timestamp),
}

impl When {
    pub fn of(quote: &Quote) -> Option<When> {
        match quote.market_date {
            Some(day) => Some(When::Day(day)),
            None => quote
                .time
                .and_then(|t| jiff::Timestamp::from_second(t).ok())
                .map(When::Instant),
        }
    }

    pub fn date(&self) -> jiff::civil::Date {
        match self {
            When::Day(day) => *day,
            When::Instant(t) => t.to_zoned(jiff::tz::TimeZone::UTC).date(),
        }
    }
}

impl std::fmt::Display for When {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            When::Day(day) => write!(f, "{day}"),
            When::Instant(t) => write!(f, "{}", t.strftime("%Y-%m-%d %H:%M:%S")),
        }
    }
}

/// The currency and date every directive needs; `format` names the format in the message.
pub fn currency_and_date<'q>(quote: &'q Quote, format: &str) -> Result<&'q str, FetchError> {
    let refuse = |why: String| Err(FetchError::Unrepresentable(why));
    let Some(currency) = quote.currency.as_deref() else {
        return refuse(format!(
            "no currency in the response; a {format} price needs one"
        ));
    };
    if When::of(quote).is_none() {
        return refuse(format!(
            "no time for the price; a {format} price needs a date"
        ));
    }
    Ok(currency)
}
