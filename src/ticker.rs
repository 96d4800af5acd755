//! What a valid ticker symbol is, decided once at the edge.
//!
//! A ticker is 1–32 ASCII letters, digits and `. - ^ = _` (`BRK-B`, `^GSPC`, `EURUSD=X`,
//! `GC=F`, `0P000071W8.TO`), not made only of dots and never containing `..`: an HTTP
//! library would resolve `/chart/..` to another path. Anything else is rejected here, so
//! it never reaches a server. Input is uppercased, as the sources expect. A ticker goes into a
//! URL as one path segment, percent-encoded by the `url` crate (`source::endpoint_url`).

use crate::error::FetchError;

/// The longest symbol accepted. Real symbols are far shorter (Yahoo's longest are about
/// 20 characters); the bound keeps a pasted paragraph from becoming a URL.
pub const MAX_LEN: usize = 32;

/// A validated, uppercased ticker symbol.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ticker(String);

impl Ticker {
    /// Validate `input` (as the user typed it) and uppercase it.
    pub fn parse(input: &str) -> Result<Ticker, FetchError> {
        let invalid = |why: &str| Err(FetchError::InvalidTicker(why.to_string()));
        if input.is_empty() {
            return invalid("empty symbol");
        }
        if let Some(bad) = input.chars().find(|c| !is_symbol_char(*c)) {
            let shown = match bad {
                ' ' => "a space".to_string(),
                c if c.is_control() => format!("the control character U+{:04X}", c as u32),
                // Invisible or text-reversing characters are named, never shown.
                c if !crate::text::is_safe(c) => format!("the character U+{:04X}", c as u32),
                c => format!("'{c}'"),
            };
            return invalid(&format!(
                "contains {shown}; symbols use only letters, digits and . - ^ = _"
            ));
        }
        if input.len() > MAX_LEN {
            return invalid(&format!(
                "{} characters long; symbols are at most {MAX_LEN}",
                input.len()
            ));
        }
        if input.contains("..") || input.bytes().all(|b| b == b'.') {
            return invalid("dots must separate letters or digits, as in BRK.B or VOD.L");
        }
        Ok(Ticker(input.to_ascii_uppercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Ticker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The documented alphabet: ASCII letters, digits and `. - ^ = _`.
pub fn is_symbol_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '^' | '=' | '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_real_symbols_and_uppercases() {
        for (input, want) in [
            ("BRK-B", "BRK-B"),
            ("^GSPC", "^GSPC"),
            ("EURUSD=X", "EURUSD=X"),
            ("GC=F", "GC=F"),
            ("0P000071W8.TO", "0P000071W8.TO"),
            ("vtsax", "VTSAX"),
            ("a_b", "A_B"),
        ] {
            assert_eq!(Ticker::parse(input).unwrap().as_str(), want, "{input}");
        }
    }

    #[test]
    fn rejects_everything_outside_the_alphabet() {
        let long = "A".repeat(10_000);
        for input in [
            "", " ", "A B", "A/B", "A?B", "A#B", "A%2F", "..", ".", "...", "A..B", "ÄPFEL", "€",
            "A\tB", "A\nB", &long,
        ] {
            assert!(Ticker::parse(input).is_err(), "{input:?} was accepted");
        }
        assert!(Ticker::parse(&"A".repeat(MAX_LEN)).is_ok());
        assert!(Ticker::parse(&"A".repeat(MAX_LEN + 1)).is_err());
    }

    #[test]
    fn message_names_the_offending_character() {
        let err = Ticker::parse("A/B").unwrap_err().to_string();
        assert!(err.contains("'/'"), "{err}");
        let err = Ticker::parse("A\u{202e}B").unwrap_err().to_string();
        assert!(err.contains("the character U+202E"), "{err}");
    }
}
