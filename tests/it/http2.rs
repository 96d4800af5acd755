//! HTTPS and HTTP/2 (issue 6): against a local TLS server offering h2, trusted through
//! `--cacert`, a burst of tickers is multiplexed over exactly ONE connection instead of
//! each request racing to open its own.

use std::time::Duration;

use assert_cmd::Command;
use predicates::prelude::*;
use quotes_bench::{Server, ServerConfig};

use crate::cmd::quotes;

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
            ..ServerConfig::default()
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

/// `quotes` pointed at the TLS server as Yahoo.
fn quotes_for_tls(tls: &Tls) -> Command {
    let mut cmd = quotes();
    cmd.env("QUOTES_YAHOO_URL", tls.server.url());
    cmd
}

#[test]
fn a_hundred_tickers_share_one_http2_connection() {
    let tls = tls_server(Duration::from_millis(200));
    assert!(tls.server.url().starts_with("https://"));
    let tickers: Vec<String> = (0..100).map(|n| format!("H{n:03}")).collect();
    let out = quotes_for_tls(&tls)
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
    quotes_for_tls(&tls)
        .args(["--retries", "0", "AAPL"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "quotes: AAPL: could not connect to 127.0.0.1:",
        ));
    assert_eq!(tls.server.stats().requests, 0);
}

/// A minimal HTTPS proxy: answers `CONNECT host:port`, records the target, and tunnels
/// to that port on 127.0.0.1 (nothing leaves loopback).
async fn connect_proxy() -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::Mutex<Vec<String>>>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = std::sync::Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let record = std::sync::Arc::clone(&record);
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
                    if client.read_exact(&mut byte).await.is_err() {
                        return;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).to_string();
                let mut words = head.split_whitespace();
                let (Some("CONNECT"), Some(target)) = (words.next(), words.next()) else {
                    let _ = client.write_all(b"HTTP/1.1 405 Only CONNECT\r\n\r\n").await;
                    return;
                };
                record.lock().unwrap().push(target.to_string());
                let port = target.rsplit(':').next().unwrap_or("443");
                let Ok(mut upstream) =
                    tokio::net::TcpStream::connect(format!("127.0.0.1:{port}")).await
                else {
                    return;
                };
                let _ = client
                    .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                    .await;
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            });
        }
    });
    (addr, seen)
}

#[test]
fn https_proxy_tunnels_requests_with_connect() {
    let tls = tls_server(Duration::ZERO);
    let (proxy, seen) = tls.runtime.block_on(connect_proxy());
    let port = tls.server.addr.port();
    quotes_for_tls(&tls)
        // `localhost` is in the test certificate; the proxy resolves it, not quotes.
        .env("QUOTES_YAHOO_URL", format!("https://localhost:{port}"))
        .env("HTTPS_PROXY", format!("http://{proxy}"))
        .arg("--cacert")
        .arg(&tls.cacert)
        .args(["-o", "symbol", "P1", "P2"])
        .assert()
        .success()
        .stdout("P1\nP2\n");
    assert_eq!(*seen.lock().unwrap(), [format!("localhost:{port}")]);
    assert_eq!(tls.server.stats().requests, 2);
}

/// Issue 9: the HTTP/2 warm-up is released per origin. Yahoo sits behind a proxy that adds
/// 25 ms each way (its connection comes up late); Coinbase answers directly (its connection
/// comes up first). 50 tickers each at `-j 100`: each origin's burst waits for ITS OWN first
/// connection, so each server sees exactly one. With one process-wide "a connection is up"
/// signal, Coinbase's connection released Yahoo's waiting burst and Yahoo got 50
/// connections (50 TLS handshakes: exactly the burst that earns 429s).
#[test]
fn each_origin_warms_up_on_its_own() {
    let yahoo = tls_server(Duration::ZERO);
    let coinbase = tls_server(Duration::ZERO);
    let proxy = yahoo
        .runtime
        .block_on(quotes_bench::DelayProxy::start(
            yahoo.server.addr,
            Duration::from_millis(25),
        ))
        .unwrap();
    let both = yahoo._dir.path().join("both.pem");
    std::fs::write(
        &both,
        [
            yahoo.server.cert_pem.as_deref().unwrap(),
            coinbase.server.cert_pem.as_deref().unwrap(),
        ]
        .concat(),
    )
    .unwrap();
    let stocks: Vec<String> = (0..50).map(|n| format!("Y{n:03}")).collect();
    let pairs: Vec<String> = (0..50).map(|n| format!("coinbase:C{n:03}-USD")).collect();
    let out = quotes()
        .env(
            "QUOTES_YAHOO_URL",
            format!("https://127.0.0.1:{}", proxy.addr.port()),
        )
        .env("QUOTES_COINBASE_URL", coinbase.server.url())
        .arg("--cacert")
        .arg(&both)
        .args(["-j", "100", "-o", "symbol"])
        .args(&stocks)
        .args(&pairs)
        .assert()
        .success();
    let printed = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert_eq!(printed.lines().count(), 100, "{printed}");
    let (y, c) = (yahoo.server.stats(), coinbase.server.stats());
    assert_eq!((y.requests, c.requests), (50, 50), "{y:?} {c:?}");
    assert_eq!(y.connections, 1, "Yahoo: {y:?}");
    assert_eq!(c.connections, 1, "Coinbase: {c:?}");
    drop(proxy);
}
