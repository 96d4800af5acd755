//! `parse_price` and `format_price` on arbitrary UTF-8. Whatever text is accepted, at
//! every `--precision`, the written price has exactly that many decimals, reads back as
//! the value rounded, lies within half a unit in the last place of the exact value, and
//! writes back the same. By each default rule (`quote::places`, issue 18), the written
//! price differs from the source's by less than one unit in its last place, is zero only
//! when the source's is, and keeps every digit of a price below 1 up to 4 significant ones.
//!
//! Whether ties round to even is checked against a reference in `tests/properties.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quotes::quote::{Decimals, MAX_PRECISION, MAX_SCALE, format_price, parse_price, places, round};

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
    for rule in [
        Decimals::DEFAULT,
        Decimals::AtLeast(4),
        Decimals::AtLeast(8),
        Decimals::QUOTIENT,
    ] {
        let places = places(value, rule);
        assert!(places <= MAX_SCALE);
        let written = format_price(value, places);
        let case = format!("{text:?} by {rule:?} written as {written:?}");
        let back = parse_price(&written).expect("a written price reads back");
        let unit = rust_decimal::Decimal::new(1, places);
        assert!((value - back).abs() < unit, "{case}");
        assert_eq!(back.is_zero(), value.is_zero(), "{case}");
        if value.abs() < rust_decimal::Decimal::ONE {
            // Below 1: all that was sent, or at least 4 significant digits of it.
            let digits = written
                .chars()
                .filter(char::is_ascii_digit)
                .skip_while(|c| *c == '0')
                .count();
            assert!(back == value || digits >= 4, "{case}");
        }
    }
});
