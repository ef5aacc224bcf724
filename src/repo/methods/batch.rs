//! The batch methods (see `JobBatchRepo`): the single methods' rules, for many jobs in one
//! transaction with one statement per kind of row.

use super::rows::{history_many, release_many, to_json, write_transitions, HistoryRow};
use super::{count_evidence, holds, jobs_by_ids, lock_job, sql, write_transition, SqlRepo, Tx};
use crate::lifecycle::{hold, job};
use crate::model::{JobFinishParams, JobInsertParams, JobRecord};
use crate::repo::{JobBatchRepo, RepoError, RepoResult};
use async_trait::async_trait;
use gantry_api::JobStatus;
use serde::Serialize;
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

/// A new job as `jobs_insert_many.sql` reads it.
#[derive(Serialize)]
struct NewJob<'a> {
    id: &'a str,
    status: JobStatus,
    command: &'a str,
    image: Option<&'a str>,
    file_url: Option<&'a str>,
    filename: Option<&'a str>,
    env: String,
    required_cpu_milli: i64,
    required_ram_mb: i64,
    timeout_ms: i64,
    max_retries: i64,
    priority: i64,
    network: i64,
    created_at: i64,
    run_at: i64,
    queued_at: Option<i64>,
    blocked: i64,
    reason: Option<String>,
    idempotency_key: Option<&'a str>,
    pull: Option<&'a str>,
    /// The history reason of its creation.
    #[serde(skip)]
    why: &'static str,
}

#[async_trait]
impl JobBatchRepo for SqlRepo {
    async fn job_insert_many(
        &self,
        ps: Vec<JobInsertParams>,
    ) -> RepoResult<Vec<(JobRecord, bool)>> {
        if ps.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.backend.write().await?;
        let rows = self.new_rows(&mut tx, &ps).await?;
        let insert = if ps.iter().any(|p| p.idempotency_key.is_some()) {
            sql::JOBS_INSERT_MANY
        } else {
            sql::JOBS_INSERT_MANY_FRESH
        };
        // Only the ids come back inside the transaction; the rows are read after the commit,
        // beside the writer (on SQLite the one writer thread is the bottleneck, and copying
        // every column of every row out of it was a large share of its work). Should that
        // read fail, the caller gets an error for jobs that exist, as when an answer is lost
        // on the way: idempotency keys are what make a retried create safe, either way.
        let inserted: Vec<String> = sqlx::query_scalar(insert)
            .bind(to_json(&rows))
            .fetch_all(&mut *tx)
            .await?;
        let inserted: HashSet<String> = inserted.into_iter().collect();
        let history: Vec<HistoryRow> = rows
            .iter()
            .filter(|row| inserted.contains(row.id))
            .map(|row| HistoryRow::created(row.id, row.status, row.created_at, row.why))
            .collect();
        history_many(&mut tx, &history).await?;
        let mut existing: HashMap<&str, JobRecord> = HashMap::new();
        for p in ps.iter().filter(|p| !inserted.contains(&p.id)) {
            // Its idempotency key was used, maybe by an earlier job of this batch.
            let job: JobRecord = sqlx::query_as(sql::JOB_BY_IDEMPOTENCY_KEY)
                .bind(&p.idempotency_key)
                .fetch_one(&mut *tx)
                .await?;
            existing.insert(&p.id, job);
        }
        tx.commit().await?;
        let mut created = by_id(self.committed(inserted.into_iter().collect()).await?);
        ps.iter()
            .map(|p| match created.remove(&p.id) {
                Some(job) => Ok((job, true)),
                None => existing
                    .remove(p.id.as_str())
                    .map(|job| (job, false))
                    .ok_or_else(|| RepoError::job_not_found(&p.id)),
            })
            .collect()
    }

    async fn job_start_many(
        &self,
        worker_id: &str,
        attempts: &[(String, i64)],
        now: i64,
    ) -> RepoResult<Vec<RepoResult<JobRecord>>> {
        #[derive(Serialize)]
        struct Row<'a> {
            s_job: &'a str,
            s_attempt: i64,
        }
        let rows: Vec<Row> = attempts
            .iter()
            .map(|(id, attempt)| Row {
                s_job: id,
                s_attempt: *attempt,
            })
            .collect();
        let mut tx = self.backend.write().await?;
        // Ids only inside the transaction; the started rows are read after the commit (see
        // job_insert_many).
        let started: Vec<(String, i64)> = sqlx::query_as(sql::JOBS_START_MANY)
            .bind(to_json(&rows))
            .bind(worker_id)
            .bind(now)
            .fetch_all(&mut *tx)
            .await?;
        let history: Vec<HistoryRow> = started
            .iter()
            .map(|(id, attempt)| HistoryRow::started(id, *attempt, worker_id, now))
            .collect();
        history_many(&mut tx, &history).await?;
        let started: HashMap<String, i64> = started.into_iter().collect();
        // `None`: started now, read after the commit.
        let mut out: Vec<RepoResult<Option<JobRecord>>> = Vec::with_capacity(attempts.len());
        for (id, attempt) in attempts {
            if started.get(id) == Some(attempt) {
                out.push(Ok(None));
                continue;
            }
            // Not started now: already RUNNING in this attempt (a repeat), or refused.
            out.push(start_one(&mut tx, worker_id, id, *attempt, now).await?);
        }
        tx.commit().await?;
        let read = by_id(self.committed(started.into_keys().collect()).await?);
        Ok(attempts
            .iter()
            .zip(out)
            .map(|((id, _), outcome)| match outcome {
                // A job listed twice is answered twice.
                Ok(None) => read
                    .get(id)
                    .cloned()
                    .ok_or_else(|| RepoError::job_not_found(id)),
                Ok(Some(job)) => Ok(job),
                Err(e) => Err(e),
            })
            .collect())
    }

    async fn job_finish_many(
        &self,
        ps: Vec<JobFinishParams>,
    ) -> RepoResult<Vec<RepoResult<JobRecord>>> {
        let Some(now) = ps.first().map(|p| p.now) else {
            return Ok(Vec::new());
        };
        let ids: Vec<&str> = ps.iter().map(|p| p.job_id.as_str()).collect();
        let mut tx = self.backend.write().await?;
        let locked: Vec<JobRecord> = sqlx::query_as(sql::JOBS_BY_IDS_FOR_UPDATE)
            .bind(to_json(&ids))
            .fetch_all(&mut *tx)
            .await?;
        let mut jobs: HashMap<String, JobRecord> =
            locked.into_iter().map(|j| (j.id.clone(), j)).collect();
        let mut out = Vec::with_capacity(ps.len());
        let mut changed = Vec::new();
        for p in &ps {
            let Some(row) = jobs.get_mut(&p.job_id) else {
                out.push(Err(RepoError::job_not_found(&p.job_id)));
                continue;
            };
            // The holds as `job_finish` settles them: a stopped attempt's end frees its
            // reservation and changes nothing else; an orphan's own result ends its hold
            // (left, the hold would give the reservation back a second time later).
            if hold::absorbs_result(row, &p.worker_id, p.attempt) {
                holds::end_hold(&mut tx, row).await?;
                out.push(Ok(row.clone()));
                continue;
            }
            let orphan = hold::is_orphan(row);
            match job::finish(row, p, &self.policy) {
                Ok(t) => {
                    if orphan {
                        hold::clear(row);
                        holds::write_hold(&mut tx, row).await?;
                    }
                    out.push(Ok(row.clone()));
                    changed.push((row.clone(), t));
                }
                Err(refusal) => out.push(Err(refusal.into())),
            }
        }
        write_transitions(&mut tx, &changed, now).await?;
        release_many(&mut tx, &changed, &self.policy, now).await?;
        for (row, t) in &changed {
            count_evidence(&mut tx, row, t, &self.policy, now).await?;
        }
        tx.commit().await?;
        Ok(out)
    }
}

impl SqlRepo {
    /// The jobs with these ids as committed, read beside the writer.
    async fn committed(&self, ids: Vec<String>) -> RepoResult<Vec<JobRecord>> {
        jobs_by_ids(&mut *self.backend.reader().await?, &ids).await
    }

    /// The rows to insert, in order; whether a job fits depends only on its size, so fitting
    /// is checked once per size in the batch.
    async fn new_rows<'p>(
        &self,
        tx: &mut Tx,
        ps: &'p [JobInsertParams],
    ) -> RepoResult<Vec<NewJob<'p>>> {
        let mut reasons: HashMap<(i64, i64), Option<String>> = HashMap::new();
        let mut rows = Vec::with_capacity(ps.len());
        for p in ps {
            let shape = (p.required_cpu_milli, p.required_ram_mb);
            let reason = match reasons.entry(shape) {
                Entry::Occupied(known) => known.get().clone(),
                Entry::Vacant(slot) => slot.insert(self.unfit_reason_locked(tx, p).await?).clone(),
            };
            let (status, why) = job::create(p.run_at, p.now);
            rows.push(NewJob {
                id: &p.id,
                status,
                command: &p.command,
                image: p.image.as_deref(),
                file_url: p.file_url.as_deref(),
                filename: p.filename.as_deref(),
                env: serde_json::to_string(&p.env).expect("a string map serializes"),
                required_cpu_milli: p.required_cpu_milli,
                required_ram_mb: p.required_ram_mb,
                timeout_ms: p.timeout_ms,
                max_retries: p.max_retries,
                priority: p.priority,
                network: i64::from(p.network),
                created_at: p.now,
                run_at: p.run_at,
                queued_at: (status == JobStatus::Queued).then_some(p.now),
                blocked: i64::from(reason.is_some()),
                reason,
                idempotency_key: p.idempotency_key.as_deref(),
                pull: p.pull.as_deref(),
                why,
            });
        }
        Ok(rows)
    }
}

/// A start the batch statement did not make: the rule says why not, or that the attempt
/// already runs (`Ok(Some)`, a repeat). Only a database failure is an `Err` of the whole call.
async fn start_one(
    tx: &mut Tx,
    worker_id: &str,
    id: &str,
    attempt: i64,
    now: i64,
) -> RepoResult<RepoResult<Option<JobRecord>>> {
    let mut row = match lock_job(tx, id).await {
        Ok(row) => row,
        Err(e @ RepoError::NotFound { .. }) => return Ok(Err(e)),
        Err(e) => return Err(e),
    };
    match job::start(&mut row, worker_id, attempt, now) {
        Ok(None) => Ok(Ok(Some(row))),
        Ok(Some(t)) => {
            write_transition(tx, &row, &t, now).await?;
            Ok(Ok(Some(row)))
        }
        Err(refusal) => Ok(Err(refusal.into())),
    }
}

/// Jobs keyed by id.
fn by_id(jobs: Vec<JobRecord>) -> HashMap<String, JobRecord> {
    jobs.into_iter().map(|j| (j.id.clone(), j)).collect()
}
