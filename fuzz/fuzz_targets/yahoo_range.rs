//! `history::range` (`--from`: every close of a range, as traded from the split events of a
//! second answer, or adjusted) on arbitrary bytes as the window's answer and as the splits'
//! answer, with each `--adjust`, for a range inside the recorded fixtures and one at the end
//! of the calendar, where date arithmetic overflows.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quotes::history::{Adjust, Interval, Range};
use quotes::source::Answer;
use quotes::source::yahoo::history::range;

fuzz_target!(|body: &[u8]| {
    let answer = |status| Answer {
        status,
        body: body.to_vec(),
    };
    let recorded = Answer {
        status: 200,
        body: br#"{"chart":{"result":[{"meta":{"gmtoffset":0},"timestamp":[1612189800],"indicators":{"quote":[{"close":[1.5]}]}}]}}"#.to_vec(),
    };
    for (from, to) in [("2021-01-01", "2022-01-31"), ("9999-12-30", "9999-12-31")] {
        for adjust in [Adjust::None, Adjust::Splits, Adjust::All] {
            let range_ = Range {
                from: from.parse().expect("a date"),
                to: to.parse().expect("a date"),
                interval: Interval::Day,
                adjust,
            };
            for status in [200, 404] {
                let fuzzed = answer(status);
                let ok = range(&range_, &[&fuzzed], 1_740_200_000).is_ok();
                assert!(!ok || status == 200, "closes from an HTTP {status} answer");
                let _ = range(&range_, &[&recorded, &fuzzed], 1_740_200_000);
            }
        }
    }
});
