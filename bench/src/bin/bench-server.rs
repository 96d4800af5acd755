//! `bench-server`: the Yahoo-, Coinbase- and Nasdaq-format bench server as a process, for
//! `bench/run` and by hand.
//!
//! Prints `listening URL` as its first line on stdout (after writing `--cert-out`, so the
//! certificate is there when the line is read), then serves until killed.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use quotes_bench::args::Args;
use quotes_bench::{Server, ServerConfig};

const USAGE: &str = "\
usage: bench-server [--port P] [--delay-ms D] [--tls [--cert-out FILE]] [--max-streams N]
                    [--refuse-yahoo]

Answers like Yahoo's chart API and Coinbase's spot price, after D ms (default 0), on
127.0.0.1:P (default: a free port):
  GET /v8/finance/chart/SYMBOL                   today's price (quotes_bench::chart::price_of)
  GET /v8/finance/chart/SYMBOL?period1=P1&period2=P2&interval=1d|1wk|1mo|3mo[&events=split]
                                                 daily history: a bar per weekday at 14:30 UTC
  GET /v2/prices/BASE-QUOTE/spot                 Coinbase's spot price of the pair
  GET /api/quote/SYMBOL/info                     Nasdaq's quote (any assetclass)
--refuse-yahoo answers every chart request 429 `Edge: Too Many Requests` instead, after D.
--tls serves HTTPS (ALPN h2, http/1.1) with a fresh self-signed certificate for 127.0.0.1
and localhost, written as PEM to FILE. --max-streams is the h2
SETTINGS_MAX_CONCURRENT_STREAMS (default 250).
Control requests, never counted: GET /__stats (counters and requests per path, JSON);
GET or POST /__reset (zero them); GET /__price/SYMBOL (the price, text);
GET /__prices?symbols=A,B,... (the prices, a JSON object).
Prints `listening URL` first, then runs until killed.";

struct Options {
    port: u16,
    config: ServerConfig,
    cert_out: Option<String>,
}

fn parse(mut args: Args) -> Result<Options, String> {
    let defaults = ServerConfig::default();
    let tls = args.switch("--tls");
    let options = Options {
        port: args.value("--port")?.unwrap_or(0),
        config: ServerConfig {
            delay: Duration::from_millis(args.value("--delay-ms")?.unwrap_or(0)),
            tls,
            max_concurrent_streams: args
                .value("--max-streams")?
                .unwrap_or(defaults.max_concurrent_streams),
            refuse_yahoo: args.switch("--refuse-yahoo"),
        },
        cert_out: args.value("--cert-out")?,
    };
    args.finish()?;
    if options.cert_out.is_some() && !tls {
        return Err("--cert-out needs --tls".to_owned());
    }
    Ok(options)
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = Args::from_env();
    if args.switch("--help") || args.switch("-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let options = match parse(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("bench-server: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, options.port));
    let server = match Server::start_on(addr, options.config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("bench-server: cannot listen on {addr}: {e}");
            return ExitCode::from(1);
        }
    };
    if let (Some(path), Some(pem)) = (&options.cert_out, &server.cert_pem) {
        if let Err(e) = std::fs::write(path, pem) {
            eprintln!("bench-server: cannot write {path}: {e}");
            return ExitCode::from(1);
        }
    }
    if !quotes_bench::args::announce(&format!("listening {}", server.url())) {
        return ExitCode::from(1);
    }
    let _ = tokio::signal::ctrl_c().await;
    drop(server);
    ExitCode::SUCCESS
}
