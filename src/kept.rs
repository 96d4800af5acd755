//! What the cache directory keeps beside the closes (issue 19), each in a small file of its
//! own:
//!
//! - `answers/HASH.json`: answers that hold for days (`Source::keep`: Alpha Vantage's
//!   SYMBOL_SEARCH, which says a listing's currency), so a later run spends no request on
//!   them. HASH is a hash of the URL asked (without any API key: keys go on the wire only);
//!   the file holds the URL itself, compared when read.
//! - `sessions/SOURCE.json`: a source's session (Yahoo's cookie and crumb, see `session`). A
//!   cookie is a credential: the file is made readable by its owner only (0600, in a 0700
//!   directory), and on Unix one owned by another user, or that others may read, is never
//!   used.
//!
//! Each file is written whole or not at all (written beside, then renamed over the old one),
//! so two runs at once never read half of one. Both kinds are input like any answer (issue
//! 18): read with a bound on size, the URLs they were for compared, their age checked (never
//! from the future); a kept answer's body is then read by its source exactly as the
//! network's. A file that fails a check is left unused and replaced by the next one kept. A
//! cache is a convenience, never a reason for a run to fail: nothing here is an error, and
//! the work runs off the runtime's thread, so a slow disk cannot hold the run past its
//! `--deadline` (the fetch that awaits it ends at the stop).
//!
//! Separate from `cache` (the closes' database) because the fetcher uses it, and `cache`
//! sits above the fetcher (it narrows the jobs a round fetches).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::Url;
use serde::{Deserialize, Serialize};

use crate::source::Answer;

/// The largest kept file read (a SYMBOL_SEARCH answer is 3 KiB).
const MAX_FILE: u64 = 256 * 1024;

/// The files kept in one cache directory.
#[derive(Debug, Clone)]
pub struct Kept {
    dir: PathBuf,
}

/// A kept answer, as its file holds it.
#[derive(Serialize, Deserialize)]
struct KeptAnswer {
    /// The URL it answered, as the source built it (no key).
    url: String,
    /// When it was fetched, Unix seconds.
    time: i64,
    status: u16,
    /// The body, which was UTF-8 text (only such answers are kept).
    body: String,
}

/// A source's session as its file holds it (see `session`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptSession {
    /// Where its cookie was set and its token got: a session of another server (a test
    /// server, a mirror) is never sent to this one.
    pub cookie_url: String,
    pub token_url: String,
    /// When it was got, Unix seconds.
    pub time: i64,
    /// The `Cookie` header it is sent with.
    pub cookie: String,
    /// The token (Yahoo's crumb).
    pub token: String,
}

impl Kept {
    /// The files of the cache directory `dir` (made when something is first kept).
    pub fn new(dir: PathBuf) -> Kept {
        Kept { dir }
    }

    /// The answer kept for `url` if it is younger than `fresh`; read off the runtime's thread.
    pub async fn answer(&self, url: &Url, fresh: Duration) -> Option<Answer> {
        let path = self.answer_path(url);
        let url = url.to_string();
        off_thread(move || read_answer(&path, &url, fresh, now())).await?
    }

    /// Keep `answer` to `url` (a 200 whose body is text; anything else is not kept).
    pub async fn keep_answer(&self, url: &Url, answer: &Answer) {
        let Ok(body) = std::str::from_utf8(&answer.body) else {
            return;
        };
        if answer.status != 200 {
            return;
        }
        let kept = KeptAnswer {
            url: url.to_string(),
            time: now(),
            status: answer.status,
            body: body.to_string(),
        };
        let path = self.answer_path(url);
        let _ = off_thread(move || write_json(&path, &kept, false)).await;
    }

    /// Forget the answer kept for `url` (its source could not read it).
    pub async fn forget_answer(&self, url: &Url) {
        let path = self.answer_path(url);
        let _ = off_thread(move || std::fs::remove_file(path)).await;
    }

    /// The session kept for `source`, if one was; whether it is still good is the caller's
    /// to check (its URLs, its age, its token).
    pub async fn session(&self, source: &'static str) -> Option<KeptSession> {
        let path = self.session_path(source);
        off_thread(move || read_private(&path)).await?
    }

    /// Keep `session` for `source`, readable by its owner only.
    pub async fn keep_session(&self, source: &'static str, session: KeptSession) {
        let path = self.session_path(source);
        let _ = off_thread(move || write_json(&path, &session, true)).await;
    }

    fn answer_path(&self, url: &Url) -> PathBuf {
        self.dir
            .join("answers")
            .join(format!("{:016x}.json", fnv1a(url.as_str().as_bytes())))
    }

    fn session_path(&self, source: &str) -> PathBuf {
        self.dir.join("sessions").join(format!("{source}.json"))
    }
}

/// `work` on a blocking thread; `None` if that thread could not run it.
async fn off_thread<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    tokio::task::spawn_blocking(work).await.ok()
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// The answer in `path` if it is the one kept for `url`, a 200, fetched less than `fresh`
/// ago (and not after `now`).
fn read_answer(path: &Path, url: &str, fresh: Duration, now: i64) -> Option<Answer> {
    let kept: KeptAnswer = parse(&read_bounded(path)?)?;
    let age = now.checked_sub(kept.time)?;
    let fresh = i64::try_from(fresh.as_secs()).unwrap_or(i64::MAX);
    (kept.url == url && kept.status == 200 && (0..fresh).contains(&age)).then(|| Answer {
        status: kept.status,
        body: kept.body.into_bytes(),
    })
}

/// A session file, if only its owner may read it (on Unix: owned by this user, no access
/// for group or others).
fn read_private(path: &Path) -> Option<KeptSession> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    if !meta.is_file() || !private(&meta) {
        return None;
    }
    parse(&read_bounded(path)?)
}

/// A file's JSON as `T`, or `None`. Read through a `serde_json::Value` rather than straight
/// from the bytes: straight, this would be one more user of serde's readers of numbers from
/// bytes, which are then no longer inlined into the chart parser every request runs (issue
/// 19: no cost to the common path; about 100 instructions a request, under callgrind).
fn parse<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    serde_json::from_value(value).ok()
}

#[cfg(unix)]
fn private(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    meta.uid() == me && meta.mode() & 0o077 == 0
}

/// Elsewhere the file lives in the user's own profile, which the system keeps private.
#[cfg(not(unix))]
fn private(_meta: &std::fs::Metadata) -> bool {
    true
}

/// The bytes of a regular file of at most [`MAX_FILE`] bytes.
fn read_bounded(path: &Path) -> Option<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path).ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE + 1).read_to_end(&mut bytes).ok()?;
    (bytes.len() as u64 <= MAX_FILE).then_some(bytes)
}

/// Write `value` as JSON to `path`, whole or not at all: into a new file beside it, then
/// renamed over it. `private`: the directory 0700 and the file 0600 (on Unix).
fn write_json(path: &Path, value: &impl Serialize, private: bool) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    make_dir(dir, private)?;
    let bytes = serde_json::to_vec(value).map_err(std::io::Error::other)?;
    let temp = dir.join(format!(
        ".{}.{}.{:x}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("kept"),
        std::process::id(),
        fastrand::u64(..)
    ));
    let written = create_private(&temp, private).and_then(|mut file| {
        file.write_all(&bytes)?;
        file.sync_all()
    });
    let renamed = written.and_then(|()| std::fs::rename(&temp, path));
    if renamed.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    renamed
}

#[cfg(unix)]
fn make_dir(dir: &Path, private: bool) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    if private {
        builder.mode(0o700);
    }
    builder.create(dir)
}

#[cfg(not(unix))]
fn make_dir(dir: &Path, _private: bool) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

/// A new file (never an existing one, nor through a symbolic link), 0600 when `private`.
fn create_private(path: &Path, private: bool) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if private { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = private;
    options.open(path)
}

/// FNV-1a, 64 bits: a file name for a URL, the same on every system and in every version
/// (std's hasher is neither). Two URLs sharing a name only replace each other's file: the
/// URL in the file decides.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[tokio::test]
    async fn an_answer_is_kept_for_its_url_while_fresh() {
        let dir = tempfile::tempdir().unwrap();
        let kept = Kept::new(dir.path().join("cache"));
        let search = url("http://127.0.0.1:1/query?function=SYMBOL_SEARCH&keywords=VOD.LON");
        let answer = Answer {
            status: 200,
            body: br#"{"bestMatches":[]}"#.to_vec(),
        };
        let day = Duration::from_secs(86_400);
        assert!(kept.answer(&search, day).await.is_none());
        kept.keep_answer(&search, &answer).await;
        let again = kept.answer(&search, day).await.unwrap();
        assert_eq!(again.body, answer.body);
        // Another URL, or an answer older than asked for, is not it.
        let other = url("http://127.0.0.1:1/query?function=SYMBOL_SEARCH&keywords=VOD.L");
        assert!(kept.answer(&other, day).await.is_none());
        assert!(kept.answer(&search, Duration::ZERO).await.is_none());
        kept.forget_answer(&search).await;
        assert!(kept.answer(&search, day).await.is_none());
        // Not a 200, or not text: not kept.
        let refused = Answer {
            status: 404,
            body: b"{}".to_vec(),
        };
        kept.keep_answer(&search, &refused).await;
        assert!(kept.answer(&search, day).await.is_none());
    }

    #[test]
    fn a_kept_answer_is_checked_like_input() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        let u = "http://h/q";
        let write = |json: &str| std::fs::write(&path, json).unwrap();
        let day = Duration::from_secs(86_400);
        write(r#"{"url":"http://h/q","time":1000,"status":200,"body":"x"}"#);
        assert!(read_answer(&path, u, day, 1000 + 3600).is_some());
        // From the future, too old, another URL, another status, garbage, too large.
        assert!(read_answer(&path, u, day, 999).is_none());
        assert!(read_answer(&path, u, day, 1000 + 86_400).is_none());
        assert!(read_answer(&path, "http://h/r", day, 1000).is_none());
        write(r#"{"url":"http://h/q","time":1000,"status":500,"body":"x"}"#);
        assert!(read_answer(&path, u, day, 1000).is_none());
        write("not json");
        assert!(read_answer(&path, u, day, 1000).is_none());
        let huge = format!(
            r#"{{"url":"http://h/q","time":1000,"status":200,"body":"{}"}}"#,
            "x".repeat(MAX_FILE as usize)
        );
        write(&huge);
        assert!(read_answer(&path, u, day, 1000).is_none());
        // A directory where the file should be.
        assert!(read_answer(dir.path(), u, day, 1000).is_none());
    }

    #[tokio::test]
    async fn a_session_is_readable_by_its_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let kept = Kept::new(dir.path().to_path_buf());
        let session = KeptSession {
            cookie_url: "https://fc.yahoo.com/".into(),
            token_url: "https://query1.finance.yahoo.com/v1/test/getcrumb".into(),
            time: 1,
            cookie: "A3=d=x".into(),
            token: "haT3oykhHqZ".into(),
        };
        assert_eq!(kept.session("yahoo").await, None);
        kept.keep_session("yahoo", session.clone()).await;
        assert_eq!(kept.session("yahoo").await, Some(session));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let path = dir.path().join("sessions").join("yahoo.json");
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(path.parent().unwrap()), 0o700);
            // Made readable by others: never used.
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert_eq!(kept.session("yahoo").await, None);
            // A symbolic link to a private file is not the file.
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
            let link = dir.path().join("sessions").join("other.json");
            std::os::unix::fs::symlink(&path, &link).unwrap();
            assert_eq!(kept.session("other").await, None);
        }
    }

    #[test]
    fn file_names_are_stable() {
        // FNV-1a's published test vectors: the name of a URL never changes between versions.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
