//! `parse_price` and `format_price` on arbitrary UTF-8. Whatever text is accepted, at
//! every `--precision`, the written price has exactly that many decimals, reads back as
//! the value rounded, lies within half a unit in the last place of the exact value, and
//! writes back the same.
//!
//! Whether ties round to even is checked against a reference in `tests/properties.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quotes::quote::{MAX_PRECISION, format_price, parse_price, round};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(value) = parse_price(text) else {
        return;
    };
    for places in 0..=MAX_PRECISION {
        let written = format_price(value, places);
        let case = format!("{text:?} written as {written:?}");
        let decimals = written.split_once('.').map_or(0, |(_, frac)| frac.len());
        assert_eq!(decimals, places as usize, "{case}");

        let back = parse_price(&written).expect("a written price reads back");
        assert_eq!(back, round(value, places), "{case}");
        let half_unit = parse_price(&format!("5e-{}", places + 1)).expect("a valid number");
        assert!((value - back).abs() <= half_unit, "{case}");
        assert_eq!(format_price(back, places), written, "{case}");
    }
});
