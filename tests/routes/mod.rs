//! Every route, its happy path and its refusals: bad input gets a clear 4xx in the error
//! shape of SPEC.md and changes nothing. On both databases.

mod access;
mod batches;
mod fuzz_faults;
mod history_order;
mod jobs;
mod list_windows;
mod pulls;
mod usage;
mod workers;

use crate::common::server::fast_config;
use crate::common::{SimWorker, TestDb, TestServer};
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
