//! Yahoo Finance's chart API, `GET /v8/finance/chart/{SYMBOL}`: stocks, funds, indices,
//! currencies and futures.
//!
//! One folder, one set of types: `chart` reads the answer (the serde types and the errors an
//! answer without a chart stands for), `latest` takes the latest price from it and
//! `history` a past day's close from its daily bars.

mod chart;
pub mod history;
pub mod latest;

use std::sync::Arc;

use reqwest::Url;

use super::{Answer, Endpoint, Query, Rates, Source, SourceSpec, When, endpoint_url};
use crate::error::FetchError;
use crate::quote::Quote;

pub static SPEC: SourceSpec = SourceSpec {
    name: "yahoo",
    display_name: "Yahoo",
    about: "Yahoo Finance: stocks, funds, ETFs, indices, currencies, futures",
    tickers: "VTSAX, BRK-B, ^GSPC, VOD.L, EURUSD=X",
    not_found_hint: "check the symbol and its exchange suffix, e.g. VOD.L",
    endpoints: &[Endpoint {
        flag: "yahoo-url",
        env: "QUOTES_YAHOO_URL",
        default_url: "https://query1.finance.yahoo.com",
        about: "Yahoo's chart API",
    }],
    build: |urls| Arc::new(Yahoo::new(urls)),
    // `USDEUR=X`: the price of one USD in EUR, latest or a day's close like any ticker.
    rates: Some(Rates {
        pair: |from, to| format!("{from}{to}=X"),
        base: None,
    }),
};

pub struct Yahoo {
    base_url: Url,
}

impl Yahoo {
    /// `urls` holds the base URL of [`SPEC`]'s one endpoint.
    pub fn new(urls: &[Url]) -> Yahoo {
        Yahoo {
            base_url: SPEC.base_url(urls, 0),
        }
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
        match query.when {
            // range=1d&interval=1d keeps the body to ~1 KiB: only meta and one bar.
            When::Latest => vec![self.chart_url(query, &[("range", "1d"), ("interval", "1d")])],
            When::Close(date) => {
                let (period1, period2) = history::period(date);
                vec![self.chart_url(
                    query,
                    &[
                        ("period1", &period1.to_string()),
                        ("period2", &period2.to_string()),
                        ("interval", "1d"),
                    ],
                )]
            }
        }
    }

    fn parse(&self, query: &Query, answers: &[&Answer]) -> Result<Vec<Quote>, FetchError> {
        let Some(&answer) = answers.first() else {
            return Err(FetchError::Other("internal: no answer to read".into()));
        };
        let quote = match query.when {
            When::Latest => latest::parse(answer)?,
            // A past date's price is that day's close, never meta.regularMarketPrice.
            When::Close(date) => history::parse_close(date, answer)?,
        };
        Ok(vec![quote])
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
        let urls = yahoo().requests(&query("EURUSD=X", When::Close(date)));
        // period1 = 2020-12-31T00:00Z (8 days before), period2 = 2021-01-10T00:00Z.
        assert_eq!(
            urls[0].as_str(),
            "http://127.0.0.1:8080/v8/finance/chart/EURUSD=X\
             ?period1=1609372800&period2=1610236800&interval=1d"
        );
    }
}
