//! The repository suite: every `Repo` method, every job transition and every refusal, run
//! against both SQLite and PostgreSQL. Time is a parameter, so nothing here sleeps.

mod attempts;
mod batches;
mod cancelled_calls;
mod cancels_and_deadlines;
mod faults;
mod heartbeats;
mod holds;
mod insert_and_block;
mod leases;
mod migrations;
mod placement;
mod pulls;
mod reads;
mod retention;
mod rules;
mod usage;
mod workers;

use crate::common::builders::*;
use crate::common::TestDb;
use gantry::lifecycle::{CooldownCounts, Policy};
use gantry::model::{Assignment, JobListParams, SweepCounts, UploadInsertParams};
use gantry::repo::{Repo, RepoError};
use gantry_api::{JobStatus, StopJob, StopReason, WorkerStatus};

/// Short, readable numbers: 1 s backoff base, two infrastructure retries, cooldown after three
/// failures for a minute.
fn policy() -> Policy {
    Policy {
        retry_backoff_ms: 1_000,
        retry_backoff_cap_ms: 60_000,
        infra_retry_budget: 2,
        cooldown_after_failures: 3,
        worker_cooldown_ms: 60_000,
        cooldown_counts: CooldownCounts::WorkerFaults,
        orphan_grace_ms: 30_000,
    }
}

/// [`policy`] counting every failed attempt toward cooldown, the job's own too (the
/// prototype's rule, `--cooldown-counts all-failures`): the cooldown tests written for that rule
/// run with it; `faults.rs` holds the default rule's.
fn counting_every_failure() -> Policy {
    Policy {
        cooldown_counts: CooldownCounts::AllFailures,
        ..policy()
    }
}

/// A pass's counts: rows looked at, rows changed.
fn counts(examined: u64, changed: u64) -> SweepCounts {
    SweepCounts { examined, changed }
}

/// Places at `now` and returns the placement of `job_id`, which must have been placed.
async fn place(r: &dyn Repo, job_id: &str, now: i64) -> Assignment {
    let out = r.job_place(now, 100).await.expect("job_place");
    out.placed
        .into_iter()
        .find(|p| p.job_id == job_id)
        .unwrap_or_else(|| panic!("job {job_id} was not placed"))
}

/// Places and starts `job_id` at `now`.
async fn place_and_start(r: &dyn Repo, job_id: &str, now: i64) -> Assignment {
    let p = place(r, job_id, now).await;
    r.job_start(&p.worker_id, job_id, p.attempt, now)
        .await
        .expect("job_start");
    p
}

/// Placements as (job, worker, attempt) for compact comparisons.
fn triples(placed: &[Assignment]) -> Vec<(&str, &str, i64)> {
    placed
        .iter()
        .map(|p| (p.job_id.as_str(), p.worker_id.as_str(), p.attempt))
        .collect()
}

fn stop(job_id: &str, reason: StopReason) -> StopJob {
    StopJob {
        job_id: job_id.to_string(),
        reason,
    }
}

fn ids(jobs: &[gantry::model::JobRecord]) -> Vec<&str> {
    jobs.iter().map(|j| j.id.as_str()).collect()
}
