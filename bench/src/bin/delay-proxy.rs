//! `delay-proxy`: the delaying TCP proxy as a process, for `bench/run` and by hand.
//!
//! Prints `listening 127.0.0.1:PORT` as its first line on stdout, then forwards until killed.

use std::net::{Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use quotes_bench::DelayProxy;
use quotes_bench::args::Args;

const USAGE: &str = "\
usage: delay-proxy --upstream HOST:PORT --delay-ms D [--listen-port P]

Listens on 127.0.0.1:P (default: a free port) and forwards every connection to HOST:PORT,
holding each chunk D ms in each direction (a round trip of 2×D ms). A new connection also
waits one round trip before it reaches upstream, as a real TCP handshake would.
Prints `listening 127.0.0.1:PORT` first, then runs until killed.";

struct Options {
    listen_port: u16,
    upstream: SocketAddr,
    delay: Duration,
}

fn parse(mut args: Args) -> Result<Options, String> {
    let listen_port = args.value("--listen-port")?.unwrap_or(0);
    let upstream: String = args.value("--upstream")?.ok_or("--upstream is required")?;
    let delay_ms: u64 = args.value("--delay-ms")?.ok_or("--delay-ms is required")?;
    args.finish()?;
    let upstream = upstream
        .to_socket_addrs()
        .map_err(|e| format!("--upstream {upstream}: {e}"))?
        .next()
        .ok_or_else(|| format!("--upstream {upstream}: no address"))?;
    Ok(Options {
        listen_port,
        upstream,
        delay: Duration::from_millis(delay_ms),
    })
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
            eprintln!("delay-proxy: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let listen = SocketAddr::from((Ipv4Addr::LOCALHOST, options.listen_port));
    let proxy = match DelayProxy::start_on(listen, options.upstream, options.delay).await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("delay-proxy: cannot listen on {listen}: {e}");
            return ExitCode::from(1);
        }
    };
    if !quotes_bench::args::announce(&format!("listening {}", proxy.addr)) {
        return ExitCode::from(1);
    }
    let _ = tokio::signal::ctrl_c().await;
    drop(proxy);
    ExitCode::SUCCESS
}
