//! What the scheduler services change (see `SchedulerRepo`).

use super::batch_queries as bq;
use super::batch_rows::{history_many, to_json, HistoryRow};
use super::*;
use std::collections::BTreeMap;

#[async_trait]
impl SchedulerRepo for SqlRepo {
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
        let history: Vec<HistoryRow> = promoted
            .iter()
            .map(|(id, attempt)| HistoryRow::promoted(id, *attempt, now))
            .collect();
        history_many(&mut tx, &history).await?;
        out.promoted = promoted.len() as u64;

        // Is anything placeable waiting? With nothing (the usual idle pass) the workers are
        // not read at all, so an idle pass costs the same with 10 workers or 1,000.
        let waiting: Option<String> = sqlx::query_scalar(q::QUEUE_PEEK)
            .fetch_optional(&mut *tx)
            .await?;
        let workers: Vec<PlacementWorker> = if waiting.is_some() {
            let all: String = sqlx::query_scalar(q::WORKERS_FOR_PLACEMENT)
                .fetch_one(&mut *tx)
                .await?;
            serde_json::from_str(&all)
                .map_err(|e| RepoError::Corrupt(format!("placement's worker list: {e}")))?
        } else {
            Vec::new()
        };
        let mut slots: Vec<Slot> = workers
            .iter()
            .filter(|w| w.accepts_work(now))
            .filter_map(Slot::of)
            .collect();
        if !slots.is_empty() {
            let head: Vec<Candidate> = sqlx::query_as(q::QUEUE_HEAD)
                .bind(limit)
                .fetch_all(&mut *tx)
                .await?;
            let full = head.len() as i64 == limit;
            place_candidates(&mut tx, &workers, &mut slots, head, now, &mut out).await?;
            // The head may be jobs waiting for room that is not free now (a big worker busy):
            // look past them for jobs that fit the room there is, so they do not starve.
            let room = limit - out.placed.len() as i64;
            if full && room > 0 && !slots.is_empty() {
                let max_cpu = slots.iter().map(|s| s.free_cpu_milli).max().unwrap_or(0);
                let max_ram = slots.iter().map(|s| s.free_ram_mb).max().unwrap_or(0);
                let fitting: Vec<Candidate> = sqlx::query_as(q::QUEUE_FITTING)
                    .bind(room)
                    .bind(max_cpu)
                    .bind(max_ram)
                    .fetch_all(&mut *tx)
                    .await?;
                place_candidates(&mut tx, &workers, &mut slots, fitting, now, &mut out).await?;
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
        self.sweep_jobs(
            ids,
            |job| {
                Ok(job.state()? == JobStatus::Running
                    && job.deadline_at.is_some_and(|d| d <= deadline_before))
            },
            |job| lifecycle::time_out(job, now, &self.policy),
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
        let ids: Vec<String> = sqlx::query_scalar(q::JOBS_UNSTARTED)
            .bind(assigned_before)
            .bind(limit)
            .fetch_all(self.pools.read())
            .await?;
        let why = "its worker never started it";
        self.sweep_jobs(
            ids,
            |job| {
                Ok(job.state()? == JobStatus::Assigned
                    && job.assigned_at.is_some_and(|a| a <= assigned_before))
            },
            |job| {
                let delivered = job.delivered_at.is_some();
                let mut t = lifecycle::lose(job, JobStatus::Assigned, now, &self.policy, why);
                // Never handed over (the worker was not polling): not a failure of its own.
                if !delivered {
                    t.worker_outcome = WorkerOutcome::Neutral;
                }
                t
            },
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
        // It changes several worker rows at once: one at a time with placement.
        lock_capacity(&mut tx).await?;
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
}

impl SqlRepo {
    /// Moves each listed job on with `change`, one transaction each, if it still `matches`
    /// once locked (a worker may have finished it since it was listed).
    async fn sweep_jobs(
        &self,
        ids: Vec<String>,
        matches: impl Fn(&JobRecord) -> RepoResult<bool>,
        change: impl Fn(&mut JobRecord) -> Transition,
        now: i64,
    ) -> RepoResult<SweepCounts> {
        let mut counts = SweepCounts {
            examined: ids.len() as u64,
            changed: 0,
        };
        for id in ids {
            let mut tx = self.pools.write().await?;
            let mut job = lock_job(&mut tx, &id).await?;
            if !matches(&job)? {
                continue;
            }
            let t = change(&mut job);
            write_transition(&mut tx, &job, &t, now).await?;
            release(&mut tx, &job, t.worker_outcome, &self.policy, now).await?;
            tx.commit().await?;
            counts.changed += 1;
        }
        Ok(counts)
    }
}

/// A queued job as placement reads it: id, CPU (millicores), memory (MiB).
type Candidate = (String, i64, i64);

/// Places each candidate on its best-fitting slot, in order; blocks those that fit no online
/// worker at all. The plan is made in memory, then written with one reservation per worker
/// and one statement each for the assignments and their history rows.
async fn place_candidates(
    tx: &mut Tx,
    workers: &[PlacementWorker],
    slots: &mut Vec<Slot>,
    candidates: Vec<Candidate>,
    now: i64,
    out: &mut PlaceOutcome,
) -> RepoResult<()> {
    let mut plan: Vec<(String, String, i64, i64)> = Vec::new();
    for (job_id, cpu, ram) in candidates {
        if slots.is_empty() {
            break;
        }
        if let Some(reason) = unfit_reason(workers, cpu, ram) {
            sqlx::query(q::JOB_BLOCK)
                .bind(&job_id)
                .bind(reason)
                .execute(&mut **tx)
                .await?;
            out.blocked += 1;
            continue;
        }
        let Some(index) = best_fit(slots, cpu, ram) else {
            continue;
        };
        plan.push((job_id, slots[index].worker_id.clone(), cpu, ram));
        slots[index].take(cpu, ram);
        if slots[index].free_jobs == 0 {
            slots.remove(index);
        }
    }
    if plan.is_empty() {
        return Ok(());
    }
    // Reserve per worker; the UPDATE re-checks the room, and a worker whose room shrank since
    // it was read (it re-registered smaller) keeps its planned jobs QUEUED for the next pass.
    let mut per_worker: BTreeMap<&str, (i64, i64, i64)> = BTreeMap::new();
    for (_, worker_id, cpu, ram) in &plan {
        let entry = per_worker.entry(worker_id.as_str()).or_default();
        *entry = (entry.0 + cpu, entry.1 + ram, entry.2 + 1);
    }
    let mut refused: HashSet<String> = HashSet::new();
    for (worker_id, (cpu, ram, count)) in &per_worker {
        let reserved = sqlx::query(q::WORKER_RESERVE_MANY)
            .bind(worker_id)
            .bind(cpu)
            .bind(ram)
            .bind(count)
            .execute(&mut **tx)
            .await?
            .rows_affected();
        if reserved != 1 {
            refused.insert(worker_id.to_string());
        }
    }
    plan.retain(|(_, worker_id, _, _)| !refused.contains(worker_id));
    let rows: Vec<AssignRow> = plan
        .iter()
        .map(|(job_id, worker_id, _, _)| AssignRow {
            a_job: job_id,
            a_worker: worker_id,
        })
        .collect();
    let assigned: Vec<(String, String, i64)> = sqlx::query_as(&bq::JOBS_ASSIGN_MANY)
        .bind(to_json(&rows))
        .bind(now)
        .fetch_all(&mut **tx)
        .await?;
    if assigned.len() != plan.len() {
        // A planned job was no longer QUEUED: its reservation goes back.
        let done: HashSet<&str> = assigned.iter().map(|(id, _, _)| id.as_str()).collect();
        for (job_id, worker_id, cpu, ram) in &plan {
            if !done.contains(job_id.as_str()) {
                sqlx::query(q::WORKER_RELEASE)
                    .bind(worker_id)
                    .bind(cpu)
                    .bind(ram)
                    .execute(&mut **tx)
                    .await?;
            }
        }
    }
    let history: Vec<HistoryRow> = assigned
        .iter()
        .map(|(job_id, worker_id, attempt)| HistoryRow::placed(job_id, *attempt, worker_id, now))
        .collect();
    history_many(tx, &history).await?;
    // In plan order (queue order), so the caller sees placements as they were decided.
    let mut attempts: HashMap<String, (String, i64)> = assigned
        .into_iter()
        .map(|(job_id, worker_id, attempt)| (job_id, (worker_id, attempt)))
        .collect();
    for (job_id, _, _, _) in plan {
        if let Some((worker_id, attempt)) = attempts.remove(&job_id) {
            out.placed.push(Placement {
                job_id,
                worker_id,
                attempt,
            });
        }
    }
    Ok(())
}

/// One assignment as `JOBS_ASSIGN_MANY` reads it.
#[derive(serde::Serialize)]
struct AssignRow<'a> {
    a_job: &'a str,
    a_worker: &'a str,
}
