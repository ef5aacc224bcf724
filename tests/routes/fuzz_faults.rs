//! Regressions of the faults the API fuzzing (`scripts/fuzz-api.sh`) found: requests the
//! OpenAPI document calls valid that the routes refused, and the like.

use super::*;

/// A whole number written as a float (`256.0`) is an integer to JSON Schema, and so to the
/// document: every integer field takes it, and a fraction is still refused by name.
async fn integer_fields_take_whole_floats(db: TestDb) {
    let server = TestServer::start(&db).await;
    let (code, job) = server
        .post(
            "/api/jobs/create",
            &json!({"command": "true", "requiredRamMb": 256.0, "timeoutMs": 60000.0,
                    "maxRetries": 2.0, "priority": -3.0, "runAt": 0.0}),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{job}");
    assert_eq!(
        (
            &job["requiredRamMb"],
            &job["timeoutMs"],
            &job["maxRetries"],
            &job["priority"]
        ),
        (&json!(256), &json!(60000), &json!(2), &json!(-3))
    );
    for (field, value) in [("priority", json!(1.5)), ("timeoutMs", json!(1e30))] {
        let mut body = json!({"command": "true"});
        body[field] = value;
        let answer = server.post("/api/jobs/create", &body).await;
        assert_error(
            &answer,
            StatusCode::BAD_REQUEST,
            "invalid_input",
            Some(field),
        );
    }

    let (code, registered) = server
        .post(
            "/api/workers/register",
            &json!({"workerId": "w1", "hostname": "h", "cpuCores": 1,
                    "ramTotalMb": 4096.0, "ramFreeMb": 1024.0, "maxParallelJobs": 2.0}),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{registered}");
    assert_eq!(registered["worker"]["ramTotalMb"], 4096);
    let (code, answer) = server
        .post(
            "/api/workers/heartbeat",
            &json!({"workerId": "w1", "ramFreeMb": 512.0, "ramTotalMb": 4096.0}),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{answer}");
    let (code, polled) = server
        .post(
            "/api/jobs/get-job",
            &json!({"workerId": "w1", "max": 1.0, "waitMs": 0.0}),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{polled}");
    server.stop().await;
}

/// A NUL byte made PostgreSQL refuse the statement, and the route answer 503 "database
/// unavailable" (SQLite stored it): text a client chooses is refused by name on both databases.
async fn nul_bytes_in_chosen_text_are_refused_by_name(db: TestDb) {
    let server = TestServer::start(&db).await;
    for (body, field) in [
        (json!({"command": "echo a\u{0}b"}), "command"),
        (
            json!({"command": "true", "idempotencyKey": "k\u{0}"}),
            "idempotencyKey",
        ),
        (
            json!({"command": "true", "fileUrl": "/uploads/a\u{0}/b"}),
            "fileUrl",
        ),
    ] {
        let answer = server.post("/api/jobs/create", &body).await;
        assert_error(
            &answer,
            StatusCode::BAD_REQUEST,
            "invalid_input",
            Some(field),
        );
    }
    let batch = json!({"jobs": [{"command": "true"}, {"command": "\u{0}"}]});
    let answer = server.post("/api/jobs/create-batch", &batch).await;
    assert_error(
        &answer,
        StatusCode::BAD_REQUEST,
        "invalid_input",
        Some("jobs[1].command"),
    );
    let (code, list) = server.get("/api/jobs/list?q=%00").await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{list}");
    assert_eq!(list["error"]["field"], "q");
    assert_eq!(job_count(&server).await, 0, "nothing was created");

    let register = json!({"workerId": "w1", "hostname": "h", "cpuCores": 1, "ramTotalMb": 512,
                          "maxParallelJobs": 1});
    for (field, value) in [("hostname", "h\u{0}"), ("version", "1.0\u{0}")] {
        let mut body = register.clone();
        body[field] = json!(value);
        let answer = server.post("/api/workers/register", &body).await;
        assert_error(
            &answer,
            StatusCode::BAD_REQUEST,
            "invalid_input",
            Some(field),
        );
    }
    let worker = SimWorker::register(&server, "w1", 1.0, 512, 1).await;
    let bad_ids = json!(["not-a-job\u{0}"]);
    for route in ["/api/workers/heartbeat", "/api/jobs/get-job"] {
        let answer = worker
            .call(route, json!({"workerId": "w1", "runningJobIds": bad_ids}))
            .await;
        assert_error(
            &answer,
            StatusCode::BAD_REQUEST,
            "invalid_input",
            Some("runningJobIds[0]"),
        );
    }
    server.stop().await;
}

/// A job that prints binary (a NUL byte) got its result refused with 503 on PostgreSQL at
/// every retry: captured output and errors are stored with U+FFFD for each NUL instead.
async fn a_result_with_nul_bytes_in_its_output_is_recorded(db: TestDb) {
    let server = TestServer::start(&db).await;
    let worker = SimWorker::register(&server, "w1", 1.0, 512, 1).await;
    let created = server
        .create(json!({"command": "head -c 8 /dev/urandom", "requiredRamMb": 64}))
        .await;
    let job = worker.take_one().await;
    assert_eq!(job.id, created.id);
    assert_eq!(worker.start(&job).await.0, StatusCode::OK);
    let (code, finished) = worker
        .finish_with(
            &job,
            json!({"exitCode": 1, "stdout": "bin\u{0}ary", "stderr": "\u{0}",
                   "error": "exit\u{0}1"}),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{finished}");
    let status = server.status(&job.id).await;
    assert_eq!(status.job.stdout.as_deref(), Some("bin\u{FFFD}ary"));
    assert_eq!(status.job.stderr.as_deref(), Some("\u{FFFD}"));
    assert_eq!(status.job.error.as_deref(), Some("exit\u{FFFD}1"));
    server.stop().await;
}

crate::common::on_both_databases!(
    integer_fields_take_whole_floats,
    nul_bytes_in_chosen_text_are_refused_by_name,
    a_result_with_nul_bytes_in_its_output_is_recorded,
);
