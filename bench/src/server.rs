//! The bench server: answers `GET /v8/finance/chart/{SYMBOL}` like Yahoo, after an optional
//! delay, over HTTP/1.1 or HTTP/2 (h2c, or h2 by ALPN over TLS), and counts what clients do.
//!
//! What it counts ([`Stats`]) is what the benchmark is about: how many TCP connections a
//! program opened, how many requests it sent, how many were in flight at once, and how many
//! connections spoke HTTP/2. Control requests (`/__stats`, `/__reset`) are not counted, and a
//! connection whose first request is a control request is not counted either, so asking for
//! the numbers over a fresh connection does not change them.
//!
//! Counters are "since the last reset": a keep-alive connection opened before a reset and
//! reused after it adds requests but not a connection.

use std::convert::Infallible;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode, Version};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use serde::{Deserialize, Serialize};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

use crate::chart;

/// How the server behaves.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Added to every chart answer (never to control requests), without blocking a thread.
    pub delay: Duration,
    /// Serve HTTPS with a fresh self-signed certificate and ALPN `h2`, `http/1.1`.
    pub tls: bool,
    /// The h2 `SETTINGS_MAX_CONCURRENT_STREAMS` the server announces.
    pub max_concurrent_streams: u32,
}

impl Default for ServerConfig {
    /// No delay, plain HTTP, 250 concurrent h2 streams.
    fn default() -> Self {
        ServerConfig {
            delay: Duration::ZERO,
            tls: false,
            max_concurrent_streams: 250,
        }
    }
}

/// What the server saw since it started or was last reset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// TCP connections accepted (less those whose first request was `/__stats` or `/__reset`).
    pub connections: u64,
    /// Requests other than control requests, whatever their answer.
    pub requests: u64,
    /// The most requests being answered at the same moment (the delay included).
    pub max_in_flight: u64,
    /// Connections that spoke HTTP/2: ALPN `h2` over TLS, or an h2c request in plain text.
    pub h2_connections: u64,
}

/// A running bench server. Dropping it stops the server and closes its connections.
pub struct Server {
    /// Where it listens (always `127.0.0.1`).
    pub addr: SocketAddr,
    /// With `tls`: the PEM certificate to trust (e.g. `quotes --cacert`, `curl --cacert`).
    pub cert_pem: Option<String>,
    counters: Arc<Counters>,
    tls: bool,
    accept_loop: JoinHandle<()>,
}

impl Server {
    /// Starts a server on `127.0.0.1` at a free port.
    pub async fn start(cfg: ServerConfig) -> io::Result<Server> {
        Server::start_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), cfg).await
    }

    /// Starts a server on `addr` (port 0 picks a free one). The `bench-server` binary uses
    /// this to honour `--port`.
    pub async fn start_on(addr: SocketAddr, cfg: ServerConfig) -> io::Result<Server> {
        let listener = listen(addr)?;
        let addr = listener.local_addr()?;
        let (acceptor, cert_pem) = if cfg.tls {
            let identity = crate::tls::self_signed()?;
            (
                Some(TlsAcceptor::from(identity.config)),
                Some(identity.cert_pem),
            )
        } else {
            (None, None)
        };

        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder.http1().timer(TokioTimer::new()).keep_alive(true);
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_concurrent_streams(cfg.max_concurrent_streams);

        let counters = Arc::new(Counters::default());
        let shared = Arc::new(Shared {
            builder,
            acceptor,
            delay: cfg.delay,
            counters: Arc::clone(&counters),
        });
        let accept_loop = tokio::spawn(accept_loop(listener, shared));
        Ok(Server {
            addr,
            cert_pem,
            counters,
            tls: cfg.tls,
            accept_loop,
        })
    }

    /// `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`, no trailing slash: the value for
    /// `QUOTES_YAHOO_URL` and the peers' `YAHOO_BASE`.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// The counters now (also served as JSON at `GET /__stats`).
    pub fn stats(&self) -> Stats {
        self.counters.snapshot()
    }

    /// Zeroes the counters (also `GET` or `POST /__reset`).
    pub fn reset(&self) {
        self.counters.reset();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // The accept loop owns every connection task (a JoinSet), so this closes them all.
        self.accept_loop.abort();
    }
}

/// A listener with a backlog deep enough for a thousand simultaneous connects.
pub(crate) fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}

struct Shared {
    builder: auto::Builder<TokioExecutor>,
    acceptor: Option<TlsAcceptor>,
    delay: Duration,
    counters: Arc<Counters>,
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            // EMFILE and friends: back off instead of spinning; the client will see a slow
            // connect, which is what a saturated real server looks like too.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let conn = shared.counters.connection_opened();
        connections.spawn(serve(stream, Arc::clone(&shared), conn));
        while connections.try_join_next().is_some() {}
    }
}

async fn serve(stream: TcpStream, shared: Arc<Shared>, conn: Arc<Connection>) {
    // Small answers must leave at once, not wait for Nagle.
    let _ = stream.set_nodelay(true);
    let svc = {
        let shared = Arc::clone(&shared);
        let conn = Arc::clone(&conn);
        service_fn(move |req| {
            let shared = Arc::clone(&shared);
            let conn = Arc::clone(&conn);
            async move { Ok::<_, Infallible>(answer(req, &shared, &conn).await) }
        })
    };
    match &shared.acceptor {
        None => {
            let _ = shared
                .builder
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        }
        Some(acceptor) => {
            let Ok(tls) = acceptor.accept(stream).await else {
                return;
            };
            if tls.get_ref().1.alpn_protocol() == Some(b"h2") {
                shared.counters.mark_h2(&conn);
            }
            let _ = shared
                .builder
                .serve_connection(TokioIo::new(tls), svc)
                .await;
        }
    }
}

async fn answer(
    req: Request<Incoming>,
    shared: &Shared,
    conn: &Connection,
) -> Response<Full<Bytes>> {
    let counters = &shared.counters;
    let path = req.uri().path();
    match path {
        "/__stats" => {
            counters.control_request(conn);
            return json(StatusCode::OK, stats_json(counters.snapshot()));
        }
        "/__reset" if req.method() == Method::GET || req.method() == Method::POST => {
            counters.reset();
            counters.control_request(conn);
            return json(StatusCode::OK, stats_json(counters.snapshot()));
        }
        _ => {}
    }

    conn.used.store(true, Ordering::Relaxed);
    if req.version() == Version::HTTP_2 {
        counters.mark_h2(conn);
    }
    counters.requests.fetch_add(1, Ordering::Relaxed);
    let _in_flight = counters.enter();

    let symbol = path
        .strip_prefix("/v8/finance/chart/")
        .map(percent_decode)
        .filter(|s| !s.is_empty() && !s.contains('/'));
    let Some(symbol) = symbol else {
        return json(StatusCode::NOT_FOUND, chart::NOT_FOUND_BODY.to_owned());
    };
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return json(
            StatusCode::METHOD_NOT_ALLOWED,
            chart::NOT_FOUND_BODY.to_owned(),
        );
    }
    if !shared.delay.is_zero() {
        tokio::time::sleep(shared.delay).await;
    }
    let mut response = json(StatusCode::OK, chart::chart_body(&symbol));
    response.headers_mut().insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=10, stale-while-revalidate=20"),
    );
    response
}

fn stats_json(stats: Stats) -> String {
    // Four integers cannot fail to serialize; an empty object would still be valid JSON.
    serde_json::to_string(&stats).unwrap_or_else(|_| "{}".to_owned())
}

fn json(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=utf-8"),
    );
    response
}

/// `%5EGSPC` -> `^GSPC`; a malformed escape is kept as written, invalid UTF-8 is replaced.
fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                let (h, l) = (hex(h).unwrap_or(0), hex(l).unwrap_or(0));
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Per-connection bookkeeping, so a control connection can be taken back out of the count.
struct Connection {
    /// The reset generation the connection was counted in.
    generation: u64,
    /// Still included in `connections` (and in `h2_connections` if `h2`).
    counted: AtomicBool,
    h2: AtomicBool,
    /// Carried at least one non-control request.
    used: AtomicBool,
}

#[derive(Default)]
struct Counters {
    generation: AtomicU64,
    connections: AtomicU64,
    requests: AtomicU64,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
    h2_connections: AtomicU64,
}

impl Counters {
    fn connection_opened(&self) -> Arc<Connection> {
        let generation = self.generation.load(Ordering::SeqCst);
        self.connections.fetch_add(1, Ordering::SeqCst);
        Arc::new(Connection {
            generation,
            counted: AtomicBool::new(true),
            h2: AtomicBool::new(false),
            used: AtomicBool::new(false),
        })
    }

    fn mark_h2(&self, conn: &Connection) {
        if !conn.h2.swap(true, Ordering::SeqCst)
            && conn.generation == self.generation.load(Ordering::SeqCst)
            && conn.counted.load(Ordering::SeqCst)
        {
            self.h2_connections.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// A control request: if it is the first thing on its connection, that connection was
    /// opened to look at the counters, not by the program being measured.
    fn control_request(&self, conn: &Connection) {
        if conn.used.load(Ordering::SeqCst)
            || conn.generation != self.generation.load(Ordering::SeqCst)
            || !conn.counted.swap(false, Ordering::SeqCst)
        {
            return;
        }
        decrement(&self.connections);
        if conn.h2.load(Ordering::SeqCst) {
            decrement(&self.h2_connections);
        }
    }

    fn enter(&self) -> InFlight<'_> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(self)
    }

    fn snapshot(&self) -> Stats {
        Stats {
            connections: self.connections.load(Ordering::SeqCst),
            requests: self.requests.load(Ordering::SeqCst),
            max_in_flight: self.max_in_flight.load(Ordering::SeqCst),
            h2_connections: self.h2_connections.load(Ordering::SeqCst),
        }
    }

    fn reset(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.connections.store(0, Ordering::SeqCst);
        self.requests.store(0, Ordering::SeqCst);
        self.max_in_flight.store(0, Ordering::SeqCst);
        self.h2_connections.store(0, Ordering::SeqCst);
    }
}

/// Never wraps below zero, even if a reset raced with the decrement.
fn decrement(counter: &AtomicU64) {
    let _ = counter.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
}

/// Held while a request is being answered (the delay included).
struct InFlight<'a>(&'a Counters);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        decrement(&self.0.in_flight);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("%5EGSPC"), "^GSPC");
        assert_eq!(percent_decode("EURUSD%3DX"), "EURUSD=X");
        assert_eq!(percent_decode("BRK.B"), "BRK.B");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }

    #[test]
    fn control_connection_is_not_counted_but_a_used_one_is() {
        let c = Counters::default();
        let control = c.connection_opened();
        let traffic = c.connection_opened();
        traffic.used.store(true, Ordering::SeqCst);
        c.control_request(&control);
        c.control_request(&control);
        c.control_request(&traffic);
        assert_eq!(c.snapshot().connections, 1);
        c.reset();
        let after = c.connection_opened();
        c.control_request(&control); // from the old generation: no effect
        assert_eq!(c.snapshot().connections, 1);
        c.mark_h2(&after);
        assert_eq!(c.snapshot().h2_connections, 1);
    }
}
