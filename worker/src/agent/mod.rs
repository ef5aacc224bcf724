//! The agent: register, then a heartbeat task on its own timer (`heartbeat.rs`) and a poll
//! loop that long-polls for jobs while slots are free (`poll.rs`); on shutdown, a bounded
//! drain.

mod heartbeat;
mod images;
mod poll;

use crate::attempt::START_TRIES;
use crate::attempt::{AttemptDefaults, Attempts};
use crate::client::{
    BatchSettings, Batcher, ClientError, ResultRoute, Retry, ServerClient, StartRoute,
};
use crate::config::Config;
use crate::executor::docker::{DockerExecutor, DockerSettings};
use crate::executor::process::ProcessExecutor;
use crate::executor::Executor;
use crate::fence::Fence;
use crate::host::HostSampler;
use crate::job_table::{JobTable, StopCause};
use crate::state::{AgentState, StateFile};
use crate::worker_id::WorkerId;
use anyhow::Context;
use gantry_api::RegisterWorkerRequest;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Time given to cancelled jobs to stop and report after the drain timeout.
const HAND_BACK_TIMEOUT: Duration = Duration::from_secs(15);
/// Time given to tasks to notice `give_up` before they are aborted.
const GIVE_UP_GRACE: Duration = Duration::from_secs(2);
/// Time beyond the kill grace given to the executor, once every attempt ended, to stop and
/// remove what they left behind.
const CLEANUP_TIMEOUT: Duration = Duration::from_secs(15);

/// Everything the agent's loops share.
pub(crate) struct Agent {
    /// Validated configuration.
    config: Config,
    /// Shared with the attempts, which report through it too.
    client: Arc<ServerClient>,
    /// Asked for its health before every heartbeat; the attempts run on it.
    executor: Arc<dyn Executor>,
    /// The id the server knows this worker by, shared with the attempts.
    worker_id: Arc<WorkerId>,
    /// Serialises re-registrations.
    register_lock: tokio::sync::Mutex<()>,
    /// The jobs on this worker and the attempts already seen.
    jobs: Arc<JobTable>,
    /// Woken when a job ends and frees a slot.
    slot_freed: Arc<Notify>,
    /// Samples the host's CPU and memory for registration and heartbeats.
    host: Mutex<HostSampler>,
    /// Fired at the very end of shutdown: calls still retrying are abandoned.
    give_up: CancellationToken,
    /// Runs each delivered job.
    attempts: Arc<Attempts>,
    /// Whether the server accepts `max: 0` polls (asked only to learn which jobs to stop);
    /// cleared when it refuses one, after which a full worker does not poll at all.
    stop_polls: AtomicBool,
    /// Whether the server takes results carried on a poll; cleared when one answers a poll
    /// that carried results without their outcomes (an older server, which ignores them).
    carry_results: AtomicBool,
    /// Stops the jobs when the server has been away too long.
    fence: Arc<Fence>,
    /// Set when shutdown begins: heartbeats say so, and the server gives no new job.
    draining: AtomicBool,
    /// Sends a heartbeat at once instead of at the next tick (shared with the attempts, which
    /// ask for one when the fence holds a start back).
    beat_now: Arc<Notify>,
    /// Where the agent keeps its worker id and token across restarts.
    state: StateFile,
}

/// Runs the agent until `shutdown` fires, then drains and returns.
///
/// Builds the executor the configuration asks for (Docker or local processes).
pub async fn run(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    let config = config.validate().map_err(anyhow::Error::msg)?;
    let executor: Arc<dyn Executor> = if config.enable_docker {
        let settings = DockerSettings {
            kill_grace: config.kill_grace,
            max_output_bytes: config.max_output_bytes,
            allow_network: config.allow_network,
            pids_limit: config.pids_limit,
            usage_interval: config.usage_interval,
            pull_timeout: config.pull_timeout,
        };
        Arc::new(DockerExecutor::connect(settings).await.context(
            "cannot set up the Docker client (set ENABLE_DOCKER=false to run jobs as processes)",
        )?)
    } else {
        Arc::new(
            ProcessExecutor::new(config.kill_grace, config.max_output_bytes)
                .recording_groups_in(config.state_root()),
        )
    };
    run_with_executor(config, executor, shutdown).await
}

/// Runs the agent with a given executor (tests use this to plug in their own).
pub async fn run_with_executor(
    config: Config,
    executor: Arc<dyn Executor>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let agent = Arc::new(Agent::new(config, executor)?);
    tracing::info!(
        server = agent.config.server_url,
        executor = agent.executor.kind(),
        slots = agent.config.parallelism(),
        "gantry worker starting"
    );
    if !agent.executor.healthy().await {
        tracing::warn!("executor is not usable right now; the server will be told");
    }
    let stopped = agent.stop_earlier_life().await;
    match agent.register(stopped, &shutdown).await {
        Ok(()) => {}
        Err(ClientError::Abandoned) => {
            tracing::info!("stopped before the server answered the registration");
            return Ok(());
        }
        Err(e) => return Err(e).context("registration refused"),
    }

    let heartbeat_stop = CancellationToken::new();
    let heartbeat = tokio::spawn(agent.clone().heartbeat_loop(heartbeat_stop.clone()));
    let fence = tokio::spawn(agent.clone().fence_loop(heartbeat_stop.clone()));
    let mut tasks = JoinSet::new();
    agent.poll_loop(&mut tasks, &shutdown).await;
    // Tell the server at once, so it stops placing jobs here while the rest finish.
    agent.draining.store(true, Ordering::Relaxed);
    agent.beat_now.notify_one();
    agent.drain(&mut tasks).await;
    agent.clean_up().await;
    heartbeat_stop.cancel();
    let _ = heartbeat.await;
    let _ = fence.await;
    tracing::info!("gantry worker stopped");
    Ok(())
}

impl Agent {
    /// An agent for `config` (validated here) running its jobs on `executor`.
    fn new(config: Config, executor: Arc<dyn Executor>) -> anyhow::Result<Agent> {
        let config = config.validate().map_err(anyhow::Error::msg)?;
        let client = Arc::new(ServerClient::new(
            &config.server_url,
            config.worker_token.clone(),
        )?);
        let state = StateFile::in_dir(&config.state_root());
        let saved = state.load(&config.server_url);
        // WORKER_ID wins; else the id of this agent's earlier life, whose token it shows again.
        let id = config
            .worker_id
            .clone()
            .filter(|id| !id.is_empty())
            .or_else(|| saved.as_ref().map(|s| s.worker_id.clone()))
            .unwrap_or_default();
        if let Some(saved) = saved.filter(|s| s.worker_id == id) {
            client.resume_with(saved.token);
        }
        let worker_id = Arc::new(WorkerId::new(id));
        let jobs = Arc::new(JobTable::default());
        let slot_freed = Arc::new(Notify::new());
        let give_up = CancellationToken::new();
        let batching = BatchSettings {
            window: config.batch_window,
            max_items: config.batch_max,
        };
        let starts = Batcher::start(
            StartRoute(client.clone()),
            batching,
            Retry::times(START_TRIES, &give_up),
        );
        let results = Batcher::start(
            ResultRoute(client.clone()),
            batching,
            Retry::forever(&give_up),
        );
        let fence = Arc::new(Fence::new());
        let beat_now = Arc::new(Notify::new());
        let attempts = Arc::new(Attempts {
            client: client.clone(),
            starts,
            results,
            folders: crate::work_folders::WorkFolders::new(config.work_root()),
            executor: executor.clone(),
            defaults: AttemptDefaults::from_config(&config),
            worker_id: worker_id.clone(),
            jobs: jobs.clone(),
            slot_freed: slot_freed.clone(),
            fence: fence.clone(),
            beat_now: beat_now.clone(),
        });
        Ok(Agent {
            config,
            client,
            executor,
            worker_id,
            register_lock: tokio::sync::Mutex::new(()),
            jobs,
            slot_freed,
            host: Mutex::new(HostSampler::new()),
            give_up,
            attempts,
            stop_polls: AtomicBool::new(true),
            carry_results: AtomicBool::new(true),
            fence,
            draining: AtomicBool::new(false),
            beat_now,
            state,
        })
    }

    /// Stops what an earlier life of this worker left running, before it registers (so the
    /// server may hand those jobs out again at once); true when nothing of it can still run.
    /// An agent without an identity yet holds no job on the server (what its state folder
    /// still records is stopped all the same).
    async fn stop_earlier_life(&self) -> bool {
        let id = self.worker_id.get();
        let stopped = self.executor.stop_earlier_life(&id).await;
        if id.is_empty() {
            return true;
        }
        match stopped {
            Ok(0) => true,
            Ok(stopped) => {
                tracing::info!(
                    stopped,
                    "stopped the jobs an earlier run of this worker left"
                );
                true
            }
            Err(e) => {
                tracing::warn!(error = %e,
                    "cannot make sure the jobs of an earlier run are stopped: the server \
                     holds them until its orphan grace has passed");
                false
            }
        }
    }

    /// Registers (again), retrying until the server answers or `give_up` fires.
    /// `earlier_jobs_stopped`: nothing this worker ran before can still be running.
    async fn register(
        &self,
        earlier_jobs_stopped: bool,
        give_up: &CancellationToken,
    ) -> Result<(), ClientError> {
        let _guard = self.register_lock.lock().await;
        let load = self.host.lock().expect("host sampler lock").sample();
        let current = self.worker_id.get();
        let body = RegisterWorkerRequest {
            worker_id: (!current.is_empty()).then_some(current),
            hostname: self.config.hostname.clone().unwrap_or_default(),
            cpu_cores: load.cpu_cores as f64,
            ram_total_mb: load.ram_total_mb,
            ram_free_mb: load.ram_free_mb,
            cpu_usage: load.cpu_usage,
            max_parallel_jobs: self.config.parallelism() as i64,
            labels: self.config.labels.iter().cloned().collect(),
            version: Some(env!("CARGO_PKG_VERSION").to_string()),
            executor: Some(self.executor.kind().to_string()),
            earlier_jobs_stopped,
        };
        let resp = self
            .client
            .register(&body, &Retry::forever(give_up))
            .await?;
        tracing::info!(worker_id = resp.worker_id, "registered");
        self.fence.set_server_timeout(resp.heartbeat_timeout_ms);
        self.fence.contact();
        self.worker_id.set(resp.worker_id.clone());
        let saved = AgentState {
            server_url: self.config.server_url.clone(),
            worker_id: resp.worker_id,
            token: self.client.worker_token(),
        };
        if let Err(e) = self.state.save(&saved) {
            tracing::warn!(path = %self.state.path().display(), error = %e,
                "cannot save the agent's state: a restart will join as a new worker");
        }
        Ok(())
    }

    /// Re-registers after the server said it does not know this worker.
    async fn reregister(&self, give_up: &CancellationToken) {
        tracing::warn!("server does not know this worker any more: registering again");
        // The jobs this life still runs are not stopped: the server must not give them out
        // again before they end or its grace passes.
        let stopped = self.jobs.is_empty();
        if let Err(e) = self.register(stopped, give_up).await {
            tracing::warn!(error = %e, "re-registration failed");
        }
    }

    /// Lets running jobs finish up to the drain timeout, then hands the rest back to the
    /// server as infrastructure errors ("worker shutting down").
    async fn drain(&self, tasks: &mut JoinSet<()>) {
        let running = self.jobs.len();
        if running > 0 {
            tracing::info!(
                running,
                drain_timeout = ?self.config.drain_timeout,
                "shutting down: letting running jobs finish"
            );
        }
        if join_all_within(tasks, self.config.drain_timeout).await {
            return;
        }
        let handed_back = self.jobs.stop_all(StopCause::Shutdown);
        tracing::warn!(
            handed_back,
            "drain timeout passed: stopping the remaining jobs"
        );
        if join_all_within(tasks, self.config.kill_grace + HAND_BACK_TIMEOUT).await {
            return;
        }
        self.give_up.cancel();
        if !join_all_within(tasks, GIVE_UP_GRACE).await {
            tasks.abort_all();
            // An aborted attempt drops its container guard only once it is polled again.
            while tasks.join_next().await.is_some() {}
        }
    }

    /// Waits for the removals still under way, then removes whatever of this worker is still
    /// in the engine: no container outlives the agent, whatever ended its attempt.
    async fn clean_up(&self) {
        let clean = async {
            self.executor.wait_cleanups().await;
            self.executor.cleanup_orphans(&self.worker_id.get()).await
        };
        match tokio::time::timeout(self.config.kill_grace + CLEANUP_TIMEOUT, clean).await {
            Ok(0) => {}
            Ok(left) => tracing::warn!(left, "removed containers the attempts left behind"),
            Err(_) => tracing::warn!("containers still being removed at exit"),
        }
    }
}

/// Waits for every task, up to `limit`; true when all ended.
async fn join_all_within(tasks: &mut JoinSet<()>, limit: Duration) -> bool {
    tokio::time::timeout(limit, async { while tasks.join_next().await.is_some() {} })
        .await
        .is_ok()
}
