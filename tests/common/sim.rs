//! A simulated worker agent: test code that speaks the worker routes, so scenarios can decide
//! exactly when a worker heartbeats, starts, finishes or goes silent.

use super::TestServer;
use gantry_api::{GetJobResponse, HeartbeatResponse, Job};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// One simulated agent.
pub struct SimWorker<'a> {
    /// The server it talks to.
    pub server: &'a TestServer,
    /// Its id.
    pub id: String,
    /// Its per-worker token, when the server hands them out.
    pub token: Option<String>,
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
        let body = json!({
            "workerId": id, "hostname": format!("{id}.test"), "cpuCores": cpu,
            "ramTotalMb": ram_mb, "ramFreeMb": ram_mb, "cpuUsage": 1.0,
            "maxParallelJobs": parallel, "version": "test", "executor": "process"
        });
        let (status, answer) = server.post("/api/workers/register", &body).await;
        assert_eq!(status, StatusCode::OK, "register failed: {answer}");
        SimWorker {
            server,
            id: id.to_string(),
            token: answer["token"].as_str().map(str::to_string),
        }
    }

    /// Posts `body` to a worker route with this worker's token.
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

    /// Sends a heartbeat reporting these running jobs.
    pub async fn heartbeat(&self, running: &[&str]) -> HeartbeatResponse {
        let (status, answer) = self
            .call(
                "/api/workers/heartbeat",
                json!({"workerId": self.id, "cpuUsage": 5.0,
                "ramFreeMb": 100, "runningJobIds": running}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "heartbeat failed: {answer}");
        serde_json::from_value(answer).unwrap()
    }

    /// Polls for up to `max` jobs, waiting up to `wait_ms`.
    pub async fn poll(&self, max: i64, wait_ms: i64) -> GetJobResponse {
        self.poll_reporting(max, wait_ms, &[]).await
    }

    /// Polls while reporting running jobs (the answer then carries stop instructions).
    pub async fn poll_reporting(&self, max: i64, wait_ms: i64, running: &[&str]) -> GetJobResponse {
        let (status, answer) = self
            .call(
                "/api/jobs/get-job",
                json!({"workerId": self.id, "max": max,
                "waitMs": wait_ms, "runningJobIds": running}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "get-job failed: {answer}");
        serde_json::from_value(answer).unwrap()
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
        self.call(
            "/api/jobs/start",
            json!({"workerId": self.id, "jobId": job.id,
            "attempt": job.attempts}),
        )
        .await
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

    /// Reports the attempt's end with these result fields.
    pub async fn finish_with(&self, job: &Job, fields: Value) -> (StatusCode, Value) {
        let mut body = json!({"workerId": self.id, "jobId": job.id, "attempt": job.attempts});
        for (k, v) in fields.as_object().unwrap() {
            body[k] = v.clone();
        }
        self.call("/api/jobs/submit-result", body).await
    }

    /// Heartbeats every 100 ms (reporting no job) until the returned guard is dropped, so the
    /// worker stays online through a scenario.
    pub fn keep_alive(&self) -> KeepAlive {
        let http = self.server.http.clone();
        let url = self.server.url("/api/workers/heartbeat");
        let body = json!({"workerId": self.id, "cpuUsage": 1.0, "ramFreeMb": 100});
        let token = self.token.clone();
        KeepAlive(tokio::spawn(async move {
            loop {
                let mut request = http.post(&url).json(&body);
                if let Some(token) = &token {
                    request = request.bearer_auth(token);
                }
                let _ = request.send().await;
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
