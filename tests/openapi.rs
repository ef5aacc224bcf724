//! The OpenAPI document covers every REST route: the routes are read from the router's source,
//! so adding a route without documenting it fails here.

use crate::common::{TestDb, TestServer};
use serde_json::Value;
use std::path::Path;

/// The text of every `.rs` file under `dir`, its folders included.
fn sources(dir: &Path) -> Vec<String> {
    let mut texts = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            texts.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            texts.push(std::fs::read_to_string(&path).unwrap());
        }
    }
    texts
}

/// `(path, method)` of every `.route("...", get(..).post(..))` and every
/// `#[utoipa::path(get, path = "...")]` in the REST router's sources.
fn routes_in_source() -> Vec<(String, String)> {
    let texts = sources(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src/routes"));
    let mut routes = Vec::new();
    for text in &texts {
        for (_, rest) in text
            .match_indices(".route(\"")
            .map(|(i, _)| ((), &text[i + 8..]))
        {
            let path = rest.split('"').next().unwrap().to_string();
            // The handler chain runs to the end of the statement: `get(a).post(b))`.
            let chain = rest.split('\n').next().unwrap();
            for method in ["get", "post", "put", "patch", "delete"] {
                if chain.contains(&format!(" {method}(")) || chain.contains(&format!(".{method}("))
                {
                    routes.push((path.clone(), method.to_string()));
                }
            }
        }
    }
    // Routes mounted by `routes!` are written once, in their `#[utoipa::path(METHOD, path =
    // "...")]` annotation: read those too.
    for text in &texts {
        for (i, _) in text.match_indices("#[utoipa::path(") {
            let rest = &text[i + 15..];
            let method = rest.split(',').next().unwrap().trim().to_string();
            let Some(at) = rest.find("path = \"") else {
                continue;
            };
            let path = rest[at + 8..].split('"').next().unwrap().to_string();
            routes.push((path, method));
        }
    }
    assert!(
        routes.len() >= 15,
        "the scan found too few routes: {routes:?}"
    );
    routes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_is_documented() {
    let db = TestDb::sqlite().await;
    let server = TestServer::start(&db).await;
    let (status, doc) = server.get("/api/openapi.json").await;
    assert_eq!(status, reqwest::StatusCode::OK);
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );
    let paths = &doc["paths"];
    for (path, method) in routes_in_source() {
        let operation = &paths[&path][&method];
        assert!(
            operation.is_object(),
            "{} {path} is served but missing from the OpenAPI document",
            method.to_uppercase()
        );
        assert!(
            operation["responses"].is_object(),
            "{method} {path} documents no responses"
        );
    }
    // Every operation has an id of its own (a document with one id twice is invalid, and
    // client generators name their functions after them).
    let mut ids = std::collections::BTreeMap::new();
    for (path, operations) in paths.as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            let id = operation["operationId"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            assert!(!id.is_empty(), "{method} {path} has no operationId");
            if let Some(other) = ids.insert(id.clone(), format!("{method} {path}")) {
                panic!("operationId {id} names both {other} and {method} {path}");
            }
        }
    }
    // The worker routes refuse a token that acts for another worker, and say so.
    for path in [
        "/api/jobs/get-job",
        "/api/jobs/start",
        "/api/jobs/start-batch",
        "/api/jobs/submit-result",
        "/api/jobs/submit-result-batch",
        "/api/workers/register",
        "/api/workers/heartbeat",
    ] {
        assert!(
            paths[path]["post"]["responses"]["403"].is_object(),
            "{path} does not document its 403"
        );
    }
    // Every route that reads a JSON body says what a body of another type gets.
    for (path, operations) in paths.as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            let json_body = operation["requestBody"]["content"]["application/json"].is_object();
            if json_body {
                assert!(
                    operation["responses"]["415"].is_object(),
                    "{method} {path} reads JSON but does not document its 415"
                );
            }
        }
    }
    let job_id = &paths["/api/jobs/status"]["get"]["parameters"][0];
    assert_eq!(
        (&job_id["name"], &job_id["required"]),
        (&"jobId".into(), &true.into())
    );
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for schema in [
        "Job",
        "CreateJobRequest",
        "Worker",
        "ErrorBody",
        "JobStatus",
        "SubmitResultRequest",
    ] {
        assert!(schemas.contains_key(schema), "schema {schema} missing");
    }
    let statuses: Vec<&Value> = schemas["JobStatus"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    assert!(statuses.iter().any(|s| *s == "TIMED_OUT"), "{statuses:?}");
    server.stop().await;
}

/// A bound the document gives, read as an integer.
fn bound(schema: &Value, key: &str) -> i64 {
    schema[key]
        .as_i64()
        .or_else(|| schema[key].as_f64().map(|f| f as i64))
        .unwrap_or_else(|| panic!("no {key} in {schema}"))
}

/// Sends `body` with `field` set to `value`: 2xx, or 400 naming `field` when `refused`.
async fn answer_at(
    server: &TestServer,
    path: &str,
    body: &Value,
    field: &str,
    value: Value,
    refused: bool,
) {
    let mut body = body.clone();
    body[field] = value.clone();
    let (status, answer) = server.post(path, &body).await;
    if refused {
        assert_eq!(
            status,
            reqwest::StatusCode::BAD_REQUEST,
            "{path} {field}={value}: {answer}"
        );
        assert_eq!(
            answer["error"]["field"], field,
            "{path} {field}={value}: {answer}"
        );
    } else {
        assert!(
            status.is_success(),
            "{path} {field}={value}: {status} {answer}"
        );
    }
}

/// The document's limits are the checks' own: for key fields, a value at each documented bound
/// is accepted and one past it refused with a 400 naming the field, so the two cannot drift.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documented_limits_are_the_checks_limits() {
    let db = TestDb::sqlite().await;
    let server = TestServer::start(&db).await;
    let (_, doc) = server.get("/api/openapi.json").await;
    let schemas = &doc["components"]["schemas"];

    let create = &schemas["CreateJobRequest"]["properties"];
    let job = serde_json::json!({"command": "true"});
    for field in ["priority", "timeoutMs", "maxRetries", "requiredRamMb"] {
        for (edge, past) in [("minimum", -1), ("maximum", 1)] {
            let at = bound(&create[field], edge);
            let path = "/api/jobs/create";
            answer_at(&server, path, &job, field, at.into(), false).await;
            answer_at(&server, path, &job, field, (at + past).into(), true).await;
        }
    }
    let cpu = &create["requiredCpu"];
    let max_cpu = cpu["maximum"].as_f64().unwrap();
    answer_at(
        &server,
        "/api/jobs/create",
        &job,
        "requiredCpu",
        max_cpu.into(),
        false,
    )
    .await;
    for past in [max_cpu + 0.5, cpu["exclusiveMinimum"].as_f64().unwrap()] {
        answer_at(
            &server,
            "/api/jobs/create",
            &job,
            "requiredCpu",
            past.into(),
            true,
        )
        .await;
    }
    for field in ["command", "idempotencyKey"] {
        let max = bound(&create[field], "maxLength") as usize;
        let path = "/api/jobs/create";
        answer_at(&server, path, &job, field, "k".repeat(max).into(), false).await;
        answer_at(&server, path, &job, field, "k".repeat(max + 1).into(), true).await;
    }
    let most_jobs = bound(
        &schemas["CreateJobsRequest"]["properties"]["jobs"],
        "maxItems",
    ) as usize;
    for (n, refused) in [(most_jobs, false), (most_jobs + 1, true), (0, true)] {
        let jobs = Value::Array(vec![job.clone(); n]);
        let body = serde_json::json!({});
        answer_at(
            &server,
            "/api/jobs/create-batch",
            &body,
            "jobs",
            jobs,
            refused,
        )
        .await;
    }

    let limit = &doc["paths"]["/api/jobs/list"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "limit")
        .unwrap()["schema"];
    for (value, refused) in [
        (bound(limit, "maximum"), false),
        (bound(limit, "maximum") + 1, true),
        (bound(limit, "minimum") - 1, true),
    ] {
        let (status, answer) = server.get(&format!("/api/jobs/list?limit={value}")).await;
        assert_eq!(status.is_success(), !refused, "limit={value}: {answer}");
    }

    let register = &schemas["RegisterWorkerRequest"]["properties"];
    let worker = serde_json::json!({"workerId": "w1", "hostname": "h", "cpuCores": 1,
                                    "ramTotalMb": 512, "maxParallelJobs": 1});
    let path = "/api/workers/register";
    let most = bound(&register["maxParallelJobs"], "maximum");
    answer_at(
        &server,
        path,
        &worker,
        "maxParallelJobs",
        most.into(),
        false,
    )
    .await;
    answer_at(
        &server,
        path,
        &worker,
        "maxParallelJobs",
        (most + 1).into(),
        true,
    )
    .await;
    let longest = bound(&register["workerId"], "maxLength") as usize;
    answer_at(
        &server,
        path,
        &worker,
        "workerId",
        "w".repeat(longest + 1).into(),
        true,
    )
    .await;
    answer_at(
        &server,
        path,
        &worker,
        "workerId",
        "w".repeat(longest).into(),
        false,
    )
    .await;

    let poll = &schemas["GetJobRequest"]["properties"];
    let ask = serde_json::json!({"workerId": "w1", "waitMs": 0});
    let path = "/api/jobs/get-job";
    let most = bound(&poll["max"], "maximum");
    answer_at(&server, path, &ask, "max", most.into(), false).await;
    answer_at(&server, path, &ask, "max", (most + 1).into(), true).await;
    let longest_wait = bound(&poll["waitMs"], "maximum");
    answer_at(
        &server,
        path,
        &ask,
        "waitMs",
        (longest_wait + 1).into(),
        true,
    )
    .await;

    let beat = serde_json::json!({"workerId": "w1"});
    let most = bound(
        &schemas["HeartbeatRequest"]["properties"]["images"],
        "maxItems",
    ) as usize;
    let image = serde_json::json!({"reference": "busybox:latest"});
    for (n, refused) in [(most, false), (most + 1, true)] {
        let images = Value::Array(vec![image.clone(); n]);
        answer_at(
            &server,
            "/api/workers/heartbeat",
            &beat,
            "images",
            images,
            refused,
        )
        .await;
    }
    server.stop().await;
}
