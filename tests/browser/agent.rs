//! A simulated worker agent for the browser test: it speaks the worker routes over HTTP like
//! `gantry-worker` does and runs each job's command as a local `sh -c` process, killing it
//! when the server says to stop it.

use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Stop signals of the running jobs, by job id.
type Running = Arc<Mutex<HashMap<String, oneshot::Sender<()>>>>;

/// Runs the agent until the task is aborted.
pub async fn run(base: String, id: String) {
    let http = reqwest::Client::new();
    let register = json!({
        "workerId": id, "hostname": "browser-test-host", "cpuCores": 4.0,
        "ramTotalMb": 8192, "ramFreeMb": 6144, "cpuUsage": 12.5, "maxParallelJobs": 2,
        "version": "sim", "executor": "process"
    });
    let r = http
        .post(format!("{base}/api/workers/register"))
        .json(&register)
        .send()
        .await
        .expect("register");
    assert!(r.status().is_success(), "register: {}", r.status());
    let running: Running = Arc::default();
    let mut last_beat = Instant::now();
    loop {
        let ids: Vec<String> = running.lock().unwrap().keys().cloned().collect();
        if last_beat.elapsed() >= Duration::from_secs(1) {
            last_beat = Instant::now();
            let beat = json!({"workerId": id, "cpuUsage": 12.5 + 20.0 * ids.len() as f64,
                "ramFreeMb": 6144, "ramTotalMb": 8192, "runningJobIds": ids});
            if let Some(answer) = post(&http, &format!("{base}/api/workers/heartbeat"), &beat).await
            {
                stop(&running, &answer);
            }
        }
        let ask = json!({"workerId": id, "max": 2, "waitMs": 500, "runningJobIds": ids});
        let Some(answer) = post(&http, &format!("{base}/api/jobs/get-job"), &ask).await else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        stop(&running, &answer);
        for job in answer["jobs"].as_array().cloned().unwrap_or_default() {
            let (tx, rx) = oneshot::channel();
            let job_id = job["id"].as_str().unwrap_or_default().to_string();
            running.lock().unwrap().insert(job_id.clone(), tx);
            tokio::spawn(execute(
                http.clone(),
                base.clone(),
                id.clone(),
                job,
                rx,
                running.clone(),
            ));
        }
    }
}

async fn post(http: &reqwest::Client, url: &str, body: &Value) -> Option<Value> {
    let r = http.post(url).json(body).send().await.ok()?;
    if !r.status().is_success() {
        return None;
    }
    r.json().await.ok()
}

/// Fires the stop signal of every job the answer says to stop.
fn stop(running: &Running, answer: &Value) {
    for stop in answer["stopJobs"].as_array().into_iter().flatten() {
        let id = stop["jobId"].as_str().unwrap_or_default();
        if let Some(tx) = running.lock().unwrap().remove(id) {
            let _ = tx.send(());
        }
    }
}

async fn execute(
    http: reqwest::Client,
    base: String,
    worker: String,
    job: Value,
    stop: oneshot::Receiver<()>,
    running: Running,
) {
    let job_id = job["id"].as_str().unwrap_or_default().to_string();
    let attempt = job["attempts"].as_i64().unwrap_or(1);
    let ids = json!({"workerId": worker, "jobId": job_id, "attempt": attempt});
    post(&http, &format!("{base}/api/jobs/start"), &ids).await;
    let started = Instant::now();
    let child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(job["command"].as_str().unwrap_or("true"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("sh");
    let output = tokio::select! {
        out = child.wait_with_output() => out.expect("job output"),
        _ = stop => return, // cancelled: the child is killed on drop, no result is due
    };
    running.lock().unwrap().remove(&job_id);
    let mut result = ids;
    result["exitCode"] = json!(output.status.code().unwrap_or(-1));
    result["stdout"] = json!(String::from_utf8_lossy(&output.stdout));
    result["stderr"] = json!(String::from_utf8_lossy(&output.stderr));
    result["durationMs"] = json!(started.elapsed().as_millis() as i64);
    post(&http, &format!("{base}/api/jobs/submit-result"), &result).await;
}
