//! How the one `reqwest::Client` is built: TLS trust, proxies, connection limits, and the
//! connector layer that tells `http` when a new connection is up.
//!
//! - TLS is always verified (rustls, ring). The system's trust store is loaded only when a
//!   source URL is https (it costs a few milliseconds of reading /etc/ssl, and a plain
//!   http test or mirror needs none); `--cacert` adds anchors for TLS-inspecting proxies.
//!   Redirects never leave the origin they were sent to (see `http`), so an http source
//!   never needs the store either.
//! - Redirects are not followed by reqwest: `http` follows them itself.
//! - Proxies: `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` from the
//!   environment, as reqwest reads them.
//!
//! Nothing here has a process-wide side effect: installing the rustls crypto provider and
//! raising the open-file limit happen in `main`, where a library user would not be surprised
//! by them.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// What the client needs to know; filled from the command line.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Connections kept per host: the `--jobs` bound.
    pub jobs: usize,
    /// The most a connection may take to come up.
    pub connect_timeout: Duration,
    pub user_agent: String,
    /// `--cacert`: extra trust anchors (PEM certificates).
    pub extra_roots: Vec<reqwest::Certificate>,
    /// Whether any source of the run is https: only then is the system trust store loaded.
    pub https: bool,
}

/// Builds the client.
pub fn build(options: &ClientOptions) -> reqwest::Result<reqwest::Client> {
    let builder = reqwest::Client::builder()
        .user_agent(options.user_agent.clone())
        .connect_timeout(options.connect_timeout)
        .pool_max_idle_per_host(options.jobs)
        .gzip(true)
        // Redirects are followed by `http`: cheaper per request than reqwest's redirect
        // layer, and a refused one is reported with where it pointed.
        .redirect(reqwest::redirect::Policy::none())
        .connector_layer(ConnectedLayer);
    let builder = if options.https {
        builder.tls_certs_merge(options.extra_roots.clone())
    } else {
        // No https anywhere: skip the system store entirely.
        builder.tls_certs_only(options.extra_roots.clone())
    };
    builder.build()
}

/// The first request to an https origin, and the burst waiting behind it (see
/// `http::Http::send`). Released when that request's connection is up, or when it has an
/// answer, whichever comes first.
#[derive(Debug, Default)]
pub struct Warmup {
    started: std::sync::atomic::AtomicBool,
    ready: tokio::sync::watch::Sender<bool>,
}

tokio::task_local! {
    /// Set around the first request to an origin: a connection the connector makes while
    /// that request is being polled is that origin's, so its warm-up is the one to release.
    /// Every origin has its own, so one host's connection never releases another's burst.
    static WARMING: Arc<Warmup>;
}

impl Warmup {
    /// Whether the caller is the first request to this origin (and must go alone).
    pub fn claim_first(&self) -> bool {
        !self.started.swap(true, std::sync::atomic::Ordering::SeqCst)
    }

    /// Run the first request; a connection it opens releases this origin's burst.
    pub async fn first<F: Future>(self: &Arc<Self>, request: F) -> F::Output {
        // Released however the first request ends, even dropped by its attempt's timeout:
        // the burst must never wait on a request that is gone.
        let _release = Release(self);
        WARMING.scope(Arc::clone(self), request).await
    }

    /// Wait until the first request's connection is up (or it is answered).
    pub async fn wait(&self) {
        let mut ready = self.ready.subscribe();
        let _ = ready.wait_for(|ready| *ready).await;
    }

    fn release(&self) {
        self.ready.send_replace(true);
    }
}

/// Releases a warm-up when dropped.
struct Release<'a>(&'a Warmup);

impl Drop for Release<'_> {
    fn drop(&mut self) {
        self.0.release();
    }
}

/// A connector layer that reports established connections to the warm-up of the request
/// that opened them. hyper learns that a server speaks HTTP/2 (ALPN) the moment its
/// connector finishes, and from then on makes other requests to that origin wait for the
/// one HTTP/2 connection instead of opening their own.
#[derive(Clone)]
struct ConnectedLayer;

impl<S> tower_layer::Layer<S> for ConnectedLayer {
    type Service = Connected<S>;

    fn layer(&self, inner: S) -> Connected<S> {
        Connected { inner }
    }
}

#[derive(Clone)]
struct Connected<S> {
    inner: S,
}

impl<S, R> tower_service::Service<R> for Connected<S>
where
    S: tower_service::Service<R>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        // hyper calls the connector while polling the request that needs the connection,
        // so the task-local names the origin whose first request this is (if it is one).
        let warming = WARMING.try_with(Arc::clone).ok();
        let connecting = self.inner.call(request);
        Box::pin(async move {
            let result = connecting.await;
            if let (Ok(_), Some(warmup)) = (&result, warming) {
                warmup.release();
            }
            result
        })
    }
}

/// File descriptors kept free for everything that is not a connection: stdio, the
/// runtime's epoll and wakers, DNS lookups, the trust store being read.
#[cfg(unix)]
const FD_RESERVE: u64 = 16;

/// How many requests may really be in flight: `--jobs`, unless the open-file limit is
/// lower, so `ulimit -n 64` with `-j 200` slows the run down instead of failing tickers with
/// "too many open files". Reads the limit only: `main` raises it first
/// ([`raise_open_file_limit`]).
///
/// Windows has no such per-process limit on sockets: there `--jobs` is used as given.
pub fn usable_jobs(requested: usize) -> usize {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit only writes the struct we pass.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
            return requested;
        }
        let room = limit.rlim_cur.saturating_sub(FD_RESERVE).max(1);
        requested.min(usize::try_from(room).unwrap_or(usize::MAX))
    }
    #[cfg(not(unix))]
    {
        requested
    }
}

/// `OPEN_MAX` of macOS's <sys/syslimits.h>, the largest soft open-file limit it accepts.
#[cfg(unix)]
const MACOS_OPEN_MAX: libc::rlim_t = 10240;

/// Raise the soft open-file limit to the hard one, as Go's runtime does: a process-wide
/// change, so `main` makes it, never a library call. Nothing to raise on Windows.
pub fn raise_open_file_limit() {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0
                && limit.rlim_cur < limit.rlim_max
            {
                let current = limit.rlim_cur;
                limit.rlim_cur = limit.rlim_max;
                // macOS refuses a soft limit above OPEN_MAX (10240) although its hard limit
                // is usually "unlimited", and starts processes at 256: ask for OPEN_MAX then.
                if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0
                    && cfg!(target_vendor = "apple")
                    && current < MACOS_OPEN_MAX
                {
                    limit.rlim_cur = limit.rlim_max.min(MACOS_OPEN_MAX);
                    libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
                }
            }
        }
    }
}

/// The largest `--cacert` file read: a whole system trust store is about 200 KiB.
const MAX_CACERT_BYTES: u64 = 16 * 1024 * 1024;

/// Read `--cacert`: one or more PEM certificates (at most [`MAX_CACERT_BYTES`], so that
/// `--cacert /dev/zero` is an error, not all the memory there is).
pub fn read_cacert(path: &std::path::Path) -> Result<Vec<reqwest::Certificate>, String> {
    use std::io::Read;
    let cannot = |e: std::io::Error| format!("cannot read --cacert {}: {e}", path.display());
    let mut pem = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_CACERT_BYTES + 1).read_to_end(&mut pem))
        .map_err(cannot)?;
    if pem.len() as u64 > MAX_CACERT_BYTES {
        return Err(format!(
            "--cacert {} is larger than {} MiB; it should hold PEM certificates",
            path.display(),
            MAX_CACERT_BYTES / 1024 / 1024
        ));
    }
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| format!("--cacert {} is not PEM: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("--cacert {} holds no certificate", path.display()));
    }
    Ok(certs)
}
