//! Text that came from a server, made safe before anything shows it: bounded, one line,
//! no characters that act on a terminal or forge a row.
//!
//! A server's words are data, never something that reaches a terminal raw (issue 12): a
//! compromised proxy or a hijacked DNS entry could send an ESC sequence (colours, a cleared
//! screen, an OSC 52 clipboard write, a window title), a CR or a newline that forges a row
//! for `awk`, a bidi override (U+202E) that reverses what a person reads, or a two-megabyte
//! name. So:
//!
//! - every character that is a control (Unicode Cc: C0, DEL, C1), a format or bidi
//!   character (Cf: U+200B, U+202E, U+2066…) or a line or paragraph separator (Zl, Zp) is
//!   replaced by U+FFFD in free text ([`free_text`]) and in anything shown in a message
//!   ([`excerpt`], [`message`]);
//! - free text is cut to [`MAX_FREE_TEXT`] characters with an ellipsis, at parse time, so a
//!   huge name never costs memory beyond its answer;
//! - a currency is data that goes into ledgers, so it is not repaired but checked:
//!   [`currency`] accepts 3 or 4 ASCII letters (`USD`, `GBp`, `USDC`) and nothing else;
//! - an API key never shows (issue 19): every key the run read is registered
//!   ([`redact_everywhere`]) and written `…` wherever a message would still hold it.

use icu_properties::CodePointMapData;
use icu_properties::props::GeneralCategory;

/// The longest name or exchange kept (characters); longer ones end in `…`.
pub const MAX_FREE_TEXT: usize = 200;

/// The longest excerpt of a server's answer in an error message (characters).
pub const MAX_EXCERPT: usize = 80;

/// The longest error message of one source (characters): a serde error quoting a 1.9 MB
/// string is cut to this.
pub const MAX_PART: usize = 300;

/// The longest error message shown (characters): one source's at most [`MAX_PART`], and a
/// chain's (issue 19: every source's failure on one line) room for four of them.
pub const MAX_MESSAGE: usize = 4 * (MAX_PART + 12);

/// Whether `c` may be shown as it is: not a control, format, bidi or separator character.
pub fn is_safe(c: char) -> bool {
    !matches!(
        CodePointMapData::<GeneralCategory>::new().get(c),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    )
}

/// `text` with every unsafe character replaced by U+FFFD, at most `max` characters (then
/// ending in `…`).
pub fn clip(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max * 4));
    for (i, c) in text.chars().enumerate() {
        if i == max {
            out.push('…');
            break;
        }
        out.push(if is_safe(c) { c } else { '\u{FFFD}' });
    }
    out
}

/// A name or exchange from a server, as it may be kept and shown; `None` when empty.
pub fn free_text(text: Option<String>) -> Option<String> {
    let text = text?;
    if text.is_empty() {
        return None;
    }
    if text.len() <= MAX_FREE_TEXT && text.chars().all(is_safe) {
        return Some(text);
    }
    Some(clip(&text, MAX_FREE_TEXT))
}

/// A message shown on stderr or in a JSON error: one line, safe, at most [`MAX_MESSAGE`]
/// characters, no API key. The last guard before output, whatever built the message.
pub fn message(text: &str) -> String {
    let text = redact(text);
    if text.chars().count() <= MAX_MESSAGE && text.chars().all(is_safe) {
        return text.into_owned();
    }
    clip(&text, MAX_MESSAGE)
}

/// Every API key this run read: written `…` in any message (see [`redact`]).
static SECRETS: std::sync::RwLock<Vec<Box<str>>> = std::sync::RwLock::new(Vec::new());

/// Register an API key, so that no message shows it from now on (`secret::Keys` does, for
/// every key it reads). Keys shorter than 6 characters are not real keys and are left
/// alone (redacting `a` would garble every message).
pub fn redact_everywhere(secret: &str) {
    if secret.chars().count() < 6 {
        return;
    }
    let mut secrets = SECRETS.write().unwrap_or_else(|e| e.into_inner());
    if !secrets.iter().any(|s| &**s == secret) {
        secrets.push(secret.into());
    }
}

/// `text` with every registered API key replaced by `…`.
pub fn redact(text: &str) -> std::borrow::Cow<'_, str> {
    let secrets = SECRETS.read().unwrap_or_else(|e| e.into_inner());
    let mut text = std::borrow::Cow::Borrowed(text);
    for secret in secrets.iter() {
        if text.contains(&**secret) {
            text = std::borrow::Cow::Owned(text.replace(&**secret, "…"));
        }
    }
    text
}

/// A one-line excerpt of a body that is not what we expected, for error messages: the
/// first line, trimmed, every registered secret written `…`, unsafe characters replaced, at
/// most [`MAX_EXCERPT`] characters.
pub fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let line = text.trim().lines().next().unwrap_or("").trim();
    // Before it is cut: a secret cut in two would no longer be found whole (issue 19).
    clip(&redact(line), MAX_EXCERPT)
}

/// A JSON error in words, cut short: serde quotes the offending value, which a hostile
/// server can make megabytes long.
pub fn serde_error(e: &serde_json::Error) -> String {
    clip(&e.to_string(), MAX_EXCERPT * 2)
}

/// Why a currency field is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadCurrency(pub String);

impl std::fmt::Display for BadCurrency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "currency {:?} is not a currency code (3 or 4 letters)",
            clip(&self.0, 20)
        )
    }
}

/// A currency as a source sends it: `None` when absent or empty, the code when it is 3 or
/// 4 ASCII letters (`USD`, `GBp` for pence, `USDC`), an error otherwise.
pub fn currency(code: Option<String>) -> Result<Option<String>, BadCurrency> {
    match code {
        None => Ok(None),
        Some(c) if c.is_empty() => Ok(None),
        Some(c) if (3..=4).contains(&c.len()) && c.bytes().all(|b| b.is_ascii_alphabetic()) => {
            Ok(Some(c))
        }
        Some(c) => Err(BadCurrency(c)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_one_short_safe_line() {
        assert_eq!(excerpt(b"  Not Found\nsecond line"), "Not Found");
        assert_eq!(excerpt(b"a\x1b[2Jb"), "a\u{FFFD}[2Jb");
        assert_eq!(excerpt("a\u{202E}b".as_bytes()), "a\u{FFFD}b");
        let long = excerpt("x".repeat(500).as_bytes());
        assert_eq!(long.chars().count(), MAX_EXCERPT + 1);
    }

    #[test]
    fn every_unsafe_category_is_replaced() {
        for c in [
            '\0',
            '\x07',
            '\x1b',
            '\r',
            '\n',
            '\t',
            '\x7f',
            '\u{85}',
            '\u{9b}',
            '\u{ad}',
            '\u{200b}',
            '\u{200e}',
            '\u{202e}',
            '\u{2066}',
            '\u{2028}',
            '\u{2029}',
            '\u{feff}',
            '\u{e0041}',
        ] {
            assert!(!is_safe(c), "U+{:04X}", c as u32);
        }
        for c in ['a', 'é', '日', '€', ' ', '…', '\u{fffd}', '😀'] {
            assert!(is_safe(c), "U+{:04X}", c as u32);
        }
        assert_eq!(
            free_text(Some("USD\nEVIL  666.00  USD".into())).unwrap(),
            "USD\u{FFFD}EVIL  666.00  USD"
        );
    }

    #[test]
    fn free_text_is_bounded() {
        let name = free_text(Some("n".repeat(2_000_000))).unwrap();
        assert_eq!(name.chars().count(), MAX_FREE_TEXT + 1);
        assert!(name.ends_with('…'));
        assert_eq!(free_text(Some(String::new())), None);
        assert_eq!(free_text(Some("Apple Inc.".into())).unwrap(), "Apple Inc.");
    }

    #[test]
    fn currencies_are_three_or_four_letters() {
        for ok in ["USD", "GBp", "ZAc", "USDC", "ILA"] {
            assert_eq!(currency(Some(ok.into())).unwrap().as_deref(), Some(ok));
        }
        assert_eq!(currency(None).unwrap(), None);
        assert_eq!(currency(Some(String::new())).unwrap(), None);
        for bad in [
            "US",
            "USDCC",
            "US1",
            "U$D",
            "USD\n",
            "ÜSD",
            &"X".repeat(70_000),
        ] {
            assert!(currency(Some(bad.into())).is_err(), "{bad:?}");
        }
        let err = currency(Some("USD\nEVIL".into())).unwrap_err().to_string();
        assert!(!err.contains('\n'), "{err}");
    }

    #[test]
    fn a_registered_key_never_shows_in_a_message() {
        redact_everywhere("0123456789abcdef-test-key");
        redact_everywhere("tiny");
        assert_eq!(
            message("HTTP 401 from Tiingo: Invalid token 0123456789abcdef-test-key."),
            "HTTP 401 from Tiingo: Invalid token …."
        );
        assert_eq!(message("tiny things stay"), "tiny things stay");
    }

    #[test]
    fn messages_are_cut_and_made_safe() {
        let long = message(&format!(
            "invalid type: string \"{}\"",
            "x".repeat(2_000_000)
        ));
        assert_eq!(long.chars().count(), MAX_MESSAGE + 1);
        assert_eq!(message("a\u{202E}b"), "a\u{FFFD}b");
        assert_eq!(message("plain"), "plain");
    }
}
