//! HTTPS and HTTP/2 (issue 6): against a local TLS server offering h2, trusted through
//! `--cacert`, a burst of tickers is multiplexed over exactly ONE connection instead of
//! each request racing to open its own.

use std::time::Duration;

use assert_cmd::Command;
use predicates::prelude::*;
use quotes_bench::{Server, ServerConfig};

struct Tls {
    runtime: tokio::runtime::Runtime,
    server: Server,
    _dir: tempfile::TempDir,
    cacert: std::path::PathBuf,
}

fn tls_server(delay: Duration) -> Tls {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = runtime
        .block_on(Server::start(ServerConfig {
            delay,
            tls: true,
            max_concurrent_streams: 250,
        }))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cacert = dir.path().join("ca.pem");
    std::fs::write(&cacert, server.cert_pem.as_ref().unwrap()).unwrap();
    Tls {
        runtime,
        server,
        _dir: dir,
        cacert,
    }
}

fn quotes(tls: &Tls) -> Command {
    let mut cmd = Command::cargo_bin("quotes").unwrap();
    cmd.env("QUOTES_YAHOO_URL", tls.server.url())
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy")
        .env_remove("ALL_PROXY")
        .timeout(Duration::from_secs(60));
    cmd
}

#[test]
fn a_hundred_tickers_share_one_http2_connection() {
    let tls = tls_server(Duration::from_millis(200));
    assert!(tls.server.url().starts_with("https://"));
    let tickers: Vec<String> = (0..100).map(|n| format!("H{n:03}")).collect();
    let out = quotes(&tls)
        .arg("--cacert")
        .arg(&tls.cacert)
        .args(["-j", "100", "-o", "symbol"])
        .args(&tickers)
        .assert()
        .success();
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert_eq!(stdout, format!("{}\n", tickers.join("\n")));
    let stats = tls.server.stats();
    assert_eq!(stats.requests, 100);
    assert_eq!(stats.connections, 1, "{stats:?}");
    assert_eq!(stats.h2_connections, 1, "{stats:?}");
    // Multiplexed, not one at a time: the 200 ms answers overlapped.
    assert!(stats.max_in_flight >= 50, "{stats:?}");
    drop(tls.runtime);
}

#[test]
fn tls_is_verified_without_the_cacert() {
    let tls = tls_server(Duration::ZERO);
    quotes(&tls)
        .args(["--retries", "0", "AAPL"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "quotes: AAPL: could not connect to 127.0.0.1:",
        ));
    assert_eq!(tls.server.stats().requests, 0);
}
