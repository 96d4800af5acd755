//! Writing results: the registry of formats, and the policy for stdout and stderr.
//!
//! **A format is one renderer file plus one line.** Each file describes its format in a
//! static [`FormatSpec`] (its name for `-f`, its line in `--help`, its own rules: which
//! prices it can write, whether rounds can be appended for `--watch`) and implements
//! [`Render`]; the line adds the spec to [`FORMATS`]. `-f`'s accepted values and their help
//! come from the registry.
//!
//! A round is rendered into memory first ([`render`]: data for stdout, one line per failure
//! for stderr), then written in one go ([`write_stdout`]): a writer that blocks on a full
//! pipe can then be abandoned when a signal arrives, and a broken pipe is quiet (the reader,
//! `head -1`, has what it wanted) while any other write error (a full disk) is reported.
//! Which fields exist and how each is written as text lives in `fields`.

pub mod beancount;
pub mod csv;
mod directive;
pub mod fields;
pub mod json;
pub mod jsonl;
pub mod ledger;
pub mod table;
pub mod tsv;

use std::io::{self, Write};

pub use fields::Field;

use rust_decimal::Decimal;

use crate::error::FetchError;
use crate::exit::{Signals, Stop};
use crate::history::Adjust;
use crate::quote::{self, Decimals, Quote};
use crate::text;

/// Every output format, in the order `--help` lists them; the first is the default.
pub static FORMATS: &[&FormatSpec] = &[
    &table::FORMAT,
    &tsv::FORMAT,
    &csv::FORMAT,
    &json::FORMAT,
    &jsonl::FORMAT,
    &ledger::FORMAT,
    &beancount::FORMAT,
];

/// What a format is, and its own rules.
pub struct FormatSpec {
    /// The name `-f` takes: `csv`.
    pub name: &'static str,
    /// Its line in `--help`.
    pub about: &'static str,
    /// Whether rounds can be appended to one stream (`--watch`); `Err` says what to use
    /// instead.
    pub appends: Result<(), &'static str>,
    /// Whether a fetched price can be written in this format: a price it cannot express
    /// becomes that ticker's error, never an invalid line.
    pub check: fn(&Row<'_>, &Quote) -> Result<(), FetchError>,
    /// A renderer for one stream of rounds (a csv header is written once per stream).
    pub renderer: fn() -> Box<dyn Render>,
    /// Whether it writes every field it knows (JSON) rather than the `-o` columns: then
    /// names and exchanges must be kept; otherwise only when `-o` asks for them.
    pub all_fields: bool,
    /// Whether it is for people at a terminal: then the day's change is coloured (with
    /// `--color`), and `--watch` redraws each round in place rather than appending it.
    pub for_people: bool,
}

impl std::fmt::Debug for FormatSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl PartialEq for FormatSpec {
    fn eq(&self, other: &FormatSpec) -> bool {
        self.name == other.name
    }
}

impl FormatSpec {
    /// The format called `name`.
    pub fn named(name: &str) -> Option<&'static FormatSpec> {
        FORMATS.iter().copied().find(|f| f.name == name)
    }
}

/// Any price can be written (the check of formats without rules of their own).
pub fn always(_row: &Row<'_>, _quote: &Quote) -> Result<(), FetchError> {
    Ok(())
}

/// Writes rounds of rows in one format.
pub trait Render {
    fn write(&mut self, rows: &[Row<'_>], style: &Style, out: &mut dyn Write) -> io::Result<()>;
}

/// One line of output in input order: a ticker's price (a range gives one row per day), or
/// the reason it has none.
#[derive(Debug, Clone)]
pub struct Row<'a> {
    /// What the user typed, verbatim (JSON carries it as is).
    pub input: &'a str,
    /// The symbol as shown on stderr and in text formats: uppercased when valid, else an
    /// escaped, shortened copy of the input.
    pub label: &'a str,
    /// The source asked, when the ticker got that far.
    pub source: Option<&'static str>,
    pub result: Result<&'a Quote, FetchError>,
    /// The commodity ledger and beancount write the price as: `NAME` of `TICKER@NAME`, the
    /// base of a currency pair (`BTC` for `BTC-USD`), else the symbol (issue 10).
    pub commodity: &'a str,
    /// Which close a past day's price is (`--adjust`); `None` for the latest price.
    pub adjust: Option<Adjust>,
}

impl Row<'_> {
    /// Whether the ticker was valid (so `label` is its symbol).
    pub fn is_resolved(&self) -> bool {
        self.source.is_some()
    }
}

/// How values are written.
#[derive(Debug, Clone)]
pub struct Style {
    /// Decimals after rounding half-to-even (`--precision`); `None`: each price's own.
    pub precision: Option<u32>,
    /// Columns for table, tsv and csv (`-o/--fields`).
    pub fields: Vec<Field>,
    /// Colour the day's change (table on a terminal only).
    pub color: bool,
}

impl Default for Style {
    fn default() -> Style {
        Style {
            precision: None,
            fields: fields::DEFAULT.to_vec(),
            color: false,
        }
    }
}

impl Style {
    /// The decimals `value` is written with: `--precision` when given, else the rule for
    /// its own precision (`Quote::precision`, see `quote::places`: 2, or the source's own;
    /// below 1 at least 4 significant digits). The one place this is decided.
    pub fn places(&self, value: Decimal, own: Option<Decimals>) -> u32 {
        self.precision
            .unwrap_or_else(|| quote::places(value, own.unwrap_or(Decimals::DEFAULT)))
    }

    /// The decimals of a quote's price.
    pub fn price_places(&self, quote: &Quote) -> u32 {
        self.places(quote.price, quote.precision)
    }

    /// The decimals of a quote's previous close and day's change: the price's, so that
    /// `price − previous close = change` reads at one scale; the previous close gets more
    /// when its own value needs them (a sub-cent close is never written as 0.00).
    pub fn close_places(&self, quote: &Quote, close: Decimal) -> u32 {
        self.price_places(quote)
            .max(self.places(close, quote.precision))
    }

    /// A quote `--precision` cannot write: a price, or a previous close or quoted price the
    /// output shows (every field when `all_fields`, as JSON writes them), that is not zero
    /// but rounds to zero at the decimals asked for (issue 18) is that ticker's error, in
    /// every format and in `--update`, never a printed zero.
    pub fn check(&self, quote: &Quote, all_fields: bool) -> Result<(), FetchError> {
        let Some(places) = self.precision else {
            return Ok(()); // each number's own rule never writes one that is not zero as 0
        };
        let shown = |field: Field| all_fields || self.fields.contains(&field);
        let quoted = quote.quoted.as_ref().map(|q| q.price);
        [
            ("price", Some(quote.price)),
            (
                "previous close",
                quote.previous_close.filter(|_| shown(Field::PreviousClose)),
            ),
            ("quoted price", quoted.filter(|_| shown(Field::QuotedPrice))),
        ]
        .into_iter()
        .filter_map(|(what, value)| Some((what, value?)))
        .try_for_each(|(what, value)| quote::check_representable(what, value, places))
        .map_err(FetchError::Unrepresentable)
    }
}

/// One round, rendered.
#[derive(Debug, Default)]
pub struct Rendered {
    /// The data, for stdout.
    pub stdout: Vec<u8>,
    /// `quotes: SYMBOL: message`, one line per failed ticker, for stderr.
    pub stderr: Vec<u8>,
    /// Whether any ticker failed.
    pub failed: bool,
}

/// Render one round: the checks first (a price `--precision` would write as zero, or the
/// format cannot express, becomes that ticker's error), then the data and the error lines.
pub fn render(
    format: &FormatSpec,
    renderer: &mut dyn Render,
    mut rows: Vec<Row<'_>>,
    style: &Style,
) -> Rendered {
    for row in &mut rows {
        if let Ok(quote) = row.result
            && let Err(e) = style
                .check(quote, format.all_fields)
                .and_then(|()| (format.check)(row, quote))
        {
            row.result = Err(e);
        }
    }
    let mut rendered = Rendered {
        failed: rows.iter().any(|r| r.result.is_err()),
        ..Rendered::default()
    };
    // Writing into a Vec cannot fail.
    let _ = renderer.write(&rows, style, &mut rendered.stdout);
    let _ = report_errors(&rows, &mut rendered.stderr);
    rendered
}

/// `quotes: SYMBOL: message` for every failed ticker, in input order. The message goes
/// through `text::message` whatever built it: one line, nothing that acts on a terminal.
pub fn report_errors(rows: &[Row<'_>], err: &mut impl Write) -> io::Result<()> {
    for row in rows {
        if let Err(e) = &row.result {
            writeln!(
                err,
                "quotes: {}: {}",
                row.label,
                text::message(&e.to_string())
            )?;
        }
    }
    Ok(())
}

/// How writing to stdout went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// Everything was written.
    Ok,
    /// The reader went away (a closed pipe): nothing more to write, ever, and not a failure.
    Gone,
    /// Writing failed (a full disk); the message is on stderr.
    Failed,
}

/// Write a rendered round: the data to stdout, then the error lines to stderr. The writing
/// happens on a thread of its own, so that a caller waiting on this can give up on it when a
/// signal arrives, even while stdout is a pipe nobody reads and the write is blocked.
pub async fn write(rendered: Rendered) -> Written {
    let (done, written) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("quotes-output".into())
        .spawn(move || {
            let written = write_stdout(&rendered.stdout);
            write_stderr(&rendered.stderr);
            let _ = done.send(written);
        });
    match spawned {
        Ok(_) => written.await.unwrap_or(Written::Failed),
        Err(e) => stdout_error(&e),
    }
}

/// How long what arrived may take to be written once a signal stopped the run.
const SIGNALLED_WRITE_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// [`write`] a round, unless a signal ends the run first: a signal while writing (stdout a
/// full pipe nobody reads) ends it at once. After `stopped`, the stop that ended the fetch,
/// when it was a signal, what arrived gets a moment to be written (a reader that reads),
/// not forever (a reader that does not). `Err` is the signal that ended the writing.
pub async fn write_unless_signalled(
    rendered: Rendered,
    signals: &mut Signals,
    stopped: Option<Stop>,
) -> Result<Written, Stop> {
    let signalled = stopped.filter(|s| !matches!(s, Stop::Deadline(_)));
    let grace = async {
        match signalled {
            Some(stop) => {
                tokio::time::sleep(SIGNALLED_WRITE_GRACE).await;
                stop
            }
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        written = write(rendered) => Ok(written),
        stop = signals.next() => Err(stop),
        stop = grace => Err(stop),
    }
}

/// Write `bytes` to stdout and flush. A broken pipe means the reader (`head -1`) has what it
/// wanted: quiet, and not a failure (ripgrep does the same). Anything else (a full disk,
/// `> /dev/full`) is reported on stderr.
pub fn write_stdout(bytes: &[u8]) -> Written {
    let mut out = io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Written::Ok,
        Err(e) => stdout_error(&e),
    }
}

/// What a failed write to stdout means (see [`write_stdout`]).
pub fn stdout_error(e: &io::Error) -> Written {
    if e.kind() == io::ErrorKind::BrokenPipe {
        Written::Gone
    } else {
        let _ = writeln!(io::stderr(), "quotes: error writing output: {e}");
        Written::Failed
    }
}

/// Write `bytes` to stderr; stderr may be closed too, and then there is nobody to tell.
pub fn write_stderr(bytes: &[u8]) {
    let mut err = io::stderr().lock();
    let _ = err.write_all(bytes).and_then(|()| err.flush());
}

#[cfg(test)]
pub(crate) mod test_rows {
    //! Rows shared by the renderers' unit tests.
    use super::*;
    use crate::quote::parse_price;

    pub fn quote(price: &str, currency: Option<&str>) -> Quote {
        Quote {
            price: parse_price(price).unwrap(),
            currency: currency.map(str::to_string),
            time: Some(1_763_672_400), // 2025-11-20T21:00:00Z
            market_date: None,
            previous_close: None,
            name: None,
            exchange: None,
            precision: None,
            quoted: None,
            fx: None,
        }
    }

    pub fn ok<'a>(symbol: &'a str, quote: &'a Quote) -> Row<'a> {
        Row {
            input: symbol,
            label: symbol,
            source: Some("yahoo"),
            result: Ok(quote),
            commodity: symbol,
            adjust: None,
        }
    }

    pub fn failed(symbol: &str, error: FetchError) -> Row<'_> {
        Row {
            input: symbol,
            label: symbol,
            source: Some("yahoo"),
            result: Err(error),
            commodity: symbol,
            adjust: None,
        }
    }

    /// Render `rows` as `format` with `style`, as a string.
    pub fn render(format: &FormatSpec, rows: &[Row<'_>], style: &Style) -> String {
        let mut out = Vec::new();
        (format.renderer)().write(rows, style, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_are_unique_and_the_default_is_table() {
        let mut names: Vec<&str> = FORMATS.iter().map(|f| f.name).collect();
        assert_eq!(names[0], "table");
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), FORMATS.len());
    }

    #[test]
    fn precision_refuses_only_a_zero_it_would_print() {
        let mut q = test_rows::quote("1.5", Some("USD"));
        q.previous_close = crate::quote::parse_price("0.004").ok();
        let two = Style {
            precision: Some(2),
            ..Style::default()
        };
        // Not shown (symbol, price, currency): no reason to refuse the price.
        assert!(two.check(&q, false).is_ok());
        let err = two.check(&q, true).unwrap_err();
        assert_eq!(err.kind(), "unrepresentable");
        assert!(
            err.to_string()
                .starts_with("the previous close 0.004 rounds"),
            "{err}"
        );
        let with_close = Style {
            fields: vec![Field::Price, Field::PreviousClose],
            ..two.clone()
        };
        assert!(with_close.check(&q, false).is_err());
        // By its own rule nothing is refused.
        assert!(Style::default().check(&q, true).is_ok());
    }

    #[test]
    fn a_price_the_format_cannot_write_becomes_that_tickers_error() {
        let q = test_rows::quote("1", None);
        let rows = vec![test_rows::ok("X", &q)];
        let rendered = render(
            &ledger::FORMAT,
            &mut *(ledger::FORMAT.renderer)(),
            rows,
            &Style::default(),
        );
        assert!(rendered.failed);
        assert!(rendered.stdout.is_empty());
        let err = String::from_utf8(rendered.stderr).unwrap();
        assert!(err.starts_with("quotes: X: no currency"), "{err}");
    }
}
