//! Figure 1: end-to-end throughput of no-op jobs: created over REST, claimed by `agents`
//! long-polling agents, started and finished; from the first create to the last result.
//! Singly (one call per create, start and result) or in batches (create-batch, a poll taking
//! many jobs, start-batch, submit-result-batch).

use crate::agents::{create, create_batch, SimAgent};
use crate::target::Target;
use crate::Figure;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Concurrent clients creating jobs.
const CREATORS: usize = 16;

/// A run in which no job finished for this long has stalled, and fails instead of hanging.
const STALL: Duration = Duration::from_secs(30);

/// How jobs travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One call per create, start and result; up to 16 jobs per poll.
    Single,
    /// Batches of 100 creates; up to 256 jobs per poll, started and finished in one call each.
    Batch,
}

impl Mode {
    /// Jobs one agent holds and takes per poll.
    fn per_poll(self) -> i64 {
        match self {
            Mode::Single => 16,
            Mode::Batch => 256,
        }
    }

    /// Jobs per create call.
    fn per_create(self) -> usize {
        match self {
            Mode::Single => 1,
            Mode::Batch => 100,
        }
    }

    fn figure(self) -> &'static str {
        match self {
            Mode::Single => "throughput",
            Mode::Batch => "throughput_batch",
        }
    }
}

/// Runs `jobs` no-op jobs through `agents` agents; jobs per second.
pub async fn run(
    target: &Target,
    agents: usize,
    jobs: usize,
    mode: Mode,
) -> anyhow::Result<Figure> {
    let bases = [target.base.clone()];
    let per_second = run_spread(&target.http, &bases, agents, jobs, mode).await?;
    Ok(Figure {
        figure: mode.figure(),
        backend: target.backend,
        setting: format!("{agents} agents, {jobs} jobs"),
        value: per_second,
        unit: "jobs/s",
    })
}

/// Runs `jobs` no-op jobs through `agents` agents, agents and creating clients spread in turn
/// over the replicas at `bases`; jobs per second.
pub async fn run_spread(
    http: &reqwest::Client,
    bases: &[String],
    agents: usize,
    jobs: usize,
    mode: Mode,
) -> anyhow::Result<f64> {
    let per_poll = mode.per_poll();
    let mut sims = Vec::new();
    for i in 0..agents {
        let id = format!("bench-{i}");
        let base = &bases[i % bases.len()];
        sims.push(SimAgent::register(http, base, &id, per_poll, false).await?);
    }
    let done = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for sim in sims {
        let done = done.clone();
        tasks.spawn(async move {
            while done.load(Ordering::Relaxed) < jobs {
                let got = sim.poll(per_poll, 200).await?;
                if got.is_empty() {
                    continue;
                }
                match mode {
                    Mode::Single => {
                        for job in &got {
                            sim.run_noop(job).await?;
                        }
                    }
                    Mode::Batch => sim.run_noop_batch(&got).await?,
                }
                done.fetch_add(got.len(), Ordering::Relaxed);
            }
            anyhow::Ok(())
        });
    }
    let next = Arc::new(AtomicUsize::new(0));
    let per_create = mode.per_create();
    for i in 0..CREATORS {
        let (http, base, next) = (http.clone(), bases[i % bases.len()].clone(), next.clone());
        tasks.spawn(async move {
            loop {
                let from = next.fetch_add(per_create, Ordering::Relaxed);
                if from >= jobs {
                    return anyhow::Ok(());
                }
                let count = per_create.min(jobs - from);
                if count == 1 {
                    create(&http, &base, "true").await?;
                } else {
                    create_batch(&http, &base, "true", count).await?;
                }
            }
        });
    }
    tasks.spawn(watch_progress(done.clone(), jobs));
    while let Some(result) = tasks.join_next().await {
        result??;
    }
    Ok(jobs as f64 / started.elapsed().as_secs_f64())
}

/// Fails once no job has finished for `STALL` (a server that stopped placing jobs would
/// otherwise keep the simulated agents polling forever); ends when all `jobs` are done.
async fn watch_progress(done: Arc<AtomicUsize>, jobs: usize) -> anyhow::Result<()> {
    let (mut seen, mut since) = (0, Instant::now());
    loop {
        let now = done.load(Ordering::Relaxed);
        if now >= jobs {
            return Ok(());
        }
        if now != seen {
            (seen, since) = (now, Instant::now());
        } else if since.elapsed() > STALL {
            anyhow::bail!(
                "stalled: {now} of {jobs} jobs finished and none in the last {}s \
                 (GANTRY_BENCH_SERVER_LOG=info shows the server's log)",
                STALL.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
