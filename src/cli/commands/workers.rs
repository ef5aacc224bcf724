//! `gantry workers`: the fleet.

use super::table::Table;
use super::{format_time, print_json, ServerArgs};
use crate::cli::client::ClientError;
use gantry_api::WorkersListResponse;

/// Prints every worker with its status, capacity, reservations and jobs.
pub async fn workers(server: &ServerArgs) -> Result<i32, ClientError> {
    let list: WorkersListResponse = server.client().get("/api/workers/list").await?;
    if server.json {
        print_json(&list);
        return Ok(0);
    }
    let s = list.summary;
    println!(
        "{} workers: {} idle, {} busy, {} unhealthy, {} offline",
        list.total_workers, s.idle, s.busy, s.unhealthy, s.offline
    );
    let mut table = Table::new(&[
        "ID",
        "STATUS",
        "EXECUTOR",
        "CPU",
        "RAM MB",
        "JOBS",
        "CPU%",
        "LAST HEARTBEAT",
    ]);
    for w in &list.workers {
        table.row(vec![
            w.id.clone(),
            w.status.to_string(),
            w.executor.clone().unwrap_or_else(|| "-".into()),
            format!("{}/{}", w.reserved_cpu, w.cpu_cores),
            format!("{}/{}", w.reserved_ram_mb, w.ram_total_mb),
            format!("{}/{}", w.current_job_ids.len(), w.max_parallel_jobs),
            format!("{:.0}", w.cpu_usage),
            format_time(Some(w.last_heartbeat_at)),
        ]);
    }
    println!("{}", table.render());
    Ok(0)
}
