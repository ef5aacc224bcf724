//! The OpenAPI document covers every REST route: the routes are read from the router's source,
//! so adding a route without documenting it fails here.

use crate::common::{TestDb, TestServer};
use serde_json::Value;
use std::path::Path;

/// `(path, method)` of every `.route("...", get(..).post(..))` and every
/// `#[utoipa::path(get, path = "...")]` in the REST router's sources.
fn routes_in_source() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/routes");
    let mut routes = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
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
    for entry in std::fs::read_dir(&dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
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
