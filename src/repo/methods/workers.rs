//! The worker methods of the repository (see `WorkerRepo`).

use super::{held_by, holds, jobs_by_ids, requeue_held, sql, stop_list, Backend, SqlRepo};
use crate::lifecycle::fencing::is_lost;
use crate::model::{
    HeartbeatOutcome, JobRecord, WorkerHeartbeatParams, WorkerRecord, WorkerRegisterParams,
};
use crate::repo::{RepoError, RepoResult, WorkerRepo};
use async_trait::async_trait;
use gantry_api::StopJob;
use std::collections::{HashMap, HashSet};

#[async_trait]
impl WorkerRepo for SqlRepo {
    async fn worker_register(&self, p: WorkerRegisterParams) -> RepoResult<WorkerRecord> {
        let mut tx = self.backend.write().await?;
        Backend::lock_capacity(&mut tx).await?;
        let held = held_by(&mut tx, &p.id).await?;
        if p.earlier_jobs_stopped {
            let why = "its worker registered again (agent restarted)";
            requeue_held(&mut tx, held, &self.policy, p.now, why).await?;
            holds::end_all_stopped(&mut tx, &p.id).await?;
        } else {
            holds::hold_orphans(&mut tx, held, &self.policy, p.now).await?;
        }
        let worker: WorkerRecord = sqlx::query_as(sql::WORKER_UPSERT)
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
        let mut tx = self.backend.write().await?;
        let worker: WorkerRecord = sqlx::query_as(sql::WORKER_GET)
            .bind(&p.id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| RepoError::worker_not_found(&p.id))?;
        let came_back = worker.offline_since.is_some();
        if came_back {
            Backend::lock_capacity(&mut tx).await?;
        }
        let held = held_by(&mut tx, &p.id).await?;
        let reported: HashSet<&str> = p.running_job_ids.iter().map(String::as_str).collect();
        let lost: Vec<JobRecord> = held
            .into_iter()
            .filter(|j| is_lost(j, &reported, p.lost_if_started_before))
            .collect();
        let why = "its worker no longer reports it running";
        let lost_jobs = requeue_held(&mut tx, lost, &self.policy, p.now, why).await?;
        holds::end_reported_gone(&mut tx, &p.id, &reported, p.lost_if_started_before).await?;
        let updated: WorkerRecord = sqlx::query_as(sql::WORKER_HEARTBEAT)
            .bind(&p.id)
            .bind(p.cpu_usage)
            .bind(p.ram_free_mb)
            .bind(p.ram_total_mb)
            .bind(i64::from(p.executor_ok))
            .bind(p.now)
            .bind(i64::from(p.draining))
            .bind(&p.images)
            .fetch_one(&mut *tx)
            .await?;
        if came_back {
            self.unblock_fitting(&mut tx, &worker).await?;
        }
        let rows = jobs_by_ids(&mut *tx, &p.running_job_ids).await?;
        let stop_jobs = stop_list(&rows, &p.id, &p.running_job_ids);
        tx.commit().await?;
        Ok(HeartbeatOutcome {
            stop_jobs,
            lost_jobs,
            came_back,
            placement_changed: came_back || lost_jobs > 0 || worker.placement_differs(&updated),
            worker: updated,
        })
    }

    async fn worker_stop_list(
        &self,
        worker_id: &str,
        running_job_ids: &[String],
    ) -> RepoResult<Vec<StopJob>> {
        let rows = jobs_by_ids(&mut *self.backend.reader().await?, running_job_ids).await?;
        Ok(stop_list(&rows, worker_id, running_job_ids))
    }

    async fn worker_get(&self, id: &str) -> RepoResult<Option<WorkerRecord>> {
        Ok(sqlx::query_as(sql::WORKER_GET)
            .bind(id)
            .fetch_optional(&mut *self.backend.reader().await?)
            .await?)
    }

    async fn worker_by_token_hash(&self, hash: &str) -> RepoResult<Option<String>> {
        Ok(sqlx::query_scalar(sql::WORKER_BY_TOKEN_HASH)
            .bind(hash)
            .fetch_optional(&mut *self.backend.reader().await?)
            .await?)
    }

    async fn worker_list(&self) -> RepoResult<Vec<(WorkerRecord, Vec<String>)>> {
        let workers: Vec<WorkerRecord> = sqlx::query_as(sql::WORKER_LIST)
            .fetch_all(&mut *self.backend.reader().await?)
            .await?;
        let held: Vec<(String, String)> = sqlx::query_as(sql::WORKER_HELD_JOB_IDS)
            .fetch_all(&mut *self.backend.reader().await?)
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
}
