//! The leader loop: on every sweep, the replica holding the lease runs the sweepers.
//!
//! The lease is a row with an expiry (as River does it): it works on SQLite and PostgreSQL
//! alike and behind PgBouncer, where session advisory locks do not.

use super::sweepers::{self, Sweeper};
use super::SchedulerHandle;
use crate::clock::now_ms;
use crate::config::{millis, ServeConfig};
use crate::repo::Repo;
use crate::waiters::Waiters;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The lease's name in the `leases` table.
pub const LEASE_NAME: &str = "scheduler";

/// Sweeps a lease outlives its last renewal: a dead leader is replaced after about this many.
pub const LEASE_SWEEPS: u32 = 3;

/// Runs the sweepers while holding the leader lease.
pub struct Leader {
    repo: Arc<dyn Repo>,
    sweepers: Vec<Box<dyn Sweeper>>,
    waiters: Arc<Waiters>,
    handle: SchedulerHandle,
    sweep_interval: Duration,
    /// This process's name in the lease row.
    holder: String,
    /// Since when this process holds the lease without a break.
    leading_since: std::sync::Mutex<Option<std::time::Instant>>,
}

impl Leader {
    /// The leader loop with the standard sweepers.
    pub fn new(
        repo: Arc<dyn Repo>,
        config: &ServeConfig,
        waiters: Arc<Waiters>,
        handle: SchedulerHandle,
    ) -> Leader {
        let sweepers = sweepers::standard(&repo, config);
        Leader {
            repo,
            sweepers,
            waiters,
            handle,
            sweep_interval: config.sweep_interval,
            holder: format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()),
            leading_since: std::sync::Mutex::new(None),
        }
    }

    /// One sweep: renew the lease, then run every sweeper if we hold it. Returns how many rows
    /// the sweepers changed, or `None` when another replica leads.
    pub async fn run_once(&self) -> Option<u64> {
        let now = now_ms();
        let ttl = millis(self.sweep_interval * LEASE_SWEEPS);
        match self
            .repo
            .lease_acquire(LEASE_NAME, &self.holder, now, now + ttl)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                *self.leading_since.lock().expect("leader lock") = None;
                return None;
            }
            Err(e) => {
                tracing::error!("could not renew the scheduler lease: {e}");
                *self.leading_since.lock().expect("leader lock") = None;
                return None;
            }
        }
        let led_for = self
            .leading_since
            .lock()
            .expect("leader lock")
            .get_or_insert_with(std::time::Instant::now)
            .elapsed();
        let mut changed = 0;
        for sweeper in self.sweepers.iter().filter(|s| s.warmup() <= led_for) {
            let started = std::time::Instant::now();
            let result = sweeper.run_once(now_ms()).await;
            crate::metrics::observe_sweep(sweeper.name(), started);
            match result {
                Ok(counts) => {
                    if counts.changed > 0 {
                        tracing::info!(
                            sweeper = sweeper.name(),
                            changed = counts.changed,
                            "sweep changed rows"
                        );
                    }
                    changed += counts.changed;
                }
                Err(e) => tracing::error!(sweeper = sweeper.name(), "sweep failed: {e}"),
            }
        }
        if changed > 0 {
            // Jobs were requeued or stopped: place them, and let pollers learn of their stops.
            self.handle.trigger();
            self.waiters.wake_all();
        }
        Some(changed)
    }

    /// Loops until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut ticker = tokio::time::interval(self.sweep_interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = ticker.tick() => {}
            }
            self.run_once().await;
        }
    }
}
