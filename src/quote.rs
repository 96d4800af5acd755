//! A fetched price and the exact decimal arithmetic behind it.
//!
//! Prices are money. Sources send them as decimal TEXT (a JSON number for Yahoo, a JSON
//! string for Coinbase); [`parse_price`] turns that text into a `Decimal` holding exactly
//! the same value, never passing through `f64`, and refuses text it cannot hold exactly
//! (a wrong price is worse than no price). [`format_price`] rounds half-to-even, as
//! Python's `Decimal.quantize` does, and prints exactly the requested decimals.
//!
//! A quote also says what was done to it on the way (issue 11): the price as the source
//! quoted it when pence were turned into pounds or the price converted into `--currency`
//! ([`Quoted`]), the rate used ([`FxRate`]), and how many decimals it is written with when
//! `--precision` is not given (`Quote::precision`; resolved at output, in one place).

use std::sync::Arc;

use rust_decimal::{Decimal, RoundingStrategy};

/// The most decimals `--precision` accepts.
pub const MAX_PRECISION: u32 = 10;

/// Decimals of a price without a precision of its own (`Quote::precision` is `None`).
pub const DEFAULT_PRECISION: u32 = 2;

/// Decimals of a rate that is a quotient of published rates (an inverse or a cross through
/// the euro): it has no published precision, and its exact value never ends.
pub const QUOTIENT_PRECISION: u32 = 6;

/// One price, as reported by a source. Which ticker and source it belongs to is the
/// plan's business (`plan::Entry`), not repeated in every quote.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Quote {
    /// The exact price as sent; rounding happens only when it is written out.
    pub price: Decimal,
    /// ISO currency code as the source writes it (`USD`, or `GBp` for pence); may be absent.
    pub currency: Option<String>,
    /// When the price was set, in Unix seconds (Yahoo's `regularMarketTime`, or the
    /// stamp of the daily bar a `--date` close comes from). Always a valid timestamp.
    pub time: Option<i64>,
    /// With `--date`: the trading day whose close this is, in the exchange's own calendar
    /// (a bar stamped 23:00 UTC in London belongs to the next day there).
    pub market_date: Option<jiff::civil::Date>,
    pub previous_close: Option<Decimal>,
    /// Shared, not copied: every close of a history carries its instrument's name.
    pub name: Option<Arc<str>>,
    pub exchange: Option<Arc<str>>,
    /// Decimals to write this price with unless `--precision` says otherwise; `None` is
    /// [`DEFAULT_PRECISION`]. Set by a source whose prices have a precision of their own
    /// (the ECB's published decimals), and by `fx` when pence become pounds (4).
    pub precision: Option<u32>,
    /// The price as the source quoted it, when `quotes` changed it (pence divided into
    /// pounds, or a conversion into `--currency`); `None` when it is as quoted.
    pub quoted: Option<Quoted>,
    /// The conversion into `--currency`, when there was one.
    pub fx: Option<FxRate>,
}

/// A price as the source quoted it, before minor units were normalised or a currency
/// converted.
#[derive(Debug, Clone, PartialEq)]
pub struct Quoted {
    pub price: Decimal,
    pub currency: Option<String>,
    /// Its own precision, as `Quote::precision`.
    pub precision: Option<u32>,
}

/// The rate a price was converted with: how many units of the new currency one unit of
/// the quoted (major) currency was worth.
#[derive(Debug, Clone, PartialEq)]
pub struct FxRate {
    /// Exact: a published rate as sent, or a quotient of two at full `Decimal` precision.
    pub rate: Decimal,
    /// Decimals to show the rate with (its published decimals, [`QUOTIENT_PRECISION`] for a
    /// quotient); `None` shows it exactly as sent.
    pub precision: Option<u32>,
    /// The source of the rate, as named in the registry: `yahoo`, `ecb`.
    pub source: &'static str,
    /// The day of the rate: the price's own day, or the last day before it that had one.
    pub date: Option<jiff::civil::Date>,
}

impl Quote {
    /// Drop the name and exchange (when no output shows them).
    pub fn forget_names(&mut self) {
        self.name = None;
        self.exchange = None;
    }
}

/// Why a number's text is not a price we can hold exactly.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PriceError {
    #[error("{0:?} is not a decimal number")]
    NotANumber(String),
    #[error("{0:?} has more digits than can be held exactly")]
    TooPrecise(String),
    #[error("{0:?} is too large")]
    TooLarge(String),
}

/// The most significant digits a `Decimal` holds exactly.
const MAX_DIGITS: usize = 28;

/// Parse a decimal number's text (JSON number grammar: `-220.003`, `42`, `1.23456e2`,
/// `4.2e-7`) into the `Decimal` of exactly that value.
pub fn parse_price(text: &str) -> Result<Decimal, PriceError> {
    let not_a_number = || PriceError::NotANumber(shorten(text));
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => {
            let exp = &unsigned[at + 1..];
            let digits = exp.strip_prefix(['+', '-']).unwrap_or(exp);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(not_a_number());
            }
            // An exponent beyond any representable value is "too large" or "too precise"
            // below; clamp so that parsing it cannot overflow.
            let value: i64 = digits.parse().unwrap_or(i64::MAX / 4).min(10_000);
            (
                &unsigned[..at],
                if exp.starts_with('-') { -value } else { value },
            )
        }
        None => (unsigned, 0),
    };
    let (int_part, frac_part) = match mantissa.split_once('.') {
        Some((i, f)) if !f.is_empty() => (i, f),
        Some(_) => return Err(not_a_number()),
        None => (mantissa, ""),
    };
    let is_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int_part.is_empty() || !is_digits(int_part) || !is_digits(frac_part) {
        return Err(not_a_number());
    }
    // value = digits × 10^(exponent − scale), with leading and trailing zeros dropped so
    // that only significant digits count against the 28 a Decimal can hold. The digits are
    // read where they stand (integer part, then fraction): a history is tens of thousands of
    // prices, and this allocates nothing.
    let (int, frac) = (int_part.as_bytes(), frac_part.as_bytes());
    let digit = |i: usize| {
        if i < int.len() {
            int[i]
        } else {
            frac[i - int.len()]
        }
    };
    let count = int.len() + frac.len();
    let Some(first) = (0..count).find(|&i| digit(i) != b'0') else {
        return Ok(Decimal::ZERO);
    };
    let last = (first..count)
        .rev()
        .find(|&i| digit(i) != b'0')
        .unwrap_or(first);
    let mut scale = frac.len() as i64 - exponent - (count - 1 - last) as i64;
    if last - first + 1 > MAX_DIGITS {
        return Err(PriceError::TooPrecise(shorten(text)));
    }
    // At most 28 digits: an i128 holds them all.
    let mut mantissa: i128 = (first..=last).fold(0, |m, i| m * 10 + i128::from(digit(i) - b'0'));
    if scale < 0 {
        let factor = 10i128
            .checked_pow((-scale) as u32)
            .ok_or_else(|| PriceError::TooLarge(shorten(text)))?;
        mantissa = mantissa
            .checked_mul(factor)
            .ok_or_else(|| PriceError::TooLarge(shorten(text)))?;
        scale = 0;
    }
    if scale > MAX_DIGITS as i64 {
        return Err(PriceError::TooPrecise(shorten(text)));
    }
    if negative {
        mantissa = -mantissa;
    }
    Decimal::try_from_i128_with_scale(mantissa, scale as u32)
        .map_err(|_| PriceError::TooLarge(shorten(text)))
}

/// Round half-to-even to `places` decimals (2.675 → 2.68, 0.125 → 0.12, 1.005 → 1.00).
pub fn round(value: Decimal, places: u32) -> Decimal {
    let mut rounded = value.round_dp_with_strategy(places, RoundingStrategy::MidpointNearestEven);
    if rounded.is_zero() {
        // -0.001 rounds to zero; print it as 0.00, not -0.00.
        rounded.set_sign_positive(true);
    }
    rounded
}

/// The price rounded half-to-even and written with exactly `places` decimals.
pub fn format_price(value: Decimal, places: u32) -> String {
    let mut out = String::with_capacity(24);
    push_price(&mut out, value, places);
    out
}

/// [`format_price`], appended to `out` (a history writes tens of thousands of prices; this
/// allocates nothing of its own).
pub fn push_price(out: &mut String, value: Decimal, places: u32) {
    use std::fmt::Write;
    let rounded = round(value, places);
    // A Decimal prints exactly its scale's decimals, and after rounding that is at most
    // `places`: the rest are zeros to pad with.
    let _ = write!(out, "{rounded}");
    let scale = rounded.scale().min(places);
    if places > 0 && scale == 0 {
        out.push('.');
    }
    out.extend(std::iter::repeat_n('0', (places - scale) as usize));
}

/// Error messages quote the offending text; keep a 10,000-digit number from filling a line.
fn shorten(text: &str) -> String {
    crate::text::clip(text, 40)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two(text: &str) -> String {
        format_price(parse_price(text).unwrap(), 2)
    }

    #[test]
    fn rounds_the_documented_cases_half_to_even() {
        for (input, want) in [
            ("2.675", "2.68"),
            ("0.125", "0.12"),
            ("0.135", "0.14"),
            ("1.005", "1.00"),
            ("42", "42.00"),
            ("1.23456e2", "123.46"),
            ("4.2e-7", "0.00"),
            ("123456789.987654", "123456789.99"),
            ("-37.63", "-37.63"),
            ("220.003", "220.00"),
            ("9489.0", "9489.00"),
            ("164.32000732421875", "164.32"),
            ("1E+2", "100.00"),
            ("-0.001", "0.00"),
            ("0", "0.00"),
        ] {
            assert_eq!(two(input), want, "{input}");
        }
    }

    #[test]
    fn parses_exactly_without_floating_point() {
        // 0.1 + 0.2 style artefacts would show up here if f64 were involved.
        assert_eq!(parse_price("0.1").unwrap().to_string(), "0.1");
        assert_eq!(
            parse_price("59465.39029629").unwrap().to_string(),
            "59465.39029629"
        );
        assert_eq!(parse_price("1.23456e2").unwrap().to_string(), "123.456");
        assert_eq!(parse_price("4.2e-7").unwrap().to_string(), "0.00000042");
    }

    #[test]
    fn other_precisions() {
        let p = parse_price("2.675").unwrap();
        assert_eq!(format_price(p, 0), "3");
        assert_eq!(format_price(p, 1), "2.7");
        assert_eq!(format_price(p, 3), "2.675");
        assert_eq!(format_price(p, 10), "2.6750000000");
        assert_eq!(format_price(parse_price("2.5").unwrap(), 0), "2");
    }

    #[test]
    fn rejects_what_it_cannot_hold_exactly() {
        for bad in [
            "", "-", ".5", "5.", "1e", "1e+", "abc", "1.2.3", "0x10", "NaN", "Infinity", "1,5",
            " 1", "+1", "--1",
        ] {
            assert!(
                matches!(parse_price(bad), Err(PriceError::NotANumber(_))),
                "{bad:?}"
            );
        }
        assert!(matches!(
            parse_price("0.125000000000000000000000000001"),
            Err(PriceError::TooPrecise(_))
        ));
        assert!(matches!(parse_price("1e400"), Err(PriceError::TooLarge(_))));
        assert!(matches!(
            parse_price("1e-400"),
            Err(PriceError::TooPrecise(_))
        ));
        assert!(matches!(
            parse_price("1e99999999999999999999999"),
            Err(PriceError::TooLarge(_))
        ));
    }
}
