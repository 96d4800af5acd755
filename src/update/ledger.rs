//! Reading a ledger or hledger journal: its `P` directives, and everything else those tools
//! accept around them, line by line.
//!
//! A `P` line gives a day, a commodity and an amount, whose commodity is the currency the
//! price is in: `245.04 USD`, `$245.04`, `USD 245.04`, `-1,000.00 EUR`, `"ABC 1"` quoted
//! (issue 17: the currency is read from the amount, so BTC in USD and BTC in EUR are two
//! prices). Around prices a journal holds transactions (`=` automated and `~` periodic ones
//! too), comments and comment blocks, directives (`include`, `commodity`, `account`, …) and
//! the lines indented under them; all are read past. `Y2026`, `year 2026` and
//! `apply year 2026` (until its `end apply`) give the year of the dates written without one
//! (`P 01/16 …`), as ledger reads them; with none, they are in the current year, as ledger
//! and hledger date them. A line that is none of these is refused with its number.
//!
//! This is a scan, not a parser of the whole language: it knows which lines can be prices,
//! reads those exactly, and recognises the rest by how they start.

use jiff::civil::Date;

use super::book::{Line, shown, split_word};

/// Where the scan is in a journal.
pub struct Ledger {
    /// Inside `comment … end comment` (or `test … end test`): the line that ends it.
    block: Option<&'static str>,
    /// ledger's `apply` scopes, innermost last: `Some(year)` for `apply year`, `Y` and
    /// `year`, `None` for any other (`apply account`), so that `end apply` closes the right
    /// one.
    applies: Vec<Option<i16>>,
    /// The year of a date without one when no scope gives one.
    this_year: i16,
}

/// Directives a journal may hold besides prices and transactions; indented lines follow
/// some of them.
const DIRECTIVES: &[&str] = &[
    "account",
    "alias",
    "assert",
    "bucket",
    "capture",
    "check",
    "commodity",
    "D",
    "decimal-mark",
    "def",
    "define",
    "eval",
    "expr",
    "N",
    "payee",
    "python",
    "tag",
    "value",
    "A",
    "C",
    // Timeclock entries, which ledger reads in a journal.
    "i",
    "I",
    "o",
    "O",
    "b",
    "h",
    // ledger's rewrites.
    "account-rewrite",
    "payee-rewrite",
];

impl Ledger {
    pub fn new(this_year: i16) -> Ledger {
        Ledger {
            block: None,
            applies: Vec::new(),
            this_year,
        }
    }

    /// The year of a date written without one.
    fn year(&self) -> i16 {
        self.applies
            .iter()
            .rev()
            .find_map(|scope| *scope)
            .unwrap_or(self.this_year)
    }

    /// What one line is.
    pub fn line<'a>(&mut self, text: &'a str) -> Result<Line<'a>, String> {
        if let Some(end) = self.block {
            if text.trim_end() == end {
                self.block = None;
            }
            return Ok(Line::Other);
        }
        let first = text.as_bytes().first().copied();
        match first {
            None => return Ok(Line::Other),
            // Comments, org-mode headings, and lines that belong to the entry above.
            Some(b';' | b'#' | b'%' | b'|' | b'*' | b' ' | b'\t') => return Ok(Line::Other),
            // Automated and periodic transactions (their postings are indented).
            Some(b'=' | b'~') => return Ok(Line::Other),
            // ledger's options, given in the journal (`--day-break`).
            Some(b'-') if text.starts_with("--") => return Ok(Line::Other),
            _ => {}
        }
        let (word, rest) = split_word(text);
        match word {
            "P" => return self.price(rest),
            "include" => return Ok(Line::Include(rest.trim().to_string())),
            "comment" | "test" => {
                self.block = Some(if word == "comment" {
                    "end comment"
                } else {
                    "end test"
                });
                return Ok(Line::Other);
            }
            "Y" | "year" => return self.apply_year(rest),
            "apply" => {
                let (what, rest) = split_word(rest);
                if what == "year" {
                    return self.apply_year(rest);
                }
                self.applies.push(None);
                return Ok(Line::Other);
            }
            "end" => {
                // `end apply …` closes the innermost scope; `end aliases` and the like
                // close nothing that dates depend on.
                if matches!(split_word(rest).0, "" | "apply") {
                    self.applies.pop();
                }
                return Ok(Line::Other);
            }
            _ => {}
        }
        if let Some(year) = word.strip_prefix('Y')
            && !year.is_empty()
            && year.bytes().all(|b| b.is_ascii_digit())
        {
            return self.apply_year(year);
        }
        if DIRECTIVES.contains(&word) {
            return Ok(Line::Other);
        }
        // A transaction: a date, maybe without its year, maybe with an auxiliary date
        // (`2026-11-20=2026-11-21`).
        let date = word.split('=').next().unwrap_or(word);
        if first.is_some_and(|b| b.is_ascii_digit()) && self.date(date).is_some() {
            if super::beancount::is_entry_of_prices(rest) {
                return Err(format!(
                    "a beancount entry, {}: this is a beancount file, which ledger's P lines \
                     would break; give -f beancount, or name it .beancount",
                    shown(text)
                ));
            }
            return Ok(Line::Other);
        }
        self.rarely(text)
    }

    /// Rarer spellings, looked at only once the usual ones did not match, so that those
    /// cost nothing more; or the line's error.
    #[cold]
    fn rarely<'a>(&mut self, text: &'a str) -> Result<Line<'a>, String> {
        // `P2026-11-20 …`: ledger and hledger read a price directive whose date follows the
        // `P` without a space.
        if let Some(rest) = text.strip_prefix('P')
            && rest.starts_with(|c: char| c.is_ascii_digit())
        {
            return self.price(rest);
        }
        // A directive may be written with `!` or `@` before its name (`!include`, `@P …`),
        // which ledger and hledger read as nothing. One, never a run of them.
        if let Some(rest) = text.strip_prefix(['!', '@'])
            && !rest.starts_with(['!', '@'])
        {
            return self.line(rest);
        }
        Err(format!(
            "neither a price directive (P DATE COMMODITY PRICE), a transaction, a directive \
             nor a comment: {}",
            shown(text)
        ))
    }

    /// `Y 2026`, `year 2026`, `apply year 2026`: the year of the dates that follow.
    fn apply_year<'a>(&mut self, rest: &str) -> Result<Line<'a>, String> {
        let text = rest.trim();
        let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
        match text.parse::<i16>() {
            Ok(year) if digits && (1..=9999).contains(&year) => {
                self.applies.push(Some(year));
                Ok(Line::Other)
            }
            _ => Err(format!("a year directive without a year: {}", shown(rest))),
        }
    }

    /// A ledger date: `YYYY-MM-DD`, `YYYY/MM/DD` or `YYYY.MM.DD` (month and day may have one
    /// digit), or the same without its year (`MM/DD`), which is then the year in force.
    fn date(&self, text: &str) -> Option<Date> {
        // Digits and one kind of separator, read byte by byte without allocating: this
        // runs for every line of the file.
        let bytes = text.as_bytes();
        let separator = *bytes.iter().find(|b| matches!(b, b'-' | b'/' | b'.'))?;
        let mut parts = [0u16; 3];
        let mut lengths = [0usize; 3];
        let mut count = 0;
        for &b in bytes {
            if b == separator {
                count += 1;
                if count == 3 {
                    return None;
                }
            } else if b.is_ascii_digit() && lengths[count] < 4 {
                parts[count] = parts[count] * 10 + u16::from(b - b'0');
                lengths[count] += 1;
            } else {
                return None;
            }
        }
        let short = |at: usize| (1..=2).contains(&lengths[at]);
        let (year, month, day) = match count {
            2 if lengths[0] == 4 && short(1) && short(2) => {
                (i16::try_from(parts[0]).ok()?, parts[1], parts[2])
            }
            1 if short(0) && short(1) => (self.year(), parts[0], parts[1]),
            _ => return None,
        };
        Date::new(year, i8::try_from(month).ok()?, i8::try_from(day).ok()?).ok()
    }

    /// `P DATE [TIME] COMMODITY AMOUNT`, after the `P`.
    fn price<'a>(&self, rest: &'a str) -> Result<Line<'a>, String> {
        let bad = |why: &str| Err(format!("price directive {why}"));
        let (date, rest) = split_word(rest);
        let Some(day) = self.date(date) else {
            return bad(&format!("has no date YYYY-MM-DD: {}", shown(date)));
        };
        let mut rest = rest.trim_ascii_start();
        let (word, after) = split_word(rest);
        if is_time(word) {
            rest = after.trim_ascii_start();
        }
        let (commodity, rest) = if let Some(quoted) = rest.strip_prefix('"') {
            match quoted.split_once('"') {
                Some((name, rest)) => (name, rest),
                None => return bad("has an unterminated quoted commodity"),
            }
        } else {
            split_word(rest)
        };
        if commodity.is_empty() {
            return bad("has no commodity");
        }
        let currency = amount_commodity(rest)
            .map_err(|why| format!("price directive for {commodity}: {why}"))?;
        Ok(Line::Price {
            day,
            commodity,
            currency,
        })
    }
}

/// hledger's formats besides the journal, which an `include` may name (by a `FORMAT:`
/// prefix, or by the file's extension). None of them holds a price directive.
const OTHER_FORMATS: &[&str] = &["timeclock", "timedot", "csv", "tsv", "ssv", "rules"];

/// What an `include` names: its path or pattern without hledger's `FORMAT:` prefix, and
/// whether the files are journals, to be read for their prices (`None`: each file's
/// extension says, as hledger picks its reader).
pub fn include_format(pattern: &str) -> (&str, Option<bool>) {
    match pattern.split_once(':') {
        Some(("journal" | "ledger", path)) => (path, Some(true)),
        Some((format, path)) if OTHER_FORMATS.contains(&format) => (path, Some(false)),
        _ => (pattern, None),
    }
}

/// Whether an included file is a journal: its extension is not one of hledger's other
/// formats (`.timedot`, `.csv`, …).
pub fn is_journal(path: &std::path::Path) -> bool {
    let extension = path.extension().and_then(|e| e.to_str());
    !extension.is_some_and(|e| OTHER_FORMATS.iter().any(|f| e.eq_ignore_ascii_case(f)))
}

fn is_time(word: &str) -> bool {
    let mut parts = word.as_bytes().split(|b| *b == b':');
    let all_digits =
        |s: &[u8]| !s.is_empty() && s.len() <= 2 && s.iter().all(|b| b.is_ascii_digit());
    let (Some(h), Some(m)) = (parts.next(), parts.next()) else {
        return false;
    };
    all_digits(h) && all_digits(m) && parts.all(all_digits)
}

/// The commodity of an amount, which is the currency of a price: `245.04 USD` → `USD`,
/// `$245.04` → `$`, `USD 245.04`, `-1,000.00 EUR`, `5 "ABC 1"` → `ABC 1`; a bare number has
/// none (`""`), as ledger and hledger read it. A trailing `; comment` is not part of it.
pub fn amount_commodity(text: &str) -> Result<&str, String> {
    let text = unsigned(before_comment(text).trim_ascii());
    let is_number_start = |c: char| c.is_ascii_digit() || c == '.' || c == ',';
    let number_end = |s: &str| {
        s.bytes()
            .position(|b| !is_number_start(char::from(b)))
            .unwrap_or(s.len())
    };
    let number = |s: &str| -> Result<(), String> {
        let s = unsigned(s);
        let end = number_end(s);
        if end == s.len() && s[..end].bytes().any(|b| b.is_ascii_digit()) {
            Ok(())
        } else {
            Err(format!("has no price: {}", shown(text)))
        }
    };
    let (commodity, number_text) = if let Some(quoted) = text.strip_prefix('"') {
        let (name, rest) = quoted
            .split_once('"')
            .ok_or_else(|| "has an unterminated quoted commodity".to_string())?;
        (name, rest.trim_ascii())
    } else if text.starts_with(is_number_start) {
        let end = number_end(text);
        let (number_text, commodity) = text.split_at(end);
        let commodity = commodity.trim_ascii();
        let commodity = match commodity.strip_prefix('"') {
            Some(quoted) => quoted
                .strip_suffix('"')
                .filter(|name| !name.contains('"'))
                .ok_or_else(|| format!("has a malformed quoted currency: {}", shown(text)))?,
            None if commodity.contains(char::is_whitespace) => {
                return Err(format!("has more than a price: {}", shown(text)));
            }
            None => commodity,
        };
        (commodity, number_text)
    } else {
        let end = text
            .find(|c: char| c.is_whitespace() || is_number_start(c) || matches!(c, '-' | '+'))
            .unwrap_or(text.len());
        (&text[..end], text[end..].trim_ascii())
    };
    number(number_text)?;
    Ok(commodity)
}

/// `text` without its sign.
fn unsigned(text: &str) -> &str {
    text.strip_prefix(['-', '+'])
        .unwrap_or(text)
        .trim_ascii_start()
}

/// `text` up to a `;` that starts a comment: a quoted commodity may hold one.
fn before_comment(text: &str) -> &str {
    let mut quoted = false;
    // ASCII bytes are never inside a UTF-8 sequence: `at` is a char boundary.
    for (at, b) in text.bytes().enumerate() {
        match b {
            b'"' => quoted = !quoted,
            b';' if !quoted => return &text[..at],
            _ => {}
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::update::Kind;
    use crate::update::book::Book;
    use crate::update::book::tests::read_one;
    use jiff::civil::date;

    fn read(text: &str) -> Result<Book, (u64, String)> {
        read_one(Kind::Ledger, text.as_bytes()).map(|(book, _)| book)
    }

    fn names(book: &Book) -> Vec<&str> {
        book.commodities().iter().map(|c| &*c.name).collect()
    }

    #[test]
    fn price_directives_and_what_surrounds_them() {
        let text = "\
; prices
P 2021-01-04 TSLA 243.26 USD
P 2021/01/05 14:30:00 TSLA $245.04
P 2021-01-06 \"BRK-B\" 240.5 USD ; a note
P 2021.1.7 VTSAX 100 USD
P2021-01-02 NOSPACE 1 USD

commodity VTSAX
  note Vanguard
2021-01-08 * Buy
    Assets:Broker   1 VTSAX @ 100 USD
    Assets:Cash
= expr true
    (Assets:X)   1
~ monthly
    Expenses:Rent   $500
    Assets:Cash
include other.journal
!payee Shop
@commodity VTSAX
@P 2021-01-02 PREFIXED 1 USD
payee-rewrite Shop Store
--day-break
i 2021/01/08 08:00:00 Work
o 2021/01/08 09:00:00
comment
anything at all
end comment
P 2021-01-03 TSLA 200 USD";
        let book = read(text).unwrap();
        assert_eq!(book.last("TSLA", "USD"), Some(date(2021, 1, 4)));
        assert_eq!(book.last("TSLA", "$"), Some(date(2021, 1, 5)));
        assert_eq!(book.last("BRK-B", "USD"), Some(date(2021, 1, 6)));
        assert_eq!(book.last("VTSAX", "USD"), Some(date(2021, 1, 7)));
        assert_eq!(book.last("NOSPACE", "USD"), Some(date(2021, 1, 2)));
        assert_eq!(book.last("PREFIXED", "USD"), Some(date(2021, 1, 2)));
        assert_eq!(
            names(&book),
            ["TSLA", "BRK-B", "VTSAX", "NOSPACE", "PREFIXED"]
        );
        let (_, read) = read_one(Kind::Ledger, text.as_bytes()).unwrap();
        assert_eq!(read.includes, [(18, "other.journal".to_string())]);
        assert!(!read.ends_with_newline);
    }

    #[test]
    fn the_currency_is_read_from_the_amount() {
        for (amount, currency) in [
            ("245.04 USD", "USD"),
            ("$245.04", "$"),
            ("$ 245.04", "$"),
            ("USD 245.04", "USD"),
            ("-1,000.00 EUR", "EUR"),
            ("$-5", "$"),
            ("-$5", "$"),
            ("5 \"ABC 1\"", "ABC 1"),
            ("\"ABC 1\" 5", "ABC 1"),
            ("27", ""),
            ("1.5 € ; the euro", "€"),
            ("1.5 \"A;B\" ; note", "A;B"),
        ] {
            assert_eq!(amount_commodity(amount), Ok(currency), "{amount}");
        }
        for bad in [
            "",
            "USD",
            "$",
            "1 2 USD",
            "1 USD EUR",
            "\"ABC 1",
            "5 \"AB\"C\"",
        ] {
            assert!(amount_commodity(bad).is_err(), "{bad}");
        }
        let book = read("P 2021-01-04 \"ABC 1\" 5 \"DEF 2\"\n").unwrap();
        assert_eq!(book.last("ABC 1", "DEF 2"), Some(date(2021, 1, 4)));
    }

    #[test]
    fn dates_without_a_year_take_the_year_in_force() {
        let text = "\
P 01/15 A 1 USD
apply year 2024
P 01/16 B 1 USD
apply account Assets
end apply account
P 1-17 C 1 USD
end apply year
P 01.18 D 1 USD
Y2020
P 01/19 E 1 USD
year 2021
P 01/20 F 1 USD
Y 2022
01/21 * Shop
    Expenses:Food   $5
    Assets:Cash
01/22=01/23 * Shop
P 01/24 G 1 USD
end apply
end apply
P 01/25 H 1 USD
";
        let book = read(text).unwrap();
        for (name, day) in [
            ("A", date(2026, 1, 15)),
            ("B", date(2024, 1, 16)),
            ("C", date(2024, 1, 17)),
            ("D", date(2026, 1, 18)),
            ("E", date(2020, 1, 19)),
            ("F", date(2021, 1, 20)),
            ("G", date(2022, 1, 24)),
            ("H", date(2020, 1, 25)),
        ] {
            assert_eq!(book.last(name, "USD"), Some(day), "{name}");
        }
        assert_eq!(read("Y\n").unwrap_err().0, 1);
        assert_eq!(read("year twenty\n").unwrap_err().0, 1);
        // 02/30 is no day in any year.
        assert_eq!(read("Y2021\nP 02/29 A 1 USD\n").unwrap_err().0, 2);
    }

    #[test]
    fn a_beancount_file_is_not_taken_for_a_journal() {
        for text in [
            "2021-01-04 price VTSAX 100 USD\n",
            "2021-01-04 price VTSAX  1/3USD ; c\n",
            "; prices\n2020-01-01 commodity VTSAX\n  price: \"USD:yahoo/VTSAX\"\n",
        ] {
            let (_, why) = read(text).unwrap_err();
            assert!(why.contains("give -f beancount"), "{text:?}: {why}");
        }
        // A journal's transactions whose payee begins with those words are transactions.
        read("2021-01-04 price check\n    Expenses:Fees   $1\n    Assets:Cash\n").unwrap();
        read("2021-01-04 commodity fees\n    Expenses:Fees   $1\n    Assets:Cash\n").unwrap();
        read("2021-01-04 * price VTSAX 100 USD\n").unwrap();
    }

    #[test]
    fn parse_errors_name_their_line() {
        for (text, line) in [
            ("P 2021-01-04 TSLA 1 USD\nsymbol,price\n", 2),
            ("\n\nP 2021-02-30 TSLA 1 USD\n", 3),
            ("P 2021-01-04 TSLA\n", 1),
            ("P 2021-01-04\n", 1),
            ("P 2021-01-04 \"TSLA 1 USD\n", 1),
            ("2021-01-04,123.4\n", 1),
            ("P 2021-01-04 TSLA 1 USD\n\u{1}\n", 2),
            ("P 2021-01-04 TSLA one USD\n", 1),
            ("!!include other.journal\n", 1),
        ] {
            let (at, why) = read(text).unwrap_err();
            assert_eq!(at, line, "{text:?}: {why}");
        }
    }

    #[test]
    fn includes_of_hledgers_other_formats_are_not_journals() {
        assert_eq!(include_format("a.journal"), ("a.journal", None));
        assert_eq!(include_format("timedot:t.txt"), ("t.txt", Some(false)));
        assert_eq!(include_format("journal:p.txt"), ("p.txt", Some(true)));
        assert_eq!(include_format("C:/p.journal"), ("C:/p.journal", None));
        let path = std::path::Path::new;
        assert!(is_journal(path("a.journal")) && is_journal(path("prices")));
        assert!(!is_journal(path("w.timedot")) && !is_journal(path("b.CSV")));
    }

    #[test]
    fn times() {
        assert!(is_time("14:30") && is_time("14:30:00"));
        assert!(!is_time("TSLA") && !is_time("1:") && !is_time("123:00"));
    }
}
