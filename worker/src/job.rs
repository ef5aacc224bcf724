//! One job's life on the worker (start, work folder, executor, result) and the table of
//! running jobs that heartbeats, polls and stop instructions share.

use crate::agent::Agent;
use crate::client::{ClientError, Retry};
use crate::executor::{ExecOutcome, ExecSpec};
use crate::workspace::{Workspace, WorkspaceError};
use gantry_api::{Job, StartJobRequest, StopJob, StopReason, SubmitResultRequest};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How many `(job, attempt)` pairs are remembered to refuse a second run.
const SEEN_CAPACITY: usize = 10_000;
/// Tries of the start call.
const START_TRIES: u32 = 5;
/// The error reported for attempts handed back at shutdown.
pub const SHUTDOWN_ERROR: &str = "worker shutting down";

/// The error reported for attempts stopped because the server was unreachable.
pub const LOST_SERVER_ERROR: &str =
    "stopped by its worker, which lost the server (so that it never runs twice at once)";

/// Why a running job was stopped from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopCause {
    /// The server said so, for this reason.
    Server(StopReason),
    /// The agent is shutting down and hands the job back.
    Shutdown,
    /// The server has been away for most of its heartbeat timeout (see `fence.rs`).
    LostServer,
}

/// A job running here.
#[derive(Debug)]
struct Running {
    /// Its attempt number.
    attempt: i64,
    /// Stops it.
    cancel: CancellationToken,
    /// Why it was stopped, once it was.
    cause: Option<StopCause>,
}

/// The running jobs and the attempts already seen. A std mutex: it is held only for map
/// operations, never across an await.
#[derive(Debug, Default)]
pub(crate) struct JobTable {
    /// Guarded state.
    inner: Mutex<TableInner>,
}

/// The state behind [`JobTable`].
#[derive(Debug, Default)]
struct TableInner {
    /// Running jobs by id.
    running: HashMap<String, Running>,
    /// Attempts ever admitted (bounded, oldest forgotten first).
    seen: HashSet<(String, i64)>,
    /// Admission order of `seen`.
    seen_order: VecDeque<(String, i64)>,
}

impl JobTable {
    /// Admits a delivered job unless this attempt was seen before; returns its cancel token.
    pub(crate) fn admit(&self, job: Job) -> Option<(Job, CancellationToken)> {
        let mut inner = self.inner.lock().expect("job table lock");
        let key = (job.id.clone(), job.attempts);
        if inner.seen.contains(&key) {
            tracing::debug!(
                job_id = job.id,
                attempt = job.attempts,
                "duplicate delivery ignored"
            );
            return None;
        }
        inner.seen.insert(key.clone());
        inner.seen_order.push_back(key);
        while inner.seen_order.len() > SEEN_CAPACITY {
            if let Some(old) = inner.seen_order.pop_front() {
                inner.seen.remove(&old);
            }
        }
        let cancel = CancellationToken::new();
        let previous = inner.running.insert(
            job.id.clone(),
            Running {
                attempt: job.attempts,
                cancel: cancel.clone(),
                cause: None,
            },
        );
        if let Some(old) = previous {
            // A newer attempt of a job still running here: the old one is stale.
            tracing::warn!(
                job_id = job.id,
                old = old.attempt,
                "newer attempt delivered"
            );
            old.cancel.cancel();
        }
        Some((job, cancel))
    }

    /// Forgets a job that ended (only if it is still the same attempt).
    pub(crate) fn finish(&self, job_id: &str, attempt: i64) {
        let mut inner = self.inner.lock().expect("job table lock");
        if inner
            .running
            .get(job_id)
            .is_some_and(|r| r.attempt == attempt)
        {
            inner.running.remove(job_id);
        }
    }

    /// Ids of the jobs running here.
    pub(crate) fn running_ids(&self) -> Vec<String> {
        let inner = self.inner.lock().expect("job table lock");
        let mut ids: Vec<String> = inner.running.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// How many jobs run here.
    pub(crate) fn len(&self) -> usize {
        self.inner.lock().expect("job table lock").running.len()
    }

    /// Stops the jobs the server lists.
    pub(crate) fn stop(&self, stops: &[StopJob]) {
        let mut inner = self.inner.lock().expect("job table lock");
        for stop in stops {
            if let Some(job) = inner.running.get_mut(&stop.job_id) {
                if job.cause.is_none() {
                    tracing::info!(job_id = stop.job_id, reason = ?stop.reason, "stopping job");
                    job.cause = Some(StopCause::Server(stop.reason));
                }
                job.cancel.cancel();
            }
        }
    }

    /// Stops every running job for `cause`; returns how many.
    pub(crate) fn stop_all(&self, cause: StopCause) -> usize {
        let mut inner = self.inner.lock().expect("job table lock");
        for job in inner.running.values_mut() {
            job.cause.get_or_insert(cause);
            job.cancel.cancel();
        }
        inner.running.len()
    }

    /// Why a job was stopped, if it was.
    fn cause(&self, job_id: &str, attempt: i64) -> Option<StopCause> {
        let inner = self.inner.lock().expect("job table lock");
        inner
            .running
            .get(job_id)
            .filter(|r| r.attempt == attempt)
            .and_then(|r| r.cause)
    }
}

impl Agent {
    /// One attempt from start to reported result; always frees its slot.
    pub(crate) async fn run_job(self: Arc<Self>, job: Job, cancel: CancellationToken) {
        let (id, attempt) = (job.id.clone(), job.attempts);
        let result = self.attempt(job, cancel).await;
        if let Some(result) = result {
            self.submit(result).await;
        }
        self.jobs.finish(&id, attempt);
        self.slot_freed.notify_one();
    }

    /// Starts and runs the attempt; `None` when it is not ours to report.
    async fn attempt(&self, job: Job, cancel: CancellationToken) -> Option<SubmitResultRequest> {
        let worker_id = self.worker_id();
        let start = StartJobRequest {
            worker_id: worker_id.clone(),
            job_id: job.id.clone(),
            attempt: job.attempts,
        };
        let retry = Retry::times(START_TRIES, &self.give_up);
        match self.client.start_job(&start, &retry).await {
            Ok(_) => {}
            Err(e) if e.is_conflict() => {
                tracing::info!(
                    job_id = job.id,
                    attempt = job.attempts,
                    "start refused: not ours"
                );
                return None;
            }
            Err(e) => {
                let outcome = ExecOutcome::infra(format!("could not report the start: {e}"));
                return Some(self.result_of(&job, outcome));
            }
        }
        tracing::info!(job_id = job.id, attempt = job.attempts, "job started");
        let mut outcome = self.execute(&job, &worker_id, cancel).await;
        match self.jobs.cause(&job.id, job.attempts) {
            Some(StopCause::Shutdown) => {
                outcome.infrastructure_error = true;
                outcome.error = Some(SHUTDOWN_ERROR.into());
            }
            Some(StopCause::LostServer) => {
                outcome.infrastructure_error = true;
                outcome.error = Some(LOST_SERVER_ERROR.into());
            }
            Some(StopCause::Server(StopReason::TimedOut)) => {
                outcome.timed_out = true;
                outcome.error = Some("timed out (stopped by the server)".into());
            }
            Some(StopCause::Server(reason)) if outcome.cancelled => {
                outcome.error = Some(format!("stopped by the server ({reason:?})"));
            }
            _ => {}
        }
        Some(self.result_of(&job, outcome))
    }

    /// Prepares the work folder, runs the executor and removes the folder.
    async fn execute(&self, job: &Job, worker_id: &str, cancel: CancellationToken) -> ExecOutcome {
        let root = self.config.work_root();
        let workspace = match Workspace::create(&root, &job.id, job.attempts) {
            Ok(w) => w,
            Err(e) => return ExecOutcome::infra(e.to_string()),
        };
        if let Some(url) = job.file_url.as_deref().filter(|u| !u.is_empty()) {
            let fetched = workspace
                .fetch_input(&self.client, url, job.filename.as_deref(), &cancel)
                .await;
            match fetched {
                Ok(_) => {}
                Err(WorkspaceError::Job(e)) => {
                    workspace.remove().await;
                    return ExecOutcome {
                        error: Some(e),
                        ..ExecOutcome::default()
                    };
                }
                Err(WorkspaceError::Infra(e)) => {
                    workspace.remove().await;
                    let mut outcome = ExecOutcome::infra(e);
                    outcome.cancelled = cancel.is_cancelled();
                    return outcome;
                }
            }
        }
        let spec = self.spec_for(job, worker_id, workspace.path());
        let outcome = self.executor.run(&spec, cancel).await;
        workspace.remove().await;
        tracing::info!(
            job_id = job.id,
            attempt = job.attempts,
            exit_code = ?outcome.exit_code,
            timed_out = outcome.timed_out,
            oom_killed = outcome.oom_killed,
            error = ?outcome.error,
            "job ended"
        );
        outcome
    }

    /// The executor's view of a job, with this worker's defaults filled in.
    fn spec_for(&self, job: &Job, worker_id: &str, work_dir: &std::path::Path) -> ExecSpec {
        let cap = self.config.docker_timeout;
        let timeout = if job.timeout_ms > 0 {
            Duration::from_millis(job.timeout_ms as u64).min(cap)
        } else {
            cap
        };
        ExecSpec {
            job_id: job.id.clone(),
            attempt: job.attempts,
            worker_id: worker_id.to_string(),
            command: job.command.clone(),
            image: job
                .image
                .clone()
                .filter(|i| !i.is_empty())
                .unwrap_or_else(|| self.config.default_image.clone()),
            env: job.env.clone(),
            cpu: if job.required_cpu > 0.0 {
                job.required_cpu
            } else {
                self.config.docker_cpu_limit
            },
            ram_mb: if job.required_ram_mb > 0 {
                job.required_ram_mb
            } else {
                self.config.docker_memory_limit
            },
            network: job.network,
            timeout,
            work_dir: work_dir.to_path_buf(),
        }
    }

    /// The result body for an outcome.
    fn result_of(&self, job: &Job, outcome: ExecOutcome) -> SubmitResultRequest {
        SubmitResultRequest {
            worker_id: self.worker_id(),
            job_id: job.id.clone(),
            attempt: job.attempts,
            exit_code: outcome.exit_code,
            stdout: Some(outcome.stdout),
            stderr: Some(outcome.stderr),
            duration_ms: Some(outcome.duration.as_millis() as i64),
            error: outcome.error,
            timed_out: outcome.timed_out,
            oom_killed: outcome.oom_killed,
            infrastructure_error: outcome.infrastructure_error,
        }
    }

    /// Reports a result, retrying until the server accepts or refuses it (or the agent gives
    /// up at the very end of shutdown).
    async fn submit(&self, result: SubmitResultRequest) {
        let retry = Retry::forever(&self.give_up);
        match self.client.submit_result(&result, &retry).await {
            Ok(_) => tracing::debug!(job_id = result.job_id, "result accepted"),
            Err(e) if e.is_conflict() => tracing::info!(
                job_id = result.job_id,
                attempt = result.attempt,
                "result refused: the attempt is no longer ours"
            ),
            Err(ClientError::Abandoned) => {
                tracing::warn!(job_id = result.job_id, "result not delivered before exit")
            }
            Err(e) => tracing::warn!(job_id = result.job_id, error = %e, "result refused"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: &str, attempt: i64) -> Job {
        serde_json::from_value(serde_json::json!({
            "id": id, "status": "ASSIGNED", "command": "true", "image": null,
            "fileUrl": null, "filename": null, "env": {}, "requiredCpu": 1.0,
            "requiredRamMb": 64, "timeoutMs": 1000, "maxRetries": 0, "priority": 0,
            "network": false, "attempts": attempt, "failedAttempts": 0, "infraRetries": 0,
            "workerId": "w", "reason": null, "idempotencyKey": null, "createdAt": 0,
            "runAt": 0, "queuedAt": null, "assignedAt": null, "startedAt": null,
            "finishedAt": null, "exitCode": null, "stdout": null, "stderr": null,
            "error": null, "durationMs": null, "oomKilled": false
        }))
        .unwrap()
    }

    #[test]
    fn the_same_attempt_is_admitted_once() {
        let table = JobTable::default();
        assert!(table.admit(job("a", 1)).is_some());
        assert!(table.admit(job("a", 1)).is_none());
        assert_eq!(table.running_ids(), vec!["a".to_string()]);
        table.finish("a", 1);
        assert!(
            table.admit(job("a", 1)).is_none(),
            "still remembered after it ended"
        );
        assert!(table.admit(job("a", 2)).is_some());
    }

    #[test]
    fn stops_cancel_and_remember_why() {
        let table = JobTable::default();
        let (_, cancel) = table.admit(job("b", 3)).unwrap();
        table.stop(&[StopJob {
            job_id: "b".into(),
            reason: StopReason::Cancelled,
        }]);
        assert!(cancel.is_cancelled());
        assert_eq!(
            table.cause("b", 3),
            Some(StopCause::Server(StopReason::Cancelled))
        );
        assert_eq!(table.stop_all(StopCause::Shutdown), 1);
        assert_eq!(
            table.cause("b", 3),
            Some(StopCause::Server(StopReason::Cancelled)),
            "the first cause wins"
        );
    }
}
