//! The bench server: answers like Yahoo's chart API and Coinbase's spot-price API, after an
//! optional delay, over HTTP/1.1 or HTTP/2 (h2c, or h2 by ALPN over TLS), and counts what
//! clients do.
//!
//! | request | answer |
//! |---|---|
//! | `GET /v8/finance/chart/{SYMBOL}` (any query without `period1`) | [`chart::chart_body`]: today's price, byte for byte as ever |
//! | `GET /v8/finance/chart/{SYMBOL}?period1=P1[&period2=P2][&interval=1d\|1wk\|1mo\|3mo][&events=split]` | [`chart::history_body`]: one bar per weekday (or week, month, quarter) |
//! | `GET /v2/prices/{BASE}-{QUOTE}/spot` | [`chart::coinbase_spot_body`] |
//! | `GET /api/quote/{SYMBOL}/info` (any `assetclass`) | [`chart::nasdaq_info_body`] |
//! | anything else | Yahoo's 404 body |
//!
//! With [`ServerConfig::refuse_yahoo`] every chart request (latest and history) gets Yahoo's
//! 429 instead, after the same delay: Yahoo refusing a whole IP range (issue 19's fallback
//! scenario), while the same server still answers as Nasdaq and Coinbase.
//!
//! What it counts ([`Stats`]) is what the benchmark is about: how many TCP connections a
//! program opened, how many requests it sent, how many were in flight at once, and how many
//! connections spoke HTTP/2; and, for tests, how many requests each path got. Control requests
//! (`/__stats`, `/__reset`, `/__price/{SYMBOL}`, `/__prices?symbols=...`) are not counted, and
//! a connection whose first request is a control request is not counted either, so asking for
//! the numbers over a fresh connection does not change them.
//!
//! Counters are "since the last reset": a keep-alive connection opened before a reset and
//! reused after it adds requests but not a connection.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
    /// Answer every Yahoo chart request 429 `Edge: Too Many Requests` (after the delay), as
    /// Yahoo does to a refused IP range.
    pub refuse_yahoo: bool,
}

impl Default for ServerConfig {
    /// No delay, plain HTTP, 250 concurrent h2 streams, Yahoo answering.
    fn default() -> Self {
        ServerConfig {
            delay: Duration::ZERO,
            tls: false,
            max_concurrent_streams: 250,
            refuse_yahoo: false,
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
            refuse_yahoo: cfg.refuse_yahoo,
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
    /// `QUOTES_YAHOO_URL` and the peers' `YAHOO_BASE`, or for `QUOTES_COINBASE_URL` (every
    /// server answers both formats; start two to count each origin's connections apart).
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// The counters now (also served as JSON at `GET /__stats`).
    pub fn stats(&self) -> Stats {
        self.counters.snapshot()
    }

    /// Requests per path (the query left out, not percent-decoded) since the last reset,
    /// control requests excluded; also the `paths` object of `GET /__stats`.
    pub fn requests_by_path(&self) -> BTreeMap<String, u64> {
        self.counters.paths_snapshot()
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
    refuse_yahoo: bool,
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
            return json(StatusCode::OK, stats_json(counters));
        }
        "/__reset" if req.method() == Method::GET || req.method() == Method::POST => {
            counters.reset();
            counters.control_request(conn);
            return json(StatusCode::OK, stats_json(counters));
        }
        "/__prices" => {
            counters.control_request(conn);
            return json(StatusCode::OK, prices_json(req.uri().query()));
        }
        _ => {}
    }
    if let Some(symbol) = path.strip_prefix("/__price/") {
        counters.control_request(conn);
        let mut response = json(StatusCode::OK, chart::price_of(&percent_decode(symbol)));
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        return response;
    }

    conn.used.store(true, Ordering::Relaxed);
    if req.version() == Version::HTTP_2 {
        counters.mark_h2(conn);
    }
    counters.requests.fetch_add(1, Ordering::Relaxed);
    counters.count_path(path);
    let _in_flight = counters.enter();

    if let Some(pair) = path
        .strip_prefix("/v2/prices/")
        .and_then(|rest| rest.strip_suffix("/spot"))
        .filter(|p| !p.contains('/'))
    {
        return coinbase_spot(&req, shared, &percent_decode(pair)).await;
    }
    if let Some(symbol) = path
        .strip_prefix("/api/quote/")
        .and_then(|rest| rest.strip_suffix("/info"))
        .filter(|s| !s.is_empty() && !s.contains('/'))
    {
        if !shared.delay.is_zero() {
            tokio::time::sleep(shared.delay).await;
        }
        return json(
            StatusCode::OK,
            chart::nasdaq_info_body(&percent_decode(symbol)),
        );
    }

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
    // With period1 a history answer; without it, today's answer exactly as it always was.
    let history = req
        .uri()
        .query()
        .and_then(|q| query_param(q, "period1"))
        .map(|p1| history(&symbol, &p1, req.uri().query().unwrap_or("")));
    if !shared.delay.is_zero() {
        tokio::time::sleep(shared.delay).await;
    }
    if shared.refuse_yahoo {
        let mut response = json(
            StatusCode::TOO_MANY_REQUESTS,
            chart::TOO_MANY_REQUESTS_BODY.to_owned(),
        );
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        return response;
    }
    let body = match history {
        None => chart::chart_body(&symbol),
        Some(Ok(body)) => body,
        Some(Err(description)) => {
            return json(
                StatusCode::BAD_REQUEST,
                chart::bad_request_body(&description),
            );
        }
    };
    let mut response = json(StatusCode::OK, body);
    response.headers_mut().insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=10, stale-while-revalidate=20"),
    );
    response
}

/// The history answer for `?period1=...&period2=...&interval=...` (`period2` defaults to
/// now, `interval` to `1d`; `events` is accepted and ignored: there are no splits here).
fn history(symbol: &str, period1: &str, query: &str) -> Result<String, String> {
    let seconds = |name: &str, text: &str| {
        text.parse::<i64>()
            .map_err(|_| format!("Invalid input - {name}={text} is not a number of seconds"))
    };
    let period1 = seconds("period1", period1)?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let period2 = match query_param(query, "period2") {
        Some(p2) => seconds("period2", &p2)?,
        None => now,
    };
    // As Yahoo answers: no bar of a day that has not begun (a bar from the future is a
    // malformed answer to quotes, issue 18), however far `period2` reaches.
    let period2 = period2.min(now.max(period1));
    let interval = query_param(query, "interval").unwrap_or_else(|| "1d".to_owned());
    let interval = chart::Interval::parse(&interval).ok_or_else(|| {
        format!(
            "Invalid input - interval={interval} is not supported. \
             Valid intervals: [1d, 1wk, 1mo, 3mo]"
        )
    })?;
    chart::history_body(symbol, period1, period2, interval)
}

/// Coinbase's spot price for `pair`, after the delay; a pair that is not `BASE-QUOTE` gets
/// Coinbase's 404.
async fn coinbase_spot(
    req: &Request<Incoming>,
    shared: &Shared,
    pair: &str,
) -> Response<Full<Bytes>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return coinbase_json(
            StatusCode::METHOD_NOT_ALLOWED,
            chart::COINBASE_NOT_FOUND_BODY.to_owned(),
        );
    }
    if !shared.delay.is_zero() {
        tokio::time::sleep(shared.delay).await;
    }
    match chart::coinbase_spot_body(pair) {
        Some(body) => coinbase_json(StatusCode::OK, body),
        None => coinbase_json(
            StatusCode::NOT_FOUND,
            chart::COINBASE_NOT_FOUND_BODY.to_owned(),
        ),
    }
}

/// The value of `name` in a query string, percent-decoded (`+` left as it is).
fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then(|| percent_decode(value))
    })
}

/// `GET /__prices?symbols=A,B,...`: `{"A":"115.68","B":...}`, each [`chart::price_of`] (keys
/// sorted). Symbols are split on `,` (so a comma, literal or `%2C`, cannot be part of one)
/// and then percent-decoded.
fn prices_json(query: Option<&str>) -> String {
    let mut out = serde_json::Map::new();
    let symbols = query.and_then(|q| {
        q.split('&')
            .find_map(|pair| pair.strip_prefix("symbols="))
            .map(str::to_owned)
    });
    for raw in symbols.iter().flat_map(|s| s.split(',')) {
        let symbol = percent_decode(raw);
        if !symbol.is_empty() {
            let price = chart::price_of(&symbol);
            out.insert(symbol, serde_json::Value::String(price));
        }
    }
    serde_json::Value::Object(out).to_string()
}

/// The `/__stats` body: the [`Stats`] fields, then `paths`, the requests per path.
fn stats_json(counters: &Counters) -> String {
    #[derive(Serialize)]
    struct Report {
        #[serde(flatten)]
        stats: Stats,
        paths: BTreeMap<String, u64>,
    }
    let report = Report {
        stats: counters.snapshot(),
        paths: counters.paths_snapshot(),
    };
    // Integers and strings cannot fail to serialize; an empty object would still be valid JSON.
    serde_json::to_string(&report).unwrap_or_else(|_| "{}".to_owned())
}

fn coinbase_json(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = json(status, body);
    // As Coinbase (through Cloudflare) writes it.
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
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
    /// Requests per path; a mutex is cheap next to answering a request.
    paths: Mutex<HashMap<String, u64>>,
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

    fn count_path(&self, path: &str) {
        let mut paths = self.paths.lock().unwrap_or_else(|e| e.into_inner());
        match paths.get_mut(path) {
            Some(n) => *n += 1,
            None => {
                paths.insert(path.to_owned(), 1);
            }
        }
    }

    fn paths_snapshot(&self) -> BTreeMap<String, u64> {
        let paths = self.paths.lock().unwrap_or_else(|e| e.into_inner());
        paths.iter().map(|(k, v)| (k.clone(), *v)).collect()
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
        self.paths.lock().unwrap_or_else(|e| e.into_inner()).clear();
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
    fn query_parameters_and_prices() {
        let q = "period1=10&interval=3mo&events=split&x";
        assert_eq!(query_param(q, "period1").as_deref(), Some("10"));
        assert_eq!(query_param(q, "interval").as_deref(), Some("3mo"));
        assert_eq!(query_param(q, "x").as_deref(), Some(""));
        assert_eq!(query_param(q, "period2"), None);
        let prices: serde_json::Value =
            serde_json::from_str(&prices_json(Some("symbols=T0001,%5EGSPC,,BTC-USD"))).unwrap();
        assert_eq!(prices["T0001"], "115.68");
        assert_eq!(prices["^GSPC"], chart::price_of("^GSPC"));
        assert_eq!(prices.as_object().unwrap().len(), 3);
        assert_eq!(prices_json(None), "{}");
        assert!(history("A", "x", "").is_err());
        assert!(history("A", "0", "period2=100000000&interval=7m").is_err());
        assert!(history("A", "0", "period2=100000000&interval=3mo").is_ok());
    }

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
