//! What stands between gantry and PostgreSQL: nothing (or a pooler that gives each client a
//! server connection of its own), or a pooler in transaction mode such as PgBouncer's
//! `pool_mode = transaction`, which hands the server connection to another client at the end
//! of every transaction. See `docs/pgbouncer.md`.

/// How gantry's connections reach PostgreSQL, and so what they may rely on between two
/// transactions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Pooler {
    /// Direct connections, or a pooler in session mode: one server connection per client
    /// connection, so statements are prepared once per connection and cached.
    #[default]
    None,
    /// A pooler in transaction mode (PgBouncer `pool_mode = transaction`): the server
    /// connection may change after every transaction. Every statement then runs inside an
    /// explicit transaction (reads too), as an unnamed prepared statement, parsed again each
    /// time: PgBouncer before 1.21 keeps no prepared statement across transactions, and
    /// outside a transaction it may send the two halves of one statement to two servers.
    Transaction,
}
