//! Minor units and `--currency`: one exact conversion per price (issue 11).
//!
//! **Minor units.** Yahoo quotes London listings in pence (`GBp`, `GBX`), Johannesburg's in
//! South African cents (`ZAc`, `ZAC`) and Tel Aviv's in agorot (`ILA`). Booked as pounds they
//! are a hundred times too much; booked as a commodity of their own (`GBp`), nothing values
//! them. So by default such a price is divided exactly by 100 into its major unit (`GBP`,
//! `ZAR`, `ILS`), following the answer's `currency` field only, never the ticker's suffix (some
//! `.L` listings are quoted in GBP or USD). It keeps the decimals it had, so its default
//! precision is 4. `--keep-minor-units` prints what was quoted.
//!
//! **`--currency CODE`.** Once a round's prices are in, the rates they need are fetched in ONE
//! more round through the same fetcher: each distinct pair and day once, whatever the number
//! of tickers, from the source `--fx` names (Yahoo's `USDEUR=X` by default; the ECB's euro
//! reference rates with `--fx ecb`). Each price, and its previous close, is then multiplied
//! exactly by its rate. Through a source whose rates all share one base (the ECB's are all
//! against the euro), a price is multiplied by the base's rate into the target and divided by
//! its rate into the price's currency: one quotient at full `Decimal` precision, never a
//! rounded cross rate, so a result that is exactly a rounding midpoint stays one. Rounding
//! happens once, at output. Minor units are normalised first. A price already in the target
//! currency is untouched and costs no request. No rate, no price: a ticker whose rate cannot
//! be had fails with `no EUR rate for USD: …` and is never printed unconverted.
//!
//! **Days.** A latest price is converted at the latest rate. A past day's price at the rate
//! of the price's own day (its trading day), or at the last rate within 7 days before it, and
//! `Quote::fx` says which day's rate it was. Rates are looked up by day in whatever series the
//! rate source answered, so a range of days can ask for one window per pair instead of one
//! request per day.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use futures::future::Shared;
use jiff::civil::Date;
use rust_decimal::Decimal;

use crate::calendar::{LOOKBACK_DAYS, utc_date};
use crate::error::FetchError;
use crate::fetch::{Fetched, Fetcher, Job};
use crate::history::{Adjust, Interval, Range};
use crate::quote::{
    Decimals, FxRate, MAX_SCALE, Quote, Quoted, SMALL_PRICE_DIGITS, format_rate, holds_digits,
};
use crate::source::{Query, Rates, Source, Sources, When};
use crate::ticker::Ticker;

/// Minor units as the sources write them, and the major unit each is a hundredth of. The
/// case matters: `GBP` is pounds, `GBp` pence.
const MINOR_UNITS: &[(&str, &str)] = &[
    ("GBp", "GBP"),
    ("GBX", "GBP"),
    ("ZAc", "ZAR"),
    ("ZAC", "ZAR"),
    ("ILA", "ILS"),
];

/// The major unit of a minor-unit currency code (`GBp` → `GBP`).
pub fn major_unit(currency: &str) -> Option<&'static str> {
    MINOR_UNITS
        .iter()
        .find(|(minor, _)| *minor == currency)
        .map(|(_, major)| *major)
}

/// `--currency`: an ISO 4217 code in any case (`eur` → `EUR`); anything else is refused.
pub fn parse_currency(text: &str) -> Result<String, String> {
    let code = text.trim().to_ascii_uppercase();
    iso_currency::Currency::from_code(&code)
        .map(|currency| currency.code().to_string())
        .ok_or_else(|| {
            format!("{text:?} is not an ISO 4217 currency code such as EUR, USD, GBP or JPY")
        })
}

/// `yahoo, ecb`: the sources `--fx` can take rates from.
pub fn rate_sources() -> Vec<&'static str> {
    crate::source::REGISTRY
        .iter()
        .filter(|spec| spec.rates.is_some())
        .map(|spec| spec.name)
        .collect()
}

/// What `--currency`, `--fx` and `--keep-minor-units` ask for.
#[derive(Default)]
pub struct Fx {
    /// Leave pence as pence (`--keep-minor-units`, never with `--currency`).
    keep_minor_units: bool,
    target: Option<Target>,
}

/// `--currency` and where its rates come from.
struct Target {
    /// ISO 4217, uppercase.
    currency: String,
    source: Arc<dyn Source>,
    rates: &'static Rates,
}

impl Fx {
    /// `currency` is `--currency`, already checked ([`parse_currency`]); `rate_source` is
    /// `--fx`, a source of the registry that publishes rates.
    pub fn new(
        sources: &Sources,
        currency: Option<String>,
        rate_source: &str,
        keep_minor_units: bool,
    ) -> Result<Fx, String> {
        let target = match currency {
            None => None,
            Some(currency) => {
                let (source, rates) = sources
                    .get(rate_source)
                    .and_then(|source| Some((source, source.spec().rates.as_ref()?)))
                    .ok_or_else(|| {
                        format!(
                            "--fx {rate_source:?}: rates come from one of {}",
                            rate_sources().join(", ")
                        )
                    })?;
                Some(Target {
                    currency,
                    source: Arc::clone(source),
                    rates,
                })
            }
        };
        Ok(Fx {
            // A conversion needs the major unit, whatever was asked.
            keep_minor_units: keep_minor_units && target.is_none(),
            target,
        })
    }

    /// Whether the rates' requests go to an https URL.
    pub fn uses_https(&self) -> bool {
        self.target.as_ref().is_some_and(|t| {
            let base = t.rates.base.unwrap_or("USD");
            let other = if base == "EUR" { "USD" } else { "EUR" };
            Ticker::parse(&(t.rates.pair)(base, other)).is_ok_and(|ticker| {
                t.source
                    .requests(&Query {
                        ticker,
                        when: When::Latest,
                    })
                    .iter()
                    .any(|url| url.scheme() == "https")
            })
        })
    }

    /// Normalise minor units and convert every price of a round into `--currency`.
    /// `fetched[i]` holds the prices of `jobs[i]`; a price whose rate cannot be had turns
    /// its job into that error. The rates are fetched in one round, unless `stop` (the
    /// round's deadline or signal) already came, which then is each rate's error.
    pub async fn apply<F>(
        &self,
        fetcher: &Fetcher,
        jobs: &[Job],
        fetched: &mut [Fetched],
        stop: Shared<F>,
    ) where
        F: Future<Output = FetchError>,
    {
        if !self.keep_minor_units {
            for quote in fetched.iter_mut().flatten().flatten() {
                normalise_minor_unit(quote);
            }
        }
        let Some(target) = &self.target else {
            return;
        };
        // Each leg once, in the order the prices first need them, over the days they need:
        // a range's closes (and every --date of the run) share ONE request per pair, from a
        // week before the first day (its rate may come from a day before it) to the last.
        let mut legs: Vec<(Leg, Option<(Date, Date)>)> = Vec::new();
        let mut index: HashMap<Leg, usize> = HashMap::new();
        let needs = jobs
            .iter()
            .zip(fetched.iter())
            .filter_map(|(job, result)| Some((job, result.as_ref().ok()?)))
            .flat_map(|(job, quotes)| quotes.iter().map(move |q| (job.query.when, q)))
            .filter_map(|(when, quote)| target.need(when, quote));
        for need in needs {
            for (leg, _) in target.legs(&need) {
                let at = *index.entry(leg.clone()).or_insert_with(|| {
                    legs.push((leg, None));
                    legs.len() - 1
                });
                if let Some(day) = need.day {
                    let days = &mut legs[at].1;
                    *days = Some(
                        days.map_or((day, day), |(first, last)| (first.min(day), last.max(day))),
                    );
                }
            }
        }
        let rates = target.fetch(fetcher, legs, stop).await;
        for (job, result) in jobs.iter().zip(fetched.iter_mut()) {
            let Ok(quotes) = result else { continue };
            let converted = quotes
                .iter_mut()
                .try_for_each(|quote| target.convert(job.query.when, quote, &rates));
            if let Err(e) = converted {
                // A range's prices fail together: no rate, no price.
                *result = Err(e);
            }
        }
    }
}

/// Divide a minor-unit price (and its previous close) exactly by 100 into its major unit,
/// remembering what was quoted; its default precision grows by the two decimals the unit
/// moved. Returns whether it did.
pub fn normalise_minor_unit(quote: &mut Quote) -> bool {
    let Some(major) = quote.currency.as_deref().and_then(major_unit) else {
        return false;
    };
    // Exact for any price of at most 26 decimals: the digits stay, the scale grows by two.
    let hundredth = |value: Decimal| value.checked_div(Decimal::ONE_HUNDRED);
    let Some(price) = hundredth(quote.price) else {
        return false;
    };
    remember_quoted(quote);
    quote.price = price;
    quote.previous_close = quote.previous_close.and_then(hundredth);
    quote.currency = Some(major.to_string());
    // Two more decimals for the two places the unit moved; a quotient's significant
    // digits are the same digits.
    quote.precision = Some(match quote.precision.unwrap_or(Decimals::DEFAULT) {
        Decimals::AtLeast(own) => Decimals::AtLeast((own + 2).min(MAX_SCALE)),
        digits @ Decimals::Significant(_) => digits,
    });
    true
}

/// Keep the price as the source quoted it, before the first change.
fn remember_quoted(quote: &mut Quote) {
    if quote.quoted.is_none() {
        quote.quoted = Some(Quoted {
            price: quote.price,
            currency: quote.currency.clone(),
            precision: quote.precision,
        });
    }
}

/// What converting one price needs: its currency's rate on its day.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Need {
    from: String,
    /// `None`: the latest rate.
    day: Option<Date>,
}

/// One rate to fetch: the rate source's ticker for a pair, its latest rate or its rates
/// of past days (all the days a round needs, fetched at once).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Leg {
    /// The pair's ticker at the rate source: `USDEUR=X`, `EUR-USD`.
    ticker: String,
    /// The pair's quote currency: what its rate is in.
    currency: String,
    /// Whether it is past days' rates (else the latest).
    dated: bool,
}

impl Leg {
    /// What to ask the rate source for the leg whose prices need `days` (first, last).
    /// A currency pair has no splits: its close is the same as traded or adjusted, and
    /// asking for it as sent spares the request for the splits since.
    fn when(days: Option<(Date, Date)>) -> When {
        match days {
            None => When::Latest,
            Some((first, last)) => When::Range(Range {
                from: first.saturating_sub(jiff::Span::new().days(LOOKBACK_DAYS)),
                to: last,
                interval: Interval::Day,
                adjust: Adjust::Splits,
            }),
        }
    }
}

/// Whether a leg's rate multiplies the price or divides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Times,
    Per,
}

/// A rate as the rate source answered it.
#[derive(Debug, Clone, PartialEq)]
struct Observed {
    /// Its day: the source's own (a close, an ECB `TIME_PERIOD`), else the UTC date of its
    /// time.
    day: Option<Date>,
    rate: Decimal,
    precision: Option<Decimals>,
}

/// Each leg's rates, or why there are none.
type Answered = HashMap<Leg, Result<Vec<Observed>, String>>;

impl Target {
    /// What converting `quote` (from a query for `when`) needs; `None` when it is already in
    /// the target currency, or has no currency to convert from (its conversion fails).
    fn need(&self, when: When, quote: &Quote) -> Option<Need> {
        let from = quote.currency.as_deref()?;
        (from != self.currency).then(|| Need {
            from: from.to_string(),
            day: day_of(when, quote),
        })
    }

    /// The rates a conversion multiplies or divides by. Directly: the pair FROM→TO. Through
    /// a base B: B→TO times, B→FROM per (either left out when it is B itself).
    fn legs(&self, need: &Need) -> Vec<(Leg, Direction)> {
        let leg = |from: &str, to: &str| Leg {
            ticker: (self.rates.pair)(from, to),
            currency: to.to_string(),
            dated: need.day.is_some(),
        };
        match self.rates.base {
            None => vec![(leg(&need.from, &self.currency), Direction::Times)],
            Some(base) => {
                let mut legs = Vec::with_capacity(2);
                if self.currency != base {
                    legs.push((leg(base, &self.currency), Direction::Times));
                }
                if need.from != base {
                    legs.push((leg(base, &need.from), Direction::Per));
                }
                legs
            }
        }
    }

    /// Fetch every leg once, in one round; a leg the rate source refuses as a ticker (a
    /// currency code it cannot name) fails without a request.
    async fn fetch<F>(
        &self,
        fetcher: &Fetcher,
        legs: Vec<(Leg, Option<(Date, Date)>)>,
        stop: Shared<F>,
    ) -> Answered
    where
        F: Future<Output = FetchError>,
    {
        let mut answered = Answered::new();
        let mut asked: Vec<(Leg, Job)> = Vec::new();
        for (leg, days) in legs {
            let ticker = Ticker::parse(&leg.ticker).and_then(|ticker| {
                self.source.check(&ticker)?;
                Ok(ticker)
            });
            match ticker {
                Ok(ticker) => {
                    let query = Query {
                        ticker,
                        when: Leg::when(days),
                    };
                    let source = Arc::clone(&self.source);
                    asked.push((leg, Job::new(source, query)));
                }
                Err(e) => {
                    answered.insert(leg, Err(e.to_string()));
                }
            }
        }
        if asked.is_empty() {
            return answered;
        }
        let jobs: Vec<Job> = asked.iter().map(|(_, job)| job.clone()).collect();
        let results = match stop.peek() {
            // Stopped while the prices came in: no more requests.
            Some(reason) => jobs.iter().map(|_| Err(reason.clone())).collect(),
            None => fetcher.fetch_all(&jobs, None, stop).await,
        };
        for ((leg, _), result) in asked.into_iter().zip(results) {
            let observed = match result {
                Ok(parsed) => self.observed(&leg, &parsed.quotes),
                Err(e) => Err(e.to_string()),
            };
            answered.insert(leg, observed);
        }
        answered
    }

    /// A leg's quotes as rates, checked: in the leg's currency (when the answer says) and
    /// positive; in order of their days (undated first), so that [`pick`] finds a day's
    /// rate by bisection.
    fn observed(&self, leg: &Leg, quotes: &[Quote]) -> Result<Vec<Observed>, String> {
        let api = self.source.spec().display_name;
        let mut observed = quotes
            .iter()
            .map(|q| {
                if let Some(currency) = q.currency.as_deref().filter(|c| *c != leg.currency) {
                    return Err(format!(
                        "{api} priced {} in {currency}, not {}",
                        leg.ticker, leg.currency
                    ));
                }
                if q.price <= Decimal::ZERO {
                    return Err(format!("{api} sent {} for {}", q.price, leg.ticker));
                }
                Ok(Observed {
                    day: q.market_date.or_else(|| utc_date(q.time?)),
                    rate: q.price,
                    precision: q.precision,
                })
            })
            .collect::<Result<Vec<Observed>, String>>()?;
        // Stable: of two rates of one day, the first sent stays first.
        observed.sort_by_key(|o| o.day);
        Ok(observed)
    }

    /// Convert one price in place, or say why there is no rate for it.
    fn convert(
        &self,
        when: When,
        quote: &mut Quote,
        answered: &Answered,
    ) -> Result<(), FetchError> {
        let no_rate = |from: &str, why: String| FetchError::NoRate {
            to: self.currency.clone(),
            from: from.to_string(),
            why,
        };
        let Some(from) = quote.currency.clone() else {
            return Err(no_rate(
                "this price",
                "the answer names no currency to convert from".into(),
            ));
        };
        let Some(need) = self.need(when, quote) else {
            return Ok(()); // already in the target currency
        };
        let conversion = self
            .conversion(&need, answered)
            .map_err(|why| no_rate(&from, why))?;
        // Exact, or refused: a product too small for a `Decimal` to hold with its digits
        // (an absurd rate of 1e-28) would be written as 0.00 or with a digit or two.
        let converted = |what: &str, value: Decimal| {
            let result = conversion
                .apply(value)
                .ok_or_else(|| no_rate(&from, format!("the converted {what} is too large")))?;
            if value.is_zero() || holds_digits(result) {
                return Ok(result);
            }
            Err(FetchError::Unrepresentable(format!(
                "the {what} {} {from} at {} {} per {from} is too small to write with \
                 {SMALL_PRICE_DIGITS} significant digits ({MAX_SCALE} decimals at most)",
                value.normalize(),
                format_rate(conversion.rate, conversion.precision),
                self.currency,
            )))
        };
        let price = converted("price", quote.price)?;
        let previous_close = quote
            .previous_close
            .map(|close| converted("previous close", close))
            .transpose()?;
        remember_quoted(quote);
        quote.price = price;
        quote.previous_close = previous_close;
        quote.currency = Some(self.currency.clone());
        quote.fx = Some(FxRate {
            rate: conversion.rate,
            precision: conversion.precision,
            source: self.source.spec().name,
            date: conversion.day,
        });
        Ok(())
    }

    /// The rates of a need's legs on one day, as one conversion.
    fn conversion(&self, need: &Need, answered: &Answered) -> Result<Conversion, String> {
        let legs = self.legs(need);
        let mut series: Vec<(&str, &[Observed], Direction)> = Vec::with_capacity(legs.len());
        for (leg, direction) in &legs {
            match answered.get(leg) {
                Some(Ok(observed)) => series.push((&leg.ticker, observed, *direction)),
                Some(Err(why)) => return Err(why.clone()),
                None => return Err(format!("internal: {} was not asked for", leg.ticker)),
            }
        }
        let (day, picked) = pick(need.day, &series)?;
        let mut times: Option<&Observed> = None;
        let mut per: Option<&Observed> = None;
        for (observed, (_, _, direction)) in picked.into_iter().zip(&series) {
            match direction {
                Direction::Times => times = Some(observed),
                Direction::Per => per = Some(observed),
            }
        }
        let (rate, precision) = match (times, per) {
            (Some(t), None) => (t.rate, t.precision),
            (t, Some(p)) => {
                let numerator = t.map_or(Decimal::ONE, |t| t.rate);
                let quotient = numerator
                    .checked_div(p.rate)
                    .ok_or_else(|| format!("{} is not a rate", p.rate))?;
                (quotient, Some(Decimals::QUOTIENT))
            }
            (None, None) => return Err("internal: a conversion without a rate".into()),
        };
        Ok(Conversion {
            times: times.map(|t| t.rate),
            per: per.map(|p| p.rate),
            rate,
            precision,
            day,
        })
    }
}

/// The exact arithmetic of one conversion.
#[derive(Debug, Clone, PartialEq)]
struct Conversion {
    times: Option<Decimal>,
    per: Option<Decimal>,
    /// `times ÷ per`, for the record (`Quote::fx`); never used to convert.
    rate: Decimal,
    precision: Option<Decimals>,
    day: Option<Date>,
}

impl Conversion {
    /// `value × times ÷ per`: the product is exact (up to 28 significant digits), the one
    /// division carried at full precision; `None` if it cannot be held.
    fn apply(&self, value: Decimal) -> Option<Decimal> {
        let mut converted = value;
        if let Some(times) = self.times {
            converted = converted.checked_mul(times)?;
        }
        if let Some(per) = self.per {
            converted = converted.checked_div(per)?;
        }
        Some(converted)
    }
}

/// The day whose rate converts a price from a query for `when`: none (the latest rate) for
/// a latest price; else the price's own day (a close's trading day), or the day asked.
fn day_of(when: When, quote: &Quote) -> Option<Date> {
    match when {
        When::Latest => None,
        When::Close(asked, _) => Some(quote.market_date.unwrap_or(asked)),
        When::Range(range) => Some(quote.market_date.unwrap_or(range.from)),
    }
}

/// Each leg's rate for `day`: the latest of each (for a latest price: two legs must then be
/// of one day), or those of the last day up to `day`, within [`LOOKBACK_DAYS`], on which
/// every leg has one. Returns that day and the rates, in the order of `series`. Each
/// series is in order of its days ([`Target::observed`]): a day of a long range costs a
/// bisection, not a scan.
fn pick<'a>(
    day: Option<Date>,
    series: &[(&str, &'a [Observed], Direction)],
) -> Result<(Option<Date>, Vec<&'a Observed>), String> {
    let Some(day) = day else {
        let mut latest = Vec::with_capacity(series.len());
        for (ticker, observed, _) in series {
            let last = observed
                .iter()
                .max_by_key(|o| o.day)
                .ok_or_else(|| format!("no rate in the answer for {ticker}"))?;
            latest.push(last);
        }
        let first_day = latest.first().and_then(|o| o.day);
        if latest.iter().any(|o| o.day != first_day) {
            let days: Vec<String> = series
                .iter()
                .zip(&latest)
                .map(|((ticker, _, _), o)| match o.day {
                    Some(day) => format!("{ticker} on {day}"),
                    None => format!("{ticker} undated"),
                })
                .collect();
            return Err(format!(
                "the latest rates are from different days ({})",
                days.join(", ")
            ));
        }
        return Ok((first_day, latest));
    };
    let earliest = day.saturating_sub(jiff::Span::new().days(LOOKBACK_DAYS));
    // The rates of the days from `earliest` to `day`: undated ones sort first, so are left out.
    let window = |observed: &'a [Observed]| {
        let first = observed.partition_point(|o| o.day < Some(earliest));
        let end = observed.partition_point(|o| o.day <= Some(day));
        observed.get(first..end).unwrap_or_default()
    };
    let on = |observed: &'a [Observed], d: Date| window(observed).iter().find(|o| o.day == Some(d));
    let best = series
        .first()
        .into_iter()
        .flat_map(|(_, observed, _)| window(observed).iter().filter_map(|o| o.day))
        .filter(|d| {
            series
                .iter()
                .all(|(_, observed, _)| on(observed, *d).is_some())
        })
        .max()
        .ok_or_else(|| format!("no rate between {earliest} and {day}"))?;
    let picked: Vec<&Observed> = series
        .iter()
        .filter_map(|(_, observed, _)| on(observed, best))
        .collect();
    Ok((Some(best), picked))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quote::{format_price, parse_price};
    use reqwest::Url;

    fn sources() -> Sources {
        Sources::new(|endpoint| Ok(Url::parse(endpoint.default_url).unwrap())).unwrap()
    }

    fn target(currency: &str, rate_source: &str) -> Target {
        Fx::new(&sources(), Some(currency.into()), rate_source, false)
            .unwrap()
            .target
            .unwrap()
    }

    fn dec(text: &str) -> Decimal {
        parse_price(text).unwrap()
    }

    fn day(text: &str) -> Date {
        text.parse().unwrap()
    }

    fn quote(price: &str, currency: &str) -> Quote {
        Quote {
            price: dec(price),
            currency: Some(currency.into()),
            time: Some(1_609_952_400), // 2021-01-06T17:00:00Z
            market_date: None,
            previous_close: None,
            name: None,
            exchange: None,
            precision: None,
            quoted: None,
            fx: None,
        }
    }

    fn observed(on: &str, rate: &str, precision: Option<Decimals>) -> Observed {
        Observed {
            day: Some(day(on)),
            rate: dec(rate),
            precision,
        }
    }

    /// The answers of every leg `needs` has, from `rates`: (ticker, [(day, rate)]).
    fn answered(t: &Target, needs: &[Need], rates: &[(&str, &[(&str, &str)])]) -> Answered {
        let mut answered = Answered::new();
        for need in needs {
            for (leg, _) in t.legs(need) {
                let series = rates
                    .iter()
                    .find(|(ticker, _)| *ticker == leg.ticker)
                    .map(|(_, days)| {
                        days.iter()
                            .map(|(d, r)| observed(d, r, Some(Decimals::AtLeast(4))))
                            .collect::<Vec<_>>()
                    })
                    .ok_or_else(|| format!("not found: {}", leg.ticker));
                answered.insert(leg, series);
            }
        }
        answered
    }

    #[test]
    fn minor_units_follow_the_currency_field_and_are_exact() {
        let mut q = quote("305.3", "GBp");
        q.previous_close = Some(dec("1279"));
        assert!(normalise_minor_unit(&mut q));
        assert_eq!(q.price.to_string(), "3.053");
        assert_eq!(q.previous_close, Some(dec("12.79")));
        assert_eq!(q.currency.as_deref(), Some("GBP"));
        assert_eq!(q.precision, Some(Decimals::AtLeast(4)));
        assert_eq!(
            q.quoted,
            Some(Quoted {
                price: dec("305.3"),
                currency: Some("GBp".into()),
                precision: None,
            })
        );
        for (minor, major) in [
            ("GBX", "GBP"),
            ("ZAc", "ZAR"),
            ("ZAC", "ZAR"),
            ("ILA", "ILS"),
        ] {
            let mut q = quote("1234.5", minor);
            assert!(normalise_minor_unit(&mut q), "{minor}");
            assert_eq!(q.currency.as_deref(), Some(major));
            assert_eq!(q.price.to_string(), "12.345");
        }
        // Pounds, dollars and unknown units are left alone: GBP is not GBp.
        for currency in ["GBP", "USD", "gbp", "ILS", "ZAR", ""] {
            let mut q = quote("305.3", currency);
            assert!(!normalise_minor_unit(&mut q), "{currency}");
            assert_eq!((q.price, q.quoted), (dec("305.3"), None));
        }
        let mut q = quote("1", "GBp");
        q.currency = None;
        assert!(!normalise_minor_unit(&mut q));
    }

    #[test]
    fn a_hundredth_keeps_every_digit_and_rounds_half_to_even_at_output() {
        // 123.455 pence = 1.23455 pounds: the 4th decimal rounds half-to-even.
        let mut up = quote("123.455", "GBp");
        let mut down = quote("123.445", "GBp");
        normalise_minor_unit(&mut up);
        normalise_minor_unit(&mut down);
        assert_eq!(format_price(up.price, 4), "1.2346");
        assert_eq!(format_price(down.price, 4), "1.2344");
        let mut long = quote("0.00000000000000000000000001", "GBp");
        assert!(normalise_minor_unit(&mut long));
        assert_eq!(long.price.to_string(), "0.0000000000000000000000000001");
    }

    #[test]
    fn currency_codes_are_iso_4217_in_any_case() {
        assert_eq!(parse_currency("eur").unwrap(), "EUR");
        assert_eq!(parse_currency("Usd").unwrap(), "USD");
        assert_eq!(parse_currency("GBP").unwrap(), "GBP");
        for bad in ["", "EURO", "EU", "XYZ", "GBX", "BTC", "€", "E U"] {
            let err = parse_currency(bad).unwrap_err();
            assert!(err.contains("ISO 4217"), "{bad}: {err}");
        }
    }

    #[test]
    fn only_sources_that_publish_rates_can_be_asked_for_them() {
        assert_eq!(rate_sources(), ["yahoo", "ecb"]);
        let err = Fx::new(&sources(), Some("EUR".into()), "coinbase", false)
            .err()
            .unwrap();
        assert!(err.contains("yahoo, ecb"), "{err}");
        // Without --currency, --fx is never consulted; with it, pence are always pounds.
        let fx = Fx::new(&sources(), None, "coinbase", true).unwrap();
        assert!(fx.keep_minor_units && fx.target.is_none());
        let fx = Fx::new(&sources(), Some("EUR".into()), "yahoo", true).unwrap();
        assert!(!fx.keep_minor_units);
        assert!(fx.uses_https(), "the default Yahoo URL is https");
        assert!(!Fx::default().uses_https());
    }

    #[test]
    fn yahoo_pairs_are_one_rate_per_currency_and_day() {
        let t = target("EUR", "yahoo");
        let usd = |when: When| t.need(when, &quote("1", "USD")).unwrap();
        let legs = t.legs(&usd(When::Latest));
        assert_eq!(legs.len(), 1);
        assert_eq!(legs[0].0.ticker, "USDEUR=X");
        assert_eq!(legs[0].0.currency, "EUR");
        assert!(!legs[0].0.dated);
        assert_eq!(legs[0].1, Direction::Times);
        // A close is converted at its own trading day's rate.
        let mut close = quote("1", "USD");
        close.market_date = Some(day("2021-01-08"));
        let need = t
            .need(When::Close(day("2021-01-10"), Adjust::None), &close)
            .unwrap();
        assert_eq!(need.day, Some(day("2021-01-08")));
        // Already in euros: nothing to do, nothing to fetch.
        assert_eq!(t.need(When::Latest, &quote("1", "EUR")), None);
    }

    #[test]
    fn ecb_conversions_go_through_the_euro() {
        let t = target("GBP", "ecb");
        let need = |from: &str| Need {
            from: from.into(),
            day: None,
        };
        let tickers = |from: &str| -> Vec<(String, Direction)> {
            t.legs(&need(from))
                .into_iter()
                .map(|(leg, d)| (leg.ticker, d))
                .collect()
        };
        assert_eq!(
            tickers("USD"),
            [
                ("EUR-GBP".to_string(), Direction::Times),
                ("EUR-USD".to_string(), Direction::Per)
            ]
        );
        assert_eq!(tickers("EUR"), [("EUR-GBP".to_string(), Direction::Times)]);
        let to_euro = target("EUR", "ecb");
        let legs = to_euro.legs(&need("USD"));
        assert_eq!(legs.len(), 1);
        assert_eq!(
            (legs[0].0.ticker.as_str(), legs[0].1),
            ("EUR-USD", Direction::Per)
        );
    }

    #[test]
    fn a_conversion_is_one_exact_product() {
        let t = target("EUR", "yahoo");
        let need = Need {
            from: "USD".into(),
            day: None,
        };
        let answered = answered(&t, &[need], &[("USDEUR=X", &[("2021-01-06", "0.9123")])]);
        let mut q = quote("220.003", "USD");
        q.previous_close = Some(dec("200"));
        t.convert(When::Latest, &mut q, &answered).unwrap();
        assert_eq!(q.price.to_string(), "200.7087369");
        assert_eq!(q.previous_close, Some(dec("182.46")));
        assert_eq!(q.currency.as_deref(), Some("EUR"));
        let fx = q.fx.as_ref().unwrap();
        assert_eq!((fx.rate, fx.source), (dec("0.9123"), "yahoo"));
        assert_eq!(fx.date, Some(day("2021-01-06")));
        let quoted = q.quoted.as_ref().unwrap();
        assert_eq!(quoted.price, dec("220.003"));
        assert_eq!(quoted.currency.as_deref(), Some("USD"));
    }

    #[test]
    fn through_the_euro_the_one_division_keeps_a_midpoint_a_midpoint() {
        // 61.486148 USD at 1.2296 USD per euro is exactly 50.005 EUR: half-to-even at two
        // decimals gives 50.00. Multiplying by a rounded 1 ÷ 1.2296 lands a hair above the
        // midpoint and prints 50.01.
        let t = target("EUR", "ecb");
        let need = Need {
            from: "USD".into(),
            day: None,
        };
        let answered = answered(&t, &[need], &[("EUR-USD", &[("2021-01-04", "1.2296")])]);
        let mut q = quote("61.486148", "USD");
        t.convert(When::Latest, &mut q, &answered).unwrap();
        assert_eq!(q.price, dec("50.005"));
        assert_eq!(format_price(q.price, 2), "50.00");
        let naive = dec("61.486148") * (Decimal::ONE / dec("1.2296"));
        assert_eq!(
            format_price(naive, 2),
            "50.01",
            "the naive product misses the midpoint"
        );
        let fx = q.fx.unwrap();
        assert_eq!(fx.precision, Some(Decimals::QUOTIENT));
        assert_eq!(format_price(fx.rate, 6), "0.813273");
        assert_eq!(fx.source, "ecb");
    }

    #[test]
    fn a_cross_through_the_euro_multiplies_then_divides() {
        let t = target("USD", "ecb");
        let need = Need {
            from: "GBP".into(),
            day: Some(day("2021-01-04")),
        };
        let answered = answered(
            &t,
            &[need],
            &[
                ("EUR-USD", &[("2021-01-04", "1.2296")]),
                ("EUR-GBP", &[("2021-01-04", "0.9016")]),
            ],
        );
        let mut q = quote("3.053", "GBP");
        q.market_date = Some(day("2021-01-04"));
        t.convert(
            When::Close(day("2021-01-04"), Adjust::None),
            &mut q,
            &answered,
        )
        .unwrap();
        assert_eq!(q.price, dec("3.053") * dec("1.2296") / dec("0.9016"));
        assert_eq!(format_price(q.price, 2), "4.16");
        assert_eq!(q.fx.unwrap().date, Some(day("2021-01-04")));
        // From the euro itself: one published rate, shown with its own decimals.
        let to_usd = target("USD", "ecb");
        let euros = Need {
            from: "EUR".into(),
            day: None,
        };
        let answered = answered_for_usd(&to_usd, euros);
        let mut q = quote("10", "EUR");
        to_usd.convert(When::Latest, &mut q, &answered).unwrap();
        assert_eq!(q.price, dec("12.296"));
        assert_eq!(q.fx.unwrap().precision, Some(Decimals::AtLeast(4)));
    }

    fn answered_for_usd(t: &Target, need: Need) -> Answered {
        answered(t, &[need], &[("EUR-USD", &[("2021-01-04", "1.2296")])])
    }

    #[test]
    fn a_day_without_a_rate_takes_the_last_within_seven_days() {
        let series = [
            observed("2021-01-07", "1.2276", None),
            observed("2021-01-08", "1.225", None),
        ];
        let legs = [("EUR-USD", &series[..], Direction::Per)];
        let (on, picked) = pick(Some(day("2021-01-10")), &legs).unwrap();
        assert_eq!(on, Some(day("2021-01-08")));
        assert_eq!(picked[0].rate, dec("1.225"));
        let (on, _) = pick(Some(day("2021-01-07")), &legs).unwrap();
        assert_eq!(on, Some(day("2021-01-07")));
        assert!(pick(Some(day("2021-01-15")), &legs).is_ok());
        let err = pick(Some(day("2021-01-16")), &legs).unwrap_err();
        assert_eq!(err, "no rate between 2021-01-09 and 2021-01-16");
        let err = pick(Some(day("2021-01-06")), &legs).unwrap_err();
        assert!(err.starts_with("no rate between"), "{err}");
        // The latest: the last of the series.
        let (on, _) = pick(None, &legs).unwrap();
        assert_eq!(on, Some(day("2021-01-08")));
    }

    #[test]
    fn rates_sent_in_any_order_are_picked_by_their_day() {
        let t = target("EUR", "yahoo");
        let leg = t.legs(&t.need(When::Latest, &quote("1", "USD")).unwrap())[0]
            .0
            .clone();
        let close = |on: &str, rate: &str| {
            let mut q = quote(rate, "EUR");
            q.market_date = Some(day(on));
            q
        };
        // Newest first, one undated rate among them.
        let mut undated = quote("0.5", "EUR");
        undated.time = None;
        let quotes = [
            close("2021-01-08", "0.8163"),
            undated,
            close("2021-01-05", "0.8149"),
            close("2021-01-07", "0.8146"),
        ];
        let series = t.observed(&leg, &quotes).unwrap();
        let days: Vec<Option<Date>> = series.iter().map(|o| o.day).collect();
        assert_eq!(
            days,
            [
                None,
                Some(day("2021-01-05")),
                Some(day("2021-01-07")),
                Some(day("2021-01-08"))
            ]
        );
        let legs = [("USDEUR=X", &series[..], Direction::Times)];
        let (on, picked) = pick(Some(day("2021-01-06")), &legs).unwrap();
        assert_eq!(
            (on, picked[0].rate),
            (Some(day("2021-01-05")), dec("0.8149"))
        );
        let (on, picked) = pick(Some(day("2021-01-10")), &legs).unwrap();
        assert_eq!(
            (on, picked[0].rate),
            (Some(day("2021-01-08")), dec("0.8163"))
        );
        let (on, _) = pick(None, &legs).unwrap();
        assert_eq!(on, Some(day("2021-01-08")));
    }

    #[test]
    fn two_legs_take_the_last_day_both_have() {
        let usd = [
            observed("2021-01-07", "1.2276", None),
            observed("2021-01-08", "1.225", None),
        ];
        let gbp = [observed("2021-01-07", "0.9019", None)];
        let legs = [
            ("EUR-USD", &usd[..], Direction::Times),
            ("EUR-GBP", &gbp[..], Direction::Per),
        ];
        let (on, picked) = pick(Some(day("2021-01-08")), &legs).unwrap();
        assert_eq!(on, Some(day("2021-01-07")));
        assert_eq!(
            (picked[0].rate, picked[1].rate),
            (dec("1.2276"), dec("0.9019"))
        );
        let err = pick(None, &legs).unwrap_err();
        assert_eq!(
            err,
            "the latest rates are from different days (EUR-USD on 2021-01-08, EUR-GBP on 2021-01-07)"
        );
    }

    #[test]
    fn no_rate_no_price() {
        let t = target("EUR", "yahoo");
        let need = Need {
            from: "USD".into(),
            day: None,
        };
        let answered = answered(&t, &[need], &[]);
        let mut q = quote("220.003", "USD");
        let err = t.convert(When::Latest, &mut q, &answered).unwrap_err();
        assert_eq!(err.kind(), "no_rate");
        assert_eq!(err.to_string(), "no EUR rate for USD: not found: USDEUR=X");
        let mut nameless = quote("1", "USD");
        nameless.currency = None;
        let err = t
            .convert(When::Latest, &mut nameless, &answered)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "no EUR rate for this price: the answer names no currency to convert from"
        );
    }

    #[test]
    fn a_rate_in_another_currency_or_not_positive_is_refused() {
        let t = target("EUR", "yahoo");
        let leg = Leg {
            ticker: "USDEUR=X".into(),
            currency: "EUR".into(),
            dated: false,
        };
        let err = t.observed(&leg, &[quote("0.9", "USD")]).unwrap_err();
        assert_eq!(err, "Yahoo priced USDEUR=X in USD, not EUR");
        let err = t.observed(&leg, &[quote("0", "EUR")]).unwrap_err();
        assert_eq!(err, "Yahoo sent 0 for USDEUR=X");
        let mut unnamed = quote("0.9", "EUR");
        unnamed.currency = None;
        let rates = t.observed(&leg, &[unnamed]).unwrap();
        assert_eq!(rates[0].day, Some(day("2021-01-06")));
    }

    #[test]
    fn a_product_too_large_to_hold_is_an_error_not_a_panic() {
        let conversion = Conversion {
            times: Some(Decimal::MAX),
            per: None,
            rate: Decimal::MAX,
            precision: None,
            day: None,
        };
        assert_eq!(conversion.apply(dec("10")), None);
        // More digits than a Decimal holds are rounded, not refused.
        let long = Conversion {
            times: Some(dec("1.000000000000000000000000001")),
            ..conversion
        };
        assert!(long.apply(dec("1.000000000000000000000000001")).is_some());
    }
}
