//! The Yahoo chart answers the bench server sends, and the price each symbol gets.
//!
//! The body copies the shape of a real answer (`shared/fixtures/yahoo_chart_QQQ.json`, recorded
//! from `query1.finance.yahoo.com`) with the symbol substituted and a price derived from the
//! symbol alone, so every run, every program and every test sees the same number for the same
//! ticker and can check it: `bench/run` recomputes [`price_of`] in Python (same FNV-1a hash) to
//! verify each program's output.

/// FNV-1a, 64 bit: tiny, stable across Rust versions and platforms, and easy to re-implement
/// in the harness script (`std`'s hasher is neither stable nor specified).
fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// The price the server quotes for `symbol`, exactly as written in the body:
/// `100 + (fnv1a64(symbol) % 10000) / 100`, always with two decimals (`"123.40"`).
///
/// ```
/// assert_eq!(quotes_bench::chart::price_of("T0001"), quotes_bench::chart::price_of("T0001"));
/// assert!(quotes_bench::chart::price_of("QQQ").contains('.'));
/// ```
pub fn price_of(symbol: &str) -> String {
    let cents = fnv1a64(symbol.as_bytes()) % 10_000;
    format!("{}.{:02}", 100 + cents / 100, cents % 100)
}

/// The 200 answer for `symbol`: a chart with `meta.regularMarketPrice` = [`price_of`] and
/// currency USD, in the shape of a real `range=1d&interval=1d` answer (one daily bar).
pub fn chart_body(symbol: &str) -> String {
    // serde_json escapes whatever the request path decoded to; the result is a JSON string.
    let sym = serde_json::Value::String(symbol.to_owned()).to_string();
    let name = serde_json::Value::String(format!("Bench instrument {symbol}")).to_string();
    let price = price_of(symbol);
    format!(
        concat!(
            r#"{{"chart":{{"result":[{{"meta":{{"currency":"USD","symbol":{sym},"exchangeName":"NGM","#,
            r#""fullExchangeName":"NasdaqGM","instrumentType":"ETF","firstTradeDate":921076200,"#,
            r#""regularMarketTime":1739998800,"hasPrePostMarketData":true,"gmtoffset":-18000,"#,
            r#""timezone":"EST","exchangeTimezoneName":"America/New_York","regularMarketPrice":{p},"#,
            r#""fiftyTwoWeekHigh":{p},"fiftyTwoWeekLow":{p},"regularMarketDayHigh":{p},"#,
            r#""regularMarketDayLow":{p},"regularMarketVolume":19089856,"longName":{name},"#,
            r#""shortName":{name},"chartPreviousClose":{p},"priceHint":2,"currentTradingPeriod":{{"#,
            r#""pre":{{"timezone":"EST","start":1740042000,"end":1740061800,"gmtoffset":-18000}},"#,
            r#""regular":{{"timezone":"EST","start":1740061800,"end":1740085200,"gmtoffset":-18000}},"#,
            r#""post":{{"timezone":"EST","start":1740085200,"end":1740099600,"gmtoffset":-18000}}}},"#,
            r#""dataGranularity":"1d","range":"1d","validRanges":["1d","5d","1mo","3mo","6mo","1y","#,
            r#""2y","5y","10y","ytd","max"]}},"timestamp":[1739998800],"indicators":{{"quote":[{{"#,
            r#""low":[{p}],"high":[{p}],"volume":[19089856],"close":[{p}],"open":[{p}]}}],"#,
            r#""adjclose":[{{"adjclose":[{p}]}}]}}}}],"error":null}}}}"#
        ),
        sym = sym,
        name = name,
        p = price,
    )
}

/// Yahoo's answer for an unknown symbol or path, sent with status 404
/// (`shared/fixtures/yahoo_chart_error_not_found.404.json`).
pub const NOT_FOUND_BODY: &str = r#"{"chart":{"result":null,"error":{"code":"Not Found","description":"No data found, symbol may be delisted"}}}"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn price_is_deterministic_with_two_decimals_in_range() {
        for sym in ["T0001", "T1000", "QQQ", "^GSPC", ""] {
            let p = price_of(sym);
            assert_eq!(p, price_of(sym));
            let (whole, frac) = p.split_once('.').expect("a decimal point");
            assert_eq!(frac.len(), 2, "{p}");
            let whole: u64 = whole.parse().expect("digits");
            assert!((100..200).contains(&whole), "{p}");
        }
        // Pinned so the Python copy in bench/run can be checked against it.
        assert_eq!(price_of("T0001"), "115.68");
    }

    #[test]
    fn body_is_valid_json_with_symbol_and_price() {
        let body = chart_body("BRK\"B");
        let v: serde_json::Value = serde_json::from_str(&body).expect("valid JSON");
        let meta = &v["chart"]["result"][0]["meta"];
        assert_eq!(meta["symbol"], "BRK\"B");
        assert_eq!(meta["currency"], "USD");
        let price = meta["regularMarketPrice"].as_f64().expect("a number");
        let want: f64 = price_of("BRK\"B").parse().expect("a number");
        assert!((price - want).abs() < 1e-9);
        assert!(body.contains(&format!("\"regularMarketPrice\":{}", price_of("BRK\"B"))));
        let nf: serde_json::Value = serde_json::from_str(NOT_FOUND_BODY).expect("valid JSON");
        assert_eq!(nf["chart"]["error"]["code"], "Not Found");
    }
}
