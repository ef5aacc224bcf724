//! The repository's method bodies, written once and compiled once per dialect.
//!
//! `sqlite/mod.rs` and `postgres/mod.rs` each include this folder as a module of their own
//! (`#[path]`), and it imports by name what differs between them: `Db` (the sqlx database),
//! `Tx`, `Backend` (the connections, its `reader()` and `write()`, and the dialect's own steps
//! such as `Backend::lock_capacity`) and `statements` (that dialect's SQL). On either, `&mut
//! *tx` and `&mut *reader` are what a statement runs on. The result is two
//! concrete, fully type-checked implementations that cannot drift apart, without generic
//! bounds over sqlx's traits.
//!
//! This file holds the steps the methods share (history rows, reservations, fencing, stop
//! lists); one file per trait holds its methods. The rules themselves are in
//! [`crate::lifecycle`]: these bodies load rows, apply the rules, write the rows.
//!
//! Lock order, which keeps PostgreSQL free of deadlocks: the capacity lock (taken by
//! placement, registration, a worker's return and the cooldown sweep) before job rows, job
//! rows before worker rows. Placement reads workers without locking them and never waits for
//! a job lock (`SKIP LOCKED`).

mod batch;
mod holds;
mod jobs;
mod migrate;
mod placement;
mod prune;
mod reports;
mod rollups;
mod rows;
mod scheduler;
mod workers;

pub use migrate::Migrator;

use super::statements as sql;
use super::{Backend, Db, Tx};
use crate::lifecycle::fencing::stop_reason;
use crate::lifecycle::fit::unfit_text;
use crate::lifecycle::job::Transition;
use crate::lifecycle::worker::evidence;
use crate::lifecycle::{hold, job, Fault, Policy, WorkerOutcome};
use crate::model::{JobInsertParams, JobRecord, WorkerRecord};
use crate::repo::{Dialect, Repo, RepoError, RepoResult};
use async_trait::async_trait;
use gantry_api::{AttemptUsage, JobStatus, StopJob};
use std::collections::HashMap;

/// The repository over one database of this dialect.
pub struct SqlRepo {
    /// The connections, and the steps this dialect does its own way.
    pub(super) backend: Backend,
    /// Retry and cooldown rules.
    pub(super) policy: Policy,
}

/// Appends one history row: `job` (as it is after the change) went from `from` to `to`, by
/// `fault` when the change ended an attempt badly.
async fn history(
    tx: &mut Tx,
    job: &JobRecord,
    (from, to): (Option<JobStatus>, JobStatus),
    at: i64,
    reason: &str,
    fault: Option<Fault>,
) -> RepoResult<()> {
    history_used(
        tx,
        job,
        (from, to),
        at,
        (reason, fault),
        AttemptUsage::default(),
    )
    .await
}

/// Appends one history row as [`history`] does, with what the attempt used (on the row that
/// ends an attempt; all NULL on the others).
async fn history_used(
    tx: &mut Tx,
    job: &JobRecord,
    (from, to): (Option<JobStatus>, JobStatus),
    at: i64,
    (reason, fault): (&str, Option<Fault>),
    usage: AttemptUsage,
) -> RepoResult<()> {
    sqlx::query(sql::HISTORY_INSERT)
        .bind(&job.id)
        .bind(job.attempts)
        .bind(from.map(JobStatus::as_str))
        .bind(to.as_str())
        .bind(&job.worker_id)
        .bind(at)
        .bind(reason)
        .bind(fault.map(Fault::as_str))
        .bind(usage.cpu_seconds)
        .bind(usage.peak_memory_mb)
        .bind(usage.pull_ms)
        .bind(usage.run_ms)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// What the history row of `t` records as used: the job's last-attempt figures when `t`
/// ends an attempt, nothing otherwise.
fn used_by(job: &JobRecord, t: &Transition) -> AttemptUsage {
    if t.ends_attempt() {
        job.usage()
    } else {
        AttemptUsage::default()
    }
}

/// Writes back a job changed by a lifecycle rule, with its history row.
async fn write_transition(tx: &mut Tx, job: &JobRecord, t: &Transition, at: i64) -> RepoResult<()> {
    sqlx::query(sql::JOB_UPDATE)
        .bind(&job.id)
        .bind(job.status.as_str())
        .bind(job.failed_attempts)
        .bind(job.infra_retries)
        .bind(job.run_at)
        .bind(job.queued_at)
        .bind(job.delivered_at)
        .bind(job.started_at)
        .bind(job.deadline_at)
        .bind(job.finished_at)
        .bind(job.exit_code)
        .bind(&job.stdout)
        .bind(&job.stderr)
        .bind(&job.error)
        .bind(job.duration_ms)
        .bind(job.oom_killed)
        .bind(&job.reason)
        .bind(job.blocked)
        .bind(job.cpu_seconds)
        .bind(job.peak_memory_mb)
        .bind(job.pull_ms)
        .bind(job.run_ms)
        .bind(&job.phase)
        .execute(&mut **tx)
        .await?;
    let change = (Some(t.from), t.to);
    let why = (t.reason.as_str(), t.fault);
    history_used(tx, job, change, at, why, used_by(job, t)).await
}

/// Gives back the job's reservation on its worker and counts the outcome toward cooldown
/// (`lifecycle::worker::record_outcome`, in SQL).
async fn release(
    tx: &mut Tx,
    job: &JobRecord,
    outcome: WorkerOutcome,
    policy: &Policy,
    now: i64,
) -> RepoResult<()> {
    let Some(worker_id) = &job.worker_id else {
        return Ok(());
    };
    sqlx::query(sql::WORKER_RELEASE)
        .bind(worker_id)
        .bind(job.required_cpu_milli)
        .bind(job.required_ram_mb)
        .execute(&mut **tx)
        .await?;
    record_outcome(tx, worker_id, outcome, policy, now).await
}

/// Counts one attempt's outcome for its worker (see `lifecycle::worker::record_outcome`).
async fn record_outcome(
    tx: &mut Tx,
    worker_id: &str,
    outcome: WorkerOutcome,
    policy: &Policy,
    now: i64,
) -> RepoResult<()> {
    let query = match outcome {
        WorkerOutcome::Success => sqlx::query(sql::WORKER_RECORD_SUCCESS).bind(worker_id),
        WorkerOutcome::Failure => sqlx::query(sql::WORKER_RECORD_FAILURE)
            .bind(worker_id)
            .bind(policy.cooldown_after_failures)
            .bind(policy.cooldown_ends(now)),
        WorkerOutcome::Neutral => return Ok(()),
    };
    query.execute(&mut **tx).await?;
    Ok(())
}

/// Counts the evidence a success on `job`'s current worker gives against the workers its
/// earlier attempts failed on (see `lifecycle::worker::evidence`).
async fn count_evidence(
    tx: &mut Tx,
    job: &JobRecord,
    t: &Transition,
    policy: &Policy,
    now: i64,
) -> RepoResult<()> {
    let Some(succeeded_on) = job.worker_id.as_deref() else {
        return Ok(());
    };
    // Only a job with failed (or registry-lost) attempts behind it can give evidence.
    if t.to != JobStatus::Completed || (job.failed_attempts == 0 && job.infra_retries == 0) {
        return Ok(());
    }
    let failed_on: Vec<String> = sqlx::query_scalar(sql::HISTORY_JOB_FAULT_WORKERS)
        .bind(&job.id)
        .fetch_all(&mut **tx)
        .await?;
    for worker_id in evidence(&failed_on, succeeded_on, policy) {
        record_outcome(tx, worker_id, WorkerOutcome::Failure, policy, now).await?;
    }
    Ok(())
}

/// Requeues every job the worker holds (it went away or started a new life). However many
/// jobs it held, that is one fault of the worker's: it counts once toward a cooldown, so that
/// an agent frozen or cut off for a moment while busy is not cooled down for it.
async fn requeue_held(
    tx: &mut Tx,
    held: Vec<JobRecord>,
    policy: &Policy,
    now: i64,
    why: &str,
) -> RepoResult<u64> {
    let mut count = 0;
    let mut counted = false;
    for mut job in held {
        let orphan = hold::is_orphan(&job);
        let t = job::lose(&mut job, now, policy, why);
        write_transition(tx, &job, &t, now).await?;
        let outcome = match t.worker_outcome {
            WorkerOutcome::Failure if counted => WorkerOutcome::Neutral,
            other => other,
        };
        counted |= outcome == WorkerOutcome::Failure;
        release(tx, &job, outcome, policy, now).await?;
        if orphan {
            // The release above was the orphan's reservation.
            hold::clear(&mut job);
            holds::write_hold(tx, &job).await?;
        }
        count += 1;
    }
    Ok(count)
}

/// The jobs a worker holds, locked.
async fn held_by(tx: &mut Tx, worker_id: &str) -> RepoResult<Vec<JobRecord>> {
    Ok(sqlx::query_as(sql::JOBS_HELD_BY_WORKER)
        .bind(worker_id)
        .fetch_all(&mut **tx)
        .await?)
}

/// One job, locked for the rest of the transaction.
async fn lock_job(tx: &mut Tx, id: &str) -> RepoResult<JobRecord> {
    sqlx::query_as(sql::JOB_GET_FOR_UPDATE)
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| RepoError::job_not_found(id))
}

/// The stop instructions for the reported jobs, given their rows.
fn stop_list(rows: &[JobRecord], worker_id: &str, running: &[String]) -> Vec<StopJob> {
    let by_id: HashMap<&str, &JobRecord> = rows.iter().map(|j| (j.id.as_str(), j)).collect();
    running
        .iter()
        .filter_map(|id| {
            stop_reason(by_id.get(id.as_str()).copied(), worker_id).map(|reason| StopJob {
                job_id: id.clone(),
                reason,
            })
        })
        .collect()
}

/// The rows of the jobs with these ids (those that exist), read through `exec`.
async fn jobs_by_ids<'e, E>(exec: E, ids: &[String]) -> RepoResult<Vec<JobRecord>>
where
    E: sqlx::Executor<'e, Database = Db>,
{
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let ids = serde_json::to_string(ids).expect("strings serialize");
    Ok(sqlx::query_as(sql::JOBS_BY_IDS)
        .bind(ids)
        .fetch_all(exec)
        .await?)
}

impl SqlRepo {
    /// Why the job fits no online worker, or `None`. A job that fits is decided without the
    /// capacity lock; one that seems not to is checked again under it, so that a worker
    /// registering at the same moment is either seen here or unblocks the job after.
    async fn unfit_reason_locked(
        &self,
        tx: &mut Tx,
        p: &JobInsertParams,
    ) -> RepoResult<Option<String>> {
        for locked in [false, true] {
            if locked {
                Backend::lock_capacity(tx).await?;
            }
            let fits: i64 = sqlx::query_scalar(sql::WORKER_FITS_ANY)
                .bind(p.required_cpu_milli)
                .bind(p.required_ram_mb)
                .fetch_one(&mut **tx)
                .await?;
            if fits > 0 {
                return Ok(None);
            }
        }
        let (max_cpu, max_ram, online): (i64, i64, i64) =
            sqlx::query_as(sql::WORKER_CAPACITY_SUMMARY)
                .fetch_one(&mut **tx)
                .await?;
        Ok(Some(unfit_text(
            online,
            max_cpu,
            max_ram,
            p.required_cpu_milli,
            p.required_ram_mb,
        )))
    }

    /// Lets blocked jobs that fit `worker` back into the placement index.
    async fn unblock_fitting(&self, tx: &mut Tx, worker: &WorkerRecord) -> RepoResult<()> {
        sqlx::query(sql::JOBS_UNBLOCK_FITTING)
            .bind(worker.cpu_milli)
            .bind(worker.ram_total_mb)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}

#[async_trait]
impl Repo for SqlRepo {
    fn dialect(&self) -> Dialect {
        Backend::DIALECT
    }

    async fn migrate(&self) -> RepoResult<usize> {
        self.backend.migrate().await
    }

    async fn ping(&self) -> RepoResult<()> {
        sqlx::query(sql::PING)
            .execute(&mut *self.backend.reader().await?)
            .await?;
        Ok(())
    }

    async fn database_backup(&self, dest: &str) -> RepoResult<()> {
        self.backend.backup(dest).await
    }
}

#[cfg(test)]
mod tests;
