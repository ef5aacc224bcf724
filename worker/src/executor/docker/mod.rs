//! The Docker executor: one fresh, hardened container per attempt, through bollard.
//!
//! Images are pulled before the attempt when its pull policy says so ([`pull`], with this
//! host's registry logins from [`credentials`]; [`images`] lists what the host holds). The
//! container runs
//! `sh -c` as nobody with no network, no capabilities, a read-only root, a pids limit and the job's
//! memory and CPU limits, with the work folder bind-mounted at `/work`. Output is read from
//! an attach stream into bounded tail buffers, and the container is always removed: its life
//! from create to removal runs in a task of its own, owned by a guard that removes it on every
//! path, and [`Executor::wait_cleanups`] waits for those tasks.

mod container;
mod credentials;
mod guard;
pub mod images;
mod orphans;
mod pull;
mod run;
mod stats;

use super::{ExecOutcome, ExecSpec, Executor};
use bollard::errors::Error as DockerError;
use bollard::Docker;
use container::make_writable_for_job;
use gantry_api::{ImageHeld, PullPolicy};
use pull::Pulls;
use run::ContainerLife;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Label holding the job id on every container the agent starts.
pub const LABEL_JOB_ID: &str = "gantry.job-id";
/// Label holding the attempt number.
pub const LABEL_ATTEMPT: &str = "gantry.attempt";
/// Label holding the worker id, used to find orphans after a restart.
pub const LABEL_WORKER_ID: &str = "gantry.worker-id";
/// How long to wait for the engine to answer a health ping.
const PING_TIMEOUT: Duration = Duration::from_secs(3);

/// Settings of the Docker executor.
#[derive(Debug, Clone)]
pub struct DockerSettings {
    /// Time between SIGTERM and SIGKILL.
    pub kill_grace: Duration,
    /// Bytes kept of each output stream.
    pub max_output_bytes: usize,
    /// Whether jobs that ask for network may have it.
    pub allow_network: bool,
    /// The most processes in one container.
    pub pids_limit: i64,
    /// How often a running container's cgroup is read for its CPU time and peak memory.
    pub usage_interval: Duration,
    /// The longest one image pull may take.
    pub pull_timeout: Duration,
}

/// Runs attempts in Docker containers.
#[derive(Debug)]
pub struct DockerExecutor {
    /// The engine client, replaced once its API version has been negotiated.
    docker: Mutex<Docker>,
    /// Kill grace, output cap, network policy and pids limit of every container.
    settings: DockerSettings,
    /// Whether the API version has been agreed with the engine.
    negotiated: AtomicBool,
    /// The tasks that own a container, from its create to its removal; the agent waits for
    /// them before it exits.
    containers: TaskTracker,
    /// The pulls under way, shared by the attempts that need the same image.
    pulls: Pulls,
}

impl DockerExecutor {
    /// Connects to the local engine (`DOCKER_HOST` or the default socket) and negotiates the
    /// API version. An engine that does not answer yet is not an error here: `healthy` says so.
    pub async fn connect(settings: DockerSettings) -> Result<DockerExecutor, DockerError> {
        let docker = Docker::connect_with_local_defaults()?;
        let (docker, negotiated) = match docker.clone().negotiate_version().await {
            Ok(negotiated) => (negotiated, true),
            Err(e) => {
                tracing::warn!(error = %e, "Docker engine does not answer yet");
                (docker, false)
            }
        };
        Ok(DockerExecutor {
            docker: Mutex::new(docker),
            settings,
            negotiated: AtomicBool::new(negotiated),
            containers: TaskTracker::new(),
            pulls: Pulls::default(),
        })
    }

    /// A handle to the engine client.
    fn docker(&self) -> Docker {
        self.docker.lock().expect("docker lock").clone()
    }

    /// True when the image is in the local engine.
    pub async fn image_exists(&self, image: &str) -> bool {
        self.docker().inspect_image(image).await.is_ok()
    }
}

#[async_trait::async_trait]
impl Executor for DockerExecutor {
    fn kind(&self) -> &'static str {
        "docker"
    }

    async fn healthy(&self) -> bool {
        let docker = self.docker();
        let ping = tokio::time::timeout(PING_TIMEOUT, docker.ping()).await;
        if !matches!(ping, Ok(Ok(_))) {
            return false;
        }
        // The engine may have come up after the agent: agree on the API version now.
        if !self.negotiated.load(Ordering::Relaxed) {
            match tokio::time::timeout(PING_TIMEOUT, docker.negotiate_version()).await {
                Ok(Ok(negotiated)) => {
                    *self.docker.lock().expect("docker lock") = negotiated;
                    self.negotiated.store(true, Ordering::Relaxed);
                }
                _ => return false,
            }
        }
        true
    }

    async fn needs_pull(&self, image: &str, policy: PullPolicy) -> Result<bool, ExecOutcome> {
        match policy {
            PullPolicy::Always => return Ok(true),
            PullPolicy::Never => return Ok(false),
            PullPolicy::IfNotPresent => {}
        }
        match self.docker().inspect_image(image).await {
            Ok(_) => Ok(false),
            Err(DockerError::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(true),
            Err(e) => Err(ExecOutcome::infra(format!("Docker engine unusable: {e}"))),
        }
    }

    async fn pull_image(&self, image: &str, needed_since: Instant) -> Result<(), ExecOutcome> {
        let timeout = self.settings.pull_timeout;
        let docker = self.docker();
        match self.pulls.pull(&docker, image, timeout, needed_since).await {
            Ok(()) => Ok(()),
            Err(e) if e.permanent => Err(ExecOutcome {
                error: Some(e.message),
                permanent: true,
                ..ExecOutcome::default()
            }),
            Err(e) => Err(ExecOutcome {
                registry_error: e.registry,
                ..ExecOutcome::infra(e.message)
            }),
        }
    }

    async fn images_held(&self) -> Option<Vec<ImageHeld>> {
        images::held(&self.docker()).await
    }

    async fn cleanup_orphans(&self, worker_id: &str) -> usize {
        self.remove_orphans(worker_id).await.unwrap_or(0)
    }

    async fn stop_earlier_life(&self, worker_id: &str) -> Result<usize, String> {
        self.remove_orphans(worker_id).await
    }

    async fn wait_cleanups(&self) {
        self.containers.close();
        self.containers.wait().await;
        self.containers.reopen();
    }

    async fn run(&self, spec: &ExecSpec, cancel: CancellationToken) -> ExecOutcome {
        let docker = self.docker();
        match docker.inspect_image(&spec.image).await {
            Ok(_) => {}
            Err(DockerError::DockerResponseServerError {
                status_code: 404, ..
            }) => {
                // The job named an image this host lacks and may not pull (its pull policy is
                // `never`): the job's failure (its retries apply), never held against the
                // worker.
                return ExecOutcome {
                    error: Some(format!(
                        "image `{}` is not present on this worker and the pull policy is \
                         `never` (pull it on the host, or let the job pull it)",
                        spec.image
                    )),
                    ..ExecOutcome::default()
                };
            }
            Err(e) => return ExecOutcome::infra(format!("Docker engine unusable: {e}")),
        }
        let work_dir = spec.work_dir.clone();
        match tokio::task::spawn_blocking(move || make_writable_for_job(&work_dir)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return ExecOutcome::infra(format!("could not prepare work folder: {e}")),
            Err(e) => return ExecOutcome::infra(format!("could not prepare work folder: {e}")),
        }
        // From create on, the container's life runs in a task of its own that nothing aborts:
        // dropping this future only cancels the attempt, and that task still removes it.
        let cancel = cancel.child_token();
        let _cancel_on_drop = cancel.clone().drop_guard();
        let life = ContainerLife {
            docker,
            settings: self.settings.clone(),
            spec: spec.clone(),
            containers: self.containers.clone(),
        };
        match self.containers.spawn(life.run(cancel)).await {
            Ok(outcome) => outcome,
            Err(e) => ExecOutcome::infra(format!("the container's task failed: {e}")),
        }
    }
}

/// A unique, valid container name for the attempt.
fn container_name(spec: &ExecSpec) -> String {
    let job: String = spec
        .job_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    let suffix: u32 = rand::random();
    format!("gantry-{job}-{}-{suffix:08x}", spec.attempt)
}
