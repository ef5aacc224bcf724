//! Placing, promoting and delivering jobs: which worker, in what order, never over capacity.

use super::*;

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
    assert_eq!(j.status, JobStatus::Assigned);
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
        .all(|j| j.status == JobStatus::Assigned && j.attempts == 1));
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

async fn deliver_started_starts_each_assignment_once_with_its_history(db: TestDb) {
    let repo = db.repo(policy()).await;
    let r = &*repo;
    worker("w")
        .capacity(8000, 8192)
        .parallel(10)
        .register(r)
        .await;
    for i in 0..3 {
        job(&format!("j{i}"))
            .timeout_ms(5_000)
            .at(T0 + i)
            .insert(r)
            .await;
    }
    r.job_place(T0 + 10, 10).await.unwrap();

    let first = r.job_deliver_started("w", 2, T0 + 12).await.unwrap();
    assert_eq!(ids(&first), ["j0", "j1"]);
    for j in &first {
        assert_eq!(j.status, JobStatus::Running);
        assert_eq!(
            (j.delivered_at, j.started_at),
            (Some(T0 + 12), Some(T0 + 12))
        );
        assert_eq!(
            j.deadline_at,
            Some(T0 + 12 + 5_000),
            "the timeout runs from the start"
        );
    }
    // The plain delivery still hands out the rest, ASSIGNED; nothing is delivered twice.
    let second = r.job_deliver("w", 10, T0 + 13).await.unwrap();
    assert_eq!(ids(&second), ["j2"]);
    assert_eq!(second[0].status, JobStatus::Assigned);
    assert!(r
        .job_deliver_started("w", 10, T0 + 14)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        transitions(r, "j0").await,
        [">QUEUED", "QUEUED>ASSIGNED", "ASSIGNED>RUNNING"]
    );
    // A start call for the same attempt (an agent that did not know) changes nothing more.
    let again = r.job_start("w", "j0", 1, T0 + 15).await.unwrap();
    assert_eq!(again.started_at, Some(T0 + 12));
    assert_eq!(transitions(r, "j0").await.len(), 3);
    let done = r.job_finish(result("w", "j0", 1, T0 + 20)).await.unwrap();
    assert_eq!(done.status, JobStatus::Completed);
}

async fn jobs_waiting_for_a_busy_big_worker_do_not_starve_smaller_ones(db: TestDb) {
    let repo = db.repo(policy()).await;
    let r = &*repo;
    worker("big")
        .capacity(4000, 4096)
        .parallel(1)
        .register(r)
        .await;
    worker("small")
        .capacity(1000, 1024)
        .parallel(1)
        .register(r)
        .await;
    job("running").size(4000, 100).at(T0).insert(r).await;
    assert_eq!(
        triples(&r.job_place(T0 + 1, 10).await.unwrap().placed),
        [("running", "big", 1)]
    );
    // Two more that only the (now full) big worker can hold, ahead of a small one.
    job("big-1").size(4000, 100).at(T0 + 2).insert(r).await;
    job("big-2").size(4000, 100).at(T0 + 3).insert(r).await;
    job("tiny").size(500, 100).at(T0 + 4).insert(r).await;

    let out = r.job_place(T0 + 10, 2).await.unwrap();
    assert_eq!(
        triples(&out.placed),
        [("tiny", "small", 1)],
        "looked past the head"
    );
    assert_eq!(out.blocked, 0, "the big jobs fit a worker, just not now");
    assert_eq!(state(r, "big-1").await, JobStatus::Queued);
}

crate::common::on_both_databases!(
    placement_prefers_the_tighter_worker,
    placement_goes_by_priority_then_age_within_the_parallelism_limit,
    placement_never_over_reserves_and_honours_its_limit,
    due_pending_jobs_are_promoted_in_run_time_order,
    deliver_hands_out_each_assignment_once,
    deliver_started_starts_each_assignment_once_with_its_history,
    jobs_waiting_for_a_busy_big_worker_do_not_starve_smaller_ones,
);
