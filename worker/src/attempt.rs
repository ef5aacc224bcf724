//! One attempt's life on the worker: report the start, prepare the work folder, run the
//! executor, report the result, and free the slot.

use crate::client::{Batcher, ClientError, ResultRoute, ServerClient, StartRoute};
use crate::config::Config;
use crate::executor::{ExecOutcome, ExecSpec, Executor};
use crate::fence::Fence;
use crate::job_table::{JobTable, StopCause};
use crate::pull_step::PullStep;
use crate::work_folders::WorkFolders;
use crate::worker_id::WorkerId;
use crate::workspace::WorkspaceError;
use gantry_api::{Job, JobStatus, PullPolicy, StartJobRequest, StopReason, SubmitResultRequest};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Longest a delivered job waits for a fresh heartbeat answer after a silence.
const FENCE_WAIT: Duration = Duration::from_secs(5);
/// How often a waiting start looks at the fence again.
const FENCE_RECHECK: Duration = Duration::from_millis(20);

/// Tries of the start call.
pub(crate) const START_TRIES: u32 = 5;

/// The error reported for attempts handed back at shutdown.
pub const SHUTDOWN_ERROR: &str = "worker shutting down";

/// The error reported for attempts stopped because the server was unreachable.
pub const LOST_SERVER_ERROR: &str =
    "stopped by its worker, which lost the server (so that it never runs twice at once)";

/// The settings an attempt reads: where work folders go and what a job that asks for
/// nothing gets.
#[derive(Debug, Clone)]
pub(crate) struct AttemptDefaults {
    /// The longest an attempt may run here, and the timeout of jobs that name none.
    pub(crate) timeout_cap: Duration,
    /// The image of jobs that name none.
    pub(crate) image: String,
    /// CPU cores for jobs that ask for 0.
    pub(crate) cpu: f64,
    /// Memory in MiB for jobs that ask for 0.
    pub(crate) ram_mb: i64,
    /// When images are pulled for jobs that name no pull policy.
    pub(crate) pull: PullPolicy,
}

impl AttemptDefaults {
    /// The defaults of a validated configuration.
    pub(crate) fn from_config(config: &Config) -> AttemptDefaults {
        AttemptDefaults {
            timeout_cap: config.docker_timeout,
            image: config.default_image.clone(),
            cpu: config.docker_cpu_limit,
            ram_mb: config.docker_memory_limit,
            pull: config.pull_policy,
        }
    }

    /// The job's image, or the default one.
    pub(crate) fn image_of(&self, job: &Job) -> String {
        job.image
            .clone()
            .filter(|i| !i.is_empty())
            .unwrap_or_else(|| self.image.clone())
    }

    /// The executor's view of a job, with these defaults filled in.
    fn spec_for(&self, job: &Job, worker_id: &str, work_dir: &Path) -> ExecSpec {
        let cap = self.timeout_cap;
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
            image: self.image_of(job),
            env: job.env.clone(),
            cpu: if job.required_cpu > 0.0 {
                job.required_cpu
            } else {
                self.cpu
            },
            ram_mb: if job.required_ram_mb > 0 {
                job.required_ram_mb
            } else {
                self.ram_mb
            },
            network: job.network,
            timeout,
            work_dir: work_dir.to_path_buf(),
        }
    }
}

/// Runs attempts: what one needs from the agent, and nothing more.
pub(crate) struct Attempts {
    /// Downloads input files.
    pub(crate) client: Arc<ServerClient>,
    /// Reports starts, in batches with those of other slots (a bounded number of tries).
    pub(crate) starts: Batcher<StartRoute>,
    /// Reports results, in batches with those of other slots (retried until answered).
    pub(crate) results: Batcher<ResultRoute>,
    /// The attempts' work folders, spare ones kept for the next attempts.
    pub(crate) folders: WorkFolders,
    /// Runs the command.
    pub(crate) executor: Arc<dyn Executor>,
    /// Work folder and job defaults.
    pub(crate) defaults: AttemptDefaults,
    /// Named in every start and result.
    pub(crate) worker_id: Arc<WorkerId>,
    /// Where the attempt is listed while it runs, and why it was stopped.
    pub(crate) jobs: Arc<JobTable>,
    /// Woken when an attempt ends and frees its slot.
    pub(crate) slot_freed: Arc<Notify>,
    /// Says when the server has been silent so long that a delivered job must not start.
    pub(crate) fence: Arc<Fence>,
    /// Asks the heartbeat loop for a heartbeat at once.
    pub(crate) beat_now: Arc<Notify>,
}

impl Attempts {
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

    /// The start call for `job`'s attempt: the first one (`pulling` when the image is
    /// pulled first), or the one after the pull.
    pub(crate) fn start_of(&self, job: &Job, pulling: bool) -> StartJobRequest {
        StartJobRequest {
            worker_id: self.worker_id.get(),
            job_id: job.id.clone(),
            attempt: job.attempts,
            pulling,
        }
    }

    /// Starts and runs the attempt; `None` when it is not ours to report.
    async fn attempt(&self, job: Job, cancel: CancellationToken) -> Option<SubmitResultRequest> {
        let worker_id = self.worker_id.get();
        let image = self.defaults.image_of(&job);
        let needed_since = Instant::now();
        let pulls = self.needs_pull(&job, &image).await;
        // Delivered RUNNING (the agent asked for it: its executor starts jobs at once), the
        // start is on record already.
        let started = if job.status == JobStatus::Running {
            Ok(())
        } else {
            self.starts.call(self.start_of(&job, pulls)).await.map(drop)
        };
        match started {
            Ok(()) => {}
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
                return Some(result_of(self.worker_id.get(), &job, outcome));
            }
        }
        let mut pull_ms = None;
        if pulls {
            match self
                .pull_then_start(&job, &image, needed_since, &cancel)
                .await
            {
                PullStep::Started(ms) => pull_ms = Some(ms),
                PullStep::NotOurs => return None,
                PullStep::Ended(mut outcome) => {
                    explain_stop(&mut outcome, self.jobs.cause(&job.id, job.attempts));
                    return Some(result_of(self.worker_id.get(), &job, outcome));
                }
            }
        }
        tracing::info!(job_id = job.id, attempt = job.attempts, "job started");
        let mut outcome = self.execute(&job, &worker_id, cancel).await;
        outcome.usage.pull_ms = pull_ms.or(outcome.usage.pull_ms);
        explain_stop(&mut outcome, self.jobs.cause(&job.id, job.attempts));
        Some(result_of(self.worker_id.get(), &job, outcome))
    }

    /// Prepares the work folder, runs the executor and removes the folder.
    async fn execute(&self, job: &Job, worker_id: &str, cancel: CancellationToken) -> ExecOutcome {
        let workspace = match self.folders.take(&job.id, job.attempts) {
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
                    self.folders.give_back(workspace).await;
                    return ExecOutcome {
                        error: Some(e),
                        ..ExecOutcome::default()
                    };
                }
                Err(WorkspaceError::Infra(e)) => {
                    self.folders.give_back(workspace).await;
                    let mut outcome = ExecOutcome::infra(e);
                    outcome.cancelled = cancel.is_cancelled();
                    return outcome;
                }
            }
        }
        if !self.fence_lets_start(&cancel).await {
            // Delivered before a silence (the agent was frozen, or cut off, with the answer
            // unread): the server may have given the job to another worker by now.
            self.folders.give_back(workspace).await;
            tracing::warn!(
                job_id = job.id,
                attempt = job.attempts,
                "not started: the server has been silent too long"
            );
            let mut outcome = ExecOutcome {
                cancelled: cancel.is_cancelled(),
                ..ExecOutcome::default()
            };
            explain_stop(&mut outcome, Some(StopCause::LostServer));
            return outcome;
        }
        let spec = self.defaults.spec_for(job, worker_id, workspace.path());
        let outcome = self.executor.run(&spec, cancel).await;
        self.folders.give_back(workspace).await;
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

    /// Whether the fence lets a delivered job start. After a silence it asks for a heartbeat
    /// at once and waits for its answer (at most [`FENCE_WAIT`]): the answer's stop list
    /// cancels the job if the server gave it away meanwhile, and otherwise it starts, with no
    /// attempt wasted.
    async fn fence_lets_start(&self, cancel: &CancellationToken) -> bool {
        let deadline = Instant::now() + FENCE_WAIT;
        while !self.fence.allows_start() {
            if Instant::now() >= deadline || cancel.is_cancelled() {
                return false;
            }
            self.beat_now.notify_one();
            tokio::select! {
                _ = tokio::time::sleep(FENCE_RECHECK) => {}
                _ = cancel.cancelled() => return false,
            }
        }
        !cancel.is_cancelled()
    }

    /// Reports a result, retrying until the server accepts or refuses it (or the agent gives
    /// up at the very end of shutdown).
    async fn submit(&self, result: SubmitResultRequest) {
        let (job_id, attempt) = (result.job_id.clone(), result.attempt);
        let answer = self.results.enqueue(result);
        // The poll loop may carry the queued result on its next poll (see `poll.rs`).
        self.slot_freed.notify_one();
        match answer.await {
            Ok(_) => tracing::debug!(job_id, "result accepted"),
            Err(e) if e.is_conflict() => tracing::info!(
                job_id,
                attempt,
                "result refused: the attempt is no longer ours"
            ),
            Err(ClientError::Abandoned) => {
                tracing::warn!(job_id, "result not delivered before exit")
            }
            Err(e) => tracing::warn!(job_id, error = %e, "result refused"),
        }
    }
}

/// Rewrites the outcome of an attempt stopped from outside to say why it was stopped.
fn explain_stop(outcome: &mut ExecOutcome, cause: Option<StopCause>) {
    match cause {
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
}

/// The result body for an outcome, sent as worker `worker_id`.
fn result_of(worker_id: String, job: &Job, outcome: ExecOutcome) -> SubmitResultRequest {
    SubmitResultRequest {
        worker_id,
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
        permanent: outcome.permanent,
        registry_error: outcome.registry_error,
        usage: (!outcome.usage.is_empty()).then_some(outcome.usage),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::job;

    fn defaults() -> AttemptDefaults {
        AttemptDefaults {
            timeout_cap: Duration::from_secs(60),
            image: "default:latest".into(),
            cpu: 1.5,
            ram_mb: 256,
            pull: PullPolicy::IfNotPresent,
        }
    }

    #[test]
    fn specs_take_the_jobs_asks_and_fill_in_the_rest() {
        let mut j = job("a", 2);
        j.image = Some("own:1".into());
        j.required_cpu = 0.5;
        j.required_ram_mb = 64;
        j.timeout_ms = 1000;
        let spec = defaults().spec_for(&j, "w-1", Path::new("/work/a-2"));
        assert_eq!((spec.job_id.as_str(), spec.attempt), ("a", 2));
        assert_eq!(
            (spec.image.as_str(), spec.cpu, spec.ram_mb),
            ("own:1", 0.5, 64)
        );
        assert_eq!(spec.timeout, Duration::from_secs(1));
        assert_eq!(spec.worker_id, "w-1");

        j.image = Some(String::new());
        j.required_cpu = 0.0;
        j.required_ram_mb = 0;
        j.timeout_ms = 0;
        let spec = defaults().spec_for(&j, "w-1", Path::new("/work/a-2"));
        assert_eq!(
            (spec.image.as_str(), spec.cpu, spec.ram_mb),
            ("default:latest", 1.5, 256)
        );
        assert_eq!(spec.timeout, Duration::from_secs(60), "none named: the cap");
        j.timeout_ms = 3_600_000;
        let spec = defaults().spec_for(&j, "w-1", Path::new("/work/a-2"));
        assert_eq!(spec.timeout, Duration::from_secs(60), "never past the cap");
    }

    #[test]
    fn stops_from_outside_say_why() {
        let mut shutdown = ExecOutcome {
            cancelled: true,
            ..ExecOutcome::default()
        };
        explain_stop(&mut shutdown, Some(StopCause::Shutdown));
        assert!(shutdown.infrastructure_error);
        assert_eq!(shutdown.error.as_deref(), Some(SHUTDOWN_ERROR));

        let mut cancelled = ExecOutcome {
            cancelled: true,
            ..ExecOutcome::default()
        };
        explain_stop(
            &mut cancelled,
            Some(StopCause::Server(StopReason::Cancelled)),
        );
        assert!(!cancelled.infrastructure_error);
        assert_eq!(
            cancelled.error.as_deref(),
            Some("stopped by the server (Cancelled)")
        );

        let mut finished = ExecOutcome::default();
        explain_stop(
            &mut finished,
            Some(StopCause::Server(StopReason::Cancelled)),
        );
        assert_eq!(finished.error, None, "it ended before the stop reached it");
    }
}
