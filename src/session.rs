//! The sessions of a run (issue 19, Yahoo's cookie and crumb): got only when an answer asks
//! for one, once per source for the whole run, and kept in the cache directory for a day.
//!
//! Yahoo's chart API needs no crumb today, so nothing here runs until it answers 401
//! "Invalid Crumb" (`Session::wanted`): a run that is never asked reads no file and sends
//! nothing more. When asked, the fetcher calls [`Sessions::renew`]:
//!
//! - **One for the whole run.** 300 tickers refused at once make one cookie request and one
//!   crumb request, not 300: the first refused request gets the session while the others wait
//!   for it (one lock per source), then each retries with the same session. A request that
//!   starts after that carries it from the start ([`Sessions::current`]). A failure is the
//!   run's too: every request waiting for the session fails with it, and none asks again.
//! - **Kept for a day** (`kept`: a file only its owner may read). A run asked for a session
//!   first tries the one kept by an earlier run (if it is younger than a day, was got from
//!   the same servers, and its crumb and cookie still read as such), and asks Yahoo only when
//!   there is none or the kept one is refused too: so a request is retried at most twice,
//!   once with the kept session and once with a new one.
//! - **Never shown.** The cookie goes in the `Cookie` header only and `-v` writes the crumb
//!   `crumb=…`; both are registered with `text` to be written `…` wherever a message would
//!   still hold them (a server that echoes them back).
//!
//! The requests themselves are the fetcher's (`fetch`); this module holds the state.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use reqwest::header::HeaderValue;

use crate::error::FetchError;
use crate::kept::{Kept, KeptSession};
use crate::source::{Answer, Session};

/// How long a session is used, from when it was got: Yahoo's crumb lasts about a day.
pub const LIFETIME_SECONDS: i64 = 86_400;

/// The longest cookie sent (Yahoo's are a few hundred bytes).
const MAX_COOKIE: usize = 4096;

/// One session: the cookie and the token sent with every request to its source.
#[derive(Debug)]
pub struct Credentials {
    /// The `Cookie` header: `A3=…; A1=…`.
    pub cookie: HeaderValue,
    /// The token, sent as the session's query parameter.
    pub token: String,
    /// Got by this run from the network (not read from the cache directory): when one of
    /// these is refused too, there is nothing better to try.
    pub fresh: bool,
}

/// The sessions of one run, by source.
pub struct Sessions {
    kept: Option<Kept>,
    /// Whether any source has a session yet: until then [`Sessions::current`] costs one
    /// atomic read (every request of a run that is never asked for one).
    any: AtomicBool,
    slots: Mutex<HashMap<&'static str, Arc<Slot>>>,
}

#[derive(Default)]
struct Slot {
    /// The session requests carry now.
    current: Mutex<Option<Arc<Credentials>>>,
    /// Held while a session is being got: the others wait, then use it.
    renewing: tokio::sync::Mutex<Renewal>,
}

#[derive(Default)]
struct Renewal {
    /// Whether the kept session was looked at (once per run).
    looked_at_kept: bool,
    /// Why getting a session failed: the run's answer for every later request.
    failed: Option<FetchError>,
}

impl Sessions {
    /// `kept`: the cache directory's files (`None` with `--no-cache`: nothing kept).
    pub fn new(kept: Option<Kept>) -> Sessions {
        Sessions {
            kept,
            any: AtomicBool::new(false),
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// The session a request to `source` carries now, if it has one.
    #[inline]
    pub fn current(&self, source: &'static str) -> Option<Arc<Credentials>> {
        if !self.any.load(Ordering::Acquire) {
            return None;
        }
        let slot = self.slot(source);
        let current = slot.current.lock().unwrap_or_else(|e| e.into_inner());
        current.clone()
    }

    /// A session for `source` after a request that carried `stale` (or none) was refused for
    /// want of one: the one another request got meanwhile, else the one kept by an earlier
    /// run, else a new one from `get` (kept for the next runs). `None` when there is nothing
    /// better than `stale` to try (a session this run got is refused too). Getting one
    /// failed: that failure, now and for the rest of the run.
    pub async fn renew<F: Future<Output = Result<Credentials, FetchError>>>(
        &self,
        source: &'static str,
        spec: &Session,
        stale: Option<&Arc<Credentials>>,
        get: impl FnOnce() -> F,
    ) -> Result<Option<Arc<Credentials>>, FetchError> {
        if stale.is_some_and(|s| s.fresh) {
            return Ok(None);
        }
        let slot = self.slot(source);
        let mut renewal = slot.renewing.lock().await;
        let current = slot
            .current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(current) = current.filter(|c| !stale.is_some_and(|s| Arc::ptr_eq(s, c))) {
            return Ok(Some(current)); // another request renewed it meanwhile
        }
        if let Some(failed) = &renewal.failed {
            return Err(failed.clone());
        }
        if !renewal.looked_at_kept {
            renewal.looked_at_kept = true;
            if let Some(kept) = self.read_kept(source, spec).await {
                return Ok(Some(self.set(&slot, kept)));
            }
        }
        match get().await {
            Ok(credentials) => {
                if let Some(kept) = &self.kept {
                    kept.keep_session(source, to_kept(spec, &credentials)).await;
                }
                Ok(Some(self.set(&slot, credentials)))
            }
            Err(e) => {
                renewal.failed = Some(e.clone());
                Err(e)
            }
        }
    }

    fn slot(&self, source: &'static str) -> Arc<Slot> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(slots.entry(source).or_default())
    }

    fn set(&self, slot: &Slot, credentials: Credentials) -> Arc<Credentials> {
        let credentials = Arc::new(credentials);
        *slot.current.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::clone(&credentials));
        self.any.store(true, Ordering::Release);
        credentials
    }

    /// The session kept for `source`, if it is still one to use: from the same servers,
    /// younger than [`LIFETIME_SECONDS`], its cookie a header and its token what the source
    /// reads as one.
    async fn read_kept(&self, source: &'static str, spec: &Session) -> Option<Credentials> {
        let kept = self.kept.as_ref()?.session(source).await?;
        let now = jiff::Timestamp::now().as_second();
        let age = now.checked_sub(kept.time)?;
        let same_servers =
            kept.cookie_url == spec.cookie.as_str() && kept.token_url == spec.token.as_str();
        if !same_servers || !(0..LIFETIME_SECONDS).contains(&age) {
            return None;
        }
        let token = (spec.read_token)(&Answer {
            status: 200,
            body: kept.token.into_bytes(),
        })
        .ok()?;
        credentials(&kept.cookie, token, false)
    }
}

/// The credentials of a `Cookie` header and a token: `None` unless the cookie can be sent as
/// a header (visible ASCII, at most [`MAX_COOKIE`] bytes). Both are registered with `text`,
/// never to be shown.
pub fn credentials(cookie: &str, token: String, fresh: bool) -> Option<Credentials> {
    if cookie.is_empty() || cookie.len() > MAX_COOKIE {
        return None;
    }
    let mut header = HeaderValue::from_str(cookie).ok()?;
    header.set_sensitive(true);
    // The whole header, and each cookie's value: a server may echo back one of them.
    crate::text::redact_everywhere(cookie);
    for pair in cookie.split("; ") {
        if let Some((_, value)) = pair.split_once('=') {
            crate::text::redact_everywhere(value);
        }
    }
    crate::text::redact_everywhere(&token);
    Some(Credentials {
        cookie: header,
        token,
        fresh,
    })
}

/// The `Cookie` header a request sends back for the `Set-Cookie` headers of an answer: each
/// cookie's `name=value`, its attributes left out, joined by `; `. `None` without a cookie.
pub fn cookie_header(set_cookies: &[String]) -> Option<String> {
    let pairs: Vec<&str> = set_cookies
        .iter()
        .filter_map(|line| line.split(';').next())
        .map(str::trim)
        .filter(|pair| {
            pair.split_once('=')
                .is_some_and(|(name, value)| !name.trim().is_empty() && !value.is_empty())
        })
        .collect();
    (!pairs.is_empty()).then(|| pairs.join("; "))
}

fn to_kept(spec: &Session, credentials: &Credentials) -> KeptSession {
    KeptSession {
        cookie_url: spec.cookie.to_string(),
        token_url: spec.token.to_string(),
        time: jiff::Timestamp::now().as_second(),
        cookie: credentials.cookie.to_str().unwrap_or_default().to_string(),
        token: credentials.token.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::Url;
    use std::sync::atomic::AtomicUsize;

    fn token(answer: &Answer) -> Result<String, FetchError> {
        String::from_utf8(answer.body.clone())
            .map_err(|_| FetchError::Other("not text".into()))
            .and_then(|t| {
                (!t.contains(' '))
                    .then_some(t)
                    .ok_or(FetchError::Other("no".into()))
            })
    }

    fn spec() -> Session {
        Session {
            cookie: Url::parse("http://127.0.0.1:1/").unwrap(),
            token: Url::parse("http://127.0.0.1:2/v1/test/getcrumb").unwrap(),
            param: "crumb",
            wanted: |a| a.status == 401,
            read_token: token,
        }
    }

    #[test]
    fn cookies_are_their_name_and_value_without_attributes() {
        let fragment = [
            "A1=d=AQAB&S=AQAA; Expires=Sun, 3 Oct 2027 14:16:59 GMT; Max-Age=31557600; Domain=.yahoo.com; Path=/; SameSite=Lax; Secure; HttpOnly".to_string(),
            "A3=d=AQAB&S=AQAA; Domain=.yahoo.com".to_string(),
            "empty=; Path=/".to_string(),
            "=nameless".to_string(),
        ];
        assert_eq!(
            cookie_header(&fragment).as_deref(),
            Some("A1=d=AQAB&S=AQAA; A3=d=AQAB&S=AQAA")
        );
        assert_eq!(cookie_header(&[]), None);
        assert!(credentials("A=1\r\nX-Evil: 1", "t".into(), true).is_none());
        assert!(credentials(&"A=1".repeat(2000), "t".into(), true).is_none());
    }

    #[tokio::test]
    async fn many_requests_refused_at_once_get_one_session() {
        let sessions = Arc::new(Sessions::new(None));
        let spec = Arc::new(spec());
        let got = Arc::new(AtomicUsize::new(0));
        assert!(sessions.current("yahoo").is_none());
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let (sessions, spec, got) = (sessions.clone(), spec.clone(), got.clone());
                tokio::spawn(async move {
                    sessions
                        .renew("yahoo", &spec, None, || async {
                            got.fetch_add(1, Ordering::SeqCst);
                            tokio::task::yield_now().await;
                            Ok(credentials("A3=x", "crumb1".into(), true).unwrap())
                        })
                        .await
                })
            })
            .collect();
        for task in tasks {
            let session = task.await.unwrap().unwrap().unwrap();
            assert_eq!(session.token, "crumb1");
        }
        assert_eq!(got.load(Ordering::SeqCst), 1);
        let current = sessions.current("yahoo").unwrap();
        // A session this run got, refused too: nothing better to try.
        let again = sessions
            .renew("yahoo", &spec, Some(&current), || async {
                panic!("asked again")
            })
            .await
            .unwrap();
        assert!(again.is_none());
    }

    #[tokio::test]
    async fn a_failure_is_the_runs() {
        let sessions = Sessions::new(None);
        let spec = spec();
        let refused = FetchError::RateLimited {
            api: "Yahoo",
            retry_after: None,
        };
        let err = sessions
            .renew("yahoo", &spec, None, || async { Err(refused.clone()) })
            .await
            .unwrap_err();
        assert_eq!(err, refused);
        let err = sessions
            .renew("yahoo", &spec, None, || async { panic!("asked again") })
            .await
            .unwrap_err();
        assert_eq!(err, refused);
        assert!(sessions.current("yahoo").is_none());
    }

    #[tokio::test]
    async fn a_kept_session_is_tried_first_then_a_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let spec = spec();
        let first = Sessions::new(Some(Kept::new(dir.path().to_path_buf())));
        let got = first
            .renew("yahoo", &spec, None, || async {
                Ok(credentials("A3=one", "crumb1".into(), true).unwrap())
            })
            .await
            .unwrap()
            .unwrap();
        assert!(got.fresh);
        // The next run: the kept one, without asking.
        let second = Sessions::new(Some(Kept::new(dir.path().to_path_buf())));
        let kept = second
            .renew("yahoo", &spec, None, || async { panic!("asked") })
            .await
            .unwrap()
            .unwrap();
        assert_eq!((kept.token.as_str(), kept.fresh), ("crumb1", false));
        assert_eq!(kept.cookie.to_str().unwrap(), "A3=one");
        // Refused: a new one.
        let new = second
            .renew("yahoo", &spec, Some(&kept), || async {
                Ok(credentials("A3=two", "crumb2".into(), true).unwrap())
            })
            .await
            .unwrap()
            .unwrap();
        assert_eq!(new.token, "crumb2");
        // Kept for other servers: not used.
        let mut elsewhere = self::spec();
        elsewhere.token = Url::parse("http://127.0.0.1:3/v1/test/getcrumb").unwrap();
        let third = Sessions::new(Some(Kept::new(dir.path().to_path_buf())));
        let other = third
            .renew("yahoo", &elsewhere, None, || async {
                Ok(credentials("A3=three", "crumb3".into(), true).unwrap())
            })
            .await
            .unwrap()
            .unwrap();
        assert_eq!(other.token, "crumb3");
    }
}
