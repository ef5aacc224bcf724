//! The Docker executor against the real local engine and the locally built test image.
//!
//! Each test is skipped (printing `SKIPPED <test>: <why>`) when no engine answers, unless
//! GANTRY_REQUIRE_DOCKER=1, which makes a missing engine fail them.

use crate::common::{assert_identity, claim_another_identity, exec_spec, PRINT_IDENTITY};
use gantry_worker::executor::docker::{DockerExecutor, DockerSettings, LABEL_JOB_ID};
use gantry_worker::executor::{ExecOutcome, ExecSpec, Executor};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const IMAGE: &str = "gantry-test-busybox:latest";

/// The tests that load the machine hard (fork bomb, memory hog, 100 MB of output) take turns:
/// on two cores, a fork bomb beside the memory hog starves the kernel's OOM handling for longer
/// than the hog's timeout.
static HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Why the Docker tests cannot run here, or `None` when an engine answers and the test image
/// is there (built once if needed). With GANTRY_REQUIRE_DOCKER=1 a missing engine fails.
fn docker_missing() -> Option<&'static str> {
    static MISSING: OnceLock<Option<&'static str>> = OnceLock::new();
    *MISSING.get_or_init(|| {
        let required = std::env::var("GANTRY_REQUIRE_DOCKER").as_deref() == Ok("1");
        let engine = Command::new("docker")
            .args(["version", "--format", "{{.Server.Version}}"])
            .output()
            .is_ok_and(|o| o.status.success());
        if !engine {
            assert!(
                !required,
                "GANTRY_REQUIRE_DOCKER=1 but no Docker engine answers"
            );
            return Some("no Docker engine answers (set GANTRY_REQUIRE_DOCKER=1 to fail instead)");
        }
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/build-test-image.sh");
        let built = Command::new("bash").arg(&script).status();
        assert!(
            built.is_ok_and(|s| s.success()),
            "scripts/build-test-image.sh failed to build {IMAGE}"
        );
        None
    })
}

fn settings() -> DockerSettings {
    DockerSettings {
        kill_grace: Duration::from_secs(1),
        max_output_bytes: 64 * 1024,
        allow_network: true,
        pids_limit: 64,
        usage_interval: Duration::from_millis(50),
        pull_timeout: Duration::from_secs(60),
    }
}

struct Case {
    spec: ExecSpec,
    _dir: tempfile::TempDir,
}

fn case(command: &str) -> Case {
    let dir = tempfile::tempdir().unwrap();
    let spec = ExecSpec {
        worker_id: "docker-test-worker".into(),
        image: IMAGE.into(),
        env: BTreeMap::from([("GREETING".to_string(), "hi there".to_string())]),
        cpu: 0.5,
        ..exec_spec("dtest", command, dir.path())
    };
    Case { spec, _dir: dir }
}

async fn run(spec: &ExecSpec) -> ExecOutcome {
    let exec = DockerExecutor::connect(settings()).await.unwrap();
    exec.run(spec, CancellationToken::new()).await
}

/// The ids of the containers of this job, running or not.
fn containers_of(job_id: &str) -> String {
    let out = Command::new("docker")
        .args([
            "ps",
            "-aq",
            "--filter",
            &format!("label={LABEL_JOB_ID}={job_id}"),
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// No container of this job is left behind.
fn assert_no_container(job_id: &str) {
    let ids = containers_of(job_id);
    assert!(ids.is_empty(), "containers left for {job_id}: {ids}");
}

/// Returns from the test, saying so on stderr, when Docker cannot run here.
macro_rules! require_docker {
    () => {
        if let Some(why) = docker_missing() {
            // The test harness names each test's thread after the test.
            let thread = std::thread::current();
            let test = thread.name().unwrap_or("a Docker test");
            // Written past the test harness's capture, so a skip is seen even when it passes.
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
            return;
        }
    };
}

#[tokio::test]
async fn echo_completes_with_output_env_and_files() {
    require_docker!();
    let c = case("echo hi; echo \"$GREETING\"; cat input.txt; echo out > result.txt; echo err >&2");
    std::fs::write(c.spec.work_dir.join("input.txt"), "from-host\n").unwrap();
    let out = run(&c.spec).await;
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    assert_eq!(out.stdout, "hi\nhi there\nfrom-host\n", "{out:?}");
    assert_eq!(out.stderr, "err\n");
    assert!(!out.infrastructure_error && !out.oom_killed && !out.timed_out);
    assert!(
        c.spec.work_dir.join("result.txt").exists(),
        "work folder is writable"
    );
    assert_no_container(&c.spec.job_id);
}

#[tokio::test]
async fn attempts_know_their_job_attempt_and_worker() {
    require_docker!();
    let mut c = case(PRINT_IDENTITY);
    claim_another_identity(&mut c.spec);
    let out = run(&c.spec).await;
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    assert_identity(&out.stdout, &c.spec);
    assert_no_container(&c.spec.job_id);
}

#[tokio::test]
async fn runs_as_nobody_without_network_or_capabilities() {
    require_docker!();
    let c = case(
        "id -u; ls /sys/class/net | tr '\\n' ' '; echo; \
         if nc -w 1 1.1.1.1 80 </dev/null; then echo NET-OK; else echo NET-FAIL; fi; \
         touch /rootfs-write 2>/dev/null && echo ROOT-WRITABLE || echo ROOT-RO; \
         touch /tmp/x && echo TMP-OK; grep CapEff /proc/self/status",
    );
    let out = run(&c.spec).await;
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], "65534");
    assert_eq!(lines[1].trim(), "lo", "only loopback: {}", lines[1]);
    assert_eq!(lines[2], "NET-FAIL");
    assert_eq!(lines[3], "ROOT-RO");
    assert_eq!(lines[4], "TMP-OK");
    assert!(lines[5].ends_with("0000000000000000"), "{}", lines[5]);
}

#[tokio::test]
async fn exit_codes_come_back() {
    require_docker!();
    let c = case("exit 7");
    let out = run(&c.spec).await;
    assert_eq!(out.exit_code, Some(7), "{out:?}");
    assert!(out.error.is_none());
}

#[tokio::test]
async fn a_job_asking_for_a_sliver_of_a_cpu_still_runs() {
    require_docker!();
    // 0.001 CPU would be a CFS quota the kernel refuses; the executor gives the floor.
    let mut c = case("echo tiny");
    c.spec.cpu = 0.001;
    let out = run(&c.spec).await;
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    assert_eq!(out.stdout, "tiny\n");
}

/// A job that holds 40 MiB (in its tmpfs, charged to its cgroup) and burns CPU for about half
/// a second: its usage is measured while it runs, within sane bounds of both.
#[tokio::test]
async fn usage_is_measured_from_the_containers_cgroup() {
    require_docker!();
    let _turn = HEAVY.lock().await;
    let mut c = case(
        "head -c 41943040 /dev/zero > /tmp/blob; i=0; while [ $i -lt 150000 ]; do i=$((i+1)); done",
    );
    (c.spec.ram_mb, c.spec.cpu) = (128, 1.0);
    let out = run(&c.spec).await;
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    let u = out.usage;
    let run_s = u.run_ms.expect("run time") as f64 / 1000.0;
    let peak = u.peak_memory_mb.expect("peak memory measured");
    assert!((40.0..128.0).contains(&peak), "peak {peak} MiB: {u:?}");
    let cpu = u.cpu_seconds.expect("CPU time measured");
    assert!(
        cpu >= 0.1 && cpu <= run_s + 0.1,
        "cpu {cpu} s in {run_s} s: {u:?}"
    );
    assert_eq!(u.pull_ms, None, "nothing pulled");
    assert_no_container(&c.spec.job_id);
}

/// A job too short for any sample has its run time, and no figure is ever a made-up 0.
#[tokio::test]
async fn a_short_job_reports_only_what_was_measured() {
    require_docker!();
    let c = case("true");
    let out = run(&c.spec).await;
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    assert!(out.usage.run_ms.is_some(), "{:?}", out.usage);
    assert!(
        out.usage.peak_memory_mb.is_none_or(|m| m > 0.0),
        "{:?}",
        out.usage
    );
}

#[tokio::test]
async fn fork_bomb_is_contained_by_the_pids_limit() {
    require_docker!();
    let _turn = HEAVY.lock().await;
    // The forks run in a subshell that dies when fork fails; the count uses only builtins,
    // since no fork is possible while the limit is reached.
    let mut c = case(
        "(i=0; while [ $i -lt 200 ]; do sleep 20 & i=$((i+1)); done) 2>/dev/null; \
         set -- /proc/[0-9]*; echo $#",
    );
    c.spec.timeout = Duration::from_secs(15);
    let started = Instant::now();
    let out = run(&c.spec).await;
    let count: usize = out
        .stdout
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("{out:?}"));
    assert!(count <= 64, "{count} processes despite a pids limit of 64");
    assert!(out.exit_code.is_some(), "{out:?}");
    assert!(started.elapsed() < Duration::from_secs(15));
    assert_no_container(&c.spec.job_id);
}

#[tokio::test]
async fn memory_hog_is_reported_oom_killed() {
    require_docker!();
    let _turn = HEAVY.lock().await;
    let mut c = case("head -c 300m /dev/zero | tail; echo survived");
    c.spec.ram_mb = 64;
    // Near its limit the kernel reclaims and refaults the container's file pages before it
    // kills; through fuse-overlayfs that has been seen to take 20 s and more.
    c.spec.timeout = Duration::from_secs(120);
    let out = run(&c.spec).await;
    assert!(out.oom_killed, "{out:?}");
    assert_eq!(out.exit_code, Some(137));
    assert!(
        out.error.as_deref().unwrap().contains("out of memory"),
        "{out:?}"
    );
    assert!(out.error.as_deref().unwrap().contains("64 MiB"));
    assert_no_container(&c.spec.job_id);
}

#[tokio::test]
async fn huge_output_is_truncated_to_the_tail() {
    require_docker!();
    let _turn = HEAVY.lock().await;
    let c = case("head -c 100000000 /dev/zero | tr '\\0' x; echo; echo THE-END");
    let out = run(&c.spec).await;
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    assert!(out.stdout.starts_with("[... "), "{}", &out.stdout[..80]);
    assert!(out.stdout.ends_with("THE-END\n"));
    assert!(out.stdout.len() <= 64 * 1024 + 64);
}

#[tokio::test]
async fn timeout_kills_quickly_and_removes_the_container() {
    require_docker!();
    let mut c = case("sleep 60");
    c.spec.timeout = Duration::from_secs(1);
    let started = Instant::now();
    let out = run(&c.spec).await;
    assert!(out.timed_out, "{out:?}");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    assert_no_container(&c.spec.job_id);
}

#[tokio::test]
async fn cancel_stops_within_two_seconds() {
    require_docker!();
    let c = case("echo started; sleep 60");
    let exec = DockerExecutor::connect(settings()).await.unwrap();
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    let run = tokio::spawn(async move {
        let out = exec.run(&c.spec, cancel).await;
        (out, c)
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let asked = Instant::now();
    trigger.cancel();
    let (out, c) = run.await.unwrap();
    assert!(out.cancelled, "{out:?}");
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "{:?}",
        asked.elapsed()
    );
    assert_eq!(out.stdout, "started\n");
    assert_no_container(&c.spec.job_id);
}

#[tokio::test]
async fn a_cancel_between_create_and_start_never_starts_and_removes_the_container() {
    require_docker!();
    let c = case("echo must not run > ran.txt");
    let exec = DockerExecutor::connect(settings()).await.unwrap();
    // Already cancelled: the container is created, then the cancel is seen before its start.
    let cancel = CancellationToken::new();
    cancel.cancel();
    let out = exec.run(&c.spec, cancel).await;
    assert!(out.cancelled, "{out:?}");
    assert_eq!(out.exit_code, None, "never started: {out:?}");
    assert!(
        !c.spec.work_dir.join("ran.txt").exists(),
        "the command never ran"
    );
    assert_no_container(&c.spec.job_id);
}

#[tokio::test]
async fn a_run_dropped_mid_attempt_still_removes_its_container() {
    require_docker!();
    let c = case("sleep 60");
    let exec = Arc::new(DockerExecutor::connect(settings()).await.unwrap());
    let job_id = c.spec.job_id.clone();
    let runner = exec.clone();
    let run = tokio::spawn(async move { runner.run(&c.spec, CancellationToken::new()).await });
    let deadline = Instant::now() + Duration::from_secs(30);
    while containers_of(&job_id).is_empty() {
        assert!(Instant::now() < deadline, "the container was never created");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // What the agent does to an attempt that outlived every grace: drop it mid-run.
    run.abort();
    match run.await {
        Ok(out) => panic!("the run ended by itself: {out:?}"),
        Err(e) => assert!(e.is_cancelled(), "{e}"),
    }
    exec.wait_cleanups().await;
    assert_no_container(&job_id);
}

#[tokio::test]
async fn a_missing_image_is_the_jobs_failure_and_never_pulled() {
    require_docker!();
    let mut c = case("true");
    c.spec.image = "gantry-no-such-image:never".into();
    let out = run(&c.spec).await;
    assert!(!out.infrastructure_error, "not the worker's fault: {out:?}");
    assert_eq!(out.exit_code, None, "nothing ran");
    assert!(out
        .error
        .as_deref()
        .unwrap()
        .contains("the pull policy is `never`"));
}

#[tokio::test]
async fn orphans_of_this_worker_are_removed() {
    require_docker!();
    let worker = format!("orphan-test-{}", uuid::Uuid::new_v4());
    let status = Command::new("docker")
        .args([
            "create",
            "--label",
            &format!("gantry.worker-id={worker}"),
            IMAGE,
            "true",
        ])
        .output()
        .unwrap();
    assert!(status.status.success());
    let exec = DockerExecutor::connect(settings()).await.unwrap();
    assert!(exec.healthy().await);
    assert_eq!(exec.cleanup_orphans(&worker).await, 1);
    assert_eq!(exec.cleanup_orphans(&worker).await, 0);
}
