//! Figure 6: a soak: steady batch load for a number of windows (minutes in the full run) with
//! retention on and short ages (jobs kept two windows, outputs one), so the pruner works all
//! through it: jobs/s per window, the last window against the first and the best, the table
//! sizes after every window (they must level off), and at the end (on PostgreSQL with live and
//! dead tuples, to see that autovacuum keeps up).

use crate::steady::SteadyLoad;
use crate::target::{Database, Launch, Target};
use crate::Figure;
use std::time::Duration;

/// Runs the load for `windows` windows of `window` each on a server of `launch`, keeping
/// finished jobs `job_retention` (two windows when `None`).
pub async fn run(
    launch: &Launch,
    windows: usize,
    window: Duration,
    job_retention: Option<&str>,
) -> anyhow::Result<Vec<Figure>> {
    let ms = |d: Duration| format!("{}ms", d.as_millis());
    let jobs_kept = job_retention.map_or_else(|| ms(window * 2), str::to_string);
    let outputs_kept = ms(window);
    let env = [
        ("GANTRY_JOB_RETENTION", jobs_kept.as_str()),
        ("GANTRY_OUTPUT_RETENTION", outputs_kept.as_str()),
        ("GANTRY_ROLLUP_DELAY", "1s"),
    ];
    let target = Target::start_on(launch, Database::create(launch).await?, &env).await?;
    let load = SteadyLoad::start(&target).await?;
    let mut figures = Vec::new();
    let mut rates = Vec::new();
    for i in 1..=windows {
        let rate = load.rate_over(window).await;
        anyhow::ensure!(rate > 0.0, "no job finished in soak window {i}");
        rates.push(rate);
        figures.push(Figure {
            figure: "soak_jobs_per_s",
            backend: target.backend,
            setting: format!("window {i} of {windows}"),
            value: rate,
            unit: "jobs/s",
        });
        for (what, mib) in table_mib(&target).await? {
            figures.push(Figure {
                figure: "soak_table_mib",
                backend: target.backend,
                setting: format!("{what}, after window {i}"),
                value: mib,
                unit: "MiB",
            });
        }
    }
    let finished = load.finished();
    load.stop().await?;
    let (first, last) = (rates[0], rates[rates.len() - 1]);
    let best = rates.iter().copied().fold(0.0, f64::max);
    figures.push(Figure {
        figure: "soak_last_over_first",
        backend: target.backend,
        setting: format!("{finished} jobs in all"),
        value: last / first,
        unit: "ratio",
    });
    figures.push(Figure {
        figure: "soak_last_over_best",
        backend: target.backend,
        setting: format!("jobs kept {jobs_kept}, outputs {outputs_kept}"),
        value: last / best,
        unit: "ratio",
    });
    for (table, value, unit) in table_sizes(&target).await? {
        figures.push(Figure {
            figure: "soak_table",
            backend: target.backend,
            setting: table,
            value,
            unit,
        });
    }
    target.stop().await;
    Ok(figures)
}

/// The space the jobs and their history take now: on PostgreSQL each table with its indexes,
/// on SQLite the database file less its free pages.
pub(crate) async fn table_mib(target: &Target) -> anyhow::Result<Vec<(String, f64)>> {
    const MIB: f64 = 1048576.0;
    if target.backend == "postgres" {
        Ok(pg_tables(target)
            .await?
            .into_iter()
            .map(|t| (t.name, t.bytes as f64 / MIB))
            .collect())
    } else {
        let pool = sqlx::SqlitePool::connect(&target.database_url).await?;
        let (pages, free, size): (i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT page_count FROM pragma_page_count()),
                    (SELECT freelist_count FROM pragma_freelist_count()),
                    (SELECT page_size FROM pragma_page_size())",
        )
        .fetch_one(&pool)
        .await?;
        pool.close().await;
        Ok(vec![(
            "database in use".into(),
            ((pages - free) * size) as f64 / MIB,
        )])
    }
}

/// Sizes of the jobs and history tables at the end: `(what, value, unit)`.
async fn table_sizes(target: &Target) -> anyhow::Result<Vec<(String, f64, &'static str)>> {
    let mut out = Vec::new();
    if target.backend == "postgres" {
        for t in pg_tables(target).await? {
            out.push((
                format!("{} size", t.name),
                t.bytes as f64 / 1048576.0,
                "MiB",
            ));
            out.push((format!("{} live rows", t.name), t.live as f64, "rows"));
            out.push((format!("{} dead rows", t.name), t.dead as f64, "rows"));
        }
    } else {
        let pool = sqlx::SqlitePool::connect(&target.database_url).await?;
        for table in ["job_history", "jobs"] {
            let rows: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
                .fetch_one(&pool)
                .await?;
            out.push((format!("{table} rows"), rows as f64, "rows"));
        }
        let (pages, page_size): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT page_count FROM pragma_page_count()), (SELECT page_size FROM pragma_page_size())",
        )
        .fetch_one(&pool)
        .await?;
        out.push((
            "database file".into(),
            (pages * page_size) as f64 / 1048576.0,
            "MiB",
        ));
        pool.close().await;
    }
    Ok(out)
}

/// What PostgreSQL says of the jobs and history tables.
#[derive(sqlx::FromRow)]
pub(crate) struct PgTable {
    /// `jobs` or `job_history`.
    pub name: String,
    /// Its size with its indexes and TOAST.
    pub bytes: i64,
    /// Live rows, as the statistics estimate them.
    pub live: i64,
    /// Dead row versions not yet vacuumed, as the statistics estimate them.
    pub dead: i64,
}

/// The jobs and history tables of the target's PostgreSQL database, by name.
pub(crate) async fn pg_tables(target: &Target) -> anyhow::Result<Vec<PgTable>> {
    let pool = sqlx::PgPool::connect(&target.database_url).await?;
    let rows = sqlx::query_as(
        "SELECT relname::text AS name, pg_total_relation_size(relid) AS bytes,
                n_live_tup AS live, n_dead_tup AS dead
         FROM pg_stat_user_tables WHERE relname IN ('jobs', 'job_history') ORDER BY relname",
    )
    .fetch_all(&pool)
    .await?;
    pool.close().await;
    Ok(rows)
}
