//! Runs refinery's embedded migrations over the sqlx connection of this dialect.
//!
//! Compiled once per dialect (see `methods/mod.rs`): `Db` is that dialect's. This is
//! the adapter refinery needs (its async traits implemented for one sqlx connection), so no
//! second database driver is linked. Every statement goes by the simple query protocol, which
//! prepares nothing (a transaction pooler keeps no prepared statement).

use super::Db;
use async_trait::async_trait;
use refinery_core::traits::r#async::{AsyncMigrate, AsyncQuery, AsyncTransaction};
use refinery_core::Migration;
use sqlx::{Connection, Database};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// A sqlx connection seen as a refinery migration target.
pub struct Migrator<'a> {
    /// The connection the migrations run on. Each migration is a transaction on it, or a
    /// savepoint when it is already in one (PostgreSQL runs them all in one).
    pub conn: &'a mut <Db as Database>::Connection,
}

#[async_trait]
impl AsyncTransaction for Migrator<'_> {
    type Error = sqlx::Error;

    async fn execute(&mut self, queries: &[&str]) -> Result<usize, Self::Error> {
        let mut tx = self.conn.begin().await?;
        for query in queries {
            // A bare string runs as a simple query, which may hold several statements.
            sqlx::Executor::execute(&mut *tx, *query).await?;
        }
        tx.commit().await?;
        Ok(queries.len())
    }
}

#[async_trait]
impl AsyncQuery<Vec<Migration>> for Migrator<'_> {
    async fn query(&mut self, query: &str) -> Result<Vec<Migration>, Self::Error> {
        // A bare string runs as a simple query, as in `execute`.
        let rows = sqlx::Executor::fetch_all(&mut *self.conn, query).await?;
        rows.iter()
            .map(|row| {
                let (version, name, applied_on, checksum): (i64, String, String, String) =
                    sqlx::FromRow::from_row(row)?;
                let applied_on = OffsetDateTime::parse(&applied_on, &Rfc3339)
                    .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
                let checksum = checksum
                    .parse::<u64>()
                    .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
                let version =
                    i32::try_from(version).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
                Ok(Migration::applied(version, name, applied_on, checksum))
            })
            .collect()
    }
}

impl AsyncMigrate for Migrator<'_> {
    // The version column is INT4 on PostgreSQL: read it as BIGINT so one row type fits both.
    fn get_last_applied_migration_query(table: &str) -> String {
        format!(
            "SELECT CAST(version AS BIGINT), name, applied_on, checksum FROM {table} \
             WHERE version = (SELECT MAX(version) FROM {table})"
        )
    }

    fn get_applied_migrations_query(table: &str) -> String {
        format!(
            "SELECT CAST(version AS BIGINT), name, applied_on, checksum FROM {table} \
             ORDER BY version ASC"
        )
    }
}
