//! Reads the REST routes and the dashboard pages both render from, so both show the same
//! thing the same way.

use super::error::{ApiError, ApiResult};
use crate::clock::now_ms;
use crate::lifecycle::worker;
use crate::model::JobListParams;
use crate::state::AppState;
use gantry_api::{Job, JobStatusResponse, Worker};

/// A job with its history, oldest first. `id` must be a checked job id.
pub async fn job_with_history(state: &AppState, id: &str) -> ApiResult<JobStatusResponse> {
    let job = state
        .repo
        .job_get(id)
        .await?
        .ok_or_else(|| ApiError::not_found("unknown_job", format!("job `{id}` not found")))?;
    let history = state
        .repo
        .job_history(id)
        .await?
        .iter()
        .map(|h| h.to_api())
        .collect();
    Ok(JobStatusResponse {
        job: job.to_api()?,
        history,
    })
}

/// A page of jobs, newest first, and the cursor of the next page (the last id, when the page
/// is full).
pub async fn job_page(
    state: &AppState,
    params: JobListParams,
) -> ApiResult<(Vec<Job>, Option<String>)> {
    let limit = params.limit;
    let records = state.repo.job_list(params).await?;
    let next_cursor = (records.len() as i64 == limit)
        .then(|| records.last().map(|j| j.id.clone()))
        .flatten();
    let jobs = records
        .iter()
        .map(|j| j.to_api())
        .collect::<Result<_, _>>()?;
    Ok((jobs, next_cursor))
}

/// Every worker as the API shows it, in the repository's order.
pub async fn workers(state: &AppState) -> ApiResult<Vec<Worker>> {
    let now = now_ms();
    let mut workers = Vec::new();
    for (record, job_ids) in state.repo.worker_list().await? {
        workers.push(record.to_api(worker::status(&record, now), now, job_ids)?);
    }
    Ok(workers)
}
