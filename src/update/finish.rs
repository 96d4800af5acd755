//! The end of an update: a round's closes turned into the lines the file lacks, appended
//! (or printed, `--dry-run`), and what happened said on stderr.
//!
//! Each target keeps the closes after its last price in its own currency (issue 17: BTC in
//! USD and BTC in EUR are two histories). A close must come in the currency the target
//! expects (a coin the file prices in EUR is not the instrument Yahoo quotes in USD), and
//! beanprice's `^` turns a rate into its inverse first. A target whose fetch failed, or
//! whose price is not one the file can take, fails alone: the others are appended, it is
//! named on stderr with why, and the run exits 1. Of a catch-up fetched in several windows
//! the closes before a failed window are kept, never the ones after it, so the file never
//! gets a gap the next run would not fill.
//!
//! The new lines are sorted by date, then in target order, written in the file's own line
//! end, after a line end if the file did not end with one.
//!
//! **In bounded memory** (issue 20). A back-fill of thirty years of a whole portfolio is
//! millions of lines, and each commodity's closes arrive in date order, one commodity after
//! another. So as each input's turn comes, the closes its target keeps are set aside
//! (`spill`: a dozen bytes a close, in a temporary file past a budget), one run of closes
//! per target; at the end the runs are merged by date, then target order, reading each a
//! few KiB at a time, and the lines to append gathered in a temporary file past a few MiB,
//! from which they are appended.

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};

use rust_decimal::Decimal;

use super::Update;
use super::targets::{Expect, State, Target, currency_name, is_currency};
use crate::exit::{ExitStatus, Stop};
use crate::output::{self, Row, Style, Written};
use crate::plan::{Plan, Turn};
use crate::quote::{Decimals, Quote};
use crate::round::Sink;
use crate::spill::{self, Id, Reader, Spill};

/// Bytes of set-aside closes kept in memory before the rest go to a temporary file.
const SPILL_BUDGET: usize = 16 << 20;

/// Merged lines rendered at a time.
const LINES_AT_ONCE: usize = 1024;

/// Bytes of lines to append held in memory; past it they go to a temporary file.
const LINES_IN_MEMORY: usize = 8 << 20;

/// The lines to append, in memory and then, past [`LINES_IN_MEMORY`], in a temporary file
/// (`spill::temporary_file`). A file that cannot be made or written keeps the rest in
/// memory, said once on stderr (`spill::keeping_in_memory`): the lines are all appended
/// still, as they were before issue 20.
struct Lines {
    /// The lines not in the file (every line, without a file).
    memory: Vec<u8>,
    /// The temporary file: its first `in_file` bytes are lines, whole and in order.
    file: Option<File>,
    in_file: u64,
    /// The file failed: what comes stays in memory.
    no_file: bool,
    /// Bytes in memory that go to the file.
    limit: usize,
    /// How the file is made (a test gives one that fails).
    make: fn() -> io::Result<File>,
}

impl Lines {
    fn new() -> Lines {
        Lines::with_file(LINES_IN_MEMORY, spill::temporary_file)
    }

    fn with_file(limit: usize, make: fn() -> io::Result<File>) -> Lines {
        Lines {
            memory: Vec::new(),
            file: None,
            in_file: 0,
            no_file: false,
            limit,
            make,
        }
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes in all.
    fn len(&self) -> u64 {
        self.in_file + self.memory.len() as u64
    }

    fn push(&mut self, bytes: &[u8]) {
        self.memory.extend_from_slice(bytes);
        if self.memory.len() >= self.limit
            && !self.no_file
            && let Err(e) = self.write_out()
        {
            spill::keeping_in_memory(&e);
            self.no_file = true;
        }
    }

    /// The lines in memory, moved to the end of the file. On an error the file's first
    /// `in_file` bytes are still the lines before (what this write got out lies past them,
    /// and is never read).
    fn write_out(&mut self) -> io::Result<()> {
        let file = match &mut self.file {
            Some(file) => file,
            None => self.file.insert((self.make)()?),
        };
        file.write_all(&self.memory)?;
        self.in_file += self.memory.len() as u64;
        self.memory.clear();
        Ok(())
    }

    /// Every line, in order: the file's, then the memory's.
    fn reader(&mut self) -> io::Result<impl Read + '_> {
        let head: Box<dyn Read + '_> = match &mut self.file {
            Some(file) => {
                file.seek(SeekFrom::Start(0))?;
                Box::new(io::BufReader::with_capacity(1 << 16, file).take(self.in_file))
            }
            None => Box::new(io::empty()),
        };
        Ok(head.chain(&self.memory[..]))
    }

    /// Append them to `file`.
    fn append_to(mut self, file: &super::file::Locked) -> Result<(), String> {
        let len = self.len();
        let mut lines = self
            .reader()
            .map_err(|e| format!("cannot read the lines set aside in a temporary file: {e}"))?;
        file.append_from(len, &mut lines).map_err(|e| e.to_string())
    }
}

/// What became of one target so far.
#[derive(Default)]
struct Run {
    /// Its closes the file lacks, set aside in order, a record per window.
    records: Vec<Id>,
    /// Why it failed; the closes before the failure are still written.
    failed: Option<String>,
    /// The currency its first window's answer is quoted in (see [`Update::left_behind`]).
    quoted_in: Option<String>,
}

/// A round's closes for an update, gathered target by target as each input's turn comes.
pub struct Collect<'a> {
    update: &'a Update,
    style: &'a Style,
    /// The target each plan entry fetches for.
    target_of: Vec<Option<usize>>,
    runs: Vec<Run>,
    spill: Spill,
    /// Turns so far: the next turn is this plan entry's.
    turns: usize,
}

impl Sink for Collect<'_> {
    fn turn(&mut self, _plan: &Plan, turn: Turn<'_>) {
        let entry = self.turns;
        self.turns += 1;
        let Some(at) = self.target_of.get(entry).copied().flatten() else {
            return;
        };
        let target = &self.update.targets[at];
        let run = &mut self.runs[at];
        if run.failed.is_some() {
            return; // no window after a failed one is written (no gap)
        }
        let quotes = match turn.result {
            Ok(quotes) => {
                if matches!(&target.state, State::Fetch(entries) if entries.first() == Some(&entry))
                {
                    run.quoted_in = quotes.first().and_then(|q| q.currency.clone());
                }
                quotes
            }
            // The windows before this one are kept; none after it.
            Err(e) => {
                run.failed = Some(e.to_string());
                return;
            }
        };
        match self
            .update
            .new_closes(target, &turn.entry.label, quotes, self.style)
        {
            Ok(closes) if closes.is_empty() => {}
            Ok(closes) => run.records.push(self.spill.put(&closes)),
            Err(why) => {
                // Another currency than expected, or a price the file cannot take: none
                // of the target's closes is written.
                run.failed = Some(why);
                for id in run.records.drain(..) {
                    self.spill.remove(id);
                }
            }
        }
    }

    fn warn(&mut self, text: String) {
        output::write_stderr(text.as_bytes());
    }
}

impl Update {
    /// A collector of `plan`'s turns for this update (see [`Collect`]).
    pub fn collect<'a>(&'a self, plan: &Plan, style: &'a Style) -> Collect<'a> {
        let mut target_of = vec![None; plan.entries().len()];
        for (at, target) in self.targets.iter().enumerate() {
            if let State::Fetch(entries) = &target.state {
                for entry in entries {
                    if let Some(slot) = target_of.get_mut(*entry) {
                        *slot = Some(at);
                    }
                }
            }
        }
        Collect {
            update: self,
            style,
            target_of,
            runs: self.targets.iter().map(|_| Run::default()).collect(),
            spill: Spill::new(SPILL_BUDGET),
            turns: 0,
        }
    }

    /// Append the round's closes that the file lacks, or print them (`--dry-run`); say what
    /// happened on stderr. A run stopped by a signal writes nothing.
    pub fn finish(&self, collect: Collect<'_>, style: &Style, stopped: Option<Stop>) -> ExitStatus {
        let Collect { runs, spill, .. } = collect;
        let name = self.path.display();
        let mut stderr = String::new();
        for note in &self.notes {
            stderr.push_str(&format!("quotes: {}\n", crate::text::message(note)));
        }
        let mut failed: Vec<&str> = Vec::new();
        for (target, run) in self.targets.iter().zip(&runs) {
            let why = match &target.state {
                State::Failed(why) => Some(why),
                State::Fetch(_) => run.failed.as_ref(),
                State::UpToDate => None,
            };
            if let Some(why) = why {
                stderr.push_str(&format!(
                    "quotes: {}: {}\n",
                    target.label,
                    crate::text::message(why)
                ));
                failed.push(&target.label);
            } else if let Some(note) = self.left_behind(target, run) {
                stderr.push_str(&format!("quotes: {}: {note}\n", target.label));
            }
        }
        let mut status = ExitStatus::from_failed(!failed.is_empty());
        if let Some(stop @ (Stop::Interrupt | Stop::Terminate)) = stopped {
            output::write_stderr(stderr.as_bytes());
            output::write_stderr(format!("quotes: {name}: stopped; nothing written\n").as_bytes());
            self.file.discard_if_created_and_empty();
            return stop.status(status);
        }
        // The lines, merged by date then target order; printed as they come (a dry run),
        // or gathered for the one write that appends them.
        let mut lines = Lines::new();
        let mut printing = self.dry_run;
        let mut merged = Merged::new(self, &runs, &spill);
        let mut renderer = (self.kind.format().renderer)();
        let mut count = 0;
        let mut batch: Vec<(usize, Quote)> = Vec::with_capacity(LINES_AT_ONCE);
        let mut rendered = Vec::new();
        let mut converted = Vec::new();
        loop {
            batch.clear();
            while batch.len() < LINES_AT_ONCE
                && let Some(close) = merged.next()
            {
                batch.push(close);
            }
            if batch.is_empty() {
                break;
            }
            count += batch.len();
            let rows: Vec<Row<'_>> = batch
                .iter()
                .map(|(at, quote)| self.row(&self.targets[*at], quote))
                .collect();
            rendered.clear();
            renderer.rows(&rows, style, &mut rendered);
            if self.dry_run {
                if printing {
                    match output::write_stdout(&rendered) {
                        Written::Ok => {}
                        Written::Gone => printing = false,
                        Written::Failed => {
                            printing = false;
                            status = ExitStatus::Failure;
                        }
                    }
                }
            } else {
                let first = lines.is_empty();
                converted.clear();
                self.lines(&rendered, first, &mut converted);
                lines.push(&converted);
            }
        }
        if let Some(why) = merged.failed {
            // The set-aside closes could not be read back: nothing is appended.
            stderr.push_str(&format!("quotes: {name}: {why}; nothing appended\n"));
            output::write_stderr(stderr.as_bytes());
            self.file.discard_if_created_and_empty();
            return ExitStatus::Failure;
        }
        let summary = if count == 0 {
            self.file.discard_if_created_and_empty();
            if failed.is_empty() {
                let commodities = self.commodities();
                let plural = if commodities == 1 { "y" } else { "ies" };
                format!("{name}: up to date, {commodities} commodit{plural}\n")
            } else {
                let verb = if self.dry_run {
                    "nothing to append"
                } else {
                    "nothing appended"
                };
                format!("{name}: {verb}; failed: {}\n", listed(&failed))
            }
        } else if self.dry_run {
            format!(
                "{name}: would append {count} price{} (dry run){}\n",
                plural(count),
                failures(&failed)
            )
        } else {
            match lines.append_to(&self.file) {
                Ok(()) => format!(
                    "{name}: appended {count} price{}{}\n",
                    plural(count),
                    failures(&failed)
                ),
                Err(e) => {
                    status = ExitStatus::Failure;
                    self.file.discard_if_created_and_empty();
                    format!("quotes: {name}: {e}\n")
                }
            }
        };
        stderr.push_str(&summary);
        output::write_stderr(stderr.as_bytes());
        status
    }

    /// A close's row as the file's format writes it.
    fn row<'a>(&self, target: &'a Target, quote: &'a Quote) -> Row<'a> {
        Row {
            input: &target.label,
            label: &target.label,
            source: None,
            result: Ok(quote),
            commodity: &target.commodity,
            adjust: None,
        }
    }

    /// How many commodities the run keeps (a commodity in two currencies is one).
    fn commodities(&self) -> usize {
        let names: HashSet<&str> = self.targets.iter().map(|t| t.commodity.as_str()).collect();
        names.len()
    }

    /// The rendered lines as the file writes them, appended to `bytes`: its line end, after
    /// one if it lacked it (before the `first` lines).
    fn lines(&self, rendered: &[u8], first: bool, bytes: &mut Vec<u8>) {
        let end = self.line_end.as_bytes();
        if first && !self.ends_with_newline {
            bytes.extend_from_slice(end);
        }
        for line in rendered.split_inclusive(|b| *b == b'\n') {
            match line.strip_suffix(b"\n") {
                Some(text) => {
                    bytes.extend_from_slice(text);
                    bytes.extend_from_slice(end);
                }
                None => bytes.extend_from_slice(line),
            }
        }
    }

    /// Of the closes one window of `target` fetched (for the input labelled `label`), those
    /// the file lacks, inverted for beanprice's `^`; or why none of the target's closes can
    /// be written.
    fn new_closes<'q>(
        &self,
        target: &Target,
        label: &str,
        quotes: &'q [Quote],
        style: &Style,
    ) -> Result<Cow<'q, [Quote]>, String> {
        let format = self.kind.format();
        let mut kept: Option<Vec<Quote>> = None;
        // The new closes of a window are its last ones (closes come in date order): those
        // are kept as they are, without a copy, unless some must be inverted or skipped.
        let mut first_new = None;
        for (i, quote) in quotes.iter().enumerate() {
            let quote = if target.inverted {
                Cow::Owned(invert(target, label, quote)?)
            } else {
                Cow::Borrowed(quote)
            };
            // Another currency than expected is another instrument: none of its closes is
            // written.
            self.check_currency(target, label, &quote)?;
            let row = self.row(target, &quote);
            // A price the format cannot write, or `--precision` would write as 0 (issue
            // 18), fails the commodity: none of its closes is written.
            style
                .check(&quote, false)
                .and_then(|()| (format.check)(&row, &quote))
                .map_err(|e| e.to_string())?;
            let new = self.is_new(target, &quote);
            match (&mut kept, new, quote) {
                (Some(kept), true, quote) => kept.push(quote.into_owned()),
                (Some(_), false, _) => {}
                (None, true, Cow::Borrowed(_)) => {
                    first_new.get_or_insert(i);
                }
                (None, new, quote) => {
                    // From here on, a copy: an inverse, or an old close after a new one.
                    let mut copy: Vec<Quote> =
                        first_new.map_or(&[][..], |from| &quotes[from..i]).to_vec();
                    if new {
                        copy.push(quote.into_owned());
                    }
                    kept = Some(copy);
                }
            }
        }
        Ok(match (kept, first_new) {
            (Some(kept), _) => Cow::Owned(kept),
            (None, Some(from)) => Cow::Borrowed(&quotes[from..]),
            (None, None) => Cow::Borrowed(&[]),
        })
    }

    /// A commodity a ledger file prices in several currencies, priced by its name: its
    /// ticker is quoted in one of them, and the others' histories are not continued. Said,
    /// so that a run that keeps one currency never seems to keep them all.
    fn left_behind(&self, target: &Target, run: &Run) -> Option<String> {
        let (State::Fetch(_), Expect::OneOf(want)) = (&target.state, &target.expect) else {
            return None;
        };
        let got = run.quoted_in.as_deref()?;
        // Only codes a price can come in: no ticker is quoted in `$` (its message said how
        // to go on in a code; the `$` history then stays behind on purpose).
        let code = |c: &str| {
            !c.is_empty()
                && c.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        };
        let others: Vec<String> = want
            .iter()
            .filter(|c| *c != got && code(c))
            .cloned()
            .collect();
        let first = others.first()?;
        let commodity = &target.commodity;
        Some(format!(
            "{} is quoted in {got}, so {}'s prices of {commodity} in {} are not continued; to \
             keep them, give the tickers, one of them quoted in {}, e.g. TICKER@{commodity}",
            target.label,
            self.path.display(),
            names(&others),
            currency_name(first),
        ))
    }

    /// Whether a close is not in the file yet: after the last price of its commodity in
    /// its currency.
    fn is_new(&self, target: &Target, quote: &Quote) -> bool {
        let (Some(day), Some(currency)) = (quote.market_date, quote.currency.as_deref()) else {
            return false;
        };
        self.book
            .last(&target.commodity, currency)
            .is_none_or(|last| day > last)
    }

    /// A close must come in the currency its target expects.
    fn check_currency(&self, target: &Target, label: &str, quote: &Quote) -> Result<(), String> {
        let Some(got) = quote.currency.as_deref() else {
            return Err("the answer gave no currency; a price file needs one".into());
        };
        let commodity = &target.commodity;
        let path = self.path.display();
        if got == commodity {
            return Err(format!(
                "{label} is quoted in {got}: {commodity} is never priced in itself"
            ));
        }
        match &target.expect {
            Expect::Any => Ok(()),
            Expect::Exactly(want) if want == got => Ok(()),
            Expect::Exactly(want) => Err(format!(
                "{label} is quoted in {got}, not in {want} as the price of {commodity} should \
                 be; nothing appended for it"
            )),
            Expect::OneOf(want) if want.iter().any(|c| c == got) => Ok(()),
            // `$`, `€`, a bare number: not another instrument, a name quotes never takes to
            // be a currency. Its ticker, given once, starts that currency's history; later
            // runs go on with it.
            Expect::OneOf(want) if is_currency(got) && !want.iter().any(|c| is_currency(c)) => {
                let ticker = if label == commodity.as_str() {
                    label.to_string()
                } else {
                    format!("{label}@{commodity}")
                };
                Err(format!(
                    "{label} is quoted in {got}, but {path} prices {commodity} in {}, not a \
                     currency code quotes takes to be {got}: nothing appended for it; to price \
                     {commodity} in {got} from now on, give its ticker once: `quotes --update \
                     {path} {ticker}`",
                    names(want)
                ))
            }
            Expect::OneOf(want) => Err(format!(
                "{label} is quoted in {got}, but {path} prices {commodity} in {}: another \
                 instrument? nothing appended for it; give the ticker that prices it in {}, \
                 e.g. `quotes --update {path} TICKER@{commodity}`",
                names(want),
                currency_name(&want[0]),
            )),
        }
    }
}

/// The closes of every target, merged by date and then target order, one price a day per
/// commodity and currency (a commodity given twice, `TSLA TSLA@TSLA`, still gets one).
struct Merged<'a> {
    /// Each target's commodity, as the first target of that commodity.
    commodity: Vec<usize>,
    /// Each target's closes, read in order: its records, and the one being read.
    cursors: Vec<Cursor<'a>>,
    /// The next close of each target that has one, by (day, target).
    next: BinaryHeap<Reverse<(jiff::civil::Date, usize)>>,
    /// What the current day has had: (commodity, currency).
    written: HashSet<(usize, String)>,
    day: Option<jiff::civil::Date>,
    /// Why the set-aside closes could not be read back, if they could not.
    failed: Option<String>,
}

/// One target's closes being read back.
struct Cursor<'a> {
    spill: &'a Spill,
    records: std::slice::Iter<'a, Id>,
    reader: Option<Reader<'a>>,
    /// Its next close.
    close: Option<Quote>,
}

impl Cursor<'_> {
    fn advance(&mut self) -> std::io::Result<()> {
        loop {
            if let Some(reader) = &mut self.reader
                && let Some(close) = reader.next_quote()?
            {
                self.close = Some(close);
                return Ok(());
            }
            match self.records.next() {
                Some(id) => self.reader = Some(self.spill.reader(*id)?),
                None => {
                    self.reader = None;
                    self.close = None;
                    return Ok(());
                }
            }
        }
    }
}

impl<'a> Merged<'a> {
    fn new(update: &'a Update, runs: &'a [Run], spill: &'a Spill) -> Merged<'a> {
        let targets = &update.targets;
        let mut merged = Merged {
            commodity: targets
                .iter()
                .map(|t| targets.iter().position(|u| u.commodity == t.commodity))
                .enumerate()
                .map(|(at, first)| first.unwrap_or(at))
                .collect(),
            cursors: Vec::with_capacity(runs.len()),
            next: BinaryHeap::new(),
            written: HashSet::new(),
            day: None,
            failed: None,
        };
        for (at, run) in runs.iter().enumerate() {
            let mut cursor = Cursor {
                spill,
                records: run.records.iter(),
                reader: None,
                close: None,
            };
            if let Err(e) = cursor.advance() {
                merged.failed = Some(e.to_string());
            }
            if let Some(day) = cursor.close.as_ref().and_then(|q| q.market_date) {
                merged.next.push(Reverse((day, at)));
            }
            merged.cursors.push(cursor);
        }
        merged
    }

    /// The next close to write, and its target.
    fn next(&mut self) -> Option<(usize, Quote)> {
        while self.failed.is_none() {
            let Reverse((day, at)) = self.next.pop()?;
            let cursor = &mut self.cursors[at];
            let close = cursor.close.take()?;
            if let Err(e) = cursor.advance() {
                self.failed = Some(e.to_string());
                return None;
            }
            if let Some(next) = cursor.close.as_ref().and_then(|q| q.market_date) {
                self.next.push(Reverse((next, at)));
            }
            if self.day != Some(day) {
                self.day = Some(day);
                self.written.clear();
            }
            let commodity = self.commodity[at];
            let currency = close.currency.clone().unwrap_or_default();
            if self.written.insert((commodity, currency)) {
                return Some((at, close));
            }
        }
        None
    }
}

/// `EUR, USD`: currencies as messages name them.
fn names(currencies: &[String]) -> String {
    let names: Vec<&str> = currencies.iter().map(|c| currency_name(c)).collect();
    names.join(", ")
}

/// beanprice's `^`: the inverse of a rate. The ticker's price must be quoted in the
/// commodity (on `USD`, `^EURUSD=X` is EUR in USD), so that its inverse is the commodity's
/// price in the target's currency.
fn invert(target: &Target, label: &str, quote: &Quote) -> Result<Quote, String> {
    let commodity = &target.commodity;
    let Expect::Exactly(currency) = &target.expect else {
        return Err("internal: an inverse without its currency".into());
    };
    let got = quote.currency.as_deref().unwrap_or("no currency");
    if got != commodity {
        return Err(format!(
            "^{label} is the inverse of a price in {got}, which is no price of {commodity}: ^ \
             inverts a rate quoted in {commodity}, e.g. {currency}:yahoo/^{currency}{commodity}=X"
        ));
    }
    let price = Decimal::ONE
        .checked_div(quote.price)
        .filter(|p| *p > Decimal::ZERO)
        .ok_or_else(|| format!("{label}'s price {} has no inverse", quote.price))?;
    Ok(Quote {
        price,
        currency: Some(currency.clone()),
        precision: Some(Decimals::QUOTIENT),
        previous_close: None,
        quoted: None,
        fx: None,
        ..quote.clone()
    })
}

/// `NVDA, TSLA`: who failed, for the summary line (the first ten; a commodity that failed
/// in two currencies once).
fn listed(names: &[&str]) -> String {
    let mut unique: Vec<&str> = Vec::with_capacity(names.len());
    for name in names {
        if !unique.contains(name) {
            unique.push(name);
        }
    }
    let names = unique;
    let mut list = names
        .iter()
        .take(10)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > 10 {
        list.push_str(&format!(" and {} more", names.len() - 10));
    }
    list
}

fn failures(failed: &[&str]) -> String {
    if failed.is_empty() {
        String::new()
    } else {
        format!("; failed: {}", listed(failed))
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(lines: &mut Lines) -> Vec<u8> {
        let mut all = Vec::new();
        lines.reader().unwrap().read_to_end(&mut all).unwrap();
        all
    }

    /// Lines of 40 bytes, numbered, pushed a few at a time.
    fn fill(lines: &mut Lines, count: usize) -> Vec<u8> {
        let mut want = Vec::new();
        for at in 0..count {
            let line = format!("P 2021-01-04 \"T{at:05}\" {:>12} USD\n", at * 7);
            lines.push(line.as_bytes());
            want.extend_from_slice(line.as_bytes());
        }
        want
    }

    #[test]
    fn lines_past_the_limit_go_to_the_file_and_read_back_in_order() {
        let mut lines = Lines::with_file(100, spill::temporary_file);
        let want = fill(&mut lines, 50);
        assert!(
            lines.in_file > 0 && !lines.memory.is_empty(),
            "some in each"
        );
        assert!(
            lines.memory.len() < 100 + 40,
            "the memory holds only the tail"
        );
        assert_eq!(lines.len(), want.len() as u64);
        assert_eq!(read_all(&mut lines), want);
    }

    // /dev/full is Linux's: every write to it fails with ENOSPC, as on a full disk.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_full_disk_keeps_the_lines_in_memory_and_loses_none() {
        fn full() -> io::Result<File> {
            File::options().read(true).write(true).open("/dev/full")
        }
        let mut lines = Lines::with_file(100, full);
        let want = fill(&mut lines, 50);
        assert!(lines.no_file, "the write failed");
        assert_eq!(lines.in_file, 0);
        assert_eq!(read_all(&mut lines), want);
    }

    #[test]
    fn no_temporary_directory_keeps_the_lines_in_memory_and_loses_none() {
        fn nowhere() -> io::Result<File> {
            tempfile::tempfile_in("/nonexistent/quotes-test/tmp")
        }
        let mut lines = Lines::with_file(100, nowhere);
        let want = fill(&mut lines, 50);
        assert!(lines.no_file && lines.file.is_none());
        assert_eq!(read_all(&mut lines), want);
    }
}
