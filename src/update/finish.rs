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

use std::borrow::Cow;
use std::collections::HashSet;

use rust_decimal::Decimal;

use super::Update;
use super::targets::{Expect, State, Target, currency_name, is_currency};
use crate::error::FetchError;
use crate::exit::{ExitStatus, Stop};
use crate::output::{self, Row, Style, Written};
use crate::plan::{Entry, Plan, Round};
use crate::quote::{Decimals, Quote};
use crate::source::When;

/// One plan entry's result: the entry, what it asked, its closes or error.
type Fetched<'a> = (&'a Entry, Option<When>, Result<&'a [Quote], FetchError>);

/// What became of one target.
enum Outcome<'a> {
    /// Its closes the file lacks (maybe none), each with the entry that fetched it.
    Closes(Vec<(&'a Entry, Option<When>, Cow<'a, Quote>)>),
    /// Why it failed; the closes before the failure that are still written.
    Failed(String, Vec<(&'a Entry, Option<When>, Cow<'a, Quote>)>),
}

impl Update {
    /// Append the round's closes that the file lacks, or print them (`--dry-run`); say what
    /// happened on stderr. A run stopped by a signal writes nothing.
    pub fn finish(
        &self,
        plan: &Plan,
        round: &Round,
        style: &Style,
        stopped: Option<Stop>,
    ) -> ExitStatus {
        let results: Vec<_> = plan.results(round).collect();
        let outcomes: Vec<Outcome<'_>> = self
            .targets
            .iter()
            .map(|target| self.outcome(target, &results, style))
            .collect();
        let name = self.path.display();
        let mut stderr = String::new();
        for note in &self.notes {
            stderr.push_str(&format!("quotes: {}\n", crate::text::message(note)));
        }
        // Rows by date, then target order; one price a day per commodity and currency
        // (a commodity given twice, `TSLA TSLA@TSLA`, still gets one).
        let mut rows: Vec<(usize, Row<'_>)> = Vec::new();
        let mut failed: Vec<&str> = Vec::new();
        for (at, (target, outcome)) in self.targets.iter().zip(&outcomes).enumerate() {
            let closes = match outcome {
                Outcome::Closes(closes) => {
                    if let Some(note) = self.left_behind(target, &results) {
                        stderr.push_str(&format!("quotes: {}: {note}\n", target.label));
                    }
                    closes
                }
                Outcome::Failed(why, closes) => {
                    stderr.push_str(&format!(
                        "quotes: {}: {}\n",
                        target.label,
                        crate::text::message(why)
                    ));
                    failed.push(&target.label);
                    closes
                }
            };
            rows.extend(closes.iter().map(|(entry, when, quote)| {
                let mut row = entry.row(*when, Ok(quote.as_ref()));
                row.commodity = &target.commodity;
                (at, row)
            }));
        }
        rows.sort_by_key(|(at, row)| (row.result.as_ref().ok().and_then(|q| q.market_date), *at));
        let mut written = HashSet::new();
        rows.retain(|(_, row)| {
            let quote = row.result.as_ref().ok();
            written.insert((
                row.commodity,
                quote.and_then(|q| q.currency.as_deref()),
                quote.and_then(|q| q.market_date),
            ))
        });
        let rows: Vec<Row<'_>> = rows.into_iter().map(|(_, row)| row).collect();
        let count = rows.len();
        let format = self.kind.format();
        let mut renderer = (format.renderer)();
        let rendered = output::render(format, &mut *renderer, rows, style);
        let mut status = ExitStatus::from_failed(!failed.is_empty() || rendered.failed);
        if let Some(stop @ (Stop::Interrupt | Stop::Terminate)) = stopped {
            output::write_stderr(stderr.as_bytes());
            output::write_stderr(format!("quotes: {name}: stopped; nothing written\n").as_bytes());
            self.file.discard_if_created_and_empty();
            return stop.status(status);
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
            if output::write_stdout(&rendered.stdout) == Written::Failed {
                status = ExitStatus::Failure;
            }
            format!(
                "{name}: would append {count} price{} (dry run){}\n",
                plural(count),
                failures(&failed)
            )
        } else {
            match self.file.append(&self.lines(&rendered.stdout)) {
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

    /// How many commodities the run keeps (a commodity in two currencies is one).
    fn commodities(&self) -> usize {
        let names: HashSet<&str> = self.targets.iter().map(|t| t.commodity.as_str()).collect();
        names.len()
    }

    /// The rendered lines as the file writes them: its line end, after one if it lacked it.
    fn lines(&self, rendered: &[u8]) -> Vec<u8> {
        let end = self.line_end.as_bytes();
        let mut bytes = Vec::with_capacity(rendered.len() + rendered.len() / 16 + 2);
        if !self.ends_with_newline {
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
        bytes
    }

    /// A target's closes the file lacks, or why it failed.
    fn outcome<'a>(
        &'a self,
        target: &'a Target,
        results: &[Fetched<'a>],
        style: &Style,
    ) -> Outcome<'a> {
        let entries = match &target.state {
            State::Fetch(entries) => entries,
            State::UpToDate => return Outcome::Closes(Vec::new()),
            State::Failed(why) => return Outcome::Failed(why.clone(), Vec::new()),
        };
        let format = self.kind.format();
        let mut closes = Vec::new();
        for at in entries {
            let Some((entry, when, result)) = results.get(*at) else {
                return Outcome::Failed("internal: result missing".into(), closes);
            };
            let quotes = match result {
                Ok(quotes) => *quotes,
                // The windows before this one are kept; none after it (no gap).
                Err(e) => return Outcome::Failed(e.to_string(), closes),
            };
            for quote in quotes {
                let quote = if target.inverted {
                    match invert(target, &entry.label, quote) {
                        Ok(inverse) => Cow::Owned(inverse),
                        Err(why) => return Outcome::Failed(why, Vec::new()),
                    }
                } else {
                    Cow::Borrowed(quote)
                };
                // Another currency than expected is another instrument: none of its
                // closes is written.
                if let Err(why) = self.check_currency(target, &entry.label, &quote) {
                    return Outcome::Failed(why, Vec::new());
                }
                let mut row = entry.row(*when, Ok(&quote));
                row.commodity = &target.commodity;
                // A price the format cannot write, or `--precision` would write as 0 (issue
                // 18), fails the commodity: none of its closes is written.
                if let Err(e) = style
                    .check(&quote, false)
                    .and_then(|()| (format.check)(&row, &quote))
                {
                    return Outcome::Failed(e.to_string(), Vec::new());
                }
                if self.is_new(target, &quote) {
                    closes.push((*entry, *when, quote));
                }
            }
        }
        Outcome::Closes(closes)
    }

    /// A commodity a ledger file prices in several currencies, priced by its name: its
    /// ticker is quoted in one of them, and the others' histories are not continued. Said,
    /// so that a run that keeps one currency never seems to keep them all.
    fn left_behind(&self, target: &Target, results: &[Fetched<'_>]) -> Option<String> {
        let (State::Fetch(entries), Expect::OneOf(want)) = (&target.state, &target.expect) else {
            return None;
        };
        let (_, _, Ok(quotes)) = results.get(*entries.first()?)? else {
            return None;
        };
        let got = quotes.first()?.currency.as_deref()?;
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
