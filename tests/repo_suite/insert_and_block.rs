//! Inserting jobs, and blocking those that fit no online worker until one does.

use super::*;

async fn job_insert_queues_or_defers_and_honours_idempotency_keys(db: TestDb) {
    let repo = db.repo(policy()).await;
    let r = &*repo;
    assert_eq!(r.dialect(), db.dialect);
    r.ping().await.unwrap();
    assert_eq!(
        r.migrate().await.unwrap(),
        0,
        "a second migrate applies nothing"
    );
    assert_eq!(r.job_next_due().await.unwrap(), None);
    worker("w1").register(r).await;

    let a = job("a").env("K", "V").insert(r).await;
    assert_eq!(a.status, JobStatus::Queued);
    assert_eq!((a.queued_at, a.run_at, a.created_at), (Some(T0), T0, T0));
    assert_eq!((a.blocked, a.reason.as_deref()), (0, None));
    assert_eq!((a.attempts, a.worker_id.as_deref()), (0, None));
    assert_eq!(
        a.to_api().unwrap().env.get("K").map(String::as_str),
        Some("V")
    );

    let b = job("b").run_at(T0 + 5_000).insert(r).await;
    assert_eq!(b.status, JobStatus::Pending);
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
    assert_eq!(swept, counts(1, 1));
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

crate::common::on_both_databases!(
    job_insert_queues_or_defers_and_honours_idempotency_keys,
    a_job_fitting_no_online_worker_is_blocked_until_one_registers,
    placement_blocks_a_job_whose_only_fitting_worker_went_offline,
    a_deferred_job_fitting_no_worker_is_unblocked_by_a_worker_joining_before_it_is_due,
);
