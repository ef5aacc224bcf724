//! Figure 6: a soak: steady batch load for a number of windows (minutes in the full run);
//! jobs/s per window, the last window against the first, and the table sizes at the end
//! (on PostgreSQL with live and dead tuples, to see that autovacuum keeps up).

use crate::agents::create_batch;
use crate::load::Agents;
use crate::target::Target;
use crate::Figure;
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

/// Runs the load for `windows` windows of `window` each.
pub async fn run(target: &Target, windows: usize, window: Duration) -> anyhow::Result<Vec<Figure>> {
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
    // The windows start once jobs flow, so the first is not the start-up.
    let flowing = tokio::time::Instant::now() + Duration::from_secs(60);
    while agents.finished() == 0 {
        anyhow::ensure!(
            tokio::time::Instant::now() < flowing,
            "no job finished within 60 s of the soak's start"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut figures = Vec::new();
    let mut rates = Vec::new();
    let mut last = agents.finished();
    for i in 1..=windows {
        tokio::time::sleep(window).await;
        let now = agents.finished();
        let rate = (now - last) as f64 / window.as_secs_f64();
        anyhow::ensure!(rate > 0.0, "no job finished in soak window {i}");
        last = now;
        rates.push(rate);
        figures.push(Figure {
            figure: "soak_jobs_per_s",
            backend: target.backend,
            setting: format!("window {i} of {windows}"),
            value: rate,
            unit: "jobs/s",
        });
    }
    stop.store(true, Ordering::Relaxed);
    while let Some(result) = creators.join_next().await {
        result??;
    }
    agents.stop().await?;
    let (first, final_rate) = (rates[0], rates[rates.len() - 1]);
    figures.push(Figure {
        figure: "soak_last_over_first",
        backend: target.backend,
        setting: format!("{} jobs in all", last),
        value: final_rate / first,
        unit: "ratio",
    });
    for (table, value, unit) in table_sizes(target).await? {
        figures.push(Figure {
            figure: "soak_table",
            backend: target.backend,
            setting: table,
            value,
            unit,
        });
    }
    Ok(figures)
}

/// Sizes of the jobs and history tables at the end: `(what, value, unit)`.
async fn table_sizes(target: &Target) -> anyhow::Result<Vec<(String, f64, &'static str)>> {
    let mut out = Vec::new();
    if target.backend == "postgres" {
        let pool = sqlx::PgPool::connect(&target.database_url).await?;
        let rows: Vec<(String, i64, i64, i64)> = sqlx::query_as(
            "SELECT relname::text, pg_total_relation_size(relid), n_live_tup, n_dead_tup
             FROM pg_stat_user_tables WHERE relname IN ('jobs', 'job_history') ORDER BY relname",
        )
        .fetch_all(&pool)
        .await?;
        for (table, bytes, live, dead) in rows {
            out.push((format!("{table} size"), bytes as f64 / 1048576.0, "MiB"));
            out.push((format!("{table} live rows"), live as f64, "rows"));
            out.push((format!("{table} dead rows"), dead as f64, "rows"));
        }
        pool.close().await;
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
