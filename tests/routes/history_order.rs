//! Under concurrent load every job's history is in time order, and the attempts view gives
//! every attempt its queueing time. (A placement pass reads its clock before it waits for the
//! write lock; it once wrote ASSIGNED rows up to 18 ms before the creation row of a job
//! created meanwhile, and `job_attempts` then had no `queued_at` for that attempt.)

use super::*;
use gantry::config::ServeConfig;
use gantry::repo::Dialect;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Jobs created concurrently by each of the creators.
const PER_CREATOR: usize = 30;

/// Creates `n` jobs one call at a time; their ids.
async fn create(server: &TestServer, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for _ in 0..n {
        ids.push(server.create(json!({"command": "true"})).await.id);
    }
    ids
}

/// Runs jobs on `w` until `done` reaches `total` (counted over every worker).
async fn work(w: &SimWorker<'_>, done: &AtomicUsize, total: usize) {
    while done.load(Ordering::SeqCst) < total {
        for job in w.poll(8, 50).await.jobs {
            w.run_ok(&job).await;
            done.fetch_add(1, Ordering::SeqCst);
        }
    }
}

async fn every_jobs_history_is_in_time_order_under_load(db: TestDb) {
    // Not a heartbeat test: under this load a 600 ms heartbeat timeout can take a worker
    // offline (and its jobs away) on a slow machine.
    let server = TestServer::start_with(ServeConfig {
        heartbeat_timeout: std::time::Duration::from_secs(30),
        ..fast_config(&db)
    })
    .await;
    let w1 = SimWorker::register(&server, "w1", 4.0, 4096, 8).await;
    let w2 = SimWorker::register(&server, "w2", 4.0, 4096, 8).await;
    let (_alive1, _alive2) = (w1.keep_alive(), w2.keep_alive());
    let done = AtomicUsize::new(0);
    let total = 4 * PER_CREATOR;
    let (a, b, c, d, (), ()) = tokio::join!(
        create(&server, PER_CREATOR),
        create(&server, PER_CREATOR),
        create(&server, PER_CREATOR),
        create(&server, PER_CREATOR),
        work(&w1, &done, total),
        work(&w2, &done, total)
    );
    let ids: Vec<String> = [a, b, c, d].concat();
    for id in &ids {
        let status = server.status(id).await;
        let at: Vec<i64> = status.history.iter().map(|h| h.at).collect();
        assert!(
            at.windows(2).all(|p| p[0] <= p[1]),
            "{id}: {:?}",
            status.history
        );
    }
    let sql = "SELECT COUNT(*), COUNT(queued_at) FROM job_attempts";
    let (attempts, queued): (i64, i64) = match db.dialect {
        Dialect::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
            sqlx::query_as(sql).fetch_one(&pool).await.unwrap()
        }
        Dialect::Postgres => {
            let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
            sqlx::query_as(sql).fetch_one(&pool).await.unwrap()
        }
    };
    assert_eq!((attempts, queued), (ids.len() as i64, ids.len() as i64));
    server.stop().await;
}

crate::common::on_both_databases!(every_jobs_history_is_in_time_order_under_load,);
