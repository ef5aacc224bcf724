//! The Prometheus metrics: their names, the histogram buckets, the process's recorder and the
//! functions that record timings. `GET /metrics` (in `routes::metrics`) renders them.
//!
//! Counts that live in the database (jobs by state, jobs finished by final state, workers by
//! state) are read from it at scrape time, so they are right after a restart and the same on
//! every replica. Timings (HTTP requests, assignment latency, run time, sweeps) are recorded
//! by this process as they happen.

use crate::clock::now_ms;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Instant;

/// Jobs per state (gauge).
pub const JOBS: &str = "gantry_jobs";
/// Jobs that ever ended, per final state (counter).
pub const JOBS_FINISHED: &str = "gantry_jobs_finished_total";
/// Workers per state (gauge).
pub const WORKERS: &str = "gantry_workers";
/// From entering QUEUED to delivery to a worker (histogram, seconds).
pub const ASSIGNMENT_LATENCY: &str = "gantry_assignment_latency_seconds";
/// An attempt's run time as its worker measured it (histogram, seconds).
pub const RUN_TIME: &str = "gantry_job_run_time_seconds";
/// One scheduler pass (histogram, seconds, by service).
pub const SWEEP_DURATION: &str = "gantry_sweep_duration_seconds";
/// HTTP requests (histogram, seconds, by method, route and status).
pub const HTTP_REQUESTS: &str = "gantry_http_request_duration_seconds";

/// Histogram buckets, in seconds: 1 ms to 1 hour.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    300.0, 900.0, 3600.0,
];

/// The process-wide recorder, installed on first use.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        PrometheusBuilder::new()
            .set_buckets(BUCKETS)
            .expect("valid buckets")
            .install_recorder()
            .expect("the only metrics recorder of the process")
    })
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
