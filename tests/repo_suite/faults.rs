//! Whose fault an attempt's end was, stored on its history row, and what cools a worker down
//! under the default rule: the worker's own faults, and failures a success elsewhere exposes;
//! never the job's own failures.

use super::*;
use gantry::lifecycle::worker::status as worker_status;
use gantry::model::WorkerHeartbeatParams;
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
    cancels_are_the_operators,
);
