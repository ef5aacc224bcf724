//! End to end with the real binaries: `gantry serve` and `gantry-worker` as processes on
//! 127.0.0.1, jobs in real Docker containers (the local busybox image built by
//! `scripts/build-test-image.sh`). The seed's six scenarios, the sandbox, and the process
//! executor. Docker tests skip loudly without an engine, and fail with GANTRY_REQUIRE_DOCKER=1.

mod common;

use common::process::{free_port, AgentProcess, ServerProcess};
use common::server::fast_config;
use common::{eventually, TestDb, TestServer};
use gantry_api::{Job, JobStatus, WorkerStatus};
use serde_json::{json, Value};
use std::process::Command;
use std::time::{Duration, Instant};

const IMAGE: &str = "gantry-test-busybox:latest";
/// How long a job may take to end. Generous: an OOM kill can take tens of seconds (the kernel
/// reclaims and refaults file pages first, slowly through fuse-overlayfs).
const WAIT: Duration = Duration::from_secs(120);
const SERVE_FLAGS: &[&str] = &[
    "--heartbeat-timeout",
    "1500ms",
    "--sweep-interval",
    "100ms",
    "--job-timeout-grace",
    "300ms",
    "--retry-backoff",
    "100ms",
    "--worker-cooldown",
    "2s",
];

/// True when a Docker engine answers and the test image is there.
fn docker_ready() -> bool {
    let engine = Command::new("docker")
        .arg("info")
        .output()
        .is_ok_and(|o| o.status.success());
    let image = engine
        && Command::new("docker")
            .args(["image", "inspect", IMAGE])
            .output()
            .is_ok_and(|o| o.status.success());
    if !image {
        let why = if engine {
            "the test image is missing (run scripts/build-test-image.sh)"
        } else {
            "no Docker engine answers"
        };
        if std::env::var("GANTRY_REQUIRE_DOCKER").is_ok_and(|v| v == "1") {
            panic!("{why} (GANTRY_REQUIRE_DOCKER=1)");
        }
        eprintln!("SKIPPED (Docker): {why}");
    }
    image
}

/// A server process, its client, and a place for agents.
struct Cluster {
    server: TestServer,
    _process: ServerProcess,
    _db: TestDb,
}

impl Cluster {
    async fn start() -> Cluster {
        let db = TestDb::sqlite().await;
        let port = free_port();
        let process = ServerProcess::spawn(&db, port, SERVE_FLAGS);
        let server = TestServer::attach(process.base.clone(), fast_config(&db)).await;
        Cluster {
            server,
            _process: process,
            _db: db,
        }
    }

    fn agent(&self, id: &str, env: &[(&str, &str)]) -> AgentProcess {
        AgentProcess::spawn(&self.server.base, id, env)
    }

    async fn wait_worker(&self, id: &str, want: WorkerStatus) -> gantry_api::Worker {
        eventually(&format!("worker {id} to be {want}"), WAIT, || async {
            let list = self.server.workers().await;
            list.workers
                .into_iter()
                .find(|w| w.id == id && w.status == want)
        })
        .await
    }

    async fn run(&self, body: Value) -> Job {
        let job = self.server.create(body).await;
        self.wait_end(&job.id).await
    }

    async fn wait_end(&self, id: &str) -> Job {
        eventually(&format!("job {id} to end"), WAIT, || async {
            let job = self.server.status(id).await.job;
            job.status.is_terminal().then_some(job)
        })
        .await
    }
}

/// Containers of a job, running or not.
fn containers_of(job_id: &str) -> String {
    let out = Command::new("docker")
        .args([
            "ps",
            "-aq",
            "--filter",
            &format!("label=gantry.job-id={job_id}"),
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_runs_in_a_container_and_completes_with_its_output() {
    if !docker_ready() {
        return;
    }
    let c = Cluster::start().await;
    let _agent = c.agent("e2e-basic", &[]);
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_jobs_run_at_once_on_a_worker_with_four_slots() {
    if !docker_ready() {
        return;
    }
    let c = Cluster::start().await;
    let _agent = c.agent("e2e-parallel", &[("MAX_PARALLEL_JOBS", "4")]);
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_needing_more_ram_than_the_worker_has_never_starts_there() {
    if !docker_ready() {
        return;
    }
    let c = Cluster::start().await;
    let _agent = c.agent("e2e-small", &[]);
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_past_its_timeout_is_killed_and_its_container_is_gone() {
    if !docker_ready() {
        return;
    }
    let c = Cluster::start().await;
    let _agent = c.agent("e2e-timeout", &[]);
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
    let _second = c.agent("e2e-survivor", &[]);
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_running_job_stops_its_container_within_two_seconds() {
    if !docker_ready() {
        return;
    }
    let c = Cluster::start().await;
    let _agent = c.agent("e2e-cancel", &[]);
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_holds() {
    if !docker_ready() {
        return;
    }
    let c = Cluster::start().await;
    let agent = c.agent("e2e-sandbox", &[("MAX_PARALLEL_JOBS", "1")]);
    c.wait_worker("e2e-sandbox", WorkerStatus::Idle).await;

    let user = c.run(json!({"command": "id -u"})).await;
    assert_eq!(
        user.stdout.as_deref(),
        Some("65534\n"),
        "runs as nobody: {user:?}"
    );

    let net = c.run(json!({"command": "ls /sys/class/net; wget -q -T 2 -O - http://1.1.1.1/ && echo REACHED"})).await;
    assert_eq!(
        net.stdout.as_deref().map(str::trim),
        Some("lo"),
        "only loopback: {net:?}"
    );

    let bomb = c
        .run(json!({"command": "b() { b | b & }; b; sleep 2", "timeoutMs": 8000}))
        .await;
    assert!(bomb.status.is_terminal(), "{bomb:?}");
    let after = c.run(json!({"command": "echo still here"})).await;
    assert_eq!(
        after.status,
        JobStatus::Completed,
        "the agent survived the fork bomb"
    );

    let hog = c
        .run(json!({"command": "head -c 200m /dev/zero | tail", "requiredRamMb": 32}))
        .await;
    assert!(hog.oom_killed, "reported as OOM-killed: {hog:?}");
    assert_eq!(hog.status, JobStatus::Failed);

    let chatty = c
        .run(json!({"command": "head -c 100000000 /dev/zero | tr '\\0' x; echo; echo END"}))
        .await;
    assert_eq!(chatty.status, JobStatus::Completed, "{:?}", chatty.error);
    let out = chatty.stdout.unwrap();
    assert!(
        out.len() < 2 * 1024 * 1024,
        "output capped: {} bytes",
        out.len()
    );
    assert!(
        out.contains("truncated") && out.ends_with("END\n"),
        "keeps the tail"
    );
    let peak = agent.peak_rss_kib();
    assert!(peak < 200 * 1024, "agent memory stayed bounded: {peak} KiB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zip_entries_cannot_escape_the_work_folder() {
    if !docker_ready() {
        return;
    }
    let c = Cluster::start().await;
    let _agent = c.agent("e2e-zip", &[]);
    c.wait_worker("e2e-zip", WorkerStatus::Idle).await;
    let upload = |name: &str, entries: &[(&str, &str)]| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        let script = "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1], 'w')\nfor a in sys.argv[2:]:\n    n, t = a.split('=', 1)\n    z.writestr(n, t)\nz.close()";
        let mut cmd = Command::new("python3");
        cmd.args(["-c", script]).arg(&path);
        for (n, t) in entries {
            cmd.arg(format!("{n}={t}"));
        }
        assert!(cmd.status().unwrap().success(), "python3 makes the zip");
        (dir, std::fs::read(&path).unwrap())
    };
    let post = |bytes: Vec<u8>, name: &'static str| {
        let part = reqwest::multipart::Part::bytes(bytes).file_name(name);
        c.server
            .http
            .post(c.server.url("/api/uploads"))
            .multipart(reqwest::multipart::Form::new().part("file", part))
            .send()
    };
    let (_d1, good) = upload("good.zip", &[("data/hello.txt", "hi from the zip")]);
    let stored: Value = post(good, "good.zip").await.unwrap().json().await.unwrap();
    let ok = c
        .run(json!({"command": "cat data/hello.txt", "fileUrl": stored["fileUrl"]}))
        .await;
    assert_eq!(ok.stdout.as_deref(), Some("hi from the zip"), "{ok:?}");

    let (_d2, evil) = upload("evil.zip", &[("../../escaped.txt", "gotcha")]);
    let stored: Value = post(evil, "evil.zip").await.unwrap().json().await.unwrap();
    let refused = c
        .run(json!({"command": "true", "fileUrl": stored["fileUrl"]}))
        .await;
    assert_eq!(refused.status, JobStatus::Failed, "{refused:?}");
    assert!(
        refused.error.unwrap_or_default().contains("escape"),
        "says why"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_process_executor_runs_jobs_without_docker() {
    let c = Cluster::start().await;
    let _agent = c.agent("e2e-process", &[("ENABLE_DOCKER", "false")]);
    let w = c.wait_worker("e2e-process", WorkerStatus::Idle).await;
    assert_eq!(w.executor.as_deref(), Some("process"));
    let job = c.run(json!({"command": "echo hello; pwd"})).await;
    assert_eq!(job.status, JobStatus::Completed, "{job:?}");
    assert!(job.stdout.unwrap().starts_with("hello\n"));
    let timed = c
        .run(json!({"command": "sleep 30", "timeoutMs": 500}))
        .await;
    assert_eq!(timed.status, JobStatus::TimedOut);
}

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
    let server = TestServer::attach(first.base.clone(), fast_config(&db)).await;
    let _agent = AgentProcess::spawn(&server.base, "e2e-restart", &[]);
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_cut_off_from_the_server_stops_its_job_before_it_is_given_away() {
    if !docker_ready() {
        return;
    }
    let c = Cluster::start().await;
    let _agent = c.agent("e2e-fenced", &[]);
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
