//! Figures 7 and 8: real agents. N `gantry-worker` processes with S slots each (process
//! executor, or Docker), J jobs running `true` submitted through create-batch; jobs per second
//! from the first job's creation to the last one's end, both read from the server's own
//! records. Beside each, the machine's limit at the same parallelism (N*S) measured in the same
//! run: bare `sh -c true` spawns, or bare `docker run --rm`; and the ratio of the two.
//!
//! Each agent has its own state and work folders in a temp folder; at the end every agent gets
//! SIGTERM and is waited for, and for Docker no container of theirs may be left.
//! `GANTRY_BENCH_AGENT_LOG` sets the agents' `RUST_LOG` (their logs are printed on failure).

use crate::agents::create_batch_of;
use crate::stats::{rate, ratio};
use crate::target::{Launch, Target};
use crate::{binaries, docker, limits, postgres, BenchArgs, Figure};
use anyhow::{bail, Context};
use gantry_api::{WorkerStatus, WorkersListResponse};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Jobs per create-batch call.
const PER_CREATE: usize = 100;
/// A fleet in which no job ended for this long has stalled, and fails instead of hanging.
const STALL: Duration = Duration::from_secs(60);
/// How often the bench reads the server's records while the jobs run.
const PROGRESS_POLL: Duration = Duration::from_millis(100);
/// How long an agent may take to exit after SIGTERM once its jobs are done.
const STOP_LIMIT: Duration = Duration::from_secs(30);

/// Which executor the agents run jobs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `ENABLE_DOCKER=false`: each job a local process.
    Process,
    /// Each job a container of the busybox test image.
    Docker,
}

/// The figure, its limit and their ratio; none when Docker is wanted but missing (said on
/// stderr, unless `GANTRY_REQUIRE_DOCKER=1` makes it a failure).
pub async fn run(args: &BenchArgs, launch: &Launch, kind: Kind) -> anyhow::Result<Vec<Figure>> {
    let (agents, slots, jobs, name) = match kind {
        Kind::Process => (
            args.fleet_agents,
            args.fleet_slots,
            args.fleet_jobs,
            "fleet_process",
        ),
        Kind::Docker => (
            args.fleet_docker_agents,
            args.fleet_docker_slots,
            args.fleet_docker_jobs,
            "fleet_docker",
        ),
    };
    let bin = match kind {
        Kind::Process => binaries::worker_checked()?,
        Kind::Docker => match docker::agent_or_skip("fleet-docker").await? {
            Some(bin) => bin,
            None => return Ok(Vec::new()),
        },
    };
    let parallel = agents * slots;
    let limit = match kind {
        Kind::Process => limits::spawn_rate(parallel, jobs).await?,
        Kind::Docker => limits::docker_run_rate(parallel, jobs).await?,
    };
    let target = Target::start(launch).await?;
    let backend = target.backend;
    let measured = measure(&target, &bin, kind, agents, slots, jobs).await;
    target.stop().await;
    let value = measured?;
    let setting = format!("{agents}x{slots} slots, {jobs} jobs");
    let figure = |figure, value, unit| Figure {
        figure,
        backend,
        setting: setting.clone(),
        value,
        unit,
    };
    let (limit_name, ratio_name) = match kind {
        Kind::Process => ("fleet_process_spawn_limit", "fleet_process_over_limit"),
        Kind::Docker => ("fleet_docker_run_limit", "fleet_docker_over_limit"),
    };
    Ok(vec![
        figure(name, value, "jobs/s"),
        figure(limit_name, limit, "jobs/s"),
        figure(ratio_name, ratio(value, limit)?, "x"),
    ])
}

/// Starts the fleet, runs the jobs through it, stops it; jobs per second.
async fn measure(
    target: &Target,
    bin: &Path,
    kind: Kind,
    agents: usize,
    slots: usize,
    jobs: usize,
) -> anyhow::Result<f64> {
    let mut fleet = Fleet::start(bin, &target.base, kind, agents, slots)?;
    let measured = async {
        fleet.wait_idle(target).await?;
        submit(target, kind, jobs).await?;
        wait_done(target, jobs).await
    }
    .await;
    let stopped = fleet.stop(kind).await;
    if measured.is_err() || stopped.is_err() {
        eprintln!("fleet figure: the agents' logs:\n{}", fleet.logs());
    }
    stopped?;
    measured
}

/// Real agents, each with its own folders.
struct Fleet {
    /// Worker ids and processes.
    agents: Vec<(String, tokio::process::Child)>,
    /// Holds each agent's state and work folders and log.
    dir: tempfile::TempDir,
}

impl Fleet {
    /// Starts `agents` agents with `slots` slots each against the server at `base`.
    fn start(
        bin: &Path,
        base: &str,
        kind: Kind,
        agents: usize,
        slots: usize,
    ) -> anyhow::Result<Fleet> {
        let dir = tempfile::tempdir()?;
        let run = uuid::Uuid::new_v4().simple().to_string();
        let mut started = Vec::new();
        for i in 0..agents {
            let id = format!("fleet-{}-{i}", &run[..8]);
            let home = dir.path().join(&id);
            std::fs::create_dir_all(&home)?;
            let child = tokio::process::Command::new(bin)
                .env("GANTRY_URL", base)
                .env("WORKER_ID", &id)
                .env("ENABLE_DOCKER", (kind == Kind::Docker).to_string())
                .env("MAX_PARALLEL_JOBS", slots.to_string())
                .env("HEARTBEAT_INTERVAL", "1s")
                .env("GANTRY_WORK_DIR", home.join("work"))
                .env("GANTRY_STATE_DIR", home.join("state"))
                .env(
                    "RUST_LOG",
                    std::env::var("GANTRY_BENCH_AGENT_LOG").unwrap_or("warn".into()),
                )
                .env_remove("GANTRY_WORKER_TOKEN")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(home.join("agent.log"))?)
                .kill_on_drop(true)
                .spawn()
                .with_context(|| format!("start {}", bin.display()))?;
            started.push((id, child));
        }
        Ok(Fleet {
            agents: started,
            dir,
        })
    }

    /// Waits until every agent is registered and IDLE.
    async fn wait_idle(&mut self, target: &Target) -> anyhow::Result<()> {
        let started = Instant::now();
        loop {
            for (id, child) in &mut self.agents {
                if let Some(status) = child.try_wait()? {
                    bail!("agent {id} exited at start: {status}");
                }
            }
            let list: WorkersListResponse = target
                .http
                .get(format!("{}/api/workers/list", target.base))
                .send()
                .await?
                .json()
                .await?;
            let idle = |id: &String| {
                list.workers
                    .iter()
                    .any(|w| &w.id == id && w.status == WorkerStatus::Idle)
            };
            if self.agents.iter().all(|(id, _)| idle(id)) {
                return Ok(());
            }
            if started.elapsed() > Duration::from_secs(30) {
                bail!("the agents did not all register as IDLE within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGTERM to every agent, then waits for each; fails if one outlives `STOP_LIMIT` (it is
    /// then killed) or, for Docker, if a container of theirs is left.
    async fn stop(&mut self, kind: Kind) -> anyhow::Result<()> {
        for (_, child) in &self.agents {
            if let Some(pid) = child.id() {
                // SAFETY: sending a signal to our own child process.
                unsafe {
                    libc::kill(pid as i32, libc::SIGTERM);
                }
            }
        }
        let mut late = Vec::new();
        for (id, child) in &mut self.agents {
            if tokio::time::timeout(STOP_LIMIT, child.wait())
                .await
                .is_err()
            {
                let _ = child.kill().await;
                late.push(id.clone());
            }
        }
        if !late.is_empty() {
            bail!("agents {late:?} did not exit within {STOP_LIMIT:?} of SIGTERM (killed)");
        }
        if kind == Kind::Docker {
            for (id, _) in &self.agents {
                left_containers(id).await?;
            }
        }
        Ok(())
    }

    /// Every agent's log, for a failed run.
    fn logs(&self) -> String {
        let log = |id: &String| -> PathBuf { self.dir.path().join(id).join("agent.log") };
        self.agents
            .iter()
            .map(|(id, _)| {
                let text = std::fs::read_to_string(log(id)).unwrap_or_default();
                format!("--- {id}\n{text}")
            })
            .collect()
    }
}

/// Fails when a container labelled with worker `id` is still there.
async fn left_containers(id: &str) -> anyhow::Result<()> {
    let label = format!("label=gantry.worker-id={id}");
    let out = tokio::process::Command::new("docker")
        .args(["ps", "-aq", "--filter", &label])
        .output()
        .await?;
    let left = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || !left.is_empty() {
        bail!("containers of agent {id} left after it stopped: {left}");
    }
    Ok(())
}

/// Creates `jobs` jobs running `true`, `PER_CREATE` per create-batch call.
async fn submit(target: &Target, kind: Kind, jobs: usize) -> anyhow::Result<()> {
    let mut job = json!({"command": "true", "requiredCpu": 0.001, "requiredRamMb": 8});
    if kind == Kind::Docker {
        job["image"] = json!(docker::IMAGE);
        // The agent turns the CPU request into a CFS quota; the kernel refuses one under 1 ms
        // per 100 ms period, so 0.001 cores would fail every container's start.
        job["requiredCpu"] = json!(0.1);
    }
    let mut from = 0;
    while from < jobs {
        let count = PER_CREATE.min(jobs - from);
        create_batch_of(&target.http, &target.base, &job, count).await?;
        from += count;
    }
    Ok(())
}

/// What the server's records say of the jobs: how many ended, how many succeeded, the first
/// creation and the last end (ms since the epoch).
#[derive(Debug, Default, sqlx::FromRow)]
struct Records {
    ended: Option<i64>,
    completed: Option<i64>,
    first_created: Option<i64>,
    last_finished: Option<i64>,
}

/// The query of `Records`, the same on both databases.
const RECORDS: &str = "SELECT
    CAST(SUM(CASE WHEN status IN ('COMPLETED', 'FAILED', 'TIMED_OUT', 'CANCELLED') THEN 1 ELSE 0 END) AS BIGINT) AS ended,
    CAST(SUM(CASE WHEN status = 'COMPLETED' THEN 1 ELSE 0 END) AS BIGINT) AS completed,
    MIN(created_at) AS first_created, MAX(finished_at) AS last_finished
    FROM jobs";

/// Polls the server's records until all `jobs` ended (failing on a job that did not succeed,
/// or on a stall); jobs per second from the first creation to the last end.
async fn wait_done(target: &Target, jobs: usize) -> anyhow::Result<f64> {
    let db = Db::open(target).await?;
    let result = poll_done(&db, jobs).await;
    db.close().await;
    result
}

/// The loop of `wait_done`.
async fn poll_done(db: &Db, jobs: usize) -> anyhow::Result<f64> {
    let (mut seen, mut since) = (0, Instant::now());
    loop {
        let now = db.records().await?;
        let ended = now.ended.unwrap_or(0) as usize;
        if ended >= jobs {
            let completed = now.completed.unwrap_or(0) as usize;
            if completed != jobs {
                bail!("{} of {jobs} jobs did not succeed", jobs - completed);
            }
            let (Some(first), Some(last)) = (now.first_created, now.last_finished) else {
                bail!("the server recorded no creation or end times");
            };
            return rate(jobs, (last - first) as f64 / 1000.0);
        }
        if ended != seen {
            (seen, since) = (ended, Instant::now());
        } else if since.elapsed() > STALL {
            bail!("stalled: {ended} of {jobs} jobs ended and none in the last {STALL:?}");
        }
        tokio::time::sleep(PROGRESS_POLL).await;
    }
}

/// A connection to the server's database, to read its records.
enum Db {
    Postgres(sqlx::PgPool),
    Sqlite(sqlx::SqlitePool),
}

impl Db {
    /// Connects to the database of `target`.
    async fn open(target: &Target) -> anyhow::Result<Db> {
        Ok(if target.backend == "postgres" {
            let options = postgres::options(&target.database_url)?;
            Db::Postgres(sqlx::PgPool::connect_with(options).await?)
        } else {
            Db::Sqlite(sqlx::SqlitePool::connect(&target.database_url).await?)
        })
    }

    /// One reading of the server's records.
    async fn records(&self) -> anyhow::Result<Records> {
        Ok(match self {
            Db::Postgres(pool) => sqlx::query_as(RECORDS).fetch_one(pool).await?,
            Db::Sqlite(pool) => sqlx::query_as(RECORDS).fetch_one(pool).await?,
        })
    }

    async fn close(self) {
        match self {
            Db::Postgres(pool) => pool.close().await,
            Db::Sqlite(pool) => pool.close().await,
        }
    }
}
