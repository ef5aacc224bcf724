//! The seed's six scenarios at the REST level, with simulated workers, on both databases;
//! plus long-poll latency. Every interval is short (see `fast_config`).

use crate::common::server::fast_config;
use crate::common::{eventually, SimWorker, TestDb, TestServer};
use gantry::config::ServeConfig;
use gantry_api::{JobStatus, StopReason, WorkerStatus};
use reqwest::StatusCode;
use serde_json::json;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(10);

fn statuses(s: &gantry_api::JobStatusResponse) -> Vec<JobStatus> {
    s.history.iter().map(|h| h.to_status).collect()
}

async fn basic_lifecycle(db: TestDb) {
    let server = TestServer::start(&db).await;
    let worker = SimWorker::register(&server, "w1", 2.0, 2048, 2).await;
    let job = server.create(json!({"command": "echo hello"})).await;
    assert!(matches!(
        job.status,
        JobStatus::Queued | JobStatus::Assigned
    ));

    let delivered = worker.take_one().await;
    assert_eq!(delivered.id, job.id);
    assert_eq!(delivered.attempts, 1);
    assert_eq!(worker.start(&delivered).await.0, StatusCode::OK);
    let (code, done) = worker
        .finish_with(
            &delivered,
            json!({"exitCode": 0, "stdout": "hello\n", "durationMs": 12}),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{done}");

    let s = server.status(&job.id).await;
    assert_eq!(s.job.status, JobStatus::Completed);
    assert_eq!(s.job.stdout.as_deref(), Some("hello\n"));
    assert_eq!(s.job.exit_code, Some(0));
    assert_eq!(s.job.worker_id.as_deref(), Some("w1"));
    assert!(
        s.job.assigned_at.is_some() && s.job.started_at.is_some() && s.job.finished_at.is_some()
    );
    assert_eq!(
        statuses(&s),
        [
            JobStatus::Queued,
            JobStatus::Assigned,
            JobStatus::Running,
            JobStatus::Completed
        ]
    );
    let w = &server.workers().await.workers[0];
    assert_eq!(
        (w.reserved_cpu, w.reserved_ram_mb),
        (0.0, 0),
        "reservation released"
    );
    assert_eq!(w.status, WorkerStatus::Idle);
    server.stop().await;
}

async fn parallel_jobs_up_to_the_limit(db: TestDb) {
    let server = TestServer::start_steady(&db).await;
    let worker = SimWorker::register(&server, "w1", 4.0, 4096, 3).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            server
                .create(json!({"command": format!("job {i}"), "requiredCpu": 0.5}))
                .await
                .id,
        );
    }
    let first = eventually("three jobs assigned", WAIT, || async {
        let list = server.workers().await;
        (list.workers[0].current_job_ids.len() == 3).then_some(())
    });
    first.await;
    let got = worker.poll(5, 1000).await.jobs;
    assert_eq!(got.len(), 3, "parallelism limit 3");
    let list = server.workers().await;
    assert_eq!(list.workers[0].status, WorkerStatus::Busy);
    assert_eq!(list.workers[0].reserved_cpu, 1.5);
    assert_eq!(list.summary.busy, 1);
    for job in &got {
        assert_eq!(worker.start(job).await.0, StatusCode::OK);
    }
    assert!(
        worker.poll(5, 200).await.jobs.is_empty(),
        "no fourth job while three run"
    );
    assert_eq!(worker.finish(&got[0], 0).await.0, StatusCode::OK);
    let more = worker.poll(5, 2000).await.jobs;
    assert_eq!(more.len(), 1, "one slot freed, one job more");
    server.stop().await;
}

async fn resource_constraints(db: TestDb) {
    let server = TestServer::start(&db).await;
    let big = SimWorker::register(&server, "big", 8.0, 16384, 4).await;
    let small = SimWorker::register(&server, "small", 2.0, 2048, 4).await;

    let needs_big = server
        .create(json!({"command": "x", "requiredCpu": 4, "requiredRamMb": 1024}))
        .await;
    assert_eq!(big.take_one().await.id, needs_big.id);

    let fits_both = server
        .create(json!({"command": "y", "requiredCpu": 1, "requiredRamMb": 512}))
        .await;
    assert_eq!(
        small.take_one().await.id,
        fits_both.id,
        "best fit picks the tighter worker"
    );

    let fits_none = server
        .create(json!({"command": "z", "requiredCpu": 64, "requiredRamMb": 512}))
        .await;
    assert_eq!(fits_none.status, JobStatus::Queued);
    let reason = fits_none.reason.expect("a reason");
    assert!(reason.contains("fits no worker"), "{reason}");
    assert!(big.poll(4, 300).await.jobs.is_empty());
    assert!(small.poll(4, 100).await.jobs.is_empty());
    assert_eq!(
        server.status(&fits_none.id).await.job.status,
        JobStatus::Queued
    );

    // A worker large enough arrives: the job goes there.
    let huge = SimWorker::register(&server, "huge", 64.0, 65536, 1).await;
    assert_eq!(huge.take_one().await.id, fits_none.id);
    server.stop().await;
}

async fn job_timeout(db: TestDb) {
    let server = TestServer::start(&db).await;
    let worker = SimWorker::register(&server, "w1", 2.0, 2048, 2).await;
    let job = server
        .create(json!({"command": "sleep 60", "timeoutMs": 200}))
        .await;
    let delivered = worker.take_one().await;
    assert_eq!(worker.start(&delivered).await.0, StatusCode::OK);
    worker.heartbeat(&[&job.id]).await;

    let s = server.wait_status(&job.id, JobStatus::TimedOut, WAIT).await;
    assert!(s.job.error.unwrap().contains("timed out"));
    let w = &server.workers().await.workers[0];
    assert_eq!(
        (w.reserved_cpu, w.running_jobs_len()),
        (0.25, 0),
        "the stopped attempt keeps its reservation until the agent reports it gone"
    );
    let answer = worker.heartbeat(&[&job.id]).await;
    assert_eq!(answer.stop_jobs.len(), 1);
    assert_eq!(answer.stop_jobs[0].reason, StopReason::TimedOut);
    assert_eq!(worker.finish(&delivered, 137).await.0, StatusCode::OK);
    assert_eq!(server.workers().await.workers[0].reserved_cpu, 0.0);
    assert_eq!(worker.finish(&delivered, 137).await.0, StatusCode::CONFLICT);
    assert_eq!(
        server.status(&job.id).await.job.status,
        JobStatus::TimedOut,
        "the late result changed nothing"
    );

    // With a retry left, the timed-out attempt is retried as a new attempt.
    let retried = server
        .create(json!({"command": "sleep 60", "timeoutMs": 200, "maxRetries": 1}))
        .await;
    let first = worker.take_one().await;
    assert_eq!(first.id, retried.id);
    assert_eq!(worker.start(&first).await.0, StatusCode::OK);
    // Reported running, so its worker is not taken for lost before the job times out.
    worker.heartbeat(&[&first.id]).await;
    // The retry waits out the stopped attempt's hold; the agent keeps reporting in meanwhile.
    server
        .wait_status(&retried.id, JobStatus::Pending, WAIT)
        .await;
    worker.heartbeat(&[&first.id]).await;
    let second = worker.take_one().await;
    assert_eq!(
        (second.id.as_str(), second.attempts),
        (retried.id.as_str(), 2)
    );
    // The old attempt's result is absorbed (if its hold is still there) or refused: either
    // way it changes nothing.
    let code = worker.finish(&first, 0).await.0;
    assert!(
        code == StatusCode::OK || code == StatusCode::CONFLICT,
        "{code}"
    );
    let s = server.status(&retried.id).await;
    assert_eq!(
        (s.job.status, s.job.attempts),
        (JobStatus::Assigned, 2),
        "old attempt fenced"
    );
    worker.run_ok(&second).await;
    let s = server.status(&retried.id).await;
    assert_eq!(s.job.status, JobStatus::Completed);
    assert_eq!(s.job.failed_attempts, 1);
    assert!(
        statuses(&s).contains(&JobStatus::Pending),
        "went through a backoff"
    );
    server.stop().await;
}

trait RunningJobs {
    fn running_jobs_len(&self) -> usize;
}

impl RunningJobs for gantry_api::Worker {
    fn running_jobs_len(&self) -> usize {
        self.current_job_ids.len()
    }
}

async fn worker_failure(db: TestDb) {
    let server = TestServer::start(&db).await;
    let a = SimWorker::register(&server, "a", 2.0, 2048, 1).await;
    let job = server.create(json!({"command": "work"})).await;
    let on_a = a.take_one().await;
    assert_eq!(a.start(&on_a).await.0, StatusCode::OK);

    // b arrives and stays alive; a falls silent.
    let b = SimWorker::register(&server, "b", 2.0, 2048, 1).await;
    let _alive = b.keep_alive();
    eventually("a to go OFFLINE", WAIT, || async {
        let list = server.workers().await;
        let a = list.workers.iter().find(|w| w.id == "a").unwrap();
        (a.status == WorkerStatus::Offline).then_some(())
    })
    .await;
    let on_b = b.take_one().await;
    assert_eq!((on_b.id.as_str(), on_b.attempts), (job.id.as_str(), 2));

    let (late, body) = a.finish(&on_a, 0).await;
    assert_eq!(
        late,
        StatusCode::CONFLICT,
        "a late result from the lost worker: {body}"
    );
    b.run_ok(&on_b).await;
    let s = server.status(&job.id).await;
    assert_eq!(s.job.status, JobStatus::Completed);
    assert_eq!(s.job.worker_id.as_deref(), Some("b"));
    assert_eq!((s.job.infra_retries, s.job.failed_attempts), (1, 0));
    let list = server.workers().await;
    let a_state = list.workers.iter().find(|w| w.id == "a").unwrap();
    assert_eq!((a_state.reserved_cpu, a_state.reserved_ram_mb), (0.0, 0));
    server.stop().await;
}

async fn cooldown_after_failures(db: TestDb) {
    let server = TestServer::start_with(ServeConfig {
        infra_retry_budget: 0,
        ..fast_config(&db)
    })
    .await;
    let worker = SimWorker::register(&server, "w1", 2.0, 2048, 1).await;
    let _alive = worker.keep_alive();
    // A job's own failures (a failing test suite) do not cool its worker down...
    for i in 0..3 {
        server
            .create(json!({"command": format!("false {i}")}))
            .await;
        let job = worker.take_one().await;
        assert_eq!(worker.start(&job).await.0, StatusCode::OK);
        assert_eq!(worker.finish(&job, 1).await.0, StatusCode::OK);
    }
    let list = server.workers().await;
    assert_eq!(
        list.workers[0].status,
        WorkerStatus::Idle,
        "the job's fault"
    );
    // ...the worker's own do: three attempts its engine could not run (no infrastructure
    // retries here, so each job ends at once and the next one comes).
    for i in 0..3 {
        server.create(json!({"command": format!("true {i}")})).await;
        let job = worker.take_one().await;
        assert_eq!(worker.start(&job).await.0, StatusCode::OK);
        let broken = json!({"infrastructureError": true, "error": "the engine refused"});
        assert_eq!(worker.finish_with(&job, broken).await.0, StatusCode::OK);
    }
    let list = server.workers().await;
    assert_eq!(list.workers[0].status, WorkerStatus::Unhealthy);
    assert!(list.workers[0].cooldown_until.is_some());
    assert_eq!(list.summary.unhealthy, 1);

    let waiting = server.create(json!({"command": "true"})).await;
    assert!(
        worker.poll(1, 200).await.jobs.is_empty(),
        "no job during cooldown"
    );
    assert_eq!(
        server.status(&waiting.id).await.job.status,
        JobStatus::Queued
    );

    let job = worker.take_one().await;
    assert_eq!(job.id, waiting.id, "jobs again after the cooldown");
    worker.run_ok(&job).await;
    let w = &server.workers().await.workers[0];
    assert_eq!((w.status, w.consecutive_failures), (WorkerStatus::Idle, 0));
    server.stop().await;
}

async fn cancellation(db: TestDb) {
    let server = TestServer::start(&db).await;
    // No worker yet: the job waits, and cancelling it ends it at once.
    let queued = server.create(json!({"command": "sleep 60"})).await;
    let (code, answer) = server
        .post("/api/jobs/cancel", &json!({"jobId": queued.id}))
        .await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(answer["status"], "CANCELLED");

    let worker = SimWorker::register(&server, "w1", 2.0, 2048, 1).await;
    let running = server.create(json!({"command": "sleep 60"})).await;
    let job = worker.take_one().await;
    assert_eq!(job.id, running.id);
    assert_eq!(worker.start(&job).await.0, StatusCode::OK);

    // The agent long-polls while reporting the job; the cancel wakes the poll with a stop.
    let reported = [running.id.as_str()];
    let poll = worker.poll_reporting(1, 5000, &reported);
    let cancel = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let at = Instant::now();
        let (code, _) = server
            .post("/api/jobs/cancel", &json!({"jobId": running.id}))
            .await;
        assert_eq!(code, StatusCode::OK);
        at
    };
    let (answer, cancelled_at) = tokio::join!(poll, cancel);
    assert!(
        cancelled_at.elapsed() < Duration::from_secs(2),
        "stop delivered promptly"
    );
    assert_eq!(answer.stop_jobs.len(), 1);
    assert_eq!(answer.stop_jobs[0].reason, StopReason::Cancelled);
    let beat = worker.heartbeat(&[&running.id]).await;
    assert_eq!(
        beat.stop_jobs[0].reason,
        StopReason::Cancelled,
        "repeated until it stops"
    );
    assert_eq!(
        server.status(&running.id).await.job.status,
        JobStatus::Cancelled
    );
    assert_eq!(
        server.workers().await.workers[0].reserved_cpu,
        0.25,
        "held until the agent reports the attempt gone"
    );
    assert_eq!(worker.finish(&job, 143).await.0, StatusCode::OK);
    assert_eq!(server.workers().await.workers[0].reserved_cpu, 0.0);

    let (code, answer) = server
        .post("/api/jobs/cancel", &json!({"jobId": running.id}))
        .await;
    assert_eq!(code, StatusCode::CONFLICT, "{answer}");
    assert_eq!(answer["error"]["code"], "wrong_state");
    assert_eq!(worker.finish(&job, 143).await.0, StatusCode::CONFLICT);
    server.stop().await;
}

async fn idle_poller_gets_a_new_job_at_once(db: TestDb) {
    // A long sweep interval: only the creation trigger can deliver the job quickly.
    let mut config = fast_config(&db);
    config.sweep_interval = Duration::from_secs(30);
    config.heartbeat_timeout = Duration::from_secs(60);
    let server = TestServer::start_with(config).await;
    let worker = SimWorker::register(&server, "w1", 2.0, 2048, 1).await;
    for _ in 0..5 {
        let poll = worker.poll(1, 5000);
        let create = async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let job = server.create(json!({"command": "true"})).await;
            (job, Instant::now())
        };
        let (answer, (job, created_at)) = tokio::join!(poll, create);
        let latency = created_at.elapsed();
        assert_eq!(answer.jobs.len(), 1);
        assert_eq!(answer.jobs[0].id, job.id);
        assert!(
            latency < Duration::from_millis(500),
            "assignment took {latency:?}"
        );
        worker.run_ok(&answer.jobs[0]).await;
    }
    server.stop().await;
}

crate::common::on_both_databases!(
    basic_lifecycle,
    parallel_jobs_up_to_the_limit,
    resource_constraints,
    job_timeout,
    worker_failure,
    cooldown_after_failures,
    cancellation,
    idle_poller_gets_a_new_job_at_once,
);
