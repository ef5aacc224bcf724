//! Image pulls as the server sees them: the pull policy stored and delivered, the pulling
//! start (no deadline until the command starts), failures no retry can mend, and image
//! locality (heartbeats' image lists, placement preferring a worker that holds the image).

use super::*;
use gantry::model::{JobFinishParams, JobRecord, WorkerHeartbeatParams};
use gantry_api::{Fault, ImageHeld, PullPolicy};

async fn the_pull_policy_is_stored_and_delivered(db: TestDb) {
    let repo = db.repo(policy()).await;
    let r = &*repo;
    worker("w").register(r).await;
    job("never").pull("never").insert(r).await;
    job("default").insert(r).await;
    let batch = vec![
        job("b-always").pull("always").params,
        job("b-default").params,
    ];
    r.job_insert_many(batch).await.unwrap();
    let pull = |j: JobRecord| j.to_api().unwrap().pull;
    assert_eq!(pull(get_job(r, "never").await), Some(PullPolicy::Never));
    assert_eq!(pull(get_job(r, "default").await), None);
    assert_eq!(pull(get_job(r, "b-always").await), Some(PullPolicy::Always));
    assert_eq!(pull(get_job(r, "b-default").await), None);
    r.job_place(T0 + 1, 100).await.unwrap();
    let delivered = r.job_deliver("w", 10, T0 + 2).await.unwrap();
    let never = delivered.into_iter().find(|j| j.id == "never").unwrap();
    assert_eq!(never.pull.as_deref(), Some("never"));
}

async fn a_pull_runs_no_timeout_and_the_second_start_starts_it(db: TestDb) {
    let repo = db.repo(policy()).await;
    let r = &*repo;
    worker("w").register(r).await;
    job("p")
        .image("python:3.12")
        .timeout_ms(1_000)
        .insert(r)
        .await;
    let a = place(r, "p", T0 + 1).await;
    let pulling = r
        .job_start_pulling("w", "p", a.attempt, T0 + 2)
        .await
        .unwrap();
    assert_eq!(pulling.status, JobStatus::Running);
    assert_eq!(pulling.phase.as_deref(), Some("pulling python:3.12"));
    assert_eq!(pulling.deadline_at, None);
    // A repeat changes nothing; a pull longer than the job's timeout does not time it out.
    r.job_start_pulling("w", "p", a.attempt, T0 + 3)
        .await
        .unwrap();
    let swept = r.job_expire_deadlines(T0 + 60_000, T0 + 60_000, 10).await;
    assert_eq!(swept.unwrap().changed, 0);
    assert_eq!(state(r, "p").await, JobStatus::Running);

    let started = r.job_start("w", "p", a.attempt, T0 + 50_000).await.unwrap();
    assert_eq!(started.phase, None);
    assert_eq!(started.started_at, Some(T0 + 50_000));
    assert_eq!(started.deadline_at, Some(T0 + 51_000));
    let reasons: Vec<String> = history(r, "p")
        .await
        .into_iter()
        .filter_map(|h| h.reason)
        .collect();
    assert!(
        reasons.iter().any(|s| s.ends_with("pulling python:3.12")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|s| s == gantry::lifecycle::job::PULLED),
        "{reasons:?}"
    );
    // The result clears nothing more and ends it.
    r.job_finish(result("w", "p", a.attempt, T0 + 50_500))
        .await
        .unwrap();
    let done = get_job(r, "p").await;
    assert_eq!((done.status, done.phase), (JobStatus::Completed, None));
}

async fn batch_starts_end_a_pull_and_a_requeue_clears_the_phase(db: TestDb) {
    let repo = db.repo(policy()).await;
    let r = &*repo;
    worker("w").register(r).await;
    job("b").image("app:1").insert(r).await;
    let a = place(r, "b", T0 + 1).await;
    r.job_start_pulling("w", "b", a.attempt, T0 + 2)
        .await
        .unwrap();
    let out = r
        .job_start_many("w", &[("b".to_string(), a.attempt)], T0 + 10)
        .await
        .unwrap();
    let started = out.into_iter().next().unwrap().unwrap();
    assert_eq!(
        (started.phase, started.deadline_at),
        (None, Some(T0 + 10 + 60_000))
    );

    job("lost").image("app:1").insert(r).await;
    let a = place(r, "lost", T0 + 20).await;
    r.job_start_pulling("w", "lost", a.attempt, T0 + 21)
        .await
        .unwrap();
    worker("w").at(T0 + 30).register(r).await;
    let lost = get_job(r, "lost").await;
    assert_eq!((lost.status, lost.phase), (JobStatus::Queued, None));
}

async fn a_permanent_failure_ends_the_job_at_once_and_blames_no_one(db: TestDb) {
    let repo = db.repo(policy()).await;
    let r = &*repo;
    worker("w").register(r).await;
    job("typo")
        .image("127.0.0.1:5000/app:nope")
        .max_retries(3)
        .insert(r)
        .await;
    let a = place(r, "typo", T0 + 1).await;
    r.job_start_pulling("w", "typo", a.attempt, T0 + 2)
        .await
        .unwrap();
    let error = "image `127.0.0.1:5000/app:nope` not found in registry 127.0.0.1:5000";
    let ended = r
        .job_finish(JobFinishParams {
            exit_code: None,
            error: Some(error.into()),
            permanent: true,
            ..result("w", "typo", a.attempt, T0 + 3)
        })
        .await
        .unwrap();
    assert_eq!((ended.status, ended.attempts), (JobStatus::Failed, 1));
    assert_eq!(ended.error.as_deref(), Some(error));
    assert_eq!(ended.phase, None);
    let last = history(r, "typo").await.pop().unwrap();
    assert_eq!(last.fault, Some(Fault::Job));
    let w = get_worker(r, "w").await;
    assert_eq!((w.consecutive_failures, w.cooldown_until), (0, None));
    assert_eq!(reserved(r, "w").await, (0, 0, 0));
}

async fn heartbeats_store_the_images_a_worker_holds(db: TestDb) {
    let repo = db.repo(policy()).await;
    let r = &*repo;
    worker("w").register(r).await;
    let images = vec![
        ImageHeld {
            reference: "busybox:latest".into(),
            digest: Some("sha256:1".into()),
        },
        ImageHeld {
            reference: "python:3.12".into(),
            digest: None,
        },
    ];
    r.worker_heartbeat(WorkerHeartbeatParams {
        images: Some(serde_json::to_string(&images).unwrap()),
        ..heartbeat("w", T0 + 1, &[])
    })
    .await
    .unwrap();
    let shown = |w: gantry::model::WorkerRecord| {
        w.to_api(WorkerStatus::Idle, T0, Vec::new()).unwrap().images
    };
    assert_eq!(shown(get_worker(r, "w").await), images);
    // A heartbeat without the list keeps it.
    r.worker_heartbeat(heartbeat("w", T0 + 2, &[]))
        .await
        .unwrap();
    assert_eq!(shown(get_worker(r, "w").await), images);
}

async fn placement_prefers_a_worker_that_holds_the_image(db: TestDb) {
    let repo = db.repo(policy()).await;
    let r = &*repo;
    // Best fit alone would choose `tight` (the smaller one) for every job.
    worker("roomy").capacity(8_000, 16_384).register(r).await;
    worker("tight").capacity(1_000, 1_024).register(r).await;
    let held = r#"[{"reference":"docker.io/library/busybox:latest"}]"#;
    r.worker_heartbeat(WorkerHeartbeatParams {
        images: Some(held.into()),
        ..heartbeat("roomy", T0 + 1, &[])
    })
    .await
    .unwrap();
    job("bb").image("busybox").at(T0 + 2).insert(r).await;
    job("other").image("python:3.12").at(T0 + 3).insert(r).await;
    let out = r.job_place(T0 + 4, 100).await.unwrap();
    let mut placed = triples(&out.placed);
    placed.sort();
    assert_eq!(placed, [("bb", "roomy", 1), ("other", "tight", 1)]);
}

crate::common::on_both_databases!(
    the_pull_policy_is_stored_and_delivered,
    a_pull_runs_no_timeout_and_the_second_start_starts_it,
    batch_starts_end_a_pull_and_a_requeue_clears_the_phase,
    a_permanent_failure_ends_the_job_at_once_and_blames_no_one,
    heartbeats_store_the_images_a_worker_holds,
    placement_prefers_a_worker_that_holds_the_image,
);
