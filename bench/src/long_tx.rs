//! Figure 7: a long transaction, as an analyst leaves one open (`BEGIN`, a query on
//! `job_attempts`, then nothing) while the steady load of the soak runs: jobs/s before,
//! during and after it, how long after its end the rate is back to 90% of before, and what
//! piled up meanwhile (PostgreSQL: dead rows in jobs and job_history, which no vacuum may
//! remove while the transaction's snapshot is open; SQLite: the write-ahead log, which no
//! checkpoint may reset while a reader holds a snapshot in it).

use crate::stats::median;
use crate::steady::SteadyLoad;
use crate::target::{Database, Launch, Target};
use crate::Figure;
use sqlx::Connection;
use std::time::{Duration, Instant};

/// Windows measured before the transaction opens.
const BEFORE_WINDOWS: usize = 2;
/// Windows measured after it ends.
const AFTER_WINDOWS: usize = 2;
/// Samples per window after the end, to time the recovery.
const SAMPLES_PER_WINDOW: u32 = 12;
/// The share of the rate before that counts as recovered.
const RECOVERED: f64 = 0.9;

/// The analyst's open transaction.
enum Analyst {
    Postgres(sqlx::PgConnection),
    Sqlite(sqlx::SqliteConnection),
}

impl Analyst {
    /// Opens the transaction and reads from the attempts view in it (REPEATABLE READ on
    /// PostgreSQL, so the snapshot, and the oldest row version vacuum must keep, is held).
    async fn open(target: &Target) -> anyhow::Result<Analyst> {
        let query = "SELECT COUNT(*) FROM (SELECT * FROM job_attempts LIMIT 100) a";
        if target.backend == "postgres" {
            let mut conn = sqlx::PgConnection::connect(&target.database_url).await?;
            sqlx::query("BEGIN ISOLATION LEVEL REPEATABLE READ")
                .execute(&mut conn)
                .await?;
            sqlx::query(query).execute(&mut conn).await?;
            Ok(Analyst::Postgres(conn))
        } else {
            let mut conn = sqlx::SqliteConnection::connect(&target.database_url).await?;
            sqlx::query("BEGIN").execute(&mut conn).await?;
            sqlx::query(query).execute(&mut conn).await?;
            Ok(Analyst::Sqlite(conn))
        }
    }

    /// Ends the transaction.
    async fn close(self) -> anyhow::Result<()> {
        match self {
            Analyst::Postgres(mut c) => sqlx::query("COMMIT").execute(&mut c).await.map(drop)?,
            Analyst::Sqlite(mut c) => sqlx::query("COMMIT").execute(&mut c).await.map(drop)?,
        }
        Ok(())
    }
}

/// Runs the figure with the transaction open for `windows` windows of `window`.
pub async fn run(launch: &Launch, windows: usize, window: Duration) -> anyhow::Result<Vec<Figure>> {
    let env = [("GANTRY_ROLLUP_DELAY", "1s")];
    let target = Target::start_on(launch, Database::create(launch).await?, &env).await?;
    let backend = target.backend;
    let figure = |figure, setting: String, value, unit| Figure {
        figure,
        backend,
        setting,
        value,
        unit,
    };
    let load = SteadyLoad::start(&target).await?;
    let mut figures = Vec::new();
    let mut before = Vec::new();
    for _ in 0..BEFORE_WINDOWS {
        before.push(load.rate_over(window).await);
    }
    let before = median(before);
    figures.extend(
        piled_up(&target, "before")
            .await?
            .into_iter()
            .map(|(s, v, u)| figure("long_tx_piled_up", s, v, u)),
    );
    let analyst = Analyst::open(&target).await?;
    let mut during = Vec::new();
    for _ in 0..windows {
        during.push(load.rate_over(window).await);
    }
    figures.extend(
        piled_up(&target, "at its end")
            .await?
            .into_iter()
            .map(|(s, v, u)| figure("long_tx_piled_up", s, v, u)),
    );
    analyst.close().await?;
    let ended = Instant::now();
    let step = window / SAMPLES_PER_WINDOW;
    let mut recovered = None;
    let after_start = load.finished();
    while ended.elapsed() < window * AFTER_WINDOWS as u32 {
        let rate = load.rate_over(step).await;
        if recovered.is_none() && rate >= RECOVERED * before {
            recovered = Some(ended.elapsed());
        }
    }
    let after = (load.finished() - after_start) as f64 / ended.elapsed().as_secs_f64();
    figures.extend(
        piled_up(&target, "after")
            .await?
            .into_iter()
            .map(|(s, v, u)| figure("long_tx_piled_up", s, v, u)),
    );
    load.stop().await?;
    target.stop().await;
    let during = median(during);
    let open_for = format!("open {:.0} s", (window * windows as u32).as_secs_f64());
    for (when, rate) in [("before", before), ("during", during), ("after", after)] {
        figures.push(figure(
            "long_tx_jobs_per_s",
            format!("{when}, {open_for}"),
            rate,
            "jobs/s",
        ));
    }
    figures.push(figure(
        "long_tx_during_over_before",
        open_for.clone(),
        during / before,
        "ratio",
    ));
    let (setting, seconds) = match recovered {
        Some(t) => (format!("to {:.0}% of before", RECOVERED * 100.0), t),
        None => ("not recovered by the end".to_string(), ended.elapsed()),
    };
    figures.push(figure(
        "long_tx_recovery_s",
        setting,
        seconds.as_secs_f64(),
        "s",
    ));
    Ok(figures)
}

/// What the open transaction keeps from being cleaned up, `when`: `(setting, value, unit)`.
async fn piled_up(target: &Target, when: &str) -> anyhow::Result<Vec<(String, f64, &'static str)>> {
    if target.backend == "postgres" {
        Ok(crate::soak::pg_tables(target)
            .await?
            .into_iter()
            .map(|t| {
                (
                    format!("{} dead rows, {when}", t.name),
                    t.dead as f64,
                    "rows",
                )
            })
            .collect())
    } else {
        let path = target
            .database_url
            .trim_start_matches("sqlite://")
            .to_string();
        let wal = std::fs::metadata(format!("{path}-wal")).map_or(0, |m| m.len());
        Ok(vec![(
            format!("write-ahead log, {when}"),
            wal as f64 / 1048576.0,
            "MiB",
        )])
    }
}
