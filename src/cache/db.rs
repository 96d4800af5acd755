//! The cache's file: one SQLite database, written by `quotes` and read back as warily as a
//! server's answer (issue 18), because other programs, bugs and disks can change it.
//!
//! **Only our schema runs.** A file is used only when its schema is exactly the one
//! `quotes` creates: the two tables with the statements that made them, and SQLite's index
//! for `instruments`' unique key; no view, trigger or other table (a `days` view with a
//! recursive CTE used to hang the run at 100% CPU). It is checked in `sqlite_master` before
//! any statement touches the tables; a file of an older version of ours is emptied and
//! made anew; anything else is [`Unusable::Foreign`], removed and started anew like a
//! corrupt file. The connection is in defensive mode, with `trusted_schema` off.
//!
//! **Every row read back is checked** as a server's answer is ([`read_day`]): a price that
//! is a decimal and not 0, a currency of 3 or 4 letters, a time and a day that are not in
//! the future, a precision within what a `Decimal` holds; a name or exchange made safe and
//! bounded. A row that fails is not served: its day is fetched again and the row replaced.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use jiff::civil::Date;
use rusqlite::config::DbConfig;
use rusqlite::types::ValueRef;
use rusqlite::{
    Connection, ErrorCode, OptionalExtension, Transaction, TransactionBehavior, params,
};

use crate::calendar::{Horizon, midnight_utc};
use crate::quote::{Decimals, MAX_SCALE, Quote, parse_price};

/// The database's file name inside the cache directory.
pub const FILE_NAME: &str = "closes.sqlite3";

/// Bumped when the tables change, or what they hold: a cache of another version is started
/// anew. 3: a quotient's precision as significant digits (issue 18); gaps no longer kept
/// as days without a close (issue 17), so older files hold some such false days.
const SCHEMA_VERSION: i64 = 3;

/// How long a run waits for another run's write before going on without the cache.
const BUSY_TIMEOUT: Duration = Duration::from_secs(3);

/// The two tables. The check of a file compares its `sqlite_master` with what these
/// statements make, so a change here is a change of [`SCHEMA_VERSION`].
const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS instruments (
        id       INTEGER PRIMARY KEY,
        origin   TEXT NOT NULL,
        source   TEXT NOT NULL,
        ticker   TEXT NOT NULL,
        name     TEXT,
        exchange TEXT,
        UNIQUE (origin, source, ticker)
    );
    -- One row per day known: `price` NULL means the day had no close (a weekend, a holiday).
    CREATE TABLE IF NOT EXISTS days (
        instrument INTEGER NOT NULL REFERENCES instruments (id),
        day        INTEGER NOT NULL, -- days since 1970-01-01
        price      TEXT,             -- the exact decimal, as text
        currency   TEXT,
        time       INTEGER,          -- the bar's Unix time
        precision  INTEGER,          -- when the source says: at least N decimals (N >= 0),
                                     -- or a quotient's -N significant digits (N < 0)
        PRIMARY KEY (instrument, day)
    ) WITHOUT ROWID;
";

/// The names of our tables, the only ones a file of an older version may hold.
const TABLES: [&str; 2] = ["instruments", "days"];

/// Why a file cannot be used as it is.
#[derive(Debug)]
pub enum Unusable {
    /// SQLite failed (the file is locked, not a database, corrupt, unreadable).
    Sql(rusqlite::Error),
    /// The file holds a schema `quotes` did not create (`what` says which object): never
    /// used, removed and started anew.
    Foreign(String),
}

impl From<rusqlite::Error> for Unusable {
    fn from(e: rusqlite::Error) -> Unusable {
        Unusable::Sql(e)
    }
}

impl std::fmt::Display for Unusable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unusable::Sql(e) => write!(f, "{e}"),
            Unusable::Foreign(what) => write!(f, "it holds {what}"),
        }
    }
}

impl Unusable {
    /// Why the file is to be removed and started anew, in words (`was corrupt`); `None`
    /// when it is not (it is locked, or unreadable).
    pub fn start_anew(&self) -> Option<&'static str> {
        match self {
            Unusable::Sql(e) if is_corrupt(e) => Some("was corrupt"),
            Unusable::Sql(_) => None,
            Unusable::Foreign(_) => Some("was not made by quotes"),
        }
    }
}

/// Open the database at `path` for use by several processes, creating its tables; refuse
/// one whose schema is not ours.
pub fn connect(path: &Path) -> Result<Connection, Unusable> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Defensive: no writing `sqlite_master` or other ways to corrupt a file on purpose; and
    // no function with side effects run from a view, trigger or default of the schema.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_TRUSTED_SCHEMA, false)?;
    // Switching to WAL needs a moment alone with the file; another run opening it at the
    // same moment makes that busy, which the timeout does not cover: try a few times.
    let mut tries = 0;
    loop {
        match conn.query_row("PRAGMA journal_mode = WAL", [], |row| {
            row.get::<_, String>(0)
        }) {
            Ok(_) => break,
            Err(e) if e.sqlite_error_code() == Some(ErrorCode::DatabaseBusy) && tries < 20 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => return Err(e.into()),
        }
    }
    // In WAL mode, NORMAL never corrupts the database; a crash may lose the last round,
    // which a cache can afford.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    if check_schema(&conn, false)? == Schema::ToMake {
        // Checked again under the write lock (another run may be making it right now),
        // and made.
        check_schema(&conn, true)?;
    }
    Ok(conn)
}

/// What a file's schema is, once checked.
#[derive(Debug, PartialEq, Eq)]
enum Schema {
    Ours,
    /// Empty, or tables of an older version of ours: to be made (anew).
    ToMake,
}

/// Check the schema, reading (no write lock: the common case, a file of ours, costs no
/// wait for another run's write); with `make`, under the write lock, and make it when it is
/// to be made.
fn check_schema(conn: &Connection, make: bool) -> Result<Schema, Unusable> {
    let behavior = if make {
        TransactionBehavior::Immediate
    } else {
        TransactionBehavior::Deferred
    };
    let tx = Transaction::new_unchecked(conn, behavior)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    let found = schema_of(&tx)?;
    if version == SCHEMA_VERSION && !found.is_empty() {
        return match foreign_object(&found)? {
            Some(object) => Err(Unusable::Foreign(object)),
            None => Ok(Schema::Ours),
        };
    }
    if let Some(object) = found.iter().find(|o| !o.is_table_of_ours()) {
        return Err(Unusable::Foreign(object.describe()));
    }
    if make {
        tx.execute_batch("DROP TABLE IF EXISTS days; DROP TABLE IF EXISTS instruments;")?;
        tx.execute_batch(SCHEMA)?;
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        tx.commit()?;
        return Ok(Schema::Ours);
    }
    Ok(Schema::ToMake)
}

/// One object of a schema, as `sqlite_master` lists it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Object {
    kind: String,
    name: String,
    table: String,
    sql: Option<String>,
}

impl Object {
    /// A table of ours by name (its index included), whatever its columns: what a file of
    /// an older version holds, and may be dropped without running anything of its own.
    fn is_table_of_ours(&self) -> bool {
        TABLES.contains(&self.table.as_str())
            && matches!(self.kind.as_str(), "table" | "index")
            && (self.kind == "table" || self.sql.is_none())
    }

    /// What it is, in words (its name cut short and made safe).
    fn describe(&self) -> String {
        format!(
            "{} {:?}",
            crate::text::clip(&self.kind, 10),
            crate::text::clip(&self.name, 40)
        )
    }
}

/// Every object of the schema, in order of name. Reading `sqlite_master` runs nothing the
/// file holds: its statements are only parsed.
fn schema_of(conn: &Connection) -> rusqlite::Result<Vec<Object>> {
    let mut select = conn.prepare("SELECT type, name, tbl_name, sql FROM sqlite_master")?;
    let mut objects = select
        .query_map([], |row| {
            Ok(Object {
                kind: row.get(0)?,
                name: row.get(1)?,
                table: row.get(2)?,
                sql: row.get(3)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<Object>>>()?;
    objects.sort();
    Ok(objects)
}

/// The objects of `found` that are not exactly what [`SCHEMA`] makes (compared with the
/// schema made in memory, statement text and all), views and triggers first; or one of ours
/// that is missing. `None` when the schema is ours.
fn foreign_object(found: &[Object]) -> rusqlite::Result<Option<String>> {
    let memory = Connection::open_in_memory()?;
    memory.execute_batch(SCHEMA)?;
    let ours = schema_of(&memory)?;
    let mut foreign: Vec<&Object> = found.iter().filter(|o| !ours.contains(o)).collect();
    foreign.sort_by_key(|o| matches!(o.kind.as_str(), "table" | "index"));
    if !foreign.is_empty() {
        let named: Vec<String> = foreign.iter().take(3).map(|o| o.describe()).collect();
        return Ok(Some(named.join(", ")));
    }
    Ok(ours
        .iter()
        .find(|o| !found.contains(o))
        .map(|o| format!("no {}", o.describe())))
}

/// An instrument as the cache knows it.
pub struct Instrument {
    pub id: i64,
    /// Shared by every day's quote; made safe again, whoever wrote the file.
    pub name: Option<Arc<str>>,
    pub exchange: Option<Arc<str>>,
}

/// The instrument of (`origin`, `source`, `ticker`), if the cache has it.
pub fn instrument(
    conn: &Connection,
    origin: &str,
    source: &str,
    ticker: &str,
) -> rusqlite::Result<Option<Instrument>> {
    conn.prepare_cached(
        "SELECT id, name, exchange FROM instruments
         WHERE origin = ?1 AND source = ?2 AND ticker = ?3",
    )?
    .query_row(params![origin, source, ticker], |row| {
        let text = |i: usize| -> rusqlite::Result<Option<Arc<str>>> {
            let text = match row.get_ref(i)? {
                ValueRef::Text(bytes) => std::str::from_utf8(bytes).ok().map(str::to_string),
                _ => None,
            };
            Ok(crate::text::free_text(text).map(Arc::from))
        };
        Ok(Instrument {
            id: row.get(0)?,
            name: text(1)?,
            exchange: text(2)?,
        })
    })
    .optional()
}

/// The days the cache holds for `instrument` in `from..=to`, ascending, each with its
/// close or `None` (no close that day); rows that fail [`read_day`]'s checks are left out.
pub fn days(
    conn: &Connection,
    instrument: &Instrument,
    from: Date,
    to: Date,
    horizon: Horizon,
) -> rusqlite::Result<Vec<(Date, Option<Quote>)>> {
    let mut select = conn.prepare_cached(
        "SELECT day, price, currency, time, precision FROM days
         WHERE instrument = ?1 AND day BETWEEN ?2 AND ?3 ORDER BY day",
    )?;
    let (first, last) = (day_number(from), day_number(to));
    let mut rows = select.query(params![instrument.id, first, last])?;
    // At most a day per row: sized once rather than grown by copying quotes (a
    // `--from`/`--to` range is at most 30 years).
    let span = usize::try_from(last.saturating_sub(first).saturating_add(1)).unwrap_or(0);
    let mut days = Vec::with_capacity(span.min(1 << 14));
    while let Some(row) = rows.next()? {
        // Columns are read as they are needed: a day without a close needs two.
        let column = |i: usize| row.get_ref(i).ok();
        if let Some(day) = read_day(column, instrument, horizon) {
            days.push(day);
        }
    }
    Ok(days)
}

/// The columns of `days` as [`days`] selects them.
const DAY: usize = 0;
const PRICE: usize = 1;
const CURRENCY: usize = 2;
const TIME: usize = 3;
const PRECISION: usize = 4;

/// A row read back (`column(i)` is its column `i`, `None` when it cannot be read), held to
/// the rules a server's answer is held to: `None` (the row is not served, and its day
/// fetched again) unless its day is a day that is not in the future, and its close, if it
/// has one, a decimal that is not 0, in a currency of 3 or 4 letters, stamped with a time
/// that is not in the future, with a precision a `Decimal` can have.
fn read_day<'r>(
    column: impl Fn(usize) -> Option<ValueRef<'r>>,
    instrument: &Instrument,
    horizon: Horizon,
) -> Option<(Date, Option<Quote>)> {
    let day = match column(DAY)? {
        ValueRef::Integer(n) => from_day_number(n).filter(|d| horizon.allows_day(*d))?,
        _ => return None,
    };
    let price = match column(PRICE)? {
        ValueRef::Null => return Some((day, None)),
        ValueRef::Text(text) => parse_price(std::str::from_utf8(text).ok()?).ok()?,
        _ => return None,
    };
    if price.is_zero() {
        return None;
    }
    let currency = match column(CURRENCY)? {
        ValueRef::Null => None,
        ValueRef::Text(text) => {
            let text = std::str::from_utf8(text).ok()?.to_string();
            crate::text::currency(Some(text)).ok()?
        }
        _ => return None,
    };
    let time = match column(TIME)? {
        ValueRef::Null => None,
        ValueRef::Integer(t)
            if jiff::Timestamp::from_second(t).is_ok() && horizon.allows_time(t) =>
        {
            Some(t)
        }
        _ => return None,
    };
    let precision = match column(PRECISION)? {
        ValueRef::Null => None,
        ValueRef::Integer(n) => Some(decimals_of(n)?),
        _ => return None,
    };
    Some((
        day,
        Some(Quote {
            price,
            currency,
            time,
            precision,
            market_date: Some(day),
            previous_close: None,
            name: instrument.name.clone(),
            exchange: instrument.exchange.clone(),
            ..Quote::default()
        }),
    ))
}

/// The id of the instrument (`origin`, `source`, `ticker`), made or updated with its name
/// and exchange (kept when the new answer has none).
pub fn keep_instrument(
    tx: &Transaction<'_>,
    (origin, source, ticker): (&str, &str, &str),
    name: Option<&str>,
    exchange: Option<&str>,
) -> rusqlite::Result<i64> {
    tx.execute(
        "INSERT INTO instruments (origin, source, ticker, name, exchange)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (origin, source, ticker) DO UPDATE SET
             name = coalesce(excluded.name, name),
             exchange = coalesce(excluded.exchange, exchange)",
        params![origin, source, ticker, name, exchange],
    )?;
    tx.query_row(
        "SELECT id FROM instruments WHERE origin = ?1 AND source = ?2 AND ticker = ?3",
        params![origin, source, ticker],
        |row| row.get(0),
    )
}

/// The columns of a row of `days`.
const COLUMNS: usize = 6;

/// A precision as stored in one column (each column costs every row read): at least N
/// decimals as N, a quotient's N significant digits as −N.
fn stored(precision: Decimals) -> i64 {
    match precision {
        Decimals::AtLeast(n) => i64::from(n),
        Decimals::Significant(n) => -i64::from(n),
    }
}

/// A precision read back: `None` unless it is one a `Decimal` can have (at most 28
/// decimals, 1 to 28 significant digits).
fn decimals_of(n: i64) -> Option<Decimals> {
    let count = u32::try_from(n.unsigned_abs())
        .ok()
        .filter(|n| *n <= MAX_SCALE)?;
    match n {
        0.. => Some(Decimals::AtLeast(count)),
        _ => Some(Decimals::Significant(count)),
    }
}

/// Rows per INSERT statement: one statement per 64 days costs far less than 64 statements
/// (a year of 100 tickers is 36,500 rows).
const ROWS_PER_INSERT: usize = 64;

/// Insert (or replace) the days of instrument `id`: each with its close, or `None` for a
/// day without one.
pub fn insert_days(
    tx: &Transaction<'_>,
    id: i64,
    rows: &[(Date, Option<&Quote>)],
) -> rusqlite::Result<()> {
    let sql = |n: usize| {
        let mut sql = String::from(
            "INSERT OR REPLACE INTO days (instrument, day, price, currency, time, precision) \
             VALUES ",
        );
        for i in 0..n {
            sql.push_str(if i == 0 {
                "(?,?,?,?,?,?)"
            } else {
                ",(?,?,?,?,?,?)"
            });
        }
        sql
    };
    let full = sql(ROWS_PER_INSERT);
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let mut insert = if chunk.len() == ROWS_PER_INSERT {
            tx.prepare_cached(&full)?
        } else {
            tx.prepare_cached(&sql(chunk.len()))?
        };
        for (i, (day, quote)) in chunk.iter().enumerate() {
            let at = i * COLUMNS;
            insert.raw_bind_parameter(at + 1, id)?;
            insert.raw_bind_parameter(at + 2, day_number(*day))?;
            insert.raw_bind_parameter(at + 3, quote.map(|q| q.price.to_string()))?;
            insert.raw_bind_parameter(at + 4, quote.and_then(|q| q.currency.as_deref()))?;
            insert.raw_bind_parameter(at + 5, quote.and_then(|q| q.time))?;
            insert.raw_bind_parameter(at + 6, quote.and_then(|q| q.precision).map(stored))?;
        }
        insert.raw_execute()?;
    }
    Ok(())
}

/// A day as stored: days since 1970-01-01.
pub fn day_number(day: Date) -> i64 {
    midnight_utc(day).div_euclid(86_400)
}

/// The day stored as `n`, if it is one: any integer may be in a file someone edited
/// (`Span::days` would panic beyond its range).
fn from_day_number(n: i64) -> Option<Date> {
    let span = jiff::Span::new().try_days(n).ok()?;
    jiff::civil::date(1970, 1, 1).checked_add(span).ok()
}

/// Whether SQLite says the file is no database, or a damaged one.
pub fn is_corrupt(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt)
    )
}

/// Whether the work was stopped on purpose (a deadline, a signal): nothing to report.
pub fn is_interrupted(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code() == Some(ErrorCode::OperationInterrupted)
}

/// Remove a database and its write-ahead log, so the next open starts it anew.
pub fn remove(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(file));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        (dir, path)
    }

    /// A file made by hand with `sql`, at our version.
    fn crafted(sql: &str) -> (tempfile::TempDir, PathBuf) {
        let (dir, path) = file();
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(sql).unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION)
            .unwrap();
        (dir, path)
    }

    #[test]
    fn our_own_schema_is_used_again() {
        let (_dir, path) = file();
        drop(connect(&path).unwrap());
        let conn = connect(&path).unwrap();
        assert!(
            foreign_object(&schema_of(&conn).unwrap())
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn a_schema_we_did_not_create_is_never_used() {
        let view = "CREATE TABLE instruments (id INTEGER PRIMARY KEY, origin TEXT, source TEXT, \
                    ticker TEXT, name TEXT, exchange TEXT);
                    CREATE VIEW days AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 \
                    FROM c) SELECT 1 AS instrument, x AS day, '1' AS price, 'USD' AS currency, \
                    0 AS time, NULL AS precision FROM c;";
        let trigger = format!(
            "{SCHEMA} CREATE TRIGGER t AFTER INSERT ON days BEGIN DELETE FROM instruments; END;"
        );
        let altered = SCHEMA.replace("exchange TEXT,", "exchange TEXT DEFAULT (randomblob(9)),");
        let extra = format!("{SCHEMA} CREATE TABLE evil (x);");
        for sql in [view, &trigger, &altered, &extra] {
            let (_dir, path) = crafted(sql);
            match connect(&path) {
                Err(e @ Unusable::Foreign(_)) => assert!(e.start_anew().is_some(), "{e}"),
                other => panic!("{sql}: {:?}", other.map(|_| ())),
            }
        }
        // Missing one of our tables is no schema of ours either.
        let (_dir, path) = crafted(&SCHEMA.replace(
            "CREATE TABLE IF NOT EXISTS days",
            "CREATE TABLE IF NOT EXISTS other",
        ));
        assert!(matches!(connect(&path), Err(Unusable::Foreign(_))));
    }

    #[test]
    fn an_older_version_of_ours_is_made_anew_in_place() {
        let (_dir, path) = file();
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE instruments (id INTEGER PRIMARY KEY, ticker TEXT, UNIQUE (ticker));
             CREATE TABLE days (instrument INTEGER, day INTEGER, price TEXT, precision INTEGER,
             PRIMARY KEY (instrument, day)) WITHOUT ROWID;
             PRAGMA user_version = 2;",
        )
        .unwrap();
        drop(conn);
        let conn = connect(&path).unwrap();
        assert!(
            foreign_object(&schema_of(&conn).unwrap())
                .unwrap()
                .is_none()
        );
        // But an older version with a view in it is not ours.
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("CREATE VIEW v AS SELECT 1; PRAGMA user_version = 2;")
            .unwrap();
        drop(conn);
        assert!(matches!(connect(&path), Err(Unusable::Foreign(_))));
    }

    fn instrument() -> Instrument {
        Instrument {
            id: 1,
            name: None,
            exchange: None,
        }
    }

    #[test]
    fn every_field_read_back_is_checked_like_an_answer() {
        let horizon = Horizon::at(1_800_000_000);
        let read =
            |row: [ValueRef<'static>; 5]| read_day(|i| row.get(i).copied(), &instrument(), horizon);
        // day 2021-01-01, price, currency, time, precision
        let good = [
            ValueRef::Integer(18_628),
            ValueRef::Text(b"0.00001234"),
            ValueRef::Text(b"USD"),
            ValueRef::Integer(1_609_459_200),
            ValueRef::Integer(8),
        ];
        let (_, quote) = read(good).unwrap();
        let quote = quote.unwrap();
        assert_eq!(quote.price.to_string(), "0.00001234");
        assert_eq!(quote.precision, Some(Decimals::AtLeast(8)));
        for precision in [
            Decimals::AtLeast(0),
            Decimals::AtLeast(28),
            Decimals::QUOTIENT,
        ] {
            assert_eq!(decimals_of(stored(precision)), Some(precision));
        }
        let with = |at: usize, value: ValueRef<'static>| {
            let mut row = good;
            row[at] = value;
            row
        };
        let bad = [
            with(PRICE, ValueRef::Text(b"0")),
            with(PRICE, ValueRef::Text(b"abc")),
            with(PRICE, ValueRef::Integer(5)),
            with(
                CURRENCY,
                ValueRef::Text(b"USD\nEVIL  2025-01-01  666.00  USD\x1b]52;"),
            ),
            with(CURRENCY, ValueRef::Integer(1)),
            with(PRECISION, ValueRef::Integer(4_000_000_000)),
            with(PRECISION, ValueRef::Integer(-29)),
            with(PRECISION, ValueRef::Integer(i64::MIN)),
            with(PRECISION, ValueRef::Text(b"2")),
            with(TIME, ValueRef::Integer(99_999_999_999_999)),
            with(TIME, ValueRef::Integer(1_900_000_000)),
            with(TIME, ValueRef::Text(b"1")),
            with(DAY, ValueRef::Integer(2_932_896)), // 9999-12-31
            with(DAY, ValueRef::Text(b"x")),
            with(DAY, ValueRef::Integer(i64::MAX)),
        ];
        for (i, row) in bad.into_iter().enumerate() {
            assert!(read(row).is_none(), "row {i}");
        }
        // A day without a close needs nothing else.
        let closed = with(PRICE, ValueRef::Null);
        let closed = {
            let mut row = closed;
            row[CURRENCY] = ValueRef::Integer(1);
            row
        };
        assert_eq!(read(closed).unwrap().1, None);
    }

    #[test]
    fn day_numbers_round_trip() {
        for d in [
            jiff::civil::date(1970, 1, 1),
            jiff::civil::date(1969, 12, 31),
            jiff::civil::date(2021, 2, 1),
            Date::MAX,
            Date::MIN,
        ] {
            assert_eq!(from_day_number(day_number(d)), Some(d), "{d}");
        }
    }
}
