//! One container's life: create it, attach to its output, start it (unless the attempt was
//! cancelled by then), wait for its end (or stop it at its timeout or on cancel), read the
//! engine's record of how it ended, and remove it.

use super::container::{container_body, memory_mb};
use super::guard::ContainerGuard;
use super::stats::UsageProbe;
use super::DockerSettings;
use crate::executor::output::TailBuffer;
use crate::executor::{timeout_message, ExecOutcome, ExecSpec};
use bollard::errors::Error as DockerError;
use bollard::models::ContainerWaitResponse;
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, CreateContainerOptionsBuilder, InspectContainerOptions,
    StopContainerOptionsBuilder, WaitContainerOptionsBuilder,
};
use bollard::Docker;
use futures::StreamExt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long to wait for the attach stream to close once the container stopped.
const OUTPUT_DRAIN_TIMEOUT: Duration = Duration::from_secs(3);
/// Extra time, beyond the kill grace, allowed for a stop to take effect.
const STOP_SLACK: Duration = Duration::from_secs(10);
/// The exit code reported for a container the kernel killed for memory (128 + SIGKILL).
const OOM_EXIT_CODE: i64 = 137;

/// A shared tail buffer, filled by the reader task.
type Sink = Arc<Mutex<TailBuffer>>;

/// A container's output streams, filled by a reader task until the stream closes.
struct Output {
    /// Standard output.
    stdout: Sink,
    /// Standard error.
    stderr: Sink,
    /// The task copying the attach stream into the buffers.
    reader: JoinHandle<()>,
}

/// Everything one container's life needs, owned so that it runs in a task of its own.
pub(super) struct ContainerLife {
    /// The engine the container lives in.
    pub(super) docker: Docker,
    /// Kill grace, output cap, network policy and pids limit.
    pub(super) settings: DockerSettings,
    /// The attempt the container runs.
    pub(super) spec: ExecSpec,
    /// Where the removal of a container whose task panicked runs.
    pub(super) containers: TaskTracker,
}

impl ContainerLife {
    /// Creates the container, runs the attempt in it, and removes it on every path.
    pub(super) async fn run(self, cancel: CancellationToken) -> ExecOutcome {
        let name = super::container_name(&self.spec);
        // Owned from before the create call: a create whose answer is lost still made it.
        let container = ContainerGuard::new(self.docker.clone(), name, self.containers.clone());
        let opts = CreateContainerOptionsBuilder::default()
            .name(container.name())
            .build();
        let body = container_body(&self.settings, &self.spec);
        let outcome = match self.docker.create_container(Some(opts), body).await {
            Ok(created) => self.run_in(container.name(), &created.id, cancel).await,
            Err(e) => ExecOutcome::infra(format!("could not create container: {e}")),
        };
        container.remove().await;
        outcome
    }

    /// Runs the attempt in the created container `name` (full id `id`) and collects its
    /// outcome, with what it used.
    async fn run_in(&self, name: &str, id: &str, cancel: CancellationToken) -> ExecOutcome {
        let (docker, spec) = (&self.docker, &self.spec);
        let output = match attach(docker, name, self.settings.max_output_bytes).await {
            Ok(output) => output,
            Err(e) => return ExecOutcome::infra(format!("could not attach to container: {e}")),
        };
        if cancel.is_cancelled() {
            // Stopped between create and start: never start it (the caller removes it).
            output.reader.abort();
            return ExecOutcome {
                cancelled: true,
                error: Some("cancelled".into()),
                ..ExecOutcome::default()
            };
        }
        let started = Instant::now();
        if let Err(e) = docker.start_container(name, None).await {
            output.reader.abort();
            return ExecOutcome::infra(format!("could not start container: {e}"));
        }
        let probe = UsageProbe::start(docker, id, self.settings.usage_interval);
        let mut outcome = ExecOutcome::default();
        let waited = self.wait_or_stop(name, cancel, &mut outcome).await;
        outcome.duration = started.elapsed();
        let used = probe.finish().await;
        outcome.usage.run_ms = Some(outcome.duration.as_millis() as i64);
        outcome.usage.cpu_seconds = used.cpu_seconds();
        outcome.usage.peak_memory_mb = used.peak_memory_mb();
        outcome.exit_code = match waited {
            Some(Ok(r)) => Some(r.status_code),
            Some(Err(DockerError::DockerContainerWaitError { code, .. })) => Some(code),
            _ => None,
        };
        read_final_state(docker, name, spec, &mut outcome).await;
        (outcome.stdout, outcome.stderr) = output.collect(name).await;
        outcome
    }

    /// Waits for the container to stop; at the timeout or on cancel, marks the outcome so
    /// and stops it. `None` when even the stop did not end it in time.
    async fn wait_or_stop(
        &self,
        name: &str,
        cancel: CancellationToken,
        outcome: &mut ExecOutcome,
    ) -> Option<Result<ContainerWaitResponse, DockerError>> {
        let (docker, spec) = (&self.docker, &self.spec);
        let wait_opts = WaitContainerOptionsBuilder::default()
            .condition("not-running")
            .build();
        let mut wait = Box::pin(docker.wait_container(name, Some(wait_opts)));
        tokio::select! {
            w = wait.next() => return w,
            _ = tokio::time::sleep(spec.timeout) => {
                outcome.timed_out = true;
                outcome.error = Some(timeout_message(spec.timeout));
            }
            _ = cancel.cancelled() => {
                outcome.cancelled = true;
                outcome.error = Some("cancelled".into());
            }
        }
        self.stop(name).await;
        let limit = self.settings.kill_grace + STOP_SLACK;
        tokio::time::timeout(limit, wait.next())
            .await
            .ok()
            .flatten()
    }

    /// SIGTERM, then SIGKILL after the kill grace (what `docker stop -t` does).
    async fn stop(&self, name: &str) {
        let grace = self.settings.kill_grace.as_secs_f64().ceil() as i32;
        let opts = StopContainerOptionsBuilder::default().t(grace).build();
        if let Err(e) = self.docker.stop_container(name, Some(opts)).await {
            tracing::warn!(container = name, error = %e, "stop failed");
        }
    }
}

/// Attaches to the container's output (before it starts, so nothing is lost) and spawns the
/// task that copies it into two tail buffers of `max_bytes`.
async fn attach(docker: &Docker, name: &str, max_bytes: usize) -> Result<Output, DockerError> {
    let stdout: Sink = Arc::new(Mutex::new(TailBuffer::new(max_bytes)));
    let stderr: Sink = Arc::new(Mutex::new(TailBuffer::new(max_bytes)));
    let attach = AttachContainerOptionsBuilder::default()
        .stream(true)
        .stdout(true)
        .stderr(true)
        // `logs` would ask the log driver (`none`) for history, which makes the engine
        // fail the attach; attaching before start loses nothing anyway.
        .logs(false)
        .build();
    let attached = docker.attach_container(name, Some(attach)).await?;
    let (out, err) = (stdout.clone(), stderr.clone());
    let mut stream = attached.output;
    let reader = tokio::spawn(async move {
        while let Some(chunk) = stream.next().await {
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
                LogOutput::StdErr { message } => err.lock().expect("output lock").push(&message),
                LogOutput::StdOut { message } | LogOutput::Console { message } => {
                    out.lock().expect("output lock").push(&message)
                }
                LogOutput::StdIn { .. } => {}
            }
        }
    });
    Ok(Output {
        stdout,
        stderr,
        reader,
    })
}

impl Output {
    /// Waits a little for the stream to close, then takes the two tails as text.
    async fn collect(self, name: &str) -> (String, String) {
        if tokio::time::timeout(OUTPUT_DRAIN_TIMEOUT, self.reader)
            .await
            .is_err()
        {
            tracing::warn!(container = name, "output stream did not close in time");
        }
        let take = |b: &Sink| {
            std::mem::replace(&mut *b.lock().expect("output lock"), TailBuffer::new(0)).into_text()
        };
        (take(&self.stdout), take(&self.stderr))
    }
}

/// Reads the engine's record, the authority on the exit code and the OOM kill.
async fn read_final_state(docker: &Docker, name: &str, spec: &ExecSpec, outcome: &mut ExecOutcome) {
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
                outcome.exit_code = Some(OOM_EXIT_CODE);
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
}
