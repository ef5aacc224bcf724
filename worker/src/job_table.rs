//! The table of jobs running on this worker, shared by heartbeats, polls, stop instructions
//! and the attempts, with the memory of attempts already seen (so a delivery made twice runs
//! once).

use gantry_api::{Job, StopJob, StopReason};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;
use tokio_util::sync::CancellationToken;

/// How many `(job, attempt)` pairs are remembered to refuse a second run.
const SEEN_CAPACITY: usize = 10_000;

/// Why a running job was stopped from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopCause {
    /// The server said so, for this reason.
    Server(StopReason),
    /// The agent is shutting down and hands the job back.
    Shutdown,
    /// The server has been away for most of its heartbeat timeout (see `fence.rs`).
    LostServer,
}

/// A job running here.
#[derive(Debug)]
struct Running {
    /// Its attempt number.
    attempt: i64,
    /// Stops it.
    cancel: CancellationToken,
    /// Why it was stopped, once it was.
    cause: Option<StopCause>,
}

/// The running jobs and the attempts already seen. A std mutex: it is held only for map
/// operations, never across an await.
#[derive(Debug, Default)]
pub(crate) struct JobTable {
    /// The running jobs and the seen attempts, changed together under one lock.
    inner: Mutex<TableInner>,
}

/// The state behind [`JobTable`].
#[derive(Debug, Default)]
struct TableInner {
    /// Running jobs by id.
    running: HashMap<String, Running>,
    /// Attempts ever admitted (bounded, oldest forgotten first).
    seen: HashSet<(String, i64)>,
    /// Admission order of `seen`.
    seen_order: VecDeque<(String, i64)>,
}

impl JobTable {
    /// Admits a delivered job unless this attempt was seen before; returns its cancel token.
    pub(crate) fn admit(&self, job: Job) -> Option<(Job, CancellationToken)> {
        let mut inner = self.inner.lock().expect("job table lock");
        let key = (job.id.clone(), job.attempts);
        if inner.seen.contains(&key) {
            tracing::debug!(
                job_id = job.id,
                attempt = job.attempts,
                "duplicate delivery ignored"
            );
            return None;
        }
        inner.seen.insert(key.clone());
        inner.seen_order.push_back(key);
        while inner.seen_order.len() > SEEN_CAPACITY {
            if let Some(old) = inner.seen_order.pop_front() {
                inner.seen.remove(&old);
            }
        }
        let cancel = CancellationToken::new();
        let previous = inner.running.insert(
            job.id.clone(),
            Running {
                attempt: job.attempts,
                cancel: cancel.clone(),
                cause: None,
            },
        );
        if let Some(old) = previous {
            // A newer attempt of a job still running here: the old one is stale.
            tracing::warn!(
                job_id = job.id,
                old = old.attempt,
                "newer attempt delivered"
            );
            old.cancel.cancel();
        }
        Some((job, cancel))
    }

    /// Forgets a job that ended (only if it is still the same attempt).
    pub(crate) fn finish(&self, job_id: &str, attempt: i64) {
        let mut inner = self.inner.lock().expect("job table lock");
        if inner
            .running
            .get(job_id)
            .is_some_and(|r| r.attempt == attempt)
        {
            inner.running.remove(job_id);
        }
    }

    /// Ids of the jobs running here.
    pub(crate) fn running_ids(&self) -> Vec<String> {
        let inner = self.inner.lock().expect("job table lock");
        let mut ids: Vec<String> = inner.running.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// How many jobs run here.
    pub(crate) fn len(&self) -> usize {
        self.inner.lock().expect("job table lock").running.len()
    }

    /// True when no job runs here.
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stops the jobs the server lists.
    pub(crate) fn stop(&self, stops: &[StopJob]) {
        let mut inner = self.inner.lock().expect("job table lock");
        for stop in stops {
            if let Some(job) = inner.running.get_mut(&stop.job_id) {
                if job.cause.is_none() {
                    tracing::info!(job_id = stop.job_id, reason = ?stop.reason, "stopping job");
                    job.cause = Some(StopCause::Server(stop.reason));
                }
                job.cancel.cancel();
            }
        }
    }

    /// Stops every running job for `cause`; returns how many.
    pub(crate) fn stop_all(&self, cause: StopCause) -> usize {
        let mut inner = self.inner.lock().expect("job table lock");
        for job in inner.running.values_mut() {
            job.cause.get_or_insert(cause);
            job.cancel.cancel();
        }
        inner.running.len()
    }

    /// Why a job was stopped, if it was.
    pub(crate) fn cause(&self, job_id: &str, attempt: i64) -> Option<StopCause> {
        let inner = self.inner.lock().expect("job table lock");
        inner
            .running
            .get(job_id)
            .filter(|r| r.attempt == attempt)
            .and_then(|r| r.cause)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::job;

    #[test]
    fn the_same_attempt_is_admitted_once() {
        let table = JobTable::default();
        assert!(table.admit(job("a", 1)).is_some());
        assert!(table.admit(job("a", 1)).is_none());
        assert_eq!(table.running_ids(), vec!["a".to_string()]);
        table.finish("a", 1);
        assert!(
            table.admit(job("a", 1)).is_none(),
            "still remembered after it ended"
        );
        assert!(table.admit(job("a", 2)).is_some());
    }

    #[test]
    fn stops_cancel_and_remember_why() {
        let table = JobTable::default();
        let (_, cancel) = table.admit(job("b", 3)).unwrap();
        table.stop(&[StopJob {
            job_id: "b".into(),
            reason: StopReason::Cancelled,
        }]);
        assert!(cancel.is_cancelled());
        assert_eq!(
            table.cause("b", 3),
            Some(StopCause::Server(StopReason::Cancelled))
        );
        assert_eq!(table.stop_all(StopCause::Shutdown), 1);
        assert_eq!(
            table.cause("b", 3),
            Some(StopCause::Server(StopReason::Cancelled)),
            "the first cause wins"
        );
    }
}
