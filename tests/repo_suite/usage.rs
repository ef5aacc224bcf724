//! What an attempt used: stored on the history row that ends it and on the job row (its last
//! ended attempt), through single and batch results; an attempt that ends unmeasured leaves
//! nothing behind, never an earlier attempt's figures.

use super::*;
use gantry_api::AttemptUsage;

fn used(cpu: f64, mem: f64, run_ms: i64) -> AttemptUsage {
    AttemptUsage {
        cpu_seconds: Some(cpu),
        peak_memory_mb: Some(mem),
        pull_ms: Some(7),
        run_ms: Some(run_ms),
    }
}

/// The usage on each history row of `id`, oldest first.
async fn usage_rows(r: &dyn Repo, id: &str) -> Vec<(JobStatus, Option<AttemptUsage>)> {
    history(r, id)
        .await
        .into_iter()
        .map(|h| (h.to_status, h.usage))
        .collect()
}

async fn a_single_result_stores_usage_on_the_job_and_its_ending_row(db: TestDb) {
    let repo = db.repo(policy()).await;
    let r = &*repo;
    worker("w").register(r).await;
    job("j").max_retries(1).insert(r).await;
    place_and_start(r, "j", T0 + 1).await;
    let first = used(0.52, 41.25, 830);
    let failed = gantry::model::JobFinishParams {
        usage: Some(first),
        ..failure("w", "j", 1, T0 + 2, 1)
    };
    r.job_finish(failed).await.unwrap();
    let row = get_job(r, "j").await;
    assert_eq!(row.usage(), first);
    assert_eq!(row.to_api().unwrap().usage, Some(first));
    let rows = usage_rows(r, "j").await;
    assert_eq!(rows.last(), Some(&(JobStatus::Pending, Some(first))));
    assert!(
        rows[..rows.len() - 1].iter().all(|(_, u)| u.is_none()),
        "only the row ending the attempt carries usage: {rows:?}"
    );

    // Attempt 2 is cancelled while it runs: it ends unmeasured, and the job says so.
    let due = get_job(r, "j").await.run_at;
    place_and_start(r, "j", due).await;
    r.job_cancel("j", due + 1).await.unwrap();
    let row = get_job(r, "j").await;
    assert!(row.usage().is_empty(), "{:?}", row.usage());
    assert_eq!(row.to_api().unwrap().usage, None);
    let rows = usage_rows(r, "j").await;
    assert_eq!(rows.last(), Some(&(JobStatus::Cancelled, None)));
    assert_eq!(
        history(r, "j").await.iter().filter_map(|h| h.usage).count(),
        1,
        "attempt 1's row keeps its figures"
    );
}

async fn batch_results_store_each_attempts_own_usage(db: TestDb) {
    let repo = db.repo(policy()).await;
    let r = &*repo;
    worker("w").register(r).await;
    for id in ["a", "b", "c"] {
        job(id).insert(r).await;
        place_and_start(r, id, T0 + 1).await;
    }
    let (ua, ub) = (used(1.5, 100.0, 2000), used(0.0, 0.5, 3));
    let with = |id, u| gantry::model::JobFinishParams {
        usage: u,
        ..result("w", id, 1, T0 + 5)
    };
    let out = r
        .job_finish_many(vec![
            with("a", Some(ua)),
            with("b", Some(ub)),
            with("c", None),
        ])
        .await
        .unwrap();
    assert!(out.iter().all(|o| o.is_ok()), "{out:?}");
    for (id, expected) in [("a", Some(ua)), ("b", Some(ub)), ("c", None)] {
        let row = get_job(r, id).await;
        assert_eq!(row.status, JobStatus::Completed);
        assert_eq!(row.to_api().unwrap().usage, expected, "job {id}");
        let rows = usage_rows(r, id).await;
        assert_eq!(rows.last(), Some(&(JobStatus::Completed, expected)), "{id}");
        assert_eq!(
            rows.iter().filter(|(_, u)| u.is_some()).count(),
            usize::from(expected.is_some())
        );
    }
}

crate::common::on_both_databases!(
    a_single_result_stores_usage_on_the_job_and_its_ending_row,
    batch_results_store_each_attempts_own_usage,
);
