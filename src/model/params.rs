//! What the repository's calls take, one struct per call that takes more than two values.
//! Every time is epoch milliseconds and a parameter, so tests choose the clock.

use gantry_api::JobStatus;
use std::collections::BTreeMap;

/// A validated job to insert.
#[derive(Debug, Clone)]
pub struct JobInsertParams {
    /// The new job's id (a UUIDv7).
    pub id: String,
    /// Shell command, run with `sh -c`.
    pub command: String,
    /// Container image; the worker's default when absent.
    pub image: Option<String>,
    /// Where the worker downloads the input file.
    pub file_url: Option<String>,
    /// The input file's name.
    pub filename: Option<String>,
    /// Environment variables of the command.
    pub env: BTreeMap<String, String>,
    /// CPU to reserve, millicores.
    pub required_cpu_milli: i64,
    /// Memory to reserve, MiB.
    pub required_ram_mb: i64,
    /// Time limit of one attempt, ms.
    pub timeout_ms: i64,
    /// Retries after the job's own failures.
    pub max_retries: i64,
    /// Higher is placed first.
    pub priority: i64,
    /// Whether the job asks for network.
    pub network: bool,
    /// Earliest start: QUEUED from then on, PENDING before.
    pub run_at: i64,
    /// The client's idempotency key.
    pub idempotency_key: Option<String>,
    /// When the worker pulls the image (a `PullPolicy` as text); the worker's default when
    /// absent.
    pub pull: Option<String>,
    /// The time of the insert.
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
    /// Only jobs with an id at or above this one (a time filter's bound on the time-ordered
    /// ids, so the primary key finds the window).
    pub from_id: Option<String>,
    /// Most jobs on the page.
    pub limit: i64,
}

/// How many of the newest jobs (those the other filters select) one page of a search looks
/// through: a text matched anywhere in a command has no index, so the window bounds the cost.
pub const SEARCH_WINDOW: i64 = 20_000;

/// An agent joining or rejoining.
#[derive(Debug, Clone)]
pub struct WorkerRegisterParams {
    /// The worker's id.
    pub id: String,
    /// Host name the agent reported.
    pub hostname: String,
    /// CPU offered, millicores.
    pub cpu_milli: i64,
    /// Total memory, MiB.
    pub ram_total_mb: i64,
    /// Free memory, MiB.
    pub ram_free_mb: i64,
    /// CPU usage, 0-100.
    pub cpu_usage: f64,
    /// The most jobs it holds at once.
    pub max_parallel_jobs: i64,
    /// Labels as a JSON object.
    pub labels_json: String,
    /// Agent version, for the fleet listing.
    pub version: Option<String>,
    /// `docker` or `process`.
    pub executor: Option<String>,
    /// SHA-256 of the per-worker token, when tokens are in use.
    pub token_hash: Option<String>,
    /// The agent made sure nothing of its earlier life still runs: its old jobs may be
    /// handed out again at once (else they are held, see `lifecycle::hold`).
    pub earlier_jobs_stopped: bool,
    /// The time of the registration.
    pub now: i64,
}

/// A heartbeat's metrics and the jobs the agent reports running.
#[derive(Debug, Clone)]
pub struct WorkerHeartbeatParams {
    /// The worker that heartbeats.
    pub id: String,
    /// CPU usage, 0-100.
    pub cpu_usage: f64,
    /// Free memory, MiB.
    pub ram_free_mb: i64,
    /// Total memory, MiB (0 keeps the registered value).
    pub ram_total_mb: i64,
    /// Whether its executor works.
    pub executor_ok: bool,
    /// Whether it is shutting down.
    pub draining: bool,
    /// Jobs the agent runs.
    pub running_job_ids: Vec<String>,
    /// Running jobs that started before this time and are not reported are lost.
    pub lost_if_started_before: i64,
    /// The images its engine holds, as a JSON array of `ImageHeld` (already bounded); `None`
    /// keeps the stored list (the agent sends it only when it changed, or now and then).
    pub images: Option<String>,
    /// The time of the heartbeat.
    pub now: i64,
}

/// How an attempt ended, as its worker reported it.
#[derive(Debug, Clone, Default)]
pub struct JobFinishParams {
    /// The worker reporting; it must hold the attempt.
    pub worker_id: String,
    /// The job the result is for.
    pub job_id: String,
    /// The attempt the result belongs to.
    pub attempt: i64,
    /// Exit code, when the command ran.
    pub exit_code: Option<i64>,
    /// Captured stdout (the server keeps its tail).
    pub stdout: Option<String>,
    /// Captured stderr (the server keeps its tail).
    pub stderr: Option<String>,
    /// Run time as the worker measured it.
    pub duration_ms: Option<i64>,
    /// What went wrong, in words.
    pub error: Option<String>,
    /// Killed at its timeout.
    pub timed_out: bool,
    /// Killed for memory.
    pub oom_killed: bool,
    /// Not the job's fault (the worker's or its engine's).
    pub infrastructure_error: bool,
    /// What the attempt used, as the worker measured it (validated: finite, not negative).
    pub usage: Option<gantry_api::AttemptUsage>,
    /// The job can never succeed as it is (its image does not exist in its registry): it
    /// ends FAILED now, whatever retries it has left.
    pub permanent: bool,
    /// With `infrastructure_error`: the image's registry was to blame (unreachable, login
    /// refused, too slow), not this worker.
    pub registry_error: bool,
    /// The time of the result.
    pub now: i64,
}

/// An input file to store.
#[derive(Debug, Clone)]
pub struct UploadInsertParams {
    /// Upload id (a UUID).
    pub id: String,
    /// Sanitized file name.
    pub filename: String,
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
    /// The file's content.
    pub content: Vec<u8>,
    /// The time of the upload.
    pub now: i64,
}
