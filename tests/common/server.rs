//! An in-process server on 127.0.0.1:0 with fast timers, and a JSON client for it.

use super::TestDb;
use gantry::config::ServeConfig;
use gantry_api::{Job, JobStatus, JobStatusResponse, WorkersListResponse};
use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// A running server.
pub struct TestServer {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The HTTP client.
    pub http: reqwest::Client,
    shutdown: CancellationToken,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// Settings for tests: every interval short, so a 30 s scenario takes well under 2 s.
pub fn fast_config(db: &TestDb) -> ServeConfig {
    ServeConfig {
        database_url: db.url.clone(),
        database_pooler: db.pooler,
        heartbeat_timeout: Duration::from_millis(600),
        sweep_interval: Duration::from_millis(50),
        worker_cooldown: Duration::from_millis(700),
        retry_backoff: Duration::from_millis(50),
        retry_backoff_cap: Duration::from_millis(200),
        job_timeout_grace: Duration::from_millis(100),
        orphan_grace: Duration::from_millis(300),
        ..ServeConfig::default()
    }
}

impl TestServer {
    /// Starts a server with [`fast_config`].
    pub async fn start(db: &TestDb) -> TestServer {
        Self::start_with(fast_config(db)).await
    }

    /// Starts a server with [`fast_config`] but a long heartbeat timeout: for tests whose
    /// simulated workers send no heartbeats and must not be lost while a loaded machine runs
    /// them slowly.
    pub async fn start_steady(db: &TestDb) -> TestServer {
        let mut config = fast_config(db);
        config.heartbeat_timeout = Duration::from_secs(30);
        Self::start_with(config).await
    }

    /// Starts a server with these settings.
    pub async fn start_with(config: ServeConfig) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(gantry::server::run(config, listener, shutdown.clone()));
        let server = TestServer {
            base,
            http: client(),
            shutdown,
            task: Some(task),
        };
        server.wait_ready().await;
        server
    }

    /// A client for a server running elsewhere (another process).
    pub async fn attach(base: String) -> TestServer {
        let server = TestServer {
            base,
            http: client(),
            shutdown: CancellationToken::new(),
            task: None,
        };
        server.wait_ready().await;
        server
    }

    /// Waits until `/readyz` answers 200.
    pub async fn wait_ready(&self) {
        super::eventually(
            "the server to be ready",
            Duration::from_secs(20),
            || async {
                let r = self.http.get(self.url("/readyz")).send().await.ok()?;
                r.status().is_success().then_some(())
            },
        )
        .await;
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }

    /// An absolute URL.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// POSTs JSON; the status and the JSON answer (Null when empty).
    pub async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        let r = self
            .http
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap();
        decode(r).await
    }

    /// GETs; the status and the JSON answer.
    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        decode(self.http.get(self.url(path)).send().await.unwrap()).await
    }

    /// Creates a job, asserting it was accepted.
    pub async fn create(&self, body: Value) -> Job {
        let (status, json) = self.post("/api/jobs/create", &body).await;
        assert_eq!(status, StatusCode::CREATED, "create failed: {json}");
        serde_json::from_value(json).unwrap()
    }

    /// A job with its history.
    pub async fn status(&self, id: &str) -> JobStatusResponse {
        let (status, json) = self.get(&format!("/api/jobs/status?jobId={id}")).await;
        assert_eq!(status, StatusCode::OK, "status failed: {json}");
        serde_json::from_value(json).unwrap()
    }

    /// The fleet.
    pub async fn workers(&self) -> WorkersListResponse {
        let (status, json) = self.get("/api/workers/list").await;
        assert_eq!(status, StatusCode::OK, "{json}");
        serde_json::from_value(json).unwrap()
    }

    /// Waits until the job is in `want`.
    pub async fn wait_status(
        &self,
        id: &str,
        want: JobStatus,
        within: Duration,
    ) -> JobStatusResponse {
        super::eventually(&format!("job {id} to be {want}"), within, || async {
            let s = self.status(id).await;
            (s.job.status == want).then_some(s)
        })
        .await
    }
}

/// A client that opens a connection per request: a server that refuses a body early (413)
/// closes its connection, and a pooled client would then fail the next request on it.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("an HTTP client")
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn decode(r: reqwest::Response) -> (StatusCode, Value) {
    let status = r.status();
    let text = r.text().await.unwrap();
    let json = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, json)
}
