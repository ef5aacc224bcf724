//! Every route under every fault of every repository call it makes: the clean request names
//! the calls, then each is broken in turn (failing, losing its committed answer, hanging
//! past a short timeout, failing on a later call of a repeated one). Each time the route
//! answers a clear 503 (or what its case documents), never panics, leaves the database
//! consistent with every job still there, and the same request sent again is accepted, or
//! refused as the fencing rules say when the lost call had committed.

use super::cases::{case, Case};
use super::requests::Answer;
use super::Rig;
use crate::common::TestDb;
use gantry::repo::faulty::{Fault, Plan, When};
use reqwest::StatusCode;
use std::time::Duration;

/// Calls that change the database, for which a lost answer differs from a failure.
const WRITES: &[&str] = &[
    "job_insert",
    "job_insert_many",
    "job_deliver",
    "job_deliver_started",
    "job_start",
    "job_start_pulling",
    "job_start_many",
    "job_finish",
    "job_finish_many",
    "job_cancel",
    "worker_register",
    "worker_heartbeat",
    "upload_insert",
];

/// How long a hung call hangs before it fails (as a pool gives up waiting).
const HANG: Duration = Duration::from_millis(10);

/// How much slower every call of the slow run is.
const SLOW: Duration = Duration::from_millis(20);

/// The faults tried on `method`, which the clean request called `calls` times.
fn plans(method: &'static str, calls: u64) -> Vec<Plan> {
    let mut plans = vec![
        Plan::on(method, Fault::Fail),
        Plan::on(method, Fault::Hang(HANG)),
    ];
    if WRITES.contains(&method) {
        plans.push(Plan::on(method, Fault::FailAfterCommit));
    }
    // The first failing call ends most requests: later ones are reached by failing only them.
    for n in 2..=calls.min(3) {
        plans.push(Plan::on(method, Fault::Fail).when(When::Nth(n)));
    }
    plans
}

/// Asserts what a route answers while `method` fails.
fn assert_broken(case: &Case, method: &str, answer: &Answer, what: &str) {
    if let Some((_, status)) = case.tolerated.iter().find(|(m, _)| *m == method) {
        assert_eq!(answer.status, *status, "{what}: {}", answer.text());
        return;
    }
    assert_eq!(
        answer.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{what}: {}",
        answer.text()
    );
    if case.page {
        assert!(
            answer.content_type.starts_with("text/html"),
            "{what}: an error page, not {}",
            answer.content_type
        );
        return;
    }
    let body = answer.json();
    assert_eq!(body["error"]["code"], "unavailable", "{what}: {body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "{what}: {body}");
    assert!(
        !message.contains("injected"),
        "{what}: the answer shows the database's own error: {message}"
    );
}

/// Runs one case through every fault of every call its clean request makes.
async fn drive(db: TestDb, name: &str) {
    let case = case(name);
    let rig = Rig::new(db).await;
    let dialect = rig.db.dialect;

    let req = (case.prepare)(&rig, "clean").await;
    rig.faulty.take_calls();
    let answer = rig.send(&req).await.expect("the clean request");
    assert_eq!(answer.status, case.ok, "{name}, clean: {}", answer.text());
    let calls = rig.faulty.call_counts();
    assert!(!calls.is_empty(), "{name} reads nothing from the database");
    rig.assert_consistent(&format!("{name}, clean")).await;
    rig.retire().await;

    let mut tries = 0;
    for (method, count) in &calls {
        for plan in plans(method, *count) {
            let what = format!("[{dialect:?}] {name} ({}) with {plan:?}", req.line());
            let req = (case.prepare)(&rig, &tries.to_string()).await;
            tries += 1;
            rig.faulty.inject(plan);
            let answer = rig.send(&req).await;
            let fired = rig.faulty.clear();
            let answer = answer.unwrap_or_else(|e| panic!("{what}: {e}"));
            assert!(fired >= 1, "{what}: the fault never fired");
            assert_broken(case, method, &answer, &what);
            rig.assert_consistent(&what).await;

            let again = rig
                .send(&req)
                .await
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            let lost_a_commit =
                plan.fault == Fault::FailAfterCommit && case.committed.contains(method);
            let want = if lost_a_commit { case.again } else { case.ok };
            assert_eq!(again.status, want, "{what}, sent again: {}", again.text());
            if case.hands_over && !lost_a_commit {
                let jobs = again.json()["jobs"].as_array().map_or(0, Vec::len);
                assert!(jobs > 0, "{what}: the failed poll used up its delivery");
            }
            rig.assert_consistent(&format!("{what}, sent again")).await;
            rig.retire().await;
        }
    }

    // Every call slow: still the clean answer.
    let req = (case.prepare)(&rig, "slow").await;
    rig.faulty.inject(Plan::everything(Fault::Delay(SLOW)));
    let answer = rig.send(&req).await;
    assert!(rig.faulty.clear() >= 1);
    let answer = answer.unwrap_or_else(|e| panic!("{name}, slow: {e}"));
    assert_eq!(answer.status, case.ok, "{name}, slow: {}", answer.text());
    rig.assert_consistent(&format!("{name}, slow")).await;
    eprintln!(
        "[{dialect:?}] {name}: {tries} faults over {} calls ({calls:?})",
        calls.len()
    );
}

macro_rules! route_tests {
    ($($test:ident => $name:literal),* $(,)?) => {
        $(
            async fn $test(db: TestDb) {
                drive(db, $name).await;
            }
        )*
        crate::common::on_both_databases!($($test),*);

        /// Every case has its test.
        #[test]
        fn every_case_is_tested() {
            let tested = [$($name),*];
            for case in super::cases::CASES {
                assert!(tested.contains(&case.name), "no test for {}", case.name);
            }
        }
    };
}

route_tests! {
    create => "create",
    create_batch => "create-batch",
    status => "status",
    list => "list",
    cancel => "cancel",
    workers_list => "workers-list",
    report => "report",
    upload => "upload",
    download => "download",
    execute => "execute",
    register => "register",
    heartbeat => "heartbeat",
    get_job => "get-job",
    long_poll => "get-job-long-poll",
    start => "start",
    start_pulling => "start-pulling",
    submit_result => "submit-result",
    start_batch => "start-batch",
    submit_results => "submit-result-batch",
    dashboard_overview => "dashboard-overview",
    dashboard_jobs => "dashboard-jobs",
    dashboard_job => "dashboard-job",
    dashboard_cancel => "dashboard-cancel",
    dashboard_workers => "dashboard-workers",
    readyz => "readyz",
    metrics => "metrics",
}
