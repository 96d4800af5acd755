//! The benchmark harness runs end to end (issue 6) so it never rots: `bench/run --smoke`
//! starts the bench server and delaying proxy, runs `quotes` (and any installed peers) on
//! tiny ticker lists, and checks every output; scenario S (issue 20) runs with this same
//! binary as its `--baseline`, so the side-by-side runs and their byte-for-byte comparison
//! are exercised too. No timing is asserted here: tests assert behaviour, the benchmark
//! measures.
//!
//! It builds nothing and writes nothing into the source tree: it hands `bench/run` the
//! `quotes` binary this test run built (`QUOTES_BIN`) and the directory holding the bench
//! binaries (`QUOTES_BENCH_BIN_DIR`), and an output directory of its own (`--out`). It takes
//! tens of seconds, so it is `#[ignore]`d in a plain `cargo test`; `.ci/run` runs it with
//! `cargo test --test it -- --ignored`, after `cargo build -p quotes-bench --bins`.

use std::path::Path;

use crate::cmd::{BIN, require_tool, via};

/// The bench binaries `bench/run` needs, which `cargo build -p quotes-bench --bins` puts next
/// to the `quotes` binary.
const BENCH_BINS: [&str; 3] = ["bench-server", "delay-proxy", "run-measured"];

#[test]
#[ignore = "tens of seconds; needs the bench binaries; run by .ci/run (cargo test --test it -- --ignored)"]
fn bench_run_smoke_measures_quotes_in_every_scenario() {
    if !require_tool("python3") {
        return;
    }
    let bin_dir = Path::new(BIN)
        .parent()
        .expect("the quotes binary is in a directory");
    let missing: Vec<&str> = BENCH_BINS
        .into_iter()
        .filter(|name| !bin_dir.join(name).is_file())
        .collect();
    if !missing.is_empty() {
        let why = format!(
            "{} not in {}: build them with `cargo build -p quotes-bench --bins`",
            missing.join(", "),
            bin_dir.display()
        );
        if std::env::var_os("CI").is_some_and(|v| v == "true") {
            panic!("{why} (CI=true: the benchmark smoke test must run)");
        }
        eprintln!("skipped: {why}");
        return;
    }

    let out_dir = tempfile::Builder::new()
        .prefix("bench-smoke-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    let run = via(concat!(env!("CARGO_MANIFEST_DIR"), "/bench/run"))
        .arg("--smoke")
        .arg("--out")
        .arg(out_dir.path())
        .arg("--baseline")
        .arg(BIN)
        .env("QUOTES_BIN", BIN)
        .env("QUOTES_BENCH_BIN_DIR", bin_dir)
        .timeout(std::time::Duration::from_secs(600))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "bench/run --smoke --out {} failed ({}):\n{stdout}\n{stderr}",
        out_dir.path().display(),
        run.status
    );
    let report_path = out_dir.path().join("smoke.json");
    let report = std::fs::read_to_string(&report_path).unwrap_or_else(|e| {
        panic!(
            "bench/run --smoke wrote no {}: {e}\n{stderr}",
            report_path.display()
        )
    });
    let results: serde_json::Value = serde_json::from_str(&report).unwrap();
    // Scenarios A and B measured quotes itself, and every quotes run printed correct prices.
    for scenario in ["A", "B"] {
        let cells = results["scenarios"][scenario]["cells"]
            .as_array()
            .unwrap_or_else(|| panic!("no cells for scenario {scenario}: {report}"));
        let quotes: Vec<_> = cells.iter().filter(|c| c["program"] == "quotes").collect();
        assert!(!quotes.is_empty(), "scenario {scenario} did not run quotes");
        for cell in quotes {
            assert_eq!(cell["status"], "ok", "scenario {scenario}: {cell}");
        }
    }
    // Scenario H's quotes rows and every row of S (each run of this build beside the same
    // run of the baseline, the same bytes) were measured and checked.
    let rows = |key: &str| {
        results[key]["rows"]
            .as_array()
            .unwrap_or_else(|| panic!("no {key} rows: {report}"))
            .clone()
    };
    let history = rows("history");
    let quotes_rows: Vec<_> = history
        .iter()
        .filter(|r| {
            r["command"]
                .as_str()
                .is_some_and(|c| c.starts_with("quotes"))
        })
        .collect();
    assert!(!quotes_rows.is_empty(), "scenario H ran no quotes row");
    for row in quotes_rows {
        assert_eq!(row["status"], "ok", "scenario H: {row}");
    }
    let streaming = rows("streaming");
    let ids: Vec<&str> = streaming.iter().filter_map(|r| r["id"].as_str()).collect();
    assert_eq!(
        ids,
        [
            "latest",
            "year",
            "tsv",
            "ledger",
            "cache_fill",
            "cache_tsv",
            "cache_ledger",
            "update"
        ],
        "scenario S's rows"
    );
    for row in &streaming {
        assert_eq!(row["status"], "ok", "scenario S: {row}");
        assert_eq!(
            row["before_status"][0], "ok",
            "scenario S, the baseline: {row}"
        );
        assert_eq!(row["identical"], true, "scenario S, byte for byte: {row}");
    }
    // Scenario F (issue 19): every row measured, Yahoo refusing and Nasdaq pricing each ticker.
    let fallback = rows("fallback");
    let ids: Vec<&str> = fallback.iter().filter_map(|r| r["id"].as_str()).collect();
    assert_eq!(ids, ["yahoo", "fallback", "fallback_default_jobs"]);
    for row in &fallback {
        assert_eq!(row["status"], "ok", "scenario F: {row}");
    }
}
