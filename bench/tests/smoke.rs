//! Smoke test of the harness's moving parts, in-process: the bench server (plain and TLS),
//! its counters and control endpoints, the Coinbase and history answers, the delaying proxy,
//! and the two binaries.
//!
//! Timing is only ever checked from below ("took at least the configured delay"): a loaded
//! machine may be slow, never fast.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use quotes_bench::chart::{close_of, price_of};
use quotes_bench::{DelayProxy, Server, ServerConfig, Stats};

fn client(server: &Server) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = reqwest::Client::builder().no_proxy();
    if let Some(pem) = &server.cert_pem {
        let cert = reqwest::Certificate::from_pem(pem.as_bytes()).expect("server cert parses");
        builder = builder.tls_certs_only([cert]);
    }
    builder.build().expect("client builds")
}

async fn get(client: &reqwest::Client, url: &str) -> (reqwest::Version, serde_json::Value) {
    let response = client.get(url).send().await.expect("request succeeds");
    assert!(
        response.status().is_success(),
        "{url}: {}",
        response.status()
    );
    let version = response.version();
    let bytes = response.bytes().await.expect("body arrives");
    let body = serde_json::from_slice(&bytes).expect("body is JSON");
    (version, body)
}

fn chart_url(base: &str, symbol: &str) -> String {
    format!("{base}/v8/finance/chart/{symbol}?range=1d&interval=1d")
}

fn assert_chart(body: &serde_json::Value, symbol: &str) {
    let meta = &body["chart"]["result"][0]["meta"];
    assert_eq!(meta["symbol"], symbol);
    assert_eq!(meta["currency"], "USD");
    let price = meta["regularMarketPrice"]
        .as_f64()
        .expect("price is a number");
    let want: f64 = price_of(symbol).parse().expect("price_of is a number");
    assert!((price - want).abs() < 1e-9, "{price} != {want}");
}

#[tokio::test]
async fn plain_server_answers_charts_and_counts() {
    let server = Server::start(ServerConfig::default())
        .await
        .expect("starts");
    assert!(server.url().starts_with("http://127.0.0.1:"));
    assert!(server.cert_pem.is_none());
    let c = client(&server);

    let (version, body) = get(&c, &chart_url(&server.url(), "T0001")).await;
    assert_eq!(version, reqwest::Version::HTTP_11);
    assert_chart(&body, "T0001");
    let (_, body) = get(&c, &chart_url(&server.url(), "%5EGSPC")).await;
    assert_chart(&body, "^GSPC");

    let missing = c
        .get(format!("{}/v7/finance/quote", server.url()))
        .send()
        .await
        .expect("request succeeds");
    assert_eq!(missing.status(), 404);

    let want = Stats {
        connections: 1,
        requests: 3,
        max_in_flight: 1,
        h2_connections: 0,
    };
    assert_eq!(server.stats(), want);

    // Over a fresh connection the control endpoints neither count nor disturb the counters.
    let (_, stats) = get(&client(&server), &format!("{}/__stats", server.url())).await;
    let stats: Stats = serde_json::from_value(stats).expect("Stats JSON");
    assert_eq!(stats, want);
    assert_eq!(server.stats(), want);

    let reset = client(&server)
        .post(format!("{}/__reset", server.url()))
        .send()
        .await
        .expect("reset succeeds");
    assert!(reset.status().is_success());
    assert_eq!(server.stats(), Stats::default());

    // Ten at once on new connections: all counted, all in flight together behind the delay.
    let slow = Server::start(ServerConfig {
        delay: Duration::from_millis(200),
        ..ServerConfig::default()
    })
    .await
    .expect("starts");
    let started = Instant::now();
    let fetches = (0..10).map(|i| {
        let c = client(&slow);
        let url = chart_url(&slow.url(), &format!("T{i:04}"));
        async move { get(&c, &url).await }
    });
    for (i, (_, body)) in futures_join_all(fetches).await.into_iter().enumerate() {
        assert_chart(&body, &format!("T{i:04}"));
    }
    assert!(started.elapsed() >= Duration::from_millis(200));
    let stats = slow.stats();
    assert_eq!((stats.connections, stats.requests), (10, 10));
    assert!(stats.max_in_flight >= 1 && stats.max_in_flight <= 10);
    slow.reset();
    assert_eq!(slow.stats(), Stats::default());
}

#[tokio::test]
async fn tls_server_negotiates_h2_and_honours_max_streams() {
    let server = Server::start(ServerConfig {
        delay: Duration::from_millis(100),
        tls: true,
        max_concurrent_streams: 5,
        ..ServerConfig::default()
    })
    .await
    .expect("starts");
    assert!(server.url().starts_with("https://127.0.0.1:"));
    let pem = server.cert_pem.as_deref().expect("a certificate");
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    let c = client(&server);

    let (version, body) = get(&c, &chart_url(&server.url(), "QQQ")).await;
    assert_eq!(version, reqwest::Version::HTTP_2);
    assert_chart(&body, "QQQ");

    // The connection is known to be h2 now: twenty more multiplex on it, at most five at once.
    let fetches = (0..20).map(|i| {
        let c = c.clone();
        let url = chart_url(&server.url(), &format!("T{i:04}"));
        async move { get(&c, &url).await }
    });
    for (version, _) in futures_join_all(fetches).await {
        assert_eq!(version, reqwest::Version::HTTP_2);
    }
    let stats = server.stats();
    assert_eq!(stats.connections, 1, "{stats:?}");
    assert_eq!(stats.h2_connections, 1, "{stats:?}");
    assert_eq!(stats.requests, 21, "{stats:?}");
    assert!(stats.max_in_flight <= 5, "{stats:?}");
}

#[tokio::test]
async fn proxy_adds_its_delay_to_handshakes_and_round_trips() {
    let one_way = Duration::from_millis(30);
    let round_trip = one_way * 2;

    let plain = Server::start(ServerConfig::default())
        .await
        .expect("starts");
    let proxy = DelayProxy::start(plain.addr, one_way)
        .await
        .expect("starts");
    let base = format!("http://{}", proxy.addr);
    let c = client(&plain);
    let started = Instant::now();
    let (_, body) = get(&c, &chart_url(&base, "T0001")).await;
    assert_chart(&body, "T0001");
    // Connection setup (one round trip) plus the request's own round trip.
    assert!(
        started.elapsed() >= round_trip * 2,
        "{:?}",
        started.elapsed()
    );
    let started = Instant::now();
    get(&c, &chart_url(&base, "T0002")).await;
    assert!(started.elapsed() >= round_trip, "{:?}", started.elapsed());
    assert_eq!(plain.stats().connections, 1);
    assert_eq!(plain.stats().requests, 2);

    let tls = Server::start(ServerConfig {
        tls: true,
        ..ServerConfig::default()
    })
    .await
    .expect("starts");
    let proxy = DelayProxy::start(tls.addr, one_way).await.expect("starts");
    let c = client(&tls);
    let started = Instant::now();
    let (version, body) = get(&c, &chart_url(&format!("https://{}", proxy.addr), "QQQ")).await;
    assert_eq!(version, reqwest::Version::HTTP_2);
    assert_chart(&body, "QQQ");
    // TCP, TLS 1.3 and the request: three round trips.
    assert!(
        started.elapsed() >= round_trip * 3,
        "{:?}",
        started.elapsed()
    );
    assert_eq!(tls.stats().h2_connections, 1);
}

#[tokio::test]
async fn control_endpoints_give_prices_without_counting() {
    let server = Server::start(ServerConfig::default())
        .await
        .expect("starts");
    let c = client(&server);
    let one = c
        .get(format!("{}/__price/%5EGSPC", server.url()))
        .send()
        .await
        .expect("request succeeds");
    assert!(one.status().is_success());
    assert_eq!(one.text().await.expect("body"), price_of("^GSPC"));
    let (_, many) = get(
        &c,
        &format!("{}/__prices?symbols=T0001,T0002,BTC-USD", server.url()),
    )
    .await;
    for symbol in ["T0001", "T0002", "BTC-USD"] {
        assert_eq!(many[symbol], price_of(symbol), "{many}");
    }
    assert_eq!(many["T0001"], "115.68");
    // `bench/run`'s scenario H checks every daily close this way: `SYMBOL@YYYY-MM-DD`, the
    // `@` literal or percent-encoded, is that day's close, the number the history bar carries.
    let (_, closes) = get(
        &c,
        &format!(
            "{}/__prices?symbols=T0001@2021-01-04,T0002%402021-01-05",
            server.url()
        ),
    )
    .await;
    assert_eq!(closes["T0001@2021-01-04"], close_of("T0001", "2021-01-04"));
    assert_eq!(closes["T0002@2021-01-05"], close_of("T0002", "2021-01-05"));
    let (_, stats) = get(&c, &format!("{}/__stats", server.url())).await;
    assert_eq!(stats["paths"], serde_json::json!({}));
    assert_eq!(server.stats(), Stats::default());
}

#[tokio::test]
async fn a_refusing_yahoo_answers_429_and_still_answers_as_nasdaq() {
    let refusing = Server::start(ServerConfig {
        refuse_yahoo: true,
        ..ServerConfig::default()
    })
    .await
    .expect("starts");
    let c = client(&refusing);
    for url in [
        chart_url(&refusing.url(), "T0001"),
        format!(
            "{}/v8/finance/chart/T0001?period1=0&period2=86400",
            refusing.url()
        ),
    ] {
        let answer = c.get(&url).send().await.expect("request succeeds");
        assert_eq!(answer.status(), 429, "{url}");
        assert_eq!(
            answer.text().await.expect("body"),
            "Edge: Too Many Requests"
        );
    }
    let (_, nasdaq) = get(
        &c,
        &format!("{}/api/quote/T0001/info?assetclass=stocks", refusing.url()),
    )
    .await;
    assert_eq!(nasdaq["data"]["symbol"], "T0001");
    assert_eq!(
        nasdaq["data"]["primaryData"]["lastSalePrice"],
        format!("${}", price_of("T0001"))
    );
    assert_eq!(refusing.stats().requests, 3);
    // A server that answers Yahoo answers as Nasdaq too.
    let plain = Server::start(ServerConfig::default())
        .await
        .expect("starts");
    let (_, chart) = get(&client(&plain), &chart_url(&plain.url(), "T0002")).await;
    assert_chart(&chart, "T0002");
}

#[tokio::test]
async fn two_tls_origins_yahoo_and_coinbase_count_apart() {
    let tls = ServerConfig {
        tls: true,
        ..ServerConfig::default()
    };
    let yahoo = Server::start(tls.clone()).await.expect("starts");
    let coinbase = Server::start(tls).await.expect("starts");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let certs = [&yahoo, &coinbase].map(|s| {
        reqwest::Certificate::from_pem(s.cert_pem.as_deref().expect("a certificate").as_bytes())
            .expect("PEM")
    });
    let c = reqwest::Client::builder()
        .no_proxy()
        .tls_certs_only(certs)
        .build()
        .expect("client builds");

    let (version, body) = get(&c, &chart_url(&yahoo.url(), "AAPL")).await;
    assert_eq!(version, reqwest::Version::HTTP_2);
    assert_chart(&body, "AAPL");
    for pair in ["BTC-USD", "ETH-EUR", "BTC-USD"] {
        let url = format!("{}/v2/prices/{pair}/spot", coinbase.url());
        let (version, body) = get(&c, &url).await;
        assert_eq!(version, reqwest::Version::HTTP_2);
        let (base, quote) = pair.split_once('-').expect("a pair");
        let want = serde_json::json!({"data": {"base": base, "currency": quote,
            "amount": price_of(pair)}});
        assert_eq!(body, want);
    }
    let bad = c
        .get(format!("{}/v2/prices/BTCUSD/spot", coinbase.url()))
        .send()
        .await
        .expect("request succeeds");
    assert_eq!(bad.status(), 404);
    let bad: serde_json::Value =
        serde_json::from_slice(&bad.bytes().await.expect("body")).expect("JSON");
    assert_eq!(bad["errors"][0]["id"], "not_found");

    assert_eq!((yahoo.stats().connections, yahoo.stats().requests), (1, 1));
    let stats = coinbase.stats();
    assert_eq!((stats.connections, stats.requests), (1, 4), "{stats:?}");
    let paths = coinbase.requests_by_path();
    assert_eq!(paths.get("/v2/prices/BTC-USD/spot"), Some(&2), "{paths:?}");
    assert_eq!(paths.get("/v2/prices/ETH-EUR/spot"), Some(&1), "{paths:?}");
    assert_eq!(paths.len(), 3, "{paths:?}");
    // The same counts over HTTP, and a reset clears them.
    let (_, report) = get(&c, &format!("{}/__stats", coinbase.url())).await;
    assert_eq!(report["paths"]["/v2/prices/BTC-USD/spot"], 2, "{report}");
    coinbase.reset();
    assert!(coinbase.requests_by_path().is_empty());
}

#[tokio::test]
async fn history_answers_daily_bars_and_keeps_the_latest_answer() {
    let server = Server::start(ServerConfig::default())
        .await
        .expect("starts");
    let c = client(&server);
    // 2021-01-01T00:00Z .. 2021-01-11T00:00Z, the way quotes --date pads its window.
    let url = format!(
        "{}/v8/finance/chart/TSLA?period1=1609459200&period2=1610323200&interval=1d&events=split",
        server.url()
    );
    let (_, body) = get(&c, &url).await;
    let result = &body["chart"]["result"][0];
    assert_eq!(result["meta"]["gmtoffset"], -18000);
    assert_eq!(result["meta"]["exchangeTimezoneName"], "America/New_York");
    assert_eq!(result["meta"]["currency"], "USD");
    let stamps: Vec<i64> = result["timestamp"]
        .as_array()
        .expect("timestamps")
        .iter()
        .map(|t| t.as_i64().expect("integer"))
        .collect();
    // Fri 1st, then Mon 4th .. Fri 8th, each at 14:30 UTC.
    assert_eq!(
        stamps,
        [
            1609511400, 1609770600, 1609857000, 1609943400, 1610029800, 1610116200
        ]
    );
    let closes = &result["indicators"]["quote"][0]["close"];
    assert_eq!(closes, &result["indicators"]["adjclose"][0]["adjclose"]);
    let want: f64 = close_of("TSLA", "2021-01-04").parse().expect("number");
    assert_eq!(closes[1].as_f64(), Some(want));
    assert!(result.get("events").is_none() || result["events"] == serde_json::json!({}));

    // A split-only query after the range: a few bars, a valid chart.
    let url = format!(
        "{}/v8/finance/chart/TSLA?period1=1610323200&period2=1640995200&interval=3mo&events=split",
        server.url()
    );
    let (_, body) = get(&c, &url).await;
    let bars = body["chart"]["result"][0]["timestamp"]
        .as_array()
        .expect("timestamps")
        .len();
    assert!((1..=5).contains(&bars), "{body}");

    // Without period1 the answer is today's, unchanged.
    let (_, latest) = get(&c, &chart_url(&server.url(), "TSLA")).await;
    assert_chart(&latest, "TSLA");
    let bad = c
        .get(format!(
            "{}/v8/finance/chart/TSLA?period1=2&period2=1",
            server.url()
        ))
        .send()
        .await
        .expect("request succeeds");
    assert_eq!(bad.status(), 400);
    assert_eq!(
        server.requests_by_path().get("/v8/finance/chart/TSLA"),
        Some(&4)
    );
}

/// A child process killed when dropped, so a failing assertion leaves nothing running.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts a binary and returns it with the second word of its first stdout line.
fn spawn(exe: &str, args: &[&str]) -> (Running, String) {
    let mut child = Command::new(exe)
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let child = Running(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("reads first line");
    let mut words = line.split_whitespace();
    assert_eq!(words.next(), Some("listening"), "{line:?}");
    let addr = words.next().expect("an address").to_owned();
    (child, addr)
}

#[tokio::test]
async fn binaries_announce_and_serve() {
    let dir = std::env::temp_dir().join(format!("quotes-bench-smoke-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let cert = dir.join("cert.pem");
    let cert_arg = cert.to_str().expect("utf-8 temp path");
    let (_server, url) = spawn(
        env!("CARGO_BIN_EXE_bench-server"),
        &["--tls", "--cert-out", cert_arg, "--max-streams", "7"],
    );
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let upstream = url.trim_start_matches("https://");
    let (_proxy, addr) = spawn(
        env!("CARGO_BIN_EXE_delay-proxy"),
        &["--upstream", upstream, "--delay-ms", "5"],
    );

    let _ = rustls::crypto::ring::default_provider().install_default();
    let pem = std::fs::read(&cert).expect("certificate written before `listening`");
    let c = reqwest::Client::builder()
        .no_proxy()
        .tls_certs_only([reqwest::Certificate::from_pem(&pem).expect("PEM")])
        .build()
        .expect("client builds");
    let (version, body) = get(&c, &chart_url(&format!("https://{addr}"), "T0042")).await;
    assert_eq!(version, reqwest::Version::HTTP_2);
    assert_chart(&body, "T0042");
    let (_, stats) = get(&c, &format!("{url}/__stats")).await;
    let stats: Stats = serde_json::from_value(stats).expect("Stats JSON");
    assert_eq!((stats.connections, stats.requests), (1, 1), "{stats:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `futures::future::join_all` without the dependency: spawn each, await in order.
async fn futures_join_all<F, T>(futures: impl IntoIterator<Item = F>) -> Vec<T>
where
    F: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.expect("task finished"));
    }
    out
}
