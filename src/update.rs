//! `--update FILE`: keep a price file current, idempotently and atomically (issue 10).
//!
//! 1. **Read** the file's price directives ([`PriceFile::read`]): ledger/hledger `P` lines,
//!    or beancount `price` entries and the `price:` metadata of `commodity` entries
//!    (beanprice's convention, `price: "USD:yahoo/VTSAX"`, source names from the registry).
//!    Anything that is neither a price directive, a comment nor a line the format allows
//!    around them is a parse error, refused with its line number before any request.
//! 2. **Plan** ([`prepare`]): the tickers given, or with none every commodity of the file
//!    that has a known ticker; each asks for the closes from the day after its last price
//!    (or from `--from` when it has none) through `--to`.
//! 3. **Append** ([`Update::finish`]): the new directives, sorted by date then input order,
//!    after the file's bytes, which are never changed. The new content is written to a
//!    temporary file in the same directory, fsynced and renamed over the original with the
//!    original's permissions, so a crash, a full disk or a kill leaves the old file or the
//!    new one, never half a line. Nothing new: "FILE: up to date, N commodities".
//!
//! The file is read as a stream, line by line: a million-line price file costs a buffer,
//! not its size in memory, and is copied to the temporary file the same way.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::exit::{ExitStatus, Stop, UsageError};
use crate::history::{Adjust, Interval, Range};
use crate::output::{self, FormatSpec, Row, Style, Written, beancount, ledger};
use crate::plan::{Plan, Round};
use crate::source::{Sources, When};
use crate::ticker::Ticker;

/// The two kinds of price file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// ledger and hledger: `P 2026-11-20 VTSAX 135.72 USD`.
    Ledger,
    /// beancount: `2026-11-20 price VTSAX 135.72 USD`.
    Beancount,
}

impl Kind {
    /// `-f ledger|beancount`, or from the extension: `.beancount` and `.bean` are beancount,
    /// anything else ledger. `None` for a format that writes no price directives.
    pub fn of(format: Option<&FormatSpec>, path: &Path) -> Option<Kind> {
        match format.map(|f| f.name) {
            Some("ledger") => Some(Kind::Ledger),
            Some("beancount") => Some(Kind::Beancount),
            Some(_) => None,
            None => match path.extension().and_then(|e| e.to_str()) {
                Some("beancount" | "bean") => Some(Kind::Beancount),
                _ => Some(Kind::Ledger),
            },
        }
    }

    fn format(self) -> &'static FormatSpec {
        match self {
            Kind::Ledger => &ledger::FORMAT,
            Kind::Beancount => &beancount::FORMAT,
        }
    }
}

/// Why a price file cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read {}: {source}", .path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{}:{line}: {why}; not a {kind} price file quotes can update, left unchanged", .path.display())]
    Parse {
        path: PathBuf,
        line: u64,
        why: String,
        kind: &'static str,
    },
}

/// What a price file says: the last date of each commodity, and the tickers its beancount
/// metadata names.
#[derive(Debug, Default)]
pub struct PriceFile {
    /// The last date each commodity has a price on.
    last: HashMap<Box<str>, jiff::civil::Date>,
    /// Every commodity with a price or `price:` metadata, in order of first appearance.
    order: Vec<Box<str>>,
    /// `commodity` → `source:TICKER`, from beancount `price:` metadata.
    tickers: HashMap<Box<str>, String>,
    /// `price:` metadata naming no source quotes knows: (commodity, the value).
    unknown: Vec<(Box<str>, String)>,
    /// The file's length and modification time when read, to notice another writer.
    stamp: Option<(u64, Option<SystemTime>)>,
    /// Whether the file's last byte is a newline (or the file is empty).
    ends_with_newline: bool,
}

impl PriceFile {
    /// Read `path` as a price file of `kind`. A missing file is an empty one when
    /// `missing_ok` (a new price file).
    pub fn read(path: &Path, kind: Kind, missing_ok: bool) -> Result<PriceFile, ReadError> {
        let io_error = |source| ReadError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = match File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound && missing_ok => {
                return Ok(PriceFile {
                    ends_with_newline: true,
                    ..PriceFile::default()
                });
            }
            Err(e) => return Err(io_error(e)),
        };
        let meta = file.metadata().map_err(io_error)?;
        if meta.is_dir() {
            return Err(io_error(io::Error::other("is a directory")));
        }
        let mut parsed = PriceFile::parse(BufReader::with_capacity(1 << 16, file), kind).map_err(
            |e| match e {
                Failed::Io(e) => io_error(e),
                Failed::Parse(line, why) => ReadError::Parse {
                    path: path.to_path_buf(),
                    line,
                    why,
                    kind: match kind {
                        Kind::Ledger => "ledger",
                        Kind::Beancount => "beancount",
                    },
                },
            },
        )?;
        parsed.stamp = Some((meta.len(), meta.modified().ok()));
        Ok(parsed)
    }

    /// Parse a price file's lines (see the module docs for what is accepted).
    fn parse(mut reader: impl BufRead, kind: Kind) -> Result<PriceFile, Failed> {
        let mut file = PriceFile {
            ends_with_newline: true,
            ..PriceFile::default()
        };
        let mut line = Vec::with_capacity(256);
        let mut number = 0u64;
        let mut state = State::Top;
        loop {
            line.clear();
            if reader.read_until(b'\n', &mut line).map_err(Failed::Io)? == 0 {
                break;
            }
            number += 1;
            file.ends_with_newline = line.last() == Some(&b'\n');
            let text = trim_end(&line);
            let Ok(text) = std::str::from_utf8(text) else {
                return Err(Failed::Parse(number, "not UTF-8 text".into()));
            };
            let result = match kind {
                Kind::Ledger => ledger_line(text, &mut state),
                Kind::Beancount => beancount_line(text, &mut state),
            };
            match result.map_err(|why| Failed::Parse(number, why))? {
                Line::Other => {}
                Line::Price(day, commodity) => file.priced(commodity, day),
                Line::Metadata(commodity, value) => file.mapped(&commodity, value),
            }
        }
        Ok(file)
    }

    fn seen(&mut self, commodity: &str) {
        let known = self.last.contains_key(commodity) || self.tickers.contains_key(commodity);
        if !known && !self.order.iter().any(|c| &**c == commodity) {
            self.order.push(commodity.into());
        }
    }

    fn priced(&mut self, commodity: &str, day: jiff::civil::Date) {
        // The common case, a commodity seen before: no allocation.
        if let Some(last) = self.last.get_mut(commodity) {
            *last = (*last).max(day);
            return;
        }
        self.seen(commodity);
        self.last.insert(commodity.into(), day);
    }

    fn mapped(&mut self, commodity: &str, value: &str) {
        self.seen(commodity);
        match beanprice_ticker(value) {
            Some(input) => {
                self.tickers.insert(commodity.into(), input);
            }
            None => self.unknown.push((commodity.into(), value.to_string())),
        }
    }

    /// The last date `commodity` has a price on.
    pub fn last(&self, commodity: &str) -> Option<jiff::civil::Date> {
        self.last.get(commodity).copied()
    }

    /// With no tickers given: every commodity of the file that has a known ticker, as an
    /// input `SOURCE:TICKER@NAME` — its `price:` metadata, or its own name when that is a
    /// valid ticker (on `--source`). A commodity whose metadata names no source quotes
    /// knows is left out: its name is not its ticker.
    pub fn inputs(&self) -> Vec<String> {
        self.order
            .iter()
            .filter(|name| !self.unknown.iter().any(|(c, _)| c == *name))
            .filter_map(|name| match self.tickers.get(name) {
                Some(input) => Some(format!("{input}@{name}")),
                None => Ticker::parse(name).ok().map(|_| format!("{name}@{name}")),
            })
            .collect()
    }

    /// `price:` metadata that names no source quotes knows, to be said once.
    pub fn unknown_metadata(&self) -> &[(Box<str>, String)] {
        &self.unknown
    }
}

enum Failed {
    Io(io::Error),
    Parse(u64, String),
}

/// Where the parser is: at the top level, inside a beancount `commodity` entry (whose
/// metadata follows, indented), or inside a ledger `comment … end comment` block.
enum State {
    Top,
    Commodity(String),
    Block(&'static str),
}

/// What one line is.
enum Line<'a> {
    Other,
    Price(jiff::civil::Date, &'a str),
    Metadata(String, &'a str),
}

fn trim_end(line: &[u8]) -> &[u8] {
    let mut end = line.len();
    while end > 0 && matches!(line[end - 1], b'\n' | b'\r') {
        end -= 1;
    }
    &line[..end]
}

/// Directives a ledger or hledger journal may hold besides prices and transactions; their
/// indented lines follow them.
const LEDGER_DIRECTIVES: &[&str] = &[
    "account",
    "alias",
    "apply",
    "assert",
    "bucket",
    "capture",
    "check",
    "commodity",
    "D",
    "decimal-mark",
    "def",
    "define",
    "end",
    "eval",
    "expr",
    "include",
    "N",
    "payee",
    "python",
    "tag",
    "value",
    "Y",
    "year",
    "A",
    "C",
    "!include",
    "!account",
    "!alias",
    "!end",
];

/// One line of a ledger file.
fn ledger_line<'a>(text: &'a str, state: &mut State) -> Result<Line<'a>, String> {
    if let State::Block(end) = state {
        if text.trim_end() == *end {
            *state = State::Top;
        }
        return Ok(Line::Other);
    }
    let first = text.as_bytes().first().copied();
    match first {
        None => return Ok(Line::Other),
        // Comments, org-mode headings, and lines that belong to the entry above.
        Some(b';' | b'#' | b'%' | b'|' | b'*' | b' ' | b'\t') => return Ok(Line::Other),
        // Automated and periodic transactions.
        Some(b'=' | b'~') => return Ok(Line::Other),
        _ => {}
    }
    let mut words = text.split_whitespace();
    let word = words.next().unwrap_or("");
    if word == "P" {
        return ledger_price(text[1..].trim_start());
    }
    if word == "comment" || word == "test" {
        *state = State::Block(if word == "comment" {
            "end comment"
        } else {
            "end test"
        });
        return Ok(Line::Other);
    }
    if LEDGER_DIRECTIVES.contains(&word) {
        return Ok(Line::Other);
    }
    // A transaction: a date (`2026-11-20`, `2026/11/20`, `2026-11-20=2026-11-21`).
    let date = word.split('=').next().unwrap_or(word);
    if first.is_some_and(|b| b.is_ascii_digit()) && ledger_date(date).is_some() {
        return Ok(Line::Other);
    }
    Err(format!(
        "neither a price directive (P DATE COMMODITY PRICE), a transaction nor a comment: {}",
        shown(text)
    ))
}

/// `P DATE [TIME] COMMODITY AMOUNT`, after the `P`.
fn ledger_price(rest: &str) -> Result<Line<'_>, String> {
    let bad = |why: &str| Err(format!("price directive {why}"));
    let (date, rest) = split_word(rest);
    let Some(day) = ledger_date(date) else {
        return bad(&format!("has no date YYYY-MM-DD: {}", shown(date)));
    };
    let mut rest = rest.trim_start();
    let (word, after) = split_word(rest);
    if is_time(word) {
        rest = after.trim_start();
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
    let amount = rest.split(';').next().unwrap_or("").trim();
    if !amount.bytes().any(|b| b.is_ascii_digit()) {
        return bad(&format!("has no price for {commodity}"));
    }
    Ok(Line::Price(day, commodity))
}

/// One line of a beancount file.
fn beancount_line<'a>(text: &'a str, state: &mut State) -> Result<Line<'a>, String> {
    let first = text.as_bytes().first().copied();
    match first {
        None => return Ok(Line::Other),
        Some(b' ' | b'\t') => {
            // Metadata or postings of the entry above: only a commodity's `price:` counts.
            let State::Commodity(commodity) = state else {
                return Ok(Line::Other);
            };
            let Some(value) = text.trim_start().strip_prefix("price:") else {
                return Ok(Line::Other);
            };
            let value = value.trim();
            let value = value.split(';').next().unwrap_or(value).trim();
            let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) else {
                return Err(format!(
                    "price: metadata must be a string: {}",
                    shown(value)
                ));
            };
            return Ok(Line::Metadata(commodity.clone(), inner));
        }
        Some(b';' | b'*' | b'#') => return Ok(Line::Other),
        _ => {}
    }
    *state = State::Top;
    let (word, rest) = split_word(text);
    if matches!(
        word,
        "option" | "plugin" | "include" | "pushtag" | "poptag" | "pushmeta" | "popmeta"
    ) {
        return Ok(Line::Other);
    }
    let Some(day) = beancount_date(word) else {
        return Err(format!(
            "neither a dated entry, an option nor a comment: {}",
            shown(text)
        ));
    };
    let (directive, rest) = split_word(rest.trim_start());
    match directive {
        "price" => {
            let mut words = rest.split_whitespace();
            let (Some(commodity), Some(number), Some(currency)) =
                (words.next(), words.next(), words.next())
            else {
                return Err(format!(
                    "price entry is not DATE price COMMODITY NUMBER CURRENCY: {}",
                    shown(text)
                ));
            };
            let number_ok = number
                .bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b',' | b'-' | b'+'))
                && number.bytes().any(|b| b.is_ascii_digit());
            if !beancount::is_commodity(commodity) || !number_ok || currency.starts_with(';') {
                return Err(format!("price entry {}", shown(text)));
            }
            Ok(Line::Price(day, commodity))
        }
        "commodity" => {
            let (commodity, _) = split_word(rest.trim_start());
            if !beancount::is_commodity(commodity) {
                return Err(format!("commodity entry {}", shown(text)));
            }
            // Declared: its metadata follows. Declared alone, it has no ticker to update.
            *state = State::Commodity(commodity.to_string());
            Ok(Line::Other)
        }
        "" => Err(format!("a date alone: {}", shown(text))),
        _ => Ok(Line::Other),
    }
}

/// The first whitespace-separated word and the rest.
fn split_word(text: &str) -> (&str, &str) {
    let text = text.trim_start();
    match text.find(char::is_whitespace) {
        Some(at) => text.split_at(at),
        None => (text, ""),
    }
}

/// A ledger date: `YYYY-MM-DD`, `YYYY/MM/DD` or `YYYY.MM.DD` (month and day may have one
/// digit, as hledger allows).
fn ledger_date(text: &str) -> Option<jiff::civil::Date> {
    let separator = text.bytes().find(|b| matches!(b, b'-' | b'/' | b'.'))?;
    let mut parts = text.split(separator as char);
    let (year, month, day) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || year.len() != 4 || !(1..=2).contains(&month.len()) {
        return None;
    }
    if !(1..=2).contains(&day.len()) {
        return None;
    }
    let number = |s: &str| -> Option<i16> {
        s.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| s.parse().ok())
            .flatten()
    };
    let (year, month, day) = (number(year)?, number(month)?, number(day)?);
    jiff::civil::Date::new(year, i8::try_from(month).ok()?, i8::try_from(day).ok()?).ok()
}

/// A beancount date: `YYYY-MM-DD` (or with slashes).
fn beancount_date(text: &str) -> Option<jiff::civil::Date> {
    let ok = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-' || b == b'/',
            _ => b.is_ascii_digit(),
        });
    ok.then(|| ledger_date(text)).flatten()
}

fn is_time(word: &str) -> bool {
    let mut parts = word.split(':');
    let all_digits =
        |s: &str| !s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit());
    let (Some(h), Some(m)) = (parts.next(), parts.next()) else {
        return false;
    };
    all_digits(h) && all_digits(m) && parts.all(all_digits)
}

/// A line in an error message: at most 60 characters.
fn shown(text: &str) -> String {
    let mut out: String = text.chars().take(60).collect();
    if text.chars().count() > 60 {
        out.push('…');
    }
    format!("{out:?}")
}

/// The `source:TICKER` of beanprice metadata, `"USD:yahoo/VTSAX"`: of the space-separated
/// `CURRENCY:SOURCES` and the comma-separated `module/ticker` alternatives, the first whose
/// module is a source of the registry (`beanprice.yahoo` is `yahoo`) and whose ticker is
/// not inverted (`/^TICKER`, which quotes cannot do).
pub fn beanprice_ticker(value: &str) -> Option<String> {
    value
        .split_whitespace()
        .filter_map(|part| part.split_once(':').map(|(_, sources)| sources))
        .flat_map(|sources| sources.split(','))
        .find_map(|alternative| {
            let (module, ticker) = alternative.trim().split_once('/')?;
            let name = module.rsplit('.').next()?;
            let spec = crate::source::SourceSpec::named(name)?;
            if ticker.starts_with('^') || Ticker::parse(ticker).is_err() {
                return None;
            }
            Some(format!("{}:{ticker}", spec.name))
        })
}

/// A checked `--update`: the file, and what it knew when read.
pub struct Update {
    /// The file as the user named it (for messages).
    pub path: PathBuf,
    pub kind: Kind,
    pub dry_run: bool,
    file: PriceFile,
    /// How many commodities the run keeps up to date.
    commodities: usize,
}

/// What `--update` was given on the command line.
pub struct Request<'a> {
    pub path: &'a Path,
    /// `-f`, when given.
    pub format: Option<&'static FormatSpec>,
    /// Tickers from the arguments, `--file` and stdin.
    pub inputs: Vec<String>,
    pub from: Option<jiff::civil::Date>,
    pub to: jiff::civil::Date,
    pub interval: Interval,
    pub adjust: Adjust,
    pub dry_run: bool,
}

/// Read the file and plan the fetch: for each ticker, the closes from the day after its
/// commodity's last price (or `--from`) through `--to`. Every problem is a usage error,
/// found before any request.
pub fn prepare(
    request: Request<'_>,
    sources: &Sources,
    default_source: &str,
) -> Result<(Plan, Update), UsageError> {
    let usage = |m: String| UsageError(m);
    let path = request.path;
    let kind = Kind::of(request.format, path).ok_or_else(|| {
        usage(format!(
            "--update writes price directives: use -f ledger or -f beancount, not -f {}",
            request.format.map_or("", |f| f.name)
        ))
    })?;
    let given = !request.inputs.is_empty();
    let file = PriceFile::read(path, kind, given).map_err(|e| usage(e.to_string()))?;
    for (commodity, value) in file.unknown_metadata() {
        output::write_stderr(
            format!(
                "quotes: {}: {commodity} has price: {value:?}, which names no source quotes \
                 knows ({}); skipped\n",
                path.display(),
                crate::source::names()
            )
            .as_bytes(),
        );
    }
    let inputs = if given { request.inputs } else { file.inputs() };
    if inputs.is_empty() {
        return Err(usage(format!(
            "{} names no commodity with a ticker; give the tickers, e.g. `quotes --update {} \
             VTSAX coinbase:BTC-EUR@BTC`",
            path.display(),
            path.display()
        )));
    }
    // Resolve once to learn each input's commodity, then ask each from its own day.
    let names = Plan::new(sources, &inputs, default_source, When::Latest);
    let mut asked = Vec::with_capacity(inputs.len());
    let mut missing = Vec::new();
    let mut commodities = 0;
    for (input, entry) in inputs.iter().zip(names.entries()) {
        if entry.resolved.is_err() {
            // Its error is reported as the round's; the query does not matter.
            asked.push((input.as_str(), When::Latest));
            continue;
        }
        commodities += 1;
        let start = match file.last(&entry.commodity) {
            Some(last) => match last.tomorrow() {
                Ok(next) => next,
                Err(_) => continue,
            },
            None => match request.from {
                Some(from) => from,
                None => {
                    missing.push(entry.commodity.clone());
                    continue;
                }
            },
        };
        if start > request.to {
            continue; // up to date
        }
        let range = Range::new(start, request.to, request.interval, request.adjust)
            .map_err(|e| usage(format!("{}: {e}", entry.commodity)))?;
        asked.push((input.as_str(), When::Range(range)));
    }
    if !missing.is_empty() {
        return Err(usage(format!(
            "{} has no price in {} yet: give --from YYYY-MM-DD for where its history starts",
            missing.join(", "),
            path.display()
        )));
    }
    let plan = Plan::each(sources, asked, default_source);
    Ok((
        plan,
        Update {
            path: path.to_path_buf(),
            kind,
            dry_run: request.dry_run,
            file,
            commodities,
        },
    ))
}

impl Update {
    /// Append the round's closes that the file lacks, sorted by date then input order, or
    /// print them (`--dry-run`); say what happened on stderr. A run stopped by a signal
    /// writes nothing.
    pub fn finish(
        &self,
        plan: &Plan,
        round: &Round,
        style: &Style,
        stopped: Option<Stop>,
    ) -> ExitStatus {
        let mut rows: Vec<(usize, Row<'_>)> = Vec::new();
        for (index, (entry, when, result)) in plan.results(round).enumerate() {
            let row = |result| entry.row(when, result);
            match result {
                // A range without a trading day yet (today, before the close) is no news.
                Ok(quotes) => rows.extend(
                    quotes
                        .iter()
                        .filter(|q| self.is_new(&entry.commodity, q.market_date))
                        .map(|q| (index, row(Ok(q)))),
                ),
                Err(e) => rows.push((index, row(Err(e)))),
            }
        }
        rows.sort_by_key(|(index, row)| {
            (row.result.as_ref().ok().and_then(|q| q.market_date), *index)
        });
        // A commodity given twice (`TSLA TSLA@TSLA`) still gets one price a day.
        let mut written = std::collections::HashSet::new();
        rows.retain(|(_, row)| match &row.result {
            Ok(quote) => written.insert((row.commodity, quote.market_date)),
            Err(_) => true,
        });
        let rows: Vec<Row<'_>> = rows.into_iter().map(|(_, row)| row).collect();
        let format = self.kind.format();
        let mut renderer = (format.renderer)();
        let rendered = output::render(format, &mut *renderer, rows, style);
        let mut status = ExitStatus::from_failed(rendered.failed);
        let appended = rendered.stdout.iter().filter(|b| **b == b'\n').count();
        let name = self.path.display();
        if let Some(stop @ (Stop::Interrupt | Stop::Terminate)) = stopped {
            output::write_stderr(&rendered.stderr);
            output::write_stderr(format!("quotes: {name}: stopped; nothing written\n").as_bytes());
            return stop.status(status);
        }
        let summary = if appended == 0 {
            let plural = if self.commodities == 1 { "y" } else { "ies" };
            format!(
                "{name}: up to date, {} commodit{plural}\n",
                self.commodities
            )
        } else if self.dry_run {
            if output::write_stdout(&rendered.stdout) == Written::Failed {
                status = ExitStatus::Failure;
            }
            format!(
                "{name}: would append {appended} price{} (dry run)\n",
                plural(appended)
            )
        } else {
            match self.append(&rendered.stdout) {
                Ok(()) => format!("{name}: appended {appended} price{}\n", plural(appended)),
                Err(e) => {
                    status = ExitStatus::Failure;
                    format!("quotes: {name}: {e}; the file is unchanged\n")
                }
            }
        };
        output::write_stderr(&rendered.stderr);
        output::write_stderr(summary.as_bytes());
        status
    }

    /// Whether a close of `day` is not in the file yet.
    fn is_new(&self, commodity: &str, day: Option<jiff::civil::Date>) -> bool {
        match (self.file.last(commodity), day) {
            (Some(last), Some(day)) => day > last,
            (None, Some(_)) => true,
            (_, None) => false,
        }
    }

    /// Append `lines` atomically: copy the file to a temporary file beside it, add the
    /// lines, fsync, give it the original's permissions and rename it over the original.
    fn append(&self, lines: &[u8]) -> io::Result<()> {
        // Write where the file really is: renaming over a symbolic link would replace it.
        let target = match std::fs::canonicalize(&self.path) {
            Ok(target) => target,
            Err(e) if e.kind() == io::ErrorKind::NotFound && self.file.stamp.is_none() => {
                self.path.clone()
            }
            Err(e) => return Err(e),
        };
        let dir = match target.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let base = target
            .file_name()
            .map_or_else(|| "prices".into(), |n| n.to_string_lossy().into_owned());
        let mut temporary = tempfile::Builder::new()
            .prefix(&format!(".{base}."))
            .suffix(".quotes-tmp")
            .tempfile_in(&dir)?;
        let original = match File::open(&target) {
            Ok(file) => Some(file),
            Err(e) if e.kind() == io::ErrorKind::NotFound && self.file.stamp.is_none() => None,
            Err(e) => return Err(e),
        };
        {
            let out = temporary.as_file_mut();
            if let Some(mut original) = original {
                let meta = original.metadata()?;
                if Some((meta.len(), meta.modified().ok())) != self.file.stamp {
                    return Err(io::Error::other(
                        "it changed while quotes was updating it (another run?); run again",
                    ));
                }
                original.rewind()?;
                let copied = io::copy(&mut (&mut original).take(meta.len()), out)?;
                if copied != meta.len() {
                    return Err(io::Error::other("it was cut short while being copied"));
                }
                out.set_permissions(meta.permissions())?;
                #[cfg(unix)]
                {
                    use std::os::unix::fs::MetadataExt;
                    // Keep the owner too where we may (root updating a user's file).
                    let _ = std::os::unix::fs::fchown(&*out, Some(meta.uid()), Some(meta.gid()));
                }
            } else {
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    out.set_permissions(std::fs::Permissions::from_mode(0o644))?;
                }
            }
            if !self.file.ends_with_newline {
                out.write_all(b"\n")?;
            }
            out.write_all(lines)?;
            out.sync_all()?;
        }
        temporary.persist(&target).map_err(|e| e.error)?;
        // The rename is durable once the directory is.
        File::open(&dir)?.sync_all()
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn parse(kind: Kind, text: &str) -> Result<PriceFile, (u64, String)> {
        PriceFile::parse(text.as_bytes(), kind).map_err(|e| match e {
            Failed::Parse(line, why) => (line, why),
            Failed::Io(e) => panic!("{e}"),
        })
    }

    #[test]
    fn ledger_price_directives_and_what_surrounds_them() {
        let text = "\
; prices
P 2021-01-04 TSLA 243.26 USD
P 2021/01/05 14:30:00 TSLA $245.04
P 2021-01-06 \"BRK-B\" 240.5 USD ; a note
P 2021.1.7 VTSAX 100 USD

commodity VTSAX
  note Vanguard
2021-01-08 * Buy
    Assets:Broker   1 VTSAX @ 100 USD
    Assets:Cash
comment
anything at all
end comment
P 2021-01-03 TSLA 200 USD";
        let file = parse(Kind::Ledger, text).unwrap();
        assert_eq!(file.last("TSLA"), Some(date(2021, 1, 5)));
        assert_eq!(file.last("BRK-B"), Some(date(2021, 1, 6)));
        assert_eq!(file.last("VTSAX"), Some(date(2021, 1, 7)));
        assert_eq!(file.inputs(), ["TSLA@TSLA", "BRK-B@BRK-B", "VTSAX@VTSAX"]);
        assert!(!file.ends_with_newline);
    }

    #[test]
    fn ledger_parse_errors_name_their_line() {
        for (text, line) in [
            ("P 2021-01-04 TSLA 1 USD\nsymbol,price\n", 2),
            ("\n\nP 2021-02-30 TSLA 1 USD\n", 3),
            ("P 2021-01-04 TSLA\n", 1),
            ("P 2021-01-04\n", 1),
            ("P 2021-01-04 \"TSLA 1 USD\n", 1),
            ("2021-01-04,123.4\n", 1),
            ("P 2021-01-04 TSLA 1 USD\n\u{1}\n", 2),
        ] {
            let (at, why) = parse(Kind::Ledger, text).unwrap_err();
            assert_eq!(at, line, "{text:?}: {why}");
        }
        let err = PriceFile::parse(&b"P 2021-01-04 \xff 1 USD\n"[..], Kind::Ledger);
        assert!(matches!(err, Err(Failed::Parse(1, _))));
    }

    #[test]
    fn beancount_prices_and_beanprice_metadata() {
        let text = "\
option \"operating_currency\" \"USD\"
* Prices
2020-01-01 commodity VTSAX
  name: \"Vanguard Total Stock Market\"
  price: \"USD:yahoo/VTSAX\"
2020-01-01 commodity BTC
  price: \"EUR:beanprice.coinbase/BTC-EUR USD:coinbase/BTC-USD\"
2020-01-01 commodity GSPC
  price: \"USD:yahoo/^GSPC\"
2020-01-01 open Assets:Broker
2021-01-04 price VTSAX 100.10 USD
2021-01-05 price VTSAX  101 USD ; late
2021-01-04 price BTC 27000 EUR
2021-01-04 price IJS 90 USD
";
        let file = parse(Kind::Beancount, text).unwrap();
        assert_eq!(file.last("VTSAX"), Some(date(2021, 1, 5)));
        assert_eq!(
            file.inputs(),
            ["yahoo:VTSAX@VTSAX", "coinbase:BTC-EUR@BTC", "IJS@IJS"]
        );
        assert_eq!(file.unknown_metadata().len(), 1);
        assert!(file.ends_with_newline);
    }

    #[test]
    fn beancount_parse_errors_name_their_line() {
        for (text, line) in [
            ("2021-01-04 price VTSAX 1 USD\nnot beancount\n", 2),
            ("2021-01-04 price vtsax 1 USD\n", 1),
            ("2021-01-04 price VTSAX USD\n", 1),
            ("2021-13-04 price VTSAX 1 USD\n", 1),
            ("2021-01-04 commodity VTSAX\n  price: USD:yahoo/VTSAX\n", 2),
            ("2021-01-04\n", 1),
        ] {
            let (at, why) = parse(Kind::Beancount, text).unwrap_err();
            assert_eq!(at, line, "{text:?}: {why}");
        }
    }

    #[test]
    fn beanprice_values() {
        assert_eq!(
            beanprice_ticker("USD:yahoo/VTSAX").as_deref(),
            Some("yahoo:VTSAX")
        );
        assert_eq!(
            beanprice_ticker("USD:google/X,beanprice.yahoo/Y").as_deref(),
            Some("yahoo:Y")
        );
        assert_eq!(beanprice_ticker("USD:yahoo/^X"), None);
        assert_eq!(beanprice_ticker("yahoo/X"), None);
        assert_eq!(beanprice_ticker("USD:nope/X"), None);
        assert_eq!(beanprice_ticker("USD:yahoo/a!b"), None);
    }

    #[test]
    fn the_kind_follows_the_format_then_the_extension() {
        let p = Path::new;
        assert_eq!(Kind::of(None, p("a.beancount")), Some(Kind::Beancount));
        assert_eq!(Kind::of(None, p("a.bean")), Some(Kind::Beancount));
        assert_eq!(Kind::of(None, p("prices.journal")), Some(Kind::Ledger));
        assert_eq!(Kind::of(None, p("prices")), Some(Kind::Ledger));
        assert_eq!(
            Kind::of(Some(&ledger::FORMAT), p("a.beancount")),
            Some(Kind::Ledger)
        );
        assert_eq!(Kind::of(Some(&crate::output::csv::FORMAT), p("a")), None);
    }

    #[test]
    fn dates_and_times() {
        assert_eq!(ledger_date("2021-1-5"), Some(date(2021, 1, 5)));
        assert_eq!(ledger_date("2021/12/31"), Some(date(2021, 12, 31)));
        for bad in [
            "2021-13-01",
            "21-01-01",
            "2021-01",
            "2021-01-01-01",
            "2021-01-x",
            "2021-+1-01",
        ] {
            assert_eq!(ledger_date(bad), None, "{bad}");
        }
        assert!(is_time("14:30") && is_time("14:30:00"));
        assert!(!is_time("TSLA") && !is_time("1:") && !is_time("123:00"));
    }
}
