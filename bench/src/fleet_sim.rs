//! The fleet figure: one server holding a large simulated fleet. `--fleet-sim-agents` agents
//! (10,000) heartbeat every `--fleet-sim-interval` (10 s), spread evenly, while
//! `--fleet-sim-pollers` of them (1,000) long-poll at once; over `--fleet-sim-seconds` after
//! one full round: heartbeat p50 and p99, the server's CPU in cores, its resident memory per
//! connected agent, and placement passes per heartbeat (heartbeats that change nothing
//! placement reads trigger none; the sweep timer's passes remain).

use crate::agents::SimAgent;
use crate::stats::percentile;
use crate::target::Target;
use crate::{BenchArgs, Figure};
use anyhow::Context;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::task::JoinSet;

/// Registrations in flight at once.
const REGISTER_CONCURRENCY: usize = 64;
/// How long each long poll waits (the server's maximum is 60 s).
const POLL_WAIT_MS: i64 = 30_000;

/// Runs the figure on a fresh server of `target`'s kind.
pub async fn run(args: &BenchArgs, target: &Target) -> anyhow::Result<Vec<Figure>> {
    let n = args.fleet_sim_agents;
    let interval = args.fleet_sim_interval;
    let rss_before = target.rss_mb()?;
    let agents = register_all(target, n).await?;
    let latencies = Arc::new(Mutex::new(Vec::<f64>::new()));
    let measuring = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop = tokio_util::sync::CancellationToken::new();
    let mut tasks = JoinSet::new();
    for (i, agent) in agents.iter().enumerate() {
        let (agent, latencies, measuring, stop) = (
            agent.clone(),
            latencies.clone(),
            measuring.clone(),
            stop.clone(),
        );
        let offset = interval.mul_f64(i as f64 / n as f64);
        tasks.spawn(async move {
            let mut next = tokio::time::Instant::now() + offset;
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return anyhow::Ok(()),
                    _ = tokio::time::sleep_until(next) => {}
                }
                let sent = Instant::now();
                agent.heartbeat((i % 100) as f64).await?;
                if measuring.load(std::sync::atomic::Ordering::Relaxed) {
                    let ms = sent.elapsed().as_secs_f64() * 1000.0;
                    latencies.lock().expect("latencies").push(ms);
                }
                next += interval;
            }
        });
    }
    for agent in agents.iter().take(args.fleet_sim_pollers) {
        let (agent, stop) = (agent.clone(), stop.clone());
        tasks.spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return anyhow::Ok(()),
                    polled = agent.poll(1, POLL_WAIT_MS) => { polled?; }
                }
            }
        });
    }
    // One full round first: every agent connected and beating, every poller waiting.
    tokio::time::sleep(interval).await;
    let placements_before = placement_passes(target).await?;
    let cpu_before = crate::cpu::process_seconds(target.pid()?)?;
    measuring.store(true, std::sync::atomic::Ordering::Relaxed);
    let window = Instant::now();
    tokio::time::sleep(args.fleet_sim_seconds).await;
    measuring.store(false, std::sync::atomic::Ordering::Relaxed);
    let seconds = window.elapsed().as_secs_f64();
    let cpu = (crate::cpu::process_seconds(target.pid()?)? - cpu_before) / seconds;
    let placements = placement_passes(target).await? - placements_before;
    let rss_after = target.rss_mb()?;
    stop.cancel();
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    let mut ms = std::mem::take(&mut *latencies.lock().expect("latencies"));
    anyhow::ensure!(!ms.is_empty(), "no heartbeat in the window");
    ms.sort_by(f64::total_cmp);
    let setting = format!(
        "{n} agents/{}s, {} polling",
        interval.as_secs(),
        args.fleet_sim_pollers.min(n)
    );
    let figure = |name, value, unit| Figure {
        figure: name,
        backend: target.backend,
        setting: setting.clone(),
        value,
        unit,
    };
    Ok(vec![
        figure("fleet_heartbeats_per_s", ms.len() as f64 / seconds, "/s"),
        figure("fleet_heartbeat_p50", percentile(&ms, 50.0), "ms"),
        figure("fleet_heartbeat_p99", percentile(&ms, 99.0), "ms"),
        figure("fleet_server_cpu", cpu, "cores"),
        figure(
            "fleet_memory_per_agent",
            (rss_after - rss_before) * 1024.0 / n as f64,
            "KiB",
        ),
        figure(
            "fleet_placements_per_heartbeat",
            placements / ms.len() as f64,
            "ratio",
        ),
    ])
}

/// Registers `n` agents, `REGISTER_CONCURRENCY` at a time.
async fn register_all(target: &Target, n: usize) -> anyhow::Result<Vec<SimAgent>> {
    let mut agents = Vec::with_capacity(n);
    let mut pending = JoinSet::new();
    for i in 0..n {
        if pending.len() >= REGISTER_CONCURRENCY {
            agents.push(pending.join_next().await.context("a registration")???);
        }
        let (http, base) = (target.http.clone(), target.base.clone());
        pending.spawn(async move {
            SimAgent::register(&http, &base, &format!("fleet-{i:05}"), 1, false).await
        });
    }
    while let Some(agent) = pending.join_next().await {
        agents.push(agent??);
    }
    Ok(agents)
}

/// Placement passes the server has run so far, from its `/metrics`.
async fn placement_passes(target: &Target) -> anyhow::Result<f64> {
    let text = target
        .http
        .get(format!("{}/metrics", target.base))
        .send()
        .await?
        .text()
        .await?;
    Ok(text
        .lines()
        .find(|l| {
            l.starts_with("gantry_sweep_duration_seconds_count") && l.contains("\"placement\"")
        })
        .and_then(|l| l.rsplit_once(' '))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0.0))
}
