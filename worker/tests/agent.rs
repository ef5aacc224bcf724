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

fn unknown_worker() -> (StatusCode, Json<Value>) {
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

async fn start_fake() -> (String, Shared) {
    let shared: Shared = Arc::default();
    let app = Router::new()
        .route(
            "/api/workers/register",
            post(
                |State(s): State<Shared>, Json(body): Json<Value>| async move {
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
                },
            ),
        )
        .route(
            "/api/workers/heartbeat",
            post(
                |State(s): State<Shared>, Json(body): Json<HeartbeatRequest>| async move {
                    let mut f = s.lock().unwrap();
                    if std::mem::take(&mut f.forget_worker) {
                        return Err(unknown_worker());
                    }
                    let stop_jobs = stops(&f, &body.running_job_ids);
                    Ok(Json(HeartbeatResponse {
                        status: WorkerStatus::Busy,
                        stop_jobs,
                    }))
                },
            ),
        )
        .route(
            "/api/jobs/get-job",
            post(
                |State(s): State<Shared>,
                 headers: axum::http::HeaderMap,
                 Json(body): Json<GetJobRequest>| async move {
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
                            if !jobs.is_empty()
                                || !stop_jobs.is_empty()
                                || Instant::now() > deadline
                            {
                                return Ok(Json(GetJobResponse { jobs, stop_jobs }));
                            }
                        }
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                },
            ),
        )
        .route(
            "/api/jobs/start",
            post(
                |State(s): State<Shared>, Json(body): Json<StartJobRequest>| async move {
                    let answer = job(&body.job_id, "true", 0);
                    s.lock().unwrap().starts.push(body);
                    Json(answer)
                },
            ),
        )
        .route(
            "/api/jobs/submit-result",
            post(
                |State(s): State<Shared>, Json(body): Json<SubmitResultRequest>| async move {
                    let mut f = s.lock().unwrap();
                    let conflict = f.stop.contains(&body.job_id);
                    let answer = job(&body.job_id, "true", 0);
                    f.results.push(body);
                    if conflict {
                        let body =
                            json!({"error": {"code": "wrong_state", "message": "cancelled"}});
                        return Err((StatusCode::CONFLICT, Json(body)));
                    }
                    Ok(Json(answer))
                },
            ),
        )
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_jobs_obeys_stops_reregisters_and_hands_back_on_shutdown() {
    let (url, fake) = start_fake().await;
    let work = tempfile::tempdir().unwrap();
    let shutdown = CancellationToken::new();
    let agent = tokio::spawn(gantry_worker::run(
        config(&url, work.path()),
        shutdown.clone(),
    ));

    // A plain job, delivered twice: it runs once.
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
    assert!(r.stderr.as_deref().unwrap().contains("job-ok-1-"));
    assert!(!r.timed_out && !r.infrastructure_error);

    // A job past its timeout is killed and reported so.
    fake.lock().unwrap().queue = vec![job("job-slow", "sleep 30", 300)];
    wait_for("the timeout", Duration::from_secs(10), || {
        fake.lock().unwrap().results.len() >= 2
    })
    .await;
    assert!(fake.lock().unwrap().results[1].timed_out);

    // A cancel reaches a running job through the poll answer within 2 s.
    fake.lock().unwrap().queue = vec![job("job-cancel", "sleep 30", 60_000)];
    wait_for("the start", Duration::from_secs(5), || {
        fake.lock()
            .unwrap()
            .starts
            .iter()
            .any(|s| s.job_id == "job-cancel")
    })
    .await;
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

    // The server forgets the worker: it registers again with the same id.
    fake.lock().unwrap().forget_worker = true;
    wait_for("re-registration", Duration::from_secs(5), || {
        fake.lock().unwrap().registrations >= 2
    })
    .await;

    // Shutdown with a long job running: handed back after the drain timeout.
    fake.lock().unwrap().queue = vec![job("job-long", "sleep 30", 60_000)];
    wait_for("the long start", Duration::from_secs(5), || {
        fake.lock()
            .unwrap()
            .starts
            .iter()
            .any(|s| s.job_id == "job-long")
    })
    .await;
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
