//! The claim race: several placement passes (as several scheduler replicas would run them) and
//! eight workers delivering, starting and finishing at once, on both databases. Every job must
//! be delivered exactly once, end COMPLETED on its first attempt, and the history table must
//! show that no worker was ever reserved past its capacity or parallelism.

use crate::common::builders::{job, result, worker, T0};
use crate::common::invariants::check_settled;
use crate::common::TestDb;
use gantry::lifecycle::Policy;
use gantry::repo::{Dialect, Repo};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Workers in the race.
const WORKERS: usize = 8;
/// Each worker's CPU, millicores.
const WORKER_CPU_MILLI: i64 = 2000;
/// Each worker's memory, MiB.
const WORKER_RAM_MB: i64 = 2048;
/// Each worker's parallelism limit.
const WORKER_PARALLEL: i64 = 4;
/// Jobs to run.
const JOBS: usize = 1000;
/// Concurrent placement loops, standing in for scheduler replicas.
const PLACERS: usize = 3;
/// Jobs one placement pass considers.
const PLACE_BATCH: i64 = 64;
/// How long the race may take before the test fails.
const RACE_DEADLINE: Duration = Duration::from_secs(60);
/// Pause of an idle loop.
const IDLE_PAUSE: Duration = Duration::from_millis(2);

/// A history row as the replay reads it.
type Row = (String, Option<String>, String, Option<String>);

/// Every history row, in id order, straight from the table.
async fn history_rows(db: &TestDb) -> Vec<Row> {
    const SQL: &str =
        "SELECT job_id, from_status, to_status, worker_id FROM job_history ORDER BY id";
    if db.dialect == Dialect::Sqlite {
        let pool = sqlx::SqlitePool::connect(&db.direct_url).await.unwrap();
        let rows = sqlx::query_as(SQL).fetch_all(&pool).await.unwrap();
        pool.close().await;
        rows
    } else {
        let pool = sqlx::PgPool::connect(&db.direct_url).await.unwrap();
        let rows = sqlx::query_as(SQL).fetch_all(&pool).await.unwrap();
        pool.close().await;
        rows
    }
}

/// Replays reservations per worker from the history rows: +job on entering ASSIGNED, -job on
/// leaving ASSIGNED or RUNNING for anything but RUNNING. Panics at the first row that puts a
/// worker over its capacity or parallelism; returns each worker's peak (cpu, ram, jobs).
fn replay(rows: &[Row], sizes: &HashMap<String, (i64, i64)>) -> HashMap<String, (i64, i64, i64)> {
    let mut held: HashMap<String, (i64, i64, i64)> = HashMap::new();
    let mut peak: HashMap<String, (i64, i64, i64)> = HashMap::new();
    for (index, (job_id, from, to, worker_id)) in rows.iter().enumerate() {
        let (cpu, ram) = sizes[job_id];
        let leaves_worker = matches!(from.as_deref(), Some("ASSIGNED" | "RUNNING"));
        let delta = if to == "ASSIGNED" {
            1
        } else if leaves_worker && to != "RUNNING" {
            -1
        } else {
            continue;
        };
        let worker_id = worker_id
            .clone()
            .unwrap_or_else(|| panic!("history row {index} of {job_id} names no worker"));
        let h = held.entry(worker_id.clone()).or_default();
        h.0 += delta * cpu;
        h.1 += delta * ram;
        h.2 += delta;
        assert!(
            h.0 <= WORKER_CPU_MILLI && h.1 <= WORKER_RAM_MB && h.2 <= WORKER_PARALLEL,
            "row {index} ({job_id} {from:?}->{to}) over-reserves {worker_id}: {h:?}"
        );
        assert!(
            h.0 >= 0 && h.1 >= 0 && h.2 >= 0,
            "row {index} releases more than {worker_id} held: {h:?}"
        );
        let p = peak.entry(worker_id).or_default();
        *p = (p.0.max(h.0), p.1.max(h.1), p.2.max(h.2));
    }
    for (worker_id, h) in &held {
        assert_eq!(*h, (0, 0, 0), "{worker_id} still holds jobs at the end");
    }
    peak
}

async fn concurrent_claims_never_double_deliver_or_over_reserve(db: TestDb) {
    let repo: Arc<dyn Repo> = db.repo(Policy::default()).await;
    let (worker_ids, sizes) = seed(&repo).await;
    let started = Instant::now();
    let (finished, delivered) = race(&repo, &worker_ids).await;
    eprintln!(
        "[{:?}] {JOBS} jobs through {WORKERS} workers and {PLACERS} placers in {:?}",
        db.dialect,
        started.elapsed()
    );

    assert_eq!(
        finished, JOBS,
        "not every job finished within {RACE_DEADLINE:?}"
    );
    let unique: HashSet<&(String, i64)> = delivered.iter().collect();
    assert_eq!(
        unique.len(),
        delivered.len(),
        "a (job, attempt) was delivered twice"
    );
    assert_eq!(delivered.len(), JOBS);
    assert!(delivered.iter().all(|(_, attempt)| *attempt == 1));
    every_job_completed_and_every_worker_released(&repo, &sizes).await;
    the_history_shows_no_over_reservation(&db, &sizes).await;
    let checked = check_settled(&*repo)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(checked.jobs, JOBS);
}

/// Registers the workers and inserts the jobs, sized at random from a fixed seed; returns the
/// worker ids and each job's (cpu, ram).
async fn seed(repo: &Arc<dyn Repo>) -> (Vec<String>, HashMap<String, (i64, i64)>) {
    let worker_ids: Vec<String> = (0..WORKERS).map(|i| format!("w{i}")).collect();
    for id in &worker_ids {
        worker(id)
            .capacity(WORKER_CPU_MILLI, WORKER_RAM_MB)
            .parallel(WORKER_PARALLEL)
            .register(&**repo)
            .await;
    }
    let mut rng = StdRng::seed_from_u64(0x6761_6e74);
    let mut sizes = HashMap::new();
    for i in 0..JOBS {
        let id = format!("job-{i:04}");
        let (cpu, ram) = (rng.random_range(250..=1000), rng.random_range(128..=768));
        job(&id)
            .size(cpu, ram)
            .priority(rng.random_range(0..3))
            .at(T0 + i as i64)
            .insert(&**repo)
            .await;
        sizes.insert(id, (cpu, ram));
    }
    (worker_ids, sizes)
}

/// Runs the placers and the workers at once until every job finished or the deadline passed;
/// returns how many finished and every (job, attempt) delivered.
async fn race(repo: &Arc<dyn Repo>, worker_ids: &[String]) -> (usize, Vec<(String, i64)>) {
    let clock = Arc::new(AtomicI64::new(T0 + 10_000));
    let finished = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + RACE_DEADLINE;
    let mut placers = Vec::new();
    for _ in 0..PLACERS {
        let (repo, clock, finished) = (repo.clone(), clock.clone(), finished.clone());
        placers.push(tokio::spawn(async move {
            while finished.load(Ordering::SeqCst) < JOBS && Instant::now() < deadline {
                let now = clock.fetch_add(1, Ordering::SeqCst);
                let out = repo.job_place(now, PLACE_BATCH).await.expect("job_place");
                if out.placed.is_empty() {
                    tokio::time::sleep(IDLE_PAUSE).await;
                }
            }
        }));
    }
    let mut runners = Vec::new();
    for id in worker_ids.iter().cloned() {
        let (repo, clock, finished) = (repo.clone(), clock.clone(), finished.clone());
        runners.push(tokio::spawn(run_worker(
            repo, id, clock, finished, deadline,
        )));
    }
    for placer in placers {
        placer.await.expect("placer panicked");
    }
    let mut delivered = Vec::new();
    for runner in runners {
        delivered.extend(runner.await.expect("worker loop panicked"));
    }
    (finished.load(Ordering::SeqCst), delivered)
}

/// One worker's loop: deliver, start and finish whatever comes, until every job finished or
/// the deadline passed; returns what it was delivered.
async fn run_worker(
    repo: Arc<dyn Repo>,
    id: String,
    clock: Arc<AtomicI64>,
    finished: Arc<AtomicUsize>,
    deadline: Instant,
) -> Vec<(String, i64)> {
    let tick = || clock.fetch_add(1, Ordering::SeqCst);
    let mut delivered = Vec::new();
    while finished.load(Ordering::SeqCst) < JOBS && Instant::now() < deadline {
        let jobs = repo
            .job_deliver(&id, WORKER_PARALLEL, tick())
            .await
            .expect("job_deliver");
        if jobs.is_empty() {
            tokio::time::sleep(IDLE_PAUSE).await;
            continue;
        }
        for j in &jobs {
            delivered.push((j.id.clone(), j.attempts));
            repo.job_start(&id, &j.id, j.attempts, tick())
                .await
                .expect("job_start");
        }
        for j in &jobs {
            repo.job_finish(result(&id, &j.id, j.attempts, tick()))
                .await
                .expect("job_finish");
            finished.fetch_add(1, Ordering::SeqCst);
        }
    }
    delivered
}

/// Every job COMPLETED on its first attempt, and no worker holds anything.
async fn every_job_completed_and_every_worker_released(
    repo: &Arc<dyn Repo>,
    sizes: &HashMap<String, (i64, i64)>,
) {
    for id in sizes.keys() {
        let j = repo.job_get(id).await.unwrap().expect("job exists");
        assert_eq!((j.status.as_str(), j.attempts), ("COMPLETED", 1), "{id}");
        assert_eq!(j.infra_retries + j.failed_attempts, 0, "{id}");
    }
    for (w, held) in repo.worker_list().await.unwrap() {
        assert_eq!(
            (w.reserved_cpu_milli, w.reserved_ram_mb, w.held_jobs),
            (0, 0, 0),
            "{} released everything",
            w.id
        );
        assert!(held.is_empty());
    }
}

/// Each job went through the four steps once, and replaying the history never reserves a
/// worker past its capacity or parallelism (`replay` asserts that).
async fn the_history_shows_no_over_reservation(db: &TestDb, sizes: &HashMap<String, (i64, i64)>) {
    let rows = history_rows(db).await;
    assert_eq!(
        rows.len(),
        4 * JOBS,
        "created, assigned, running, completed per job"
    );
    let mut per_job: HashMap<&str, Vec<String>> = HashMap::new();
    for (job_id, from, to, _) in &rows {
        per_job
            .entry(job_id)
            .or_default()
            .push(format!("{}>{to}", from.as_deref().unwrap_or("")));
    }
    for (job_id, steps) in &per_job {
        assert_eq!(
            steps,
            &[
                ">QUEUED",
                "QUEUED>ASSIGNED",
                "ASSIGNED>RUNNING",
                "RUNNING>COMPLETED"
            ],
            "{job_id}"
        );
    }
    let peaks = replay(&rows, sizes);
    eprintln!("[{:?}] peak reservations per worker: {peaks:?}", db.dialect);
    assert_eq!(peaks.len(), WORKERS, "every worker took part");
}

crate::common::on_both_databases!(concurrent_claims_never_double_deliver_or_over_reserve);
