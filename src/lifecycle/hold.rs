//! Holds: an attempt that may still be running on its worker although the server can no
//! longer see it there, so that nothing runs twice at once and no capacity is promised twice.
//!
//! Two kinds, told apart by the job row alone:
//! - an **orphan**: the job is still ASSIGNED/RUNNING on the worker, whose agent registered
//!   again without saying that its earlier jobs were stopped (`earlier_jobs_stopped`). It is
//!   not handed out again, not timed out and not declared lost, until the hold's bound passes
//!   (the new agent cannot report on its earlier life's processes, so its heartbeats prove
//!   nothing); then a sweep requeues it like any lost job.
//! - a **stopped** attempt: the job already moved on (cancelled, timed out) while its attempt
//!   ran. Clients see the new state at once; the worker's reservation for the attempt stays
//!   until the agent reports it gone (its result arrives, or a heartbeat no longer lists the
//!   job) or the bound passes.
//!
//! The bound is the server's orphan grace (`--orphan-grace`): at least the agents' kill grace
//! plus the time to report.

use super::Policy;
use crate::model::JobRecord;
use gantry_api::JobStatus;
use std::collections::HashSet;

/// What a job's hold is, if it has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldKind {
    /// The job still sits on the worker, left there by the agent's earlier life.
    Orphan,
    /// The job moved on; only the attempt's reservation is held.
    Stopped,
}

/// The kind of `job`'s hold, or `None` when it holds nothing.
pub fn kind(job: &JobRecord) -> Option<HoldKind> {
    let on = job.held_on.as_deref()?;
    let same_attempt =
        job.worker_id.as_deref() == Some(on) && job.held_attempt == Some(job.attempts);
    Some(if job.status.is_on_worker() && same_attempt {
        HoldKind::Orphan
    } else {
        HoldKind::Stopped
    })
}

/// True when the job is an orphan: the sweepers and heartbeats leave it alone until its bound.
pub fn is_orphan(job: &JobRecord) -> bool {
    kind(job) == Some(HoldKind::Orphan)
}

/// Puts a hold on the attempt `job` has on its worker (its current worker and attempt), from
/// `now` to the end of the orphan grace. Nothing when the job has no worker.
pub fn hold(job: &mut JobRecord, now: i64, policy: &Policy) -> bool {
    let Some(worker) = job.worker_id.clone() else {
        return false;
    };
    job.held_on = Some(worker);
    job.held_attempt = Some(job.attempts);
    job.held_since = Some(now);
    job.held_until = Some(now + policy.orphan_grace_ms);
    true
}

/// Whether the hold should be taken for a running attempt that is being stopped: only a
/// started attempt can be running (one never started is refused its start from now on).
pub fn needs_hold(job_before: &JobRecord) -> bool {
    job_before.status == JobStatus::Running
}

/// Pushes a requeued job's run time past its hold's bound, so that a retry never starts while
/// the attempt it retries may still be running.
pub fn wait_out(job: &mut JobRecord, now: i64) {
    let Some(until) = job.held_until else {
        return;
    };
    let waiting = matches!(job.status, JobStatus::Pending | JobStatus::Queued);
    if waiting && job.run_at < until {
        job.run_at = until;
        if until > now {
            job.status = JobStatus::Pending;
        }
    }
}

/// True when the result (`worker_id`, `attempt`) is from the stopped attempt this job holds: it
/// is absorbed (the hold ends; the job is not changed).
pub fn absorbs_result(job: &JobRecord, worker_id: &str, attempt: i64) -> bool {
    kind(job) == Some(HoldKind::Stopped)
        && job.held_on.as_deref() == Some(worker_id)
        && job.held_attempt == Some(attempt)
}

/// True when a heartbeat of the holding worker shows the stopped attempt gone: the job is not
/// among the `reported` ids, and the hold is older than a heartbeat can lag
/// (`started_before`), so the heartbeat was composed after the attempt was stopped.
pub fn is_reported_gone(job: &JobRecord, reported: &HashSet<&str>, started_before: i64) -> bool {
    kind(job) == Some(HoldKind::Stopped)
        && job.held_since.is_some_and(|s| s < started_before)
        && !reported.contains(job.id.as_str())
}

/// True when the hold's bound has passed at `now`.
pub fn is_over(job: &JobRecord, now: i64) -> bool {
    job.held_until.is_some_and(|u| u <= now)
}

/// Ends the hold in the row.
pub fn clear(job: &mut JobRecord) {
    job.held_on = None;
    job.held_attempt = None;
    job.held_since = None;
    job.held_until = None;
}
