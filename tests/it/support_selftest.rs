//! Tests of the test harness itself: the local test server in `support.rs`, driven by a
//! plain `std::net::TcpStream` client so that every byte on the wire is visible, and the
//! command builder in `cmd.rs`.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::panic::catch_unwind;
use std::thread;
use std::time::{Duration, Instant};

use std::ffi::OsString;
use std::path::PathBuf;

use crate::cmd::{quotes_process, scrubbed_names, via};
use crate::support::{Reply, Server, chart_body, coinbase_body, fixture, wait_until};

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn connect(server: &Server) -> BufReader<TcpStream> {
    let stream = TcpStream::connect(server.addr()).expect("connect to test server");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("set read timeout");
    BufReader::new(stream)
}

fn send(conn: &mut BufReader<TcpStream>, raw: &str) {
    conn.get_mut()
        .write_all(raw.as_bytes())
        .expect("write request");
}

fn get(conn: &mut BufReader<TcpStream>, target: &str, extra_headers: &str) {
    send(
        conn,
        &format!("GET {target} HTTP/1.1\r\nhost: 127.0.0.1\r\n{extra_headers}\r\n"),
    );
}

fn read_line(conn: &mut BufReader<TcpStream>) -> String {
    let mut line = String::new();
    conn.read_line(&mut line).expect("read line");
    assert!(line.ends_with("\r\n"), "line not CRLF-terminated: {line:?}");
    line.truncate(line.len() - 2);
    line
}

/// Status and headers (names lowercased).
fn read_head(conn: &mut BufReader<TcpStream>) -> (u16, Vec<(String, String)>) {
    let status_line = read_line(conn);
    let mut parts = status_line.splitn(3, ' ');
    assert_eq!(
        parts.next(),
        Some("HTTP/1.1"),
        "status line {status_line:?}"
    );
    let status = parts
        .next()
        .and_then(|s| s.parse().ok())
        .expect("status code");
    let mut headers = Vec::new();
    loop {
        let line = read_line(conn);
        if line.is_empty() {
            return (status, headers);
        }
        let (name, value) = line.split_once(':').expect("header line");
        headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
    }
}

/// One complete response, framed by content-length or chunked encoding.
fn read_response(conn: &mut BufReader<TcpStream>) -> Response {
    let (status, headers) = read_head(conn);
    let mut response = Response {
        status,
        headers,
        body: Vec::new(),
    };
    if response.header("transfer-encoding") == Some("chunked") {
        loop {
            let size_line = read_line(conn);
            let size = usize::from_str_radix(&size_line, 16).expect("chunk size");
            let mut chunk = vec![0; size + 2];
            conn.read_exact(&mut chunk).expect("chunk");
            assert_eq!(&chunk[size..], b"\r\n", "chunk terminator");
            if size == 0 {
                break;
            }
            response.body.extend_from_slice(&chunk[..size]);
        }
    } else {
        let len: usize = response
            .header("content-length")
            .expect("content-length")
            .parse()
            .expect("numeric content-length");
        response.body = vec![0; len];
        conn.read_exact(&mut response.body).expect("body");
    }
    response
}

/// Reads until EOF; a reset counts as EOF.
fn read_to_eof(conn: &mut BufReader<TcpStream>) -> Vec<u8> {
    let mut rest = Vec::new();
    match conn.read_to_end(&mut rest) {
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        Err(e) => panic!("expected EOF, got {e}"),
    }
    rest
}

#[test]
fn full_replies_carry_status_headers_body_and_keep_alive() {
    let server = Server::start(|req| match req.path.as_str() {
        "/a" => Reply::json(200, r#"{"ok":true}"#).with_header("x-test", "1"),
        _ => Reply::text(404, "nope"),
    });
    let mut conn = connect(&server);

    get(&mut conn, "/a?x=1&y=two", "X-Custom:   Value  \r\n");
    let first = read_response(&mut conn);
    assert_eq!(first.status, 200);
    assert_eq!(first.text(), r#"{"ok":true}"#);
    assert_eq!(first.header("content-type"), Some("application/json"));
    assert_eq!(first.header("content-length"), Some("11"));
    assert_eq!(first.header("connection"), Some("keep-alive"));
    assert_eq!(first.header("x-test"), Some("1"));

    get(&mut conn, "/b", "");
    let second = read_response(&mut conn);
    assert_eq!(second.status, 404);
    assert_eq!(second.text(), "nope");
    assert_eq!(second.header("content-type"), Some("text/plain"));

    assert_eq!(server.connections(), 1);
    assert_eq!(server.max_in_flight(), 1);
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].method, "GET");
    assert_eq!(requests[0].path, "/a");
    assert_eq!(requests[0].query, "x=1&y=two");
    assert_eq!(requests[0].query_param("y").as_deref(), Some("two"));
    assert_eq!(requests[0].header("X-CUSTOM"), Some("Value"));
    assert!(requests[0].headers.iter().any(|(n, _)| n == "x-custom"));
    assert_eq!(requests[1].path, "/b");
    assert_eq!(requests[1].query, "");
    assert!(requests.iter().all(|r| r.connection == 0));
}

#[test]
fn connection_close_is_honoured() {
    let server = Server::start(|_| Reply::json(200, "{}"));
    let mut conn = connect(&server);
    get(&mut conn, "/x", "Connection: close\r\n");
    let response = read_response(&mut conn);
    assert_eq!(response.status, 200);
    assert_eq!(response.header("connection"), Some("close"));
    assert!(read_to_eof(&mut conn).is_empty());
}

#[test]
fn connection_indexes_count_from_zero() {
    let server = Server::start(|_| Reply::json(200, "{}"));
    for _ in 0..3 {
        let mut conn = connect(&server);
        get(&mut conn, "/x", "");
        read_response(&mut conn);
    }
    assert_eq!(server.connections(), 3);
    let indexes: Vec<usize> = server.requests().iter().map(|r| r.connection).collect();
    assert_eq!(indexes, [0, 1, 2]);
}

#[test]
fn request_bodies_are_skipped_and_pipelined_requests_served_in_order() {
    let server = Server::start(|req| Reply::json(200, req.path.clone()));
    let mut conn = connect(&server);
    send(
        &mut conn,
        "POST /x HTTP/1.1\r\ncontent-length: 5\r\n\r\nhelloGET /y HTTP/1.1\r\n\r\n",
    );
    assert_eq!(read_response(&mut conn).text(), "/x");
    assert_eq!(read_response(&mut conn).text(), "/y");
    let methods: Vec<String> = server.requests().into_iter().map(|r| r.method).collect();
    assert_eq!(methods, ["POST", "GET"]);
    assert_eq!(server.connections(), 1);
}

#[test]
fn stall_never_answers_and_drop_releases_the_socket() {
    let server = Server::start(|_| Reply::Stall);
    let mut conn = connect(&server);
    get(&mut conn, "/v8/finance/chart/AAPL", "");
    conn.get_ref()
        .set_read_timeout(Some(Duration::from_millis(300)))
        .expect("set read timeout");
    let mut byte = [0u8; 1];
    let err = conn
        .read(&mut byte)
        .expect_err("a stalled request must not be answered");
    assert!(
        matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "unexpected error {err:?}"
    );
    assert_eq!(server.hits("AAPL"), 1);
    assert_eq!(server.max_in_flight(), 1);

    let started = Instant::now();
    drop(server);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "dropping a server with a stalled request took {:?}",
        started.elapsed()
    );
    conn.get_ref()
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("set read timeout");
    assert!(read_to_eof(&mut conn).is_empty());
}

#[test]
fn truncated_sends_fewer_bytes_than_content_length_then_eof() {
    let server = Server::start(|_| Reply::Truncated {
        body: vec![b'a'; 100],
        sent: 10,
    });
    let mut conn = connect(&server);
    get(&mut conn, "/x", "");
    let (status, headers) = read_head(&mut conn);
    assert_eq!(status, 200);
    assert!(headers.contains(&("content-length".to_owned(), "100".to_owned())));
    assert_eq!(read_to_eof(&mut conn), vec![b'a'; 10]);
}

#[test]
fn close_sends_nothing() {
    let server = Server::start(|_| Reply::Close);
    let mut conn = connect(&server);
    get(&mut conn, "/x", "");
    assert!(read_to_eof(&mut conn).is_empty());
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn malformed_requests_close_the_connection_and_are_not_recorded() {
    let server = Server::start(|_| Reply::json(200, "{}"));
    for garbage in [
        "NOT A REQUEST\r\n\r\n",
        "GET / HTTP/2.0\r\n\r\n",
        "GET / HTTP/1.1\r\nno colon here\r\n\r\n",
        "GET / HTTP/1.1\r\ncontent-length: lots\r\n\r\n",
        "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    ] {
        let mut conn = connect(&server);
        send(&mut conn, garbage);
        assert!(read_to_eof(&mut conn).is_empty(), "answered {garbage:?}");
    }
    assert!(server.requests().is_empty());

    let mut conn = connect(&server);
    get(&mut conn, "/still-alive", "");
    assert_eq!(read_response(&mut conn).status, 200);
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn hits_and_symbol_percent_decode() {
    let server = Server::start(|_| Reply::json(200, "{}"));
    let mut conn = connect(&server);
    for target in [
        "/v8/finance/chart/%5EGSPC?interval=1d&range=1d",
        "/v8/finance/chart/%5egspc",
        "/v8/finance/chart/%5EGSPC",
        "/v8/finance/chart/INR%3DX",
        "/v2/prices/BTC-USD/spot",
        "/v8/finance/chart/100%",
    ] {
        get(&mut conn, target, "");
        read_response(&mut conn);
    }
    assert_eq!(server.hits("^GSPC"), 2);
    assert_eq!(server.hits("^gspc"), 1);
    assert_eq!(server.hits("INR=X"), 1);
    assert_eq!(server.hits("BTC-USD"), 1);
    assert_eq!(server.hits("100%"), 1);
    assert_eq!(server.hits("AAPL"), 0);
    let first = &server.requests()[0];
    assert_eq!(first.path, "/v8/finance/chart/%5EGSPC");
    assert_eq!(first.symbol(), "^GSPC");
    assert_eq!(first.query, "interval=1d&range=1d");
    assert_eq!(first.query_param("range").as_deref(), Some("1d"));
    assert_eq!(first.query_param("period1"), None);
}

#[test]
fn max_in_flight_counts_concurrent_requests() {
    let server = Server::start(|_| Reply::json(200, "{}").with_delay(Duration::from_millis(200)));
    thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                let mut conn = connect(&server);
                get(&mut conn, "/x", "");
                assert_eq!(read_response(&mut conn).status, 200);
            });
        }
    });
    assert_eq!(server.max_in_flight(), 2);
    assert_eq!(server.connections(), 2);
}

#[test]
fn endless_streams_exactly_total_bytes_of_json() {
    let server = Server::start(|req| match req.path.as_str() {
        "/small" => Reply::Endless { total: 100_000 },
        "/tiny" => Reply::Endless { total: 7 },
        _ => Reply::Endless { total: 1 << 40 },
    });
    let mut conn = connect(&server);
    get(&mut conn, "/small", "");
    let response = read_response(&mut conn);
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-length"), None);
    assert_eq!(response.body.len(), 100_000);
    let value: serde_json::Value =
        serde_json::from_slice(&response.body).expect("Endless body is JSON");
    assert!(value["chart"]["result"][0]["meta"]["padding"].is_string());

    get(&mut conn, "/tiny", "");
    assert_eq!(read_response(&mut conn).body, br#"{"chart"#);

    // A terabyte: read a few megabytes, then hang up; the server must cope.
    let mut huge = connect(&server);
    get(&mut huge, "/huge", "");
    let (status, _) = read_head(&mut huge);
    assert_eq!(status, 200);
    let mut sink = vec![0u8; 1 << 16];
    let mut read = 0;
    while read < 4 << 20 {
        let n = huge.read(&mut sink).expect("read endless body");
        assert!(n > 0, "endless body ended early");
        read += n;
    }
    drop(huge);

    get(&mut conn, "/small", "");
    assert_eq!(read_response(&mut conn).body.len(), 100_000);
    let started = Instant::now();
    drop(server);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn fixtures_and_synthetic_bodies() {
    let server = Server::start(|req| match req.symbol().as_str() {
        "AAPL" => Reply::fixture(200, "yahoo_chart_AAPL.json"),
        "SLOW" => Reply::chart("SLOW", "1.50", None, 1).with_delay(Duration::from_millis(10)),
        _ => Reply::fixture(429, "yahoo_too_many_requests.429.txt"),
    });
    let mut conn = connect(&server);

    get(&mut conn, "/v8/finance/chart/AAPL", "");
    let aapl = read_response(&mut conn);
    assert_eq!(aapl.status, 200);
    assert_eq!(aapl.body, fixture("yahoo_chart_AAPL.json"));
    assert_eq!(aapl.header("content-type"), Some("application/json"));

    get(&mut conn, "/v8/finance/chart/SLOW", "");
    let slow = read_response(&mut conn);
    assert!(slow.text().contains(r#""regularMarketPrice":1.50,"#));

    get(&mut conn, "/v8/finance/chart/MSFT", "");
    let limited = read_response(&mut conn);
    assert_eq!(limited.status, 429);
    assert_eq!(limited.header("content-type"), Some("text/plain"));
    assert_eq!(limited.text(), "Edge: Too Many Requests");

    let body = chart_body("AAPL", "220.0030", Some("USD"), 1742824293);
    assert!(body.contains(r#""regularMarketPrice":220.0030,"#));
    let value: serde_json::Value = serde_json::from_str(&body).expect("chart_body is JSON");
    let meta = &value["chart"]["result"][0]["meta"];
    assert_eq!(meta["symbol"], "AAPL");
    assert_eq!(meta["currency"], "USD");
    assert_eq!(meta["regularMarketTime"], 1742824293);
    assert!(value["chart"]["error"].is_null());

    let body = chart_body("A\"B", "1", None, 0);
    assert!(body.contains(r#""currency":null"#));
    let value: serde_json::Value = serde_json::from_str(&body).expect("escaped symbol");
    assert_eq!(value["chart"]["result"][0]["meta"]["symbol"], "A\"B");

    let value: serde_json::Value =
        serde_json::from_str(&coinbase_body("BTC", "USD", "48691.23")).expect("coinbase_body");
    assert_eq!(value["data"]["amount"], "48691.23");
}

#[test]
fn default_headers_can_be_overridden() {
    let server = Server::start(|_| {
        Reply::json(200, "{}")
            .with_header("Content-Type", "application/json;charset=utf-8")
            .with_header("connection", "close")
    });
    let mut conn = connect(&server);
    get(&mut conn, "/x", "");
    let response = read_response(&mut conn);
    let content_types: Vec<_> = response
        .headers
        .iter()
        .filter(|(n, _)| n == "content-type")
        .collect();
    assert_eq!(content_types.len(), 1);
    assert_eq!(
        response.header("content-type"),
        Some("application/json;charset=utf-8")
    );
    assert_eq!(response.header("connection"), Some("close"));
    assert!(read_to_eof(&mut conn).is_empty());
}

#[test]
#[should_panic(expected = "received no requests")]
fn dropping_an_unused_server_panics() {
    let _server = Server::start(|_| Reply::json(200, "{}"));
}

#[test]
fn expect_no_requests_allows_silence() {
    let _server = Server::start(|_| Reply::json(200, "{}")).expect_no_requests();
}

#[test]
#[should_panic(expected = "expected no requests but received 1")]
fn expect_no_requests_panics_on_traffic() {
    let server = Server::start(|_| Reply::json(200, "{}")).expect_no_requests();
    let mut conn = connect(&server);
    get(&mut conn, "/x", "");
    read_response(&mut conn);
}

#[test]
fn drop_does_not_panic_while_already_panicking() {
    let result = catch_unwind(|| {
        let _server = Server::start(|_| Reply::json(200, "{}"));
        panic!("original failure");
    });
    let payload = result.expect_err("the closure panics");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"original failure"));
}

#[test]
#[should_panic(expected = "the handler panicked")]
fn handler_panics_fail_the_test_at_drop() {
    let server = Server::start(|_| -> Reply { panic!("boom in handler") });
    let mut conn = connect(&server);
    get(&mut conn, "/x", "");
    let response = read_response(&mut conn);
    assert_eq!(response.status, 500);
}

#[test]
fn when_in_flight_holds_answers_until_enough_requests_arrived() {
    let server = Server::start(|_| Reply::json(200, "{}").when_in_flight(2));
    let mut first = connect(&server);
    get(&mut first, "/first", "");
    wait_until("the first request arrived", Duration::from_secs(10), || {
        server.request_count() == 1
    });
    // Held: an answer sent at once would be here well within this.
    first
        .get_ref()
        .set_read_timeout(Some(Duration::from_millis(100)))
        .expect("set read timeout");
    let mut byte = [0u8; 1];
    let err = first
        .read(&mut byte)
        .expect_err("the first request must wait for the second");
    assert!(
        matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "unexpected error {err:?}"
    );
    first
        .get_ref()
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("set read timeout");

    let mut second = connect(&server);
    get(&mut second, "/second", "");
    assert_eq!(read_response(&mut second).status, 200);
    assert_eq!(read_response(&mut first).status, 200);
    assert_eq!(server.max_in_flight(), 2);
}

#[test]
fn wait_until_returns_once_the_condition_holds() {
    let started = Instant::now();
    let mut polls = 0;
    wait_until("the third poll", Duration::from_secs(10), || {
        polls += 1;
        polls == 3
    });
    assert_eq!(polls, 3);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
#[should_panic(expected = "timed out after 50ms waiting until never")]
fn wait_until_fails_the_test_on_timeout() {
    wait_until("never", Duration::from_millis(50), || false);
}

#[test]
fn scrubbed_names_cover_proxies_colour_locale_keys_and_every_quotes_variable() {
    let set = [
        "PATH",
        "HOME",
        "QUOTES_YAHOO_URL",
        "QUOTES_SOMETHING_NEW",
        "LC_TIME",
        "LC_ALL",
        "https_proxy",
        "CARGO_TARGET_TMPDIR",
        "XQUOTES_NOT_OURS",
    ]
    .map(OsString::from);
    let names = scrubbed_names(set);
    for name in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
        "NO_PROXY",
        "no_proxy",
        "NO_COLOR",
        "CLICOLOR",
        "CLICOLOR_FORCE",
        "FORCE_COLOR",
        "LANG",
        "LANGUAGE",
        "LC_ALL",
        "LC_TIME",
        "QUOTES_YAHOO_URL",
        "QUOTES_SOMETHING_NEW",
        "TIINGO_API_KEY",
        "ALPHAVANTAGE_API_KEY",
    ] {
        assert_eq!(
            names.iter().filter(|n| *n == name).count(),
            1,
            "{name} in {names:?}"
        );
    }
    for kept in ["PATH", "HOME", "CARGO_TARGET_TMPDIR", "XQUOTES_NOT_OURS"] {
        assert!(!names.iter().any(|n| n == kept), "{kept} removed");
    }
}

/// The environment a program started by `via` sees, as printed by `env`.
fn child_env() -> Vec<(String, String)> {
    #[cfg(not(windows))]
    let out = via("env").assert().success();
    #[cfg(windows)]
    let out = via("cmd").args(["/c", "set"]).assert().success();
    String::from_utf8(out.get_output().stdout.clone())
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn commands_run_scrubbed_with_a_fresh_cache_of_their_own() {
    // What the builder tells the OS: every fixed name removed, the cache set.
    let quotes = quotes_process();
    let envs: Vec<(OsString, Option<OsString>)> = quotes
        .get_envs()
        .map(|(k, v)| (k.to_owned(), v.map(ToOwned::to_owned)))
        .collect();
    for name in scrubbed_names([]) {
        // Windows' variable names are case-insensitive: `http_proxy` is `HTTP_PROXY` there.
        let removed = envs.iter().any(|(k, v)| {
            v.is_none() && (k == &name || (cfg!(windows) && k.eq_ignore_ascii_case(&name)))
        });
        assert!(removed, "{name:?} not removed");
    }

    // What a child really sees.
    let (first, second) = (child_env(), child_env());
    let removed = scrubbed_names(std::env::vars_os().map(|(k, _)| k));
    for (name, _) in &first {
        assert!(
            !removed.iter().any(|r| r == name.as_str()),
            "{name} reached the child"
        );
        assert!(
            !name.starts_with("QUOTES_") && !name.starts_with("LC_"),
            "{name}"
        );
    }
    let cache = |env: &[(String, String)]| -> PathBuf {
        let (_, dir) = env
            .iter()
            .find(|(k, _)| k == "XDG_CACHE_HOME")
            .expect("XDG_CACHE_HOME is set");
        PathBuf::from(dir)
    };
    let (a, b) = (cache(&first), cache(&second));
    assert_ne!(a, b, "two commands share a cache");
    for dir in [&a, &b] {
        assert!(
            dir.starts_with(env!("CARGO_TARGET_TMPDIR")),
            "{}",
            dir.display()
        );
        assert!(dir.is_dir(), "{} does not exist", dir.display());
        assert!(
            std::fs::read_dir(dir).unwrap().next().is_none(),
            "{} is not empty",
            dir.display()
        );
    }
}
