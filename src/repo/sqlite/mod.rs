//! The SQLite repository: one writer connection that serialises every write transaction
//! (`BEGIN IMMEDIATE`, so a transaction never has to upgrade its lock), and a few read-only
//! connections that read committed data beside it through WAL.

#[allow(clippy::duplicate_mod)]
#[path = "../sql/mod.rs"]
mod body;
// Deliberately compiled once per dialect: see the top of sql/mod.rs.
#[allow(clippy::duplicate_mod)]
#[path = "../sql_migrate.rs"]
mod migrate;
mod queries;

pub use body::SqlRepo as SqliteRepo;

use super::{Dialect, Policy, RepoError, RepoResult};
use sqlx::sqlite::SqliteSynchronous;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use std::str::FromStr;
use std::time::Duration;

/// The sqlx database of this dialect, for the shared bodies.
pub type Db = sqlx::Sqlite;

/// Which dialect the shared bodies are compiled for.
const DIALECT: Dialect = Dialect::Sqlite;

/// Read-only connections kept beside the writer.
const READ_CONNECTIONS: u32 = 4;

/// How long a connection waits for another process's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

mod embedded {
    refinery::embed_migrations!("migrations/sqlite");
}

/// The writer and the readers.
pub struct Pools {
    writer: SqlitePool,
    reader: SqlitePool,
}

impl Pools {
    /// Where reads go.
    fn read(&self) -> &SqlitePool {
        &self.reader
    }

    /// A write transaction, holding the database's write lock from its first statement.
    async fn write(&self) -> sqlx::Result<sqlx::Transaction<'static, Db>> {
        self.writer.begin_with("BEGIN IMMEDIATE").await
    }
}

impl SqliteRepo {
    /// Opens (creating if missing) the database file named by a `sqlite://` URL.
    pub async fn connect(url: &str, policy: Policy) -> RepoResult<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options.clone())
            .await?;
        // An in-memory database lives in its one connection: reads must share it.
        let reader = if in_memory {
            writer.clone()
        } else {
            SqlitePoolOptions::new()
                .max_connections(READ_CONNECTIONS)
                .connect_with(options.read_only(true))
                .await?
        };
        Ok(SqliteRepo {
            pools: Pools { writer, reader },
            policy,
        })
    }
}

async fn run_migrations(pools: &Pools) -> RepoResult<usize> {
    let mut conn = pools.writer.acquire().await?;
    let report = embedded::migrations::runner()
        .run_async(&mut migrate::Migrator { conn: &mut conn })
        .await
        .map_err(|e| RepoError::Migration(e.to_string()))?;
    Ok(report.applied_migrations().len())
}
