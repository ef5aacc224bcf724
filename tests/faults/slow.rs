//! Slow and hanging database calls: a long poll stuck in the database still ends when the
//! server shuts down, a server with a request stuck in the database still stops, a slow
//! call is not an error, and `/metrics` says when it could not read the database.

use super::requests::Req;
use super::{Rig, API_TOKEN};
use crate::common::builders::get_job;
use crate::common::{eventually, TestDb};
use gantry::repo::faulty::{Fault, Plan, FOREVER};
use gantry::scheduler::Scheduler;
use gantry_api::JobStatus;
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;

/// How long a test waits for what must happen at once.
const PROMPTLY: Duration = Duration::from_secs(5);

/// A long poll whose `method` call hangs answers at once when the server shuts down.
async fn stuck_poll_ends_at_shutdown(db: TestDb, method: &'static str) {
    let rig = Rig::new(db).await;
    let agent = rig.agent("poller").await;
    let (id, _) = rig.assigned(&agent).await;
    rig.faulty.inject(Plan::on(method, Fault::Hang(FOREVER)));
    let body = json!({"workerId": agent.id, "max": 1, "waitMs": 30_000});
    let req = Req::post_json("/api/jobs/get-job", &body).bearer(&agent.token);
    let poll = rig.send(&req);
    let stuck = async {
        eventually("the poll to be stuck", PROMPTLY, || async {
            (rig.faulty.fired() >= 1).then_some(())
        })
        .await;
        rig.state.shutdown.cancel();
    };
    let (answer, ()) = tokio::time::timeout(PROMPTLY, async { tokio::join!(poll, stuck) })
        .await
        .unwrap_or_else(|_| panic!("a poll stuck in {method} outlived the shutdown"));
    let answer = answer.expect("no panic");
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.json()["jobs"], json!([]), "{}", answer.text());
    // The hung call never reached the database: the job waits for the next poll.
    let job = get_job(rig.repo(), &id).await;
    assert_eq!((job.status, job.delivered_at), (JobStatus::Assigned, None));
    rig.assert_consistent(&format!("a poll stuck in {method}"))
        .await;
}

async fn a_server_with_a_request_stuck_in_the_database_still_stops(db: TestDb) {
    let rig = Rig::new(db).await;
    let agent = rig.agent("stuck").await;
    rig.faulty
        .inject(Plan::on("worker_heartbeat", Fault::Hang(FOREVER)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = rig.state.shutdown.clone();
    let scheduler = Scheduler::start(
        rig.faulty.clone(),
        &rig.state.config,
        rig.state.waiters.clone(),
        rig.state.scheduler.clone(),
        None,
        shutdown.child_token(),
    );
    let drain = Duration::from_millis(200);
    let server = tokio::spawn(gantry::server::serve_state(
        rig.state.clone(),
        scheduler,
        listener,
        shutdown.clone(),
        drain,
    ));
    let heartbeat = tokio::spawn(
        reqwest::Client::new()
            .post(format!("{base}/api/workers/heartbeat"))
            .bearer_auth(&agent.token)
            .json(&json!({"workerId": agent.id, "cpuUsage": 1, "ramFreeMb": 100}))
            .send(),
    );
    eventually("the heartbeat to be stuck", PROMPTLY, || async {
        (rig.faulty.fired() >= 1).then_some(())
    })
    .await;
    shutdown.cancel();
    tokio::time::timeout(PROMPTLY, server)
        .await
        .expect("the server did not stop with a request stuck in the database")
        .unwrap()
        .unwrap();
    heartbeat.abort();
}

async fn a_slow_database_is_not_an_error(db: TestDb) {
    let rig = Rig::new(db).await;
    let agent = rig.agent("slow").await;
    let (id, _) = rig.assigned(&agent).await;
    // Slower than the poll's own wait and than its recheck: the poll still hands the job over.
    let slow = Duration::from_millis(600);
    rig.faulty
        .inject(Plan::on("job_deliver", Fault::Delay(slow)));
    let body = json!({"workerId": agent.id, "max": 1, "waitMs": 0});
    let req = Req::post_json("/api/jobs/get-job", &body).bearer(&agent.token);
    let answer = rig.send(&req).await.expect("no panic");
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.json()["jobs"][0]["id"], id.as_str());
    rig.faulty.clear();
    rig.faulty
        .inject(Plan::everything(Fault::Delay(Duration::from_millis(100))));
    let status = Req::get(&format!("/api/jobs/status?jobId={id}")).bearer(API_TOKEN);
    let answer = rig.send(&status).await.expect("no panic");
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    rig.faulty.clear();
    rig.assert_consistent("slow calls").await;
}

async fn metrics_say_when_the_database_did_not_answer(db: TestDb) {
    let rig = Rig::new(db).await;
    let up = |text: &str| {
        text.lines()
            .find(|l| l.starts_with("gantry_database_up "))
            .map(|l| l.trim_start_matches("gantry_database_up ").to_string())
    };
    rig.faulty.inject(Plan::everything(Fault::Fail));
    let answer = rig.send(&Req::get("/metrics")).await.expect("no panic");
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        up(&answer.text()).as_deref(),
        Some("0"),
        "{}",
        answer.text()
    );
    assert!(answer.text().contains("# HELP gantry_database_up "));
    rig.faulty.clear();
    let answer = rig.send(&Req::get("/metrics")).await.expect("no panic");
    assert_eq!(
        up(&answer.text()).as_deref(),
        Some("1"),
        "{}",
        answer.text()
    );
}

async fn a_long_poll_stuck_reading_stop_orders_ends_at_shutdown(db: TestDb) {
    stuck_poll_ends_at_shutdown(db, "worker_stop_list").await;
}

async fn a_long_poll_stuck_delivering_ends_at_shutdown(db: TestDb) {
    stuck_poll_ends_at_shutdown(db, "job_deliver").await;
}

crate::common::on_both_databases!(
    a_long_poll_stuck_reading_stop_orders_ends_at_shutdown,
    a_long_poll_stuck_delivering_ends_at_shutdown,
    a_server_with_a_request_stuck_in_the_database_still_stops,
    a_slow_database_is_not_an_error,
    metrics_say_when_the_database_did_not_answer,
);
