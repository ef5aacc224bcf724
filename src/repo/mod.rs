//! The repository: every read and write of jobs, workers, history, uploads and leases.
//!
//! One trait, [`Repo`] (the sum of one trait per concern, see `traits.rs`), with one
//! implementation per database ([`sqlite::SqliteRepo`], [`postgres::PgRepo`]). Both are
//! compiled from the same method bodies (`methods/`), each with its own SQL (`sqlite/sql/`,
//! `postgres/sql/`, one `.sql` file per statement), and both pass the same test suite
//! (`tests/repo_suite/`). The rules the methods apply are in [`crate::lifecycle`].

mod begin;
mod error;
pub mod faulty;
mod pooler;
pub mod postgres;
pub mod sqlite;
mod statements;
mod traits;

pub use error::{RepoError, RepoResult};
pub use pooler::Pooler;
pub use traits::{
    JobBatchRepo, JobRepo, MaintenanceRepo, Repo, ReportRepo, SchedulerRepo, UploadRepo, WorkerRepo,
};

use crate::lifecycle::Policy;
use std::sync::Arc;

/// The database behind a repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite: one writer, serialised.
    Sqlite,
    /// PostgreSQL: row locks and `SKIP LOCKED`, safe for several server replicas.
    Postgres,
}

/// Opens the database named by `url` (`sqlite://...` or `postgres://...`), reached directly.
pub async fn connect(url: &str, policy: Policy) -> RepoResult<Arc<dyn Repo>> {
    connect_through(url, Pooler::None, policy).await
}

/// Opens the database named by `url` (`sqlite://...` or `postgres://...`), reached through
/// `pooler` (which only PostgreSQL can be).
pub async fn connect_through(
    url: &str,
    pooler: Pooler,
    policy: Policy,
) -> RepoResult<Arc<dyn Repo>> {
    if url.starts_with("sqlite:") {
        if pooler != Pooler::None {
            return Err(RepoError::Unsupported(POOLER_NEEDS_POSTGRES.into()));
        }
        Ok(Arc::new(sqlite::SqliteRepo::connect(url, policy).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(
            postgres::PgRepo::connect_through(url, pooler, policy).await?,
        ))
    } else {
        Err(RepoError::UnsupportedUrl(url.to_string()))
    }
}

/// Why a pooler setting does not fit a SQLite database.
pub const POOLER_NEEDS_POSTGRES: &str =
    "--database-pooler applies to PostgreSQL only: a SQLite database is a file, with no pooler \
     in front of it; leave it at `none`";
