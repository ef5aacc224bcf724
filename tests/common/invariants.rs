//! What must hold in the database whatever happened to the server, its agents or its
//! database: one checker, [`check_invariants`], for every test that breaks something (faults
//! injected into the repository, killed processes, restarts) and then looks at what is left.
//!
//! It reads through the [`Repo`] trait, so it works on both databases alike; call it when
//! nothing else writes (its reads are not one snapshot), with the repository itself, not a
//! faulty wrapper that may still break reads.

use gantry::lifecycle::hold::{self, HoldKind};
use gantry::lifecycle::table::job_allows;
use gantry::model::{HistoryRecord, JobListParams, JobRecord, WorkerRecord};
use gantry::repo::{Repo, RepoError};
use gantry_api::JobStatus;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// Jobs read per page.
const PAGE: i64 = 1000;

/// What [`check_invariants`] looked at, for a test's log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checked {
    /// Jobs read.
    pub jobs: usize,
    /// Workers read.
    pub workers: usize,
    /// History rows read.
    pub history_rows: usize,
}

/// Why the check did not pass.
#[derive(Debug, thiserror::Error)]
pub enum InvariantError {
    /// The database could not be read (the check proves nothing).
    #[error("could not read the database: {0}")]
    Read(#[from] RepoError),
    /// These invariants are broken, one sentence each.
    #[error("{} invariant(s) broken:\n  {}", .0.len(), .0.join("\n  "))]
    Broken(Vec<String>),
}

/// Checks every job, worker and history row:
/// - every job is in a state whose facts agree with it (a job on a worker names it and has a
///   started attempt; a RUNNING one has a start; a final one has an end; a waiting one holds
///   no worker);
/// - every worker's reservations (CPU, memory, held jobs) are the sum of what it holds: its
///   ASSIGNED and RUNNING jobs and the stopped attempts still held on it (`lifecycle::hold`),
///   never negative, within its capacity while it holds no earlier life's jobs, and its list
///   of held jobs is exactly those ASSIGNED and RUNNING on it;
/// - every job's history follows the state machine (`lifecycle::table`): it starts with the
///   creation, each row leaves the state the one before entered, by a rule that allows it,
///   an assignment starts the next attempt, a final state is entered at most once, and the
///   last row is the job's state.
pub async fn check_invariants(repo: &dyn Repo) -> Result<Checked, InvariantError> {
    check(repo, false).await
}

/// [`check_invariants`], for a test whose work is all done: also every job ended (in a final
/// state, entered once) and no worker reserves anything.
pub async fn check_settled(repo: &dyn Repo) -> Result<Checked, InvariantError> {
    check(repo, true).await
}

/// The checks, with those of a settled database when `settled`.
async fn check(repo: &dyn Repo, settled: bool) -> Result<Checked, InvariantError> {
    let jobs = all_jobs(repo).await?;
    let workers = repo.worker_list().await?;
    let mut broken = Vec::new();
    for job in &jobs {
        job_facts(job, &mut broken);
        if settled && !job.status.is_terminal() {
            broken.push(format!("job {} is still {}", job.id, job.status));
        }
    }
    reservations(&jobs, &workers, &mut broken);
    if settled {
        for (w, _) in &workers {
            let got = (w.reserved_cpu_milli, w.reserved_ram_mb, w.held_jobs);
            if got != (0, 0, 0) {
                broken.push(format!("worker {} still reserves {got:?}", w.id));
            }
        }
    }
    let mut history_rows = 0;
    for job in &jobs {
        let rows = repo.job_history(&job.id).await?;
        history_rows += rows.len();
        history_chain(job, &rows, &mut broken);
    }
    if broken.is_empty() {
        Ok(Checked {
            jobs: jobs.len(),
            workers: workers.len(),
            history_rows,
        })
    } else {
        Err(InvariantError::Broken(broken))
    }
}

/// Every job, newest first, page by page.
pub async fn all_jobs(repo: &dyn Repo) -> Result<Vec<JobRecord>, RepoError> {
    let mut jobs: Vec<JobRecord> = Vec::new();
    loop {
        let page = repo
            .job_list(JobListParams {
                statuses: Vec::new(),
                worker_id: None,
                created_from: None,
                created_to: None,
                search: None,
                before_id: jobs.last().map(|j| j.id.clone()),
                from_id: None,
                limit: PAGE,
            })
            .await?;
        let full = page.len() as i64 == PAGE;
        jobs.extend(page);
        if !full {
            return Ok(jobs);
        }
    }
}

/// The facts of one job's row agree with its state.
fn job_facts(job: &JobRecord, broken: &mut Vec<String>) {
    let id = &job.id;
    let status = job.status;
    if status.is_on_worker() {
        if job.worker_id.is_none() {
            broken.push(format!("job {id} is {status} on no worker"));
        }
        if job.attempts < 1 {
            broken.push(format!("job {id} is {status} in attempt {}", job.attempts));
        }
        if job.assigned_at.is_none() {
            broken.push(format!("job {id} is {status} but was never assigned"));
        }
    }
    if status == JobStatus::Running && job.started_at.is_none() {
        broken.push(format!("job {id} is RUNNING but never started"));
    }
    if status.is_terminal() != job.finished_at.is_some() {
        broken.push(format!(
            "job {id} is {status} with finished_at {:?}",
            job.finished_at
        ));
    }
    if matches!(status, JobStatus::Pending | JobStatus::Queued) && hold::is_orphan(job) {
        broken.push(format!("job {id} is {status} and an orphan on a worker"));
    }
}

/// What a worker holds, added up from the jobs: (cpu millicores, MiB, jobs).
type Held = (i64, i64, i64);

/// Every worker's reservations are what its jobs hold.
fn reservations(
    jobs: &[JobRecord],
    workers: &[(WorkerRecord, Vec<String>)],
    broken: &mut Vec<String>,
) {
    let mut held: BTreeMap<&str, Held> = BTreeMap::new();
    let mut on_worker: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut with_holds: BTreeSet<&str> = BTreeSet::new();
    for job in jobs {
        if let (true, Some(w)) = (job.status.is_on_worker(), job.worker_id.as_deref()) {
            add(held.entry(w).or_default(), job);
            on_worker.entry(w).or_default().insert(&job.id);
        }
        if let Some(on) = job.held_on.as_deref() {
            with_holds.insert(on);
            if hold::kind(job) == Some(HoldKind::Stopped) {
                add(held.entry(on).or_default(), job);
            }
        }
    }
    for (w, listed) in workers {
        let id = w.id.as_str();
        let want = held.remove(id).unwrap_or_default();
        let got = (w.reserved_cpu_milli, w.reserved_ram_mb, w.held_jobs);
        if got != want {
            broken.push(format!(
                "worker {id} reserves (cpu, MiB, jobs) {got:?} but its jobs hold {want:?}"
            ));
        }
        if got.0 < 0 || got.1 < 0 || got.2 < 0 {
            broken.push(format!("worker {id} reserves a negative amount: {got:?}"));
        }
        let over = got.0 > w.cpu_milli || got.1 > w.ram_total_mb || got.2 > w.max_parallel_jobs;
        if over && !with_holds.contains(id) {
            broken.push(format!(
                "worker {id} reserves {got:?} past its capacity ({}, {}, {})",
                w.cpu_milli, w.ram_total_mb, w.max_parallel_jobs
            ));
        }
        let listed: BTreeSet<&str> = listed.iter().map(String::as_str).collect();
        let actual = on_worker.remove(id).unwrap_or_default();
        if listed != actual {
            broken.push(format!(
                "worker {id} lists held jobs {listed:?}, the jobs say {actual:?}"
            ));
        }
    }
    for (w, h) in held {
        broken.push(format!(
            "jobs hold {h:?} on worker {w}, which does not exist"
        ));
    }
}

/// Adds what `job` reserves to `held`.
fn add(held: &mut Held, job: &JobRecord) {
    held.0 += job.required_cpu_milli;
    held.1 += job.required_ram_mb;
    held.2 += 1;
}

/// One job's history follows the state machine and ends in the job's state.
fn history_chain(job: &JobRecord, rows: &[HistoryRecord], broken: &mut Vec<String>) {
    let id = &job.id;
    let mut steps = String::new();
    let mut previous: Option<&HistoryRecord> = None;
    let mut bad = Vec::new();
    for row in rows {
        let _ = write!(
            steps,
            " {}>{}#{}",
            row.from_status.map_or("", |s| s.as_str()),
            row.to_status,
            row.attempt
        );
        match (previous, row.from_status) {
            (None, None) => {
                if !matches!(row.to_status, JobStatus::Pending | JobStatus::Queued) {
                    bad.push(format!("it was created {}", row.to_status));
                }
            }
            (None, Some(from)) => bad.push(format!("it starts with {from}>{}", row.to_status)),
            (Some(_), None) => bad.push("it is created twice".to_string()),
            (Some(prev), Some(from)) => {
                if from != prev.to_status {
                    bad.push(format!(
                        "a row leaves {from}, the one before entered {}",
                        prev.to_status
                    ));
                }
                if !job_allows(from, row.to_status) {
                    bad.push(format!("no rule moves {from} to {}", row.to_status));
                }
                let want = if row.to_status == JobStatus::Assigned {
                    prev.attempt + 1
                } else {
                    prev.attempt
                };
                if row.attempt != want {
                    bad.push(format!(
                        "{from}>{} is attempt {}, not {want}",
                        row.to_status, row.attempt
                    ));
                }
                if row.to_status == JobStatus::Assigned && row.worker_id.is_none() {
                    bad.push("an assignment names no worker".to_string());
                }
            }
        }
        previous = Some(row);
    }
    let endings = rows.iter().filter(|r| r.to_status.is_terminal()).count();
    if endings > 1 {
        bad.push(format!("it ended {endings} times"));
    }
    match previous {
        None => bad.push("it has no history".to_string()),
        Some(last) if last.to_status != job.status || last.attempt != job.attempts => {
            bad.push(format!(
                "it ends in {}#{}, the job is {}#{}",
                last.to_status, last.attempt, job.status, job.attempts
            ))
        }
        Some(_) => {}
    }
    for why in bad {
        broken.push(format!(
            "job {id}'s history breaks the state machine: {why} (history:{steps})"
        ));
    }
}
