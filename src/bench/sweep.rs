//! Figure 3: sweep cost: the time of one scheduler pass (placement and the four sweepers, with
//! the arguments the server passes them) over a database with nothing to do, at 1k to 100k
//! jobs and 100 or 1,000 workers; and the same pass when 1% of the workers went silent, so it
//! marks them OFFLINE and requeues what they held.
//!
//! No server runs: the repository is called directly, at a chosen time, on a database seeded
//! with bulk SQL (one statement per table), so a state of 100,000 jobs takes a second to make.
//! Budget: under 5 ms, and flat from 1k to 100k jobs (indexes, not scans).

use super::target::fresh_postgres;
use super::{BenchArgs, Figure};
use crate::config::{millis, ServeConfig};
use crate::repo::Repo;
use crate::scheduler::placer::PLACEMENT_BATCH;
use crate::scheduler::sweepers::{
    CooldownSweeper, HeartbeatSweeper, Sweeper, TimeoutSweeper, UnstartedSweeper,
};
use anyhow::ensure;
use std::sync::Arc;
use std::time::Instant;

/// Idle passes timed per state (the median is reported).
const IDLE_PASSES: usize = 20;
/// Untimed passes first, so caches and prepared statements are warm.
const WARMUP_PASSES: usize = 3;
/// States set up anew per expiring size, each timed for its one expiring pass.
const EXPIRING_SAMPLES: usize = 5;
/// A minute and an hour, in milliseconds.
const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
/// Job and worker size: full workers hold two such jobs and have no free slot.
const WORKER_CPU_MILLI: i64 = 4_000;
const JOB_CPU_MILLI: i64 = 1_000;
/// A blocked job's size: no worker is that large.
const BLOCKED_CPU_MILLI: i64 = 64_000;
/// The passes' names, in the order they run, for the per-call breakdown.
const CALLS: [&str; 5] = ["place", "deadlines", "unstarted", "heartbeats", "cooldowns"];

/// A seeded state's size.
#[derive(Debug, Clone, Copy)]
struct Size {
    jobs: i64,
    workers: i64,
}

impl Size {
    /// Workers holding two jobs each (no free slot); the rest have room but nothing fits it.
    fn full_workers(self) -> i64 {
        (self.workers / 2).min(self.jobs / 20)
    }

    /// Workers silent past the heartbeat timeout in the expiring pass: 1%, at least one.
    fn expiring_workers(self) -> i64 {
        (self.workers / 100).max(1)
    }

    fn setting(self) -> String {
        format!("{} jobs, {} workers", self.jobs, self.workers)
    }
}

/// Measures every size on the bench's database and hands each figure to `emit` as it is made.
pub async fn run(args: &BenchArgs, mut emit: impl FnMut(Figure)) -> anyhow::Result<()> {
    let sizes: Vec<Size> = if args.quick {
        vec![Size {
            jobs: 1_000,
            workers: 100,
        }]
    } else {
        [1_000, 10_000, 100_000]
            .into_iter()
            .flat_map(|jobs| [100, 1_000].map(|workers| Size { jobs, workers }))
            .collect()
    };
    let config = ServeConfig::default();
    for size in sizes {
        let golden = Golden::seed(args.database_url.as_deref(), size, &config).await?;
        emit(golden.idle(&config).await?);
        emit(golden.expiring(&config, args.quick).await?);
        golden.drop_all().await;
    }
    Ok(())
}

/// One scheduler pass at `now`; the milliseconds of each call and the workers it expired.
async fn pass(repo: &Arc<dyn Repo>, config: &ServeConfig, now: i64) -> anyhow::Result<Pass> {
    let heartbeat_timeout_ms = millis(config.heartbeat_timeout);
    let sweepers: [Box<dyn Sweeper>; 4] = [
        Box::new(TimeoutSweeper {
            repo: repo.clone(),
            grace_ms: millis(config.job_timeout_grace),
        }),
        Box::new(UnstartedSweeper {
            repo: repo.clone(),
            start_timeout_ms: heartbeat_timeout_ms,
        }),
        Box::new(HeartbeatSweeper {
            repo: repo.clone(),
            heartbeat_timeout_ms,
        }),
        Box::new(CooldownSweeper { repo: repo.clone() }),
    ];
    let mut out = Pass::default();
    let started = Instant::now();
    let placed = repo.job_place(now, PLACEMENT_BATCH).await?;
    ensure!(
        placed.placed.is_empty() && placed.promoted == 0 && placed.blocked == 0,
        "placement found work in a state meant to have none: {placed:?}"
    );
    out.calls[0] = ms(started);
    for (i, sweeper) in sweepers.iter().enumerate() {
        let started = Instant::now();
        let counts = sweeper.run_once(now).await?;
        out.calls[i + 1] = ms(started);
        if sweeper.name() == "heartbeat" {
            out.expired = counts.changed;
        } else {
            ensure!(counts.changed == 0, "{} changed {counts:?}", sweeper.name());
        }
    }
    Ok(out)
}

/// What one pass took.
#[derive(Debug, Default, Clone, Copy)]
struct Pass {
    /// Milliseconds per call, in the order of `CALLS`.
    calls: [f64; 5],
    /// Workers marked OFFLINE.
    expired: u64,
}

impl Pass {
    fn total(&self) -> f64 {
        self.calls.iter().sum()
    }
}

fn ms(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1000.0
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    super::percentile(&values, 50.0)
}

/// The per-call medians, on stderr (the figures are the totals).
fn breakdown(what: &str, backend: &str, size: Size, passes: &[Pass]) {
    let calls: Vec<String> = CALLS
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let m = median(passes.iter().map(|p| p.calls[i]).collect());
            format!("{name} {m:.2}")
        })
        .collect();
    eprintln!(
        "{what} {backend} {}: {} (ms, medians of {})",
        size.setting(),
        calls.join(", "),
        passes.len()
    );
}

/// A seeded database that is never changed: idle passes run on it, expiring ones on copies.
struct Golden {
    size: Size,
    /// When the state was made: the idle passes run at this time, the expiring ones just after.
    at: i64,
    backend: &'static str,
    /// Its URL.
    url: String,
    /// The PostgreSQL server's admin URL, to copy and drop databases.
    admin: Option<String>,
    /// SQLite: the folder of the files and a consistent copy of the seeded file.
    dir: Option<(tempfile::TempDir, std::path::PathBuf)>,
}

impl Golden {
    /// Creates a fresh database (SQLite file or PostgreSQL database), migrates and seeds it.
    async fn seed(admin: Option<&str>, size: Size, config: &ServeConfig) -> anyhow::Result<Self> {
        let at = crate::clock::now_ms();
        let timeout = millis(config.heartbeat_timeout);
        let statements = [seed_workers(size, at, timeout), seed_jobs(size, at)];
        let golden = match admin {
            Some(admin) => Golden {
                size,
                at,
                backend: "postgres",
                url: fresh_postgres(admin).await?,
                admin: Some(admin.to_string()),
                dir: None,
            },
            None => {
                let dir = tempfile::tempdir()?;
                let url = format!("sqlite://{}", dir.path().join("golden.db").display());
                let copy = dir.path().join("golden-copy.db");
                Golden {
                    size,
                    at,
                    backend: "sqlite",
                    url,
                    admin: None,
                    dir: Some((dir, copy)),
                }
            }
        };
        crate::repo::connect(&golden.url, config.policy())
            .await?
            .migrate()
            .await?;
        let started = Instant::now();
        if let Some((_, copy)) = &golden.dir {
            let pool = sqlx::SqlitePool::connect(&golden.url).await?;
            for sql in &statements {
                sqlx::query(sql).execute(&pool).await?;
            }
            // A consistent file to copy for each expiring sample, whatever the WAL holds.
            sqlx::query(&format!("VACUUM INTO '{}'", copy.display()))
                .execute(&pool)
                .await?;
            pool.close().await;
        } else {
            let pool = sqlx::PgPool::connect(&golden.url).await?;
            for sql in &statements {
                sqlx::query(sql).execute(&pool).await?;
            }
            // What autovacuum would have done by the time such a state is reached.
            sqlx::query("ANALYZE").execute(&pool).await?;
            pool.close().await;
        }
        tracing::debug!(?size, seconds = started.elapsed().as_secs_f64(), "seeded");
        Ok(golden)
    }

    /// The median of `IDLE_PASSES` passes with nothing to do.
    async fn idle(&self, config: &ServeConfig) -> anyhow::Result<Figure> {
        let repo = crate::repo::connect(&self.url, config.policy()).await?;
        for _ in 0..WARMUP_PASSES {
            pass(&repo, config, self.at).await?;
        }
        let mut passes = Vec::with_capacity(IDLE_PASSES);
        for _ in 0..IDLE_PASSES {
            let p = pass(&repo, config, self.at).await?;
            ensure!(p.expired == 0, "an idle pass expired {} workers", p.expired);
            passes.push(p);
        }
        breakdown("sweep_idle", self.backend, self.size, &passes);
        Ok(self.figure("sweep_idle", &passes))
    }

    /// The median, over fresh copies of the state, of the pass that expires 1% of the workers
    /// (after an untimed idle pass on the copy, so its caches are as warm as the idle ones).
    async fn expiring(&self, config: &ServeConfig, quick: bool) -> anyhow::Result<Figure> {
        let samples = if quick { 1 } else { EXPIRING_SAMPLES };
        let mut passes = Vec::with_capacity(samples);
        for sample in 0..samples {
            let url = self.copy(sample).await?;
            let repo = crate::repo::connect(&url, config.policy()).await?;
            pass(&repo, config, self.at).await?;
            // Past the silent workers' timeout, within everyone else's.
            let p = pass(&repo, config, self.at + 2_000).await?;
            drop(repo);
            self.drop_copy(sample).await;
            ensure!(
                p.expired == self.size.expiring_workers() as u64,
                "expected {} workers to expire, {} did",
                self.size.expiring_workers(),
                p.expired
            );
            passes.push(p);
        }
        breakdown("sweep_expiring", self.backend, self.size, &passes);
        Ok(self.figure("sweep_expiring", &passes))
    }

    fn figure(&self, figure: &'static str, passes: &[Pass]) -> Figure {
        Figure {
            figure,
            backend: self.backend,
            setting: self.size.setting(),
            value: median(passes.iter().map(Pass::total).collect()),
            unit: "ms",
        }
    }

    /// A fresh copy of the seeded state; its URL.
    async fn copy(&self, sample: usize) -> anyhow::Result<String> {
        match (&self.admin, &self.dir) {
            (_, Some((dir, copy))) => {
                let path = dir.path().join(format!("sample-{sample}.db"));
                std::fs::copy(copy, &path)?;
                Ok(format!("sqlite://{}", path.display()))
            }
            (Some(admin), None) => {
                let pool = sqlx::PgPool::connect(admin).await?;
                let name = self.copy_name(sample);
                let golden = self.db_name();
                sqlx::query(&format!("CREATE DATABASE {name} TEMPLATE {golden}"))
                    .execute(&pool)
                    .await?;
                pool.close().await;
                Ok(format!("{}/{name}", self.server()))
            }
            (None, None) => unreachable!("a golden state is a file or a database"),
        }
    }

    async fn drop_copy(&self, sample: usize) {
        match &self.dir {
            Some((dir, _)) => {
                let _ = std::fs::remove_file(dir.path().join(format!("sample-{sample}.db")));
            }
            None => self.drop_database(&self.copy_name(sample)).await,
        }
    }

    /// Drops the PostgreSQL databases (the SQLite folder goes with `self`).
    async fn drop_all(self) {
        if self.admin.is_some() {
            self.drop_database(&self.db_name()).await;
        }
    }

    async fn drop_database(&self, name: &str) {
        let Some(admin) = &self.admin else { return };
        let dropped = async {
            let pool = sqlx::PgPool::connect(admin).await?;
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&pool)
                .await?;
            pool.close().await;
            anyhow::Ok(())
        };
        if let Err(e) = dropped.await {
            eprintln!("sweep: could not drop database {name}: {e}");
        }
    }

    fn db_name(&self) -> String {
        self.url.rsplit_once('/').map_or("", |(_, n)| n).to_string()
    }

    fn server(&self) -> &str {
        self.url.rsplit_once('/').map_or("", |(s, _)| s)
    }

    fn copy_name(&self, sample: usize) -> String {
        format!("{}_s{sample}", self.db_name())
    }
}

/// The workers: all online with fresh heartbeats, except the first 1%, whose last heartbeat
/// is one second short of the timeout at `at` (so a pass two seconds later expires them). The
/// first `full_workers` hold two jobs each and have no free slot.
fn seed_workers(size: Size, at: i64, heartbeat_timeout_ms: i64) -> String {
    let full = size.full_workers();
    let expiring = size.expiring_workers();
    let reserved = 2 * JOB_CPU_MILLI;
    format!(
        "WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < {n})
INSERT INTO workers (id, hostname, cpu_milli, ram_total_mb, ram_free_mb, max_parallel_jobs,
    reserved_cpu_milli, reserved_ram_mb, running_jobs, executor, registered_at,
    last_heartbeat_at)
SELECT 'w-' || (100000 + i), 'w' || i || '.bench', {WORKER_CPU_MILLI}, 8192, 8192, 2,
    CASE WHEN i < {full} THEN {reserved} ELSE 0 END,
    CASE WHEN i < {full} THEN 2048 ELSE 0 END,
    CASE WHEN i < {full} THEN 2 ELSE 0 END,
    'docker', {registered},
    CASE WHEN i < {expiring} THEN {stale} ELSE {at} END
FROM seq",
        n = size.workers,
        registered = at - HOUR,
        stale = at - heartbeat_timeout_ms + 1_000,
    )
}

/// The jobs: first the two each full worker holds (one RUNNING with a far deadline, one
/// ASSIGNED and delivered a second ago), then 20% QUEUED and blocked (larger than any
/// worker), 5% PENDING due in a day, and the rest finished (one in ten FAILED).
fn seed_jobs(size: Size, at: i64) -> String {
    let held = 2 * size.full_workers();
    let blocked_end = held + size.jobs / 5;
    let pending_end = blocked_end + size.jobs / 20;
    let workers = size.workers;
    format!(
        "WITH RECURSIVE seq(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM seq WHERE n + 1 < {jobs})
INSERT INTO jobs (id, status, command, image, required_cpu_milli, required_ram_mb, timeout_ms,
    max_retries, attempts, worker_id, blocked, reason, created_at, run_at, queued_at,
    assigned_at, delivered_at, started_at, deadline_at, finished_at, exit_code, duration_ms)
SELECT 'j-' || (10000000 + n),
    CASE WHEN n < {held} THEN (CASE WHEN n % 2 = 0 THEN 'RUNNING' ELSE 'ASSIGNED' END)
        WHEN n < {blocked_end} THEN 'QUEUED'
        WHEN n < {pending_end} THEN 'PENDING'
        WHEN n % 10 = 0 THEN 'FAILED' ELSE 'COMPLETED' END,
    'true', 'gantry-test-busybox:latest',
    CASE WHEN n >= {held} AND n < {blocked_end} THEN {BLOCKED_CPU_MILLI} ELSE {JOB_CPU_MILLI} END,
    1024, {HOUR}, 0,
    CASE WHEN n < {held} OR n >= {pending_end} THEN 1 ELSE 0 END,
    CASE WHEN n < {held} THEN 'w-' || (100000 + n / 2)
        WHEN n >= {pending_end} THEN 'w-' || (100000 + n % {workers}) END,
    CASE WHEN n >= {held} AND n < {blocked_end} THEN 1 ELSE 0 END,
    CASE WHEN n >= {held} AND n < {blocked_end} THEN 'larger than any online worker' END,
    {created}, CASE WHEN n >= {blocked_end} AND n < {pending_end} THEN {due} ELSE {created} END,
    CASE WHEN n >= {blocked_end} AND n < {pending_end} THEN NULL ELSE {created} + n END,
    CASE WHEN n < {held} THEN {recent} WHEN n >= {pending_end} THEN {created} + n END,
    CASE WHEN n < {held} THEN {recent} WHEN n >= {pending_end} THEN {created} + n END,
    CASE WHEN n < {held} AND n % 2 = 0 THEN {recent}
        WHEN n >= {pending_end} THEN {created} + n END,
    CASE WHEN n < {held} AND n % 2 = 0 THEN {recent} + {HOUR} END,
    CASE WHEN n >= {pending_end} THEN {created} + n + 1000 END,
    CASE WHEN n >= {pending_end} THEN (CASE WHEN n % 10 = 0 THEN 1 ELSE 0 END) END,
    CASE WHEN n >= {pending_end} THEN 1000 END
FROM seq",
        jobs = size.jobs,
        created = at - 2 * HOUR,
        due = at + 24 * HOUR,
        recent = at - 1_000,
    )
}
