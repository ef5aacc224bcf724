//! The SQLite repository: one writer connection that serialises every write transaction
//! (`BEGIN IMMEDIATE`, so a transaction never has to upgrade its lock), and a few read-only
//! connections that read committed data beside it through WAL. Its SQL is in `sql/`.

// The method bodies are shared with PostgreSQL and compiled once per dialect: see
// `methods/mod.rs`.
#[allow(clippy::duplicate_mod)]
#[path = "../methods/mod.rs"]
mod methods;
mod statements;

pub use methods::SqlRepo as SqliteRepo;

use super::begin::begin;
use super::{Dialect, RepoError, RepoResult};
use crate::lifecycle::Policy;
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{
    SqliteAutoVacuum, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use std::str::FromStr;
use std::time::Duration;

/// The sqlx database the shared method bodies are compiled for here.
type Db = sqlx::Sqlite;

/// A write transaction on this dialect, as the shared method bodies take it.
type Tx = sqlx::Transaction<'static, Db>;

/// A connection to read on, as the shared method bodies take it.
type Reader = PoolConnection<Db>;

/// Read-only connections kept beside the writer.
const READ_CONNECTIONS: u32 = 4;

/// The size (bytes) the write-ahead log is cut back to once a checkpoint has emptied it. A
/// reader holding one snapshot for minutes (an analyst's open transaction) keeps checkpoints
/// from restarting the log, which then grows by every write meanwhile (6.8 GB in three
/// minutes of the bench's load): without a limit the file keeps that size for good.
const WAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;

/// How long a connection waits for another process's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

mod embedded {
    refinery::embed_migrations!("migrations/sqlite");
}

/// SQLite's connections and what it does differently from PostgreSQL.
pub struct Backend {
    writer: SqlitePool,
    reader: SqlitePool,
}

impl Backend {
    /// Which dialect this is.
    const DIALECT: Dialect = Dialect::Sqlite;

    /// Opens (creating if missing) the database file named by a `sqlite://` URL.
    async fn connect(url: &str) -> RepoResult<Backend> {
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
            // Lets the pruner hand freed pages back to the file system (`compact`). It takes
            // effect only in a new database: an older file keeps reusing its free pages. The
            // read-only connections must not set it (setting it writes).
            .connect_with(
                options
                    .clone()
                    .auto_vacuum(SqliteAutoVacuum::Incremental)
                    .pragma("journal_size_limit", WAL_SIZE_LIMIT.to_string()),
            )
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
        Ok(Backend { writer, reader })
    }

    /// A connection to read on: one of the read-only connections.
    async fn reader(&self) -> sqlx::Result<Reader> {
        self.reader.acquire().await
    }

    /// A read transaction: every read in it sees the same committed state (WAL snapshot).
    async fn read_snapshot(&self) -> sqlx::Result<Tx> {
        begin(&self.reader, "BEGIN").await
    }

    /// A write transaction, holding the database's write lock from its first statement.
    async fn write(&self) -> sqlx::Result<Tx> {
        begin(&self.writer, "BEGIN IMMEDIATE").await
    }

    /// Serialises decisions about which jobs fit no worker with worker arrivals. Nothing to
    /// do here: every write transaction already holds SQLite's one write lock.
    async fn lock_capacity(_tx: &mut Tx) -> RepoResult<()> {
        Ok(())
    }

    /// Copies the database to the new file `dest` while the server may run (`VACUUM INTO`
    /// on a reader: one snapshot, the writer is not held up).
    async fn backup(&self, dest: &str) -> RepoResult<()> {
        sqlx::query(statements::DATABASE_BACKUP)
            .bind(dest)
            .execute(&self.reader)
            .await?;
        Ok(())
    }

    /// Gives pages freed by the pruner back to the file system, a bounded number per call
    /// (`PRAGMA incremental_vacuum`; nothing in a file made without incremental auto-vacuum).
    async fn compact(&self) -> RepoResult<()> {
        sqlx::query(statements::DATABASE_COMPACT)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Applies pending migrations on the writer (the only connection that may write), all in
    /// one write transaction: another process migrating the same file waits for its lock (up
    /// to the busy timeout), then reads the migrations this one applied and applies none
    /// twice. Each migration is a savepoint in it; one that fails rolls the whole run back.
    async fn migrate(&self) -> RepoResult<usize> {
        let mut tx = self.write().await?;
        let report = embedded::migrations::runner()
            .run_async(&mut methods::Migrator { conn: &mut tx })
            .await
            .map_err(|e| RepoError::Migration(e.to_string()))?;
        tx.commit().await?;
        Ok(report.applied_migrations().len())
    }
}

impl SqliteRepo {
    /// Opens (creating if missing) the database file named by a `sqlite://` URL.
    pub async fn connect(url: &str, policy: Policy) -> RepoResult<Self> {
        Ok(SqliteRepo {
            backend: Backend::connect(url).await?,
            policy,
        })
    }
}
