//! The server under measurement: in this process, on 127.0.0.1, on a fresh database.

use crate::config::ServeConfig;
use crate::repo::Repo;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

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
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    _dir: Option<tempfile::TempDir>,
}

impl Target {
    /// Starts a server on a fresh SQLite file, or a fresh database on the PostgreSQL server.
    pub async fn start(postgres: Option<&str>) -> anyhow::Result<Target> {
        let (url, backend, dir) = match postgres {
            Some(admin) => (fresh_postgres(admin).await?, "postgres", None),
            None => {
                let dir = tempfile::tempdir()?;
                let url = format!("sqlite://{}", dir.path().join("bench.db").display());
                (url, "sqlite", Some(dir))
            }
        };
        let config = ServeConfig {
            database_url: url.clone(),
            heartbeat_timeout: Duration::from_secs(600),
            sweep_interval: Duration::from_secs(1),
            ..ServeConfig::default()
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(crate::server::run(
            config.clone(),
            listener,
            shutdown.clone(),
        ));
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .build()?;
        for _ in 0..200 {
            if http
                .get(format!("{base}/readyz"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let repo = crate::repo::connect(&url, config.policy()).await?;
        Ok(Target {
            base,
            backend,
            repo,
            http,
            shutdown,
            task,
            _dir: dir,
        })
    }

    /// Stops the server.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.task.await;
    }
}

async fn fresh_postgres(admin: &str) -> anyhow::Result<String> {
    let name = format!("gantry_bench_{}", uuid::Uuid::new_v4().simple());
    let pool = sqlx::PgPool::connect(admin).await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&pool)
        .await?;
    pool.close().await;
    let base = admin.rsplit_once('/').map_or(admin, |(base, _)| base);
    Ok(format!("{base}/{name}"))
}
