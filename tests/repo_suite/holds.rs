//! Holds (`lifecycle::hold`): a cancelled or timed-out attempt keeps its worker's reservation
//! until the agent reports it gone or the orphan grace passes, and a restarted agent that could
//! not stop its earlier jobs gets them held, not handed out again, until that grace.

use super::*;

/// A heartbeat composed well after the stop (it can prove the attempt gone).
fn late_heartbeat(
    worker_id: &str,
    now: i64,
    running: &[&str],
) -> gantry::model::WorkerHeartbeatParams {
    gantry::model::WorkerHeartbeatParams {
        lost_if_started_before: now - 1_000,
        ..heartbeat(worker_id, now, running)
    }
}

async fn a_cancelled_attempt_keeps_its_reservation_until_the_agent_drops_it(db: TestDb) {
    let repo = db.repo(policy()).await;
    let r = &*repo;
    worker("w").capacity(1000, 1024).register(r).await;
    job("big").size(800, 512).insert(r).await;
    place_and_start(r, "big", T0 + 10).await;
    job("next").size(800, 512).at(T0 + 20).insert(r).await;
    let cancelled = r.job_cancel("big", T0 + 30).await.unwrap();
    assert_eq!(
        cancelled.status,
        JobStatus::Cancelled,
        "clients see it at once"
    );
    assert_eq!(reserved(r, "w").await, (800, 512, 1));
    let out = r.job_place(T0 + 31, 10).await.unwrap();
    assert!(out.placed.is_empty(), "no room beside the stopped attempt");

    // Still listed by the agent: still held, whatever the heartbeat's age.
    let beat = late_heartbeat("w", T0 + 5_000, &["big"]);
    let answer = r.worker_heartbeat(beat).await.unwrap();
    assert_eq!(answer.stop_jobs, [stop("big", StopReason::Cancelled)]);
    assert_eq!(reserved(r, "w").await, (800, 512, 1));
    // A heartbeat that may have been composed before the stop proves nothing.
    let early = gantry::model::WorkerHeartbeatParams {
        lost_if_started_before: T0 + 30,
        ..heartbeat("w", T0 + 5_001, &[])
    };
    r.worker_heartbeat(early).await.unwrap();
    assert_eq!(reserved(r, "w").await, (800, 512, 1));
    assert!(r.job_place(T0 + 5_002, 10).await.unwrap().placed.is_empty());

    // The agent no longer lists it: the reservation is free and the next job fits.
    r.worker_heartbeat(late_heartbeat("w", T0 + 6_000, &[]))
        .await
        .unwrap();
    assert_eq!(reserved(r, "w").await, (0, 0, 0));
    place(r, "next", T0 + 6_001).await;
    assert_eq!(state(r, "big").await, JobStatus::Cancelled);
    // Its late result changes nothing and frees nothing twice.
    assert_conflict(
        r.job_finish(result("w", "big", 1, T0 + 6_002)).await,
        "wrong_state",
    );
    assert_eq!(reserved(r, "w").await, (800, 512, 1), "only `next`");
}

async fn a_silent_agents_stopped_attempt_is_released_at_the_bound(db: TestDb) {
    let repo = db.repo(policy()).await;
    let r = &*repo;
    worker("w").capacity(1000, 1024).register(r).await;
    job("big").size(800, 512).timeout_ms(1_000).insert(r).await;
    place_and_start(r, "big", T0 + 10).await;
    job("next").size(800, 512).at(T0 + 20).insert(r).await;
    let swept = r
        .job_expire_deadlines(T0 + 1_011, T0 + 2_000, 10)
        .await
        .unwrap();
    assert_eq!(swept, counts(1, 1));
    assert_eq!(state(r, "big").await, JobStatus::TimedOut);
    let bound = T0 + 2_000 + policy().orphan_grace_ms;
    assert_eq!(r.job_end_holds(bound - 1, 10).await.unwrap(), counts(0, 0));
    assert!(r.job_place(bound - 1, 10).await.unwrap().placed.is_empty());
    assert_eq!(reserved(r, "w").await, (800, 512, 1));
    assert_eq!(r.job_end_holds(bound, 10).await.unwrap(), counts(1, 1));
    assert_eq!(reserved(r, "w").await, (0, 0, 0));
    place(r, "next", bound + 1).await;
    assert_eq!(r.job_end_holds(bound + 10, 10).await.unwrap(), counts(0, 0));
    assert_eq!(state(r, "big").await, JobStatus::TimedOut);
}

async fn a_restarted_agent_that_could_not_stop_its_jobs_gets_them_held(db: TestDb) {
    let repo = db.repo(policy()).await;
    let r = &*repo;
    worker("w").capacity(1000, 1024).register(r).await;
    job("running").size(500, 256).insert(r).await;
    place_and_start(r, "running", T0 + 10).await;
    job("handed").size(200, 256).at(T0 + 11).insert(r).await;
    place(r, "handed", T0 + 11).await;
    r.job_deliver("w", 10, T0 + 12).await.unwrap();
    job("waiting").size(200, 256).at(T0 + 13).insert(r).await;
    place(r, "waiting", T0 + 13).await;
    worker("spare").at(T0 + 14).register(r).await;

    let back = T0 + 100;
    worker("w")
        .at(back)
        .earlier_jobs_not_stopped()
        .register(r)
        .await;
    assert_eq!(state(r, "running").await, JobStatus::Running);
    assert_eq!(state(r, "handed").await, JobStatus::Assigned);
    assert_eq!(
        state(r, "waiting").await,
        JobStatus::Queued,
        "never handed over"
    );
    assert_eq!(reserved(r, "w").await, (700, 512, 2));
    let placed = r.job_place(back + 1, 10).await.unwrap();
    let placed: Vec<&str> = placed.placed.iter().map(|p| p.job_id.as_str()).collect();
    assert_eq!(
        placed,
        ["waiting"],
        "only the one never handed over is given out again"
    );

    // The new life's heartbeats do not list them, and cannot prove them gone; no sweep
    // touches them before the grace passes.
    let beat = r
        .worker_heartbeat(late_heartbeat("w", back + 20_000, &[]))
        .await
        .unwrap();
    assert_eq!(beat.lost_jobs, 0);
    let late = back + 25_000;
    assert_eq!(
        r.job_requeue_unstarted(late, late, 10).await.unwrap(),
        counts(2, 1)
    );
    // `waiting`, given out again and never started, is requeued; the held one is not.
    assert_eq!(state(r, "handed").await, JobStatus::Assigned);
    let bound = back + policy().orphan_grace_ms;
    assert_eq!(r.job_end_holds(bound - 1, 10).await.unwrap(), counts(0, 0));
    assert!(r.job_deliver("w", 10, bound - 1).await.unwrap().is_empty());

    assert_eq!(r.job_end_holds(bound, 10).await.unwrap(), counts(2, 2));
    assert_eq!(state(r, "running").await, JobStatus::Queued);
    assert_eq!(state(r, "handed").await, JobStatus::Queued);
    assert_eq!(reserved(r, "w").await, (0, 0, 0));
    let last = transitions(r, "running").await;
    assert_eq!(last.last().unwrap(), "RUNNING>QUEUED");
    let job = get_job(r, "running").await;
    assert!(job.reason.unwrap().contains("orphan grace passed"));
    assert_eq!(job.held_on, None);
}

async fn a_restarted_agent_that_stopped_its_jobs_frees_everything_at_once(db: TestDb) {
    let repo = db.repo(policy()).await;
    let r = &*repo;
    worker("w").capacity(1000, 1024).register(r).await;
    job("cancelled").size(500, 256).insert(r).await;
    place_and_start(r, "cancelled", T0 + 10).await;
    job("running").size(200, 256).at(T0 + 11).insert(r).await;
    place_and_start(r, "running", T0 + 11).await;
    r.job_cancel("cancelled", T0 + 12).await.unwrap();
    assert_eq!(reserved(r, "w").await, (700, 512, 2));
    worker("w").at(T0 + 100).register(r).await;
    assert_eq!(reserved(r, "w").await, (0, 0, 0));
    assert_eq!(state(r, "running").await, JobStatus::Queued);
    assert_eq!(state(r, "cancelled").await, JobStatus::Cancelled);
    assert_eq!(
        r.job_end_holds(T0 + 1_000_000, 10).await.unwrap(),
        counts(0, 0)
    );
}

/// The batch form settles holds as the single one does.
async fn results_in_a_batch_settle_holds_as_single_ones_do(db: TestDb) {
    let repo = db.repo(policy()).await;
    let r = &*repo;
    worker("w").capacity(1000, 1024).register(r).await;
    job("orphan").size(800, 512).insert(r).await;
    place_and_start(r, "orphan", T0 + 10).await;
    worker("w")
        .capacity(1000, 1024)
        .at(T0 + 20)
        .earlier_jobs_not_stopped()
        .register(r)
        .await;
    assert!(get_job(r, "orphan").await.held_on.is_some());
    // The earlier life's result comes in after all: the job ends, and so does its hold.
    let out = r
        .job_finish_many(vec![result("w", "orphan", 1, T0 + 30)])
        .await
        .unwrap();
    assert_eq!(out[0].as_ref().unwrap().status, JobStatus::Completed);
    assert_eq!(get_job(r, "orphan").await.held_on, None);
    assert_eq!(reserved(r, "w").await, (0, 0, 0));
    r.job_end_holds(T0 + 1_000_000, 10).await.unwrap();
    assert_eq!(
        reserved(r, "w").await,
        (0, 0, 0),
        "nothing given back twice"
    );

    // A cancelled attempt's result frees its reservation and leaves the job as it is.
    job("big").size(800, 512).at(T0 + 40).insert(r).await;
    place_and_start(r, "big", T0 + 50).await;
    r.job_cancel("big", T0 + 60).await.unwrap();
    assert_eq!(reserved(r, "w").await, (800, 512, 1));
    let out = r
        .job_finish_many(vec![result("w", "big", 1, T0 + 70)])
        .await
        .unwrap();
    assert_eq!(out[0].as_ref().unwrap().status, JobStatus::Cancelled);
    assert_eq!(get_job(r, "big").await.held_on, None);
    assert_eq!(reserved(r, "w").await, (0, 0, 0));
}

crate::common::on_both_databases!(
    results_in_a_batch_settle_holds_as_single_ones_do,
    a_cancelled_attempt_keeps_its_reservation_until_the_agent_drops_it,
    a_silent_agents_stopped_attempt_is_released_at_the_bound,
    a_restarted_agent_that_could_not_stop_its_jobs_gets_them_held,
    a_restarted_agent_that_stopped_its_jobs_frees_everything_at_once,
    a_held_job_is_not_pruned_before_its_hold_ends,
);

/// A job whose stopped attempt still holds its worker's reservation is not pruned with the
/// hold (nothing would give the reservation back): with a job retention shorter than a hold
/// lasts (the orphan grace, more while the hold sweep fails) the reservation leaked before
/// `jobs_prunable.sql` skipped held jobs.
async fn a_held_job_is_not_pruned_before_its_hold_ends(db: TestDb) {
    let repo = db.repo(policy()).await;
    let r = &*repo;
    worker("w").capacity(1000, 1024).register(r).await;
    job("big").size(800, 512).insert(r).await;
    place_and_start(r, "big", T0 + 10).await;
    r.job_cancel("big", T0 + 30).await.unwrap();
    r.job_rollup(T0 + 100, 1000).await.unwrap();
    r.job_prune(T0 + 100, 1000).await.unwrap();
    assert!(
        r.job_get("big").await.unwrap().is_some(),
        "pruned with its hold"
    );
    r.job_end_holds(T0 + 1_000_000, 10).await.unwrap();
    assert_eq!(reserved(r, "w").await, (0, 0, 0));
}
