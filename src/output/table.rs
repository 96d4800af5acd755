//! `table`, the default format: aligned columns without a header. Text fields are
//! left-aligned, numbers right-aligned, so `awk '{print $2}'` picks the price. Failed
//! tickers print no line here (their message goes to stderr). On a terminal, the price and
//! the day's change are green or red by the direction of the change.
//!
//! Widths are display columns (`unicode-width`: a CJK name takes two per character), and
//! padding is written by hand, never through a `format!` width, which panics past 65,535.
//!
//! The columns are aligned over every row of a round, so the table is written at the end of
//! the round (issue 20): until then it keeps each row's cells as text, each behind its
//! length, and the widest cell of each column. A 30-year history of a portfolio is tens of
//! MB of such text, so past a few MiB the rows go to a temporary file (`spill`), and at
//! the end they are read back and written out a part at a time: the table's memory is
//! bounded like every other format's (`-f tsv` writes each row as it comes).

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};

use unicode_width::UnicodeWidthStr;

use super::fields::{self, Field};
use super::{FormatSpec, Render, Row, Style};
use crate::spill;

pub static FORMAT: FormatSpec = FormatSpec {
    name: "table",
    about: "Aligned columns for people (the default)",
    appends: Ok(()),
    check: super::always,
    renderer: || Box::new(Table::default()),
    all_fields: false,
    for_people: true,
};

const GREEN: &str = "\x1b[32m";
const RED: &str = "\x1b[31m";
const RESET: &str = "\x1b[0m";

/// Bytes of rows kept as text in memory; past it they go to a temporary file.
const IN_MEMORY: usize = 4 << 20;

/// Bytes of aligned lines [`Table::end`] writes at a time.
const PART: usize = 256 << 10;

/// The round's rows so far, as text: in memory, and past [`IN_MEMORY`] bytes in a temporary
/// file (`spill::temporary_file`; one that cannot be made or written keeps them in memory,
/// said once on stderr).
struct Table {
    /// The rows not in the file: each its colour (0 none, 1 green, 2 red), then each
    /// cell's length (as a varint) and text.
    cells: Vec<u8>,
    /// The widest cell of each column, in display columns.
    widths: Vec<usize>,
    /// The rows set aside, in blocks of whole rows, each behind its length (8 bytes,
    /// little-endian): `blocks` of them, written whole.
    file: Option<File>,
    blocks: usize,
    /// The file failed: what comes stays in memory.
    no_file: bool,
    /// Bytes of rows in memory that go to the file.
    budget: usize,
    /// How the file is made (a test gives one that fails).
    make: fn() -> io::Result<File>,
    /// At the end: the file being read back, the block being written out and how far,
    /// and whether the rows in memory were taken.
    reading: Option<BufReader<File>>,
    block: Vec<u8>,
    at: usize,
    ending: bool,
}

impl Default for Table {
    fn default() -> Table {
        Table::with_file(IN_MEMORY, spill::temporary_file)
    }
}

impl Render for Table {
    fn rows(&mut self, rows: &[Row<'_>], style: &Style, _out: &mut Vec<u8>) {
        self.widths.resize(style.fields.len(), 0);
        let mut cell = String::new();
        for (row, quote) in rows
            .iter()
            .filter_map(|r| r.result.as_ref().ok().map(|q| (r, *q)))
        {
            let colour = match fields::change(quote).filter(|_| style.color) {
                Some(c) if c.is_zero() => 0,
                Some(c) if c.is_sign_positive() => 1,
                Some(_) => 2,
                None => 0,
            };
            self.cells.push(colour);
            for (field, width) in style.fields.iter().zip(&mut self.widths) {
                cell.clear();
                field.push(&mut cell, row, quote, style);
                *width = (*width).max(cell.width());
                // A cell's length, before its text.
                spill::write_varint(&mut self.cells, cell.len() as u128);
                self.cells.extend_from_slice(cell.as_bytes());
            }
        }
        if self.cells.len() >= self.budget
            && !self.no_file
            && let Err(e) = self.set_aside()
        {
            spill::keeping_in_memory(&e);
            self.no_file = true;
        }
    }

    fn end(&mut self, style: &Style, out: &mut Vec<u8>) -> io::Result<bool> {
        let done = self.write_part(style, out);
        if !matches!(done, Ok(false)) {
            // Ready for the next round (`--watch`), whatever happened to this one.
            *self = Table::with_file(self.budget, self.make);
        }
        done
    }
}

impl Table {
    fn with_file(budget: usize, make: fn() -> io::Result<File>) -> Table {
        Table {
            cells: Vec::new(),
            widths: Vec::new(),
            file: None,
            blocks: 0,
            no_file: false,
            budget,
            make,
            reading: None,
            block: Vec::new(),
            at: 0,
            ending: false,
        }
    }

    /// The rows in memory, moved to the end of the file as one block. On an error they
    /// stay in memory, and the file's first `blocks` blocks are still whole.
    fn set_aside(&mut self) -> io::Result<()> {
        let file = match &mut self.file {
            Some(file) => file,
            None => self.file.insert((self.make)()?),
        };
        file.write_all(&(self.cells.len() as u64).to_le_bytes())?;
        file.write_all(&self.cells)?;
        self.blocks += 1;
        self.cells.clear();
        Ok(())
    }

    /// The next rows to write out, into `block`: a block from the file, then the rows in
    /// memory; `false` when there are none left.
    fn next_block(&mut self) -> io::Result<bool> {
        if !self.ending {
            self.ending = true;
            if let Some(mut file) = self.file.take() {
                file.seek(SeekFrom::Start(0))?;
                self.reading = Some(BufReader::with_capacity(1 << 16, file));
            }
        }
        self.at = 0;
        if self.blocks > 0
            && let Some(reading) = &mut self.reading
        {
            let mut len = [0; 8];
            reading.read_exact(&mut len)?;
            let len = u64::from_le_bytes(len);
            self.block.clear();
            reading.take(len).read_to_end(&mut self.block)?;
            if self.block.len() as u64 != len {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            self.blocks -= 1;
            return Ok(true);
        }
        self.reading = None;
        self.block = std::mem::take(&mut self.cells);
        Ok(!self.block.is_empty())
    }

    /// The next lines, aligned, into `out`: about [`PART`] bytes; `true` once every row is
    /// written.
    fn write_part(&mut self, style: &Style, out: &mut Vec<u8>) -> io::Result<bool> {
        let start = out.len();
        let mut line = String::new();
        loop {
            if self.at >= self.block.len() && !self.next_block()? {
                return Ok(true);
            }
            let mut cells = &self.block[self.at..];
            while !cells.is_empty() && out.len() - start < PART {
                cells = self.write_row(cells, style, &mut line, out);
            }
            self.at = self.block.len() - cells.len();
            if out.len() - start >= PART {
                return Ok(false);
            }
        }
    }

    /// The row at the front of `cells`, aligned, into `out`; what follows it.
    fn write_row<'c>(
        &self,
        cells: &'c [u8],
        style: &Style,
        line: &mut String,
        out: &mut Vec<u8>,
    ) -> &'c [u8] {
        let Some((&colour, mut cells)) = cells.split_first() else {
            return &[];
        };
        let colour = match colour {
            1 => Some(GREEN),
            2 => Some(RED),
            _ => None,
        };
        line.clear();
        for (i, (field, width)) in style.fields.iter().zip(&self.widths).enumerate() {
            let (cell, rest) = take_cell(cells);
            cells = rest;
            if i > 0 {
                line.push_str("  ");
            }
            let pad = width.saturating_sub(cell.width());
            let coloured = colour.filter(|_| colours(*field));
            if let Some(c) = coloured {
                line.push_str(c);
            }
            if field.is_numeric() {
                push_spaces(line, pad);
                line.push_str(cell);
            } else {
                line.push_str(cell);
                push_spaces(line, pad);
            }
            if coloured.is_some() {
                line.push_str(RESET);
            }
        }
        out.extend_from_slice(line.trim_end().as_bytes());
        out.push(b'\n');
        cells
    }
}

/// The next cell kept by [`Table::rows`], and what follows it. The bytes were written by
/// this renderer from `String`s, so they are whole cells of UTF-8; anything else (which
/// cannot happen) reads as an empty cell rather than a panic.
fn take_cell(cells: &[u8]) -> (&str, &[u8]) {
    let mut len = 0usize;
    let mut at = 0;
    for (i, byte) in cells.iter().enumerate() {
        len |= usize::from(byte & 0x7f)
            .checked_shl(7 * u32::try_from(i).unwrap_or(u32::MAX))
            .unwrap_or(0);
        if byte & 0x80 == 0 {
            at = i + 1;
            break;
        }
    }
    let Some((text, rest)) = cells.get(at..).and_then(|c| c.split_at_checked(len)) else {
        return ("", &[]);
    };
    (std::str::from_utf8(text).unwrap_or_default(), rest)
}

fn push_spaces(line: &mut String, n: usize) {
    line.extend(std::iter::repeat_n(' ', n));
}

fn colours(field: Field) -> bool {
    matches!(field, Field::Price | Field::Change | Field::ChangePercent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::FetchError;
    use crate::output::test_rows::{failed, ok, quote, render};
    use crate::quote::{Quote, parse_price};

    #[test]
    fn aligns_columns_and_skips_failures() {
        let (a, b, c) = (
            quote("135.716", Some("USD")),
            quote("712345.5", Some("USD")),
            quote("1", None),
        );
        let rows = vec![
            ok("VTSAX", &a),
            failed("NOPE", FetchError::InvalidTicker("x".into())),
            ok("BRK-A", &b),
            ok("X", &c),
        ];
        assert_eq!(
            render(&FORMAT, &rows, &Style::default()),
            "VTSAX     135.72  USD\nBRK-A  712345.50  USD\nX           1.00\n"
        );
    }

    /// `table`'s output of `rows` through `table`, given a few rows at a time and written
    /// out a part at a time; and how many parts that took.
    fn in_parts(mut table: Table, rows: &[Row<'_>], style: &Style) -> (String, usize) {
        let mut out = Vec::new();
        for part in rows.chunks(7) {
            table.rows(part, style, &mut out);
        }
        assert!(out.is_empty(), "a table writes nothing before the end");
        let mut parts = 1;
        while !table.end(style, &mut out).unwrap() {
            parts += 1;
        }
        (String::from_utf8(out).unwrap(), parts)
    }

    /// Rows of growing widths, every 100th a failure.
    fn many(quotes: &[Quote]) -> Vec<Row<'_>> {
        quotes
            .iter()
            .enumerate()
            .map(|(i, q)| match i % 100 {
                99 => failed("GONE", FetchError::InvalidTicker("x".into())),
                _ => ok(["A", "BB", "CCCCCC"][i % 3], q),
            })
            .collect()
    }

    #[test]
    fn rows_past_the_memory_go_to_a_temporary_file_and_come_back_the_same() {
        let quotes: Vec<Quote> = (0..20_000)
            .map(|i| quote(&format!("{}.{:02}", i * 37 % 100_000, i % 100), Some("USD")))
            .collect();
        let rows = many(&quotes);
        let style = Style::default();
        let whole = render(&FORMAT, &rows, &style);
        assert_eq!(whole.lines().count(), 20_000 - 200);
        assert!(whole.len() > PART, "{} bytes: one part", whole.len());
        let mut table = Table::with_file(1000, spill::temporary_file);
        table.rows(&rows[..100], &style, &mut Vec::new());
        assert!(table.blocks > 0 && table.cells.is_empty(), "set aside");
        let (parts, count) = in_parts(Table::with_file(1000, spill::temporary_file), &rows, &style);
        assert!(
            parts == whole,
            "the table differs when its rows went to a file"
        );
        assert!(count > 1, "written out in one part");
        // The renderer is ready for another round, and the next round is aligned alone.
        let mut table = Table::with_file(1000, spill::temporary_file);
        let _ = in_parts_reused(&mut table, &rows, &style);
        let one = quote("1", Some("USD"));
        assert_eq!(
            in_parts_reused(&mut table, &[ok("X", &one)], &style),
            "X  1.00  USD\n"
        );
    }

    fn in_parts_reused(table: &mut Table, rows: &[Row<'_>], style: &Style) -> String {
        let mut out = Vec::new();
        table.rows(rows, style, &mut out);
        while !table.end(style, &mut out).unwrap() {}
        String::from_utf8(out).unwrap()
    }

    // /dev/full is Linux's: every write to it fails with ENOSPC, as on a full disk.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_full_disk_keeps_the_rows_in_memory_and_loses_none() {
        fn full() -> io::Result<File> {
            File::options().read(true).write(true).open("/dev/full")
        }
        let quotes: Vec<Quote> = (0..3_000)
            .map(|i| quote(&format!("{i}.5"), Some("USD")))
            .collect();
        let rows = many(&quotes);
        let style = Style::default();
        let whole = render(&FORMAT, &rows, &style);
        let (parts, _) = in_parts(Table::with_file(1000, full), &rows, &style);
        assert!(parts == whole, "rows lost on a full disk");
    }

    #[test]
    fn widths_are_display_columns_and_never_panic() {
        let mut wide = quote("1", Some("USD"));
        wide.name = Some("日本株".into());
        let mut huge = quote("2", Some("USD"));
        huge.name = Some("x".repeat(70_000).into());
        let rows = vec![ok("A", &wide), ok("B", &huge)];
        let style = Style {
            fields: vec![Field::Name, Field::Symbol],
            ..Style::default()
        };
        let out = render(&FORMAT, &rows, &style);
        let first = out.lines().next().unwrap();
        assert_eq!(first, format!("日本株{}  A", " ".repeat(70_000 - 6)));
    }

    #[test]
    fn colours_only_when_asked_and_only_with_a_change() {
        let mut up = quote("11", Some("USD"));
        up.previous_close = Some(parse_price("10").unwrap());
        let mut down = quote("9", Some("USD"));
        down.previous_close = Some(parse_price("10").unwrap());
        let flat = quote("10", Some("USD"));
        let rows = vec![ok("UP", &up), ok("DOWN", &down), ok("FLAT", &flat)];
        let style = Style {
            color: true,
            fields: vec![Field::Symbol, Field::Price, Field::Change],
            ..Style::default()
        };
        assert_eq!(
            render(&FORMAT, &rows, &style),
            "UP    \x1b[32m11.00\x1b[0m  \x1b[32m 1.00\x1b[0m\n\
             DOWN  \x1b[31m 9.00\x1b[0m  \x1b[31m-1.00\x1b[0m\n\
             FLAT  10.00\n"
        );
        let plain = render(
            &FORMAT,
            &rows,
            &Style {
                color: false,
                ..style
            },
        );
        assert!(!plain.contains('\x1b'), "{plain:?}");
    }
}
