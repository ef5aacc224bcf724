//! `POST /api/execute`: one call from a UI or a script, upload a file and create the job, and
//! with `?wait=true` wait for its result.
//!
//! The body is either JSON (a `CreateJobRequest`) or multipart: an optional `file` part plus the
//! job's fields as text parts with their API names (`command`, `image`, `requiredCpu`,
//! `requiredRamMb`, `timeoutMs`, `maxRetries`, `priority`, `runAt`, `idempotencyKey`, `network`,
//! `env` as a JSON object or `KEY=VALUE` lines). Empty text parts count as absent, as a browser
//! form sends every field. Everything is checked before anything is stored, so bad input
//! changes nothing. A browser form posted without JavaScript (it asks for `text/html`) is sent
//! on to the job's dashboard page.

use super::uploads::{multipart_error, store};
use crate::clock::now_ms;
use crate::config::millis;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{AppJson, AppQuery};
use crate::http::page::error_page;
use crate::http::validate;
use crate::state::AppState;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use gantry_api::{CreateJobRequest, Job, RunAt};
use serde::Deserialize;
use std::time::Duration;

/// How long `wait=true` waits when the request names no `waitMs`.
pub const DEFAULT_WAIT_MS: i64 = 60_000;
/// The longest wait a request may ask for: 10 minutes.
pub const MAX_WAIT_MS: i64 = 600_000;
/// First re-read interval while waiting; it doubles up to [`MAX_POLL_INTERVAL`].
const FIRST_POLL_INTERVAL: Duration = Duration::from_millis(25);
/// Longest re-read interval while waiting (the job lives in the database, which several
/// replicas share, so re-reading it is what sees every replica's changes).
const MAX_POLL_INTERVAL: Duration = Duration::from_millis(250);

/// Query parameters of `POST /api/execute`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct ExecuteQuery {
    /// Wait for the job to end before answering.
    wait: Option<bool>,
    /// How long to wait, in milliseconds (default 60 s, at most 10 min).
    wait_ms: Option<i64>,
}

/// A parsed multipart body: the job's fields and the file, if one came.
struct MultipartJob {
    req: CreateJobRequest,
    file: Option<(String, Vec<u8>)>,
}

/// `POST /api/execute`: 201 with the new job (200 when an idempotency key found an existing
/// one); with `wait=true`, 200 with the ended job or 202 with the job as it is when the wait
/// ran out.
#[utoipa::path(post, path = "/api/execute", operation_id = "execute", tag = "jobs", params(ExecuteQuery),
    request_body(content(
        (CreateJobRequest = "application/json"),
        (CreateJobRequest = "multipart/form-data")),
        description = "the job as JSON, or multipart: its fields as text parts plus an optional `file` part"),
    responses((status = 201, description = "created", body = Job),
        (status = 200, description = "with wait=true: the ended job; else the job this idempotency key already created", body = Job),
        (status = 202, description = "with wait=true: the job as it is when the wait ran out", body = Job),
        (status = 303, description = "a browser form (Accept: text/html) is sent on to the job's page"),
        (status = 400, description = "bad input; nothing was stored", body = gantry_api::ErrorBody), (status = 415, description = "the body is not sent as JSON (`Content-Type: application/json`)", body = gantry_api::ErrorBody),
        (status = 401, description = "missing or wrong token or session", body = gantry_api::ErrorBody),
        (status = 403, description = "a post from another site", body = gantry_api::ErrorBody),
        (status = 413, description = "file or body too large", body = gantry_api::ErrorBody)))]
pub async fn execute(
    State(state): State<AppState>,
    AppQuery(query): AppQuery<ExecuteQuery>,
    request: Request,
) -> Response {
    let html = wants_html(request.headers());
    match run(state, query, request).await {
        Ok((_, job)) if html => Redirect::to(&format!("/jobs/{}", job.id)).into_response(),
        Ok((status, job)) => (status, Json(job)).into_response(),
        Err(e) if html => error_page(e.status, &e.message),
        Err(e) => e.into_response(),
    }
}

async fn run(
    state: AppState,
    query: ExecuteQuery,
    request: Request,
) -> ApiResult<(StatusCode, Job)> {
    let wait_ms = match (query.wait.unwrap_or(false), query.wait_ms) {
        (false, _) => None,
        (true, None) => Some(DEFAULT_WAIT_MS),
        (true, Some(ms)) if (0..=MAX_WAIT_MS).contains(&ms) => Some(ms),
        (true, Some(ms)) => {
            return Err(ApiError::invalid(
                "waitMs",
                format!("waitMs must be between 0 and {MAX_WAIT_MS}, got {ms}"),
            ))
        }
    };
    let body = read_body(&state, request).await?;
    let id = uuid::Uuid::now_v7().to_string();
    let default_timeout = millis(state.config.default_job_timeout);
    let mut req = body.req;
    if body.file.is_some() && req.file_url.is_some() {
        return Err(ApiError::invalid(
            "fileUrl",
            "send either a file or a fileUrl, not both",
        ));
    }
    if let Some((name, _)) = &body.file {
        req.filename = Some(name.clone());
    }
    let mut params = validate::job_insert(req, id, now_ms(), default_timeout)?;
    if let Some((name, content)) = body.file {
        let stored = store(&state, name, content).await?;
        params.file_url = Some(stored.file_url);
        params.filename = Some(stored.filename);
    }
    let (record, created) = state.repo.job_insert(params).await?;
    if created {
        state.scheduler.trigger();
    }
    let mut job = record.to_api()?;
    let Some(wait_ms) = wait_ms else {
        let status = if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        return Ok((status, job));
    };
    let deadline = tokio::time::Instant::now() + Duration::from_millis(wait_ms as u64);
    let mut interval = FIRST_POLL_INTERVAL;
    while !job.status.is_terminal() {
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return Ok((StatusCode::ACCEPTED, job));
        }
        tokio::select! {
            _ = tokio::time::sleep(interval.min(deadline - now)) => {}
            _ = state.shutdown.cancelled() => return Ok((StatusCode::ACCEPTED, job)),
        }
        interval = (interval * 2).min(MAX_POLL_INTERVAL);
        // The job exists: a failed re-read must not turn its creation into an error (the
        // caller would create it again), so it waits on and answers what it last saw.
        match state.repo.job_get(&job.id).await {
            Ok(Some(fresh)) => job = fresh.to_api()?,
            Ok(None) => {}
            Err(e) => tracing::warn!(job = %job.id, "execute: could not re-read the job: {e}"),
        }
    }
    Ok((StatusCode::OK, job))
}

/// True when the caller is a browser navigating (a form posted without JavaScript).
fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

async fn read_body(state: &AppState, request: Request) -> ApiResult<MultipartJob> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if content_type.starts_with("multipart/form-data") {
        let multipart = Multipart::from_request(request, state)
            .await
            .map_err(|e| ApiError::bad_request(e.body_text()))?;
        read_multipart(multipart, state.config.max_upload_bytes).await
    } else {
        let AppJson(req) = AppJson::<CreateJobRequest>::from_request(request, state).await?;
        Ok(MultipartJob { req, file: None })
    }
}

async fn read_multipart(mut multipart: Multipart, limit: usize) -> ApiResult<MultipartJob> {
    let mut req = CreateJobRequest::default();
    let mut command = None;
    let mut file = None;
    loop {
        let field = multipart
            .next_field()
            .await
            .map_err(|e| multipart_error(e, limit))?;
        let Some(field) = field else { break };
        let name = field.name().unwrap_or_default().to_string();
        if name == "file" || field.file_name().is_some() {
            let raw_name = field.file_name().unwrap_or_default().to_string();
            let content = field.bytes().await.map_err(|e| multipart_error(e, limit))?;
            if raw_name.is_empty() && content.is_empty() {
                continue; // a browser's empty file input
            }
            if content.len() > limit {
                return Err(ApiError::too_large(format!(
                    "the file is larger than {limit} bytes"
                )));
            }
            let filename = validate::uploaded_filename("file", &raw_name)?;
            file = Some((filename, content.to_vec()));
            continue;
        }
        let text = field.text().await.map_err(|e| multipart_error(e, limit))?;
        if text.len() > validate::MAX_COMMAND_BYTES * 2 {
            return Err(ApiError::too_large(format!(
                "the field `{name}` is too large"
            )));
        }
        let value = text.trim();
        if value.is_empty() {
            continue;
        }
        match name.as_str() {
            "command" => command = Some(text.replace("\r\n", "\n")),
            "image" => req.image = Some(value.to_string()),
            "fileUrl" => req.file_url = Some(value.to_string()),
            "filename" => req.filename = Some(value.to_string()),
            "requiredCpu" => req.required_cpu = Some(number(&name, value)?),
            "requiredRamMb" => req.required_ram_mb = Some(number(&name, value)?),
            "timeoutMs" => req.timeout_ms = Some(number(&name, value)?),
            "maxRetries" => req.max_retries = Some(number(&name, value)?),
            "priority" => req.priority = Some(number(&name, value)?),
            "runAt" => {
                req.run_at = Some(match value.parse::<i64>() {
                    Ok(ms) => RunAt::Millis(ms),
                    Err(_) => RunAt::Text(value.to_string()),
                })
            }
            "idempotencyKey" => req.idempotency_key = Some(value.to_string()),
            "network" => req.network = Some(matches!(value, "true" | "on" | "1" | "yes")),
            "env" => req.env = parse_env(value)?,
            _ => {} // unknown fields are ignored, as in JSON bodies
        }
    }
    req.command = command.ok_or_else(|| ApiError::invalid("command", "command is required"))?;
    Ok(MultipartJob { req, file })
}

fn number<T: std::str::FromStr>(field: &str, value: &str) -> ApiResult<T> {
    value
        .parse()
        .map_err(|_| ApiError::invalid(field, format!("{field} must be a number, got `{value}`")))
}

/// `env` as a JSON object, or as `KEY=VALUE` lines (blank lines and `#` comments skipped).
fn parse_env(value: &str) -> ApiResult<std::collections::BTreeMap<String, String>> {
    if value.starts_with('{') {
        return serde_json::from_str(value).map_err(|e| {
            ApiError::invalid("env", format!("env must be a JSON object of strings: {e}"))
        });
    }
    let mut env = std::collections::BTreeMap::new();
    for line in value.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, val)) = line.split_once('=') else {
            return Err(ApiError::invalid(
                "env",
                format!("`{line}` is not KEY=VALUE"),
            ));
        };
        env.insert(key.trim().to_string(), val.trim().to_string());
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::parse_env;

    #[test]
    fn env_takes_json_or_lines() {
        let env = parse_env("{\"A\":\"1\"}").unwrap();
        assert_eq!(env["A"], "1");
        let env = parse_env("# comment\nA=1\n\nB = x=y\n").unwrap();
        assert_eq!(env["A"], "1");
        assert_eq!(env["B"], "x=y");
        assert_eq!(parse_env("NOPE").unwrap_err().field.as_deref(), Some("env"));
    }
}
