//! The README's commands work as written.
//!
//! - Its run command (`cargo run --release -- VTSAX VTIAX IJS`) must build and start
//!   `quotes`: run with `--version` in place of its tickers, it catches "cargo run could not
//!   determine which binary to run" and any other reason the one command a newcomer types
//!   would fail. The command is taken from the README, not copied here, so an edit there is
//!   tested as it stands.
//! - Its test command (`cargo test`) must be what CI runs: `.ci/run` holds it as a command
//!   line of its own.
//!
//! The run command builds in a target directory of its own under `CARGO_TARGET_TMPDIR` (so it
//! never waits on the lock of the build running this test), with the release profile made
//! cheap through `CARGO_PROFILE_RELEASE_*` variables: the first run builds for about a minute,
//! later runs find it built.

use std::path::Path;
use std::time::Duration;

use crate::cmd::via;

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");

/// The lines of every fenced ```sh block, each with the prose (non-blank, non-fence lines)
/// that came last before its block.
fn sh_blocks(markdown: &str) -> Vec<(String, Vec<String>)> {
    let mut blocks = Vec::new();
    let mut prose = String::new();
    let mut lines = markdown.lines();
    while let Some(line) = lines.next() {
        let trimmed = line.trim();
        if trimmed == "```sh" {
            let body = lines
                .by_ref()
                .take_while(|l| l.trim() != "```")
                .map(str::to_string)
                .collect();
            blocks.push((prose.clone(), body));
        } else if trimmed.starts_with("```") {
            // Another language's block: skip it whole.
            lines.by_ref().find(|l| l.trim() == "```");
        } else if !trimmed.is_empty() {
            prose = trimmed.to_string();
        }
    }
    blocks
}

fn readme() -> String {
    let path = Path::new(MANIFEST_DIR).join("README.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The line in a ```sh block that starts with `cargo run`.
fn run_command(readme: &str) -> String {
    let found: Vec<String> = sh_blocks(readme)
        .into_iter()
        .flat_map(|(_, lines)| lines)
        .map(|line| line.trim().to_string())
        .filter(|line| line.starts_with("cargo run"))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "README.md must show exactly one `cargo run` command in a ```sh block: {found:?}"
    );
    found.into_iter().next().unwrap()
}

/// The line starting with `cargo test` in the ```sh block under "Run the tests with".
fn test_command(readme: &str) -> String {
    let (_, lines) = sh_blocks(readme)
        .into_iter()
        .find(|(prose, _)| prose.contains("Run the tests with"))
        .expect("README.md has a ```sh block under \"Run the tests with\"");
    lines
        .into_iter()
        .map(|line| line.trim().to_string())
        .find(|line| line == "cargo test" || line.starts_with("cargo test "))
        .expect("the block under \"Run the tests with\" holds a `cargo test` line")
}

/// `cargo run ... -- ARGS` with `--version` in place of ARGS, as arguments for cargo.
fn version_command(run: &str) -> Vec<String> {
    let words: Vec<&str> = run.split_whitespace().collect();
    assert_eq!(&words[..2], ["cargo", "run"], "{run}");
    assert!(
        words
            .iter()
            .all(|w| !w.contains(['"', '\'', '$', '`', '\\'])),
        "the README's run command needs a shell to read: {run}"
    );
    let cargo_part = match words.iter().position(|w| *w == "--") {
        Some(dashes) => &words[1..dashes],
        None => &words[1..],
    };
    cargo_part
        .iter()
        .map(|w| w.to_string())
        .chain(["--".to_string(), "--version".to_string()])
        .collect()
}

#[test]
fn readme_commands_are_found_as_expected() {
    // The parsing above, on today's README, so a failure below is about the commands.
    let readme = readme();
    let run = run_command(&readme);
    assert!(run.starts_with("cargo run"), "{run}");
    let args = version_command(&run);
    assert_eq!(args.first().map(String::as_str), Some("run"));
    assert_eq!(&args[args.len() - 2..], ["--", "--version"]);
    assert_eq!(
        version_command("cargo run --release -- VTSAX VTIAX IJS"),
        ["run", "--release", "--", "--version"]
    );
    assert_eq!(version_command("cargo run"), ["run", "--", "--version"]);
    let test = test_command(&readme);
    assert!(test.starts_with("cargo test"), "{test}");
}

/// Whether cargo set `name` for this test process (the package's `CARGO_PKG_*` and the
/// like). The nested cargo must not inherit these: build scripts that watch them (ring's
/// does, `rerun-if-env-changed=CARGO_PKG_NAME`) would see them change between a shell and
/// this test, and rebuild every time.
fn set_by_cargo_for_tests(name: &str) -> bool {
    name.starts_with("CARGO_PKG_")
        || [
            "CARGO",
            "CARGO_MANIFEST_DIR",
            "CARGO_MANIFEST_PATH",
            "CARGO_CRATE_NAME",
            "CARGO_BIN_NAME",
            "CARGO_PRIMARY_PACKAGE",
            "CARGO_TARGET_TMPDIR",
            "CARGO_RUSTC_CURRENT_DIR",
            "OUT_DIR",
        ]
        .contains(&name)
}

#[test]
fn readme_run_command_builds_and_starts_quotes() {
    let run = run_command(&readme());
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("readme-target");
    let mut cmd = via(&cargo);
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(set_by_cargo_for_tests) {
            cmd.env_remove(name);
        }
    }
    let out = cmd
        .args(version_command(&run))
        .current_dir(MANIFEST_DIR)
        .env("CARGO_TARGET_DIR", &target)
        // A release build, made cheap: this checks that the command works, not how fast
        // the result runs.
        .env("CARGO_PROFILE_RELEASE_LTO", "false")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "256")
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "0")
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_INCREMENTAL", "true")
        // Everything it needs was fetched for the build running this test.
        .env("CARGO_NET_OFFLINE", "true")
        .timeout(Duration::from_secs(20 * 60))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the README's `{run}`, with --version for its arguments, failed ({}):\n{stderr}",
        out.status
    );
    assert_eq!(
        stdout,
        format!("quotes {}\n", env!("CARGO_PKG_VERSION")),
        "`{run}` ran something else; stderr:\n{stderr}"
    );
}

#[test]
fn readme_test_command_is_what_ci_runs() {
    let test = test_command(&readme());
    let ci_path = Path::new(MANIFEST_DIR).join(".ci/run");
    let ci = std::fs::read_to_string(&ci_path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", ci_path.display()));
    assert!(
        ci.lines().any(|line| line.trim() == test),
        "{} does not run the README's test command `{test}` as a line of its own",
        ci_path.display()
    );
}

/// The rows of the Markdown table under the heading `## {heading}`: each row's first cell.
fn first_cells(readme: &str, heading: &str) -> Vec<String> {
    let section = readme
        .split("\n## ")
        .find(|s| s.starts_with(heading))
        .unwrap_or_else(|| panic!("no section {heading:?} in README.md"));
    section
        .lines()
        .filter(|l| l.starts_with('|') && !l.starts_with("|---"))
        .filter_map(|l| l.split('|').nth(1).map(|c| c.trim().to_string()))
        .collect()
}

/// The README's tables of sources, formats and environment variables are checked against
/// the registries (issue 9): a source or format added with one registry line, or an
/// endpoint added to a source, fails this test until the README says so too.
#[test]
fn the_readme_lists_every_registered_source_format_and_variable() {
    let readme = readme();
    let sources = first_cells(&readme, "Sources");
    for spec in quotes::source::REGISTRY {
        assert!(
            sources
                .iter()
                .any(|c| c.starts_with(&format!("`{}`", spec.name))),
            "README's Sources table has no row for {}: {sources:?}",
            spec.name
        );
        for endpoint in spec.endpoints {
            assert!(
                readme.contains(&format!("`--{}", endpoint.flag)),
                "README never mentions --{}",
                endpoint.flag
            );
        }
    }
    let variables = first_cells(&readme, "Environment variables");
    for endpoint in quotes::source::REGISTRY.iter().flat_map(|s| s.endpoints) {
        assert!(
            variables.iter().any(|c| c.contains(endpoint.env)),
            "README's Environment variables table has no row for {}",
            endpoint.env
        );
    }
    let formats = first_cells(&readme, "Output formats");
    for format in quotes::output::FORMATS {
        assert!(
            formats.contains(&format!("`{}`", format.name)),
            "README's Output formats table has no row for {}: {formats:?}",
            format.name
        );
    }
}

/// The README's "Sources" table, as the registry says it must read: each source, what it
/// covers, its tickers, its key and its limits (issue 19). Adding a source to the registry
/// without its row, or changing a spec without the README, fails here with the row to write.
fn source_table() -> String {
    use quotes::source::REGISTRY;
    let mut table =
        String::from("| source | covers | tickers | key | limits |\n|---|---|---|---|---|\n");
    for (i, spec) in REGISTRY.iter().enumerate() {
        let name = if i == 0 {
            format!("`{}` (default)", spec.name)
        } else {
            format!("`{}`", spec.name)
        };
        let tickers: Vec<String> = spec.tickers.split(", ").map(|t| format!("`{t}`")).collect();
        let key = match &spec.key {
            Some(key) => format!("`{}` ([free]({}))", key.env, key.signup),
            None => "none".to_string(),
        };
        table.push_str(&format!(
            "| {name} | {} | {} | {key} | {} |\n",
            spec.about,
            tickers.join(", "),
            spec.limits.describe()
        ));
    }
    table
}

#[test]
fn readme_source_table_and_variables_come_from_the_registry() {
    let readme = readme();
    let table = source_table();
    assert!(
        readme.contains(&table),
        "README.md's Sources table must read, as the registry says:\n\n{table}"
    );
    // Every variable and flag a source brings is documented.
    for spec in quotes::source::REGISTRY {
        let mut names: Vec<String> = Vec::new();
        for endpoint in spec.endpoints {
            names.push(format!("| `{}` |", endpoint.env));
            names.push(format!("`--{} URL`", endpoint.flag));
        }
        if let Some(key) = &spec.key {
            names.push(format!("| `{}` |", key.env));
        }
        for name in names {
            assert!(readme.contains(&name), "README.md does not document {name}");
        }
    }
    for heading in ["## Sources", "## When Yahoo fails"] {
        assert!(
            readme.lines().any(|l| l == heading),
            "README.md lacks {heading}"
        );
    }
}
