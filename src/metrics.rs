//! The Prometheus metrics: their names, the histogram buckets, the process's recorder and the
//! functions that record timings. `GET /metrics` (in `routes::metrics`) renders them.
//!
//! Counts that live in the database are read from it at scrape time, each at a cost that does
//! not grow with the jobs stored: jobs in each unfinished state (from their partial indexes)
//! and workers by state as gauges, the same on every replica; jobs finished, per final state,
//! as a counter of the endings recorded in the database since this server started (by any
//! replica: take one replica's `rate()`, do not add replicas up), advanced at each scrape by
//! what ended since the last one ([`EndingsCounter`]). Timings (HTTP requests, assignment latency, run time, sweeps) are recorded
//! by this process as they happen.

use crate::clock::now_ms;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Instant;

/// Jobs per unfinished state (gauge).
pub const JOBS: &str = "gantry_jobs";
/// Jobs that ended since this server started, per final state (counter).
pub const JOBS_FINISHED: &str = "gantry_jobs_finished_total";
/// Workers per state (gauge).
pub const WORKERS: &str = "gantry_workers";
/// 1 when this scrape read the database's counts, 0 when it could not (the gauges above then
/// still show the last counts read), as exporters' `pg_up` does (gauge).
pub const DATABASE_UP: &str = "gantry_database_up";
/// From entering QUEUED to delivery to a worker (histogram, seconds).
pub const ASSIGNMENT_LATENCY: &str = "gantry_assignment_latency_seconds";
/// An attempt's run time as its worker measured it (histogram, seconds).
pub const RUN_TIME: &str = "gantry_job_run_time_seconds";
/// One scheduler pass (histogram, seconds, by service).
pub const SWEEP_DURATION: &str = "gantry_sweep_duration_seconds";
/// HTTP requests (histogram, seconds, by method, route and status).
pub const HTTP_REQUESTS: &str = "gantry_http_request_duration_seconds";

/// Whether this replica's wake-up session hears the other replicas (gauge, 1 or 0; absent
/// on SQLite or with the bus off).
pub const WAKE_LISTENING: &str = "gantry_wake_listening";
/// Wake-up messages between replicas, by direction (counter).
pub const WAKE_MESSAGES: &str = "gantry_wake_messages_total";

/// Histogram buckets, in seconds: 1 ms to 1 hour.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    300.0, 900.0, 3600.0,
];

/// The process-wide recorder, installed on first use.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let handle = PrometheusBuilder::new()
            .set_buckets(BUCKETS)
            .expect("valid buckets")
            .install_recorder()
            .expect("the only metrics recorder of the process");
        describe();
        handle
    })
}

/// Gives every family its `# HELP` line (and unit), which Prometheus and promtool expect.
fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_gauge!(
        JOBS,
        "Jobs in each unfinished state (PENDING, QUEUED, ASSIGNED, RUNNING), from the database."
    );
    describe_counter!(
        JOBS_FINISHED,
        "Jobs that ended in each final state since this server started, by any replica."
    );
    describe_gauge!(WORKERS, "Workers in each state, from the database.");
    describe_gauge!(
        WAKE_LISTENING,
        "1 when this replica hears other replicas' wake-ups (PostgreSQL LISTEN), else 0."
    );
    describe_counter!(
        WAKE_MESSAGES,
        "Wake-up messages sent to and received from other replicas."
    );
    describe_gauge!(
        DATABASE_UP,
        "1 when this scrape read the counts from the database; 0 when it could not, and \
         gantry_jobs, gantry_workers and gantry_jobs_finished_total are stale."
    );
    describe_histogram!(
        ASSIGNMENT_LATENCY,
        Unit::Seconds,
        "Time from a job entering QUEUED to its delivery to a worker."
    );
    describe_histogram!(
        RUN_TIME,
        Unit::Seconds,
        "An attempt's run time, as its worker measured it."
    );
    describe_histogram!(
        SWEEP_DURATION,
        Unit::Seconds,
        "One pass of a scheduler service (placement, sweepers, rollup, pruner)."
    );
    describe_histogram!(
        HTTP_REQUESTS,
        Unit::Seconds,
        "HTTP requests, by method, route pattern and status."
    );
}

/// Records how long a job waited between QUEUED and delivery.
pub fn observe_delivery(queued_at: Option<i64>) {
    if let Some(queued_at) = queued_at {
        let waited = (now_ms() - queued_at).max(0) as f64 / 1000.0;
        metrics::histogram!(ASSIGNMENT_LATENCY).record(waited);
    }
}

/// Records an attempt's run time.
pub fn observe_run_time(duration_ms: Option<i64>) {
    if let Some(ms) = duration_ms.filter(|ms| *ms >= 0) {
        metrics::histogram!(RUN_TIME).record(ms as f64 / 1000.0);
    }
}

/// Records one scheduler pass.
pub fn observe_sweep(service: &'static str, started: Instant) {
    metrics::histogram!(SWEEP_DURATION, "service" => service)
        .record(started.elapsed().as_secs_f64());
}

/// How long after its end a job is counted by [`EndingsCounter`]: a finish stamped at its
/// end but committed later than this would be missed.
pub const ENDINGS_SETTLE_MS: i64 = 2_000;

/// The finished-jobs counter's progress: every ending before `counted_to` is counted.
#[derive(Debug)]
pub struct EndingsCounter {
    /// Endings before this time (epoch ms) are counted; one scrape at a time moves it.
    counted_to: tokio::sync::Mutex<i64>,
}

impl EndingsCounter {
    /// A counter of the endings from `since` on.
    pub fn starting_at(since: i64) -> EndingsCounter {
        EndingsCounter {
            counted_to: tokio::sync::Mutex::new(since),
        }
    }

    /// Adds the endings in `[counted_to, now - ENDINGS_SETTLE_MS)`, as `read` counts them
    /// per final state, to the counter, and moves on; a failed read leaves it where it was.
    pub async fn advance<F, Fut, E>(&self, now: i64, read: F) -> Result<(), E>
    where
        F: FnOnce(i64, i64) -> Fut,
        Fut: std::future::Future<Output = Result<Vec<(String, i64)>, E>>,
    {
        let mut counted_to = self.counted_to.lock().await;
        let to = now - ENDINGS_SETTLE_MS;
        for status in ["COMPLETED", "FAILED", "TIMED_OUT", "CANCELLED"] {
            // Every final state shows from the first scrape, at 0 until one ends so.
            ::metrics::counter!(JOBS_FINISHED, "status" => status).increment(0);
        }
        if to <= *counted_to {
            return Ok(());
        }
        for (status, n) in read(*counted_to, to).await? {
            ::metrics::counter!(JOBS_FINISHED, "status" => status).increment(n.max(0) as u64);
        }
        *counted_to = to;
        Ok(())
    }
}
