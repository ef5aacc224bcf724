//! Worker states and the rules that move a worker between them. A worker's state is not
//! stored: it is derived from its row's facts by [`status`], the one rule the listing, the
//! dashboard, the metrics and placement ([`accepts_work`]) all use.

use super::{CooldownCounts, Fault, Policy};
use crate::model::WorkerRecord;
use gantry_api::WorkerStatus;

/// How an attempt's end counts for the worker that ran it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerOutcome {
    /// The attempt succeeded: the failure count starts over.
    Success,
    /// The attempt failed on this worker: counts toward its cooldown.
    Failure,
    /// Neither (a cancel, or an assignment never handed over).
    Neutral,
}

/// How an attempt's end counts for the worker that ran it, given whose `fault` it was
/// (`None`: it succeeded). The worker's faults always count; the job's own (and its registry's) only when the
/// policy counts every failure; an operator's never.
pub fn outcome(fault: Option<Fault>, policy: &Policy) -> WorkerOutcome {
    match fault {
        None => WorkerOutcome::Success,
        Some(Fault::Worker) => WorkerOutcome::Failure,
        Some(Fault::Job | Fault::Registry)
            if policy.cooldown_counts == CooldownCounts::AllFailures =>
        {
            WorkerOutcome::Failure
        }
        Some(Fault::Job | Fault::Registry | Fault::Operator) => WorkerOutcome::Neutral,
    }
}

/// Evidence against hosts: when a job succeeds on `succeeded_on` after attempts of its own
/// that failed on other workers (`failed_on`, one entry per such attempt), each of those counts
/// as a failure of the worker it failed on, since the job itself was able to succeed. Under
/// the prototype's rule those failures already counted when they happened.
pub fn evidence<'a>(failed_on: &'a [String], succeeded_on: &str, policy: &Policy) -> Vec<&'a str> {
    if policy.cooldown_counts == CooldownCounts::AllFailures {
        return Vec::new();
    }
    failed_on
        .iter()
        .map(String::as_str)
        .filter(|w| *w != succeeded_on)
        .collect()
}

/// The worker's state at `now`: offline, then unhealthy, then busy or idle.
pub fn status(worker: &WorkerRecord, now: i64) -> WorkerStatus {
    if worker.offline_since.is_some() {
        WorkerStatus::Offline
    } else if is_unhealthy(worker.executor_ok != 0, worker.cooldown_until, now) {
        WorkerStatus::Unhealthy
    } else if worker.held_jobs > 0 {
        WorkerStatus::Busy
    } else {
        WorkerStatus::Idle
    }
}

/// UNHEALTHY: its executor is broken, or a cooldown runs at `now`.
pub fn is_unhealthy(executor_ok: bool, cooldown_until: Option<i64>, now: i64) -> bool {
    !executor_ok || cooldown_until.is_some_and(|until| until > now)
}

/// True when an online worker may be given a new job at `now`: healthy and not draining.
pub fn accepts_work(
    draining: bool,
    executor_ok: bool,
    cooldown_until: Option<i64>,
    now: i64,
) -> bool {
    !draining && !is_unhealthy(executor_ok, cooldown_until, now)
}

/// A worker's failure count and cooldown after one attempt's `outcome` at `now`: a success
/// starts the count over; a failure counts, and the one that reaches the threshold starts a
/// cooldown. (The repository applies the same rule in SQL: `worker_record_success.sql`,
/// `worker_record_failure.sql`, bound with [`Policy::cooldown_after_failures`] and
/// [`Policy::cooldown_ends`].)
pub fn record_outcome(
    failures: i64,
    cooldown_until: Option<i64>,
    outcome: WorkerOutcome,
    policy: &Policy,
    now: i64,
) -> (i64, Option<i64>) {
    match outcome {
        WorkerOutcome::Success => (0, cooldown_until),
        WorkerOutcome::Neutral => (failures, cooldown_until),
        WorkerOutcome::Failure if failures + 1 >= policy.cooldown_after_failures => {
            (failures + 1, Some(policy.cooldown_ends(now)))
        }
        WorkerOutcome::Failure => (failures + 1, cooldown_until),
    }
}

/// How a batch's outcomes on one worker are written so that they count as one by one would:
/// `(reset, rest)` — when `reset`, one success write first, then each of `rest` in order. A
/// run of successes is one reset, and only the failures after the last success count, unless
/// failures before a success may have started a cooldown: then everything is replayed.
pub fn batch_outcomes(outcomes: &[WorkerOutcome]) -> (bool, &[WorkerOutcome]) {
    let is_failure = |o: &WorkerOutcome| matches!(o, WorkerOutcome::Failure);
    let last_success = outcomes
        .iter()
        .rposition(|o| matches!(o, WorkerOutcome::Success));
    let replay_all = last_success.is_some_and(|i| outcomes[..i].iter().any(is_failure));
    match last_success {
        Some(i) if !replay_all => (true, &outcomes[i + 1..]),
        _ => (false, outcomes),
    }
}
