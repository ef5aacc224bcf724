//! The batch methods follow the single ones' rules: inserts with idempotency keys and
//! blocking, starts and results fenced per item, reservations and cooldown counts as one by
//! one would leave them.

use super::*;

async fn insert_many_keeps_order_keys_and_blocking(db: TestDb) {
    let repo = db.repo(policy()).await;
    let r = &*repo;
    worker("w1").register(r).await;
    job("first").key("k1").insert(r).await;
    let batch = vec![
        job("a").params,
        job("dup-old").key("k1").params,
        job("huge").size(64_000, 100).params,
        job("later").run_at(T0 + 5_000).params,
        job("b").key("k2").params,
        job("dup-new").key("k2").params,
    ];
    let out = r.job_insert_many(batch).await.unwrap();
    let got: Vec<(&str, bool, &str)> = out
        .iter()
        .map(|(j, new)| (j.id.as_str(), *new, j.status.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("a", true, "QUEUED"),
            ("first", false, "QUEUED"),
            ("huge", true, "QUEUED"),
            ("later", true, "PENDING"),
            ("b", true, "QUEUED"),
            ("b", false, "QUEUED"),
        ]
    );
    let huge = get_job(r, "huge").await;
    assert_eq!(huge.blocked, 1);
    assert!(huge.reason.unwrap().starts_with("fits no worker"));
    assert!(r.job_get("dup-new").await.unwrap().is_none());
    assert_eq!(transitions(r, "a").await, [">QUEUED"]);
    assert_eq!(transitions(r, "later").await, [">PENDING"]);
    assert!(r.job_insert_many(Vec::new()).await.unwrap().is_empty());
}

async fn start_many_is_fenced_per_item_and_idempotent(db: TestDb) {
    let repo = db.repo(policy()).await;
    let r = &*repo;
    worker("w1").register(r).await;
    worker("w2").capacity(100, 10).register(r).await;
    for id in ["j1", "j2", "j3"] {
        job(id).timeout_ms(5_000).insert(r).await;
    }
    let out = r.job_place(T0 + 10, 100).await.unwrap();
    assert_eq!(out.placed.len(), 3);
    let items = vec![
        ("j1".to_string(), 1),
        ("j2".to_string(), 2),
        ("missing".to_string(), 1),
        ("j3".to_string(), 1),
        ("j1".to_string(), 1),
    ];
    let outcomes = r.job_start_many("w1", &items, T0 + 20).await.unwrap();
    assert_eq!(outcomes.len(), 5);
    let j1 = outcomes[0].as_ref().unwrap();
    assert_eq!(
        (j1.status.as_str(), j1.started_at, j1.deadline_at),
        ("RUNNING", Some(T0 + 20), Some(T0 + 5_020))
    );
    assert!(
        matches!(&outcomes[1], Err(RepoError::Conflict { code, .. }) if *code == "stale_attempt")
    );
    assert!(matches!(&outcomes[2], Err(RepoError::NotFound { .. })));
    assert_eq!(outcomes[3].as_ref().unwrap().status, JobStatus::Running);
    assert_eq!(outcomes[4].as_ref().unwrap().status, JobStatus::Running);
    assert_eq!(
        state(r, "j2").await,
        JobStatus::Assigned,
        "refusals change nothing"
    );
    assert_eq!(
        transitions(r, "j1").await,
        [">QUEUED", "QUEUED>ASSIGNED", "ASSIGNED>RUNNING"],
        "a repeated start writes no second history row"
    );
    let again = r
        .job_start_many("w2", &[("j2".to_string(), 1)], T0 + 30)
        .await
        .unwrap();
    assert!(matches!(&again[0], Err(RepoError::Conflict { code, .. }) if *code == "not_holder"));
}

async fn finish_many_moves_each_job_on_and_releases_once(db: TestDb) {
    let repo = db.repo(counting_every_failure()).await;
    let r = &*repo;
    worker("w1")
        .capacity(4000, 4096)
        .parallel(8)
        .register(r)
        .await;
    job("ok").size(500, 100).insert(r).await;
    job("bad").size(500, 100).max_retries(1).insert(r).await;
    job("held").size(500, 100).insert(r).await;
    r.job_place(T0 + 10, 100).await.unwrap();
    let all: Vec<(String, i64)> = ["ok", "bad", "held"]
        .iter()
        .map(|id| (id.to_string(), 1))
        .collect();
    r.job_start_many("w1", &all, T0 + 20).await.unwrap();
    assert_eq!(reserved(r, "w1").await, (1500, 300, 3));

    let outcomes = r
        .job_finish_many(vec![
            result("w1", "ok", 1, T0 + 30),
            failure("w1", "bad", 1, T0 + 30, 3),
            result("w1", "ok", 1, T0 + 30),
            result("w2", "held", 1, T0 + 30),
            result("w1", "held", 2, T0 + 30),
            result("w1", "missing", 1, T0 + 30),
        ])
        .await
        .unwrap();
    assert_eq!(outcomes[0].as_ref().unwrap().status, JobStatus::Completed);
    assert_eq!(outcomes[1].as_ref().unwrap().status, JobStatus::Pending);
    assert!(
        matches!(&outcomes[2], Err(RepoError::Conflict { code, .. }) if *code == "wrong_state")
    );
    assert!(matches!(&outcomes[3], Err(RepoError::Conflict { code, .. }) if *code == "not_holder"));
    assert!(
        matches!(&outcomes[4], Err(RepoError::Conflict { code, .. }) if *code == "stale_attempt")
    );
    assert!(matches!(&outcomes[5], Err(RepoError::NotFound { .. })));
    assert_eq!(
        reserved(r, "w1").await,
        (500, 100, 1),
        "two released, once each"
    );
    assert_eq!(state(r, "held").await, JobStatus::Running);
    assert_eq!(
        transitions(r, "ok").await.last().unwrap(),
        "RUNNING>COMPLETED"
    );
    assert_eq!(get_worker(r, "w1").await.consecutive_failures, 1);
}

async fn finish_many_counts_failures_toward_cooldown_in_order(db: TestDb) {
    let repo = db.repo(counting_every_failure()).await;
    let r = &*repo;
    worker("w1")
        .capacity(8000, 8192)
        .parallel(8)
        .register(r)
        .await;
    let ids = ["f1", "f2", "f3", "s1"];
    for id in ids {
        job(id).size(100, 10).insert(r).await;
    }
    r.job_place(T0 + 10, 100).await.unwrap();
    let items: Vec<(String, i64)> = ids.iter().map(|id| (id.to_string(), 1)).collect();
    r.job_start_many("w1", &items, T0 + 20).await.unwrap();
    // Three failures in a row start a cooldown; the success after them resets the count
    // but not the cooldown, exactly as four single results would.
    r.job_finish_many(vec![
        failure("w1", "f1", 1, T0 + 30, 1),
        failure("w1", "f2", 1, T0 + 30, 1),
        failure("w1", "f3", 1, T0 + 30, 1),
        result("w1", "s1", 1, T0 + 30),
    ])
    .await
    .unwrap();
    let w = get_worker(r, "w1").await;
    assert_eq!(w.consecutive_failures, 0);
    assert_eq!(w.cooldown_until, Some(T0 + 30 + 60_000));
    assert_eq!(reserved(r, "w1").await, (0, 0, 0));
}

crate::common::on_both_databases!(
    insert_many_keeps_order_keys_and_blocking,
    start_many_is_fenced_per_item_and_idempotent,
    finish_many_moves_each_job_on_and_releases_once,
    finish_many_counts_failures_toward_cooldown_in_order,
);
