//! build.rs gives the linker `link/hot-symbols.txt` exactly when the link can use it: a
//! release build for x86_64 Linux (the names carry that build's hashes) whose linker takes
//! `--symbol-ordering-file`. Never a debug build, another target or `QUOTES_NO_SYMBOL_ORDER`;
//! with GNU ld, which refuses the option, a warning and a plain link instead of a failed build.
//!
//! The build script is compiled here from build.rs and run the way cargo runs it, with the
//! environment cargo gives it; its decisions are read from what it prints.
#![cfg(all(target_arch = "x86_64", target_os = "linux", target_env = "gnu"))]

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use crate::cmd::{require_tool, scrubbed};

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");
const LINK_ARG: &str = "cargo::rustc-link-arg-bin=quotes=";

fn rustc() -> std::ffi::OsString {
    std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into())
}

fn work_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("layout");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Compiles `src` to `exe` with `extra` flags; `what` names it in the failure.
fn compile(src: &Path, exe: &Path, extra: &[&str], what: &str) {
    let out = scrubbed(rustc())
        .args(extra)
        .arg("-o")
        .arg(exe)
        .arg(src)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{what}:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// build.rs, compiled once per test process. Each process compiles under its own name and
/// renames the result into place, so concurrent processes never see half a file and runs
/// do not leave one binary each behind.
fn build_script() -> &'static Path {
    static SCRIPT: OnceLock<PathBuf> = OnceLock::new();
    SCRIPT.get_or_init(|| {
        let dir = work_dir();
        let own = dir.join(format!("build-script-{}", std::process::id()));
        compile(
            &Path::new(MANIFEST_DIR).join("build.rs"),
            &own,
            &["--edition=2024", "--crate-name=build_script_build"],
            "build.rs does not compile",
        );
        let exe = dir.join("build-script");
        std::fs::rename(&own, &exe).unwrap();
        exe
    })
}

/// Runs the build script as cargo would for `profile` and `target`, plus `env`.
fn run_build_script(profile: &str, target: &str, env: &[(&str, &str)]) -> String {
    let out_dir = tempfile::tempdir_in(work_dir()).unwrap();
    let mut cmd = scrubbed(build_script());
    cmd.env("CARGO_MANIFEST_DIR", MANIFEST_DIR)
        .env("OUT_DIR", out_dir.path())
        .env("RUSTC", rustc())
        .env("PROFILE", profile)
        .env("TARGET", target)
        .env_remove("RUSTC_LINKER")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .envs(env.iter().copied());
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().unwrap();
    assert!(
        status.success(),
        "the build script failed ({status}):\n{}",
        String::from_utf8_lossy(&stderr)
    );
    let stdout = String::from_utf8(stdout).unwrap();
    assert!(
        stdout.contains("cargo::rerun-if-changed=link/hot-symbols.txt\n"),
        "an edit of the ordering file must relink; the script printed:\n{stdout}"
    );
    stdout
}

fn link_args(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix(LINK_ARG))
        .collect()
}

fn warnings(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("cargo::warning="))
        .collect()
}

/// rustc links with its own lld on x86_64 Linux from 1.90 on.
fn rustc_links_with_lld() -> bool {
    let out = scrubbed(rustc()).arg("-V").output().unwrap();
    let version = String::from_utf8_lossy(&out.stdout);
    let minor = version
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.split('.').nth(1))
        .and_then(|m| m.parse::<u32>().ok());
    if minor.is_some_and(|m| m >= 90) {
        return true;
    }
    eprintln!(
        "skipped: {} links with the system linker, not lld",
        version.trim()
    );
    false
}

#[test]
fn a_release_build_gives_lld_the_ordering_file() {
    if !rustc_links_with_lld() {
        return;
    }
    let stdout = run_build_script("release", "x86_64-unknown-linux-gnu", &[]);
    let file = Path::new(MANIFEST_DIR).join("link/hot-symbols.txt");
    assert_eq!(
        link_args(&stdout),
        [
            "-Xlinker".to_string(),
            format!("--symbol-ordering-file={}", file.display()),
            "-Xlinker".to_string(),
            "--no-warn-symbol-ordering".to_string(),
        ],
        "printed:\n{stdout}"
    );
    assert!(warnings(&stdout).is_empty(), "printed:\n{stdout}");
}

#[test]
fn gnu_ld_gets_a_warning_and_a_plain_link_not_a_failed_build() {
    if !require_tool("cc") || !require_tool("ld.bfd") {
        return;
    }
    // A linker that is GNU ld whatever rustc asks for: the -fuse-ld and -B arguments that
    // select rustc's own lld are dropped.
    let dir = tempfile::tempdir_in(work_dir()).unwrap();
    let linker = dir.path().join("bfd-cc");
    std::fs::write(
        &linker,
        "#!/bin/sh\n\
         for a do shift; case \"$a\" in -fuse-ld=*|-B*) ;; *) set -- \"$@\" \"$a\" ;; esac; done\n\
         exec cc -fuse-ld=bfd \"$@\"\n",
    )
    .unwrap();
    let mut perms = std::fs::metadata(&linker).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&linker, perms).unwrap();
    // It links a program: what the script refuses is the option, not a broken linker.
    let src = dir.path().join("empty.rs");
    std::fs::write(&src, "fn main() {}\n").unwrap();
    compile(
        &src,
        &dir.path().join("empty"),
        &["-C", &format!("linker={}", linker.display())],
        "GNU ld cannot link an empty program here",
    );

    let stdout = run_build_script(
        "release",
        "x86_64-unknown-linux-gnu",
        &[("RUSTC_LINKER", linker.to_str().unwrap())],
    );
    assert!(link_args(&stdout).is_empty(), "printed:\n{stdout}");
    let warned = warnings(&stdout);
    assert!(
        warned.len() == 1 && warned[0].contains("--symbol-ordering-file"),
        "printed:\n{stdout}"
    );
}

#[test]
fn debug_builds_other_targets_and_the_opt_out_get_no_ordering() {
    type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);
    let cases: [Case; 4] = [
        ("debug", "x86_64-unknown-linux-gnu", &[]),
        ("release", "aarch64-unknown-linux-gnu", &[]),
        ("release", "x86_64-unknown-linux-musl", &[]),
        (
            "release",
            "x86_64-unknown-linux-gnu",
            &[("QUOTES_NO_SYMBOL_ORDER", "1")],
        ),
    ];
    for (profile, target, env) in cases {
        let stdout = run_build_script(profile, target, env);
        assert!(
            link_args(&stdout).is_empty() && warnings(&stdout).is_empty(),
            "{profile} {target} {env:?} printed:\n{stdout}"
        );
    }
}

#[test]
fn the_ordering_file_lists_each_function_once_by_its_mangled_name() {
    let path = Path::new(MANIFEST_DIR).join("link/hot-symbols.txt");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.lines().any(|l| l.starts_with("# rustc ")),
        "{} does not say which toolchain its names are from",
        path.display()
    );
    let names: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    assert!(names.len() > 100, "only {} names", names.len());
    let mut seen = std::collections::HashSet::new();
    for name in &names {
        // Legacy (`_ZN…E`) or v0 (`_R…`) Rust mangling, or a C function; never a demangled
        // name (which would match nothing) or a blank line.
        assert!(
            !name.is_empty() && !name.contains([' ', ':', '<', '\t']),
            "not a symbol name: {name:?}"
        );
        assert!(seen.insert(*name), "listed twice: {name}");
    }
}
