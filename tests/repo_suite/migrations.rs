//! Migrations: two servers starting at once on a fresh database (two replicas, or `gantry
//! migrate` beside a starting server) both succeed, and each migration is applied once.

use super::*;

async fn two_replicas_migrating_a_fresh_database_at_once_both_succeed(db: TestDb) {
    let (a, b) = tokio::join!(db.connect(policy()), db.connect(policy()));
    let (applied_a, applied_b) = tokio::join!(a.migrate(), b.migrate());
    let (applied_a, applied_b) = (applied_a.unwrap(), applied_b.unwrap());
    assert!(
        applied_a.min(applied_b) == 0 && applied_a.max(applied_b) > 0,
        "one replica applies every migration, the other none: {applied_a} and {applied_b}"
    );
    assert_eq!(a.migrate().await.unwrap(), 0);
    // The schema is there, and usable from both.
    worker("w1").register(&*a).await;
    assert_eq!(b.worker_list().await.unwrap().len(), 1);
}

crate::common::on_both_databases!(two_replicas_migrating_a_fresh_database_at_once_both_succeed);
