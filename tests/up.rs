//! `gantry up`: the server and a local agent in one command, running a real job; Docker when an
//! engine answers, local processes (said plainly) when told so.

use crate::common::optional::{skip_or_fail, Part};
use crate::common::process::free_port;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Starts `gantry up` in a temp folder, runs one job through `/api/execute?wait=true`, stops it
/// with SIGTERM; returns the banner and the finished job.
async fn up_runs_a_job(env: &[(&str, &str)]) -> (String, Value) {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_gantry"));
    command
        .args(["up", "--bind", &format!("127.0.0.1:{port}")])
        .current_dir(dir.path())
        .env("RUST_LOG", "warn")
        .env("HEARTBEAT_INTERVAL", "200ms")
        .env("GANTRY_STATE_DIR", dir.path().join("state"))
        .env_remove("DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().unwrap();
    let mut banner = String::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        banner.push_str(&line);
        banner.push('\n');
        if line.trim_start().starts_with("try:") {
            break;
        }
    }
    let http = reqwest::Client::new();
    let job: Value = http
        .post(format!(
            "http://127.0.0.1:{port}/api/execute?wait=true&waitMs=30000"
        ))
        .json(&serde_json::json!({"command": "echo hello from up"}))
        .timeout(Duration::from_secs(40))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "gantry up exits cleanly on SIGTERM: {status}"
    );
    assert!(
        dir.path().join("gantry.db").exists(),
        "SQLite at ./gantry.db"
    );
    (banner, job)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_runs_a_job_as_a_local_process_when_docker_is_off() {
    let (banner, job) = up_runs_a_job(&[("ENABLE_DOCKER", "false")]).await;
    assert!(banner.contains("local processes"), "{banner}");
    assert_eq!(job["status"], "COMPLETED", "{job}");
    assert_eq!(job["stdout"], "hello from up\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_runs_a_job_in_docker_when_an_engine_answers() {
    let engine = Command::new("docker")
        .arg("info")
        .output()
        .is_ok_and(|o| o.status.success());
    if !engine {
        skip_or_fail(Part::Docker, "no Docker engine answers");
        return;
    }
    let (banner, job) = up_runs_a_job(&[]).await;
    assert!(banner.contains("in Docker containers"), "{banner}");
    assert_eq!(job["status"], "COMPLETED", "{job}");
    assert_eq!(job["workerId"], "local");
}
