//! `history::parse_close` (`--date`: a past day's close from Yahoo's daily bars) on
//! arbitrary bytes, for dates inside the recorded fixtures (so that seeds from
//! `tests/fixtures` reach the bar picking) and at both ends of the calendar, where date
//! arithmetic overflows.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quotes::source::Answer;
use quotes::source::yahoo::history::parse_close;

mod common;

fuzz_target!(|body: &[u8]| {
    let symbol = common::symbol_in(body);
    for date in [
        "2021-01-06",
        "2017-07-11",
        "2020-01-02",
        "-009999-01-01",
        "9999-12-31",
    ] {
        let date = date.parse().expect("a valid date");
        for status in [200, 404] {
            let answer = Answer {
                status,
                body: body.to_vec(),
            };
            if let Ok(quote) = parse_close(date, &answer, &symbol) {
                assert_eq!(status, 200, "a close from an HTTP {status} answer");
                assert!(!quote.price.is_zero(), "a close of 0");
            }
        }
    }
});
