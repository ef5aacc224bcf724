//! The PostgreSQL repository: one connection pool, row locks for every change, and
//! `SKIP LOCKED` claims, so several server replicas can share the database. Its SQL is in
//! `sql/`. Nothing here keeps state in a database session (every lock is a row or lasts one
//! transaction), so it also works through a pooler in transaction mode: see [`Pooler`] and
//! `conn.rs`.

// The method bodies are shared with SQLite and compiled once per dialect: see
// `methods/mod.rs`.
mod conn;
#[allow(clippy::duplicate_mod)]
#[path = "../methods/mod.rs"]
mod methods;
mod statements;

pub use methods::SqlRepo as PgRepo;

use super::begin::begin;
use super::{Dialect, Pooler, RepoError, RepoResult};
use crate::lifecycle::Policy;
use conn::{ReadConn, Reader, Tx};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use std::str::FromStr;
use std::time::Duration;

/// The sqlx database the shared method bodies are compiled for here.
type Db = sqlx::Postgres;

/// Connections in the pool.
const MAX_CONNECTIONS: u32 = 16;

/// How long a call waits for a free connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

mod embedded {
    refinery::embed_migrations!("migrations/postgres");
}

/// PostgreSQL's pool and what it does differently from SQLite.
pub struct Backend {
    /// The connections.
    pool: PgPool,
    /// What stands between them and PostgreSQL, which decides how statements run on them.
    pooler: Pooler,
}

impl Backend {
    /// Which dialect this is.
    const DIALECT: Dialect = Dialect::Postgres;

    /// Connects to the database named by a `postgres://` URL, through `pooler`.
    async fn connect(url: &str, pooler: Pooler) -> RepoResult<Backend> {
        let mut options = PgConnectOptions::from_str(url)?;
        if pooler == Pooler::Transaction {
            // No statement is kept (see `conn.rs`): a cache would hold nothing.
            options = options.statement_cache_capacity(0);
        }
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await?;
        Ok(Backend { pool, pooler })
    }

    /// A connection to read on: one from the pool, or behind a transaction pooler a read-only
    /// transaction (see [`ReadConn`]).
    async fn reader(&self) -> sqlx::Result<Reader> {
        let conn = match self.pooler {
            Pooler::None => ReadConn::Pooled(self.pool.acquire().await?),
            Pooler::Transaction => ReadConn::Pinned(begin(&self.pool, "BEGIN READ ONLY").await?),
        };
        Ok(Reader::new(conn, self.pooler))
    }

    /// A read transaction: every read in it sees the same committed state.
    async fn read_snapshot(&self) -> sqlx::Result<Tx> {
        let tx = begin(
            &self.pool,
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        )
        .await?;
        Ok(Tx::new(tx, self.pooler))
    }

    /// A write transaction from the pool.
    async fn write(&self) -> sqlx::Result<Tx> {
        Ok(Tx::new(begin(&self.pool, "BEGIN").await?, self.pooler))
    }

    /// Serialises decisions about which jobs fit no worker with worker arrivals, so a job is
    /// never blocked for want of a worker that registered meanwhile (`capacity_lock.sql`, a
    /// transaction-level advisory lock). Taken before any row lock.
    async fn lock_capacity(tx: &mut Tx) -> RepoResult<()> {
        sqlx::query(statements::CAPACITY_LOCK)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// PostgreSQL's own tools make its backups (`pg_dump`, or `pg_basebackup` for the whole
    /// cluster): refused with a message that names them.
    async fn backup(&self, _dest: &str) -> RepoResult<()> {
        Err(RepoError::Unsupported(
            "gantry backup copies SQLite databases; back up PostgreSQL with its own tools: \
             pg_dump -Fc -f FILE DATABASE_URL (see the README)"
                .into(),
        ))
    }

    /// Nothing to do: autovacuum makes the space of deleted rows reusable.
    async fn compact(&self) -> RepoResult<()> {
        Ok(())
    }

    /// Applies pending migrations, one replica at a time, all in one transaction that first
    /// takes a transaction-level advisory lock (no session lock: it works through a
    /// transaction pooler). A replica that waited for the lock then reads the migrations the
    /// other one applied (each statement sees what committed before it, at the default
    /// READ COMMITTED) and applies none twice. Each migration is a savepoint in it; one that
    /// fails rolls the whole run back. Every statement goes by the simple query protocol,
    /// which prepares nothing.
    async fn migrate(&self) -> RepoResult<usize> {
        let mut tx = begin(&self.pool, "BEGIN").await?;
        // A bare string runs as a simple query.
        sqlx::Executor::execute(&mut *tx, statements::MIGRATION_LOCK).await?;
        let report = embedded::migrations::runner()
            .run_async(&mut methods::Migrator { conn: &mut tx })
            .await
            .map_err(|e| RepoError::Migration(e.to_string()))?;
        tx.commit().await?;
        Ok(report.applied_migrations().len())
    }
}

impl PgRepo {
    /// Connects to the database named by a `postgres://` URL, directly.
    pub async fn connect(url: &str, policy: Policy) -> RepoResult<Self> {
        Self::connect_through(url, Pooler::None, policy).await
    }

    /// Connects to the database named by a `postgres://` URL, through `pooler`.
    pub async fn connect_through(url: &str, pooler: Pooler, policy: Policy) -> RepoResult<Self> {
        Ok(PgRepo {
            backend: Backend::connect(url, pooler).await?,
            policy,
        })
    }
}
