//! The periodic sweepers. Each is a small struct with a `run_once(now)` that returns what it
//! examined and changed; the leader calls them in turn on every sweep ([`standard`] builds
//! the list, for the leader and the benchmark alike).

use crate::config::{millis, ServeConfig};
use crate::model::SweepCounts;
use crate::repo::{Repo, RepoResult};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

/// Rows handled per sweep and sweeper; the rest wait for the next sweep.
pub const SWEEP_BATCH: i64 = 1000;

/// One periodic maintenance service.
#[async_trait]
pub trait Sweeper: Send + Sync {
    /// Its name, for logs.
    fn name(&self) -> &'static str;
    /// One pass at time `now` (epoch ms).
    async fn run_once(&self, now: i64) -> RepoResult<SweepCounts>;

    /// How long a replica must have led before this sweeper may run: silence it judges must
    /// have happened while a leader was watching, not while no server was up.
    fn warmup(&self) -> Duration {
        Duration::ZERO
    }
}

/// Every sweeper with the settings of `config`, in the order the leader runs them.
pub fn standard(repo: &Arc<dyn Repo>, config: &ServeConfig) -> Vec<Box<dyn Sweeper>> {
    let heartbeat_timeout_ms = millis(config.heartbeat_timeout);
    let sweepers: Vec<Box<dyn Sweeper>> = vec![
        Box::new(HeartbeatSweeper {
            repo: repo.clone(),
            heartbeat_timeout_ms,
        }),
        Box::new(TimeoutSweeper {
            repo: repo.clone(),
            grace_ms: millis(config.job_timeout_grace),
        }),
        // An assignment waits for its start as long as a worker may be silent.
        Box::new(UnstartedSweeper {
            repo: repo.clone(),
            start_timeout_ms: heartbeat_timeout_ms,
        }),
        Box::new(HoldSweeper { repo: repo.clone() }),
        Box::new(CooldownSweeper { repo: repo.clone() }),
    ];
    sweepers
        .into_iter()
        .chain(super::maintenance::services(repo, &config.retention))
        .collect()
}

/// Marks workers silent for the heartbeat timeout OFFLINE and requeues their jobs.
pub struct HeartbeatSweeper {
    /// Where jobs and workers are.
    pub repo: Arc<dyn Repo>,
    /// Silence that makes a worker OFFLINE.
    pub heartbeat_timeout_ms: i64,
}

#[async_trait]
impl Sweeper for HeartbeatSweeper {
    fn name(&self) -> &'static str {
        "heartbeat"
    }

    async fn run_once(&self, now: i64) -> RepoResult<SweepCounts> {
        self.repo
            .worker_expire_heartbeats(now - self.heartbeat_timeout_ms, now, SWEEP_BATCH)
            .await
    }

    /// After a server restart (or a new leader), agents get one heartbeat timeout to report in
    /// before the silence of the outage is held against them and their jobs are requeued.
    fn warmup(&self) -> Duration {
        Duration::from_millis(u64::try_from(self.heartbeat_timeout_ms).unwrap_or(0))
    }
}

/// Ends or retries RUNNING jobs past their timeout plus grace; their workers are told to kill
/// them in the next heartbeat or poll answer.
pub struct TimeoutSweeper {
    /// Where jobs and workers are.
    pub repo: Arc<dyn Repo>,
    /// Extra time past the timeout before the server steps in (the agent kills on time).
    pub grace_ms: i64,
}

#[async_trait]
impl Sweeper for TimeoutSweeper {
    fn name(&self) -> &'static str {
        "timeout"
    }

    async fn run_once(&self, now: i64) -> RepoResult<SweepCounts> {
        self.repo
            .job_expire_deadlines(now - self.grace_ms, now, SWEEP_BATCH)
            .await
    }
}

/// Requeues jobs assigned to a worker that never started them (the delivery was lost or the
/// agent is stuck).
pub struct UnstartedSweeper {
    /// Where jobs and workers are.
    pub repo: Arc<dyn Repo>,
    /// How long an assignment may wait for its start.
    pub start_timeout_ms: i64,
}

#[async_trait]
impl Sweeper for UnstartedSweeper {
    fn name(&self) -> &'static str {
        "unstarted"
    }

    async fn run_once(&self, now: i64) -> RepoResult<SweepCounts> {
        self.repo
            .job_requeue_unstarted(now - self.start_timeout_ms, now, SWEEP_BATCH)
            .await
    }
}

/// Ends holds on workers whose bound (the orphan grace) passed: a restarted agent's orphans
/// are requeued, a stopped attempt's reservation is given back (see `lifecycle::hold`).
pub struct HoldSweeper {
    /// Where jobs and workers are.
    pub repo: Arc<dyn Repo>,
}

#[async_trait]
impl Sweeper for HoldSweeper {
    fn name(&self) -> &'static str {
        "holds"
    }

    async fn run_once(&self, now: i64) -> RepoResult<SweepCounts> {
        self.repo.job_end_holds(now, SWEEP_BATCH).await
    }
}

/// Ends cooldowns that ran out, so those workers get jobs again.
pub struct CooldownSweeper {
    /// Where jobs and workers are.
    pub repo: Arc<dyn Repo>,
}

#[async_trait]
impl Sweeper for CooldownSweeper {
    fn name(&self) -> &'static str {
        "cooldown"
    }

    async fn run_once(&self, now: i64) -> RepoResult<SweepCounts> {
        self.repo.worker_end_cooldowns(now).await
    }
}
