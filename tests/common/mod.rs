//! Shared test fixtures: throwaway databases on both backends, an in-process server, and
//! simulated worker agents.

pub mod builders;
pub mod db;
pub mod invariants;
pub mod optional;
pub mod process;
pub mod server;
pub mod sim;

pub use db::TestDb;

/// Held by every test that scrapes `/metrics`: the recorder is process-wide, so a scrape sets
/// gauges and counters that another test's scrape would read.
pub static METRICS_SCRAPES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
pub use server::TestServer;
pub use sim::SimWorker;

use std::future::Future;
use std::time::Duration;

/// Polls `check` until it returns `Some`, failing the test after `within`.
pub async fn eventually<T, F, Fut>(what: &str, within: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("timed out after {within:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs each named test body (`async fn name(db: TestDb)`) once on SQLite and once on
/// PostgreSQL, as `on_sqlite::name` and `on_postgres::name`.
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = $crate::common::TestDb::sqlite().await;
                    super::$name(db).await;
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(db) = $crate::common::TestDb::postgres().await {
                        super::$name(db).await;
                    }
                }
            )*
        }
    };
}
pub(crate) use on_both_databases;
