//! Unit tests of the rules: each transition function against the table, and the decisions.

use super::fencing::{not_holder, stop_reason};
use super::job::{self, keep_tail, MAX_STORED_OUTPUT_BYTES};
use super::table::{job_allows, job_rule, render, JOB_RULES, WORKER_RULES};
use super::worker::evidence;
use super::worker::{accepts_work, batch_outcomes, record_outcome, status, WorkerOutcome};
use super::{CooldownCounts, Fault, Policy};
use crate::model::{JobFinishParams, JobRecord, WorkerRecord};
use gantry_api::{JobStatus, StopReason, WorkerStatus};

pub(super) fn policy() -> Policy {
    Policy {
        retry_backoff_ms: 10_000,
        retry_backoff_cap_ms: 600_000,
        infra_retry_budget: 5,
        cooldown_after_failures: 3,
        worker_cooldown_ms: 60_000,
        cooldown_counts: CooldownCounts::WorkerFaults,
        orphan_grace_ms: 30_000,
    }
}

pub(super) fn job(max_retries: i64) -> JobRecord {
    JobRecord {
        id: "j".into(),
        status: JobStatus::Running,
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
        cpu_seconds: None,
        peak_memory_mb: None,
        pull_ms: None,
        run_ms: None,
        held_on: None,
        held_attempt: None,
        held_since: None,
        held_until: None,
        pull: None,
        phase: None,
    }
}

pub(super) fn result(exit: i64) -> JobFinishParams {
    JobFinishParams {
        worker_id: "w".into(),
        job_id: "j".into(),
        attempt: 1,
        exit_code: Some(exit),
        now: 5_000,
        ..Default::default()
    }
}

#[test]
fn success_completes_and_failure_retries_then_fails() {
    let policy = policy();
    let mut ok = job(0);
    let t = job::finish(&mut ok, &result(0), &policy).unwrap();
    assert_eq!(t.to, JobStatus::Completed);
    assert_eq!(t.worker_outcome, WorkerOutcome::Success);

    let mut flaky = job(1);
    let t = job::finish(&mut flaky, &result(2), &policy).unwrap();
    assert_eq!(t.to, JobStatus::Pending);
    assert!(
        flaky.run_at >= 5_000 + 8_000,
        "backoff applied: {}",
        flaky.run_at
    );
    flaky.status = JobStatus::Running;
    let t = job::finish(&mut flaky, &result(2), &policy).unwrap();
    assert_eq!(t.to, JobStatus::Failed);
    assert_eq!(flaky.failed_attempts, 2);
}

#[test]
fn infrastructure_losses_use_their_own_budget() {
    let policy = Policy {
        infra_retry_budget: 1,
        ..policy()
    };
    let mut j = job(0);
    let t = job::lose(&mut j, 10, &policy, "worker lost");
    assert_eq!(t.to, JobStatus::Queued);
    assert_eq!(j.failed_attempts, 0, "maxRetries untouched");
    j.status = JobStatus::Running;
    let t = job::lose(&mut j, 10, &policy, "worker lost");
    assert_eq!(t.to, JobStatus::Failed);
}

#[test]
fn timeout_without_retries_is_terminal() {
    let mut j = job(0);
    let t = job::time_out(&mut j, 9_000, &policy());
    assert_eq!(t.to, JobStatus::TimedOut);
    assert!(j.finished_at.is_some());
}

#[test]
fn backoff_doubles_and_caps() {
    let p = Policy {
        retry_backoff_ms: 1000,
        retry_backoff_cap_ms: 3000,
        ..policy()
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

#[test]
fn every_transition_a_function_makes_is_in_the_table() {
    let p = policy();
    let mut seen = Vec::new();
    for (exit, retries) in [(0, 0), (1, 0), (1, 1)] {
        let mut j = job(retries);
        seen.push(("finish", job::finish(&mut j, &result(exit), &p).unwrap()));
    }
    let timed = JobFinishParams {
        timed_out: true,
        ..result(137)
    };
    seen.push(("finish", job::finish(&mut job(0), &timed, &p).unwrap()));
    seen.push(("time out", job::time_out(&mut job(0), 9_000, &p)));
    seen.push(("retry", job::time_out(&mut job(1), 9_000, &p)));
    seen.push(("lose", job::lose(&mut job(0), 9_000, &p, "gone")));
    let mut assigned = job(0);
    assigned.status = JobStatus::Assigned;
    seen.push((
        "lose",
        job::lose_unstarted(&mut assigned.clone(), 9_000, &p),
    ));
    seen.push(("cancel", job::cancel(&mut job(0), 9_000).unwrap()));
    let started = job::start(&mut assigned, "w", 1, 9_000).unwrap().unwrap();
    seen.push(("start", started));
    for (name, t) in seen {
        assert!(
            job_allows(t.from, t.to),
            "{name}: {:?} -> {:?}",
            t.from,
            t.to
        );
        let rule = job_rule(name).unwrap();
        let retry = job_rule("retry").unwrap();
        assert!(
            rule.allows(t.from, t.to) || retry.allows(t.from, t.to),
            "{name}: {:?} -> {:?}",
            t.from,
            t.to
        );
    }
    let (created, _) = job::create(10, 5);
    assert!(job_rule("create").unwrap().to.contains(&created));
}

#[test]
fn only_the_holder_of_the_current_attempt_may_act() {
    let mut j = job(0);
    j.status = JobStatus::Assigned;
    assert_eq!(
        job::start(&mut j.clone(), "other", 1, 5).unwrap_err().code,
        "not_holder"
    );
    assert_eq!(
        job::start(&mut j.clone(), "w", 2, 5).unwrap_err().code,
        "stale_attempt"
    );
    assert!(job::start(&mut j, "w", 1, 5).unwrap().is_some());
    assert!(job::start(&mut j, "w", 1, 6).unwrap().is_none(), "a repeat");
    assert_eq!(j.started_at, Some(5));
    let mut done = job(0);
    job::finish(&mut done, &result(0), &policy()).unwrap();
    assert_eq!(
        job::finish(&mut done, &result(0), &policy())
            .unwrap_err()
            .code,
        "wrong_state"
    );
    assert_eq!(job::cancel(&mut done, 9).unwrap_err().code, "wrong_state");
    assert_eq!(not_holder(&done, "w", 1).code, "wrong_state");
}

#[test]
fn agents_are_told_to_stop_what_is_no_longer_theirs() {
    let mut j = job(0);
    assert_eq!(stop_reason(Some(&j), "w"), None);
    assert_eq!(stop_reason(Some(&j), "x"), Some(StopReason::Reassigned));
    assert_eq!(stop_reason(None, "w"), Some(StopReason::Unknown));
    j.status = JobStatus::Cancelled;
    assert_eq!(stop_reason(Some(&j), "w"), Some(StopReason::Cancelled));
    j.status = JobStatus::Completed;
    assert_eq!(stop_reason(Some(&j), "w"), Some(StopReason::Finished));
}

fn worker() -> WorkerRecord {
    WorkerRecord {
        id: "w".into(),
        hostname: "h".into(),
        cpu_milli: 1000,
        ram_total_mb: 1024,
        ram_free_mb: 1024,
        cpu_usage: 0.0,
        max_parallel_jobs: 1,
        reserved_cpu_milli: 0,
        reserved_ram_mb: 0,
        held_jobs: 0,
        labels: "{}".into(),
        version: None,
        executor: None,
        executor_ok: 1,
        token_hash: None,
        draining: 0,
        consecutive_failures: 0,
        cooldown_until: None,
        offline_since: None,
        registered_at: 0,
        last_heartbeat_at: 0,
        images: None,
    }
}

#[test]
fn a_worker_state_is_derived_from_its_facts() {
    let mut w = worker();
    assert_eq!(status(&w, 0), WorkerStatus::Idle);
    w.held_jobs = 1;
    assert_eq!(status(&w, 0), WorkerStatus::Busy);
    w.cooldown_until = Some(10);
    assert_eq!(status(&w, 5), WorkerStatus::Unhealthy);
    assert_eq!(status(&w, 10), WorkerStatus::Busy, "the cooldown ran out");
    w.offline_since = Some(1);
    assert_eq!(status(&w, 5), WorkerStatus::Offline);
    assert!(accepts_work(false, true, Some(10), 10));
    assert!(!accepts_work(true, true, None, 10), "draining");
    assert!(!accepts_work(false, false, None, 10), "broken executor");
}

#[test]
fn failures_in_a_row_start_a_cooldown_and_a_success_resets_them() {
    let p = policy();
    let (n, until) = record_outcome(1, None, WorkerOutcome::Failure, &p, 100);
    assert_eq!((n, until), (2, None));
    let (n, until) = record_outcome(n, until, WorkerOutcome::Failure, &p, 100);
    assert_eq!((n, until), (3, Some(60_100)));
    assert_eq!(
        record_outcome(n, until, WorkerOutcome::Success, &p, 200),
        (0, Some(60_100))
    );
    assert_eq!(
        record_outcome(2, None, WorkerOutcome::Neutral, &p, 0),
        (2, None)
    );
    use WorkerOutcome::*;
    assert_eq!(batch_outcomes(&[Success, Failure]), (true, &[Failure][..]));
    let all = [Failure, Success, Failure];
    assert_eq!(batch_outcomes(&all), (false, &all[..]), "replayed in order");
}

#[test]
fn the_transition_table_names_every_state() {
    let text = render();
    for s in JobStatus::ALL {
        assert!(text.contains(s.as_str()), "{s} missing:\n{text}");
    }
    for s in WorkerStatus::ALL {
        assert!(text.contains(s.as_str()), "{s} missing:\n{text}");
    }
    assert_eq!(JOB_RULES.len(), 12);
    assert_eq!(WORKER_RULES.len(), 6);
    println!("{text}");
}

#[test]
fn every_end_says_whose_fault_it_was_and_only_the_workers_count() {
    let p = policy();
    let t = job::finish(&mut job(0), &result(1), &p).unwrap();
    assert_eq!(
        (t.fault, t.worker_outcome),
        (Some(Fault::Job), WorkerOutcome::Neutral)
    );
    let broken = JobFinishParams {
        infrastructure_error: true,
        error: Some("the engine refused".into()),
        exit_code: None,
        ..result(0)
    };
    let t = job::finish(&mut job(0), &broken, &p).unwrap();
    assert_eq!(
        (t.fault, t.worker_outcome),
        (Some(Fault::Worker), WorkerOutcome::Failure)
    );
    let t = job::time_out(&mut job(0), 9_000, &p);
    assert_eq!(
        (t.fault, t.worker_outcome),
        (Some(Fault::Job), WorkerOutcome::Neutral)
    );
    let t = job::lose(&mut job(0), 9_000, &p, "gone");
    assert_eq!(
        (t.fault, t.worker_outcome),
        (Some(Fault::Worker), WorkerOutcome::Failure)
    );
    let t = job::cancel(&mut job(0), 9_000).unwrap();
    assert_eq!(
        (t.fault, t.worker_outcome),
        (Some(Fault::Operator), WorkerOutcome::Neutral)
    );
    let t = job::finish(&mut job(0), &result(0), &p).unwrap();
    assert_eq!((t.fault, t.worker_outcome), (None, WorkerOutcome::Success));

    let all = Policy {
        cooldown_counts: CooldownCounts::AllFailures,
        ..p
    };
    let t = job::finish(&mut job(0), &result(1), &all).unwrap();
    assert_eq!(
        t.worker_outcome,
        WorkerOutcome::Failure,
        "the prototype's rule"
    );
    let t = job::cancel(&mut job(0), 9_000).unwrap();
    assert_eq!(
        t.worker_outcome,
        WorkerOutcome::Neutral,
        "a cancel never counts"
    );
}

#[test]
fn a_success_elsewhere_turns_earlier_failures_into_evidence() {
    let failed_on = vec!["w1".to_string(), "w2".to_string(), "w3".to_string()];
    assert_eq!(evidence(&failed_on, "w3", &policy()), ["w1", "w2"]);
    let all = Policy {
        cooldown_counts: CooldownCounts::AllFailures,
        ..policy()
    };
    assert!(
        evidence(&failed_on, "w3", &all).is_empty(),
        "already counted"
    );
}

#[test]
fn an_ended_attempt_leaves_its_own_usage_on_the_job_and_a_lost_one_none() {
    let used = gantry_api::AttemptUsage {
        cpu_seconds: Some(0.5),
        peak_memory_mb: Some(40.0),
        pull_ms: None,
        run_ms: Some(900),
    };
    let mut j = job(1);
    let t = job::finish(
        &mut j,
        &JobFinishParams {
            usage: Some(used),
            ..result(1)
        },
        &policy(),
    )
    .unwrap();
    assert!(t.ends_attempt());
    assert_eq!(j.usage(), used);
    // Attempt 2 is lost with its worker: the job no longer shows attempt 1's figures.
    (j.status, j.attempts) = (JobStatus::Running, 2);
    assert!(job::lose(&mut j, 9_000, &policy(), "gone").ends_attempt());
    assert!(j.usage().is_empty());
}
