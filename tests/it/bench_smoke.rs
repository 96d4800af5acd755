//! The benchmark harness runs end to end (issue 6) so it never rots: `bench/run --smoke`
//! starts the bench server and delaying proxy, runs `quotes` (and any installed peers) on
//! tiny ticker lists, and checks every output. No timing is asserted here: tests assert
//! behaviour, the benchmark measures.

use std::process::Command;

#[test]
fn bench_run_smoke_measures_quotes_in_both_scenarios() {
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("note: python3 not installed; benchmark harness not exercised");
        return;
    }
    let out = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/bench/run"))
        .arg("--smoke")
        .env("QUOTES_BIN", env!("CARGO_BIN_EXE_quotes"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "bench/run --smoke failed:\n{stdout}\n{stderr}"
    );
    let report = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/bench/results/smoke.json"
    ))
    .unwrap();
    let results: serde_json::Value = serde_json::from_str(&report).unwrap();
    // Both scenarios measured quotes itself, and every quotes run printed correct prices.
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
}
