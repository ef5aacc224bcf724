//! Who may act on a job: every delivery is an attempt of one worker, and a start, a result or
//! a running container from anyone else (or from an older attempt) is refused or stopped.
//! Also the checks the sweepers and heartbeats make before they move a job on.

use super::hold::is_orphan;
use crate::model::JobRecord;
use gantry_api::{JobStatus, StopReason};
use std::collections::HashSet;

/// Why a start, result or cancel was refused; nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    /// A stable code for clients: `wrong_state`, `not_holder` or `stale_attempt`.
    pub code: &'static str,
    /// A sentence for a person.
    pub message: String,
}

impl Refusal {
    /// The job is in a state that does not allow the call.
    pub fn wrong_state(message: String) -> Refusal {
        Refusal {
            code: "wrong_state",
            message,
        }
    }
}

/// True when `worker_id` holds attempt `attempt` of the job (whatever its state).
pub fn is_holder(job: &JobRecord, worker_id: &str, attempt: i64) -> bool {
    job.worker_id.as_deref() == Some(worker_id) && job.attempts == attempt
}

/// The refusal for a start or result that does not come from the job's current holder.
pub fn not_holder(job: &JobRecord, worker_id: &str, attempt: i64) -> Refusal {
    let state = job.status;
    if state.is_terminal() {
        return Refusal::wrong_state(format!("job {} already ended as {state}", job.id));
    }
    if job.worker_id.as_deref() != Some(worker_id) || !state.is_on_worker() {
        return Refusal {
            code: "not_holder",
            message: format!(
                "worker {worker_id} does not hold job {} (it is {state})",
                job.id
            ),
        };
    }
    if job.attempts != attempt {
        return Refusal {
            code: "stale_attempt",
            message: format!(
                "attempt {attempt} of job {} is over; the current attempt is {}",
                job.id, job.attempts
            ),
        };
    }
    Refusal::wrong_state(format!("job {} is {state}", job.id))
}

/// Why an agent must stop a job it reports running (`job` as stored, if it exists), or
/// `None` if it should go on.
pub fn stop_reason(job: Option<&JobRecord>, worker_id: &str) -> Option<StopReason> {
    let Some(job) = job else {
        return Some(StopReason::Unknown);
    };
    if job.worker_id.as_deref() != Some(worker_id) {
        return Some(StopReason::Reassigned);
    }
    match job.status {
        JobStatus::Assigned | JobStatus::Running => None,
        JobStatus::Cancelled => Some(StopReason::Cancelled),
        JobStatus::TimedOut => Some(StopReason::TimedOut),
        JobStatus::Completed | JobStatus::Failed => Some(StopReason::Finished),
        JobStatus::Pending | JobStatus::Queued => Some(StopReason::Reassigned),
    }
}

/// True when a heartbeat shows its worker lost a job it holds: RUNNING since before
/// `started_before` (longer than a heartbeat can lag) and not among the `reported` ids. An
/// orphan (see [`super::hold`]) is never lost this way: the agent that heartbeats is a new
/// life, which cannot see its earlier life's processes.
pub fn is_lost(job: &JobRecord, reported: &HashSet<&str>, started_before: i64) -> bool {
    job.status == JobStatus::Running
        && !is_orphan(job)
        && job.started_at.is_some_and(|s| s < started_before)
        && !reported.contains(job.id.as_str())
}

/// True for a RUNNING job whose deadline passed by `deadline_before` (an orphan waits for its
/// hold's bound instead).
pub fn is_past_deadline(job: &JobRecord, deadline_before: i64) -> bool {
    job.status == JobStatus::Running
        && !is_orphan(job)
        && job.deadline_at.is_some_and(|d| d <= deadline_before)
}

/// True for an ASSIGNED job assigned by `assigned_before` and never started (an orphan waits
/// for its hold's bound instead).
pub fn is_unstarted(job: &JobRecord, assigned_before: i64) -> bool {
    job.status == JobStatus::Assigned
        && !is_orphan(job)
        && job.assigned_at.is_some_and(|a| a <= assigned_before)
}
