//! The agent's poll loop: long-polls the server for jobs while slots are free and launches
//! them; with every slot busy it polls only to learn which jobs to stop.

use super::Agent;
use crate::client::{ClientError, Retry};
use gantry_api::GetJobRequest;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Tries of one get-job call before pausing the poll loop.
const POLL_TRIES: u32 = 3;
/// Pause after a failed poll.
const POLL_ERROR_PAUSE: Duration = Duration::from_secs(2);
/// Shortest time between two polls made only to learn which jobs to stop (no free slot).
const STOP_POLL_MIN_GAP: Duration = Duration::from_secs(1);

impl Agent {
    /// Long-polls for jobs and launches them, until `shutdown` fires.
    pub(super) async fn poll_loop(
        self: &Arc<Self>,
        tasks: &mut JoinSet<()>,
        shutdown: &CancellationToken,
    ) {
        let slots = self.config.parallelism();
        let wait_ms = self.config.job_poll_interval.as_millis() as i64;
        while !shutdown.is_cancelled() {
            while tasks.try_join_next().is_some() {}
            let free = slots.saturating_sub(self.jobs.len());
            let body = GetJobRequest {
                worker_id: self.worker_id.get(),
                max: Some(free as i64),
                wait_ms: Some(wait_ms),
                running_job_ids: Some(self.jobs.running_ids()),
                start_on_delivery: self.attempts.executor.starts_at_once(),
            };
            let retry = Retry::times(POLL_TRIES, shutdown);
            if free == 0 && !self.stop_polls.load(Ordering::Relaxed) {
                tokio::select! {
                    _ = self.slot_freed.notified() => continue,
                    _ = shutdown.cancelled() => break,
                }
            }
            let result = if free == 0 {
                // No slot: only ask which jobs to stop (so cancels arrive fast), and drop the
                // question the moment a slot frees. Dropping is safe: max 0 delivers no job.
                tokio::select! {
                    r = async {
                        let (r, _) = tokio::join!(
                            self.client.get_job(&body, &retry),
                            tokio::time::sleep(STOP_POLL_MIN_GAP)
                        );
                        r
                    } => r,
                    _ = self.slot_freed.notified() => continue,
                    _ = shutdown.cancelled() => break,
                }
            } else {
                tokio::select! {
                    r = self.client.get_job(&body, &retry) => r,
                    _ = shutdown.cancelled() => break,
                }
            };
            match result {
                Ok(resp) => {
                    self.fence.contact();
                    self.jobs.stop(&resp.stop_jobs);
                    for job in resp.jobs {
                        if let Some((job, cancel)) = self.jobs.admit(job) {
                            tasks.spawn(self.attempts.clone().run_job(job, cancel));
                        }
                    }
                }
                Err(e) if e.is_unknown_worker() => self.reregister(shutdown).await,
                Err(ClientError::Refused { status: 400, .. }) if free == 0 => {
                    tracing::info!("server refuses max=0 polls: stop instructions come with heartbeats only while all slots are busy");
                    self.stop_polls.store(false, Ordering::Relaxed);
                }
                Err(ClientError::Abandoned) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "polling for jobs failed");
                    tokio::select! {
                        _ = tokio::time::sleep(POLL_ERROR_PAUSE) => {}
                        _ = shutdown.cancelled() => break,
                    }
                }
            }
        }
    }
}
