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

crate::common::on_both_databases!(integer_fields_take_whole_floats);
