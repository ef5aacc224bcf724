//! The upkeep of a database that runs for months: the rollup pass, which folds every
//! finished job into the hourly rollups the reports read, and the pruner, which then takes
//! what is past its age (outputs, whole jobs with their history, input files, old rollups).
//! Both run on the leader's sweep, in bounded batches of their own transactions, so a pass
//! costs what changed since the last one, never what is stored.

use super::sweepers::Sweeper;
use crate::config::{millis, RetentionConfig};
use crate::model::{PruneCounts, PruneCutoffs, SweepCounts};
use crate::repo::{Repo, RepoError, RepoResult};
use crate::rollup::HOUR_MS;
use async_trait::async_trait;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Jobs (or files) per batch: each batch is one short transaction.
pub const MAINTENANCE_BATCH: i64 = 1000;

/// How long one pass of a service may keep at it before it leaves the rest to the next sweep,
/// so the other sweepers are not held up behind a backlog.
pub const MAINTENANCE_BUDGET: Duration = Duration::from_secs(1);

/// Runs `batch` (which answers how many rows it looked at, and what it did) again while its
/// batches come back full and the pass that began at `started` is within
/// [`MAINTENANCE_BUDGET`], handing what each did to `add`.
async fn in_batches<T, F, Fut>(started: Instant, batch: F, mut add: impl FnMut(T)) -> RepoResult<()>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = RepoResult<(u64, T)>>,
{
    loop {
        let (looked_at, done) = batch().await?;
        add(done);
        if looked_at < MAINTENANCE_BATCH as u64 || started.elapsed() > MAINTENANCE_BUDGET {
            return Ok(());
        }
    }
}

/// Folds finished jobs into `job_rollups` (see [`crate::rollup`]).
pub struct RollupPass {
    /// Where jobs and rollups are.
    pub repo: Arc<dyn Repo>,
    /// How long after its end a job is folded in (its finish must have committed by then).
    pub delay_ms: i64,
}

impl RollupPass {
    /// Folds the jobs that ended up to `now` less the delay, batch by batch within the budget;
    /// returns how many it folded.
    pub async fn fold(&self, now: i64) -> RepoResult<u64> {
        let before = now - self.delay_ms;
        let mut folded = 0;
        let batch = || async {
            let n = self.repo.job_rollup(before, MAINTENANCE_BATCH).await?;
            Ok((n, n))
        };
        in_batches(Instant::now(), batch, |n| folded += n).await?;
        Ok(folded)
    }
}

#[async_trait]
impl Sweeper for RollupPass {
    fn name(&self) -> &'static str {
        "rollup"
    }

    async fn run_once(&self, now: i64) -> RepoResult<SweepCounts> {
        let folded = self.fold(now).await?;
        // Nothing placement cares about changed: the count goes out as examined only.
        Ok(SweepCounts {
            examined: folded,
            changed: 0,
        })
    }
}

/// Deletes finished work past its age (see [`RetentionConfig`]).
pub struct Pruner {
    /// Where jobs, files and rollups are.
    pub repo: Arc<dyn Repo>,
    /// The ages.
    pub retention: RetentionConfig,
}

impl Pruner {
    /// The cutoffs of the configured ages at `now`.
    pub fn cutoffs(&self, now: i64) -> PruneCutoffs {
        let r = &self.retention;
        PruneCutoffs {
            outputs_before: r.output_retention.cutoff(now),
            jobs_before: r.job_retention.cutoff(now),
            uploads_before: r.output_retention.cutoff(now),
            // Whole hours only: an hour's rollup goes when all of it is past the age.
            rollups_before: r
                .rollup_retention
                .cutoff(now)
                .map(|t| t.div_euclid(HOUR_MS) * HOUR_MS),
        }
    }

    /// One pass at `now`: each part in batches until none is left or the budget is spent. A
    /// part that fails does not hold up the others (it is logged, and the pass then answers
    /// the first failure, so the sweeper counts the pass as failed).
    pub async fn prune(&self, now: i64) -> RepoResult<PruneCounts> {
        let cutoffs = self.cutoffs(now);
        let started = Instant::now();
        let mut counts = PruneCounts::default();
        let mut failed = Failures::default();
        let repo = &self.repo;
        if let Some(before) = cutoffs.outputs_before {
            let batch = || repo.job_prune_outputs(before, MAINTENANCE_BATCH);
            let done = in_batches(started, batch, |cleared| counts.outputs += cleared).await;
            failed.note("outputs", done);
        }
        if let Some(before) = cutoffs.jobs_before {
            let batch = || async {
                let (jobs, history) = repo.job_prune(before, MAINTENANCE_BATCH).await?;
                Ok((jobs, (jobs, history)))
            };
            let done = in_batches(started, batch, |(jobs, history)| {
                counts.jobs += jobs;
                counts.history += history;
            })
            .await;
            failed.note("jobs", done);
        }
        if let Some(before) = cutoffs.uploads_before {
            let batch = || async {
                let n = repo.upload_prune(before, MAINTENANCE_BATCH).await?;
                Ok((n, n))
            };
            let done = in_batches(started, batch, |n| counts.uploads += n).await;
            failed.note("uploads", done);
        }
        if let Some(before) = cutoffs.rollups_before {
            match self.repo.rollup_prune(before).await {
                Ok(n) => counts.rollups = n,
                Err(e) => failed.note("rollups", Err(e)),
            }
        }
        if counts.jobs + counts.uploads + counts.rollups > 0 {
            failed.note("compact", self.repo.database_compact().await);
        }
        failed.first.map_or(Ok(counts), Err)
    }
}

/// The failures of one pruning pass: each logged with its part, the first kept to answer.
#[derive(Default)]
struct Failures {
    first: Option<RepoError>,
}

impl Failures {
    /// Logs `done`'s failure, naming `part`, and keeps it when it is the first.
    fn note(&mut self, part: &'static str, done: RepoResult<()>) {
        if let Err(e) = done {
            tracing::error!(part, "pruning failed: {e}; the other parts went on");
            self.first.get_or_insert(e);
        }
    }
}

#[async_trait]
impl Sweeper for Pruner {
    fn name(&self) -> &'static str {
        "prune"
    }

    async fn run_once(&self, now: i64) -> RepoResult<SweepCounts> {
        let counts = self.prune(now).await?;
        if counts.total() > 0 {
            tracing::info!(
                outputs = counts.outputs,
                jobs = counts.jobs,
                history = counts.history,
                uploads = counts.uploads,
                rollups = counts.rollups,
                "pruned"
            );
        }
        Ok(SweepCounts {
            examined: counts.total(),
            changed: 0,
        })
    }
}

/// The two services with the settings of `retention`, rollup first (the pruner deletes only
/// what it folded in).
pub fn services(repo: &Arc<dyn Repo>, retention: &RetentionConfig) -> Vec<Box<dyn Sweeper>> {
    vec![
        Box::new(RollupPass {
            repo: repo.clone(),
            delay_ms: millis(retention.rollup_delay),
        }),
        Box::new(Pruner {
            repo: repo.clone(),
            retention: retention.clone(),
        }),
    ]
}
