//! The job-history report: counts, success rate and timing percentiles per group.

use serde::{Deserialize, Serialize};

/// `GET /api/reports/summary`: jobs that ended in `[from, to)`, grouped.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReportSummary {
    /// Start of the window (epoch ms, inclusive): the asked start rounded down to a whole
    /// hour (UTC), the report's resolution.
    pub from: i64,
    /// End of the window (epoch ms, exclusive): the asked end rounded up to a whole hour.
    pub to: i64,
    /// How the groups are formed: `hour`, `day`, `worker`, `status`, `image` or `all`.
    pub group_by: String,
    /// One entry per group, ordered by key.
    pub groups: Vec<ReportGroup>,
}

/// The figures of one group.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReportGroup {
    /// The group: an hour or day start (epoch ms), a worker id, a status or an image.
    pub key: String,
    /// Jobs that ended in the window.
    pub jobs: i64,
    /// Of those, COMPLETED.
    pub completed: i64,
    /// FAILED.
    pub failed: i64,
    /// TIMED_OUT (the final state; timed-out attempts that were retried count as retries).
    pub timed_out: i64,
    /// CANCELLED.
    pub cancelled: i64,
    /// completed / jobs, 0 when there are none.
    pub success_rate: f64,
    /// Attempts beyond the first, summed over the jobs.
    pub retries: i64,
    /// Attempts of these jobs that ended by their worker's fault (engine, executor, loss).
    #[serde(default)]
    pub worker_faults: i64,
    /// Attempts of these jobs that ended by the job's own fault (exit, timeout, memory).
    #[serde(default)]
    pub job_faults: i64,
    /// From entering QUEUED to assignment, over the attempts of these jobs.
    pub queue_wait_ms: Option<Percentiles>,
    /// From start to end, over the attempts of these jobs that started.
    pub run_ms: Option<Percentiles>,
    /// Peak memory in MiB, over the attempts of these jobs whose worker measured it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_memory_mb: Option<Spread>,
    /// The memory those same attempts requested (`requiredRamMb`), in MiB: beside
    /// `peakMemoryMb`, it answers whether the group asks for more than it uses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_ram_mb: Option<Spread>,
    /// Each of those attempts' peak as a percentage of its own request: the right-sizing figure
    /// when the requests within a group differ.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_used_pct: Option<Spread>,
    /// CPU seconds, over the attempts of these jobs whose worker measured them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_seconds: Option<Spread>,
}

/// Nearest-rank percentiles of a set of measured amounts (MiB, seconds, percent), read from a
/// histogram: each is the amount rounded up to two significant digits (at most 2.5% above
/// it), never above `max`, which is exact, as is `count`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Spread {
    /// How many values.
    pub count: i64,
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// Largest.
    pub max: f64,
}

/// Nearest-rank percentiles of a set of durations, in milliseconds, at the resolution of
/// [`Spread`].
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Percentiles {
    /// How many values.
    pub count: i64,
    /// Median.
    pub p50: i64,
    /// 95th percentile.
    pub p95: i64,
    /// Largest.
    pub max: i64,
}
