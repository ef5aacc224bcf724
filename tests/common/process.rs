//! The real binaries as child processes on 127.0.0.1: `gantry serve` and `gantry-worker`.

use super::TestDb;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// A free TCP port on loopback (bound and released; the race with other tests is negligible).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `gantry serve`.
pub struct ServerProcess {
    /// The child.
    pub child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl ServerProcess {
    /// Starts `gantry serve` on `port` over `db` with extra flags.
    pub fn spawn(db: &TestDb, port: u16, extra: &[&str]) -> ServerProcess {
        ServerProcess::spawn_logging(db, port, extra, None)
    }

    /// [`ServerProcess::spawn`], with the server's log (stderr) appended to `log` when given.
    pub fn spawn_logging(
        db: &TestDb,
        port: u16,
        extra: &[&str],
        log: Option<&std::path::Path>,
    ) -> ServerProcess {
        let pooler = clap::ValueEnum::to_possible_value(&db.pooler).expect("a named value");
        let mut command = Command::new(env!("CARGO_BIN_EXE_gantry"));
        command
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .args(["--database-url", &db.url])
            .args(["--database-pooler", pooler.get_name()])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        if let Some(log) = log {
            command.stderr(append(log));
        }
        let child = command.spawn().expect("start gantry serve");
        ServerProcess {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill9(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `gantry-worker` binary: `GANTRY_WORKER_BIN`, or next to this test's target folder.
pub fn worker_bin() -> PathBuf {
    if let Ok(path) = std::env::var("GANTRY_WORKER_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("test path");
    // target/debug/deps/<test> -> target/debug/gantry-worker
    let path = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|dir| dir.join("gantry-worker"))
        .expect("target folder");
    assert!(
        path.exists(),
        "{} is missing: run `cargo build -p gantry-worker` (scripts/test.sh does) or set \
         GANTRY_WORKER_BIN",
        path.display()
    );
    path
}

/// `path` opened for appending (created when missing): a log a restarted process adds to.
fn append(path: &std::path::Path) -> std::fs::File {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()))
}

/// A running agent.
pub struct AgentProcess {
    /// The child.
    pub child: Child,
}

impl AgentProcess {
    /// Starts an agent for the server at `base` with fast timers; `env` adds or overrides
    /// settings (e.g. `("MAX_PARALLEL_JOBS", "4")`, `("ENABLE_DOCKER", "false")`).
    pub fn spawn(base: &str, id: &str, env: &[(&str, &str)]) -> AgentProcess {
        AgentProcess::spawn_logging(base, id, env, None)
    }

    /// [`AgentProcess::spawn`], with the agent's log (stderr) written to `log` when given.
    pub fn spawn_logging(
        base: &str,
        id: &str,
        env: &[(&str, &str)],
        log: Option<&std::path::Path>,
    ) -> AgentProcess {
        let work =
            std::env::temp_dir().join(format!("gantry-e2e-{id}-{}", uuid::Uuid::new_v4().simple()));
        let mut command = Command::new(worker_bin());
        command
            .env("GANTRY_URL", base)
            .env("WORKER_ID", id)
            .env("HEARTBEAT_INTERVAL", "200ms")
            .env("JOB_POLL_INTERVAL", "2s")
            .env("KILL_GRACE", "1s")
            .env("GANTRY_DRAIN_TIMEOUT", "2s")
            .env("GANTRY_WORK_DIR", &work)
            .env("GANTRY_STATE_DIR", work.join("state"))
            .env("MAX_PARALLEL_JOBS", "2")
            .env("RUST_LOG", "warn")
            .env_remove("GANTRY_WORKER_TOKEN")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            command.env(k, v);
        }
        if let Some(log) = log {
            command.stderr(append(log));
        }
        let child = command.spawn().expect("start gantry-worker");
        AgentProcess { child }
    }

    /// SIGKILL: the agent dies without a word to the server.
    pub fn kill9(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }

    /// The agent's peak resident memory so far, in KiB (VmHWM).
    pub fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM")
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
