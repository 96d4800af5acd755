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
//! `--precision` is not given (`Quote::precision`, a [`Decimals`]).
//!
//! **How many decimals** (issue 18) is decided here, from the number itself: [`places`] for
//! a price, [`rate_places`] for a conversion's rate; `output::Style::places` applies
//! `--precision` over them, and nothing else decides. A price is written with 2 decimals, or
//! with the decimals its source states (the ECB's published ones, Yahoo's `priceHint`; two
//! more for pence made pounds); below 1 it keeps at least 4 significant digits, but never
//! more decimals than were sent (`0.00001234` stays `0.00001234`, `0.5` is `0.50`). A
//! quotient that never ends (an ECB inverse or cross) keeps 6 significant digits. So by
//! default no price that is not zero is ever written as zero, and an explicit
//! `--precision` that would write one so is refused ([`check_representable`]).

use std::sync::Arc;

use rust_decimal::{Decimal, RoundingStrategy};

/// The most decimals `--precision` accepts.
pub const MAX_PRECISION: u32 = 10;

/// Decimals of a price without a precision of its own (`Quote::precision` is `None`).
pub const DEFAULT_PRECISION: u32 = 2;

/// Significant digits of a price below 1: `0.00001234`, never `0.00`.
pub const SMALL_PRICE_DIGITS: u32 = 4;

/// Significant digits of a rate that is a quotient of published rates (an inverse or a
/// cross through the euro): it has no published precision, and its exact value never ends.
pub const QUOTIENT_DIGITS: u32 = 6;

/// The most decimals a `Decimal` holds, and so the most any number is written with.
pub const MAX_SCALE: u32 = 28;

/// How a number is written when `--precision` does not say: see [`places`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decimals {
    /// As sent, with at least this many decimals: the source's own (the ECB's published
    /// decimals, Yahoo's `priceHint`), 2 more for pence made pounds. Below 1, at least
    /// [`SMALL_PRICE_DIGITS`] significant digits within the decimals sent.
    AtLeast(u32),
    /// A quotient that never ends (an ECB inverse or cross): this many significant digits,
    /// and never fewer decimals than [`DEFAULT_PRECISION`].
    Significant(u32),
}

impl Decimals {
    /// What `None` stands for in `Quote::precision`.
    pub const DEFAULT: Decimals = Decimals::AtLeast(DEFAULT_PRECISION);

    /// The rule of a quotient of published rates.
    pub const QUOTIENT: Decimals = Decimals::Significant(QUOTIENT_DIGITS);
}

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
    /// How to write this price (and its previous close) unless `--precision` says
    /// otherwise; `None` is [`Decimals::DEFAULT`]. Set by a source whose prices have a
    /// precision of their own (the ECB's published decimals or a quotient's digits, Yahoo's
    /// `priceHint`), and by `fx` when pence become pounds (two more decimals).
    pub precision: Option<Decimals>,
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
    pub precision: Option<Decimals>,
}

/// The rate a price was converted with: how many units of the new currency one unit of
/// the quoted (major) currency was worth.
#[derive(Debug, Clone, PartialEq)]
pub struct FxRate {
    /// Exact: a published rate as sent, or a quotient of two at full `Decimal` precision.
    pub rate: Decimal,
    /// How to show the rate (see [`rate_places`]): at least its published decimals, a
    /// quotient's significant digits; `None` shows it exactly as sent.
    pub precision: Option<Decimals>,
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

/// The most significant digits a `Decimal` holds: 28 always, 29 when they fit its 96-bit
/// mantissa (a quotient such as `1.3637976929902395740905057676` is written with 29, and must
/// read back exactly: the cache stores it so).
const MAX_DIGITS: usize = 29;

/// The largest mantissa a `Decimal` has (2^96 − 1).
const DECIMAL_MANTISSA: i128 = (1 << 96) - 1;

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
    // At most 29 digits: an i128 holds them all.
    let mut mantissa: i128 = (first..=last).fold(0, |m, i| m * 10 + i128::from(digit(i) - b'0'));
    if last - first + 1 == MAX_DIGITS && mantissa > DECIMAL_MANTISSA {
        return Err(PriceError::TooPrecise(shorten(text)));
    }
    if scale < 0 {
        let factor = 10i128
            .checked_pow((-scale) as u32)
            .ok_or_else(|| PriceError::TooLarge(shorten(text)))?;
        mantissa = mantissa
            .checked_mul(factor)
            .ok_or_else(|| PriceError::TooLarge(shorten(text)))?;
        scale = 0;
    }
    if scale > i64::from(MAX_SCALE) {
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

/// The decimals a price is written with when `--precision` does not say (the rule of the
/// module docs). Never more than [`MAX_SCALE`], and never so few that a price that is not
/// zero is written as zero. Allocates nothing: a history writes tens of thousands of prices.
pub fn places(value: Decimal, decimals: Decimals) -> u32 {
    match decimals {
        Decimals::AtLeast(floor) => {
            let floor = floor.min(MAX_SCALE);
            if !below_one(value) {
                return floor;
            }
            // Never more decimals than were sent: `parse_price` drops trailing zeros, so
            // the scale of the value, without them, is what the source wrote.
            let sent = value.normalize().scale();
            floor.max(significant_places(value, SMALL_PRICE_DIGITS).min(sent))
        }
        Decimals::Significant(digits) => {
            significant_places(value, digits).clamp(DEFAULT_PRECISION, MAX_SCALE)
        }
    }
}

/// Whether `|value| < 1`: its mantissa below 10^scale. A table lookup and one comparison,
/// where comparing `Decimal`s rescales (this runs for every price printed).
fn below_one(value: Decimal) -> bool {
    const POWERS: [u128; MAX_SCALE as usize + 1] = {
        let mut powers = [1u128; MAX_SCALE as usize + 1];
        let mut i = 1;
        while i < powers.len() {
            powers[i] = powers[i - 1] * 10;
            i += 1;
        }
        powers
    };
    let scale = value.scale().min(MAX_SCALE) as usize;
    value.mantissa().unsigned_abs() < POWERS[scale]
}

/// The decimals a conversion's rate is shown with: every decimal sent, and at least its
/// published ones (`1.225` published with 4 is `1.2250`); a quotient with its significant
/// digits. `--precision` is for prices, not rates.
pub fn rate_places(rate: Decimal, decimals: Option<Decimals>) -> u32 {
    let sent = rate.normalize().scale();
    match decimals {
        None => sent,
        Some(Decimals::AtLeast(floor)) => sent.max(floor.min(MAX_SCALE)),
        Some(quotient @ Decimals::Significant(_)) => places(rate, quotient),
    }
}

/// A rate written by [`rate_places`].
pub fn format_rate(rate: Decimal, decimals: Option<Decimals>) -> String {
    format_price(rate, rate_places(rate, decimals))
}

/// The decimals that show `digits` significant digits of `value` (0 for zero, and for a
/// whole number that has them all before the point).
fn significant_places(value: Decimal, digits: u32) -> u32 {
    let mantissa = value.mantissa().unsigned_abs();
    if mantissa == 0 {
        return 0;
    }
    // value = mantissa × 10^-scale; its leading digit stands `length − scale − 1` places
    // before the point, so `digits` of them end `digits − length + scale` after it.
    let length = mantissa.ilog10() + 1;
    (digits + value.scale()).saturating_sub(length)
}

/// Whether a `Decimal` computed from prices (a conversion's product) still holds
/// [`SMALL_PRICE_DIGITS`] significant digits within its [`MAX_SCALE`] decimals; one smaller
/// than that lost digits it cannot show, or became zero.
pub fn holds_digits(value: Decimal) -> bool {
    // 10^-(MAX_SCALE − SMALL_PRICE_DIGITS + 1): 1e-25, whose 4th digit is the 28th decimal.
    const SMALLEST: Decimal =
        Decimal::from_parts(1, 0, 0, false, MAX_SCALE - SMALL_PRICE_DIGITS + 1);
    value.abs() >= SMALLEST
}

/// Whether `value` (`what`: `price`, `previous close`) can be written with `places` decimals
/// without a number that is not zero becoming zero; the error names it and the precision
/// that would show it.
pub fn check_representable(what: &str, value: Decimal, places: u32) -> Result<(), String> {
    if value.is_zero() || !round(value, places).is_zero() {
        return Ok(());
    }
    let needed = self::places(value, Decimals::DEFAULT);
    let advice = if needed <= MAX_PRECISION {
        format!("use --precision {needed} or more, or leave --precision out")
    } else {
        "leave --precision out to write it as sent".to_string()
    };
    Err(format!(
        "the {what} {} rounds to zero at --precision {places}; {advice}",
        shorten(&value.normalize().to_string())
    ))
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

    /// The default rule, written out: (text sent, own precision, printed).
    #[test]
    fn a_price_keeps_its_significant_digits_by_default() {
        let shown = |text: &str, own: Decimals| {
            let value = parse_price(text).unwrap();
            format_price(value, places(value, own))
        };
        let two = Decimals::DEFAULT;
        for (text, own, want) in [
            // Ordinary prices: two decimals, half-to-even.
            ("220.003", two, "220.00"),
            ("1.2345", two, "1.23"),
            ("42", two, "42.00"),
            ("-37.63", two, "-37.63"),
            // Below 1: at least 4 significant digits, never more decimals than sent.
            ("0.00001234", two, "0.00001234"), // SHIB-USD, was 0.00
            ("0.006712", two, "0.006712"),     // JPYUSD=X, was 0.01
            ("0.0012", two, "0.0012"),         // a penny stock, was 0.00
            ("0.3812", two, "0.3812"),         // DOGE, was 0.38
            ("0.38120000", two, "0.3812"),     // trailing zeros are not digits sent
            ("0.5", two, "0.50"),
            ("0.006711999881267548", two, "0.006712"),
            ("4.2e-7", two, "0.00000042"),
            ("-0.0001234", two, "-0.0001234"),
            ("0", two, "0.00"),
            // A stated precision is the floor: Yahoo's priceHint, the ECB's decimals, pence.
            ("1.225", Decimals::AtLeast(4), "1.2250"),
            ("3.053", Decimals::AtLeast(4), "3.0530"),
            ("0.00001234", Decimals::AtLeast(8), "0.00001234"),
            ("0.9123", Decimals::AtLeast(4), "0.9123"),
            // A quotient: 6 significant digits, never fewer than 2 decimals.
            ("0.00005671234567891234", Decimals::QUOTIENT, "0.0000567123"), // ecb:IDR-EUR
            (
                "0.8132726089785296031229668185",
                Decimals::QUOTIENT,
                "0.813273",
            ),
            (
                "1.363797692990239574090505768",
                Decimals::QUOTIENT,
                "1.36380",
            ),
            ("19012.34567", Decimals::QUOTIENT, "19012.35"),
        ] {
            assert_eq!(shown(text, own), want, "{text} {own:?}");
        }
    }

    #[test]
    fn below_one_is_told_from_the_mantissa() {
        for (text, below) in [
            ("0.999", true),
            ("1", false),
            ("1.000", false),
            ("-0.5", true),
            ("-1", false),
            ("0", true),
            ("0.0000000000000000000000000001", true),
            ("9.999999999999999999999999999", false),
            ("123456789012345678901234567.8", false),
        ] {
            let value = parse_price(text).unwrap();
            assert_eq!(below_one(value), value.abs() < Decimal::ONE, "{text}");
            assert_eq!(below_one(value), below, "{text}");
        }
        // A scale written by arithmetic, trailing zeros and all.
        let product = parse_price("0.5").unwrap() * parse_price("2.0000").unwrap();
        assert!(!below_one(product), "{product}");
    }

    #[test]
    fn a_rate_keeps_every_decimal_sent() {
        let shown = |text: &str, own| format_rate(parse_price(text).unwrap(), own);
        assert_eq!(shown("0.92165000", None), "0.92165");
        assert_eq!(shown("0.9122999906539917", None), "0.9122999906539917");
        assert_eq!(shown("1.225", Some(Decimals::AtLeast(4))), "1.2250");
        assert_eq!(
            shown("0.00671234", Some(Decimals::AtLeast(4))),
            "0.00671234"
        );
        assert_eq!(
            shown("0.0000567123456", Some(Decimals::QUOTIENT)),
            "0.0000567123"
        );
        assert_eq!(shown("1e-28", None), "0.0000000000000000000000000001");
    }

    #[test]
    fn an_explicit_precision_never_writes_a_price_as_zero() {
        let check =
            |text: &str, places| check_representable("price", parse_price(text).unwrap(), places);
        assert_eq!(
            check("0.00001234", 2).unwrap_err(),
            "the price 0.00001234 rounds to zero at --precision 2; use --precision 8 or more, \
             or leave --precision out"
        );
        assert!(check("0.00001234", 5).is_ok(), "0.00001 is not zero");
        assert!(check("0.005", 2).is_err(), "half-to-even makes 0.005 zero");
        assert!(check("0.0051", 2).is_ok());
        assert!(check("0", 2).is_ok(), "zero is zero");
        assert!(check("-0.001", 2).is_err());
        let tiny = check("1e-20", 10).unwrap_err();
        assert!(
            tiny.ends_with("leave --precision out to write it as sent"),
            "{tiny}"
        );
    }

    #[test]
    fn a_computed_value_must_keep_its_digits() {
        assert!(holds_digits(parse_price("1e-25").unwrap()));
        assert!(holds_digits(parse_price("-2.5").unwrap()));
        assert!(!holds_digits(parse_price("9.9e-26").unwrap()));
        assert!(!holds_digits(Decimal::ZERO));
    }

    #[test]
    fn every_decimal_reads_back_from_its_own_text() {
        let quotient =
            Decimal::from_str_exact("1.2296").unwrap() / Decimal::from_str_exact("0.9016").unwrap();
        for value in [
            quotient,
            Decimal::ONE / Decimal::from_str_exact("1.2271").unwrap(),
            Decimal::MAX,
            Decimal::MIN,
            Decimal::new(1, 28),
            -quotient,
        ] {
            assert_eq!(parse_price(&value.to_string()), Ok(value), "{value}");
        }
        assert_eq!(quotient.to_string().len(), 30, "29 digits and a point");
        // 29 digits beyond the mantissa are more than a Decimal holds exactly.
        assert!(matches!(
            parse_price("0.99999999999999999999999999999"),
            Err(PriceError::TooPrecise(_))
        ));
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
