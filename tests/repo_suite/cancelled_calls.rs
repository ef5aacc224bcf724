//! Calls dropped half-way (a client that hangs up, a timeout around a call) leave the pool's
//! connections as they found them: no transaction left open for the next call to run in.
//! sqlx 0.8.6 leaks one when a `BEGIN` is cancelled half-way (sqlx issues 2805, 3875, 4393):
//! on PostgreSQL the session stays in it (behind a transaction pooler the next write then fails
//! in a reader's read-only transaction); on SQLite the one writer refuses every later
//! `BEGIN IMMEDIATE`. See `src/repo/begin.rs`.

use super::*;
use sqlx::Connection;
use std::future::Future;
use std::time::{Duration, Instant};

/// Calls are dropped at each of these delays, in microseconds, spread over a call's length.
const DROP_AFTER_US: std::ops::Range<u64> = 0..600;
/// How far apart two delays are.
const DROP_STEP_US: usize = 3;
/// How long a dropped call's connection may take to be back, clean, in the pool.
const SETTLE: Duration = Duration::from_secs(2);

/// Runs `call` until `after` has passed, then drops it wherever it is. Finer than a timeout
/// (the timer counts whole milliseconds): the call is polled between runs of the runtime's
/// I/O driver until the time is up.
async fn drop_after<F: Future>(call: F, after: Duration) {
    let deadline = Instant::now() + after;
    let mut call = std::pin::pin!(call);
    while Instant::now() < deadline {
        if futures::poll!(call.as_mut()).is_ready() {
            return;
        }
        tokio::task::yield_now().await;
    }
}

/// The sessions of the database `admin` is connected to that sit inside a transaction, as
/// PostgreSQL sees them (0 without a connection: SQLite).
async fn sessions_in_a_transaction(admin: Option<&mut sqlx::PgConnection>) -> i64 {
    let Some(conn) = admin else {
        return 0;
    };
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity \
         WHERE datname = current_database() AND state LIKE 'idle in transaction%'",
    )
    .fetch_one(conn)
    .await
    .unwrap()
}

async fn calls_cancelled_half_way_leave_no_transaction_open(db: TestDb) {
    let repo = db.repo(policy()).await;
    let r = &*repo;
    let id = job("j").insert(r).await.id;
    let mut admin = match db.dialect {
        gantry::repo::Dialect::Postgres => {
            Some(sqlx::PgConnection::connect(&db.direct_url).await.unwrap())
        }
        gantry::repo::Dialect::Sqlite => None,
    };
    for (i, us) in DROP_AFTER_US.step_by(DROP_STEP_US).enumerate() {
        let after = Duration::from_micros(us);
        drop_after(r.job_get(&id), after).await;
        drop_after(r.lease_acquire("l", "A", T0, T0 + 1), after).await;
        // The timer's whole milliseconds land elsewhere in a call than the polls above.
        let ms = Duration::from_millis(i as u64 % 3);
        let _ = tokio::time::timeout(ms, r.lease_acquire("l", "A", T0, T0 + 1)).await;
        // A dropped call's transaction is rolled back, and its connection goes back to the
        // pool, in a task of its own: soon, not at once. One left open stays open.
        let mut open = sessions_in_a_transaction(admin.as_mut()).await;
        let settled = Instant::now() + SETTLE;
        while open > 0 && Instant::now() < settled {
            tokio::time::sleep(Duration::from_millis(2)).await;
            open = sessions_in_a_transaction(admin.as_mut()).await;
        }
        assert_eq!(
            open, 0,
            "a session left in a transaction by a call dropped at {after:?}"
        );
        r.lease_acquire("l", "A", T0 + 10, T0 + 1_000)
            .await
            .unwrap_or_else(|e| panic!("after a call dropped at {after:?}: {e}"));
        r.job_get(&id).await.unwrap().expect("the job");
    }
    if let Some(conn) = admin {
        conn.close().await.unwrap();
    }
}

crate::common::on_both_databases!(calls_cancelled_half_way_leave_no_transaction_open);
