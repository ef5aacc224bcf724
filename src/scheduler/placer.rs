//! The placer: the service that runs placement passes (promote due PENDING jobs, place
//! QUEUED ones on workers) on triggers, on the sweep timer and when a PENDING job falls due.

use super::SchedulerHandle;
use crate::clock::now_ms;
use crate::model::PlaceOutcome;
use crate::repo::{Repo, RepoResult};
use crate::waiters::Waiters;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Jobs promoted or placed in one transaction; a full batch is followed by another at once.
pub const PLACEMENT_BATCH: i64 = 256;

/// Runs placement passes on triggers, on the sweep timer, and when a PENDING job falls due.
pub struct Placer {
    /// Where jobs and workers are.
    pub repo: Arc<dyn Repo>,
    /// Wakes the pollers of workers that got jobs.
    pub waiters: Arc<Waiters>,
    /// Where triggers arrive.
    pub handle: SchedulerHandle,
    /// The longest wait between passes.
    pub sweep_interval: Duration,
}

impl Placer {
    /// One pass: promote, place, wake the workers that got jobs.
    pub async fn run_once(&self) -> RepoResult<PlaceOutcome> {
        let started = std::time::Instant::now();
        let out = self.repo.job_place(now_ms(), PLACEMENT_BATCH).await?;
        crate::metrics::observe_sweep("placement", started);
        for placed in &out.placed {
            self.waiters.wake(&placed.worker_id);
        }
        if out.promoted > 0 || !out.placed.is_empty() || out.blocked > 0 {
            tracing::debug!(
                promoted = out.promoted,
                placed = out.placed.len(),
                blocked = out.blocked,
                "placement pass"
            );
        }
        Ok(out)
    }

    /// Loops until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            let more = match self.run_once().await {
                Ok(out) => {
                    out.placed.len() as i64 >= PLACEMENT_BATCH
                        || out.promoted as i64 >= PLACEMENT_BATCH
                }
                Err(e) => {
                    tracing::error!("placement pass failed: {e}");
                    false
                }
            };
            if more {
                continue;
            }
            let wait = self.next_wait().await;
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.handle.triggered() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Until the sweep timer or the next PENDING job's run time, whichever is sooner.
    async fn next_wait(&self) -> Duration {
        match self.repo.job_next_due().await {
            Ok(Some(due)) => {
                let until = u64::try_from(due - now_ms()).unwrap_or(0);
                self.sweep_interval.min(Duration::from_millis(until))
            }
            Ok(None) => self.sweep_interval,
            Err(e) => {
                tracing::warn!("could not read the next due job: {e}");
                self.sweep_interval
            }
        }
    }
}
