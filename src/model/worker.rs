//! A worker's row as stored, and its wire form.

use super::{milli_to_cores, CorruptRow};
use gantry_api::{Worker, WorkerStatus};

/// One row of `workers`. Its state (IDLE, BUSY, UNHEALTHY, OFFLINE) is not stored but derived
/// from these facts by [`crate::lifecycle::worker::status`], so it can never disagree with them.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WorkerRecord {
    /// Given by the server, or asked for by the agent (`WORKER_ID`).
    pub id: String,
    /// Host name the agent reported.
    pub hostname: String,
    /// CPU offered, millicores.
    pub cpu_milli: i64,
    /// Total memory, MiB.
    pub ram_total_mb: i64,
    /// Free memory at the last heartbeat, MiB.
    pub ram_free_mb: i64,
    /// CPU usage at the last heartbeat, 0-100.
    pub cpu_usage: f64,
    /// The most jobs it holds at once.
    pub max_parallel_jobs: i64,
    /// CPU reserved by the jobs it holds, millicores.
    pub reserved_cpu_milli: i64,
    /// Memory reserved by the jobs it holds, MiB.
    pub reserved_ram_mb: i64,
    /// Jobs it holds, ASSIGNED or RUNNING (the column's older name is `running_jobs`).
    #[sqlx(rename = "running_jobs")]
    pub held_jobs: i64,
    /// Labels as a JSON object.
    pub labels: String,
    /// Agent version, for the fleet listing.
    pub version: Option<String>,
    /// `docker` or `process`.
    pub executor: Option<String>,
    /// 1 while its executor works (the agent says so in each heartbeat).
    pub executor_ok: i64,
    /// SHA-256 of its per-worker token, when tokens are in use.
    pub token_hash: Option<String>,
    /// 1 while it shuts down: it gets no new job.
    pub draining: i64,
    /// Failures in a row that were its fault.
    pub consecutive_failures: i64,
    /// End of its cooldown, once one started.
    pub cooldown_until: Option<i64>,
    /// Set while OFFLINE: since when.
    pub offline_since: Option<i64>,
    /// When this life of the worker registered.
    pub registered_at: i64,
    /// Its last heartbeat.
    pub last_heartbeat_at: i64,
    /// The images its engine holds, as a JSON array of `ImageHeld` (from its heartbeats).
    pub images: Option<String>,
}

impl WorkerRecord {
    /// Whether placement could decide differently for the worker as `after` than as `self`:
    /// its capacity, limits, reservations, health, cooldown, presence or images changed.
    /// Usage figures (`cpu_usage`, `ram_free_mb`) and the heartbeat's time are not read by
    /// placement, so a heartbeat that changes only those needs no placement pass.
    pub fn placement_differs(&self, after: &WorkerRecord) -> bool {
        self.cpu_milli != after.cpu_milli
            || self.ram_total_mb != after.ram_total_mb
            || self.max_parallel_jobs != after.max_parallel_jobs
            || self.reserved_cpu_milli != after.reserved_cpu_milli
            || self.reserved_ram_mb != after.reserved_ram_mb
            || self.held_jobs != after.held_jobs
            || self.executor_ok != after.executor_ok
            || self.draining != after.draining
            || self.cooldown_until != after.cooldown_until
            || self.offline_since != after.offline_since
            || self.images != after.images
    }

    /// The wire form in `status` (see [`crate::lifecycle::worker::status`]), with the ids of
    /// the jobs it holds.
    pub fn to_api(
        &self,
        status: WorkerStatus,
        now: i64,
        current_job_ids: Vec<String>,
    ) -> Result<Worker, CorruptRow> {
        let labels = serde_json::from_str(&self.labels)
            .map_err(|e| CorruptRow(format!("worker {} labels: {e}", self.id)))?;
        Ok(Worker {
            id: self.id.clone(),
            hostname: self.hostname.clone(),
            status,
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
            images: match self.images.as_deref() {
                Some(text) => serde_json::from_str(text)
                    .map_err(|e| CorruptRow(format!("worker {} images: {e}", self.id)))?,
                None => Vec::new(),
            },
        })
    }
}
