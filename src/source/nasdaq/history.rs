//! Past closes from `/api/quote/{SYMBOL}/historical`: `data.tradesTable.rows`, newest first,
//! each `{"date": "11/04/2022", "close": "$138.38", …}`.
//!
//! **As traded.** The `close` ("Close/Last" in the table's headers) is the price the share
//! traded at that day, not adjusted for later splits or dividends: that is what the issue
//! that added this source states, and what third-party clients of this endpoint label it
//! ("non rettificata", not adjusted). The recorded answers in hand span no split, so no test
//! here can prove it; the live check of the sources is where a change would show. Nasdaq has
//! no adjusted closes, so `--adjust splits`/`all` is refused before any request.
//!
//! **Whole windows only.** `data.totalRecords` is how many rows the window has; an answer
//! with fewer rows than that (a `limit` too small, a table cut short) is refused rather than
//! read as a history with days missing. A row dated today in New York before 16:00 there is
//! the price so far, not a close, and is left out; `N/A` is a day without a close.

use serde::Deserialize;

use super::{SPEC, check_symbol, forms, read};
use crate::error::FetchError;
use crate::quote::Quote;
use crate::source::Answer;
use crate::source::us_market;
use crate::ticker::Ticker;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Historical {
    #[serde(default)]
    symbol: Option<String>,
    #[serde(default)]
    total_records: Option<u64>,
    #[serde(default)]
    trades_table: Option<Table>,
}

#[derive(Deserialize)]
struct Table {
    #[serde(default)]
    rows: Option<Vec<Row>>,
}

#[derive(Deserialize)]
struct Row {
    #[serde(default)]
    date: Option<String>,
    #[serde(default)]
    close: Option<String>,
}

/// Read one `historical` answer about `ticker`: every close of a day whose session is over
/// at `now`, ascending by day, one per day. Must return an error, never panic, whatever the
/// bytes.
pub fn parse(ticker: &Ticker, answer: &Answer, now: i64) -> Result<Vec<Quote>, FetchError> {
    let historical: Historical = read(answer, "historical")?;
    check_symbol(ticker, historical.symbol.as_deref())?;
    let rows = historical
        .trades_table
        .and_then(|t| t.rows)
        .unwrap_or_default();
    if let Some(total) = historical.total_records
        && total > rows.len() as u64
    {
        return Err(SPEC.malformed(format!(
            "{} of the window's {total} rows came; refusing a history with days missing",
            rows.len()
        )));
    }
    let mut closes = Vec::with_capacity(rows.len());
    for row in rows {
        let date = row
            .date
            .as_deref()
            .ok_or_else(|| SPEC.malformed("a row without a date".into()))
            .and_then(|d| forms::us_date(d).map_err(|e| SPEC.malformed(e)))?;
        let close = match row.close.as_deref().map(str::trim) {
            None | Some("N/A" | "") => continue,
            Some(text) => {
                forms::dollars(text).map_err(|e| SPEC.malformed(format!("close of {date}: {e}")))?
            }
        };
        // Not a close: no trade, or the price so far of a session still running.
        closes.extend(us_market::close(date, close, now));
    }
    SPEC.one_per_day(closes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const AAPL: &[u8] = include_bytes!(
        "../../../tests/fixtures/nasdaq_historical_AAPL_stocks_2022-10-31_2022-11-04.json"
    );
    const AAPL_CUT: &[u8] = include_bytes!(
        "../../../tests/fixtures/nasdaq_historical_AAPL_stocks_2022-10-31_2022-11-04_fragment.txt"
    );

    /// 2023-03-01, after the recorded days.
    const LATER: i64 = 1_677_628_800;

    fn read(body: &[u8], now: i64) -> Result<Vec<Quote>, FetchError> {
        let answer = Answer {
            status: 200,
            body: body.to_vec(),
        };
        parse(&Ticker::parse("AAPL").unwrap(), &answer, now)
    }

    fn shown(quotes: &[Quote]) -> Vec<(String, String)> {
        quotes
            .iter()
            .map(|q| (q.market_date.unwrap().to_string(), q.price.to_string()))
            .collect()
    }

    #[test]
    fn rows_become_closes_ascending_as_sent() {
        let closes = read(AAPL, LATER).unwrap();
        assert_eq!(
            shown(&closes),
            [
                ("2022-10-31".into(), "153.34".into()),
                ("2022-11-01".into(), "150.65".into()),
                ("2022-11-02".into(), "145.03".into()),
                ("2022-11-03".into(), "138.88".into()),
                ("2022-11-04".into(), "138.38".into()),
            ]
        );
        // 16:00 New York (EDT until 2022-11-06) is 20:00 UTC.
        assert_eq!(closes[4].time, Some(1_667_592_000));
        assert_eq!(closes[0].currency.as_deref(), Some("USD"));
    }

    #[test]
    fn a_table_with_fewer_rows_than_its_total_is_refused() {
        // The recorded fragment: 5 of the window's 251 rows.
        let err = read(AAPL_CUT, LATER).unwrap_err();
        assert_eq!(err.kind(), "malformed_response");
        assert!(
            err.to_string().contains("5 of the window's 251 rows"),
            "{err}"
        );
    }

    #[test]
    fn todays_row_before_the_close_is_not_a_close() {
        // 2022-11-04 at 15:00 New York: that day's row is the price so far.
        let closes = read(AAPL, 1_667_588_400).unwrap();
        assert_eq!(
            closes.last().unwrap().market_date.unwrap().to_string(),
            "2022-11-03"
        );
    }

    #[test]
    fn odd_rows() {
        let body = |rows: &str| {
            format!(
                r#"{{"data":{{"symbol":"AAPL","totalRecords":1,"tradesTable":{{"rows":[{rows}]}}}},"status":{{"rCode":200}}}}"#
            )
        };
        for bad in [
            r#"{"date":"2022-11-04","close":"$1"}"#,
            r#"{"date":"11/04/2022","close":"1.5"}"#,
            r#"{"close":"$1"}"#,
        ] {
            let err = read(body(bad).as_bytes(), LATER).unwrap_err();
            assert_eq!(err.kind(), "malformed_response", "{bad}");
        }
        let none = read(
            body(r#"{"date":"11/04/2022","close":"N/A"}"#).as_bytes(),
            LATER,
        );
        assert!(none.unwrap().is_empty());
        let twice = format!(
            r#"{{"data":{{"symbol":"AAPL","totalRecords":2,"tradesTable":{{"rows":[{0},{0}]}}}}}}"#,
            r#"{"date":"11/04/2022","close":"$1"}"#
        );
        assert_eq!(
            read(twice.as_bytes(), LATER).unwrap_err().kind(),
            "malformed_response"
        );
        // No table at all: no closes in the window.
        let empty = r#"{"data":{"symbol":"AAPL","totalRecords":0,"tradesTable":null},"status":{"rCode":200}}"#;
        assert!(read(empty.as_bytes(), LATER).unwrap().is_empty());
    }
}
