//! The sandbox (user, network, fork bomb, memory, output, zip) and the process executor.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_holds() {
    if !docker_ready() {
        return;
    }
    let c = Cluster::start().await;
    let agent = c.agent("e2e-sandbox", &[("MAX_PARALLEL_JOBS", "1")]);
    c.wait_worker("e2e-sandbox", WorkerStatus::Idle).await;

    let user = c.run(json!({"command": "id -u"})).await;
    assert_eq!(
        user.stdout.as_deref(),
        Some("65534\n"),
        "runs as nobody: {user:?}"
    );

    // What the attempt used reaches the server and its status, measured from the cgroup.
    let used = c
        .run(json!({"command": "head -c 41943040 /dev/zero > /tmp/blob; i=0; while [ $i -lt 150000 ]; do i=$((i+1)); done",
            "requiredRamMb": 128, "requiredCpu": 1}))
        .await;
    let u = used.usage.expect("usage measured");
    let peak = u.peak_memory_mb.expect("peak memory");
    assert!((40.0..128.0).contains(&peak), "{u:?}");
    assert!(u.cpu_seconds.is_some_and(|s| s > 0.1), "{u:?}");
    assert!(u.run_ms.is_some(), "{u:?}");

    let net = c.run(json!({"command": "ls /sys/class/net; wget -q -T 2 -O - http://1.1.1.1/ && echo REACHED"})).await;
    assert_eq!(
        net.stdout.as_deref().map(str::trim),
        Some("lo"),
        "only loopback: {net:?}"
    );

    let bomb = c
        .run(json!({"command": "b() { b | b & }; b; sleep 2", "timeoutMs": 8000}))
        .await;
    assert!(bomb.status.is_terminal(), "{bomb:?}");
    let after = c.run(json!({"command": "echo still here"})).await;
    assert_eq!(
        after.status,
        JobStatus::Completed,
        "the agent survived the fork bomb"
    );

    let hog = c
        .run(json!({"command": "head -c 200m /dev/zero | tail", "requiredRamMb": 32}))
        .await;
    assert!(hog.oom_killed, "reported as OOM-killed: {hog:?}");
    assert_eq!(hog.status, JobStatus::Failed);

    let chatty = c
        .run(json!({"command": "head -c 100000000 /dev/zero | tr '\\0' x; echo; echo END"}))
        .await;
    assert_eq!(chatty.status, JobStatus::Completed, "{:?}", chatty.error);
    let out = chatty.stdout.unwrap();
    assert!(
        out.len() < 2 * 1024 * 1024,
        "output capped: {} bytes",
        out.len()
    );
    assert!(
        out.contains("truncated") && out.ends_with("END\n"),
        "keeps the tail"
    );
    let peak = agent.peak_rss_kib();
    assert!(peak < 200 * 1024, "agent memory stayed bounded: {peak} KiB");
    stop_leaving_no_container(vec![agent], &["e2e-sandbox"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zip_entries_cannot_escape_the_work_folder() {
    if !docker_ready() {
        return;
    }
    let c = Cluster::start().await;
    let agent = c.agent("e2e-zip", &[]);
    c.wait_worker("e2e-zip", WorkerStatus::Idle).await;
    let upload = |name: &str, entries: &[(&str, &str)]| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        let script = "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1], 'w')\nfor a in sys.argv[2:]:\n    n, t = a.split('=', 1)\n    z.writestr(n, t)\nz.close()";
        let mut cmd = Command::new("python3");
        cmd.args(["-c", script]).arg(&path);
        for (n, t) in entries {
            cmd.arg(format!("{n}={t}"));
        }
        assert!(cmd.status().unwrap().success(), "python3 makes the zip");
        (dir, std::fs::read(&path).unwrap())
    };
    let post = |bytes: Vec<u8>, name: &'static str| {
        let part = reqwest::multipart::Part::bytes(bytes).file_name(name);
        c.server
            .http
            .post(c.server.url("/api/uploads"))
            .multipart(reqwest::multipart::Form::new().part("file", part))
            .send()
    };
    let (_d1, good) = upload("good.zip", &[("data/hello.txt", "hi from the zip")]);
    let stored: Value = post(good, "good.zip").await.unwrap().json().await.unwrap();
    let ok = c
        .run(json!({"command": "cat data/hello.txt", "fileUrl": stored["fileUrl"]}))
        .await;
    assert_eq!(ok.stdout.as_deref(), Some("hi from the zip"), "{ok:?}");

    let (_d2, evil) = upload("evil.zip", &[("../../escaped.txt", "gotcha")]);
    let stored: Value = post(evil, "evil.zip").await.unwrap().json().await.unwrap();
    let refused = c
        .run(json!({"command": "true", "fileUrl": stored["fileUrl"]}))
        .await;
    assert_eq!(refused.status, JobStatus::Failed, "{refused:?}");
    assert!(
        refused.error.unwrap_or_default().contains("escape"),
        "says why"
    );
    stop_leaving_no_container(vec![agent], &["e2e-zip"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_process_executor_runs_jobs_without_docker() {
    let c = Cluster::start().await;
    let _agent = c.agent("e2e-process", &[("ENABLE_DOCKER", "false")]);
    let w = c.wait_worker("e2e-process", WorkerStatus::Idle).await;
    assert_eq!(w.executor.as_deref(), Some("process"));
    let job = c.run(json!({"command": "echo hello; pwd"})).await;
    assert_eq!(job.status, JobStatus::Completed, "{job:?}");
    assert!(job.stdout.unwrap().starts_with("hello\n"));
    let timed = c
        .run(json!({"command": "sleep 30", "timeoutMs": 500}))
        .await;
    assert_eq!(timed.status, JobStatus::TimedOut);
}
