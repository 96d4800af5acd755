//! Yahoo Finance's chart API, `GET /v8/finance/chart/{SYMBOL}`: stocks, funds, indices,
//! currencies and futures.
//!
//! One folder, one set of types: `chart` reads the answer (the serde types and the errors an
//! answer without a chart stands for), `latest` takes the latest price from it and
//! `history` past closes (`--date`, `--from`) from its daily bars and split events. `crumb`
//! is the cookie and crumb the API may ask for (issue 19): the session the fetcher gets
//! from Yahoo's cookie server (the second endpoint, `--yahoo-cookie-url`) and the chart
//! API's `/v1/test/getcrumb` when an answer asks for one.

mod chart;
mod crumb;
pub mod history;
pub mod latest;

use std::sync::Arc;

use reqwest::Url;

use super::{
    Answer, Endpoint, Parsed, Query, Rates, Session, Source, SourceSpec, When, endpoint_url,
};
use crate::calendar::today_utc;
use crate::error::FetchError;
use crate::history::Adjust;
use crate::ticker::Ticker;

pub static SPEC: SourceSpec = SourceSpec {
    name: "yahoo",
    display_name: "Yahoo",
    about: "Yahoo Finance: stocks, funds, ETFs, indices, currencies, futures",
    tickers: "VTSAX, BRK-B, ^GSPC, VOD.L, EURUSD=X",
    not_found_hint: "check the symbol and its exchange suffix, e.g. VOD.L",
    endpoints: &[
        Endpoint {
            flag: "yahoo-url",
            env: "QUOTES_YAHOO_URL",
            default_url: "https://query1.finance.yahoo.com",
            about: "Yahoo's chart API (and its crumb, `/v1/test/getcrumb`)",
        },
        Endpoint {
            flag: "yahoo-cookie-url",
            env: "QUOTES_YAHOO_COOKIE_URL",
            default_url: "https://fc.yahoo.com",
            about: "Yahoo's cookie server (asked only when the chart API wants a crumb)",
        },
    ],
    build: |urls| Arc::new(Yahoo::new(urls)),
    // `USDEUR=X`: the price of one USD in EUR, latest or a day's close like any ticker.
    rates: Some(Rates {
        pair: |from, to| format!("{from}{to}=X"),
        base: None,
    }),
    key: None,
    limits: super::Limits::NONE,
};

pub struct Yahoo {
    base_url: Url,
    /// The cookie and crumb the chart API may ask for.
    session: Session,
}

impl Yahoo {
    /// `urls` holds the base URLs of [`SPEC`]'s endpoints: the chart API, the cookie server.
    pub fn new(urls: &[Url]) -> Yahoo {
        let base_url = SPEC.base_url(urls, 0);
        let session = Session {
            cookie: endpoint_url(&SPEC.base_url(urls, 1), &[], &[]),
            token: endpoint_url(&base_url, &["v1", "test", "getcrumb"], &[]),
            param: "crumb",
            wanted: crumb::wanted,
            read_token: crumb::read,
        };
        Yahoo { base_url, session }
    }

    fn chart_url(&self, query: &Query, params: &[(&str, &str)]) -> Url {
        endpoint_url(
            &self.base_url,
            &["v8", "finance", "chart", query.ticker.as_str()],
            params,
        )
    }
}

impl Source for Yahoo {
    fn spec(&self) -> &'static SourceSpec {
        &SPEC
    }

    fn requests(&self, query: &Query) -> Vec<Url> {
        let (window, last, adjust) = match query.when {
            // range=1d&interval=1d keeps the body to ~1 KiB: only meta and one bar.
            When::Latest => {
                return vec![self.chart_url(query, &[("range", "1d"), ("interval", "1d")])];
            }
            When::Close(date, adjust) => (history::period(date), date, adjust),
            When::Range(range) => (history::range_period(&range), range.to, range.adjust),
        };
        if adjust != Adjust::None {
            let (period1, period2) = (window.0.to_string(), window.1.to_string());
            let params = [
                ("period1", period1.as_str()),
                ("period2", period2.as_str()),
                ("interval", "1d"),
            ];
            return vec![self.chart_url(query, &params)];
        }
        // Closes as traded need every split up to today. The window reaches two days past
        // its last day: ending yesterday or today, it already holds them. Ending less than
        // a year ago, it is stretched to today (at most a year more of bars, some 30 KiB:
        // cheaper than a second request, and gentler on the rate limit). Further back, the splits
        // since come from a second request (`interval=3mo`, a handful of bars), sent beside
        // the first. The bars after the last day are never read.
        let today = today_utc();
        let (splits1, splits2) = history::splits_period(last, today);
        let up_to_date = last >= today.saturating_sub(jiff::Span::new().days(1));
        let stretch = !up_to_date
            && last >= today.saturating_sub(jiff::Span::new().days(history::STRETCH_DAYS));
        let window = if stretch { (window.0, splits2) } else { window };
        let (period1, period2) = (window.0.to_string(), window.1.to_string());
        let params = [
            ("period1", period1.as_str()),
            ("period2", period2.as_str()),
            ("interval", "1d"),
            ("events", "split"),
        ];
        let mut urls = vec![self.chart_url(query, &params)];
        if !up_to_date && !stretch {
            let (period1, period2) = (splits1, splits2);
            let (period1, period2) = (period1.to_string(), period2.to_string());
            urls.push(self.chart_url(
                query,
                &[
                    ("period1", &period1),
                    ("period2", &period2),
                    ("interval", "3mo"),
                    ("events", "split"),
                ],
            ));
        }
        urls
    }

    fn parse(&self, query: &Query, answers: &[&Answer]) -> Result<Parsed, FetchError> {
        let now = jiff::Timestamp::now().as_second();
        let asked = query.ticker.as_str();
        match query.when {
            When::Latest => {
                let Some(&answer) = answers.first() else {
                    return Err(FetchError::Other("internal: no answer to read".into()));
                };
                Ok(vec![latest::parse(answer, asked)?].into())
            }
            // A past date's price is that day's close, never meta.regularMarketPrice.
            When::Close(date, adjust) => history::close(date, adjust, answers, asked, now),
            When::Range(range) => history::range(&range, answers, asked, now),
        }
    }

    fn session(&self) -> Option<&Session> {
        Some(&self.session)
    }

    /// Currency pairs are prices of their base: `EURUSD=X` is a price of EUR in USD, and
    /// `JPY=X` (Yahoo's short form) a price of USD in JPY.
    fn commodity(&self, ticker: &Ticker) -> String {
        let symbol = ticker.as_str();
        let letters = |s: &str| s.bytes().all(|b| b.is_ascii_uppercase());
        match symbol.strip_suffix("=X") {
            Some(pair) if pair.len() == 6 && letters(pair) => pair[..3].to_string(),
            Some(quote) if quote.len() == 3 && letters(quote) => "USD".to_string(),
            _ => symbol.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ticker::Ticker;

    fn yahoo() -> Yahoo {
        Yahoo::new(&[Url::parse("http://127.0.0.1:8080").unwrap()])
    }

    fn query(ticker: &str, when: When) -> Query {
        Query {
            ticker: Ticker::parse(ticker).unwrap(),
            when,
        }
    }

    #[test]
    fn latest_asks_for_one_day() {
        let urls = yahoo().requests(&query("^gspc", When::Latest));
        assert_eq!(
            urls.iter().map(Url::as_str).collect::<Vec<_>>(),
            ["http://127.0.0.1:8080/v8/finance/chart/^GSPC?range=1d&interval=1d"]
        );
    }

    #[test]
    fn a_date_pads_the_period_on_both_sides() {
        let date = jiff::civil::date(2021, 1, 8);
        let urls = yahoo().requests(&query("EURUSD=X", When::Close(date, Adjust::Splits)));
        // period1 = 2020-12-31T00:00Z (8 days before), period2 = 2021-01-10T00:00Z.
        assert_eq!(
            urls.iter().map(Url::as_str).collect::<Vec<_>>(),
            ["http://127.0.0.1:8080/v8/finance/chart/EURUSD=X\
             ?period1=1609372800&period2=1610236800&interval=1d"]
        );
    }

    #[test]
    fn closes_as_traded_ask_for_the_splits_since() {
        let date = jiff::civil::date(2021, 1, 8);
        let urls = yahoo().requests(&query("NVDA", When::Close(date, Adjust::None)));
        assert_eq!(urls.len(), 2);
        assert_eq!(
            urls[0].as_str(),
            "http://127.0.0.1:8080/v8/finance/chart/NVDA\
             ?period1=1609372800&period2=1610236800&interval=1d&events=split"
        );
        let today = today_utc();
        let (_, period2) = history::splits_period(date, today);
        assert_eq!(
            urls[1].as_str(),
            format!(
                "http://127.0.0.1:8080/v8/finance/chart/NVDA\
                 ?period1=1609977600&period2={period2}&interval=3mo&events=split"
            )
        );
        // A range: one window however long, and the splits after it.
        let range = crate::history::Range::new(
            jiff::civil::date(2021, 2, 1),
            jiff::civil::date(2022, 1, 31),
            crate::history::Interval::Month,
            Adjust::None,
        )
        .unwrap();
        let urls = yahoo().requests(&query("NVDA", When::Range(range)));
        assert_eq!(urls.len(), 2);
        assert!(
            urls[0]
                .as_str()
                .ends_with("?period1=1612051200&period2=1643760000&interval=1d&events=split"),
            "{}",
            urls[0]
        );
        // Up to yesterday or today: the window (two days past its end) has every split.
        let yesterday = today.yesterday().unwrap();
        let range = crate::history::Range {
            to: yesterday,
            ..range
        };
        assert_eq!(
            yahoo().requests(&query("NVDA", When::Range(range))).len(),
            1
        );
        // Ending less than a year ago: one window, stretched to today.
        for days_ago in [2, history::STRETCH_DAYS] {
            let to = today.saturating_sub(jiff::Span::new().days(days_ago));
            let recent = crate::history::Range { to, ..range };
            let urls = yahoo().requests(&query("NVDA", When::Range(recent)));
            let (_, period2) = history::splits_period(to, today);
            assert_eq!(urls.len(), 1, "{days_ago} days ago: {urls:?}");
            assert!(
                urls[0]
                    .as_str()
                    .ends_with(&format!("&period2={period2}&interval=1d&events=split")),
                "{}",
                urls[0]
            );
        }
        // Further back: the window as asked, and the splits since.
        let to = today.saturating_sub(jiff::Span::new().days(history::STRETCH_DAYS + 1));
        let older = crate::history::Range { to, ..range };
        let urls = yahoo().requests(&query("NVDA", When::Range(older)));
        assert_eq!(urls.len(), 2, "{urls:?}");
        assert!(urls[1].as_str().ends_with("&interval=3mo&events=split"));
        let range = crate::history::Range { to: today, ..range };
        assert_eq!(
            yahoo().requests(&query("NVDA", When::Range(range))).len(),
            1
        );
        // Adjusted closes need no splits at all.
        let range = crate::history::Range {
            adjust: Adjust::All,
            ..range
        };
        let urls = yahoo().requests(&query("NVDA", When::Range(range)));
        assert_eq!(urls.len(), 1);
        assert!(!urls[0].as_str().contains("events"), "{}", urls[0]);
    }

    #[test]
    fn the_crumb_is_asked_of_the_chart_apis_origin_and_the_cookie_of_its_server() {
        let yahoo = Yahoo::new(&[
            Url::parse("http://127.0.0.1:8080/mirror").unwrap(),
            Url::parse("http://127.0.0.1:9090").unwrap(),
        ]);
        let session = yahoo.session().unwrap();
        assert_eq!(session.cookie.as_str(), "http://127.0.0.1:9090/");
        assert_eq!(
            session.token.as_str(),
            "http://127.0.0.1:8080/mirror/v1/test/getcrumb"
        );
        assert_eq!(session.param, "crumb");
        let defaults = Yahoo::new(&[]);
        assert_eq!(defaults.session.cookie.as_str(), "https://fc.yahoo.com/");
        assert_eq!(
            defaults.session.token.as_str(),
            "https://query1.finance.yahoo.com/v1/test/getcrumb"
        );
    }

    #[test]
    fn currency_pairs_are_prices_of_their_base() {
        let name = |t: &str| yahoo().commodity(&Ticker::parse(t).unwrap());
        assert_eq!(name("EURUSD=X"), "EUR");
        assert_eq!(name("JPY=X"), "USD");
        assert_eq!(name("VWRL.L"), "VWRL.L");
        assert_eq!(name("GC=F"), "GC=F");
        assert_eq!(name("EUR1USD=X"), "EUR1USD=X");
    }
}
