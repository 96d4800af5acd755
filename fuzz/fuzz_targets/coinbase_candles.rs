//! `coinbase::parse_candles` (Coinbase Exchange's daily candles for a range) on arbitrary
//! bytes, alone and after a recorded answer, as a 200, a 400 and a 404: it must answer `Ok`
//! or `Err`, never panic, and give no close from an error status.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quotes::history::{Adjust, Interval, Range};
use quotes::source::Answer;
use quotes::source::coinbase::parse_candles;
use quotes::ticker::Ticker;

fuzz_target!(|body: &[u8]| {
    let pair = Ticker::parse("BTC-EUR").expect("a pair");
    let today = "2026-01-01".parse().expect("a date");
    let recorded = Answer {
        status: 200,
        body: b"[[1609459200,1,2,3,24070.97,5]]".to_vec(),
    };
    // A range inside the recorded answer, and 30 years (the longest range) at each end of
    // the calendar, where date arithmetic overflows.
    for (from, to) in [
        ("2021-01-01", "2021-01-07"),
        ("-009999-01-01", "-009970-12-31"),
        ("9970-01-01", "9999-12-31"),
    ] {
        let range = Range {
            from: from.parse().expect("a date"),
            to: to.parse().expect("a date"),
            interval: Interval::Day,
            adjust: Adjust::None,
        };
        for status in [200, 400, 404] {
            let fuzzed = Answer {
                status,
                body: body.to_vec(),
            };
            if let Ok(parsed) = parse_candles(&pair, &range, &[&fuzzed], today) {
                assert_eq!(status, 200, "closes from an HTTP {status} answer");
                // Every day of the range before today is a close or a gap, never both.
                let closes = parsed.quotes.len() + parsed.gaps.len();
                let days = quotes::history::days(range.from, range.to)
                    .filter(|d| *d < today)
                    .count();
                assert_eq!(closes, days, "each day once");
            }
            let _ = parse_candles(&pair, &range, &[&recorded, &fuzzed], today);
        }
    }
});
