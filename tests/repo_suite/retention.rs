//! Retention: the rollup pass and the pruners take only what is past its age, never a job
//! that has not ended, never a job the rollup has not folded in, and each in bounded batches.

use super::*;
use gantry::model::{PruneCounts, PruneCutoffs};

const HOUR: i64 = 3_600_000;

/// An upload stored at `now`.
fn upload(id: &str, now: i64) -> UploadInsertParams {
    UploadInsertParams {
        id: id.into(),
        filename: "in.txt".into(),
        sha256: "ab".repeat(32),
        content: b"x".to_vec(),
        now,
    }
}

/// Two jobs ended at T0+1s (a, b), one two days later (c), one queued (q) and one waiting
/// for next year with an input file (p).
async fn fixture(r: &dyn Repo) {
    worker("w1").parallel(4).register(r).await;
    for id in ["a", "b", "c"] {
        job(id).insert(r).await;
        place_and_start(r, id, T0 + 10).await;
    }
    r.job_finish(result("w1", "a", 1, T0 + 1_000))
        .await
        .unwrap();
    r.job_finish(failure("w1", "b", 1, T0 + 1_000, 3))
        .await
        .unwrap();
    r.job_finish(result("w1", "c", 1, T0 + 48 * HOUR))
        .await
        .unwrap();
    job("q").size(64_000, 1).insert(r).await;
    let mut p = job("p").run_at(T0 + 365 * 24 * HOUR);
    p.params.file_url = Some("/uploads/u1/in.txt".into());
    p.insert(r).await;
    r.upload_insert(upload("u1", T0)).await.unwrap();
    r.upload_insert(upload("u2", T0)).await.unwrap();
}

async fn the_pruner_takes_only_what_is_past_its_age_and_rolled_up(db: TestDb) {
    let repo = db.repo(policy()).await;
    let r = &*repo;
    fixture(r).await;
    let ab_history = (history(r, "a").await.len() + history(r, "b").await.len()) as u64;
    // Nothing is folded in yet, so no job may go.
    assert_eq!(r.job_prune(T0 + 10 * HOUR, 100).await.unwrap(), (0, 0));
    // The rollup folds a and b (c ended after the bound), once.
    assert_eq!(r.job_rollup(T0 + 2_000, 100).await.unwrap(), 2);
    assert_eq!(r.job_rollup(T0 + 2_000, 100).await.unwrap(), 0);
    let cutoffs = PruneCutoffs {
        outputs_before: Some(T0 + 1_500),
        jobs_before: Some(T0 + 10 * HOUR),
        uploads_before: Some(T0 + 1),
        rollups_before: Some(T0 - T0 % HOUR + HOUR),
    };
    let preview = r.prune_preview(cutoffs).await.unwrap();
    assert_eq!(
        preview,
        PruneCounts {
            outputs: 2,
            jobs: 2,
            history: ab_history,
            uploads: 1,
            rollups: 4,
        },
        "a and b (one rollup row each, COMPLETED and FAILED, and the hour's totals of each), u2"
    );
    // The dry run changed nothing.
    assert_eq!(r.prune_preview(cutoffs).await.unwrap(), preview);
    assert_eq!(get_job(r, "a").await.stdout.as_deref(), Some("out"));

    assert_eq!(r.job_prune_outputs(T0 + 1_500, 100).await.unwrap(), (2, 2));
    assert_eq!(r.job_prune_outputs(T0 + 1_500, 100).await.unwrap(), (0, 0));
    let a = get_job(r, "a").await;
    assert_eq!((a.stdout, a.stderr, a.exit_code), (None, None, Some(0)));
    assert_eq!(get_job(r, "c").await.stdout.as_deref(), Some("out"));

    // One job per batch: the batches are bounded.
    let (jobs, first_history) = r.job_prune(T0 + 10 * HOUR, 1).await.unwrap();
    assert_eq!(jobs, 1);
    let (jobs, second_history) = r.job_prune(T0 + 10 * HOUR, 1).await.unwrap();
    assert_eq!((jobs, first_history + second_history), (1, ab_history));
    assert_eq!(
        r.job_prune(i64::MAX, 100).await.unwrap(),
        (0, 0),
        "c is not rolled up"
    );
    for gone in ["a", "b"] {
        assert!(r.job_get(gone).await.unwrap().is_none(), "{gone}");
        assert!(history(r, gone).await.is_empty(), "{gone}");
    }
    // What has not ended stays whatever its age.
    assert_eq!(r.job_rollup(i64::MAX, 100).await.unwrap(), 1, "c");
    assert_eq!(r.job_prune(i64::MAX, 100).await.unwrap().0, 1, "c");
    assert_eq!(state(r, "q").await, JobStatus::Queued);
    assert_eq!(state(r, "p").await, JobStatus::Pending);

    // The input file an unfinished job names stays; the other goes.
    assert_eq!(r.upload_prune(T0 + 1, 100).await.unwrap(), 1);
    assert!(r.upload_get("u2").await.unwrap().is_none());
    assert!(r.upload_get("u1").await.unwrap().is_some());

    // Rollups go by whole hours.
    assert_eq!(r.rollup_prune(T0 - T0 % HOUR).await.unwrap(), 0);
    assert_eq!(r.rollup_prune(T0 - T0 % HOUR + HOUR).await.unwrap(), 4);
    r.database_compact().await.unwrap();
    assert_eq!(
        r.prune_preview(PruneCutoffs {
            rollups_before: Some(i64::MAX),
            ..PruneCutoffs::default()
        })
        .await
        .unwrap(),
        PruneCounts {
            rollups: 2,
            ..PruneCounts::default()
        },
        "c's row and its hour's totals are left"
    );
}

crate::common::on_both_databases!(the_pruner_takes_only_what_is_past_its_age_and_rolled_up,);
