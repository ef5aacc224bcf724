//! The statements that move many jobs at once agree with the state machine's own rule: a job
//! started by `job_start.sql` or `jobs_start_many.sql` is the row `lifecycle::job::start`
//! makes of the same loaded job, column for column.

use super::*;
use gantry::lifecycle::job;

async fn sql_starts_change_a_job_as_the_start_rule_does(db: TestDb) {
    let repo = db.repo(policy()).await;
    let r = &*repo;
    worker("w1").register(r).await;
    job("single").insert(r).await;
    job("batched").insert(r).await;
    let placed = r.job_place(T0 + 1, 100).await.unwrap().placed;
    assert_eq!(placed.len(), 2, "{placed:?}");
    let before = [get_job(r, "single").await, get_job(r, "batched").await];
    r.job_start("w1", "single", 1, T0 + 5).await.unwrap();
    let many = r
        .job_start_many("w1", &[("batched".to_string(), 1)], T0 + 5)
        .await
        .unwrap();
    assert!(many[0].is_ok(), "{:?}", many[0]);
    for mut expected in before {
        let t = job::start(&mut expected, "w1", 1, T0 + 5)
            .unwrap()
            .expect("a change");
        assert_eq!((t.from, t.to), (JobStatus::Assigned, JobStatus::Running));
        let got = get_job(r, &expected.id).await;
        assert_eq!(
            format!("{got:?}"),
            format!("{expected:?}"),
            "{}",
            expected.id
        );
        let last = history(r, &expected.id).await.pop().unwrap();
        assert_eq!(last.reason.as_deref(), Some(job::STARTED));
    }
}

crate::common::on_both_databases!(sql_starts_change_a_job_as_the_start_rule_does);
