//! `latest::parse` (the latest price from Yahoo's chart API) on arbitrary bytes, read as a
//! 200 and as a 404, as an answer about the symbol it names and about another: it must
//! answer `Ok` or `Err`, never panic, never find a price in an answer whose status says
//! there is none, and never a price of 0.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quotes::source::Answer;
use quotes::source::yahoo::latest;

mod common;

fuzz_target!(|body: &[u8]| {
    let symbol = common::symbol_in(body);
    for status in [200, 404] {
        let answer = Answer {
            status,
            body: body.to_vec(),
        };
        for asked in [symbol.as_str(), "MSFT"] {
            if let Ok(quote) = latest::parse(&answer, asked) {
                assert_eq!(status, 200, "a price from an HTTP {status} answer");
                assert!(!quote.price.is_zero(), "a price of 0");
            }
        }
    }
});
