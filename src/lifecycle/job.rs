//! Job transitions decided in Rust: creation, start (and its refusals), finish, retry, loss,
//! cancel and time-out, each a pure function over a loaded row. The repository loads the row
//! in a transaction, calls one of these, and writes the row back with the history row of the
//! returned [`Transition`]. (Promotion, placement, delivery and batch starts are applied by
//! set-based statements; [`super::table`] names them.)

use super::fencing::{is_holder, not_holder, Refusal};
use super::worker::{outcome, WorkerOutcome};
use super::{Fault, Policy};
use crate::model::{JobFinishParams, JobRecord};
use gantry_api::JobStatus;

/// Largest stdout or stderr kept per attempt; the tail is kept.
pub const MAX_STORED_OUTPUT_BYTES: usize = 1024 * 1024;

/// The history reason of a creation that waits for its run time.
pub const CREATED_WAITING: &str = "created; waiting for its run time";
/// The history reason of a creation that queues at once.
pub const CREATED: &str = "created";
/// The history reason of a promotion (PENDING to QUEUED).
pub const PROMOTED: &str = "run time reached";
/// The history reason of a placement (QUEUED to ASSIGNED).
pub const PLACED: &str = "placed (best fit)";
/// The history reason of a start (ASSIGNED to RUNNING).
pub const STARTED: &str = "started by its worker";
/// The history reason of the second start of an attempt that pulled its image first.
pub const PULLED: &str = "image pulled; its command starts";
/// What a job is said to pull when it names no image (its worker's default).
const DEFAULT_IMAGE: &str = "the worker's default image";

/// One change of a job's state, for the history table.
#[derive(Debug, Clone)]
pub struct Transition {
    /// State before.
    pub from: JobStatus,
    /// State after.
    pub to: JobStatus,
    /// Why, in words.
    pub reason: String,
    /// Whose fault the end of the attempt was; `None` when no attempt ended badly.
    pub fault: Option<Fault>,
    /// How it counts for the worker that held the job.
    pub worker_outcome: WorkerOutcome,
}

impl Transition {
    /// True when the change ends an attempt (the job leaves its worker): the history row that
    /// records it carries what the attempt used.
    pub fn ends_attempt(&self) -> bool {
        self.from.is_on_worker() && !self.to.is_on_worker()
    }
}

/// The state a new job starts in, and the history reason: QUEUED, or PENDING while its run
/// time is ahead.
pub fn create(run_at: i64, now: i64) -> (JobStatus, &'static str) {
    if run_at > now {
        (JobStatus::Pending, CREATED_WAITING)
    } else {
        (JobStatus::Queued, CREATED)
    }
}

/// The worker says it started attempt `attempt` (its command runs now). `Ok(Some)`: ASSIGNED
/// to RUNNING, or the end of the attempt's pull (RUNNING in phase `pulling ...`: the phase is
/// cleared and the job's timeout runs from now), applied to `job`; `Ok(None)`: the command
/// already runs (a repeated start, nothing to change).
pub fn start(
    job: &mut JobRecord,
    worker_id: &str,
    attempt: i64,
    now: i64,
) -> Result<Option<Transition>, Refusal> {
    let holder = is_holder(job, worker_id, attempt);
    match job.status {
        JobStatus::Running if holder && job.phase.is_some() => {
            job.phase = None;
            job.started_at = Some(now);
            job.deadline_at = Some(now + job.timeout_ms);
            Ok(Some(started(JobStatus::Running, PULLED.into())))
        }
        JobStatus::Running if holder => Ok(None),
        JobStatus::Assigned if holder => {
            job.status = JobStatus::Running;
            job.started_at = Some(now);
            job.deadline_at = Some(now + job.timeout_ms);
            job.delivered_at = job.delivered_at.or(Some(now));
            Ok(Some(started(JobStatus::Assigned, STARTED.into())))
        }
        _ => Err(not_holder(job, worker_id, attempt)),
    }
}

/// The worker says it started attempt `attempt` but must pull the job's image first:
/// ASSIGNED to RUNNING in phase `pulling <image>`, with no deadline yet (the job's timeout
/// starts with its command, at the second [`start`]; the agent bounds the pull). `Ok(None)`:
/// the attempt already runs (a repeat).
pub fn start_pulling(
    job: &mut JobRecord,
    worker_id: &str,
    attempt: i64,
    now: i64,
) -> Result<Option<Transition>, Refusal> {
    let holder = is_holder(job, worker_id, attempt);
    match job.status {
        JobStatus::Running if holder => Ok(None),
        JobStatus::Assigned if holder => {
            let phase = format!("pulling {}", job.image.as_deref().unwrap_or(DEFAULT_IMAGE));
            job.status = JobStatus::Running;
            job.started_at = Some(now);
            job.deadline_at = None;
            job.delivered_at = job.delivered_at.or(Some(now));
            let reason = format!("{STARTED}; {phase}");
            job.phase = Some(phase);
            Ok(Some(started(JobStatus::Assigned, reason)))
        }
        _ => Err(not_holder(job, worker_id, attempt)),
    }
}

/// A start's transition from `from` to RUNNING.
fn started(from: JobStatus, reason: String) -> Transition {
    Transition {
        from,
        to: JobStatus::Running,
        reason,
        fault: None,
        worker_outcome: WorkerOutcome::Neutral,
    }
}

/// Applies a worker's result for the attempt it holds: COMPLETED, a retry, or the end.
pub fn finish(
    job: &mut JobRecord,
    p: &JobFinishParams,
    policy: &Policy,
) -> Result<Transition, Refusal> {
    let from = job.status;
    if !from.is_on_worker() || !is_holder(job, &p.worker_id, p.attempt) {
        return Err(not_holder(job, &p.worker_id, p.attempt));
    }
    job.exit_code = p.exit_code;
    job.stdout = p.stdout.as_deref().map(keep_tail);
    job.stderr = p.stderr.as_deref().map(keep_tail);
    job.duration_ms = p.duration_ms;
    job.oom_killed = i64::from(p.oom_killed);
    job.set_usage(p.usage.as_ref());
    job.error = p.error.clone();
    job.deadline_at = None;
    job.phase = None;
    let succeeded =
        p.exit_code == Some(0) && !p.timed_out && !p.infrastructure_error && p.error.is_none();
    if succeeded {
        job.status = JobStatus::Completed;
        job.finished_at = Some(p.now);
        job.reason = None;
        return Ok(Transition {
            from,
            to: JobStatus::Completed,
            reason: "exit code 0".into(),
            fault: None,
            worker_outcome: WorkerOutcome::Success,
        });
    }
    let what = describe_failure(p);
    // The worker says whether the failure was its own (engine, executor, workspace), the
    // image's registry's, or the job's (its exit, its timeout or memory limit, its input).
    let fault = match (p.infrastructure_error, p.registry_error) {
        (true, true) => Fault::Registry,
        (true, false) => Fault::Worker,
        (false, _) => Fault::Job,
    };
    let (to, reason) = if p.infrastructure_error {
        // Asking a registry that is down again at once helps nobody: it backs off.
        let backoff = fault == Fault::Registry;
        infra_retry(job, p.now, policy, &what, backoff)
    } else if p.permanent {
        end_now(job, p.now, &what)
    } else {
        let terminal = if p.timed_out {
            JobStatus::TimedOut
        } else {
            JobStatus::Failed
        };
        retry_or_end(job, p.now, policy, terminal, &what)
    };
    Ok(Transition {
        from,
        to,
        reason,
        fault: Some(fault),
        worker_outcome: outcome(Some(fault), policy),
    })
}

/// The server saw a running job pass its deadline: retry it or end it TIMED_OUT.
pub fn time_out(job: &mut JobRecord, now: i64, policy: &Policy) -> Transition {
    let what = format!("timed out after {} ms", job.timeout_ms);
    job.error = Some(what.clone());
    job.set_usage(None);
    job.deadline_at = None;
    job.phase = None;
    let (to, reason) = retry_or_end(job, now, policy, JobStatus::TimedOut, &what);
    Transition {
        from: JobStatus::Running,
        to,
        reason,
        fault: Some(Fault::Job),
        worker_outcome: outcome(Some(Fault::Job), policy),
    }
}

/// The job was lost through no fault of its own (its worker went away or restarted): requeue
/// it from the infrastructure budget. It counts against the worker that lost it.
pub fn lose(job: &mut JobRecord, now: i64, policy: &Policy, why: &str) -> Transition {
    let from = job.status;
    job.deadline_at = None;
    job.set_usage(None);
    job.phase = None;
    let (to, reason) = infra_retry(job, now, policy, why, false);
    Transition {
        from,
        to,
        reason,
        fault: Some(Fault::Worker),
        worker_outcome: outcome(Some(Fault::Worker), policy),
    }
}

/// An assignment its worker never started: lost like [`lose`], but when it was never even
/// handed over (the worker was not polling) it is not held against the worker.
pub fn lose_unstarted(job: &mut JobRecord, now: i64, policy: &Policy) -> Transition {
    let delivered = job.delivered_at.is_some();
    let mut t = lose(job, now, policy, "its worker never started it");
    if !delivered {
        t.worker_outcome = WorkerOutcome::Neutral;
    }
    t
}

/// A client cancels the job; a job that already ended is refused.
pub fn cancel(job: &mut JobRecord, now: i64) -> Result<Transition, Refusal> {
    let from = job.status;
    if from.is_terminal() {
        return Err(Refusal::wrong_state(format!(
            "job {} already ended as {from}",
            job.id
        )));
    }
    if from.is_on_worker() {
        // Its attempt ends unmeasured: the agent's result, if any, is refused from now on.
        job.set_usage(None);
    }
    job.status = JobStatus::Cancelled;
    job.finished_at = Some(now);
    job.deadline_at = None;
    job.phase = None;
    job.reason = Some("cancelled by a client".into());
    Ok(Transition {
        from,
        to: JobStatus::Cancelled,
        reason: "cancelled by a client".into(),
        fault: Some(Fault::Operator),
        // An operator's stop never counts against the worker (see `worker::outcome`).
        worker_outcome: WorkerOutcome::Neutral,
    })
}

/// A failure of the job's own: retry after a backoff while retries are left, else end in
/// `terminal`.
fn retry_or_end(
    job: &mut JobRecord,
    now: i64,
    policy: &Policy,
    terminal: JobStatus,
    what: &str,
) -> (JobStatus, String) {
    job.failed_attempts += 1;
    if job.failed_attempts <= job.max_retries {
        let wait = policy.backoff_ms(job.failed_attempts);
        requeue_at(job, now, now + wait);
        let reason = format!(
            "{what}; retry {} of {} in {} ms",
            job.failed_attempts, job.max_retries, wait
        );
        job.reason = Some(reason.clone());
        (job.status, reason)
    } else {
        job.status = terminal;
        job.finished_at = Some(now);
        let reason = if job.max_retries > 0 {
            format!("{what}; no retries left ({} allowed)", job.max_retries)
        } else {
            what.to_string()
        };
        job.reason = Some(reason.clone());
        (terminal, reason)
    }
}

/// A failure of the job's own that no retry can mend (its image does not exist): FAILED now,
/// whatever retries are left.
fn end_now(job: &mut JobRecord, now: i64, what: &str) -> (JobStatus, String) {
    job.failed_attempts += 1;
    job.status = JobStatus::Failed;
    job.finished_at = Some(now);
    let reason = format!("{what}; not retried (it cannot succeed as it is)");
    job.reason = Some(reason.clone());
    (JobStatus::Failed, reason)
}

/// A loss that is not the job's fault: queue again while the infrastructure budget lasts
/// (at once, or after the retry backoff of the losses so far when `backoff`), else FAILED.
fn infra_retry(
    job: &mut JobRecord,
    now: i64,
    policy: &Policy,
    what: &str,
    backoff: bool,
) -> (JobStatus, String) {
    job.infra_retries += 1;
    if job.infra_retries <= policy.infra_retry_budget {
        let mut reason = format!(
            "{what}; infrastructure retry {} of {}",
            job.infra_retries, policy.infra_retry_budget
        );
        let wait = if backoff {
            policy.backoff_ms(job.infra_retries)
        } else {
            0
        };
        if wait > 0 {
            reason.push_str(&format!(", in {wait} ms"));
        }
        requeue_at(job, now, now + wait);
        job.reason = Some(reason.clone());
        (job.status, reason)
    } else {
        job.status = JobStatus::Failed;
        job.finished_at = Some(now);
        let reason = format!(
            "{what}; infrastructure retries exhausted ({})",
            policy.infra_retry_budget
        );
        job.error = Some(reason.clone());
        job.reason = Some(reason.clone());
        (JobStatus::Failed, reason)
    }
}

/// Puts the job back in line: QUEUED when `run_at` has come, PENDING otherwise.
fn requeue_at(job: &mut JobRecord, now: i64, run_at: i64) {
    job.run_at = run_at;
    if run_at <= now {
        job.status = JobStatus::Queued;
        job.queued_at = Some(now);
    } else {
        job.status = JobStatus::Pending;
    }
    job.started_at = None;
    job.delivered_at = None;
    job.blocked = 0;
}

fn describe_failure(p: &JobFinishParams) -> String {
    if let Some(error) = &p.error {
        return error.clone();
    }
    if p.oom_killed {
        return "out of memory".into();
    }
    if p.timed_out {
        return "timed out".into();
    }
    match p.exit_code {
        Some(code) => format!("exit code {code}"),
        None => "ended without an exit code".into(),
    }
}

/// Keeps at most the last [`MAX_STORED_OUTPUT_BYTES`] of an output, on a character boundary.
pub fn keep_tail(text: &str) -> String {
    if text.len() <= MAX_STORED_OUTPUT_BYTES {
        return text.to_string();
    }
    let mut start = text.len() - MAX_STORED_OUTPUT_BYTES;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!(
        "[... {start} bytes truncated by the server ...]\n{}",
        &text[start..]
    )
}
