//! PostgreSQL's `LISTEN`/`NOTIFY` as a channel between server replicas, for wake-ups only.
//!
//! A message says no more than "these workers may have news"; whoever receives it re-reads
//! the tables. So a lost message costs latency (the long poll's recheck still finds the job),
//! never correctness, and both halves may reconnect at will.
//!
//! `LISTEN` needs a session of its own on PostgreSQL itself: through a transaction pooler
//! (PgBouncer in transaction mode) the listening session is handed to other clients between
//! statements and hears nothing. Give the listener a direct URL.

use super::statements;
use crate::repo::RepoResult;
use sqlx::postgres::{PgConnection, PgListener};
use sqlx::Connection;

/// The channel every replica of one database listens on.
pub const WAKE_CHANNEL: &str = "gantry_wake";

/// Longest payload `NOTIFY` takes is 8000 bytes; senders keep below this.
pub const MAX_PAYLOAD: usize = 7_900;

/// The sending half: one connection of its own, opened on first use and again after a failure,
/// so a wake-up never waits for the request pool.
pub struct WakeSender {
    /// Where to connect.
    url: String,
    /// The open connection, if any.
    conn: Option<PgConnection>,
}

impl WakeSender {
    /// A sender for the database at `url` (nothing is opened yet).
    pub fn new(url: &str) -> WakeSender {
        WakeSender {
            url: url.to_string(),
            conn: None,
        }
    }

    /// Sends one message (at most [`MAX_PAYLOAD`] bytes). On failure the connection is
    /// dropped, and the next call opens a new one.
    pub async fn send(&mut self, payload: &str) -> RepoResult<()> {
        if self.conn.is_none() {
            self.conn = Some(PgConnection::connect(&self.url).await?);
        }
        let conn = self.conn.as_mut().expect("connected above");
        let sent = sqlx::query(statements::WAKE_PUBLISH)
            .bind(WAKE_CHANNEL)
            .bind(payload)
            .execute(&mut *conn)
            .await;
        if let Err(e) = sent {
            self.conn = None;
            return Err(e.into());
        }
        Ok(())
    }
}

/// The receiving half: a listening session on [`WAKE_CHANNEL`].
pub struct WakeReceiver {
    /// sqlx's listener, which reconnects and listens again on the call after a loss.
    listener: PgListener,
}

impl WakeReceiver {
    /// Connects to `url` and starts listening.
    pub async fn connect(url: &str) -> RepoResult<WakeReceiver> {
        let mut listener = PgListener::connect(url).await?;
        listener.listen(WAKE_CHANNEL).await?;
        Ok(WakeReceiver { listener })
    }

    /// The next message's payload; `None` when the session was lost, in which case messages
    /// may have been missed and the next call reconnects (an error while it cannot).
    pub async fn recv(&mut self) -> RepoResult<Option<String>> {
        Ok(self
            .listener
            .try_recv()
            .await?
            .map(|n| n.payload().to_string()))
    }
}
