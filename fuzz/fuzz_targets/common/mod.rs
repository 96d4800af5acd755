//! What the Yahoo targets share: the symbol an answer says it is about, so that a fuzzed
//! answer is read as one to a request for that symbol and gets past the check that it is
//! (issue 18), as well as being read as one to a request for another.

/// The text of the first `"symbol":"…"` in `body` (no escapes), or `AAPL`.
pub fn symbol_in(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    text.split_once(r#""symbol":""#)
        .and_then(|(_, rest)| rest.split_once('"'))
        .map_or_else(|| "AAPL".to_string(), |(symbol, _)| symbol.to_string())
}
