//! Figure 1: end-to-end throughput of no-op jobs: created over REST, claimed by `agents`
//! long-polling agents, started and finished; from the first create to the last result.

use super::agents::{create, SimAgent};
use super::target::Target;
use super::Figure;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Concurrent clients creating jobs.
const CREATORS: usize = 16;
/// Jobs one agent takes per poll.
const BATCH: i64 = 16;

/// Runs `jobs` no-op jobs through `agents` agents; jobs per second.
pub async fn run(target: &Target, agents: usize, jobs: usize) -> anyhow::Result<Figure> {
    let mut sims = Vec::new();
    for i in 0..agents {
        sims.push(
            SimAgent::register(
                &target.http,
                &target.base,
                &format!("bench-{i}"),
                BATCH,
                false,
            )
            .await?,
        );
    }
    let done = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for sim in sims {
        let done = done.clone();
        tasks.spawn(async move {
            while done.load(Ordering::Relaxed) < jobs {
                for job in sim.poll(BATCH, 200).await? {
                    sim.run_noop(&job).await?;
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
            anyhow::Ok(())
        });
    }
    let next = Arc::new(AtomicUsize::new(0));
    for _ in 0..CREATORS {
        let (http, base, next) = (target.http.clone(), target.base.clone(), next.clone());
        tasks.spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < jobs {
                create(&http, &base, "true").await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(result) = tasks.join_next().await {
        result??;
    }
    let seconds = started.elapsed().as_secs_f64();
    Ok(Figure {
        figure: "throughput",
        backend: target.backend,
        setting: format!("{agents} agents, {jobs} jobs"),
        value: jobs as f64 / seconds,
        unit: "jobs/s",
    })
}
