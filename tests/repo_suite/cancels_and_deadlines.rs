//! Ending a job from outside its attempt: cancels in every state, and deadlines that expire.

use super::*;

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
    assert_eq!(p.status, JobStatus::Cancelled);
    assert_eq!(r.job_next_due().await.unwrap(), None);

    let a = r.job_cancel("assigned", T0 + 22).await.unwrap();
    assert_eq!(a.status, JobStatus::Cancelled);
    assert_eq!(reserved(r, "w").await, (600, 200, 1));
    let run = r.job_cancel("running", T0 + 23).await.unwrap();
    assert_eq!((run.status.as_str(), run.deadline_at), ("CANCELLED", None));
    assert_eq!(
        reserved(r, "w").await,
        (600, 200, 1),
        "the stopped attempt may still run: its reservation stays"
    );
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
    // The stopped attempt's result says it is gone: absorbed, the job stays CANCELLED.
    let absorbed = r
        .job_finish(result("w", "running", 1, T0 + 30))
        .await
        .unwrap();
    assert_eq!(absorbed.status, JobStatus::Cancelled);
    assert_eq!(reserved(r, "w").await, (0, 0, 0));
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
    let repo = db.repo(counting_every_failure()).await;
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
    assert_eq!(none, counts(0, 0));
    let swept = r
        .job_expire_deadlines(T0 + 1_011, T0 + 6_000, 10)
        .await
        .unwrap();
    assert_eq!(swept, counts(2, 2));

    let f = get_job(r, "final").await;
    assert_eq!(
        (f.status.as_str(), f.finished_at),
        ("TIMED_OUT", Some(T0 + 6_000))
    );
    assert_eq!(f.error.as_deref(), Some("timed out after 1000 ms"));
    let t = get_job(r, "retry").await;
    assert_eq!((t.status.as_str(), t.failed_attempts), ("PENDING", 1));
    assert_eq!(
        t.run_at,
        T0 + 6_000 + policy().orphan_grace_ms,
        "the retry waits out the hold of the attempt it retries"
    );
    assert_eq!(state(r, "long").await, JobStatus::Running);
    assert_eq!(
        reserved(r, "w").await,
        (1500, 768, 3),
        "both timed-out attempts keep their reservations"
    );
    assert_eq!(get_worker(r, "w").await.consecutive_failures, 2);
    timed_out_attempts_are_stopped_and_fenced(r).await;
}

/// After the test above: the worker is told to stop both timed-out attempts, their results are
/// refused, and a second sweep finds nothing.
async fn timed_out_attempts_are_stopped_and_fenced(r: &dyn Repo) {
    let reported: Vec<String> = ["final", "retry", "long"].map(String::from).to_vec();
    assert_eq!(
        r.worker_stop_list("w", &reported).await.unwrap(),
        [
            stop("final", StopReason::TimedOut),
            stop("retry", StopReason::Reassigned)
        ]
    );
    for id in ["final", "retry"] {
        let absorbed = r.job_finish(result("w", id, 1, T0 + 6_001)).await.unwrap();
        assert_ne!(absorbed.status, JobStatus::Completed, "{id} unchanged");
    }
    assert_eq!(reserved(r, "w").await, (500, 256, 1));
    assert_conflict(
        r.job_finish(result("w", "final", 1, T0 + 6_002)).await,
        "wrong_state",
    );
    assert_conflict(
        r.job_finish(result("w", "retry", 1, T0 + 6_002)).await,
        "not_holder",
    );
    let again = r
        .job_expire_deadlines(T0 + 9_000, T0 + 9_000, 10)
        .await
        .unwrap();
    assert_eq!(again, counts(0, 0));
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

crate::common::on_both_databases!(
    cancel_is_state_aware,
    expired_deadlines_time_out_or_retry_and_release,
);
