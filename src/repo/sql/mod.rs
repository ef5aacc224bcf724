//! The repository's method bodies, written once and compiled once per dialect.
//!
//! `sqlite/mod.rs` and `postgres/mod.rs` each include this folder as a module of their own
//! (`#[path]`), so every name taken from `super` is that dialect's: `Db` is the sqlx database,
//! `queries` its SQL, `Pools` its connections (one serialised writer on SQLite, one pool on
//! PostgreSQL). The result is two concrete, fully type-checked implementations that cannot
//! drift apart, without generic bounds over sqlx's traits.
//!
//! This file holds the shared steps (history rows, reservations, fencing, stop lists); one
//! file per trait holds its methods: `jobs.rs`, `workers.rs`, `scheduler.rs`, `reports.rs`.
//!
//! Lock order, which keeps PostgreSQL free of deadlocks: the capacity lock (`CAPACITY_LOCK`,
//! taken by placement, registration, a worker's return and the cooldown sweep) before job
//! rows, job rows before worker rows. Placement reads workers without locking them and never
//! waits for a job lock (`SKIP LOCKED`).

mod batch;
mod batch_queries;
mod batch_rows;
mod jobs;
mod reports;
mod scheduler;
mod workers;

use super::queries as q;
use super::{Db, Pools};
use crate::repo::lifecycle::{self, Policy, Transition, WorkerOutcome};
use crate::repo::placement::{best_fit, unfit_reason, unfit_text, PlacementWorker, Slot};
use crate::repo::{
    Dialect, HeartbeatOutcome, HistoryRecord, JobBatchRepo, JobFinishParams, JobInsertParams,
    JobListParams, JobRecord, JobRepo, PlaceOutcome, Placement, Repo, RepoError, RepoResult,
    ReportRepo, SchedulerRepo, SweepCounts, UploadInsertParams, UploadRecord, UploadRepo,
    WorkerHeartbeatParams, WorkerRecord, WorkerRegisterParams, WorkerRepo,
};
use async_trait::async_trait;
use gantry_api::{JobStatus, Percentiles, ReportGroup, StopJob, StopReason};
use std::collections::{HashMap, HashSet};

type Tx = sqlx::Transaction<'static, Db>;

/// The repository over one database of this dialect.
pub struct SqlRepo {
    /// Connections.
    pub(super) pools: Pools,
    /// Retry and cooldown rules.
    pub(super) policy: Policy,
}

/// Appends one history row.
async fn history(
    tx: &mut Tx,
    job: &JobRecord,
    from: Option<JobStatus>,
    to: JobStatus,
    at: i64,
    reason: &str,
) -> RepoResult<()> {
    sqlx::query(q::HISTORY_INSERT)
        .bind(&job.id)
        .bind(job.attempts)
        .bind(from.map(JobStatus::as_str))
        .bind(to.as_str())
        .bind(&job.worker_id)
        .bind(at)
        .bind(reason)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Writes back a job changed by a lifecycle rule, with its history row.
async fn write_transition(tx: &mut Tx, job: &JobRecord, t: &Transition, at: i64) -> RepoResult<()> {
    sqlx::query(q::JOB_UPDATE)
        .bind(&job.id)
        .bind(&job.status)
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
        .execute(&mut **tx)
        .await?;
    history(tx, job, Some(t.from), t.to, at, &t.reason).await
}

/// Gives back the job's reservation on its worker and counts the outcome toward cooldown.
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
    sqlx::query(q::WORKER_RELEASE)
        .bind(worker_id)
        .bind(job.required_cpu_milli)
        .bind(job.required_ram_mb)
        .execute(&mut **tx)
        .await?;
    match outcome {
        WorkerOutcome::Success => {
            sqlx::query(q::WORKER_RECORD_SUCCESS)
                .bind(worker_id)
                .execute(&mut **tx)
                .await?;
        }
        WorkerOutcome::Failure => {
            sqlx::query(q::WORKER_RECORD_FAILURE)
                .bind(worker_id)
                .bind(policy.cooldown_after_failures)
                .bind(now + policy.worker_cooldown_ms)
                .execute(&mut **tx)
                .await?;
        }
        WorkerOutcome::Neutral => {}
    }
    Ok(())
}

/// Requeues every job the worker holds (it went away or started a new life).
async fn requeue_held(
    tx: &mut Tx,
    held: Vec<JobRecord>,
    policy: &Policy,
    now: i64,
    why: &str,
) -> RepoResult<u64> {
    let mut count = 0;
    for mut job in held {
        let from = job.state()?;
        let t = lifecycle::lose(&mut job, from, now, policy, why);
        write_transition(tx, &job, &t, now).await?;
        release(tx, &job, t.worker_outcome, policy, now).await?;
        count += 1;
    }
    Ok(count)
}

/// Takes the capacity lock (see `CAPACITY_LOCK`) for the rest of the transaction.
async fn lock_capacity(tx: &mut Tx) -> RepoResult<()> {
    sqlx::query(q::CAPACITY_LOCK).execute(&mut **tx).await?;
    Ok(())
}

async fn held_by(tx: &mut Tx, worker_id: &str) -> RepoResult<Vec<JobRecord>> {
    Ok(sqlx::query_as(q::JOBS_HELD_BY_WORKER)
        .bind(worker_id)
        .fetch_all(&mut **tx)
        .await?)
}

async fn lock_job(tx: &mut Tx, id: &str) -> RepoResult<JobRecord> {
    sqlx::query_as(q::JOB_GET_FOR_UPDATE)
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| RepoError::job_not_found(id))
}

/// Why an agent must stop a job it reports running, or `None` if it should go on.
fn stop_reason(job: Option<&JobRecord>, worker_id: &str) -> RepoResult<Option<StopReason>> {
    let Some(job) = job else {
        return Ok(Some(StopReason::Unknown));
    };
    if job.worker_id.as_deref() != Some(worker_id) {
        return Ok(Some(StopReason::Reassigned));
    }
    Ok(match job.state()? {
        JobStatus::Assigned | JobStatus::Running => None,
        JobStatus::Cancelled => Some(StopReason::Cancelled),
        JobStatus::TimedOut => Some(StopReason::TimedOut),
        JobStatus::Completed | JobStatus::Failed => Some(StopReason::Finished),
        JobStatus::Pending | JobStatus::Queued => Some(StopReason::Reassigned),
    })
}

/// The refusal for a start or result that does not come from the job's current holder.
fn not_holder(job: &JobRecord, worker_id: &str, attempt: i64) -> RepoResult<RepoError> {
    let state = job.state()?;
    Ok(if state.is_terminal() {
        RepoError::conflict(
            "wrong_state",
            format!("job {} already ended as {state}", job.id),
        )
    } else if job.worker_id.as_deref() != Some(worker_id) || !state.is_on_worker() {
        RepoError::conflict(
            "not_holder",
            format!(
                "worker {worker_id} does not hold job {} (it is {state})",
                job.id
            ),
        )
    } else if job.attempts != attempt {
        RepoError::conflict(
            "stale_attempt",
            format!(
                "attempt {attempt} of job {} is over; the current attempt is {}",
                job.id, job.attempts
            ),
        )
    } else {
        RepoError::conflict("wrong_state", format!("job {} is {state}", job.id))
    })
}

/// The stop instructions for the reported jobs, given their rows.
fn stop_list(rows: &[JobRecord], worker_id: &str, running: &[String]) -> RepoResult<Vec<StopJob>> {
    let by_id: HashMap<&str, &JobRecord> = rows.iter().map(|j| (j.id.as_str(), j)).collect();
    let mut stops = Vec::new();
    for id in running {
        if let Some(reason) = stop_reason(by_id.get(id.as_str()).copied(), worker_id)? {
            stops.push(StopJob {
                job_id: id.clone(),
                reason,
            });
        }
    }
    Ok(stops)
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
    Ok(sqlx::query_as(q::JOBS_BY_IDS)
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
                lock_capacity(tx).await?;
            }
            let fits: i64 = sqlx::query_scalar(q::WORKER_FITS_ANY)
                .bind(p.required_cpu_milli)
                .bind(p.required_ram_mb)
                .fetch_one(&mut **tx)
                .await?;
            if fits > 0 {
                return Ok(None);
            }
        }
        let (max_cpu, max_ram, online): (i64, i64, i64) =
            sqlx::query_as(q::WORKER_CAPACITY_SUMMARY)
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

    async fn unblock_fitting(&self, tx: &mut Tx, worker: &WorkerRecord) -> RepoResult<()> {
        sqlx::query(q::JOBS_UNBLOCK_FITTING)
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
        super::DIALECT
    }

    async fn migrate(&self) -> RepoResult<usize> {
        super::run_migrations(&self.pools).await
    }

    async fn ping(&self) -> RepoResult<()> {
        sqlx::query("SELECT 1").execute(self.pools.read()).await?;
        Ok(())
    }
}
