//! Reads: uploads, job lists, worker lists and counts.

use super::*;
use gantry::lifecycle::worker::status as worker_status;

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
    job_list_pages_newest_first(r).await;
    job_list_filters_by_status(r).await;
    job_list_filters_by_worker_text_and_time(r).await;
}

/// A list request for everything `f` selects.
fn all(f: JobListParams) -> JobListParams {
    JobListParams { limit: 100, ..f }
}

/// A list request for every job in one of `statuses`.
fn by_status(statuses: &[JobStatus]) -> JobListParams {
    all(JobListParams {
        statuses: statuses.to_vec(),
        ..Default::default()
    })
}

/// Pages of three, newest first, over the seven jobs of the test above.
async fn job_list_pages_newest_first(r: &dyn Repo) {
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
}

/// Status filters, including the unhappy endings (this cancels job-05 and job-04).
async fn job_list_filters_by_status(r: &dyn Repo) {
    let list = |p: JobListParams| async move { r.job_list(p).await.unwrap() };
    assert_eq!(
        ids(&list(by_status(&[JobStatus::Queued])).await),
        ["job-07", "job-06", "job-05", "job-04"]
    );
    assert_eq!(
        ids(&list(by_status(&[JobStatus::Assigned, JobStatus::Completed])).await),
        ["job-03", "job-02", "job-01"]
    );
    assert!(list(by_status(&[JobStatus::Failed])).await.is_empty());
    // The unhappy endings are listed through their own partial index.
    r.job_cancel("job-05", T0 + 14).await.unwrap();
    r.job_cancel("job-04", T0 + 15).await.unwrap();
    let ended_badly = [JobStatus::Cancelled, JobStatus::Failed];
    assert_eq!(
        ids(&list(by_status(&ended_badly)).await),
        ["job-05", "job-04"]
    );
    let after_first = JobListParams {
        before_id: Some("job-05".into()),
        ..by_status(&[JobStatus::Cancelled])
    };
    assert_eq!(ids(&list(after_first).await), ["job-04"]);
    assert_eq!(
        ids(&list(by_status(&[JobStatus::Cancelled, JobStatus::Completed])).await),
        ["job-05", "job-04", "job-01"]
    );
}

/// Filters by worker, by text in the id or command, by creation time, and with a limit.
async fn job_list_filters_by_worker_text_and_time(r: &dyn Repo) {
    let list = |p: JobListParams| async move { r.job_list(p).await.unwrap() };
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
    assert_eq!(worker_status(&w, T0), WorkerStatus::Idle);
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
    assert_eq!(worker_status(&holder, T0 + 1), WorkerStatus::Busy);
    let api = holder
        .to_api(worker_status(&holder, T0 + 1), T0 + 1, vec!["j".into()])
        .unwrap();
    assert_eq!((api.reserved_cpu, api.reserved_ram_mb), (0.5, 256));
}

async fn state_counts_come_from_the_tables(db: TestDb) {
    let repo = db.repo(policy()).await;
    let r = &*repo;
    let sorted = |mut v: Vec<(String, i64)>| {
        v.sort();
        v
    };
    let count = |s: &str, n: i64| (s.to_string(), n);
    let none = [
        ("ASSIGNED", 0),
        ("PENDING", 0),
        ("QUEUED", 0),
        ("RUNNING", 0),
    ];
    let none: Vec<_> = none.iter().map(|(s, n)| count(s, *n)).collect();
    assert_eq!(sorted(r.job_counts_live().await.unwrap()), none);
    assert!(r
        .job_finished_between(0, i64::MAX)
        .await
        .unwrap()
        .is_empty());
    worker("w").register(r).await;
    for (i, id) in ["ok", "bad", "gone", "waiting", "running"]
        .iter()
        .enumerate()
    {
        job(id).at(T0 + i as i64).insert(r).await;
    }
    job("later").run_at(T0 + 10_000).insert(r).await;
    job("too-big").size(64_000, 1).insert(r).await;
    r.job_place(T0 + 10, 2).await.unwrap();
    r.job_finish(result("w", "ok", 1, T0 + 11)).await.unwrap();
    r.job_finish(failure("w", "bad", 1, T0 + 12, 2))
        .await
        .unwrap();
    r.job_cancel("gone", T0 + 13).await.unwrap();
    place_and_start(r, "waiting", T0 + 14).await;
    r.job_place(T0 + 15, 1).await.unwrap();

    assert_eq!(
        sorted(r.job_counts_live().await.unwrap()),
        [
            count("ASSIGNED", 1),
            count("PENDING", 1),
            count("QUEUED", 1),
            count("RUNNING", 1)
        ],
        "running: waiting; assigned: running; queued: too-big (fits no worker); pending: later"
    );
    assert_eq!(
        sorted(r.job_finished_between(T0, T0 + 14).await.unwrap()),
        [
            count("CANCELLED", 1),
            count("COMPLETED", 1),
            count("FAILED", 1)
        ]
    );
    // Half-open windows: ok ended at T0+11, bad at T0+12.
    assert_eq!(
        sorted(r.job_finished_between(T0 + 11, T0 + 12).await.unwrap()),
        [count("COMPLETED", 1)]
    );
}

crate::common::on_both_databases!(
    uploads_are_stored_and_read_back,
    job_list_filters_and_pages_newest_first,
    workers_are_listed_found_by_token_and_read,
    state_counts_come_from_the_tables,
);
