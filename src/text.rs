//! Text that came from a server, made safe to show: one line, bounded, no control
//! characters.
//!
//! A server's words (an error description, a redirect's `Location`) are data, never
//! something that reaches a terminal raw: they are cut to one short line before they go into
//! an error message.

/// A one-line excerpt of a body that is not what we expected, for error messages: the
/// first line, control characters dropped, at most 80 characters.
pub fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let line = text.trim().lines().next().unwrap_or("").trim();
    let mut out: String = line.chars().filter(|c| !c.is_control()).take(80).collect();
    if line.chars().count() > 80 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_one_short_line() {
        assert_eq!(excerpt(b"  Not Found\nsecond line"), "Not Found");
        assert_eq!(excerpt(b"a\x1b[2Jb"), "a[2Jb");
        let long = excerpt("x".repeat(500).as_bytes());
        assert_eq!(long.chars().count(), 81);
    }
}
