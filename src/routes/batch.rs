//! Batch forms of create, start and submit-result: many jobs per call and per transaction,
//! for clients and agents that move many small jobs. The single routes stay as they are.

use super::auth::require_worker;
use crate::clock::now_ms;
use crate::config::millis;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::AppJson;
use crate::http::validate;
use crate::model::JobRecord;
use crate::repo::RepoResult;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use gantry_api::{
    BatchOutcome, BatchResponse, CreateJobsRequest, CreateJobsResponse, ErrorDetail,
    StartJobsRequest, SubmitResultRequest, SubmitResultsRequest,
};

/// Most items in one batch.
pub const MAX_BATCH_ITEMS: usize = 1000;

/// `POST /api/jobs/create-batch`: every job is checked first and one bad job refuses the
/// batch; then all are created in one transaction.
#[utoipa::path(post, path = "/api/jobs/create-batch", operation_id = "createJobs", tag = "jobs", request_body = CreateJobsRequest,
    responses((status = 201, description = "created (a reused idempotency key yields its first job)", body = CreateJobsResponse),
        (status = 400, description = "bad input; `field` names the job, e.g. `jobs[3].command`; nothing created", body = gantry_api::ErrorBody), (status = 415, description = "the body is not sent as JSON (`Content-Type: application/json`)", body = gantry_api::ErrorBody), (status = 401, description = "missing or wrong token", body = gantry_api::ErrorBody), (status = 413, description = "body too large", body = gantry_api::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    AppJson(req): AppJson<CreateJobsRequest>,
) -> ApiResult<(StatusCode, Json<CreateJobsResponse>)> {
    check_size("jobs", req.jobs.len())?;
    let now = now_ms();
    let default_timeout = millis(state.config.default_job_timeout);
    let params = req
        .jobs
        .into_iter()
        .enumerate()
        .map(|(i, job)| {
            let id = uuid::Uuid::now_v7().to_string();
            validate::job_insert(job, id, now, default_timeout).map_err(|e| in_item("jobs", i, e))
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let created = state.repo.job_insert_many(params).await?;
    if created.iter().any(|(_, new)| *new) {
        state.scheduler.trigger();
    }
    let jobs = created
        .iter()
        .map(|(job, _)| job.to_api())
        .collect::<Result<_, _>>()?;
    Ok((StatusCode::CREATED, Json(CreateJobsResponse { jobs })))
}

/// `POST /api/jobs/start-batch`: the worker began these attempts; one outcome per item.
#[utoipa::path(post, path = "/api/jobs/start-batch", operation_id = "startJobs", tag = "worker protocol", request_body = StartJobsRequest,
    responses((status = 200, description = "one outcome per attempt, in order", body = BatchResponse), (status = 400, description = "bad input; nothing changed", body = gantry_api::ErrorBody), (status = 415, description = "the body is not sent as JSON (`Content-Type: application/json`)", body = gantry_api::ErrorBody), (status = 401, description = "missing or wrong token", body = gantry_api::ErrorBody), (status = 403, description = "the token acts for another worker", body = gantry_api::ErrorBody)))]
pub async fn start(
    State(state): State<AppState>,
    headers: HeaderMap,
    AppJson(req): AppJson<StartJobsRequest>,
) -> ApiResult<Json<BatchResponse>> {
    let worker_id = validate::worker_id("workerId", &req.worker_id)?;
    require_worker(&state, &headers, &worker_id).await?;
    check_size("jobs", req.jobs.len())?;
    let mut attempts = Vec::with_capacity(req.jobs.len());
    let mut pulling = Vec::with_capacity(req.jobs.len());
    for (i, item) in req.jobs.iter().enumerate() {
        let id = validate::job_id("jobId", &item.job_id).map_err(|e| in_item("jobs", i, e))?;
        let attempt = validate::attempt(item.attempt).map_err(|e| in_item("jobs", i, e))?;
        attempts.push((id, attempt));
        pulling.push(item.pulling);
    }
    let now = now_ms();
    // Starts that pull first are rare (a pull takes seconds): one by one, the rest at once.
    let (pulls, starts): (Vec<_>, Vec<_>) = attempts
        .iter()
        .cloned()
        .zip(pulling.iter().copied())
        .partition(|(_, pulls)| *pulls);
    let starts: Vec<(String, i64)> = starts.into_iter().map(|(a, _)| a).collect();
    let mut started = state
        .repo
        .job_start_many(&worker_id, &starts, now)
        .await?
        .into_iter();
    let mut pulled = Vec::with_capacity(pulls.len());
    for ((id, attempt), _) in &pulls {
        pulled.push(
            state
                .repo
                .job_start_pulling(&worker_id, id, *attempt, now)
                .await,
        );
    }
    let mut pulled = pulled.into_iter();
    let outcomes = pulling
        .iter()
        .map(|pulls| {
            let next = if *pulls {
                pulled.next()
            } else {
                started.next()
            };
            next.expect("one outcome per item")
        })
        .collect();
    let ids = attempts.into_iter().map(|(id, _)| id);
    Ok(Json(answer(ids, outcomes)?))
}

/// `POST /api/jobs/submit-result-batch`: how these attempts ended; one outcome per item, a
/// refused item (not this worker's current attempt) changes nothing.
#[utoipa::path(post, path = "/api/jobs/submit-result-batch", operation_id = "submitResults", tag = "worker protocol", request_body = SubmitResultsRequest,
    responses((status = 200, description = "one outcome per result, in order", body = BatchResponse), (status = 400, description = "bad input; nothing changed", body = gantry_api::ErrorBody), (status = 415, description = "the body is not sent as JSON (`Content-Type: application/json`)", body = gantry_api::ErrorBody), (status = 401, description = "missing or wrong token", body = gantry_api::ErrorBody), (status = 403, description = "the token acts for another worker", body = gantry_api::ErrorBody)))]
pub async fn submit_results(
    State(state): State<AppState>,
    headers: HeaderMap,
    AppJson(req): AppJson<SubmitResultsRequest>,
) -> ApiResult<Json<BatchResponse>> {
    let worker_id = validate::worker_id("workerId", &req.worker_id)?;
    require_worker(&state, &headers, &worker_id).await?;
    let results = record_results(&state, &worker_id, req.results).await?;
    Ok(Json(BatchResponse { results }))
}

/// Records how these attempts of `worker_id` ended (the results of a batch, or those a poll
/// carries): one outcome per result, in order; a refused one changes nothing. Bad input
/// refuses them all (an empty or oversized list too), and nothing changes.
pub(super) async fn record_results(
    state: &AppState,
    worker_id: &str,
    results: Vec<SubmitResultRequest>,
) -> ApiResult<Vec<BatchOutcome>> {
    check_size("results", results.len())?;
    let now = now_ms();
    let mut params = Vec::with_capacity(results.len());
    for (i, r) in results.into_iter().enumerate() {
        let field = |e| in_item("results", i, e);
        if !r.worker_id.is_empty() && r.worker_id != worker_id {
            return Err(field(ApiError::invalid(
                "workerId",
                "a result's workerId must be the batch's",
            )));
        }
        params.push(validate::job_finish(worker_id, r, now).map_err(field)?);
    }
    let ids: Vec<String> = params.iter().map(|p| p.job_id.clone()).collect();
    let durations: Vec<Option<i64>> = params.iter().map(|p| p.duration_ms).collect();
    let outcomes = state.repo.job_finish_many(params).await?;
    for (duration, outcome) in durations.into_iter().zip(&outcomes) {
        if outcome.is_ok() {
            crate::metrics::observe_run_time(duration);
        }
    }
    // Slots freed up, and jobs may be queued again.
    state.scheduler.trigger();
    Ok(answer(ids.into_iter(), outcomes)?.results)
}

/// Refuses an empty or oversized batch.
fn check_size(field: &str, len: usize) -> ApiResult<()> {
    if len == 0 || len > MAX_BATCH_ITEMS {
        return Err(ApiError::invalid(
            field,
            format!("send between 1 and {MAX_BATCH_ITEMS} items"),
        ));
    }
    Ok(())
}

/// Names the item in an item's error: `jobs[3].command`.
fn in_item(list: &str, index: usize, mut e: ApiError) -> ApiError {
    e.field = Some(match e.field {
        Some(f) => format!("{list}[{index}].{f}"),
        None => format!("{list}[{index}]"),
    });
    e
}

/// The per-item answer: each job as it is now, or the single route's error for it. A
/// database failure fails the whole call (nothing was committed).
fn answer(
    ids: impl Iterator<Item = String>,
    outcomes: Vec<RepoResult<JobRecord>>,
) -> ApiResult<BatchResponse> {
    let mut results = Vec::with_capacity(outcomes.len());
    for (job_id, outcome) in ids.zip(outcomes) {
        let item = match outcome {
            Ok(job) => BatchOutcome {
                job_id,
                job: Some(job.to_api()?),
                error: None,
            },
            Err(e) => {
                let e = ApiError::from(e);
                if e.status.is_server_error() {
                    return Err(e);
                }
                BatchOutcome {
                    job_id,
                    job: None,
                    error: Some(ErrorDetail {
                        code: e.code.to_string(),
                        message: e.message,
                        field: e.field,
                    }),
                }
            }
        };
        results.push(item);
    }
    Ok(BatchResponse { results })
}
