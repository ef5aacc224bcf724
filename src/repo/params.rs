//! Parameter structs of the repository methods, one per call that takes more than two values.

use gantry_api::{JobStatus, StopJob};
use std::collections::BTreeMap;

/// A validated job to insert.
#[derive(Debug, Clone)]
pub struct JobInsertParams {
    /// The new job's id.
    pub id: String,
    /// Shell command.
    pub command: String,
    /// Container image, if named.
    pub image: Option<String>,
    /// Input file URL.
    pub file_url: Option<String>,
    /// Input file name.
    pub filename: Option<String>,
    /// Environment variables.
    pub env: BTreeMap<String, String>,
    /// CPU to reserve, in millicores.
    pub required_cpu_milli: i64,
    /// Memory to reserve, in MiB.
    pub required_ram_mb: i64,
    /// Timeout of one attempt.
    pub timeout_ms: i64,
    /// Retries after failures.
    pub max_retries: i64,
    /// Placement priority.
    pub priority: i64,
    /// Whether the job asks for network.
    pub network: bool,
    /// Earliest start (epoch ms).
    pub run_at: i64,
    /// Client idempotency key.
    pub idempotency_key: Option<String>,
    /// Now (epoch ms).
    pub now: i64,
}

/// Filters of a job listing; all optional, newest first.
#[derive(Debug, Clone, Default)]
pub struct JobListParams {
    /// Only these states (any of them).
    pub statuses: Vec<JobStatus>,
    /// Only jobs held or last held by this worker.
    pub worker_id: Option<String>,
    /// Only jobs created at or after this time.
    pub created_from: Option<i64>,
    /// Only jobs created before this time.
    pub created_to: Option<i64>,
    /// Only jobs whose id or command contains this text.
    pub search: Option<String>,
    /// Only jobs with an id below this one (the previous page's last id).
    pub before_id: Option<String>,
    /// Page size.
    pub limit: i64,
}

/// An agent joining or rejoining.
#[derive(Debug, Clone)]
pub struct WorkerRegisterParams {
    /// The worker's id.
    pub id: String,
    /// Host name.
    pub hostname: String,
    /// CPU offered, in millicores.
    pub cpu_milli: i64,
    /// Total memory in MiB.
    pub ram_total_mb: i64,
    /// Free memory in MiB.
    pub ram_free_mb: i64,
    /// CPU usage 0-100.
    pub cpu_usage: f64,
    /// Parallelism limit.
    pub max_parallel_jobs: i64,
    /// Labels as a JSON object.
    pub labels_json: String,
    /// Agent version.
    pub version: Option<String>,
    /// `docker` or `process`.
    pub executor: Option<String>,
    /// SHA-256 of the per-worker token, when tokens are in use.
    pub token_hash: Option<String>,
    /// Now (epoch ms).
    pub now: i64,
}

/// A heartbeat's metrics and the jobs the agent reports running.
#[derive(Debug, Clone)]
pub struct WorkerHeartbeatParams {
    /// The worker.
    pub id: String,
    /// CPU usage 0-100.
    pub cpu_usage: f64,
    /// Free memory in MiB.
    pub ram_free_mb: i64,
    /// Total memory in MiB (0 keeps the registered value).
    pub ram_total_mb: i64,
    /// Whether its executor works.
    pub executor_ok: bool,
    /// Whether it is shutting down.
    pub draining: bool,
    /// Jobs the agent runs.
    pub running_job_ids: Vec<String>,
    /// Running jobs that started before this time and are not reported are lost.
    pub lost_if_started_before: i64,
    /// Now (epoch ms).
    pub now: i64,
}

/// What a heartbeat changed and what the agent must do.
#[derive(Debug, Clone, Default)]
pub struct HeartbeatOutcome {
    /// Reported jobs the agent must stop.
    pub stop_jobs: Vec<StopJob>,
    /// Jobs the worker held but no longer reports, handed back for a retry.
    pub lost_jobs: u64,
    /// True when the worker was OFFLINE and is back.
    pub came_back: bool,
    /// The worker as the heartbeat left it.
    pub worker: Option<crate::repo::WorkerRecord>,
}

/// How an attempt ended, as the worker reported it.
#[derive(Debug, Clone, Default)]
pub struct JobFinishParams {
    /// The reporting worker.
    pub worker_id: String,
    /// The job.
    pub job_id: String,
    /// The attempt the result belongs to.
    pub attempt: i64,
    /// Exit code, when the command ran.
    pub exit_code: Option<i64>,
    /// Captured stdout.
    pub stdout: Option<String>,
    /// Captured stderr.
    pub stderr: Option<String>,
    /// Duration as measured by the worker.
    pub duration_ms: Option<i64>,
    /// Error text.
    pub error: Option<String>,
    /// Killed at its timeout.
    pub timed_out: bool,
    /// Killed for memory.
    pub oom_killed: bool,
    /// Not the job's fault.
    pub infrastructure_error: bool,
    /// Now (epoch ms).
    pub now: i64,
}

/// Counts of one scheduler pass, for logs and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepCounts {
    /// Rows examined.
    pub examined: u64,
    /// Jobs or workers changed.
    pub changed: u64,
}

/// One placement decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// The job placed.
    pub job_id: String,
    /// The worker it went to.
    pub worker_id: String,
    /// The attempt number of this delivery.
    pub attempt: i64,
}

/// What a placement pass did.
#[derive(Debug, Clone, Default)]
pub struct PlaceOutcome {
    /// PENDING jobs that became QUEUED.
    pub promoted: u64,
    /// Jobs placed, with their workers.
    pub placed: Vec<Placement>,
    /// Jobs marked as fitting no worker.
    pub blocked: u64,
}

/// A stored upload.
#[derive(Debug, Clone)]
pub struct UploadInsertParams {
    /// Upload id.
    pub id: String,
    /// Sanitized file name.
    pub filename: String,
    /// Hex SHA-256.
    pub sha256: String,
    /// The bytes.
    pub content: Vec<u8>,
    /// Now (epoch ms).
    pub now: i64,
}
