//! The executor for `ENABLE_DOCKER=false`: `sh -c` as a child process in the work folder, in
//! its own process group so a timeout or cancel reaches everything it started.

use super::output::TailBuffer;
use super::{timeout_message, ExecOutcome, ExecSpec, Executor};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long to wait for the output pipes to close once the command has ended.
const PIPE_DRAIN_TIMEOUT: Duration = Duration::from_secs(2);
/// Size of one read from an output pipe.
const READ_CHUNK: usize = 64 * 1024;
/// The PATH given to commands (the agent's own environment is not passed on).
const CHILD_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Runs commands as local processes: no isolation beyond a clean environment and a process
/// group, for hosts without Docker.
#[derive(Debug, Clone)]
pub struct ProcessExecutor {
    /// Time between SIGTERM and SIGKILL.
    kill_grace: Duration,
    /// Bytes kept of each output stream.
    max_output_bytes: usize,
}

impl ProcessExecutor {
    /// An executor with the given kill grace and output cap.
    pub fn new(kill_grace: Duration, max_output_bytes: usize) -> ProcessExecutor {
        ProcessExecutor {
            kill_grace,
            max_output_bytes,
        }
    }
}

/// Why the wait for the command ended early.
enum Stop {
    /// The timeout passed.
    Timeout,
    /// The cancellation token fired.
    Cancel,
}

#[async_trait::async_trait]
impl Executor for ProcessExecutor {
    fn kind(&self) -> &'static str {
        "process"
    }

    async fn healthy(&self) -> bool {
        true
    }

    async fn run(&self, spec: &ExecSpec, cancel: CancellationToken) -> ExecOutcome {
        let started = Instant::now();
        // The agent's environment (which may hold its token) is not inherited.
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(&spec.command)
            .current_dir(&spec.work_dir)
            .env_clear()
            .env("PATH", CHILD_PATH)
            .env("HOME", &spec.work_dir)
            .envs(spec.environment())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let mut child = match cmd.spawn() {
            Ok(child) => child,
            Err(e) => return ExecOutcome::infra(format!("could not start sh: {e}")),
        };
        let pgid = child.id().map(|id| id as i32);
        let stdout = Arc::new(Mutex::new(TailBuffer::new(self.max_output_bytes)));
        let stderr = Arc::new(Mutex::new(TailBuffer::new(self.max_output_bytes)));
        let readers = [
            child.stdout.take().map(|p| spawn_reader(p, stdout.clone())),
            child.stderr.take().map(|p| spawn_reader(p, stderr.clone())),
        ];

        let stop = tokio::select! {
            status = child.wait() => {
                let status = status.map_err(|e| e.to_string());
                return self.finish(pgid, status, None, started, readers, stdout, stderr).await;
            }
            _ = tokio::time::sleep(spec.timeout) => Stop::Timeout,
            _ = cancel.cancelled() => Stop::Cancel,
        };
        signal_group(pgid, libc::SIGTERM);
        let status = match tokio::time::timeout(self.kill_grace, child.wait()).await {
            Ok(status) => status,
            Err(_) => {
                signal_group(pgid, libc::SIGKILL);
                child.wait().await
            }
        };
        let status = status.map_err(|e| e.to_string());
        let stop = Some((stop, spec.timeout));
        self.finish(pgid, status, stop, started, readers, stdout, stderr)
            .await
    }
}

impl ProcessExecutor {
    /// Kills what is left of the group, collects the output and builds the outcome.
    #[allow(clippy::too_many_arguments)]
    async fn finish(
        &self,
        pgid: Option<i32>,
        status: Result<std::process::ExitStatus, String>,
        stop: Option<(Stop, Duration)>,
        started: Instant,
        readers: [Option<JoinHandle<()>>; 2],
        stdout: Arc<Mutex<TailBuffer>>,
        stderr: Arc<Mutex<TailBuffer>>,
    ) -> ExecOutcome {
        let duration = started.elapsed();
        // Background children of the command would hold the pipes open: they end with it.
        signal_group(pgid, libc::SIGKILL);
        for reader in readers.into_iter().flatten() {
            let _ = tokio::time::timeout(PIPE_DRAIN_TIMEOUT, reader).await;
        }
        let take = |b: &Arc<Mutex<TailBuffer>>| {
            std::mem::replace(&mut *b.lock().expect("output lock"), TailBuffer::new(0)).into_text()
        };
        let mut outcome = ExecOutcome {
            stdout: take(&stdout),
            stderr: take(&stderr),
            duration,
            ..ExecOutcome::default()
        };
        match status {
            Ok(status) => {
                use std::os::unix::process::ExitStatusExt;
                outcome.exit_code = status
                    .code()
                    .or_else(|| status.signal().map(|s| 128 + s))
                    .map(i64::from);
            }
            Err(e) => {
                outcome.infrastructure_error = true;
                outcome.error = Some(format!("could not wait for the command: {e}"));
            }
        }
        match stop {
            Some((Stop::Timeout, timeout)) => {
                outcome.timed_out = true;
                outcome.error = Some(timeout_message(timeout));
            }
            Some((Stop::Cancel, _)) => {
                outcome.cancelled = true;
                outcome.error = Some("cancelled".into());
            }
            None => {}
        }
        outcome
    }
}

/// Copies a pipe into a tail buffer until it closes.
fn spawn_reader<R: AsyncRead + Unpin + Send + 'static>(
    mut pipe: R,
    sink: Arc<Mutex<TailBuffer>>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut chunk = vec![0u8; READ_CHUNK];
        loop {
            match pipe.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => sink.lock().expect("output lock").push(&chunk[..n]),
            }
        }
    })
}

/// Sends `signal` to the whole process group; a group already gone is fine.
fn signal_group(pgid: Option<i32>, signal: i32) {
    if let Some(pgid) = pgid.filter(|p| *p > 1) {
        // SAFETY: killpg only sends a signal; a stale group id yields ESRCH, which is ignored.
        unsafe {
            libc::killpg(pgid, signal);
        }
    }
}
