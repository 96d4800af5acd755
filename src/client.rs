//! How the one `reqwest::Client` is built: TLS trust, redirects, proxies, timeouts.
//!
//! - TLS is always verified (rustls, ring). The system's trust store is loaded only when a
//!   source URL is https (it costs a few milliseconds of reading /etc/ssl, and a plain
//!   http test or mirror needs none); `--cacert` adds anchors for TLS-inspecting proxies.
//! - Redirects (followed by the fetcher, with [`follow`]): at most 5, and only to the same
//!   host over https or to a configured source URL. Anything else (Yahoo's EU consent
//!   page) stops, and the fetcher reports where the request was sent.
//! - Proxies: `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` from the
//!   environment, as reqwest reads them.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use reqwest::Url;

/// The most redirects followed for one request.
pub const MAX_REDIRECTS: usize = 5;

/// What the client needs to know; filled from the command line.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub jobs: usize,
    pub timeout: Duration,
    pub user_agent: String,
    /// `--cacert`: extra trust anchors (PEM certificates).
    pub extra_roots: Vec<reqwest::Certificate>,
    /// The sources' base URLs: redirects to them are followed, and if any is https
    /// the system trust store is loaded.
    pub base_urls: Vec<Url>,
}

/// Builds the client. `connected` is bumped each time the client finishes establishing a
/// connection (TCP, and TLS with ALPN when https): the fetcher waits for it to release a
/// burst of requests onto a new HTTP/2 connection (see `fetch::Fetcher::send`).
pub fn build(
    options: &ClientOptions,
    connected: tokio::sync::watch::Sender<u64>,
) -> reqwest::Result<reqwest::Client> {
    // reqwest is built with rustls and no bundled crypto provider: ring compiles faster
    // and smaller than aws-lc. Installing twice (tests, --watch) is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let builder = reqwest::Client::builder()
        .user_agent(options.user_agent.clone())
        .timeout(options.timeout)
        .connect_timeout(options.timeout.min(Duration::from_secs(10)))
        .pool_max_idle_per_host(options.jobs)
        .gzip(true)
        // Redirects are followed by the fetcher (see `follow`): cheaper per request than
        // reqwest's redirect layer, and a refused one is reported with where it pointed.
        .redirect(reqwest::redirect::Policy::none())
        .connector_layer(ConnectedLayer(Arc::new(connected)));
    let https = options.base_urls.iter().any(|u| u.scheme() == "https");
    let builder = if https {
        builder.tls_certs_merge(options.extra_roots.clone())
    } else {
        // No https anywhere: skip the system store entirely.
        builder.tls_certs_only(options.extra_roots.clone())
    };
    builder.build()
}

/// A connector layer that counts established connections. hyper learns that a server
/// speaks HTTP/2 (ALPN) the moment its connector finishes, and from then on makes other
/// requests to that host wait for the one HTTP/2 connection instead of opening their own.
#[derive(Clone)]
struct ConnectedLayer(Arc<tokio::sync::watch::Sender<u64>>);

impl<S> tower_layer::Layer<S> for ConnectedLayer {
    type Service = Connected<S>;

    fn layer(&self, inner: S) -> Connected<S> {
        Connected {
            inner,
            connected: Arc::clone(&self.0),
        }
    }
}

#[derive(Clone)]
struct Connected<S> {
    inner: S,
    connected: Arc<tokio::sync::watch::Sender<u64>>,
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
        let connecting = self.inner.call(request);
        let connected = Arc::clone(&self.connected);
        Box::pin(async move {
            let result = connecting.await;
            if result.is_ok() {
                connected.send_modify(|count| *count += 1);
            }
            result
        })
    }
}

/// File descriptors kept free for everything that is not a connection: stdio, the
/// runtime's epoll and wakers, DNS lookups, the trust store being read.
const FD_RESERVE: u64 = 16;

/// How many requests may really be in flight: `--jobs`, unless the open-file limit is
/// lower. Raises the soft limit to the hard one first (as Go's runtime does), then
/// keeps each connection within it, so `ulimit -n 64` with `-j 200` slows the run down
/// instead of failing tickers with "too many open files".
pub fn usable_jobs(requested: usize) -> usize {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
        let got = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0;
        if !got {
            return requested;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            // SAFETY: as above.
            if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
                limit.rlim_cur = limit.rlim_max;
            }
        }
        let room = limit.rlim_cur.saturating_sub(FD_RESERVE).max(1);
        requested.min(usize::try_from(room).unwrap_or(usize::MAX))
    }
    #[cfg(not(unix))]
    {
        requested
    }
}

/// Where a redirect from `current` to `location` leads, if `quotes` follows it: only
/// to the same host over https, or back to a configured source URL (`origins`).
pub fn follow(current: &Url, location: &str, origins: &[Url]) -> Option<Url> {
    let next = current.join(location).ok()?;
    let same_host_https = next.scheme() == "https" && next.host_str() == current.host_str();
    let to_a_source = origins.iter().any(|o| o.origin() == next.origin());
    (same_host_https || to_a_source).then_some(next)
}

/// Read `--cacert`: one or more PEM certificates.
pub fn read_cacert(path: &std::path::Path) -> Result<Vec<reqwest::Certificate>, String> {
    let pem =
        std::fs::read(path).map_err(|e| format!("cannot read --cacert {}: {e}", path.display()))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| format!("--cacert {} is not PEM: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("--cacert {} holds no certificate", path.display()));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_only_same_host_https_or_back_to_a_source() {
        let origins = [Url::parse("http://127.0.0.1:8080").unwrap()];
        let from = Url::parse("https://query1.finance.yahoo.com/v8/finance/chart/AAPL").unwrap();
        let to = |location: &str| follow(&from, location, &origins).map(String::from);
        assert_eq!(
            to("/v8/finance/chart/AAPL?x=1").as_deref(),
            Some("https://query1.finance.yahoo.com/v8/finance/chart/AAPL?x=1")
        );
        assert_eq!(to("https://consent.yahoo.com/collect"), None);
        assert_eq!(
            to("http://query1.finance.yahoo.com/x"),
            None,
            "no downgrade to plain http"
        );
        assert_eq!(
            to("http://127.0.0.1:8080/v8/finance/chart/AAPL").as_deref(),
            Some("http://127.0.0.1:8080/v8/finance/chart/AAPL")
        );
    }
}
