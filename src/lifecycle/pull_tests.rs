//! Unit tests of the rules for attempts that pull their image first, and for failures that
//! no retry can mend.

use super::job;
use super::table::job_rule;
use super::tests::{job, policy, result};
use super::{Fault, WorkerOutcome};
use crate::model::JobFinishParams;
use gantry_api::JobStatus;

#[test]
fn a_pulling_start_runs_no_timeout_until_the_command_starts() {
    let mut j = job(0);
    j.status = JobStatus::Assigned;
    j.image = Some("python:3.12".into());
    (j.started_at, j.deadline_at) = (None, None);
    let t = job::start_pulling(&mut j, "w", 1, 1_000).unwrap().unwrap();
    assert!(job_rule("start pulling").unwrap().allows(t.from, t.to));
    assert_eq!(j.status, JobStatus::Running);
    assert_eq!(j.phase.as_deref(), Some("pulling python:3.12"));
    assert_eq!(
        j.deadline_at, None,
        "the job's timeout does not run during the pull"
    );
    assert!(t.reason.ends_with("pulling python:3.12"), "{}", t.reason);
    assert!(
        job::start_pulling(&mut j, "w", 1, 1_500).unwrap().is_none(),
        "a repeat"
    );
    assert!(job::start_pulling(&mut j.clone(), "other", 1, 1_500).is_err());

    // The second start ends the phase; the timeout runs from now.
    let t = job::start(&mut j, "w", 1, 9_000).unwrap().unwrap();
    assert!(job_rule("pulled").unwrap().allows(t.from, t.to));
    assert_eq!(j.phase, None);
    assert_eq!(
        (j.started_at, j.deadline_at),
        (Some(9_000), Some(9_000 + j.timeout_ms))
    );
    assert!(
        job::start(&mut j, "w", 1, 9_500).unwrap().is_none(),
        "a repeat"
    );
    assert_eq!(j.started_at, Some(9_000));
}

#[test]
fn a_job_naming_no_image_pulls_the_workers_default() {
    let mut j = job(0);
    j.status = JobStatus::Assigned;
    job::start_pulling(&mut j, "w", 1, 1_000).unwrap();
    assert_eq!(
        j.phase.as_deref(),
        Some("pulling the worker's default image")
    );
}

#[test]
fn a_permanent_failure_ends_now_whatever_retries_are_left() {
    let mut j = job(5);
    j.phase = Some("pulling nope:1".into());
    let p = JobFinishParams {
        exit_code: None,
        error: Some("image `nope:1` not found in registry 127.0.0.1:5000".into()),
        permanent: true,
        ..result(1)
    };
    let t = job::finish(&mut j, &p, &policy()).unwrap();
    assert_eq!((t.from, t.to), (JobStatus::Running, JobStatus::Failed));
    assert!(job_rule("finish").unwrap().allows(t.from, t.to));
    assert_eq!(t.fault, Some(Fault::Job));
    assert_eq!(
        t.worker_outcome,
        WorkerOutcome::Neutral,
        "the worker is not blamed"
    );
    assert_eq!((j.status, j.failed_attempts), (JobStatus::Failed, 1));
    assert_eq!(j.phase, None);
    assert!(j.finished_at.is_some());
    assert!(t.reason.contains("not retried"), "{}", t.reason);
}

#[test]
fn an_infrastructure_error_wins_over_permanent() {
    // The agent never says both; if it did, the safer reading (retry) applies.
    let mut j = job(0);
    let p = JobFinishParams {
        exit_code: None,
        error: Some("registry unreachable".into()),
        infrastructure_error: true,
        permanent: true,
        ..result(1)
    };
    let t = job::finish(&mut j, &p, &policy()).unwrap();
    assert_eq!(t.to, JobStatus::Queued);
    assert_eq!(t.fault, Some(Fault::Worker));
}

#[test]
fn a_registry_outage_is_retried_after_a_backoff_and_blames_no_worker() {
    let mut j = job(0);
    let p = JobFinishParams {
        exit_code: None,
        error: Some("could not pull image `r/x:1`: connection refused".into()),
        infrastructure_error: true,
        registry_error: true,
        ..result(1)
    };
    let t = job::finish(&mut j, &p, &policy()).unwrap();
    assert_eq!((t.from, t.to), (JobStatus::Running, JobStatus::Pending));
    assert!(job_rule("retry").unwrap().allows(t.from, t.to));
    assert_eq!(t.fault, Some(Fault::Registry));
    assert_eq!(t.worker_outcome, WorkerOutcome::Neutral);
    assert_eq!((j.infra_retries, j.failed_attempts), (1, 0));
    assert!(j.run_at > p.now, "backed off: {} vs {}", j.run_at, p.now);
    assert!(
        t.reason.contains("infrastructure retry 1 of"),
        "{}",
        t.reason
    );

    let all = crate::lifecycle::policy::Policy {
        cooldown_counts: crate::lifecycle::policy::CooldownCounts::AllFailures,
        ..policy()
    };
    let t = job::finish(&mut job(0), &p, &all).unwrap();
    assert_eq!(
        t.worker_outcome,
        WorkerOutcome::Failure,
        "the prototype's rule"
    );
}
