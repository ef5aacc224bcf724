//! A worker's standing: cooldowns after repeated failures, draining, registering again.

use super::*;
use gantry::lifecycle::worker::status as worker_status;

async fn repeated_failures_cool_a_worker_down(db: TestDb) {
    let repo = db.repo(counting_every_failure()).await;
    let r = &*repo;
    worker("w").register(r).await;
    for i in 0..3 {
        let id = format!("bad{i}");
        job(&id).at(T0 + i).insert(r).await;
        let now = T0 + 100 * (i + 1);
        place_and_start(r, &id, now).await;
        r.job_finish(failure("w", &id, 1, now + 1, 1))
            .await
            .unwrap();
        let w = get_worker(r, "w").await;
        assert_eq!(w.consecutive_failures, i + 1);
        if i < 2 {
            assert_eq!(w.cooldown_until, None);
        }
    }
    let cool_end = T0 + 301 + 60_000;
    let w = get_worker(r, "w").await;
    assert_eq!(w.cooldown_until, Some(cool_end));
    assert_eq!(worker_status(&w, T0 + 400), WorkerStatus::Unhealthy);

    job("next").at(T0 + 400).insert(r).await;
    let out = r.job_place(T0 + 401, 10).await.unwrap();
    assert!(out.placed.is_empty(), "no job during the cooldown");
    let next = get_job(r, "next").await;
    assert_eq!((next.status.as_str(), next.blocked), ("QUEUED", 0));
    assert_eq!(
        r.worker_end_cooldowns(cool_end - 1).await.unwrap(),
        counts(0, 0)
    );
    assert!(r
        .job_place(cool_end - 1, 10)
        .await
        .unwrap()
        .placed
        .is_empty());

    assert_eq!(r.worker_end_cooldowns(cool_end).await.unwrap().changed, 1);
    let w = get_worker(r, "w").await;
    assert_eq!((w.cooldown_until, w.consecutive_failures), (None, 0));
    assert_eq!(worker_status(&w, cool_end), WorkerStatus::Idle);
    let p = place(r, "next", cool_end + 1).await;
    assert_eq!(p.worker_id, "w");
}

async fn a_success_resets_the_failure_count(db: TestDb) {
    let repo = db.repo(counting_every_failure()).await;
    let r = &*repo;
    worker("w").register(r).await;
    let outcomes = [1, 1, 0, 1, 1];
    let mut counts = Vec::new();
    for (i, code) in outcomes.iter().enumerate() {
        let id = format!("j{i}");
        let now = T0 + 100 * i as i64;
        job(&id).at(now).insert(r).await;
        place_and_start(r, &id, now + 1).await;
        r.job_finish(failure("w", &id, 1, now + 2, *code))
            .await
            .unwrap();
        counts.push(get_worker(r, "w").await.consecutive_failures);
    }
    assert_eq!(counts, [1, 2, 0, 1, 2]);
    assert_eq!(get_worker(r, "w").await.cooldown_until, None);
}

async fn registering_again_requeues_held_jobs(db: TestDb) {
    let repo = db.repo(policy()).await;
    let r = &*repo;
    worker("w").register(r).await;
    job("assigned").insert(r).await;
    job("running").at(T0 + 1).insert(r).await;
    r.job_place(T0 + 5, 10).await.unwrap();
    r.job_start("w", "running", 1, T0 + 6).await.unwrap();

    let w = worker("w")
        .capacity(4000, 4096)
        .parallel(8)
        .at(T0 + 100)
        .register(r)
        .await;
    assert_eq!(
        (w.cpu_milli, w.ram_total_mb, w.max_parallel_jobs),
        (4000, 4096, 8)
    );
    assert_eq!((w.registered_at, w.last_heartbeat_at), (T0 + 100, T0 + 100));
    assert_eq!(
        (w.reserved_cpu_milli, w.reserved_ram_mb, w.held_jobs),
        (0, 0, 0)
    );
    for id in ["assigned", "running"] {
        let j = get_job(r, id).await;
        assert_eq!(j.status, JobStatus::Queued, "{id}");
        assert_eq!(
            (j.attempts, j.infra_retries, j.failed_attempts),
            (1, 1, 0),
            "{id}"
        );
        let last = history(r, id).await.pop().unwrap();
        assert!(last.reason.unwrap().contains("registered again"), "{id}");
    }
    assert_eq!(
        transitions(r, "running").await,
        [
            ">QUEUED",
            "QUEUED>ASSIGNED",
            "ASSIGNED>RUNNING",
            "RUNNING>QUEUED"
        ]
    );
    let out = r.job_place(T0 + 101, 10).await.unwrap();
    assert_eq!(
        triples(&out.placed),
        [("assigned", "w", 2), ("running", "w", 2)]
    );
    assert_conflict(
        r.job_finish(result("w", "running", 1, T0 + 102)).await,
        "stale_attempt",
    );
}

async fn a_draining_worker_gets_no_new_job_until_it_registers_again(db: TestDb) {
    let repo = db.repo(policy()).await;
    let r = &*repo;
    worker("w")
        .capacity(2000, 2048)
        .parallel(2)
        .register(r)
        .await;
    let mut beat = heartbeat("w", T0 + 1, &[]);
    beat.draining = true;
    r.worker_heartbeat(beat).await.unwrap();
    job("j").at(T0 + 2).insert(r).await;
    assert!(r.job_place(T0 + 3, 10).await.unwrap().placed.is_empty());
    assert!(get_worker(r, "w").await.draining == 1);
    // A new life of the agent is no longer draining.
    worker("w")
        .capacity(2000, 2048)
        .parallel(2)
        .at(T0 + 4)
        .register(r)
        .await;
    assert_eq!(
        triples(&r.job_place(T0 + 5, 10).await.unwrap().placed),
        [("j", "w", 1)]
    );
}

crate::common::on_both_databases!(
    repeated_failures_cool_a_worker_down,
    a_success_resets_the_failure_count,
    registering_again_requeues_held_jobs,
    a_draining_worker_gets_no_new_job_until_it_registers_again,
);
