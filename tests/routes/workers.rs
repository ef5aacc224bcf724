//! The worker routes: register, heartbeat, get-job, start, submit-result.

use super::*;

async fn worker_routes_check_their_input(db: TestDb) {
    let server = TestServer::start_steady(&db).await;
    register_checks_its_input(&server).await;
    unknown_workers_are_refused(&server).await;
    // As small as the anonymous worker: the tie goes to the lower id, w1.
    let worker = SimWorker::register(&server, "w1", 1.0, 512, 1).await;
    get_job_checks_its_input(&server).await;
    start_and_result_are_fenced(&server, &worker).await;
    server.stop().await;
}

/// Bad registrations register nothing; a registration without an id gets one made up.
async fn register_checks_its_input(server: &TestServer) {
    let base = json!({"workerId": "w1", "hostname": "h", "cpuCores": 2, "ramTotalMb": 1024, "maxParallelJobs": 1});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    for (body, field) in [
        (with("workerId", json!("bad id!")), "workerId"),
        (with("hostname", json!("")), "hostname"),
        (with("cpuCores", json!(0)), "cpuCores"),
        (with("ramTotalMb", json!(-1)), "ramTotalMb"),
        (with("maxParallelJobs", json!(0)), "maxParallelJobs"),
        (with("cpuUsage", json!(250)), "cpuUsage"),
        (with("executor", json!("vm")), "executor"),
    ] {
        let answer = server.post("/api/workers/register", &body).await;
        assert_error(
            &answer,
            StatusCode::BAD_REQUEST,
            "invalid_input",
            Some(field),
        );
    }
    assert_eq!(
        server.workers().await.total_workers,
        0,
        "nothing registered"
    );

    let (code, anonymous) = server
        .post(
            "/api/workers/register",
            &json!({"hostname": "h", "cpuCores": 1, "ramTotalMb": 512, "maxParallelJobs": 1}),
        )
        .await;
    assert_eq!(code, StatusCode::OK);
    assert!(
        anonymous["workerId"]
            .as_str()
            .unwrap()
            .starts_with("worker-"),
        "an id is made up"
    );
}

/// Heartbeats and polls from a worker that never registered.
async fn unknown_workers_are_refused(server: &TestServer) {
    let ghost = json!({"workerId": "ghost"});
    assert_error(
        &server.post("/api/workers/heartbeat", &ghost).await,
        StatusCode::NOT_FOUND,
        "unknown_worker",
        None,
    );
    assert_error(
        &server.post("/api/jobs/get-job", &ghost).await,
        StatusCode::NOT_FOUND,
        "unknown_worker",
        None,
    );
}

/// Polls by `w1` with bad limits are refused; a good one answers with no job.
async fn get_job_checks_its_input(server: &TestServer) {
    let poll = |extra: Value| {
        let mut b = json!({"workerId": "w1"});
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    assert_error(
        &server
            .post("/api/jobs/get-job", &poll(json!({"max": -1})))
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_input",
        Some("max"),
    );
    assert_error(
        &server
            .post("/api/jobs/get-job", &poll(json!({"waitMs": 3_600_000})))
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_input",
        Some("waitMs"),
    );
    let (code, empty) = server.post("/api/jobs/get-job", &poll(json!({}))).await;
    assert_eq!(
        (code, empty["jobs"].as_array().unwrap().len()),
        (StatusCode::OK, 0)
    );
}

/// Start and submit-result refuse bad input, unknown jobs, stale attempts and other workers,
/// and a refusal changes nothing.
async fn start_and_result_are_fenced(server: &TestServer, worker: &SimWorker<'_>) {
    let job = server.create(json!({"command": "true"})).await;
    let delivered = worker.take_one().await;
    let unknown = uuid::Uuid::now_v7().to_string();
    let start =
        |job_id: &str, attempt: i64| json!({"workerId": "w1", "jobId": job_id, "attempt": attempt});
    assert_error(
        &server.post("/api/jobs/start", &start(&job.id, 0)).await,
        StatusCode::BAD_REQUEST,
        "invalid_input",
        Some("attempt"),
    );
    assert_error(
        &server.post("/api/jobs/start", &start(&unknown, 1)).await,
        StatusCode::NOT_FOUND,
        "unknown_job",
        None,
    );
    assert_error(
        &server.post("/api/jobs/start", &start(&job.id, 7)).await,
        StatusCode::CONFLICT,
        "stale_attempt",
        None,
    );
    let other = SimWorker::register(server, "w2", 2.0, 1024, 1).await;
    let (code, _) = other.start(&delivered).await;
    assert_eq!(code, StatusCode::CONFLICT, "another worker cannot start it");
    assert_eq!(worker.start(&delivered).await.0, StatusCode::OK);
    assert_eq!(
        worker.start(&delivered).await.0,
        StatusCode::OK,
        "a repeated start is harmless"
    );
    assert_eq!(other.finish(&delivered, 0).await.0, StatusCode::CONFLICT);
    let negative = worker
        .finish_with(&delivered, json!({"exitCode": 0, "durationMs": -1}))
        .await;
    assert_error(
        &negative,
        StatusCode::BAD_REQUEST,
        "invalid_input",
        Some("durationMs"),
    );
    assert_eq!(
        server.status(&job.id).await.job.status,
        gantry_api::JobStatus::Running,
        "refusals changed nothing"
    );
    assert_eq!(worker.finish(&delivered, 0).await.0, StatusCode::OK);
    let again = worker.finish(&delivered, 1).await;
    assert_error(&again, StatusCode::CONFLICT, "wrong_state", None);
    assert_eq!(
        server.status(&job.id).await.job.exit_code,
        Some(0),
        "the second result changed nothing"
    );
}

crate::common::on_both_databases!(worker_routes_check_their_input,);
