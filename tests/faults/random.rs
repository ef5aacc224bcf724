//! A seeded random walk through the repository with faults thrown in: jobs created, placed,
//! delivered, started, finished in every way, cancelled, lost with their workers, orphaned by
//! restarted agents and swept, on a simulated clock, while one step in five has its first
//! call fail before or after it commits. The invariants hold throughout (checked every few
//! steps); no call panics; a failed call answers a database error, never anything else.

use crate::common::builders::{heartbeat, job, worker, T0};
use crate::common::invariants::check_invariants;
use crate::common::TestDb;
use gantry::lifecycle::Policy;
use gantry::model::{JobFinishParams, JobListParams, JobRecord, WorkerHeartbeatParams};
use gantry::repo::faulty::{Fault, FaultyRepo, Plan, When};
use gantry::repo::{Repo, RepoError, RepoResult};
use gantry_api::JobStatus;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::Arc;

/// Steps of the walk.
const STEPS: usize = 600;
/// Steps between two checks of the invariants.
const CHECK_EVERY: usize = 4;
/// Workers in it.
const WORKERS: usize = 3;
/// Silence after which a worker is lost (simulated ms).
const HEARTBEAT_TIMEOUT_MS: i64 = 3_000;
/// The rules of the walk's repository: short backoffs and grace, so retries and holds come
/// and go within the walk.
fn policy() -> Policy {
    Policy {
        retry_backoff_ms: 100,
        retry_backoff_cap_ms: 400,
        orphan_grace_ms: 1_500,
        ..Policy::default()
    }
}

/// The walk's state outside the database: its clock and its dice.
struct Walk {
    faulty: Arc<FaultyRepo>,
    rng: StdRng,
    now: i64,
    jobs: usize,
}

impl Walk {
    fn inner(&self) -> &dyn Repo {
        &**self.faulty.inner()
    }

    fn worker_id(&mut self) -> String {
        format!("w{}", self.rng.random_range(0..WORKERS))
    }

    /// A job in one of `states`, chosen at random.
    async fn some_job(&mut self, states: &[JobStatus]) -> Option<JobRecord> {
        let jobs = self
            .inner()
            .job_list(JobListParams {
                statuses: states.to_vec(),
                worker_id: None,
                created_from: None,
                created_to: None,
                search: None,
                before_id: None,
                from_id: None,
                limit: 1000,
            })
            .await
            .unwrap();
        if jobs.is_empty() {
            return None;
        }
        let i = self.rng.random_range(0..jobs.len());
        jobs.into_iter().nth(i)
    }

    /// A result for `job`'s current attempt (or, now and then, a stale one), ending in one
    /// of the ways an agent reports.
    fn result(&mut self, job: &JobRecord) -> JobFinishParams {
        let stale = self.rng.random_bool(0.1);
        let mut p = JobFinishParams {
            worker_id: job.worker_id.clone().unwrap_or_default(),
            job_id: job.id.clone(),
            attempt: job.attempts - i64::from(stale),
            exit_code: Some(0),
            stdout: Some("out".into()),
            stderr: Some(String::new()),
            duration_ms: Some(5),
            now: self.now,
            ..Default::default()
        };
        match self.rng.random_range(0..5) {
            0 => p.exit_code = Some(1),
            1 => {
                p.exit_code = None;
                p.infrastructure_error = true;
                p.error = Some("the engine refused".into());
            }
            2 => {
                p.exit_code = None;
                p.timed_out = true;
            }
            _ => {}
        }
        p
    }

    /// One random step; its result as `Ok(())` or the error the repository gave.
    async fn step(&mut self) -> RepoResult<()> {
        let faulty = self.faulty.clone();
        let repo: &dyn Repo = &*faulty;
        let now = self.now;
        match self.rng.random_range(0..21) {
            0..=2 if self.jobs < 80 => {
                self.jobs += 1;
                let id = uuid::Uuid::now_v7().to_string();
                let mut b = job(&id)
                    .at(now)
                    .size(self.rng.random_range(1..=4) * 250, 256)
                    .max_retries(self.rng.random_range(0..=2))
                    .timeout_ms(self.rng.random_range(200..3_000));
                if self.rng.random_bool(0.2) {
                    b = b.run_at(now + 1_000);
                }
                repo.job_insert(b.params).await.map(|_| ())
            }
            3 | 4 => repo.job_place(now, 50).await.map(|_| ()),
            5 | 6 => {
                let w = self.worker_id();
                let started = self.rng.random_bool(0.3);
                let max = self.rng.random_range(1..=3);
                if started {
                    repo.job_deliver_started(&w, max, now).await.map(|_| ())
                } else {
                    repo.job_deliver(&w, max, now).await.map(|_| ())
                }
            }
            7 | 8 => {
                let Some(j) = self.some_job(&[JobStatus::Assigned]).await else {
                    return Ok(());
                };
                let w = j.worker_id.clone().unwrap_or_default();
                if self.rng.random_bool(0.5) {
                    repo.job_start(&w, &j.id, j.attempts, now).await.map(|_| ())
                } else {
                    let attempts = [(j.id.clone(), j.attempts)];
                    repo.job_start_many(&w, &attempts, now).await.map(|_| ())
                }
            }
            9..=11 => {
                let Some(j) = self
                    .some_job(&[JobStatus::Assigned, JobStatus::Running])
                    .await
                else {
                    return Ok(());
                };
                let p = self.result(&j);
                if self.rng.random_bool(0.5) {
                    repo.job_finish(p).await.map(|_| ())
                } else {
                    repo.job_finish_many(vec![p]).await.map(|_| ())
                }
            }
            12 => {
                let Some(j) = self
                    .some_job(&[JobStatus::Queued, JobStatus::Assigned, JobStatus::Running])
                    .await
                else {
                    return Ok(());
                };
                repo.job_cancel(&j.id, now).await.map(|_| ())
            }
            13 | 14 => {
                // A heartbeat that reports a random part of what the worker runs: the rest is
                // lost when it started before the heartbeat could have seen it.
                let w = self.worker_id();
                let held = self.inner().worker_list().await.unwrap();
                let running: Vec<String> = held
                    .into_iter()
                    .filter(|(r, _)| r.id == w)
                    .flat_map(|(_, ids)| ids)
                    .filter(|_| self.rng.random_bool(0.8))
                    .collect();
                let ids: Vec<&str> = running.iter().map(String::as_str).collect();
                repo.worker_heartbeat(WorkerHeartbeatParams {
                    lost_if_started_before: now - 500,
                    ..heartbeat(&w, now, &ids)
                })
                .await
                .map(|_| ())
            }
            15 => {
                // The agent restarts, sure or not that its earlier jobs are stopped.
                let w = self.worker_id();
                let mut b = worker(&w).at(now);
                if self.rng.random_bool(0.5) {
                    b = b.earlier_jobs_not_stopped();
                }
                repo.worker_register(b.params).await.map(|_| ())
            }
            16 | 17 => self.sweep().await,
            _ => {
                // Time passes; most agents heartbeat meanwhile (reporting all they run).
                self.now += self.rng.random_range(0..800);
                for (w, ids) in self.inner().worker_list().await.unwrap() {
                    if self.rng.random_bool(0.85) {
                        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
                        repo.worker_heartbeat(heartbeat(&w.id, self.now, &ids))
                            .await?;
                    }
                }
                Ok(())
            }
        }
    }

    /// One of the leader's sweeps, on the walk's clock.
    async fn sweep(&mut self) -> RepoResult<()> {
        let (repo, now): (&dyn Repo, i64) = (&*self.faulty, self.now);
        match self.rng.random_range(0..5) {
            0 => repo.worker_expire_heartbeats(now - HEARTBEAT_TIMEOUT_MS, now, 100),
            1 => repo.job_expire_deadlines(now - 100, now, 100),
            2 => repo.job_requeue_unstarted(now - HEARTBEAT_TIMEOUT_MS, now, 100),
            3 => repo.job_end_holds(now, 100),
            _ => repo.worker_end_cooldowns(now),
        }
        .await
        .map(|_| ())
    }
}

async fn a_random_walk_with_faults_keeps_every_invariant(db: TestDb) {
    let seed = 14;
    let inner: Arc<dyn Repo> = db.repo(policy()).await;
    let mut walk = Walk {
        faulty: Arc::new(FaultyRepo::new(inner)),
        rng: StdRng::seed_from_u64(seed),
        now: T0,
        jobs: 0,
    };
    for i in 0..WORKERS {
        worker(&format!("w{i}"))
            .capacity(2000, 2048)
            .at(T0)
            .register(walk.inner())
            .await;
    }
    let (mut failed, mut refused) = (0, 0);
    for step in 0..STEPS {
        let fault = match walk.rng.random_range(0..10) {
            0 => Some(Fault::Fail),
            1 => Some(Fault::FailAfterCommit),
            _ => None,
        };
        if let Some(fault) = fault {
            walk.faulty
                .inject(Plan::everything(fault).when(When::Nth(1)));
        }
        let outcome = walk.step().await;
        let fired = walk.faulty.clear();
        match outcome {
            Ok(()) => assert_eq!(fired, 0, "step {step}: a call failed unheard"),
            Err(RepoError::Database(_)) => {
                assert_eq!(fired, 1, "step {step}: a database error not injected");
                failed += 1;
            }
            Err(RepoError::Conflict { .. } | RepoError::NotFound { .. }) => refused += 1,
            Err(e) => panic!("step {step}: {e}"),
        }
        // Checked every few steps: whatever breaks stays broken until it is seen.
        if step % CHECK_EVERY == 0 {
            if let Err(e) = check_invariants(walk.inner()).await {
                panic!("[{:?}] seed {seed}, by step {step}: {e}", db.dialect);
            }
        }
    }
    let checked = check_invariants(walk.inner()).await.unwrap();
    eprintln!(
        "[{:?}] {STEPS} steps, {failed} failed by a fault, {refused} refused: {checked:?}",
        db.dialect
    );
}

crate::common::on_both_databases!(a_random_walk_with_faults_keeps_every_invariant);
