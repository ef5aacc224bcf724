//! Figure 9: a long history. With N finished jobs stored (twelve days of them, on 50
//! workers), how long each read a user makes takes: the dashboard's pages, the API's lists, a
//! job's status, the reports and the metrics ([`reads`]).
//!
//! The jobs are seeded with bulk SQL ([`seed`]) before the server starts, so the server meets
//! them all at once, as after an upgrade to the rollups: the figure also says how fast the
//! jobs were seeded, how fast the server's rollup pass then folded them in (the reads are
//! timed once it has), and how large the tables are.

mod db;
mod reads;
mod seed;
#[cfg(test)]
mod tests;

use crate::target::{Database, Launch, Target};
use crate::Figure;
use anyhow::ensure;
use db::Pool;
use gantry::clock::now_ms;
use gantry::lifecycle::Policy;
use seed::{Spread, DAY_MS};
use std::time::{Duration, Instant};

/// Jobs per seeding transaction (with four times as many history rows), so memory stays low.
const CHUNK_JOBS: i64 = 50_000;
/// How long finished jobs keep their outputs: the server's default, set explicitly so the
/// environment cannot change the figure.
const OUTPUT_RETENTION: &str = "7d";
/// The server's settings: the rollup folds a job a second after it ended; the retentions are
/// the defaults (the outputs older than 7 d are seeded pruned already; no job is old enough to
/// go).
const SERVER_ENV: [(&str, &str); 3] = [
    ("GANTRY_ROLLUP_DELAY", "1s"),
    ("GANTRY_OUTPUT_RETENTION", OUTPUT_RETENTION),
    ("GANTRY_JOB_RETENTION", "30d"),
];
/// The slowest rollup the wait allows for, in jobs per second, beyond [`ROLLUP_GRACE`].
const ROLLUP_MIN_RATE: f64 = 500.0;
/// Time the rollup gets whatever the number of jobs (the server's start, its first sweeps).
const ROLLUP_GRACE: Duration = Duration::from_secs(60);
/// Between two looks at the rollup's cursor.
const POLL: Duration = Duration::from_millis(100);

/// The seeded database, as measured before the server starts on it.
struct Seeded {
    /// When the jobs ended.
    spread: Spread,
    /// The `history_seed` and `history_table_mb` figures.
    figures: Vec<Figure>,
}

/// Seeds `jobs` finished jobs, starts a server on them, waits for its rollup and times the
/// reads, handing each figure to `emit` as it is made.
pub async fn run(launch: &Launch, jobs: usize, mut emit: impl FnMut(Figure)) -> anyhow::Result<()> {
    let database = Database::create(launch).await?;
    let seeded = match seed_all(&database, jobs as i64).await {
        Ok(seeded) => seeded,
        Err(e) => {
            database.remove().await;
            return Err(e);
        }
    };
    seeded.figures.into_iter().for_each(&mut emit);
    let started = Instant::now();
    let target = Target::start_on(launch, database, &SERVER_ENV).await?;
    let measured = measure(&target, seeded.spread, started, &mut emit).await;
    target.stop().await;
    measured
}

/// Migrates `database` and fills it, timed; then its table sizes.
async fn seed_all(database: &Database, jobs: i64) -> anyhow::Result<Seeded> {
    ensure!(jobs > 0, "--history-jobs must be at least 1");
    gantry::repo::connect(&database.url, Policy::default())
        .await?
        .migrate()
        .await?;
    let pool = Pool::connect(&database.url).await?;
    let now = now_ms();
    let spread = Spread::new(jobs, now);
    let outputs_before = gantry::config::parse_retention(OUTPUT_RETENTION)
        .map_err(anyhow::Error::msg)?
        .cutoff(now)
        .unwrap_or(i64::MIN);
    let started = Instant::now();
    let rows = fill(&pool, spread, now, outputs_before, CHUNK_JOBS).await?;
    let seconds = started.elapsed().as_secs_f64();
    let figure = |figure, setting: String, value, unit| Figure {
        figure,
        backend: database.backend,
        setting,
        value,
        unit,
    };
    let mut figures = vec![figure(
        "history_seed",
        format!("{jobs} jobs, {rows} rows"),
        rows as f64 / seconds,
        "rows/s",
    )];
    pool.checkpoint().await?;
    for table in ["jobs", "job_history"] {
        let mb = pool.table_mb(table).await?;
        figures.push(figure("history_table_mb", table.into(), mb, "MiB"));
    }
    pool.close().await;
    if let Some(path) = database.url.strip_prefix("sqlite://") {
        let bytes = std::fs::metadata(path)?.len();
        figures.push(figure(
            "history_table_mb",
            "database".into(),
            db::mib(bytes),
            "MiB",
        ));
    }
    Ok(Seeded { spread, figures })
}

/// Seeds the workers and the jobs of `spread` (`chunk` jobs per transaction, outputs pruned
/// before `outputs_before`) on a migrated database, then readies it to be read; the rows
/// written.
async fn fill(
    pool: &Pool,
    spread: Spread,
    now: i64,
    outputs_before: i64,
    chunk: i64,
) -> anyhow::Result<u64> {
    let mut rows = pool.write(&[seed::workers(now)]).await?;
    for lo in (0..spread.jobs).step_by(chunk as usize) {
        let hi = (lo + chunk).min(spread.jobs);
        let statements = [
            seed::jobs(pool.dialect(), spread, lo, hi, outputs_before),
            seed::history(spread.finished_at(lo), spread.finished_at(hi - 1)),
        ];
        rows += pool.write(&statements).await?;
    }
    pool.write(&[seed::outputs_cursor(outputs_before)]).await?;
    // PostgreSQL's autovacuum would have analyzed tables this large; gantry never runs
    // ANALYZE on SQLite, so its planner works without statistics there, as in production.
    if pool.dialect() == gantry::repo::Dialect::Postgres {
        pool.analyze().await?;
    }
    Ok(rows)
}

/// Waits for the server's rollup to fold every seeded job (`history_rollup`, timed from
/// `started`, the server's start), then times the reads.
async fn measure(
    target: &Target,
    spread: Spread,
    started: Instant,
    emit: &mut impl FnMut(Figure),
) -> anyhow::Result<()> {
    let pool = Pool::connect(&target.database_url).await?;
    let jobs = spread.jobs;
    let (newest, _) = pool.job_ended_from(spread.finished_at(jobs - 1)).await?;
    let wait = ROLLUP_GRACE + Duration::from_secs_f64(jobs as f64 / ROLLUP_MIN_RATE);
    loop {
        let cursor = pool.cursor("rollup").await?;
        if cursor >= newest {
            break;
        }
        if started.elapsed() > wait {
            let left = pool.jobs_after(&cursor).await?;
            anyhow::bail!(
                "history: the server's rollup did not fold {jobs} jobs in {wait:?}: {left} \
                 left after its cursor ({}, {})",
                cursor.0,
                cursor.1
            );
        }
        tokio::time::sleep(POLL).await;
    }
    emit(Figure {
        figure: "history_rollup",
        backend: target.backend,
        setting: format!("{jobs} jobs"),
        value: jobs as f64 / started.elapsed().as_secs_f64(),
        unit: "jobs/s",
    });
    let now = now_ms();
    let ((_, middle), _) = pool.job_ended_from(spread.finished_at(jobs / 2)).await?;
    let week_ago = spread.job_ended_near(now - 7 * DAY_MS);
    let (_, command) = pool.job_ended_from(spread.finished_at(week_ago)).await?;
    let picks = reads::Picks {
        middle,
        run_id: command.rsplit(' ').next().unwrap_or_default().to_string(),
        now,
    };
    pool.write(&[seed::workers_heartbeat(now)]).await?;
    pool.close().await;
    reads::time_all(target, &picks, jobs)
        .await?
        .into_iter()
        .for_each(emit);
    Ok(())
}
