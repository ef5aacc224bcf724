//! Rows as stored, and their conversion to the wire types.

use super::error::{RepoError, RepoResult};
use gantry_api::{HistoryEntry, Job, JobStatus, Worker, WorkerStatus};
use std::collections::BTreeMap;

/// One row of `jobs`, column for column.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JobRecord {
    /// Job id.
    pub id: String,
    /// State, upper-case.
    pub status: String,
    /// Shell command.
    pub command: String,
    /// Container image.
    pub image: Option<String>,
    /// Input file URL.
    pub file_url: Option<String>,
    /// Input file name.
    pub filename: Option<String>,
    /// Environment as a JSON object.
    pub env: String,
    /// CPU to reserve, millicores.
    pub required_cpu_milli: i64,
    /// Memory to reserve, MiB.
    pub required_ram_mb: i64,
    /// Timeout of one attempt.
    pub timeout_ms: i64,
    /// Retries allowed.
    pub max_retries: i64,
    /// Placement priority.
    pub priority: i64,
    /// 1 when the job asks for network.
    pub network: i64,
    /// Current attempt number.
    pub attempts: i64,
    /// Attempts that failed or timed out.
    pub failed_attempts: i64,
    /// Attempts lost to infrastructure.
    pub infra_retries: i64,
    /// Holder or last holder.
    pub worker_id: Option<String>,
    /// 1 when the job fits no online worker (kept out of the placement index).
    pub blocked: i64,
    /// Why it waits.
    pub reason: Option<String>,
    /// Client idempotency key.
    pub idempotency_key: Option<String>,
    /// Creation time.
    pub created_at: i64,
    /// Earliest start.
    pub run_at: i64,
    /// Last entry into QUEUED.
    pub queued_at: Option<i64>,
    /// Last assignment.
    pub assigned_at: Option<i64>,
    /// When the holder fetched the current attempt.
    pub delivered_at: Option<i64>,
    /// Start of the current attempt.
    pub started_at: Option<i64>,
    /// When the current attempt times out (start + timeout).
    pub deadline_at: Option<i64>,
    /// Terminal time.
    pub finished_at: Option<i64>,
    /// Last exit code.
    pub exit_code: Option<i64>,
    /// Last stdout.
    pub stdout: Option<String>,
    /// Last stderr.
    pub stderr: Option<String>,
    /// Last error text.
    pub error: Option<String>,
    /// Last duration.
    pub duration_ms: Option<i64>,
    /// 1 when the last attempt was OOM-killed.
    pub oom_killed: i64,
}

impl JobRecord {
    /// The parsed state.
    pub fn state(&self) -> RepoResult<JobStatus> {
        self.status
            .parse()
            .map_err(|e| RepoError::Corrupt(format!("job {}: {e}", self.id)))
    }

    /// The wire form.
    pub fn to_api(&self) -> RepoResult<Job> {
        let env: BTreeMap<String, String> = serde_json::from_str(&self.env)
            .map_err(|e| RepoError::Corrupt(format!("job {} env: {e}", self.id)))?;
        Ok(Job {
            id: self.id.clone(),
            status: self.state()?,
            command: self.command.clone(),
            image: self.image.clone(),
            file_url: self.file_url.clone(),
            filename: self.filename.clone(),
            env,
            required_cpu: milli_to_cores(self.required_cpu_milli),
            required_ram_mb: self.required_ram_mb,
            timeout_ms: self.timeout_ms,
            max_retries: self.max_retries,
            priority: self.priority,
            network: self.network != 0,
            attempts: self.attempts,
            failed_attempts: self.failed_attempts,
            infra_retries: self.infra_retries,
            worker_id: self.worker_id.clone(),
            reason: self.reason.clone(),
            idempotency_key: self.idempotency_key.clone(),
            created_at: self.created_at,
            run_at: self.run_at,
            queued_at: self.queued_at,
            assigned_at: self.assigned_at,
            started_at: self.started_at,
            finished_at: self.finished_at,
            exit_code: self.exit_code,
            stdout: self.stdout.clone(),
            stderr: self.stderr.clone(),
            error: self.error.clone(),
            duration_ms: self.duration_ms,
            oom_killed: self.oom_killed != 0,
        })
    }
}

/// One row of `workers`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WorkerRecord {
    /// Worker id.
    pub id: String,
    /// Host name.
    pub hostname: String,
    /// CPU offered, millicores.
    pub cpu_milli: i64,
    /// Total memory, MiB.
    pub ram_total_mb: i64,
    /// Free memory at the last heartbeat.
    pub ram_free_mb: i64,
    /// CPU usage at the last heartbeat.
    pub cpu_usage: f64,
    /// Parallelism limit.
    pub max_parallel_jobs: i64,
    /// CPU reserved by held jobs.
    pub reserved_cpu_milli: i64,
    /// Memory reserved by held jobs.
    pub reserved_ram_mb: i64,
    /// Number of held (assigned or running) jobs.
    pub running_jobs: i64,
    /// Labels as a JSON object.
    pub labels: String,
    /// Agent version.
    pub version: Option<String>,
    /// Executor kind.
    pub executor: Option<String>,
    /// 1 when its executor works.
    pub executor_ok: i64,
    /// SHA-256 of its token.
    pub token_hash: Option<String>,
    /// 1 while it shuts down.
    pub draining: i64,
    /// Failed attempts in a row.
    pub consecutive_failures: i64,
    /// Cooldown end.
    pub cooldown_until: Option<i64>,
    /// Set while OFFLINE.
    pub offline_since: Option<i64>,
    /// Registration time.
    pub registered_at: i64,
    /// Last heartbeat.
    pub last_heartbeat_at: i64,
}

impl WorkerRecord {
    /// The worker's state at `now`, derived from the stored facts so it can never disagree
    /// with them: offline, then unhealthy (cooldown or broken executor), then busy or idle.
    pub fn status(&self, now: i64) -> WorkerStatus {
        if self.offline_since.is_some() {
            WorkerStatus::Offline
        } else if self.executor_ok == 0 || self.cooldown_until.is_some_and(|until| until > now) {
            WorkerStatus::Unhealthy
        } else if self.running_jobs > 0 {
            WorkerStatus::Busy
        } else {
            WorkerStatus::Idle
        }
    }

    /// The wire form, with the ids of the jobs it holds.
    pub fn to_api(&self, now: i64, current_job_ids: Vec<String>) -> RepoResult<Worker> {
        let labels = serde_json::from_str(&self.labels)
            .map_err(|e| RepoError::Corrupt(format!("worker {} labels: {e}", self.id)))?;
        Ok(Worker {
            id: self.id.clone(),
            hostname: self.hostname.clone(),
            status: self.status(now),
            cpu_cores: milli_to_cores(self.cpu_milli),
            ram_total_mb: self.ram_total_mb,
            ram_free_mb: self.ram_free_mb,
            cpu_usage: self.cpu_usage,
            max_parallel_jobs: self.max_parallel_jobs,
            reserved_cpu: milli_to_cores(self.reserved_cpu_milli),
            reserved_ram_mb: self.reserved_ram_mb,
            current_job_ids,
            consecutive_failures: self.consecutive_failures,
            cooldown_until: self.cooldown_until.filter(|until| *until > now),
            labels,
            version: self.version.clone(),
            executor: self.executor.clone(),
            executor_ok: self.executor_ok != 0,
            draining: self.draining != 0,
            registered_at: self.registered_at,
            last_heartbeat_at: self.last_heartbeat_at,
        })
    }
}

/// One row of `job_history`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HistoryRecord {
    /// Ordering key.
    pub id: i64,
    /// Job id.
    pub job_id: String,
    /// Attempt number.
    pub attempt: i64,
    /// State before.
    pub from_status: Option<String>,
    /// State after.
    pub to_status: String,
    /// Worker involved.
    pub worker_id: Option<String>,
    /// Time.
    pub at: i64,
    /// Why.
    pub reason: Option<String>,
}

impl HistoryRecord {
    /// The wire form.
    pub fn to_api(&self) -> RepoResult<HistoryEntry> {
        let parse = |s: &str| {
            s.parse::<JobStatus>()
                .map_err(|e| RepoError::Corrupt(format!("history {}: {e}", self.id)))
        };
        Ok(HistoryEntry {
            id: self.id,
            attempt: self.attempt,
            from_status: self.from_status.as_deref().map(parse).transpose()?,
            to_status: parse(&self.to_status)?,
            worker_id: self.worker_id.clone(),
            at: self.at,
            reason: self.reason.clone(),
        })
    }
}

/// A stored upload with its bytes.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UploadRecord {
    /// Upload id.
    pub id: String,
    /// Sanitized name.
    pub filename: String,
    /// Size in bytes.
    pub size: i64,
    /// Hex SHA-256.
    pub sha256: String,
    /// The bytes.
    pub content: Vec<u8>,
    /// Upload time.
    pub created_at: i64,
}

/// Millicores to cores, for the wire.
pub fn milli_to_cores(milli: i64) -> f64 {
    milli as f64 / 1000.0
}

/// Cores to millicores, rounding to the nearest.
pub fn cores_to_milli(cores: f64) -> i64 {
    (cores * 1000.0).round() as i64
}
