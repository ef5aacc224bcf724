//! SQL reporting: the same history gives the same report on SQLite and PostgreSQL, with the
//! numbers worked out by hand; and the report route checks its input.

use crate::common::builders::{failure, job, result, worker};
use crate::common::{TestDb, TestServer};
use gantry::lifecycle::Policy;
use gantry::model::JobFinishParams;
use gantry::repo::{Dialect, Repo};
use gantry_api::{AttemptUsage, Percentiles, ReportGroup, Spread};
use std::sync::Arc;

/// 2026-01-01T00:00:00Z, a day boundary.
const T: i64 = 1_767_225_600_000;

/// `p` reporting `peak_mb` of peak memory and `cpu` CPU seconds.
fn using(p: JobFinishParams, peak_mb: f64, cpu: f64) -> JobFinishParams {
    let usage = AttemptUsage {
        cpu_seconds: Some(cpu),
        peak_memory_mb: Some(peak_mb),
        pull_ms: None,
        run_ms: Some(1),
    };
    JobFinishParams {
        usage: Some(usage),
        ..p
    }
}

/// Plays one fixed history: four jobs, one retried, one cancelled while running. What the
/// attempts used: a (alpine, 128 MiB asked) 64 MiB and 0.8 s; b 200 MiB and 1.5 s; c's failed
/// attempt 100 MiB and 0.2 s, its retry 128 MiB and 0.4 s (b and c ask 256 MiB); the cancelled
/// d nothing.
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
            b.params.required_ram_mb = 128;
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
    let a = result(&holder(repo, &ids[0]).await, &ids[0], 1, T + 1200);
    repo.job_finish(using(a, 64.0, 0.8)).await.unwrap();
    let b = result(&holder(repo, &ids[1]).await, &ids[1], 1, T + 2200);
    repo.job_finish(using(b, 200.0, 1.5)).await.unwrap();
    let c = failure(&holder(repo, &ids[2]).await, &ids[2], 1, T + 700, 1);
    repo.job_finish(using(c, 100.0, 0.2)).await.unwrap();
    assert_eq!(
        repo.job_place(T + 3000, 100).await.unwrap().placed.len(),
        1,
        "the retry"
    );
    let w = holder(repo, &ids[2]).await;
    repo.job_start(&w, &ids[2], 2, T + 3100).await.unwrap();
    repo.job_finish(using(result(&w, &ids[2], 2, T + 3600), 128.0, 0.4))
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
    check_usage(all);
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

fn spread(count: i64, p50: f64, p95: f64, max: f64) -> Option<Spread> {
    Some(Spread {
        count,
        p50,
        p95,
        max,
    })
}

/// The right-sizing figures, over the four measured attempts (the cancelled one has none).
fn check_usage(all: &[(String, Vec<ReportGroup>)]) {
    let overall = find(&all[0].1, "all");
    // Peaks 64, 100, 128, 200; CPU 0.2, 0.4, 0.8, 1.5; asked 128, 256, 256, 256.
    assert_eq!(overall.peak_memory_mb, spread(4, 100.0, 200.0, 200.0));
    assert_eq!(overall.cpu_seconds, spread(4, 0.4, 1.5, 1.5));
    assert_eq!(overall.required_ram_mb, spread(4, 256.0, 256.0, 256.0));
    // Shares of the request: 39.0625 (100/256), 50 (64/128 and 128/256), 78.125 (200/256).
    assert_eq!(overall.memory_used_pct, spread(4, 50.0, 78.125, 78.125));
    let alpine = find(&all[5].1, "alpine");
    assert_eq!(alpine.peak_memory_mb, spread(1, 64.0, 64.0, 64.0));
    assert_eq!(alpine.required_ram_mb, spread(1, 128.0, 128.0, 128.0));
    let default = find(&all[5].1, "(default)");
    // Peaks 100, 128, 200: the median 128 reads as its histogram bucket's bound, 130 (two
    // significant digits, rounded up).
    assert_eq!(default.peak_memory_mb, spread(3, 130.0, 200.0, 200.0));
    assert_eq!(default.cpu_seconds, spread(3, 0.4, 1.5, 1.5));
    let cancelled = find(&all[4].1, "CANCELLED");
    assert_eq!(
        (cancelled.peak_memory_mb, cancelled.cpu_seconds),
        (None, None)
    );
}

/// The window is whole hours: the next day has none of the history, and any window within
/// the first hour is that hour, all of it.
async fn check_window(repo: &Arc<dyn Repo>) {
    let next_day = repo
        .report_summary(T + 86_400_000, T + 2 * 86_400_000, "all")
        .await
        .unwrap();
    assert!(next_day.is_empty(), "{next_day:?}");
    let whole_day = repo
        .report_summary(T, T + 86_400_000, "image")
        .await
        .unwrap();
    let within_the_hour = repo
        .report_summary(T + 500, T + 1_500, "image")
        .await
        .unwrap();
    assert_eq!(within_the_hour, whole_day);
}

/// The report of the history as it stands, folded into rollups in two passes, and with every
/// job pruned: the same each time.
async fn check_rollups_and_prunes_change_nothing(repo: &Arc<dyn Repo>, db: &TestDb) {
    let before = report(repo).await;
    let hourly = hourly_totals(db).await;
    assert_eq!(hourly, expected_hourly(), "the view, all of it live");
    // a, b and c ended by T+3600, d was cancelled at T+4000: the first pass folds three.
    assert_eq!(repo.job_rollup(T + 3_601, 1000).await.unwrap(), 3);
    assert_eq!(report(repo).await, before, "partly rolled up");
    assert_eq!(
        hourly_totals(db).await,
        hourly,
        "the view, partly rolled up"
    );
    assert_eq!(repo.job_rollup(T + 86_400_000, 1000).await.unwrap(), 1);
    assert_eq!(report(repo).await, before, "all rolled up");
    // d was cancelled while running: its worker's reservation is held until the hold ends, and
    // the pruner leaves a held job alone.
    let (jobs, first_history) = repo.job_prune(i64::MAX, 1000).await.unwrap();
    assert_eq!(jobs, 3, "the held job stays");
    let ended = repo.job_end_holds(i64::MAX / 2, 1000).await.unwrap();
    assert_eq!(ended.changed, 1, "{ended:?}");
    let (jobs, history) = repo.job_prune(i64::MAX, 1000).await.unwrap();
    assert_eq!(jobs, 1, "the hold ended");
    let history = first_history + history;
    assert!(history >= 16, "{history}");
    assert_eq!(report(repo).await, before, "all pruned");
    assert_eq!(hourly_totals(db).await, hourly, "the view, all pruned");
}

/// The `job_hourly` view summed: jobs, attempts, retries, worker and job faults, queue waits
/// counted and summed, the longest run, CPU seconds, the largest share of memory used.
type Hourly = (i64, i64, i64, i64, i64, i64, i64, i64, String, f64);

const HOURLY_TOTALS: &str = "SELECT CAST(SUM(jobs) AS BIGINT), CAST(SUM(attempts) AS BIGINT), \
    CAST(SUM(retries) AS BIGINT), CAST(SUM(worker_faults) AS BIGINT), \
    CAST(SUM(job_faults) AS BIGINT), CAST(SUM(queue_wait_ms_count) AS BIGINT), \
    CAST(SUM(queue_wait_ms_sum) AS BIGINT), CAST(MAX(run_ms_max) AS BIGINT), \
    CAST(ROUND(SUM(cpu_seconds_sum) * 1000) AS TEXT), \
    CAST(MAX(memory_used_pct_max) AS DOUBLE PRECISION) FROM job_hourly";

async fn hourly_totals(db: &TestDb) -> Hourly {
    let mut row: Hourly = fetch_all_on(db, HOURLY_TOTALS).await.remove(0);
    // CPU seconds as whole milliseconds, however the database prints a rounded number.
    row.8 = row.8.trim_end_matches(".0").to_string();
    row
}

/// What `job_hourly` says of the fixed history: 4 jobs, 5 attempts (c's retry), c's failed
/// attempt the job's fault, waits 4 x 100 + 2300, runs up to 3800 ms, 2.9 CPU seconds, 200 of
/// 256 MiB at most.
fn expected_hourly() -> Hourly {
    (4, 5, 1, 0, 1, 5, 2700, 3800, "2900".into(), 78.125)
}

/// The rows `sql` gives, run straight on `db` (as a user's SQL client would).
async fn fetch_all_on<R>(db: &TestDb, sql: &str) -> Vec<R>
where
    R: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
        + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
        + Send
        + Unpin,
{
    if db.dialect == Dialect::Sqlite {
        let pool = sqlx::SqlitePool::connect(&db.direct_url).await.unwrap();
        let rows = sqlx::query_as(sql).fetch_all(&pool).await.unwrap();
        pool.close().await;
        rows
    } else {
        let pool = sqlx::PgPool::connect(&db.direct_url).await.unwrap();
        let rows = sqlx::query_as(sql).fetch_all(&pool).await.unwrap();
        pool.close().await;
        rows
    }
}

/// One row of the right-sizing query: image, attempts, requested, p95 peak, max peak.
type Sizing = (String, i64, i64, f64, f64);

/// Runs `docs/reporting.md`'s right-sizing query on `db`, straight on the views.
async fn right_sizing(db: &TestDb) -> Vec<Sizing> {
    let doc = include_str!("../docs/reporting.md");
    let (_, after) = doc
        .split_once("<!-- tested: right-sizing -->\n```sql\n")
        .expect("the right-sizing query in docs/reporting.md");
    let sql = after.split_once("```").expect("its end").0;
    fetch_all_on(db, sql).await
}

/// What the right-sizing query says of the fixed history.
fn expected_sizing() -> Vec<Sizing> {
    vec![
        ("(default)".into(), 3, 256, 200.0, 200.0),
        ("alpine".into(), 1, 128, 64.0, 64.0),
    ]
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
    check_window(&sqlite).await;
    assert_eq!(right_sizing(&file).await, expected_sizing());
    check_rollups_and_prunes_change_nothing(&sqlite, &file).await;
    let Some(pg) = TestDb::postgres().await else {
        return;
    };
    let postgres = pg.repo(policy).await;
    play_history(&postgres).await;
    let on_postgres = report(&postgres).await;
    check_expected(&on_postgres);
    check_window(&postgres).await;
    assert_eq!(right_sizing(&pg).await, expected_sizing());
    check_rollups_and_prunes_change_nothing(&postgres, &pg).await;
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
