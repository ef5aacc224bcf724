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
