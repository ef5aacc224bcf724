//! The process executor against real child processes.

use crate::common::{assert_identity, claim_another_identity, exec_spec, PRINT_IDENTITY};
use gantry_worker::executor::process::ProcessExecutor;
use gantry_worker::executor::{ExecSpec, Executor};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

fn spec(command: &str, dir: &std::path::Path, timeout: Duration) -> ExecSpec {
    ExecSpec {
        env: BTreeMap::from([("GREETING".to_string(), "hello".to_string())]),
        timeout,
        ..exec_spec("proc", command, dir)
    }
}

fn executor() -> ProcessExecutor {
    ProcessExecutor::new(Duration::from_millis(500), 4096)
}

#[tokio::test]
async fn captures_exit_code_output_env_and_folder() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("input.txt"), "data").unwrap();
    let cmd =
        "echo $GREETING; cat input.txt; echo oops >&2; test -z \"$GANTRY_WORKER_TOKEN\"; exit 3";
    let out = executor()
        .run(
            &spec(cmd, dir.path(), Duration::from_secs(10)),
            CancellationToken::new(),
        )
        .await;
    assert_eq!(out.exit_code, Some(3), "{out:?}");
    assert_eq!(out.stdout, "hello\ndata");
    assert_eq!(out.stderr, "oops\n");
    assert!(!out.timed_out && !out.cancelled && !out.infrastructure_error);
}

#[tokio::test]
async fn attempts_know_their_job_attempt_and_worker() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = spec(PRINT_IDENTITY, dir.path(), Duration::from_secs(10));
    claim_another_identity(&mut spec);
    let out = executor().run(&spec, CancellationToken::new()).await;
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    assert_identity(&out.stdout, &spec);
}

#[tokio::test]
async fn keeps_only_the_tail_of_big_output() {
    let dir = tempfile::tempdir().unwrap();
    // About 10 MB of output through a 4 KiB buffer.
    let cmd = "yes 0123456789abcdef | head -c 10000000; echo; echo THE-END";
    let out = executor()
        .run(
            &spec(cmd, dir.path(), Duration::from_secs(20)),
            CancellationToken::new(),
        )
        .await;
    assert_eq!(out.exit_code, Some(0));
    assert!(out.stdout.starts_with("[... "), "{}", &out.stdout[..60]);
    assert!(out.stdout.contains("bytes truncated ...]\n"));
    assert!(out.stdout.ends_with("THE-END\n"));
    assert!(out.stdout.len() < 4096 + 64);
}

#[tokio::test]
async fn timeout_kills_the_whole_group_fast() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    // A child that ignores SIGTERM must still die at the end of the grace.
    let cmd = "trap '' TERM; sleep 60 & sleep 60; wait";
    let out = executor()
        .run(
            &spec(cmd, dir.path(), Duration::from_millis(300)),
            CancellationToken::new(),
        )
        .await;
    assert!(out.timed_out, "{out:?}");
    assert!(out.error.as_deref().unwrap().contains("timed out"));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn cancel_stops_it() {
    let dir = tempfile::tempdir().unwrap();
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        trigger.cancel();
    });
    let started = Instant::now();
    let out = executor()
        .run(
            &spec(
                "echo started; sleep 60",
                dir.path(),
                Duration::from_secs(60),
            ),
            cancel,
        )
        .await;
    assert!(out.cancelled && !out.timed_out, "{out:?}");
    assert_eq!(out.stdout, "started\n");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn background_children_do_not_hold_the_attempt_open() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let out = executor()
        .run(
            &spec("sleep 30 & echo done", dir.path(), Duration::from_secs(60)),
            CancellationToken::new(),
        )
        .await;
    assert_eq!(out.exit_code, Some(0));
    assert_eq!(out.stdout, "done\n");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn measures_cpu_time_and_peak_memory() {
    let dir = tempfile::tempdir().unwrap();
    // dd fills a 256 MiB buffer (resident, above anything this test process holds), then the
    // shell loop burns CPU for a while.
    let cmd = "dd if=/dev/zero of=/dev/null bs=256M count=2 2>/dev/null; \
               i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; echo $i";
    let out = executor()
        .run(
            &spec(cmd, dir.path(), Duration::from_secs(60)),
            CancellationToken::new(),
        )
        .await;
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    let usage = out.usage;
    let cpu = usage.cpu_seconds.expect("cpu measured");
    let peak = usage.peak_memory_mb.expect("peak measured");
    let run_ms = usage.run_ms.expect("run time measured");
    assert!(cpu > 0.05, "{usage:?}");
    assert!(
        cpu <= run_ms as f64 / 1000.0 + 0.05,
        "one thread at a time: {usage:?}"
    );
    assert!(
        (250.0..400.0).contains(&peak),
        "dd's 256 MiB buffer: {usage:?}"
    );
    assert_eq!(run_ms, out.duration.as_millis() as i64);

    // A trivial command uses next to nothing.
    let out = executor()
        .run(
            &spec("true", dir.path(), Duration::from_secs(60)),
            CancellationToken::new(),
        )
        .await;
    // Its peak cannot be told from the copy of this (test) process the fork made: none is
    // reported rather than that copy's size.
    assert_eq!(out.usage.peak_memory_mb, None, "{:?}", out.usage);
    assert!(
        out.usage.cpu_seconds.is_some_and(|c| c < 0.05),
        "{:?}",
        out.usage
    );
}

#[tokio::test]
async fn a_next_life_kills_the_recorded_groups_and_records_are_removed_at_the_end() {
    let state = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let groups = state.path().join("groups");
    let recording = || executor().recording_groups_in(state.path().to_path_buf());
    let running = tokio::spawn({
        let spec = spec(
            "sleep 60 & sleep 60; wait",
            work.path(),
            Duration::from_secs(60),
        );
        let executor = recording();
        async move { executor.run(&spec, CancellationToken::new()).await }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    let records = |dir: &std::path::Path| {
        std::fs::read_dir(dir).map_or(0, |d| {
            d.flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
                .count()
        })
    };
    while records(&groups) == 0 {
        assert!(Instant::now() < deadline, "no group recorded");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The agent's next life, before it registers.
    let stopped = recording().stop_earlier_life("test-worker").await.unwrap();
    assert_eq!(stopped, 1);
    let out = tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("the killed job ends")
        .unwrap();
    assert_eq!(out.exit_code, Some(128 + 9), "{out:?}");
    assert_eq!(std::fs::read_dir(&groups).unwrap().count(), 0);

    // An attempt that ends by itself removes its record.
    let out = recording()
        .run(
            &spec("echo ok", work.path(), Duration::from_secs(10)),
            CancellationToken::new(),
        )
        .await;
    assert_eq!(out.exit_code, Some(0));
    assert_eq!(std::fs::read_dir(&groups).unwrap().count(), 0);
    assert_eq!(recording().stop_earlier_life("w").await, Ok(0));
}
