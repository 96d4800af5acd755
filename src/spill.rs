//! Prices set aside until their turn comes (issue 20): compactly in memory up to a budget,
//! in a temporary file beyond it.
//!
//! A round writes each ticker's rows once every ticker before it has been written, and
//! then drops them; a few things must wait longer. A ticker asked for twice is written at
//! each place (its rows wait for the later one); with `--currency`, every price waits for
//! the rates, which are fetched once all the prices are in; `--update` sorts its new lines
//! by date across every commodity. What waits is set aside here, encoded at about a tenth
//! of the memory of the `Quote`s it stands for (a close of a history is a dozen bytes: the
//! day and time as differences from the close before, the price as its digits), and
//! beyond [`Spill::new`]'s budget in an anonymous temporary file (deleted by the system
//! when the run ends, however it ends), so that thirty years of a whole portfolio never
//! have to be held at once.
//!
//! What is read back is exactly what was set aside, field for field (`Decimal`s with their
//! scale and sign, names shared between the closes of one record as they were). The file
//! is ours and lives only as long as the run, but a disk can fail: a record that cannot be
//! read back whole is an error for the ticker it belongs to, never a wrong price. A file
//! that cannot be made or written (no temporary directory, a full disk) keeps the records
//! in memory instead, as the build before did, and says so once on stderr
//! ([`keeping_in_memory`]): the memory bound is lost, never a price.
//!
//! **Where.** [`temporary_file`]: in the system's temporary directory (`TMPDIR`, else
//! `/tmp`; `%TEMP%` on Windows), through `tempfile`: created exclusively under a random
//! name and unlinked at once (or never named at all, `O_TMPFILE`), and deleted on close
//! on Windows, so that no other user can open it and nothing is left behind when the run
//! ends, however it ends (an exit, Ctrl-C, `--deadline`, a kill).

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, BufRead, Read, Seek, SeekFrom, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rust_decimal::Decimal;

use crate::calendar::{day_number, from_day_number};
use crate::quote::{Decimals, FxRate, MAX_SCALE, Quote, Quoted};

/// A new temporary file for what waits (see the module docs: where, and why nothing is
/// left behind).
pub fn temporary_file() -> io::Result<File> {
    tempfile::tempfile()
}

/// Say, once a run, that a temporary file could not be made or written (`e`), so that what
/// waits for its turn is kept in memory instead.
pub fn keeping_in_memory(e: &io::Error) {
    static SAID: AtomicBool = AtomicBool::new(false);
    if SAID.swap(true, Ordering::Relaxed) {
        return;
    }
    let dir = std::env::temp_dir();
    let why = crate::text::message(&format!(
        "cannot write a temporary file in {} ({e}); keeping the prices that wait for \
         their turn in memory instead (set TMPDIR to a directory with room)",
        dir.display()
    ));
    crate::output::write_stderr(format!("quotes: warning: {why}\n").as_bytes());
}

/// A record set aside: which one, for reading it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Id(usize);

/// Where a record is.
enum Record {
    Memory(Box<[u8]>),
    Disk { offset: u64, len: u64 },
}

/// Records of quotes, in memory up to a budget and in a temporary file beyond it.
pub struct Spill {
    /// Bytes of records that may stay in memory.
    budget: usize,
    /// Bytes of records in memory now.
    in_memory: usize,
    records: Vec<Option<Record>>,
    /// The temporary file, once a record went to disk; shared by every reader.
    file: RefCell<Option<File>>,
    /// Its length: where the next record goes.
    end: u64,
    /// The file could not be made or written: everything stays in memory.
    no_file: bool,
    /// How the file is made: [`temporary_file`] (a test gives a file that fails).
    make: fn() -> io::Result<File>,
}

impl Spill {
    /// A store that keeps up to `budget` bytes of records in memory.
    pub fn new(budget: usize) -> Spill {
        Spill::with_file(budget, temporary_file)
    }

    /// A store whose temporary file `make` makes.
    fn with_file(budget: usize, make: fn() -> io::Result<File>) -> Spill {
        Spill {
            budget,
            in_memory: 0,
            records: Vec::new(),
            file: RefCell::new(None),
            end: 0,
            no_file: false,
            make,
        }
    }

    /// Bytes of records held in memory.
    #[cfg(test)]
    pub fn in_memory(&self) -> usize {
        self.in_memory
    }

    /// Set `quotes` aside; they are read back with [`Spill::get`] or [`Spill::reader`].
    pub fn put(&mut self, quotes: &[Quote]) -> Id {
        let mut bytes = Vec::with_capacity(quotes.len() * 16 + 8);
        encode(quotes, &mut bytes);
        let record = if self.in_memory + bytes.len() > self.budget && !self.no_file {
            match self.write_to_disk(&bytes) {
                Ok(record) => record,
                // The records already on disk stay readable: each was written whole, and
                // this one's bytes (maybe some of them) lie past them.
                Err(e) => {
                    keeping_in_memory(&e);
                    self.no_file = true;
                    self.memory(bytes)
                }
            }
        } else {
            self.memory(bytes)
        };
        self.records.push(Some(record));
        Id(self.records.len() - 1)
    }

    fn memory(&mut self, bytes: Vec<u8>) -> Record {
        self.in_memory += bytes.len();
        Record::Memory(bytes.into_boxed_slice())
    }

    fn write_to_disk(&mut self, bytes: &[u8]) -> io::Result<Record> {
        let mut slot = self.file.borrow_mut();
        let file = match &mut *slot {
            Some(file) => file,
            None => slot.insert((self.make)()?),
        };
        file.seek(SeekFrom::Start(self.end))?;
        file.write_all(bytes)?;
        let offset = self.end;
        self.end += bytes.len() as u64;
        Ok(Record::Disk {
            offset,
            len: bytes.len() as u64,
        })
    }

    /// The quotes of record `id`, whole.
    pub fn get(&self, id: Id) -> io::Result<Vec<Quote>> {
        let mut reader = self.reader(id)?;
        let mut quotes = Vec::with_capacity(reader.remaining());
        while let Some(quote) = reader.next_quote()? {
            quotes.push(quote);
        }
        Ok(quotes)
    }

    /// The quotes of record `id`, one at a time (a record on disk is read a few KiB at a
    /// time).
    pub fn reader(&self, id: Id) -> io::Result<Reader<'_>> {
        let source = match self.records.get(id.0).and_then(Option::as_ref) {
            Some(Record::Memory(bytes)) => Source::Memory(bytes),
            Some(Record::Disk { offset, len }) => Source::Disk(DiskReader {
                file: &self.file,
                offset: *offset,
                left: *len,
                buf: Vec::new(),
                at: 0,
            }),
            None => {
                return Err(io::Error::other(
                    "internal: a record read after it was dropped",
                ));
            }
        };
        Reader::new(source)
    }

    /// Forget record `id` (its memory is freed; on disk its bytes stay until the run ends).
    pub fn remove(&mut self, id: Id) {
        if let Some(Some(Record::Memory(bytes))) = self.records.get_mut(id.0).map(Option::take) {
            self.in_memory -= bytes.len();
        }
    }
}

/// Where a reader reads from.
enum Source<'a> {
    Memory(&'a [u8]),
    Disk(DiskReader<'a>),
}

impl Read for Source<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        match self {
            Source::Memory(bytes) => bytes.read(out),
            Source::Disk(disk) => disk.read(out),
        }
    }
}

/// A record on disk, read through a small buffer of its own: several readers (one per
/// commodity, `--update`) take turns on the one file.
struct DiskReader<'a> {
    file: &'a RefCell<Option<File>>,
    offset: u64,
    left: u64,
    buf: Vec<u8>,
    at: usize,
}

/// How much of a record on disk a reader reads at a time.
const DISK_CHUNK: usize = 16 * 1024;

impl DiskReader<'_> {
    fn fill(&mut self) -> io::Result<()> {
        if self.at < self.buf.len() || self.left == 0 {
            return Ok(());
        }
        let n = usize::try_from(self.left).map_or(DISK_CHUNK, |left| left.min(DISK_CHUNK));
        self.buf.resize(n, 0);
        let mut slot = self.file.borrow_mut();
        let file = slot
            .as_mut()
            .ok_or_else(|| io::Error::other("internal: no temporary file"))?;
        file.seek(SeekFrom::Start(self.offset))?;
        file.read_exact(&mut self.buf)?;
        self.offset += n as u64;
        self.left -= n as u64;
        self.at = 0;
        Ok(())
    }
}

impl Read for DiskReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.fill()?;
        let n = out.len().min(self.buf.len() - self.at);
        out[..n].copy_from_slice(&self.buf[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// The quotes of one record, read back one at a time.
pub struct Reader<'a> {
    input: io::BufReader<Source<'a>>,
    /// Quotes not read yet.
    left: usize,
    /// What the next quote's fields may be the same as, or differ from.
    before: Before,
}

impl<'a> Reader<'a> {
    fn new(source: Source<'a>) -> io::Result<Reader<'a>> {
        let capacity = match &source {
            Source::Memory(_) => 64,
            Source::Disk(_) => DISK_CHUNK,
        };
        let mut input = io::BufReader::with_capacity(capacity, source);
        let left = usize::try_from(read_varint(&mut input)?).map_err(|_| invalid("count"))?;
        Ok(Reader {
            input,
            left,
            before: Before::default(),
        })
    }

    /// How many quotes are left to read.
    pub fn remaining(&self) -> usize {
        self.left
    }

    /// The next quote, or `None` after the last.
    pub fn next_quote(&mut self) -> io::Result<Option<Quote>> {
        if self.left == 0 {
            return Ok(None);
        }
        let quote = decode_one(&mut self.input, &mut self.before)?;
        self.left -= 1;
        Ok(Some(quote))
    }
}

/// The fields of the quote before that the next one is encoded against.
#[derive(Default)]
struct Before {
    currency: Option<String>,
    time: i64,
    day: i64,
    name: Option<Arc<str>>,
    exchange: Option<Arc<str>>,
}

impl Before {
    /// Now `quote` is the one before.
    fn follow(&mut self, quote: &Quote) {
        match (&mut self.currency, &quote.currency) {
            (Some(kept), Some(new)) => kept.clone_from(new),
            (kept, new) => kept.clone_from(new),
        }
        self.time = quote.time.unwrap_or(0);
        self.day = quote.market_date.map_or(0, day_number);
        self.name.clone_from(&quote.name);
        self.exchange.clone_from(&quote.exchange);
    }
}

// ---------------------------------------------------------------------------------------
// The encoding: a count, then each quote as a set of flags and the fields they say are
// there. Times and days are differences from the quote before (a day apart in a history),
// a currency, name or exchange equal to the one before is a flag, a decimal its scale and
// sign in one byte and its digits as a varint.

const CURRENCY: u16 = 1;
const SAME_CURRENCY: u16 = 1 << 1;
const TIME: u16 = 1 << 2;
const DAY: u16 = 1 << 3;
const PREVIOUS_CLOSE: u16 = 1 << 4;
const NAME: u16 = 1 << 5;
const SAME_NAME: u16 = 1 << 6;
const EXCHANGE: u16 = 1 << 7;
const SAME_EXCHANGE: u16 = 1 << 8;
const PRECISION: u16 = 1 << 9;
const QUOTED: u16 = 1 << 10;
const FX: u16 = 1 << 11;

fn encode(quotes: &[Quote], out: &mut Vec<u8>) {
    write_varint(out, quotes.len() as u128);
    let mut before = &Quote::default();
    for quote in quotes {
        encode_one(quote, before, out);
        before = quote;
    }
}

/// One quote, its times, days and texts against the quote `before` it.
fn encode_one(q: &Quote, before: &Quote, out: &mut Vec<u8>) {
    let same = |a: &Option<Arc<str>>, b: &Option<Arc<str>>| match (a, b) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b) || a == b,
        _ => false,
    };
    let mut flags = 0;
    if q.currency.is_some() {
        flags |= CURRENCY;
        if q.currency == before.currency {
            flags |= SAME_CURRENCY;
        }
    }
    for (present, bit) in [
        (q.time.is_some(), TIME),
        (q.market_date.is_some(), DAY),
        (q.previous_close.is_some(), PREVIOUS_CLOSE),
        (q.name.is_some(), NAME),
        (same(&q.name, &before.name), SAME_NAME),
        (q.exchange.is_some(), EXCHANGE),
        (same(&q.exchange, &before.exchange), SAME_EXCHANGE),
        (q.precision.is_some(), PRECISION),
        (q.quoted.is_some(), QUOTED),
        (q.fx.is_some(), FX),
    ] {
        if present {
            flags |= bit;
        }
    }
    write_varint(out, u128::from(flags));
    write_decimal(out, q.price);
    if flags & CURRENCY != 0 && flags & SAME_CURRENCY == 0 {
        write_text(out, q.currency.as_deref().unwrap_or_default());
    }
    if let Some(time) = q.time {
        write_signed(out, i128::from(time) - i128::from(before.time.unwrap_or(0)));
    }
    if let Some(day) = q.market_date {
        let before = before.market_date.map_or(0, day_number);
        write_signed(out, i128::from(day_number(day)) - i128::from(before));
    }
    if let Some(close) = q.previous_close {
        write_decimal(out, close);
    }
    if flags & NAME != 0 && flags & SAME_NAME == 0 {
        write_text(out, q.name.as_deref().unwrap_or_default());
    }
    if flags & EXCHANGE != 0 && flags & SAME_EXCHANGE == 0 {
        write_text(out, q.exchange.as_deref().unwrap_or_default());
    }
    if let Some(precision) = q.precision {
        write_precision(out, precision);
    }
    if let Some(quoted) = &q.quoted {
        write_decimal(out, quoted.price);
        match &quoted.currency {
            Some(currency) => {
                out.push(1);
                write_text(out, currency);
            }
            None => out.push(0),
        }
        write_optional_precision(out, quoted.precision);
    }
    if let Some(fx) = &q.fx {
        write_decimal(out, fx.rate);
        write_optional_precision(out, fx.precision);
        write_text(out, fx.source);
        match fx.date {
            Some(day) => {
                out.push(1);
                write_signed(out, i128::from(day_number(day)));
            }
            None => out.push(0),
        }
    }
}

fn decode_one(input: &mut impl BufRead, before: &mut Before) -> io::Result<Quote> {
    let flags = u16::try_from(read_varint(input)?).map_err(|_| invalid("flags"))?;
    let has = |bit: u16| flags & bit != 0;
    let price = read_decimal(input)?;
    let currency = match (has(CURRENCY), has(SAME_CURRENCY)) {
        (false, _) => None,
        (true, true) => before.currency.clone(),
        (true, false) => Some(read_text(input)?),
    };
    let time = match has(TIME) {
        true => {
            let time = i128::from(before.time) + read_signed(input)?;
            Some(i64::try_from(time).map_err(|_| invalid("time"))?)
        }
        false => None,
    };
    let market_date = match has(DAY) {
        true => {
            let day = i64::try_from(i128::from(before.day) + read_signed(input)?)
                .map_err(|_| invalid("day"))?;
            Some(from_day_number(day).ok_or_else(|| invalid("day"))?)
        }
        false => None,
    };
    let previous_close = has(PREVIOUS_CLOSE)
        .then(|| read_decimal(input))
        .transpose()?;
    let name = shared(input, (has(NAME), has(SAME_NAME)), &before.name)?;
    let exchange = shared(input, (has(EXCHANGE), has(SAME_EXCHANGE)), &before.exchange)?;
    let precision = has(PRECISION).then(|| read_precision(input)).transpose()?;
    let quoted = match has(QUOTED) {
        true => Some(Quoted {
            price: read_decimal(input)?,
            currency: match read_byte(input)? {
                0 => None,
                _ => Some(read_text(input)?),
            },
            precision: read_optional_precision(input)?,
        }),
        false => None,
    };
    let fx = match has(FX) {
        true => Some(FxRate {
            rate: read_decimal(input)?,
            precision: read_optional_precision(input)?,
            source: {
                let name = read_text(input)?;
                crate::source::SourceSpec::named(&name)
                    .map(|spec| spec.name)
                    .ok_or_else(|| invalid("rate source"))?
            },
            date: match read_byte(input)? {
                0 => None,
                _ => {
                    let day = i64::try_from(read_signed(input)?).map_err(|_| invalid("day"))?;
                    Some(from_day_number(day).ok_or_else(|| invalid("day"))?)
                }
            },
        }),
        false => None,
    };
    let quote = Quote {
        price,
        currency,
        time,
        market_date,
        previous_close,
        name,
        exchange,
        precision,
        quoted,
        fx,
    };
    before.follow(&quote);
    Ok(quote)
}

/// A name or exchange: absent, the one before (shared, not copied), or a new one.
fn shared(
    input: &mut impl BufRead,
    (present, same): (bool, bool),
    before: &Option<Arc<str>>,
) -> io::Result<Option<Arc<str>>> {
    Ok(match (present, same) {
        (false, _) => None,
        (true, true) => before.clone(),
        (true, false) => Some(Arc::from(read_text(input)?)),
    })
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("a price set aside does not read back ({what})"),
    )
}

/// `n` in 7-bit groups, low first, the high bit set on all but the last (`output::table`
/// writes its cells' lengths so too).
pub fn write_varint(out: &mut Vec<u8>, mut n: u128) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn read_byte(input: &mut (impl BufRead + ?Sized)) -> io::Result<u8> {
    let mut byte = [0];
    input.read_exact(&mut byte)?;
    Ok(byte[0])
}

fn read_varint(input: &mut (impl BufRead + ?Sized)) -> io::Result<u128> {
    let mut n: u128 = 0;
    for shift in (0..128).step_by(7) {
        let byte = read_byte(input)?;
        n |= u128::from(byte & 0x7f)
            .checked_shl(shift)
            .ok_or_else(|| invalid("number"))?;
        if byte & 0x80 == 0 {
            return Ok(n);
        }
    }
    Err(invalid("number"))
}

fn write_signed(out: &mut Vec<u8>, n: i128) {
    // Zig-zag: small negative and positive differences both take a byte or two.
    write_varint(out, ((n << 1) ^ (n >> 127)) as u128);
}

fn read_signed(input: &mut (impl BufRead + ?Sized)) -> io::Result<i128> {
    let n = read_varint(input)?;
    Ok((n >> 1) as i128 ^ -((n & 1) as i128))
}

fn write_text(out: &mut Vec<u8>, text: &str) {
    write_varint(out, text.len() as u128);
    out.extend_from_slice(text.as_bytes());
}

fn read_text(input: &mut (impl BufRead + ?Sized)) -> io::Result<String> {
    let len = usize::try_from(read_varint(input)?).map_err(|_| invalid("text"))?;
    // Never trust a length for an allocation: read what is there, up to it.
    let mut bytes = Vec::new();
    input.take(len as u64).read_to_end(&mut bytes)?;
    if bytes.len() != len {
        return Err(invalid("text"));
    }
    String::from_utf8(bytes).map_err(|_| invalid("text"))
}

/// A decimal: its scale and sign in one byte, then its 96-bit mantissa as a varint.
fn write_decimal(out: &mut Vec<u8>, value: Decimal) {
    let raw = value.serialize();
    out.push(raw[2] | (raw[3] & 0x80));
    let mut mantissa = [0u8; 16];
    mantissa[..12].copy_from_slice(&raw[4..16]);
    write_varint(out, u128::from_le_bytes(mantissa));
}

fn read_decimal(input: &mut (impl BufRead + ?Sized)) -> io::Result<Decimal> {
    let head = read_byte(input)?;
    let scale = head & 0x7f;
    if u32::from(scale) > MAX_SCALE {
        return Err(invalid("decimal"));
    }
    let mantissa = read_varint(input)?;
    if mantissa >> 96 != 0 {
        return Err(invalid("decimal"));
    }
    let mut raw = [0u8; 16];
    raw[2] = scale;
    raw[3] = head & 0x80;
    raw[4..16].copy_from_slice(&mantissa.to_le_bytes()[..12]);
    Ok(Decimal::deserialize(raw))
}

fn write_precision(out: &mut Vec<u8>, precision: Decimals) {
    match precision {
        Decimals::AtLeast(n) => {
            out.push(0);
            write_varint(out, u128::from(n));
        }
        Decimals::Significant(n) => {
            out.push(1);
            write_varint(out, u128::from(n));
        }
    }
}

fn read_precision(input: &mut (impl BufRead + ?Sized)) -> io::Result<Decimals> {
    let kind = read_byte(input)?;
    let n = u32::try_from(read_varint(input)?).map_err(|_| invalid("precision"))?;
    match kind {
        0 => Ok(Decimals::AtLeast(n)),
        1 => Ok(Decimals::Significant(n)),
        _ => Err(invalid("precision")),
    }
}

fn write_optional_precision(out: &mut Vec<u8>, precision: Option<Decimals>) {
    match precision {
        Some(precision) => write_precision(out, precision),
        None => out.push(2),
    }
}

fn read_optional_precision(input: &mut (impl BufRead + ?Sized)) -> io::Result<Option<Decimals>> {
    let kind = read_byte(input)?;
    if kind == 2 {
        return Ok(None);
    }
    let n = u32::try_from(read_varint(input)?).map_err(|_| invalid("precision"))?;
    match kind {
        0 => Ok(Some(Decimals::AtLeast(n))),
        1 => Ok(Some(Decimals::Significant(n))),
        _ => Err(invalid("precision")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quote::parse_price;
    use jiff::civil::date;

    fn close(day: jiff::civil::Date, price: &str, name: &Arc<str>) -> Quote {
        Quote {
            price: parse_price(price).unwrap(),
            currency: Some("USD".into()),
            time: Some(crate::calendar::midnight_utc(day) + 52_200),
            market_date: Some(day),
            name: Some(Arc::clone(name)),
            precision: Some(Decimals::AtLeast(2)),
            ..Quote::default()
        }
    }

    fn history(n: usize) -> Vec<Quote> {
        let name: Arc<str> = Arc::from("NVIDIA Corporation");
        crate::history::days(date(1996, 1, 1), date(2030, 1, 1))
            .take(n)
            .enumerate()
            .map(|(i, day)| close(day, &format!("{}.{:02}", 100 + i, i % 100), &name))
            .collect()
    }

    fn every_field() -> Quote {
        Quote {
            price: parse_price("-0.000").unwrap(),
            currency: Some("GBP".into()),
            time: Some(-5),
            market_date: Some(date(1900, 2, 28)),
            previous_close: Some(parse_price("79228162514264337593543950335").unwrap()),
            name: Some("日本株 \"x\"".into()),
            exchange: Some("LSE".into()),
            precision: Some(Decimals::Significant(6)),
            quoted: Some(Quoted {
                price: parse_price("0.0000000000000000000000000001").unwrap(),
                currency: Some("GBp".into()),
                precision: None,
            }),
            fx: Some(FxRate {
                rate: parse_price("1.1090").unwrap(),
                precision: Some(Decimals::QUOTIENT),
                source: "ecb",
                date: Some(date(2021, 1, 8)),
            }),
        }
    }

    #[test]
    fn what_is_set_aside_reads_back_exactly_in_memory_and_on_disk() {
        let negative_zero = Quote {
            price: Decimal::deserialize([0, 0, 2, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            ..Quote::default()
        };
        let records = [
            history(3000),
            vec![every_field(), Quote::default(), every_field()],
            vec![negative_zero],
            Vec::new(),
        ];
        // No budget: every record goes to the file.
        for budget in [usize::MAX, 0] {
            let mut spill = Spill::new(budget);
            let ids: Vec<Id> = records.iter().map(|r| spill.put(r)).collect();
            for (id, record) in ids.iter().zip(&records) {
                let back = spill.get(*id).unwrap();
                assert_eq!(&back, record);
                let signs: Vec<bool> = back.iter().map(|q| q.price.is_sign_negative()).collect();
                let want: Vec<bool> = record.iter().map(|q| q.price.is_sign_negative()).collect();
                assert_eq!(signs, want, "the sign of a zero");
            }
            // Read back in any order, and one quote at a time.
            let mut reader = spill.reader(ids[0]).unwrap();
            assert_eq!(reader.remaining(), 3000);
            assert_eq!(reader.next_quote().unwrap().as_ref(), records[0].first());
            if budget == 0 {
                assert_eq!(spill.in_memory(), 0, "every record went to disk");
            }
        }
    }

    #[test]
    fn a_close_of_a_history_takes_a_dozen_bytes_and_names_stay_shared() {
        let closes = history(7825);
        let mut bytes = Vec::new();
        encode(&closes, &mut bytes);
        assert!(bytes.len() < 7825 * 14, "{} bytes", bytes.len());
        let mut spill = Spill::new(usize::MAX);
        let id = spill.put(&closes);
        let back = spill.get(id).unwrap();
        let (first, last) = (
            back[0].name.as_ref().unwrap(),
            back[7824].name.as_ref().unwrap(),
        );
        assert!(
            Arc::ptr_eq(first, last),
            "one name for the record, not one per close"
        );
        spill.remove(id);
        assert_eq!(spill.in_memory(), 0);
        assert!(spill.get(id).is_err());
    }

    // /dev/full is Linux's: every write to it fails with ENOSPC, as on a full disk.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_full_disk_keeps_the_records_in_memory_and_loses_none() {
        fn full() -> io::Result<File> {
            File::options().read(true).write(true).open("/dev/full")
        }
        fn nowhere() -> io::Result<File> {
            tempfile::tempfile_in("/nonexistent/quotes-test/tmp")
        }
        for make in [full as fn() -> io::Result<File>, nowhere] {
            let mut spill = Spill::with_file(0, make);
            let records = [history(500), vec![every_field()], history(3)];
            let ids: Vec<Id> = records.iter().map(|r| spill.put(r)).collect();
            assert!(spill.no_file, "the file failed");
            assert!(spill.in_memory() > 0);
            for (id, record) in ids.iter().zip(&records) {
                assert_eq!(&spill.get(*id).unwrap(), record);
            }
        }
    }

    #[test]
    fn a_record_cut_short_or_garbled_is_an_error_not_a_panic() {
        let mut bytes = Vec::new();
        encode(&[every_field(), every_field()], &mut bytes);
        for cut in 0..bytes.len() {
            let mut reader = Reader::new(Source::Memory(&bytes[..cut]));
            let all = reader.as_mut().map(|r| {
                while r.next_quote()?.is_some() {}
                io::Result::Ok(())
            });
            assert!(!matches!(all, Ok(Ok(()))), "cut at {cut} read back whole");
        }
        // Every byte changed in turn: never a panic (most are errors; some read another value).
        for at in 0..bytes.len() {
            let mut garbled = bytes.clone();
            garbled[at] ^= 0xff;
            if let Ok(mut reader) = Reader::new(Source::Memory(&garbled)) {
                while let Ok(Some(_)) = reader.next_quote() {}
            }
        }
    }
}
