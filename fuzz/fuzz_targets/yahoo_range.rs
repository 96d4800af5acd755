//! `history::range` (`--from`: every close of a range, as traded from the split events of a
//! second answer, or adjusted) on arbitrary bytes as the window's answer and as the splits'
//! answer, with each `--adjust`, for a range inside the recorded fixtures and one at the end
//! of the calendar, where date arithmetic overflows.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quotes::history::{Adjust, Interval, Range};
use quotes::source::Answer;
use quotes::source::yahoo::history::range;

mod common;

fuzz_target!(|body: &[u8]| {
    let symbol = common::symbol_in(body);
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
                if let Ok(parsed) = range(&range_, &[&fuzzed], &symbol, 1_740_200_000) {
                    assert_eq!(status, 200, "closes from an HTTP {status} answer");
                    // A gap is a day without a close, inside the range, never both.
                    assert!(parsed.gaps.windows(2).all(|w| w[0] < w[1]));
                    assert!(parsed.gaps.iter().all(|d| range_.contains(*d)));
                    assert!(parsed.quotes.iter().all(|q| {
                        q.market_date
                            .is_some_and(|d| parsed.gaps.binary_search(&d).is_err())
                    }));
                }
                let _ = range(&range_, &[&recorded, &fuzzed], &symbol, 1_740_200_000);
            }
        }
    }
});
