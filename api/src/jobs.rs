//! Job bodies: create, the job itself, its history, the worker-side calls and listing.

use crate::images::PullPolicy;
use crate::status::JobStatus;
use crate::usage::AttemptUsage;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `POST /api/jobs/create`. Only `command` is required: an older client that sends
/// `{"command","fileUrl","filename"}` keeps working with defaults.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateJobRequest {
    /// The shell command, run with `sh -c`: not blank, without a NUL byte.
    pub command: String,
    /// The container image; the worker's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Where the worker downloads the job's input file (usually `/uploads/...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_url: Option<String>,
    /// The input file's name in the work folder (a `.zip` is unpacked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// Environment variables for the command (values without a NUL byte).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// CPU cores to reserve (fractions allowed); the server default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_cpu: Option<f64>,
    /// Memory to reserve and enforce, in MiB; the server default when absent.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::integer::option"
    )]
    pub required_ram_mb: Option<i64>,
    /// Wall-clock limit of one attempt, in milliseconds.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::integer::option"
    )]
    pub timeout_ms: Option<i64>,
    /// How many times a failed or timed-out attempt is retried.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::integer::option"
    )]
    pub max_retries: Option<i64>,
    /// Higher runs first; ties go to the oldest.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::integer::option"
    )]
    pub priority: Option<i64>,
    /// Not before this time: epoch milliseconds or an RFC 3339 string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_at: Option<RunAt>,
    /// A second create with the same key returns the first job instead of a new one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// Ask for network access in the container (a worker may still forbid it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<bool>,
    /// When the worker pulls the image; the worker's `--pull-policy` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull: Option<PullPolicy>,
}

/// A point in time as a client may give it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(untagged)]
pub enum RunAt {
    /// Milliseconds since the Unix epoch.
    Millis(#[serde(deserialize_with = "crate::integer::int")] i64),
    /// An RFC 3339 timestamp such as `2026-01-01T12:00:00Z`.
    Text(String),
}

/// A job as the API shows it. Times are epoch milliseconds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    /// The job's id (a UUID).
    pub id: String,
    /// Its current state.
    pub status: JobStatus,
    /// The shell command.
    pub command: String,
    /// The container image, when the job named one.
    pub image: Option<String>,
    /// Where its input file is served.
    pub file_url: Option<String>,
    /// Its input file's name.
    pub filename: Option<String>,
    /// Environment variables for the command.
    pub env: BTreeMap<String, String>,
    /// CPU cores reserved while it is on a worker.
    pub required_cpu: f64,
    /// MiB reserved and enforced while it is on a worker.
    pub required_ram_mb: i64,
    /// Wall-clock limit of one attempt.
    pub timeout_ms: i64,
    /// Retries allowed after failures and timeouts.
    pub max_retries: i64,
    /// Placement priority; higher first.
    pub priority: i64,
    /// Whether the job asked for network access.
    pub network: bool,
    /// The number of the current (or last) attempt; 0 before the first delivery.
    /// Workers echo it back with start and result.
    pub attempts: i64,
    /// Attempts that ended in failure or timeout (counted against `maxRetries`).
    pub failed_attempts: i64,
    /// Attempts lost through no fault of the job (worker lost, executor error).
    pub infra_retries: i64,
    /// The worker holding or last holding the job.
    pub worker_id: Option<String>,
    /// Why the job is waiting, when it is (for example "fits no worker: ...").
    pub reason: Option<String>,
    /// The client's idempotency key.
    pub idempotency_key: Option<String>,
    /// When the job was created.
    pub created_at: i64,
    /// When it becomes (or became) eligible.
    pub run_at: i64,
    /// When it last entered QUEUED.
    pub queued_at: Option<i64>,
    /// When it was last assigned.
    pub assigned_at: Option<i64>,
    /// When its current attempt started.
    pub started_at: Option<i64>,
    /// When it reached a terminal state or its last attempt ended.
    pub finished_at: Option<i64>,
    /// The last attempt's exit code.
    pub exit_code: Option<i64>,
    /// The last attempt's captured standard output (a tail when truncated).
    pub stdout: Option<String>,
    /// The last attempt's captured standard error (a tail when truncated).
    pub stderr: Option<String>,
    /// What went wrong, in words, when something did.
    pub error: Option<String>,
    /// How long the last attempt ran, as the worker measured it.
    pub duration_ms: Option<i64>,
    /// True when the last attempt was killed for exceeding its memory limit.
    pub oom_killed: bool,
    /// When the worker pulls the image, as the job asked; absent: the worker's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull: Option<PullPolicy>,
    /// What a RUNNING attempt is doing before its command runs, in words (for example
    /// `pulling python:3.12`); absent once the command runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// What the last attempt used (CPU seconds, peak memory, pull and run time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<AttemptUsage>,
}

/// One state change of a job, from the append-only history table.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    /// Ordering key of the history table.
    pub id: i64,
    /// The attempt the change belongs to.
    pub attempt: i64,
    /// The state before, absent for creation.
    pub from_status: Option<JobStatus>,
    /// The state after.
    pub to_status: JobStatus,
    /// The worker involved, if any.
    pub worker_id: Option<String>,
    /// When it happened (epoch ms).
    pub at: i64,
    /// Why, in words.
    pub reason: Option<String>,
    /// Whose fault the end of an attempt was (absent for changes that end none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<crate::Fault>,
    /// What the attempt used, on the change that ended it (absent when nothing was measured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<AttemptUsage>,
}

/// `GET /api/jobs/status`: the job plus its whole history.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobStatusResponse {
    /// The job.
    #[serde(flatten)]
    pub job: Job,
    /// Every state change, oldest first.
    pub history: Vec<HistoryEntry>,
}

/// `GET /api/jobs/list`: a page of jobs, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobsListResponse {
    /// The page.
    pub jobs: Vec<Job>,
    /// Pass as `cursor` for the next page; absent on the last one. A search's page may hold
    /// fewer jobs than asked and still have one: its window of jobs ended there.
    pub next_cursor: Option<String>,
}

/// `POST /api/jobs/get-job`: a worker asks for the jobs assigned to it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GetJobRequest {
    /// The asking worker.
    pub worker_id: String,
    /// At most this many jobs (its free slots); 1 when absent.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::integer::option"
    )]
    pub max: Option<i64>,
    /// Wait up to this long for a job when none is ready.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::integer::option"
    )]
    pub wait_ms: Option<i64>,
    /// Jobs the agent is running, so the answer can say which to stop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running_job_ids: Option<Vec<String>>,
    /// The agent starts every job the moment it arrives (nothing to pull or create first):
    /// deliver them RUNNING, so no start call follows. A server that ignores it delivers
    /// them ASSIGNED, and the agent reports each start as usual.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub start_on_delivery: bool,
    /// How attempts of this worker ended, recorded before any job is handed out (so their
    /// slots count as free): one call instead of a result call and a poll. The answer has
    /// one outcome per result in `results`; bad input in one refuses the whole poll.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub results: Vec<SubmitResultRequest>,
}

/// The answer to `get-job`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GetJobResponse {
    /// Newly assigned jobs; each delivery is one attempt (`attempts`).
    pub jobs: Vec<Job>,
    /// Reported running jobs the agent must stop.
    #[serde(default)]
    pub stop_jobs: Vec<crate::workers::StopJob>,
    /// One outcome per result the poll carried, in order (none when it carried none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub results: Vec<crate::batch::BatchOutcome>,
}

/// `POST /api/jobs/start`: the worker began an attempt.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StartJobRequest {
    /// The worker holding the job.
    pub worker_id: String,
    /// The job.
    pub job_id: String,
    /// The attempt number it was delivered with.
    #[serde(deserialize_with = "crate::integer::int")]
    pub attempt: i64,
    /// The worker first pulls the job's image: the job shows `pulling <image>` and its
    /// timeout does not run yet. A second start without it says the command starts now.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pulling: bool,
}

/// `POST /api/jobs/submit-result`: how an attempt ended.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubmitResultRequest {
    /// The worker holding the job (in a batch, may be left out: the batch names it).
    #[serde(default)]
    pub worker_id: String,
    /// The job.
    pub job_id: String,
    /// The attempt number it was delivered with.
    #[serde(deserialize_with = "crate::integer::int")]
    pub attempt: i64,
    /// The command's exit code, absent when it never ran.
    #[serde(default, deserialize_with = "crate::integer::option")]
    pub exit_code: Option<i64>,
    /// Captured standard output.
    #[serde(default)]
    pub stdout: Option<String>,
    /// Captured standard error.
    #[serde(default)]
    pub stderr: Option<String>,
    /// How long the attempt ran.
    #[serde(default, deserialize_with = "crate::integer::option")]
    pub duration_ms: Option<i64>,
    /// What went wrong, in words.
    #[serde(default)]
    pub error: Option<String>,
    /// The worker killed the attempt at its timeout.
    #[serde(default)]
    pub timed_out: bool,
    /// The attempt was killed for exceeding its memory limit.
    #[serde(default)]
    pub oom_killed: bool,
    /// The attempt could not run through no fault of the job (image missing, Docker down,
    /// download failed): retried from the infrastructure budget, not `maxRetries`.
    #[serde(default)]
    pub infrastructure_error: bool,
    /// The job can never succeed as it is (its image does not exist in its registry, or has
    /// no manifest for this platform): it ends FAILED now, whatever retries it has left.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub permanent: bool,
    /// With `infrastructureError`: the image could not be pulled because of its registry
    /// (unreachable, login refused, too slow). Retried with backoff from the infrastructure
    /// budget, and not held against this worker unless the job then succeeds on another.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub registry_error: bool,
    /// What the attempt used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<AttemptUsage>,
}

/// `POST /api/jobs/cancel`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CancelJobRequest {
    /// The job to cancel.
    pub job_id: String,
}

/// `POST /api/uploads`: where the stored file is served.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UploadResponse {
    /// The upload's id.
    pub id: String,
    /// The file's (sanitized) name.
    pub filename: String,
    /// Pass as a job's `fileUrl`.
    pub file_url: String,
    /// Size in bytes.
    pub size: i64,
    /// Hex SHA-256 of the content.
    pub sha256: String,
}
