//! The routes a worker uses for its jobs: get-job (long poll), start, submit-result.

use super::auth::require_worker;
use crate::clock::now_ms;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::AppJson;
use crate::http::validate;
use crate::model::JobRecord;
use crate::repo::RepoResult;
use crate::state::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use gantry_api::{
    GetJobRequest, GetJobResponse, Job, StartJobRequest, StopJob, SubmitResultRequest,
};
use std::time::Duration;
use tokio::time::Instant;

/// Longest long poll a worker may ask for.
pub const MAX_WAIT_MS: i64 = 60_000;
/// Most jobs one poll may take.
pub const MAX_JOBS_PER_POLL: i64 = 256;
/// A long poll re-reads the database this often even without a wake-up, for jobs placed by
/// another server replica.
pub const LONG_POLL_RECHECK: Duration = Duration::from_millis(500);

/// `POST /api/jobs/get-job`: the worker's newly assigned jobs (each delivery is an attempt;
/// already RUNNING with `startOnDelivery`), and which of its running jobs to stop. Waits up
/// to `waitMs` while there is neither.
#[utoipa::path(post, path = "/api/jobs/get-job", operation_id = "getJob", tag = "worker protocol", request_body = GetJobRequest,
    responses((status = 200, description = "new attempts and stop instructions (both may be empty)", body = GetJobResponse), (status = 400, description = "bad input", body = gantry_api::ErrorBody), (status = 415, description = "the body is not sent as JSON (`Content-Type: application/json`)", body = gantry_api::ErrorBody), (status = 401, description = "missing or wrong token", body = gantry_api::ErrorBody), (status = 403, description = "the token acts for another worker", body = gantry_api::ErrorBody), (status = 404, description = "unknown id", body = gantry_api::ErrorBody)))]
pub async fn get_job(
    State(state): State<AppState>,
    headers: HeaderMap,
    AppJson(req): AppJson<GetJobRequest>,
) -> ApiResult<Json<GetJobResponse>> {
    let worker_id = validate::worker_id("workerId", &req.worker_id)?;
    require_worker(&state, &headers, &worker_id).await?;
    let max = req.max.unwrap_or(1);
    // 0 is a full agent asking only for stop instructions for what it runs.
    if !(0..=MAX_JOBS_PER_POLL).contains(&max) {
        return Err(ApiError::invalid(
            "max",
            format!("max must be between 0 and {MAX_JOBS_PER_POLL}"),
        ));
    }
    let wait_ms = req.wait_ms.unwrap_or(0);
    if !(0..=MAX_WAIT_MS).contains(&wait_ms) {
        return Err(ApiError::invalid(
            "waitMs",
            format!("waitMs must be between 0 and {MAX_WAIT_MS}"),
        ));
    }
    if let Some(running) = &req.running_job_ids {
        validate::job_ids("runningJobIds", running)?;
    }
    if state.repo.worker_get(&worker_id).await?.is_none() {
        return Err(ApiError::not_found(
            "unknown_worker",
            format!("worker `{worker_id}` is not registered; register again"),
        ));
    }
    // Carried results first: the slots they free count for this very poll.
    let results = if req.results.is_empty() {
        Vec::new()
    } else {
        super::batch::record_results(&state, &worker_id, req.results).await?
    };
    let running = req.running_job_ids.unwrap_or_default();
    let deadline = Instant::now() + Duration::from_millis(wait_ms as u64);
    let signal = state.waiters.subscribe(&worker_id);
    loop {
        // Register for the wake-up before reading, so a placement between the read and the
        // wait is not missed.
        let woken = signal.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();

        let news = news(&state, &worker_id, &running, max, req.start_on_delivery);
        let (stop_jobs, jobs) = tokio::select! {
            news = news => news?,
            // A read stuck in the database (a lock held, a connection gone quiet) must not
            // hold up the server's shutdown: the agent polls again, elsewhere or later.
            _ = state.shutdown.cancelled() => {
                return Ok(Json(GetJobResponse {
                    results,
                    ..GetJobResponse::default()
                }));
            }
        };
        if !jobs.is_empty() || !stop_jobs.is_empty() || Instant::now() >= deadline {
            for job in &jobs {
                crate::metrics::observe_delivery(job.queued_at);
            }
            let jobs = jobs
                .iter()
                .map(|j| j.to_api())
                .collect::<Result<Vec<Job>, _>>()?;
            return Ok(Json(GetJobResponse {
                jobs,
                stop_jobs,
                results,
            }));
        }
        let recheck = (Instant::now() + LONG_POLL_RECHECK).min(deadline);
        tokio::select! {
            _ = woken => {}
            _ = tokio::time::sleep_until(recheck) => {}
            _ = state.shutdown.cancelled() => {
                return Ok(Json(GetJobResponse {
                    results,
                    ..GetJobResponse::default()
                }));
            }
        }
    }
}

/// What a poll hands the worker: which of its `running` jobs to stop, and up to `max` of its
/// newly assigned jobs (started at once with `start`).
async fn news(
    state: &AppState,
    worker_id: &str,
    running: &[String],
    max: i64,
    start: bool,
) -> RepoResult<(Vec<StopJob>, Vec<JobRecord>)> {
    // The stop list first: it only reads, so when it fails nothing is lost, whereas a failure
    // after the delivery committed would leave its jobs handed to nobody.
    let stop_jobs = state.repo.worker_stop_list(worker_id, running).await?;
    let jobs = if max > 0 && start {
        state
            .repo
            .job_deliver_started(worker_id, max, now_ms())
            .await?
    } else if max > 0 {
        state.repo.job_deliver(worker_id, max, now_ms()).await?
    } else {
        Vec::new()
    };
    Ok((stop_jobs, jobs))
}

/// `POST /api/jobs/start`: the worker began the attempt it was given.
#[utoipa::path(post, path = "/api/jobs/start", operation_id = "startJob", tag = "worker protocol", request_body = StartJobRequest,
    responses((status = 200, description = "RUNNING", body = Job), (status = 400, description = "bad input", body = gantry_api::ErrorBody), (status = 415, description = "the body is not sent as JSON (`Content-Type: application/json`)", body = gantry_api::ErrorBody), (status = 401, description = "missing or wrong token", body = gantry_api::ErrorBody), (status = 403, description = "the token acts for another worker", body = gantry_api::ErrorBody), (status = 404, description = "unknown id", body = gantry_api::ErrorBody), (status = 409, description = "refused in the current state; nothing changed", body = gantry_api::ErrorBody)))]
pub async fn start(
    State(state): State<AppState>,
    headers: HeaderMap,
    AppJson(req): AppJson<StartJobRequest>,
) -> ApiResult<Json<Job>> {
    let worker_id = validate::worker_id("workerId", &req.worker_id)?;
    let job_id = validate::job_id("jobId", &req.job_id)?;
    require_worker(&state, &headers, &worker_id).await?;
    let attempt = validate::attempt(req.attempt)?;
    let job = if req.pulling {
        state
            .repo
            .job_start_pulling(&worker_id, &job_id, attempt, now_ms())
            .await?
    } else {
        state
            .repo
            .job_start(&worker_id, &job_id, attempt, now_ms())
            .await?
    };
    Ok(Json(job.to_api()?))
}

/// `POST /api/jobs/submit-result`: how the attempt ended. Refused with 409 (and nothing
/// changed) when it is not the current attempt of this worker.
#[utoipa::path(post, path = "/api/jobs/submit-result", operation_id = "submitResult", tag = "worker protocol", request_body = SubmitResultRequest,
    responses((status = 200, description = "recorded; the job moved on", body = Job), (status = 400, description = "bad input", body = gantry_api::ErrorBody), (status = 415, description = "the body is not sent as JSON (`Content-Type: application/json`)", body = gantry_api::ErrorBody), (status = 401, description = "missing or wrong token", body = gantry_api::ErrorBody), (status = 403, description = "the token acts for another worker", body = gantry_api::ErrorBody), (status = 404, description = "unknown id", body = gantry_api::ErrorBody), (status = 409, description = "refused in the current state; nothing changed", body = gantry_api::ErrorBody)))]
pub async fn submit_result(
    State(state): State<AppState>,
    headers: HeaderMap,
    AppJson(req): AppJson<SubmitResultRequest>,
) -> ApiResult<Json<Job>> {
    let worker_id = validate::worker_id("workerId", &req.worker_id)?;
    validate::job_id("jobId", &req.job_id)?;
    require_worker(&state, &headers, &worker_id).await?;
    let params = validate::job_finish(&worker_id, req, now_ms())?;
    let duration_ms = params.duration_ms;
    let job = state.repo.job_finish(params).await?;
    crate::metrics::observe_run_time(duration_ms);
    // A slot freed up, and the job may be queued again.
    state.scheduler.trigger();
    Ok(Json(job.to_api()?))
}
