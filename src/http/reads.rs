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

/// How far a job's id may be from its creation time: both are read from the clock moments
/// apart when the job is made.
const ID_CLOCK_SLACK_MS: i64 = 1_000;

/// A page of jobs, newest first, and the cursor of the next page: the last id when the page
/// is full, or where a search's window ended when there may be more further back.
pub async fn job_page(
    state: &AppState,
    mut params: JobListParams,
) -> ApiResult<(Vec<Job>, Option<String>)> {
    // Job ids are UUID v7, which start with their creation time: a time filter becomes a range
    // of the primary key (the created_at filter stays for the exact bounds).
    if let Some(to) = params.created_to {
        let bound = id_prefix_at(to.saturating_add(ID_CLOCK_SLACK_MS));
        if params.before_id.as_ref().map_or(true, |b| *b > bound) {
            params.before_id = Some(bound);
        }
    }
    if let Some(from) = params.created_from {
        params.from_id = Some(id_prefix_at(from.saturating_sub(ID_CLOCK_SLACK_MS)));
    }
    let limit = params.limit;
    let records = state.repo.job_list(params.clone()).await?;
    let next_cursor = if records.len() as i64 == limit {
        records.last().map(|j| j.id.clone())
    } else if params.search.is_some() {
        state.repo.job_list_window_end(&params).await?
    } else {
        None
    };
    let jobs = records
        .iter()
        .map(|j| j.to_api())
        .collect::<Result<_, _>>()?;
    Ok((jobs, next_cursor))
}

/// The smallest UUID v7 text of the millisecond `ms` (its first 48 bits): every id made at or
/// after `ms` sorts at or above it, every id made before it below.
pub fn id_prefix_at(ms: i64) -> String {
    let ms = ms.clamp(0, (1 << 48) - 1);
    format!("{:08x}-{:04x}", ms >> 16, ms & 0xffff)
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
