//! The repository's method bodies, written once and compiled once per dialect.
//!
//! `sqlite/mod.rs` and `postgres/mod.rs` each include this file as a module of their own
//! (`#[path]`), so every name taken from `super` is that dialect's: `Db` is the sqlx database,
//! `queries` its SQL, `Pools` its connections (one serialised writer on SQLite, one pool on
//! PostgreSQL). The result is two concrete, fully type-checked implementations that cannot
//! drift apart, without generic bounds over sqlx's traits.
//!
//! Lock order, which keeps PostgreSQL free of deadlocks: jobs before workers, everywhere.
//! Placement is the one place that locks workers first, and it never waits for a job lock
//! (`SKIP LOCKED`).

use super::queries as q;
use super::{Db, Pools};
use crate::repo::lifecycle::{self, Policy, Transition, WorkerOutcome};
use crate::repo::placement::{best_fit, unfit_reason, unfit_text, Slot};
use crate::repo::{
    Dialect, HeartbeatOutcome, HistoryRecord, JobFinishParams, JobInsertParams, JobListParams,
    JobRecord, PlaceOutcome, Placement, Repo, RepoError, RepoResult, SweepCounts,
    UploadInsertParams, UploadRecord, WorkerHeartbeatParams, WorkerRecord, WorkerRegisterParams,
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

/// The reported jobs' rows, read through `exec`.
async fn reported_jobs<'e, E>(exec: E, running: &[String]) -> RepoResult<Vec<JobRecord>>
where
    E: sqlx::Executor<'e, Database = Db>,
{
    if running.is_empty() {
        return Ok(Vec::new());
    }
    let ids = serde_json::to_string(running).expect("strings serialize");
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

    async fn job_insert(&self, p: JobInsertParams) -> RepoResult<(JobRecord, bool)> {
        let status = if p.run_at > p.now {
            JobStatus::Pending
        } else {
            JobStatus::Queued
        };
        let env = serde_json::to_string(&p.env).expect("a string map serializes");
        let mut tx = self.pools.write().await?;
        let reason = self.unfit_reason_locked(&mut tx, &p).await?;
        let inserted: Option<JobRecord> = sqlx::query_as(q::JOB_INSERT)
            .bind(&p.id)
            .bind(status.as_str())
            .bind(&p.command)
            .bind(&p.image)
            .bind(&p.file_url)
            .bind(&p.filename)
            .bind(env)
            .bind(p.required_cpu_milli)
            .bind(p.required_ram_mb)
            .bind(p.timeout_ms)
            .bind(p.max_retries)
            .bind(p.priority)
            .bind(i64::from(p.network))
            .bind(p.now)
            .bind(p.run_at)
            .bind((status == JobStatus::Queued).then_some(p.now))
            .bind(i64::from(reason.is_some()))
            .bind(&reason)
            .bind(&p.idempotency_key)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(job) = inserted else {
            let existing: JobRecord = sqlx::query_as(q::JOB_BY_IDEMPOTENCY_KEY)
                .bind(&p.idempotency_key)
                .fetch_one(&mut *tx)
                .await?;
            return Ok((existing, false));
        };
        let why = if status == JobStatus::Pending {
            "created; waiting for its run time"
        } else {
            "created"
        };
        history(&mut tx, &job, None, status, p.now, why).await?;
        tx.commit().await?;
        Ok((job, true))
    }

    async fn job_get(&self, id: &str) -> RepoResult<Option<JobRecord>> {
        Ok(sqlx::query_as(q::JOB_GET)
            .bind(id)
            .fetch_optional(self.pools.read())
            .await?)
    }

    async fn job_history(&self, id: &str) -> RepoResult<Vec<HistoryRecord>> {
        Ok(sqlx::query_as(q::HISTORY_FOR_JOB)
            .bind(id)
            .fetch_all(self.pools.read())
            .await?)
    }

    async fn job_list(&self, p: JobListParams) -> RepoResult<Vec<JobRecord>> {
        let mut sql = sqlx::QueryBuilder::<Db>::new("SELECT * FROM jobs WHERE 1 = 1");
        if !p.statuses.is_empty() {
            sql.push(" AND status IN (");
            let mut list = sql.separated(", ");
            for status in &p.statuses {
                list.push_bind(status.as_str());
            }
            sql.push(")");
        }
        if let Some(worker_id) = &p.worker_id {
            sql.push(" AND worker_id = ").push_bind(worker_id);
        }
        if let Some(from) = p.created_from {
            sql.push(" AND created_at >= ").push_bind(from);
        }
        if let Some(to) = p.created_to {
            sql.push(" AND created_at < ").push_bind(to);
        }
        if let Some(text) = &p.search {
            let pattern = format!("%{text}%");
            sql.push(" AND (id LIKE ")
                .push_bind(pattern.clone())
                .push(" OR command LIKE ")
                .push_bind(pattern)
                .push(")");
        }
        if let Some(before) = &p.before_id {
            sql.push(" AND id < ").push_bind(before);
        }
        sql.push(" ORDER BY id DESC LIMIT ").push_bind(p.limit);
        Ok(sql.build_query_as().fetch_all(self.pools.read()).await?)
    }

    async fn job_place(&self, now: i64, limit: i64) -> RepoResult<PlaceOutcome> {
        let mut out = PlaceOutcome::default();
        let mut tx = self.pools.write().await?;
        // Placement may block jobs that fit no worker: not while one registers.
        lock_capacity(&mut tx).await?;
        let promoted: Vec<(String, i64)> = sqlx::query_as(q::JOBS_PROMOTE_DUE)
            .bind(now)
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?;
        for (id, attempt) in &promoted {
            sqlx::query(q::HISTORY_INSERT)
                .bind(id)
                .bind(attempt)
                .bind(JobStatus::Pending.as_str())
                .bind(JobStatus::Queued.as_str())
                .bind(None::<String>)
                .bind(now)
                .bind("run time reached")
                .execute(&mut *tx)
                .await?;
        }
        out.promoted = promoted.len() as u64;

        let workers: Vec<WorkerRecord> = sqlx::query_as(q::WORKERS_FOR_PLACEMENT)
            .fetch_all(&mut *tx)
            .await?;
        let mut slots: Vec<Slot> = workers
            .iter()
            .filter(|w| w.accepts_work(now))
            .filter_map(Slot::of)
            .collect();
        if !slots.is_empty() {
            let head: Vec<(String, i64, i64)> = sqlx::query_as(q::QUEUE_HEAD)
                .bind(limit)
                .fetch_all(&mut *tx)
                .await?;
            for (job_id, cpu, ram) in head {
                if slots.is_empty() {
                    break;
                }
                if let Some(reason) = unfit_reason(&workers, cpu, ram) {
                    sqlx::query(q::JOB_BLOCK)
                        .bind(&job_id)
                        .bind(reason)
                        .execute(&mut *tx)
                        .await?;
                    out.blocked += 1;
                    continue;
                }
                let Some(index) = best_fit(&slots, cpu, ram) else {
                    continue;
                };
                let worker_id = slots[index].worker_id.clone();
                let reserved = sqlx::query(q::WORKER_RESERVE)
                    .bind(&worker_id)
                    .bind(cpu)
                    .bind(ram)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if reserved != 1 {
                    slots.remove(index);
                    continue;
                }
                let attempt: i64 = sqlx::query_scalar(q::JOB_ASSIGN)
                    .bind(&job_id)
                    .bind(&worker_id)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await?;
                sqlx::query(q::HISTORY_INSERT)
                    .bind(&job_id)
                    .bind(attempt)
                    .bind(JobStatus::Queued.as_str())
                    .bind(JobStatus::Assigned.as_str())
                    .bind(&worker_id)
                    .bind(now)
                    .bind("placed (best fit)")
                    .execute(&mut *tx)
                    .await?;
                slots[index].take(cpu, ram);
                if slots[index].free_jobs == 0 {
                    slots.remove(index);
                }
                out.placed.push(Placement {
                    job_id,
                    worker_id,
                    attempt,
                });
            }
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn job_next_due(&self) -> RepoResult<Option<i64>> {
        Ok(sqlx::query_scalar(q::JOB_NEXT_DUE)
            .fetch_one(self.pools.read())
            .await?)
    }

    async fn job_deliver(&self, worker_id: &str, max: i64, now: i64) -> RepoResult<Vec<JobRecord>> {
        // Idle pollers ask often; most of the time there is nothing, and a read says so
        // without taking the write lock.
        let waiting: i64 = sqlx::query_scalar(q::JOBS_UNDELIVERED_EXIST)
            .bind(worker_id)
            .fetch_one(self.pools.read())
            .await?;
        if waiting == 0 {
            return Ok(Vec::new());
        }
        let mut tx = self.pools.write().await?;
        let mut jobs: Vec<JobRecord> = sqlx::query_as(q::JOBS_DELIVER)
            .bind(worker_id)
            .bind(max)
            .bind(now)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        jobs.sort_by_key(|j| (j.assigned_at, j.id.clone()));
        Ok(jobs)
    }

    async fn job_start(
        &self,
        worker_id: &str,
        job_id: &str,
        attempt: i64,
        now: i64,
    ) -> RepoResult<JobRecord> {
        let mut tx = self.pools.write().await?;
        let started: Option<JobRecord> = sqlx::query_as(q::JOB_START)
            .bind(job_id)
            .bind(worker_id)
            .bind(attempt)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(job) = started {
            history(
                &mut tx,
                &job,
                Some(JobStatus::Assigned),
                JobStatus::Running,
                now,
                "started by its worker",
            )
            .await?;
            tx.commit().await?;
            return Ok(job);
        }
        let job = lock_job(&mut tx, job_id).await?;
        let same_attempt = job.worker_id.as_deref() == Some(worker_id) && job.attempts == attempt;
        if same_attempt && job.state()? == JobStatus::Running {
            return Ok(job);
        }
        Err(not_holder(&job, worker_id, attempt)?)
    }

    async fn job_finish(&self, p: JobFinishParams) -> RepoResult<JobRecord> {
        let mut tx = self.pools.write().await?;
        let mut job = lock_job(&mut tx, &p.job_id).await?;
        let from = job.state()?;
        if !from.is_on_worker()
            || job.worker_id.as_deref() != Some(p.worker_id.as_str())
            || job.attempts != p.attempt
        {
            return Err(not_holder(&job, &p.worker_id, p.attempt)?);
        }
        let t = lifecycle::finish(&mut job, from, &p, &self.policy);
        write_transition(&mut tx, &job, &t, p.now).await?;
        release(&mut tx, &job, t.worker_outcome, &self.policy, p.now).await?;
        tx.commit().await?;
        Ok(job)
    }

    async fn job_cancel(&self, id: &str, now: i64) -> RepoResult<JobRecord> {
        let mut tx = self.pools.write().await?;
        let mut job = lock_job(&mut tx, id).await?;
        let from = job.state()?;
        if from.is_terminal() {
            return Err(RepoError::conflict(
                "wrong_state",
                format!("job {id} already ended as {from}"),
            ));
        }
        let t = lifecycle::cancel(&mut job, from, now);
        write_transition(&mut tx, &job, &t, now).await?;
        if from.is_on_worker() {
            release(&mut tx, &job, t.worker_outcome, &self.policy, now).await?;
        }
        tx.commit().await?;
        Ok(job)
    }

    async fn job_expire_deadlines(
        &self,
        deadline_before: i64,
        now: i64,
        limit: i64,
    ) -> RepoResult<SweepCounts> {
        let ids: Vec<String> = sqlx::query_scalar(q::JOBS_PAST_DEADLINE)
            .bind(deadline_before)
            .bind(limit)
            .fetch_all(self.pools.read())
            .await?;
        let mut counts = SweepCounts {
            examined: ids.len() as u64,
            changed: 0,
        };
        for id in ids {
            let mut tx = self.pools.write().await?;
            let mut job = lock_job(&mut tx, &id).await?;
            let still_due = job.state()? == JobStatus::Running
                && job.deadline_at.is_some_and(|d| d <= deadline_before);
            if !still_due {
                continue;
            }
            let t = lifecycle::time_out(&mut job, now, &self.policy);
            write_transition(&mut tx, &job, &t, now).await?;
            release(&mut tx, &job, t.worker_outcome, &self.policy, now).await?;
            tx.commit().await?;
            counts.changed += 1;
        }
        Ok(counts)
    }

    async fn job_requeue_unstarted(
        &self,
        assigned_before: i64,
        now: i64,
        limit: i64,
    ) -> RepoResult<SweepCounts> {
        let ids: Vec<String> = sqlx::query_scalar(q::JOBS_UNSTARTED)
            .bind(assigned_before)
            .bind(limit)
            .fetch_all(self.pools.read())
            .await?;
        let mut counts = SweepCounts {
            examined: ids.len() as u64,
            changed: 0,
        };
        for id in ids {
            let mut tx = self.pools.write().await?;
            let mut job = lock_job(&mut tx, &id).await?;
            let still_stuck = job.state()? == JobStatus::Assigned
                && job.assigned_at.is_some_and(|a| a <= assigned_before);
            if !still_stuck {
                continue;
            }
            let why = "its worker never started it";
            let t = lifecycle::lose(&mut job, JobStatus::Assigned, now, &self.policy, why);
            write_transition(&mut tx, &job, &t, now).await?;
            release(&mut tx, &job, t.worker_outcome, &self.policy, now).await?;
            tx.commit().await?;
            counts.changed += 1;
        }
        Ok(counts)
    }

    async fn worker_register(&self, p: WorkerRegisterParams) -> RepoResult<WorkerRecord> {
        let mut tx = self.pools.write().await?;
        lock_capacity(&mut tx).await?;
        let held = held_by(&mut tx, &p.id).await?;
        let why = "its worker registered again (agent restarted)";
        requeue_held(&mut tx, held, &self.policy, p.now, why).await?;
        let worker: WorkerRecord = sqlx::query_as(q::WORKER_UPSERT)
            .bind(&p.id)
            .bind(&p.hostname)
            .bind(p.cpu_milli)
            .bind(p.ram_total_mb)
            .bind(p.ram_free_mb)
            .bind(p.cpu_usage)
            .bind(p.max_parallel_jobs)
            .bind(&p.labels_json)
            .bind(&p.version)
            .bind(&p.executor)
            .bind(&p.token_hash)
            .bind(p.now)
            .fetch_one(&mut *tx)
            .await?;
        self.unblock_fitting(&mut tx, &worker).await?;
        tx.commit().await?;
        Ok(worker)
    }

    async fn worker_heartbeat(&self, p: WorkerHeartbeatParams) -> RepoResult<HeartbeatOutcome> {
        let mut tx = self.pools.write().await?;
        let worker: WorkerRecord = sqlx::query_as(q::WORKER_GET)
            .bind(&p.id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| RepoError::worker_not_found(&p.id))?;
        let came_back = worker.offline_since.is_some();
        if came_back {
            lock_capacity(&mut tx).await?;
        }
        let held = held_by(&mut tx, &p.id).await?;
        let reported: HashSet<&str> = p.running_job_ids.iter().map(String::as_str).collect();
        let lost: Vec<JobRecord> = held
            .into_iter()
            .filter(|j| j.status == JobStatus::Running.as_str())
            .filter(|j| j.started_at.is_some_and(|s| s < p.lost_if_started_before))
            .filter(|j| !reported.contains(j.id.as_str()))
            .collect();
        let why = "its worker no longer reports it running";
        let lost_jobs = requeue_held(&mut tx, lost, &self.policy, p.now, why).await?;
        sqlx::query(q::WORKER_HEARTBEAT)
            .bind(&p.id)
            .bind(p.cpu_usage)
            .bind(p.ram_free_mb)
            .bind(p.ram_total_mb)
            .bind(i64::from(p.executor_ok))
            .bind(p.now)
            .execute(&mut *tx)
            .await?;
        if came_back {
            self.unblock_fitting(&mut tx, &worker).await?;
        }
        let rows = reported_jobs(&mut *tx, &p.running_job_ids).await?;
        let stop_jobs = stop_list(&rows, &p.id, &p.running_job_ids)?;
        tx.commit().await?;
        Ok(HeartbeatOutcome {
            stop_jobs,
            lost_jobs,
            came_back,
        })
    }

    async fn worker_stop_list(
        &self,
        worker_id: &str,
        running_job_ids: &[String],
    ) -> RepoResult<Vec<StopJob>> {
        let rows = reported_jobs(self.pools.read(), running_job_ids).await?;
        stop_list(&rows, worker_id, running_job_ids)
    }

    async fn worker_get(&self, id: &str) -> RepoResult<Option<WorkerRecord>> {
        Ok(sqlx::query_as(q::WORKER_GET)
            .bind(id)
            .fetch_optional(self.pools.read())
            .await?)
    }

    async fn worker_by_token_hash(&self, hash: &str) -> RepoResult<Option<String>> {
        Ok(sqlx::query_scalar(q::WORKER_BY_TOKEN_HASH)
            .bind(hash)
            .fetch_optional(self.pools.read())
            .await?)
    }

    async fn worker_list(&self) -> RepoResult<Vec<(WorkerRecord, Vec<String>)>> {
        let workers: Vec<WorkerRecord> = sqlx::query_as(q::WORKER_LIST)
            .fetch_all(self.pools.read())
            .await?;
        let held: Vec<(String, String)> = sqlx::query_as(q::WORKER_HELD_JOB_IDS)
            .fetch_all(self.pools.read())
            .await?;
        let mut by_worker: HashMap<String, Vec<String>> = HashMap::new();
        for (worker_id, job_id) in held {
            by_worker.entry(worker_id).or_default().push(job_id);
        }
        Ok(workers
            .into_iter()
            .map(|w| {
                let ids = by_worker.remove(&w.id).unwrap_or_default();
                (w, ids)
            })
            .collect())
    }

    async fn worker_expire_heartbeats(
        &self,
        heartbeat_before: i64,
        now: i64,
        limit: i64,
    ) -> RepoResult<SweepCounts> {
        let ids: Vec<String> = sqlx::query_scalar(q::WORKERS_SILENT)
            .bind(heartbeat_before)
            .bind(limit)
            .fetch_all(self.pools.read())
            .await?;
        let mut counts = SweepCounts {
            examined: ids.len() as u64,
            changed: 0,
        };
        for id in ids {
            let mut tx = self.pools.write().await?;
            let held = held_by(&mut tx, &id).await?;
            let marked = sqlx::query(q::WORKER_MARK_OFFLINE)
                .bind(&id)
                .bind(now)
                .bind(heartbeat_before)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if marked == 0 {
                continue;
            }
            let why = "its worker went offline (no heartbeat)";
            requeue_held(&mut tx, held, &self.policy, now, why).await?;
            tx.commit().await?;
            counts.changed += 1;
        }
        Ok(counts)
    }

    async fn worker_end_cooldowns(&self, now: i64) -> RepoResult<SweepCounts> {
        let mut tx = self.pools.write().await?;
        let changed = sqlx::query(q::WORKERS_END_COOLDOWNS)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(SweepCounts {
            examined: changed,
            changed,
        })
    }

    async fn lease_acquire(
        &self,
        name: &str,
        holder: &str,
        now: i64,
        expires_at: i64,
    ) -> RepoResult<bool> {
        let mut tx = self.pools.write().await?;
        let got: Option<String> = sqlx::query_scalar(q::LEASE_ACQUIRE)
            .bind(name)
            .bind(holder)
            .bind(expires_at)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(got.is_some())
    }

    async fn job_counts_by_status(&self) -> RepoResult<Vec<(String, i64)>> {
        Ok(sqlx::query_as(q::JOB_COUNTS_BY_STATUS)
            .fetch_all(self.pools.read())
            .await?)
    }

    async fn job_finished_counts(&self) -> RepoResult<Vec<(String, i64)>> {
        Ok(sqlx::query_as(q::JOBS_FINISHED_BY_STATUS)
            .fetch_all(self.pools.read())
            .await?)
    }

    async fn report_summary(
        &self,
        from: i64,
        to: i64,
        group_by: &str,
    ) -> RepoResult<Vec<ReportGroup>> {
        type Counts = (String, i64, i64, i64, i64, i64, i64);
        type Stats = (String, i64, i64, i64, i64);
        let counts: Vec<Counts> = sqlx::query_as(crate::repo::report_queries::REPORT_COUNTS)
            .bind(from)
            .bind(to)
            .bind(group_by)
            .fetch_all(self.pools.read())
            .await?;
        let mut stats = Vec::new();
        for sql in [
            crate::repo::report_queries::REPORT_QUEUE_WAIT,
            crate::repo::report_queries::REPORT_RUN_TIME,
        ] {
            let rows: Vec<Stats> = sqlx::query_as(sql)
                .bind(from)
                .bind(to)
                .bind(group_by)
                .fetch_all(self.pools.read())
                .await?;
            let by_group: HashMap<String, Percentiles> = rows
                .into_iter()
                .map(|(g, count, p50, p95, max)| {
                    (
                        g,
                        Percentiles {
                            count,
                            p50,
                            p95,
                            max,
                        },
                    )
                })
                .collect();
            stats.push(by_group);
        }
        Ok(counts
            .into_iter()
            .map(
                |(key, jobs, completed, failed, timed_out, cancelled, retries)| ReportGroup {
                    queue_wait_ms: stats[0].get(&key).copied(),
                    run_ms: stats[1].get(&key).copied(),
                    success_rate: if jobs > 0 {
                        completed as f64 / jobs as f64
                    } else {
                        0.0
                    },
                    key,
                    jobs,
                    completed,
                    failed,
                    timed_out,
                    cancelled,
                    retries,
                },
            )
            .collect())
    }

    async fn upload_insert(&self, p: UploadInsertParams) -> RepoResult<()> {
        let mut tx = self.pools.write().await?;
        sqlx::query(q::UPLOAD_INSERT)
            .bind(&p.id)
            .bind(&p.filename)
            .bind(p.content.len() as i64)
            .bind(&p.sha256)
            .bind(&p.content)
            .bind(p.now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn upload_get(&self, id: &str) -> RepoResult<Option<UploadRecord>> {
        Ok(sqlx::query_as(q::UPLOAD_GET)
            .bind(id)
            .fetch_optional(self.pools.read())
            .await?)
    }
}
