//! Changes the REST routes and the dashboard's forms both make.

use super::error::ApiResult;
use crate::clock::now_ms;
use crate::model::JobRecord;
use crate::state::AppState;

/// Cancels a job (`id` must be a checked job id). A held job's worker is woken from its long
/// poll to hear the stop instruction, and the scheduler runs a pass for the freed slot.
pub async fn cancel_job(state: &AppState, id: &str) -> ApiResult<JobRecord> {
    let job = state.repo.job_cancel(id, now_ms()).await?;
    if let Some(worker_id) = &job.worker_id {
        state.waiters.wake(worker_id);
        state.scheduler.trigger();
    }
    Ok(job)
}
