//! How a run ends: its exit status, the reasons to stop early (a deadline, SIGINT,
//! SIGTERM), usage errors, and dying by a signal.
//!
//! Stopped by Ctrl-C or SIGTERM, `quotes` prints what had arrived and then dies by that
//! signal (the handler reset, the signal raised again, as fd does), so a shell loop, `make`
//! or `xargs` sees a child killed by SIGINT and stops too; the status a shell shows is still
//! 130 or 143.
//!
//! On Windows there are no signals to die by: Ctrl-C stops a run the same way, what had
//! arrived is printed, and the process exits with status 130. Windows has no SIGTERM; a
//! process ended from outside there (`taskkill /F`) is ended by the system.

use std::time::Duration;

use crate::error::FetchError;

/// How a run ended; `main` turns it into the process exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: every ticker printed.
    Success,
    /// 1: at least one ticker failed, or output could not be written.
    Failure,
    /// 130: stopped by Ctrl-C (SIGINT) after printing what had arrived.
    Interrupted,
    /// 143: stopped by SIGTERM after printing what had arrived.
    Terminated,
}

impl ExitStatus {
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 1,
            ExitStatus::Interrupted => 130,
            ExitStatus::Terminated => 143,
        }
    }

    /// `Failure` when `failed`, else `Success`.
    pub fn from_failed(failed: bool) -> ExitStatus {
        if failed {
            ExitStatus::Failure
        } else {
            ExitStatus::Success
        }
    }

    /// The signal a run stopped by must die of, if any.
    fn signal(self) -> Option<i32> {
        match self {
            #[cfg(unix)]
            ExitStatus::Interrupted => Some(libc::SIGINT),
            #[cfg(unix)]
            ExitStatus::Terminated => Some(libc::SIGTERM),
            _ => None,
        }
    }
}

/// A mistake in how `quotes` was called: exit status 2, like clap's own errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Why a run stopped before every ticker finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    Deadline(Duration),
    Interrupt,
    Terminate,
}

impl Stop {
    /// The error each unfinished ticker gets.
    pub fn error(self) -> FetchError {
        match self {
            Stop::Deadline(after) => FetchError::DeadlineExceeded { after },
            Stop::Interrupt | Stop::Terminate => FetchError::Interrupted,
        }
    }

    /// The status of a run that stopped for this reason, given how the rest went: a
    /// deadline is an ordinary failure of the unfinished tickers.
    pub fn status(self, otherwise: ExitStatus) -> ExitStatus {
        match self {
            Stop::Deadline(_) => otherwise,
            Stop::Interrupt => ExitStatus::Interrupted,
            Stop::Terminate => ExitStatus::Terminated,
        }
    }
}

/// SIGINT and SIGTERM, listened to from the start of a run so that neither kills it
/// before what has arrived is printed.
pub struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    /// Start listening. Fails only if the runtime cannot install handlers.
    pub fn listen() -> std::io::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Signals {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Signals {})
        }
    }

    /// The next SIGINT or SIGTERM.
    pub async fn next(&mut self) -> Stop {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => Stop::Interrupt,
                _ = self.terminate.recv() => Stop::Terminate,
            }
        }
        #[cfg(not(unix))]
        {
            // A handler that cannot be installed is no Ctrl-C: the run goes on (Ctrl-C then
            // ends it the system's way).
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
            Stop::Interrupt
        }
    }

    /// The next signal, or `deadline` (measured from `started`) passing.
    pub async fn or_deadline(
        &mut self,
        started: tokio::time::Instant,
        deadline: Option<Duration>,
    ) -> Stop {
        let expired = async {
            match deadline {
                Some(d) => {
                    tokio::time::sleep_until(started + d).await;
                    Stop::Deadline(d)
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            stop = expired => stop,
            stop = self.next() => stop,
        }
    }
}

/// End the process with `status`: a run stopped by SIGINT or SIGTERM dies by that signal
/// (everything it printed is already flushed); any other status is returned for `main`.
pub fn die_if_signalled(status: ExitStatus) -> ExitStatus {
    if let Some(signal) = status.signal() {
        #[cfg(unix)]
        // SAFETY: resetting a handler to the default and raising a signal touch no memory of
        // ours; with the default action the process ends here.
        unsafe {
            libc::signal(signal, libc::SIG_DFL);
            libc::raise(signal);
        }
        let _ = signal;
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_stop_statuses() {
        assert_eq!(ExitStatus::Interrupted.code(), 130);
        assert_eq!(ExitStatus::Terminated.code(), 143);
        let after = Duration::from_secs(1);
        assert_eq!(
            Stop::Deadline(after).status(ExitStatus::Failure),
            ExitStatus::Failure
        );
        assert_eq!(
            Stop::Terminate.status(ExitStatus::Success),
            ExitStatus::Terminated
        );
        assert_eq!(Stop::Interrupt.error(), FetchError::Interrupted);
    }
}
