//! Never twice at once after an agent crash: an agent killed with SIGKILL mid-job and started
//! again at once with the same state folder stops what its earlier life left running before it
//! registers, so the job's second attempt never overlaps its first, for both executors. The
//! evidence is the jobs' own record: timestamped lines the process job appends to a host file,
//! and the engine's start/die events of each attempt's container.

use super::*;
use std::collections::BTreeMap;

/// Lines of the host log as (attempt, kind, nanoseconds).
fn log_lines(path: &std::path::Path) -> Vec<(i64, String, u128)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            let kind = parts.next()?.to_string();
            let attempt = parts.next()?.parse().ok()?;
            let at = parts.next()?.parse().ok()?;
            Some((attempt, kind, at))
        })
        .collect()
}

/// Each attempt's first and last moment, from (attempt, time) pairs.
fn spans(points: impl IntoIterator<Item = (i64, u128)>) -> BTreeMap<i64, (u128, u128)> {
    let mut spans: BTreeMap<i64, (u128, u128)> = BTreeMap::new();
    for (attempt, at) in points {
        let span = spans.entry(attempt).or_insert((at, at));
        span.0 = span.0.min(at);
        span.1 = span.1.max(at);
    }
    spans
}

/// Asserts that no two attempts' spans overlap and that there were at least two.
fn assert_no_overlap(spans: &BTreeMap<i64, (u128, u128)>) {
    assert!(spans.len() >= 2, "the crash cost an attempt: {spans:?}");
    let list: Vec<_> = spans.iter().collect();
    for pair in list.windows(2) {
        let ((a, (_, a_end)), (b, (b_start, _))) = (pair[0], pair[1]);
        assert!(
            a_end < b_start,
            "attempt {a} ran until {a_end}, after attempt {b} started at {b_start}: {spans:?}"
        );
    }
}

/// The pids of processes whose environment names job `job_id`.
fn processes_of(job_id: &str) -> Vec<i32> {
    let needle = format!("GANTRY_JOB_ID={job_id}");
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|var| var == needle.as_bytes()))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_job_never_runs_twice_at_once_after_an_agent_crash() {
    let cluster = Cluster::start().await;
    let state = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("ticks.log");
    let env = [
        ("ENABLE_DOCKER", "false"),
        ("GANTRY_STATE_DIR", state.path().to_str().unwrap()),
    ];
    let id = "e2e-crash-process";
    let mut first = cluster.agent(id, &env);
    cluster.wait_worker(id, WorkerStatus::Idle).await;
    // The ticks come from a child of the job's sh: it outlives the sh unless its whole
    // process group is killed.
    let command = format!(
        "( for i in $(seq 30); do echo \"tick $GANTRY_ATTEMPT $(date +%s%N)\" >> '{log}'; \
         sleep 0.1; done ) & wait",
        log = log.display()
    );
    let job = cluster.server.create(json!({"command": command})).await;
    eventually("the first attempt to tick", WAIT, || async {
        (log_lines(&log).len() >= 3).then_some(())
    })
    .await;
    first.kill9();
    let second = cluster.agent(id, &env);
    let ended = cluster.wait_end(&job.id).await;
    assert_eq!(ended.status, JobStatus::Completed, "{ended:?}");
    assert!(ended.attempts >= 2, "{ended:?}");
    let ticks = log_lines(&log);
    assert_no_overlap(&spans(ticks.iter().map(|(a, _, at)| (*a, *at))));
    let last = ticks
        .iter()
        .filter(|(a, _, _)| *a == ended.attempts)
        .count();
    assert_eq!(last, 30, "the last attempt ran to its end");

    stop_leaving_no_container(vec![second], &[]).await;
    assert_eq!(processes_of(&job.id), Vec::<i32>::new(), "no process left");
    let records = std::fs::read_dir(state.path().join("groups")).map_or(0, |d| d.count());
    assert_eq!(records, 0, "no process group record left");
}

/// The engine's start and die events of worker `worker_id`'s containers since `since` (unix
/// seconds), as (attempt, nanoseconds).
fn container_events(worker_id: &str, since: u64) -> Vec<(i64, u128)> {
    let until = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1;
    let out = Command::new("docker")
        .args([
            "events",
            "--since",
            &since.to_string(),
            "--until",
            &until.to_string(),
        ])
        .args(["--filter", &format!("label=gantry.worker-id={worker_id}")])
        .args(["--filter", "event=start", "--filter", "event=die"])
        .args(["--format", "{{json .}}"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let event: Value = serde_json::from_str(l).ok()?;
            let attempt = event["Actor"]["Attributes"]["gantry.attempt"]
                .as_str()?
                .parse()
                .ok()?;
            let at = event["timeNano"].as_u64()? as u128;
            Some((attempt, at))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_job_never_runs_twice_at_once_after_an_agent_crash() {
    if !docker_ready() {
        return;
    }
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 1;
    let cluster = Cluster::start().await;
    let state = tempfile::tempdir().unwrap();
    let env = [
        ("ENABLE_DOCKER", "true"),
        ("GANTRY_DEFAULT_IMAGE", IMAGE),
        ("GANTRY_STATE_DIR", state.path().to_str().unwrap()),
    ];
    let id = "e2e-crash-docker";
    let mut first = cluster.agent(id, &env);
    cluster.wait_worker(id, WorkerStatus::Idle).await;
    let job = cluster
        .server
        .create(json!({"command": "sleep 3", "image": IMAGE}))
        .await;
    eventually("the first attempt's container to run", WAIT, || async {
        let running = Command::new("docker")
            .args([
                "ps",
                "-q",
                "--filter",
                &format!("label=gantry.job-id={}", job.id),
            ])
            .output()
            .unwrap();
        (!running.stdout.is_empty()).then_some(())
    })
    .await;
    first.kill9();
    let second = cluster.agent(id, &env);
    let ended = cluster.wait_end(&job.id).await;
    assert_eq!(ended.status, JobStatus::Completed, "{ended:?}");
    let events = container_events(id, since);
    assert_no_overlap(&spans(events));
    stop_leaving_no_container(vec![second], &[id]).await;
}
