//! Chaos: two real `gantry serve` replicas on a PostgreSQL cluster of the test's own and three
//! real agents (process executor), under a steady load of short jobs that log their start and
//! end. One after another: a replica is SIGKILLed, then the leader; an agent is SIGKILLed and
//! started again; PostgreSQL stops in immediate mode and starts again; an agent is frozen with
//! SIGSTOP until the server calls it offline, then thawed. After each the jobs must flow again.
//!
//! Then, from the database ([`check_settled`]) and from the jobs' own log ([`run_log`]): every
//! job ended once, COMPLETED; no job ran on two workers at overlapping times; every run was an
//! attempt the server gave to that worker; every reservation is back to zero; every history
//! row follows the state machine; no job process is left. The reruns (at least once, not
//! exactly once) are printed.

mod cluster;
mod load;
mod rig;
mod run_log;

use crate::common::invariants::check_settled;
use crate::common::TestDb;
use cluster::PrivateCluster;
use gantry::lifecycle::Policy;
use gantry::repo::Repo;
use gantry_api::JobStatus;
use load::Load;
use rig::{Rig, AGENTS};
use run_log::Runs;
use serde_json::json;
use std::time::{Duration, Instant};

/// Jobs that must complete after each fault before the next.
const PROGRESS: i64 = 15;
/// Longest the work left at the end may take to finish.
const DRAIN: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_loses_no_job_and_never_runs_one_twice_at_once() {
    let Some(cluster) = PrivateCluster::start() else {
        return;
    };
    let db = TestDb::postgres_in(&cluster.admin).await;
    let folder = tempfile::tempdir().expect("temp dir");
    let log = folder.path().join("runs.log");
    let marker = format!("chaos-{}", uuid::Uuid::new_v4().simple());
    let mut rig = Rig::start(&db, folder.path()).await;
    let load = Load::start(
        rig.bases(),
        run_log::job_command(&log),
        json!({ "GANTRY_CHAOS_RUN": marker }),
    );
    let started = Instant::now();
    rig.progress("warm-up", PROGRESS).await;
    let rounds = rounds();
    for round in 1..=rounds {
        eprintln!("[chaos] round {round} of {rounds}");
        one_round(&mut rig, &cluster).await;
    }

    let sent = load.stop().await;
    let repo = db.connect(Policy::default()).await;
    let settled = drain(&*repo).await;
    let runs = run_log::read(&log);
    let broken = check_runs(&*repo, &runs).await;
    let leftovers = processes_with(&marker);
    eprintln!(
        "[chaos] {} jobs created ({} creates failed), {} history rows, {} reruns (at least \
         once), in {:?}",
        sent.created,
        sent.failed,
        settled.history_rows,
        run_log::reruns(&runs),
        started.elapsed()
    );
    eprintln!(
        "[chaos] the agents' fences stopped running jobs {} times and kept {} deliveries from \
         starting after a silence",
        rig.agent_log_lines("stopping the running jobs before it gives them to other workers"),
        rig.agent_log_lines("not started: the server has been silent too long"),
    );
    assert!(
        broken.is_empty() && leftovers.is_empty(),
        "{} broken:\n  {}\nprocesses left: {leftovers:?}\n{}",
        broken.len(),
        broken.join("\n  "),
        rig.logs()
    );
    assert!(
        sent.created as i64 >= PROGRESS * (1 + 6 * rounds as i64),
        "{sent:?}"
    );
}

/// Rounds of faults: `GANTRY_CHAOS_ROUNDS` (1 unless set; the long run sets more).
fn rounds() -> usize {
    std::env::var("GANTRY_CHAOS_ROUNDS")
        .ok()
        .map(|r| r.parse().expect("GANTRY_CHAOS_ROUNDS is a whole number"))
        .unwrap_or(1)
}

/// Every fault once, each followed by [`PROGRESS`] completed jobs.
async fn one_round(rig: &mut Rig<'_>, cluster: &PrivateCluster) {
    let leader = rig.leader().await;
    let follower = (leader + 1) % rig::REPLICAS;
    rig.kill_server(follower);
    rig.progress("a replica SIGKILLed", PROGRESS).await;
    rig.start_server(follower).await;
    rig.kill_server(leader);
    rig.progress("the leader SIGKILLed", PROGRESS).await;
    let new_leader = rig.leader().await;
    assert_eq!(new_leader, follower, "the lease moved to the live replica");
    rig.start_server(leader).await;

    rig.kill_agent(0);
    rig.progress("an agent SIGKILLed", PROGRESS).await;
    rig.start_agent(0);
    rig.wait_worker(0, |s| s == "IDLE" || s == "BUSY").await;
    rig.progress("the agent started again", PROGRESS).await;

    cluster.crash();
    cluster.restart();
    rig.progress("PostgreSQL restarted in immediate mode", PROGRESS)
        .await;

    rig.signal_agent(AGENTS - 1, "-STOP");
    rig.wait_worker(AGENTS - 1, |s| s == "OFFLINE").await;
    rig.signal_agent(AGENTS - 1, "-CONT");
    rig.wait_worker(AGENTS - 1, |s| s == "IDLE" || s == "BUSY")
        .await;
    rig.progress("an agent frozen past the heartbeat timeout", PROGRESS)
        .await;
}

/// Waits until every job ended and no reservation is left; then the database's invariants
/// must hold.
async fn drain(repo: &dyn Repo) -> crate::common::invariants::Checked {
    let deadline = Instant::now() + DRAIN;
    loop {
        match check_settled(repo).await {
            Ok(checked) => return checked,
            Err(e) if Instant::now() > deadline => panic!("not settled after {DRAIN:?}: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// What the jobs' log says against what the database says, one sentence per fault.
async fn check_runs(repo: &dyn Repo, runs: &Runs) -> Vec<String> {
    let mut broken = run_log::overlaps(runs);
    let jobs = crate::common::invariants::all_jobs(repo)
        .await
        .expect("read the jobs");
    let mut known = std::collections::BTreeSet::new();
    for job in &jobs {
        known.insert(job.id.as_str());
        if job.status != JobStatus::Completed {
            broken.push(format!(
                "job {} ended {}, not COMPLETED",
                job.id, job.status
            ));
            continue;
        }
        let history = repo.job_history(&job.id).await.expect("read the history");
        let attempts = runs.get(&job.id);
        let last = attempts.and_then(|a| a.get(&job.attempts));
        if !last.is_some_and(|r| r.ended && Some(&r.worker) == job.worker_id.as_ref()) {
            broken.push(format!(
                "job {} COMPLETED in attempt {} on {:?}, but that run's log is {last:?}",
                job.id, job.attempts, job.worker_id
            ));
        }
        for (attempt, run) in attempts.into_iter().flatten() {
            let given = history
                .iter()
                .find(|h| h.to_status == JobStatus::Assigned && h.attempt == *attempt);
            if given.and_then(|h| h.worker_id.as_deref()) != Some(run.worker.as_str()) {
                broken.push(format!(
                    "job {} attempt {attempt} ran on {}, which the server never gave it to",
                    job.id, run.worker
                ));
            }
        }
    }
    for job in runs.keys() {
        if !known.contains(job.as_str()) {
            broken.push(format!("job {job} ran but is not in the database"));
        }
    }
    broken
}

/// The pids of processes whose environment holds `GANTRY_CHAOS_RUN=<marker>`.
fn processes_with(marker: &str) -> Vec<i32> {
    let needle = format!("GANTRY_CHAOS_RUN={marker}");
    std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|var| var == needle.as_bytes()))
        })
        .collect()
}
