//! The job state machine's decisions, as pure functions over a loaded row.
//!
//! The repository loads a job inside a transaction, lets one of these functions change it, and
//! writes it back with its history row; keeping the rules here means both databases obey the
//! same ones and they can be tested without a database.

use super::params::JobFinishParams;
use super::records::JobRecord;
use gantry_api::JobStatus;
use rand::Rng;

/// Default base of the retry backoff.
pub const DEFAULT_RETRY_BACKOFF_MS: i64 = 10_000;
/// Default cap of the retry backoff.
pub const DEFAULT_RETRY_BACKOFF_CAP_MS: i64 = 10 * 60_000;
/// Default number of infrastructure losses a job survives.
pub const DEFAULT_INFRA_RETRY_BUDGET: i64 = 5;
/// Default failures in a row before a worker cools down.
pub const DEFAULT_COOLDOWN_AFTER_FAILURES: i64 = 3;
/// Default cooldown length.
pub const DEFAULT_WORKER_COOLDOWN_MS: i64 = 60_000;
/// Largest stdout or stderr kept per attempt; the tail is kept.
pub const MAX_STORED_OUTPUT_BYTES: usize = 1024 * 1024;

/// The rules for retries and worker cooldown.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Backoff before the first retry; doubled per failed attempt.
    pub retry_backoff_ms: i64,
    /// Largest backoff.
    pub retry_backoff_cap_ms: i64,
    /// Infrastructure losses (worker gone, executor error) a job survives.
    pub infra_retry_budget: i64,
    /// Failed attempts in a row on one worker before it cools down.
    pub cooldown_after_failures: i64,
    /// How long a cooldown lasts.
    pub worker_cooldown_ms: i64,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            retry_backoff_ms: DEFAULT_RETRY_BACKOFF_MS,
            retry_backoff_cap_ms: DEFAULT_RETRY_BACKOFF_CAP_MS,
            infra_retry_budget: DEFAULT_INFRA_RETRY_BUDGET,
            cooldown_after_failures: DEFAULT_COOLDOWN_AFTER_FAILURES,
            worker_cooldown_ms: DEFAULT_WORKER_COOLDOWN_MS,
        }
    }
}

impl Policy {
    /// The wait before retry number `failed` (1-based): base doubled per attempt, capped,
    /// with up to 20% jitter either way so retries of a burst do not stampede.
    pub fn backoff_ms(&self, failed: i64) -> i64 {
        let exp = (failed - 1).clamp(0, 30) as u32;
        let raw = self.retry_backoff_ms.saturating_mul(1_i64 << exp);
        let capped = raw.min(self.retry_backoff_cap_ms).max(0);
        if capped == 0 {
            return 0;
        }
        let spread = capped / 5;
        capped + rand::rng().random_range(-spread..=spread)
    }
}

/// How an attempt's end counts for the worker that ran it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerOutcome {
    /// The attempt succeeded: the failure count resets.
    Success,
    /// The attempt failed on this worker: counts toward cooldown.
    Failure,
    /// Neither (a cancel).
    Neutral,
}

/// One change of a job's state, for the history table.
#[derive(Debug, Clone)]
pub struct Transition {
    /// State before.
    pub from: JobStatus,
    /// State after.
    pub to: JobStatus,
    /// Why, in words.
    pub reason: String,
    /// How it counts for the worker that held the job.
    pub worker_outcome: WorkerOutcome,
}

/// Applies a worker's result to a job it holds (already checked to be the holder and attempt).
pub fn finish(
    job: &mut JobRecord,
    from: JobStatus,
    p: &JobFinishParams,
    policy: &Policy,
) -> Transition {
    job.exit_code = p.exit_code;
    job.stdout = p.stdout.as_deref().map(keep_tail);
    job.stderr = p.stderr.as_deref().map(keep_tail);
    job.duration_ms = p.duration_ms;
    job.oom_killed = i64::from(p.oom_killed);
    job.error = p.error.clone();
    job.deadline_at = None;
    let succeeded =
        p.exit_code == Some(0) && !p.timed_out && !p.infrastructure_error && p.error.is_none();
    if succeeded {
        job.status = JobStatus::Completed.as_str().into();
        job.finished_at = Some(p.now);
        job.reason = None;
        return Transition {
            from,
            to: JobStatus::Completed,
            reason: "exit code 0".into(),
            worker_outcome: WorkerOutcome::Success,
        };
    }
    let what = describe_failure(p);
    let (to, reason) = if p.infrastructure_error {
        infra_retry(job, p.now, policy, &what)
    } else {
        let terminal = if p.timed_out {
            JobStatus::TimedOut
        } else {
            JobStatus::Failed
        };
        retry_or_end(job, p.now, policy, terminal, &what)
    };
    Transition {
        from,
        to,
        reason,
        worker_outcome: WorkerOutcome::Failure,
    }
}

/// The server saw a running job pass its deadline: retry it or end it TIMED_OUT.
pub fn time_out(job: &mut JobRecord, now: i64, policy: &Policy) -> Transition {
    let what = format!("timed out after {} ms", job.timeout_ms);
    job.error = Some(what.clone());
    job.deadline_at = None;
    let (to, reason) = retry_or_end(job, now, policy, JobStatus::TimedOut, &what);
    Transition {
        from: JobStatus::Running,
        to,
        reason,
        worker_outcome: WorkerOutcome::Failure,
    }
}

/// The job was lost through no fault of its own (its worker went away, it never started):
/// requeue it from the infrastructure budget.
pub fn lose(
    job: &mut JobRecord,
    from: JobStatus,
    now: i64,
    policy: &Policy,
    why: &str,
) -> Transition {
    job.deadline_at = None;
    let (to, reason) = infra_retry(job, now, policy, why);
    Transition {
        from,
        to,
        reason,
        worker_outcome: WorkerOutcome::Failure,
    }
}

/// A client cancelled the job.
pub fn cancel(job: &mut JobRecord, from: JobStatus, now: i64) -> Transition {
    job.status = JobStatus::Cancelled.as_str().into();
    job.finished_at = Some(now);
    job.deadline_at = None;
    job.reason = Some("cancelled by a client".into());
    Transition {
        from,
        to: JobStatus::Cancelled,
        reason: "cancelled by a client".into(),
        worker_outcome: WorkerOutcome::Neutral,
    }
}

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
        (job.state().unwrap_or(JobStatus::Pending), reason)
    } else {
        job.status = terminal.as_str().into();
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

fn infra_retry(job: &mut JobRecord, now: i64, policy: &Policy, what: &str) -> (JobStatus, String) {
    job.infra_retries += 1;
    if job.infra_retries <= policy.infra_retry_budget {
        requeue_at(job, now, now);
        let reason = format!(
            "{what}; infrastructure retry {} of {}",
            job.infra_retries, policy.infra_retry_budget
        );
        job.reason = Some(reason.clone());
        (JobStatus::Queued, reason)
    } else {
        job.status = JobStatus::Failed.as_str().into();
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
        job.status = JobStatus::Queued.as_str().into();
        job.queued_at = Some(now);
    } else {
        job.status = JobStatus::Pending.as_str().into();
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

#[cfg(test)]
mod tests {
    use super::*;

    fn job(max_retries: i64) -> JobRecord {
        JobRecord {
            id: "j".into(),
            status: "RUNNING".into(),
            command: "true".into(),
            image: None,
            file_url: None,
            filename: None,
            env: "{}".into(),
            required_cpu_milli: 1000,
            required_ram_mb: 64,
            timeout_ms: 1000,
            max_retries,
            priority: 0,
            network: 0,
            attempts: 1,
            failed_attempts: 0,
            infra_retries: 0,
            worker_id: Some("w".into()),
            blocked: 0,
            reason: None,
            idempotency_key: None,
            created_at: 0,
            run_at: 0,
            queued_at: Some(0),
            assigned_at: Some(0),
            delivered_at: Some(0),
            started_at: Some(0),
            deadline_at: Some(1000),
            finished_at: None,
            exit_code: None,
            stdout: None,
            stderr: None,
            error: None,
            duration_ms: None,
            oom_killed: 0,
        }
    }

    fn result(exit: i64) -> JobFinishParams {
        JobFinishParams {
            exit_code: Some(exit),
            now: 5_000,
            ..Default::default()
        }
    }

    #[test]
    fn success_completes_and_failure_retries_then_fails() {
        let policy = Policy::default();
        let mut ok = job(0);
        let t = finish(&mut ok, JobStatus::Running, &result(0), &policy);
        assert_eq!(t.to, JobStatus::Completed);
        assert_eq!(t.worker_outcome, WorkerOutcome::Success);

        let mut flaky = job(1);
        let t = finish(&mut flaky, JobStatus::Running, &result(2), &policy);
        assert_eq!(t.to, JobStatus::Pending);
        assert!(
            flaky.run_at >= 5_000 + 8_000,
            "backoff applied: {}",
            flaky.run_at
        );
        let t = finish(&mut flaky, JobStatus::Running, &result(2), &policy);
        assert_eq!(t.to, JobStatus::Failed);
        assert_eq!(flaky.failed_attempts, 2);
    }

    #[test]
    fn infrastructure_losses_use_their_own_budget() {
        let policy = Policy {
            infra_retry_budget: 1,
            ..Policy::default()
        };
        let mut j = job(0);
        let t = lose(&mut j, JobStatus::Running, 10, &policy, "worker lost");
        assert_eq!(t.to, JobStatus::Queued);
        assert_eq!(j.failed_attempts, 0, "maxRetries untouched");
        let t = lose(&mut j, JobStatus::Running, 10, &policy, "worker lost");
        assert_eq!(t.to, JobStatus::Failed);
    }

    #[test]
    fn timeout_without_retries_is_terminal() {
        let mut j = job(0);
        let t = time_out(&mut j, 9_000, &Policy::default());
        assert_eq!(t.to, JobStatus::TimedOut);
        assert!(j.finished_at.is_some());
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let p = Policy {
            retry_backoff_ms: 1000,
            retry_backoff_cap_ms: 3000,
            ..Policy::default()
        };
        assert!((800..=1200).contains(&p.backoff_ms(1)));
        assert!((1600..=2400).contains(&p.backoff_ms(2)));
        assert!((2400..=3600).contains(&p.backoff_ms(5)));
    }

    #[test]
    fn long_output_keeps_its_tail() {
        let text = "x".repeat(MAX_STORED_OUTPUT_BYTES) + "END";
        let kept = keep_tail(&text);
        assert!(kept.ends_with("END"));
        assert!(kept.starts_with("[... 3 bytes truncated"));
    }
}
