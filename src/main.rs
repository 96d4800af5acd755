//! Entry point: parse the command line, make the process-wide settings, run, and turn the
//! outcome into an exit status (or a death by the signal that stopped the run).

use std::process::ExitCode;
use std::time::Duration;

use quotes::app::{self, Failure};
use quotes::cli::Cli;
use quotes::{client, exit};

fn main() -> ExitCode {
    let cli = match Cli::try_parse_args(std::env::args_os()) {
        Ok(cli) => cli,
        Err(e) => return clap_exit(e),
    };
    // Process-wide, so here and not in a constructor a library user would call: reqwest is
    // built with rustls and no bundled crypto provider (ring compiles faster and smaller
    // than aws-lc), and a large --jobs needs the hard open-file limit.
    let _ = rustls::crypto::ring::default_provider().install_default();
    client::raise_open_file_limit();
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes the allocator's settings; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
    #[cfg(windows)]
    enable_terminal_escapes();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("quotes: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    let outcome = runtime.block_on(app::run(cli));
    // Never wait for a blocked worker thread (a DNS lookup that never answers): the run is
    // over, and `--deadline` bounds the process, not just the output.
    runtime.shutdown_timeout(Duration::ZERO);
    match outcome {
        Ok(status) => ExitCode::from(exit::die_if_signalled(status).code()),
        Err(Failure::Usage(e)) => {
            eprintln!("quotes: error: {e}");
            ExitCode::from(2)
        }
        Err(Failure::Fatal(e)) => {
            eprintln!("quotes: error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// What clap stopped at: a usage error (clap's message on stderr, status 2), or `--help` or
/// `--version`, printed to stdout. A failed write of those (`> /dev/full`) is reported and
/// is status 1, as for any output (clap's own printing ignored it and exited 0); a closed
/// pipe (`quotes --help | head -1`) is not an error.
fn clap_exit(e: clap::Error) -> ExitCode {
    if e.use_stderr() {
        e.exit();
    }
    match e
        .print()
        .and_then(|()| std::io::Write::flush(&mut std::io::stdout()))
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => match quotes::output::stdout_error(&err) {
            quotes::output::Written::Failed => ExitCode::from(1),
            quotes::output::Written::Ok | quotes::output::Written::Gone => ExitCode::SUCCESS,
        },
    }
}

/// The table's colours, the progress line and `--watch`'s redraw are ANSI escapes; a Windows
/// console shows them only with virtual terminal processing on (Windows Terminal turns it on
/// itself, the classic console does not). Set for stdout and stderr where each is a console;
/// a redirected stream is not one, and is left alone.
#[cfg(windows)]
fn enable_terminal_escapes() {
    use std::os::windows::io::AsRawHandle;
    use windows_sys::Win32::System::Console::{
        ENABLE_VIRTUAL_TERMINAL_PROCESSING, GetConsoleMode, SetConsoleMode,
    };
    for handle in [
        std::io::stdout().as_raw_handle(),
        std::io::stderr().as_raw_handle(),
    ] {
        let mut mode = 0;
        // SAFETY: both calls only read or set the mode of a handle this process holds, and
        // fail harmlessly on one that is not a console.
        unsafe {
            if GetConsoleMode(handle, &mut mode) != 0 {
                SetConsoleMode(handle, mode | ENABLE_VIRTUAL_TERMINAL_PROCESSING);
            }
        }
    }
}
