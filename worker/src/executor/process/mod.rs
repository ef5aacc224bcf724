//! The executor for `ENABLE_DOCKER=false`: `sh -c` as a child process in the work folder, in
//! its own process group so a timeout or cancel reaches everything it started.
//!
//! A job never outlives the agent unnoticed: its `sh` dies with the agent (`child.rs`), and its
//! process group is recorded in the state folder (`groups.rs`) so that the agent's next start
//! kills whatever the command left behind before it takes work. The attempt's CPU time and peak
//! memory come from the `sh`'s rusage.

mod child;
pub mod groups;
mod launch;

use super::output::TailBuffer;
use super::{timeout_message, ExecOutcome, ExecSpec, Executor};
use child::{Child, Rusage};
use groups::{proc_stat, GroupRecord, GroupRecords};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long to wait for the output pipes to close once the command has ended.
const PIPE_DRAIN_TIMEOUT: Duration = Duration::from_secs(2);
/// Size of one read from an output pipe.
const READ_CHUNK: usize = 64 * 1024;
/// The PATH given to commands (the agent's own environment is not passed on).
const CHILD_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The shell every command runs in: the first `sh` on [`CHILD_PATH`].
fn shell() -> &'static CString {
    static SHELL: std::sync::OnceLock<CString> = std::sync::OnceLock::new();
    SHELL.get_or_init(|| {
        let found = CHILD_PATH
            .split(':')
            .map(|dir| std::path::Path::new(dir).join("sh"))
            .find(|path| path.is_file())
            .unwrap_or_else(|| PathBuf::from("/bin/sh"));
        CString::new(found.into_os_string().as_bytes()).expect("a path holds no NUL")
    })
}

/// What to start for `spec`: `sh -c COMMAND` in the work folder with a clean environment (the
/// agent's own, which may hold its token, is not passed on). An error names what in the job
/// cannot be passed to a process (a NUL byte), which is the job's fault.
fn launch_spec(spec: &ExecSpec) -> Result<launch::LaunchSpec, String> {
    let text = |what: &str, value: &[u8]| {
        CString::new(value).map_err(|_| format!("the job's {what} holds a NUL byte"))
    };
    // The job's own variables win over the defaults, as they would with `Command::envs`.
    let mut vars: std::collections::BTreeMap<String, Vec<u8>> = std::collections::BTreeMap::from([
        ("PATH".to_string(), CHILD_PATH.as_bytes().to_vec()),
        (
            "HOME".to_string(),
            spec.work_dir.as_os_str().as_bytes().to_vec(),
        ),
    ]);
    for (name, value) in spec.environment() {
        if name.is_empty() || name.contains('=') {
            return Err(format!(
                "the job's environment variable name `{name}` is not valid"
            ));
        }
        vars.insert(name, value.into_bytes());
    }
    let envp = vars
        .into_iter()
        .map(|(name, value)| text("environment", &[name.as_bytes(), b"=", &value].concat()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(launch::LaunchSpec {
        program: shell().clone(),
        argv: vec![
            text("shell", b"sh")?,
            text("shell", b"-c")?,
            text("command", spec.command.as_bytes())?,
        ],
        envp,
        cwd: text("work folder", spec.work_dir.as_os_str().as_bytes())?,
    })
}

/// Runs commands as local processes: no isolation beyond a clean environment and a process
/// group, for hosts without Docker.
#[derive(Debug, Clone)]
pub struct ProcessExecutor {
    /// Time between SIGTERM and SIGKILL.
    kill_grace: Duration,
    /// Bytes kept of each output stream.
    max_output_bytes: usize,
    /// Where running jobs' process groups are recorded; `None`: not recorded (tests).
    groups: Option<GroupRecords>,
}

impl ProcessExecutor {
    /// An executor with the given kill grace and output cap, recording nothing.
    pub fn new(kill_grace: Duration, max_output_bytes: usize) -> ProcessExecutor {
        ProcessExecutor {
            kill_grace,
            max_output_bytes,
            groups: None,
        }
    }

    /// The same executor, recording each job's process group under `state_dir` (the agent's
    /// state folder), so that [`Executor::stop_earlier_life`] can find them after a crash.
    pub fn recording_groups_in(mut self, state_dir: PathBuf) -> ProcessExecutor {
        self.groups = Some(GroupRecords::in_dir(&state_dir));
        self
    }

    /// Records the group of a started attempt; the record's path, to remove at its end.
    fn record(&self, spec: &ExecSpec, child: &Child) -> Result<Option<PathBuf>, String> {
        let Some(groups) = &self.groups else {
            return Ok(None);
        };
        let (_, start_ticks) = proc_stat(child.pid).ok_or("the job's process vanished")?;
        let record = GroupRecord {
            job_id: spec.job_id.clone(),
            attempt: spec.attempt,
            pgid: child.pid,
            start_ticks,
        };
        groups
            .add(&record)
            .map(Some)
            .map_err(|e| format!("cannot record the job's process group: {e}"))
    }
}

/// Why the wait for the command ended early.
enum Stop {
    /// The timeout passed.
    Timeout,
    /// The cancellation token fired.
    Cancel,
}

/// Removes a group record when the attempt is over, however it ends.
struct RecordGuard(Option<PathBuf>);

impl Drop for RecordGuard {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[async_trait::async_trait]
impl Executor for ProcessExecutor {
    fn kind(&self) -> &'static str {
        "process"
    }

    fn starts_at_once(&self) -> bool {
        true
    }

    async fn healthy(&self) -> bool {
        true
    }

    async fn stop_earlier_life(&self, _worker_id: &str) -> Result<usize, String> {
        let Some(groups) = self.groups.clone() else {
            return Ok(0);
        };
        tokio::task::spawn_blocking(move || groups.kill_all())
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("cannot stop the jobs of an earlier run: {e}"))
    }

    async fn cleanup_orphans(&self, worker_id: &str) -> usize {
        // At exit every attempt has ended; records left belong to aborted attempts.
        self.stop_earlier_life(worker_id).await.unwrap_or(0)
    }

    async fn run(&self, spec: &ExecSpec, cancel: CancellationToken) -> ExecOutcome {
        let started = Instant::now();
        let launch = match launch_spec(spec) {
            Ok(launch) => launch,
            Err(why) => {
                return ExecOutcome {
                    error: Some(why),
                    permanent: true,
                    ..ExecOutcome::default()
                }
            }
        };
        let mut child = match child::spawn(launch).await {
            Ok(child) => child,
            Err(e) => return ExecOutcome::infra(format!("could not start sh: {e}")),
        };
        let _record = match self.record(spec, &child) {
            Ok(path) => RecordGuard(path),
            // Dropping the child kills it: a job the next life could not find must not run.
            Err(e) => return ExecOutcome::infra(e),
        };
        let stdout = Arc::new(Mutex::new(TailBuffer::new(self.max_output_bytes)));
        let stderr = Arc::new(Mutex::new(TailBuffer::new(self.max_output_bytes)));
        let readers = [
            child.stdout.take().map(|p| spawn_reader(p, stdout.clone())),
            child.stderr.take().map(|p| spawn_reader(p, stderr.clone())),
        ];
        let output = Output {
            readers,
            stdout,
            stderr,
        };
        let stop = tokio::select! {
            exited = child.exited() => {
                let ended = exited.map(|()| started.elapsed());
                return self.finish(child, ended, None, output).await;
            }
            _ = tokio::time::sleep(spec.timeout) => Stop::Timeout,
            _ = cancel.cancelled() => Stop::Cancel,
        };
        child.signal_group(libc::SIGTERM);
        let ended = match child.exited_within(self.kill_grace).await {
            Ok(true) => Ok(()),
            Ok(false) => {
                child.signal_group(libc::SIGKILL);
                child.exited().await
            }
            Err(e) => Err(e),
        };
        let ended = ended.map(|()| started.elapsed());
        self.finish(child, ended, Some((stop, spec.timeout)), output)
            .await
    }
}

/// The output pipes' readers and where they write.
struct Output {
    /// The stdout and stderr copying tasks.
    readers: [Option<JoinHandle<()>>; 2],
    /// Tail of standard output.
    stdout: Arc<Mutex<TailBuffer>>,
    /// Tail of standard error.
    stderr: Arc<Mutex<TailBuffer>>,
}

impl ProcessExecutor {
    /// Kills what is left of the group, reaps the `sh`, collects the output and builds the
    /// outcome. `ended` is the time the command took, or why waiting for it failed.
    async fn finish(
        &self,
        mut child: Child,
        ended: std::io::Result<Duration>,
        stop: Option<(Stop, Duration)>,
        output: Output,
    ) -> ExecOutcome {
        // Background children of the command would hold the pipes open: they end with it.
        // The leader is not reaped yet, so the group id cannot belong to anyone else.
        child.signal_group(libc::SIGKILL);
        let reaped = ended.and_then(|duration| child.reap().map(|r| (duration, r)));
        for reader in output.readers.into_iter().flatten() {
            let _ = tokio::time::timeout(PIPE_DRAIN_TIMEOUT, reader).await;
        }
        let take = |b: &Arc<Mutex<TailBuffer>>| {
            std::mem::replace(&mut *b.lock().expect("output lock"), TailBuffer::new(0)).into_text()
        };
        let mut outcome = ExecOutcome {
            stdout: take(&output.stdout),
            stderr: take(&output.stderr),
            ..ExecOutcome::default()
        };
        match reaped {
            Ok((duration, (status, usage))) => {
                use std::os::unix::process::ExitStatusExt;
                outcome.exit_code = status
                    .code()
                    .or_else(|| status.signal().map(|s| 128 + s))
                    .map(i64::from);
                outcome.duration = duration;
                outcome.usage = usage_of(duration, usage, child.peak_memory_mb(&usage));
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

/// The attempt's usage: its run time, its rusage's CPU time and the peak memory that can be
/// told apart from the agent's (see `Child::peak_memory_mb`).
fn usage_of(run: Duration, usage: Rusage, peak_memory_mb: Option<f64>) -> gantry_api::AttemptUsage {
    gantry_api::AttemptUsage {
        cpu_seconds: Some(usage.cpu_seconds),
        peak_memory_mb,
        pull_ms: None,
        run_ms: Some(run.as_millis() as i64),
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
