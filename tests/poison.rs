//! A poison job cannot take the fleet down: jobs that fail by their own fault (a failing test
//! suite, an image that does not exist in its registry) beside good ones on three workers cool
//! no worker down, and the good jobs complete in about the time they take alone.
//!
//! The workers are simulated, reporting each failure the way the real agent does (exit code 1;
//! for the missing image, a `permanent` result with the registry's words, as
//! `agent_e2e::pulls` shows the real agent sending against a real registry).

use crate::common::server::fast_config;
use crate::common::{SimWorker, TestDb, TestServer};
use gantry::config::ServeConfig;
use gantry_api::{Fault, Job, JobStatus, WorkerStatus};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Good jobs, and two kinds of failing ones queued ahead of them (so each worker meets several
/// failures in a row, as a burst of broken submissions would).
const GOOD: usize = 100;
const FAILING: usize = 20;
const MISSING_IMAGE: usize = 20;
/// The image the missing-image jobs name: its tag does not exist in the registry.
const NO_SUCH_IMAGE: &str = "127.0.0.1:5055/gantry-test-busybox:no-such-tag";
/// A cooldown far longer than the run, so one that started would show, and would show in the
/// time the good jobs take.
const COOLDOWN: Duration = Duration::from_secs(60);

/// The jobs of one run: `poisoned` puts the failing ones ahead of the good ones.
fn jobs(poisoned: bool) -> Vec<Value> {
    let bad = if poisoned { FAILING + MISSING_IMAGE } else { 0 };
    (0..bad + GOOD)
        .map(|i| {
            let mut job = json!({"requiredCpu": 0.1, "requiredRamMb": 16, "maxRetries": 2});
            if i < FAILING && poisoned {
                job["command"] = json!(format!("false {i}"));
            } else if i < bad {
                job["command"] = json!(format!("missing {i}"));
                job["image"] = json!(NO_SUCH_IMAGE);
            } else {
                job["command"] = json!(format!("true {i}"));
            }
            job
        })
        .collect()
}

/// What the simulated agent reports for `job`, as the real one would.
fn result_for(job: &Job) -> Value {
    if job.command.starts_with("false") {
        json!({"exitCode": 1, "stdout": "", "stderr": "1 test failed", "durationMs": 5})
    } else if job.command.starts_with("missing") {
        json!({"permanent": true, "error": format!(
            "image `{NO_SUCH_IMAGE}` not found in registry 127.0.0.1:5055: manifest unknown")})
    } else {
        json!({"exitCode": 0, "stdout": "ok", "stderr": "", "durationMs": 5})
    }
}

/// Runs one batch of jobs on the three workers to their ends; returns how long the good jobs
/// took (from the submit to the last good job's end).
async fn run(server: &TestServer, workers: &[SimWorker<'_>], poisoned: bool) -> Duration {
    let jobs = jobs(poisoned);
    let total = jobs.len();
    let began = Instant::now();
    let (status, created) = server
        .post("/api/jobs/create-batch", &json!({ "jobs": jobs }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");

    let deadline = began + COOLDOWN;
    let (mut ended, mut good_ended, mut good_took) = (0, 0, Duration::ZERO);
    while ended < total {
        assert!(
            Instant::now() < deadline,
            "only {ended} of {total} jobs ended"
        );
        for worker in workers {
            for job in worker.poll(8, 100).await.jobs {
                assert_eq!(worker.start(&job).await.0, StatusCode::OK);
                let (status, body) = worker.finish_with(&job, result_for(&job)).await;
                assert_eq!(status, StatusCode::OK, "{body}");
                if !server.status(&job.id).await.job.status.is_terminal() {
                    continue; // a failing job's retry: it comes round again
                }
                ended += 1;
                if job.command.starts_with("true") {
                    good_ended += 1;
                    if good_ended == GOOD {
                        good_took = began.elapsed();
                    }
                }
            }
        }
    }
    good_took
}

async fn poison_jobs_cool_no_worker_down(db: TestDb) {
    // Time enough between a delivery and its start on a busy machine (the simulated workers
    // start their jobs one by one), so no assignment is taken back as never started.
    let server = TestServer::start_with(ServeConfig {
        worker_cooldown: COOLDOWN,
        heartbeat_timeout: Duration::from_secs(10),
        ..fast_config(&db)
    })
    .await;
    let workers = vec![
        SimWorker::register(&server, "p1", 4.0, 4096, 8).await,
        SimWorker::register(&server, "p2", 4.0, 4096, 8).await,
        SimWorker::register(&server, "p3", 4.0, 4096, 8).await,
    ];
    let _alive: Vec<_> = workers.iter().map(SimWorker::keep_alive).collect();
    let alone = run(&server, &workers, false).await;
    let mixed = run(&server, &workers, true).await;
    eprintln!("poison: {GOOD} good jobs took {alone:?} alone, {mixed:?} beside the poison");

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
    let jobs: Vec<Job> = serde_json::from_value(list["jobs"].clone()).unwrap();
    let count = |s: JobStatus| jobs.iter().filter(|j| j.status == s).count();
    assert_eq!(
        (count(JobStatus::Completed), count(JobStatus::Failed)),
        (2 * GOOD, FAILING + MISSING_IMAGE)
    );
    for job in jobs.iter().filter(|j| j.command.starts_with("missing")) {
        // FAILED after one attempt, retries left unused: the image will not appear by retrying.
        assert_eq!((job.attempts, job.infra_retries), (1, 0), "{job:?}");
        let last = server.status(&job.id).await.history.pop().unwrap();
        assert_eq!(last.fault, Some(Fault::Job), "{last:?}");
    }
    // A cooldown would have parked the good jobs for a minute; beside the poison they take at
    // most about what the extra 40 quick failures add.
    assert!(
        mixed < alone * 3 + Duration::from_secs(3),
        "good jobs took {mixed:?} beside the poison, {alone:?} alone"
    );
    server.stop().await;
}

crate::common::on_both_databases!(poison_jobs_cool_no_worker_down);
