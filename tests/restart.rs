//! Restart: the server process is killed with SIGKILL mid-flight and started again on the same
//! database. Nothing is lost, nothing runs twice, and running jobs stay with their workers.

use crate::common::invariants::check_settled;
use crate::common::process::{free_port, ServerProcess};
use crate::common::{eventually, SimWorker, TestDb, TestServer};
use gantry::lifecycle::Policy;
use gantry_api::{Job, JobStatus};
use reqwest::StatusCode;
use serde_json::json;
use std::process::Command;
use std::time::Duration;

/// Long enough that the workers stay online while the server is down.
const SERVE_FLAGS: &[&str] = &["--heartbeat-timeout", "30s", "--sweep-interval", "100ms"];

async fn sigkill_loses_nothing_and_duplicates_nothing(db: TestDb) {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut process = ServerProcess::spawn(&db, port, SERVE_FLAGS);
    let server = TestServer::attach(base.clone()).await;
    let w1 = SimWorker::register(&server, "w1", 4.0, 4096, 4).await;
    let w2 = SimWorker::register(&server, "w2", 4.0, 4096, 4).await;
    let workers = [&w1, &w2];
    let (ids, held) = hand_out_twenty_jobs(&server, workers).await;
    let before: Vec<_> = {
        let mut v = Vec::new();
        for id in &ids {
            v.push(server.status(id).await.job);
        }
        v
    };

    process.kill9();
    assert!(
        server
            .http
            .get(server.url("/healthz"))
            .send()
            .await
            .is_err(),
        "the server is dead"
    );
    let _process = ServerProcess::spawn(&db, port, SERVE_FLAGS);
    let server = TestServer::attach(base).await;

    jobs_kept_their_state(&server, &before).await;
    finish_and_drain(&server, workers, &held).await;
    for id in &ids {
        let s = server.status(id).await;
        assert_eq!(s.job.attempts, 1, "job {id} ran once");
        let completions = s
            .history
            .iter()
            .filter(|h| h.to_status == JobStatus::Completed)
            .count();
        assert_eq!(completions, 1, "job {id} completed once");
    }
    let repo = db.connect(Policy::default()).await;
    let checked = check_settled(&*repo)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((checked.jobs, checked.workers), (20, 2));
}

/// Creates twenty jobs; each worker takes four, and of those eight the first six are started
/// and the first three finished. Returns the ids and the held jobs (by worker index).
async fn hand_out_twenty_jobs(
    server: &TestServer,
    workers: [&SimWorker<'_>; 2],
) -> (Vec<String>, Vec<(usize, Job)>) {
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(
            server
                .create(json!({"command": format!("job {i}")}))
                .await
                .id,
        );
    }
    let mut held: Vec<(usize, Job)> = Vec::new();
    for (index, worker) in workers.into_iter().enumerate() {
        let jobs = eventually("four jobs each", Duration::from_secs(10), || async {
            let got = worker.poll(4, 1000).await.jobs;
            (!got.is_empty()).then_some(got)
        })
        .await;
        held.extend(jobs.into_iter().map(|j| (index, j)));
    }
    // Some finished, some running, some only delivered.
    for (i, (w, job)) in held.iter().enumerate() {
        if i < 6 {
            assert_eq!(workers[*w].start(job).await.0, StatusCode::OK);
        }
        if i < 3 {
            assert_eq!(workers[*w].finish(job, 0).await.0, StatusCode::OK);
        }
    }
    (ids, held)
}

/// Jobs on a worker or ended before the kill are as they were; waiting jobs still wait.
async fn jobs_kept_their_state(server: &TestServer, before: &[Job]) {
    for job in before {
        let after = server.status(&job.id).await.job;
        if job.status.is_on_worker() || job.status.is_terminal() {
            assert_eq!(after.status, job.status, "job {} kept its state", job.id);
            assert_eq!(
                after.worker_id, job.worker_id,
                "job {} kept its worker",
                job.id
            );
            assert_eq!(
                after.attempts, job.attempts,
                "job {} kept its attempt",
                job.id
            );
        } else {
            assert!(
                !after.status.is_terminal(),
                "waiting job {} still waits",
                job.id
            );
        }
    }
}

/// The workers carry on with what they held (their results are accepted), then run the rest
/// until all twenty jobs are COMPLETED.
async fn finish_and_drain(
    server: &TestServer,
    workers: [&SimWorker<'_>; 2],
    held: &[(usize, Job)],
) {
    for (i, (w, job)) in held.iter().enumerate() {
        if i >= 6 {
            assert_eq!(workers[*w].start(job).await.0, StatusCode::OK);
        }
        if i >= 3 {
            assert_eq!(
                workers[*w].finish(job, 0).await.0,
                StatusCode::OK,
                "job {}",
                job.id
            );
        }
    }
    // And drain the rest.
    eventually("every job COMPLETED", Duration::from_secs(20), || async {
        for worker in workers {
            for job in worker.poll(4, 100).await.jobs {
                worker.run_ok(&job).await;
            }
        }
        let (_, list) = server
            .get("/api/jobs/list?status=COMPLETED&limit=100")
            .await;
        (list["jobs"].as_array().unwrap().len() == 20).then_some(())
    })
    .await;
}

async fn sigterm_answers_long_polls_and_exits_cleanly(db: TestDb) {
    let port = free_port();
    let mut process = ServerProcess::spawn(&db, port, SERVE_FLAGS);
    let server = TestServer::attach(format!("http://127.0.0.1:{port}")).await;
    let worker = SimWorker::register(&server, "w1", 1.0, 512, 1).await;
    let poll = worker.poll(1, 30_000);
    let term = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let pid = process.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success());
        std::time::Instant::now()
    };
    let (answer, sent_at) = tokio::join!(poll, term);
    assert!(answer.jobs.is_empty(), "the long poll was answered, empty");
    let status = tokio::task::spawn_blocking(move || process.child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "exit status {status}");
    assert!(
        sent_at.elapsed() < Duration::from_secs(5),
        "stopped promptly"
    );
}

async fn an_outage_longer_than_the_heartbeat_timeout_is_not_held_against_workers(db: TestDb) {
    let flags = ["--heartbeat-timeout", "1s", "--sweep-interval", "100ms"];
    let port = free_port();
    let mut first = ServerProcess::spawn(&db, port, &flags);
    let server = TestServer::attach(first.base.clone()).await;
    let worker = SimWorker::register(&server, "w1", 2.0, 2048, 1).await;
    let job = server.create(json!({"command": "long"})).await;
    let held = worker.take_one().await;
    assert_eq!(worker.start(&held).await.0, StatusCode::OK);
    worker.heartbeat(&[&job.id]).await;

    first.kill9();
    // The outage outlasts the heartbeat timeout...
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let _second = ServerProcess::spawn(&db, port, &flags);
    server.wait_ready().await;
    // ...and the new leader takes the lease and sweeps before the agent reports in.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let beat = worker.heartbeat(&[&job.id]).await;
    assert!(
        beat.stop_jobs.is_empty(),
        "the job is still ours: {:?}",
        beat.stop_jobs
    );
    let s = server.status(&job.id).await.job;
    assert_eq!(
        (s.status, s.attempts),
        (JobStatus::Running, 1),
        "not requeued"
    );
    assert_eq!(worker.finish(&held, 0).await.0, StatusCode::OK);
}

crate::common::on_both_databases!(
    an_outage_longer_than_the_heartbeat_timeout_is_not_held_against_workers,
    sigkill_loses_nothing_and_duplicates_nothing,
    sigterm_answers_long_polls_and_exits_cleanly,
);
