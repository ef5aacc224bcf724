//! The job methods of the repository (see `JobRepo`).

use super::rows::{history_many, HistoryRow};
use super::{
    count_evidence, history, holds, lock_job, release, sql, write_transition, Db, SqlRepo,
};
use crate::lifecycle::{hold, job};
use crate::model::{
    HistoryRecord, JobFinishParams, JobInsertParams, JobListParams, JobRecord, SEARCH_WINDOW,
};
use crate::repo::{JobRepo, RepoResult};
use async_trait::async_trait;
use gantry_api::JobStatus;

/// The statuses `jobs_ended_badly` indexes (migration V6), in its WHERE clause's words.
const ENDED_BADLY: [JobStatus; 3] = [JobStatus::Failed, JobStatus::TimedOut, JobStatus::Cancelled];

#[async_trait]
impl JobRepo for SqlRepo {
    async fn job_insert(&self, p: JobInsertParams) -> RepoResult<(JobRecord, bool)> {
        let (status, why) = job::create(p.run_at, p.now);
        let env = serde_json::to_string(&p.env).expect("a string map serializes");
        let mut tx = self.backend.write().await?;
        let reason = self.unfit_reason_locked(&mut tx, &p).await?;
        let insert = if p.idempotency_key.is_some() {
            sql::JOB_INSERT
        } else {
            sql::JOB_INSERT_FRESH
        };
        let inserted: Option<JobRecord> = sqlx::query_as(insert)
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
            .bind(&p.pull)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(job) = inserted else {
            let existing: JobRecord = sqlx::query_as(sql::JOB_BY_IDEMPOTENCY_KEY)
                .bind(&p.idempotency_key)
                .fetch_one(&mut *tx)
                .await?;
            return Ok((existing, false));
        };
        history(&mut tx, &job, (None, status), p.now, why, None).await?;
        tx.commit().await?;
        Ok((job, true))
    }

    async fn job_get(&self, id: &str) -> RepoResult<Option<JobRecord>> {
        Ok(sqlx::query_as(sql::JOB_GET)
            .bind(id)
            .fetch_optional(&mut *self.backend.reader().await?)
            .await?)
    }

    async fn job_history(&self, id: &str) -> RepoResult<Vec<HistoryRecord>> {
        Ok(sqlx::query_as(sql::HISTORY_FOR_JOB)
            .bind(id)
            .fetch_all(&mut *self.backend.reader().await?)
            .await?)
    }

    async fn job_list(&self, p: JobListParams) -> RepoResult<Vec<JobRecord>> {
        let mut query = list_query(&p);
        Ok(query
            .build_query_as()
            .fetch_all(&mut *self.backend.reader().await?)
            .await?)
    }

    async fn job_list_window_end(&self, p: &JobListParams) -> RepoResult<Option<String>> {
        let mut query = window_end_query(p);
        Ok(query
            .build_query_scalar()
            .fetch_optional(&mut *self.backend.reader().await?)
            .await?)
    }

    async fn job_deliver(&self, worker_id: &str, max: i64, now: i64) -> RepoResult<Vec<JobRecord>> {
        self.deliver(worker_id, max, now, false).await
    }

    async fn job_deliver_started(
        &self,
        worker_id: &str,
        max: i64,
        now: i64,
    ) -> RepoResult<Vec<JobRecord>> {
        self.deliver(worker_id, max, now, true).await
    }

    async fn job_start(
        &self,
        worker_id: &str,
        job_id: &str,
        attempt: i64,
        now: i64,
    ) -> RepoResult<JobRecord> {
        let mut tx = self.backend.write().await?;
        // The usual case in one statement: the holder starts its ASSIGNED attempt.
        let started: Option<JobRecord> = sqlx::query_as(sql::JOB_START)
            .bind(job_id)
            .bind(worker_id)
            .bind(attempt)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(started) = started {
            let change = (Some(JobStatus::Assigned), JobStatus::Running);
            history(&mut tx, &started, change, now, job::STARTED, None).await?;
            tx.commit().await?;
            return Ok(started);
        }
        // Otherwise the rule says why not, or that the attempt already runs.
        let mut row = lock_job(&mut tx, job_id).await?;
        if let Some(t) = job::start(&mut row, worker_id, attempt, now)? {
            write_transition(&mut tx, &row, &t, now).await?;
            tx.commit().await?;
        }
        Ok(row)
    }

    async fn job_start_pulling(
        &self,
        worker_id: &str,
        job_id: &str,
        attempt: i64,
        now: i64,
    ) -> RepoResult<JobRecord> {
        let mut tx = self.backend.write().await?;
        let mut row = lock_job(&mut tx, job_id).await?;
        if let Some(t) = job::start_pulling(&mut row, worker_id, attempt, now)? {
            write_transition(&mut tx, &row, &t, now).await?;
            tx.commit().await?;
        }
        Ok(row)
    }

    async fn job_finish(&self, p: JobFinishParams) -> RepoResult<JobRecord> {
        let mut tx = self.backend.write().await?;
        let mut row = lock_job(&mut tx, &p.job_id).await?;
        if hold::absorbs_result(&row, &p.worker_id, p.attempt) {
            // The stopped attempt reports its end: its reservation is free, the job unchanged.
            holds::end_hold(&mut tx, &mut row).await?;
            tx.commit().await?;
            return Ok(row);
        }
        let orphan = hold::is_orphan(&row);
        let t = job::finish(&mut row, &p, &self.policy)?;
        if orphan {
            hold::clear(&mut row);
            holds::write_hold(&mut tx, &row).await?;
        }
        write_transition(&mut tx, &row, &t, p.now).await?;
        release(&mut tx, &row, t.worker_outcome, &self.policy, p.now).await?;
        count_evidence(&mut tx, &row, &t, &self.policy, p.now).await?;
        tx.commit().await?;
        Ok(row)
    }

    async fn job_cancel(&self, id: &str, now: i64) -> RepoResult<JobRecord> {
        let mut tx = self.backend.write().await?;
        let mut row = lock_job(&mut tx, id).await?;
        let held = row.status.is_on_worker();
        let running = hold::needs_hold(&row);
        let mut t = job::cancel(&mut row, now)?;
        let stopped =
            holds::stop_attempt(&mut tx, &mut row, &mut t, running, &self.policy, now).await?;
        write_transition(&mut tx, &row, &t, now).await?;
        if stopped {
            holds::record_stop(&mut tx, &row, &t, &self.policy, now).await?;
        } else if held {
            release(&mut tx, &row, t.worker_outcome, &self.policy, now).await?;
        }
        tx.commit().await?;
        Ok(row)
    }
}

/// The job list's query. The one statement built at run time, since each filter is optional:
/// `SELECT * FROM jobs WHERE 1 = 1` plus one `AND` per given filter, newest first. A search
/// looks for its text among the newest [`SEARCH_WINDOW`] jobs the other filters select (an
/// id or a command matched anywhere cannot use an index): its cost stays bounded however
/// many jobs are stored, and the page's cursor continues further back.
fn list_query(p: &JobListParams) -> sqlx::QueryBuilder<'_, Db> {
    let mut sql = sqlx::QueryBuilder::<Db>::new("");
    match &p.search {
        None => {
            sql.push("SELECT * FROM jobs WHERE 1 = 1");
            push_filters(&mut sql, p);
        }
        Some(text) => {
            let pattern = format!("%{text}%");
            sql.push(
                "SELECT * FROM jobs WHERE id IN (SELECT id FROM \
                 (SELECT id, command FROM jobs WHERE 1 = 1",
            );
            push_filters(&mut sql, p);
            sql.push(" ORDER BY id DESC LIMIT ")
                .push_bind(SEARCH_WINDOW)
                .push(") recent WHERE id LIKE ")
                .push_bind(pattern.clone())
                .push(" OR command LIKE ")
                .push_bind(pattern)
                .push(")");
        }
    }
    sql.push(" ORDER BY id DESC LIMIT ").push_bind(p.limit);
    sql
}

/// The last job of a search's window: the id of the [`SEARCH_WINDOW`]-th newest job the
/// filters other than the text select, if there are that many.
fn window_end_query(p: &JobListParams) -> sqlx::QueryBuilder<'_, Db> {
    let mut sql = sqlx::QueryBuilder::<Db>::new("SELECT id FROM jobs WHERE 1 = 1");
    push_filters(&mut sql, p);
    sql.push(" ORDER BY id DESC LIMIT 1 OFFSET ")
        .push_bind(SEARCH_WINDOW - 1);
    sql
}

/// Appends every filter of `p` but the search text, each as ` AND ...`.
fn push_filters<'a>(sql: &mut sqlx::QueryBuilder<'a, Db>, p: &'a JobListParams) {
    if !p.statuses.is_empty() {
        push_status_in(sql, &p.statuses);
        // Repeats the partial index's own WHERE when it holds every listed status: SQLite
        // uses a partial index only for a query that names its condition word for word.
        if p.statuses.iter().all(|s| ENDED_BADLY.contains(s)) {
            push_status_in(sql, &ENDED_BADLY);
        }
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
    if let Some(from) = &p.from_id {
        sql.push(" AND id >= ").push_bind(from);
    }
    if let Some(before) = &p.before_id {
        sql.push(" AND id < ").push_bind(before);
    }
}

/// Appends ` AND status IN ('A', 'B')`. Written out, not bound: the statuses are a closed set of
/// names, and as literals they let the planner use the partial index holding exactly those jobs.
fn push_status_in(sql: &mut sqlx::QueryBuilder<'_, Db>, statuses: &[JobStatus]) {
    sql.push(" AND status IN (");
    let mut list = sql.separated(", ");
    for status in statuses {
        list.push(format_args!("'{}'", status.as_str()));
    }
    sql.push(")");
}

impl SqlRepo {
    /// Hands `worker_id` up to `max` of its undelivered assigned jobs, oldest assignment
    /// first; `started` also moves them to RUNNING with their start's history rows.
    async fn deliver(
        &self,
        worker_id: &str,
        max: i64,
        now: i64,
        started: bool,
    ) -> RepoResult<Vec<JobRecord>> {
        // Idle pollers ask often; most of the time there is nothing, and a read says so
        // without taking the write lock.
        let waiting: i64 = sqlx::query_scalar(sql::JOBS_UNDELIVERED_EXIST)
            .bind(worker_id)
            .fetch_one(&mut *self.backend.reader().await?)
            .await?;
        if waiting == 0 {
            return Ok(Vec::new());
        }
        let statement = if started {
            sql::JOBS_DELIVER_STARTED
        } else {
            sql::JOBS_DELIVER
        };
        let mut tx = self.backend.write().await?;
        let mut jobs: Vec<JobRecord> = sqlx::query_as(statement)
            .bind(worker_id)
            .bind(max)
            .bind(now)
            .fetch_all(&mut *tx)
            .await?;
        if started {
            let rows: Vec<HistoryRow> = jobs
                .iter()
                .map(|j| HistoryRow::started(&j.id, j.attempts, worker_id, now))
                .collect();
            history_many(&mut tx, &rows).await?;
        }
        tx.commit().await?;
        jobs.sort_by_key(|j| (j.assigned_at, j.id.clone()));
        Ok(jobs)
    }
}
