//! Rollups: what the report needs of the jobs that ended in one hour on one worker, with one
//! image and one final state, in a form that adds up (counts and [`Histogram`]s).

use super::attempts::{attempts_of, EndedJob, HistoryFact};
use super::histogram::Histogram;
use gantry_api::{Percentiles, ReportGroup, Spread};
use std::collections::HashMap;

/// One hour, in epoch ms: the rollup's time resolution.
pub const HOUR_MS: i64 = 3_600_000;
/// One day, in epoch ms.
pub const DAY_MS: i64 = 86_400_000;
/// The image key of jobs that named none.
pub const DEFAULT_IMAGE: &str = "(default)";
/// The worker key of jobs never placed.
pub const NO_WORKER: &str = "-";
/// The image and worker keys of an hour's totals per final state: the rows the report reads
/// when it groups by neither image nor worker (a handful per hour, where the full rows are
/// one per image, worker and state). No image reference or worker id is `*`.
pub const ANY: &str = "*";

/// The measured amounts a rollup keeps a histogram of, by their column-name stems.
pub const METRICS: [&str; 6] = [
    "queue_wait_ms",
    "run_ms",
    "cpu_seconds",
    "peak_memory_mb",
    "required_ram_mb",
    "memory_used_pct",
];

/// What a rollup row is keyed by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RollupKey {
    /// The start of the hour (UTC) in which the jobs ended, epoch ms.
    pub hour: i64,
    /// Their image, or [`DEFAULT_IMAGE`].
    pub image: String,
    /// The worker of their last attempt, or [`NO_WORKER`].
    pub worker_id: String,
    /// Their final state.
    pub status: String,
}

impl RollupKey {
    /// The key of a finished job.
    pub fn of(job: &EndedJob) -> RollupKey {
        RollupKey {
            hour: job.finished_at.div_euclid(HOUR_MS) * HOUR_MS,
            image: job.image.clone().unwrap_or_else(|| DEFAULT_IMAGE.into()),
            worker_id: job.worker_id.clone().unwrap_or_else(|| NO_WORKER.into()),
            status: job.status.clone(),
        }
    }

    /// The key of the hour's totals for this key's final state.
    pub fn totals(&self) -> RollupKey {
        RollupKey {
            hour: self.hour,
            image: ANY.into(),
            worker_id: ANY.into(),
            status: self.status.clone(),
        }
    }

    /// The report group this key falls in under `group_by` (as `report_summary` names them).
    pub fn group(&self, group_by: &str) -> String {
        match group_by {
            "hour" => self.hour.to_string(),
            "day" => (self.hour.div_euclid(DAY_MS) * DAY_MS).to_string(),
            "worker" => self.worker_id.clone(),
            "status" => self.status.clone(),
            "image" => self.image.clone(),
            _ => "all".into(),
        }
    }
}

/// The sums of a set of finished jobs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rollup {
    /// Jobs.
    pub jobs: i64,
    /// Their attempts.
    pub attempts: i64,
    /// Attempts beyond each job's first.
    pub retries: i64,
    /// Attempts ended by their worker's fault.
    pub worker_faults: i64,
    /// Attempts ended by the job's own fault.
    pub job_faults: i64,
    /// One histogram per entry of [`METRICS`], in that order.
    pub metrics: [Histogram; 6],
}

impl Rollup {
    /// Adds one finished job with its history rows.
    pub fn add(&mut self, job: &EndedJob, history: &[&HistoryFact]) {
        self.jobs += 1;
        self.retries += (job.attempts - 1).max(0);
        for row in history {
            match row.fault.as_deref() {
                Some("worker") => self.worker_faults += 1,
                Some("job") => self.job_faults += 1,
                _ => {}
            }
        }
        let ram = job.required_ram_mb as f64;
        for attempt in attempts_of(history) {
            self.attempts += 1;
            let [wait, run, cpu, peak, asked, used_pct] = &mut self.metrics;
            if let Some(v) = attempt.queue_wait_ms {
                wait.record(v as f64);
            }
            if let Some(v) = attempt.run_ms {
                run.record(v as f64);
            }
            if let Some(v) = attempt.cpu_seconds {
                cpu.record(v);
            }
            if let Some(v) = attempt.peak_memory_mb {
                peak.record(v);
                asked.record(ram);
                if ram > 0.0 {
                    used_pct.record(100.0 * v / ram);
                }
            }
        }
    }

    /// Adds another rollup's sums to this one.
    pub fn merge(&mut self, other: &Rollup) {
        self.jobs += other.jobs;
        self.attempts += other.attempts;
        self.retries += other.retries;
        self.worker_faults += other.worker_faults;
        self.job_faults += other.job_faults;
        for (mine, theirs) in self.metrics.iter_mut().zip(&other.metrics) {
            mine.merge(theirs);
        }
    }

    /// The jobs' rollups by key, with each hour's totals per final state (under
    /// [`RollupKey::totals`]) beside them.
    pub fn with_totals(jobs: &[EndedJob], history: &[HistoryFact]) -> HashMap<RollupKey, Rollup> {
        let mut out = Rollup::of_jobs(jobs, history);
        let totals: Vec<(RollupKey, Rollup)> =
            out.iter().map(|(k, r)| (k.totals(), r.clone())).collect();
        for (key, rollup) in totals {
            out.entry(key).or_default().merge(&rollup);
        }
        out
    }

    /// The jobs' rollups by key.
    pub fn of_jobs(jobs: &[EndedJob], history: &[HistoryFact]) -> HashMap<RollupKey, Rollup> {
        let mut rows_of: HashMap<&str, Vec<&HistoryFact>> = HashMap::new();
        for row in history {
            rows_of.entry(&row.job_id).or_default().push(row);
        }
        let mut out: HashMap<RollupKey, Rollup> = HashMap::new();
        for job in jobs {
            let rows = rows_of.get(job.id.as_str()).map_or(&[][..], Vec::as_slice);
            out.entry(RollupKey::of(job)).or_default().add(job, rows);
        }
        out
    }
}

/// Whether a report grouped by `group_by` reads the full rollup rows (by image or worker)
/// rather than the hours' totals.
pub fn needs_full_rows(group_by: &str) -> bool {
    matches!(group_by, "worker" | "image")
}

/// The whole hours (UTC) that `[from, to)` touches, at least one: the report's resolution.
pub fn hours_covering(from: i64, to: i64) -> (i64, i64) {
    let from = from.div_euclid(HOUR_MS) * HOUR_MS;
    let to = (to.saturating_add(HOUR_MS - 1)).div_euclid(HOUR_MS) * HOUR_MS;
    (from, to.max(from + HOUR_MS))
}

/// The report's groups from rollups: merged under `group_by`, in key order.
pub fn report_groups<'a>(
    rollups: impl IntoIterator<Item = (&'a RollupKey, &'a Rollup)>,
    group_by: &str,
) -> Vec<ReportGroup> {
    let mut groups: HashMap<String, (Rollup, [i64; 4])> = HashMap::new();
    for (key, rollup) in rollups {
        let (sum, by_status) = groups.entry(key.group(group_by)).or_default();
        sum.merge(rollup);
        let slot = match key.status.as_str() {
            "COMPLETED" => 0,
            "FAILED" => 1,
            "TIMED_OUT" => 2,
            _ => 3,
        };
        by_status[slot] += rollup.jobs;
    }
    let mut out: Vec<ReportGroup> = groups
        .into_iter()
        .map(|(key, (r, [completed, failed, timed_out, cancelled]))| {
            let [wait, run, cpu, peak, asked, used_pct] = &r.metrics;
            ReportGroup {
                key,
                jobs: r.jobs,
                completed,
                failed,
                timed_out,
                cancelled,
                success_rate: if r.jobs > 0 {
                    completed as f64 / r.jobs as f64
                } else {
                    0.0
                },
                retries: r.retries,
                worker_faults: r.worker_faults,
                job_faults: r.job_faults,
                queue_wait_ms: percentiles(wait),
                run_ms: percentiles(run),
                peak_memory_mb: spread(peak),
                required_ram_mb: spread(asked),
                memory_used_pct: spread(used_pct),
                cpu_seconds: spread(cpu),
            }
        })
        .collect();
    out.sort_by(|a, b| a.key.cmp(&b.key));
    out
}

fn percentiles(h: &Histogram) -> Option<Percentiles> {
    let spread = spread(h)?;
    Some(Percentiles {
        count: spread.count,
        p50: spread.p50.round() as i64,
        p95: spread.p95.round() as i64,
        max: spread.max.round() as i64,
    })
}

fn spread(h: &Histogram) -> Option<Spread> {
    Some(Spread {
        count: h.count,
        p50: h.percentile(50)?,
        p95: h.percentile(95)?,
        max: h.max,
    })
}
