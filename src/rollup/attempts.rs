//! A finished job's attempts as the reports count them, worked out from its history rows the
//! way the `job_attempts` view does (migration V9), so the API report and the views agree.

use serde::Deserialize;
use std::collections::BTreeMap;

/// What the rollup needs of a finished job's row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EndedJob {
    /// The job.
    pub id: String,
    /// Its final state.
    pub status: String,
    /// Its image, if it named one.
    pub image: Option<String>,
    /// The worker of its last attempt, if it ever had one.
    pub worker_id: Option<String>,
    /// When it ended (epoch ms).
    pub finished_at: i64,
    /// How many attempts it had.
    pub attempts: i64,
    /// The memory it asked for, MiB.
    pub required_ram_mb: i64,
}

/// What the rollup needs of one history row.
#[derive(Debug, Clone, sqlx::FromRow, Deserialize)]
pub struct HistoryFact {
    /// The job.
    pub job_id: String,
    /// The attempt the row belongs to (0 before the first placement).
    pub attempt: i64,
    /// The state left.
    pub from_status: Option<String>,
    /// The state entered.
    pub to_status: String,
    /// When (epoch ms).
    pub at: i64,
    /// Whose fault the end of an attempt was.
    pub fault: Option<String>,
    /// CPU seconds the attempt used, on the row that ends it.
    pub cpu_seconds: Option<f64>,
    /// Peak memory of the attempt, MiB, on the row that ends it.
    pub peak_memory_mb: Option<f64>,
}

/// One attempt's figures; `None` where the history does not tell.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AttemptFigures {
    /// From entering QUEUED to its assignment, ms.
    pub queue_wait_ms: Option<i64>,
    /// From its start to its end, ms (the server's clock).
    pub run_ms: Option<i64>,
    /// CPU seconds it used.
    pub cpu_seconds: Option<f64>,
    /// Its peak memory, MiB.
    pub peak_memory_mb: Option<f64>,
}

/// The states an attempt is under way in.
fn under_way(status: &str) -> bool {
    status == "ASSIGNED" || status == "RUNNING"
}

/// The attempts (numbered 1 and up) in one job's history rows, in attempt order.
pub fn attempts_of(rows: &[&HistoryFact]) -> Vec<AttemptFigures> {
    #[derive(Default)]
    struct Seen {
        assigned: Option<i64>,
        started: Option<i64>,
        ended: Option<i64>,
        cpu: Option<f64>,
        peak: Option<f64>,
    }
    let mut by_attempt: BTreeMap<i64, Seen> = BTreeMap::new();
    for row in rows.iter().filter(|r| r.attempt >= 1) {
        let seen = by_attempt.entry(row.attempt).or_default();
        match row.to_status.as_str() {
            "ASSIGNED" => seen.assigned = min(seen.assigned, row.at),
            "RUNNING" => seen.started = min(seen.started, row.at),
            _ => {}
        }
        if row.from_status.as_deref().is_some_and(under_way) && !under_way(&row.to_status) {
            seen.ended = Some(seen.ended.map_or(row.at, |e| e.max(row.at)));
        }
        seen.cpu = max_f(seen.cpu, row.cpu_seconds);
        seen.peak = max_f(seen.peak, row.peak_memory_mb);
    }
    by_attempt
        .iter()
        .map(|(attempt, seen)| {
            // Queued for this attempt: the last QUEUED row of the attempt before, at or
            // before the assignment.
            let queued = seen.assigned.and_then(|assigned| {
                rows.iter()
                    .filter(|r| r.attempt == attempt - 1 && r.to_status == "QUEUED")
                    .filter(|r| r.at <= assigned)
                    .map(|r| r.at)
                    .max()
            });
            AttemptFigures {
                queue_wait_ms: seen.assigned.zip(queued).map(|(a, q)| a - q),
                run_ms: seen.ended.zip(seen.started).map(|(e, s)| e - s),
                cpu_seconds: seen.cpu,
                peak_memory_mb: seen.peak,
            }
        })
        .collect()
}

fn min(current: Option<i64>, at: i64) -> Option<i64> {
    Some(current.map_or(at, |c| c.min(at)))
}

fn max_f(current: Option<f64>, value: Option<f64>) -> Option<f64> {
    match (current, value) {
        (Some(c), Some(v)) => Some(c.max(v)),
        (c, v) => c.or(v),
    }
}
