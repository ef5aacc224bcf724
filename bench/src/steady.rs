//! Steady batch load for the soaks: creators that keep a bounded backlog of no-op jobs
//! queued, and batch agents that run them, counting what finished.

use crate::agents::create_batch;
use crate::load::Agents;
use crate::target::Target;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Jobs per create-batch call.
const PER_CREATE: usize = 100;
/// Concurrent creating clients.
const CREATORS: usize = 4;
/// Agents running the jobs.
const AGENTS: usize = 16;
/// Creators wait while this many jobs are created but not finished, so the load is steady
/// (the queue neither empties nor grows without bound).
const BACKLOG: usize = 5_000;

/// The running load.
pub struct SteadyLoad {
    agents: Agents,
    stop: Arc<AtomicBool>,
    creators: tokio::task::JoinSet<anyhow::Result<()>>,
}

impl SteadyLoad {
    /// Starts the agents and creators, and returns once jobs flow (or fails after 60 s).
    pub async fn start(target: &Target) -> anyhow::Result<SteadyLoad> {
        let agents = Agents::start(target, AGENTS).await?;
        let created = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let mut creators = tokio::task::JoinSet::new();
        for _ in 0..CREATORS {
            let (http, base) = (target.http.clone(), target.base.clone());
            let (created, stop, done) = (created.clone(), stop.clone(), agents.done.clone());
            creators.spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    if created.load(Ordering::Relaxed) > done.load(Ordering::Relaxed) + BACKLOG {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        continue;
                    }
                    create_batch(&http, &base, "true", PER_CREATE).await?;
                    created.fetch_add(PER_CREATE, Ordering::Relaxed);
                }
                anyhow::Ok(())
            });
        }
        // Measuring starts once jobs flow, so the first window is not the start-up.
        let flowing = tokio::time::Instant::now() + Duration::from_secs(60);
        while agents.finished() == 0 {
            anyhow::ensure!(
                tokio::time::Instant::now() < flowing,
                "no job finished within 60 s of the load's start"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(SteadyLoad {
            agents,
            stop,
            creators,
        })
    }

    /// Jobs finished so far.
    pub fn finished(&self) -> usize {
        self.agents.finished()
    }

    /// Jobs finished per second over the next `window`.
    pub async fn rate_over(&self, window: Duration) -> f64 {
        let before = self.finished();
        tokio::time::sleep(window).await;
        (self.finished() - before) as f64 / window.as_secs_f64()
    }

    /// Stops creating, then stops the agents; fails if any of them failed.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        while let Some(result) = self.creators.join_next().await {
            result??;
        }
        self.agents.stop().await
    }
}
