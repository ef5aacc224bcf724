//! Self-fencing: an agent cut off from the server stops its jobs before the server hands them
//! to another worker, so a network partition never runs one job on two workers at once (as
//! Nomad's `stop_after_client_disconnect` does).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The share of the server's heartbeat timeout after which the agent stops its jobs: early
/// enough that they are stopped before the server requeues them.
const FENCE_SHARE: f64 = 0.75;

/// When this agent last heard from the server, and how long it may go without.
#[derive(Debug)]
pub(crate) struct Fence {
    /// The last successful call to the server.
    last_contact: Mutex<Instant>,
    /// Silence after which running jobs are stopped; unknown until the server says.
    after: Mutex<Option<Duration>>,
    /// Set once the jobs were stopped for the current silence.
    tripped: AtomicBool,
}

impl Fence {
    /// A fence with no limit yet.
    pub(crate) fn new() -> Fence {
        Fence {
            last_contact: Mutex::new(Instant::now()),
            after: Mutex::new(None),
            tripped: AtomicBool::new(false),
        }
    }

    /// Takes the limit from the server's heartbeat timeout (from the registration answer).
    pub(crate) fn set_server_timeout(&self, timeout_ms: Option<i64>) {
        let after = timeout_ms
            .filter(|ms| *ms > 0)
            .map(|ms| Duration::from_millis((ms as f64 * FENCE_SHARE) as u64));
        *self.after.lock().expect("fence lock") = after;
    }

    /// The server answered (registration: its answer is the contact).
    pub(crate) fn contact(&self) {
        self.contact_since(Instant::now());
    }

    /// The server answered a heartbeat sent at `sent`. The time of sending, not of the
    /// answer: the server counts our silence from when it got the heartbeat, which is no
    /// earlier than this, while an answer may be read long after (an agent frozen, or
    /// starved, with it in its socket).
    pub(crate) fn contact_since(&self, sent: Instant) {
        let mut last = self.last_contact.lock().expect("fence lock");
        if sent > *last {
            *last = sent;
            self.tripped.store(false, Ordering::Relaxed);
        }
    }

    /// Whether a job may start now: not once the server has been silent past the limit, when
    /// it may have handed the job to another worker already.
    pub(crate) fn allows_start(&self) -> bool {
        self.silent_past_limit().is_none()
    }

    /// How long the server has been silent, once per silence that passed the limit.
    pub(crate) fn trip(&self) -> Option<Duration> {
        let silent = self.silent_past_limit()?;
        (!self.tripped.swap(true, Ordering::Relaxed)).then_some(silent)
    }

    /// How long the server has been silent, when that is past the limit.
    fn silent_past_limit(&self) -> Option<Duration> {
        let after = (*self.after.lock().expect("fence lock"))?;
        let silent = self.last_contact.lock().expect("fence lock").elapsed();
        (silent > after).then_some(silent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trips_once_per_silence_and_only_with_a_limit() {
        let fence = Fence::new();
        assert_eq!(fence.trip(), None, "no limit known yet");
        fence.set_server_timeout(Some(4));
        std::thread::sleep(Duration::from_millis(10));
        assert!(fence.trip().is_some());
        assert_eq!(fence.trip(), None, "once per silence");
        fence.contact();
        assert_eq!(fence.trip(), None, "heard from the server");
    }

    #[test]
    fn contact_counts_from_the_sending_and_gates_starts() {
        let fence = Fence::new();
        assert!(fence.allows_start(), "no limit known yet");
        fence.set_server_timeout(Some(40));
        let sent = Instant::now();
        std::thread::sleep(Duration::from_millis(40));
        // The answer to a heartbeat sent 40 ms ago, read only now: silent for 40 ms > 30 ms.
        fence.contact_since(sent);
        assert!(
            !fence.allows_start(),
            "the server may have given the jobs away"
        );
        assert!(fence.trip().is_some());
        fence.contact_since(sent);
        assert_eq!(fence.trip(), None, "an older sending changes nothing");
        fence.contact_since(Instant::now());
        assert!(fence.allows_start());
        assert_eq!(fence.trip(), None);
    }
}
