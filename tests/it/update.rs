//! `--update` keeps someone's books (issue 17): runs at once lose no line, what is not a
//! regular file is never touched, the file stays its owner's, a commodity keeps every
//! currency it is priced in, a commodity is never priced as a ticker it merely resembles,
//! weeks and months are written once they are over, failures are said and stop nothing,
//! beanprice's metadata is read whole, and files other tools write are read.
//!
//! The servers answer any ticker's daily closes for the days asked (the bench server's
//! deterministic closes, `quotes_bench::chart::close_of`), so each test knows every line it
//! expects. ledger, hledger and bean-check read every file a test leaves behind.

use std::path::Path;
#[cfg(target_os = "linux")]
use std::process::Stdio;
use std::time::Duration;

use assert_cmd::Command;
use jiff::civil::Date;
use predicates::prelude::*;
use quotes_bench::chart::{Interval, close_of, history_body};

#[cfg(unix)]
use crate::cmd::BIN;
use crate::cmd::require_tool;
use crate::history::{Dirs, quotes, stderr, yahoo as yahoo_at};
use crate::support::{Reply, Request, Server};

/// `quotes --update FILE` with Yahoo at `yahoo`, in the suite's scrubbed environment with
/// this test's cache.
fn update(dir: &Dirs, yahoo: &Server, file: &Path) -> Command {
    let mut cmd = yahoo_at(dir, yahoo);
    cmd.arg("--update").arg(file);
    cmd
}

/// What a run that appended `n` prices to `file` says.
fn appended(file: &Path, n: usize) -> String {
    let plural = if n == 1 { "" } else { "s" };
    format!("{}: appended {n} price{plural}\n", file.display())
}

/// A run with `args` that succeeds, saying it appended `n` prices to `file`.
fn appends(dir: &Dirs, yahoo: &Server, file: &Path, args: &[&str], n: usize) {
    update(dir, yahoo, file)
        .args(args)
        .assert()
        .success()
        .stderr(appended(file, n));
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).expect("the price file")
}

fn day(text: &str) -> Date {
    text.parse().expect("a date")
}

fn today() -> Date {
    jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
}

/// Monday to Friday of `from..=to`: the days the servers here have closes for.
fn weekdays(from: Date, to: Date) -> Vec<Date> {
    let mut days = Vec::new();
    let mut d = from;
    while d <= to {
        if d.weekday().to_monday_zero_offset() < 5 {
            days.push(d);
        }
        d = d.tomorrow().unwrap();
    }
    days
}

/// The ledger line of `ticker`'s close on `d`, written as `commodity` in `currency`.
fn ledger_line(d: Date, commodity: &str, ticker: &str, currency: &str) -> String {
    format!(
        "P {d} {commodity} {} {currency}\n",
        close_of(ticker, &d.to_string())
    )
}

/// The beancount entry of `ticker`'s close on `d`, in USD.
fn beancount_line(d: &str, ticker: &str) -> String {
    format!("{d} price {ticker} {} USD\n", close_of(ticker, d))
}

/// The ledger lines of `ticker`'s closes on the weekdays of `from..=to`, in `currency`.
fn ledger_lines(from: Date, to: Date, ticker: &str, currency: &str) -> String {
    weekdays(from, to)
        .into_iter()
        .map(|d| ledger_line(d, ticker, ticker, currency))
        .collect()
}

/// Yahoo's answer to a range request for `req.symbol()`, quoted in `currency`: a bar per
/// weekday of the period asked; not found when `currency` is `None`.
fn yahoo_answer(req: &Request, currency: Option<&str>) -> Reply {
    let Some(currency) = currency else {
        return Reply::fixture(404, "yahoo_chart_error_not_found.404.json");
    };
    let number = |name: &str| req.query_param(name).and_then(|v| v.parse::<i64>().ok());
    let interval = req
        .query_param("interval")
        .and_then(|i| Interval::parse(&i))
        .unwrap_or(Interval::Day);
    let (Some(from), Some(to)) = (number("period1"), number("period2")) else {
        return Reply::json(
            400,
            r#"{"chart":{"result":null,"error":{"code":"Bad Request","description":"a range only"}}}"#,
        );
    };
    // As Yahoo answers: no bar of a day that has not begun, however far period2 reaches.
    let now = jiff::Timestamp::now().as_second();
    match history_body(&req.symbol(), from, to.min(now.max(from)), interval) {
        Ok(body) => Reply::json(
            200,
            body.replacen(
                r#""currency":"USD""#,
                &format!(r#""currency":"{currency}""#),
                1,
            ),
        ),
        Err(why) => Reply::json(400, format!(r#"{{"error":{why:?}}}"#)),
    }
}

/// Yahoo answering every symbol in USD.
fn yahoo_usd() -> Server {
    Server::start(|req| yahoo_answer(req, Some("USD")))
}

/// Yahoo answering every symbol in USD but the rate USDEUR=X, in EUR.
fn yahoo_with_usdeur() -> Server {
    Server::start(|req| {
        let currency = if req.symbol() == "USDEUR=X" {
            "EUR"
        } else {
            "USD"
        };
        yahoo_answer(req, Some(currency))
    })
}

/// Coinbase Exchange answering any pair's daily candles for the days asked, each day's
/// close `close_of(PAIR, day)`.
fn coinbase_candles() -> Server {
    Server::start(|req| {
        let pair = req
            .path
            .split('/')
            .rev()
            .nth(1)
            .unwrap_or_default()
            .to_string();
        let date = |name: &str| {
            req.query_param(name)
                .and_then(|v| v.get(..10).map(str::to_string))
                .and_then(|v| v.parse::<Date>().ok())
        };
        let (Some(from), Some(to)) = (date("start"), date("end")) else {
            return Reply::json(400, r#"{"message":"start and end"}"#);
        };
        let mut candles = Vec::new();
        let mut d = from;
        while d <= to {
            let time = d
                .to_zoned(jiff::tz::TimeZone::UTC)
                .unwrap()
                .timestamp()
                .as_second();
            let close = close_of(&pair, &d.to_string());
            candles.push(format!("[{time},{close},{close},{close},{close},1.5]"));
            d = d.tomorrow().unwrap();
        }
        candles.reverse();
        Reply::json(200, format!("[{}]", candles.join(",")))
    })
}

/// The prices hledger reads in `file` (`hledger prices`), which it must read; `None` where
/// hledger is not installed (a laptop; CI fails instead).
fn hledger_prices(file: &Path) -> Option<String> {
    if !require_tool("hledger") {
        return None;
    }
    let out = std::process::Command::new("hledger")
        .arg("-f")
        .arg(file)
        .arg("prices")
        .output()
        .unwrap();
    assert!(out.status.success(), "hledger: {}", stderr(&out));
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// hledger and ledger must both read `file`.
fn ledger_tools_accept(file: &Path) {
    hledger_prices(file);
    if require_tool("ledger") {
        let out = std::process::Command::new("ledger")
            .arg("-f")
            .arg(file)
            .arg("bal")
            .output()
            .unwrap();
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "ledger: {}",
            stderr(&out)
        );
    }
}

/// bean-check must accept `file`.
fn bean_check_accepts(file: &Path) {
    if require_tool("bean-check") {
        let out = std::process::Command::new("bean-check")
            .arg(file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "bean-check: {}{}",
            String::from_utf8_lossy(&out.stdout),
            stderr(&out)
        );
    }
}

// ---------------------------------------------------------------------------------------
// 1. Runs at once

#[test]
fn ten_runs_at_once_keep_every_line_of_every_run() {
    let dir = Dirs::new();
    // Each answer takes a while, so that the runs overlap.
    let server =
        Server::start(|req| yahoo_answer(req, Some("USD")).with_delay(Duration::from_millis(100)));
    let file = dir.file("prices.journal");
    std::fs::write(&file, "; prices\n").unwrap();
    let tickers: Vec<String> = (b'A'..=b'J').map(|c| format!("RUN{}", c as char)).collect();
    let outputs: Vec<std::process::Output> = std::thread::scope(|s| {
        let runs: Vec<_> = tickers
            .iter()
            .map(|ticker| {
                let mut cmd = update(&dir, &server, &file);
                cmd.arg("--no-cache")
                    .args(["--from", "2021-01-04", "--to", "2021-01-08", ticker]);
                s.spawn(move || cmd.output().unwrap())
            })
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    for out in &outputs {
        assert!(out.status.success(), "{}", stderr(out));
        assert_eq!(
            stderr(out),
            format!("{}: appended 5 prices\n", file.display())
        );
    }
    let text = read(&file);
    for ticker in &tickers {
        for d in weekdays(day("2021-01-04"), day("2021-01-08")) {
            let line = ledger_line(d, ticker, ticker, "USD");
            assert_eq!(text.matches(&line).count(), 1, "{line:?} in\n{text}");
        }
    }
    assert_eq!(text.lines().count(), 1 + 10 * 5, "{text}");
    ledger_tools_accept(&file);
}

// Linux: /proc/locks tells that the run waits, and Ctrl-C is a signal. Elsewhere the same
// `File::lock` waits (macOS: flock; Windows: LockFileEx), bounded by --deadline the same way.
#[cfg(target_os = "linux")]
#[test]
fn a_run_waits_for_the_lock_within_its_deadline_and_ctrl_c() {
    let dir = Dirs::new();
    let server = yahoo_usd();
    let file = dir.file("prices.journal");
    let before = "P 2021-01-04 LOCKED 1 USD\n";
    std::fs::write(&file, before).unwrap();
    // Another run holds the lock.
    let holder = std::fs::File::open(&file).unwrap();
    holder.lock().unwrap();
    let args = ["--no-cache", "--to", "2021-01-08"];
    update(&dir, &server, &file)
        .args(["--deadline", "0.5"])
        .args(args)
        .assert()
        .code(1)
        .stdout("")
        .stderr(format!(
            "quotes: {}: deadline exceeded (--deadline 0.5 s) while another run was updating \
             it; nothing written\n",
            file.display()
        ));
    assert_eq!(read(&file), before);
    assert_eq!(server.request_count(), 0);

    // Ctrl-C while waiting ends the run at once, by the signal, having written nothing.
    let waiting = crate::cmd::quotes_process()
        .env("QUOTES_YAHOO_URL", server.url())
        .arg("--update")
        .arg(&file)
        .args(args)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    blocked_on_a_lock(waiting.id());
    // SAFETY: signalling the child this test spawned.
    unsafe {
        libc::kill(waiting.id() as i32, libc::SIGINT);
    }
    let out = waiting.wait_with_output().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(out.status.signal(), Some(libc::SIGINT), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("stopped while another run was updating it; nothing written"),
        "{}",
        stderr(&out)
    );
    assert_eq!(read(&file), before);

    // Waiting with no deadline: it goes on as soon as the lock is free.
    let waiting = crate::cmd::quotes_process()
        .env("QUOTES_YAHOO_URL", server.url())
        .arg("--update")
        .arg(&file)
        .args(args)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    blocked_on_a_lock(waiting.id());
    assert_eq!(server.request_count(), 0, "it did not wait for the lock");
    holder.unlock().unwrap();
    let out = waiting.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(read(&file).lines().count(), 5);
    ledger_tools_accept(&file);
}

#[test]
fn the_deadline_covers_reading_the_file() {
    let dir = Dirs::new();
    let server = Server::start(|_| Reply::Close).expect_no_requests();
    let file = dir.file("prices.journal");
    // Long enough to take longer than the deadline to read (a slow network file system).
    let mut text = "P 2021-01-04 SLOW 1 USD\n".to_string();
    text.push_str(&"; a comment a journal may hold, many times over\n".repeat(400_000));
    std::fs::write(&file, &text).unwrap();
    update(&dir, &server, &file)
        .args(["--deadline", "0.01", "--to", "2021-01-08"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(format!(
            "quotes: {}: deadline exceeded (--deadline 0.01 s) while it was being read; \
             nothing written\n",
            file.display()
        ));
    assert_eq!(read(&file), text);
}

// Linux: /proc/locks. On Windows a file cannot be renamed over while open, and the path
// check (`names`) always holds there.
#[cfg(target_os = "linux")]
#[test]
fn a_file_renamed_over_the_path_while_a_run_waited_is_the_one_updated() {
    use std::io::Read;
    let dir = Dirs::new();
    let server = yahoo_usd();
    let file = dir.file("prices.journal");
    std::fs::write(&file, "P 2021-01-04 OLDFILE 1 USD\n").unwrap();
    // Another program holds the lock on the file, then saves a new one over its path (as
    // an editor, or a tool writing a temporary file and renaming it, does) and lets go.
    let mut holder = std::fs::File::open(&file).unwrap();
    holder.lock().unwrap();
    let waiting = crate::cmd::quotes_process()
        .env("QUOTES_YAHOO_URL", server.url())
        .args(["--no-cache", "--update"])
        .arg(&file)
        .args(["--to", "2021-01-05"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    blocked_on_a_lock(waiting.id());
    let saved = dir.file("prices.journal.new");
    std::fs::write(&saved, "P 2021-01-04 NEWFILE 1 USD\n").unwrap();
    std::fs::rename(&saved, &file).unwrap();
    holder.unlock().unwrap();
    let out = waiting.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // The file at the path now got the lines, read from what it holds; the old one, which
    // nobody can see any more, is as it was.
    assert_eq!(
        read(&file),
        format!(
            "P 2021-01-04 NEWFILE 1 USD\n{}",
            ledger_line(day("2021-01-05"), "NEWFILE", "NEWFILE", "USD")
        )
    );
    let mut old = String::new();
    holder.read_to_string(&mut old).unwrap();
    assert_eq!(old, "P 2021-01-04 OLDFILE 1 USD\n");
    ledger_tools_accept(&file);
}

// Unix: on Windows a file open in another program cannot be renamed over, and the path
// check (`names`) always holds there.
#[cfg(unix)]
#[test]
fn a_file_replaced_while_the_prices_were_fetched_is_neither_appended_to_blind_nor_removed() {
    // An editor (or a sync tool) saves the file by renaming a new one over its path while
    // the run is fetching: the server does it when the request arrives, so the run is past
    // its lock and its read.
    fn replacing(
        saved: &Path,
        file: &Path,
        reply: impl Fn(&Request) -> Reply + Send + Sync + 'static,
    ) -> Server {
        let (saved, file) = (saved.to_path_buf(), file.to_path_buf());
        Server::start(move |req| {
            if saved.exists() {
                std::fs::rename(&saved, &file).unwrap();
            }
            reply(req)
        })
    }
    let dir = Dirs::new();
    let file = dir.file("prices.journal");
    let saved = dir.file("prices.journal.new");
    std::fs::write(&file, "P 2021-01-04 EDITED 1 USD\n").unwrap();
    let new = "P 2021-01-04 EDITED 1 USD\n; a line the editor added\n";
    std::fs::write(&saved, new).unwrap();
    let server = replacing(&saved, &file, |req| yahoo_answer(req, Some("USD")));
    // The lines are not appended to the file nobody sees any more, with "appended" said.
    update(&dir, &server, &file)
        .args(["--no-cache", "--to", "2021-01-05"])
        .assert()
        .code(1)
        .stderr(format!(
            "quotes: {}: cannot append to it: it was replaced while quotes was updating it (an \
             editor or a sync tool saving it?); run again; the file is unchanged\n",
            file.display()
        ));
    assert_eq!(read(&file), new);
    ledger_tools_accept(&file);

    // A file this run created, replaced by another before the run failed, is not removed.
    let created = dir.file("new.journal");
    let saved = dir.file("new.journal.saved");
    std::fs::write(&saved, "P 2021-01-04 KEPT 1 USD\n").unwrap();
    let server = replacing(&saved, &created, |req| yahoo_answer(req, None));
    update(&dir, &server, &created)
        .args([
            "--no-cache",
            "--from",
            "2021-01-04",
            "--to",
            "2021-01-05",
            "GONE",
        ])
        .assert()
        .code(1);
    assert_eq!(read(&created), "P 2021-01-04 KEPT 1 USD\n");
}

#[cfg(target_os = "linux")]
/// Wait until process `pid` waits for a file lock: the kernel lists it in `/proc/locks`
/// as a waiter (`->`) once it is blocked in `flock`.
fn blocked_on_a_lock(pid: u32) {
    crate::support::wait_until(
        &format!("process {pid} waits for a lock"),
        Duration::from_secs(20),
        || {
            std::fs::read_to_string("/proc/locks").is_ok_and(|locks| {
                locks.lines().any(|line| {
                    line.contains("->") && line.split_whitespace().any(|w| w == pid.to_string())
                })
            })
        },
    );
}

// ---------------------------------------------------------------------------------------
// 2. What is not a regular file

// FIFOs, sockets and device nodes are Unix file types; on Windows a path that is not a
// regular file (a directory) is refused the same way, by `file::check`.
#[cfg(unix)]
#[test]
fn what_is_not_a_regular_file_is_refused_before_anything_is_read_or_written() {
    use std::os::unix::fs::FileTypeExt;
    let dir = Dirs::new();
    let server = Server::start(|_| Reply::Close).expect_no_requests();
    let refused = |path: &Path, what: &str| {
        update(&dir, &server, path)
            .timeout(Duration::from_secs(10))
            .args(["--from", "2021-01-04", "TSLA"])
            .assert()
            .code(2)
            .stdout("")
            .stderr(predicate::str::contains(format!(
                "{} {what}",
                path.display()
            )));
    };

    // A FIFO with a writer and data waiting in it: never opened, never read, never hung on.
    let fifo = dir.file("fifo.journal");
    let name = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a C string path and a mode.
    assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o666) }, 0);
    let mut writer = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&fifo)
        .unwrap();
    std::io::Write::write_all(&mut writer, &[0u8; 4096]).unwrap();
    refused(&fifo, "is a FIFO (named pipe), not a price file");
    let mut waiting = vec![0u8; 4096];
    std::io::Read::read_exact(&mut writer, &mut waiting).unwrap();
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo()
    );

    // A socket, a directory.
    let socket = dir.file("socket.journal");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    refused(&socket, "is a socket, not a price file");
    let directory = dir.file("prices.d");
    std::fs::create_dir(&directory).unwrap();
    refused(&directory, "is a directory, not a price file");

    // A character device of the test's own (as /dev/null), where the test may make one.
    let device = dir.file("null.journal");
    let name = std::ffi::CString::new(device.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a C string path, a mode and a device number.
    let made = unsafe { libc::mknod(name.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) };
    if made == 0 {
        refused(&device, "is a character device, not a price file");
        let kind = std::fs::symlink_metadata(&device).unwrap().file_type();
        assert!(kind.is_char_device(), "it was replaced");
    } else {
        eprintln!("skipped: cannot make a device node here (not root)");
    }

    // As large as /dev/zero seems, in a sparse file: refused by its size, unread.
    let huge = dir.file("huge.journal");
    let file = std::fs::File::create(&huge).unwrap();
    file.set_len((1 << 30) + 1).unwrap();
    refused(
        &huge,
        "is 1073741825 bytes, larger than the 1 GiB a price file may be",
    );
    assert_eq!(std::fs::metadata(&huge).unwrap().len(), (1 << 30) + 1);
    // Zeros under that bound: one line longer than a line may be, refused with its number.
    let zeros = dir.file("zeros.journal");
    std::fs::File::create(&zeros)
        .unwrap()
        .set_len(8 << 20)
        .unwrap();
    update(&dir, &server, &zeros)
        .arg("TSLA")
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!(
            "{}:1: a line longer than 1 MiB",
            zeros.display()
        )));
    let long = dir.file("long.journal");
    let mut text = b"P 2021-01-04 TSLA 1 USD\n; fine\n; ".to_vec();
    text.resize(text.len() + (2 << 20), b'x');
    std::fs::write(&long, &text).unwrap();
    update(&dir, &server, &long)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!(
            "{}:3: a line longer than 1 MiB",
            long.display()
        )));
    assert_eq!(std::fs::read(&long).unwrap(), text);

    // A symbolic link to nothing stays one: the price file is not made in its place.
    let link = dir.file("link.journal");
    let target = dir.file("moved-away.journal");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    refused(&link, "is a symbolic link to");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(!target.exists());
}

// ---------------------------------------------------------------------------------------
// 3. The file stays the user's

#[cfg(unix)]
/// Whether this test process may act as another user (root may; a laptop's user may not).
fn can_switch_users() -> bool {
    // SAFETY: geteuid reads the process's credentials.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    eprintln!("skipped: running as another user needs root");
    false
}

#[cfg(unix)]
const OTHER_UID: u32 = 54_321;
#[cfg(unix)]
const OTHER_GID: u32 = 54_322;

#[cfg(unix)]
/// `quotes` run as another user (`OTHER_UID`, in group `OTHER_GID`), from a copy of the
/// binary that user can run.
fn quotes_as_other_user(dir: &Dirs, yahoo: &Server) -> Command {
    use std::os::unix::process::CommandExt;
    let bin = dir.file("quotes-bin");
    if !bin.exists() {
        std::fs::copy(BIN, &bin).unwrap();
    }
    let mut cmd = crate::cmd::scrubbed(&bin);
    cmd.uid(OTHER_UID)
        .gid(OTHER_GID)
        .env("QUOTES_YAHOO_URL", yahoo.url())
        .env("HOME", dir.root.path())
        .arg("--no-cache");
    let mut cmd = Command::from_std(cmd);
    cmd.timeout(crate::cmd::HANG_GUARD);
    cmd
}

#[cfg(unix)]
fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

// Owners, groups and modes are Unix ones; on Windows the file is appended to in place
// too, so its ACL stays as it was.
#[cfg(unix)]
#[test]
fn another_users_run_keeps_the_files_owner_and_works_in_a_directory_it_cannot_write() {
    use std::os::unix::fs::MetadataExt;
    if !can_switch_users() {
        return;
    }
    let dir = Dirs::new();
    let server = yahoo_usd();
    // A shared journal: owned by someone (uid 1000), group-writable for the group the
    // other user is in; the directory is not theirs to write.
    chmod(dir.root.path(), 0o755);
    let file = dir.file("shared.journal");
    std::fs::write(&file, "P 2021-01-04 SHARED 1 USD\n").unwrap();
    std::os::unix::fs::chown(&file, Some(1000), Some(OTHER_GID)).unwrap();
    chmod(&file, 0o664);
    quotes_as_other_user(&dir, &server)
        .arg("--update")
        .arg(&file)
        .args(["--to", "2021-01-06"])
        .assert()
        .success()
        .stderr(appended(&file, 2));
    let meta = std::fs::metadata(&file).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (1000, OTHER_GID));
    assert_eq!(meta.mode() & 0o7777, 0o664);
    let expected = "P 2021-01-04 SHARED 1 USD\n".to_string()
        + &ledger_lines(day("2021-01-05"), day("2021-01-06"), "SHARED", "USD");
    assert_eq!(read(&file), expected);
    ledger_tools_accept(&file);

    // A writable file in a directory nobody may write: updated, as `>>` would.
    let locked_dir = dir.file("read-only");
    std::fs::create_dir(&locked_dir).unwrap();
    let file = locked_dir.join("mine.journal");
    std::fs::write(&file, "P 2021-01-04 MINE 1 USD\n").unwrap();
    chmod(&file, 0o666);
    chmod(&locked_dir, 0o555);
    quotes_as_other_user(&dir, &server)
        .arg("--update")
        .arg(&file)
        .args(["--to", "2021-01-05"])
        .assert()
        .success()
        .stderr(appended(&file, 1));
    assert!(read(&file).ends_with(&ledger_line(day("2021-01-05"), "MINE", "MINE", "USD")));
    chmod(&locked_dir, 0o755);
    ledger_tools_accept(&file);
}

// Linux: xattrs and POSIX ACLs through libc. Elsewhere the append in place keeps them the
// same way (it never replaces the file).
#[cfg(target_os = "linux")]
#[test]
fn hard_links_and_extended_attributes_are_kept() {
    use std::os::unix::fs::MetadataExt;
    let dir = Dirs::new();
    let server = yahoo_usd();
    let file = dir.file("prices.journal");
    let link = dir.file("link.journal");
    std::fs::write(&file, "P 2021-01-04 LINKED 1 USD\n").unwrap();
    std::fs::hard_link(&file, &link).unwrap();
    let inode = std::fs::metadata(&file).unwrap().ino();
    // An extended attribute of the user's, and an ACL (one more user may read and write).
    let tagged = set_xattr(&file, c"user.x", b"kept");
    let acl = posix_acl(&[
        (0x01, 6, u32::MAX),
        (0x02, 6, OTHER_UID),
        (0x04, 4, u32::MAX),
        (0x10, 6, u32::MAX),
        (0x20, 4, u32::MAX),
    ]);
    let with_acl = set_xattr(&file, c"system.posix_acl_access", &acl);
    update(&dir, &server, &file)
        .arg("--no-cache")
        .args(["--to", "2021-01-05"])
        .assert()
        .success();
    let meta = std::fs::metadata(&file).unwrap();
    assert_eq!(meta.ino(), inode, "the file was replaced");
    assert_eq!(meta.nlink(), 2, "the hard link was split");
    assert_eq!(read(&link), read(&file));
    assert_eq!(read(&file).lines().count(), 2);
    ledger_tools_accept(&link);
    if tagged {
        assert_eq!(get_xattr(&file, c"user.x").as_deref(), Some(&b"kept"[..]));
    } else {
        eprintln!("skipped: this file system keeps no user extended attributes");
    }
    if with_acl {
        assert_eq!(
            get_xattr(&file, c"system.posix_acl_access"),
            Some(acl),
            "the ACL was lost"
        );
    } else {
        eprintln!("skipped: this file system keeps no ACLs");
    }
}

#[cfg(target_os = "linux")]
/// A POSIX ACL as the kernel stores it in `system.posix_acl_access`: version 2, then each
/// entry's tag, permissions and id.
fn posix_acl(entries: &[(u16, u16, u32)]) -> Vec<u8> {
    let mut acl = 2u32.to_le_bytes().to_vec();
    for (tag, perm, id) in entries {
        acl.extend_from_slice(&tag.to_le_bytes());
        acl.extend_from_slice(&perm.to_le_bytes());
        acl.extend_from_slice(&id.to_le_bytes());
    }
    acl
}

#[cfg(target_os = "linux")]
/// Set the extended attribute `name` of `path`; whether the file system took it.
fn set_xattr(path: &Path, name: &std::ffi::CStr, value: &[u8]) -> bool {
    let path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: C strings and a buffer of the length given.
    unsafe {
        libc::setxattr(
            path.as_ptr(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        ) == 0
    }
}

#[cfg(target_os = "linux")]
/// The extended attribute `name` of `path`, if it has it.
fn get_xattr(path: &Path, name: &std::ffi::CStr) -> Option<Vec<u8>> {
    let path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    let mut value = vec![0u8; 256];
    // SAFETY: C strings and a writable buffer of the length given.
    let len = unsafe {
        libc::getxattr(
            path.as_ptr(),
            name.as_ptr(),
            value.as_mut_ptr().cast(),
            value.len(),
        )
    };
    value.truncate(usize::try_from(len).ok()?);
    Some(value)
}

#[cfg(target_os = "linux")]
/// A price file of exactly `size` bytes whose prices end on 2021-01-04.
fn journal_of(size: usize) -> String {
    let mut text = String::from("P 2021-01-04 CUT 1 USD\n");
    while text.len() + 64 <= size {
        text.push_str("; a comment line, to make the file as long as the test needs\n");
    }
    let pad = size - text.len() - 1;
    text.push_str(&";".repeat(pad));
    text.push('\n');
    assert_eq!(text.len(), size);
    text
}

#[cfg(target_os = "linux")]
/// `quotes` under `bash -c` with a file-size limit of 1 KiB (`ulimit -f 1`), SIGXFSZ
/// `ignored` (the write fails with EFBIG) or not (the process dies of it mid-write).
fn quotes_with_size_limit(server: &Server, ignored: bool) -> Command {
    let trap = if ignored { "trap '' XFSZ; " } else { "" };
    let mut cmd = Command::from_std(crate::cmd::scrubbed("bash"));
    cmd.timeout(crate::cmd::HANG_GUARD)
        .env("QUOTES_YAHOO_URL", server.url())
        .arg("-c")
        .arg(format!(
            "{trap}ulimit -c 0; ulimit -f 1; exec \"$0\" \"$@\""
        ))
        .arg(BIN)
        .arg("--no-cache");
    cmd
}

#[cfg(target_os = "linux")]
/// The extended attribute that notes an append in progress, if the file has it.
fn append_note(path: &Path) -> Option<String> {
    get_xattr(path, c"user.quotes.append").map(|note| String::from_utf8_lossy(&note).into_owned())
}

// Linux: a file-size limit (ulimit -f) makes the write fail midway, and the note is an
// xattr. Elsewhere a failed write is cut back the same way; without the note, a kill in
// the middle of the one write is not repaired (README, "Keeping a price file").
#[cfg(target_os = "linux")]
#[test]
fn a_write_that_fails_midway_leaves_the_file_byte_identical() {
    let dir = Dirs::new();
    let server = yahoo_usd();
    let file = dir.file("prices.journal");
    // 1000 bytes: of the 3 new lines only 24 bytes fit under the 1 KiB limit.
    let before = journal_of(1000);
    std::fs::write(&file, &before).unwrap();
    quotes_with_size_limit(&server, true)
        .arg("--update")
        .arg(&file)
        .args(["--to", "2021-01-07"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!(
            "quotes: {}: cannot append to it: File too large",
            file.display()
        )))
        .stderr(predicate::str::contains("; the file is unchanged"));
    assert_eq!(read(&file), before, "the file changed");
    assert_eq!(append_note(&file), None);
}

// Linux: SIGXFSZ kills the run mid-write, and the note is an xattr.
#[cfg(target_os = "linux")]
#[test]
fn a_write_that_dies_midway_is_completed_by_the_next_run() {
    use std::os::unix::process::ExitStatusExt;
    let dir = Dirs::new();
    let server = yahoo_usd();
    let file = dir.file("prices.journal");
    let before = journal_of(1000);
    std::fs::write(&file, &before).unwrap();
    // SIGXFSZ kills the run in the middle of its write: a real partial line.
    let out = quotes_with_size_limit(&server, false)
        .arg("--update")
        .arg(&file)
        .args(["--to", "2021-01-07"])
        .output()
        .unwrap();
    assert_eq!(out.status.signal(), Some(libc::SIGXFSZ), "{}", stderr(&out));
    let torn = std::fs::read(&file).unwrap();
    assert_eq!(torn.len(), 1024, "the write was not cut midway");
    assert!(torn.starts_with(before.as_bytes()) && !torn.ends_with(b"\n"));
    let note = append_note(&file);
    if note.is_none() {
        eprintln!("skipped: this file system keeps no user extended attributes");
        return;
    }
    // The next run cuts the partial line and appends what the file lacks.
    quotes(&dir)
        .env("QUOTES_YAHOO_URL", server.url())
        .args(["--no-cache", "--update"])
        .arg(&file)
        .args(["--to", "2021-01-07"])
        .assert()
        .success()
        .stderr(appended(&file, 3));
    let expected =
        before.clone() + &ledger_lines(day("2021-01-05"), day("2021-01-07"), "CUT", "USD");
    assert_eq!(read(&file), expected);
    assert_eq!(append_note(&file), None);
    ledger_tools_accept(&file);
}

// ---------------------------------------------------------------------------------------
// 4. Per commodity and quote currency

#[test]
fn a_commodity_priced_in_two_currencies_keeps_both() {
    let dir = Dirs::new();
    let exchange = coinbase_candles();
    let file = dir.file("crypto.journal");
    let run = |args: &[&str]| {
        quotes(&dir)
            .env("QUOTES_COINBASE_EXCHANGE_URL", exchange.url())
            .arg("--update")
            .arg(&file)
            .args(args)
            .args(["coinbase:BTC-USD@BTC", "coinbase:BTC-EUR@BTC"])
            .assert()
            .success()
    };
    run(&["--from", "2021-01-04", "--to", "2021-01-05"]);
    run(&["--to", "2021-01-06"]).stderr(appended(&file, 2));
    run(&["--to", "2021-01-06"]).stderr(format!("{}: up to date, 1 commodity\n", file.display()));
    let mut expected = String::new();
    for d in ["2021-01-04", "2021-01-05", "2021-01-06"] {
        for (pair, currency) in [("BTC-USD", "USD"), ("BTC-EUR", "EUR")] {
            expected.push_str(&ledger_line(day(d), "BTC", pair, currency));
        }
    }
    assert_eq!(read(&file), expected);
    ledger_tools_accept(&file);

    // Each currency goes on from its own last price.
    std::fs::write(&file, "P 2021-01-06 BTC 1 USD\nP 2021-01-04 BTC 1 EUR\n").unwrap();
    run(&["--to", "2021-01-06"]).stderr(appended(&file, 2));
    assert_eq!(
        read(&file),
        format!(
            "P 2021-01-06 BTC 1 USD\nP 2021-01-04 BTC 1 EUR\n{}{}",
            ledger_line(day("2021-01-05"), "BTC", "BTC-EUR", "EUR"),
            ledger_line(day("2021-01-06"), "BTC", "BTC-EUR", "EUR")
        )
    );
}

#[test]
fn a_currency_a_commoditys_ticker_is_not_quoted_in_is_said_to_be_left_behind() {
    let dir = Dirs::new();
    let server = yahoo_usd();
    let file = dir.file("prices.journal");
    // Priced by its name, VTSAX is quoted in USD: its EUR history cannot go on, and the run
    // says so rather than seem to keep both.
    let before = "P 2021-01-04 VTSAX 100 USD\nP 2021-01-04 VTSAX 90 EUR\n";
    std::fs::write(&file, before).unwrap();
    update(&dir, &server, &file)
        .args(["--to", "2021-01-05"])
        .assert()
        .success()
        .stderr(format!(
            "quotes: VTSAX: VTSAX is quoted in USD, so {p}'s prices of VTSAX in EUR are not \
             continued; to keep them, give the tickers, one of them quoted in EUR, e.g. \
             TICKER@VTSAX\n{p}: appended 1 price\n",
            p = file.display()
        ));
    assert_eq!(
        read(&file),
        format!(
            "{before}{}",
            ledger_line(day("2021-01-05"), "VTSAX", "VTSAX", "USD")
        )
    );
    ledger_tools_accept(&file);
}

#[test]
fn beanprice_quote_currencies_are_each_kept() {
    let dir = Dirs::new();
    let exchange = coinbase_candles();
    let file = dir.file("crypto.beancount");
    let before = "\
2020-01-01 commodity USD
2020-01-01 commodity EUR
2020-01-01 commodity BTC
  price: \"USD:coinbase/BTC-USD EUR:coinbase/BTC-EUR\"

2021-01-04 price BTC 30000 USD
2021-01-05 price BTC 25000 EUR
";
    std::fs::write(&file, before).unwrap();
    quotes(&dir)
        .env("QUOTES_COINBASE_EXCHANGE_URL", exchange.url())
        .arg("--update")
        .arg(&file)
        .args(["--to", "2021-01-06"])
        .assert()
        .success()
        .stderr(appended(&file, 3));
    let close = |pair: &str, d: &str| close_of(pair, d);
    assert_eq!(
        read(&file),
        format!(
            "{before}\
             2021-01-05 price BTC {} USD\n\
             2021-01-06 price BTC {} USD\n\
             2021-01-06 price BTC {} EUR\n",
            close("BTC-USD", "2021-01-05"),
            close("BTC-USD", "2021-01-06"),
            close("BTC-EUR", "2021-01-06"),
        )
    );
    bean_check_accepts(&file);
}

// ---------------------------------------------------------------------------------------
// 5. Wrong instruments

/// Yahoo as the real one is for these names: USD and BTC are ETFs quoted in USD, the pair
/// USDEUR=X is quoted in EUR.
fn yahoo_with_etfs_named_like_currencies() -> Server {
    Server::start(|req| {
        let currency = match req.symbol().as_str() {
            "USDEUR=X" => Some("EUR"),
            "USD" | "BTC" | "VTSAX" => Some("USD"),
            _ => None,
        };
        yahoo_answer(req, currency)
    })
}

#[test]
fn a_commodity_is_never_priced_as_a_ticker_it_merely_resembles() {
    let dir = Dirs::new();
    let server = yahoo_with_etfs_named_like_currencies();
    let file = dir.file("prices.journal");
    let before = "\
P 2021-01-04 USD 0.92 EUR
P 2021-01-04 BTC 92000 EUR
P 2021-01-04 VTSAX 100 USD
";
    std::fs::write(&file, before).unwrap();
    update(&dir, &server, &file)
        .args(["--to", "2021-01-06"])
        .assert()
        .code(1)
        .stderr(format!(
            "quotes: BTC: BTC is quoted in USD, but {p} prices BTC in EUR: another \
             instrument? nothing appended for it; give the ticker that prices it in EUR, e.g. \
             `quotes --update {p} TICKER@BTC`\n\
             {p}: appended 4 prices; failed: BTC\n",
            p = file.display()
        ));
    let mut expected = before.to_string();
    for d in weekdays(day("2021-01-05"), day("2021-01-06")) {
        // USD in euros is the exchange rate, never the ETF called USD.
        expected.push_str(&ledger_line(d, "USD", "USDEUR=X", "EUR"));
        expected.push_str(&ledger_line(d, "VTSAX", "VTSAX", "USD"));
    }
    assert_eq!(read(&file), expected);
    let asked: Vec<String> = server.requests().iter().map(Request::symbol).collect();
    assert!(!asked.iter().any(|s| s == "USD"), "{asked:?}");
    ledger_tools_accept(&file);

    // A currency given as a ticker is refused, never sent.
    update(&dir, &server, &file)
        .arg("USD")
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "quotes: USD: USD is a currency: quotes prices it only by an exchange rate, e.g. \
             USDEUR=X@USD",
        ));
    // A currency priced in a symbol has no exchange rate to fetch: said, never guessed.
    let dollars = dir.file("dollars.journal");
    std::fs::write(&dollars, "P 2021-01-04 EUR $1.08\n").unwrap();
    update(&dir, &server, &dollars)
        .args(["--to", "2021-01-06"])
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with(format!(
            "quotes: EUR: {} prices the currency EUR in $, which is not an ISO 4217 currency, \
             so quotes has no exchange rate for it; give the rate's ticker, e.g. `quotes \
             --update {} EURUSD=X@EUR`\n",
            dollars.display(),
            dollars.display()
        )));
    // And nothing is priced in itself.
    update(&dir, &server, &file)
        .args(["--currency", "USD", "USDEUR=X@USD"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "quotes: USDEUR=X: USD cannot be priced in itself",
        ));
    let mut asked: Vec<String> = server.requests().iter().map(Request::symbol).collect();
    asked.sort();
    asked.dedup();
    assert_eq!(asked, ["BTC", "USDEUR=X", "VTSAX"]);
}

#[test]
fn a_file_that_prices_in_dollar_signs_is_told_how_to_go_on_in_usd() {
    let dir = Dirs::new();
    let server = yahoo_usd();
    let file = dir.file("dollars.journal");
    let before = "P 2021-01-04 VTSAX $100.00\n";
    std::fs::write(&file, before).unwrap();
    // `$` is not taken to be USD; the message says how to go on in USD, never to look for a
    // ticker quoted in `$` (there is none).
    update(&dir, &server, &file)
        .args(["--to", "2021-01-05"])
        .assert()
        .code(1)
        .stderr(format!(
            "quotes: VTSAX: VTSAX is quoted in USD, but {p} prices VTSAX in $, not a currency \
             code quotes takes to be USD: nothing appended for it; to price VTSAX in USD from \
             now on, give its ticker once: `quotes --update {p} VTSAX`\n\
             {p}: nothing appended; failed: VTSAX\n",
            p = file.display()
        ));
    assert_eq!(read(&file), before);
    // What it says works: the ticker once, then runs without tickers go on in USD.
    appends(&dir, &server, &file, &["--to", "2021-01-05", "VTSAX"], 1);
    appends(&dir, &server, &file, &["--to", "2021-01-06"], 1);
    assert_eq!(
        read(&file),
        format!(
            "{before}{}",
            ledger_lines(day("2021-01-05"), day("2021-01-06"), "VTSAX", "USD")
        )
    );
    ledger_tools_accept(&file);
}

#[test]
fn a_commodity_that_is_no_ticker_is_said_to_be_skipped() {
    let dir = Dirs::new();
    let server = yahoo_with_usdeur();
    let file = dir.file("prices.journal");
    let before = "\
P 2021-01-04 $ 0.92 EUR
P 2021-01-04 \"Gold bar\" 1800 USD
P 2021-01-04 VTSAX 100 USD
";
    std::fs::write(&file, before).unwrap();
    update(&dir, &server, &file)
        .args(["--to", "2021-01-05"])
        .assert()
        .success()
        .stderr(format!(
            "quotes: {p}: $ (priced in EUR) is no ticker quotes can ask for; not priced: give \
             the ticker that prices it, e.g. `quotes --update {p} 'TICKER@$'`\n\
             quotes: {p}: Gold bar (priced in USD) is no ticker quotes can ask for; not \
             priced: give the ticker that prices it\n\
             {p}: appended 1 price\n",
            p = file.display()
        ));
    assert_eq!(
        read(&file),
        format!(
            "{before}{}",
            ledger_line(day("2021-01-05"), "VTSAX", "VTSAX", "USD")
        )
    );
    // What it says works: `$` priced by the ticker the user takes it to be (written quoted,
    // the same commodity to ledger and hledger).
    appends(
        &dir,
        &server,
        &file,
        &["--to", "2021-01-05", "USDEUR=X@$"],
        1,
    );
    assert!(
        read(&file).ends_with(&ledger_line(day("2021-01-05"), "\"$\"", "USDEUR=X", "EUR")),
        "{}",
        read(&file)
    );
    ledger_tools_accept(&file);
}

#[test]
fn with_currency_every_commodity_of_the_file_is_kept_in_that_currency() {
    let dir = Dirs::new();
    let server = yahoo_with_usdeur();
    let file = dir.file("prices.journal");
    let before = "P 2021-01-04 VTSAX 100 USD\n";
    std::fs::write(&file, before).unwrap();
    // Converted by --currency, VTSAX is not "another instrument": it has no EUR history yet.
    update(&dir, &server, &file)
        .args(["--currency", "EUR", "--to", "2021-01-05"])
        .assert()
        .code(1)
        .stderr(format!(
            "quotes: VTSAX: VTSAX has no EUR price in {p} yet: give --from YYYY-MM-DD for where \
             its history starts\n{p}: nothing appended; failed: VTSAX\n",
            p = file.display()
        ));
    // With --from it starts one, and later runs go on with it.
    appends(
        &dir,
        &server,
        &file,
        &[
            "--currency",
            "EUR",
            "--from",
            "2021-01-05",
            "--to",
            "2021-01-05",
        ],
        1,
    );
    appends(
        &dir,
        &server,
        &file,
        &["--currency", "EUR", "--to", "2021-01-06"],
        1,
    );
    let text = read(&file);
    let added: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(added.len(), 2, "{text}");
    for (line, d) in added.iter().zip(["2021-01-05", "2021-01-06"]) {
        assert!(line.starts_with(&format!("P {d} VTSAX ")), "{text}");
        assert!(line.ends_with(" EUR"), "{text}");
    }
    ledger_tools_accept(&file);
}

#[test]
fn a_currency_is_priced_at_the_ecbs_rate_under_fx_ecb() {
    let dir = Dirs::new();
    let ecb = Server::start(|req| {
        assert_eq!(req.symbol(), "D.USD.EUR.SP00.A", "{req:?}");
        Reply::fixture(200, "ecb_EXR_D.USD.EUR.SP00.A_2021-01-04_2021-01-08.csv")
    });
    let yahoo = Server::start(|_| Reply::Close).expect_no_requests();
    let file = dir.file("prices.journal");
    std::fs::write(&file, "P 2021-01-04 USD 0.813273 EUR\n").unwrap();
    update(&dir, &yahoo, &file)
        .env("QUOTES_ECB_URL", ecb.url())
        .args(["--fx", "ecb", "--to", "2021-01-06"])
        .assert()
        .success();
    // One USD in euros: the inverse of the ECB's USD per euro (1.2271, 1.2338).
    assert_eq!(
        read(&file),
        "P 2021-01-04 USD 0.813273 EUR\nP 2021-01-05 USD 0.814930 EUR\nP 2021-01-06 USD 0.810504 EUR\n"
    );
    ledger_tools_accept(&file);
}

#[test]
fn a_beancount_file_is_priced_from_its_metadata_only() {
    let dir = Dirs::new();
    let server = Server::start(|_| Reply::Close).expect_no_requests();
    let file = dir.file("prices.beancount");
    std::fs::write(&file, "2021-01-04 price VTSAX 100 USD\n").unwrap();
    update(&dir, &server, &file)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("names no commodity with a ticker"));
}

// ---------------------------------------------------------------------------------------
// 6. Weeks and months

#[test]
fn weeks_and_months_are_appended_once_they_are_over() {
    let today = today();
    for (interval, period) in [("week", 7), ("month", 31)] {
        let dir = Dirs::new();
        let server = yahoo_usd();
        let file = dir.file("prices.journal");
        let from = today.saturating_sub(jiff::Span::new().days(3 * period));
        std::fs::write(&file, format!("P {from} PERIODIC 1 USD\n")).unwrap();
        let run = || {
            update(&dir, &server, &file)
                .arg("--no-cache")
                .args(["--interval", interval])
                .assert()
                .success()
        };
        run();
        let text = read(&file);
        let days: Vec<Date> = text
            .lines()
            .skip(1)
            .map(|line| day(line.split(' ').nth(1).unwrap()))
            .collect();
        assert!(!days.is_empty(), "{interval}: {text}");
        for d in &days {
            // Never the period today is in: it is not over.
            let same = match interval {
                "week" => {
                    d.iso_week_date().week() == today.iso_week_date().week()
                        && d.iso_week_date().year() == today.iso_week_date().year()
                }
                _ => (d.year(), d.month()) == (today.year(), today.month()),
            };
            assert!(
                !same,
                "{interval}: {d} is in the period of {today}, not over:\n{text}"
            );
            // Each the last weekday of its period: a week's close is its Friday.
            let next = weekdays(
                d.tomorrow().unwrap(),
                d.tomorrow()
                    .unwrap()
                    .saturating_add(jiff::Span::new().days(6)),
            );
            let next = next.first().unwrap();
            let new_period = match interval {
                "week" => next.iso_week_date().week() != d.iso_week_date().week(),
                _ => next.month() != d.month(),
            };
            assert!(
                new_period,
                "{interval}: {d} is not the last close of its period"
            );
        }
        // Run daily, it writes nothing more until the next period is over.
        run().stderr(format!("{}: up to date, 1 commodity\n", file.display()));
        assert_eq!(read(&file), text);
        ledger_tools_accept(&file);
    }
}

// ---------------------------------------------------------------------------------------
// 8. What it says, and what stops what

#[test]
fn what_failed_and_what_was_appended_are_both_said() {
    let dir = Dirs::new();
    let server = Server::start(|req| {
        let known = req.symbol() != "NOPE";
        yahoo_answer(req, known.then_some("USD"))
    });
    let file = dir.file("prices.journal");
    std::fs::write(&file, "P 2021-01-04 GOOD 1 USD\nP 2021-01-04 NOPE 1 USD\n").unwrap();
    update(&dir, &server, &file)
        .args(["--to", "2021-01-06"])
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with(
            "quotes: NOPE: not found on Yahoo",
        ))
        .stderr(predicate::str::ends_with(format!(
            "\n{}: appended 2 prices; failed: NOPE\n",
            file.display()
        )));
    update(&dir, &server, &file)
        .args(["--to", "2021-01-06", "NOPE"])
        .assert()
        .code(1)
        .stderr(predicate::str::ends_with(format!(
            "\n{}: nothing appended; failed: NOPE\n",
            file.display()
        )));
    // A commodity without a price and without --from fails alone.
    update(&dir, &server, &file)
        .args(["--to", "2021-01-07", "GOOD", "NEWONE"])
        .assert()
        .code(1)
        .stderr(format!(
            "quotes: NEWONE: NEWONE has no price in {p} yet: give --from YYYY-MM-DD for where \
             its history starts\n{p}: appended 1 price; failed: NEWONE\n",
            p = file.display()
        ));
    ledger_tools_accept(&file);
}

#[test]
fn a_catch_up_longer_than_one_request_is_fetched_in_windows_and_stops_nothing() {
    let dir = Dirs::new();
    let server = yahoo_usd();
    let file = dir.file("prices.journal");
    let before = "P 1995-01-02 OLDE 1 USD\nP 2025-12-31 NEWER 1 USD\n";
    std::fs::write(&file, before).unwrap();
    update(&dir, &server, &file)
        .arg("--no-cache")
        .args(["--to", "2026-01-09"])
        .assert()
        .success();
    let mut expected = Vec::new();
    for d in weekdays(day("1995-01-03"), day("2026-01-09")) {
        expected.push(ledger_line(d, "OLDE", "OLDE", "USD"));
        if d > day("2025-12-31") {
            expected.push(ledger_line(d, "NEWER", "NEWER", "USD"));
        }
    }
    assert_eq!(read(&file), format!("{before}{}", expected.concat()));
    // Two windows for the old one, each within a request's 30 years.
    let windows: Vec<Request> = server
        .requests()
        .into_iter()
        .filter(|r| r.symbol() == "OLDE" && r.query_param("interval").as_deref() == Some("1d"))
        .collect();
    assert_eq!(windows.len(), 2, "{windows:?}");
    ledger_tools_accept(&file);
}

#[test]
fn a_window_that_fails_keeps_the_windows_before_it_and_leaves_no_gap() {
    let dir = Dirs::new();
    // OLDE's second window fails, GAPPY's first: the file gets OLDE's first window, and
    // nothing of GAPPY (its second window alone would leave thirty years missing that no
    // later run would fill).
    let healthy = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let server = Server::start({
        let healthy = healthy.clone();
        move |req| {
            // The closes of a window (not the request for the splits since an older one).
            let from = req
                .query_param("period1")
                .and_then(|p| p.parse::<i64>().ok());
            let daily = req.query_param("interval").as_deref() == Some("1d");
            let late = from.is_some_and(|p| p >= 1_735_689_600); // 2025-01-01
            if !daily {
                return yahoo_answer(req, Some("USD"));
            }
            let fails = match req.symbol().as_str() {
                "OLDE" => late,
                "GAPPY" => !late,
                _ => false,
            };
            if fails && !healthy.load(std::sync::atomic::Ordering::SeqCst) {
                return Reply::fixture(404, "yahoo_chart_error_not_found.404.json");
            }
            yahoo_answer(req, Some("USD"))
        }
    });
    let file = dir.file("prices.journal");
    let before = "P 1995-01-02 OLDE 1 USD\nP 1995-01-02 GAPPY 1 USD\n";
    std::fs::write(&file, before).unwrap();
    let run = || {
        update(&dir, &server, &file)
            .arg("--no-cache")
            .args(["--to", "2025-01-10"])
            .assert()
    };
    run()
        .code(1)
        .stderr(predicate::str::contains("quotes: OLDE: not found on Yahoo"))
        .stderr(predicate::str::contains(
            "quotes: GAPPY: not found on Yahoo",
        ))
        .stderr(predicate::str::ends_with("; failed: OLDE, GAPPY\n"));
    let first = weekdays(day("1995-01-03"), day("2025-01-02"));
    let lines = |ticker: &str, days: &[Date]| -> String {
        days.iter()
            .map(|d| ledger_line(*d, ticker, ticker, "USD"))
            .collect()
    };
    assert_eq!(read(&file), format!("{before}{}", lines("OLDE", &first)));
    // The next run goes on from where each stopped, and the books are whole.
    healthy.store(true, std::sync::atomic::Ordering::SeqCst);
    run().success();
    let mut expected = format!("{before}{}", lines("OLDE", &first));
    let all = weekdays(day("1995-01-03"), day("2025-01-10"));
    for d in &all {
        if *d > day("2025-01-02") {
            expected.push_str(&ledger_line(*d, "OLDE", "OLDE", "USD"));
        }
        expected.push_str(&ledger_line(*d, "GAPPY", "GAPPY", "USD"));
    }
    // Sorted by date within each run's lines: OLDE's late days and all of GAPPY's.
    let text = read(&file);
    let mut got: Vec<&str> = text.lines().collect();
    let mut want: Vec<&str> = expected.lines().collect();
    assert_eq!(got.len(), want.len());
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(got, want);
    ledger_tools_accept(&file);
}

// ---------------------------------------------------------------------------------------
// 9. beanprice's metadata

#[test]
fn beanprice_metadata_inverse_skip_and_alternatives() {
    use rust_decimal::prelude::*;
    let dir = Dirs::new();
    let server = Server::start(|req| {
        let currency = match req.symbol().as_str() {
            "EURUSD=X" | "VTSAX" => Some("USD"),
            _ => None,
        };
        yahoo_answer(req, currency)
    });
    let file = dir.file("prices.beancount");
    let before = "\
2020-01-01 commodity EUR
2020-01-01 commodity USD
  price: \"EUR:yahoo/^EURUSD=X\"
2020-01-01 commodity SKIPPED
  price: \"\"
2020-01-01 commodity VTSAX
  price: \"USD:nasdaq/VTSAX,yahoo/VTSAX\"

2021-01-04 price USD 0.81 EUR
2021-01-04 price SKIPPED 1 USD
2021-01-04 price VTSAX 100 USD
";
    std::fs::write(&file, before).unwrap();
    // VTSAX's alternatives are a chain (issue 19): Nasdaq first, which does not know it
    // (its answer to every asset class), then Yahoo, which does.
    let nasdaq =
        Server::start(|_| Reply::fixture(200, "nasdaq_error_unknown_symbol_rCode400.json"));
    update(&dir, &server, &file)
        .env("QUOTES_NASDAQ_URL", nasdaq.url())
        .args(["--to", "2021-01-05"])
        .assert()
        .success()
        .stderr(appended(&file, 2));
    let asked_nasdaq: Vec<String> = nasdaq.requests().iter().map(|r| r.path.clone()).collect();
    assert!(
        !asked_nasdaq.is_empty()
            && asked_nasdaq
                .iter()
                .all(|p| p == "/api/quote/VTSAX/historical"),
        "Nasdaq is asked first, for VTSAX only: {asked_nasdaq:?}"
    );
    // One USD in euros: the inverse of EURUSD=X, exact, to 6 significant digits (issue 18:
    // a quotient keeps its digits, not 6 decimals), at least 2 decimals.
    let rate = Decimal::from_str(&close_of("EURUSD=X", "2021-01-05")).unwrap();
    let exact = Decimal::ONE / rate;
    let integer_digits = exact.trunc().to_string().trim_start_matches('0').len() as i64;
    let leading_zeros = if integer_digits > 0 {
        0
    } else {
        let fraction = exact.fract().to_string();
        fraction[2..].bytes().take_while(|b| *b == b'0').count() as i64
    };
    let places = (6 - integer_digits + leading_zeros).max(2) as usize;
    let inverse =
        exact.round_dp_with_strategy(places as u32, RoundingStrategy::MidpointNearestEven);
    assert_eq!(
        read(&file),
        format!(
            "{before}2021-01-05 price USD {inverse:.places$} EUR\n2021-01-05 price VTSAX {} USD\n",
            close_of("VTSAX", "2021-01-05")
        )
    );
    let asked: Vec<String> = server.requests().iter().map(Request::symbol).collect();
    assert!(!asked.iter().any(|s| s == "SKIPPED"), "{asked:?}");
    bean_check_accepts(&file);
}

/// Yahoo answering every symbol in `currency`, `symbol`'s close of `day` being `close`
/// (with the bench server's `priceHint` of 2).
fn yahoo_closing_at(
    symbol: &'static str,
    day: &'static str,
    close: &'static str,
    currency: &'static str,
) -> Server {
    Server::start(move |req| match yahoo_answer(req, Some(currency)) {
        Reply::Full { body, .. } if req.symbol() == symbol => {
            let body = String::from_utf8(body).unwrap();
            Reply::json(200, body.replace(&close_of(symbol, day), close))
        }
        other => other,
    })
}

#[test]
fn a_close_smaller_than_its_sources_precision_is_not_written_as_zero() {
    let dir = Dirs::new();
    // A coin worth 0.0000407 USD, which Yahoo says to show with 2 decimals: 0.00 in the
    // books would be a wrong price.
    let server = yahoo_closing_at("TINY", "2021-01-05", "0.0000407", "USD");
    let file = dir.file("prices.journal");
    let before = "P 2021-01-04 TINY 0.0000408 USD\nP 2021-01-04 BIG 135.71 USD\n";
    std::fs::write(&file, before).unwrap();
    appends(&dir, &server, &file, &["--to", "2021-01-05"], 2);
    // A price of the usual size keeps its source's 2 decimals.
    assert_eq!(
        read(&file),
        format!(
            "{before}P 2021-01-05 TINY 0.0000407 USD\n{}",
            ledger_line(day("2021-01-05"), "BIG", "BIG", "USD")
        )
    );
    ledger_tools_accept(&file);
}

#[test]
fn the_inverse_of_a_large_rate_keeps_its_significant_digits() {
    let dir = Dirs::new();
    // 1 USD = 24,567 VND: one dong is 0.0000407050… USD. At 6 decimals it would be written
    // 0.000041, 0.7% off.
    let server = yahoo_closing_at("USDVND=X", "2021-01-05", "24567.0", "VND");
    let file = dir.file("dong.beancount");
    let before = "\
2020-01-01 commodity USD
2020-01-01 commodity VND
  price: \"USD:yahoo/^USDVND=X\"

2021-01-04 price VND 0.0000408 USD
";
    std::fs::write(&file, before).unwrap();
    appends(&dir, &server, &file, &["--to", "2021-01-05"], 1);
    assert_eq!(
        read(&file),
        format!("{before}2021-01-05 price VND 0.0000407050 USD\n")
    );
    bean_check_accepts(&file);
}

#[test]
fn metadata_bean_price_cannot_read_fails_its_commodity_not_the_file() {
    let dir = Dirs::new();
    let server = yahoo_usd();
    let file = dir.file("prices.beancount");
    // bean-check takes both; bean-price can read neither.
    let before = "\
2020-01-01 commodity USD
2020-01-01 commodity ODD
  price: 1
2020-01-01 commodity WORDS
  price: \"USD yahoo ODD\"
2020-01-01 commodity FINE
  price: \"USD:yahoo/FINE\"
2021-01-04 price FINE 1 USD
";
    std::fs::write(&file, before).unwrap();
    update(&dir, &server, &file)
        .args(["--to", "2021-01-05"])
        .assert()
        .code(1)
        .stderr(format!(
            "quotes: ODD: its price: metadata is \"1\", not a string like \"USD:yahoo/VTSAX\"; \
             nothing fetched for it\n\
             quotes: WORDS: its price: metadata \"USD\" is not CURRENCY:module/TICKER, e.g. \
             USD:yahoo/VTSAX; nothing fetched for it\n\
             {}: appended 1 price; failed: ODD, WORDS\n",
            file.display()
        ));
    assert_eq!(
        read(&file),
        before.to_string() + &beancount_line("2021-01-05", "FINE")
    );
    bean_check_accepts(&file);
}

// ---------------------------------------------------------------------------------------
// 10. Files other tools write

#[test]
fn a_ledger_file_with_a_bom_crlf_and_dates_without_a_year_is_read_and_kept() {
    let dir = Dirs::new();
    let server = yahoo_usd();
    std::fs::write(dir.file("other.journal"), "account Assets:Cash\n").unwrap();
    let file = dir.file("prices.journal");
    let before = "\u{feff}; kept by hand, on Windows\r\n\
                  Y2021\r\n\
                  P 01/04 KEPT 1.00 USD\r\n\
                  = Expenses:Food\r\n    (Budget:Food)   -1\r\n\
                  ~ monthly\r\n    Expenses:Rent   $500\r\n    Assets:Cash\r\n\
                  include other.journal\r\n\
                  comment\r\nanything\r\nend comment\r\n\
                  01/05 * Shop\r\n    Expenses:Food   $5\r\n    Assets:Cash\r\n\
                  P 01/05 KEPT 1.00 USD";
    std::fs::write(&file, before).unwrap();
    appends(&dir, &server, &file, &["--to", "2021-01-07"], 2);
    let expected = format!(
        "{before}\r\n{}",
        ledger_lines(day("2021-01-06"), day("2021-01-07"), "KEPT", "USD").replace('\n', "\r\n")
    );
    assert_eq!(read(&file), expected);
    ledger_tools_accept(&file);
}

#[test]
fn a_beancount_file_with_strings_over_several_lines_is_read() {
    let dir = Dirs::new();
    let server = yahoo_usd();
    let file = dir.file("books.beancount");
    let before = "\
option \"title\" \"Books\"
* Accounts
2020-01-01 open Assets:Cash
2020-01-01 open Assets:Broker
2020-01-01 commodity USD
2020-01-01 commodity FUND
  name: \"A fund
whose name spans lines\"
  price: \"USD:yahoo/FUND\"
2021-01-01 query \"cash\" \"
SELECT account, sum(position)
WHERE account ~ 'Cash'\"
2021-01-04 * \"Broker\" \"bought; a narration
over two lines\"
  Assets:Broker  1 FUND {1 USD}
  Assets:Cash   -1 USD
2021-01-04 price FUND 1 USD
";
    std::fs::write(&file, before).unwrap();
    appends(&dir, &server, &file, &["--to", "2021-01-05"], 1);
    assert_eq!(
        read(&file),
        before.to_string() + &beancount_line("2021-01-05", "FUND")
    );
    bean_check_accepts(&file);
}

#[test]
fn a_beancount_file_whose_extension_is_in_capitals_is_kept_as_beancount() {
    let dir = Dirs::new();
    let server = yahoo_usd();
    // As a user may name it where the file system keeps the case typed (macOS, Windows):
    // read as a ledger file, it would get `P` lines bean-check refuses.
    let file = dir.file("Books.Beancount");
    let before = "2020-01-01 commodity USD\n2021-01-04 price VTSAX 100 USD\n";
    std::fs::write(&file, before).unwrap();
    appends(&dir, &server, &file, &["--to", "2021-01-05", "VTSAX"], 1);
    assert_eq!(
        read(&file),
        before.to_string() + &beancount_line("2021-01-05", "VTSAX")
    );
    bean_check_accepts(&file);
}

#[test]
fn a_beancount_file_not_named_so_is_never_given_ledger_lines() {
    let dir = Dirs::new();
    let server = yahoo_usd();
    let file = dir.file("prices.txt");
    let before = "2020-01-01 commodity USD\n2021-01-04 price VTSAX 100 USD\n";
    std::fs::write(&file, before).unwrap();
    // ledger reads its entries as empty transactions; its P lines would break the file for
    // bean-check. Refused, unchanged, with what to do.
    update(&dir, &server, &file)
        .args(["--from", "2021-01-04", "--to", "2021-01-05", "VTSAX"])
        .assert()
        .code(2)
        .stderr(format!(
            "quotes: error: {p}:1: a beancount entry, \"2020-01-01 commodity USD\": this is a \
             beancount file, which ledger's P lines would break; give -f beancount, or name \
             it .beancount; not a ledger file quotes can read, {p} left unchanged\n",
            p = file.display()
        ));
    assert_eq!(read(&file), before);
    appends(
        &dir,
        &server,
        &file,
        &["-f", "beancount", "--to", "2021-01-05", "VTSAX"],
        1,
    );
    bean_check_accepts(&file);
}

#[test]
fn every_commodity_and_amount_bean_check_reads_is_read() {
    let dir = Dirs::new();
    let server = yahoo_usd();
    let file = dir.file("futures.beancount");
    // Beancount 3's names (futures, any length) and an amount without a space: bean-check
    // reads them all.
    let before = "\
2020-01-01 commodity USD
2020-01-01 commodity /ESZ24
2020-01-01 commodity VTSAX
  price: \"USD:yahoo/VTSAX\"
2020-01-01 commodity AAPL_210917C00150000_A_LONG_NAME
2021-01-04 price /ESZ24 4500.25 USD
2021-01-04 price AAPL_210917C00150000_A_LONG_NAME 1.10USD
2021-01-04 price VTSAX 100.00USD
";
    std::fs::write(&file, before).unwrap();
    bean_check_accepts(&file);
    appends(&dir, &server, &file, &["--to", "2021-01-05"], 1);
    assert_eq!(
        read(&file),
        before.to_string() + &beancount_line("2021-01-05", "VTSAX")
    );
    bean_check_accepts(&file);
}

#[test]
fn included_files_are_read_as_part_of_the_books() {
    let dir = Dirs::new();
    let server = yahoo_usd();
    std::fs::create_dir(dir.file("archive")).unwrap();
    // Last year's prices in an included file: their last day counts.
    std::fs::write(
        dir.file("archive/2021.journal"),
        "P 2021-01-05 INCL 1 USD\n",
    )
    .unwrap();
    let file = dir.file("prices.journal");
    let before = "include archive/*.journal\nP 2021-01-04 INCL 1 USD\n";
    std::fs::write(&file, before).unwrap();
    appends(&dir, &server, &file, &["--to", "2021-01-06"], 1);
    assert_eq!(
        read(&file),
        format!(
            "{before}{}",
            ledger_line(day("2021-01-06"), "INCL", "INCL", "USD")
        )
    );
    ledger_tools_accept(&file);
    assert_eq!(
        read(&dir.file("archive/2021.journal")),
        "P 2021-01-05 INCL 1 USD\n"
    );

    // beancount: the commodities and their metadata in one file, the prices in another.
    std::fs::write(
        dir.file("commodities.beancount"),
        "2020-01-01 commodity USD\n2020-01-01 commodity FUND\n  price: \"USD:yahoo/FUND\"\n",
    )
    .unwrap();
    let bean = dir.file("prices.beancount");
    let before = "include \"commodities.beancount\"\n2021-01-04 price FUND 1 USD\n";
    std::fs::write(&bean, before).unwrap();
    update(&dir, &server, &bean)
        .args(["--to", "2021-01-05"])
        .assert()
        .success();
    assert_eq!(
        read(&bean),
        before.to_string() + &beancount_line("2021-01-05", "FUND")
    );
    bean_check_accepts(&bean);

    // hledger's other formats, by extension or by prefix, hold no prices: not read; a
    // journal named with hledger's `journal:` prefix is.
    let hours = dir.file("hours.journal");
    std::fs::write(
        dir.file("work.timedot"),
        "2021-01-04\nclient.work  .... ..\n",
    )
    .unwrap();
    std::fs::write(
        dir.file("clock.log"),
        "i 2021/01/04 08:00:00 work\no 2021/01/04 09:00:00\n",
    )
    .unwrap();
    std::fs::write(dir.file("archive.txt"), "P 2021-01-05 HOURS 1 USD\n").unwrap();
    let before = "include work.timedot\ninclude timeclock:clock.log\ninclude journal:archive.txt\n\
                  P 2021-01-04 HOURS 1 USD\n";
    std::fs::write(&hours, before).unwrap();
    update(&dir, &server, &hours)
        .args(["--to", "2021-01-06"])
        .assert()
        .success()
        .stderr(appended(&hours, 1));
    assert_eq!(
        read(&hours),
        format!(
            "{before}{}",
            ledger_line(day("2021-01-06"), "HOURS", "HOURS", "USD")
        )
    );
    // ledger has no timedot: hledger reads it.
    if let Some(prices) = hledger_prices(&hours) {
        assert_eq!(prices.lines().count(), 3, "{prices}");
    }

    // An include of nothing is refused with its line, as ledger refuses it.
    let broken = dir.file("broken.journal");
    std::fs::write(&broken, "P 2021-01-04 INCL 1 USD\ninclude gone.journal\n").unwrap();
    update(&dir, &server, &broken)
        .assert()
        .code(2)
        .stderr(format!(
            "quotes: error: {}:2: include \"gone.journal\": no such file\n",
            broken.display()
        ));
}
