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
async fn starts_with_default_signals_its_own_group_and_the_jobs_own_path() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = spec(
        // Builtins only for the masks: dash blocks every signal while it forks a command.
        "while read -r l; do case $l in SigBlk*|SigIgn*) echo \"$l\";; esac; done </proc/$$/status; \
         ps -o pgid= -p $$; echo $$; echo $PATH $HOME",
        dir.path(),
        Duration::from_secs(10),
    );
    spec.env.insert("PATH".into(), "/usr/bin:/bin".into());
    let out = executor().run(&spec, CancellationToken::new()).await;
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    // Nothing blocked (the agent blocks all to start us), SIGPIPE not ignored (the Rust
    // runtime ignores it; other ignores are inherited as with std's Command).
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["SigBlk:", "0000000000000000"]
    );
    let ignored = u64::from_str_radix(lines[1].split_whitespace().nth(1).unwrap(), 16).unwrap();
    assert_eq!(ignored & (1 << (libc::SIGPIPE - 1)), 0, "{out:?}");
    assert_eq!(
        lines[2].trim(),
        lines[3],
        "the sh leads its own process group"
    );
    assert_eq!(lines[4], format!("/usr/bin:/bin {}", dir.path().display()));
}

#[tokio::test]
async fn a_command_that_cannot_be_passed_to_a_process_is_the_jobs_fault() {
    let dir = tempfile::tempdir().unwrap();
    let out = executor()
        .run(
            &spec("echo a\0b", dir.path(), Duration::from_secs(10)),
            CancellationToken::new(),
        )
        .await;
    assert!(out.permanent && !out.infrastructure_error, "{out:?}");
    assert_eq!(
        out.error.as_deref(),
        Some("the job's command holds a NUL byte")
    );
    // A work folder that is gone is the worker's: the start fails before exec, and says why.
    let gone = dir.path().join("gone");
    let out = executor()
        .run(
            &spec("true", &gone, Duration::from_secs(10)),
            CancellationToken::new(),
        )
        .await;
    assert!(out.infrastructure_error, "{out:?}");
    let error = out.error.unwrap_or_default();
    assert!(error.contains("could not enter the work folder"), "{error}");
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
