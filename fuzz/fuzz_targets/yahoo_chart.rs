//! `latest::parse` (the latest price from Yahoo's chart API) on arbitrary bytes, read as a
//! 200 and as a 404: it must answer `Ok` or `Err`, never panic, and never find a price in
//! an answer whose status says there is none.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quotes::source::Answer;
use quotes::source::yahoo::latest;

fuzz_target!(|body: &[u8]| {
    for status in [200, 404] {
        let answer = Answer {
            status,
            body: body.to_vec(),
        };
        if latest::parse(&answer).is_ok() {
            assert_eq!(status, 200, "a price from an HTTP {status} answer");
        }
    }
});
