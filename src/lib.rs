//! `quotes`: fast, honest prices on the command line.
//!
//! The data flows one way: arguments → checked configuration → every input resolved to a
//! source and ticker → concurrent fetch → rows in input order → one writer.
//!
//! - the run: `app` (check the arguments, wire, run once or `--watch`), `exit` (exit status,
//!   stop reasons, usage errors, dying by a signal), `cli` (the command line), `input`
//!   (tickers from arguments, stdin and files), `watch` (`--watch`), `progress`;
//! - what to fetch: `plan` (inputs resolved once), `chain` (a ticker's sources in order, and
//!   its error when all fail), `ticker` (what a valid symbol is), `source` (the registry of
//!   sources, one file each), `calendar` (days and instants), `secret` (API keys);
//! - how: `fetch` (bound, retry, collect, chains), `http` (one request: redirects, body
//!   limit, time limit, HTTP/2 warm-up), `client` (building the one client), `gate` (429s per
//!   source), `limit` (a source's own limits), `session` (a session an API asks for: Yahoo's
//!   cookie and crumb), `kept` (answers and sessions kept in the cache directory), `verbose`
//!   (`-v`);
//! - what came back: `quote` (a price and its exact rounding), `fx` (minor units and
//!   `--currency`: one exact conversion per price), `error` (what a user can see go wrong,
//!   in words), `text` (server text made safe to show);
//! - in order, as it comes (issue 20): `round` (jobs started in input order, fetching ahead
//!   of writing by a bounded window, each input's rows written when its turn comes), `spill`
//!   (what must wait past its turn: compact, in an anonymous temporary file past a budget);
//! - writing it: `output` (the registry of formats, one file each, and the stdout policy);
//! - price history (issue 10): `history` (ranges, intervals, closes as traded), `cache`
//!   (closes that cannot change, in SQLite), `update` (`--update`: append what a price file
//!   lacks, per commodity and currency, in place under a lock).
//!
//! Public is what `main`, the tests, the fuzz targets or a library user need: the run
//! (`app`, `cli`, `exit`, `client`'s process-wide settings), the sources and what they read
//! (`source`, `quote`, `error`, `text`, `ticker`, `history`'s ranges) and the formats
//! (`output`). The machinery between them stays private.

pub mod app;
mod cache;
mod calendar;
mod chain;
pub mod cli;
pub mod client;
pub mod error;
pub mod exit;
mod fetch;
mod fx;
mod gate;
pub mod history;
mod http;
mod input;
mod kept;
mod limit;
pub mod output;
mod plan;
mod progress;
pub mod quote;
mod round;
mod secret;
mod session;
pub mod source;
mod spill;
pub mod text;
pub mod ticker;
mod update;
mod verbose;
mod watch;
