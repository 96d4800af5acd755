//! The few flags of `bench-server` and `delay-proxy`, parsed by hand: two binaries with four
//! options each do not justify compiling a second argument parser into the workspace.

use std::str::FromStr;

/// Command-line flags as `--name value` pairs and bare `--switch`es.
pub struct Args {
    rest: Vec<String>,
}

impl Args {
    /// The process arguments, program name dropped.
    pub fn from_env() -> Args {
        Args::from(std::env::args().skip(1).collect::<Vec<_>>())
    }

    /// Whether `--name` was given (removes it).
    pub fn switch(&mut self, name: &str) -> bool {
        match self.rest.iter().position(|a| a == name) {
            Some(i) => {
                self.rest.remove(i);
                true
            }
            None => false,
        }
    }

    /// The value after `--name` (or in `--name=value`), parsed; `Ok(None)` when absent.
    pub fn value<T: FromStr>(&mut self, name: &str) -> Result<Option<T>, String> {
        let prefix = format!("{name}=");
        let Some(i) = self
            .rest
            .iter()
            .position(|a| a == name || a.starts_with(&prefix))
        else {
            return Ok(None);
        };
        let flag = self.rest.remove(i);
        let text = match flag.strip_prefix(&prefix) {
            Some(v) => v.to_owned(),
            None if i < self.rest.len() => self.rest.remove(i),
            None => return Err(format!("{name} needs a value")),
        };
        text.parse()
            .map(Some)
            .map_err(|_| format!("{name}: {text:?} is not a valid value"))
    }

    /// Fails on anything not consumed by `switch` or `value`.
    pub fn finish(self) -> Result<(), String> {
        match self.rest.first() {
            None => Ok(()),
            Some(extra) => Err(format!("unexpected argument {extra:?} (try --help)")),
        }
    }
}

/// Prints the one line a harness waits for, flushed at once (stdout is a pipe there, so it
/// would otherwise sit in a buffer). `false` if stdout is gone.
pub fn announce(line: &str) -> bool {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").and_then(|()| out.flush()).is_ok()
}

impl From<Vec<String>> for Args {
    fn from(rest: Vec<String>) -> Args {
        Args { rest }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Args {
        Args::from(list.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn values_switches_and_leftovers() {
        let mut a = args(&["--port", "8080", "--tls", "--delay-ms=100"]);
        assert_eq!(a.value::<u16>("--port"), Ok(Some(8080)));
        assert_eq!(a.value::<u64>("--delay-ms"), Ok(Some(100)));
        assert_eq!(a.value::<u64>("--max-streams"), Ok(None));
        assert!(a.switch("--tls"));
        assert!(a.finish().is_ok());

        let mut a = args(&["--port"]);
        assert!(a.value::<u16>("--port").is_err());
        let mut a = args(&["--port", "x"]);
        assert!(a.value::<u16>("--port").is_err());
        assert!(args(&["stray"]).finish().is_err());
    }
}
