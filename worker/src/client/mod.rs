//! The client of the server's worker protocol: the agent's only way to talk to the server,
//! also used by simulated agents (bench, tests). Bearer tokens, retries with capped,
//! jittered exponential backoff, and the server's error shape turned into [`ClientError`].

mod batcher;
mod call;
mod download;
mod error;
mod retry;

pub use batcher::{
    outcome, BatchRoute, BatchSettings, Batcher, CallResult, Queued, ResultRoute, StartRoute,
};
pub use error::ClientError;
pub use retry::{backoff_delay, Retry};

use gantry_api::{
    BatchResponse, GetJobRequest, GetJobResponse, HeartbeatRequest, HeartbeatResponse, Job,
    RegisterWorkerRequest, RegisterWorkerResponse, Servers, StartJobRequest, StartJobsRequest,
    SubmitResultRequest, SubmitResultsRequest,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::RwLock;
use std::time::Duration;

/// Time allowed for an ordinary call (long polls get their wait on top).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Time allowed to connect to the server.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A client for the server's worker routes.
#[derive(Debug)]
pub struct ServerClient {
    /// The pooled HTTP client.
    http: reqwest::Client,
    /// The servers' base URLs (replicas of one service) and which one is in use.
    servers: Servers,
    /// The join token sent with registration.
    join_token: Option<String>,
    /// The per-worker token returned by registration; a std lock since it is never held
    /// across an await.
    worker_token: RwLock<Option<String>>,
}

impl ServerClient {
    /// A client for the server at `base_url` (or a comma-separated list of replicas),
    /// joining with `join_token`, on its own HTTP client (connect timeout,
    /// `gantry-worker/<version>` user agent).
    pub fn new(base_url: &str, join_token: Option<String>) -> Result<ServerClient, ClientError> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("gantry-worker/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        ServerClient::with_http(http, base_url, join_token)
    }

    /// A client on the caller's HTTP client, for callers that size its connection pool
    /// themselves (the bench wants a big one, tests none: `pool_max_idle_per_host(0)`).
    pub fn with_http(
        http: reqwest::Client,
        base_url: &str,
        join_token: Option<String>,
    ) -> Result<ServerClient, ClientError> {
        Ok(ServerClient {
            http,
            servers: Servers::parse(base_url).map_err(ClientError::BadUrl)?,
            join_token,
            worker_token: RwLock::new(None),
        })
    }

    /// The server in use now (the first of the list until one cannot be reached).
    pub fn server(&self) -> &str {
        self.servers.current()
    }

    /// The per-worker token the last registration returned, if any.
    pub fn worker_token(&self) -> Option<String> {
        self.worker_token.read().expect("token lock").clone()
    }

    /// Takes up a per-worker token kept from an earlier life of this agent (its state file), so
    /// the next registration proves it is that worker.
    pub fn resume_with(&self, worker_token: Option<String>) {
        *self.worker_token.write().expect("token lock") = worker_token;
    }

    /// The token for worker routes: the per-worker one, else the join token.
    fn token(&self) -> Option<String> {
        self.worker_token().or_else(|| self.join_token.clone())
    }

    /// `POST /api/workers/register`; keeps the returned per-worker token. An agent resuming a
    /// worker (see [`ServerClient::resume_with`]) proves it with that worker's token; when the
    /// server no longer takes it (its database was reset, say), it joins with the join token.
    pub async fn register(
        &self,
        body: &RegisterWorkerRequest,
        retry: &Retry,
    ) -> Result<RegisterWorkerResponse, ClientError> {
        let path = "/api/workers/register";
        let resp: RegisterWorkerResponse = match self.worker_token() {
            Some(own) => {
                let first = self
                    .call_json(path, body, Some(own), REQUEST_TIMEOUT, retry)
                    .await;
                match first {
                    Err(ClientError::Refused { status, .. }) if status == 401 || status == 403 => {
                        tracing::info!(
                            "the server does not take this worker's saved token: joining anew"
                        );
                        self.resume_with(None);
                        let token = self.join_token.clone();
                        self.call_json(path, body, token, REQUEST_TIMEOUT, retry)
                            .await?
                    }
                    other => other?,
                }
            }
            None => {
                let token = self.join_token.clone();
                self.call_json(path, body, token, REQUEST_TIMEOUT, retry)
                    .await?
            }
        };
        if let Some(t) = &resp.token {
            *self.worker_token.write().expect("token lock") = Some(t.clone());
        }
        Ok(resp)
    }

    /// `POST /api/workers/heartbeat`.
    pub async fn heartbeat(
        &self,
        body: &HeartbeatRequest,
        retry: &Retry,
    ) -> Result<HeartbeatResponse, ClientError> {
        self.worker_call("/api/workers/heartbeat", body, retry)
            .await
    }

    /// `POST /api/jobs/get-job`, a long poll of up to `waitMs`.
    pub async fn get_job(
        &self,
        body: &GetJobRequest,
        retry: &Retry,
    ) -> Result<GetJobResponse, ClientError> {
        let wait = Duration::from_millis(body.wait_ms.unwrap_or(0).max(0) as u64);
        self.call_json(
            "/api/jobs/get-job",
            body,
            self.token(),
            REQUEST_TIMEOUT + wait,
            retry,
        )
        .await
    }

    /// `POST /api/jobs/start`; returns the job as the server now has it (RUNNING).
    pub async fn start_job(
        &self,
        body: &StartJobRequest,
        retry: &Retry,
    ) -> Result<Job, ClientError> {
        self.worker_call("/api/jobs/start", body, retry).await
    }

    /// `POST /api/jobs/submit-result`; returns the job as the result left it.
    pub async fn submit_result(
        &self,
        body: &SubmitResultRequest,
        retry: &Retry,
    ) -> Result<Job, ClientError> {
        self.worker_call("/api/jobs/submit-result", body, retry)
            .await
    }

    /// `POST /api/jobs/start-batch`: one outcome per attempt, in the order sent.
    pub async fn start_jobs(
        &self,
        body: &StartJobsRequest,
        retry: &Retry,
    ) -> Result<BatchResponse, ClientError> {
        self.worker_call("/api/jobs/start-batch", body, retry).await
    }

    /// `POST /api/jobs/submit-result-batch`: one outcome per result, in the order sent.
    pub async fn submit_results(
        &self,
        body: &SubmitResultsRequest,
        retry: &Retry,
    ) -> Result<BatchResponse, ClientError> {
        self.worker_call("/api/jobs/submit-result-batch", body, retry)
            .await
    }

    /// An ordinary worker call: the worker's token and the ordinary timeout.
    async fn worker_call<B: Serialize, R: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        retry: &Retry,
    ) -> Result<R, ClientError> {
        self.call_json(path, body, self.token(), REQUEST_TIMEOUT, retry)
            .await
    }
}

#[cfg(test)]
mod tests;
