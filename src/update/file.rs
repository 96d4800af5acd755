//! The price file on disk: what is opened, how it is locked, and how lines are added to it
//! (issue 17, items 1–3).
//!
//! **Only a regular file.** The path is looked at before it is opened: a directory, a FIFO,
//! a socket, a character or block device is refused, naming what it is, before a byte is
//! read or written (a FIFO is never opened, so it cannot hang the run; the open itself is
//! non-blocking too, for one that appears in between). So is a file larger than
//! [`MAX_FILE_BYTES`], and a symbolic link to nothing, which is never replaced by a file.
//!
//! **One run at a time.** The file is locked (`flock`, exclusive; shared for `--dry-run`)
//! from before it is read until the new lines are on disk, so runs on one file are
//! serialised and none loses another's lines. A run that finds the lock taken waits for it
//! (bounded by `--deadline`, ended by Ctrl-C). Once it holds the lock it checks that the
//! path still names the file it locked (another program may have renamed a new file over
//! it meanwhile) and otherwise opens and locks again. It checks once more before it
//! appends: a file saved over the path during the fetch (an editor, a sync tool) is not
//! appended to blind, nor removed if this run had created the one it replaced.
//!
//! **Appended in place.** The new lines are added to the file itself, as `>>` would add
//! them, in one write followed by fsync (a back-fill of millions of lines in writes of a
//! MiB, read from a temporary file rather than held in memory): owner, group, mode, hard
//! links, ACLs and extended
//! attributes stay as they were, and a writable file in a directory the user cannot write
//! can be updated. If the write or the fsync fails (a full disk, a file-size limit), the
//! file is cut back to its old length. A process killed in the middle of the write (SIGKILL,
//! a power cut) cannot cut it back itself, so before writing, the old and new lengths are
//! noted on the file (an extended attribute, `user.quotes.append`, where the file system
//! keeps them); the next run finds the note, keeps the whole lines that were written and
//! drops a partial last one, before it reads the file. The note is removed once the lines
//! are on disk.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::SystemTime;

use crate::exit::Stop;

/// The largest price file read: 1 GiB. A larger one is refused before it is read.
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// How the file is used: appended to, or only read (`--dry-run`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Append,
    Read,
}

/// Why the file could not be had.
#[derive(Debug)]
pub enum Refused {
    /// Not a file `--update` can read or write (a usage error): what it is, in words.
    Usage(String),
    /// A deadline or a signal came while another run held the lock.
    Stopped(Stop),
}

/// The price file, locked, with what it held when read.
pub struct Locked {
    /// `None` for a file that does not exist yet, read by `--dry-run` as an empty one.
    file: Option<File>,
    path: PathBuf,
    /// Whether this run created it.
    created: bool,
    /// How many bytes to read: all of it, except a partial line a killed run left.
    readable: u64,
    /// The file's length and modification time when read, to notice another writer.
    stamp: (u64, Option<SystemTime>),
}

/// Open and lock `path`. A missing file is created (an empty file) when `create`, or read
/// as empty by a dry run. While another run holds the lock this waits for it, unless `stop`
/// (the run's deadline or a signal) comes first.
pub async fn open<S>(
    path: &Path,
    access: Access,
    create: bool,
    stop: &mut Pin<&mut S>,
) -> Result<Locked, Refused>
where
    S: std::future::Future<Output = Stop>,
{
    let usage = |why: String| Refused::Usage(why);
    // Each pass opens what the path names now; a path replaced while we waited for the
    // lock on the old file is opened again. A bound, so a program that keeps replacing it
    // cannot keep us here.
    for _ in 0..REOPENS {
        let Some((file, created)) = open_regular(path, access, create).map_err(usage)? else {
            return Ok(Locked::empty(path));
        };
        let file = match try_lock(&file, access) {
            Ok(true) => file,
            Ok(false) => {
                let waiting =
                    tokio::task::spawn_blocking(move || lock(&file, access).map(|()| file));
                tokio::select! {
                    locked = waiting => locked
                        .map_err(|e| io::Error::other(e.to_string()))
                        .and_then(|locked| locked)
                        .map_err(|e| usage(format!("cannot lock {}: {e}", path.display())))?,
                    stop = stop.as_mut() => return Err(Refused::Stopped(stop)),
                }
            }
            Err(e) => {
                return Err(usage(format!(
                    "cannot lock {} ({e}); quotes updates a price file only under a lock, so \
                     that two runs never lose each other's lines",
                    path.display()
                )));
            }
        };
        if names(path, &file) {
            return Locked::new(file, path, access, created)
                .map_err(|e| usage(format!("cannot read {}: {e}", path.display())));
        }
    }
    Err(usage(format!(
        "{} kept being replaced while quotes waited for its lock; run again",
        path.display()
    )))
}

/// How many times the path may be found replaced after its lock was taken.
const REOPENS: usize = 20;

/// Open `path` if it is a regular file (or create it, or `None` for a dry run's missing
/// file); anything else is refused with what it is.
fn open_regular(path: &Path, access: Access, create: bool) -> Result<Option<(File, bool)>, String> {
    let shown = path.display();
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Ok(link) = std::fs::symlink_metadata(path)
                && link.file_type().is_symlink()
            {
                let target = std::fs::read_link(path)
                    .map(|t| format!(" {}", t.display()))
                    .unwrap_or_default();
                return Err(format!(
                    "{shown} is a symbolic link to{target}, which does not exist; create the \
                     file it points to, or point it at the price file"
                ));
            }
            return match (create, access) {
                (false, _) => Err(format!("cannot read {shown}: {e}")),
                (true, Access::Read) => Ok(None),
                (true, Access::Append) => create_new(path),
            };
        }
        Err(e) => return Err(format!("cannot read {shown}: {e}")),
    };
    check(path, &meta)?;
    let mut options = OpenOptions::new();
    options.read(true).append(access == Access::Append);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // A FIFO that takes the path's place after the check above must not block the open.
        options.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    let file = options.open(path).map_err(|e| match access {
        Access::Append => format!("cannot open {shown} to append to it: {e}"),
        Access::Read => format!("cannot read {shown}: {e}"),
    })?;
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot read {shown}: {e}"))?;
    check(path, &meta)?;
    Ok(Some((file, false)))
}

/// The files an `include` line of `from` names: its path or glob pattern (`*`, `?`, `[…]`,
/// `**`), relative to `from`'s directory unless absolute, `~/` the home directory; sorted,
/// as ledger, hledger and beancount read them. None is an error, as it is to them.
pub fn included(from: &Path, pattern: &str) -> Result<Vec<PathBuf>, String> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let path = match (pattern.strip_prefix("~/"), home) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(pattern),
    };
    let path = match from.parent() {
        Some(dir) if path.is_relative() => dir.join(path),
        _ => path,
    };
    let text = path.to_string_lossy();
    let paths: Vec<PathBuf> = if text.contains(['*', '?', '[']) {
        let found = glob::glob(&text).map_err(|e| format!("include {pattern:?}: {e}"))?;
        let mut paths: Vec<PathBuf> = found.filter_map(Result::ok).collect();
        paths.sort();
        paths
    } else {
        vec![path.clone()]
    };
    if paths.is_empty() || (paths.len() == 1 && !paths[0].exists()) {
        return Err(format!("include {pattern:?}: no such file"));
    }
    Ok(paths)
}

/// A file an `include` names, opened to be read: a regular file within the size bound.
pub fn open_included(path: &Path) -> Result<File, String> {
    match open_regular(path, Access::Read, false)? {
        Some((file, _)) => Ok(file),
        None => Err(format!("cannot read {}", path.display())),
    }
}

/// A new, empty price file, created by this run; or, if one appeared meanwhile, that one.
fn create_new(path: &Path) -> Result<Option<(File, bool)>, String> {
    // `create_new` never follows a symbolic link: a dangling one is an error, not a file
    // created where it points.
    match OpenOptions::new()
        .read(true)
        .append(true)
        .create_new(true)
        .open(path)
    {
        Ok(file) => Ok(Some((file, true))),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            open_regular(path, Access::Append, false)
        }
        Err(e) => Err(format!("cannot create {}: {e}", path.display())),
    }
}

/// A regular file within the size bound, or what it is instead.
fn check(path: &Path, meta: &std::fs::Metadata) -> Result<(), String> {
    let kind = meta.file_type();
    let what = if kind.is_file() {
        None
    } else if kind.is_dir() {
        Some("a directory")
    } else {
        Some(special_kind(&kind))
    };
    if let Some(what) = what {
        return Err(format!(
            "{} is {what}, not a price file; --update reads and appends to a regular file",
            path.display()
        ));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!(
            "{} is {} bytes, larger than the {} GiB a price file may be; not read",
            path.display(),
            meta.len(),
            MAX_FILE_BYTES >> 30
        ));
    }
    Ok(())
}

#[cfg(unix)]
fn special_kind(kind: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_fifo() {
        "a FIFO (named pipe)"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

#[cfg(not(unix))]
fn special_kind(_kind: &std::fs::FileType) -> &'static str {
    "not a regular file"
}

/// Take the lock if it is free: `Ok(false)` if another run holds it.
fn try_lock(file: &File, access: Access) -> io::Result<bool> {
    let tried = match access {
        Access::Append => file.try_lock(),
        Access::Read => file.try_lock_shared(),
    };
    match tried {
        Ok(()) => Ok(true),
        Err(std::fs::TryLockError::WouldBlock) => Ok(false),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

/// Wait for the lock.
fn lock(file: &File, access: Access) -> io::Result<()> {
    match access {
        Access::Append => file.lock(),
        Access::Read => file.lock_shared(),
    }
}

/// Whether `path` still names `file` (not a file renamed over it, or nothing).
fn names(path: &Path, file: &File) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (std::fs::metadata(path), file.metadata()) {
            (Ok(at_path), Ok(ours)) => at_path.dev() == ours.dev() && at_path.ino() == ours.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (path, file);
        true
    }
}

impl Locked {
    fn empty(path: &Path) -> Locked {
        Locked {
            file: None,
            path: path.to_path_buf(),
            created: false,
            readable: 0,
            stamp: (0, None),
        }
    }

    /// The file locked: a partial line left by a run killed mid-write is cut (or, for a
    /// dry run, not read).
    fn new(file: File, path: &Path, access: Access, created: bool) -> io::Result<Locked> {
        let len = file.metadata()?.len();
        let readable = match marker::get(&file) {
            Some((from, to)) => {
                let cut = whole_lines(&file, len, from, to)?;
                if access == Access::Append {
                    if cut < len {
                        file.set_len(cut)?;
                        file.sync_all()?;
                    }
                    marker::remove(&file);
                }
                cut
            }
            None => len,
        };
        let meta = file.metadata()?;
        Ok(Locked {
            stamp: (meta.len(), meta.modified().ok()),
            file: Some(file),
            path: path.to_path_buf(),
            created,
            readable,
        })
    }

    /// The file's content from its start, as far as it is whole.
    pub fn reader(&self) -> io::Result<impl BufRead + '_> {
        let mut file = self.file.as_ref();
        if let Some(file) = &mut file {
            file.rewind()?;
        }
        let source: Box<dyn Read + '_> = match file {
            Some(file) => Box::new(file.take(self.readable)),
            None => Box::new(io::empty()),
        };
        Ok(BufReader::with_capacity(1 << 16, source))
    }

    /// Append the `len` bytes `lines` reads (whole lines: from memory, or a temporary file
    /// of a long back-fill), in writes of a MiB, and make them durable; on any failure the
    /// file is cut back to its old length. Refused if the file changed since it was read (a
    /// program that writes it without taking the lock).
    pub fn append_from(&self, len: u64, lines: &mut dyn Read) -> Result<(), AppendError> {
        let failed = |cause: io::Error| AppendError {
            cause,
            undone: Ok(()),
        };
        let Some(file) = &self.file else {
            return Err(failed(io::Error::other(
                "internal: the file was opened to be read",
            )));
        };
        let meta = file.metadata().map_err(failed)?;
        if (meta.len(), meta.modified().ok()) != self.stamp {
            return Err(failed(io::Error::other(
                "it changed while quotes was updating it (another program writing it without \
                 the lock?); run again",
            )));
        }
        // A file saved over the path meanwhile (an editor, a sync tool, writing a new file
        // and renaming it) is not this one: lines appended here would be in no file anyone
        // reads, while the run said "appended".
        if !names(&self.path, file) {
            return Err(failed(io::Error::other(
                "it was replaced while quotes was updating it (an editor or a sync tool saving \
                 it?); run again",
            )));
        }
        let from = meta.len();
        let to = from.saturating_add(len);
        // The note first, and on disk, so that a kill in the middle of the write below is
        // repaired by the next run.
        let noted = marker::set(file, from, to) && file.sync_all().is_ok();
        let written = (|| {
            let chunk = usize::try_from(len).map_or(1 << 20, |len| len.clamp(1, 1 << 20));
            let mut out = io::BufWriter::with_capacity(chunk, file);
            let copied = io::copy(&mut lines.take(len), &mut out)?;
            out.flush()?;
            if copied != len {
                return Err(io::Error::other(
                    "internal: the lines to append were cut short",
                ));
            }
            file.sync_all()
        })();
        match written {
            Ok(()) => {
                marker::remove(file);
                if self.created {
                    sync_directory(&self.path);
                }
                Ok(())
            }
            Err(cause) => {
                let undone = file.set_len(from).and_then(|()| file.sync_all());
                if undone.is_ok() {
                    marker::remove(file);
                }
                Err(AppendError {
                    cause,
                    undone: undone.map_err(|e| (e, noted)),
                })
            }
        }
    }

    /// A file this run created and left empty (nothing to append, or the run failed) is
    /// removed, as if the run had not been; never another file saved over its path meanwhile.
    pub fn discard_if_created_and_empty(&self) {
        if let Some(file) = &self.file
            && self.created
            && file.metadata().is_ok_and(|m| m.len() == 0)
            && names(&self.path, file)
        {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Why lines could not be appended, and whether the file was put back as it was.
#[derive(Debug)]
pub struct AppendError {
    pub cause: io::Error,
    /// Cutting the file back: `Err` with whether the next run can repair it (the note was
    /// written).
    pub undone: Result<(), (io::Error, bool)>,
}

impl std::fmt::Display for AppendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot append to it: {}", self.cause)?;
        match &self.undone {
            Ok(()) => write!(f, "; the file is unchanged"),
            Err((e, true)) => write!(
                f,
                "; cutting it back failed too ({e}): the next run removes any partial line"
            ),
            Err((e, false)) => write!(
                f,
                "; cutting it back failed too ({e}): check the end of the file"
            ),
        }
    }
}

/// The length to keep of a file `len` bytes long whose note says an append from `from` to
/// `to` bytes began: all of it if the append did not start or finished, else up to the last
/// whole line it wrote.
fn whole_lines(file: &File, len: u64, from: u64, to: u64) -> io::Result<u64> {
    if len <= from || len >= to {
        return Ok(len);
    }
    let mut tail = Vec::new();
    let mut reader = file;
    reader.seek(io::SeekFrom::Start(from))?;
    reader.take(len - from).read_to_end(&mut tail)?;
    Ok(match tail.iter().rposition(|b| *b == b'\n') {
        Some(at) => from + at as u64 + 1,
        None => from,
    })
}

/// Make a new file's name durable (best effort: the lines are already on disk).
fn sync_directory(path: &Path) {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
}

/// The note of an append in progress, as an extended attribute of the file itself: every
/// run that can write the file can read it, wherever it runs from, and it goes wherever the
/// file goes. Where the file system keeps no extended attributes nothing is noted (a kill
/// in the middle of the one write is then not repaired).
#[cfg(target_os = "linux")]
mod marker {
    use std::fs::File;
    use std::os::fd::AsRawFd;

    const NAME: &std::ffi::CStr = c"user.quotes.append";

    /// Note an append from `from` to `to` bytes; whether it was noted.
    pub fn set(file: &File, from: u64, to: u64) -> bool {
        let value = format!("{from} {to}");
        // SAFETY: the name is a C string and the value a buffer of the length given; the
        // call reads both and writes nothing of ours.
        let done = unsafe {
            libc::fsetxattr(
                file.as_raw_fd(),
                NAME.as_ptr(),
                value.as_ptr().cast(),
                value.len(),
                0,
            )
        };
        done == 0
    }

    /// The noted append, if there is one.
    pub fn get(file: &File) -> Option<(u64, u64)> {
        let mut buffer = [0u8; 64];
        // SAFETY: the buffer is writable for the length given; the call writes at most that.
        let read = unsafe {
            libc::fgetxattr(
                file.as_raw_fd(),
                NAME.as_ptr(),
                buffer.as_mut_ptr().cast(),
                buffer.len(),
            )
        };
        let text = std::str::from_utf8(buffer.get(..usize::try_from(read).ok()?)?).ok()?;
        let (from, to) = text.split_once(' ')?;
        Some((from.parse().ok()?, to.parse().ok()?))
    }

    pub fn remove(file: &File) {
        // SAFETY: the name is a C string; the call reads it only.
        unsafe {
            libc::fremovexattr(file.as_raw_fd(), NAME.as_ptr());
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod marker {
    use std::fs::File;

    pub fn set(_file: &File, _from: u64, _to: u64) -> bool {
        false
    }

    pub fn get(_file: &File) -> Option<(u64, u64)> {
        None
    }

    pub fn remove(_file: &File) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_append_keeps_the_whole_lines_it_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.journal");
        let old = b"P 2021-01-04 TSLA 1 USD\n";
        let new = b"P 2021-01-05 TSLA 2 USD\nP 2021-01-06 TSLA 3 USD\n";
        let from = old.len() as u64;
        let to = from + new.len() as u64;
        for written in 0..=new.len() {
            let mut bytes = old.to_vec();
            bytes.extend_from_slice(&new[..written]);
            std::fs::write(&path, &bytes).unwrap();
            let file = File::open(&path).unwrap();
            let kept = whole_lines(&file, bytes.len() as u64, from, to).unwrap();
            let expected = match written {
                w if w < 24 => from,
                w if w < new.len() => from + 24,
                _ => to,
            };
            assert_eq!(kept, expected, "{written} bytes written");
        }
        // Someone appended after the noted append finished: nothing is cut.
        std::fs::write(&path, [&old[..], &new[..], b"x"].concat()).unwrap();
        let file = File::open(&path).unwrap();
        assert_eq!(whole_lines(&file, to + 1, from, to).unwrap(), to + 1);
    }
}
