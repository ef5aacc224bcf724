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

crate::common::on_both_databases!(the_pull_policy_is_checked_at_create,);
