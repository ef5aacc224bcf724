//! The agent's poll loop: long-polls the server for jobs while slots are free and launches
//! them; with every slot busy it polls only to learn which jobs to stop.

use super::Agent;
use crate::client::{outcome, ClientError, Queued, Retry};
use gantry_api::{GetJobRequest, SubmitResultRequest};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Tries of one get-job call before pausing the poll loop.
const POLL_TRIES: u32 = 3;
/// Pause after a failed poll.
const POLL_ERROR_PAUSE: Duration = Duration::from_secs(2);
/// Longest wait of a poll that carries results (they are answered when it returns): about
/// one placement pass, for the jobs their freed slots take.
const CARRYING_WAIT: Duration = Duration::from_millis(50);
/// Most results one poll carries (the server's batch limit is higher).
const MAX_CARRIED: usize = 200;
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
            // Results waiting to be sent ride on this poll, and their slots count as free:
            // the server records them before it hands out jobs.
            let mut carried = self.carried_results();
            let free = (slots + carried.len())
                .saturating_sub(self.jobs.len())
                .min(slots);
            if free == 0 {
                // Only while more attempts run than there are slots: send them the usual way.
                self.attempts.results.requeue(std::mem::take(&mut carried));
            }
            let body = GetJobRequest {
                worker_id: self.worker_id.get(),
                max: Some(free as i64),
                // Carried results are answered when the poll returns: wait only briefly.
                wait_ms: Some(if carried.is_empty() {
                    wait_ms
                } else {
                    wait_ms.min(CARRYING_WAIT.as_millis() as i64)
                }),
                // Not the carried ones: they ended, and the server records it first.
                running_job_ids: Some(
                    self.jobs
                        .running_ids()
                        .into_iter()
                        .filter(|id| !carried.iter().any(|(r, _)| &r.job_id == id))
                        .collect(),
                ),
                start_on_delivery: self.attempts.executor.starts_at_once(),
                results: carried.iter().map(|(r, _)| r.clone()).collect(),
            };
            // A poll carrying results is tried once: a retry could record them twice, and
            // what it could not deliver goes back to the result batches, which retry.
            let tries = if carried.is_empty() { POLL_TRIES } else { 1 };
            let retry = Retry::times(tries, shutdown);
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
                    _ = shutdown.cancelled() => {
                        self.attempts.results.requeue(carried);
                        break;
                    }
                }
            };
            let result = match result {
                Ok(mut resp) => {
                    self.answer_carried(carried, std::mem::take(&mut resp.results));
                    Ok(resp)
                }
                Err(e) => {
                    self.attempts.results.requeue(carried);
                    Err(e)
                }
            };
            match result {
                Ok(resp) => {
                    // Not a contact for the fence: the server's liveness is its heartbeats.
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

    /// The queued results of this worker (up to a batch), taken to ride on the next poll;
    /// those of an earlier worker id (before a re-registration) stay for the result batches.
    fn carried_results(&self) -> Vec<Queued<SubmitResultRequest>> {
        if !self.carry_results.load(Ordering::Relaxed) {
            return Vec::new();
        }
        let taken = self.attempts.results.take_queued(MAX_CARRIED);
        if taken.is_empty() {
            return taken;
        }
        let me = self.worker_id.get();
        let (mine, others): (Vec<_>, Vec<_>) =
            taken.into_iter().partition(|(r, _)| r.worker_id == me);
        if !others.is_empty() {
            self.attempts.results.requeue(others);
        }
        mine
    }

    /// Answers each carried result's attempt from the poll's outcomes; a server that gave
    /// none (an older one, which ignores carried results) gets them again as result calls.
    fn answer_carried(
        &self,
        carried: Vec<Queued<SubmitResultRequest>>,
        outcomes: Vec<gantry_api::BatchOutcome>,
    ) {
        if outcomes.len() != carried.len() {
            if !carried.is_empty() {
                tracing::info!(
                    "the server ignores results carried on polls: sending them as result calls"
                );
                self.carry_results.store(false, Ordering::Relaxed);
                self.attempts.results.requeue(carried);
            }
            return;
        }
        for ((_, reply), item) in carried.into_iter().zip(outcomes) {
            let _ = reply.send(outcome(item));
        }
    }
}
