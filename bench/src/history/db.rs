//! The bench's own connection to the history figure's database: the seeding, and the few
//! queries around the API (where the rollup got to, which jobs to read, how large the tables
//! grew).

use gantry::repo::Dialect;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use std::str::FromStr;
use std::time::Duration;

/// How long the SQLite connection waits for the server's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// One connection to either database.
pub(super) enum Pool {
    /// A SQLite file.
    Sqlite(SqlitePool),
    /// A PostgreSQL database.
    Postgres(PgPool),
}

impl Pool {
    /// Connects to the database of `url` (`sqlite://` or `postgres://`).
    pub async fn connect(url: &str) -> anyhow::Result<Pool> {
        let one = || PgPoolOptions::new().max_connections(1);
        Ok(if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(BUSY_TIMEOUT);
            let pool = SqlitePoolOptions::new().max_connections(1);
            Pool::Sqlite(pool.connect_with(options).await?)
        } else {
            Pool::Postgres(one().connect(url).await?)
        })
    }

    /// Which SQL it speaks.
    pub fn dialect(&self) -> Dialect {
        match self {
            Pool::Sqlite(_) => Dialect::Sqlite,
            Pool::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Runs `statements` in one transaction, so the server sees all of them or none; the rows
    /// they wrote.
    pub async fn write(&self, statements: &[String]) -> anyhow::Result<u64> {
        let mut rows = 0;
        match self {
            Pool::Sqlite(pool) => {
                // Takes the write lock at once: a deferred transaction that reads first may
                // not wait for it, but fail, if the server wrote meanwhile.
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                for sql in statements {
                    rows += sqlx::query(sql).execute(&mut *tx).await?.rows_affected();
                }
                tx.commit().await?;
            }
            Pool::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                for sql in statements {
                    rows += sqlx::query(sql).execute(&mut *tx).await?.rows_affected();
                }
                tx.commit().await?;
            }
        }
        Ok(rows)
    }

    /// Refreshes the planner's statistics (what autovacuum does on PostgreSQL).
    pub async fn analyze(&self) -> anyhow::Result<()> {
        match self {
            Pool::Sqlite(pool) => sqlx::query("ANALYZE").execute(pool).await.map(drop)?,
            Pool::Postgres(pool) => sqlx::query("ANALYZE").execute(pool).await.map(drop)?,
        }
        Ok(())
    }

    /// SQLite: moves everything the WAL holds into the database file and empties the WAL, so
    /// the file's size is the database's.
    pub async fn checkpoint(&self) -> anyhow::Result<()> {
        if let Pool::Sqlite(pool) = self {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(pool)
                .await?;
        }
        Ok(())
    }

    /// Where the maintenance pass `name` got to: `(finished_at, job_id)`.
    pub async fn cursor(&self, name: &str) -> anyhow::Result<(i64, String)> {
        const SQL: &str = "SELECT finished_at, job_id FROM maintenance_cursors WHERE name = $1";
        Ok(match self {
            Pool::Sqlite(pool) => sqlx::query_as(SQL).bind(name).fetch_one(pool).await?,
            Pool::Postgres(pool) => sqlx::query_as(SQL).bind(name).fetch_one(pool).await?,
        })
    }

    /// How many finished jobs come after the cursor `(at, id)`.
    pub async fn jobs_after(&self, (at, id): &(i64, String)) -> anyhow::Result<i64> {
        const SQL: &str = "SELECT COUNT(*) FROM jobs
            WHERE finished_at IS NOT NULL AND (finished_at, id) > ($1, $2)";
        let (n,): (i64,) = match self {
            Pool::Sqlite(pool) => {
                sqlx::query_as(SQL)
                    .bind(at)
                    .bind(id)
                    .fetch_one(pool)
                    .await?
            }
            Pool::Postgres(pool) => {
                sqlx::query_as(SQL)
                    .bind(at)
                    .bind(id)
                    .fetch_one(pool)
                    .await?
            }
        };
        Ok(n)
    }

    /// The first job that ended at or after `at`: its `(finished_at, id)` and its command.
    pub async fn job_ended_from(&self, at: i64) -> anyhow::Result<((i64, String), String)> {
        const SQL: &str = "SELECT finished_at, id, command FROM jobs
            WHERE finished_at >= $1 ORDER BY finished_at, id LIMIT 1";
        let (finished_at, id, command): (i64, String, String) = match self {
            Pool::Sqlite(pool) => sqlx::query_as(SQL).bind(at).fetch_one(pool).await?,
            Pool::Postgres(pool) => sqlx::query_as(SQL).bind(at).fetch_one(pool).await?,
        };
        Ok(((finished_at, id), command))
    }

    /// The size of table `name` with its indexes, in MiB.
    pub async fn table_mb(&self, name: &str) -> anyhow::Result<f64> {
        let (bytes,): (i64,) = match self {
            // dbstat: one row per page of each b-tree; an index's b-tree names its table.
            Pool::Sqlite(pool) => {
                sqlx::query_as(
                    "SELECT COALESCE(SUM(d.pgsize), 0) FROM dbstat d
                     JOIN sqlite_master m ON m.name = d.name WHERE m.tbl_name = $1",
                )
                .bind(name)
                .fetch_one(pool)
                .await?
            }
            Pool::Postgres(pool) => {
                sqlx::query_as("SELECT pg_total_relation_size($1::regclass)")
                    .bind(name)
                    .fetch_one(pool)
                    .await?
            }
        };
        Ok(mib(bytes as u64))
    }

    /// Closes the connection.
    pub async fn close(self) {
        match self {
            Pool::Sqlite(pool) => pool.close().await,
            Pool::Postgres(pool) => pool.close().await,
        }
    }
}

/// Bytes in MiB.
pub(super) fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}
