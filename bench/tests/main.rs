//! The benchmark keeps working: `gantry-bench --quick --json` on SQLite and PostgreSQL prints
//! every figure with a sane value (the full run is a documented command, see BENCHMARKS.md).
//!
//! The bench starts the `gantry` and `gantry-worker` binaries beside its own (`cargo build -p
//! gantry -p gantry-worker` first; scripts/test.sh does).

use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

/// The built `gantry-bench`.
const BENCH: &str = env!("CARGO_BIN_EXE_gantry-bench");

/// `gantry-bench --quick --json` with `extra` arguments; the figures it printed.
fn bench(extra: &[&str]) -> Vec<Value> {
    let out = Command::new(BENCH)
        .args(["--quick", "--json"])
        .args(extra)
        .env("GANTRY_BIN", gantry_bin())
        .env("RUST_LOG", "error")
        .output()
        .expect("run gantry-bench");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

/// The `gantry` binary of the same build, beside `gantry-bench`.
fn gantry_bin() -> PathBuf {
    PathBuf::from(BENCH)
        .parent()
        .expect("gantry-bench is in a folder")
        .join("gantry")
}

/// The admin URL of the throwaway PostgreSQL cluster (`GANTRY_TEST_POSTGRES_URL`, which
/// scripts/test.sh exports), or none after saying so; with `GANTRY_REQUIRE_POSTGRES=1` none is
/// a failure.
fn postgres_server(test: &str) -> Option<String> {
    if let Some(url) = std::env::var("GANTRY_TEST_POSTGRES_URL")
        .ok()
        .filter(|url| !url.is_empty())
    {
        return Some(url);
    }
    let why = "no PostgreSQL: GANTRY_TEST_POSTGRES_URL is not set (scripts/test.sh sets it)";
    if std::env::var("GANTRY_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
        panic!("{why} (GANTRY_REQUIRE_POSTGRES=1)");
    }
    eprintln!("SKIPPED {test}: {why}");
    None
}

/// Every figure of the quick run is there, on `backend`, with a sane value.
fn check(figures: &[Value], backend: &str) {
    let names: Vec<&str> = figures
        .iter()
        .map(|f| f["figure"].as_str().unwrap())
        .collect();
    let mut wanted = vec![
        "throughput",
        "throughput_batch",
        "assignment_latency_p50",
        "assignment_latency_p99",
        "sweep_idle",
        "sweep_expiring",
        "memory_rss_idle",
        "memory_rss_queued",
        "memory_rss_after",
        "soak_jobs_per_s",
        "soak_last_over_first",
        "soak_table",
        "soak_table_mib",
        "soak_last_over_best",
        "long_tx_jobs_per_s",
        "long_tx_during_over_before",
        "long_tx_recovery_s",
        "long_tx_piled_up",
        "fleet_process",
        "fleet_process_spawn_limit",
        "fleet_process_over_limit",
        "history_seed",
        "history_table_mb",
        "history_rollup",
        "history_read",
        "fleet_heartbeats_per_s",
        "fleet_heartbeat_p50",
        "fleet_heartbeat_p99",
        "fleet_server_cpu",
        "fleet_memory_per_agent",
        "fleet_placements_per_heartbeat",
    ];
    // pgbench ships with the PostgreSQL server; where PostgreSQL is required, so are its ceilings.
    if backend == "postgres" && std::env::var("GANTRY_REQUIRE_POSTGRES").as_deref() == Ok("1") {
        wanted.extend([
            "pg_ceiling_per_commit",
            "pg_ceiling_100_per_statement",
            "throughput_over_ceiling",
            "throughput_batch_over_ceiling",
        ]);
    }
    if backend == "postgres" {
        wanted.extend([
            "replicas_throughput_batch",
            "replicas_assignment_latency_p50",
            "replicas_assignment_latency_p99",
            "replicas_leader_handover",
            "replicas_handover_over_ttl",
            "replicas_cpu_servers",
            "replicas_cpu_database",
            "replicas_cpu_machine",
            "replicas_database_cpu_per_job",
        ]);
    }
    // The Docker figure skips loudly without Docker; where Docker is required it must be there.
    if std::env::var("GANTRY_REQUIRE_DOCKER").as_deref() == Ok("1") {
        wanted.extend([
            "docker_gantry_ms",
            "docker_bare_ms",
            "docker_overhead_ratio",
            "fleet_docker",
            "fleet_docker_run_limit",
            "fleet_docker_over_limit",
        ]);
    }
    for want in wanted {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    assert_eq!(
        figures
            .iter()
            .filter(|f| f["figure"] == "assignment_latency_p50")
            .count(),
        3
    );
    // Every read of the history figure, each answered (the figure fails on any other answer).
    assert_eq!(
        figures
            .iter()
            .filter(|f| f["figure"] == "history_read")
            .count(),
        17
    );
    for f in figures {
        assert_eq!(f["backend"], backend);
        let value = f["value"].as_f64().unwrap();
        assert!(value.is_finite() && value >= 0.0, "{f}");
    }
    for name in [
        "throughput",
        "throughput_batch",
        "memory_rss_idle",
        "fleet_process",
        "fleet_process_spawn_limit",
        "history_seed",
        "history_rollup",
    ] {
        let f = figures.iter().find(|f| f["figure"] == name).unwrap();
        assert!(f["value"].as_f64().unwrap() > 1.0, "{f}");
    }
}

#[test]
fn the_quick_benchmark_runs_on_both_databases() {
    check(&bench(&[]), "sqlite");
    if let Some(server) = postgres_server("the_quick_benchmark_runs_on_both_databases") {
        // The bench makes its own databases on that server.
        check(&bench(&["--database-url", &server]), "postgres");
    }
}
