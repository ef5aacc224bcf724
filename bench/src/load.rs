//! Steady load for the memory and soak figures: batch agents that run whatever they are
//! given until told to stop, counting what they finished.

use crate::agents::SimAgent;
use crate::target::Target;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// Jobs one agent holds and takes per poll.
const PER_POLL: i64 = 256;

/// Running agents and their shared counters.
pub struct Agents {
    /// Jobs finished so far.
    pub done: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    tasks: tokio::task::JoinSet<anyhow::Result<()>>,
}

impl Agents {
    /// Registers `count` agents and starts them polling.
    pub async fn start(target: &Target, count: usize) -> anyhow::Result<Agents> {
        let done = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..count {
            let id = format!("load-{i}");
            let sim = SimAgent::register(&target.http, &target.base, &id, PER_POLL, false).await?;
            let (done, stop) = (done.clone(), stop.clone());
            tasks.spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let got = sim.poll(PER_POLL, 200).await?;
                    if !got.is_empty() {
                        sim.run_noop_batch(&got).await?;
                        done.fetch_add(got.len(), Ordering::Relaxed);
                    }
                }
                Ok(())
            });
        }
        Ok(Agents { done, stop, tasks })
    }

    /// Jobs finished so far.
    pub fn finished(&self) -> usize {
        self.done.load(Ordering::Relaxed)
    }

    /// Stops the agents after their current poll; fails if one failed.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        while let Some(result) = self.tasks.join_next().await {
            result??;
        }
        Ok(())
    }
}
