//! Reports and uploads (see `ReportRepo`, `UploadRepo`).

use super::{sql, SqlRepo};
use crate::model::{UploadInsertParams, UploadRecord};
use crate::repo::{RepoResult, ReportRepo, UploadRepo};
use async_trait::async_trait;
use gantry_api::ReportGroup;

#[async_trait]
impl ReportRepo for SqlRepo {
    async fn job_counts_live(&self) -> RepoResult<Vec<(String, i64)>> {
        Ok(sqlx::query_as(sql::JOB_COUNTS_LIVE)
            .fetch_all(&mut *self.backend.reader().await?)
            .await?)
    }

    async fn job_finished_between(&self, from: i64, to: i64) -> RepoResult<Vec<(String, i64)>> {
        Ok(sqlx::query_as(sql::JOBS_FINISHED_BY_STATUS)
            .bind(from)
            .bind(to)
            .fetch_all(&mut *self.backend.reader().await?)
            .await?)
    }

    async fn report_summary(
        &self,
        from: i64,
        to: i64,
        group_by: &str,
    ) -> RepoResult<Vec<ReportGroup>> {
        self.report_from_rollups(from, to, group_by).await
    }
}

#[async_trait]
impl UploadRepo for SqlRepo {
    async fn upload_insert(&self, p: UploadInsertParams) -> RepoResult<()> {
        let mut tx = self.backend.write().await?;
        sqlx::query(sql::UPLOAD_INSERT)
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
        Ok(sqlx::query_as(sql::UPLOAD_GET)
            .bind(id)
            .fetch_optional(&mut *self.backend.reader().await?)
            .await?)
    }
}
