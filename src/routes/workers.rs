//! Worker routes: register, heartbeat, and the fleet listing.

use super::auth::{new_worker_token, require_register, require_worker};
use crate::clock::now_ms;
use crate::config::millis;
use crate::http::auth::token_hash;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::AppJson;
use crate::http::reads;
use crate::http::validate::{self, text};
use crate::lifecycle::worker;
use crate::model::{cores_to_milli, WorkerHeartbeatParams, WorkerRegisterParams};
use crate::state::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use gantry_api::{
    HeartbeatRequest, HeartbeatResponse, RegisterWorkerRequest, RegisterWorkerResponse,
    WorkerStatus, WorkerSummary, WorkersListResponse,
};

/// Most labels a worker may carry.
pub const MAX_LABELS: usize = 64;

/// `POST /api/workers/register`.
#[utoipa::path(post, path = "/api/workers/register", operation_id = "registerWorker", tag = "workers",
    request_body = RegisterWorkerRequest,
    responses((status = 200, description = "registered; use workerId and token from now on", body = RegisterWorkerResponse), (status = 400, description = "bad input", body = gantry_api::ErrorBody), (status = 415, description = "the body is not sent as JSON (`Content-Type: application/json`)", body = gantry_api::ErrorBody), (status = 401, description = "missing or wrong token", body = gantry_api::ErrorBody), (status = 403, description = "the token acts for another worker", body = gantry_api::ErrorBody), (status = 403, description = "the id is a registered worker's: its own token or the API token is needed", body = gantry_api::ErrorBody)))]
pub async fn register(
    State(state): State<AppState>,
    headers: HeaderMap,
    AppJson(req): AppJson<RegisterWorkerRequest>,
) -> ApiResult<Json<RegisterWorkerResponse>> {
    // The id is checked after the token, so a caller without one learns nothing from a 400.
    let asked = req
        .worker_id
        .as_deref()
        .map(|id| validate::worker_id("workerId", id));
    let valid_asked = asked.as_ref().and_then(|id| id.as_deref().ok());
    let own_token = require_register(&state, &headers, valid_asked).await?;
    let id = match asked {
        Some(id) => id?,
        None => format!("worker-{}", uuid::Uuid::new_v4().simple()),
    };
    check_registration(&req)?;
    // A worker registering again with its own token keeps it (a retry after a lost answer
    // must not find it replaced); the join or API token gets a new one.
    let token = match own_token {
        Some(own) => Some(own),
        None => state.config.worker_token.is_some().then(new_worker_token),
    };
    let worker = state
        .repo
        .worker_register(WorkerRegisterParams {
            id: id.clone(),
            hostname: req.hostname,
            cpu_milli: cores_to_milli(req.cpu_cores),
            ram_total_mb: req.ram_total_mb,
            ram_free_mb: req.ram_free_mb,
            cpu_usage: req.cpu_usage,
            max_parallel_jobs: req.max_parallel_jobs,
            labels_json: serde_json::to_string(&req.labels).expect("labels serialize"),
            version: req.version,
            executor: req.executor,
            token_hash: token.as_deref().map(token_hash),
            earlier_jobs_stopped: req.earlier_jobs_stopped,
            now: now_ms(),
        })
        .await?;
    tracing::info!(worker = %id, host = %worker.hostname, "worker registered");
    state.scheduler.trigger();
    Ok(Json(RegisterWorkerResponse {
        worker_id: id,
        token,
        worker: worker.to_api(worker::status(&worker, now_ms()), now_ms(), Vec::new())?,
        heartbeat_timeout_ms: Some(millis(state.config.heartbeat_timeout)),
    }))
}

/// Checks a registration's hostname, capacity, metrics, labels and executor.
fn check_registration(req: &RegisterWorkerRequest) -> ApiResult<()> {
    if req.hostname.trim().is_empty() || req.hostname.len() > validate::MAX_NAME_BYTES {
        return Err(ApiError::invalid(
            "hostname",
            format!("hostname must be 1 to {} bytes", validate::MAX_NAME_BYTES),
        ));
    }
    text::check("hostname", &req.hostname, validate::MAX_NAME_BYTES)?;
    if let Some(version) = &req.version {
        text::check("version", version, validate::MAX_NAME_BYTES)?;
    }
    let max_cores = validate::MAX_WORKER_CPU_CORES;
    if !req.cpu_cores.is_finite() || req.cpu_cores <= 0.0 || req.cpu_cores > max_cores {
        return Err(ApiError::invalid(
            "cpuCores",
            format!("cpuCores must be above 0 and at most {max_cores}"),
        ));
    }
    if req.ram_total_mb <= 0 || req.ram_total_mb > validate::MAX_JOB_RAM_MB {
        return Err(ApiError::invalid(
            "ramTotalMb",
            format!(
                "ramTotalMb must be between 1 and {}",
                validate::MAX_JOB_RAM_MB
            ),
        ));
    }
    if !(1..=validate::MAX_PARALLEL_JOBS).contains(&req.max_parallel_jobs) {
        return Err(ApiError::invalid(
            "maxParallelJobs",
            format!(
                "maxParallelJobs must be between 1 and {}",
                validate::MAX_PARALLEL_JOBS
            ),
        ));
    }
    check_metrics(req.cpu_usage, req.ram_free_mb)?;
    if req.labels.len() > MAX_LABELS {
        return Err(ApiError::invalid(
            "labels",
            format!("at most {MAX_LABELS} labels"),
        ));
    }
    if let Some(executor) = &req.executor {
        if !matches!(executor.as_str(), "docker" | "process") {
            return Err(ApiError::invalid(
                "executor",
                "executor must be `docker` or `process`",
            ));
        }
    }
    Ok(())
}

fn check_metrics(cpu_usage: f64, ram_free_mb: i64) -> ApiResult<()> {
    if !cpu_usage.is_finite() || !(0.0..=validate::MAX_CPU_USAGE).contains(&cpu_usage) {
        return Err(ApiError::invalid(
            "cpuUsage",
            format!("cpuUsage must be between 0 and {}", validate::MAX_CPU_USAGE),
        ));
    }
    if ram_free_mb < 0 {
        return Err(ApiError::invalid(
            "ramFreeMb",
            "ramFreeMb must not be negative",
        ));
    }
    Ok(())
}

/// `POST /api/workers/heartbeat`.
#[utoipa::path(post, path = "/api/workers/heartbeat", operation_id = "heartbeat", tag = "workers",
    request_body = HeartbeatRequest,
    responses((status = 200, description = "recorded; stop the listed jobs", body = HeartbeatResponse), (status = 400, description = "bad input", body = gantry_api::ErrorBody), (status = 415, description = "the body is not sent as JSON (`Content-Type: application/json`)", body = gantry_api::ErrorBody), (status = 401, description = "missing or wrong token", body = gantry_api::ErrorBody), (status = 403, description = "the token acts for another worker", body = gantry_api::ErrorBody), (status = 404, description = "unknown id", body = gantry_api::ErrorBody)))]
pub async fn heartbeat(
    State(state): State<AppState>,
    headers: HeaderMap,
    AppJson(req): AppJson<HeartbeatRequest>,
) -> ApiResult<Json<HeartbeatResponse>> {
    let id = validate::worker_id("workerId", &req.worker_id)?;
    require_worker(&state, &headers, &id).await?;
    check_metrics(req.cpu_usage, req.ram_free_mb)?;
    validate::job_ids("runningJobIds", &req.running_job_ids)?;
    if !(0..=validate::MAX_JOB_RAM_MB).contains(&req.ram_total_mb) {
        return Err(ApiError::invalid(
            "ramTotalMb",
            "ramTotalMb must be between 0 (unchanged) and 16 TiB",
        ));
    }
    let images = validate::images_held(req.images.as_deref())?;
    let now = now_ms();
    let outcome = state
        .repo
        .worker_heartbeat(WorkerHeartbeatParams {
            id: id.clone(),
            cpu_usage: req.cpu_usage,
            ram_free_mb: req.ram_free_mb,
            ram_total_mb: req.ram_total_mb,
            executor_ok: req.executor_ok.unwrap_or(true),
            draining: req.draining.unwrap_or(false),
            running_job_ids: req.running_job_ids,
            lost_if_started_before: now - millis(state.config.heartbeat_timeout),
            images,
            now,
        })
        .await?;
    if outcome.came_back {
        tracing::info!(worker = %id, "worker is back online");
    }
    // Most heartbeats only refresh usage figures: a fleet's heartbeats must not each cost a
    // placement pass (the sweep timer still runs one).
    if outcome.placement_changed {
        state.scheduler.trigger();
    }
    let status = worker::status(&outcome.worker, now_ms());
    Ok(Json(HeartbeatResponse {
        status,
        stop_jobs: outcome.stop_jobs,
    }))
}

/// `GET /api/workers/list`.
#[utoipa::path(get, path = "/api/workers/list", operation_id = "listWorkers", tag = "workers",
    responses((status = 200, description = "every worker with a summary by status", body = WorkersListResponse), (status = 401, description = "missing or wrong token", body = gantry_api::ErrorBody)))]
pub async fn list(State(state): State<AppState>) -> ApiResult<Json<WorkersListResponse>> {
    let workers = reads::workers(&state).await?;
    let mut summary = WorkerSummary::default();
    for worker in &workers {
        match worker.status {
            WorkerStatus::Idle => summary.idle += 1,
            WorkerStatus::Busy => summary.busy += 1,
            WorkerStatus::Unhealthy => summary.unhealthy += 1,
            WorkerStatus::Offline => summary.offline += 1,
        }
    }
    Ok(Json(WorkersListResponse {
        total_workers: workers.len() as i64,
        summary,
        workers,
    }))
}
