//! The pruners' batches and the dry run (see `MaintenanceRepo`).

use super::rollups::ROLLUP_CURSOR;
use super::{sql, SqlRepo};
use crate::model::{PruneCounts, PruneCutoffs};
use crate::repo::{MaintenanceRepo, RepoResult};
use async_trait::async_trait;

/// The outputs pruner's row in `maintenance_cursors`.
const OUTPUTS_CURSOR: &str = "outputs";

/// A cutoff that takes nothing: no job ended, no file was stored, before it.
const NEVER: i64 = i64::MIN;

#[async_trait]
impl MaintenanceRepo for SqlRepo {
    async fn job_rollup(&self, ended_before: i64, limit: i64) -> RepoResult<u64> {
        self.rollup_batch(ended_before, limit).await
    }

    async fn job_prune_outputs(&self, ended_before: i64, limit: i64) -> RepoResult<(u64, u64)> {
        let mut tx = self.backend.write().await?;
        let (at, id): (i64, String) = sqlx::query_as(sql::CURSOR_LOCK)
            .bind(OUTPUTS_CURSOR)
            .fetch_one(&mut *tx)
            .await?;
        let batch: Vec<(String, i64)> = sqlx::query_as(sql::JOBS_ENDED_AFTER)
            .bind(at)
            .bind(&id)
            .bind(i64::MIN)
            .bind(ended_before)
            .bind(limit)
            .fetch_all(&mut *tx)
            .await
            .map(|jobs: Vec<crate::rollup::EndedJob>| {
                jobs.into_iter().map(|j| (j.id, j.finished_at)).collect()
            })?;
        let Some((last_id, last_at)) = batch.last().cloned() else {
            return Ok((0, 0));
        };
        let ids: Vec<&str> = batch.iter().map(|(id, _)| id.as_str()).collect();
        let cleared = sqlx::query(sql::JOBS_CLEAR_OUTPUTS)
            .bind(serde_json::to_string(&ids).expect("ids serialize"))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query(sql::CURSOR_SET)
            .bind(OUTPUTS_CURSOR)
            .bind(last_at)
            .bind(&last_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((batch.len() as u64, cleared))
    }

    async fn job_prune(&self, ended_before: i64, limit: i64) -> RepoResult<(u64, u64)> {
        let mut tx = self.backend.write().await?;
        // Only what the rollup has folded in may go: reports still need the rest.
        let (at, id): (i64, String) = sqlx::query_as(sql::CURSOR_GET)
            .bind(ROLLUP_CURSOR)
            .fetch_one(&mut *tx)
            .await?;
        let batch: Vec<(String, i64)> = sqlx::query_as(sql::JOBS_PRUNABLE)
            .bind(ended_before)
            .bind(at)
            .bind(&id)
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?;
        if batch.is_empty() {
            return Ok((0, 0));
        }
        let ids: Vec<&str> = batch.iter().map(|(id, _)| id.as_str()).collect();
        let ids = serde_json::to_string(&ids).expect("ids serialize");
        let history = sqlx::query(sql::HISTORY_DELETE_FOR_JOBS)
            .bind(&ids)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let jobs = sqlx::query(sql::JOBS_DELETE)
            .bind(&ids)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok((jobs, history))
    }

    async fn upload_prune(&self, stored_before: i64, limit: i64) -> RepoResult<u64> {
        let mut tx = self.backend.write().await?;
        let n = sqlx::query(sql::UPLOADS_PRUNE)
            .bind(stored_before)
            .bind(limit)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n)
    }

    async fn rollup_prune(&self, hour_before: i64) -> RepoResult<u64> {
        let mut tx = self.backend.write().await?;
        let n = sqlx::query(sql::ROLLUPS_DELETE_BEFORE)
            .bind(hour_before)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n)
    }

    async fn prune_preview(&self, cutoffs: PruneCutoffs) -> RepoResult<PruneCounts> {
        let mut snapshot = self.backend.read_snapshot().await?;
        let cursor = |name| sqlx::query_as::<_, (i64, String)>(sql::CURSOR_GET).bind(name);
        let outputs_cursor = cursor(OUTPUTS_CURSOR).fetch_one(&mut *snapshot).await?;
        let counts: (i64, i64, i64, i64, i64) = sqlx::query_as(sql::PRUNE_PREVIEW)
            .bind(outputs_cursor.0)
            .bind(&outputs_cursor.1)
            .bind(cutoffs.outputs_before.unwrap_or(NEVER))
            .bind(cutoffs.jobs_before.unwrap_or(NEVER))
            .bind(cutoffs.uploads_before.unwrap_or(NEVER))
            .bind(cutoffs.rollups_before.unwrap_or(NEVER))
            .fetch_one(&mut *snapshot)
            .await?;
        snapshot.commit().await?;
        let n = |v: i64| u64::try_from(v).unwrap_or(0);
        Ok(PruneCounts {
            outputs: n(counts.0),
            jobs: n(counts.1),
            history: n(counts.2),
            uploads: n(counts.3),
            rollups: n(counts.4),
        })
    }

    async fn database_compact(&self) -> RepoResult<()> {
        self.backend.compact().await
    }
}
