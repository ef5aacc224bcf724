//! Whose fault an attempt's end was, stored on its history row, and what cools a worker down
//! under the default rule: the worker's own faults, and failures a success elsewhere exposes;
//! never the job's own failures.

use super::*;
use gantry::lifecycle::worker::status as worker_status;
use gantry::model::{JobFinishParams, WorkerHeartbeatParams};
use gantry_api::Fault;

async fn only_the_workers_own_faults_cool_it_down(db: TestDb) {
    let repo = db.repo(policy()).await;
    let r = &*repo;
    worker("w").register(r).await;
    for i in 0..5 {
        let id = format!("failing-test-suite-{i}");
        job(&id).at(T0 + i).insert(r).await;
        let now = T0 + 100 * (i + 1);
        place_and_start(r, &id, now).await;
        r.job_finish(failure("w", &id, 1, now + 1, 1))
            .await
            .unwrap();
        assert_eq!(state(r, &id).await, JobStatus::Failed);
    }
    let w = get_worker(r, "w").await;
    assert_eq!((w.consecutive_failures, w.cooldown_until), (0, None));
    let last = history(r, "failing-test-suite-4").await.pop().unwrap();
    assert_eq!(last.fault, Some(Fault::Job));

    for i in 0..3 {
        let id = format!("engine-{i}");
        job(&id).at(T0 + 1_000 + i).insert(r).await;
        let now = T0 + 1_000 + 100 * (i + 1);
        place_and_start(r, &id, now).await;
        r.job_finish(worker_fault("w", &id, 1, now + 1))
            .await
            .unwrap();
    }
    let w = get_worker(r, "w").await;
    assert_eq!(w.consecutive_failures, 3);
    assert_eq!(w.cooldown_until, Some(T0 + 1_301 + 60_000));
    assert_eq!(worker_status(&w, T0 + 1_400), WorkerStatus::Unhealthy);
    let last = history(r, "engine-2").await.pop().unwrap();
    assert_eq!(
        (last.to_status, last.fault),
        (JobStatus::Queued, Some(Fault::Worker)),
        "requeued from the infrastructure budget, blamed on the worker"
    );
}

async fn a_success_elsewhere_counts_the_failure_against_its_worker(db: TestDb) {
    let repo = db.repo(policy()).await;
    let r = &*repo;
    worker("flaky").capacity(1000, 1024).register(r).await;
    job("j").max_retries(1).insert(r).await;
    place_and_start(r, "j", T0 + 1).await;
    r.job_finish(failure("flaky", "j", 1, T0 + 2, 1))
        .await
        .unwrap();
    assert_eq!(get_worker(r, "flaky").await.consecutive_failures, 0);

    // The retry goes to another worker (the first one drains) and succeeds there.
    worker("steady").register(r).await;
    r.worker_heartbeat(WorkerHeartbeatParams {
        draining: true,
        ..heartbeat("flaky", T0 + 3, &[])
    })
    .await
    .unwrap();
    let due = get_job(r, "j").await.run_at;
    let p = place_and_start(r, "j", due).await;
    assert_eq!((p.worker_id.as_str(), p.attempt), ("steady", 2));
    r.job_finish(result("steady", "j", 2, due + 1))
        .await
        .unwrap();
    assert_eq!(state(r, "j").await, JobStatus::Completed);
    assert_eq!(
        get_worker(r, "flaky").await.consecutive_failures,
        1,
        "the job could succeed, so its failure was the host's"
    );
    assert_eq!(get_worker(r, "steady").await.consecutive_failures, 0);
}

/// A pull its registry failed (down, login refused), as the agent reports it.
fn registry_fault(worker_id: &str, job_id: &str, attempt: i64, now: i64) -> JobFinishParams {
    JobFinishParams {
        exit_code: None,
        error: Some("could not pull image `r:1` from registry r: connection refused".into()),
        infrastructure_error: true,
        registry_error: true,
        ..result(worker_id, job_id, attempt, now)
    }
}

async fn a_registry_outage_cools_no_worker_down_until_a_success_elsewhere(db: TestDb) {
    let repo = db.repo(policy()).await;
    let r = &*repo;
    worker("w").capacity(1000, 1024).register(r).await;
    // Three jobs whose registry is down, in a row: were they held against the worker, it
    // would cool down (the policy's threshold is 3).
    for i in 0..3 {
        let id = format!("outage-{i}");
        job(&id).at(T0 + i).insert(r).await;
        let now = T0 + 100 * (i + 1);
        place_and_start(r, &id, now).await;
        r.job_finish(registry_fault("w", &id, 1, now + 1))
            .await
            .unwrap();
        let j = get_job(r, &id).await;
        assert_eq!(
            (j.status, j.infra_retries, j.failed_attempts),
            (JobStatus::Pending, 1, 0),
            "retried from the infrastructure budget, after a backoff"
        );
        assert!(j.run_at > now + 1, "{j:?}");
        let last = history(r, &id).await.pop().unwrap();
        assert_eq!(last.fault, Some(Fault::Registry));
    }
    let w = get_worker(r, "w").await;
    assert_eq!((w.consecutive_failures, w.cooldown_until), (0, None));

    // The same job then succeeds on another worker: the failure was this host's after all.
    worker("other").register(r).await;
    r.worker_heartbeat(WorkerHeartbeatParams {
        draining: true,
        ..heartbeat("w", T0 + 500, &[])
    })
    .await
    .unwrap();
    let due = get_job(r, "outage-0").await.run_at.max(T0 + 501);
    let p = place_and_start(r, "outage-0", due).await;
    assert_eq!(p.worker_id, "other");
    r.job_finish(result("other", "outage-0", p.attempt, due + 1))
        .await
        .unwrap();
    assert_eq!(get_worker(r, "w").await.consecutive_failures, 1);
}

async fn cancels_are_the_operators(db: TestDb) {
    let repo = db.repo(policy()).await;
    let r = &*repo;
    worker("w").register(r).await;
    job("c").insert(r).await;
    place_and_start(r, "c", T0 + 1).await;
    r.job_cancel("c", T0 + 2).await.unwrap();
    let last = history(r, "c").await.pop().unwrap();
    assert_eq!(
        (last.to_status, last.fault),
        (JobStatus::Cancelled, Some(Fault::Operator))
    );
    assert_eq!(get_worker(r, "w").await.consecutive_failures, 0);
}

crate::common::on_both_databases!(
    only_the_workers_own_faults_cool_it_down,
    a_success_elsewhere_counts_the_failure_against_its_worker,
    a_registry_outage_cools_no_worker_down_until_a_success_elsewhere,
    cancels_are_the_operators,
);
