//! `--update FILE`: keep a price file current (issues 10 and 17). A price file is someone's
//! books: never a line lost, never a wrong price, never a file touched that is not one.
//!
//! How the parts fit, in the order a run uses them:
//!
//! 1. [`file`] opens the file only if it is a regular one, and locks it: from here until
//!    the new lines are on disk no other run reads or writes it.
//! 2. [`book`] reads it, and the files it includes, through the format's scanner
//!    ([`ledger`] or [`beancount`], the latter with [`beanprice`] for `price:` metadata),
//!    into a [`book::Book`]: the last day of every commodity in every currency it is priced
//!    in. A line that cannot be read is refused with its number, before any request, and
//!    the file is left as it was.
//! 3. [`targets`] decides what to fetch: one target per commodity and quote currency, the
//!    days it lacks, the currency its price must come in; and builds the plan that fetches
//!    them (`app` runs it, with the cache, like any other).
//! 4. [`finish`] turns the round into the lines the file lacks (per commodity and
//!    currency, sorted by date), appends them through [`file`], and says on stderr what was
//!    appended and what failed. One commodity's problem never stops the others.
//!
//! Nothing in the file changes but its end: not one byte of what it held is rewritten.

pub mod beancount;
pub mod beanprice;
pub mod book;
pub mod file;
mod finish;
pub mod ledger;
pub mod targets;

use std::collections::{HashSet, VecDeque};
use std::path::{Path, PathBuf};

use crate::exit::UsageError;
use crate::history::{Adjust, Interval};
use crate::output::{self, FormatSpec, beancount as beancount_format, ledger as ledger_format};
use crate::plan::Plan;
use crate::source::{Rates, Sources};

use book::Book;
use file::Locked;
use targets::Target;

/// The two kinds of price file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// ledger and hledger: `P 2026-11-20 VTSAX 135.72 USD`.
    Ledger,
    /// beancount: `2026-11-20 price VTSAX 135.72 USD`.
    Beancount,
}

impl Kind {
    /// `-f ledger|beancount`, or from the extension, in any case (`Books.Beancount` on a
    /// file system that keeps the case the user typed): `.beancount` and `.bean` are
    /// beancount, anything else ledger. `None` for a format that writes no price directives.
    pub fn of(format: Option<&FormatSpec>, path: &Path) -> Option<Kind> {
        match format.map(|f| f.name) {
            Some("ledger") => Some(Kind::Ledger),
            Some("beancount") => Some(Kind::Beancount),
            Some(_) => None,
            None => {
                let extension = path.extension().and_then(|e| e.to_str());
                let is = |name: &str| extension.is_some_and(|e| e.eq_ignore_ascii_case(name));
                if is("beancount") || is("bean") {
                    Some(Kind::Beancount)
                } else {
                    Some(Kind::Ledger)
                }
            }
        }
    }

    fn format(self) -> &'static FormatSpec {
        match self {
            Kind::Ledger => &ledger_format::FORMAT,
            Kind::Beancount => &beancount_format::FORMAT,
        }
    }

    fn name(self) -> &'static str {
        self.format().name
    }
}

/// What `--update` was given on the command line, checked.
pub struct Request {
    pub path: PathBuf,
    pub kind: Kind,
    /// Tickers from the arguments, `--file` and stdin.
    pub inputs: Vec<String>,
    pub from: Option<jiff::civil::Date>,
    pub to: jiff::civil::Date,
    pub interval: Interval,
    pub adjust: Adjust,
    pub dry_run: bool,
    /// `--source`.
    pub default_source: String,
    /// `--currency`, when given: every price comes in it.
    pub currency: Option<String>,
    /// `--fx`: where a currency's exchange rate comes from, and how it names a pair.
    pub rate_source: &'static str,
    pub rates: &'static Rates,
}

impl Request {
    /// How the file is used: read only for `--dry-run`.
    pub fn access(&self) -> file::Access {
        if self.dry_run {
            file::Access::Read
        } else {
            file::Access::Append
        }
    }

    /// Whether a missing file is a new price file: only when tickers say what to put in it.
    pub fn creates(&self) -> bool {
        !self.inputs.is_empty()
    }
}

/// A checked `--update`: the locked file, what it holds, and what this run keeps of it.
pub struct Update {
    /// The file as the user named it (for messages).
    pub path: PathBuf,
    kind: Kind,
    dry_run: bool,
    file: Locked,
    book: Book,
    /// Whether the file ends with a line end, and which one it uses.
    ends_with_newline: bool,
    line_end: book::LineEnd,
    targets: Vec<Target>,
    /// What the file names but `quotes` cannot fetch, said once.
    notes: Vec<String>,
}

/// Read the locked file and plan the fetch. A file that cannot be read is a usage error,
/// found before any request; so is one that names nothing to fetch. `now` is when the run
/// started.
pub fn start(
    request: Request,
    file: Locked,
    sources: &Sources,
    now: jiff::Timestamp,
) -> Result<(Plan, Update), UsageError> {
    let path = request.path.display();
    let this_year = crate::calendar::utc_date(now.as_second()).map_or(1970, |d| d.year());
    let reader = file
        .reader()
        .map_err(|e| UsageError(format!("cannot read {path}: {e}")))?;
    let kind = request.kind;
    let refused = |file: &Path, e: book::Failed| match e {
        book::Failed::Io(e) => UsageError(format!("cannot read {}: {e}", file.display())),
        book::Failed::Line(line, why) => UsageError(format!(
            "{}:{line}: {why}; not a {} file quotes can read, {path} left unchanged",
            file.display(),
            kind.name()
        )),
    };
    let mut book = Book::default();
    let read = book
        .read(reader, kind, this_year)
        .map_err(|e| refused(&request.path, e))?;
    // The files it includes are the same books: their prices count too (a file of this
    // year's prices that includes last year's). Each is read once.
    let mut seen = HashSet::new();
    seen.insert(identity(&request.path));
    let mut includes: VecDeque<(PathBuf, u64, String)> = read
        .includes
        .iter()
        .map(|(line, pattern)| (request.path.clone(), *line, pattern.clone()))
        .collect();
    while let Some((from, line, pattern)) = includes.pop_front() {
        let at = |why: String| UsageError(format!("{}:{line}: {why}", from.display()));
        // hledger includes its other formats too (`include work.timedot`, `timeclock:FILE`):
        // they hold no prices, so they are not read.
        let (pattern, journal) = match kind {
            Kind::Ledger => ledger::include_format(&pattern),
            Kind::Beancount => (pattern.as_str(), Some(true)),
        };
        for included in file::included(&from, pattern).map_err(at)? {
            if !journal.unwrap_or_else(|| ledger::is_journal(&included)) {
                continue;
            }
            if !seen.insert(identity(&included)) {
                continue;
            }
            if seen.len() > MAX_INCLUDED {
                return Err(at(format!(
                    "more than {MAX_INCLUDED} files included; not read"
                )));
            }
            let opened = file::open_included(&included).map_err(at)?;
            let reader = std::io::BufReader::with_capacity(1 << 16, opened);
            let more = book
                .read(reader, kind, this_year)
                .map_err(|e| refused(&included, e))?;
            includes.extend(
                more.includes
                    .into_iter()
                    .map(|(line, pattern)| (included.clone(), line, pattern)),
            );
        }
    }
    let planned = targets::plan(&request, &book, sources, now);
    if planned.targets.is_empty() {
        for note in &planned.notes {
            output::write_stderr(format!("quotes: {note}\n").as_bytes());
        }
        file.discard_if_created_and_empty();
        return Err(UsageError(format!(
            "{path} names no commodity with a ticker; give the tickers, e.g. `quotes --update \
             {path} VTSAX coinbase:BTC-EUR@BTC`"
        )));
    }
    Ok((
        planned.plan,
        Update {
            path: request.path.clone(),
            kind: request.kind,
            dry_run: request.dry_run,
            file,
            book,
            ends_with_newline: read.ends_with_newline,
            line_end: read.line_end,
            targets: planned.targets,
            notes: planned.notes,
        },
    ))
}

/// The most files an update reads through `include` lines.
const MAX_INCLUDED: usize = 10_000;

/// What a path is, once: the file it names (a link and its target, `a/../b` and `b` are
/// the same).
fn identity(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kind_follows_the_format_then_the_extension() {
        let p = Path::new;
        assert_eq!(Kind::of(None, p("a.beancount")), Some(Kind::Beancount));
        assert_eq!(Kind::of(None, p("a.bean")), Some(Kind::Beancount));
        assert_eq!(Kind::of(None, p("Books.Beancount")), Some(Kind::Beancount));
        assert_eq!(Kind::of(None, p("BOOKS.BEAN")), Some(Kind::Beancount));
        assert_eq!(Kind::of(None, p("prices.journal")), Some(Kind::Ledger));
        assert_eq!(Kind::of(None, p("prices")), Some(Kind::Ledger));
        assert_eq!(
            Kind::of(Some(&ledger_format::FORMAT), p("a.beancount")),
            Some(Kind::Ledger)
        );
        assert_eq!(Kind::of(Some(&crate::output::csv::FORMAT), p("a")), None);
    }
}
