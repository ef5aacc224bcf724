//! The Docker executor: one fresh, hardened container per attempt, through bollard.
//!
//! The container never pulls (a missing image is an infrastructure error), runs `sh -c` as
//! nobody with no network, no capabilities, a read-only root, a pids limit and the job's
//! memory and CPU limits, with the work folder bind-mounted at `/work`. Output is read from
//! an attach stream into bounded tail buffers, and the container is always removed.

use super::output::TailBuffer;
use super::{timeout_message, ExecOutcome, ExecSpec, Executor};
use bollard::errors::Error as DockerError;
use bollard::models::{ContainerCreateBody, HostConfig, HostConfigLogConfig};
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, CreateContainerOptionsBuilder, InspectContainerOptions,
    ListContainersOptionsBuilder, RemoveContainerOptionsBuilder, StopContainerOptionsBuilder,
    WaitContainerOptionsBuilder,
};
use bollard::Docker;
use futures::StreamExt;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Label holding the job id on every container the agent starts.
pub const LABEL_JOB_ID: &str = "gantry.job-id";
/// Label holding the attempt number.
pub const LABEL_ATTEMPT: &str = "gantry.attempt";
/// Label holding the worker id, used to find orphans after a restart.
pub const LABEL_WORKER_ID: &str = "gantry.worker-id";
/// The uid and gid jobs run as (nobody).
const JOB_USER: &str = "65534:65534";
/// The numeric id of `JOB_USER`.
const JOB_UID: u32 = 65534;
/// Size of the writable `/tmp` of a container.
const TMPFS_OPTIONS: &str = "rw,nosuid,nodev,size=64m";
/// Docker refuses memory limits below this.
const MIN_MEMORY_MB: i64 = 6;
/// How long to wait for the engine to answer a health ping.
const PING_TIMEOUT: Duration = Duration::from_secs(3);
/// How long to wait for the attach stream to close once the container stopped.
const OUTPUT_DRAIN_TIMEOUT: Duration = Duration::from_secs(3);
/// Extra time, beyond the kill grace, allowed for a stop to take effect.
const STOP_SLACK: Duration = Duration::from_secs(10);
/// Bytes in a MiB.
const MIB: i64 = 1024 * 1024;

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
}

/// Runs attempts in Docker containers.
#[derive(Debug)]
pub struct DockerExecutor {
    /// The engine client, replaced once its API version has been negotiated.
    docker: Mutex<Docker>,
    /// The settings.
    settings: DockerSettings,
    /// Whether the API version has been agreed with the engine.
    negotiated: AtomicBool,
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
        })
    }

    /// A handle to the engine client.
    fn docker(&self) -> Docker {
        self.docker.lock().expect("docker lock").clone()
    }

    /// Runs an attempt in a created container and collects its outcome; the caller removes it.
    async fn run_in(
        &self,
        docker: &Docker,
        name: &str,
        spec: &ExecSpec,
        cancel: CancellationToken,
    ) -> ExecOutcome {
        let stdout = Arc::new(Mutex::new(TailBuffer::new(self.settings.max_output_bytes)));
        let stderr = Arc::new(Mutex::new(TailBuffer::new(self.settings.max_output_bytes)));
        let attach = AttachContainerOptionsBuilder::default()
            .stream(true)
            .stdout(true)
            .stderr(true)
            // `logs` would ask the log driver (`none`) for history, which makes the engine
            // fail the attach; attaching before start loses nothing anyway.
            .logs(false)
            .build();
        let attached = match docker.attach_container(name, Some(attach)).await {
            Ok(a) => a,
            Err(e) => return ExecOutcome::infra(format!("could not attach to container: {e}")),
        };
        let reader = {
            let (out, err) = (stdout.clone(), stderr.clone());
            let mut output = attached.output;
            tokio::spawn(async move {
                while let Some(chunk) = output.next().await {
                    use bollard::container::LogOutput;
                    let chunk = match chunk {
                        Ok(chunk) => chunk,
                        Err(e) => {
                            // Dropping the stream closes it, so the engine never blocks on us.
                            tracing::warn!(error = %e, "container output stream failed");
                            break;
                        }
                    };
                    match chunk {
                        LogOutput::StdErr { message } => {
                            err.lock().expect("output lock").push(&message)
                        }
                        LogOutput::StdOut { message } | LogOutput::Console { message } => {
                            out.lock().expect("output lock").push(&message)
                        }
                        LogOutput::StdIn { .. } => {}
                    }
                }
            })
        };

        let started = Instant::now();
        if let Err(e) = docker.start_container(name, None).await {
            reader.abort();
            return ExecOutcome::infra(format!("could not start container: {e}"));
        }
        let wait_opts = WaitContainerOptionsBuilder::default()
            .condition("not-running")
            .build();
        let mut wait = Box::pin(docker.wait_container(name, Some(wait_opts)));
        let mut outcome = ExecOutcome::default();
        let waited = tokio::select! {
            w = wait.next() => Some(w),
            _ = tokio::time::sleep(spec.timeout) => {
                outcome.timed_out = true;
                outcome.error = Some(timeout_message(spec.timeout));
                None
            }
            _ = cancel.cancelled() => {
                outcome.cancelled = true;
                outcome.error = Some("cancelled".into());
                None
            }
        };
        let waited = match waited {
            Some(w) => w,
            None => {
                self.stop(docker, name).await;
                let limit = self.settings.kill_grace + STOP_SLACK;
                tokio::time::timeout(limit, wait.next())
                    .await
                    .ok()
                    .flatten()
            }
        };
        outcome.duration = started.elapsed();
        outcome.exit_code = match waited {
            Some(Ok(r)) => Some(r.status_code),
            Some(Err(DockerError::DockerContainerWaitError { code, .. })) => Some(code),
            _ => None,
        };

        // The engine's record is the authority on the exit code and the OOM kill.
        match docker
            .inspect_container(name, None::<InspectContainerOptions>)
            .await
        {
            Ok(info) => {
                let state = info.state.unwrap_or_default();
                if let Some(code) = state.exit_code {
                    outcome.exit_code = Some(code);
                }
                if state.oom_killed == Some(true) {
                    outcome.oom_killed = true;
                    outcome.exit_code = Some(137);
                    outcome.error = Some(format!(
                        "out of memory: killed at the {} MiB limit",
                        memory_mb(spec)
                    ));
                }
            }
            Err(e) if outcome.exit_code.is_none() => {
                outcome.infrastructure_error = true;
                outcome.error = Some(format!("lost track of the container: {e}"));
            }
            Err(_) => {}
        }
        if tokio::time::timeout(OUTPUT_DRAIN_TIMEOUT, reader)
            .await
            .is_err()
        {
            tracing::warn!(container = name, "output stream did not close in time");
        }
        let take = |b: &Arc<Mutex<TailBuffer>>| {
            std::mem::replace(&mut *b.lock().expect("output lock"), TailBuffer::new(0)).into_text()
        };
        outcome.stdout = take(&stdout);
        outcome.stderr = take(&stderr);
        outcome
    }

    /// SIGTERM, then SIGKILL after the kill grace (what `docker stop -t` does).
    async fn stop(&self, docker: &Docker, name: &str) {
        let grace = self.settings.kill_grace.as_secs_f64().ceil() as i32;
        let opts = StopContainerOptionsBuilder::default().t(grace).build();
        if let Err(e) = docker.stop_container(name, Some(opts)).await {
            tracing::warn!(container = name, error = %e, "stop failed");
        }
    }

    /// The container's configuration for this attempt.
    fn container_body(&self, spec: &ExecSpec, worker_id: &str) -> ContainerCreateBody {
        let network = spec.network && self.settings.allow_network;
        let mut env: Vec<String> = vec!["HOME=/work".into()];
        env.extend(spec.env.iter().map(|(k, v)| format!("{k}={v}")));
        let labels = HashMap::from([
            (LABEL_JOB_ID.to_string(), spec.job_id.clone()),
            (LABEL_ATTEMPT.to_string(), spec.attempt.to_string()),
            (LABEL_WORKER_ID.to_string(), worker_id.to_string()),
        ]);
        let memory = memory_mb(spec) * MIB;
        let host_config = HostConfig {
            binds: Some(vec![format!("{}:/work:rw", spec.work_dir.display())]),
            memory: Some(memory),
            memory_swap: Some(memory),
            nano_cpus: Some((spec.cpu * 1e9).round() as i64),
            network_mode: Some(if network { "bridge" } else { "none" }.to_string()),
            cap_drop: Some(vec!["ALL".into()]),
            security_opt: Some(vec!["no-new-privileges".into()]),
            pids_limit: Some(self.settings.pids_limit),
            readonly_rootfs: Some(true),
            tmpfs: Some(HashMap::from([("/tmp".into(), TMPFS_OPTIONS.into())])),
            init: Some(true),
            // Output is read from the attach stream; the engine need not store it too.
            log_config: Some(HostConfigLogConfig {
                typ: Some("none".into()),
                config: None,
            }),
            ..HostConfig::default()
        };
        ContainerCreateBody {
            image: Some(spec.image.clone()),
            // Set as the entrypoint so an image's own ENTRYPOINT cannot wrap the command.
            entrypoint: Some(vec!["sh".into(), "-c".into()]),
            cmd: Some(vec![spec.command.clone()]),
            env: Some(env),
            user: Some(JOB_USER.into()),
            working_dir: Some("/work".into()),
            labels: Some(labels),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            attach_stdin: Some(false),
            open_stdin: Some(false),
            tty: Some(false),
            network_disabled: Some(!network),
            host_config: Some(host_config),
            ..ContainerCreateBody::default()
        }
    }
}

impl DockerExecutor {
    /// True when the image is in the local engine (nothing is ever pulled).
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

    async fn cleanup_orphans(&self, worker_id: &str) -> usize {
        let docker = self.docker();
        let filters = HashMap::from([(
            "label".to_string(),
            vec![format!("{LABEL_WORKER_ID}={worker_id}")],
        )]);
        let opts = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        let Ok(containers) = docker.list_containers(Some(opts)).await else {
            return 0;
        };
        let mut removed = 0;
        for id in containers.into_iter().filter_map(|c| c.id) {
            if remove(&docker, &id).await {
                removed += 1;
            }
        }
        removed
    }

    async fn run(&self, spec: &ExecSpec, cancel: CancellationToken) -> ExecOutcome {
        let docker = self.docker();
        match docker.inspect_image(&spec.image).await {
            Ok(_) => {}
            Err(DockerError::DockerResponseServerError {
                status_code: 404, ..
            }) => {
                return ExecOutcome::infra(format!(
                    "image `{}` is not present on this worker (gantry never pulls: build or \
                     load it on the host first)",
                    spec.image
                ))
            }
            Err(e) => return ExecOutcome::infra(format!("Docker engine unusable: {e}")),
        }
        let work_dir = spec.work_dir.clone();
        match tokio::task::spawn_blocking(move || make_writable_for_job(&work_dir)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return ExecOutcome::infra(format!("could not prepare work folder: {e}")),
            Err(e) => return ExecOutcome::infra(format!("could not prepare work folder: {e}")),
        }
        let name = container_name(spec);
        let opts = CreateContainerOptionsBuilder::default().name(&name).build();
        let body = self.container_body(spec, &spec.worker_id);
        if let Err(e) = docker.create_container(Some(opts), body).await {
            return ExecOutcome::infra(format!("could not create container: {e}"));
        }
        let outcome = self.run_in(&docker, &name, spec, cancel).await;
        if !remove(&docker, &name).await {
            tracing::warn!(container = name, "container could not be removed");
        }
        outcome
    }
}

/// The job's memory limit in MiB, never below Docker's minimum.
fn memory_mb(spec: &ExecSpec) -> i64 {
    spec.ram_mb.max(MIN_MEMORY_MB)
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

/// Force-removes a container with its anonymous volumes; true when it is gone.
async fn remove(docker: &Docker, name: &str) -> bool {
    let opts = RemoveContainerOptionsBuilder::default()
        .force(true)
        .v(true)
        .build();
    match docker.remove_container(name, Some(opts)).await {
        Ok(()) => true,
        Err(DockerError::DockerResponseServerError {
            status_code: 404, ..
        }) => true,
        Err(e) => {
            tracing::warn!(container = name, error = %e, "remove failed");
            false
        }
    }
}

/// Lets the job's user (nobody) write the work folder: chown when the agent is root,
/// otherwise open the permissions.
fn make_writable_for_job(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let is_root = unsafe { libc::geteuid() } == 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        let meta = std::fs::symlink_metadata(&path)?;
        if meta.file_type().is_symlink() {
            continue;
        }
        if is_root {
            std::os::unix::fs::lchown(&path, Some(JOB_UID), Some(JOB_UID))?;
        } else {
            let mode = meta.permissions().mode() | if meta.is_dir() { 0o777 } else { 0o666 };
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
        }
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path)? {
                stack.push(entry?.path());
            }
        }
    }
    Ok(())
}
