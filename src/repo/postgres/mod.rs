//! The PostgreSQL repository: one connection pool, row locks for every change, and
//! `SKIP LOCKED` claims, so several server replicas can share the database. Its SQL is in
//! `sql/`.

// The method bodies are shared with SQLite and compiled once per dialect: see
// `methods/mod.rs`.
#[allow(clippy::duplicate_mod)]
#[path = "../methods/mod.rs"]
mod methods;
mod statements;
pub mod wake_channel;

pub use methods::SqlRepo as PgRepo;

use super::{Dialect, RepoError, RepoResult};
use crate::lifecycle::Policy;
use sqlx::postgres::{PgPool, PgPoolOptions};
use std::time::Duration;

/// The sqlx database the shared method bodies are compiled for here.
type Db = sqlx::Postgres;

/// A write transaction on this dialect, as the shared method bodies take it.
type Tx = sqlx::Transaction<'static, Db>;

/// Connections in the pool.
const MAX_CONNECTIONS: u32 = 16;

/// How long a call waits for a free connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// The advisory lock that keeps two replicas from migrating at once ("gantry" in ASCII).
const MIGRATION_LOCK_KEY: i64 = 0x67_61_6e_74_72_79;

mod embedded {
    refinery::embed_migrations!("migrations/postgres");
}

/// PostgreSQL's pool and what it does differently from SQLite.
pub struct Backend {
    pool: PgPool,
}

impl Backend {
    /// Which dialect this is.
    const DIALECT: Dialect = Dialect::Postgres;

    /// Connects to the database named by a `postgres://` URL.
    async fn connect(url: &str) -> RepoResult<Backend> {
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect(url)
            .await?;
        Ok(Backend { pool })
    }

    /// Where reads go: the pool.
    fn read(&self) -> &PgPool {
        &self.pool
    }

    /// A read transaction: every read in it sees the same committed state.
    async fn read_snapshot(&self) -> sqlx::Result<Tx> {
        self.pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await
    }

    /// A write transaction from the pool.
    async fn write(&self) -> sqlx::Result<Tx> {
        self.pool.begin().await
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

    /// Applies pending migrations, one replica at a time (a session advisory lock).
    async fn migrate(&self) -> RepoResult<usize> {
        let mut conn = self.pool.acquire().await?;
        sqlx::query(statements::MIGRATION_LOCK)
            .bind(MIGRATION_LOCK_KEY)
            .execute(&mut *conn)
            .await?;
        let result = embedded::migrations::runner()
            .run_async(&mut methods::Migrator { conn: &mut conn })
            .await;
        sqlx::query(statements::MIGRATION_UNLOCK)
            .bind(MIGRATION_LOCK_KEY)
            .execute(&mut *conn)
            .await?;
        let report = result.map_err(|e| RepoError::Migration(e.to_string()))?;
        Ok(report.applied_migrations().len())
    }
}

impl PgRepo {
    /// Connects to the database named by a `postgres://` URL.
    pub async fn connect(url: &str, policy: Policy) -> RepoResult<Self> {
        Ok(PgRepo {
            backend: Backend::connect(url).await?,
            policy,
        })
    }
}
