//! The agent's heartbeat: a report on a jittered timer that also carries stop instructions,
//! and the fence that stops every job when the server stays silent too long.

use super::images::ImageReport;
use super::Agent;
use crate::client::{ClientError, Retry};
use crate::job_table::StopCause;
use gantry_api::HeartbeatRequest;
use rand::Rng;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Tries of one heartbeat before waiting for the next tick.
const HEARTBEAT_TRIES: u32 = 3;
/// How often the fence checks the server's silence.
const FENCE_CHECK: Duration = Duration::from_millis(100);

impl Agent {
    /// Sends heartbeats on a jittered timer until `stop` fires; never waits on job work.
    pub(super) async fn heartbeat_loop(self: Arc<Self>, stop: CancellationToken) {
        let mut images = ImageReport::default();
        loop {
            tokio::select! {
                _ = tokio::time::sleep(jittered(self.config.heartbeat_interval)) => {}
                _ = self.beat_now.notified() => {}
                _ = stop.cancelled() => return,
            }
            let executor_ok = self.executor.healthy().await;
            let load = self.host.lock().expect("host sampler lock").sample();
            let body = HeartbeatRequest {
                worker_id: self.worker_id.get(),
                cpu_usage: load.cpu_usage,
                ram_free_mb: load.ram_free_mb,
                ram_total_mb: load.ram_total_mb,
                running_job_ids: self.jobs.running_ids(),
                executor_ok: Some(executor_ok),
                draining: Some(self.draining.load(Ordering::Relaxed)),
                images: images.next(&*self.executor).await,
            };
            let sent = std::time::Instant::now();
            let answer = self
                .client
                .heartbeat(&body, &Retry::times(HEARTBEAT_TRIES, &stop))
                .await;
            if answer.is_err() {
                images.forget();
            }
            match answer {
                Ok(resp) => {
                    // Stops first: a start waiting on the fence must find them applied.
                    self.jobs.stop(&resp.stop_jobs);
                    self.fence.contact_since(sent);
                }
                Err(e) if e.is_unknown_worker() => self.reregister(&stop).await,
                Err(ClientError::Abandoned) => return,
                Err(e) => tracing::warn!(error = %e, "heartbeat failed"),
            }
        }
    }

    /// Stops every running job once the server has been silent for most of its heartbeat
    /// timeout: by then it is about to give them to other workers.
    pub(super) async fn fence_loop(self: Arc<Self>, stop: CancellationToken) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(FENCE_CHECK) => {}
                _ = stop.cancelled() => return,
            }
            if let Some(silent) = self.fence.trip() {
                let stopped = self.jobs.stop_all(StopCause::LostServer);
                if stopped > 0 {
                    tracing::warn!(
                        ?silent,
                        stopped,
                        "no answer from the server: stopping the running jobs before it gives \
                         them to other workers"
                    );
                }
            }
        }
    }
}

/// `base` moved by a random ±10%.
fn jittered(base: Duration) -> Duration {
    base.mul_f64(rand::rng().random_range(0.9..=1.1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_ten_percent() {
        for _ in 0..100 {
            let d = jittered(Duration::from_secs(10));
            assert!(
                d >= Duration::from_secs(9) && d <= Duration::from_secs(11),
                "{d:?}"
            );
        }
    }
}
