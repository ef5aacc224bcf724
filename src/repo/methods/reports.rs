//! Reports and uploads (see `ReportRepo`, `UploadRepo`).

use super::{sql, SqlRepo};
use crate::model::{UploadInsertParams, UploadRecord};
use crate::repo::{RepoResult, ReportRepo, UploadRepo};
use async_trait::async_trait;
use gantry_api::{Percentiles, ReportGroup, Spread};
use std::collections::HashMap;

#[async_trait]
impl ReportRepo for SqlRepo {
    async fn job_counts_by_status(&self) -> RepoResult<Vec<(String, i64)>> {
        Ok(sqlx::query_as(sql::JOB_COUNTS_BY_STATUS)
            .fetch_all(self.backend.read())
            .await?)
    }

    async fn job_finished_counts(&self) -> RepoResult<Vec<(String, i64)>> {
        Ok(sqlx::query_as(sql::JOBS_FINISHED_BY_STATUS)
            .fetch_all(self.backend.read())
            .await?)
    }

    async fn report_summary(
        &self,
        from: i64,
        to: i64,
        group_by: &str,
    ) -> RepoResult<Vec<ReportGroup>> {
        type Counts = (String, i64, i64, i64, i64, i64, i64, i64, i64);
        type Stats = (String, i64, i64, i64, i64);
        let counts: Vec<Counts> = sqlx::query_as(sql::REPORT_COUNTS)
            .bind(from)
            .bind(to)
            .bind(group_by)
            .fetch_all(self.backend.read())
            .await?;
        let mut stats = Vec::new();
        for duration in ["queue_wait", "run"] {
            let rows: Vec<Stats> = sqlx::query_as(sql::REPORT_DURATIONS)
                .bind(from)
                .bind(to)
                .bind(group_by)
                .bind(duration)
                .fetch_all(self.backend.read())
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
        let mut usage = self.report_usage(from, to, group_by).await?;
        Ok(counts
            .into_iter()
            .map(
                |(
                    key,
                    jobs,
                    completed,
                    failed,
                    timed_out,
                    cancelled,
                    retries,
                    worker_faults,
                    job_faults,
                )| ReportGroup {
                    peak_memory_mb: usage.remove(&(key.clone(), "peak_memory_mb")),
                    required_ram_mb: usage.remove(&(key.clone(), "required_ram_mb")),
                    memory_used_pct: usage.remove(&(key.clone(), "memory_used_pct")),
                    cpu_seconds: usage.remove(&(key.clone(), "cpu_seconds")),
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
                    worker_faults,
                    job_faults,
                },
            )
            .collect())
    }
}

impl SqlRepo {
    /// What the attempts of the report's jobs used, by (group, metric name).
    async fn report_usage(
        &self,
        from: i64,
        to: i64,
        group_by: &str,
    ) -> RepoResult<HashMap<(String, &'static str), Spread>> {
        type Row = (String, String, i64, f64, f64, f64);
        let rows: Vec<Row> = sqlx::query_as(sql::REPORT_USAGE)
            .bind(from)
            .bind(to)
            .bind(group_by)
            .fetch_all(self.backend.read())
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(group, metric, count, p50, p95, max)| {
                let metric = USAGE_METRICS.iter().find(|m| **m == metric)?;
                let spread = Spread {
                    count,
                    p50,
                    p95,
                    max,
                };
                Some(((group, *metric), spread))
            })
            .collect())
    }
}

/// The metrics `report_usage.sql` computes, by the names it gives them.
const USAGE_METRICS: [&str; 4] = [
    "peak_memory_mb",
    "required_ram_mb",
    "memory_used_pct",
    "cpu_seconds",
];

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
            .fetch_optional(self.backend.read())
            .await?)
    }
}
