//! Where tickers come from: arguments, standard input and `--file`, in command-line order.
//!
//! Arguments are taken verbatim (an argument with a space is an invalid ticker, not two).
//! Standard input (`-`, or implicitly when no tickers are given and stdin is not a
//! terminal) and files are lists: tickers separated by whitespace, commas or newlines,
//! `#` starting a comment, blank lines ignored.
//!
//! Input is bounded: a list longer than [`MAX_LIST_BYTES`] or more than [`MAX_TICKERS`]
//! tickers in all is a usage error, so `--file /dev/zero` or an endless pipe stops at once
//! instead of growing until the allocator aborts.

use std::io::{self, IsTerminal, Read};
use std::path::{Path, PathBuf};

/// One place tickers come from, in the order given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Arg(String),
    Stdin,
    File(PathBuf),
}

/// The most list text read from one file or from standard input.
pub const MAX_LIST_BYTES: u64 = 64 * 1024 * 1024;

/// The most tickers one run takes.
pub const MAX_TICKERS: usize = 1_000_000;

/// Why the ticker list could not be read (a usage error: exit 2).
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("cannot read {}: {source}", .path.display())]
    File { path: PathBuf, source: io::Error },
    #[error("cannot read standard input: {0}")]
    Stdin(io::Error),
    #[error("{what} is longer than {} MiB; split the list", MAX_LIST_BYTES / 1024 / 1024)]
    TooLong { what: String },
    #[error("more than {MAX_TICKERS} tickers; split the list")]
    TooMany,
}

/// Every ticker from every input, in order. Standard input is read once, however often
/// `-` is given. With no inputs at all, reads stdin when it is not a terminal.
pub fn collect(inputs: &[Input]) -> Result<Vec<String>, InputError> {
    let implicit_stdin = inputs.is_empty() && !io::stdin().is_terminal();
    let mut tickers = Vec::new();
    let mut stdin_read = false;
    let mut read_stdin = |tickers: &mut Vec<String>| -> Result<(), InputError> {
        if !stdin_read {
            stdin_read = true;
            let bytes = read_bounded(io::stdin().lock()).map_err(|e| match e {
                Bounded::Io(e) => InputError::Stdin(e),
                Bounded::TooLong => InputError::TooLong {
                    what: "standard input".into(),
                },
            })?;
            // As with files: invalid UTF-8 becomes an invalid ticker, not a failed run.
            tickers.extend(split_list(&String::from_utf8_lossy(&bytes)));
        }
        Ok(())
    };
    if implicit_stdin {
        read_stdin(&mut tickers)?;
    }
    for input in inputs {
        match input {
            Input::Arg(arg) if arg == "-" => read_stdin(&mut tickers)?,
            Input::Arg(arg) => tickers.push(arg.clone()),
            Input::Stdin => read_stdin(&mut tickers)?,
            Input::File(path) => tickers.extend(split_list(&read_file(path)?)),
        }
        if tickers.len() > MAX_TICKERS {
            return Err(InputError::TooMany);
        }
    }
    if tickers.len() > MAX_TICKERS {
        return Err(InputError::TooMany);
    }
    Ok(tickers)
}

/// Why a bounded read stopped.
enum Bounded {
    Io(io::Error),
    TooLong,
}

/// Read all of `reader`, but no more than [`MAX_LIST_BYTES`].
fn read_bounded(reader: impl Read) -> Result<Vec<u8>, Bounded> {
    let mut bytes = Vec::new();
    reader
        .take(MAX_LIST_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(Bounded::Io)?;
    if bytes.len() as u64 > MAX_LIST_BYTES {
        return Err(Bounded::TooLong);
    }
    Ok(bytes)
}

fn read_file(path: &Path) -> Result<String, InputError> {
    let io_error = |source| InputError::File {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io_error)?;
    let bytes = read_bounded(file).map_err(|e| match e {
        Bounded::Io(source) => io_error(source),
        Bounded::TooLong => InputError::TooLong {
            what: path.display().to_string(),
        },
    })?;
    // Invalid UTF-8 becomes U+FFFD and then an invalid-ticker error naming it, rather
    // than failing the whole list.
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Split a watchlist: whitespace, commas and newlines separate; `#` starts a comment.
pub fn split_list(text: &str) -> Vec<String> {
    text.lines()
        .map(|line| line.split('#').next().unwrap_or(""))
        .flat_map(|line| line.split(|c: char| c == ',' || c.is_whitespace()))
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// A user's input made safe to print on one line: control characters escaped, quoted
/// when it holds anything unusual, at most 40 characters.
pub fn label_for_input(input: &str) -> String {
    const MAX: usize = 40;
    let plain = !input.is_empty()
        && input
            .chars()
            .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\');
    let mut shown: String = input.chars().take(MAX).collect();
    if input.chars().count() > MAX {
        shown.push('…');
    }
    if plain {
        shown
    } else {
        format!("\"{}\"", shown.escape_debug())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_single_line_and_short() {
        assert_eq!(label_for_input("AAPL"), "AAPL");
        assert_eq!(label_for_input("A B"), "\"A B\"");
        assert_eq!(label_for_input(""), "\"\"");
        assert_eq!(label_for_input("a\nb"), "\"a\\nb\"");
        let long = label_for_input(&"X".repeat(10_000));
        assert!(long.chars().count() < 50, "{long}");
    }

    #[test]
    fn splits_on_whitespace_commas_and_newlines_with_comments() {
        let text = "# my funds\nVTSAX, VTIAX\n\n  IJS\tBRK-B # value\r\n,,coinbase:BTC-USD\n";
        assert_eq!(
            split_list(text),
            ["VTSAX", "VTIAX", "IJS", "BRK-B", "coinbase:BTC-USD"]
        );
    }

    #[test]
    fn arguments_are_verbatim_and_files_keep_their_place() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("list.txt");
        std::fs::write(&file, "B C\n# D\n").unwrap();
        let got = collect(&[
            Input::Arg("A".into()),
            Input::File(file),
            Input::Arg("x y".into()),
        ])
        .unwrap();
        assert_eq!(got, ["A", "B", "C", "x y"]);
    }

    #[test]
    fn a_missing_file_names_itself() {
        let err = collect(&[Input::File("/no/such/list".into())]).unwrap_err();
        assert!(
            err.to_string().starts_with("cannot read /no/such/list: "),
            "{err}"
        );
    }
}
