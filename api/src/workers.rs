//! Worker bodies: register, heartbeat and the fleet listing.

use crate::images::ImageHeld;
use crate::status::WorkerStatus;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `POST /api/workers/register`: an agent joins (or rejoins) the fleet.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisterWorkerRequest {
    /// A stable id the agent asks for (`WORKER_ID`); the server makes one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_id: Option<String>,
    /// The host's name.
    pub hostname: String,
    /// CPU cores the agent offers.
    pub cpu_cores: f64,
    /// Total memory in MiB.
    #[serde(deserialize_with = "crate::integer::int")]
    pub ram_total_mb: i64,
    /// Free memory in MiB right now.
    #[serde(default, deserialize_with = "crate::integer::int")]
    pub ram_free_mb: i64,
    /// CPU usage right now, 0-100.
    #[serde(default)]
    pub cpu_usage: f64,
    /// How many jobs it runs at once.
    #[serde(deserialize_with = "crate::integer::int")]
    pub max_parallel_jobs: i64,
    /// Free-form labels (zone, gpu, ...).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The agent's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// How it runs jobs: `docker` or `process`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor: Option<String>,
    /// True when the agent made sure, before registering, that nothing of an earlier life
    /// of this worker still runs (its orphan containers removed, its process groups
    /// killed): the server may then hand that life's jobs to others at once. Without it the
    /// server holds them until the kill grace has passed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub earlier_jobs_stopped: bool,
}

/// The answer to a registration.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisterWorkerResponse {
    /// The id to use in every later call.
    pub worker_id: String,
    /// The per-worker bearer token for worker routes (only when the server uses tokens).
    pub token: Option<String>,
    /// The worker as stored.
    pub worker: Worker,
    /// After this much silence the server gives the worker's jobs to others; an agent cut off
    /// that long stops them itself, so no job runs twice at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_timeout_ms: Option<i64>,
}

/// `POST /api/workers/heartbeat`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HeartbeatRequest {
    /// The worker.
    pub worker_id: String,
    /// CPU usage, 0-100.
    #[serde(default)]
    pub cpu_usage: f64,
    /// Free memory in MiB.
    #[serde(default, deserialize_with = "crate::integer::int")]
    pub ram_free_mb: i64,
    /// Total memory in MiB.
    #[serde(default, deserialize_with = "crate::integer::int")]
    pub ram_total_mb: i64,
    /// Every job the agent is running.
    #[serde(default)]
    pub running_job_ids: Vec<String>,
    /// False when the agent's executor is unusable (Docker down): the worker turns UNHEALTHY.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor_ok: Option<bool>,
    /// True while the agent shuts down: it finishes what it runs and is given nothing new.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draining: Option<bool>,
    /// The images its engine holds (a bounded list, most recently used first); absent when
    /// unchanged since the last heartbeat or when it runs no containers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images: Option<Vec<ImageHeld>>,
}

/// The answer to a heartbeat.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HeartbeatResponse {
    /// The worker's status after the heartbeat.
    pub status: WorkerStatus,
    /// Reported jobs the agent must stop, repeated until it stops reporting them.
    pub stop_jobs: Vec<StopJob>,
}

/// An instruction to stop a running job.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StopJob {
    /// The job to stop.
    pub job_id: String,
    /// Why.
    pub reason: StopReason,
}

/// Why a worker must stop a job.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StopReason {
    /// A client cancelled it.
    Cancelled,
    /// It ran past its timeout.
    TimedOut,
    /// It belongs to another worker or another attempt now.
    Reassigned,
    /// The server knows no such job.
    Unknown,
    /// It already ended.
    Finished,
}

/// A worker as the API shows it. Times are epoch milliseconds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Worker {
    /// The worker's id.
    pub id: String,
    /// Its host's name.
    pub hostname: String,
    /// Its state.
    pub status: WorkerStatus,
    /// CPU cores offered.
    pub cpu_cores: f64,
    /// Total memory in MiB.
    pub ram_total_mb: i64,
    /// Free memory in MiB at the last heartbeat.
    pub ram_free_mb: i64,
    /// CPU usage at the last heartbeat.
    pub cpu_usage: f64,
    /// Jobs it runs at once.
    pub max_parallel_jobs: i64,
    /// CPU reserved by its assigned and running jobs.
    pub reserved_cpu: f64,
    /// MiB reserved by its assigned and running jobs.
    pub reserved_ram_mb: i64,
    /// Its assigned and running jobs.
    pub current_job_ids: Vec<String>,
    /// Failed attempts in a row.
    pub consecutive_failures: i64,
    /// No new jobs until then.
    pub cooldown_until: Option<i64>,
    /// Labels it registered with.
    pub labels: BTreeMap<String, String>,
    /// Agent version.
    pub version: Option<String>,
    /// `docker` or `process`.
    pub executor: Option<String>,
    /// Whether its executor works, per its last heartbeat.
    pub executor_ok: bool,
    /// Whether it is shutting down (it gets no new job).
    #[serde(default)]
    pub draining: bool,
    /// When it (last) registered.
    pub registered_at: i64,
    /// When it last sent a heartbeat.
    pub last_heartbeat_at: i64,
    /// The images its engine holds, per its heartbeats (placement prefers a worker that has
    /// a job's image).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<ImageHeld>,
}

/// Worker counts by status.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkerSummary {
    /// IDLE workers.
    pub idle: i64,
    /// BUSY workers.
    pub busy: i64,
    /// UNHEALTHY workers.
    pub unhealthy: i64,
    /// OFFLINE workers.
    pub offline: i64,
}

/// `GET /api/workers/list`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkersListResponse {
    /// How many workers are registered.
    pub total_workers: i64,
    /// Counts by status.
    pub summary: WorkerSummary,
    /// Every worker's full state.
    pub workers: Vec<Worker>,
}
