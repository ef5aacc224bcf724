//! Many-row writes shared by the batch methods and placement: history rows, state changes and
//! released reservations, each as one statement fed a JSON array (the `*_many.sql` files).

use super::{record_outcome, sql, Tx};
use crate::lifecycle::job::{self, Transition};
use crate::lifecycle::worker::batch_outcomes;
use crate::lifecycle::{Fault, Policy, WorkerOutcome};
use crate::model::JobRecord;
use crate::repo::RepoResult;
use gantry_api::{AttemptUsage, JobStatus};
use serde::Serialize;
use std::collections::HashMap;

/// One history row as `history_insert_many.sql` reads it.
#[derive(Serialize)]
pub(super) struct HistoryRow<'a> {
    h_job: &'a str,
    h_attempt: i64,
    h_from: Option<&'static str>,
    h_to: &'static str,
    h_worker: Option<&'a str>,
    h_at: i64,
    h_reason: &'a str,
    h_fault: Option<&'static str>,
    /// What the attempt used, on the row that ends one.
    #[serde(flatten)]
    h_used: Used,
}

/// The usage columns of a history row as `history_insert_many.sql` reads them (left out of
/// the JSON when not measured, which reads as NULL).
#[derive(Serialize, Default)]
struct Used {
    #[serde(skip_serializing_if = "Option::is_none")]
    h_cpu_seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    h_peak_memory_mb: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    h_pull_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    h_run_ms: Option<i64>,
}

impl<'a> HistoryRow<'a> {
    /// The row recording that `job` (as it is after the change) went from `from` to `to`.
    pub(super) fn of(
        job: &'a JobRecord,
        from: Option<JobStatus>,
        to: JobStatus,
        at: i64,
        reason: &'a str,
    ) -> Self {
        HistoryRow {
            h_job: &job.id,
            h_attempt: job.attempts,
            h_from: from.map(JobStatus::as_str),
            h_to: to.as_str(),
            h_worker: job.worker_id.as_deref(),
            h_at: at,
            h_reason: reason,
            h_fault: None,
            h_used: Used::default(),
        }
    }

    /// The same row, recording what the attempt it ends used.
    pub(super) fn used(mut self, u: AttemptUsage) -> Self {
        self.h_used = Used {
            h_cpu_seconds: u.cpu_seconds,
            h_peak_memory_mb: u.peak_memory_mb,
            h_pull_ms: u.pull_ms,
            h_run_ms: u.run_ms,
        };
        self
    }

    /// The same row, recording whose fault the change was.
    pub(super) fn by(mut self, fault: Option<Fault>) -> Self {
        self.h_fault = fault.map(Fault::as_str);
        self
    }

    /// The row recording that `job_id` was created in `status`.
    pub(super) fn created(job_id: &'a str, status: JobStatus, at: i64, reason: &'a str) -> Self {
        HistoryRow {
            h_job: job_id,
            h_attempt: 0,
            h_from: None,
            h_to: status.as_str(),
            h_worker: None,
            h_at: at,
            h_reason: reason,
            h_fault: None,
            h_used: Used::default(),
        }
    }

    /// The row recording that `job_id`, PENDING, reached its run time and was queued.
    pub(super) fn promoted(job_id: &'a str, attempt: i64, at: i64) -> Self {
        HistoryRow {
            h_job: job_id,
            h_attempt: attempt,
            h_from: Some(JobStatus::Pending.as_str()),
            h_to: JobStatus::Queued.as_str(),
            h_worker: None,
            h_at: at,
            h_reason: job::PROMOTED,
            h_fault: None,
            h_used: Used::default(),
        }
    }

    /// The row recording that `worker_id` started attempt `attempt` of `job_id`.
    pub(super) fn started(job_id: &'a str, attempt: i64, worker_id: &'a str, at: i64) -> Self {
        HistoryRow {
            h_job: job_id,
            h_attempt: attempt,
            h_from: Some(JobStatus::Assigned.as_str()),
            h_to: JobStatus::Running.as_str(),
            h_worker: Some(worker_id),
            h_at: at,
            h_reason: job::STARTED,
            h_fault: None,
            h_used: Used::default(),
        }
    }

    /// The row recording that placement gave attempt `attempt` of `job_id` to `worker_id`.
    pub(super) fn placed(job_id: &'a str, attempt: i64, worker_id: &'a str, at: i64) -> Self {
        HistoryRow {
            h_job: job_id,
            h_attempt: attempt,
            h_from: Some(JobStatus::Queued.as_str()),
            h_to: JobStatus::Assigned.as_str(),
            h_worker: Some(worker_id),
            h_at: at,
            h_reason: job::PLACED,
            h_fault: None,
            h_used: Used::default(),
        }
    }
}

/// Appends the rows, in order.
pub(super) async fn history_many(tx: &mut Tx, rows: &[HistoryRow<'_>]) -> RepoResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(sql::HISTORY_INSERT_MANY)
        .bind(to_json(rows))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// One changed job as `jobs_update_many.sql` reads it.
#[derive(Serialize)]
struct ChangedJob<'a> {
    u_id: &'a str,
    status: &'static str,
    failed_attempts: i64,
    infra_retries: i64,
    run_at: i64,
    queued_at: Option<i64>,
    delivered_at: Option<i64>,
    started_at: Option<i64>,
    deadline_at: Option<i64>,
    finished_at: Option<i64>,
    exit_code: Option<i64>,
    stdout: Option<&'a str>,
    stderr: Option<&'a str>,
    error: Option<&'a str>,
    duration_ms: Option<i64>,
    oom_killed: i64,
    reason: Option<&'a str>,
    blocked: i64,
    cpu_seconds: Option<f64>,
    peak_memory_mb: Option<f64>,
    pull_ms: Option<i64>,
    run_ms: Option<i64>,
    phase: Option<&'a str>,
}

impl<'a> From<&'a JobRecord> for ChangedJob<'a> {
    fn from(j: &'a JobRecord) -> Self {
        ChangedJob {
            u_id: &j.id,
            status: j.status.as_str(),
            failed_attempts: j.failed_attempts,
            infra_retries: j.infra_retries,
            run_at: j.run_at,
            queued_at: j.queued_at,
            delivered_at: j.delivered_at,
            started_at: j.started_at,
            deadline_at: j.deadline_at,
            finished_at: j.finished_at,
            exit_code: j.exit_code,
            stdout: j.stdout.as_deref(),
            stderr: j.stderr.as_deref(),
            error: j.error.as_deref(),
            duration_ms: j.duration_ms,
            oom_killed: j.oom_killed,
            reason: j.reason.as_deref(),
            blocked: j.blocked,
            cpu_seconds: j.cpu_seconds,
            peak_memory_mb: j.peak_memory_mb,
            pull_ms: j.pull_ms,
            run_ms: j.run_ms,
            phase: j.phase.as_deref(),
        }
    }
}

/// Writes back jobs changed by lifecycle rules, with their history rows (`write_transition`
/// for many jobs at once).
pub(super) async fn write_transitions(
    tx: &mut Tx,
    changed: &[(JobRecord, Transition)],
    at: i64,
) -> RepoResult<()> {
    if changed.is_empty() {
        return Ok(());
    }
    let rows: Vec<ChangedJob> = changed.iter().map(|(j, _)| ChangedJob::from(j)).collect();
    sqlx::query(sql::JOBS_UPDATE_MANY)
        .bind(to_json(&rows))
        .execute(&mut **tx)
        .await?;
    let history: Vec<HistoryRow> = changed
        .iter()
        .map(|(j, t)| {
            HistoryRow::of(j, Some(t.from), t.to, at, &t.reason)
                .by(t.fault)
                .used(super::used_by(j, t))
        })
        .collect();
    history_many(tx, &history).await
}

/// Gives back the reservations of jobs that left their workers and counts each outcome toward
/// cooldown (`release` for many jobs at once): one statement per worker, plus the failure
/// counts in the order they happened.
pub(super) async fn release_many(
    tx: &mut Tx,
    changed: &[(JobRecord, Transition)],
    policy: &Policy,
    now: i64,
) -> RepoResult<()> {
    let mut by_worker: HashMap<&str, (i64, i64, i64, Vec<WorkerOutcome>)> = HashMap::new();
    for (job, t) in changed {
        let Some(worker_id) = job.worker_id.as_deref() else {
            continue;
        };
        let entry = by_worker.entry(worker_id).or_default();
        entry.0 += job.required_cpu_milli;
        entry.1 += job.required_ram_mb;
        entry.2 += 1;
        entry.3.push(t.worker_outcome);
    }
    // A stable order of worker rows: two batches never lock them crosswise.
    let mut workers: Vec<_> = by_worker.into_iter().collect();
    workers.sort_by(|a, b| a.0.cmp(b.0));
    for (worker_id, (cpu, ram, count, outcomes)) in workers {
        sqlx::query(sql::WORKER_RELEASE_MANY)
            .bind(worker_id)
            .bind(cpu)
            .bind(ram)
            .bind(count)
            .execute(&mut **tx)
            .await?;
        record_outcomes(tx, worker_id, &outcomes, policy, now).await?;
    }
    Ok(())
}

/// Counts a worker's outcomes toward cooldown as one by one would (see
/// `lifecycle::worker::batch_outcomes`).
async fn record_outcomes(
    tx: &mut Tx,
    worker_id: &str,
    outcomes: &[WorkerOutcome],
    policy: &Policy,
    now: i64,
) -> RepoResult<()> {
    let (reset, rest) = batch_outcomes(outcomes);
    if reset {
        record_outcome(tx, worker_id, WorkerOutcome::Success, policy, now).await?;
    }
    for outcome in rest {
        record_outcome(tx, worker_id, *outcome, policy, now).await?;
    }
    Ok(())
}

/// A batch as the JSON text `json_rows` reads.
pub(super) fn to_json<T: Serialize + ?Sized>(rows: &T) -> String {
    serde_json::to_string(rows).expect("batch rows serialize")
}
