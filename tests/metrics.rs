//! `/metrics` in the Prometheus text format: counts from the database, timings from the
//! process. The recorder is process-wide, so other tests' servers add to the timings (which are
//! only checked for presence); the counts are set from the scraped server's database at scrape
//! time, and this is the only test that scrapes, so they are this test's own. One test runs on
//! each database in turn for that reason.

use crate::common::{SimWorker, TestDb, TestServer};
use serde_json::json;
use std::time::Duration;

/// Longest wait for a scrape to show what is expected.
const WAIT: Duration = Duration::from_secs(10);

async fn scrape(server: &TestServer) -> String {
    let r = server
        .http
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    r.text().await.unwrap()
}

/// The finished-jobs counter's COMPLETED value in a scrape.
fn completed_total(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("gantry_jobs_finished_total{status=\"COMPLETED\"} "))
        .map(|n| n.trim().parse().unwrap())
}

async fn metrics_reflect_the_database(db: TestDb) {
    let _alone = crate::common::METRICS_SCRAPES.lock().await;
    let server = TestServer::start(&db).await;
    // The endings counter is process-wide: this server's ending shows as growth from here.
    let baseline = completed_total(&scrape(&server).await).expect("shown from the first scrape");
    let worker = SimWorker::register(&server, "w1", 2.0, 2048, 2).await;
    // Online however slowly the scrapes below come (a job runs well within a heartbeat timeout).
    let _beating = worker.keep_alive();
    let done = server.create(json!({"command": "true"})).await;
    let job = worker.take_one().await;
    assert_eq!(job.id, done.id);
    worker.run_ok(&job).await;
    server
        .create(json!({"command": "waits", "requiredCpu": 64}))
        .await;

    // Another test's scrape (the fault tests scrape too) may set the process-wide gauges
    // between this scrape's read and its render: scrape again until this database's counts show.
    let wanted = [
        "gantry_jobs{status=\"QUEUED\"} 1",
        "gantry_jobs{status=\"RUNNING\"} 0",
        "gantry_workers{status=\"IDLE\"} 1",
        "gantry_workers{status=\"OFFLINE\"} 0",
    ];
    let text = crate::common::eventually("this database's counts", WAIT, || async {
        let text = scrape(&server).await;
        wanted
            .iter()
            .all(|line| text.lines().any(|l| l == *line))
            .then_some(text)
    })
    .await;
    assert!(
        !text.contains("gantry_jobs{status=\"COMPLETED\"}"),
        "no gauge of a final state (a count of the whole table): {text}"
    );
    // The one ending is counted once it settled (ENDINGS_SETTLE_MS), and only once.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while completed_total(&scrape(&server).await) != Some(baseline + 1) {
        assert!(
            std::time::Instant::now() < deadline,
            "the ending was never counted"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(completed_total(&scrape(&server).await), Some(baseline + 1));
    // Every family says what it is (promtool's lint wants a HELP line for each).
    for family in [
        "gantry_jobs",
        "gantry_jobs_finished_total",
        "gantry_workers",
        "gantry_assignment_latency_seconds",
        "gantry_job_run_time_seconds",
        "gantry_sweep_duration_seconds",
        "gantry_http_request_duration_seconds",
    ] {
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("# HELP {family} "))),
            "no HELP for {family} in:\n{text}"
        );
    }
    for histogram in [
        "gantry_assignment_latency_seconds_bucket",
        "gantry_job_run_time_seconds_bucket",
        "gantry_sweep_duration_seconds_bucket{service=\"placement\"",
        "gantry_http_request_duration_seconds_bucket{method=\"POST\",route=\"/api/jobs/create\",status=\"201\"",
    ] {
        assert!(text.contains(histogram), "missing {histogram} in:\n{text}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_on_both_databases() {
    metrics_reflect_the_database(TestDb::sqlite().await).await;
    if let Some(db) = TestDb::postgres().await {
        metrics_reflect_the_database(db).await;
    }
}
