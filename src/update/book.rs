//! What a price file prices: the checked model the rest of `--update` works from, and the
//! loop that reads it, line by line, into that model.
//!
//! A [`Book`] says, for each commodity the file prices, every currency it is priced in and
//! the last day of each (issue 17: "already there" and "the last price" are per commodity
//! AND quote currency, so BTC in USD and BTC in EUR are kept apart), plus what beanprice's
//! `price:` metadata says to fetch for it. Everything after reading trusts this model and
//! never looks at the text again.
//!
//! Reading is a stream: a million-line file costs a buffer, not its size. Each line is
//! bounded ([`MAX_LINE_BYTES`]; the file itself is bounded when it is opened), must be UTF-8,
//! and is handed to the format's scanner (`ledger`, `beancount`), which says what it is. A
//! UTF-8 byte order mark is skipped; CRLF line ends are read, and remembered so that new
//! lines are written the same way.

use std::collections::HashMap;
use std::io::{self, BufRead, Read};

use jiff::civil::Date;

use super::Kind;
use super::beancount::Beancount;
use super::beanprice::PriceSpec;
use super::ledger::Ledger;

/// The longest line read: a longer one is refused with its line number (a file of zeros,
/// a binary file, is refused after a bounded read, not after reading it all).
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// What a price file prices (with the files it includes).
#[derive(Debug, Default)]
pub struct Book {
    /// Every commodity with a price or `price:` metadata, in order of first appearance.
    commodities: Vec<Commodity>,
    /// A commodity's place in `commodities`.
    index: HashMap<Box<str>, usize>,
}

/// What reading one file found besides prices.
#[derive(Debug)]
pub struct Scanned {
    /// Whether the file's last byte is a line end (or the file is empty).
    pub ends_with_newline: bool,
    /// The file's line end, for the lines appended to it.
    pub line_end: LineEnd,
    /// Its `include` lines: the line number and the path or pattern, as written.
    pub includes: Vec<(u64, String)>,
}

/// One commodity of a price file.
#[derive(Debug)]
pub struct Commodity {
    pub name: Box<str>,
    /// Each currency the file prices it in, with the last day it has a price in it; in
    /// order of first appearance. Usually one.
    pub prices: Vec<(Box<str>, Date)>,
    /// beanprice's `price:` metadata (beancount), when it has some; or why it cannot be
    /// read (then this commodity fails, not the file).
    pub metadata: Option<Result<PriceSpec, String>>,
}

impl Commodity {
    /// The last day this commodity has a price in `currency`.
    pub fn last(&self, currency: &str) -> Option<Date> {
        self.prices
            .iter()
            .find(|(c, _)| &**c == currency)
            .map(|(_, day)| *day)
    }

    /// The currencies it is priced in, except itself (a commodity is never priced in
    /// itself, issue 17).
    pub fn currencies(&self) -> impl Iterator<Item = (&str, Date)> {
        self.prices
            .iter()
            .filter(|(c, _)| **c != *self.name)
            .map(|(c, day)| (&**c, *day))
    }
}

/// A file's line end.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LineEnd {
    #[default]
    Lf,
    CrLf,
}

impl LineEnd {
    pub fn as_bytes(self) -> &'static [u8] {
        match self {
            LineEnd::Lf => b"\n",
            LineEnd::CrLf => b"\r\n",
        }
    }
}

/// What one line of a price file is, as its format's scanner reads it.
pub enum Line<'a> {
    /// Anything that is not a price: a comment, a transaction, a directive, part of one.
    Other,
    /// A price of `commodity` in `currency` on `day`.
    Price {
        day: Date,
        commodity: &'a str,
        currency: &'a str,
    },
    /// A beancount commodity's `price:` metadata: its string's value, or why it has none.
    Metadata {
        commodity: String,
        value: Result<String, String>,
    },
    /// `include PATH`: another file of the same books.
    Include(String),
}

/// Why a file cannot be read: an I/O error, or a line (numbered from 1) it cannot hold.
pub enum Failed {
    Io(io::Error),
    Line(u64, String),
}

impl Book {
    /// Read a price file of `kind` from `reader` into the book; `this_year` dates ledger's
    /// dates without a year when no `Y` directive gave one.
    pub fn read(
        &mut self,
        reader: impl BufRead,
        kind: Kind,
        this_year: i16,
    ) -> Result<Scanned, Failed> {
        let mut read = Scanned {
            ends_with_newline: true,
            line_end: LineEnd::Lf,
            includes: Vec::new(),
        };
        let book = self;
        let mut scanner = match kind {
            Kind::Ledger => Scanner::Ledger(Ledger::new(this_year)),
            Kind::Beancount => Scanner::Beancount(Beancount::default()),
        };
        let mut reader = reader;
        let mut line = Vec::with_capacity(256);
        let mut number = 0u64;
        loop {
            line.clear();
            let got = (&mut reader)
                .take(MAX_LINE_BYTES as u64 + 1)
                .read_until(b'\n', &mut line)
                .map_err(Failed::Io)?;
            if got == 0 {
                break;
            }
            number += 1;
            let ended = line.last() == Some(&b'\n');
            if !ended && line.len() > MAX_LINE_BYTES {
                return Err(Failed::Line(
                    number,
                    format!(
                        "a line longer than {} MiB; not a price file",
                        MAX_LINE_BYTES >> 20
                    ),
                ));
            }
            read.ends_with_newline = ended;
            if number == 1 && line.ends_with(b"\r\n") {
                read.line_end = LineEnd::CrLf;
            }
            let mut bytes = trim_line_end(&line);
            if number == 1 {
                bytes = bytes.strip_prefix(BOM).unwrap_or(bytes);
            }
            let Ok(text) = std::str::from_utf8(bytes) else {
                return Err(Failed::Line(number, "not UTF-8 text".into()));
            };
            let scanned = match &mut scanner {
                Scanner::Ledger(ledger) => ledger.line(text),
                Scanner::Beancount(beancount) => beancount.line(text),
            };
            match scanned.map_err(|why| Failed::Line(number, why))? {
                Line::Other => {}
                Line::Include(path) => read.includes.push((number, path)),
                Line::Price {
                    day,
                    commodity,
                    currency,
                } => book.priced(commodity, currency, day),
                Line::Metadata { commodity, value } => {
                    let spec = value.and_then(|value| PriceSpec::parse(&value));
                    book.described(&commodity, spec);
                }
            }
        }
        if let Scanner::Beancount(beancount) = &scanner
            && beancount.in_string()
        {
            return Err(Failed::Line(
                number,
                "a string that is never closed (a \" missing)".into(),
            ));
        }
        Ok(read)
    }

    /// The commodity called `name`.
    pub fn commodity(&self, name: &str) -> Option<&Commodity> {
        self.index.get(name).map(|at| &self.commodities[*at])
    }

    /// Every commodity, in order of first appearance.
    pub fn commodities(&self) -> &[Commodity] {
        &self.commodities
    }

    /// The last day `commodity` has a price in `currency`.
    pub fn last(&self, commodity: &str, currency: &str) -> Option<Date> {
        self.commodity(commodity)?.last(currency)
    }

    fn entry(&mut self, commodity: &str) -> &mut Commodity {
        // The common case, a commodity seen before: no allocation.
        let at = match self.index.get(commodity) {
            Some(at) => *at,
            None => {
                self.commodities.push(Commodity {
                    name: commodity.into(),
                    prices: Vec::new(),
                    metadata: None,
                });
                self.index
                    .insert(commodity.into(), self.commodities.len() - 1);
                self.commodities.len() - 1
            }
        };
        &mut self.commodities[at]
    }

    fn priced(&mut self, commodity: &str, currency: &str, day: Date) {
        let entry = self.entry(commodity);
        match entry.prices.iter_mut().find(|(c, _)| &**c == currency) {
            Some((_, last)) => *last = (*last).max(day),
            None => entry.prices.push((currency.into(), day)),
        }
    }

    fn described(&mut self, commodity: &str, spec: Result<PriceSpec, String>) {
        self.entry(commodity).metadata = Some(spec);
    }
}

enum Scanner {
    Ledger(Ledger),
    Beancount(Beancount),
}

/// UTF-8's byte order mark, which some editors put first.
const BOM: &[u8] = b"\xef\xbb\xbf";

fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The first word (separated by spaces or tabs, as ledger and beancount separate them) and
/// the rest. Byte by byte: it runs several times on every line of a file.
pub fn split_word(text: &str) -> (&str, &str) {
    let text = text.trim_ascii_start();
    // ASCII whitespace is never inside a UTF-8 sequence, so `at` is a char boundary.
    match text.bytes().position(|b| b.is_ascii_whitespace()) {
        Some(at) => text.split_at(at),
        None => (text, ""),
    }
}

/// A line in an error message: at most 60 characters, quoted.
pub fn shown(text: &str) -> String {
    let mut out: String = text.chars().take(60).collect();
    if text.chars().count() > 60 {
        out.push('…');
    }
    format!("{out:?}")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use jiff::civil::date;

    /// Read `text` as one file: the book, and what else reading it found.
    pub fn read_one(kind: Kind, text: &[u8]) -> Result<(Book, Scanned), (u64, String)> {
        let mut book = Book::default();
        let read = book.read(text, kind, 2026).map_err(|e| match e {
            Failed::Line(line, why) => (line, why),
            Failed::Io(e) => panic!("{e}"),
        })?;
        Ok((book, read))
    }

    fn read(kind: Kind, text: &[u8]) -> Result<Book, (u64, String)> {
        read_one(kind, text).map(|(book, _)| book)
    }

    #[test]
    fn a_commodity_is_kept_per_quote_currency() {
        let book = read(
            Kind::Ledger,
            b"P 2026-12-01 BTC 92000 EUR\nP 2026-12-03 BTC 98000 USD\nP 2026-12-02 BTC 93000 EUR\n",
        )
        .unwrap();
        assert_eq!(book.last("BTC", "EUR"), Some(date(2026, 12, 2)));
        assert_eq!(book.last("BTC", "USD"), Some(date(2026, 12, 3)));
        assert_eq!(book.last("BTC", "GBP"), None);
        let btc = book.commodity("BTC").unwrap();
        let currencies: Vec<&str> = btc.currencies().map(|(c, _)| c).collect();
        assert_eq!(currencies, ["EUR", "USD"]);
    }

    #[test]
    fn a_bom_and_crlf_are_read_and_the_line_end_kept() {
        let (book, crlf) = read_one(
            Kind::Ledger,
            b"\xef\xbb\xbfP 2021-01-04 TSLA 243.26 USD\r\nP 2021-01-05 TSLA 245.04 USD",
        )
        .unwrap();
        assert_eq!(book.last("TSLA", "USD"), Some(date(2021, 1, 5)));
        assert_eq!(crlf.line_end, LineEnd::CrLf);
        assert!(!crlf.ends_with_newline);
        let (_, scanned) = read_one(
            Kind::Beancount,
            b"\xef\xbb\xbf2021-01-04 price TSLA 1 USD\n",
        )
        .unwrap();
        assert_eq!(scanned.line_end, LineEnd::Lf);
        assert!(scanned.ends_with_newline);
        // A BOM anywhere but first is not text a price file holds.
        assert!(read(Kind::Ledger, b"\n\xef\xbb\xbfP 2021-01-04 TSLA 1 USD\n").is_err());
    }

    proptest::proptest! {
        /// No text makes reading panic: bytes, and text made of what price files are made
        /// of (dates, quotes, `;`, `^`, line ends, indentation), in both formats, with
        /// beanprice metadata among them.
        #[test]
        fn no_text_makes_reading_panic(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
            text in "([PY0-9 /.:\"$;^A-Z,=~*\\\t\r\n-]|€|é|price|commodity|include|apply|year|end|price: ){0,80}",
        ) {
            for kind in [Kind::Ledger, Kind::Beancount] {
                let _ = read_one(kind, &bytes);
                let _ = read_one(kind, text.as_bytes());
            }
            let _ = PriceSpec::parse(&text);
        }
    }

    #[test]
    fn a_line_too_long_or_not_utf8_is_refused_with_its_number() {
        let mut long = b"P 2021-01-04 TSLA 1 USD\n; ".to_vec();
        long.resize(long.len() + MAX_LINE_BYTES, b'x');
        let (line, why) = read(Kind::Ledger, &long).unwrap_err();
        assert_eq!(line, 2);
        assert!(why.contains("longer than 1 MiB"), "{why}");
        // Exactly the bound, with its line end, is a line.
        let mut edge = b"; ".to_vec();
        edge.resize(MAX_LINE_BYTES, b'x');
        edge.push(b'\n');
        assert!(read(Kind::Ledger, &edge).is_ok());
        let zeros = vec![0u8; MAX_LINE_BYTES * 2];
        assert_eq!(read(Kind::Ledger, &zeros).unwrap_err().0, 1);
        let (line, why) = read(Kind::Ledger, b"; ok\nP 2021-01-04 \xff 1 USD\n").unwrap_err();
        assert_eq!((line, why.as_str()), (2, "not UTF-8 text"));
    }
}
