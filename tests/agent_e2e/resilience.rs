//! The agent against a failing server: restart, partition (self-fencing), and its own shutdown.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_survives_a_server_restart_and_reports_its_job() {
    if !docker_ready() {
        return;
    }
    let db = TestDb::sqlite().await;
    let port = free_port();
    // A heartbeat timeout well past the outage: the agent must not fence itself off here.
    let flags = ["--heartbeat-timeout", "10s", "--sweep-interval", "100ms"];
    let mut first = ServerProcess::spawn(&db, port, &flags);
    let server = TestServer::attach(first.base.clone()).await;
    let agent = AgentProcess::spawn(&server.base, "e2e-restart", &[]);
    eventually("the agent to register", WAIT, || async {
        let list = server.workers().await;
        (list.total_workers == 1).then_some(())
    })
    .await;
    let job = server
        .create(json!({"command": "sleep 3; echo outlived the server"}))
        .await;
    server.wait_status(&job.id, JobStatus::Running, WAIT).await;
    first.kill9();
    // The server is away for a moment; the job goes on in its container.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _second = ServerProcess::spawn(&db, port, &flags);
    server.wait_ready().await;
    let done = eventually("the job to end", WAIT, || async {
        let job = server.status(&job.id).await.job;
        job.status.is_terminal().then_some(job)
    })
    .await;
    assert_eq!(done.status, JobStatus::Completed, "{done:?}");
    assert_eq!(done.stdout.as_deref(), Some("outlived the server\n"));
    assert_eq!(done.attempts, 1, "the same attempt, not a rerun");
    stop_leaving_no_container(vec![agent], &["e2e-restart"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_cut_off_from_the_server_stops_its_job_before_it_is_given_away() {
    if !docker_ready() {
        return;
    }
    let c = Cluster::start().await;
    let agent = c.agent("e2e-fenced", &[]);
    c.wait_worker("e2e-fenced", WorkerStatus::Idle).await;
    let job = c.server.create(json!({"command": "sleep 60"})).await;
    c.server
        .wait_status(&job.id, JobStatus::Running, WAIT)
        .await;
    eventually("the container to run", WAIT, || async {
        (!containers_of(&job.id).is_empty()).then_some(())
    })
    .await;

    // Freeze the server: to the agent it is gone (a partition), and it requeues nothing yet.
    let pid = c._process.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-STOP", &pid])
        .status()
        .unwrap()
        .success());
    let frozen = Instant::now();
    // The server's heartbeat timeout is 1.5 s: the agent stops the job after ~1.1 s of silence.
    let gone = (0..100).find(|_| {
        std::thread::sleep(Duration::from_millis(100));
        containers_of(&job.id).is_empty()
    });
    let stopped_after = frozen.elapsed();
    assert!(Command::new("kill")
        .args(["-CONT", &pid])
        .status()
        .unwrap()
        .success());
    assert!(gone.is_some(), "the agent stopped its job while cut off");
    assert!(
        stopped_after < Duration::from_secs(5),
        "stopped after {stopped_after:?}"
    );

    // Back in touch: the job comes back as a new attempt, the first one counted as a loss.
    let s = eventually("the second attempt to run", WAIT, || async {
        let s = c.server.status(&job.id).await;
        (s.job.attempts == 2 && s.job.status == JobStatus::Running).then_some(s)
    })
    .await;
    assert_eq!((s.job.infra_retries, s.job.failed_attempts), (1, 0));
    let (code, _) = c
        .server
        .post("/api/jobs/cancel", &json!({"jobId": job.id}))
        .await;
    assert_eq!(code, reqwest::StatusCode::OK);
    stop_leaving_no_container(vec![agent], &["e2e-fenced"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draining_agent_finishes_its_job_and_is_given_nothing_new() {
    let c = Cluster::start().await;
    let mut agent = c.agent(
        "e2e-drain",
        &[
            ("ENABLE_DOCKER", "false"),
            ("MAX_PARALLEL_JOBS", "1"),
            ("GANTRY_DRAIN_TIMEOUT", "20s"),
        ],
    );
    c.wait_worker("e2e-drain", WorkerStatus::Idle).await;
    let first = c
        .server
        .create(json!({"command": "sleep 2; echo finished"}))
        .await;
    c.server
        .wait_status(&first.id, JobStatus::Running, WAIT)
        .await;

    let pid = agent.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    eventually("the worker to say it drains", WAIT, || async {
        let list = c.server.workers().await;
        list.workers
            .into_iter()
            .find(|w| w.id == "e2e-drain" && w.draining)
    })
    .await;
    let second = c.server.create(json!({"command": "echo never here"})).await;

    let done = c.wait_end(&first.id).await;
    assert_eq!(
        done.status,
        JobStatus::Completed,
        "the running job finished: {done:?}"
    );
    assert_eq!(done.stdout.as_deref(), Some("finished\n"));
    let status = tokio::task::spawn_blocking(move || agent.child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "the agent exits cleanly: {status}");
    let s = c.server.status(&second.id).await;
    assert_eq!(s.job.status, JobStatus::Queued);
    assert!(
        s.history.iter().all(|h| h.to_status != JobStatus::Assigned),
        "nothing was placed on the draining worker: {:?}",
        s.history
    );
}
