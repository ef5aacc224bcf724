//! The pull policy at create: stored and shown when valid, a 400 naming `pull` (and nothing
//! stored) when not, on the single and the batch route.

use super::*;

async fn the_pull_policy_is_checked_at_create(db: TestDb) {
    let server = TestServer::start(&db).await;
    assert_error(
        &server
            .post(
                "/api/jobs/create",
                &json!({"command": "true", "pull": "sometimes"}),
            )
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_input",
        Some("pull"),
    );
    let batch = json!({"jobs": [{"command": "true"}, {"command": "true", "pull": 3}]});
    assert_error(
        &server.post("/api/jobs/create-batch", &batch).await,
        StatusCode::BAD_REQUEST,
        "invalid_input",
        Some("jobs[1].pull"),
    );
    assert_eq!(job_count(&server).await, 0, "nothing created");

    let job = server
        .create(json!({"command": "true", "pull": "never"}))
        .await;
    assert_eq!(job.pull, Some(gantry_api::PullPolicy::Never));
    let (status, body) = server
        .post(
            "/api/jobs/create-batch",
            &json!({"jobs": [{"command": "true", "pull": "always"}, {"command": "true"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["jobs"][0]["pull"], "always");
    assert!(body["jobs"][1]["pull"].is_null(), "{body}");
    server.stop().await;
}

/// The text of a dashboard page.
async fn page(server: &TestServer, path: &str) -> String {
    let r = reqwest::get(server.url(path)).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{path}");
    r.text().await.unwrap()
}

async fn a_pull_shows_on_the_job_until_its_command_starts(db: TestDb) {
    let server = TestServer::start(&db).await;
    let worker = SimWorker::register(&server, "w", 2.0, 1024, 2).await;
    server
        .create(json!({"command": "true", "image": "python:3.12"}))
        .await;
    let job = worker.take_one().await;
    let (status, body) = worker
        .call(
            "/api/jobs/start",
            json!({"workerId": "w", "jobId": job.id, "attempt": job.attempts, "pulling": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let shown = server.status(&job.id).await.job;
    assert_eq!(shown.phase.as_deref(), Some("pulling python:3.12"));
    assert_eq!(shown.status, gantry_api::JobStatus::Running);
    assert!(page(&server, &format!("/jobs/{}", job.id))
        .await
        .contains("pulling python:3.12"));
    assert!(page(&server, "/jobs").await.contains("pulling python:3.12"));

    assert_eq!(worker.start(&job).await.0, StatusCode::OK);
    assert_eq!(server.status(&job.id).await.job.phase, None);
    assert!(!page(&server, "/jobs").await.contains("pulling python:3.12"));
    server.stop().await;
}

crate::common::on_both_databases!(
    the_pull_policy_is_checked_at_create,
    a_pull_shows_on_the_job_until_its_command_starts,
);
