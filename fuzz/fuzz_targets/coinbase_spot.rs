//! `parse_spot` (Coinbase's spot price) on arbitrary bytes, as a 200, a 400 and a 404,
//! for the latest price and for a `--date`: it must answer `Ok` or `Err`, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quotes::history::Adjust;
use quotes::source::coinbase::parse_spot;
use quotes::source::{Answer, When};

fuzz_target!(|body: &[u8]| {
    let dated = When::Close("2024-03-05".parse().expect("a valid date"), Adjust::None);
    for when in [When::Latest, dated] {
        for status in [200, 400, 404] {
            let answer = Answer {
                status,
                body: body.to_vec(),
            };
            if parse_spot(when, &answer).is_ok() {
                assert_eq!(status, 200, "a price from an HTTP {status} answer");
            }
        }
    }
});
