//! Errors of the repository layer.

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
    Database(#[from] sqlx::Error),
    /// Applying the schema migrations failed.
    #[error("migration failed: {0}")]
    Migration(String),
    /// A stored value could not be understood (a bug or a hand-edited row).
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

impl RepoError {
    /// A conflict with the given code and message.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        RepoError::Conflict {
            code,
            message: message.into(),
        }
    }

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

/// Shorthand for repository results.
pub type RepoResult<T> = Result<T, RepoError>;
