//! Planning the fetch: for each commodity and quote currency a run keeps up to date, the
//! ticker that prices it, the days it lacks, and the currency its prices must be in.
//!
//! **What is priced** (issue 17, item 5). The tickers given, each the user's choice. With
//! none, what the file says: a beancount file's `price:` metadata (as bean-price does), one
//! target per quote currency; a ledger file's commodities, each in the currencies the file
//! already prices it in. There a commodity that is an ISO 4217 currency is priced only as an
//! exchange rate, from the rate source (`--fx`: Yahoo's `USDEUR=X`, the ECB's `USD-EUR`),
//! never as the ticker it resembles; any other commodity by its own name on `--source`, and
//! its price must then come in a currency the file already prices it in (a coin the file
//! prices in EUR that Yahoo quotes in USD is another instrument). A commodity is never
//! priced in itself. With `--currency`, every target's prices come in that currency,
//! converted (beanprice's `^` excepted: an inverse is of the rate as quoted).
//!
//! **From which day.** The day after the last price of the commodity in the target's
//! currency; a target whose currency is known before the fetch (a pair's quote, beanprice's
//! currency, `--currency`) and has no price yet starts at `--from`, and without it fails
//! alone (item 8). A ticker whose currency is known only from its answer starts after the
//! commodity's last price in any currency.
//!
//! **Through which day.** `--to`; with `--interval week|month`, the end of the last period
//! that is over (item 6): a week or month whose last day has not ended everywhere yet (12:00
//! UTC the next day) is not written, so a daily cron never writes a partial one.
//!
//! **In windows.** A catch-up longer than one request's range (30 years) is fetched in as
//! many windows as it needs, oldest first.

use jiff::civil::Date;

use super::beanprice::QuoteSpec;
use super::book::Book;
use super::{Kind, Request};
use crate::history::{self, Range};
use crate::plan::{self, Plan, Resolved};
use crate::source::{Source, Sources, When};
use crate::ticker::Ticker;

/// One commodity in one quote currency, as this run keeps it.
pub struct Target {
    /// How messages name it: the ticker given, or the file's commodity.
    pub label: String,
    /// The commodity the lines are written as.
    pub commodity: String,
    pub expect: Expect,
    /// beanprice's `^`: the price is the inverse of the ticker's.
    pub inverted: bool,
    pub state: State,
}

impl Target {
    /// A target that fails before any fetch: `label` names it, `why` says why.
    fn failed(label: &str, commodity: &str, why: String) -> Target {
        Target {
            label: label.to_string(),
            commodity: commodity.to_string(),
            expect: Expect::Any,
            inverted: false,
            state: State::Failed(why),
        }
    }
}

/// The currency a target's prices must be in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// Known before the fetch: beanprice's currency, a pair's quote, `--currency`.
    Exactly(String),
    /// One the file already prices the commodity in (a ledger commodity priced by name).
    OneOf(Vec<String>),
    /// Whatever the ticker given is quoted in.
    Any,
}

/// What the plan does for a target.
pub enum State {
    /// Fetched: its windows' places among the plan's entries, oldest first.
    Fetch(Vec<usize>),
    /// Nothing to fetch: the file has it through the last day asked.
    UpToDate,
    /// Not fetched, and why (a failure of this target only).
    Failed(String),
}

/// A planned update: the targets, the plan that fetches them, and what was skipped.
pub struct Planned {
    pub targets: Vec<Target>,
    pub plan: Plan,
    /// Notes for stderr about what the file names but `quotes` cannot fetch.
    pub notes: Vec<String>,
}

/// Something to price, before it is resolved.
struct Wanted {
    input: String,
    /// The currency known from where it came (metadata, the file's rate).
    expect: Option<Expect>,
    inverted: bool,
    given: bool,
}

/// Plan `request` against what `book` holds. `now` is the time the run started.
pub fn plan(request: &Request, book: &Book, sources: &Sources, now: jiff::Timestamp) -> Planned {
    let mut notes = Vec::new();
    let mut targets = Vec::new();
    let wanted = if request.inputs.is_empty() {
        from_file(request, book, &mut targets, &mut notes)
    } else {
        request
            .inputs
            .iter()
            .map(|input| Wanted {
                input: input.clone(),
                expect: None,
                inverted: false,
                given: true,
            })
            .collect()
    };
    let end = last_day(request, now);
    let mut asked: Vec<(String, When)> = Vec::new();
    for wanted in wanted {
        let target = match plan::resolve(sources, &wanted.input, &request.default_source) {
            Err(e) => Target::failed(
                &crate::input::label_for_input(&wanted.input),
                "",
                e.to_string(),
            ),
            Ok(resolved) => target(request, book, &wanted, &resolved, end, &mut asked),
        };
        targets.push(target);
    }
    let plan = Plan::each(
        sources,
        asked.iter().map(|(input, when)| (input.as_str(), *when)),
        &request.default_source,
    );
    Planned {
        targets,
        plan,
        notes,
    }
}

/// With no tickers given: what the file says to price. Commodities it cannot price become
/// failed targets or notes.
fn from_file(
    request: &Request,
    book: &Book,
    targets: &mut Vec<Target>,
    notes: &mut Vec<String>,
) -> Vec<Wanted> {
    let path = request.path.display();
    let mut wanted = Vec::new();
    for commodity in book.commodities() {
        let name = &*commodity.name;
        match request.kind {
            Kind::Beancount => {
                // Priced from `price:` metadata only, as bean-price does; `price: ""` is a
                // commodity not to price, silently.
                let spec = match &commodity.metadata {
                    None => continue,
                    Some(Ok(spec)) => spec,
                    Some(Err(why)) => {
                        targets.push(Target::failed(
                            name,
                            name,
                            format!("its price: metadata {why}; nothing fetched for it"),
                        ));
                        continue;
                    }
                };
                for quote in &spec.quotes {
                    // Its alternatives as one chain: `yahoo:VTSAX,nasdaq:VTSAX@NAME`, each
                    // asked only when the ones before it failed.
                    let chain = quote.chain();
                    match chain.first() {
                        Some(first) => wanted.push(Wanted {
                            input: format!(
                                "{}@{name}",
                                chain
                                    .iter()
                                    .map(|a| format!("{}:{}", a.source.unwrap_or(""), a.ticker))
                                    .collect::<Vec<_>>()
                                    .join(",")
                            ),
                            expect: Some(Expect::Exactly(quote.currency.clone())),
                            inverted: first.inverted,
                            given: false,
                        }),
                        None => notes.push(format!(
                            "{path}: {name} has price: {:?}, which names no source quotes \
                             knows ({}); skipped",
                            shown_spec(quote),
                            crate::source::names()
                        )),
                    }
                }
            }
            Kind::Ledger if is_currency(name) => {
                for (currency, _) in commodity.currencies() {
                    if !is_currency(currency) {
                        targets.push(Target::failed(
                            name,
                            name,
                            format!(
                                "{path} prices the currency {name} in {}, which is not an \
                                 ISO 4217 currency, so quotes has no exchange rate for it; \
                                 give the rate's ticker, e.g. `quotes --update {path} \
                                 {}@{name}`",
                                currency_name(currency),
                                example_rate(request, name)
                            ),
                        ));
                        continue;
                    }
                    wanted.push(Wanted {
                        input: format!(
                            "{}:{}@{name}",
                            request.rate_source,
                            (request.rates.pair)(name, currency)
                        ),
                        expect: Some(Expect::Exactly(currency.to_string())),
                        inverted: false,
                        given: false,
                    });
                }
            }
            Kind::Ledger => {
                let currencies: Vec<String> =
                    commodity.currencies().map(|(c, _)| c.to_string()).collect();
                if currencies.is_empty() {
                    continue;
                }
                // A name that cannot be a ticker (`$`, "ABC 1") is not one to guess at; said,
                // so that a file's commodity is never left behind in silence.
                if Ticker::parse(name).is_err() {
                    let example = if name.contains(|c: char| {
                        c.is_whitespace() || c.is_control() || matches!(c, '"' | '@' | ';')
                    }) {
                        String::new()
                    } else {
                        format!(", e.g. `quotes --update {path} 'TICKER@{name}'`")
                    };
                    notes.push(format!(
                        "{path}: {name} (priced in {}) is no ticker quotes can ask for; not \
                         priced: give the ticker that prices it{example}",
                        currencies
                            .iter()
                            .map(|c| currency_name(c))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                    continue;
                }
                wanted.push(Wanted {
                    input: format!("{name}@{name}"),
                    expect: Some(Expect::OneOf(currencies)),
                    inverted: false,
                    given: false,
                });
            }
        }
    }
    wanted
}

/// One wanted price, resolved: its target, and its windows added to `asked`.
fn target(
    request: &Request,
    book: &Book,
    wanted: &Wanted,
    resolved: &Resolved,
    end: Option<Date>,
    asked: &mut Vec<(String, When)>,
) -> Target {
    let commodity = resolved.commodity.clone();
    // `--currency`: every price comes in it, converted, whatever currency the file or the
    // ticker would price it in (a commodity the file prices in USD then has no EUR history
    // yet, never "another instrument"). Not beanprice's `^`: an inverse is of the rate as
    // quoted.
    let expect = match (&request.currency, &wanted.expect) {
        (Some(currency), _) if !wanted.inverted => Expect::Exactly(currency.clone()),
        (_, Some(expect)) => expect.clone(),
        (_, None) => match pair_quote(&*resolved.source, &resolved.ticker) {
            Some(quote) => Expect::Exactly(quote),
            None => Expect::Any,
        },
    };
    let mut target = Target {
        label: if wanted.given {
            resolved.ticker.to_string()
        } else {
            commodity.clone()
        },
        commodity,
        expect,
        inverted: wanted.inverted,
        state: State::UpToDate,
    };
    let path = request.path.display();
    let name = &target.commodity;
    // A currency is priced by an exchange rate only: a ticker that is not a pair of it (the
    // ETF called USD) is another instrument.
    // A pair is what its source writes as its base, not as itself (`EURUSD=X` is EUR,
    // Yahoo's `JPY=X` is USD); anything else is an instrument, whatever it is called.
    let base = resolved.source.commodity(&resolved.ticker);
    let is_pair = base != resolved.ticker.as_str();
    let rate_of_it = if wanted.inverted {
        // `^EURUSD=X` on USD: the inverse of a rate quoted in USD.
        pair_quote(&*resolved.source, &resolved.ticker).as_deref() == Some(name.as_str())
    } else {
        is_pair && base == *name
    };
    if is_currency(name) && !rate_of_it {
        target.state = State::Failed(format!(
            "{name} is a currency: quotes prices it only by an exchange rate, e.g. {}@{name}",
            example_rate(request, name)
        ));
        return target;
    }
    if let Expect::Exactly(currency) = &target.expect
        && currency == name
    {
        target.state = State::Failed(format!("{name} cannot be priced in itself"));
        return target;
    }
    let last = match &target.expect {
        Expect::Exactly(currency) => book.last(name, currency),
        Expect::OneOf(currencies) => currencies.iter().filter_map(|c| book.last(name, c)).min(),
        Expect::Any => book
            .commodity(name)
            .and_then(|c| c.currencies().map(|(_, day)| day).min()),
    };
    let start = match (last, request.from) {
        (Some(last), _) => match last.tomorrow() {
            Ok(next) => next,
            Err(_) => return target,
        },
        (None, Some(from)) => from,
        (None, None) => {
            let what = match &target.expect {
                Expect::Exactly(currency) => format!("{name} has no {currency} price"),
                _ => format!("{name} has no price"),
            };
            target.state = State::Failed(format!(
                "{what} in {path} yet: give --from YYYY-MM-DD for where its history starts"
            ));
            return target;
        }
    };
    let Some(end) = end.filter(|end| start <= *end) else {
        return target; // up to date
    };
    let mut entries = Vec::new();
    for (from, to) in windows(start, end, request.interval) {
        // Each window is within the longest range, by construction.
        let Ok(range) = Range::new(from, to, request.interval, request.adjust) else {
            continue;
        };
        entries.push(asked.len());
        asked.push((wanted.input.clone(), When::Range(range)));
    }
    target.state = State::Fetch(entries);
    target
}

/// The last day to fetch: `--to`, or with a week or month interval the end of the last
/// period that is over, in every time zone (UTC−12 is the last to finish a day); `None`
/// when no period is.
fn last_day(request: &Request, now: jiff::Timestamp) -> Option<Date> {
    if request.interval == history::Interval::Day {
        return Some(request.to);
    }
    let over = crate::calendar::utc_date(now.as_second().saturating_sub(12 * 3600))?
        .yesterday()
        .ok()?;
    request.interval.last_end_by(request.to.min(over))
}

/// `from..=to` in consecutive windows, each within the longest range one request may ask;
/// with a week or month interval each ends with a period, so no period is cut in two.
fn windows(from: Date, to: Date, interval: history::Interval) -> Vec<(Date, Date)> {
    let years = jiff::Span::new().years(history::MAX_YEARS);
    history::spans(from, to, |start| {
        let limit = start
            .checked_add(years)
            .and_then(|limit| limit.yesterday())
            .ok()?;
        interval.last_end_by(limit).filter(|end| *end >= start)
    })
}

/// The rate source's ticker for `currency` in another currency, for messages: `USDEUR=X`.
fn example_rate(request: &Request, currency: &str) -> String {
    let other = if currency == "USD" { "EUR" } else { "USD" };
    (request.rates.pair)(currency, other)
}

/// Whether `code` is an ISO 4217 currency code (`USD`, `EUR`; not `BTC`, not `$`).
pub fn is_currency(code: &str) -> bool {
    iso_currency::Currency::from_code(code).is_some()
}

/// A currency as messages name it (a price with no currency has `""`).
pub fn currency_name(currency: &str) -> &str {
    if currency.is_empty() {
        "no currency"
    } else {
        currency
    }
}

/// The quote currency of a currency pair (`USD` of `BTC-USD`, of `EURUSD=X`), when the
/// ticker is one: its source writes it as its base, and the rest of its name is the quote
/// in the source's own pair syntax (its rate pairs', or `BASE-QUOTE`).
fn pair_quote(source: &dyn Source, ticker: &Ticker) -> Option<String> {
    let base = source.commodity(ticker);
    let name = ticker.as_str();
    if base == name {
        return None;
    }
    let quote = match &source.spec().rates {
        Some(rates) => {
            let probe = (rates.pair)(&base, "\u{1}");
            let (prefix, suffix) = probe.split_once('\u{1}')?;
            name.strip_prefix(prefix)?.strip_suffix(suffix)?
        }
        None if crate::source::pair_base(ticker).as_deref() == Some(base.as_str()) => {
            name.split_once('-')?.1
        }
        None => return None,
    };
    (!quote.is_empty()).then(|| quote.to_string())
}

/// `USD:nope/X` as written back in a message.
fn shown_spec(quote: &QuoteSpec) -> String {
    let alternatives: Vec<String> = quote
        .alternatives
        .iter()
        .map(|a| {
            format!(
                "{}/{}{}",
                a.module,
                if a.inverted { "^" } else { "" },
                a.ticker
            )
        })
        .collect();
    format!("{}:{}", quote.currency, alternatives.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }

    #[test]
    fn long_catch_ups_are_cut_into_windows_a_request_can_ask() {
        let day = history::Interval::Day;
        assert_eq!(
            windows(d("2021-01-01"), d("2021-01-07"), day),
            [(d("2021-01-01"), d("2021-01-07"))]
        );
        let spans = windows(d("1990-01-02"), d("2026-12-04"), day);
        assert_eq!(spans.len(), 2);
        assert_eq!(spans[0], (d("1990-01-02"), d("2020-01-01")));
        assert_eq!(spans[1], (d("2020-01-02"), d("2026-12-04")));
        for (from, to) in &spans {
            let range = Range::new(*from, *to, history::Interval::Day, Default::default());
            assert!(range.is_ok(), "{from}..{to}");
        }
        assert_eq!(windows(Date::MAX, Date::MAX, day), [(Date::MAX, Date::MAX)]);
        assert!(windows(d("2021-01-02"), d("2021-01-01"), day).is_empty());
        // A week or a month is never cut in two: the first window ends with one.
        let weeks = windows(d("1990-01-02"), d("2026-12-04"), history::Interval::Week);
        assert_eq!(weeks[0].1, d("2019-12-29"));
        assert_eq!(weeks[0].1.weekday(), jiff::civil::Weekday::Sunday);
        assert_eq!(weeks[1].0, d("2019-12-30"));
        let months = windows(d("1990-01-02"), d("2026-12-04"), history::Interval::Month);
        assert_eq!(months[0].1, d("2019-12-31"));
    }

    /// A request for `interval` through `to`, for the date arithmetic.
    fn request(interval: history::Interval, to: Date) -> Request {
        let (rate_source, rates) = crate::source::REGISTRY
            .iter()
            .find_map(|s| Some((s.name, s.rates.as_ref()?)))
            .unwrap();
        Request {
            path: "p.journal".into(),
            kind: Kind::Ledger,
            inputs: Vec::new(),
            from: None,
            to,
            interval,
            adjust: history::Adjust::None,
            dry_run: false,
            default_source: "yahoo".into(),
            currency: None,
            rate_source,
            rates,
        }
    }

    #[test]
    fn a_daily_cron_writes_a_week_or_a_month_once_it_is_over_everywhere() {
        // Every hour from Monday 2021-03-22 to Tuesday 2021-04-06, `--to` today (UTC): the
        // last day written is the end of the last week (month) over in UTC−12 too.
        let week = history::Interval::Week;
        let month = history::Interval::Month;
        let mut now: jiff::Timestamp = "2021-03-22T00:00:00Z".parse().unwrap();
        let end: jiff::Timestamp = "2021-04-06T23:00:00Z".parse().unwrap();
        while now <= end {
            let today = crate::calendar::utc_date(now.as_second()).unwrap();
            // The day that is over everywhere: yesterday, from 12:00 UTC on.
            let noon = now.as_second() % 86_400 >= 12 * 3600;
            let over = if noon {
                today.yesterday().unwrap()
            } else {
                today.yesterday().unwrap().yesterday().unwrap()
            };
            let sunday = {
                let mut d = over;
                while d.weekday() != jiff::civil::Weekday::Sunday {
                    d = d.yesterday().unwrap();
                }
                d
            };
            let month_end = if over == over.last_of_month() {
                over
            } else {
                over.first_of_month().yesterday().unwrap()
            };
            assert_eq!(last_day(&request(week, today), now), Some(sunday), "{now}");
            assert_eq!(
                last_day(&request(month, today), now),
                Some(month_end),
                "{now}"
            );
            now = now.checked_add(jiff::Span::new().hours(1)).unwrap();
        }
        // Concretely: the week of 03-29 … 04-04 is written from Monday 04-05 12:00 UTC.
        let at = |t: &str| last_day(&request(week, d("2021-04-05")), t.parse().unwrap());
        assert_eq!(at("2021-04-05T11:59:59Z"), Some(d("2021-03-28")));
        assert_eq!(at("2021-04-05T12:00:00Z"), Some(d("2021-04-04")));
        // An earlier --to: the last period over by then.
        let past = request(month, d("2021-03-15"));
        assert_eq!(
            last_day(&past, "2021-04-06T00:00:00Z".parse().unwrap()),
            Some(d("2021-02-28"))
        );
    }

    #[test]
    fn currencies_are_iso_4217_codes() {
        for code in ["USD", "EUR", "GBP", "JPY", "CHF", "XAU"] {
            assert!(is_currency(code), "{code}");
        }
        for code in ["BTC", "ETH", "$", "usd", "", "VTSAX", "GBp"] {
            assert!(!is_currency(code), "{code}");
        }
    }

    #[test]
    fn a_pairs_quote_follows_its_sources_syntax() {
        let sources = Sources::new(|e| Ok(reqwest::Url::parse(e.default_url).unwrap())).unwrap();
        let quote = |input: &str| {
            let resolved = plan::resolve(&sources, input, "yahoo").unwrap();
            pair_quote(&*resolved.source, &resolved.ticker)
        };
        assert_eq!(quote("coinbase:BTC-USD").as_deref(), Some("USD"));
        assert_eq!(quote("ecb:USD-EUR").as_deref(), Some("EUR"));
        assert_eq!(quote("EURUSD=X").as_deref(), Some("USD"));
        assert_eq!(quote("VTSAX"), None);
        assert_eq!(quote("BRK-B"), None);
        assert_eq!(quote("^GSPC"), None);
    }
}
