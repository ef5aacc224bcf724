//! What the repository's calls report back.

use super::WorkerRecord;
use gantry_api::StopJob;

/// What a heartbeat changed and what the agent must do.
#[derive(Debug, Clone)]
pub struct HeartbeatOutcome {
    /// Reported jobs the agent must stop.
    pub stop_jobs: Vec<StopJob>,
    /// Jobs the worker held but no longer reports, handed back for a retry.
    pub lost_jobs: u64,
    /// True when the worker was OFFLINE and is back.
    pub came_back: bool,
    /// The worker as the heartbeat left it.
    pub worker: WorkerRecord,
    /// Whether the heartbeat changed anything placement reads (see
    /// [`WorkerRecord::placement_differs`]); only then does it ask for a placement pass.
    pub placement_changed: bool,
}

/// Counts of one scheduler pass, for logs and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepCounts {
    /// Rows the pass looked at.
    pub examined: u64,
    /// Jobs or workers changed.
    pub changed: u64,
}

/// One job given to one worker by a placement pass: a new attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
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
    /// Jobs placed, in queue order.
    pub placed: Vec<Assignment>,
    /// Jobs marked as fitting no worker.
    pub blocked: u64,
}
