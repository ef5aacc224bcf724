//! Fixture builders for repository tests: jobs, workers, results and heartbeats with sensible
//! defaults, so each test states only what it is about. Time is always a parameter.

use gantry::model::{
    HistoryRecord, JobFinishParams, JobInsertParams, JobRecord, WorkerHeartbeatParams,
    WorkerRecord, WorkerRegisterParams,
};
use gantry::repo::{Repo, RepoError};
use gantry_api::JobStatus;
use std::collections::BTreeMap;

/// The epoch (ms) most tests start at; far from zero so `now - x` stays positive.
pub const T0: i64 = 1_700_000_000_000;

/// A job to insert, with defaults: `true`, 0.5 CPU, 256 MiB, 60 s timeout, no retries,
/// priority 0, due at once, created at [`T0`].
#[derive(Debug, Clone)]
pub struct JobBuilder {
    /// The parameters built so far.
    pub params: JobInsertParams,
}

/// Starts a job builder for the given id.
pub fn job(id: &str) -> JobBuilder {
    JobBuilder {
        params: JobInsertParams {
            id: id.to_string(),
            command: format!("echo {id}"),
            image: None,
            file_url: None,
            filename: None,
            env: BTreeMap::new(),
            required_cpu_milli: 500,
            required_ram_mb: 256,
            timeout_ms: 60_000,
            max_retries: 0,
            priority: 0,
            network: false,
            run_at: T0,
            idempotency_key: None,
            pull: None,
            now: T0,
        },
    }
}

impl JobBuilder {
    /// Sets the command.
    pub fn command(mut self, command: &str) -> Self {
        self.params.command = command.to_string();
        self
    }

    /// Sets the resources to reserve.
    pub fn size(mut self, cpu_milli: i64, ram_mb: i64) -> Self {
        self.params.required_cpu_milli = cpu_milli;
        self.params.required_ram_mb = ram_mb;
        self
    }

    /// Sets the priority.
    pub fn priority(mut self, priority: i64) -> Self {
        self.params.priority = priority;
        self
    }

    /// Sets the retries allowed after failures.
    pub fn max_retries(mut self, n: i64) -> Self {
        self.params.max_retries = n;
        self
    }

    /// Sets the timeout of one attempt.
    pub fn timeout_ms(mut self, ms: i64) -> Self {
        self.params.timeout_ms = ms;
        self
    }

    /// Sets the creation time; `run_at` follows it unless set later.
    pub fn at(mut self, now: i64) -> Self {
        self.params.now = now;
        self.params.run_at = now;
        self
    }

    /// Sets the earliest start.
    pub fn run_at(mut self, run_at: i64) -> Self {
        self.params.run_at = run_at;
        self
    }

    /// Sets the idempotency key.
    pub fn key(mut self, key: &str) -> Self {
        self.params.idempotency_key = Some(key.to_string());
        self
    }

    /// Adds an environment variable.
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.params.env.insert(name.to_string(), value.to_string());
        self
    }

    /// Sets the image.
    pub fn image(mut self, image: &str) -> Self {
        self.params.image = Some(image.to_string());
        self
    }

    /// Sets the pull policy (as stored: `if-not-present`, `always`, `never`).
    pub fn pull(mut self, policy: &str) -> Self {
        self.params.pull = Some(policy.to_string());
        self
    }

    /// Inserts the job, which must be new.
    pub async fn insert(self, repo: &dyn Repo) -> JobRecord {
        let id = self.params.id.clone();
        let (job, fresh) = repo.job_insert(self.params).await.expect("job_insert");
        assert!(fresh, "job {id} was expected to be new");
        job
    }
}

/// A worker to register, with defaults: 2 CPU, 2048 MiB, 4 jobs in parallel, at [`T0`].
#[derive(Debug, Clone)]
pub struct WorkerBuilder {
    /// The parameters built so far.
    pub params: WorkerRegisterParams,
}

/// Starts a worker builder for the given id.
pub fn worker(id: &str) -> WorkerBuilder {
    WorkerBuilder {
        params: WorkerRegisterParams {
            id: id.to_string(),
            hostname: format!("{id}.test"),
            cpu_milli: 2000,
            ram_total_mb: 2048,
            ram_free_mb: 2048,
            cpu_usage: 1.0,
            max_parallel_jobs: 4,
            labels_json: "{}".into(),
            version: Some("test".into()),
            executor: Some("process".into()),
            token_hash: None,
            earlier_jobs_stopped: true,
            now: T0,
        },
    }
}

impl WorkerBuilder {
    /// Sets the capacity.
    pub fn capacity(mut self, cpu_milli: i64, ram_mb: i64) -> Self {
        self.params.cpu_milli = cpu_milli;
        self.params.ram_total_mb = ram_mb;
        self.params.ram_free_mb = ram_mb;
        self
    }

    /// Sets the parallelism limit.
    pub fn parallel(mut self, n: i64) -> Self {
        self.params.max_parallel_jobs = n;
        self
    }

    /// Sets the registration time.
    pub fn at(mut self, now: i64) -> Self {
        self.params.now = now;
        self
    }

    /// Sets the token hash.
    pub fn token_hash(mut self, hash: &str) -> Self {
        self.params.token_hash = Some(hash.to_string());
        self
    }

    /// Registers as an agent that could not make sure its earlier jobs are stopped.
    pub fn earlier_jobs_not_stopped(mut self) -> Self {
        self.params.earlier_jobs_stopped = false;
        self
    }

    /// Registers the worker.
    pub async fn register(self, repo: &dyn Repo) -> WorkerRecord {
        repo.worker_register(self.params)
            .await
            .expect("worker_register")
    }
}

/// A result for one attempt, exit code 0 unless changed.
pub fn result(worker_id: &str, job_id: &str, attempt: i64, now: i64) -> JobFinishParams {
    JobFinishParams {
        worker_id: worker_id.to_string(),
        job_id: job_id.to_string(),
        attempt,
        exit_code: Some(0),
        stdout: Some("out".into()),
        stderr: Some(String::new()),
        duration_ms: Some(10),
        now,
        ..Default::default()
    }
}

/// A failed result: the command exited with `code`.
pub fn failure(
    worker_id: &str,
    job_id: &str,
    attempt: i64,
    now: i64,
    code: i64,
) -> JobFinishParams {
    JobFinishParams {
        exit_code: Some(code),
        ..result(worker_id, job_id, attempt, now)
    }
}

/// A result of attempt `attempt` of `job_id` that failed by `worker_id`'s own fault (its engine
/// refused), at `now`.
pub fn worker_fault(worker_id: &str, job_id: &str, attempt: i64, now: i64) -> JobFinishParams {
    JobFinishParams {
        exit_code: None,
        error: Some("the Docker engine refused to create the container".into()),
        infrastructure_error: true,
        ..result(worker_id, job_id, attempt, now)
    }
}

/// A heartbeat reporting these jobs running; nothing counts as lost.
pub fn heartbeat(worker_id: &str, now: i64, running: &[&str]) -> WorkerHeartbeatParams {
    WorkerHeartbeatParams {
        id: worker_id.to_string(),
        cpu_usage: 12.5,
        ram_free_mb: 1000,
        ram_total_mb: 0,
        executor_ok: true,
        draining: false,
        running_job_ids: running.iter().map(|s| s.to_string()).collect(),
        lost_if_started_before: i64::MIN,
        images: None,
        now,
    }
}

/// The job, which must exist.
pub async fn get_job(repo: &dyn Repo, id: &str) -> JobRecord {
    repo.job_get(id)
        .await
        .expect("job_get")
        .unwrap_or_else(|| panic!("job {id} not found"))
}

/// The job's state.
pub async fn state(repo: &dyn Repo, id: &str) -> JobStatus {
    get_job(repo, id).await.status
}

/// The worker, which must exist.
pub async fn get_worker(repo: &dyn Repo, id: &str) -> WorkerRecord {
    repo.worker_get(id)
        .await
        .expect("worker_get")
        .unwrap_or_else(|| panic!("worker {id} not found"))
}

/// The worker's reservations as (cpu millicores, MiB, held jobs).
pub async fn reserved(repo: &dyn Repo, id: &str) -> (i64, i64, i64) {
    let w = get_worker(repo, id).await;
    (w.reserved_cpu_milli, w.reserved_ram_mb, w.held_jobs)
}

/// The job's history as `FROM>TO` strings (`>QUEUED` for the creation row), oldest first.
pub async fn transitions(repo: &dyn Repo, id: &str) -> Vec<String> {
    history(repo, id)
        .await
        .iter()
        .map(|h| {
            format!(
                "{}>{}",
                h.from_status.map_or("", |s| s.as_str()),
                h.to_status
            )
        })
        .collect()
}

/// The job's history rows.
pub async fn history(repo: &dyn Repo, id: &str) -> Vec<HistoryRecord> {
    repo.job_history(id).await.expect("job_history")
}

/// Asserts a conflict with this code.
pub fn assert_conflict<T: std::fmt::Debug>(result: Result<T, RepoError>, code: &str) {
    match result {
        Err(RepoError::Conflict { code: got, message }) => {
            assert_eq!(got, code, "conflict code (message: {message})");
            assert!(!message.is_empty());
        }
        other => panic!("expected a `{code}` conflict, got {other:?}"),
    }
}

/// Asserts a not-found error for this kind of entity.
pub fn assert_not_found<T: std::fmt::Debug>(result: Result<T, RepoError>, entity: &str) {
    match result {
        Err(RepoError::NotFound { entity: got, .. }) => assert_eq!(got, entity),
        other => panic!("expected {entity} not found, got {other:?}"),
    }
}
