//! Entry point: parse the command line, run, turn the outcome into an exit status.

use std::process::ExitCode;

use quotes::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse_args(); // usage errors exit 2 here, with clap's message
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
    match runtime.block_on(quotes::run(cli)) {
        Ok(status) => ExitCode::from(status.code()),
        Err(e) if e.is::<quotes::UsageError>() => {
            eprintln!("quotes: error: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("quotes: error: {e:#}");
            ExitCode::from(1)
        }
    }
}
