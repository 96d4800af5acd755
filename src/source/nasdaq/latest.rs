//! The latest price from `/api/quote/{SYMBOL}/info`: the regular session's, as Yahoo's
//! `regularMarketPrice` is.
//!
//! `data.primaryData` is the latest trade, whenever it was. During the regular session and
//! after it (`marketStatus` "Market Open"/"Open", "Market Closed"/"Closed") that is the
//! regular session's price, stamped with its time (`"Feb 24, 2023 10:19 AM ET"`) or, once the
//! market has closed, its day (`"Feb 24, 2023"`: that day's close, 16:00 New York time).
//! Before the session and after it (`marketStatus` "Pre Market", "After Hours", or a stamp
//! ending ` - PRE-MARKET`/` - AFTER HOURS`) the primary price is an extended-hours trade: the
//! regular session's last price is then `data.secondaryData`, stamped
//! `"CLOSED AT 4:00 PM ET ON Nov 18, 2019"`, and that is the price printed. An extended-hours
//! answer without it has no price `quotes` prints: never the extended-hours trade instead.
//!
//! `keyStats.PreviousClose` is the close before the current session, so it is the day's
//! previous close only for a regular-session price. Name and exchange are `companyName` and
//! `exchange`. Prices are US dollars.

use serde::Deserialize;

use super::forms::{self, Session};
use super::{SPEC, check_symbol, read};
use crate::error::FetchError;
use crate::quote::Quote;
use crate::source::Answer;
use crate::source::us_market;
use crate::text::{self, excerpt};
use crate::ticker::Ticker;

/// How far ahead of our clock a trade's time may be (clock skew) before it is refused.
const MAX_CLOCK_SKEW_SECONDS: i64 = 300;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Info {
    #[serde(default)]
    symbol: Option<String>,
    #[serde(default)]
    company_name: Option<String>,
    #[serde(default)]
    exchange: Option<String>,
    #[serde(default)]
    primary_data: Option<Trade>,
    #[serde(default)]
    secondary_data: Option<Trade>,
    #[serde(default)]
    key_stats: Option<KeyStats>,
    #[serde(default)]
    market_status: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Trade {
    #[serde(default)]
    last_sale_price: Option<String>,
    #[serde(default)]
    last_trade_timestamp: Option<String>,
}

#[derive(Deserialize)]
struct KeyStats {
    #[serde(rename = "PreviousClose", default)]
    previous_close: Option<Stat>,
}

#[derive(Deserialize)]
struct Stat {
    #[serde(default)]
    value: Option<String>,
}

/// The market's state as `marketStatus` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    /// The regular session is on, or over for the day: the primary price is its price.
    Regular,
    /// Before or after the regular session: the primary price is an extended-hours trade.
    Extended,
}

/// `marketStatus`, in the forms Nasdaq writes ("Market Open", "Open", "Market Closed",
/// "Closed", "Pre Market", "After Hours"), spaces and hyphens aside; another is malformed.
fn status(text: Option<&str>) -> Result<Option<Status>, FetchError> {
    let Some(text) = text else {
        return Ok(None);
    };
    let word: String = text
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .flat_map(char::to_lowercase)
        .collect();
    match word.as_str() {
        "marketopen" | "open" | "marketclosed" | "closed" => Ok(Some(Status::Regular)),
        "premarket" | "afterhours" | "postmarket" => Ok(Some(Status::Extended)),
        _ => Err(SPEC.malformed(format!(
            "marketStatus {} is not one quotes knows",
            excerpt(text.as_bytes())
        ))),
    }
}

/// Read one `info` answer about `ticker`, at `now` (Unix seconds). Public to the fuzz
/// targets through the source: it must return an error, never panic, whatever the bytes.
pub fn parse(ticker: &Ticker, answer: &Answer, now: i64) -> Result<Quote, FetchError> {
    let info: Info = read(answer, "quote")?;
    check_symbol(ticker, info.symbol.as_deref())?;
    let primary = info
        .primary_data
        .as_ref()
        .ok_or_else(|| SPEC.no_price("no primaryData".into()))?;
    let stamp = forms::stamp(field(&primary.last_trade_timestamp, "lastTradeTimestamp")?)
        .map_err(|e| SPEC.malformed(format!("lastTradeTimestamp {e}")))?;
    let extended =
        stamp.session.is_some() || status(info.market_status.as_deref())? == Some(Status::Extended);
    let (price, time, previous_close) = if extended {
        let session = match stamp.session {
            Some(Session::AfterHours) => "an after-hours",
            _ => "a pre-market",
        };
        let regular = info.secondary_data.as_ref().ok_or_else(|| {
            SPEC.no_price(format!(
                "only {session} price, without the regular session's (secondaryData)"
            ))
        })?;
        let price = price(&regular.last_sale_price)?;
        let (day, at) = forms::closed_at(field(&regular.last_trade_timestamp, "secondaryData")?)
            .map_err(|e| SPEC.malformed(format!("secondaryData.lastTradeTimestamp {e}")))?;
        (price, us_market::instant(day, at), None)
    } else {
        let price = price(&primary.last_sale_price)?;
        let time = match stamp.time {
            Some(at) => us_market::instant(stamp.date, at),
            // A day only: that day's close, once it has passed; before, its time is unknown.
            None => us_market::close_of(stamp.date).filter(|close| *close <= now),
        };
        let previous_close = info
            .key_stats
            .as_ref()
            .and_then(|k| k.previous_close.as_ref())
            .and_then(|s| s.value.as_deref())
            .and_then(|v| forms::dollars(v).ok());
        (price, time, previous_close)
    };
    if let Some(time) = time.filter(|t| *t > now + MAX_CLOCK_SKEW_SECONDS) {
        return Err(SPEC.malformed(format!("the trade's time {time} is in the future")));
    }
    Ok(Quote {
        price,
        currency: Some("USD".into()),
        time,
        market_date: None,
        previous_close,
        name: text::free_text(info.company_name.map(|n| n.trim().to_string())).map(Into::into),
        exchange: text::free_text(info.exchange).map(Into::into),
        ..Quote::default()
    })
}

fn field<'a>(value: &'a Option<String>, name: &str) -> Result<&'a str, FetchError> {
    value
        .as_deref()
        .ok_or_else(|| SPEC.malformed(format!("no {name}")))
}

/// A `lastSalePrice`: a dollar amount; `N/A` or nothing is no price, anything else malformed.
fn price(value: &Option<String>) -> Result<rust_decimal::Decimal, FetchError> {
    let text = match value.as_deref().map(str::trim) {
        None | Some("" | "N/A") => return Err(SPEC.no_price("lastSalePrice is N/A".into())),
        Some(text) => text,
    };
    let price = forms::dollars(text).map_err(|e| SPEC.malformed(format!("lastSalePrice {e}")))?;
    if price.is_zero() {
        return Err(SPEC.no_price("the price is 0".into()));
    }
    Ok(price)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(ticker: &str, body: &[u8], now: i64) -> Result<Quote, FetchError> {
        let answer = Answer {
            status: 200,
            body: body.to_vec(),
        };
        parse(&Ticker::parse(ticker).unwrap(), &answer, now)
    }

    /// 2023-03-01: after every recorded answer.
    const LATER: i64 = 1_677_628_800;

    const OPEN: &[u8] = include_bytes!(
        "../../../tests/fixtures/nasdaq_info_AAPL_stocks_market_open_2019-11-19.json"
    );
    const CLOSED: &[u8] = include_bytes!(
        "../../../tests/fixtures/nasdaq_info_AAPL_stocks_market_closed_2019-11-19.json"
    );
    const PRE: &[u8] =
        include_bytes!("../../../tests/fixtures/nasdaq_info_AAPL_stocks_premarket_2019-11-19.json");
    const ETF: &[u8] =
        include_bytes!("../../../tests/fixtures/nasdaq_info_SGOL_etf_2023-02-24_reformatted.json");
    const UNIT: &[u8] =
        include_bytes!("../../../tests/fixtures/nasdaq_info_AACQU_stocks_2020-07-28.json");
    const FRAGMENT: &[u8] = include_bytes!(
        "../../../tests/fixtures/nasdaq_info_AAPL_stocks_market_open_2023-02-24_fragment.txt"
    );

    #[test]
    fn during_the_session_the_last_trade_with_its_time() {
        let q = read("AAPL", OPEN, LATER).unwrap();
        assert_eq!(q.price.to_string(), "266.782");
        assert_eq!(q.currency.as_deref(), Some("USD"));
        // 10:33 New York time (EST) is 15:33 UTC.
        assert_eq!(q.time, Some(1_574_177_580));
        assert_eq!(q.previous_close.unwrap().to_string(), "267.1");
        assert_eq!(q.name.as_deref(), Some("Apple Inc. Common Stock"));
        assert_eq!(q.exchange.as_deref(), Some("NASDAQ-GS"));
    }

    #[test]
    fn once_closed_the_close_of_the_day_at_four() {
        let q = read("AAPL", CLOSED, LATER).unwrap();
        assert_eq!(q.price.to_string(), "266.29");
        assert_eq!(q.time, Some(1_574_197_200)); // 2019-11-19T21:00:00Z
        let q = read("SGOL", ETF, LATER).unwrap();
        assert_eq!(q.price.to_string(), "17.34");
        assert_eq!(q.time, Some(1_677_272_400)); // 2023-02-24T21:00:00Z
        assert_eq!(q.previous_close, None);
        let q = read("AACQU", UNIT, LATER).unwrap();
        assert_eq!(q.price.to_string(), "10.4");
        assert_eq!(q.name.as_deref(), Some("Artius Acquisition Inc. Unit"));
        // A day's stamp read before that day's close: the time is not known.
        let noon = 1_677_258_000; // 2023-02-24T17:00:00Z, noon in New York
        assert_eq!(read("SGOL", ETF, noon).unwrap().time, None);
    }

    #[test]
    fn before_the_session_the_regular_close_not_the_pre_market_trade() {
        let q = read("AAPL", PRE, LATER).unwrap();
        // primaryData is the pre-market trade at $267.85; the regular close is $267.10.
        assert_eq!(q.price.to_string(), "267.1");
        assert_eq!(q.time, Some(1_574_110_800)); // 2019-11-18T21:00:00Z
        assert_eq!(q.previous_close, None);
        // The same answer without secondaryData has no price to print.
        let alone = String::from_utf8(PRE.to_vec()).unwrap();
        let at = alone.find(r#""secondaryData":{"#).unwrap();
        let end = at + alone[at..].find('}').unwrap() + 1;
        let alone = format!("{}\"secondaryData\":null{}", &alone[..at], &alone[end..]);
        let err = read("AAPL", alone.as_bytes(), LATER).unwrap_err();
        assert_eq!(err.kind(), "no_price");
        assert!(err.to_string().contains("pre-market"), "{err}");
        // Extended hours said by marketStatus alone (the newer form has no stamp suffix).
        let newer = String::from_utf8(PRE.to_vec()).unwrap().replace(
            "DATA AS OF Nov 19, 2019 9:27 AM ET - PRE-MARKET",
            "Nov 19, 2019 9:27 AM ET",
        );
        assert_eq!(
            read("AAPL", newer.as_bytes(), LATER)
                .unwrap()
                .price
                .to_string(),
            "267.1"
        );
    }

    #[test]
    fn forms_not_known_are_malformed_never_guessed() {
        let closed = String::from_utf8(CLOSED.to_vec()).unwrap();
        for (from, to) in [
            ("DATA AS OF Nov 19, 2019", "19/11/2019"),
            ("\"$266.29\"", "\"266.29\""),
            ("\"$266.29\"", "\"$266,29\""),
            ("Market Closed", "Halted"),
        ] {
            let body = closed.replace(from, to);
            let err = read("AAPL", body.as_bytes(), LATER).unwrap_err();
            assert_eq!(err.kind(), "malformed_response", "{to}: {err}");
        }
        for (from, to) in [("\"$266.29\"", "\"N/A\""), ("\"$266.29\"", "\"$0.00\"")] {
            let body = closed.replace(from, to);
            let err = read("AAPL", body.as_bytes(), LATER).unwrap_err();
            assert_eq!(err.kind(), "no_price", "{to}: {err}");
        }
        // The recorded 2023 fragment is not JSON (its recorder's braces are broken).
        let err = read("AAPL", FRAGMENT, LATER).unwrap_err();
        assert_eq!(err.kind(), "malformed_response");
        // An answer about another symbol is refused.
        let err = read("MSFT", CLOSED, LATER).unwrap_err();
        assert_eq!(err.kind(), "malformed_response");
        // A trade in the future is not one.
        let before = 1_574_100_000; // 2019-11-18
        let err = read("AAPL", OPEN, before).unwrap_err();
        assert_eq!(err.kind(), "malformed_response");
    }

    #[test]
    fn never_panics_on_cut_bodies() {
        for body in [OPEN, CLOSED, PRE, ETF, UNIT] {
            for cut in 0..body.len() {
                let _ = read("AAPL", &body[..cut], LATER);
            }
        }
    }
}
