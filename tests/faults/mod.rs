//! Database faults, injected into the repository ([`gantry::repo::faulty`]): every route and
//! every scheduler service, with each of its repository calls failing, losing its answer,
//! hanging or running slowly, ends in a clear 503 (or its documented answer) or a logged
//! retry: never a panic, a lost job or a leaked reservation ([`check_invariants`] after each).
//!
//! The routes are driven in process through `gantry::server::app` over a state whose
//! repository is the faulty wrapper, with no scheduler running, so the calls a request makes
//! are exactly the calls it records.

mod cases;
mod random;
mod requests;
mod routes;
mod scheduler;
mod slow;

use crate::common::builders::{heartbeat, job, worker, JobBuilder};
use crate::common::invariants::check_invariants;
use crate::common::server::fast_config;
use crate::common::TestDb;
use axum::Router;
use gantry::clock::now_ms;
use gantry::config::ServeConfig;
use gantry::http::auth::token_hash;
use gantry::model::{JobListParams, JobRecord, WorkerHeartbeatParams};
use gantry::repo::faulty::FaultyRepo;
use gantry::repo::Repo;
use gantry::scheduler::SchedulerHandle;
use gantry::state::AppState;
use gantry::waiters::Waiters;
use gantry_api::JobStatus;
use requests::{Answer, Req};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// The client API token of the rig's server.
pub const API_TOKEN: &str = "api-token-of-the-fault-tests";
/// The join token agents register with.
pub const JOIN_TOKEN: &str = "join-token-of-the-fault-tests";

/// A server state over a faulty repository, and the app routing to it.
pub struct Rig {
    /// The database (kept for as long as the rig lives).
    pub db: TestDb,
    /// The repository every request goes through.
    pub faulty: Arc<FaultyRepo>,
    /// What the handlers share.
    pub state: AppState,
    /// The whole HTTP application.
    app: Router,
    /// Every job the rig made, which must still be there after every fault (unless pruned).
    made: std::sync::Mutex<Vec<String>>,
}

/// A worker made for a case, and its token.
pub struct Agent {
    /// Its id.
    pub id: String,
    /// Its bearer token.
    pub token: String,
}

impl Rig {
    /// A rig on `db`, with tokens on (so the auth checks read the database too).
    pub async fn new(db: TestDb) -> Rig {
        Self::with_config(
            ServeConfig {
                api_token: Some(API_TOKEN.into()),
                worker_token: Some(JOIN_TOKEN.into()),
                ..fast_config(&db)
            },
            db,
        )
        .await
    }

    /// A rig on `db` with these settings.
    pub async fn with_config(config: ServeConfig, db: TestDb) -> Rig {
        let inner = db.repo(config.policy()).await;
        let faulty = Arc::new(FaultyRepo::new(inner));
        let state = AppState {
            repo: faulty.clone(),
            config: Arc::new(config),
            waiters: Arc::new(Waiters::default()),
            scheduler: SchedulerHandle::default(),
            shutdown: CancellationToken::new(),
            // Counting from a minute back, so every scrape reads the endings too.
            endings: Arc::new(gantry::metrics::EndingsCounter::starting_at(
                now_ms() - 60_000,
            )),
        };
        let app = gantry::server::app(state.clone());
        Rig {
            db,
            faulty,
            state,
            app,
            made: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// The repository behind the faults: the truth.
    pub fn repo(&self) -> &dyn Repo {
        &**self.faulty.inner()
    }

    /// Sends a request through the app in a task of its own. `Err` with the panic's message
    /// when the handler panicked (which, over a socket, kills the connection).
    pub async fn send(&self, req: &Req) -> Result<Answer, String> {
        let _scrape = match req.is_metrics() {
            true => Some(crate::common::METRICS_SCRAPES.lock().await),
            false => None,
        };
        let app = self.app.clone();
        let request = req.build();
        let task = tokio::spawn(async move {
            let response = app
                .oneshot(request)
                .await
                .expect("the router is infallible");
            Answer::read(response).await
        });
        match task.await {
            Ok(answer) => answer,
            Err(e) if e.is_panic() => {
                let panic = e.into_panic();
                let text = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                Err(format!("the handler panicked: {text}"))
            }
            Err(e) => Err(format!("the request task failed: {e}")),
        }
    }

    /// Registers a worker with its own token, through the repository.
    pub async fn agent(&self, tag: &str) -> Agent {
        let id = format!("w-{tag}");
        let token = format!("token-of-{id}");
        worker(&id)
            .capacity(2000, 2048)
            .parallel(4)
            .at(now_ms())
            .token_hash(&token_hash(&token))
            .register(self.repo())
            .await;
        Agent { id, token }
    }

    /// Inserts a job (0.5 CPU, 256 MiB), due now; returns its id.
    pub async fn job(&self) -> String {
        self.insert(job(&uuid::Uuid::now_v7().to_string()).at(now_ms()))
            .await
    }

    /// Inserts this job; returns its id.
    pub async fn insert(&self, job: JobBuilder) -> String {
        let id = job.params.id.clone();
        job.insert(self.repo()).await;
        self.made.lock().unwrap().push(id.clone());
        id
    }

    /// Places the waiting job `id` on `agent`, which must be the only worker taking jobs
    /// (see [`Rig::retire`]); its attempt.
    pub async fn place(&self, agent: &Agent, id: &str) -> i64 {
        let out = self
            .repo()
            .job_place(now_ms(), 100)
            .await
            .expect("job_place");
        let placed = out
            .placed
            .iter()
            .find(|p| p.job_id == id)
            .unwrap_or_else(|| panic!("job {id} was not placed: {out:?}"));
        assert_eq!(placed.worker_id, agent.id, "placed on another worker");
        placed.attempt
    }

    /// Hands `agent` its assigned jobs, `id` among them.
    pub async fn deliver(&self, agent: &Agent, id: &str) {
        let jobs = self
            .repo()
            .job_deliver(&agent.id, 100, now_ms())
            .await
            .expect("job_deliver");
        assert!(jobs.iter().any(|j| j.id == id), "job {id} not delivered");
    }

    /// Starts attempt `attempt` of `id` on `agent`.
    pub async fn start(&self, agent: &Agent, id: &str, attempt: i64) {
        self.repo()
            .job_start(&agent.id, id, attempt, now_ms())
            .await
            .expect("job_start");
    }

    /// A job placed on `agent`; its id and attempt.
    pub async fn assigned(&self, agent: &Agent) -> (String, i64) {
        let id = self.job().await;
        let attempt = self.place(agent, &id).await;
        (id, attempt)
    }

    /// A job assigned to `agent` and handed to it.
    pub async fn delivered(&self, agent: &Agent) -> (String, i64) {
        let (id, attempt) = self.assigned(agent).await;
        self.deliver(agent, &id).await;
        (id, attempt)
    }

    /// A job RUNNING on `agent`.
    pub async fn running(&self, agent: &Agent) -> (String, i64) {
        let (id, attempt) = self.delivered(agent).await;
        self.start(agent, &id, attempt).await;
        (id, attempt)
    }

    /// Ends what a case left behind so the next one starts from a quiet fleet: every live job
    /// is cancelled and every worker drains (it keeps its row, and its holds, but gets no new
    /// job), so placement can only pick the next case's worker.
    pub async fn retire(&self) {
        let repo = self.repo();
        for job in live_jobs(repo).await {
            match repo.job_cancel(&job.id, now_ms()).await {
                Ok(_) | Err(gantry::repo::RepoError::Conflict { .. }) => {}
                Err(e) => panic!("could not cancel {}: {e}", job.id),
            }
        }
        for (w, _) in repo.worker_list().await.expect("worker_list") {
            if w.draining == 0 {
                repo.worker_heartbeat(WorkerHeartbeatParams {
                    draining: true,
                    ..heartbeat(&w.id, now_ms(), &[])
                })
                .await
                .expect("worker_heartbeat");
            }
        }
    }

    /// Asserts the invariants, and that every job the rig made is still there.
    pub async fn assert_consistent(&self, after: &str) {
        if let Err(e) = check_invariants(self.repo()).await {
            panic!("[{:?}] after {after}: {e}", self.db.dialect);
        }
        let made = self.made.lock().unwrap().clone();
        for id in made {
            let found = self.repo().job_get(&id).await.expect("job_get");
            assert!(
                found.is_some(),
                "[{:?}] after {after}: job {id} is lost",
                self.db.dialect
            );
        }
    }
}

/// Every job not in a final state.
async fn live_jobs(repo: &dyn Repo) -> Vec<JobRecord> {
    repo.job_list(JobListParams {
        statuses: vec![
            JobStatus::Pending,
            JobStatus::Queued,
            JobStatus::Assigned,
            JobStatus::Running,
        ],
        worker_id: None,
        created_from: None,
        created_to: None,
        search: None,
        before_id: None,
        from_id: None,
        limit: 1000,
    })
    .await
    .expect("job_list")
}
