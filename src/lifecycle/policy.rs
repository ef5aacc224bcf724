//! The retry and cooldown settings the rules apply. Their defaults are `gantry serve`'s flags
//! (see `config.rs`), defined once there.

use rand::Rng;

/// Which failed attempts count toward a worker's cooldown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CooldownCounts {
    /// The worker's own faults, and attempts that failed on it and then succeeded elsewhere.
    WorkerFaults,
    /// Every failed attempt, whoever caused it (the prototype's rule).
    AllFailures,
}

/// The rules for retries and worker cooldown.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Backoff before the first retry; doubled per failed attempt.
    pub retry_backoff_ms: i64,
    /// The largest backoff.
    pub retry_backoff_cap_ms: i64,
    /// Infrastructure losses (worker gone, executor error) a job survives.
    pub infra_retry_budget: i64,
    /// Failures in a row on one worker, by its fault, that start its cooldown.
    pub cooldown_after_failures: i64,
    /// How long a cooldown lasts.
    pub worker_cooldown_ms: i64,
    /// Which failures count toward a cooldown.
    pub cooldown_counts: CooldownCounts,
    /// How long an attempt that may still run on its worker (cancelled, timed out, or left
    /// by an agent that restarted without stopping it) holds its reservation and its job at
    /// most (see `hold.rs`).
    pub orphan_grace_ms: i64,
}

impl Policy {
    /// The wait before retry number `failed` (1-based): base doubled per attempt, capped,
    /// with up to 20% jitter either way so retries of a burst do not stampede.
    pub fn backoff_ms(&self, failed: i64) -> i64 {
        let exp = (failed - 1).clamp(0, 30) as u32;
        let raw = self.retry_backoff_ms.saturating_mul(1_i64 << exp);
        let capped = raw.min(self.retry_backoff_cap_ms).max(0);
        if capped == 0 {
            return 0;
        }
        let spread = capped / 5;
        capped + rand::rng().random_range(-spread..=spread)
    }

    /// When a cooldown that starts at `now` ends.
    pub fn cooldown_ends(&self, now: i64) -> i64 {
        now + self.worker_cooldown_ms
    }
}
