//! One attempt from start to end: fencing, results, retries.

use super::*;

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
    assert_eq!(started.status, JobStatus::Running);
    assert_eq!(
        (
            started.started_at,
            started.deadline_at,
            started.delivered_at
        ),
        (Some(T0 + 20), Some(T0 + 5_020), Some(T0 + 20))
    );
    let again = r.job_start("w1", "j", 1, T0 + 30).await.unwrap();
    assert_eq!(again.status, JobStatus::Running);
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
    assert_eq!(done.status, JobStatus::Completed);
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
    assert_eq!(failed.status, JobStatus::Pending);
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
    assert_eq!(end.status, JobStatus::Failed);
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
    assert_eq!(slow.status, JobStatus::TimedOut);
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
        assert_eq!(
            j.status,
            JobStatus::Queued,
            "requeued at once, attempt {attempt}"
        );
        assert_eq!((j.infra_retries, j.failed_attempts), (attempt, 0));
        assert_eq!((j.run_at, j.queued_at), (now + 1, Some(now + 1)));
        assert_eq!(reserved(r, "w").await, (0, 0, 0));
    }
    place(r, "j", T0 + 300).await;
    let mut lost = result("w", "j", 3, T0 + 301);
    lost.infrastructure_error = true;
    lost.error = Some("container could not start".into());
    let j = r.job_finish(lost).await.unwrap();
    assert_eq!(j.status, JobStatus::Failed);
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

crate::common::on_both_databases!(
    start_is_fenced_by_worker_and_attempt_and_idempotent,
    a_success_completes_releases_and_refuses_any_second_result,
    a_failure_retries_after_a_backoff_then_fails,
    a_reported_timeout_or_oom_ends_the_job_without_retries,
    an_infrastructure_error_uses_the_infrastructure_budget,
);
