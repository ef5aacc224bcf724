//! A poison job cannot take the fleet down: jobs that fail by their own fault (a failing test
//! suite) beside good ones on three workers cool no worker down, and every good job completes.

use crate::common::server::fast_config;
use crate::common::{SimWorker, TestDb, TestServer};
use gantry::config::ServeConfig;
use gantry_api::{JobStatus, WorkerStatus};
use reqwest::StatusCode;
use serde_json::json;
use std::time::{Duration, Instant};

/// Good jobs, and failing ones queued ahead of them (so each worker meets several failures in a
/// row, as a burst of broken submissions would).
const GOOD: usize = 100;
const FAILING: usize = 20;

async fn failing_jobs_cool_no_worker_down(db: TestDb) {
    // A cooldown long enough to outlast the run, so one that started would still show; and
    // time enough between a delivery and its start on a busy machine (the simulated workers
    // start their jobs one by one), so no assignment is taken back as never started.
    let server = TestServer::start_with(ServeConfig {
        worker_cooldown: Duration::from_secs(60),
        heartbeat_timeout: Duration::from_secs(10),
        ..fast_config(&db)
    })
    .await;
    let workers = [
        SimWorker::register(&server, "p1", 4.0, 4096, 8).await,
        SimWorker::register(&server, "p2", 4.0, 4096, 8).await,
        SimWorker::register(&server, "p3", 4.0, 4096, 8).await,
    ];
    let _alive: Vec<_> = workers.iter().map(SimWorker::keep_alive).collect();
    let jobs: Vec<_> = (0..GOOD + FAILING)
        .map(|i| {
            let command = if i < FAILING { "false" } else { "true" };
            json!({"command": format!("{command} {i}"), "requiredCpu": 0.1, "requiredRamMb": 16})
        })
        .collect();
    let (status, created) = server
        .post("/api/jobs/create-batch", &json!({ "jobs": jobs }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");

    let deadline = Instant::now() + Duration::from_secs(60);
    let mut ended = 0;
    while ended < GOOD + FAILING {
        assert!(Instant::now() < deadline, "only {ended} jobs ended");
        for worker in &workers {
            for job in worker.poll(8, 100).await.jobs {
                let exit = if job.command.starts_with("false") {
                    1
                } else {
                    0
                };
                assert_eq!(worker.start(&job).await.0, StatusCode::OK);
                assert_eq!(worker.finish(&job, exit).await.0, StatusCode::OK);
                ended += 1;
            }
        }
    }

    let fleet = server.workers().await;
    for w in &fleet.workers {
        assert_ne!(w.status, WorkerStatus::Unhealthy, "{} cooled down", w.id);
        assert_eq!(
            (w.cooldown_until, w.consecutive_failures),
            (None, 0),
            "{}",
            w.id
        );
    }
    let (_, list) = server.get("/api/jobs/list?limit=1000").await;
    let statuses: Vec<JobStatus> = serde_json::from_value(
        list["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["status"].clone())
            .collect(),
    )
    .unwrap();
    let count = |s: JobStatus| statuses.iter().filter(|x| **x == s).count();
    assert_eq!(
        (count(JobStatus::Completed), count(JobStatus::Failed)),
        (GOOD, FAILING)
    );
    server.stop().await;
}

crate::common::on_both_databases!(failing_jobs_cool_no_worker_down);
