//! Benchmark harness for `quotes`: the local endpoints that `bench/run` and the test suites
//! point programs at, so that every number is measured against a server we control.
//!
//! - [`Server`]: a Yahoo-chart-format server (plain HTTP/1.1 and h2c, or HTTPS with ALPN
//!   `h2`/`http/1.1` and a self-signed certificate made at start) that can delay every answer
//!   and counts TCP connections, requests, the most requests in flight and h2 connections.
//! - [`DelayProxy`]: a TCP proxy that holds every chunk for a fixed one-way delay, the stand-in
//!   for a real network on a machine without netem.
//! - [`chart`]: the response bodies and the deterministic price of each symbol, so a caller can
//!   check a program printed the right numbers.
//!
//! Everything runs as tasks on the caller's tokio runtime; dropping a [`Server`] or a
//! [`DelayProxy`] stops it and every connection it holds. Nothing here ever binds anything but
//! `127.0.0.1`.
//!
//! Part of issue 6 (benchmark against the peers); the command that drives it is `bench/run`.

pub mod args;
pub mod chart;
mod proxy;
mod server;
mod tls;

pub use proxy::DelayProxy;
pub use server::{Server, ServerConfig, Stats};
