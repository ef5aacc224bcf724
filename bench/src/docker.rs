//! Figure 5: Docker overhead: the same `true` job run through gantry (a real server, a real
//! `gantry-worker` with the Docker executor, one container per job) and as a bare
//! `docker run --rm`, alternately in the same run so machine noise hits both alike; the ratio
//! of the median times (its budget is in BENCHMARKS.md).
//!
//! Without a Docker engine, the local test image or the agent binary this figure is skipped
//! loudly on stderr (the other figures still run), unless `GANTRY_REQUIRE_DOCKER=1`. To see
//! where a job's time goes: `GANTRY_BENCH_STEPS=1` prints each job's steps from its history,
//! `GANTRY_BENCH_AGENT_LOG` sets the agent's `RUST_LOG` (its log is printed if the run fails).

use crate::stats::median;
use crate::target::{Launch, Target};
use crate::{binaries, BenchArgs, Figure};
use anyhow::{bail, Context};
use gantry_api::{Job, JobStatusResponse, WorkerStatus, WorkersListResponse};
use serde_json::json;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// The image both ways run: the local busybox image of `scripts/build-test-image.sh`.
pub const IMAGE: &str = "gantry-test-busybox:latest";
/// Runs timed each way; `--quick` does 2.
const RUNS: usize = 20;
/// How often the client re-reads the job while it waits for its end.
const STATUS_POLL: Duration = Duration::from_millis(5);
/// The longest one run may take before the bench gives up.
const RUN_LIMIT: Duration = Duration::from_secs(60);
/// The agent's worker id, to find it in the worker list.
const AGENT_ID: &str = "bench-docker";

/// The three figures, or none when Docker is not usable here (and not required).
pub async fn run(args: &BenchArgs, launch: &Launch) -> anyhow::Result<Vec<Figure>> {
    let Some(agent_bin) = agent_or_skip("docker").await? else {
        return Ok(Vec::new());
    };
    let runs = if args.quick { 2 } else { RUNS };
    let target = Target::start(launch).await?;
    let backend = target.backend;
    let result = measure(&target, &agent_bin, runs).await;
    target.stop().await;
    let (gantry, bare) = result?;
    let (gantry_ms, bare_ms) = (median(gantry), median(bare));
    let setting = format!("{runs} runs of `true`");
    let figure = |figure, value, unit| Figure {
        figure,
        backend,
        setting: setting.clone(),
        value,
        unit,
    };
    Ok(vec![
        figure("docker_gantry_ms", gantry_ms, "ms"),
        figure("docker_bare_ms", bare_ms, "ms"),
        figure("docker_overhead_ratio", gantry_ms / bare_ms, "x"),
    ])
}

/// Starts the agent and times `runs` jobs each way, alternating which goes first.
async fn measure(
    target: &Target,
    agent_bin: &PathBuf,
    runs: usize,
) -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
    let work = tempfile::tempdir()?;
    let log_path = work.path().join("agent.log");
    let mut agent = tokio::process::Command::new(agent_bin)
        .env("GANTRY_URL", &target.base)
        .env("WORKER_ID", AGENT_ID)
        .env("ENABLE_DOCKER", "true")
        .env("MAX_PARALLEL_JOBS", "1")
        .env("HEARTBEAT_INTERVAL", "1s")
        .env("GANTRY_WORK_DIR", work.path().join("jobs"))
        .env("GANTRY_STATE_DIR", work.path().join("state"))
        .env(
            "RUST_LOG",
            std::env::var("GANTRY_BENCH_AGENT_LOG").unwrap_or("warn".into()),
        )
        .env_remove("GANTRY_WORKER_TOKEN")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path)?)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("start {}", agent_bin.display()))?;
    let measured = async {
        wait_agent(target).await?;
        // One untimed run each way: the first container of a run pays for cold caches.
        run_gantry(target).await?;
        run_bare().await?;
        let (mut gantry, mut bare) = (Vec::new(), Vec::new());
        for i in 0..runs {
            if i % 2 == 0 {
                gantry.push(run_gantry(target).await?);
                bare.push(run_bare().await?);
            } else {
                bare.push(run_bare().await?);
                gantry.push(run_gantry(target).await?);
            }
        }
        anyhow::Ok((gantry, bare))
    }
    .await;
    let _ = agent.kill().await;
    if measured.is_err() {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        eprintln!("docker figure: the agent's log:\n{log}");
    }
    measured
}

/// One job through gantry: milliseconds from the create call to the client seeing it end.
async fn run_gantry(target: &Target) -> anyhow::Result<f64> {
    let started = Instant::now();
    let r = target
        .http
        .post(format!("{}/api/jobs/create", target.base))
        .json(&json!({"command": "true", "image": IMAGE}))
        .send()
        .await?;
    if !r.status().is_success() {
        bail!("create: {}", r.text().await?);
    }
    let job: Job = r.json().await?;
    loop {
        let status: JobStatusResponse = target
            .http
            .get(format!("{}/api/jobs/status", target.base))
            .query(&[("jobId", &job.id)])
            .send()
            .await?
            .json()
            .await
            .context("status answer")?;
        if status.job.status.is_terminal() {
            let millis = started.elapsed().as_secs_f64() * 1000.0;
            if status.job.exit_code != Some(0) {
                bail!(
                    "job {} ended {:?}: {:?}",
                    job.id,
                    status.job.status,
                    status.job.error
                );
            }
            steps(&status);
            return Ok(millis);
        }
        if started.elapsed() > RUN_LIMIT {
            bail!("job {} did not end within {RUN_LIMIT:?}", job.id);
        }
        tokio::time::sleep(STATUS_POLL).await;
    }
}

/// With `GANTRY_BENCH_STEPS=1`, where the time of a job went, from its history, on stderr.
fn steps(status: &JobStatusResponse) {
    if std::env::var("GANTRY_BENCH_STEPS").is_err() {
        return;
    }
    let mut last = status.job.created_at;
    let mut parts = Vec::new();
    for entry in &status.history {
        parts.push(format!("{} +{}", entry.to_status, entry.at - last));
        last = entry.at;
    }
    let run = status.job.duration_ms.unwrap_or(0);
    eprintln!(
        "docker job {}: {} (container ran {run} ms)",
        status.job.id,
        parts.join(", ")
    );
}

/// One bare `docker run --rm`: milliseconds until it exits.
async fn run_bare() -> anyhow::Result<f64> {
    let started = Instant::now();
    let out = tokio::process::Command::new("docker")
        .args(["run", "--rm", "--network", "none", IMAGE, "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .await?;
    if !out.status.success() {
        bail!("docker run: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(started.elapsed().as_secs_f64() * 1000.0)
}

/// Waits for the agent to register with a working Docker executor.
async fn wait_agent(target: &Target) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let list: WorkersListResponse = target
            .http
            .get(format!("{}/api/workers/list", target.base))
            .send()
            .await?
            .json()
            .await?;
        if list
            .workers
            .iter()
            .any(|w| w.id == AGENT_ID && w.status == WorkerStatus::Idle)
        {
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(30) {
            bail!("the agent did not register as IDLE within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The agent binary for `figure` when Docker is usable; `None` (skipped loudly) when it is
/// not, or an error when `GANTRY_REQUIRE_DOCKER=1` requires it.
pub(crate) async fn agent_or_skip(figure: &str) -> anyhow::Result<Option<PathBuf>> {
    match ready().await {
        Ok(bin) => Ok(Some(bin)),
        Err(why) if std::env::var("GANTRY_REQUIRE_DOCKER").is_ok_and(|v| v == "1") => {
            bail!("{figure} figure: {why} (GANTRY_REQUIRE_DOCKER=1)")
        }
        Err(why) => {
            eprintln!("SKIPPED ({figure} figure): {why}");
            Ok(None)
        }
    }
}

/// The agent binary when Docker and the image are usable, else why not.
async fn ready() -> Result<PathBuf, String> {
    let ok = |args: &'static [&'static str]| async move {
        tokio::process::Command::new("docker")
            .args(args)
            .output()
            .await
            .is_ok_and(|o| o.status.success())
    };
    if !ok(&["info"]).await {
        return Err("no Docker engine answers".into());
    }
    if !ok(&["image", "inspect", IMAGE]).await {
        return Err(format!(
            "the image {IMAGE} is missing (run scripts/build-test-image.sh)"
        ));
    }
    let bin = binaries::worker();
    if !bin.exists() {
        return Err(format!(
            "{} is missing (build it with `cargo build --release -p gantry-worker`, or set \
             GANTRY_WORKER_BIN)",
            bin.display()
        ));
    }
    Ok(bin)
}
