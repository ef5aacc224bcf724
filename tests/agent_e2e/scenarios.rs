//! The seed's six scenarios, end to end in real containers.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_runs_in_a_container_and_completes_with_its_output() {
    if !docker_ready() {
        return;
    }
    let c = Cluster::start().await;
    let agent = c.agent("e2e-basic", &[]);
    let w = c.wait_worker("e2e-basic", WorkerStatus::Idle).await;
    assert_eq!(w.executor.as_deref(), Some("docker"));
    let job = c
        .run(json!({"command": "echo hello from $NAME; echo oops >&2", "env": {"NAME": "gantry"}}))
        .await;
    assert_eq!(job.status, JobStatus::Completed, "{job:?}");
    assert_eq!(job.stdout.as_deref(), Some("hello from gantry\n"));
    assert_eq!(job.stderr.as_deref(), Some("oops\n"));
    assert_eq!(job.exit_code, Some(0));
    assert!(containers_of(&job.id).is_empty(), "container removed");

    let failed = c.run(json!({"command": "exit 7"})).await;
    assert_eq!(
        (failed.status, failed.exit_code),
        (JobStatus::Failed, Some(7))
    );
    stop_leaving_no_container(vec![agent], &["e2e-basic"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_jobs_run_at_once_on_a_worker_with_four_slots() {
    if !docker_ready() {
        return;
    }
    let c = Cluster::start().await;
    let agent = c.agent("e2e-parallel", &[("MAX_PARALLEL_JOBS", "4")]);
    c.wait_worker("e2e-parallel", WorkerStatus::Idle).await;
    let mut ids = Vec::new();
    for i in 0..4 {
        let body = json!({"command": format!("sleep 2; echo {i}"), "requiredCpu": 0.1, "requiredRamMb": 32});
        ids.push(c.server.create(body).await.id);
    }
    let mut jobs = Vec::new();
    for id in &ids {
        jobs.push(c.wait_end(id).await);
    }
    assert!(
        jobs.iter().all(|j| j.status == JobStatus::Completed),
        "{jobs:?}"
    );
    let last_start = jobs.iter().map(|j| j.started_at.unwrap()).max().unwrap();
    let first_end = jobs.iter().map(|j| j.finished_at.unwrap()).min().unwrap();
    assert!(last_start < first_end, "all four ran at the same time");
    stop_leaving_no_container(vec![agent], &["e2e-parallel"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_needing_more_ram_than_the_worker_has_never_starts_there() {
    if !docker_ready() {
        return;
    }
    let c = Cluster::start().await;
    let agent = c.agent("e2e-small", &[]);
    let w = c.wait_worker("e2e-small", WorkerStatus::Idle).await;
    let too_big = c
        .server
        .create(json!({"command": "echo never", "requiredRamMb": w.ram_total_mb + 1024}))
        .await;
    let fits = c.run(json!({"command": "echo fits"})).await;
    assert_eq!(fits.status, JobStatus::Completed, "the worker kept working");
    let s = c.server.status(&too_big.id).await;
    assert_eq!(s.job.status, JobStatus::Queued);
    assert!(s.job.reason.unwrap().contains("fits no worker"));
    assert!(
        s.history.iter().all(|h| h.to_status != JobStatus::Assigned),
        "never placed"
    );
    stop_leaving_no_container(vec![agent], &["e2e-small"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_past_its_timeout_is_killed_and_its_container_is_gone() {
    if !docker_ready() {
        return;
    }
    let c = Cluster::start().await;
    let agent = c.agent("e2e-timeout", &[]);
    c.wait_worker("e2e-timeout", WorkerStatus::Idle).await;
    let started = Instant::now();
    let job = c
        .run(json!({"command": "sleep 60", "timeoutMs": 1000}))
        .await;
    assert_eq!(job.status, JobStatus::TimedOut, "{job:?}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "killed promptly: {:?}",
        started.elapsed()
    );
    eventually(
        "the container to be removed",
        Duration::from_secs(10),
        || async { containers_of(&job.id).is_empty().then_some(()) },
    )
    .await;
    stop_leaving_no_container(vec![agent], &["e2e-timeout"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_agent_goes_offline_and_its_job_finishes_elsewhere() {
    if !docker_ready() {
        return;
    }
    let c = Cluster::start().await;
    let mut first = c.agent("e2e-doomed", &[]);
    c.wait_worker("e2e-doomed", WorkerStatus::Idle).await;
    let job = c
        .server
        .create(json!({"command": "sleep 2; echo survived"}))
        .await;
    c.server
        .wait_status(&job.id, JobStatus::Running, WAIT)
        .await;
    let second = c.agent("e2e-survivor", &[]);
    c.wait_worker("e2e-survivor", WorkerStatus::Idle).await;
    first.kill9();
    c.wait_worker("e2e-doomed", WorkerStatus::Offline).await;
    let done = c.wait_end(&job.id).await;
    assert_eq!(done.status, JobStatus::Completed, "{done:?}");
    assert_eq!(done.worker_id.as_deref(), Some("e2e-survivor"));
    assert_eq!(done.stdout.as_deref(), Some("survived\n"));
    assert_eq!((done.attempts, done.infra_retries), (2, 1));
    // The dead agent's container is an orphan until that worker starts again; clean it here.
    let orphans = containers_of(&job.id);
    if !orphans.is_empty() {
        let _ = Command::new("docker")
            .args(["rm", "-f"])
            .args(orphans.split_whitespace())
            .output();
    }
    stop_leaving_no_container(vec![second], &["e2e-doomed", "e2e-survivor"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_running_job_stops_its_container_within_two_seconds() {
    if !docker_ready() {
        return;
    }
    let c = Cluster::start().await;
    let agent = c.agent("e2e-cancel", &[]);
    c.wait_worker("e2e-cancel", WorkerStatus::Idle).await;
    let job = c.server.create(json!({"command": "sleep 60"})).await;
    c.server
        .wait_status(&job.id, JobStatus::Running, WAIT)
        .await;
    eventually("the container to run", WAIT, || async {
        (!containers_of(&job.id).is_empty()).then_some(())
    })
    .await;
    let asked = Instant::now();
    let (code, _) = c
        .server
        .post("/api/jobs/cancel", &json!({"jobId": job.id}))
        .await;
    assert_eq!(code, reqwest::StatusCode::OK);
    eventually(
        "the container to be gone",
        Duration::from_secs(5),
        || async { containers_of(&job.id).is_empty().then_some(()) },
    )
    .await;
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "stopped in {:?}",
        asked.elapsed()
    );
    assert_eq!(
        c.server.status(&job.id).await.job.status,
        JobStatus::Cancelled
    );
    stop_leaving_no_container(vec![agent], &["e2e-cancel"]).await;
}
