//! The seeded state the sweep is timed on: made once per size and never changed. Idle passes
//! run on it; each expiring pass runs on a fresh copy, since it changes what it sweeps.

use super::pass::{breakdown, pass, Pass};
use super::seed::{seed_jobs, seed_workers};
use super::Size;
use crate::stats::median;
use crate::{postgres, Figure};
use anyhow::ensure;
use gantry::config::{millis, ServeConfig};
use std::path::PathBuf;
use std::time::Instant;

/// Idle passes timed per state (the median is reported).
const IDLE_PASSES: usize = 20;
/// Untimed passes first, so caches and prepared statements are warm.
const WARMUP_PASSES: usize = 3;
/// States set up anew per expiring size, each timed for its one expiring pass.
const EXPIRING_SAMPLES: usize = 5;

/// A seeded database that is never changed: idle passes run on it, expiring ones on copies.
pub(super) struct Golden {
    size: Size,
    /// When the state was made: the idle passes run at this time, the expiring ones just after.
    at: i64,
    /// `sqlite` or `postgres`.
    backend: &'static str,
    /// The seeded database's URL.
    url: String,
    /// The PostgreSQL server's admin URL, to copy and drop databases.
    admin: Option<String>,
    /// SQLite: the folder of the files and a consistent copy of the seeded file.
    dir: Option<(tempfile::TempDir, PathBuf)>,
}

impl Golden {
    /// Creates a fresh database (SQLite file or PostgreSQL database), migrates and seeds it.
    pub async fn seed(
        admin: Option<&str>,
        size: Size,
        config: &ServeConfig,
    ) -> anyhow::Result<Self> {
        let at = gantry::clock::now_ms();
        let golden = match admin {
            Some(admin) => Golden {
                size,
                at,
                backend: "postgres",
                url: postgres::create_database(admin).await?,
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
        gantry::repo::connect(&golden.url, config.policy())
            .await?
            .migrate()
            .await?;
        let started = Instant::now();
        golden.fill(millis(config.heartbeat_timeout)).await?;
        tracing::debug!(?size, seconds = started.elapsed().as_secs_f64(), "seeded");
        Ok(golden)
    }

    /// Runs the seed statements on the migrated database, then readies it to be timed.
    async fn fill(&self, heartbeat_timeout_ms: i64) -> anyhow::Result<()> {
        let statements = [
            seed_workers(self.size, self.at, heartbeat_timeout_ms),
            seed_jobs(self.size, self.at),
        ];
        if let Some((_, copy)) = &self.dir {
            let pool = sqlx::SqlitePool::connect(&self.url).await?;
            for sql in &statements {
                sqlx::query(sql).execute(&pool).await?;
            }
            self.roll_up().await?;
            // A consistent file to copy for each expiring sample, whatever the WAL holds.
            sqlx::query(&format!("VACUUM INTO '{}'", copy.display()))
                .execute(&pool)
                .await?;
            pool.close().await;
        } else {
            let pool = sqlx::PgPool::connect(&self.url).await?;
            for sql in &statements {
                sqlx::query(sql).execute(&pool).await?;
            }
            self.roll_up().await?;
            // What autovacuum would have done by the time such a state is reached.
            sqlx::query("ANALYZE").execute(&pool).await?;
            pool.close().await;
        }
        Ok(())
    }

    /// Folds the seeded finished jobs into the rollups, as a server that ran up to this state
    /// would have, so the timed passes' rollup has nothing left to fold.
    async fn roll_up(&self) -> anyhow::Result<()> {
        let repo = gantry::repo::connect(&self.url, Default::default()).await?;
        while repo.job_rollup(self.at, 1000).await? > 0 {}
        Ok(())
    }

    /// The median of `IDLE_PASSES` passes with nothing to do.
    pub async fn idle(&self, config: &ServeConfig) -> anyhow::Result<Figure> {
        let repo = gantry::repo::connect(&self.url, config.policy()).await?;
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
    pub async fn expiring(&self, config: &ServeConfig, quick: bool) -> anyhow::Result<Figure> {
        let samples = if quick { 1 } else { EXPIRING_SAMPLES };
        let mut passes = Vec::with_capacity(samples);
        for sample in 0..samples {
            let url = self.copy(sample).await?;
            let repo = gantry::repo::connect(&url, config.policy()).await?;
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

    /// The figure of these passes: the median of their totals.
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
                postgres::copy_database(admin, &self.db_name(), &self.copy_name(sample)).await
            }
            (None, None) => unreachable!("a golden state is a file or a database"),
        }
    }

    /// Removes the copy of `sample`.
    async fn drop_copy(&self, sample: usize) {
        match &self.dir {
            Some((dir, _)) => {
                let _ = std::fs::remove_file(dir.path().join(format!("sample-{sample}.db")));
            }
            None => self.drop_database(&self.copy_name(sample)).await,
        }
    }

    /// Drops the PostgreSQL databases (the SQLite folder goes with `self`).
    pub async fn drop_all(self) {
        if self.admin.is_some() {
            self.drop_database(&self.db_name()).await;
        }
    }

    /// Drops database `name`, saying so on stderr when that fails.
    async fn drop_database(&self, name: &str) {
        let Some(admin) = &self.admin else { return };
        if let Err(e) = postgres::drop_database(admin, name).await {
            eprintln!("sweep: could not drop database {name}: {e}");
        }
    }

    /// The seeded database's name on the PostgreSQL server.
    fn db_name(&self) -> String {
        postgres::database_name(&self.url).unwrap_or_default()
    }

    /// The name of the copy of `sample`.
    fn copy_name(&self, sample: usize) -> String {
        format!("{}_s{sample}", self.db_name())
    }
}
