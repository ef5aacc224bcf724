//! The rollup pass and the report that reads it (see [`crate::rollup`]).

use super::{sql, Db, SqlRepo, Tx};
use crate::repo::RepoResult;
use crate::rollup::{
    hours_covering, needs_full_rows, report_groups, EndedJob, Histogram, HistoryFact, Rollup,
    RollupKey, METRICS,
};
use gantry_api::ReportGroup;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The rollup pass's row in `maintenance_cursors`.
pub(super) const ROLLUP_CURSOR: &str = "rollup";

/// One row of `job_rollups`, as stored.
#[derive(sqlx::FromRow)]
struct RollupRow {
    hour: i64,
    image: String,
    worker_id: String,
    status: String,
    jobs: i64,
    attempts: i64,
    retries: i64,
    worker_faults: i64,
    job_faults: i64,
    queue_wait_ms_count: i64,
    queue_wait_ms_sum: f64,
    queue_wait_ms_max: f64,
    run_ms_count: i64,
    run_ms_sum: f64,
    run_ms_max: f64,
    cpu_seconds_count: i64,
    cpu_seconds_sum: f64,
    cpu_seconds_max: f64,
    peak_memory_mb_count: i64,
    peak_memory_mb_sum: f64,
    peak_memory_mb_max: f64,
    required_ram_mb_count: i64,
    required_ram_mb_sum: f64,
    required_ram_mb_max: f64,
    memory_used_pct_count: i64,
    memory_used_pct_sum: f64,
    memory_used_pct_max: f64,
    buckets: String,
}

/// The `buckets` column: each metric's buckets by its name.
type StoredBuckets = BTreeMap<String, BTreeMap<i32, i64>>;

impl RollupRow {
    /// The row's key and sums.
    fn into_rollup(self) -> RepoResult<(RollupKey, Rollup)> {
        let mut buckets: StoredBuckets = serde_json::from_str(&self.buckets)
            .map_err(|e| crate::model::CorruptRow(format!("job_rollups.buckets: {e}")))?;
        let totals = [
            (
                self.queue_wait_ms_count,
                self.queue_wait_ms_sum,
                self.queue_wait_ms_max,
            ),
            (self.run_ms_count, self.run_ms_sum, self.run_ms_max),
            (
                self.cpu_seconds_count,
                self.cpu_seconds_sum,
                self.cpu_seconds_max,
            ),
            (
                self.peak_memory_mb_count,
                self.peak_memory_mb_sum,
                self.peak_memory_mb_max,
            ),
            (
                self.required_ram_mb_count,
                self.required_ram_mb_sum,
                self.required_ram_mb_max,
            ),
            (
                self.memory_used_pct_count,
                self.memory_used_pct_sum,
                self.memory_used_pct_max,
            ),
        ];
        let metrics = std::array::from_fn(|i| Histogram {
            count: totals[i].0,
            sum: totals[i].1,
            max: totals[i].2,
            buckets: buckets.remove(METRICS[i]).unwrap_or_default(),
        });
        let key = RollupKey {
            hour: self.hour,
            image: self.image,
            worker_id: self.worker_id,
            status: self.status,
        };
        let rollup = Rollup {
            jobs: self.jobs,
            attempts: self.attempts,
            retries: self.retries,
            worker_faults: self.worker_faults,
            job_faults: self.job_faults,
            metrics,
        };
        Ok((key, rollup))
    }
}

/// Reads rollup rows.
fn rollups(rows: Vec<RollupRow>) -> RepoResult<HashMap<RollupKey, Rollup>> {
    rows.into_iter().map(RollupRow::into_rollup).collect()
}

/// Writes one rollup row whole.
async fn upsert(tx: &mut Tx, key: &RollupKey, r: &Rollup) -> RepoResult<()> {
    let buckets: StoredBuckets = METRICS
        .iter()
        .zip(&r.metrics)
        .filter(|(_, h)| h.count > 0)
        .map(|(name, h)| (name.to_string(), h.buckets.clone()))
        .collect();
    let mut q = sqlx::query(sql::ROLLUP_UPSERT)
        .bind(key.hour)
        .bind(&key.image)
        .bind(&key.worker_id)
        .bind(&key.status)
        .bind(r.jobs)
        .bind(r.attempts)
        .bind(r.retries)
        .bind(r.worker_faults)
        .bind(r.job_faults);
    for h in &r.metrics {
        q = q.bind(h.count).bind(h.sum).bind(h.max);
    }
    q.bind(serde_json::to_string(&buckets).expect("a map of numbers serializes"))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The history rows of `jobs`.
async fn facts<'e, E>(executor: E, jobs: &[EndedJob]) -> RepoResult<Vec<HistoryFact>>
where
    E: sqlx::Executor<'e, Database = Db>,
{
    let ids: Vec<&str> = jobs.iter().map(|j| j.id.as_str()).collect();
    let ids = serde_json::to_string(&ids).expect("ids serialize");
    Ok(sqlx::query_as(sql::HISTORY_FACTS)
        .bind(ids)
        .fetch_all(executor)
        .await?)
}

impl SqlRepo {
    /// The rollup pass (`MaintenanceRepo::job_rollup`).
    pub(super) async fn rollup_batch(&self, ended_before: i64, limit: i64) -> RepoResult<u64> {
        let mut tx = self.backend.write().await?;
        // Locked first: a second leader's pass waits here and then finds the cursor moved.
        let (at, id): (i64, String) = sqlx::query_as(sql::CURSOR_LOCK)
            .bind(ROLLUP_CURSOR)
            .fetch_one(&mut *tx)
            .await?;
        let jobs: Vec<EndedJob> = sqlx::query_as(sql::JOBS_ENDED_AFTER)
            .bind(at)
            .bind(&id)
            .bind(i64::MIN)
            .bind(ended_before)
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?;
        let Some(last) = jobs.last() else {
            return Ok(0);
        };
        let history = facts(&mut *tx, &jobs).await?;
        let fresh = Rollup::with_totals(&jobs, &history);
        let hours: BTreeSet<i64> = fresh.keys().map(|k| k.hour).collect();
        let hours = serde_json::to_string(&hours).expect("hours serialize");
        let stored: Vec<RollupRow> = sqlx::query_as(sql::ROLLUPS_OF_HOURS)
            .bind(hours)
            .fetch_all(&mut *tx)
            .await?;
        let mut stored = rollups(stored)?;
        for (key, rollup) in &fresh {
            let merged = stored.entry(key.clone()).or_default();
            merged.merge(rollup);
            upsert(&mut tx, key, merged).await?;
        }
        sqlx::query(sql::CURSOR_SET)
            .bind(ROLLUP_CURSOR)
            .bind(last.finished_at)
            .bind(&last.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(jobs.len() as u64)
    }

    /// The report (`ReportRepo::report_summary`): the rollup rows of the window's hours (the
    /// hours' totals unless it groups by image or worker) and the jobs of those hours past
    /// the rollup cursor, read in one snapshot so that a pass
    /// committing meanwhile is counted once.
    pub(super) async fn report_from_rollups(
        &self,
        from: i64,
        to: i64,
        group_by: &str,
    ) -> RepoResult<Vec<ReportGroup>> {
        let (from, to) = hours_covering(from, to);
        let mut snapshot = self.backend.read_snapshot().await?;
        let (at, id): (i64, String) = sqlx::query_as(sql::CURSOR_GET)
            .bind(ROLLUP_CURSOR)
            .fetch_one(&mut *snapshot)
            .await?;
        let stored: Vec<RollupRow> = sqlx::query_as(sql::ROLLUPS_IN_WINDOW)
            .bind(from)
            .bind(to)
            .bind(!needs_full_rows(group_by))
            .fetch_all(&mut *snapshot)
            .await?;
        let jobs: Vec<EndedJob> = sqlx::query_as(sql::JOBS_ENDED_AFTER)
            .bind(at)
            .bind(&id)
            .bind(from)
            .bind(to)
            .bind(i64::MAX)
            .fetch_all(&mut *snapshot)
            .await?;
        let history = if jobs.is_empty() {
            Vec::new()
        } else {
            facts(&mut *snapshot, &jobs).await?
        };
        snapshot.commit().await?;
        let mut all = rollups(stored)?;
        for (key, rollup) in Rollup::of_jobs(&jobs, &history) {
            all.entry(key).or_default().merge(&rollup);
        }
        Ok(report_groups(&all, group_by))
    }
}
