//! Beginning a transaction so that a caller dropped half-way (a client that hung up, a timeout
//! around a call) cannot leave it open on a pooled connection.
//!
//! sqlx 0.8.6's `begin` is not cancel-safe (sqlx issues 2805, 3875 and 4393): dropped while
//! PostgreSQL's answer to `BEGIN` is on its way, or on SQLite between a custom `BEGIN
//! IMMEDIATE` and the check after it, it leaves the session inside a transaction that nothing
//! ends, and the pool hands that connection to the next call. On PostgreSQL the next call's
//! statements then run inside it (behind a transaction pooler, in a reader's read-only
//! transaction: "cannot execute UPDATE in a read-only transaction"); on SQLite the one writer
//! connection refuses every later `BEGIN IMMEDIATE`. So `begin` runs in a task of its own,
//! which finishes whatever happens to the caller; a transaction nobody waits for any more is
//! then dropped, which rolls it back.

use sqlx::{Database, Pool, Transaction};

/// A transaction on a connection from `pool`, begun with `statement` (`BEGIN`, `BEGIN
/// IMMEDIATE`, ...) in a task that runs to the end even if this future is dropped.
pub(crate) async fn begin<DB: Database>(
    pool: &Pool<DB>,
    statement: &'static str,
) -> sqlx::Result<Transaction<'static, DB>> {
    let pool = pool.clone();
    match tokio::spawn(async move { pool.begin_with(statement).await }).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // The task was cancelled: only a runtime shutting down does that.
        Err(_) => Err(sqlx::Error::PoolClosed),
    }
}
