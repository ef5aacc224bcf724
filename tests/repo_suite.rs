//! The repository suite: every `Repo` method, every job transition and every refusal, run
//! against both SQLite and PostgreSQL. Time is a parameter, so nothing here sleeps.

mod common;

use common::builders::*;
use common::TestDb;
use gantry::repo::{
    Dialect, JobListParams, Placement, Policy, Repo, RepoError, SweepCounts, UploadInsertParams,
};
use gantry_api::{JobStatus, StopJob, StopReason, WorkerStatus};

/// Short, readable numbers: 1 s backoff base, two infrastructure retries, cooldown after three
/// failures for a minute.
fn policy() -> Policy {
    Policy {
        retry_backoff_ms: 1_000,
        retry_backoff_cap_ms: 60_000,
        infra_retry_budget: 2,
        cooldown_after_failures: 3,
        worker_cooldown_ms: 60_000,
    }
}

/// Places at `now` and returns the placement of `job_id`, which must have been placed.
async fn place(r: &dyn Repo, job_id: &str, now: i64) -> Placement {
    let out = r.job_place(now, 100).await.expect("job_place");
    out.placed
        .into_iter()
        .find(|p| p.job_id == job_id)
        .unwrap_or_else(|| panic!("job {job_id} was not placed"))
}

/// Places and starts `job_id` at `now`.
async fn place_and_start(r: &dyn Repo, job_id: &str, now: i64) -> Placement {
    let p = place(r, job_id, now).await;
    r.job_start(&p.worker_id, job_id, p.attempt, now)
        .await
        .expect("job_start");
    p
}

/// Placements as (job, worker, attempt) for compact comparisons.
fn triples(placed: &[Placement]) -> Vec<(&str, &str, i64)> {
    placed
        .iter()
        .map(|p| (p.job_id.as_str(), p.worker_id.as_str(), p.attempt))
        .collect()
}

fn stop(job_id: &str, reason: StopReason) -> StopJob {
    StopJob {
        job_id: job_id.to_string(),
        reason,
    }
}

fn ids(jobs: &[gantry::repo::JobRecord]) -> Vec<&str> {
    jobs.iter().map(|j| j.id.as_str()).collect()
}

async fn job_insert_queues_or_defers_and_honours_idempotency_keys(db: TestDb) {
    let repo = db.repo(policy()).await;
    let r = &*repo;
    let expected = if db.backend == "sqlite" {
        Dialect::Sqlite
    } else {
        Dialect::Postgres
    };
    assert_eq!(r.dialect(), expected);
    r.ping().await.unwrap();
    assert_eq!(
        r.migrate().await.unwrap(),
        0,
        "a second migrate applies nothing"
    );
    assert_eq!(r.job_next_due().await.unwrap(), None);
    worker("w1").register(r).await;

    let a = job("a").env("K", "V").insert(r).await;
    assert_eq!(a.status, "QUEUED");
    assert_eq!((a.queued_at, a.run_at, a.created_at), (Some(T0), T0, T0));
    assert_eq!((a.blocked, a.reason.as_deref()), (0, None));
    assert_eq!((a.attempts, a.worker_id.as_deref()), (0, None));
    assert_eq!(
        a.to_api().unwrap().env.get("K").map(String::as_str),
        Some("V")
    );

    let b = job("b").run_at(T0 + 5_000).insert(r).await;
    assert_eq!(b.status, "PENDING");
    assert_eq!((b.queued_at, b.run_at), (None, T0 + 5_000));
    assert_eq!(r.job_next_due().await.unwrap(), Some(T0 + 5_000));

    let c = job("c").key("k1").insert(r).await;
    let (again, fresh) = r
        .job_insert(job("d").command("something else").key("k1").params)
        .await
        .unwrap();
    assert!(!fresh, "a used idempotency key inserts nothing");
    assert_eq!(
        (again.id.as_str(), again.command.as_str()),
        ("c", c.command.as_str())
    );
    assert!(r.job_get("d").await.unwrap().is_none());
    assert!(r.job_get("missing").await.unwrap().is_none());

    assert_eq!(transitions(r, "a").await, [">QUEUED"]);
    assert_eq!(transitions(r, "b").await, [">PENDING"]);
    assert_eq!(
        transitions(r, "c").await,
        [">QUEUED"],
        "no second row for the key"
    );
    let h = &history(r, "a").await[0];
    assert_eq!((h.attempt, h.worker_id.as_deref(), h.at), (0, None, T0));
    assert_eq!(h.reason.as_deref(), Some("created"));
}

async fn a_job_fitting_no_online_worker_is_blocked_until_one_registers(db: TestDb) {
    let repo = db.repo(policy()).await;
    let r = &*repo;
    let lonely = job("lonely").insert(r).await;
    assert_eq!((lonely.status.as_str(), lonely.blocked), ("QUEUED", 1));
    assert_eq!(
        lonely.reason.as_deref(),
        Some("fits no worker: no worker is online (needs 0.5 CPU and 256 MiB)")
    );

    worker("small").capacity(1000, 1024).register(r).await;
    let lonely = get_job(r, "lonely").await;
    assert_eq!(
        (lonely.blocked, lonely.reason),
        (0, None),
        "a fitting worker unblocks it"
    );

    let big = job("big").size(4000, 8192).at(T0 + 1).insert(r).await;
    assert_eq!((big.status.as_str(), big.blocked), ("QUEUED", 1));
    assert_eq!(
        big.reason.as_deref(),
        Some(
            "fits no worker: needs 4 CPU and 8192 MiB; the largest of 1 online workers offer \
             1 CPU and 1024 MiB"
        )
    );
    let out = r.job_place(T0 + 2, 10).await.unwrap();
    assert_eq!(triples(&out.placed), [("lonely", "small", 1)]);
    assert_eq!((out.promoted, out.blocked), (0, 0));
    let big = get_job(r, "big").await;
    assert_eq!((big.status.as_str(), big.blocked), ("QUEUED", 1));

    worker("large")
        .capacity(8000, 16384)
        .at(T0 + 3)
        .register(r)
        .await;
    let big = get_job(r, "big").await;
    assert_eq!((big.blocked, big.reason), (0, None));
    let out = r.job_place(T0 + 4, 10).await.unwrap();
    assert_eq!(triples(&out.placed), [("big", "large", 1)]);
    assert_eq!(
        transitions(r, "big").await,
        [">QUEUED", "QUEUED>ASSIGNED"],
        "blocking is not a state change"
    );
}

async fn placement_blocks_a_job_whose_only_fitting_worker_went_offline(db: TestDb) {
    let repo = db.repo(policy()).await;
    let r = &*repo;
    worker("large").capacity(8000, 8192).register(r).await;
    worker("small")
        .capacity(1000, 1024)
        .at(T0 + 20_000)
        .register(r)
        .await;
    let big = job("big").size(4000, 4096).insert(r).await;
    assert_eq!(big.blocked, 0);

    let swept = r
        .worker_expire_heartbeats(T0 + 10_000, T0 + 20_000, 10)
        .await
        .unwrap();
    assert_eq!(
        swept,
        SweepCounts {
            examined: 1,
            changed: 1
        }
    );
    let out = r.job_place(T0 + 20_001, 10).await.unwrap();
    assert!(out.placed.is_empty());
    assert_eq!(out.blocked, 1);
    let big = get_job(r, "big").await;
    assert_eq!((big.status.as_str(), big.blocked), ("QUEUED", 1));
    assert_eq!(
        big.reason.as_deref(),
        Some(
            "fits no worker: needs 4 CPU and 4096 MiB; the largest of 1 online workers offer \
             1 CPU and 1024 MiB"
        )
    );

    let back = r
        .worker_heartbeat(heartbeat("large", T0 + 21_000, &[]))
        .await
        .unwrap();
    assert!(back.came_back);
    assert_eq!(get_job(r, "big").await.blocked, 0, "its worker came back");
    let p = place(r, "big", T0 + 21_001).await;
    assert_eq!((p.worker_id.as_str(), p.attempt), ("large", 1));
}

async fn a_deferred_job_fitting_no_worker_is_unblocked_by_a_worker_joining_before_it_is_due(
    db: TestDb,
) {
    let repo = db.repo(policy()).await;
    let r = &*repo;
    worker("small").capacity(1000, 1024).register(r).await;
    let later = job("later")
        .size(4000, 4096)
        .run_at(T0 + 1_000)
        .insert(r)
        .await;
    assert_eq!((later.status.as_str(), later.blocked), ("PENDING", 1));

    worker("large")
        .capacity(8000, 8192)
        .at(T0 + 500)
        .register(r)
        .await;
    let out = r.job_place(T0 + 1_000, 10).await.unwrap();
    assert_eq!(out.promoted, 1);
    assert_eq!(
        triples(&out.placed),
        [("later", "large", 1)],
        "a worker that fits registered while the job waited for its run time"
    );
    assert_eq!(get_job(r, "later").await.reason, None);
}

async fn placement_prefers_the_tighter_worker(db: TestDb) {
    let repo = db.repo(policy()).await;
    let r = &*repo;
    worker("big").capacity(8000, 16384).register(r).await;
    worker("small").capacity(2000, 2048).register(r).await;
    job("fits-both").size(1000, 512).insert(r).await;
    job("only-big").size(4000, 512).at(T0 + 1).insert(r).await;

    let out = r.job_place(T0 + 2, 10).await.unwrap();
    assert_eq!(
        triples(&out.placed),
        [("fits-both", "small", 1), ("only-big", "big", 1)]
    );
    assert_eq!(reserved(r, "small").await, (1000, 512, 1));
    assert_eq!(reserved(r, "big").await, (4000, 512, 1));
    let j = get_job(r, "fits-both").await;
    assert_eq!(j.status, "ASSIGNED");
    assert_eq!(
        (j.worker_id.as_deref(), j.assigned_at, j.attempts),
        (Some("small"), Some(T0 + 2), 1)
    );
    let h = history(r, "fits-both").await;
    assert_eq!(
        (h[1].worker_id.as_deref(), h[1].attempt, h[1].at),
        (Some("small"), 1, T0 + 2)
    );
}

async fn placement_goes_by_priority_then_age_within_the_parallelism_limit(db: TestDb) {
    let repo = db.repo(policy()).await;
    let r = &*repo;
    worker("w")
        .capacity(8000, 8192)
        .parallel(3)
        .register(r)
        .await;
    job("old").insert(r).await;
    job("new").at(T0 + 1).insert(r).await;
    job("urgent").priority(5).at(T0 + 2).insert(r).await;
    job("tie-b").at(T0 + 3).insert(r).await;
    job("tie-a").at(T0 + 3).insert(r).await;

    let out = r.job_place(T0 + 10, 100).await.unwrap();
    assert_eq!(
        triples(&out.placed),
        [("urgent", "w", 1), ("old", "w", 1), ("new", "w", 1)]
    );
    assert_eq!(reserved(r, "w").await, (1500, 768, 3));
    assert!(r.job_place(T0 + 11, 100).await.unwrap().placed.is_empty());
    assert_eq!(state(r, "tie-a").await, JobStatus::Queued);
    assert_eq!(
        get_job(r, "tie-a").await.reason,
        None,
        "waiting for room is not blocked"
    );

    r.job_start("w", "urgent", 1, T0 + 12).await.unwrap();
    r.job_finish(result("w", "urgent", 1, T0 + 13))
        .await
        .unwrap();
    let out = r.job_place(T0 + 14, 100).await.unwrap();
    assert_eq!(
        triples(&out.placed),
        [("tie-a", "w", 1)],
        "equal age: lower id first"
    );
    assert_eq!(state(r, "tie-b").await, JobStatus::Queued);
}

async fn placement_never_over_reserves_and_honours_its_limit(db: TestDb) {
    let repo = db.repo(policy()).await;
    let r = &*repo;
    worker("w")
        .capacity(2000, 2048)
        .parallel(10)
        .register(r)
        .await;
    for (i, id) in ["c1", "c2", "c3"].iter().enumerate() {
        job(id).size(800, 100).at(T0 + i as i64).insert(r).await;
    }
    job("fat").size(100, 1900).at(T0 + 3).insert(r).await;
    job("small").size(400, 100).at(T0 + 4).insert(r).await;

    let first = r.job_place(T0 + 10, 1).await.unwrap();
    assert_eq!(
        triples(&first.placed),
        [("c1", "w", 1)],
        "limit 1 places one"
    );
    let out = r.job_place(T0 + 11, 100).await.unwrap();
    assert_eq!(triples(&out.placed), [("c2", "w", 1), ("small", "w", 1)]);
    assert_eq!(reserved(r, "w").await, (2000, 300, 3));
    for id in ["c3", "fat"] {
        let j = get_job(r, id).await;
        assert_eq!(
            (j.status.as_str(), j.blocked),
            ("QUEUED", 0),
            "{id} waits for room"
        );
    }
    assert!(r.job_place(T0 + 12, 100).await.unwrap().placed.is_empty());

    r.job_start("w", "c1", 1, T0 + 13).await.unwrap();
    r.job_finish(result("w", "c1", 1, T0 + 14)).await.unwrap();
    assert_eq!(reserved(r, "w").await, (1200, 200, 2));
    let out = r.job_place(T0 + 15, 100).await.unwrap();
    assert_eq!(
        triples(&out.placed),
        [("c3", "w", 1)],
        "fat needs more RAM than is free"
    );
    assert_eq!(reserved(r, "w").await, (2000, 300, 3));
}

async fn due_pending_jobs_are_promoted_in_run_time_order(db: TestDb) {
    let repo = db.repo(policy()).await;
    let r = &*repo;
    worker("w")
        .capacity(8000, 8192)
        .parallel(10)
        .register(r)
        .await;
    job("p300").run_at(T0 + 300).insert(r).await;
    job("p100").run_at(T0 + 100).insert(r).await;
    job("p200").run_at(T0 + 200).insert(r).await;

    let out = r.job_place(T0 + 99, 10).await.unwrap();
    assert_eq!((out.promoted, out.placed.len()), (0, 0));
    let out = r.job_place(T0 + 150, 10).await.unwrap();
    assert_eq!(out.promoted, 1);
    assert_eq!(triples(&out.placed), [("p100", "w", 1)]);
    assert_eq!(r.job_next_due().await.unwrap(), Some(T0 + 200));

    let out = r.job_place(T0 + 1_000, 1).await.unwrap();
    assert_eq!(out.promoted, 1, "at most `limit` promoted per pass");
    assert_eq!(triples(&out.placed), [("p200", "w", 1)]);
    assert_eq!(state(r, "p300").await, JobStatus::Pending);
    let out = r.job_place(T0 + 1_001, 10).await.unwrap();
    assert_eq!(out.promoted, 1);
    assert_eq!(r.job_next_due().await.unwrap(), None);

    assert_eq!(
        transitions(r, "p100").await,
        [">PENDING", "PENDING>QUEUED", "QUEUED>ASSIGNED"]
    );
    let h = history(r, "p100").await;
    assert_eq!((h[1].at, h[1].worker_id.as_deref()), (T0 + 150, None));
    assert_eq!(get_job(r, "p100").await.queued_at, Some(T0 + 150));
}

async fn deliver_hands_out_each_assignment_once(db: TestDb) {
    let repo = db.repo(policy()).await;
    let r = &*repo;
    worker("w")
        .capacity(8000, 8192)
        .parallel(10)
        .register(r)
        .await;
    worker("idle").capacity(100, 10).register(r).await;
    for i in 0..3 {
        job(&format!("j{i}")).at(T0 + i).insert(r).await;
        r.job_place(T0 + 10 + i, 1).await.unwrap();
    }

    assert!(r.job_deliver("idle", 10, T0 + 11).await.unwrap().is_empty());
    let first = r.job_deliver("w", 2, T0 + 12).await.unwrap();
    assert_eq!(ids(&first), ["j0", "j1"]);
    assert!(first.iter().all(|j| j.delivered_at == Some(T0 + 12)));
    assert!(first
        .iter()
        .all(|j| j.status == "ASSIGNED" && j.attempts == 1));
    let second = r.job_deliver("w", 10, T0 + 13).await.unwrap();
    assert_eq!(ids(&second), ["j2"]);
    assert!(r.job_deliver("w", 10, T0 + 14).await.unwrap().is_empty());
    assert_eq!(get_job(r, "j0").await.delivered_at, Some(T0 + 12));
    assert_eq!(
        transitions(r, "j0").await,
        [">QUEUED", "QUEUED>ASSIGNED"],
        "delivery is not a state change"
    );
}

async fn start_is_fenced_by_worker_and_attempt_and_idempotent(db: TestDb) {
    let repo = db.repo(policy()).await;
    let r = &*repo;
    worker("w1").register(r).await;
    worker("w2").capacity(100, 10).register(r).await;
    job("j").timeout_ms(5_000).insert(r).await;
    job("waiting").size(4000, 100).at(T0 + 1).insert(r).await;
    assert_conflict(r.job_start("w1", "waiting", 0, T0 + 2).await, "not_holder");

    let p = place(r, "j", T0 + 10).await;
    assert_eq!((p.worker_id.as_str(), p.attempt), ("w1", 1));
    assert_conflict(r.job_start("w2", "j", 1, T0 + 11).await, "not_holder");
    assert_conflict(r.job_start("w1", "j", 2, T0 + 11).await, "stale_attempt");
    assert_conflict(r.job_start("w1", "j", 0, T0 + 11).await, "stale_attempt");
    assert_not_found(r.job_start("w1", "missing", 1, T0 + 11).await, "job");
    assert_eq!(state(r, "j").await, JobStatus::Assigned);

    let started = r.job_start("w1", "j", 1, T0 + 20).await.unwrap();
    assert_eq!(started.status, "RUNNING");
    assert_eq!(
        (
            started.started_at,
            started.deadline_at,
            started.delivered_at
        ),
        (Some(T0 + 20), Some(T0 + 5_020), Some(T0 + 20))
    );
    let again = r.job_start("w1", "j", 1, T0 + 30).await.unwrap();
    assert_eq!(again.status, "RUNNING");
    assert_eq!(
        (again.started_at, again.deadline_at),
        (Some(T0 + 20), Some(T0 + 5_020))
    );
    assert_conflict(r.job_start("w2", "j", 1, T0 + 31).await, "not_holder");
    assert_conflict(r.job_start("w1", "j", 2, T0 + 31).await, "stale_attempt");
    assert_eq!(
        transitions(r, "j").await,
        [">QUEUED", "QUEUED>ASSIGNED", "ASSIGNED>RUNNING"]
    );
    r.job_finish(result("w1", "j", 1, T0 + 40)).await.unwrap();
    assert_conflict(r.job_start("w1", "j", 1, T0 + 41).await, "wrong_state");
}

async fn a_success_completes_releases_and_refuses_any_second_result(db: TestDb) {
    let repo = db.repo(policy()).await;
    let r = &*repo;
    worker("w1").register(r).await;
    worker("w2").register(r).await;
    job("j").size(750, 300).insert(r).await;
    let p = place_and_start(r, "j", T0 + 10).await;
    let holder = p.worker_id.clone();
    let other = if holder == "w1" { "w2" } else { "w1" };
    assert_eq!(reserved(r, &holder).await, (750, 300, 1));

    assert_conflict(
        r.job_finish(result(other, "j", 1, T0 + 15)).await,
        "not_holder",
    );
    assert_conflict(
        r.job_finish(result(&holder, "j", 2, T0 + 15)).await,
        "stale_attempt",
    );
    assert_not_found(
        r.job_finish(result(&holder, "missing", 1, T0 + 15)).await,
        "job",
    );
    assert_eq!(
        state(r, "j").await,
        JobStatus::Running,
        "refusals change nothing"
    );
    assert_eq!(reserved(r, &holder).await, (750, 300, 1));

    let mut ok = result(&holder, "j", 1, T0 + 20);
    ok.stdout = Some("hello".into());
    ok.duration_ms = Some(9);
    let done = r.job_finish(ok).await.unwrap();
    assert_eq!(done.status, "COMPLETED");
    assert_eq!(
        (done.exit_code, done.stdout.as_deref(), done.duration_ms),
        (Some(0), Some("hello"), Some(9))
    );
    assert_eq!(
        (done.finished_at, done.deadline_at, done.reason),
        (Some(T0 + 20), None, None)
    );
    assert_eq!(reserved(r, &holder).await, (0, 0, 0));
    assert_eq!(reserved(r, other).await, (0, 0, 0));

    let mut late = failure(&holder, "j", 1, T0 + 30, 1);
    late.stdout = Some("overwritten?".into());
    assert_conflict(r.job_finish(late).await, "wrong_state");
    assert_conflict(
        r.job_finish(result(other, "j", 1, T0 + 31)).await,
        "wrong_state",
    );
    let after = get_job(r, "j").await;
    assert_eq!(
        (
            after.status.as_str(),
            after.exit_code,
            after.stdout.as_deref(),
            after.finished_at
        ),
        ("COMPLETED", Some(0), Some("hello"), Some(T0 + 20))
    );
    assert_eq!(reserved(r, &holder).await, (0, 0, 0), "no double release");
    assert_eq!(
        transitions(r, "j").await,
        [
            ">QUEUED",
            "QUEUED>ASSIGNED",
            "ASSIGNED>RUNNING",
            "RUNNING>COMPLETED"
        ]
    );
}

async fn a_failure_retries_after_a_backoff_then_fails(db: TestDb) {
    let repo = db.repo(policy()).await;
    let r = &*repo;
    worker("w").register(r).await;
    job("j").max_retries(1).insert(r).await;
    job("once").at(T0 + 1).insert(r).await;

    place_and_start(r, "j", T0 + 10).await;
    let failed = r
        .job_finish(failure("w", "j", 1, T0 + 20, 3))
        .await
        .unwrap();
    assert_eq!(failed.status, "PENDING");
    assert_eq!((failed.failed_attempts, failed.infra_retries), (1, 0));
    assert!(
        (T0 + 20 + 800..=T0 + 20 + 1_200).contains(&failed.run_at),
        "backoff of 1 s +-20%: run_at {}",
        failed.run_at - T0
    );
    assert_eq!(failed.exit_code, Some(3));
    assert!(failed
        .reason
        .as_deref()
        .unwrap()
        .starts_with("exit code 3; retry 1 of 1 in "));
    assert_eq!(failed.finished_at, None);
    assert_eq!(r.job_next_due().await.unwrap(), Some(failed.run_at));
    r.job_start("w", "once", 1, T0 + 21).await.unwrap();
    r.job_finish(result("w", "once", 1, T0 + 22)).await.unwrap();
    assert_eq!(reserved(r, "w").await, (0, 0, 0));

    let early = r.job_place(failed.run_at - 1, 10).await.unwrap();
    assert_eq!(
        (early.promoted, early.placed.len()),
        (0, 0),
        "still backing off"
    );
    let p = place_and_start(r, "j", failed.run_at).await;
    assert_eq!(p.attempt, 2);
    let end = r
        .job_finish(failure("w", "j", 2, failed.run_at + 5, 4))
        .await
        .unwrap();
    assert_eq!(end.status, "FAILED");
    assert_eq!(
        (end.failed_attempts, end.attempts, end.exit_code),
        (2, 2, Some(4))
    );
    assert_eq!(end.finished_at, Some(failed.run_at + 5));
    assert_eq!(
        end.reason.as_deref(),
        Some("exit code 4; no retries left (1 allowed)")
    );
    assert_eq!(reserved(r, "w").await, (0, 0, 0));
    assert_eq!(
        transitions(r, "j").await,
        [
            ">QUEUED",
            "QUEUED>ASSIGNED",
            "ASSIGNED>RUNNING",
            "RUNNING>PENDING",
            "PENDING>QUEUED",
            "QUEUED>ASSIGNED",
            "ASSIGNED>RUNNING",
            "RUNNING>FAILED"
        ]
    );
    let attempts: Vec<i64> = history(r, "j").await.iter().map(|h| h.attempt).collect();
    assert_eq!(attempts, [0, 1, 1, 1, 1, 2, 2, 2]);
}

async fn a_reported_timeout_or_oom_ends_the_job_without_retries(db: TestDb) {
    let repo = db.repo(policy()).await;
    let r = &*repo;
    worker("w").register(r).await;
    job("slow").insert(r).await;
    job("fat").at(T0 + 1).insert(r).await;
    place_and_start(r, "slow", T0 + 10).await;
    r.job_start("w", "fat", 1, T0 + 10).await.unwrap();

    let mut timed_out = failure("w", "slow", 1, T0 + 20, 137);
    timed_out.timed_out = true;
    let slow = r.job_finish(timed_out).await.unwrap();
    assert_eq!(slow.status, "TIMED_OUT");
    assert_eq!((slow.failed_attempts, slow.finished_at), (1, Some(T0 + 20)));

    let mut oom = failure("w", "fat", 1, T0 + 21, 137);
    oom.oom_killed = true;
    let fat = r.job_finish(oom).await.unwrap();
    assert_eq!((fat.status.as_str(), fat.oom_killed), ("FAILED", 1));
    assert_eq!(fat.reason.as_deref(), Some("out of memory"));
    assert_eq!(
        transitions(r, "slow").await.last().unwrap(),
        "RUNNING>TIMED_OUT"
    );
    assert_eq!(reserved(r, "w").await, (0, 0, 0));
}

async fn an_infrastructure_error_uses_the_infrastructure_budget(db: TestDb) {
    let repo = db.repo(policy()).await;
    let r = &*repo;
    worker("w").register(r).await;
    job("j").max_retries(0).insert(r).await;

    for attempt in 1..=2 {
        let now = T0 + attempt * 100;
        let p = place(r, "j", now).await;
        assert_eq!(p.attempt, attempt);
        let mut lost = result("w", "j", attempt, now + 1);
        lost.exit_code = None;
        lost.infrastructure_error = true;
        lost.error = Some("container could not start".into());
        let j = r.job_finish(lost).await.unwrap();
        assert_eq!(j.status, "QUEUED", "requeued at once, attempt {attempt}");
        assert_eq!((j.infra_retries, j.failed_attempts), (attempt, 0));
        assert_eq!((j.run_at, j.queued_at), (now + 1, Some(now + 1)));
        assert_eq!(reserved(r, "w").await, (0, 0, 0));
    }
    place(r, "j", T0 + 300).await;
    let mut lost = result("w", "j", 3, T0 + 301);
    lost.infrastructure_error = true;
    lost.error = Some("container could not start".into());
    let j = r.job_finish(lost).await.unwrap();
    assert_eq!(j.status, "FAILED");
    assert_eq!((j.infra_retries, j.failed_attempts), (3, 0));
    assert_eq!(
        j.reason.as_deref(),
        Some("container could not start; infrastructure retries exhausted (2)")
    );
    assert_eq!(
        transitions(r, "j").await,
        [
            ">QUEUED",
            "QUEUED>ASSIGNED",
            "ASSIGNED>QUEUED",
            "QUEUED>ASSIGNED",
            "ASSIGNED>QUEUED",
            "QUEUED>ASSIGNED",
            "ASSIGNED>FAILED"
        ]
    );
}

async fn cancel_is_state_aware(db: TestDb) {
    let repo = db.repo(policy()).await;
    let r = &*repo;
    worker("w").register(r).await;
    job("running").size(600, 200).insert(r).await;
    job("assigned").size(300, 100).at(T0 + 1).insert(r).await;
    job("queued").size(4000, 100).at(T0 + 2).insert(r).await;
    job("pending").run_at(T0 + 10_000).insert(r).await;
    r.job_place(T0 + 10, 10).await.unwrap();
    r.job_start("w", "running", 1, T0 + 11).await.unwrap();
    assert_eq!(reserved(r, "w").await, (900, 300, 2));

    let q = r.job_cancel("queued", T0 + 20).await.unwrap();
    assert_eq!(
        (q.status.as_str(), q.finished_at),
        ("CANCELLED", Some(T0 + 20))
    );
    assert_eq!(q.reason.as_deref(), Some("cancelled by a client"));
    let p = r.job_cancel("pending", T0 + 21).await.unwrap();
    assert_eq!(p.status, "CANCELLED");
    assert_eq!(r.job_next_due().await.unwrap(), None);

    let a = r.job_cancel("assigned", T0 + 22).await.unwrap();
    assert_eq!(a.status, "CANCELLED");
    assert_eq!(reserved(r, "w").await, (600, 200, 1));
    let run = r.job_cancel("running", T0 + 23).await.unwrap();
    assert_eq!((run.status.as_str(), run.deadline_at), ("CANCELLED", None));
    assert_eq!(reserved(r, "w").await, (0, 0, 0));
    assert_eq!(
        get_worker(r, "w").await.consecutive_failures,
        0,
        "a cancel is not the worker's failure"
    );

    let reported = ["running".to_string(), "assigned".to_string()];
    assert_eq!(
        r.worker_stop_list("w", &reported).await.unwrap(),
        [
            stop("running", StopReason::Cancelled),
            stop("assigned", StopReason::Cancelled)
        ]
    );
    assert_conflict(
        r.job_finish(result("w", "running", 1, T0 + 30)).await,
        "wrong_state",
    );
    assert_conflict(
        r.job_start("w", "assigned", 1, T0 + 30).await,
        "wrong_state",
    );
    assert_conflict(r.job_cancel("running", T0 + 31).await, "wrong_state");
    assert_not_found(r.job_cancel("missing", T0 + 31).await, "job");
    assert_eq!(get_job(r, "running").await.finished_at, Some(T0 + 23));
    assert_eq!(reserved(r, "w").await, (0, 0, 0));

    assert_eq!(
        transitions(r, "queued").await,
        [">QUEUED", "QUEUED>CANCELLED"]
    );
    assert_eq!(
        transitions(r, "pending").await,
        [">PENDING", "PENDING>CANCELLED"]
    );
    assert_eq!(
        transitions(r, "assigned").await,
        [">QUEUED", "QUEUED>ASSIGNED", "ASSIGNED>CANCELLED"]
    );
    assert_eq!(
        transitions(r, "running").await,
        [
            ">QUEUED",
            "QUEUED>ASSIGNED",
            "ASSIGNED>RUNNING",
            "RUNNING>CANCELLED"
        ]
    );
}

async fn expired_deadlines_time_out_or_retry_and_release(db: TestDb) {
    let repo = db.repo(policy()).await;
    let r = &*repo;
    worker("w").register(r).await;
    job("final").timeout_ms(1_000).insert(r).await;
    job("retry")
        .timeout_ms(1_000)
        .max_retries(1)
        .at(T0 + 1)
        .insert(r)
        .await;
    job("long").timeout_ms(60_000).at(T0 + 2).insert(r).await;
    r.job_place(T0 + 10, 10).await.unwrap();
    for id in ["final", "retry", "long"] {
        r.job_start("w", id, 1, T0 + 10).await.unwrap();
    }

    let none = r
        .job_expire_deadlines(T0 + 1_009, T0 + 1_009, 10)
        .await
        .unwrap();
    assert_eq!(
        none,
        SweepCounts {
            examined: 0,
            changed: 0
        }
    );
    let swept = r
        .job_expire_deadlines(T0 + 1_011, T0 + 6_000, 10)
        .await
        .unwrap();
    assert_eq!(
        swept,
        SweepCounts {
            examined: 2,
            changed: 2
        }
    );

    let f = get_job(r, "final").await;
    assert_eq!(
        (f.status.as_str(), f.finished_at),
        ("TIMED_OUT", Some(T0 + 6_000))
    );
    assert_eq!(f.error.as_deref(), Some("timed out after 1000 ms"));
    let t = get_job(r, "retry").await;
    assert_eq!((t.status.as_str(), t.failed_attempts), ("PENDING", 1));
    assert!((T0 + 6_800..=T0 + 7_200).contains(&t.run_at));
    assert_eq!(state(r, "long").await, JobStatus::Running);
    assert_eq!(reserved(r, "w").await, (500, 256, 1));
    assert_eq!(get_worker(r, "w").await.consecutive_failures, 2);

    let reported: Vec<String> = ["final", "retry", "long"].map(String::from).to_vec();
    assert_eq!(
        r.worker_stop_list("w", &reported).await.unwrap(),
        [
            stop("final", StopReason::TimedOut),
            stop("retry", StopReason::Reassigned)
        ]
    );
    assert_conflict(
        r.job_finish(result("w", "final", 1, T0 + 6_001)).await,
        "wrong_state",
    );
    assert_conflict(
        r.job_finish(result("w", "retry", 1, T0 + 6_001)).await,
        "not_holder",
    );
    let again = r
        .job_expire_deadlines(T0 + 9_000, T0 + 9_000, 10)
        .await
        .unwrap();
    assert_eq!(
        again,
        SweepCounts {
            examined: 0,
            changed: 0
        }
    );
    assert_eq!(
        transitions(r, "final").await,
        [
            ">QUEUED",
            "QUEUED>ASSIGNED",
            "ASSIGNED>RUNNING",
            "RUNNING>TIMED_OUT"
        ]
    );
    assert_eq!(
        transitions(r, "retry").await.last().unwrap(),
        "RUNNING>PENDING"
    );
}

async fn unstarted_assignments_are_requeued(db: TestDb) {
    let repo = db.repo(policy()).await;
    let r = &*repo;
    worker("w").register(r).await;
    job("stuck").insert(r).await;
    job("started").at(T0 + 1).insert(r).await;
    job("recent").at(T0 + 2).insert(r).await;
    r.job_place(T0 + 10, 2).await.unwrap();
    r.job_start("w", "started", 1, T0 + 11).await.unwrap();
    r.job_place(T0 + 50, 10).await.unwrap();

    let none = r.job_requeue_unstarted(T0 + 9, T0 + 100, 10).await.unwrap();
    assert_eq!(
        none,
        SweepCounts {
            examined: 0,
            changed: 0
        }
    );
    let swept = r
        .job_requeue_unstarted(T0 + 10, T0 + 100, 10)
        .await
        .unwrap();
    assert_eq!(
        swept,
        SweepCounts {
            examined: 1,
            changed: 1
        }
    );
    let j = get_job(r, "stuck").await;
    assert_eq!(j.status, "QUEUED");
    assert_eq!((j.attempts, j.infra_retries, j.failed_attempts), (1, 1, 0));
    assert_eq!((j.queued_at, j.delivered_at), (Some(T0 + 100), None));
    assert_eq!(state(r, "started").await, JobStatus::Running);
    assert_eq!(state(r, "recent").await, JobStatus::Assigned);
    assert_eq!(reserved(r, "w").await, (1000, 512, 2));
    assert_eq!(
        transitions(r, "stuck").await,
        [">QUEUED", "QUEUED>ASSIGNED", "ASSIGNED>QUEUED"]
    );
    assert_eq!(
        r.worker_stop_list("w", &["stuck".to_string()])
            .await
            .unwrap(),
        [stop("stuck", StopReason::Reassigned)]
    );
    let p = place(r, "stuck", T0 + 101).await;
    assert_eq!(p.attempt, 2);
    assert_conflict(
        r.job_start("w", "stuck", 1, T0 + 102).await,
        "stale_attempt",
    );
}

async fn heartbeat_records_metrics_and_lists_jobs_to_stop(db: TestDb) {
    let repo = db.repo(policy()).await;
    let r = &*repo;
    assert_not_found(
        r.worker_heartbeat(heartbeat("ghost", T0, &[])).await,
        "worker",
    );
    worker("w1").register(r).await;
    worker("w2").capacity(4000, 4096).register(r).await;
    job("own").insert(r).await;
    job("other").size(4000, 4096).at(T0 + 1).insert(r).await;
    job("cancelled").at(T0 + 2).insert(r).await;
    job("done").at(T0 + 3).insert(r).await;
    let out = r.job_place(T0 + 10, 10).await.unwrap();
    assert_eq!(
        triples(&out.placed),
        [
            ("own", "w1", 1),
            ("other", "w2", 1),
            ("cancelled", "w1", 1),
            ("done", "w1", 1)
        ]
    );
    r.job_start("w1", "own", 1, T0 + 11).await.unwrap();
    r.job_cancel("cancelled", T0 + 12).await.unwrap();
    r.job_finish(result("w1", "done", 1, T0 + 13))
        .await
        .unwrap();

    let reported = ["own", "other", "cancelled", "done", "nope"];
    let beat = r
        .worker_heartbeat(heartbeat("w1", T0 + 20, &reported))
        .await
        .unwrap();
    let expected = [
        stop("other", StopReason::Reassigned),
        stop("cancelled", StopReason::Cancelled),
        stop("done", StopReason::Finished),
        stop("nope", StopReason::Unknown),
    ];
    assert_eq!(beat.stop_jobs, expected);
    assert_eq!((beat.lost_jobs, beat.came_back), (0, false));
    let w = get_worker(r, "w1").await;
    assert_eq!(
        (w.cpu_usage, w.ram_free_mb, w.ram_total_mb),
        (12.5, 1000, 2048)
    );
    assert_eq!(w.last_heartbeat_at, T0 + 20);
    assert_eq!(w.status(T0 + 20), WorkerStatus::Busy);

    let owned: Vec<String> = reported.map(String::from).to_vec();
    assert_eq!(r.worker_stop_list("w1", &owned).await.unwrap(), expected);
    assert!(r.worker_stop_list("w1", &[]).await.unwrap().is_empty());
    assert_eq!(
        r.worker_stop_list("w2", &["other".to_string()])
            .await
            .unwrap(),
        []
    );

    let mut broken = heartbeat("w1", T0 + 30, &["own"]);
    broken.executor_ok = false;
    broken.ram_total_mb = 3000;
    r.worker_heartbeat(broken).await.unwrap();
    let w1 = get_worker(r, "w1").await;
    assert_eq!((w1.executor_ok, w1.ram_total_mb), (0, 3000));
    assert_eq!(w1.status(T0 + 30), WorkerStatus::Unhealthy);
    job("next").size(100, 10).at(T0 + 31).insert(r).await;
    assert!(
        r.job_place(T0 + 32, 10).await.unwrap().placed.is_empty(),
        "w1 has room but its executor is broken; w2 is full"
    );
    r.worker_heartbeat(heartbeat("w1", T0 + 40, &["own"]))
        .await
        .unwrap();
    assert_eq!(
        get_worker(r, "w1").await.status(T0 + 40),
        WorkerStatus::Busy
    );
    let p = place(r, "next", T0 + 41).await;
    assert_eq!(p.worker_id, "w1");
}

async fn heartbeat_requeues_running_jobs_the_agent_lost_and_notices_a_return(db: TestDb) {
    // Losses count toward cooldown; a high threshold keeps this test about the return.
    let repo = db
        .repo(Policy {
            cooldown_after_failures: 100,
            ..policy()
        })
        .await;
    let r = &*repo;
    worker("w").register(r).await;
    job("long-ago").size(300, 100).insert(r).await;
    job("just-now").size(200, 50).at(T0 + 1).insert(r).await;
    job("unstarted").size(100, 10).at(T0 + 2).insert(r).await;
    r.job_place(T0 + 5, 10).await.unwrap();
    r.job_start("w", "long-ago", 1, T0 + 10).await.unwrap();
    r.job_start("w", "just-now", 1, T0 + 50).await.unwrap();

    let mut beat = heartbeat("w", T0 + 60, &[]);
    beat.lost_if_started_before = T0 + 10;
    assert_eq!(
        r.worker_heartbeat(beat).await.unwrap().lost_jobs,
        0,
        "strictly before"
    );
    let mut beat = heartbeat("w", T0 + 70, &[]);
    beat.lost_if_started_before = T0 + 30;
    let out = r.worker_heartbeat(beat).await.unwrap();
    assert_eq!((out.lost_jobs, out.came_back), (1, false));
    assert!(out.stop_jobs.is_empty());
    let lost = get_job(r, "long-ago").await;
    assert_eq!(lost.status, "QUEUED");
    assert_eq!((lost.infra_retries, lost.failed_attempts), (1, 0));
    assert_eq!(state(r, "just-now").await, JobStatus::Running);
    assert_eq!(state(r, "unstarted").await, JobStatus::Assigned);
    assert_eq!(reserved(r, "w").await, (300, 60, 2));
    let h = history(r, "long-ago").await;
    assert_eq!(h.last().unwrap().to_status, "QUEUED");
    assert_eq!(h.last().unwrap().from_status.as_deref(), Some("RUNNING"));
    assert!(h
        .last()
        .unwrap()
        .reason
        .as_deref()
        .unwrap()
        .contains("no longer reports"));

    let swept = r
        .worker_expire_heartbeats(T0 + 1_000, T0 + 40_000, 10)
        .await
        .unwrap();
    assert_eq!(swept.changed, 1);
    let back = r
        .worker_heartbeat(heartbeat("w", T0 + 41_000, &["just-now"]))
        .await
        .unwrap();
    assert!(back.came_back);
    assert_eq!(back.stop_jobs, [stop("just-now", StopReason::Reassigned)]);
    let w = get_worker(r, "w").await;
    assert_eq!(w.offline_since, None);
    assert_eq!(w.status(T0 + 41_000), WorkerStatus::Idle);
    let again = r
        .worker_heartbeat(heartbeat("w", T0 + 42_000, &[]))
        .await
        .unwrap();
    assert!(!again.came_back);
}

async fn silent_workers_go_offline_and_their_jobs_are_requeued(db: TestDb) {
    let repo = db.repo(policy()).await;
    let r = &*repo;
    worker("w1").register(r).await;
    job("running").insert(r).await;
    job("assigned").at(T0 + 1).insert(r).await;
    r.job_place(T0 + 5, 10).await.unwrap();
    r.job_start("w1", "running", 1, T0 + 6).await.unwrap();
    worker("w2").at(T0 + 100).register(r).await;
    assert_eq!(
        r.worker_expire_heartbeats(T0, T0 + 100, 10).await.unwrap(),
        SweepCounts {
            examined: 0,
            changed: 0
        },
        "a heartbeat at the cut-off is not silence"
    );

    let swept = r
        .worker_expire_heartbeats(T0 + 50, T0 + 40_000, 10)
        .await
        .unwrap();
    assert_eq!(
        swept,
        SweepCounts {
            examined: 1,
            changed: 1
        }
    );
    let w1 = get_worker(r, "w1").await;
    assert_eq!(w1.status(T0 + 40_000), WorkerStatus::Offline);
    assert_eq!(w1.offline_since, Some(T0 + 40_000));
    assert_eq!(reserved(r, "w1").await, (0, 0, 0));
    assert_eq!(
        get_worker(r, "w2").await.status(T0 + 40_000),
        WorkerStatus::Idle
    );
    for id in ["running", "assigned"] {
        let j = get_job(r, id).await;
        assert_eq!(j.status, "QUEUED", "{id}");
        assert_eq!(
            (j.attempts, j.infra_retries, j.failed_attempts),
            (1, 1, 0),
            "{id}"
        );
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

    let out = r.job_place(T0 + 40_001, 10).await.unwrap();
    assert_eq!(
        triples(&out.placed),
        [("assigned", "w2", 2), ("running", "w2", 2)]
    );
    let listed = r.worker_list().await.unwrap();
    let summary: Vec<(&str, Vec<&str>)> = listed
        .iter()
        .map(|(w, jobs)| (w.id.as_str(), jobs.iter().map(String::as_str).collect()))
        .collect();
    assert_eq!(
        summary,
        [("w1", vec![]), ("w2", vec!["assigned", "running"])]
    );
    assert_eq!(
        r.worker_expire_heartbeats(T0 + 50, T0 + 40_002, 10)
            .await
            .unwrap(),
        SweepCounts {
            examined: 0,
            changed: 0
        },
        "an offline worker is not swept again"
    );

    for id in ["s1", "s2", "s3"] {
        worker(id).at(T0 + 200).register(r).await;
    }
    let limited = r
        .worker_expire_heartbeats(T0 + 300, T0 + 50_000, 2)
        .await
        .unwrap();
    assert_eq!(
        limited,
        SweepCounts {
            examined: 2,
            changed: 2
        }
    );
}

async fn repeated_failures_cool_a_worker_down(db: TestDb) {
    let repo = db.repo(policy()).await;
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
    assert_eq!(w.status(T0 + 400), WorkerStatus::Unhealthy);

    job("next").at(T0 + 400).insert(r).await;
    let out = r.job_place(T0 + 401, 10).await.unwrap();
    assert!(out.placed.is_empty(), "no job during the cooldown");
    let next = get_job(r, "next").await;
    assert_eq!((next.status.as_str(), next.blocked), ("QUEUED", 0));
    assert_eq!(
        r.worker_end_cooldowns(cool_end - 1).await.unwrap(),
        SweepCounts {
            examined: 0,
            changed: 0
        }
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
    assert_eq!(w.status(cool_end), WorkerStatus::Idle);
    let p = place(r, "next", cool_end + 1).await;
    assert_eq!(p.worker_id, "w");
}

async fn a_success_resets_the_failure_count(db: TestDb) {
    let repo = db.repo(policy()).await;
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
        (w.reserved_cpu_milli, w.reserved_ram_mb, w.running_jobs),
        (0, 0, 0)
    );
    for id in ["assigned", "running"] {
        let j = get_job(r, id).await;
        assert_eq!(j.status, "QUEUED", "{id}");
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

async fn the_lease_has_one_holder_until_it_expires(db: TestDb) {
    let repo = db.repo(policy()).await;
    let r = &*repo;
    assert!(r.lease_acquire("sweep", "A", T0, T0 + 1_000).await.unwrap());
    assert!(!r
        .lease_acquire("sweep", "B", T0 + 500, T0 + 1_500)
        .await
        .unwrap());
    assert!(r
        .lease_acquire("other", "B", T0 + 500, T0 + 1_500)
        .await
        .unwrap());
    assert!(
        r.lease_acquire("sweep", "A", T0 + 600, T0 + 1_600)
            .await
            .unwrap(),
        "renewal"
    );
    assert!(!r
        .lease_acquire("sweep", "B", T0 + 1_200, T0 + 2_200)
        .await
        .unwrap());
    assert!(r
        .lease_acquire("sweep", "B", T0 + 1_601, T0 + 2_601)
        .await
        .unwrap());
    assert!(!r
        .lease_acquire("sweep", "A", T0 + 1_602, T0 + 2_602)
        .await
        .unwrap());
    assert!(r
        .lease_acquire("sweep", "B", T0 + 2_000, T0 + 3_000)
        .await
        .unwrap());
}

async fn uploads_are_stored_and_read_back(db: TestDb) {
    let repo = db.repo(policy()).await;
    let r = &*repo;
    let content = vec![0_u8, 1, 2, 255, b'x'];
    let upload = UploadInsertParams {
        id: "u1".into(),
        filename: "input.tar.gz".into(),
        sha256: "ab".repeat(32),
        content: content.clone(),
        now: T0,
    };
    r.upload_insert(upload.clone()).await.unwrap();
    let got = r.upload_get("u1").await.unwrap().expect("stored");
    assert_eq!(
        (
            got.id.as_str(),
            got.filename.as_str(),
            got.size,
            got.created_at
        ),
        ("u1", "input.tar.gz", 5, T0)
    );
    assert_eq!((got.sha256, got.content), ("ab".repeat(32), content));
    assert!(r.upload_get("u2").await.unwrap().is_none());
    assert!(matches!(
        r.upload_insert(upload).await,
        Err(RepoError::Database(_))
    ));
}

async fn job_list_filters_and_pages_newest_first(db: TestDb) {
    let repo = db.repo(policy()).await;
    let r = &*repo;
    worker("w1").parallel(2).register(r).await;
    for i in 1..=7 {
        let command = if i == 5 { "grep needle hay" } else { "true" };
        job(&format!("job-0{i}"))
            .command(command)
            .at(T0 + i)
            .insert(r)
            .await;
    }
    r.job_place(T0 + 10, 10).await.unwrap();
    worker("w2").parallel(1).register(r).await;
    r.job_place(T0 + 11, 10).await.unwrap();
    r.job_start("w1", "job-01", 1, T0 + 12).await.unwrap();
    r.job_finish(result("w1", "job-01", 1, T0 + 13))
        .await
        .unwrap();

    let list = |p: JobListParams| async move { r.job_list(p).await.unwrap() };
    let page = |before: Option<&str>| JobListParams {
        before_id: before.map(String::from),
        limit: 3,
        ..Default::default()
    };
    assert_eq!(ids(&list(page(None)).await), ["job-07", "job-06", "job-05"]);
    assert_eq!(
        ids(&list(page(Some("job-05"))).await),
        ["job-04", "job-03", "job-02"]
    );
    assert_eq!(ids(&list(page(Some("job-02"))).await), ["job-01"]);
    assert!(list(page(Some("job-01"))).await.is_empty());

    let all = |f: JobListParams| JobListParams { limit: 100, ..f };
    let by_status = |s: &[JobStatus]| {
        all(JobListParams {
            statuses: s.to_vec(),
            ..Default::default()
        })
    };
    assert_eq!(
        ids(&list(by_status(&[JobStatus::Queued])).await),
        ["job-07", "job-06", "job-05", "job-04"]
    );
    assert_eq!(
        ids(&list(by_status(&[JobStatus::Assigned, JobStatus::Completed])).await),
        ["job-03", "job-02", "job-01"]
    );
    assert!(list(by_status(&[JobStatus::Failed])).await.is_empty());
    let on = |w: &str| {
        all(JobListParams {
            worker_id: Some(w.into()),
            ..Default::default()
        })
    };
    assert_eq!(ids(&list(on("w1")).await), ["job-02", "job-01"]);
    assert_eq!(ids(&list(on("w2")).await), ["job-03"]);
    let search = |t: &str| {
        all(JobListParams {
            search: Some(t.into()),
            ..Default::default()
        })
    };
    assert_eq!(ids(&list(search("needle")).await), ["job-05"]);
    assert_eq!(ids(&list(search("job-06")).await), ["job-06"]);
    assert!(list(search("nothing like this")).await.is_empty());
    let window = all(JobListParams {
        created_from: Some(T0 + 3),
        created_to: Some(T0 + 5),
        ..Default::default()
    });
    assert_eq!(ids(&list(window).await), ["job-04", "job-03"]);
    let combined = JobListParams {
        statuses: vec![JobStatus::Queued],
        limit: 2,
        ..Default::default()
    };
    assert_eq!(ids(&list(combined).await), ["job-07", "job-06"]);
}

async fn workers_are_listed_found_by_token_and_read(db: TestDb) {
    let repo = db.repo(policy()).await;
    let r = &*repo;
    let w = worker("b-worker").token_hash("hash-b").register(r).await;
    assert_eq!(
        (
            w.hostname.as_str(),
            w.cpu_milli,
            w.ram_total_mb,
            w.max_parallel_jobs
        ),
        ("b-worker.test", 2000, 2048, 4)
    );
    assert_eq!(
        (w.executor_ok, w.consecutive_failures, w.offline_since),
        (1, 0, None)
    );
    assert_eq!(w.status(T0), WorkerStatus::Idle);
    worker("a-worker").register(r).await;
    assert_eq!(
        r.worker_by_token_hash("hash-b").await.unwrap().as_deref(),
        Some("b-worker")
    );
    assert_eq!(r.worker_by_token_hash("hash-x").await.unwrap(), None);
    assert!(r.worker_get("nobody").await.unwrap().is_none());

    job("j").insert(r).await;
    let p = place(r, "j", T0 + 1).await;
    let listed = r.worker_list().await.unwrap();
    let names: Vec<(&str, usize)> = listed
        .iter()
        .map(|(w, jobs)| (w.id.as_str(), jobs.len()))
        .collect();
    let expected_a = usize::from(p.worker_id == "a-worker");
    assert_eq!(
        names,
        [("a-worker", expected_a), ("b-worker", 1 - expected_a)]
    );
    let holder = get_worker(r, &p.worker_id).await;
    assert_eq!(holder.status(T0 + 1), WorkerStatus::Busy);
    let api = holder.to_api(T0 + 1, vec!["j".into()]).unwrap();
    assert_eq!((api.reserved_cpu, api.reserved_ram_mb), (0.5, 256));
}

async fn state_counts_come_from_the_tables(db: TestDb) {
    let repo = db.repo(policy()).await;
    let r = &*repo;
    let sorted = |mut v: Vec<(String, i64)>| {
        v.sort();
        v
    };
    assert!(r.job_counts_by_status().await.unwrap().is_empty());
    assert!(r.job_finished_counts().await.unwrap().is_empty());
    worker("w").register(r).await;
    for (i, id) in ["ok", "bad", "gone", "waiting"].iter().enumerate() {
        job(id).at(T0 + i as i64).insert(r).await;
    }
    job("later").run_at(T0 + 10_000).insert(r).await;
    r.job_place(T0 + 10, 2).await.unwrap();
    r.job_finish(result("w", "ok", 1, T0 + 11)).await.unwrap();
    r.job_finish(failure("w", "bad", 1, T0 + 12, 2))
        .await
        .unwrap();
    r.job_cancel("gone", T0 + 13).await.unwrap();

    let count = |s: &str, n: i64| (s.to_string(), n);
    assert_eq!(
        sorted(r.job_counts_by_status().await.unwrap()),
        [
            count("CANCELLED", 1),
            count("COMPLETED", 1),
            count("FAILED", 1),
            count("PENDING", 1),
            count("QUEUED", 1)
        ]
    );
    assert_eq!(
        sorted(r.job_finished_counts().await.unwrap()),
        [
            count("CANCELLED", 1),
            count("COMPLETED", 1),
            count("FAILED", 1)
        ]
    );
}

on_both_databases!(
    job_insert_queues_or_defers_and_honours_idempotency_keys,
    a_job_fitting_no_online_worker_is_blocked_until_one_registers,
    placement_blocks_a_job_whose_only_fitting_worker_went_offline,
    a_deferred_job_fitting_no_worker_is_unblocked_by_a_worker_joining_before_it_is_due,
    placement_prefers_the_tighter_worker,
    placement_goes_by_priority_then_age_within_the_parallelism_limit,
    placement_never_over_reserves_and_honours_its_limit,
    due_pending_jobs_are_promoted_in_run_time_order,
    deliver_hands_out_each_assignment_once,
    start_is_fenced_by_worker_and_attempt_and_idempotent,
    a_success_completes_releases_and_refuses_any_second_result,
    a_failure_retries_after_a_backoff_then_fails,
    a_reported_timeout_or_oom_ends_the_job_without_retries,
    an_infrastructure_error_uses_the_infrastructure_budget,
    cancel_is_state_aware,
    expired_deadlines_time_out_or_retry_and_release,
    unstarted_assignments_are_requeued,
    heartbeat_records_metrics_and_lists_jobs_to_stop,
    heartbeat_requeues_running_jobs_the_agent_lost_and_notices_a_return,
    silent_workers_go_offline_and_their_jobs_are_requeued,
    repeated_failures_cool_a_worker_down,
    a_success_resets_the_failure_count,
    registering_again_requeues_held_jobs,
    the_lease_has_one_holder_until_it_expires,
    uploads_are_stored_and_read_back,
    job_list_filters_and_pages_newest_first,
    workers_are_listed_found_by_token_and_read,
    state_counts_come_from_the_tables,
);
