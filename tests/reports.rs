//! SQL reporting: the same history gives the same report on SQLite and PostgreSQL, with the
//! numbers worked out by hand; and the report route checks its input.

use crate::common::builders::{failure, job, result, worker};
use crate::common::{TestDb, TestServer};
use gantry::lifecycle::Policy;
use gantry::repo::Repo;
use gantry_api::{Percentiles, ReportGroup};
use std::sync::Arc;

/// 2026-01-01T00:00:00Z, a day boundary.
const T: i64 = 1_767_225_600_000;

/// Plays one fixed history: four jobs, one retried, one cancelled while running.
async fn play_history(repo: &Arc<dyn Repo>) {
    let repo = repo.as_ref();
    worker("w1")
        .capacity(2000, 2048)
        .parallel(4)
        .at(T)
        .register(repo)
        .await;
    worker("w2")
        .capacity(4000, 4096)
        .parallel(4)
        .at(T)
        .register(repo)
        .await;
    let ids = ["a", "b", "c", "d"].map(|n| format!("00000000-0000-7000-8000-00000000000{}", n));
    for (i, id) in ids.iter().enumerate() {
        let mut b = job(id).at(T);
        if i == 0 {
            b.params.image = Some("alpine".into());
        }
        if i == 2 {
            b = b.max_retries(1);
        }
        b.insert(repo).await;
    }
    assert_eq!(repo.job_place(T + 100, 100).await.unwrap().placed.len(), 4);
    for id in &ids {
        let w = holder(repo, id).await;
        repo.job_start(&w, id, 1, T + 200).await.unwrap();
    }
    repo.job_finish(result(&holder(repo, &ids[0]).await, &ids[0], 1, T + 1200))
        .await
        .unwrap();
    repo.job_finish(result(&holder(repo, &ids[1]).await, &ids[1], 1, T + 2200))
        .await
        .unwrap();
    repo.job_finish(failure(
        &holder(repo, &ids[2]).await,
        &ids[2],
        1,
        T + 700,
        1,
    ))
    .await
    .unwrap();
    assert_eq!(
        repo.job_place(T + 3000, 100).await.unwrap().placed.len(),
        1,
        "the retry"
    );
    let w = holder(repo, &ids[2]).await;
    repo.job_start(&w, &ids[2], 2, T + 3100).await.unwrap();
    repo.job_finish(result(&w, &ids[2], 2, T + 3600))
        .await
        .unwrap();
    repo.job_cancel(&ids[3], T + 4000).await.unwrap();
}

async fn holder(repo: &dyn Repo, id: &str) -> String {
    repo.job_get(id).await.unwrap().unwrap().worker_id.unwrap()
}

fn find<'a>(groups: &'a [ReportGroup], key: &str) -> &'a ReportGroup {
    groups
        .iter()
        .find(|g| g.key == key)
        .unwrap_or_else(|| panic!("no group {key}: {groups:?}"))
}

async fn report(repo: &Arc<dyn Repo>) -> Vec<(String, Vec<ReportGroup>)> {
    let mut all = Vec::new();
    for group_by in ["all", "hour", "day", "worker", "status", "image"] {
        let groups = repo
            .report_summary(T, T + 86_400_000, group_by)
            .await
            .unwrap();
        all.push((group_by.to_string(), groups));
    }
    all
}

fn check_expected(all: &[(String, Vec<ReportGroup>)]) {
    let overall = find(&all[0].1, "all");
    assert_eq!(
        (
            overall.jobs,
            overall.completed,
            overall.failed,
            overall.timed_out,
            overall.cancelled,
            overall.retries
        ),
        (4, 3, 0, 0, 1, 1)
    );
    assert_eq!(overall.success_rate, 0.75);
    // Whose fault: the one failed attempt was the job's own (exit 1); the cancel is the
    // operator's and counts as neither.
    assert_eq!((overall.worker_faults, overall.job_faults), (0, 1));
    // Waits: four first attempts queued at T and assigned at T+100, the retry 2300.
    assert_eq!(
        overall.queue_wait_ms,
        Some(Percentiles {
            count: 5,
            p50: 100,
            p95: 2300,
            max: 2300
        })
    );
    // Runs: 1000, 2000, 500, 500 and the cancelled 3800.
    assert_eq!(
        overall.run_ms,
        Some(Percentiles {
            count: 5,
            p50: 1000,
            p95: 3800,
            max: 3800
        })
    );
    assert_eq!(find(&all[2].1, &T.to_string()).jobs, 4, "one day");
    assert_eq!(
        all[3].1.iter().map(|g| g.jobs).sum::<i64>(),
        4,
        "workers add up"
    );
    assert_eq!(find(&all[4].1, "COMPLETED").jobs, 3);
    assert_eq!(find(&all[4].1, "CANCELLED").jobs, 1);
    assert_eq!(find(&all[5].1, "alpine").jobs, 1);
    assert_eq!(find(&all[5].1, "(default)").jobs, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_history_gives_the_same_report_on_both_databases() {
    let policy = Policy {
        retry_backoff_ms: 0,
        ..Policy::default()
    };
    let file = TestDb::sqlite().await;
    let sqlite = file.repo(policy).await;
    play_history(&sqlite).await;
    let on_sqlite = report(&sqlite).await;
    check_expected(&on_sqlite);
    let Some(pg) = TestDb::postgres().await else {
        return;
    };
    let postgres = pg.repo(policy).await;
    play_history(&postgres).await;
    let on_postgres = report(&postgres).await;
    check_expected(&on_postgres);
    assert_eq!(on_sqlite, on_postgres, "same numbers on both databases");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_route_checks_its_input() {
    let db = TestDb::sqlite().await;
    let server = TestServer::start(&db).await;
    let (code, body) = server.get("/api/reports/summary?groupBy=week").await;
    assert_eq!(
        (code.as_u16(), body["error"]["field"].as_str()),
        (400, Some("groupBy"))
    );
    let (code, body) = server.get("/api/reports/summary?from=2000&to=1000").await;
    assert_eq!(
        (code.as_u16(), body["error"]["field"].as_str()),
        (400, Some("from"))
    );
    let (code, body) = server.get("/api/reports/summary?groupBy=STATUS").await;
    assert_eq!(code.as_u16(), 200, "{body}");
    assert_eq!(body["groupBy"], "status");
    assert!(body["groups"].as_array().unwrap().is_empty());
    server.stop().await;
}
