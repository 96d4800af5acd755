//! Link-time layout of the release binary, and nothing else.
//!
//! A run executes about 0.9 MiB of the binary's 4.4 MiB of code, scattered through all of it
//! in the order LLVM emits functions. The kernel maps code in 64 KiB windows around each page
//! a run touches, so a 1000-ticker run kept ~2.7 MiB of code resident. `link/hot-symbols.txt`
//! lists the functions the benchmark's runs execute (written by `bench/hot-symbols`); given to
//! the linker (`--symbol-ordering-file`, which lld and mold take) they are laid out first and
//! together, and the same run keeps ~1.1 MiB resident: peak RSS is a benchmark target.
//!
//! Only the layout changes: the same code, the same instructions. The names in the file carry
//! the hashes of one toolchain and one `Cargo.lock`; names that do not match are skipped by the
//! linker, so a stale file costs memory, never correctness. Set `QUOTES_NO_SYMBOL_ORDER=1` to
//! link without it.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const ORDER_FILE: &str = "link/hot-symbols.txt";

fn main() {
    println!("cargo::rerun-if-changed={ORDER_FILE}");
    println!("cargo::rerun-if-env-changed=QUOTES_NO_SYMBOL_ORDER");
    if let Some(file) = order_file() {
        for arg in linker_args(&file) {
            println!("cargo::rustc-link-arg-bin=quotes={arg}");
        }
    }
}

/// The ordering file, when this build is one it was written for: a release build of the
/// x86_64 Linux binary whose linker takes the file.
fn order_file() -> Option<PathBuf> {
    if env::var_os("QUOTES_NO_SYMBOL_ORDER").is_some_and(|v| !v.is_empty() && v != "0") {
        return None;
    }
    // The hashes in the names are those of the release profile on this target.
    if env::var("PROFILE").ok()? != "release"
        || env::var("TARGET").ok()? != "x86_64-unknown-linux-gnu"
    {
        return None;
    }
    let file = Path::new(&env::var_os("CARGO_MANIFEST_DIR")?).join(ORDER_FILE);
    if !file.is_file() {
        return None;
    }
    if !linker_takes(&file) {
        println!(
            "cargo::warning=the linker does not take --symbol-ordering-file (GNU ld?); quotes \
             is linked without {ORDER_FILE}, which costs about 1.8 MiB of peak RSS, not speed"
        );
        return None;
    }
    Some(file)
}

/// `-Xlinker` rather than `-Wl,`: a path with a comma stays one argument.
fn linker_args(file: &Path) -> [String; 4] {
    [
        "-Xlinker".into(),
        format!("--symbol-ordering-file={}", file.display()),
        "-Xlinker".into(),
        // Names of another toolchain's build are expected; they are not worth a warning.
        "--no-warn-symbol-ordering".into(),
    ]
}

/// Links an empty program with the same rustc, linker and flags as this build, plus the
/// ordering arguments: GNU ld refuses them, and a build must never fail for a layout.
fn linker_takes(file: &Path) -> bool {
    let (Some(rustc), Some(out)) = (env::var_os("RUSTC"), env::var_os("OUT_DIR")) else {
        return false;
    };
    let out = PathBuf::from(out);
    let src = out.join("probe.rs");
    if std::fs::write(&src, "fn main() {}\n").is_err() {
        return false;
    }
    let mut cmd = Command::new(rustc);
    cmd.arg("--crate-name=probe")
        .arg("--edition=2021")
        .arg("-o")
        .arg(out.join("probe"))
        .arg(&src);
    if let Ok(target) = env::var("TARGET") {
        cmd.arg("--target").arg(target);
    }
    if let Some(linker) = env::var_os("RUSTC_LINKER") {
        cmd.arg("-C")
            .arg(format!("linker={}", linker.to_string_lossy()));
    }
    if let Ok(flags) = env::var("CARGO_ENCODED_RUSTFLAGS") {
        cmd.args(flags.split('\x1f').filter(|f| !f.is_empty()));
    }
    for arg in linker_args(file) {
        cmd.arg("-C").arg(format!("link-arg={arg}"));
    }
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
