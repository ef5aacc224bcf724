//! The connections the PostgreSQL method bodies run their statements on: a transaction
//! ([`Tx`]) or a connection to read on ([`Reader`]), each of which knows whether its
//! statements may be named, server-side cached prepared statements.
//!
//! sqlx names and caches every statement it prepares (`sqlx_s_1`, `sqlx_s_2`, ...), and a
//! statement cache of size 0 does not stop the naming, only the reuse. Behind a pooler in
//! transaction mode (see [`Pooler`]) a named statement outlives the transaction on a server
//! connection that is then handed to another client, whose own `sqlx_s_1` fails with
//! "prepared statement already exists", or finds another one ("does not exist"). So there
//! every statement runs as an unnamed one: these types are sqlx executors that pass each
//! statement on unchanged, or marked not to be kept ([`Unnamed`]), as their [`Pooler`] says.
//!
//! The method bodies are shared with SQLite, where `Tx` is sqlx's `Transaction`: `&mut *tx`
//! (and `&mut **tx` on a `&mut Tx`) must be the executor here too, hence the two layers,
//! [`Held`] around [`Conn`].

use super::super::Pooler;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnection, PgQueryResult, PgRow, PgStatement, PgTypeInfo};
use sqlx::{Describe, Either, Execute, Executor, Postgres, Transaction};
use std::fmt;
use std::ops::{Deref, DerefMut};

/// A write transaction, or a read snapshot, as the method bodies hold it.
pub type Tx = Held<Transaction<'static, Postgres>>;

/// A connection to read on, as the method bodies hold it.
pub type Reader = Held<ReadConn>;

/// What a method body holds: the executor [`Conn`] one dereference away, as sqlx's
/// `Transaction` holds its connection.
#[derive(Debug)]
pub struct Held<C>(Conn<C>);

/// A connection or transaction (`C`) seen as an executor that names its statements or not.
pub struct Conn<C> {
    /// The sqlx connection or transaction the statements go to.
    inner: C,
    /// Whether statements may be named and cached on the server (no transaction pooler).
    named: bool,
}

/// Where a [`Reader`] reads: a connection from the pool as it is, or, behind a transaction
/// pooler, a read-only transaction, which keeps the server connection for the whole statement
/// (sqlx prepares a statement and runs it in two exchanges; outside a transaction PgBouncer
/// may send them to two servers). The transaction is rolled back when the reader is dropped:
/// sqlx queues the rollback, and the pool sends it when the connection comes back.
#[derive(Debug)]
pub enum ReadConn {
    /// A connection from the pool, outside any transaction.
    Pooled(PoolConnection<Postgres>),
    /// A read-only transaction.
    Pinned(Transaction<'static, Postgres>),
}

impl<C> Held<C> {
    /// `inner`, naming its statements as `pooler` allows.
    pub fn new(inner: C, pooler: Pooler) -> Self {
        Held(Conn {
            inner,
            named: pooler == Pooler::None,
        })
    }
}

impl Tx {
    /// Commits the transaction.
    pub async fn commit(self) -> sqlx::Result<()> {
        self.0.inner.commit().await
    }
}

impl<C> Deref for Held<C> {
    type Target = Conn<C>;

    fn deref(&self) -> &Conn<C> {
        &self.0
    }
}

impl<C> DerefMut for Held<C> {
    fn deref_mut(&mut self) -> &mut Conn<C> {
        &mut self.0
    }
}

impl<C> fmt::Debug for Conn<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conn")
            .field("named", &self.named)
            .finish_non_exhaustive()
    }
}

impl Deref for ReadConn {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        match self {
            ReadConn::Pooled(conn) => conn,
            ReadConn::Pinned(tx) => tx,
        }
    }
}

impl DerefMut for ReadConn {
    fn deref_mut(&mut self) -> &mut PgConnection {
        match self {
            ReadConn::Pooled(conn) => conn,
            ReadConn::Pinned(tx) => tx,
        }
    }
}

/// A statement that must not be kept on the server: sqlx then prepares it as the unnamed
/// statement, which the next statement replaces.
struct Unnamed<E>(E);

impl<'q, E: Execute<'q, Postgres>> Execute<'q, Postgres> for Unnamed<E> {
    fn sql(&self) -> &'q str {
        self.0.sql()
    }

    fn statement(&self) -> Option<&PgStatement<'q>> {
        self.0.statement()
    }

    fn take_arguments(
        &mut self,
    ) -> Result<Option<sqlx::postgres::PgArguments>, sqlx::error::BoxDynError> {
        self.0.take_arguments()
    }

    fn persistent(&self) -> bool {
        false
    }
}

impl<'c, C> Executor<'c> for &'c mut Conn<C>
where
    C: DerefMut<Target = PgConnection> + Send,
{
    type Database = Postgres;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<PgQueryResult, PgRow>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        if self.named {
            self.inner.fetch_many(query)
        } else {
            self.inner.fetch_many(Unnamed(query))
        }
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<PgRow>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        if self.named {
            self.inner.fetch_optional(query)
        } else {
            self.inner.fetch_optional(Unnamed(query))
        }
    }

    fn prepare_with<'e, 'q: 'e>(
        self,
        sql: &'q str,
        parameters: &'e [PgTypeInfo],
    ) -> BoxFuture<'e, Result<PgStatement<'q>, sqlx::Error>>
    where
        'c: 'e,
    {
        // An explicit prepare names its statement whatever the query says: nothing here
        // prepares explicitly, and behind a transaction pooler nothing may.
        self.inner.prepare_with(sql, parameters)
    }

    fn describe<'e, 'q: 'e>(
        self,
        sql: &'q str,
    ) -> BoxFuture<'e, Result<Describe<Postgres>, sqlx::Error>>
    where
        'c: 'e,
    {
        self.inner.describe(sql)
    }
}
