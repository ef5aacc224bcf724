//! Figure 4: the server's resident memory idle, with many jobs queued, and after they all
//! finished. gantry keeps no job or worker state in memory, so the readings should be close.

use crate::agents::create_batch;
use crate::load::Agents;
use crate::target::Target;
use crate::Figure;
use std::time::Duration;

/// Jobs per create-batch call.
const PER_CREATE: usize = 1000;
/// Agents that run the queue down.
const AGENTS: usize = 8;

/// RSS idle, with a tenth of `queued` and with all `queued` jobs queued (no agent yet), and
/// after all of them finished.
pub async fn run(target: &Target, queued: usize) -> anyhow::Result<Vec<Figure>> {
    let figure = |name: &'static str, setting: String, value: f64| Figure {
        figure: name,
        backend: target.backend,
        setting,
        value,
        unit: "MiB",
    };
    // A few requests first, so the idle figure includes warmed-up pools and buffers.
    create_batch(&target.http, &target.base, "true", 10).await?;
    settle().await;
    let idle = target.rss_mb()?;
    // Read at a tenth of the queue and at all of it: memory held per job would grow tenfold
    // between the two readings.
    let mut readings = Vec::new();
    let mut created = 10;
    for goal in [queued / 10, queued] {
        while created < goal {
            let n = PER_CREATE.min(goal - created);
            create_batch(&target.http, &target.base, "true", n).await?;
            created += n;
        }
        settle().await;
        readings.push((created, target.rss_mb()?));
    }
    let agents = Agents::start(target, AGENTS).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1800);
    while agents.finished() < created {
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "jobs did not finish in 30 min"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    agents.stop().await?;
    settle().await;
    let after = target.rss_mb()?;
    let mut figures = vec![figure("memory_rss_idle", "idle".into(), idle)];
    for (count, rss) in readings {
        figures.push(figure("memory_rss_queued", format!("{count} queued"), rss));
    }
    figures.push(figure(
        "memory_rss_after",
        format!("{created} finished"),
        after,
    ));
    Ok(figures)
}

/// Lets in-flight requests and background passes end before a reading.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(1500)).await;
}
