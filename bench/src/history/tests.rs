//! The seeded history reads, through the server's own repository, as the jobs a server would
//! have written: valid time-ordered ids, every attempt in the history, the same report from
//! the rows as from the rollups.

use super::db::Pool;
use super::fill;
use super::seed::{Spread, DAY_MS};
use gantry::clock::now_ms;
use gantry::lifecycle::Policy;
use gantry::model::JobListParams;
use gantry_api::JobStatus;

/// Jobs seeded: a few transactions of [`CHUNK`], the last one short.
const JOBS: i64 = 2_000;
/// Jobs per transaction, so that the chunks' edges are crossed.
const CHUNK: i64 = 700;

#[tokio::test]
async fn the_seeded_history_is_what_the_server_writes() {
    let dir = tempfile::tempdir().unwrap();
    check(&format!("sqlite://{}", dir.path().join("h.db").display())).await;
    match std::env::var("GANTRY_TEST_POSTGRES_URL") {
        Ok(admin) if !admin.is_empty() => {
            let url = crate::postgres::create_database(&admin).await.unwrap();
            check(&url).await;
            let name = crate::postgres::database_name(&url).unwrap();
            crate::postgres::drop_database(&admin, &name).await.unwrap();
        }
        _ => eprintln!("history seed: PostgreSQL skipped (GANTRY_TEST_POSTGRES_URL is not set)"),
    }
}

/// Seeds [`JOBS`] jobs on the empty database of `url` and checks them.
async fn check(url: &str) {
    let repo = gantry::repo::connect(url, Policy::default()).await.unwrap();
    repo.migrate().await.unwrap();
    let pool = Pool::connect(url).await.unwrap();
    let now = now_ms();
    let spread = Spread::new(JOBS, now);
    let outputs_before = now - 7 * DAY_MS;
    fill(&pool, spread, now, outputs_before, CHUNK)
        .await
        .unwrap();

    let all = JobListParams {
        limit: 2 * JOBS,
        ..JobListParams::default()
    };
    let jobs = repo.job_list(all).await.unwrap();
    assert_eq!(jobs.len() as i64, JOBS);
    assert_eq!(jobs[0].finished_at, Some(spread.finished_at(JOBS - 1)));
    assert!(jobs[0].finished_at.unwrap() < now);
    assert!(jobs[JOBS as usize - 1].finished_at.unwrap() < now - 11 * DAY_MS);
    for pair in jobs.windows(2) {
        assert!(
            pair[0].finished_at > pair[1].finished_at,
            "newest first by id"
        );
    }
    let mut retried = 0;
    for job in &jobs {
        let id = uuid::Uuid::parse_str(&job.id).unwrap();
        assert_eq!(id.get_version_num(), 7, "{}", job.id);
        assert_eq!(id.to_string(), job.id);
        let (secs, nanos) = id.get_timestamp().unwrap().to_unix();
        assert_eq!(
            secs as i64 * 1000 + nanos as i64 / 1_000_000,
            job.created_at
        );
        assert!(job.status.is_terminal());
        let ended = job.finished_at.unwrap();
        let ran = matches!(job.status, JobStatus::Completed | JobStatus::Failed);
        let kept = ran && ended >= outputs_before;
        assert_eq!(job.stdout.is_some(), kept, "{job:?}");
        let history = repo.job_history(&job.id).await.unwrap();
        assert_eq!(history.len() as i64, 4 * job.attempts, "{history:?}");
        assert!(history
            .windows(2)
            .all(|h| h[0].at <= h[1].at && h[0].id < h[1].id));
        let last = history.last().unwrap();
        assert_eq!((last.to_status, last.at), (job.status, ended));
        assert_eq!(last.attempt, job.attempts);
        assert_eq!(last.fault.is_some(), job.status != JobStatus::Completed);
        retried += i64::from(job.attempts == 2);
    }
    let count = |s| jobs.iter().filter(|j| j.status == s).count() as i64;
    assert!(count(JobStatus::Completed) > JOBS * 88 / 100);
    for status in [JobStatus::Failed, JobStatus::TimedOut, JobStatus::Cancelled] {
        assert!(count(status) > 0, "{status:?}");
    }
    assert!(retried > 0);

    let search = |q: &str| JobListParams {
        search: Some(q.into()),
        limit: 10,
        ..JobListParams::default()
    };
    let run_id = jobs[1000].command.rsplit(' ').next().unwrap();
    assert_eq!(repo.job_list(search(run_id)).await.unwrap().len(), 1);
    assert_eq!(repo.worker_list().await.unwrap().len(), 50);
    let ((at, id), _) = pool.job_ended_from(outputs_before).await.unwrap();
    let outputs = pool.cursor("outputs").await.unwrap();
    assert!(outputs.0 < outputs_before && outputs < (at, id));

    // The report reads the jobs themselves until the rollup has them, then the rollups.
    let live = repo.report_summary(0, now + DAY_MS, "all").await.unwrap();
    while repo.job_rollup(now, 1000).await.unwrap() > 0 {}
    let rolled = repo.report_summary(0, now + DAY_MS, "all").await.unwrap();
    assert_eq!(live, rolled);
    let all = &rolled[0];
    assert_eq!((all.jobs, all.retries), (JOBS, retried));
    assert_eq!(all.queue_wait_ms.unwrap().p50, 100);
    assert!(all.run_ms.is_some() && all.cpu_seconds.is_some());
    pool.close().await;
}
