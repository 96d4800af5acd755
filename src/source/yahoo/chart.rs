//! The chart API's answer, `GET /v8/finance/chart/{SYMBOL}`: the serde types the latest
//! price and the history both read (meta, bars, `adjclose`, split events, the current
//! trading period), and the errors an answer without a chart stands for.
//!
//! Prices are borrowed as `RawValue`s so their TEXT reaches `parse_price` exactly as sent
//! (`164.32000732421875`, `9489.0`); nothing here goes through `f64`.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::SPEC;
use crate::error::FetchError;
use crate::quote::{DEFAULT_PRECISION, Decimals, MAX_PRECISION};
use crate::source::Answer;
use crate::text::{self, excerpt};

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    chart: Chart<'a>,
}

#[derive(Deserialize)]
struct Chart<'a> {
    #[serde(borrow, default)]
    result: Option<Vec<ChartResult<'a>>>,
    #[serde(default)]
    error: Option<ChartError>,
}

#[derive(Deserialize)]
struct ChartError {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    description: Option<String>,
}

/// `chart.result[0]`: what the instrument is, and its bars when bars were asked for.
#[derive(Deserialize)]
pub struct ChartResult<'a> {
    #[serde(borrow)]
    pub meta: Meta<'a>,
    /// Unix seconds of each bar; absent when there are no bars.
    #[serde(default)]
    pub timestamp: Option<Vec<Option<i64>>>,
    #[serde(borrow, default)]
    pub indicators: Option<Indicators<'a>>,
    /// Splits (asked for with `events=split`), only those inside the window asked for.
    #[serde(borrow, default)]
    pub events: Option<Events<'a>>,
}

/// `chart.result[0].meta`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Meta<'a> {
    #[serde(default)]
    pub currency: Option<String>,
    /// TODAY's price, whatever period was asked for: only the latest price reads it.
    #[serde(borrow, default)]
    pub regular_market_price: Option<&'a RawValue>,
    #[serde(default)]
    pub regular_market_time: Option<serde_json::Number>,
    /// The previous trading day's close (sent by the newer API).
    #[serde(borrow, default)]
    pub previous_close: Option<&'a RawValue>,
    /// The close before the window asked for: yesterday's close only when `range` is `1d`.
    #[serde(borrow, default)]
    pub chart_previous_close: Option<&'a RawValue>,
    /// The window asked for (`1d`); empty when a period was asked for.
    #[serde(default)]
    pub range: Option<String>,
    /// The exchange's offset from UTC in seconds (`-18000` for New York in winter).
    #[serde(default)]
    pub gmtoffset: Option<i64>,
    #[serde(default)]
    pub long_name: Option<String>,
    #[serde(default)]
    pub short_name: Option<String>,
    #[serde(default)]
    pub full_exchange_name: Option<String>,
    #[serde(default)]
    pub exchange_name: Option<String>,
    /// Today's sessions: a daily bar of the session still running is no close yet.
    #[serde(default)]
    pub current_trading_period: Option<TradingPeriods>,
    /// How many decimals Yahoo quotes the instrument with (2 for most stocks, 4 for most
    /// currencies); borrowed as text, so that an odd value is no reason to refuse the answer.
    #[serde(borrow, default)]
    pub price_hint: Option<&'a RawValue>,
    /// The instrument the answer is about, as Yahoo writes its symbol.
    #[serde(default)]
    pub symbol: Option<String>,
}

/// `meta.currentTradingPeriod`: pre-market, regular and post-market sessions of the
/// exchange's current (or next) trading day.
#[derive(Deserialize)]
pub struct TradingPeriods {
    #[serde(default)]
    pub regular: Option<TradingPeriod>,
}

/// One session; its end in Unix seconds.
#[derive(Deserialize)]
pub struct TradingPeriod {
    #[serde(default)]
    pub end: Option<i64>,
}

/// `chart.result[0].events`.
#[derive(Deserialize)]
pub struct Events<'a> {
    /// Keyed by the split's timestamp as a string: `{"1626787800": {...}}`.
    #[serde(borrow, default)]
    pub splits: Option<std::collections::BTreeMap<String, SplitEvent<'a>>>,
}

/// One split: `{"date":1626787800,"numerator":4,"denominator":1,"splitRatio":"4:1"}`. The
/// ratio's numbers are borrowed as text and parsed exactly, like prices.
#[derive(Deserialize)]
pub struct SplitEvent<'a> {
    #[serde(default)]
    pub date: Option<i64>,
    #[serde(borrow, default)]
    pub numerator: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub denominator: Option<&'a RawValue>,
}

impl Meta<'_> {
    /// The instrument's name, long if there is one: safe to show, at most
    /// [`text::MAX_FREE_TEXT`] characters.
    pub fn name(&mut self) -> Option<Arc<str>> {
        let long = self.long_name.take().filter(|n| !n.is_empty());
        text::free_text(long.or_else(|| self.short_name.take())).map(Arc::from)
    }

    /// The exchange's name, in full if there is one; bounded like the name.
    pub fn exchange(&mut self) -> Option<Arc<str>> {
        let full = self.full_exchange_name.take().filter(|n| !n.is_empty());
        text::free_text(full.or_else(|| self.exchange_name.take())).map(Arc::from)
    }

    /// The decimals Yahoo quotes with (`priceHint`), as the floor of the price's own rule
    /// (never below the default 2); a hint that is not a small whole number is no hint.
    pub fn decimals(&self) -> Option<Decimals> {
        let hint: u32 = self.price_hint?.get().parse().ok()?;
        (hint <= MAX_PRECISION).then(|| Decimals::AtLeast(hint.max(DEFAULT_PRECISION)))
    }

    /// The currency: absent if the source left it out or empty, an error unless it is a
    /// currency code (3 or 4 letters).
    pub fn currency(&mut self) -> Result<Option<String>, FetchError> {
        text::currency(self.currency.take()).map_err(|e| SPEC.malformed(e.to_string()))
    }
}

/// `chart.result[0].indicators`.
#[derive(Deserialize)]
pub struct Indicators<'a> {
    #[serde(borrow, default)]
    pub quote: Option<Vec<Bars<'a>>>,
    /// Closes adjusted for splits and dividends (`--adjust all`).
    #[serde(borrow, default)]
    pub adjclose: Option<Vec<AdjustedBars<'a>>>,
}

/// `indicators.adjclose[0]`.
#[derive(Deserialize)]
pub struct AdjustedBars<'a> {
    #[serde(borrow, default)]
    pub adjclose: Option<Vec<Option<&'a RawValue>>>,
}

/// `indicators.quote[0]`.
#[derive(Deserialize)]
pub struct Bars<'a> {
    /// One close per timestamp; `null` for a bar with no trades. `[{}]` has none at all.
    #[serde(borrow, default)]
    pub close: Option<Vec<Option<&'a RawValue>>>,
}

/// The bars' timestamps and their closes, index by index; `None` where a bar has none.
pub struct BarColumns<'a> {
    pub timestamps: Vec<Option<i64>>,
    pub closes: Vec<Option<&'a RawValue>>,
    /// The closes adjusted for dividends too (`adjclose`), when the answer has them.
    pub adjcloses: Option<Vec<Option<&'a RawValue>>>,
}

impl<'a> ChartResult<'a> {
    /// The bars' timestamps and closes (and `adjclose`), checked to line up (or we could
    /// pair a close with the wrong day). A bar with neither is no bar (`quote: [{}]`).
    pub fn bars(&mut self) -> Result<BarColumns<'a>, FetchError> {
        let timestamps = self.timestamp.take().unwrap_or_default();
        let indicators = self.indicators.take();
        let (quote, adjclose) = indicators.map_or((None, None), |i| (i.quote, i.adjclose));
        let closes = quote
            .and_then(|q| q.into_iter().next())
            .and_then(|bars| bars.close)
            .unwrap_or_default();
        let adjcloses = adjclose
            .and_then(|a| a.into_iter().next())
            .and_then(|bars| bars.adjclose)
            .filter(|a| !a.is_empty());
        for (what, len) in [
            ("closes", closes.len()),
            ("adjusted closes", adjcloses.as_ref().map_or(0, Vec::len)),
        ] {
            if len != 0 && len != timestamps.len() {
                return Err(
                    SPEC.malformed(format!("{} timestamps but {len} {what}", timestamps.len()))
                );
            }
        }
        Ok(BarColumns {
            timestamps,
            closes,
            adjcloses,
        })
    }
}

/// Read one answer to a request for `asked` into its chart, or the error it stands for: an
/// HTML page (a consent page or captive portal) is malformed on a 200 and an HTTP error
/// otherwise; `chart.error` "Not Found" or a 404 is not found; any other status is an HTTP
/// error with Yahoo's words; a chart of another instrument is malformed.
pub fn read<'a>(answer: &'a Answer, asked: &str) -> Result<ChartResult<'a>, FetchError> {
    let status = answer.status;
    let body = answer.body.as_slice();
    SPEC.refuse_html(answer, "JSON")?;
    let envelope: Envelope = match serde_json::from_slice(body) {
        Ok(envelope) => envelope,
        Err(_) if status == 404 => return Err(not_found(excerpt(body))),
        Err(_) if status != 200 => return Err(SPEC.http_error(status, error_words(body))),
        Err(e) => {
            return Err(SPEC.malformed(format!("not the chart format ({})", text::serde_error(&e))));
        }
    };
    let chart = envelope.chart;
    let first = chart.result.and_then(|r| r.into_iter().next());
    let Some(result) = first else {
        let (code, description) = chart
            .error
            // Server text goes into a one-line message: no newlines, no terminal escapes.
            .map(|e| {
                (
                    excerpt(e.code.unwrap_or_default().as_bytes()),
                    excerpt(e.description.unwrap_or_default().as_bytes()),
                )
            })
            .unwrap_or_default();
        return Err(if status == 404 || code == "Not Found" {
            not_found(description)
        } else if status != 200 {
            SPEC.http_error(status, description)
        } else if !description.is_empty() {
            SPEC.malformed(format!("{code}: {description}"))
        } else {
            SPEC.malformed("no chart result".into())
        });
    };
    if status != 200 {
        // Even a complete chart is an error when the status says so.
        return Err(SPEC.http_error(status, String::new()));
    }
    match result.meta.symbol.as_deref() {
        Some(answered) if !same_instrument(answered, asked) => Err(SPEC.malformed(format!(
            "the answer is about {}, not {asked}",
            excerpt(answered.as_bytes())
        ))),
        _ => Ok(result),
    }
}

/// Whether Yahoo's `meta.symbol` names the instrument `asked` (issue 18: a chart of MSFT is
/// never printed as AAPL). Yahoo answers in capitals whatever the case asked (`^gspc` is
/// `^GSPC`), and writes a pair against the US dollar in its short form (`USDJPY=X` is
/// `JPY=X`, as its own pages show); anything else is another instrument. A class share
/// is one symbol on Yahoo (`BRK-B`; `BRK.B` finds nothing), so nothing more is equated.
pub fn same_instrument(answered: &str, asked: &str) -> bool {
    // `long` is `USD` followed by `short`, a currency pair (`=X`).
    let usd_short_form = |long: &str, short: &str| {
        let (long, short) = (long.as_bytes(), short.as_bytes());
        long.len() == short.len() + 3
            && long[..3].eq_ignore_ascii_case(b"USD")
            && long[3..].eq_ignore_ascii_case(short)
            && short.len() > 2
            && short[short.len() - 2..].eq_ignore_ascii_case(b"=X")
    };
    answered.eq_ignore_ascii_case(asked)
        || usd_short_form(asked, answered)
        || usd_short_form(answered, asked)
}

/// What an error body that is not a chart says: the `finance.error` of Yahoo's newer APIs
/// (`Unauthorized: Invalid Crumb`), or an excerpt of the text.
fn error_words(body: &[u8]) -> String {
    match super::crumb::finance_error(body) {
        Some(error) => {
            let code = error.code.unwrap_or_default();
            let description = error.description.unwrap_or_default();
            excerpt(
                format!("{code}: {description}")
                    .trim_matches([' ', ':'])
                    .as_bytes(),
            )
        }
        None => excerpt(body),
    }
}

fn not_found(detail: String) -> FetchError {
    SPEC.not_found(if detail.is_empty() {
        "no data for this symbol".into()
    } else {
        detail
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_of_yahoos_newer_apis_is_said_in_its_words() {
        let answer = Answer {
            status: 401,
            body: include_bytes!(
                "../../../tests/fixtures/yahoo_error_401_invalid_crumb_2023-04-19.json"
            )
            .to_vec(),
        };
        let err = read(&answer, "AAPL").err().unwrap();
        assert_eq!(
            err.to_string(),
            "HTTP 401 from Yahoo: Unauthorized: Invalid Crumb"
        );
    }

    #[test]
    fn the_symbol_answered_is_the_symbol_asked_as_yahoo_writes_it() {
        for (answered, asked) in [
            ("AAPL", "AAPL"),
            ("^GSPC", "^GSPC"),
            ("^gspc", "^GSPC"),
            ("BRK-B", "BRK-B"),
            ("EURUSD=X", "EURUSD=X"),
            // Yahoo's short form of a pair against the dollar, either way round.
            ("JPY=X", "USDJPY=X"),
            ("USDJPY=X", "JPY=X"),
            ("eur=x", "USDEUR=X"),
        ] {
            assert!(same_instrument(answered, asked), "{answered} for {asked}");
        }
        for (answered, asked) in [
            ("MSFT", "AAPL"),
            ("BRK.B", "BRK-B"),
            ("AAPL", "USDAAPL"),
            ("EUR=X", "GBPEUR=X"),
            ("JPY=X", "EURJPY=X"),
            ("", "AAPL"),
            ("AAPLé", "AAPL"),
            ("=X", "USD=X"),
        ] {
            assert!(!same_instrument(answered, asked), "{answered} for {asked}");
        }
    }
}
