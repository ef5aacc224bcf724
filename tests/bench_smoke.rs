//! The benchmark keeps working: `gantry bench --quick --json` on SQLite and PostgreSQL prints
//! every figure with a sane value (the full run is a documented command, see BENCHMARKS.md).

use crate::common::optional::Part;
use serde_json::Value;
use std::process::Command;

fn bench(extra: &[&str]) -> Vec<Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_gantry"))
        .args(["bench", "--quick", "--json"])
        .args(extra)
        .env("RUST_LOG", "error")
        .output()
        .expect("run gantry bench");
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
    ];
    // The Docker figure skips loudly without Docker; where Docker is required it must be there.
    if Part::Docker.required() {
        wanted.extend([
            "docker_gantry_ms",
            "docker_bare_ms",
            "docker_overhead_ratio",
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
    for f in figures {
        assert_eq!(f["backend"], backend);
        let value = f["value"].as_f64().unwrap();
        assert!(value.is_finite() && value >= 0.0, "{f}");
    }
    for name in ["throughput", "throughput_batch", "memory_rss_idle"] {
        let f = figures.iter().find(|f| f["figure"] == name).unwrap();
        assert!(f["value"].as_f64().unwrap() > 1.0, "{f}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quick_benchmark_runs_on_both_databases() {
    check(&bench(&[]), "sqlite");
    if let Some(db) = crate::common::TestDb::postgres().await {
        // The bench makes its own databases on that server.
        check(&bench(&["--database-url", &db.url]), "postgres");
    }
}
