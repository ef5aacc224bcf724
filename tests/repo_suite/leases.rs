//! The leader lease: one holder until it expires.

use super::*;

async fn the_lease_has_one_holder_until_it_expires(db: TestDb) {
    let repo = db.repo(policy()).await;
    let r = &*repo;
    assert!(r.lease_acquire("sweep", "A", T0, T0 + 1_000).await.unwrap());
    assert!(!r
        .lease_acquire("sweep", "B", T0 + 500, T0 + 1_500)
        .await
        .unwrap());
    assert!(r
        .lease_acquire("other", "B", T0 + 500, T0 + 1_500)
        .await
        .unwrap());
    assert!(
        r.lease_acquire("sweep", "A", T0 + 600, T0 + 1_600)
            .await
            .unwrap(),
        "renewal"
    );
    assert!(!r
        .lease_acquire("sweep", "B", T0 + 1_200, T0 + 2_200)
        .await
        .unwrap());
    assert!(r
        .lease_acquire("sweep", "B", T0 + 1_601, T0 + 2_601)
        .await
        .unwrap());
    assert!(!r
        .lease_acquire("sweep", "A", T0 + 1_602, T0 + 2_602)
        .await
        .unwrap());
    assert!(r
        .lease_acquire("sweep", "B", T0 + 2_000, T0 + 3_000)
        .await
        .unwrap());
}

crate::common::on_both_databases!(the_lease_has_one_holder_until_it_expires);
