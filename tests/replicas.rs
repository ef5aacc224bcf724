//! Several replicas on one PostgreSQL database: wake-ups cross them (LISTEN/NOTIFY), the
//! recheck still delivers without them, the listening session comes back after it is killed,
//! and agents and the CLI move to the next server of their list when one dies.

use crate::common::process::{free_port, AgentProcess, ServerProcess};
use crate::common::server::fast_config;
use crate::common::sim::SimWorker;
use crate::common::{eventually, TestDb, TestServer};
use gantry_api::JobStatus;
use serde_json::json;
use sqlx::Connection;
use std::time::{Duration, Instant};

/// Longest a test waits for anything.
const WAIT: Duration = Duration::from_secs(20);
/// How much longer than on its own replica an assignment across replicas may take, in the
/// median, with the bus. Without it a poller finds the job at its 500 ms recheck: about 250 ms
/// longer. (The placement itself is in both, and slow on a loaded machine.)
const CROSS_REPLICA_EXTRA: Duration = Duration::from_millis(100);
/// Trials per latency measurement.
const TRIALS: usize = 9;

/// Two replicas of one database with fast timers; `b_wake` sets B's wake URL.
async fn replicas(db: &TestDb, b_wake: Option<&str>) -> (TestServer, TestServer) {
    let a = TestServer::start_with(fast_config(db)).await;
    let mut config = fast_config(db);
    config.wake_database_url = b_wake.map(str::to_string);
    let b = TestServer::start_with(config).await;
    (a, b)
}

/// One trial: `worker` long-polls its replica while a job is created on `on`; the time from
/// the create's answer to the poll's.
async fn assignment(on: &TestServer, worker: &SimWorker<'_>) -> Duration {
    let poll = worker.poll(1, 5_000);
    tokio::pin!(poll);
    // Let the poll reach its wait first (a poll that starts late only answers sooner).
    let settle = tokio::time::sleep(Duration::from_millis(100));
    tokio::select! {
        _ = settle => {}
        answer = &mut poll => panic!("the poll answered with nothing to give: {answer:?}"),
    }
    let job = on.create(json!({"command": "true"})).await;
    let created = Instant::now();
    let answer = poll.await;
    let took = created.elapsed();
    assert_eq!(answer.jobs.len(), 1, "{answer:?}");
    assert_eq!(answer.jobs[0].id, job.id);
    let (status, body) = worker.start(&answer.jobs[0]).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    let (status, body) = worker.finish(&answer.jobs[0], 0).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    took
}

/// The median of `TRIALS` assignments of jobs created on `on`.
async fn median_assignment(on: &TestServer, worker: &SimWorker<'_>) -> Duration {
    let mut took = Vec::new();
    for _ in 0..TRIALS {
        took.push(assignment(on, worker).await);
    }
    took.sort();
    took[TRIALS / 2]
}

/// Asserts that jobs created on `a` reach `worker` (polling `b`) about as fast as jobs
/// created on `b` itself.
async fn assert_wake_ups_cross(a: &TestServer, b: &TestServer, worker: &SimWorker<'_>) {
    let same = median_assignment(b, worker).await;
    let cross = median_assignment(a, worker).await;
    assert!(
        cross < same + CROSS_REPLICA_EXTRA,
        "median {cross:?} across replicas against {same:?} on one: the wake-up did not cross"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_created_on_one_replica_wakes_a_poller_on_another() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let (a, b) = replicas(&db, None).await;
    let worker = SimWorker::register(&b, "replica-w1", 4.0, 4096, 1).await;
    let keep = worker.keep_alive();
    // The first trial may run before B's session is listening: not counted.
    assignment(&a, &worker).await;
    assert_wake_ups_cross(&a, &b, &worker).await;
    drop(keep);
    b.stop().await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_wake_ups_the_recheck_still_delivers() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let (a, b) = replicas(&db, Some("off")).await;
    let worker = SimWorker::register(&b, "replica-w2", 4.0, 4096, 1).await;
    let keep = worker.keep_alive();
    let took = assignment(&a, &worker).await;
    assert!(took < Duration::from_secs(2), "{took:?}");
    drop(keep);
    b.stop().await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listening_session_comes_back_after_it_is_killed() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let (a, b) = replicas(&db, None).await;
    let worker = SimWorker::register(&b, "replica-w3", 4.0, 4096, 1).await;
    let keep = worker.keep_alive();
    assignment(&a, &worker).await;

    let mut admin = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let killed: Vec<(bool,)> = sqlx::query_as(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND query ILIKE 'LISTEN%'",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert_eq!(killed.len(), 2, "one listening session per replica");

    // Reconnected (after its backoff), wake-ups cross again.
    eventually("wake-ups to cross again", WAIT, || async {
        (assignment(&a, &worker).await < CROSS_REPLICA_EXTRA).then_some(())
    })
    .await;
    assert_wake_ups_cross(&a, &b, &worker).await;
    let _ = admin.close().await;
    drop(keep);
    b.stop().await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_moves_to_the_next_replica_and_keeps_its_job() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let flags = ["--heartbeat-timeout", "3s", "--sweep-interval", "100ms"];
    let mut first = ServerProcess::spawn(&db, free_port(), &flags);
    let second = ServerProcess::spawn(&db, free_port(), &flags);
    let a = TestServer::attach(first.base.clone()).await;
    let b = TestServer::attach(second.base.clone()).await;
    let list = format!("{},{}", a.base, b.base);
    let _agent = AgentProcess::spawn(&list, "replica-agent", &[("ENABLE_DOCKER", "false")]);
    eventually("the agent to register", WAIT, || async {
        (b.workers().await.total_workers == 1).then_some(())
    })
    .await;

    let job = b
        .create(json!({"command": "sleep 2; echo outlived its replica"}))
        .await;
    b.wait_status(&job.id, JobStatus::Running, WAIT).await;
    first.kill9();

    let done = b.wait_status(&job.id, JobStatus::Completed, WAIT).await;
    assert_eq!(done.job.stdout.as_deref(), Some("outlived its replica\n"));
    assert_eq!(done.job.attempts, 1, "the same attempt, not a rerun");
    // And the agent keeps taking work, now from the second replica.
    let next = b.create(json!({"command": "echo next"})).await;
    let next = b.wait_status(&next.id, JobStatus::Completed, WAIT).await;
    assert_eq!(next.job.stdout.as_deref(), Some("next\n"));
    assert_eq!(
        b.workers().await.total_workers,
        1,
        "the same worker, not a new one"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_tries_the_next_server_of_its_list() {
    let db = TestDb::sqlite().await;
    let server = TestServer::start(&db).await;
    let dead = format!("http://127.0.0.1:{}", free_port());
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_gantry"))
        .args([
            "jobs",
            "--url",
            &format!("{dead},{}", server.base),
            "--json",
        ])
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("cannot reach {dead}")));
    let bad = tokio::process::Command::new(env!("CARGO_BIN_EXE_gantry"))
        .args(["jobs", "--url", "127.0.0.1:8080"])
        .output()
        .await
        .unwrap();
    assert_eq!(bad.status.code(), Some(2), "a usage error: {bad:?}");
    server.stop().await;
}
