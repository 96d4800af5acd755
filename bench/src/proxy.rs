//! A delaying TCP proxy: the benchmark's model of a real network path on a machine that has
//! no netem.
//!
//! Every chunk of bytes read from one side is written to the other `one_way_delay` later, in
//! order. The delay is a pipeline, as on a real link: a chunk read at `t` leaves at
//! `t + one_way_delay` whatever is still queued ahead of it, so bytes in flight do not add up
//! delay behind each other. A round trip therefore costs `2 × one_way_delay`. Bandwidth is not
//! limited and nothing is lost or reordered.
//!
//! Connection setup: the client's TCP handshake is with the proxy, on loopback, so it completes
//! at once, where on a real network `connect()` returns only after one round trip. To charge
//! that round trip, the proxy waits `2 × one_way_delay` after accepting before it connects
//! upstream and starts reading what the client sent. Bytes the client wrote straight away
//! (a TLS ClientHello, an HTTP request) therefore reach the server at 1.5 round trips, as they
//! would after a real SYN / SYN-ACK / ACK: a plain request on a new connection answers after
//! 2 round trips, an HTTPS one (TLS 1.3) after 3.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

/// Chunks queued per direction before reading pauses (backpressure, as a full window would).
const QUEUE: usize = 256;
/// Largest chunk read at once.
const CHUNK: usize = 64 * 1024;

/// A running proxy. Dropping it stops it and closes every connection through it.
pub struct DelayProxy {
    /// Where clients connect (always `127.0.0.1`).
    pub addr: SocketAddr,
    accept_loop: JoinHandle<()>,
}

impl DelayProxy {
    /// Starts a proxy on `127.0.0.1` at a free port, forwarding to `upstream` with
    /// `one_way_delay` each way (a round trip of twice that).
    pub async fn start(upstream: SocketAddr, one_way_delay: Duration) -> io::Result<DelayProxy> {
        DelayProxy::start_on(
            SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            upstream,
            one_way_delay,
        )
        .await
    }

    /// Starts a proxy listening on `listen` (port 0 picks a free one). The `delay-proxy`
    /// binary uses this to honour `--listen-port`.
    pub async fn start_on(
        listen: SocketAddr,
        upstream: SocketAddr,
        one_way_delay: Duration,
    ) -> io::Result<DelayProxy> {
        let listener = crate::server::listen(listen)?;
        let addr = listener.local_addr()?;
        let accept_loop = tokio::spawn(accept_loop(listener, upstream, one_way_delay));
        Ok(DelayProxy { addr, accept_loop })
    }
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        // The accept loop owns every connection task (a JoinSet), so this closes them all.
        self.accept_loop.abort();
    }
}

async fn accept_loop(listener: TcpListener, upstream: SocketAddr, delay: Duration) {
    let mut connections = JoinSet::new();
    loop {
        match listener.accept().await {
            Ok((client, _)) => {
                connections.spawn(relay(client, upstream, delay));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
        while connections.try_join_next().is_some() {}
    }
}

async fn relay(client: TcpStream, upstream: SocketAddr, delay: Duration) {
    // The round trip a real TCP handshake would have cost (see the module comment).
    tokio::time::sleep(delay * 2).await;
    let Ok(server) = TcpStream::connect(upstream).await else {
        return; // the client sees its connection closed, as after a refused connect
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    tokio::join!(
        pipe(client_read, server_write, delay),
        pipe(server_read, client_write, delay),
    );
}

/// One direction: a reader stamps each chunk with its departure time, a writer sends it then.
/// End of stream (or a read error) is forwarded as a shutdown, delayed like data.
async fn pipe<R, W>(mut from: R, mut to: W, delay: Duration)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let (tx, mut rx) = mpsc::channel::<(Instant, Option<Bytes>)>(QUEUE);
    let read = async move {
        loop {
            let mut buf = BytesMut::with_capacity(CHUNK);
            let chunk = match from.read_buf(&mut buf).await {
                Ok(0) | Err(_) => None,
                Ok(_) => Some(buf.freeze()),
            };
            let end = chunk.is_none();
            if tx.send((Instant::now() + delay, chunk)).await.is_err() || end {
                return;
            }
        }
    };
    let write = async move {
        while let Some((due, chunk)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            match chunk {
                Some(bytes) => {
                    if to.write_all(&bytes).await.is_err() {
                        return;
                    }
                }
                None => {
                    let _ = to.shutdown().await;
                    return;
                }
            }
        }
    };
    tokio::join!(read, write);
}
