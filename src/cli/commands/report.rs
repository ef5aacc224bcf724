//! `gantry report`: the job-history summary as a table.

use super::table::Table;
use super::{format_time, print_json, ServerArgs};
use crate::cli::client::ClientError;
use gantry::clock::now_ms;
use gantry::config::millis;
use gantry_api::{Percentiles, ReportSummary, Spread};
use std::time::Duration;

/// Prints the report for the last `since`, grouped by `group_by`.
pub async fn report(
    server: &ServerArgs,
    since: Duration,
    group_by: &str,
) -> Result<i32, ClientError> {
    let to = now_ms() + 1;
    let from = to - millis(since);
    let path = format!("/api/reports/summary?from={from}&to={to}&groupBy={group_by}");
    let summary: ReportSummary = server.client().get(&path).await?;
    if server.json {
        print_json(&summary);
        return Ok(0);
    }
    println!(
        "jobs ended {} .. {}, by {}",
        format_time(Some(summary.from)),
        format_time(Some(summary.to)),
        summary.group_by
    );
    let mut table = Table::new(&[
        "GROUP",
        "JOBS",
        "OK",
        "FAILED",
        "TIMED OUT",
        "CANCELLED",
        "SUCCESS",
        "RETRIES",
        "FAULTS worker/job",
        "WAIT p50/p95/max ms",
        "RUN p50/p95/max ms",
        "PEAK MiB p50/p95/max",
        "ASKED MiB p95",
        "CPU s p50/p95/max",
    ]);
    for g in &summary.groups {
        let key = match summary.group_by.as_str() {
            "hour" | "day" => format_time(g.key.parse().ok()),
            _ => g.key.clone(),
        };
        table.row(vec![
            key,
            g.jobs.to_string(),
            g.completed.to_string(),
            g.failed.to_string(),
            g.timed_out.to_string(),
            g.cancelled.to_string(),
            format!("{:.1}%", g.success_rate * 100.0),
            g.retries.to_string(),
            format!("{}/{}", g.worker_faults, g.job_faults),
            stats(g.queue_wait_ms),
            stats(g.run_ms),
            spread(g.peak_memory_mb, 1),
            g.required_ram_mb
                .map_or("-".into(), |r| format!("{:.0}", r.p95)),
            spread(g.cpu_seconds, 2),
        ]);
    }
    println!("{}", table.render());
    Ok(0)
}

fn stats(p: Option<Percentiles>) -> String {
    p.map_or("-".into(), |p| format!("{}/{}/{}", p.p50, p.p95, p.max))
}

/// p50/p95/max of a measured amount with `digits` decimals, `-` when nothing was measured.
fn spread(s: Option<Spread>, digits: usize) -> String {
    s.map_or("-".into(), |s| {
        format!("{:.digits$}/{:.digits$}/{:.digits$}", s.p50, s.p95, s.max)
    })
}
