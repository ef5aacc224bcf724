//! The machine's own limits, measured in the same run as the figures they sit beside: how fast
//! it starts `sh -c true`, or runs a bare `docker run --rm`, at a given parallelism. A gantry
//! figure divided by its limit says how much of the machine gantry leaves on the table.

use crate::docker::IMAGE;
use crate::stats::rate;
use anyhow::bail;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Runs per second of `sh -c true`: `count` runs, `parallel` at a time.
pub async fn spawn_rate(parallel: usize, count: usize) -> anyhow::Result<f64> {
    run_rate(&["sh", "-c", "true"], parallel, count).await
}

/// Runs per second of `docker run --rm --network none IMAGE true`: `count` runs, `parallel` at a
/// time.
pub async fn docker_run_rate(parallel: usize, count: usize) -> anyhow::Result<f64> {
    let argv = ["docker", "run", "--rm", "--network", "none", IMAGE, "true"];
    run_rate(&argv, parallel, count).await
}

/// Runs per second of the command `argv`, `count` times in all, `parallel` at a time; fails if
/// any run fails.
async fn run_rate(argv: &[&str], parallel: usize, count: usize) -> anyhow::Result<f64> {
    if parallel == 0 || count == 0 {
        bail!("a rate needs runs: {count} runs, {parallel} at a time");
    }
    let argv: Arc<Vec<String>> = Arc::new(argv.iter().map(|a| a.to_string()).collect());
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..parallel.min(count) {
        let (argv, next) = (argv.clone(), next.clone());
        tasks.spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < count {
                let out = tokio::process::Command::new(&argv[0])
                    .args(&argv[1..])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .output()
                    .await?;
                if !out.status.success() {
                    bail!(
                        "`{}` failed: {}",
                        argv.join(" "),
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
            }
            anyhow::Ok(())
        });
    }
    while let Some(result) = tasks.join_next().await {
        result??;
    }
    rate(count, started.elapsed().as_secs_f64())
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn the_spawn_rate_counts_real_runs() {
        let per_s = super::spawn_rate(2, 10).await.unwrap();
        assert!(per_s > 1.0 && per_s.is_finite(), "{per_s}");
        assert!(super::run_rate(&["false"], 2, 3).await.is_err());
        assert!(super::spawn_rate(0, 3).await.is_err());
    }
}
