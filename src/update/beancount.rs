//! Reading a beancount file: its `price` entries and the `price:` metadata of its
//! `commodity` entries, and everything else bean-check accepts around them, line by line.
//!
//! Strings may span lines (a `query`, a narration, a note): the scan follows them, so a
//! line inside one is never mistaken for an entry, and a `;` inside one is not a comment.
//! An entry's metadata and postings are its indented lines, up to a blank line. Lines that
//! begin with `;` are comments, and with `*` `:` `!` `&` `#` `?` `%` org-mode text that
//! beancount skips. Anything else that does not start with a date or a keyword (`option`,
//! `include`, `plugin`, `pushtag`, …) is refused with its number, as bean-check refuses it.
//!
//! This is a scan, not a parser of the language (beancount's own checks are bean-check's):
//! price entries and `price:` metadata are read exactly, the rest recognised by how it
//! starts. (Maintained Rust parsers of beancount were tried for this on a 1,000,000-line
//! file: the fastest took 0.9 s and 35 MB holding the file in memory, against a scan's
//! 0.26 s and 4 MB reading it as a stream.)

use jiff::civil::Date;

use super::book::{Line, shown, split_word};

/// Where the scan is in a beancount file.
#[derive(Default)]
pub struct Beancount {
    /// Inside a string that started on an earlier line.
    in_string: bool,
    /// The entry whose indented lines follow: a `commodity` entry's are its metadata.
    entry: Entry,
    /// A `price:` metadata value whose string spans lines: the commodity and the text so far.
    metadata: Option<(String, String)>,
}

#[derive(Default)]
enum Entry {
    /// None: a blank line or a comment ended it.
    #[default]
    None,
    Commodity(String),
    Other,
}

/// Keywords that start an undated line.
const KEYWORDS: &[&str] = &[
    "option", "plugin", "pushtag", "poptag", "pushmeta", "popmeta",
];

impl Beancount {
    /// Whether the file ended inside a string (an error, as bean-check says).
    pub fn in_string(&self) -> bool {
        self.in_string
    }

    /// What one line is.
    pub fn line<'a>(&mut self, text: &'a str) -> Result<Line<'a>, String> {
        if self.in_string {
            return self.continued(text);
        }
        let first = text.as_bytes().first().copied();
        match first {
            None => {
                self.entry = Entry::None;
                Ok(Line::Other)
            }
            Some(b' ' | b'\t') => self.indented(text),
            Some(b';' | b'*' | b':' | b'!' | b'&' | b'#' | b'?' | b'%') => Ok(Line::Other),
            _ => self.entry(text),
        }
    }

    /// A line that starts inside a string.
    fn continued<'a>(&mut self, text: &'a str) -> Result<Line<'a>, String> {
        let Some(end) = string_end(text) else {
            if let Some((_, value)) = &mut self.metadata {
                value.push_str(text);
                value.push('\n');
            }
            return Ok(Line::Other);
        };
        self.in_string = false;
        let rest = &text[end + 1..];
        if let Some((commodity, mut value)) = self.metadata.take() {
            value.push_str(&text[..end]);
            check_blank(rest)?;
            return Ok(Line::Metadata {
                commodity,
                value: Ok(unescape(&value)),
            });
        }
        self.in_string = opens_string(rest);
        Ok(Line::Other)
    }

    /// An indented line: metadata or a posting of the entry above.
    fn indented<'a>(&mut self, text: &'a str) -> Result<Line<'a>, String> {
        let trimmed = text.trim_start();
        if trimmed.is_empty() {
            self.entry = Entry::None;
            return Ok(Line::Other);
        }
        if let Entry::Commodity(commodity) = &self.entry
            && let Some(value) = trimmed.strip_prefix("price:")
        {
            let value = value.trim_start();
            let Some(quoted) = value.strip_prefix('"') else {
                // bean-check takes a number or a currency here; bean-price cannot, nor can
                // quotes: that commodity's problem, not the file's.
                return Ok(Line::Metadata {
                    commodity: commodity.clone(),
                    value: Err(format!(
                        "is {}, not a string like \"USD:yahoo/VTSAX\"",
                        shown(before_comment(value).trim_end())
                    )),
                });
            };
            return match string_end(quoted) {
                Some(end) => {
                    check_blank(&quoted[end + 1..])?;
                    Ok(Line::Metadata {
                        commodity: commodity.clone(),
                        value: Ok(unescape(&quoted[..end])),
                    })
                }
                None => {
                    self.in_string = true;
                    self.metadata = Some((commodity.clone(), format!("{quoted}\n")));
                    Ok(Line::Other)
                }
            };
        }
        self.in_string = opens_string(trimmed);
        Ok(Line::Other)
    }

    /// A line at the top level: a dated entry or a keyword.
    fn entry<'a>(&mut self, text: &'a str) -> Result<Line<'a>, String> {
        self.entry = Entry::Other;
        let (word, rest) = split_word(text);
        if word == "include" {
            let path = rest
                .trim_start()
                .strip_prefix('"')
                .and_then(|quoted| Some(&quoted[..string_end(quoted)?]));
            return match path {
                Some(path) => Ok(Line::Include(unescape(path))),
                None => Err(format!("include without a \"path\": {}", shown(text))),
            };
        }
        if KEYWORDS.contains(&word) {
            self.in_string = opens_string(rest);
            return Ok(Line::Other);
        }
        let Some(day) = date(word) else {
            return Err(format!(
                "neither a dated entry, an option nor a comment: {}",
                shown(text)
            ));
        };
        let (directive, rest) = split_word(rest);
        match directive {
            "price" => price(day, rest).map_err(|why| format!("price entry {why}")),
            "commodity" => {
                let (commodity, _) = split_word(rest);
                if !is_currency(commodity) {
                    return Err(format!("commodity entry {}", shown(text)));
                }
                // Declared: its metadata follows, indented.
                self.entry = Entry::Commodity(commodity.to_string());
                Ok(Line::Other)
            }
            "" => Err(format!("a date alone: {}", shown(text))),
            _ => {
                self.in_string = opens_string(rest);
                Ok(Line::Other)
            }
        }
    }
}

/// Whether `rest`, after a date, is a beancount entry that only a price file of beancount
/// holds (`price VTSAX 100 USD`, `commodity VTSAX`): ledger reads it as a transaction
/// without postings, so a journal scan uses this to tell a beancount file it was given.
pub fn is_entry_of_prices(rest: &str) -> bool {
    let (keyword, rest) = split_word(rest);
    match keyword {
        "price" => price(Date::ZERO, rest).is_ok(),
        "commodity" => {
            let (name, after) = split_word(rest);
            let after = after.trim();
            is_currency(name) && (after.is_empty() || after.starts_with(';'))
        }
        _ => false,
    }
}

/// `COMMODITY NUMBER CURRENCY`, after `DATE price`; the number may be an expression
/// (`1/3`, `(1 + 2)`), as beancount evaluates it, and the currency may follow it without a
/// space (`100.00USD`), as beancount's lexer reads it.
fn price(day: Date, rest: &str) -> Result<Line<'_>, String> {
    let text = match rest.find(';') {
        Some(at) => &rest[..at],
        None => rest,
    }
    .trim();
    let (commodity, amount) = split_word(text);
    let (number, currency) = split_amount(amount.trim()).unwrap_or(("", ""));
    let number = number.trim();
    let number_ok = !number.is_empty()
        && number.bytes().any(|b| b.is_ascii_digit())
        && number
            .bytes()
            .all(|b| b.is_ascii_digit() || b" .,+-*/()".contains(&b));
    if !is_currency(commodity) || !number_ok || !is_currency(currency) {
        return Err(format!(
            "is not DATE price COMMODITY NUMBER CURRENCY: {}",
            shown(text)
        ));
    }
    Ok(Line::Price {
        day,
        commodity,
        currency,
    })
}

/// An amount's number and currency: the currency is the last token, where beancount's
/// lexer starts it (at its first capital letter, or at the `/` of a futures name like
/// `/6J`), whether or not a space comes before it.
fn split_amount(amount: &str) -> Option<(&str, &str)> {
    let bytes = amount.as_bytes();
    let in_name = |b: u8| b.is_ascii_uppercase() || b.is_ascii_digit() || b"'._-".contains(&b);
    let token = bytes
        .iter()
        .rposition(|b| !(in_name(*b) || *b == b'/'))
        .map_or(0, |at| at + 1);
    let letter = token + bytes[token..].iter().position(u8::is_ascii_uppercase)?;
    // `/6J`: a slash, then name characters, then the first capital letter.
    let start = match bytes[token..letter].iter().rposition(|b| *b == b'/') {
        Some(slash) => token + slash,
        None => letter,
    };
    Some(amount.split_at(start))
}

/// Whether `name` is a currency beancount reads (its lexer's rule): a capital letter, then
/// capitals, digits and `' . _ -`, ending with a capital or a digit (`V`, `VTSAX`, `NT.TO`,
/// any length); or a futures name, `/` then those characters with at least one capital
/// letter (`/6J`, `/NQH21`). Wider than what `quotes` writes (`output::beancount`): a file
/// may hold any name bean-check accepts.
pub fn is_currency(name: &str) -> bool {
    let bytes = name.as_bytes();
    let in_name = |b: &u8| b.is_ascii_uppercase() || b.is_ascii_digit() || b"'._-".contains(b);
    let ends_well = |b: &u8| b.is_ascii_uppercase() || b.is_ascii_digit();
    match bytes {
        [first] => first.is_ascii_uppercase(),
        [b'/', rest @ ..] => {
            rest.iter().all(in_name)
                && rest.iter().any(u8::is_ascii_uppercase)
                && rest.last().is_some_and(ends_well)
        }
        [first, .., last] => {
            first.is_ascii_uppercase() && ends_well(last) && bytes.iter().all(in_name)
        }
        [] => false,
    }
}

/// A beancount date: `YYYY-MM-DD` or `YYYY/MM/DD`.
fn date(text: &str) -> Option<Date> {
    let ok = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-' || b == b'/',
            _ => b.is_ascii_digit(),
        });
    if !ok {
        return None;
    }
    let number = |range: std::ops::Range<usize>| text[range].parse::<i16>().ok();
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    Date::new(year, i8::try_from(month).ok()?, i8::try_from(day).ok()?).ok()
}

/// Where the string that `text` is inside of ends: the index of its closing quote.
fn string_end(text: &str) -> Option<usize> {
    let mut escaped = false;
    for (at, b) in text.bytes().enumerate() {
        match b {
            _ if escaped => escaped = false,
            b'\\' => escaped = true,
            b'"' => return Some(at),
            _ => {}
        }
    }
    None
}

/// Whether `text`, read from outside any string, leaves one open at its end (a `;` outside
/// strings starts a comment).
fn opens_string(text: &str) -> bool {
    let mut rest = text;
    loop {
        let Some(at) = rest.find(['"', ';']) else {
            return false;
        };
        if rest.as_bytes()[at] == b';' {
            return false;
        }
        match string_end(&rest[at + 1..]) {
            Some(end) => rest = &rest[at + 1 + end + 1..],
            None => return true,
        }
    }
}

/// `text` up to a `;` comment (outside a string).
fn before_comment(text: &str) -> &str {
    match text.find(';') {
        Some(at) if !text[..at].contains('"') => &text[..at],
        _ => text,
    }
}

/// After a `price:` value only a comment may follow.
fn check_blank(rest: &str) -> Result<(), String> {
    let rest = rest.trim();
    if rest.is_empty() || rest.starts_with(';') {
        Ok(())
    } else {
        Err(format!(
            "price: metadata has more than a string: {}",
            shown(rest)
        ))
    }
}

/// A string's value: `\"` is a quote, `\\` a backslash.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::update::Kind;
    use crate::update::beanprice::PriceSpec;
    use crate::update::book::Book;
    use crate::update::book::tests::read_one;
    use jiff::civil::date;

    fn read(text: &str) -> Result<Book, (u64, String)> {
        read_one(Kind::Beancount, text.as_bytes()).map(|(book, _)| book)
    }

    /// The `price:` metadata of `name`, read.
    fn spec(book: &Book, name: &str) -> PriceSpec {
        book.commodity(name)
            .unwrap()
            .metadata
            .clone()
            .unwrap()
            .unwrap()
    }

    #[test]
    fn prices_and_beanprice_metadata() {
        let text = "\
option \"operating_currency\" \"USD\"
* Prices
2020-01-01 commodity VTSAX
  name: \"Vanguard Total Stock Market\"
  price: \"USD:yahoo/VTSAX\"
2020-01-01 commodity BTC
  price: \"EUR:beanprice.coinbase/BTC-EUR USD:coinbase/BTC-USD\"
2020-01-01 open Assets:Broker
2021-01-04 price VTSAX 100.10 USD
2021-01-05 price VTSAX  101 USD ; late
2021-01-04 price BTC 27000 EUR
2021-01-04 price IJS 90 USD
2021-01-06 price VTSAX 1/3 USD
2021-01-07 price VTSAX (1 + 2) USD
";
        let book = read(text).unwrap();
        assert_eq!(book.last("VTSAX", "USD"), Some(date(2021, 1, 7)));
        assert_eq!(book.last("BTC", "EUR"), Some(date(2021, 1, 4)));
        let btc = spec(&book, "BTC");
        assert_eq!(btc.quotes.len(), 2);
        assert!(book.commodity("IJS").unwrap().metadata.is_none());
        let (_, read) =
            read_one(Kind::Beancount, b"include \"prices/*.beancount\" ; all\n").unwrap();
        assert_eq!(read.includes, [(1, "prices/*.beancount".to_string())]);
        assert!(read_one(Kind::Beancount, b"include prices.beancount\n").is_err());
    }

    #[test]
    fn strings_that_span_lines_are_not_entries() {
        let text = "\
2020-01-01 open Assets:Cash
2020-01-01 commodity VTSAX
  price: \"USD:yahoo/VTSAX\"
  name: \"Vanguard
Total Stock
2021-01-04 price FAKE 1 USD\"
2021-01-01 query \"q\" \"SELECT account, sum(position)
WHERE account ~ 'Cash'; not a comment
  AND year = 2021\"
2021-01-04 * \"Payee\" \"narration over
two lines\" ; \"a comment, not a string
  Assets:Cash  1 USD
  Assets:Cash  -1 USD
2020-01-01 commodity BTC
  price: \"EUR:coinbase/BTC-EUR
 USD:coinbase/BTC-USD\" ; both
";
        let book = read(text).unwrap();
        assert!(book.commodity("FAKE").is_none());
        let btc = spec(&book, "BTC");
        let currencies: Vec<&str> = btc.quotes.iter().map(|q| &*q.currency).collect();
        assert_eq!(currencies, ["EUR", "USD"]);
        assert_eq!(
            read("2021-01-01 note Assets:Cash \"open\n").unwrap_err().0,
            1
        );
    }

    #[test]
    fn metadata_beanprice_cannot_read_is_that_commoditys_problem() {
        let book = read(
            "2021-01-04 commodity A\n  price: 1\n2021-01-04 commodity B\n  price: \"USD yahoo\"\n\
             2021-01-04 commodity C\n  price: \"USD:yahoo/C\"\n",
        )
        .unwrap();
        let why = |name: &str| {
            book.commodity(name)
                .unwrap()
                .metadata
                .clone()
                .unwrap()
                .unwrap_err()
        };
        assert_eq!(why("A"), "is \"1\", not a string like \"USD:yahoo/VTSAX\"");
        assert!(
            why("B").contains("not CURRENCY:module/TICKER"),
            "{}",
            why("B")
        );
        assert!(
            book.commodity("C")
                .unwrap()
                .metadata
                .clone()
                .unwrap()
                .is_ok()
        );
    }

    #[test]
    fn metadata_belongs_to_its_entry_until_a_blank_line() {
        let book = read(
            "2020-01-01 commodity A\n  other: 1\n\n2021-01-04 price A 1 USD\n  price: \"x\"\n",
        )
        .unwrap();
        assert!(book.commodity("A").unwrap().metadata.is_none());
        let book = read("2020-01-01 commodity A\n  price: \"\"\n").unwrap();
        let spec = spec(&book, "A");
        assert!(spec.quotes.is_empty());
    }

    #[test]
    fn parse_errors_name_their_line() {
        for (text, line) in [
            ("2021-01-04 price VTSAX 1 USD\nnot beancount\n", 2),
            ("2021-01-04 price vtsax 1 USD\n", 1),
            ("2021-01-04 price VTSAX USD\n", 1),
            ("2021-01-04 price VTSAX 1 usd\n", 1),
            ("2021-13-04 price VTSAX 1 USD\n", 1),
            (
                "2021-01-04 commodity VTSAX\n  price: \"USD:yahoo/X\" 2\n",
                2,
            ),
            ("2021-01-04\n", 1),
            ("| table\n", 1),
        ] {
            let (at, why) = read(text).unwrap_err();
            assert_eq!(at, line, "{text:?}: {why}");
        }
    }

    #[test]
    fn every_currency_and_amount_bean_check_reads() {
        let text = "\
2020-01-01 commodity /ESZ24
2020-01-01 commodity AAPL_210917C00150000_AND_SOME
2021-01-04 price /ESZ24 4500.25 USD
2021-01-04 price V 1 /6J
2021-01-04 price NT.TO 100.00USD
2021-01-04 price AAPL_210917C00150000_AND_SOME (1+2)USD
2021-01-04 price A'B 1/3USD
";
        let book = read(text).unwrap();
        assert_eq!(book.last("/ESZ24", "USD"), Some(date(2021, 1, 4)));
        assert_eq!(book.last("V", "/6J"), Some(date(2021, 1, 4)));
        assert_eq!(book.last("NT.TO", "USD"), Some(date(2021, 1, 4)));
        assert_eq!(
            book.last("AAPL_210917C00150000_AND_SOME", "USD"),
            Some(date(2021, 1, 4))
        );
        // As beancount's lexer reads it: the number 1, the futures name /3USD.
        assert_eq!(book.last("A'B", "/3USD"), Some(date(2021, 1, 4)));
        for name in ["V", "VTSAX", "NT.TO", "/6J", "/NQH21_QNEG21C13100", "A-1"] {
            assert!(is_currency(name), "{name}");
        }
        for name in ["", "v", "1A", "A_", "/", "/6", "/6.3", "/A.", "USD$", "A B"] {
            assert!(!is_currency(name), "{name}");
        }
        for bad in [
            "2021-01-04 price VTSAX 100 usd\n",
            "2021-01-04 price VTSAX USD\n",
            "2021-01-04 price VTSAX 100\n",
            "2021-01-04 price /6 100 USD\n",
        ] {
            assert!(read(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn strings_and_comments() {
        assert!(opens_string("\"a"));
        assert!(!opens_string("\"a\" \"b\""));
        assert!(!opens_string("; \"a"));
        assert!(opens_string("\"a\\\" b"));
        assert!(!opens_string("\"a;\" x"));
        assert_eq!(unescape(r#"a\"b\\c"#), r#"a"b\c"#);
    }
}
