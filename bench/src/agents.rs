//! Simulated agents and clients: the worker and client routes over HTTP, nothing executed.

use anyhow::{bail, Context};
use gantry_api::{GetJobResponse, Job, RegisterWorkerRequest};
use serde_json::json;

/// An agent that speaks the worker protocol over HTTP and executes nothing.
#[derive(Clone)]
pub struct SimAgent {
    http: reqwest::Client,
    base: String,
    /// The worker id it registered with and sends on every call.
    pub id: String,
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
        let r = http
            .post(format!("{base}/api/workers/register"))
            .json(&body)
            .send()
            .await?;
        if !r.status().is_success() {
            bail!("register {id}: {}", r.text().await?);
        }
        Ok(SimAgent {
            http: http.clone(),
            base: base.to_string(),
            id: id.to_string(),
        })
    }

    /// Long-polls for up to `max` jobs.
    pub async fn poll(&self, max: i64, wait_ms: i64) -> anyhow::Result<Vec<Job>> {
        let r = self
            .http
            .post(format!("{}/api/jobs/get-job", self.base))
            .json(&json!({"workerId": self.id, "max": max, "waitMs": wait_ms}))
            .send()
            .await?;
        let answer: GetJobResponse = r.json().await.context("get-job answer")?;
        Ok(answer.jobs)
    }

    /// Starts and finishes a job with exit code 0.
    pub async fn run_noop(&self, job: &Job) -> anyhow::Result<()> {
        for (path, extra) in [
            ("start", json!({})),
            (
                "submit-result",
                json!({"exitCode": 0, "stdout": "", "durationMs": 0}),
            ),
        ] {
            let mut body = json!({"workerId": self.id, "jobId": job.id, "attempt": job.attempts});
            for (k, v) in extra.as_object().expect("object") {
                body[k] = v.clone();
            }
            self.post(path, &body).await?;
        }
        Ok(())
    }
}

impl SimAgent {
    /// Posts to a job route of the worker protocol; a refusal is an error with its body.
    async fn post(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> anyhow::Result<reqwest::Response> {
        let r = self
            .http
            .post(format!("{}/api/jobs/{path}", self.base))
            .json(body)
            .send()
            .await?;
        if !r.status().is_success() {
            bail!("{path}: {}", r.text().await?);
        }
        Ok(r)
    }

    /// Starts and finishes many jobs with exit code 0: one start-batch and one
    /// submit-result-batch call.
    pub async fn run_noop_batch(&self, jobs: &[Job]) -> anyhow::Result<()> {
        let starts: Vec<_> = jobs
            .iter()
            .map(|j| json!({"jobId": j.id, "attempt": j.attempts}))
            .collect();
        let results: Vec<_> = jobs
            .iter()
            .map(|j| json!({"jobId": j.id, "attempt": j.attempts, "exitCode": 0, "stdout": "", "durationMs": 0}))
            .collect();
        for (path, body) in [
            ("start-batch", json!({"workerId": self.id, "jobs": starts})),
            (
                "submit-result-batch",
                json!({"workerId": self.id, "results": results}),
            ),
        ] {
            let answer: gantry_api::BatchResponse = self.post(path, &body).await?.json().await?;
            if let Some(refused) = answer.results.iter().find(|o| o.error.is_some()) {
                bail!("{path} refused {}: {:?}", refused.job_id, refused.error);
            }
        }
        Ok(())
    }
}

/// Creates `count` no-op jobs in one create-batch call.
pub async fn create_batch(
    http: &reqwest::Client,
    base: &str,
    command: &str,
    count: usize,
) -> anyhow::Result<()> {
    let job = json!({"command": command, "requiredCpu": 0.001, "requiredRamMb": 8});
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
