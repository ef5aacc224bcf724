//! The server under measurement: `gantry serve` as a child process on 127.0.0.1 and a fresh
//! database, so its memory is its own and the bench's clients do not share its runtime.

use crate::postgres;
use anyhow::{bail, Context};
use gantry::lifecycle::Policy;
use gantry::repo::Repo;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

/// How every figure's server is started: the same binary on the same kind of database.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The `gantry` binary, run as `gantry serve`.
    pub gantry: PathBuf,
    /// The PostgreSQL server's admin URL (a fresh database per server), or none for SQLite.
    pub postgres: Option<String>,
}

/// A fresh database for one server: a SQLite file in a temp folder, or a new database on the
/// PostgreSQL server. Made apart from the server so a figure can fill it before the server
/// starts on it.
pub struct Database {
    /// Its URL, as the server is given it.
    pub url: String,
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// The PostgreSQL server's admin URL, to drop the database at the end.
    admin: Option<String>,
    /// SQLite: the folder of the database file, removed with it.
    _dir: Option<tempfile::TempDir>,
}

impl Database {
    /// Creates an empty database of the launch's kind (the server migrates it when it starts).
    pub async fn create(launch: &Launch) -> anyhow::Result<Database> {
        Ok(match launch.postgres.as_deref() {
            Some(admin) => Database {
                url: postgres::create_database(admin).await?,
                backend: "postgres",
                admin: Some(admin.to_string()),
                _dir: None,
            },
            None => {
                let dir = tempfile::tempdir()?;
                Database {
                    url: format!("sqlite://{}", dir.path().join("bench.db").display()),
                    backend: "sqlite",
                    admin: None,
                    _dir: Some(dir),
                }
            }
        })
    }

    /// The database `url` that another target created and removes: for a second replica.
    pub fn shared(url: &str, backend: &'static str) -> Database {
        Database {
            url: url.to_string(),
            backend,
            admin: None,
            _dir: None,
        }
    }

    /// Drops the database (the SQLite folder goes with `self`), once no server uses it.
    pub async fn remove(self) {
        if let Some(admin) = &self.admin {
            if let Err(e) = drop_database(admin, &self.url).await {
                eprintln!("could not drop the bench database: {e}");
            }
        }
    }
}

/// A running server and how to reach it.
pub struct Target {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// Direct access to its database, to set up large states quickly.
    pub repo: Arc<dyn Repo>,
    /// The HTTP client the agents and clients share.
    pub http: reqwest::Client,
    /// The server's database URL, for the queries the figures make around the API.
    pub database_url: String,
    /// `gantry serve`, killed if the target is dropped without `stop`.
    child: tokio::process::Child,
    /// The server's database, dropped by `stop`.
    database: Database,
}

impl Target {
    /// Starts a server on a fresh SQLite file, or a fresh database on the PostgreSQL server.
    pub async fn start(launch: &Launch) -> anyhow::Result<Target> {
        Target::start_on(launch, Database::create(launch).await?, &[]).await
    }

    /// Starts a server on `database` (perhaps filled already), with `env` added to its
    /// environment (settings such as `GANTRY_ROLLUP_DELAY` that have no flag here).
    pub async fn start_on(
        launch: &Launch,
        database: Database,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Target> {
        let url = database.url.clone();
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let base = format!("http://127.0.0.1:{port}");
        let mut child = tokio::process::Command::new(&launch.gantry)
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .args(["--database-url", &url])
            // Simulated agents send no heartbeats: none may go offline during a figure.
            .args(["--heartbeat-timeout", "600s", "--sweep-interval", "1s"])
            // Quiet unless asked: GANTRY_BENCH_SERVER_LOG=sqlx::query=debug shows every statement.
            .env(
                "RUST_LOG",
                std::env::var("GANTRY_BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .env_remove("GANTRY_API_TOKEN")
            .env_remove("GANTRY_WORKER_TOKEN")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("start `{} serve`", launch.gantry.display()))?;
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .build()?;
        wait_ready(&mut child, &http, &base).await?;
        // Only once the server has opened and migrated the database: opening a fresh SQLite
        // file while the server sets it up can make the server's own open fail as locked.
        let repo = gantry::repo::connect(&url, Policy::default()).await?;
        Ok(Target {
            base,
            backend: database.backend,
            repo,
            http,
            database_url: url,
            child,
            database,
        })
    }

    /// The server's process id.
    pub fn pid(&self) -> anyhow::Result<u32> {
        self.child.id().context("the server has exited")
    }

    /// SIGKILL: the server dies mid-work, as in a crash; its database is left alone.
    pub async fn kill9(mut self) {
        let _ = self.child.kill().await;
    }

    /// The server's resident memory, in MiB (Linux `/proc`).
    pub fn rss_mb(&self) -> anyhow::Result<f64> {
        let pid = self.child.id().context("the server has exited")?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let kb: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .context("no VmRSS in /proc status")?;
        Ok(kb / 1024.0)
    }

    /// Stops the server (SIGTERM, as an operator would, then waits).
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            // SAFETY: sending a signal to our own child process.
            unsafe {
                libc::kill(pid as i32, libc::SIGTERM);
            }
        }
        let _ = tokio::time::timeout(Duration::from_secs(20), self.child.wait()).await;
        let _ = self.child.kill().await;
        self.database.remove().await;
    }
}

/// Waits until the server at `base` answers `/readyz`; fails if it exits first or takes 30 s.
async fn wait_ready(
    child: &mut tokio::process::Child,
    http: &reqwest::Client,
    base: &str,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while tokio::time::Instant::now() < deadline {
        if let Some(status) = child.try_wait()? {
            bail!("the server exited at start: {status}");
        }
        let ready = http.get(format!("{base}/readyz")).send().await;
        if ready.is_ok_and(|r| r.status().is_success()) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    bail!("the server was not ready within 30 s")
}

/// Drops the bench's database once its server has gone.
async fn drop_database(admin: &str, url: &str) -> anyhow::Result<()> {
    postgres::drop_database(admin, &postgres::database_name(url)?).await
}
