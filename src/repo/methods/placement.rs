//! Placement: promote due PENDING jobs, then place QUEUED ones on the best-fitting workers
//! (`lifecycle::fit`), all in one transaction. The plan is made in memory and written with
//! one reservation per worker and one statement each for the assignments and their history.

use super::rows::{history_many, to_json, HistoryRow};
use super::{sql, Backend, SqlRepo, Tx};
use crate::lifecycle::fit::{best_fit, unfit_reason, Slot, WorkerCapacity};
use crate::lifecycle::locality::normalize;
use crate::model::{Assignment, PlaceOutcome};
use crate::repo::{RepoError, RepoResult};
use std::collections::{BTreeMap, HashMap, HashSet};

/// A queued job as placement reads it: id, CPU (millicores), memory (MiB), image.
type Candidate = (String, i64, i64, Option<String>);

/// A planned assignment: job, worker, CPU and memory.
type Planned = (String, String, i64, i64);

impl SqlRepo {
    /// One placement pass at `now`, at most `limit` promotions and `limit` placements.
    pub(super) async fn place(&self, now: i64, limit: i64) -> RepoResult<PlaceOutcome> {
        let mut out = PlaceOutcome::default();
        let mut tx = self.backend.write().await?;
        // Placement may block jobs that fit no worker: not while one registers.
        Backend::lock_capacity(&mut tx).await?;
        out.promoted = promote_due(&mut tx, now, limit).await?;
        let workers = placeable_workers(&mut tx).await?;
        let mut slots: Vec<Slot> = workers
            .iter()
            .filter(|w| w.accepts_work(now))
            .filter_map(Slot::of)
            .collect();
        if !slots.is_empty() {
            let head: Vec<Candidate> = sqlx::query_as(sql::QUEUE_HEAD)
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
                let fitting: Vec<Candidate> = sqlx::query_as(sql::QUEUE_FITTING)
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
}

/// Moves due PENDING jobs to QUEUED, with their history rows; how many.
async fn promote_due(tx: &mut Tx, now: i64, limit: i64) -> RepoResult<u64> {
    let promoted: Vec<(String, i64)> = sqlx::query_as(sql::JOBS_PROMOTE_DUE)
        .bind(now)
        .bind(limit)
        .fetch_all(&mut **tx)
        .await?;
    let history: Vec<HistoryRow> = promoted
        .iter()
        .map(|(id, attempt)| HistoryRow::promoted(id, *attempt, now))
        .collect();
    history_many(tx, &history).await?;
    Ok(promoted.len() as u64)
}

/// The online workers, when anything placeable waits; with nothing (the usual idle pass) the
/// workers are not read at all, so an idle pass costs the same however many there are.
async fn placeable_workers(tx: &mut Tx) -> RepoResult<Vec<WorkerCapacity>> {
    let waiting: Option<String> = sqlx::query_scalar(sql::QUEUE_PEEK)
        .fetch_optional(&mut **tx)
        .await?;
    if waiting.is_none() {
        return Ok(Vec::new());
    }
    let all: String = sqlx::query_scalar(sql::WORKERS_FOR_PLACEMENT)
        .fetch_one(&mut **tx)
        .await?;
    serde_json::from_str(&all)
        .map_err(|e| RepoError::Corrupt(format!("placement's worker list: {e}")))
}

/// Places each candidate on its best-fitting slot, in order; blocks those that fit no online
/// worker at all.
async fn place_candidates(
    tx: &mut Tx,
    workers: &[WorkerCapacity],
    slots: &mut Vec<Slot>,
    candidates: Vec<Candidate>,
    now: i64,
    out: &mut PlaceOutcome,
) -> RepoResult<()> {
    let mut plan: Vec<Planned> = Vec::new();
    for (job_id, cpu, ram, image) in candidates {
        if slots.is_empty() {
            break;
        }
        if let Some(reason) = unfit_reason(workers, cpu, ram) {
            sqlx::query(sql::JOB_BLOCK)
                .bind(&job_id)
                .bind(reason)
                .execute(&mut **tx)
                .await?;
            out.blocked += 1;
            continue;
        }
        let image = image.as_deref().map(normalize);
        let Some(index) = best_fit(slots, cpu, ram, image.as_deref()) else {
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
    reserve(tx, &mut plan).await?;
    let assigned = assign(tx, &plan, now).await?;
    // In plan order (queue order), so the caller sees placements as they were decided.
    let mut attempts: HashMap<String, (String, i64)> = assigned
        .into_iter()
        .map(|(job_id, worker_id, attempt)| (job_id, (worker_id, attempt)))
        .collect();
    for (job_id, _, _, _) in plan {
        if let Some((worker_id, attempt)) = attempts.remove(&job_id) {
            out.placed.push(Assignment {
                job_id,
                worker_id,
                attempt,
            });
        }
    }
    Ok(())
}

/// Reserves the plan's room, one statement per worker. The UPDATE re-checks the room, and a
/// worker whose room shrank since it was read (it re-registered smaller) keeps its planned
/// jobs QUEUED for the next pass: they leave the plan.
async fn reserve(tx: &mut Tx, plan: &mut Vec<Planned>) -> RepoResult<()> {
    let mut per_worker: BTreeMap<&str, (i64, i64, i64)> = BTreeMap::new();
    for (_, worker_id, cpu, ram) in plan.iter() {
        let entry = per_worker.entry(worker_id.as_str()).or_default();
        *entry = (entry.0 + cpu, entry.1 + ram, entry.2 + 1);
    }
    let mut refused: HashSet<String> = HashSet::new();
    for (worker_id, (cpu, ram, count)) in &per_worker {
        let reserved = sqlx::query(sql::WORKER_RESERVE_MANY)
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
    Ok(())
}

/// Marks the planned jobs ASSIGNED as new attempts, with their history rows (at `now`, or at
/// the job's queueing when that is later); gives back the reservation of a planned job that
/// was no longer QUEUED. Returns (job, worker, attempt).
async fn assign(tx: &mut Tx, plan: &[Planned], now: i64) -> RepoResult<Vec<(String, String, i64)>> {
    let rows: Vec<AssignRow> = plan
        .iter()
        .map(|(job_id, worker_id, _, _)| AssignRow {
            a_job: job_id,
            a_worker: worker_id,
        })
        .collect();
    let assigned: Vec<(String, String, i64, i64)> = sqlx::query_as(sql::JOBS_ASSIGN_MANY)
        .bind(to_json(&rows))
        .bind(now)
        .fetch_all(&mut **tx)
        .await?;
    if assigned.len() != plan.len() {
        let done: HashSet<&str> = assigned.iter().map(|(id, _, _, _)| id.as_str()).collect();
        for (job_id, worker_id, cpu, ram) in plan {
            if !done.contains(job_id.as_str()) {
                sqlx::query(sql::WORKER_RELEASE)
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
        .map(|(job_id, worker_id, attempt, at)| {
            HistoryRow::placed(job_id, *attempt, worker_id, *at)
        })
        .collect();
    history_many(tx, &history).await?;
    Ok(assigned
        .into_iter()
        .map(|(job_id, worker_id, attempt, _)| (job_id, worker_id, attempt))
        .collect())
}

/// One assignment as `jobs_assign_many.sql` reads it.
#[derive(serde::Serialize)]
struct AssignRow<'a> {
    a_job: &'a str,
    a_worker: &'a str,
}
