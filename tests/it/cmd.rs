//! The one place that builds a `quotes` command, and the environment every test runs it in.
//!
//! A test must not depend on the shell it was started from: a proxy variable would send the
//! requests elsewhere, `NO_COLOR` or a locale would change the output, a `QUOTES_*` variable
//! would change the configuration, and a cache shared with the user's (or with another test)
//! would answer from an earlier run. So every command here starts from the test process's
//! environment minus those variables, with `XDG_CACHE_HOME` pointing at a fresh directory of
//! its own under `CARGO_TARGET_TMPDIR`, and with a hang guard.
//!
//! - `quotes()`: the binary, as an `assert_cmd::Command`; `quotes_for(&server)` and
//!   `quotes_for_both(&yahoo, &coinbase)` point it at test servers.
//! - `quotes_process()`: the same as a `std::process::Command`, for tests that spawn it and
//!   signal it, or give it a stdout of their own (`/dev/full`, a closed pipe).
//! - `via(program)`: another program (`script`, `bash`, `/usr/bin/time`) that runs `BIN`,
//!   with the same environment, so a pty or a shell pipeline sees the same scrubbed world.
//! - `require_tool(name)`: whether an external tool a test needs is installed; in CI a
//!   missing tool fails the test instead of skipping it.
//! - `spawn_reading(cmd)`: start a command with its output read by threads of their own;
//!   `run_measured(cmd)` (Linux): run to completion, with the peak resident set read from
//!   /proc.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use assert_cmd::Command;

use crate::support::Server;

/// The binary under test, as cargo built it for this test run.
pub const BIN: &str = env!("CARGO_BIN_EXE_quotes");

/// Every command is killed after this long. Generous: a test that reaches it has hung; it did
/// not merely run slowly on a loaded machine.
pub const HANG_GUARD: Duration = Duration::from_secs(60);

/// Variables always removed, whether or not they are set: proxies (both spellings), colour
/// and locale. Any `LC_*` and any `QUOTES_*` variable that is set is removed as well.
const SCRUBBED: &[&str] = &[
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
];

/// The names to remove from a child's environment, given the names set in this one:
/// everything in `SCRUBBED`, every set name starting with `LC_` or `QUOTES_`, and every API
/// key a source reads (a developer's real `TIINGO_API_KEY` must neither change a test nor be
/// sent to a test server).
pub fn scrubbed_names(set: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut names: Vec<OsString> = SCRUBBED.iter().map(OsString::from).collect();
    for spec in quotes::source::REGISTRY {
        if let Some(key) = &spec.key {
            names.push(key.env.into());
        }
    }
    for name in set {
        let bytes = name.as_encoded_bytes();
        if (bytes.starts_with(b"LC_") || bytes.starts_with(b"QUOTES_")) && !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// `program` with the scrubbed environment and a fresh `XDG_CACHE_HOME`.
pub fn scrubbed(program: impl AsRef<OsStr>) -> std::process::Command {
    let mut cmd = std::process::Command::new(program);
    for name in scrubbed_names(std::env::vars_os().map(|(name, _)| name)) {
        cmd.env_remove(name);
    }
    cmd.env("XDG_CACHE_HOME", fresh_cache_dir());
    cmd
}

/// `quotes` as a `std::process::Command` (no hang guard: the caller waits on it).
pub fn quotes_process() -> std::process::Command {
    scrubbed(BIN)
}

/// `quotes`, scrubbed and hang-guarded.
pub fn quotes() -> Command {
    let mut cmd = Command::from_std(quotes_process());
    cmd.timeout(HANG_GUARD);
    cmd
}

/// `quotes` with `QUOTES_YAHOO_URL` pointing at `yahoo`.
pub fn quotes_for(yahoo: &Server) -> Command {
    let mut cmd = quotes();
    cmd.env("QUOTES_YAHOO_URL", yahoo.url());
    cmd
}

/// `quotes` with `QUOTES_YAHOO_URL` and `QUOTES_COINBASE_URL` pointing at these servers.
pub fn quotes_for_both(yahoo: &Server, coinbase: &Server) -> Command {
    let mut cmd = quotes_for(yahoo);
    cmd.env("QUOTES_COINBASE_URL", coinbase.url());
    cmd
}

/// A program that runs `BIN` for the test (`script`, `bash`, `/usr/bin/time`), with the same
/// scrubbed environment and hang guard as `quotes()`.
pub fn via(program: impl AsRef<OsStr>) -> Command {
    let mut cmd = Command::from_std(scrubbed(program));
    cmd.timeout(HANG_GUARD);
    cmd
}

/// A new, empty directory for one command's cache, under `CARGO_TARGET_TMPDIR`.
///
/// Laid out as `xdg-cache/PID/N`. The first call in a test process removes the directories
/// of test processes that are gone, so the directories do not pile up run after run.
pub fn fresh_cache_dir() -> PathBuf {
    static SWEPT: Once = Once::new();
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("xdg-cache");
    SWEPT.call_once(|| sweep_dead_processes(&root));
    let dir = root
        .join(std::process::id().to_string())
        .join(NEXT.fetch_add(1, Ordering::SeqCst).to_string());
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create cache directory {}: {e}", dir.display()));
    dir
}

/// Removes `root/PID` for every PID that is no longer running. Only where `/proc` tells
/// (Linux): elsewhere nothing is removed rather than a live process's directory.
fn sweep_dead_processes(root: &Path) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(root) else {
        return; // no directory yet
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !Path::new("/proc").join(pid.to_string()).exists() {
            // Best effort: another test process may be sweeping the same directory.
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Issue 19: an API key never shows. Runs `cmd()` (quotes with the key in its variable,
/// pointed at `server`, which echoes the key back in its errors) with `-v` on `tickers` in
/// the table, JSON and CSV formats, and fails the test if the key, or its first characters,
/// appear on stdout or stderr, or if stderr lacks `line` (a request as `-v` shows it, the key
/// written `…`) or `echoed` (the server's echo, the key written `…`); then if a request
/// lacked the key as the query parameter `param`. Every keyed source's test calls it.
pub fn assert_key_never_shows(
    cmd: impl Fn() -> Command,
    server: &Server,
    (key, param): (&str, &str),
    tickers: &[&str],
    (line, echoed): (&str, &str),
) {
    for format in ["table", "json", "csv"] {
        let assert = cmd()
            .args(["-v", "-f", format])
            .args(tickers)
            .assert()
            .code(1);
        let out = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
        let err = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
        for shown in [key, &key[..8]] {
            assert!(
                !out.contains(shown) && !err.contains(shown),
                "{format}:\n{out}\n{err}"
            );
        }
        assert!(err.contains(line), "{line}\n{err}");
        assert!(err.contains(echoed), "{echoed}\n{err}");
    }
    // The key was sent, all the same.
    for request in server.requests() {
        assert_eq!(
            request.query_param(param).as_deref(),
            Some(key),
            "{request:?}"
        );
    }
}

/// Whether `tool` is installed (on `PATH`). If it is not, a test that needs it must not pass
/// silently in CI, where `.ci/run` installs every tool the suite uses: with `CI=true` this
/// fails the test. Elsewhere it says on stderr what is skipped and returns `false`.
///
/// A CI job on a system where a tool is not packaged (ledger on Windows, say) names it in
/// `QUOTES_TEST_SKIP_TOOLS` (space- or comma-separated): the checks that need it are then
/// skipped there too, with the reason printed, and run in the job that has it (the Linux
/// one, `.ci/run`). Only a tool named there may be missing in CI.
pub fn require_tool(tool: &str) -> bool {
    if on_path(tool) {
        return true;
    }
    let skip_list = std::env::var("QUOTES_TEST_SKIP_TOOLS").unwrap_or_default();
    let listed = skip_list.split([' ', ',']).any(|name| name.trim() == tool);
    if std::env::var_os("CI").is_some_and(|v| v == "true") && !listed {
        panic!(
            "{tool} is not installed, and CI=true: in CI every check runs (.ci/run installs it; \
             a job without it names it in QUOTES_TEST_SKIP_TOOLS)"
        );
    }
    eprintln!("skipped: {tool} is not installed, so the check that needs it did not run");
    false
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| is_program(&dir.join(tool))))
}

/// `path` is a program: the file itself, or on Windows the file with `.exe` (as pip installs
/// `bean-check` there).
fn is_program(path: &Path) -> bool {
    path.is_file() || (cfg!(windows) && path.with_extension("exe").is_file())
}

/// `cmd` started with its stdout and stderr piped, each read to its end by a thread of its
/// own (a pipe nobody reads would block it): the child, and the threads that give stdout's
/// and stderr's bytes when joined.
pub fn spawn_reading(
    cmd: &mut std::process::Command,
) -> (std::process::Child, [std::thread::JoinHandle<Vec<u8>>; 2]) {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let read = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut out = Vec::new();
            pipe.read_to_end(&mut out).unwrap();
            out
        })
    };
    let stdout = read(Box::new(child.stdout.take().unwrap()));
    let stderr = read(Box::new(child.stderr.take().unwrap()));
    (child, [stdout, stderr])
}

/// How a command measured by [`run_measured`] ended.
#[cfg(target_os = "linux")]
pub struct Measured {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// The peak resident set, KiB.
    pub peak_kib: u64,
}

/// Runs `cmd` to completion and returns its status, output and peak resident set.
///
/// The peak is the process's own `VmHWM`, read from /proc while it runs (it only grows). Not
/// wait4's `ru_maxrss`: a child started by vfork/posix_spawn shares this test process's
/// memory until it execs, and Linux counts that high-water mark as the child's, so a busy
/// test process would show its own size.
#[cfg(target_os = "linux")]
pub fn run_measured(mut cmd: std::process::Command) -> Measured {
    let (mut child, [stdout, stderr]) = spawn_reading(&mut cmd);
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0;
    let started = std::time::Instant::now();
    let status = loop {
        if let Ok(text) = std::fs::read_to_string(&status_file)
            && let Some(kib) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            peak_kib = peak_kib.max(kib);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(300), "hung");
        std::thread::sleep(Duration::from_millis(5));
    };
    let text = |bytes| String::from_utf8(bytes).expect("quotes writes UTF-8");
    Measured {
        status,
        stdout: text(stdout.join().unwrap()),
        stderr: text(stderr.join().unwrap()),
        peak_kib,
    }
}
