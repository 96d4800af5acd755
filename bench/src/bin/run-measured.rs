//! `run-measured`: runs one program and reports its CPU time and peak RSS, for `bench/run`.
//!
//! Why not measure from the Python script directly: on Linux a child's `ru_maxrss` starts at
//! its parent's RSS (the forked or vfork-shared memory is counted until `exec`), so every
//! program spawned by a 25 MiB Python process would report at least 25 MiB. This wrapper is a
//! ~1 MiB process, so what it reports is the program's own peak. It prints nothing itself:
//! stdin, stdout and stderr pass straight through, and it exits with the program's status
//! (128 + signal if it was killed).
//!
//! usage: run-measured REPORT_FILE PROGRAM [ARGS...]
//! REPORT_FILE gets one JSON object: {"wall_s", "utime_s", "stime_s", "maxrss_kib"}; the
//! wall time runs from just before the spawn to the end of the wait, so it leaves out the
//! time the harness takes to start this wrapper.

use std::process::{Command, ExitCode};
use std::time::Instant;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let (Some(report), Some(program)) = (args.next(), args.next()) else {
        eprintln!("usage: run-measured REPORT_FILE PROGRAM [ARGS...]");
        return ExitCode::from(2);
    };
    let started = Instant::now();
    let status = Command::new(&program).args(args).status();
    let wall = started.elapsed().as_secs_f64();
    let status = match status {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "run-measured: cannot run {}: {e}",
                program.to_string_lossy()
            );
            return ExitCode::from(127);
        }
    };
    let Some(usage) = children_usage() else {
        eprintln!("run-measured: getrusage failed");
        return ExitCode::from(125);
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let json = format!(
        "{{\"wall_s\":{wall},\"utime_s\":{},\"stime_s\":{},\"maxrss_kib\":{}}}\n",
        seconds(usage.ru_utime),
        seconds(usage.ru_stime),
        usage.ru_maxrss
    );
    if let Err(e) = std::fs::write(&report, json) {
        eprintln!(
            "run-measured: cannot write {}: {e}",
            report.to_string_lossy()
        );
        return ExitCode::from(125);
    }
    let code = match (status.code(), signal_of(&status)) {
        (Some(c), _) => c,
        (None, Some(sig)) => 128 + sig,
        (None, None) => 125,
    };
    ExitCode::from(u8::try_from(code).unwrap_or(125))
}

/// Resource usage of the waited-for children: here, exactly the one program.
fn children_usage() -> Option<libc::rusage> {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a whole `rusage` into the pointer it is given, which points to
    // memory of that type; the value is read only when it reports success.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr()) };
    // SAFETY: rc == 0 means the struct was filled in (and it was zeroed to begin with).
    (rc == 0).then(|| unsafe { usage.assume_init() })
}

fn signal_of(status: &std::process::ExitStatus) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    status.signal()
}
