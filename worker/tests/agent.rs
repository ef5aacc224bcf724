//! The whole agent (process executor) against a small fake server on 127.0.0.1:0.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use gantry_api::{
    GetJobRequest, GetJobResponse, HeartbeatRequest, HeartbeatResponse, Job, StartJobRequest,
    StopJob, StopReason, SubmitResultRequest, WorkerStatus,
};
use gantry_worker::Config;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// What the fake server holds and saw.
#[derive(Default)]
struct Fake {
    /// Jobs to hand out on the next get-job.
    queue: Vec<Job>,
    /// Job ids to tell the worker to stop.
    stop: Vec<String>,
    /// Registrations seen.
    registrations: usize,
    /// Answer the next heartbeat and get-job with 404 unknown_worker.
    forget_worker: bool,
    /// Start calls seen.
    starts: Vec<StartJobRequest>,
    /// Results received.
    results: Vec<SubmitResultRequest>,
    /// Authorization headers seen on worker routes.
    auth: Vec<String>,
}

type Shared = Arc<Mutex<Fake>>;

fn job(id: &str, command: &str, timeout_ms: i64) -> Job {
    serde_json::from_value(json!({
        "id": id, "status": "ASSIGNED", "command": command, "image": null,
        "fileUrl": null, "filename": null, "env": {"WHO": "agent"}, "requiredCpu": 0.5,
        "requiredRamMb": 64, "timeoutMs": timeout_ms, "maxRetries": 0, "priority": 0,
        "network": false, "attempts": 1, "failedAttempts": 0, "infraRetries": 0,
        "workerId": "w-1", "reason": null, "idempotencyKey": null, "createdAt": 0,
        "runAt": 0, "queuedAt": null, "assignedAt": null, "startedAt": null,
        "finishedAt": null, "exitCode": null, "stdout": null, "stderr": null,
        "error": null, "durationMs": null, "oomKilled": false
    }))
    .unwrap()
}

fn unknown_worker() -> Refusal {
    let body = json!({"error": {"code": "unknown_worker", "message": "who?"}});
    (StatusCode::NOT_FOUND, Json(body))
}

fn stops(fake: &Fake, running: &[String]) -> Vec<StopJob> {
    fake.stop
        .iter()
        .filter(|id| running.contains(id))
        .map(|id| StopJob {
            job_id: id.clone(),
            reason: StopReason::Cancelled,
        })
        .collect()
}

/// The fake's error answer.
type Refusal = (StatusCode, Json<Value>);

async fn register(State(s): State<Shared>, Json(body): Json<Value>) -> Json<Value> {
    s.lock().unwrap().registrations += 1;
    let id = body["workerId"].as_str().unwrap_or("w-1").to_string();
    Json(
        json!({"workerId": id, "token": "per-worker-secret", "worker": {
        "id": id, "hostname": "h", "status": "IDLE", "cpuCores": 2.0,
        "ramTotalMb": 1, "ramFreeMb": 1, "cpuUsage": 0.0, "maxParallelJobs": 2,
        "reservedCpu": 0.0, "reservedRamMb": 0, "currentJobIds": [],
        "consecutiveFailures": 0, "cooldownUntil": null, "labels": {},
        "version": null, "executor": "process", "executorOk": true,
        "registeredAt": 0, "lastHeartbeatAt": 0}}),
    )
}

async fn heartbeat(
    State(s): State<Shared>,
    Json(body): Json<HeartbeatRequest>,
) -> Result<Json<HeartbeatResponse>, Refusal> {
    let mut f = s.lock().unwrap();
    if std::mem::take(&mut f.forget_worker) {
        return Err(unknown_worker());
    }
    let stop_jobs = stops(&f, &body.running_job_ids);
    Ok(Json(HeartbeatResponse {
        status: WorkerStatus::Busy,
        stop_jobs,
    }))
}

/// Answers at once with queued jobs or stops, else after 300 ms with nothing.
async fn get_job(
    State(s): State<Shared>,
    headers: axum::http::HeaderMap,
    Json(body): Json<GetJobRequest>,
) -> Result<Json<GetJobResponse>, Refusal> {
    let deadline = Instant::now() + Duration::from_millis(300);
    loop {
        {
            let mut f = s.lock().unwrap();
            if let Some(a) = headers.get("authorization") {
                f.auth.push(a.to_str().unwrap().to_string());
            }
            if std::mem::take(&mut f.forget_worker) {
                return Err(unknown_worker());
            }
            let running = body.running_job_ids.clone().unwrap_or_default();
            let max = body.max.unwrap_or(1).max(0) as usize;
            let n = f.queue.len().min(max);
            let jobs: Vec<Job> = f.queue.drain(..n).collect();
            let stop_jobs = stops(&f, &running);
            if !jobs.is_empty() || !stop_jobs.is_empty() || Instant::now() > deadline {
                return Ok(Json(GetJobResponse {
                    jobs,
                    stop_jobs,
                    // Like a server from before carried results: it ignores them.
                    results: Vec::new(),
                }));
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn start(State(s): State<Shared>, Json(body): Json<StartJobRequest>) -> Json<Job> {
    let answer = job(&body.job_id, "true", 0);
    s.lock().unwrap().starts.push(body);
    Json(answer)
}

/// Takes every result, answering 409 for jobs the fake was told to stop.
async fn submit_result(
    State(s): State<Shared>,
    Json(body): Json<SubmitResultRequest>,
) -> Result<Json<Job>, Refusal> {
    let mut f = s.lock().unwrap();
    let conflict = f.stop.contains(&body.job_id);
    let answer = job(&body.job_id, "true", 0);
    f.results.push(body);
    if conflict {
        let body = json!({"error": {"code": "wrong_state", "message": "cancelled"}});
        return Err((StatusCode::CONFLICT, Json(body)));
    }
    Ok(Json(answer))
}

async fn start_fake() -> (String, Shared) {
    let shared: Shared = Arc::default();
    let app = Router::new()
        .route("/api/workers/register", post(register))
        .route("/api/workers/heartbeat", post(heartbeat))
        .route("/api/jobs/get-job", post(get_job))
        .route("/api/jobs/start", post(start))
        .route("/api/jobs/submit-result", post(submit_result))
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, shared)
}

fn config(url: &str, work: &std::path::Path) -> Config {
    Config::for_tests(&[
        "--server-url",
        url,
        "--worker-token",
        "join-secret",
        "--enable-docker",
        "false",
        "--worker-id",
        "w-1",
        "--max-parallel-jobs",
        "2",
        "--heartbeat-interval",
        "100ms",
        "--job-poll-interval",
        "300ms",
        "--kill-grace",
        "500ms",
        "--drain-timeout",
        "1s",
        "--work-dir",
        work.to_str().unwrap(),
    ])
}

async fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the agent has reported the start of `job_id`.
async fn wait_for_start(fake: &Shared, job_id: &str) {
    wait_for(
        &format!("the start of {job_id}"),
        Duration::from_secs(5),
        || {
            fake.lock()
                .unwrap()
                .starts
                .iter()
                .any(|s| s.job_id == job_id)
        },
    )
    .await;
}

/// A plain job, delivered twice: it runs once.
async fn a_job_delivered_twice_runs_once(fake: &Shared) {
    let j = job("job-ok", "echo hello $WHO; pwd >&2; exit 4", 10_000);
    fake.lock().unwrap().queue = vec![j.clone(), j];
    wait_for("the result", Duration::from_secs(10), || {
        !fake.lock().unwrap().results.is_empty()
    })
    .await;
    let r = fake.lock().unwrap().results[0].clone();
    assert_eq!(
        (r.job_id.as_str(), r.attempt, r.exit_code),
        ("job-ok", 1, Some(4))
    );
    assert_eq!(r.stdout.as_deref(), Some("hello agent\n"));
    assert!(r.stderr.as_deref().unwrap().contains("/job-ok-1"));
    assert!(!r.timed_out && !r.infrastructure_error);
}

/// A job past its timeout is killed and reported so.
async fn a_job_past_its_timeout_is_killed(fake: &Shared) {
    fake.lock().unwrap().queue = vec![job("job-slow", "sleep 30", 300)];
    wait_for("the timeout", Duration::from_secs(10), || {
        fake.lock().unwrap().results.len() >= 2
    })
    .await;
    assert!(fake.lock().unwrap().results[1].timed_out);
}

/// A cancel reaches a running job through the poll answer within 2 s.
async fn a_cancel_arrives_within_two_seconds(fake: &Shared) {
    fake.lock().unwrap().queue = vec![job("job-cancel", "sleep 30", 60_000)];
    wait_for_start(fake, "job-cancel").await;
    let asked = Instant::now();
    fake.lock().unwrap().stop.push("job-cancel".into());
    wait_for("the cancelled result", Duration::from_secs(5), || {
        fake.lock().unwrap().results.len() >= 3
    })
    .await;
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "{:?}",
        asked.elapsed()
    );
}

/// The server forgets the worker: it registers again with the same id.
async fn a_forgotten_worker_registers_again(fake: &Shared) {
    fake.lock().unwrap().forget_worker = true;
    wait_for("re-registration", Duration::from_secs(5), || {
        fake.lock().unwrap().registrations >= 2
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_jobs_obeys_stops_reregisters_and_hands_back_on_shutdown() {
    let (url, fake) = start_fake().await;
    let work = tempfile::tempdir().unwrap();
    let shutdown = CancellationToken::new();
    let agent = tokio::spawn(gantry_worker::run(
        config(&url, work.path()),
        shutdown.clone(),
    ));
    a_job_delivered_twice_runs_once(&fake).await;
    a_job_past_its_timeout_is_killed(&fake).await;
    a_cancel_arrives_within_two_seconds(&fake).await;
    a_forgotten_worker_registers_again(&fake).await;

    // Shutdown with a long job running: handed back after the drain timeout.
    fake.lock().unwrap().queue = vec![job("job-long", "sleep 30", 60_000)];
    wait_for_start(&fake, "job-long").await;
    shutdown.cancel();
    let stopped = Instant::now();
    agent.await.unwrap().unwrap();
    assert!(
        stopped.elapsed() < Duration::from_secs(5),
        "{:?}",
        stopped.elapsed()
    );

    let f = fake.lock().unwrap();
    let long = f.results.iter().find(|r| r.job_id == "job-long").unwrap();
    assert!(long.infrastructure_error);
    assert_eq!(long.error.as_deref(), Some("worker shutting down"));
    assert_eq!(f.starts.iter().filter(|s| s.job_id == "job-ok").count(), 1);
    assert!(
        f.auth.iter().all(|a| a == "Bearer per-worker-secret"),
        "{:?}",
        f.auth
    );
    // Work folders are gone.
    assert_eq!(std::fs::read_dir(work.path()).unwrap().count(), 0);
}
