//! `read_observations` (the ECB's csvdata) on arbitrary bytes, as a 200, a 404 and a 500:
//! it must answer `Ok` or `Err`, never panic. Whatever it reads is a positive rate with at
//! most 28 decimals, one per day, in day order; a 404 reads as no observations at most.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quotes::source::Answer;
use quotes::source::ecb::read_observations;

fuzz_target!(|body: &[u8]| {
    for status in [200, 404, 500] {
        let answer = Answer {
            status,
            body: body.to_vec(),
        };
        if let Ok(observations) = read_observations("USD", &answer) {
            assert!(status != 500, "observations from an HTTP 500 answer");
            assert!(
                status == 200 || observations.is_empty(),
                "rates from a {status}"
            );
            assert!(observations.windows(2).all(|w| w[0].day < w[1].day));
            assert!(
                observations.iter().all(|o| {
                    o.value.is_sign_positive() && !o.value.is_zero() && o.decimals <= 28
                })
            );
        }
    }
});
