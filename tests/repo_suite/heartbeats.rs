//! Heartbeats and their absence: metrics and stop lists, jobs the agent lost, silent workers
//! going offline, and assignments never started.

use super::*;
use gantry::lifecycle::worker::status as worker_status;

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
    assert_eq!(worker_status(&w, T0 + 20), WorkerStatus::Busy);

    let owned: Vec<String> = reported.map(String::from).to_vec();
    assert_eq!(r.worker_stop_list("w1", &owned).await.unwrap(), expected);
    assert!(r.worker_stop_list("w1", &[]).await.unwrap().is_empty());
    assert_eq!(
        r.worker_stop_list("w2", &["other".to_string()])
            .await
            .unwrap(),
        []
    );
    a_broken_executor_makes_a_worker_unhealthy_until_it_mends(r).await;
}

/// After the test above: w1 reports a broken executor, gets no new job although it has
/// room, and gets one again once it reports its executor mended.
async fn a_broken_executor_makes_a_worker_unhealthy_until_it_mends(r: &dyn Repo) {
    let mut broken = heartbeat("w1", T0 + 30, &["own"]);
    broken.executor_ok = false;
    broken.ram_total_mb = 3000;
    r.worker_heartbeat(broken).await.unwrap();
    let w1 = get_worker(r, "w1").await;
    assert_eq!((w1.executor_ok, w1.ram_total_mb), (0, 3000));
    assert_eq!(worker_status(&w1, T0 + 30), WorkerStatus::Unhealthy);
    job("next").size(100, 10).at(T0 + 31).insert(r).await;
    assert!(
        r.job_place(T0 + 32, 10).await.unwrap().placed.is_empty(),
        "w1 has room but its executor is broken; w2 is full"
    );
    r.worker_heartbeat(heartbeat("w1", T0 + 40, &["own"]))
        .await
        .unwrap();
    assert_eq!(
        worker_status(&get_worker(r, "w1").await, T0 + 40),
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
    assert_eq!(lost.status, JobStatus::Queued);
    assert_eq!((lost.infra_retries, lost.failed_attempts), (1, 0));
    assert_eq!(state(r, "just-now").await, JobStatus::Running);
    assert_eq!(state(r, "unstarted").await, JobStatus::Assigned);
    assert_eq!(reserved(r, "w").await, (300, 60, 2));
    let h = history(r, "long-ago").await;
    assert_eq!(h.last().unwrap().to_status, JobStatus::Queued);
    assert_eq!(h.last().unwrap().from_status, Some(JobStatus::Running));
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
    assert_eq!(worker_status(&w, T0 + 41_000), WorkerStatus::Idle);
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
        counts(0, 0),
        "a heartbeat at the cut-off is not silence"
    );
    a_silent_worker_goes_offline_and_its_jobs_are_requeued(r).await;
    the_requeued_jobs_go_to_a_live_worker(r).await;
    a_sweep_takes_at_most_its_limit(r).await;
}

/// After the test above: w1 fell silent holding a running and an assigned job.
async fn a_silent_worker_goes_offline_and_its_jobs_are_requeued(r: &dyn Repo) {
    let swept = r
        .worker_expire_heartbeats(T0 + 50, T0 + 40_000, 10)
        .await
        .unwrap();
    assert_eq!(swept, counts(1, 1));
    let w1 = get_worker(r, "w1").await;
    assert_eq!(worker_status(&w1, T0 + 40_000), WorkerStatus::Offline);
    assert_eq!(w1.offline_since, Some(T0 + 40_000));
    assert_eq!(
        w1.consecutive_failures, 1,
        "going silent is one fault, however many jobs it held"
    );
    assert_eq!(reserved(r, "w1").await, (0, 0, 0));
    assert_eq!(
        worker_status(&get_worker(r, "w2").await, T0 + 40_000),
        WorkerStatus::Idle
    );
    for id in ["running", "assigned"] {
        let j = get_job(r, id).await;
        assert_eq!(j.status, JobStatus::Queued, "{id}");
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
}

/// w1's requeued jobs go to w2, and the offline w1 is not swept again.
async fn the_requeued_jobs_go_to_a_live_worker(r: &dyn Repo) {
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
        counts(0, 0),
        "an offline worker is not swept again"
    );
}

/// Three silent workers, a limit of two: two are swept.
async fn a_sweep_takes_at_most_its_limit(r: &dyn Repo) {
    for id in ["s1", "s2", "s3"] {
        worker(id).at(T0 + 200).register(r).await;
    }
    let limited = r
        .worker_expire_heartbeats(T0 + 300, T0 + 50_000, 2)
        .await
        .unwrap();
    assert_eq!(limited, counts(2, 2));
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
    assert_eq!(none, counts(0, 0));
    let swept = r
        .job_requeue_unstarted(T0 + 10, T0 + 100, 10)
        .await
        .unwrap();
    assert_eq!(swept, counts(1, 1));
    let j = get_job(r, "stuck").await;
    assert_eq!(j.status, JobStatus::Queued);
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

async fn only_heartbeats_that_change_what_placement_reads_ask_for_a_pass(db: TestDb) {
    let repo = db.repo(policy()).await;
    let r = &*repo;
    worker("w").register(r).await;
    let changed = |p| async move { r.worker_heartbeat(p).await.unwrap().placement_changed };
    assert!(
        !changed(heartbeat("w", T0 + 1, &[])).await,
        "usage figures only"
    );
    let mut busier = heartbeat("w", T0 + 2, &[]);
    (busier.cpu_usage, busier.ram_free_mb) = (90.0, 10);
    assert!(!changed(busier).await, "usage figures only");
    let mut draining = heartbeat("w", T0 + 3, &[]);
    draining.draining = true;
    assert!(changed(draining.clone()).await, "it stops taking work");
    draining.now = T0 + 4;
    assert!(!changed(draining).await, "still draining: nothing new");
    let mut broken = heartbeat("w", T0 + 5, &[]);
    broken.executor_ok = false;
    assert!(changed(broken).await, "its executor broke");
    assert!(
        changed(heartbeat("w", T0 + 6, &[])).await,
        "its executor is back"
    );
    let mut bigger = heartbeat("w", T0 + 7, &[]);
    bigger.ram_total_mb = 65_536;
    assert!(changed(bigger).await, "more memory");
    let mut images = heartbeat("w", T0 + 8, &[]);
    images.images = Some(r#"[{"reference":"busybox:latest"}]"#.into());
    assert!(changed(images.clone()).await, "new images held");
    images.now = T0 + 9;
    assert!(!changed(images).await, "the same images");

    job("lost").insert(r).await;
    place(r, "lost", T0 + 10).await;
    r.job_start("w", "lost", 1, T0 + 11).await.unwrap();
    assert!(
        !changed(heartbeat("w", T0 + 12, &["lost"])).await,
        "its job runs on"
    );
    let mut forgot = heartbeat("w", T0 + 13, &[]);
    forgot.lost_if_started_before = T0 + 12;
    assert!(changed(forgot).await, "its lost job freed its reservation");
}

crate::common::on_both_databases!(
    heartbeat_records_metrics_and_lists_jobs_to_stop,
    only_heartbeats_that_change_what_placement_reads_ask_for_a_pass,
    heartbeat_requeues_running_jobs_the_agent_lost_and_notices_a_return,
    silent_workers_go_offline_and_their_jobs_are_requeued,
    unstarted_assignments_are_requeued,
);
