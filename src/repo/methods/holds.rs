//! Holds on workers (see `lifecycle::hold`): writing them, ending them (which gives back the
//! attempt's reservation), and the three ways they end: the agent's result, its heartbeat,
//! the sweep at their bound.

use super::{lock_job, record_outcome, requeue_held, sql, SqlRepo, Tx};
use crate::lifecycle::hold::{self, HoldKind};
use crate::lifecycle::job::Transition;
use crate::lifecycle::Policy;
use crate::model::{JobRecord, SweepCounts};
use crate::repo::RepoResult;
use std::collections::HashSet;

/// Writes the row's hold columns as they are now.
pub(super) async fn write_hold(tx: &mut Tx, job: &JobRecord) -> RepoResult<()> {
    let query = match &job.held_on {
        Some(on) => sqlx::query(sql::JOB_HOLD_SET)
            .bind(&job.id)
            .bind(on)
            .bind(job.held_attempt)
            .bind(job.held_since)
            .bind(job.held_until),
        None => sqlx::query(sql::JOB_HOLD_CLEAR).bind(&job.id),
    };
    query.execute(&mut **tx).await?;
    Ok(())
}

/// Ends a stopped attempt's hold: its worker's reservation is given back.
pub(super) async fn end_hold(tx: &mut Tx, job: &mut JobRecord) -> RepoResult<()> {
    let Some(on) = job.held_on.clone() else {
        return Ok(());
    };
    sqlx::query(sql::WORKER_RELEASE)
        .bind(&on)
        .bind(job.required_cpu_milli)
        .bind(job.required_ram_mb)
        .execute(&mut **tx)
        .await?;
    hold::clear(job);
    write_hold(tx, job).await
}

/// Stops the running attempt of `job` (already changed by `t`: cancelled or timed out) and
/// settles its worker: a started attempt may still run, so its reservation is held (and a
/// retry waits for the hold's bound); one never started is released at once.
pub(super) async fn stop_attempt(
    tx: &mut Tx,
    job: &mut JobRecord,
    t: &mut Transition,
    was_running: bool,
    policy: &Policy,
    now: i64,
) -> RepoResult<bool> {
    if !was_running {
        return Ok(false);
    }
    // An earlier attempt's hold that is still there has passed its bound (the retry waited for
    // it): give it back before this attempt's replaces it.
    if hold::kind(job) == Some(HoldKind::Stopped) {
        end_hold(tx, job).await?;
    }
    hold::hold(job, now, policy);
    hold::wait_out(job, now);
    t.to = job.status;
    Ok(true)
}

/// After `write_transition` of a [`stop_attempt`]: records the hold, and counts the outcome
/// for the worker without giving the reservation back.
pub(super) async fn record_stop(
    tx: &mut Tx,
    job: &JobRecord,
    t: &Transition,
    policy: &Policy,
    now: i64,
) -> RepoResult<()> {
    write_hold(tx, job).await?;
    match &job.held_on {
        Some(on) => record_outcome(tx, on, t.worker_outcome, policy, now).await,
        None => Ok(()),
    }
}

/// Ends the stopped holds on `worker_id` that its heartbeat shows gone; returns how many.
pub(super) async fn end_reported_gone(
    tx: &mut Tx,
    worker_id: &str,
    reported: &HashSet<&str>,
    started_before: i64,
) -> RepoResult<u64> {
    let holds: Vec<JobRecord> = sqlx::query_as(sql::JOBS_HOLDS_ON_WORKER)
        .bind(worker_id)
        .fetch_all(&mut **tx)
        .await?;
    let mut ended = 0;
    for mut job in holds {
        if hold::is_reported_gone(&job, reported, started_before) {
            end_hold(tx, &mut job).await?;
            ended += 1;
        }
    }
    Ok(ended)
}

/// Ends every stopped hold on `worker_id` (its agent says nothing of its earlier life runs).
pub(super) async fn end_all_stopped(tx: &mut Tx, worker_id: &str) -> RepoResult<()> {
    let holds: Vec<JobRecord> = sqlx::query_as(sql::JOBS_HOLDS_ON_WORKER)
        .bind(worker_id)
        .fetch_all(&mut **tx)
        .await?;
    for mut job in holds {
        if hold::kind(&job) == Some(HoldKind::Stopped) {
            end_hold(tx, &mut job).await?;
        }
    }
    Ok(())
}

/// Holds the jobs a restarted agent left on its worker without saying they were stopped;
/// requeues at once those never handed over (nothing can run them).
pub(super) async fn hold_orphans(
    tx: &mut Tx,
    held: Vec<JobRecord>,
    policy: &Policy,
    now: i64,
) -> RepoResult<()> {
    let (handed, never): (Vec<_>, Vec<_>) = held
        .into_iter()
        .partition(|j| j.delivered_at.is_some() || j.started_at.is_some());
    let why = "its worker registered again (agent restarted) before it was handed over";
    requeue_held(tx, never, policy, now, why).await?;
    for mut job in handed {
        if !hold::is_orphan(&job) && hold::hold(&mut job, now, policy) {
            write_hold(tx, &job).await?;
        }
    }
    Ok(())
}

impl SqlRepo {
    /// Ends the holds whose bound passed by `now`: an orphan is requeued as lost, a stopped
    /// attempt's reservation is given back.
    pub(super) async fn end_holds(&self, now: i64, limit: i64) -> RepoResult<SweepCounts> {
        let ids: Vec<String> = sqlx::query_scalar(sql::JOBS_HOLDS_ENDED)
            .bind(now)
            .bind(limit)
            .fetch_all(&mut *self.backend.reader().await?)
            .await?;
        let mut counts = SweepCounts {
            examined: ids.len() as u64,
            changed: 0,
        };
        for id in ids {
            let mut tx = self.backend.write().await?;
            let mut job = lock_job(&mut tx, &id).await?;
            if !hold::is_over(&job, now) {
                continue;
            }
            match hold::kind(&job) {
                Some(HoldKind::Orphan) => {
                    let why = "its worker registered again without stopping it; the orphan \
                               grace passed";
                    requeue_held(&mut tx, vec![job], &self.policy, now, why).await?;
                }
                Some(HoldKind::Stopped) => end_hold(&mut tx, &mut job).await?,
                None => continue,
            }
            tx.commit().await?;
            counts.changed += 1;
        }
        Ok(counts)
    }
}
