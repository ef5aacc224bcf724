//! A simulated worker agent: test code that speaks the worker routes through the agent's own
//! client (`gantry_worker::client::ServerClient`), so scenarios can decide exactly when a
//! worker heartbeats, starts, finishes or goes silent.

use super::TestServer;
use gantry_api::{
    GetJobRequest, GetJobResponse, HeartbeatRequest, HeartbeatResponse, Job, RegisterWorkerRequest,
    StartJobRequest, SubmitResultRequest,
};
use gantry_worker::client::{ClientError, Retry, ServerClient};
use reqwest::StatusCode;
use serde::Serialize;
use serde_json::{json, Value};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// One simulated agent.
pub struct SimWorker<'a> {
    /// The server it talks to.
    pub server: &'a TestServer,
    /// Its id.
    pub id: String,
    /// Its per-worker token, when the server hands them out.
    pub token: Option<String>,
    /// The agent's client, holding that token.
    client: Arc<ServerClient>,
}

/// One try per call: a test wants the server's first answer, refusals included.
fn once() -> Retry {
    Retry::times(1, &CancellationToken::new())
}

/// A call's outcome as the status and JSON body the server answered with.
fn answer<T: Serialize>(result: Result<T, ClientError>) -> (StatusCode, Value) {
    match result {
        Ok(body) => (StatusCode::OK, serde_json::to_value(body).unwrap()),
        Err(ClientError::Refused {
            status,
            code,
            message,
            field,
        }) => (
            StatusCode::from_u16(status).unwrap(),
            json!({"error": {"code": code, "message": message, "field": field}}),
        ),
        Err(e) => panic!("the server did not answer: {e}"),
    }
}

impl<'a> SimWorker<'a> {
    /// Registers a worker with this capacity.
    pub async fn register(
        server: &'a TestServer,
        id: &str,
        cpu: f64,
        ram_mb: i64,
        parallel: i64,
    ) -> SimWorker<'a> {
        let client = ServerClient::with_http(server.http.clone(), &server.base, None).unwrap();
        let body = RegisterWorkerRequest {
            worker_id: Some(id.to_string()),
            hostname: format!("{id}.test"),
            cpu_cores: cpu,
            ram_total_mb: ram_mb,
            ram_free_mb: ram_mb,
            cpu_usage: 1.0,
            max_parallel_jobs: parallel,
            version: Some("test".into()),
            executor: Some("process".into()),
            ..Default::default()
        };
        if let Err(e) = client.register(&body, &once()).await {
            panic!("register failed: {e}");
        }
        SimWorker {
            server,
            id: id.to_string(),
            token: client.worker_token(),
            client: Arc::new(client),
        }
    }

    /// Posts a hand-made `body` to a worker route with this worker's token (for bodies the
    /// protocol's client would not send, such as a batch mixing good and bad items).
    pub async fn call(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let mut request = self.server.http.post(self.server.url(path)).json(&body);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let r = request.send().await.unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// The heartbeat body reporting these running jobs.
    fn beat(&self, cpu_usage: f64, running: &[&str]) -> HeartbeatRequest {
        HeartbeatRequest {
            worker_id: self.id.clone(),
            cpu_usage,
            ram_free_mb: 100,
            running_job_ids: running.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    /// Sends a heartbeat reporting these running jobs.
    pub async fn heartbeat(&self, running: &[&str]) -> HeartbeatResponse {
        match self
            .client
            .heartbeat(&self.beat(5.0, running), &once())
            .await
        {
            Ok(answer) => answer,
            Err(e) => panic!("heartbeat failed: {e}"),
        }
    }

    /// Polls for up to `max` jobs, waiting up to `wait_ms`.
    pub async fn poll(&self, max: i64, wait_ms: i64) -> GetJobResponse {
        self.poll_reporting(max, wait_ms, &[]).await
    }

    /// Polls while reporting running jobs (the answer then carries stop instructions).
    pub async fn poll_reporting(&self, max: i64, wait_ms: i64, running: &[&str]) -> GetJobResponse {
        let body = GetJobRequest {
            worker_id: self.id.clone(),
            max: Some(max),
            wait_ms: Some(wait_ms),
            running_job_ids: Some(running.iter().map(|s| s.to_string()).collect()),
            start_on_delivery: false,
            results: Vec::new(),
        };
        match self.client.get_job(&body, &once()).await {
            Ok(answer) => answer,
            Err(e) => panic!("get-job failed: {e}"),
        }
    }

    /// Polls until one job arrives (within 5 s).
    pub async fn take_one(&self) -> Job {
        for _ in 0..10 {
            if let Some(job) = self.poll(1, 500).await.jobs.into_iter().next() {
                return job;
            }
        }
        panic!("worker {} got no job", self.id);
    }

    /// Says the attempt started.
    pub async fn start(&self, job: &Job) -> (StatusCode, Value) {
        let body = StartJobRequest {
            worker_id: self.id.clone(),
            job_id: job.id.clone(),
            attempt: job.attempts,
            pulling: false,
        };
        answer(self.client.start_job(&body, &once()).await)
    }

    /// Reports the attempt's end with an exit code.
    pub async fn finish(&self, job: &Job, exit_code: i64) -> (StatusCode, Value) {
        self.finish_with(
            job,
            json!({"exitCode": exit_code, "stdout": "out", "stderr": "",
            "durationMs": 5}),
        )
        .await
    }

    /// Reports the attempt's end with these result fields (the API's names).
    pub async fn finish_with(&self, job: &Job, fields: Value) -> (StatusCode, Value) {
        let mut body = json!({"workerId": self.id, "jobId": job.id, "attempt": job.attempts});
        for (k, v) in fields.as_object().unwrap() {
            body[k] = v.clone();
        }
        let result: SubmitResultRequest = serde_json::from_value(body).unwrap();
        answer(self.client.submit_result(&result, &once()).await)
    }

    /// Heartbeats every 100 ms (reporting no job) until the returned guard is dropped, so the
    /// worker stays online through a scenario.
    pub fn keep_alive(&self) -> KeepAlive {
        let client = self.client.clone();
        let body = self.beat(1.0, &[]);
        KeepAlive(tokio::spawn(async move {
            loop {
                let _ = client.heartbeat(&body, &once()).await;
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }))
    }

    /// Starts and finishes a job with exit code 0, asserting both were accepted.
    pub async fn run_ok(&self, job: &Job) {
        assert_eq!(self.start(job).await.0, StatusCode::OK);
        assert_eq!(self.finish(job, 0).await.0, StatusCode::OK);
    }
}

/// Stops a worker's heartbeats when dropped.
pub struct KeepAlive(tokio::task::JoinHandle<()>);

impl Drop for KeepAlive {
    fn drop(&mut self) {
        self.0.abort();
    }
}
