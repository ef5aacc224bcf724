//! Errors of the repository layer.

use crate::lifecycle::Refusal;
use crate::model::CorruptRow;
use thiserror::Error;

/// What a repository call can fail with.
#[derive(Debug, Error)]
pub enum RepoError {
    /// The job, worker or upload does not exist.
    #[error("{entity} `{id}` not found")]
    NotFound {
        /// What kind of thing was looked up.
        entity: &'static str,
        /// The id that was asked for.
        id: String,
    },
    /// The call does not fit the current state (wrong state, stale attempt, not the holder).
    /// Nothing was changed.
    #[error("{message}")]
    Conflict {
        /// A stable code for clients, such as `wrong_state` or `stale_attempt`.
        code: &'static str,
        /// A sentence for a person.
        message: String,
    },
    /// The database failed or could not be reached.
    #[error("database error: {0}")]
    Database(sqlx::Error),
    /// The URL names no database gantry can use.
    #[error("unsupported database URL `{0}`: use sqlite://PATH or postgres://...")]
    UnsupportedUrl(String),
    /// Applying the schema migrations failed.
    #[error("migration failed: {0}")]
    Migration(String),
    /// The database cannot do this; the message says what to do instead.
    #[error("{0}")]
    Unsupported(String),
    /// A stored value could not be understood (a bug or a hand-edited row).
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

impl RepoError {
    /// A not-found error for a job.
    pub fn job_not_found(id: &str) -> Self {
        RepoError::NotFound {
            entity: "job",
            id: id.to_string(),
        }
    }

    /// A not-found error for a worker.
    pub fn worker_not_found(id: &str) -> Self {
        RepoError::NotFound {
            entity: "worker",
            id: id.to_string(),
        }
    }
}

impl From<sqlx::Error> for RepoError {
    /// A value that does not decode (a status no state has, say) is a corrupt row, not an
    /// unreachable database.
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => {
                RepoError::Corrupt(e.to_string())
            }
            other => RepoError::Database(other),
        }
    }
}

impl From<Refusal> for RepoError {
    fn from(r: Refusal) -> Self {
        RepoError::Conflict {
            code: r.code,
            message: r.message,
        }
    }
}

impl From<CorruptRow> for RepoError {
    fn from(e: CorruptRow) -> Self {
        RepoError::Corrupt(e.0)
    }
}

/// Shorthand for repository results.
pub type RepoResult<T> = Result<T, RepoError>;
