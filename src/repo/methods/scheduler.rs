//! What the sweepers change (see `SchedulerRepo`; placement is in `placement.rs`).

use super::{
    held_by, holds, lock_job, release, requeue_held, sql, write_transition, Backend, SqlRepo,
};
use crate::lifecycle::fencing::{is_past_deadline, is_unstarted};
use crate::lifecycle::hold;
use crate::lifecycle::job::{self, Transition};
use crate::model::{JobRecord, PlaceOutcome, SweepCounts};
use crate::repo::{RepoResult, SchedulerRepo};
use async_trait::async_trait;

#[async_trait]
impl SchedulerRepo for SqlRepo {
    async fn job_place(&self, now: i64, limit: i64) -> RepoResult<PlaceOutcome> {
        self.place(now, limit).await
    }

    async fn job_next_due(&self) -> RepoResult<Option<i64>> {
        Ok(sqlx::query_scalar(sql::JOB_NEXT_DUE)
            .fetch_one(&mut *self.backend.reader().await?)
            .await?)
    }

    async fn job_expire_deadlines(
        &self,
        deadline_before: i64,
        now: i64,
        limit: i64,
    ) -> RepoResult<SweepCounts> {
        let ids: Vec<String> = sqlx::query_scalar(sql::JOBS_PAST_DEADLINE)
            .bind(deadline_before)
            .bind(limit)
            .fetch_all(&mut *self.backend.reader().await?)
            .await?;
        self.sweep_jobs(
            ids,
            |j| is_past_deadline(j, deadline_before),
            |j| job::time_out(j, now, &self.policy),
            now,
        )
        .await
    }

    async fn job_requeue_unstarted(
        &self,
        assigned_before: i64,
        now: i64,
        limit: i64,
    ) -> RepoResult<SweepCounts> {
        let ids: Vec<String> = sqlx::query_scalar(sql::JOBS_UNSTARTED)
            .bind(assigned_before)
            .bind(limit)
            .fetch_all(&mut *self.backend.reader().await?)
            .await?;
        self.sweep_jobs(
            ids,
            |j| is_unstarted(j, assigned_before),
            |j| job::lose_unstarted(j, now, &self.policy),
            now,
        )
        .await
    }

    async fn worker_expire_heartbeats(
        &self,
        heartbeat_before: i64,
        now: i64,
        limit: i64,
    ) -> RepoResult<SweepCounts> {
        let ids: Vec<String> = sqlx::query_scalar(sql::WORKERS_SILENT)
            .bind(heartbeat_before)
            .bind(limit)
            .fetch_all(&mut *self.backend.reader().await?)
            .await?;
        let mut counts = SweepCounts {
            examined: ids.len() as u64,
            changed: 0,
        };
        for id in ids {
            let mut tx = self.backend.write().await?;
            let held = held_by(&mut tx, &id).await?;
            let marked = sqlx::query(sql::WORKER_MARK_OFFLINE)
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

    async fn job_end_holds(&self, now: i64, limit: i64) -> RepoResult<SweepCounts> {
        self.end_holds(now, limit).await
    }

    async fn worker_end_cooldowns(&self, now: i64) -> RepoResult<SweepCounts> {
        let mut tx = self.backend.write().await?;
        // It changes several worker rows at once: one at a time with placement.
        Backend::lock_capacity(&mut tx).await?;
        let changed = sqlx::query(sql::WORKERS_END_COOLDOWNS)
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
        let mut tx = self.backend.write().await?;
        let got: Option<String> = sqlx::query_scalar(sql::LEASE_ACQUIRE)
            .bind(name)
            .bind(holder)
            .bind(expires_at)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(got.is_some())
    }
}

impl SqlRepo {
    /// Moves each listed job on with `change`, one transaction each, if it still `matches`
    /// once locked (a worker may have finished it since it was listed).
    async fn sweep_jobs(
        &self,
        ids: Vec<String>,
        matches: impl Fn(&JobRecord) -> bool,
        change: impl Fn(&mut JobRecord) -> Transition,
        now: i64,
    ) -> RepoResult<SweepCounts> {
        let mut counts = SweepCounts {
            examined: ids.len() as u64,
            changed: 0,
        };
        for id in ids {
            let mut tx = self.backend.write().await?;
            let mut row = lock_job(&mut tx, &id).await?;
            if !matches(&row) {
                continue;
            }
            let running = hold::needs_hold(&row);
            let mut t = change(&mut row);
            let stopped =
                holds::stop_attempt(&mut tx, &mut row, &mut t, running, &self.policy, now).await?;
            write_transition(&mut tx, &row, &t, now).await?;
            if stopped {
                holds::record_stop(&mut tx, &row, &t, &self.policy, now).await?;
            } else {
                release(&mut tx, &row, t.worker_outcome, &self.policy, now).await?;
            }
            tx.commit().await?;
            counts.changed += 1;
        }
        Ok(counts)
    }
}
