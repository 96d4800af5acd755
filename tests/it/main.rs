//! The integration tests: one binary, one module per feature (after ripgrep's
//! `tests/tests.rs`), so the suite links once.
//!
//! Every test runs the real `quotes` binary, built by `cmd` in a scrubbed environment,
//! against servers on `127.0.0.1` (`support`); nothing here touches the internet. The slow
//! tests (`scale`, `bench_smoke`, `streaming`'s bound) are `#[ignore]`d: `cargo test --test it -- --ignored`
//! runs them.

mod cmd;
mod support;

mod alphavantage;
mod bench_smoke;
mod cache;
mod chains;
mod core;
mod crumb;
mod currencies;
mod formats;
mod hardening;
mod history;
mod hostile;
mod http2;
mod nasdaq;
mod numbers;
mod properties;
mod readme;
mod scale;
mod sources;
mod streaming;
mod support_selftest;
mod tiingo;
mod update;
