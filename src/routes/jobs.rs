//! Client job routes: create, status, list, cancel.

use crate::clock::now_ms;
use crate::config::millis;
use crate::http::actions;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{AppJson, AppQuery};
use crate::http::reads;
use crate::http::validate::{self, text};
use crate::model::JobListParams;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use gantry_api::{
    CancelJobRequest, CreateJobRequest, Job, JobStatus, JobStatusResponse, JobsListResponse,
};
use serde::Deserialize;

/// Default page size of the job list.
pub const DEFAULT_LIST_LIMIT: i64 = 100;
/// Largest page size of the job list.
pub const MAX_LIST_LIMIT: i64 = 1000;

/// `POST /api/jobs/create`: 201 with the new job, or 200 with the job an idempotency key
/// already created.
#[utoipa::path(post, path = "/api/jobs/create", operation_id = "createJob", tag = "jobs", request_body = CreateJobRequest,
    responses((status = 201, description = "created", body = Job),
        (status = 200, description = "the job this idempotency key already created", body = Job),
        (status = 400, description = "bad input", body = gantry_api::ErrorBody), (status = 415, description = "the body is not sent as JSON (`Content-Type: application/json`)", body = gantry_api::ErrorBody), (status = 401, description = "missing or wrong token", body = gantry_api::ErrorBody), (status = 413, description = "body too large", body = gantry_api::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    AppJson(req): AppJson<CreateJobRequest>,
) -> ApiResult<(StatusCode, Json<Job>)> {
    let id = uuid::Uuid::now_v7().to_string();
    let default_timeout = millis(state.config.default_job_timeout);
    let params = validate::job_insert(req, id, now_ms(), default_timeout)?;
    let (job, created) = state.repo.job_insert(params).await?;
    if created {
        state.scheduler.trigger();
    }
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(job.to_api()?)))
}

/// The `jobId` query parameter.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct JobIdQuery {
    /// The job. Required; kept optional here so that its absence gets this API's own error.
    #[param(required = true)]
    job_id: Option<String>,
}

/// `GET /api/jobs/status?jobId=`: the job with its whole history.
#[utoipa::path(get, path = "/api/jobs/status", operation_id = "jobStatus", tag = "jobs", params(JobIdQuery),
    responses((status = 200, description = "the job and its history", body = JobStatusResponse), (status = 400, description = "bad input", body = gantry_api::ErrorBody), (status = 401, description = "missing or wrong token", body = gantry_api::ErrorBody), (status = 404, description = "unknown id", body = gantry_api::ErrorBody)))]
pub async fn status(
    State(state): State<AppState>,
    AppQuery(query): AppQuery<JobIdQuery>,
) -> ApiResult<Json<JobStatusResponse>> {
    let Some(raw) = query.job_id else {
        return Err(ApiError::invalid("jobId", "pass the job's id as ?jobId="));
    };
    let id = validate::job_id("jobId", &raw)?;
    Ok(Json(reads::job_with_history(&state, &id).await?))
}

/// Filters of `GET /api/jobs/list`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct ListQuery {
    /// One state or several, comma-separated, any case.
    status: Option<String>,
    /// Holder or last holder.
    worker_id: Option<String>,
    /// Created at or after (epoch ms or RFC 3339).
    from: Option<String>,
    /// Created before (epoch ms or RFC 3339).
    to: Option<String>,
    /// Text in the id or command (without a NUL byte), looked for among the newest 20,000 jobs
    /// the other filters select; when that window ends before the page fills, `nextCursor`
    /// continues behind it.
    q: Option<String>,
    /// The previous page's `nextCursor`.
    cursor: Option<String>,
    /// Page size, up to 1000.
    limit: Option<i64>,
}

/// `GET /api/jobs/list`: newest first, with a cursor for the next page.
#[utoipa::path(get, path = "/api/jobs/list", operation_id = "listJobs", tag = "jobs", params(ListQuery),
    responses((status = 200, description = "a page of jobs", body = JobsListResponse), (status = 400, description = "bad input", body = gantry_api::ErrorBody), (status = 401, description = "missing or wrong token", body = gantry_api::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    AppQuery(query): AppQuery<ListQuery>,
) -> ApiResult<Json<JobsListResponse>> {
    let limit = query.limit.unwrap_or(DEFAULT_LIST_LIMIT);
    if !(1..=MAX_LIST_LIMIT).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            format!("limit must be between 1 and {MAX_LIST_LIMIT}"),
        ));
    }
    let statuses = match query.status.as_deref().filter(|s| !s.is_empty()) {
        None => Vec::new(),
        Some(text) => text
            .split(',')
            .map(|s| s.parse::<JobStatus>())
            .collect::<Result<_, _>>()
            .map_err(|e| ApiError::invalid("status", e.to_string()))?,
    };
    let params = JobListParams {
        statuses,
        worker_id: query
            .worker_id
            .map(|w| validate::worker_id("workerId", &w))
            .transpose()?,
        created_from: query
            .from
            .map(|t| validate::parse_time_text("from", &t))
            .transpose()?,
        created_to: query
            .to
            .map(|t| validate::parse_time_text("to", &t))
            .transpose()?,
        search: query
            .q
            .filter(|q| !q.is_empty())
            .map(|q| text::check("q", &q, validate::MAX_COMMAND_BYTES).map(|()| q))
            .transpose()?,
        before_id: query
            .cursor
            .map(|c| validate::job_id("cursor", &c))
            .transpose()?,
        from_id: None,
        limit,
    };
    let (jobs, next_cursor) = reads::job_page(&state, params).await?;
    Ok(Json(JobsListResponse { jobs, next_cursor }))
}

/// `POST /api/jobs/cancel`: waiting jobs end at once; held ones end CANCELLED and their worker
/// is told to stop them in its next poll or heartbeat answer.
#[utoipa::path(post, path = "/api/jobs/cancel", operation_id = "cancelJob", tag = "jobs", request_body = CancelJobRequest,
    responses((status = 200, description = "cancelled", body = Job), (status = 400, description = "bad input", body = gantry_api::ErrorBody), (status = 415, description = "the body is not sent as JSON (`Content-Type: application/json`)", body = gantry_api::ErrorBody), (status = 401, description = "missing or wrong token", body = gantry_api::ErrorBody), (status = 404, description = "unknown id", body = gantry_api::ErrorBody), (status = 409, description = "refused in the current state; nothing changed", body = gantry_api::ErrorBody)))]
pub async fn cancel(
    State(state): State<AppState>,
    AppJson(req): AppJson<CancelJobRequest>,
) -> ApiResult<Json<Job>> {
    let id = validate::job_id("jobId", &req.job_id)?;
    let job = actions::cancel_job(&state, &id).await?;
    Ok(Json(job.to_api()?))
}
