//! The PostgreSQL repository: one connection pool, row locks for every change, and
//! `SKIP LOCKED` claims, so several server replicas can share the database.

#[allow(clippy::duplicate_mod)]
#[path = "../sql/mod.rs"]
mod body;
// Deliberately compiled once per dialect: see the top of sql/mod.rs.
#[allow(clippy::duplicate_mod)]
#[path = "../sql_migrate.rs"]
mod migrate;
mod queries;

pub use body::SqlRepo as PgRepo;

use super::{Dialect, Policy, RepoError, RepoResult};
use sqlx::postgres::{PgPool, PgPoolOptions};
use std::time::Duration;

/// The sqlx database of this dialect, for the shared bodies.
pub type Db = sqlx::Postgres;

/// Which dialect the shared bodies are compiled for.
const DIALECT: Dialect = Dialect::Postgres;

/// Connections in the pool.
const MAX_CONNECTIONS: u32 = 16;

/// The advisory lock that keeps two replicas from migrating at once ("gantry" in ASCII).
const MIGRATION_LOCK_KEY: i64 = 0x67_61_6e_74_72_79;

mod embedded {
    refinery::embed_migrations!("migrations/postgres");
}

/// The pool.
pub struct Pools {
    pool: PgPool,
}

impl Pools {
    /// Where reads go.
    fn read(&self) -> &PgPool {
        &self.pool
    }

    /// A write transaction.
    async fn write(&self) -> sqlx::Result<sqlx::Transaction<'static, Db>> {
        self.pool.begin().await
    }
}

impl PgRepo {
    /// Connects to the database named by a `postgres://` URL.
    pub async fn connect(url: &str, policy: Policy) -> RepoResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        Ok(PgRepo {
            pools: Pools { pool },
            policy,
        })
    }
}

async fn run_migrations(pools: &Pools) -> RepoResult<usize> {
    let mut conn = pools.pool.acquire().await?;
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(MIGRATION_LOCK_KEY)
        .execute(&mut *conn)
        .await?;
    let result = embedded::migrations::runner()
        .run_async(&mut migrate::Migrator { conn: &mut conn })
        .await;
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(MIGRATION_LOCK_KEY)
        .execute(&mut *conn)
        .await?;
    let report = result.map_err(|e| RepoError::Migration(e.to_string()))?;
    Ok(report.applied_migrations().len())
}
