//! The client's routes against a small fake server on 127.0.0.1:0: paths, tokens and
//! answers decoded.

use super::*;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use gantry_api::{JobAttempt, JobStatus};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

/// `(path, authorization header)` of every call the fake server saw.
type Seen = Arc<Mutex<Vec<(String, String)>>>;

fn job_json(id: &str, status: &str) -> Value {
    json!({
        "id": id, "status": status, "command": "true", "image": null,
        "fileUrl": null, "filename": null, "env": {}, "requiredCpu": 1.0,
        "requiredRamMb": 64, "timeoutMs": 1000, "maxRetries": 0, "priority": 0,
        "network": false, "attempts": 1, "failedAttempts": 0, "infraRetries": 0,
        "workerId": "w-1", "reason": null, "idempotencyKey": null, "createdAt": 0,
        "runAt": 0, "queuedAt": null, "assignedAt": null, "startedAt": null,
        "finishedAt": null, "exitCode": null, "stdout": null, "stderr": null,
        "error": null, "durationMs": null, "oomKilled": false
    })
}

fn register_json() -> Value {
    json!({"workerId": "w-1", "token": "per-worker-secret", "worker": {
        "id": "w-1", "hostname": "h", "status": "IDLE", "cpuCores": 2.0,
        "ramTotalMb": 1, "ramFreeMb": 1, "cpuUsage": 0.0, "maxParallelJobs": 2,
        "reservedCpu": 0.0, "reservedRamMb": 0, "currentJobIds": [],
        "consecutiveFailures": 0, "cooldownUntil": null, "labels": {},
        "version": null, "executor": "process", "executorOk": true,
        "registeredAt": 0, "lastHeartbeatAt": 0}})
}

/// Answers each route with `answer`, recording the path and the bearer token.
fn route(path: &'static str, answer: Value) -> axum::routing::MethodRouter<Seen> {
    post(
        move |State(seen): State<Seen>, headers: HeaderMap| async move {
            let auth = headers
                .get("authorization")
                .map(|a| a.to_str().unwrap().to_string())
                .unwrap_or_default();
            seen.lock().unwrap().push((path.to_string(), auth));
            Json(answer)
        },
    )
}

async fn start_fake() -> (String, Seen) {
    let seen = Seen::default();
    let refused = json!({"jobId": "b", "error": {"code": "wrong_state", "message": "done"}});
    let app = Router::new()
        .route(
            "/api/workers/register",
            route("/api/workers/register", register_json()),
        )
        .route(
            "/api/jobs/start",
            route("/api/jobs/start", job_json("a", "RUNNING")),
        )
        .route(
            "/api/jobs/submit-result",
            route("/api/jobs/submit-result", job_json("a", "COMPLETED")),
        )
        .route(
            "/api/jobs/start-batch",
            route(
                "/api/jobs/start-batch",
                json!({"results": [{"jobId": "a", "job": job_json("a", "RUNNING")}, refused]}),
            ),
        )
        .route(
            "/api/jobs/submit-result-batch",
            route(
                "/api/jobs/submit-result-batch",
                json!({"results": [{"jobId": "a", "job": job_json("a", "COMPLETED")}]}),
            ),
        )
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

fn register_body() -> RegisterWorkerRequest {
    serde_json::from_value(json!({
        "hostname": "h", "cpuCores": 2.0, "ramTotalMb": 1, "ramFreeMb": 1, "cpuUsage": 0.0,
        "maxParallelJobs": 2
    }))
    .unwrap()
}

fn result_body(job_id: &str) -> SubmitResultRequest {
    serde_json::from_value(json!({"workerId": "w-1", "jobId": job_id, "attempt": 1})).unwrap()
}

#[tokio::test]
async fn single_and_batch_calls_return_the_servers_jobs_with_the_worker_token() {
    let (url, seen) = start_fake().await;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let client =
        ServerClient::with_http(http, &format!("{url}/"), Some("join-secret".into())).unwrap();
    let retry = Retry::times(1, &CancellationToken::new());
    assert_eq!(client.worker_token(), None);
    client.register(&register_body(), &retry).await.unwrap();
    assert_eq!(client.worker_token().as_deref(), Some("per-worker-secret"));

    let start = StartJobRequest {
        worker_id: "w-1".into(),
        job_id: "a".into(),
        attempt: 1,
        pulling: false,
    };
    let job = client.start_job(&start, &retry).await.unwrap();
    assert_eq!((job.id.as_str(), job.status), ("a", JobStatus::Running));
    let job = client
        .submit_result(&result_body("a"), &retry)
        .await
        .unwrap();
    assert_eq!(job.status, JobStatus::Completed);

    let starts = StartJobsRequest {
        worker_id: "w-1".into(),
        jobs: vec![
            JobAttempt {
                job_id: "a".into(),
                attempt: 1,
                pulling: false,
            },
            JobAttempt {
                job_id: "b".into(),
                attempt: 1,
                pulling: false,
            },
        ],
    };
    let outcomes = client.start_jobs(&starts, &retry).await.unwrap().results;
    assert_eq!(outcomes.len(), 2);
    assert_eq!(outcomes[0].job.as_ref().unwrap().status, JobStatus::Running);
    assert_eq!(outcomes[1].error.as_ref().unwrap().code, "wrong_state");
    let results = SubmitResultsRequest {
        worker_id: "w-1".into(),
        results: vec![result_body("a")],
    };
    let outcomes = client
        .submit_results(&results, &retry)
        .await
        .unwrap()
        .results;
    assert_eq!(
        outcomes[0].job.as_ref().unwrap().status,
        JobStatus::Completed
    );

    let seen = seen.lock().unwrap().clone();
    let paths: Vec<&str> = seen.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/api/workers/register",
            "/api/jobs/start",
            "/api/jobs/submit-result",
            "/api/jobs/start-batch",
            "/api/jobs/submit-result-batch"
        ]
    );
    assert_eq!(seen[0].1, "Bearer join-secret");
    assert!(seen[1..]
        .iter()
        .all(|(_, auth)| auth == "Bearer per-worker-secret"));
}
