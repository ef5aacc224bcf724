//! The scheduler: small services that move jobs and workers on, all through SQL transactions.
//!
//! - [`placer::Placer`] promotes due jobs and places queued ones. It runs on every
//!   trigger (job created or ended, worker registered or heartbeating) and on the sweep timer,
//!   in every replica: row locks make concurrent passes safe.
//! - The sweepers ([`sweepers`], built once by [`sweepers::standard`]) find silent workers,
//!   overdue jobs, jobs never started and ended cooldowns. They run on the sweep timer in the
//!   one replica holding the leader lease ([`leader`]), and after them the rollup pass and the
//!   pruner ([`maintenance`]).

pub mod leader;
pub mod maintenance;
pub mod placer;
pub mod sweepers;

use crate::config::ServeConfig;
use crate::repo::Repo;
use crate::waiters::Waiters;
use crate::wake_bus::WakeBus;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Asks for a placement pass; many requests before the pass starts make one pass.
#[derive(Clone, Debug, Default)]
pub struct SchedulerHandle {
    trigger: Arc<Notify>,
}

impl SchedulerHandle {
    /// Requests a placement pass as soon as possible.
    pub fn trigger(&self) {
        // notify_one stores a permit when no pass is waiting, so no trigger is ever lost.
        self.trigger.notify_one();
    }

    /// Waits for the next trigger.
    async fn triggered(&self) {
        self.trigger.notified().await;
    }
}

/// The running scheduler tasks, and the wake bus that carries their wake-ups to the other
/// replicas.
pub struct Scheduler {
    tasks: JoinSet<()>,
    bus: Option<WakeBus>,
}

impl Scheduler {
    /// Starts every service; they stop when `shutdown` fires.
    pub fn start(
        repo: Arc<dyn Repo>,
        config: &ServeConfig,
        waiters: Arc<Waiters>,
        handle: SchedulerHandle,
        bus: Option<WakeBus>,
        shutdown: CancellationToken,
    ) -> Scheduler {
        let mut tasks = JoinSet::new();
        let placer = placer::Placer {
            repo: repo.clone(),
            waiters: waiters.clone(),
            handle: handle.clone(),
            sweep_interval: config.sweep_interval,
        };
        tasks.spawn(placer.run(shutdown.clone()));
        let leader = leader::Leader::new(repo, config, waiters, handle);
        tasks.spawn(leader.run(shutdown));
        Scheduler { tasks, bus }
    }

    /// Waits for the services to stop, at most `drain` (their passes are short).
    pub async fn join(mut self, drain: Duration) {
        let all = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(drain, all).await.is_err() {
            tracing::warn!("scheduler tasks did not stop within {drain:?}; aborting them");
            self.tasks.abort_all();
        }
        // The bus stops on the same signal; wait for it too.
        if let Some(bus) = self.bus {
            bus.join(drain).await;
        }
    }
}
