//! Running one attempt of a job: the [`Executor`] trait and its two implementations, Docker
//! containers ([`docker::DockerExecutor`]) and local processes ([`process::ProcessExecutor`]).

pub mod docker;
pub mod environment;
pub mod output;
pub mod process;

use gantry_api::{AttemptUsage, ImageHeld, PullPolicy};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Everything an executor needs to run one attempt.
#[derive(Debug, Clone)]
pub struct ExecSpec {
    /// The job's id (labels its container; part of the container's name; `GANTRY_JOB_ID`).
    pub job_id: String,
    /// The attempt number the server delivered (`GANTRY_ATTEMPT`).
    pub attempt: i64,
    /// The worker running it (labels its container; `GANTRY_WORKER_ID`).
    pub worker_id: String,
    /// The shell command, run with `sh -c`.
    pub command: String,
    /// The container image (ignored by the process executor).
    pub image: String,
    /// The job's own environment variables; executors pass on [`ExecSpec::environment`],
    /// which adds the attempt's identity.
    pub env: BTreeMap<String, String>,
    /// CPU cores to allow (already defaulted; > 0).
    pub cpu: f64,
    /// Memory to allow in MiB (already defaulted; > 0).
    pub ram_mb: i64,
    /// Whether the attempt may use the network.
    pub network: bool,
    /// Wall-clock limit of the attempt.
    pub timeout: Duration,
    /// The prepared work folder, mounted at (or used as) the working directory.
    pub work_dir: PathBuf,
}

/// How an attempt ended.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExecOutcome {
    /// The command's exit code; `None` when it never ran (or could not be read).
    pub exit_code: Option<i64>,
    /// Tail of standard output (marked when truncated).
    pub stdout: String,
    /// Tail of standard error (marked when truncated).
    pub stderr: String,
    /// Wall-clock time from start to end.
    pub duration: Duration,
    /// It was killed at its timeout.
    pub timed_out: bool,
    /// It was stopped through its cancellation token.
    pub cancelled: bool,
    /// It was killed for exceeding its memory limit.
    pub oom_killed: bool,
    /// It could not run through no fault of the job (image missing, engine down, ...).
    pub infrastructure_error: bool,
    /// What went wrong, in words.
    pub error: Option<String>,
    /// The job can never succeed as it is (its image does not exist): it ends FAILED now,
    /// whatever retries it has left.
    pub permanent: bool,
    /// With `infrastructure_error`: the image could not be pulled because of its registry
    /// (unreachable, login refused, too slow), which does not count against this worker.
    pub registry_error: bool,
    /// What the attempt used (CPU, peak memory, pull and run time), where measured.
    pub usage: AttemptUsage,
}

impl ExecOutcome {
    /// An attempt that never ran because the infrastructure failed.
    pub fn infra(error: impl Into<String>) -> ExecOutcome {
        ExecOutcome {
            infrastructure_error: true,
            error: Some(error.into()),
            ..ExecOutcome::default()
        }
    }
}

/// Runs attempts. Implementations are shared between concurrently running jobs.
#[async_trait::async_trait]
pub trait Executor: Send + Sync {
    /// `docker` or `process`, as reported at registration.
    fn kind(&self) -> &'static str;

    /// Whether an attempt starts the moment it arrives (no image to pull, no container to
    /// create first): the agent then asks the server to deliver its jobs already RUNNING and
    /// makes no start call for them.
    fn starts_at_once(&self) -> bool {
        false
    }

    /// Whether the executor can run jobs right now (the Docker engine answers).
    async fn healthy(&self) -> bool;

    /// Removes leftovers of an earlier life of worker `worker_id`; returns how many.
    async fn cleanup_orphans(&self, worker_id: &str) -> usize {
        let _ = worker_id;
        0
    }

    /// Stops and removes whatever an earlier life of worker `worker_id` left running (an agent
    /// crash), before the agent registers: `Ok(how many)` when nothing of it can run any more,
    /// `Err` when that could not be made sure (the engine is down), which the agent tells the
    /// server so that it holds those jobs until its kill grace has passed.
    async fn stop_earlier_life(&self, worker_id: &str) -> Result<usize, String> {
        Ok(self.cleanup_orphans(worker_id).await)
    }

    /// Waits for cleanups still under way (the removal of a container whose attempt was
    /// dropped mid-run), so that nothing an attempt created outlives the agent.
    async fn wait_cleanups(&self) {}

    /// Whether an attempt must pull `image` before it runs, under `policy`: `always`, or
    /// `if-not-present` and the host lacks it. Never for an executor without images (the
    /// process executor); an engine that cannot say comes back as an infrastructure outcome.
    async fn needs_pull(&self, image: &str, policy: PullPolicy) -> Result<bool, ExecOutcome> {
        let _ = (image, policy);
        Ok(false)
    }

    /// Pulls `image`, sharing the pull with the other attempts that need it now (and taking
    /// one that ended after `needed_since`, when the attempt saw it needed the image, as its
    /// own). A failure comes back as the attempt's outcome: [`ExecOutcome::permanent`] (the
    /// job's fault) when the registry says the image does not exist, an infrastructure error
    /// otherwise.
    async fn pull_image(&self, image: &str, needed_since: Instant) -> Result<(), ExecOutcome> {
        let _ = (image, needed_since);
        Ok(())
    }

    /// The images this host holds, for the heartbeat; `None` for an executor without images
    /// or an engine that does not answer.
    async fn images_held(&self) -> Option<Vec<ImageHeld>> {
        None
    }

    /// Runs one attempt to its end: exit, timeout (`spec.timeout`) or `cancel`. Stopping means
    /// SIGTERM, then SIGKILL after the kill grace. Never panics on job misbehaviour; failures
    /// of the executor itself come back as [`ExecOutcome::infrastructure_error`].
    async fn run(&self, spec: &ExecSpec, cancel: CancellationToken) -> ExecOutcome;
}

/// How a stopped attempt is described to the server.
pub(crate) fn timeout_message(timeout: Duration) -> String {
    format!("timed out after {}", humantime::format_duration(timeout))
}
