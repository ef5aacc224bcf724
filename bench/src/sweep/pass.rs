//! One scheduler pass as the server makes it (placement, then the sweepers the leader runs,
//! built by the same `sweepers::standard`, the rollup pass and the pruner included), timed
//! call by call.

use super::Size;
use crate::stats::median;
use anyhow::ensure;
use gantry::config::ServeConfig;
use gantry::repo::Repo;
use gantry::scheduler::placer::PLACEMENT_BATCH;
use gantry::scheduler::sweepers;
use std::sync::Arc;
use std::time::Instant;

/// The calls' names, in the order they run (the leader's), for the per-call breakdown.
const CALLS: [&str; 8] = [
    "place",
    "heartbeats",
    "deadlines",
    "unstarted",
    "holds",
    "cooldowns",
    "rollup",
    "prune",
];

/// What one pass took.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Pass {
    /// Milliseconds per call, in the order of `CALLS`.
    pub calls: [f64; 8],
    /// Workers the heartbeat sweeper marked OFFLINE.
    pub expired: u64,
}

impl Pass {
    /// Milliseconds of the whole pass.
    pub fn total(&self) -> f64 {
        self.calls.iter().sum()
    }
}

/// One scheduler pass at `now`; fails if any call but the heartbeat sweep found work.
pub(super) async fn pass(
    repo: &Arc<dyn Repo>,
    config: &ServeConfig,
    now: i64,
) -> anyhow::Result<Pass> {
    let sweepers = sweepers::standard(repo, config);
    debug_assert_eq!(sweepers.len() + 1, CALLS.len());
    let mut out = Pass::default();
    let started = Instant::now();
    let placed = repo.job_place(now, PLACEMENT_BATCH).await?;
    ensure!(
        placed.placed.is_empty() && placed.promoted == 0 && placed.blocked == 0,
        "placement found work in a state meant to have none: {placed:?}"
    );
    out.calls[0] = ms(started);
    for (i, sweeper) in sweepers.iter().enumerate() {
        let started = Instant::now();
        let counts = sweeper.run_once(now).await?;
        out.calls[i + 1] = ms(started);
        if sweeper.name() == "heartbeat" {
            out.expired = counts.changed;
        } else {
            ensure!(counts.changed == 0, "{} changed {counts:?}", sweeper.name());
        }
    }
    Ok(out)
}

/// Milliseconds since `started`.
fn ms(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1000.0
}

/// The per-call medians, on stderr (the figures are the totals).
pub(super) fn breakdown(what: &str, backend: &str, size: Size, passes: &[Pass]) {
    let calls: Vec<String> = CALLS
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let m = median(passes.iter().map(|p| p.calls[i]).collect());
            format!("{name} {m:.2}")
        })
        .collect();
    eprintln!(
        "{what} {backend} {}: {} (ms, medians of {})",
        size.setting(),
        calls.join(", "),
        passes.len()
    );
}
