//! `parse_spot` (Coinbase's spot price) on arbitrary bytes, as a 200, a 400 and a 404,
//! for the latest price and for a `--date`: it must answer `Ok` or `Err`, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quotes::source::Query;
use quotes::source::coinbase::parse_spot;
use quotes::ticker::Ticker;

fuzz_target!(|body: &[u8]| {
    let ticker = Ticker::parse("BTC-USD").expect("a valid ticker");
    for date in [None, Some("2024-03-05".parse().expect("a valid date"))] {
        let query = Query {
            ticker: ticker.clone(),
            date,
        };
        for status in [200, 400, 404] {
            if parse_spot(&query, status, body).is_ok() {
                assert_eq!(status, 200, "a price from an HTTP {status} answer");
            }
        }
    }
});
