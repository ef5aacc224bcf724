//! What the chaos test breaks: two `gantry serve` replicas on one PostgreSQL database and
//! three agents (process executor) that know both, each a real process on 127.0.0.1 with its
//! log in the test's folder.

use crate::common::process::{free_port, AgentProcess, ServerProcess};
use crate::common::TestDb;
use sqlx::Connection;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Servers' flags: timers short enough that every fault heals in a few seconds.
const SERVE_FLAGS: &[&str] = &[
    "--heartbeat-timeout",
    "2s",
    "--sweep-interval",
    "100ms",
    "--orphan-grace",
    "3s",
    "--retry-backoff",
    "100ms",
    "--infra-retry-budget",
    "20",
];
/// Replicas.
pub const REPLICAS: usize = 2;
/// Agents.
pub const AGENTS: usize = 3;
/// Longest any one step may take to heal.
pub const HEAL: Duration = Duration::from_secs(30);

/// The processes, each slot empty while its process is down.
pub struct Rig<'a> {
    db: &'a TestDb,
    folder: PathBuf,
    ports: Vec<u16>,
    servers: Vec<Option<ServerProcess>>,
    agents: Vec<Option<AgentProcess>>,
    http: reqwest::Client,
}

impl<'a> Rig<'a> {
    /// Starts the replicas (the first alone, so that it migrates and leads) and the agents,
    /// and waits until every agent is registered.
    pub async fn start(db: &'a TestDb, folder: &Path) -> Rig<'a> {
        let mut rig = Rig {
            db,
            folder: folder.to_path_buf(),
            ports: (0..REPLICAS).map(|_| free_port()).collect(),
            servers: (0..REPLICAS).map(|_| None).collect(),
            agents: (0..AGENTS).map(|_| None).collect(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .expect("client"),
        };
        for i in 0..REPLICAS {
            rig.start_server(i).await;
        }
        for i in 0..AGENTS {
            rig.start_agent(i);
        }
        for i in 0..AGENTS {
            rig.wait_worker(i, |status| status != "OFFLINE").await;
        }
        rig
    }

    /// The replicas' base URLs.
    pub fn bases(&self) -> Vec<String> {
        self.ports
            .iter()
            .map(|p| format!("http://127.0.0.1:{p}"))
            .collect()
    }

    /// Agent `i`'s worker id.
    pub fn agent_id(i: usize) -> String {
        format!("chaos-agent-{i}")
    }

    /// Starts replica `i` on its port and waits until it is ready.
    pub async fn start_server(&mut self, i: usize) {
        let log = self.folder.join(format!("server-{i}.log"));
        let server = ServerProcess::spawn_logging(self.db, self.ports[i], SERVE_FLAGS, Some(&log));
        let ready = format!("{}/readyz", server.base);
        self.servers[i] = Some(server);
        let deadline = Instant::now() + HEAL;
        loop {
            let answer = self.http.get(&ready).send().await;
            if answer.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            assert!(Instant::now() < deadline, "replica {i} never became ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILLs replica `i`.
    pub fn kill_server(&mut self, i: usize) {
        let mut server = self.servers[i].take().expect("the replica runs");
        server.kill9();
    }

    /// The replica holding the scheduler's lease now (its holder is `<pid>-<uuid>`).
    pub async fn leader(&self) -> usize {
        let deadline = Instant::now() + HEAL;
        loop {
            let holder = lease_holder(&self.db.direct_url).await;
            for (i, server) in self.servers.iter().enumerate() {
                let Some(server) = server else { continue };
                let pid = format!("{}-", server.child.id());
                if holder.as_deref().is_some_and(|h| h.starts_with(&pid)) {
                    return i;
                }
            }
            assert!(
                Instant::now() < deadline,
                "no live replica leads: {holder:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Starts agent `i` with its own state folder (the same each time, so a restart is the
    /// same worker), both replicas in its list, its own replica first.
    pub fn start_agent(&mut self, i: usize) {
        let mut bases = self.bases();
        bases.rotate_left(i % REPLICAS);
        let state = self.folder.join(format!("agent-{i}-state"));
        let log = self.folder.join(format!("agent-{i}.log"));
        let env = [
            ("ENABLE_DOCKER", "false"),
            ("MAX_PARALLEL_JOBS", "3"),
            ("GANTRY_STATE_DIR", state.to_str().expect("a UTF-8 path")),
        ];
        let agent =
            AgentProcess::spawn_logging(&bases.join(","), &Rig::agent_id(i), &env, Some(&log));
        self.agents[i] = Some(agent);
    }

    /// SIGKILLs agent `i` (its jobs' shells die with it).
    pub fn kill_agent(&mut self, i: usize) {
        let mut agent = self.agents[i].take().expect("the agent runs");
        agent.kill9();
    }

    /// Sends `signal` (`-STOP`, `-CONT`) to agent `i`.
    pub fn signal_agent(&self, i: usize, signal: &str) {
        let agent = self.agents[i].as_ref().expect("the agent runs");
        let sent = Command::new("kill")
            .args([signal, &agent.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(sent.success(), "kill {signal} agent {i}");
    }

    /// Waits until a live replica reports agent `i`'s worker in a status `want` accepts.
    pub async fn wait_worker(&self, i: usize, want: impl Fn(&str) -> bool) {
        let id = Rig::agent_id(i);
        let deadline = Instant::now() + HEAL;
        let mut seen = None;
        loop {
            for base in self.live_bases() {
                let url = format!("{base}/api/workers/list");
                let Ok(answer) = self.http.get(url).send().await else {
                    continue;
                };
                let Ok(body) = answer.json::<serde_json::Value>().await else {
                    continue;
                };
                let status = body["workers"]
                    .as_array()
                    .and_then(|ws| ws.iter().find(|w| w["id"] == id.as_str()))
                    .and_then(|w| w["status"].as_str())
                    .map(str::to_string);
                if status.as_deref().is_some_and(&want) {
                    return;
                }
                seen = status;
            }
            assert!(
                Instant::now() < deadline,
                "worker {id} never reached the status; it is {seen:?}\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until `more` jobs more than now have completed.
    pub async fn progress(&self, what: &str, more: i64) {
        let start = completed(&self.db.direct_url).await;
        let deadline = Instant::now() + HEAL;
        loop {
            let now = completed(&self.db.direct_url).await;
            if now.is_some_and(|n| n >= start.unwrap_or(0) + more) {
                eprintln!("[chaos] {what}: {more} more jobs completed");
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: no progress in {HEAL:?} ({start:?} then {now:?} completed)"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The base URLs of the replicas running now.
    fn live_bases(&self) -> Vec<String> {
        self.servers
            .iter()
            .flatten()
            .map(|s| s.base.clone())
            .collect()
    }

    /// How many lines of the agents' logs contain `text`.
    pub fn agent_log_lines(&self, text: &str) -> usize {
        (0..AGENTS)
            .map(|i| {
                std::fs::read_to_string(self.folder.join(format!("agent-{i}.log")))
                    .unwrap_or_default()
                    .lines()
                    .filter(|l| l.contains(text))
                    .count()
            })
            .sum()
    }

    /// The logs of every process, for a failure's message.
    pub fn logs(&self) -> String {
        let mut all = String::new();
        for name in (0..REPLICAS)
            .map(|i| format!("server-{i}.log"))
            .chain((0..AGENTS).map(|i| format!("agent-{i}.log")))
        {
            let text = std::fs::read_to_string(self.folder.join(&name)).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(40).collect();
            all.push_str(&format!("--- {name} (last {} lines)\n", tail.len()));
            for line in tail.into_iter().rev() {
                all.push_str(line);
                all.push('\n');
            }
        }
        all
    }
}

/// Jobs COMPLETED, or `None` while the database cannot be reached.
async fn completed(url: &str) -> Option<i64> {
    let mut conn = sqlx::PgConnection::connect(url).await.ok()?;
    let n = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE status = 'COMPLETED'")
        .fetch_one(&mut conn)
        .await
        .ok();
    let _ = conn.close().await;
    n
}

/// Who holds the scheduler's lease, or `None` (no holder, or the database is down).
async fn lease_holder(url: &str) -> Option<String> {
    let mut conn = sqlx::PgConnection::connect(url).await.ok()?;
    let holder = sqlx::query_scalar("SELECT holder FROM leases WHERE name = 'scheduler'")
        .fetch_optional(&mut conn)
        .await
        .ok()
        .flatten();
    let _ = conn.close().await;
    holder
}
