//! Local HTTP/1.1 test server shared by the integration tests.
//!
//! This module owns the fake Yahoo Finance / Coinbase endpoint the tests point the `quotes`
//! binary at: a hand-written HTTP/1.1 server on a raw tokio `TcpListener` (no hyper, so every
//! byte on the wire is under the test's control), bound to `127.0.0.1` port 0 and never
//! talking to anything but loopback. It also owns the fixture helpers (`fixture`, `chart_body`,
//! `coinbase_body`) that read `tests/fixtures/` or build synthetic bodies.
//!
//! The server runs on its own `std::thread` with its own current-thread tokio runtime, so tests
//! stay plain synchronous `#[test]` functions that run the binary with `assert_cmd`.
//!
//! Every request is recorded (`Server::requests`, `hits`, `connections`, `max_in_flight`).
//! Dropping a `Server` stops its thread, releasing stalled sockets, and then fails the test if it
//! saw no request at all (or, after `expect_no_requests`, if it saw any), or if the handler
//! panicked.
//!
//! The handler is called on the server's runtime thread: it must return quickly and never block
//! (use `Reply::with_delay` for slow answers and `Reply::when_in_flight` to hold answers until
//! enough requests have arrived; both wait asynchronously).
//!
//! Tests synchronise on what the server counted, never on a sleep: `wait_until` polls a
//! condition such as `server.hits("X") == 1` with a bound and a clear failure.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// Largest request head (request line plus headers) accepted before the connection is closed.
const MAX_HEAD: usize = 64 * 1024;
/// Size of the chunks `Reply::Endless` writes.
const ENDLESS_CHUNK: usize = 16 * 1024;
/// How long `Reply::WhenInFlight` holds an answer at most: a client that never sends enough
/// requests gets its answers late and fails the test's count instead of hanging it.
const IN_FLIGHT_GUARD: Duration = Duration::from_secs(10);

/// Waits until `condition` holds, checking every few milliseconds; fails the test, naming
/// `what` it waited for, if that takes longer than `timeout`.
///
/// The short sleep between checks is a poll interval, not a guess at how long something
/// takes: the wait ends as soon as the condition holds.
pub fn wait_until(what: &str, timeout: Duration, mut condition: impl FnMut() -> bool) {
    let started = std::time::Instant::now();
    while !condition() {
        assert!(
            started.elapsed() < timeout,
            "timed out after {timeout:?} waiting until {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

/// One request the server received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// Path as sent (still percent-encoded), without the query.
    pub path: String,
    /// Query string as sent, without the `?`; `""` if there is none.
    pub query: String,
    /// Header names lowercased, values trimmed, in the order sent.
    pub headers: Vec<(String, String)>,
    /// 0-based index of the TCP connection the request came on.
    pub connection: usize,
}

impl Request {
    /// First header with that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The symbol the request is about: the last path segment, percent-decoded
    /// (`/v8/finance/chart/%5EGSPC` -> `^GSPC`). For Coinbase price paths, which end in
    /// `/spot`, `/buy` or `/sell` (`/v2/prices/BTC-USD/spot`), it is the segment before that.
    pub fn symbol(&self) -> String {
        let mut segments: Vec<&str> = self.path.split('/').filter(|s| !s.is_empty()).collect();
        let last = segments.pop().unwrap_or("");
        let segment = if matches!(last, "spot" | "buy" | "sell") {
            segments.pop().unwrap_or(last)
        } else {
            last
        };
        percent_decode(segment)
    }

    /// Value of the first query parameter with that name, percent-decoded (`+` means space).
    /// `Some("")` for a parameter given without `=`.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
            .find(|(k, _)| decode_query_part(k) == name)
            .map(|(_, v)| decode_query_part(v))
    }
}

/// Decodes `%XX` escapes; malformed escapes are kept as they are. Invalid UTF-8 is replaced.
/// (The one decoder of the suite: the ticker properties check path segments with it too.)
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(hi), Some(lo)) = (hex_value(bytes[i + 1]), hex_value(bytes[i + 2]))
        {
            out.push(hi * 16 + lo);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn decode_query_part(s: &str) -> String {
    percent_decode(&s.replace('+', " "))
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Replies
// ---------------------------------------------------------------------------------------------

/// What the server does with one request.
#[derive(Clone, Debug)]
pub enum Reply {
    /// Status, extra headers, body, sent after `delay`. `Content-Type: application/json` unless
    /// a content-type header is given; `Content-Length: body.len()` unless a content-length
    /// header is given; `Connection: keep-alive` (or `close` if the client asked for it) unless
    /// a connection header is given (`connection: close` closes the socket after the reply).
    Full {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        delay: Duration,
    },
    /// Accept the request and never answer (hold the socket open until the server is dropped).
    Stall,
    /// Send headers with `Content-Length: body.len()`, then only the first `sent` bytes, then
    /// close the socket.
    Truncated { body: Vec<u8>, sent: usize },
    /// 200 with chunked transfer encoding streaming exactly `total` bytes of body that looks like
    /// JSON (`{"chart":{"result":[{"meta":{"symbol":"PADDING","padding":"xxxx…"}}],"error":null}}`,
    /// valid JSON once `total` is at least about 80 bytes), as fast as the client reads. Stops
    /// writing when the client goes away; never holds more than one chunk in memory.
    Endless { total: usize },
    /// Close the connection without sending anything.
    Close,
    /// Send these bytes as they are, whatever HTTP says (a bad status line, a control
    /// character in a header, an informational status alone), then close the connection.
    Raw(Vec<u8>),
    /// Hold the request until the server has had at least `count` requests in flight at
    /// once (or for `IN_FLIGHT_GUARD` at most), then send `reply`. Built by
    /// `Reply::when_in_flight`.
    WhenInFlight { count: usize, reply: Box<Reply> },
}

impl Reply {
    /// `status` with a JSON body, no delay.
    pub fn json(status: u16, body: impl Into<Vec<u8>>) -> Reply {
        Reply::Full {
            status,
            headers: Vec::new(),
            body: body.into(),
            delay: Duration::ZERO,
        }
    }

    /// `status` with the body of `tests/fixtures/NAME`; `.txt` fixtures are sent as
    /// `text/plain`, everything else as `application/json`.
    pub fn fixture(status: u16, name: &str) -> Reply {
        let reply = Reply::json(status, fixture(name));
        if name.ends_with(".txt") {
            reply.with_header("content-type", "text/plain")
        } else {
            reply
        }
    }

    /// `200` with a recorded Yahoo chart (`tests/fixtures/NAME`) answered for `symbol`: its
    /// `meta.symbol` replaced, every other byte as recorded (a chart of another instrument
    /// is refused, issue 18).
    pub fn fixture_as(name: &str, symbol: &str) -> Reply {
        Reply::json(200, chart_fixture_as(name, symbol))
    }

    /// `status` with a `text/plain` body.
    pub fn text(status: u16, body: &str) -> Reply {
        Reply::json(status, body).with_header("content-type", "text/plain")
    }

    /// 200 with `chart_body(symbol, price_text, currency, time)`.
    pub fn chart(symbol: &str, price_text: &str, currency: Option<&str>, time: i64) -> Reply {
        Reply::json(200, chart_body(symbol, price_text, currency, time))
    }

    /// Delays a `Full` reply (asynchronously; other requests are served meanwhile).
    /// Other variants are returned unchanged.
    pub fn with_delay(self, d: Duration) -> Reply {
        match self {
            Reply::Full {
                status,
                headers,
                body,
                ..
            } => Reply::Full {
                status,
                headers,
                body,
                delay: d,
            },
            other => other,
        }
    }

    /// Sends this reply only once `count` requests have been in flight at the server at the
    /// same time (this one included), so a test of concurrency need not guess how long the
    /// client takes to send them all. After `IN_FLIGHT_GUARD` without that, it is sent anyway.
    pub fn when_in_flight(self, count: usize) -> Reply {
        Reply::WhenInFlight {
            count,
            reply: Box::new(self),
        }
    }

    /// Adds a header to a `Full` reply, replacing the default of the same name
    /// (content-type, content-length, connection). Other variants are returned unchanged.
    pub fn with_header(self, name: &str, value: &str) -> Reply {
        match self {
            Reply::Full {
                status,
                mut headers,
                body,
                delay,
            } => {
                if is_default_header(name) {
                    headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
                }
                headers.push((name.to_owned(), value.to_owned()));
                Reply::Full {
                    status,
                    headers,
                    body,
                    delay,
                }
            }
            other => other,
        }
    }
}

fn is_default_header(name: &str) -> bool {
    ["content-type", "content-length", "connection"]
        .iter()
        .any(|d| d.eq_ignore_ascii_case(name))
}

/// Bytes of `tests/fixtures/NAME`. Fails the test if the fixture cannot be read.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(name);
    match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) => panic!("cannot read fixture {}: {e}", path.display()),
    }
}

/// The recorded Yahoo chart `tests/fixtures/NAME` with its `meta.symbol` made `symbol`; the
/// rest byte for byte (numbers keep their text). Fails the test if it has no symbol.
pub fn chart_fixture_as(name: &str, symbol: &str) -> Vec<u8> {
    let text = String::from_utf8(fixture(name)).expect("a UTF-8 fixture");
    let key = text.find(r#""symbol""#).expect("a chart with a symbol");
    let open = key + text[key + 8..].find('"').expect("the symbol's value") + 8;
    let close = open + 1 + text[open + 1..].find('"').expect("the symbol's end");
    format!(
        "{}{}{}",
        &text[..open],
        json_string(symbol),
        &text[close + 1..]
    )
    .into_bytes()
}

/// Yahoo chart body with the given symbol and price TEXT inserted verbatim as a JSON number
/// (in `meta.regularMarketPrice` and as the close of the single bar stamped `time`), e.g.
/// `chart_body("AAPL", "220.003", Some("USD"), 1742824293)`. Currency `None` writes
/// `"currency":null`. Shaped like `yahoo_chart_AAPL.json`.
pub fn chart_body(symbol: &str, price_text: &str, currency: Option<&str>, time: i64) -> String {
    let symbol = json_string(symbol);
    let currency = currency.map_or_else(|| "null".to_owned(), json_string);
    format!(
        concat!(
            r#"{{"chart":{{"result":[{{"meta":{{"currency":{currency},"symbol":{symbol},"#,
            r#""exchangeName":"NMS","fullExchangeName":"NasdaqGS","instrumentType":"EQUITY","#,
            r#""firstTradeDate":345479400,"regularMarketTime":{time},"hasPrePostMarketData":true,"#,
            r#""gmtoffset":-14400,"timezone":"EDT","exchangeTimezoneName":"America/New_York","#,
            r#""regularMarketPrice":{price},"priceHint":2,"dataGranularity":"1d","range":"1d","#,
            r#""validRanges":["1d","5d","1mo","3mo","6mo","1y","2y","5y","10y","ytd","max"]}},"#,
            r#""timestamp":[{time}],"indicators":{{"quote":[{{"close":[{price}]}}]}}}}],"#,
            r#""error":null}}}}"#
        ),
        currency = currency,
        symbol = symbol,
        time = time,
        price = price_text,
    )
}

/// Coinbase `/v2/prices/{base}-{currency}/spot` body with `amount_text` as the amount string,
/// shaped like `coinbase_spot_BTC-USD.json`.
pub fn coinbase_body(base: &str, currency: &str, amount_text: &str) -> String {
    format!(
        r#"{{"data":{{"base":{},"currency":{},"amount":{}}}}}"#,
        json_string(base),
        json_string(currency),
        json_string(amount_text)
    )
}

fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

// ---------------------------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------------------------

type Handler = Box<dyn Fn(&Request) -> Reply + Send + Sync + 'static>;

struct Shared {
    handler: Handler,
    requests: Mutex<Vec<Request>>,
    handler_panics: Mutex<Vec<String>>,
    connections: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

impl Shared {
    fn requests(&self) -> MutexGuard<'_, Vec<Request>> {
        self.requests.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn handler_panics(&self) -> MutexGuard<'_, Vec<String>> {
        self.handler_panics
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expectation {
    SomeRequests,
    NoRequests,
}

/// A running test server; see the module docs.
pub struct Server {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    expectation: Expectation,
}

impl Server {
    /// Starts a server whose handler decides each reply. The handler is called once per
    /// request and may be called for several connections interleaved; it must not block.
    pub fn start(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Server {
        let std_listener = std::net::TcpListener::bind(("127.0.0.1", 0))
            .unwrap_or_else(|e| panic!("test server: cannot bind 127.0.0.1:0: {e}"));
        let addr = std_listener
            .local_addr()
            .unwrap_or_else(|e| panic!("test server: no local address: {e}"));
        std_listener
            .set_nonblocking(true)
            .unwrap_or_else(|e| panic!("test server: cannot make listener non-blocking: {e}"));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("test server: cannot build tokio runtime: {e}"));
        let listener = {
            let _context = runtime.enter();
            TcpListener::from_std(std_listener)
                .unwrap_or_else(|e| panic!("test server: cannot register listener: {e}"))
        };

        let shared = Arc::new(Shared {
            handler: Box::new(handler),
            requests: Mutex::new(Vec::new()),
            handler_panics: Mutex::new(Vec::new()),
            connections: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        });
        let (shutdown, stopped) = oneshot::channel::<()>();
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name(format!("test-server-{}", addr.port()))
            .spawn(move || {
                runtime.block_on(async move {
                    tokio::spawn(accept_loop(listener, thread_shared));
                    // Resolves on `send` and when the sender is dropped alike.
                    let _ = stopped.await;
                });
                // Dropping the runtime drops every connection task, which closes every socket,
                // stalled ones included.
                drop(runtime);
            })
            .unwrap_or_else(|e| panic!("test server: cannot spawn thread: {e}"));

        Server {
            addr,
            shared,
            shutdown: Some(shutdown),
            thread: Some(thread),
            expectation: Expectation::SomeRequests,
        }
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request received so far, in arrival order (recorded before the handler runs).
    pub fn requests(&self) -> Vec<Request> {
        self.shared.requests().clone()
    }

    /// Number of requests received so far.
    pub fn request_count(&self) -> usize {
        self.shared.requests().len()
    }

    /// Number of requests whose `symbol()` equals `symbol`.
    pub fn hits(&self, symbol: &str) -> usize {
        self.shared
            .requests()
            .iter()
            .filter(|r| r.symbol() == symbol)
            .count()
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Most requests handled at once: received, and their reply not yet completely written.
    /// A `Stall`ed request stays in flight until the server is dropped.
    pub fn max_in_flight(&self) -> usize {
        self.shared.max_in_flight.load(Ordering::SeqCst)
    }

    /// By default dropping a server that received no request fails the test (a test that never
    /// reached its server must fail). Call this in tests that expect no traffic at all:
    /// dropping the server then fails the test if ANY request arrived.
    pub fn expect_no_requests(mut self) -> Server {
        self.expectation = Expectation::NoRequests;
        self
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        let joined = self.thread.take().map(JoinHandle::join);
        if std::thread::panicking() {
            return;
        }
        let url = self.url();
        if let Some(Err(_)) = joined {
            panic!("test server {url}: its thread panicked");
        }
        let panics = self.shared.handler_panics().clone();
        if !panics.is_empty() {
            panic!("test server {url}: the handler panicked: {panics:?}");
        }
        let requests = self.shared.requests();
        match self.expectation {
            Expectation::SomeRequests if requests.is_empty() => panic!(
                "test server {url} received no requests: the test never reached it \
                 (call expect_no_requests() if that is intended)"
            ),
            Expectation::NoRequests if !requests.is_empty() => {
                let mut list = String::new();
                for r in requests.iter() {
                    let _ = write!(list, "\n  {} {}", r.method, r.path);
                    if !r.query.is_empty() {
                        let _ = write!(list, "?{}", r.query);
                    }
                }
                panic!(
                    "test server {url} expected no requests but received {}:{list}",
                    requests.len()
                );
            }
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Connection handling
// ---------------------------------------------------------------------------------------------

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        match listener.accept().await {
            Ok((stream, _peer)) => {
                let _ = stream.set_nodelay(true);
                let index = shared.connections.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve_connection(stream, index, Arc::clone(&shared)));
            }
            // E.g. EMFILE: back off briefly instead of spinning.
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// Counts a request as in flight for as long as it lives.
struct InFlight<'a>(&'a Shared);

impl<'a> InFlight<'a> {
    fn enter(shared: &'a Shared) -> InFlight<'a> {
        let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        shared.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(shared)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn serve_connection(mut stream: TcpStream, connection: usize, shared: Arc<Shared>) {
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    loop {
        let Some(head_len) = read_head(&mut stream, &mut buf).await else {
            return;
        };
        let Some(head) = parse_head(&buf[..head_len], connection) else {
            return; // malformed request: just close
        };
        buf.drain(..head_len);
        if !discard_body(&mut stream, &mut buf, head.content_length).await {
            return;
        }

        let request = head.request;
        shared.requests().push(request.clone());
        let in_flight = InFlight::enter(&shared);
        let reply = match catch_unwind(AssertUnwindSafe(|| (shared.handler)(&request))) {
            Ok(reply) => reply,
            Err(payload) => {
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "non-string panic payload".to_owned());
                shared
                    .handler_panics()
                    .push(format!("{} {}: {message}", request.method, request.path));
                Reply::text(500, "test server handler panicked").with_header("connection", "close")
            }
        };
        let reply = hold_until_in_flight(reply, &shared).await;
        let keep_open = respond(&mut stream, reply, head.keep_alive)
            .await
            .unwrap_or(false);
        drop(in_flight);
        if !keep_open {
            return;
        }
    }
}

/// Unwraps `Reply::WhenInFlight`, waiting (asynchronously) until enough requests have been in
/// flight at once.
async fn hold_until_in_flight(mut reply: Reply, shared: &Shared) -> Reply {
    while let Reply::WhenInFlight {
        count,
        reply: inner,
    } = reply
    {
        let started = tokio::time::Instant::now();
        while shared.max_in_flight.load(Ordering::SeqCst) < count
            && started.elapsed() < IN_FLIGHT_GUARD
        {
            // A poll interval: the hold ends as soon as the count is reached.
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        reply = *inner;
    }
    reply
}

/// Reads until `buf` holds a complete request head; returns its length including the blank
/// line. `None` on EOF, I/O error or an oversized head.
async fn read_head(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<usize> {
    let mut scanned: usize = 0;
    loop {
        // Tolerate empty lines before a request line (RFC 9112, section 2.2).
        let blank = buf
            .iter()
            .take_while(|b| matches!(b, b'\r' | b'\n'))
            .count();
        if blank > 0 {
            buf.drain(..blank);
            scanned = 0;
        }
        // Resume the search where the previous one stopped, minus a possible partial match.
        let from = scanned.saturating_sub(3);
        if let Some(pos) = find(&buf[from..], b"\r\n\r\n") {
            return Some(from + pos + 4);
        }
        scanned = buf.len();
        if buf.len() > MAX_HEAD {
            return None;
        }
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Reads and drops `len` body bytes, taking what is already in `buf` first.
async fn discard_body(stream: &mut TcpStream, buf: &mut Vec<u8>, len: usize) -> bool {
    let buffered = len.min(buf.len());
    buf.drain(..buffered);
    let mut remaining = len - buffered;
    let mut chunk = [0u8; 4096];
    while remaining > 0 {
        let want = remaining.min(chunk.len());
        match stream.read(&mut chunk[..want]).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => remaining -= n,
        }
    }
    true
}

struct Head {
    request: Request,
    content_length: usize,
    keep_alive: bool,
}

/// Parses a request head (ending in the blank line). `None` if it is malformed.
fn parse_head(raw: &[u8], connection: usize) -> Option<Head> {
    let text = std::str::from_utf8(raw).ok()?;
    let mut lines = text.split("\r\n");
    let request_line = lines.next()?;
    let mut parts = request_line.split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some()
        || method.is_empty()
        || !method.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-')
    {
        return None;
    }
    let http11 = match version {
        "HTTP/1.1" => true,
        "HTTP/1.0" => false,
        _ => return None,
    };

    let mut headers: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.is_empty() {
            continue; // the final blank line(s)
        }
        if line.starts_with([' ', '\t']) {
            // Obsolete line folding: continue the previous value.
            let (_, value) = headers.last_mut()?;
            value.push(' ');
            value.push_str(line.trim_matches([' ', '\t']));
            continue;
        }
        let (name, value) = line.split_once(':')?;
        if name.is_empty()
            || name
                .bytes()
                .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        {
            return None;
        }
        headers.push((
            name.to_ascii_lowercase(),
            value.trim_matches([' ', '\t']).to_owned(),
        ));
    }

    let mut content_length: Option<usize> = None;
    for (_, value) in headers.iter().filter(|(n, _)| n == "content-length") {
        let len: usize = value.parse().ok()?;
        if content_length.is_some_and(|previous| previous != len) {
            return None;
        }
        content_length = Some(len);
    }
    let has_token = |token: &str| {
        headers
            .iter()
            .filter(|(n, _)| n == "connection")
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    };
    // A request body we cannot skip reliably (chunked) ends the connection after the reply.
    let chunked_body = headers.iter().any(|(n, _)| n == "transfer-encoding");
    let keep_alive = !chunked_body
        && if http11 {
            !has_token("close")
        } else {
            has_token("keep-alive")
        };

    // Origin form `/path?query`, or absolute form `http://host/path?query`.
    let target = if let Some(rest) = target
        .strip_prefix("http://")
        .or_else(|| target.strip_prefix("https://"))
    {
        rest.find('/').map_or("/", |i| &rest[i..])
    } else if target.starts_with('/') || target == "*" {
        target
    } else {
        return None;
    };
    let target = target.split_once('#').map_or(target, |(t, _)| t);
    let (path, query) = target.split_once('?').unwrap_or((target, ""));

    Some(Head {
        request: Request {
            method: method.to_owned(),
            path: path.to_owned(),
            query: query.to_owned(),
            headers,
            connection,
        },
        content_length: content_length.unwrap_or(0),
        keep_alive,
    })
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        410 => "Gone",
        418 => "I'm a teapot",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

/// Writes `reply`. `Ok(true)` if the connection may serve another request.
async fn respond(stream: &mut TcpStream, reply: Reply, keep_alive: bool) -> std::io::Result<bool> {
    let connection_value = |keep: bool| if keep { "keep-alive" } else { "close" };
    match reply {
        Reply::Full {
            status,
            headers,
            body,
            delay,
        } => {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let given = |name: &str| headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name));
            let keep = keep_alive
                && given("connection").is_none_or(|(_, v)| !v.eq_ignore_ascii_case("close"));
            let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
            if given("content-type").is_none() {
                head.push_str("content-type: application/json\r\n");
            }
            if given("content-length").is_none() {
                let _ = write!(head, "content-length: {}\r\n", body.len());
            }
            if given("connection").is_none() {
                let _ = write!(head, "connection: {}\r\n", connection_value(keep));
            }
            for (name, value) in &headers {
                let _ = write!(head, "{name}: {value}\r\n");
            }
            head.push_str("\r\n");
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(&body).await?;
            stream.flush().await?;
            Ok(keep)
        }
        Reply::Stall => {
            std::future::pending::<()>().await;
            Ok(false)
        }
        Reply::Truncated { body, sent } => {
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                 connection: close\r\n\r\n",
                body.len()
            );
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(&body[..sent.min(body.len())]).await?;
            stream.flush().await?;
            stream.shutdown().await?;
            Ok(false)
        }
        Reply::Endless { total } => {
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                 transfer-encoding: chunked\r\nconnection: {}\r\n\r\n",
                connection_value(keep_alive)
            );
            stream.write_all(head.as_bytes()).await?;
            let mut chunk = Vec::with_capacity(ENDLESS_CHUNK + 16);
            let mut offset = 0;
            while offset < total {
                let len = ENDLESS_CHUNK.min(total - offset);
                chunk.clear();
                chunk.extend_from_slice(format!("{len:x}\r\n").as_bytes());
                fill_padding(&mut chunk, offset, len, total);
                chunk.extend_from_slice(b"\r\n");
                stream.write_all(&chunk).await?;
                offset += len;
            }
            stream.write_all(b"0\r\n\r\n").await?;
            stream.flush().await?;
            Ok(keep_alive)
        }
        Reply::Close => Ok(false),
        Reply::Raw(bytes) => {
            stream.write_all(&bytes).await?;
            stream.flush().await?;
            stream.shutdown().await?;
            Ok(false)
        }
        Reply::WhenInFlight { .. } => unreachable!("unwrapped by hold_until_in_flight"),
    }
}

const PADDING_PREFIX: &[u8] = br#"{"chart":{"result":[{"meta":{"symbol":"PADDING","padding":""#;
const PADDING_SUFFIX: &[u8] = br#""}}],"error":null}}"#;

/// Appends bytes `offset..offset + len` of the `total`-byte padding document to `out`:
/// the prefix, `x` padding, then the suffix (both cut short if `total` is too small for them).
fn fill_padding(out: &mut Vec<u8>, offset: usize, len: usize, total: usize) {
    let prefix_end = PADDING_PREFIX.len().min(total);
    let suffix_start = total.saturating_sub(PADDING_SUFFIX.len()).max(prefix_end);
    let end = offset + len;
    let mut pos = offset;
    while pos < end {
        if pos < prefix_end {
            let stop = end.min(prefix_end);
            out.extend_from_slice(&PADDING_PREFIX[pos..stop]);
            pos = stop;
        } else if pos < suffix_start {
            let stop = end.min(suffix_start);
            out.resize(out.len() + (stop - pos), b'x');
            pos = stop;
        } else {
            let stop = end.min(suffix_start + PADDING_SUFFIX.len());
            out.extend_from_slice(&PADDING_SUFFIX[pos - suffix_start..stop - suffix_start]);
            if stop == pos {
                break;
            }
            pos = stop;
        }
    }
}
