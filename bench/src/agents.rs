//! Simulated agents and clients: the worker protocol through the agent's own client
//! (`gantry_worker::client::ServerClient`), and the client routes over HTTP; nothing executed.

use anyhow::bail;
use gantry_api::{
    BatchResponse, GetJobRequest, HeartbeatRequest, Job, JobAttempt, RegisterWorkerRequest,
    StartJobRequest, StartJobsRequest, SubmitResultRequest, SubmitResultsRequest,
};
use gantry_worker::client::{Retry, ServerClient};
use serde_json::json;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// An agent that speaks the worker protocol and executes nothing.
#[derive(Clone)]
pub struct SimAgent {
    client: Arc<ServerClient>,
    /// The worker id it registered with and sends on every call.
    pub id: String,
}

/// One try per call: a refused or failed call fails the figure.
fn once() -> Retry {
    Retry::times(1, &CancellationToken::new())
}

impl SimAgent {
    /// Registers an agent with room for `parallel` no-op jobs; a `tight` one is the best fit
    /// for them, so placement prefers it to any other.
    pub async fn register(
        http: &reqwest::Client,
        base: &str,
        id: &str,
        parallel: i64,
        tight: bool,
    ) -> anyhow::Result<SimAgent> {
        let (cpu_cores, ram_mb) = if tight { (0.01, 16) } else { (1024.0, 1 << 20) };
        let body = RegisterWorkerRequest {
            worker_id: Some(id.to_string()),
            hostname: format!("{id}.bench"),
            cpu_cores,
            ram_total_mb: ram_mb,
            ram_free_mb: ram_mb,
            max_parallel_jobs: parallel,
            executor: Some("process".into()),
            ..Default::default()
        };
        let client = ServerClient::with_http(http.clone(), base, None)?;
        if let Err(e) = client.register(&body, &once()).await {
            bail!("register {id}: {e}");
        }
        Ok(SimAgent {
            client: Arc::new(client),
            id: id.to_string(),
        })
    }

    /// Long-polls for up to `max` jobs.
    pub async fn poll(&self, max: i64, wait_ms: i64) -> anyhow::Result<Vec<Job>> {
        let body = GetJobRequest {
            worker_id: self.id.clone(),
            max: Some(max),
            wait_ms: Some(wait_ms),
            running_job_ids: None,
            start_on_delivery: false,
            results: Vec::new(),
        };
        Ok(self.client.get_job(&body, &once()).await?.jobs)
    }

    /// One heartbeat reporting no job and changing usage figures only (as most of a real
    /// agent's heartbeats do).
    pub async fn heartbeat(&self, cpu_usage: f64) -> anyhow::Result<()> {
        let body = HeartbeatRequest {
            worker_id: self.id.clone(),
            cpu_usage,
            ram_free_mb: 1 << 19,
            ram_total_mb: 0,
            running_job_ids: Vec::new(),
            executor_ok: Some(true),
            draining: Some(false),
            images: None,
        };
        if let Err(e) = self.client.heartbeat(&body, &once()).await {
            bail!("heartbeat {}: {e}", self.id);
        }
        Ok(())
    }

    /// Starts and finishes a job with exit code 0.
    pub async fn run_noop(&self, job: &Job) -> anyhow::Result<()> {
        let start = StartJobRequest {
            worker_id: self.id.clone(),
            job_id: job.id.clone(),
            attempt: job.attempts,
            pulling: false,
        };
        if let Err(e) = self.client.start_job(&start, &once()).await {
            bail!("start: {e}");
        }
        if let Err(e) = self.client.submit_result(&self.success(job), &once()).await {
            bail!("submit-result: {e}");
        }
        Ok(())
    }

    /// Starts and finishes many jobs with exit code 0: one start-batch and one
    /// submit-result-batch call.
    pub async fn run_noop_batch(&self, jobs: &[Job]) -> anyhow::Result<()> {
        let starts = StartJobsRequest {
            worker_id: self.id.clone(),
            jobs: jobs
                .iter()
                .map(|j| JobAttempt {
                    job_id: j.id.clone(),
                    attempt: j.attempts,
                    pulling: false,
                })
                .collect(),
        };
        check(
            "start-batch",
            self.client.start_jobs(&starts, &once()).await?,
        )?;
        let results = SubmitResultsRequest {
            worker_id: self.id.clone(),
            results: jobs.iter().map(|j| self.success(j)).collect(),
        };
        let answer = self.client.submit_results(&results, &once()).await?;
        check("submit-result-batch", answer)
    }

    /// The result of a no-op attempt that succeeded at once.
    fn success(&self, job: &Job) -> SubmitResultRequest {
        SubmitResultRequest {
            worker_id: self.id.clone(),
            job_id: job.id.clone(),
            attempt: job.attempts,
            exit_code: Some(0),
            stdout: Some(String::new()),
            duration_ms: Some(0),
            ..Default::default()
        }
    }
}

/// Fails when the server refused an item of a batch.
fn check(path: &str, answer: BatchResponse) -> anyhow::Result<()> {
    if let Some(refused) = answer.results.iter().find(|o| o.error.is_some()) {
        bail!("{path} refused {}: {:?}", refused.job_id, refused.error);
    }
    Ok(())
}

/// Creates `count` no-op jobs in one create-batch call.
pub async fn create_batch(
    http: &reqwest::Client,
    base: &str,
    command: &str,
    count: usize,
) -> anyhow::Result<()> {
    let job = json!({"command": command, "requiredCpu": 0.001, "requiredRamMb": 8});
    create_batch_of(http, base, &job, count).await
}

/// Creates `count` copies of the job `job` (a create request's JSON) in one create-batch call.
pub async fn create_batch_of(
    http: &reqwest::Client,
    base: &str,
    job: &serde_json::Value,
    count: usize,
) -> anyhow::Result<()> {
    let r = http
        .post(format!("{base}/api/jobs/create-batch"))
        .json(&json!({"jobs": vec![job; count]}))
        .send()
        .await?;
    if !r.status().is_success() {
        bail!("create-batch: {}", r.text().await?);
    }
    Ok(())
}

/// Creates one no-op job over REST.
pub async fn create(http: &reqwest::Client, base: &str, command: &str) -> anyhow::Result<Job> {
    let r = http
        .post(format!("{base}/api/jobs/create"))
        .json(&json!({"command": command, "requiredCpu": 0.001, "requiredRamMb": 8}))
        .send()
        .await?;
    if !r.status().is_success() {
        bail!("create: {}", r.text().await?);
    }
    Ok(r.json().await?)
}
