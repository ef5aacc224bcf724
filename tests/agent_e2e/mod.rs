//! End to end with the real binaries: `gantry serve` and `gantry-worker` as processes on
//! 127.0.0.1, jobs in real Docker containers (the local busybox image built by
//! `scripts/build-test-image.sh`). The seed's six scenarios, the sandbox, and the process
//! executor. Docker tests skip loudly without an engine, and fail with GANTRY_REQUIRE_DOCKER=1.

mod crash;
mod identity;
mod pulls;
mod resilience;
mod sandbox;
mod scenarios;

use crate::common::optional::{skip_or_fail, Part};
use crate::common::process::{free_port, AgentProcess, ServerProcess};
use crate::common::{eventually, TestDb, TestServer};
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
        skip_or_fail(Part::Docker, why);
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
        let server = TestServer::attach(process.base.clone()).await;
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
    containers_labelled(&format!("gantry.job-id={job_id}"))
}

/// Stops each agent as an operator would (SIGTERM) and waits for it to exit cleanly, then
/// checks that no container of these workers is left in the engine.
async fn stop_leaving_no_container(agents: Vec<AgentProcess>, worker_ids: &[&str]) {
    for mut agent in agents {
        let pid = agent.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
        let status = eventually(&format!("agent {pid} to exit"), WAIT, || {
            let exited = agent.child.try_wait().unwrap();
            async move { exited }
        })
        .await;
        assert!(status.success(), "the agent exits cleanly: {status}");
    }
    for id in worker_ids {
        // Removal is asynchronous in the engine: give it a moment, not a fixed sleep.
        eventually(
            &format!("no container of worker {id} to be left"),
            Duration::from_secs(20),
            || async { worker_containers(id).is_empty().then_some(()) },
        )
        .await;
    }
}

/// Containers of a worker, running or not.
fn worker_containers(worker_id: &str) -> String {
    containers_labelled(&format!("gantry.worker-id={worker_id}"))
}

/// The ids of the containers carrying `label` (`key=value`), running or not.
fn containers_labelled(label: &str) -> String {
    let out = Command::new("docker")
        .args(["ps", "-aq", "--filter", &format!("label={label}")])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
