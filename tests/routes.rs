//! Every route, its happy path and its refusals: bad input gets a clear 4xx in the error
//! shape of SPEC.md and changes nothing. On both databases.

mod common;

use common::server::fast_config;
use common::{SimWorker, TestDb, TestServer};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Asserts an error answer: status, code, and (when given) the field.
fn assert_error(answer: &(StatusCode, Value), status: StatusCode, code: &str, field: Option<&str>) {
    let (got, body) = answer;
    assert_eq!(*got, status, "answer: {body}");
    assert_eq!(body["error"]["code"], code, "answer: {body}");
    assert!(body["error"]["message"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));
    if let Some(field) = field {
        assert_eq!(body["error"]["field"], field, "answer: {body}");
    }
}

async fn job_count(server: &TestServer) -> usize {
    let (_, list) = server.get("/api/jobs/list?limit=1000").await;
    list["jobs"].as_array().unwrap().len()
}

async fn create_refuses_bad_input_and_changes_nothing(db: TestDb) {
    let server = TestServer::start(&db).await;
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

    assert_eq!(job_count(&server).await, 0, "nothing was created");
    server.stop().await;
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

async fn worker_routes_check_their_input(db: TestDb) {
    let server = TestServer::start(&db).await;
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

    // As small as the anonymous worker: the tie goes to the lower id, w1.
    let worker = SimWorker::register(&server, "w1", 1.0, 512, 1).await;
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
    let other = SimWorker::register(&server, "w2", 2.0, 1024, 1).await;
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
    server.stop().await;
}

async fn uploads_round_trip_with_safe_names(db: TestDb) {
    let mut config = fast_config(&db);
    config.max_upload_bytes = 1024;
    let server = TestServer::start_with(config).await;
    let upload = |name: &'static str, bytes: Vec<u8>| {
        let part = reqwest::multipart::Part::bytes(bytes).file_name(name);
        let form = reqwest::multipart::Form::new().part("file", part);
        server
            .http
            .post(server.url("/api/uploads"))
            .multipart(form)
            .send()
    };
    let r = upload("../../evil/data.zip", b"PK-bytes".to_vec())
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let stored: Value = r.json().await.unwrap();
    assert_eq!(
        stored["filename"], "data.zip",
        "only the last path part is kept"
    );
    assert_eq!(stored["size"], 8);
    let url = stored["fileUrl"].as_str().unwrap();
    let body = server.http.get(server.url(url)).send().await.unwrap();
    assert_eq!(body.status(), StatusCode::OK);
    assert_eq!(body.bytes().await.unwrap().as_ref(), b"PK-bytes");

    let wrong_name = url.replace("data.zip", "other.zip");
    assert_eq!(server.get(&wrong_name).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        server.get("/uploads/not-an-id/x").await.0,
        StatusCode::BAD_REQUEST
    );
    let dots = upload("..", b"x".to_vec()).await.unwrap();
    assert_eq!(dots.status(), StatusCode::BAD_REQUEST);
    let big = upload("big.bin", vec![0; 4096]).await.unwrap();
    assert_eq!(big.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let no_file = server
        .http
        .post(server.url("/api/uploads"))
        .multipart(reqwest::multipart::Form::new().text("note", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(no_file.status(), StatusCode::BAD_REQUEST);
    server.stop().await;
}

async fn tokens_guard_every_route(db: TestDb) {
    let mut config = fast_config(&db);
    config.api_token = Some("client-token-0123456789".into());
    config.worker_token = Some("join-token-0123456789".into());
    let server = TestServer::start_with(config).await;
    let http = &server.http;
    let no_token = http.get(server.url("/api/jobs/list")).send().await.unwrap();
    assert_eq!(no_token.status(), StatusCode::UNAUTHORIZED);
    let wrong = http
        .get(server.url("/api/jobs/list"))
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let right = http
        .get(server.url("/api/jobs/list"))
        .bearer_auth("client-token-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), StatusCode::OK);
    assert_eq!(
        http.get(server.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );

    let register = json!({"workerId": "w1", "hostname": "h", "cpuCores": 1, "ramTotalMb": 512, "maxParallelJobs": 1});
    let refused = http
        .post(server.url("/api/workers/register"))
        .json(&register)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let mut tokens = Vec::new();
    for id in ["w1", "w2"] {
        let mut body = register.clone();
        body["workerId"] = json!(id);
        let r = http
            .post(server.url("/api/workers/register"))
            .bearer_auth("join-token-0123456789")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let answer: Value = r.json().await.unwrap();
        tokens.push(answer["token"].as_str().unwrap().to_string());
    }
    let beat = |id: &str, token: &str| {
        http.post(server.url("/api/workers/heartbeat"))
            .bearer_auth(token)
            .json(&json!({"workerId": id}))
            .send()
    };
    assert_eq!(
        beat("w1", &tokens[0]).await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        beat("w1", &tokens[1]).await.unwrap().status(),
        StatusCode::FORBIDDEN,
        "w2's token cannot act for w1"
    );
    assert_eq!(
        beat("w1", "join-token-0123456789").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let client_as_worker = http
        .post(server.url("/api/jobs/get-job"))
        .bearer_auth("client-token-0123456789")
        .json(&json!({"workerId": "w1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(client_as_worker.status(), StatusCode::UNAUTHORIZED);

    let part = reqwest::multipart::Part::bytes(b"abc".to_vec()).file_name("in.txt");
    let up: Value = http
        .post(server.url("/api/uploads"))
        .bearer_auth("client-token-0123456789")
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = server.url(up["fileUrl"].as_str().unwrap());
    assert_eq!(
        http.get(&url).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        http.get(&url)
            .bearer_auth(&tokens[0])
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK,
        "workers download inputs"
    );
    server.stop().await;
}

async fn health_and_readiness(db: TestDb) {
    let server = TestServer::start(&db).await;
    let (code, health) = server.get("/healthz").await;
    assert_eq!(
        (code, health["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
    let (code, ready) = server.get("/readyz").await;
    assert_eq!(
        (code, ready["status"].as_str()),
        (StatusCode::OK, Some("ready"))
    );
    server.stop().await;
}

on_both_databases!(
    create_refuses_bad_input_and_changes_nothing,
    create_accepts_legacy_and_full_bodies,
    status_list_and_cancel_check_their_ids,
    list_pages_newest_first_and_filters,
    worker_routes_check_their_input,
    uploads_round_trip_with_safe_names,
    tokens_guard_every_route,
    health_and_readiness,
);
