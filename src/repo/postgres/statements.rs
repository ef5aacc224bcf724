//! Every SQL statement of the PostgreSQL repository, by name; each one's text is
//! `sql/<name>.sql` beside this file (the list is shared with SQLite, see `repo/statements.rs`),
//! plus the advisory locks only PostgreSQL takes.

crate::repo::statements::dialect_statements! {
    /// Serialises decisions about which jobs fit no worker with worker arrivals, so a job is never
    /// blocked for want of a worker that registered meanwhile (a transaction-level advisory lock,
    /// which also works behind PgBouncer). Taken before any row lock.
    CAPACITY_LOCK => "capacity_lock.sql",

    /// Keeps two replicas from migrating at once: a transaction-level advisory lock, which
    /// also works behind PgBouncer, on the key the session lock of earlier versions took
    /// ("gantry" in ASCII), so an older replica and a newer one still exclude each other.
    MIGRATION_LOCK => "migration_lock.sql",

    /// Sends one wake-up message to the other replicas (`NOTIFY`, see `wake_channel.rs`).
    WAKE_PUBLISH => "wake_publish.sql",
}
