//! The client job routes: create, status, list, cancel.

use super::*;

async fn create_refuses_bad_input_and_changes_nothing(db: TestDb) {
    let server = TestServer::start(&db).await;
    create_refuses_bad_fields(&server).await;
    create_refuses_bad_bodies(&server).await;
    assert_eq!(job_count(&server).await, 0, "nothing was created");
    server.stop().await;
}

/// Each bad field is named in its refusal.
async fn create_refuses_bad_fields(server: &TestServer) {
    let bad = [
        (json!({"command": ""}), "command"),
        (json!({"command": "   "}), "command"),
        (json!({"command": "x", "requiredCpu": -1}), "requiredCpu"),
        (json!({"command": "x", "requiredCpu": 0}), "requiredCpu"),
        (json!({"command": "x", "requiredCpu": 1e9}), "requiredCpu"),
        (
            json!({"command": "x", "requiredRamMb": -5}),
            "requiredRamMb",
        ),
        (
            json!({"command": "x", "requiredRamMb": 1_i64 << 50}),
            "requiredRamMb",
        ),
        (json!({"command": "x", "timeoutMs": 0}), "timeoutMs"),
        (json!({"command": "x", "maxRetries": -1}), "maxRetries"),
        (json!({"command": "x", "priority": 99999}), "priority"),
        (json!({"command": "x", "runAt": "next tuesday"}), "runAt"),
        (
            json!({"command": "x", "filename": "../../etc/passwd"}),
            "filename",
        ),
        (json!({"command": "x", "fileUrl": "ftp://x/y"}), "fileUrl"),
        (
            json!({"command": "x", "fileUrl": "http://169.254.169.254/latest/meta-data"}),
            "fileUrl",
        ),
        (
            json!({"command": "x", "fileUrl": "/uploads/../api/jobs/list"}),
            "fileUrl",
        ),
        (json!({"command": "x", "env": {"BAD=NAME": "v"}}), "env"),
        (json!({"command": "x", "image": "has space"}), "image"),
        (json!({"command": 5}), "command"),
        (
            json!({"command": "x", "requiredCpu": "lots"}),
            "requiredCpu",
        ),
    ];
    for (body, field) in bad {
        let answer = server.post("/api/jobs/create", &body).await;
        assert_error(
            &answer,
            StatusCode::BAD_REQUEST,
            "invalid_input",
            Some(field),
        );
    }
    let missing = server
        .post("/api/jobs/create", &json!({"image": "x"}))
        .await;
    assert_error(&missing, StatusCode::BAD_REQUEST, "invalid_input", None);
}

/// Malformed JSON, a body that is not JSON, and one over the size limit.
async fn create_refuses_bad_bodies(server: &TestServer) {
    let malformed = server
        .http
        .post(server.url("/api/jobs/create"))
        .header("content-type", "application/json")
        .body("{\"command\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    let not_json = server
        .http
        .post(server.url("/api/jobs/create"))
        .body("command=x")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let huge = "x".repeat(2 * 1024 * 1024);
    let answer = server
        .post("/api/jobs/create", &json!({"command": huge}))
        .await;
    assert_error(&answer, StatusCode::PAYLOAD_TOO_LARGE, "too_large", None);
}

async fn create_accepts_legacy_and_full_bodies(db: TestDb) {
    let server = TestServer::start(&db).await;
    let legacy = server
        .create(
            json!({"command": "echo test", "fileUrl": "/uploads/test.zip", "filename": "test.zip",
            "someFutureField": true}),
        )
        .await;
    assert_eq!(legacy.filename.as_deref(), Some("test.zip"));
    assert_eq!((legacy.max_retries, legacy.priority), (0, 0));
    assert!(legacy.timeout_ms > 0 && legacy.required_cpu > 0.0 && legacy.required_ram_mb > 0);

    let full = server
        .create(
            json!({"command": "run", "image": "busybox:latest", "env": {"A": "1"},
            "requiredCpu": 1.5, "requiredRamMb": 512, "timeoutMs": 5000, "maxRetries": 2,
            "priority": 7, "runAt": "2099-01-01T00:00:00Z", "network": true}),
        )
        .await;
    assert_eq!(
        full.status,
        gantry_api::JobStatus::Pending,
        "runAt in the future"
    );
    assert_eq!(full.required_cpu, 1.5);
    assert_eq!(full.env["A"], "1");
    assert!(full.network);

    let body = json!({"command": "once", "idempotencyKey": "order-42"});
    let (first, a) = server.post("/api/jobs/create", &body).await;
    let (second, b) = server.post("/api/jobs/create", &body).await;
    assert_eq!((first, second), (StatusCode::CREATED, StatusCode::OK));
    assert_eq!(a["id"], b["id"], "same key, same job");
    assert_eq!(job_count(&server).await, 3);
    server.stop().await;
}

async fn status_list_and_cancel_check_their_ids(db: TestDb) {
    let server = TestServer::start(&db).await;
    let unknown = uuid::Uuid::now_v7().to_string();
    assert_error(
        &server.get("/api/jobs/status").await,
        StatusCode::BAD_REQUEST,
        "invalid_input",
        Some("jobId"),
    );
    assert_error(
        &server.get("/api/jobs/status?jobId=nope").await,
        StatusCode::BAD_REQUEST,
        "invalid_input",
        Some("jobId"),
    );
    assert_error(
        &server
            .get(&format!("/api/jobs/status?jobId={unknown}"))
            .await,
        StatusCode::NOT_FOUND,
        "unknown_job",
        None,
    );
    assert_error(
        &server
            .post("/api/jobs/cancel", &json!({"jobId": "nope"}))
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_input",
        Some("jobId"),
    );
    assert_error(
        &server
            .post("/api/jobs/cancel", &json!({"jobId": unknown}))
            .await,
        StatusCode::NOT_FOUND,
        "unknown_job",
        None,
    );
    assert_error(
        &server.get("/api/jobs/list?status=DONE").await,
        StatusCode::BAD_REQUEST,
        "invalid_input",
        Some("status"),
    );
    assert_error(
        &server.get("/api/jobs/list?limit=0").await,
        StatusCode::BAD_REQUEST,
        "invalid_input",
        Some("limit"),
    );
    assert_error(
        &server.get("/api/jobs/list?limit=1001").await,
        StatusCode::BAD_REQUEST,
        "invalid_input",
        Some("limit"),
    );
    assert_error(
        &server.get("/api/jobs/list?cursor=zzz").await,
        StatusCode::BAD_REQUEST,
        "invalid_input",
        Some("cursor"),
    );
    assert_error(
        &server.get("/api/jobs/list?from=yesterday").await,
        StatusCode::BAD_REQUEST,
        "invalid_input",
        Some("from"),
    );
    assert_error(
        &server.get("/api/nothing").await,
        StatusCode::NOT_FOUND,
        "no_route",
        None,
    );
    // A route called with a method it does not take: JSON too, and the methods it takes.
    let wrong = server
        .http
        .delete(server.url("/api/jobs/create"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong.headers()["allow"], "POST");
    let body: serde_json::Value = wrong.json().await.unwrap();
    assert_eq!(body["error"]["code"], "method_not_allowed", "{body}");
    server.stop().await;
}

async fn list_pages_newest_first_and_filters(db: TestDb) {
    let server = TestServer::start(&db).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            server
                .create(json!({"command": format!("echo number-{i}")}))
                .await
                .id,
        );
    }
    let (_, cancelled) = server
        .post("/api/jobs/cancel", &json!({"jobId": ids[1]}))
        .await;
    assert_eq!(cancelled["status"], "CANCELLED");

    let (code, page1) = server.get("/api/jobs/list?limit=2").await;
    assert_eq!(code, StatusCode::OK);
    let first: Vec<&str> = page1["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap())
        .collect();
    assert_eq!(first, [ids[4].as_str(), ids[3].as_str()], "newest first");
    let cursor = page1["nextCursor"].as_str().unwrap();
    let (_, page2) = server
        .get(&format!("/api/jobs/list?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(page2["jobs"][0]["id"], ids[2].as_str());
    let (_, page3) = server
        .get(&format!(
            "/api/jobs/list?limit=2&cursor={}",
            page2["nextCursor"].as_str().unwrap()
        ))
        .await;
    assert_eq!(page3["jobs"].as_array().unwrap().len(), 1);
    assert!(page3["nextCursor"].is_null(), "last page");

    let (_, only) = server.get("/api/jobs/list?status=cancelled").await;
    assert_eq!(
        only["jobs"].as_array().unwrap().len(),
        1,
        "status matched case-insensitively"
    );
    let (_, both) = server.get("/api/jobs/list?status=Queued,CANCELLED").await;
    assert_eq!(both["jobs"].as_array().unwrap().len(), 5);
    let (_, found) = server.get("/api/jobs/list?q=number-3").await;
    assert_eq!(found["jobs"][0]["id"], ids[3].as_str());
    let (_, none) = server.get("/api/jobs/list?from=4102444800000").await;
    assert!(none["jobs"].as_array().unwrap().is_empty());
    server.stop().await;
}

/// An image outside Docker's reference grammar is refused by create, create-batch and execute,
/// naming the field and what is wrong, and nothing is stored.
async fn a_bad_image_is_refused_on_every_create_route(db: TestDb) {
    let server = TestServer::start(&db).await;
    for image in ["../../etc", "UPPER", "x:", "a//b", "a@sha256:xyz"] {
        let job = json!({"command": "x", "image": image});
        let answer = server.post("/api/jobs/create", &job).await;
        assert_error(
            &answer,
            StatusCode::BAD_REQUEST,
            "invalid_input",
            Some("image"),
        );
        let message = answer.1["error"]["message"].as_str().unwrap();
        assert!(message.contains(image), "names the reference: {message}");
        let good = json!({"command": "x", "image": "ghcr.io/org/app:v1"});
        let batch = json!({"jobs": [good, job]});
        assert_error(
            &server.post("/api/jobs/create-batch", &batch).await,
            StatusCode::BAD_REQUEST,
            "invalid_input",
            Some("jobs[1].image"),
        );
        assert_error(
            &server.post("/api/execute", &job).await,
            StatusCode::BAD_REQUEST,
            "invalid_input",
            Some("image"),
        );
    }
    assert_eq!(job_count(&server).await, 0, "nothing was created");
    let good = server
        .create(json!({"command": "x", "image": "127.0.0.1:5000/gantry/busybox:t1"}))
        .await;
    assert_eq!(
        good.image.as_deref(),
        Some("127.0.0.1:5000/gantry/busybox:t1")
    );
    server.stop().await;
}

crate::common::on_both_databases!(
    create_refuses_bad_input_and_changes_nothing,
    a_bad_image_is_refused_on_every_create_route,
    create_accepts_legacy_and_full_bodies,
    status_list_and_cancel_check_their_ids,
    list_pages_newest_first_and_filters,
);
