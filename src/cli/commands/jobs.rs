//! `gantry status`, `logs`, `cancel` and `jobs`.

use super::table::{truncate, Table};
use super::{format_time, print_json, ServerArgs};
use crate::cli::client::ClientError;
use gantry_api::{Job, JobStatusResponse, JobsListResponse};
use serde_json::json;

/// Prints one job with its timeline.
pub async fn status(server: &ServerArgs, id: &str) -> Result<i32, ClientError> {
    let s: JobStatusResponse = server
        .client()
        .get(&format!("/api/jobs/status?jobId={id}"))
        .await?;
    if server.json {
        print_json(&s);
        return Ok(0);
    }
    let j = &s.job;
    let field = |name: &str, value: String| println!("{name:<12}{value}");
    field("id", j.id.clone());
    field(
        "status",
        match &j.phase {
            Some(phase) => format!("{} ({phase})", j.status),
            None => j.status.to_string(),
        },
    );
    field("command", j.command.clone());
    field(
        "image",
        j.image.clone().unwrap_or_else(|| "(worker default)".into()),
    );
    field(
        "pull",
        j.pull.map_or("(worker default)".into(), |p| p.to_string()),
    );
    field(
        "resources",
        format!(
            "{} CPU, {} MiB, timeout {} ms",
            j.required_cpu, j.required_ram_mb, j.timeout_ms
        ),
    );
    field("worker", j.worker_id.clone().unwrap_or_else(|| "-".into()));
    field(
        "attempts",
        format!(
            "{} ({} failed of {} retries, {} lost to infrastructure)",
            j.attempts, j.failed_attempts, j.max_retries, j.infra_retries
        ),
    );
    field(
        "exit code",
        j.exit_code.map_or("-".into(), |c| c.to_string()),
    );
    if let Some(usage) = &j.usage {
        field(
            "used",
            format!("{usage} (of {} MiB asked)", j.required_ram_mb),
        );
    }
    if let Some(error) = &j.error {
        field("error", error.clone());
    }
    if let Some(reason) = &j.reason {
        field("reason", reason.clone());
    }
    field("created", format_time(Some(j.created_at)));
    field("started", format_time(j.started_at));
    field("finished", format_time(j.finished_at));
    println!("\nhistory:");
    let mut table = Table::new(&[
        "AT", "ATTEMPT", "FROM", "TO", "WORKER", "FAULT", "USED", "REASON",
    ]);
    for h in &s.history {
        table.row(vec![
            format_time(Some(h.at)),
            h.attempt.to_string(),
            h.from_status.map_or("-".into(), |s| s.to_string()),
            h.to_status.to_string(),
            h.worker_id.clone().unwrap_or_else(|| "-".into()),
            h.fault.map_or("-".into(), |f| f.to_string()),
            h.usage.map_or("-".into(), |u| u.to_string()),
            h.reason.clone().unwrap_or_default(),
        ]);
    }
    println!("{}", table.render());
    Ok(0)
}

/// Prints a job's captured output: stdout to stdout, stderr to stderr.
pub async fn logs(server: &ServerArgs, id: &str) -> Result<i32, ClientError> {
    let s: JobStatusResponse = server
        .client()
        .get(&format!("/api/jobs/status?jobId={id}"))
        .await?;
    if server.json {
        print_json(&json!({"jobId": s.job.id, "stdout": s.job.stdout, "stderr": s.job.stderr}));
        return Ok(0);
    }
    print!("{}", s.job.stdout.unwrap_or_default());
    eprint!("{}", s.job.stderr.unwrap_or_default());
    Ok(0)
}

/// Cancels a job.
pub async fn cancel(server: &ServerArgs, id: &str) -> Result<i32, ClientError> {
    let job: Job = server
        .client()
        .post("/api/jobs/cancel", &json!({"jobId": id}))
        .await?;
    if server.json {
        print_json(&job);
    } else {
        println!("{} {}", job.id, job.status);
    }
    Ok(0)
}

/// Lists jobs, newest first.
pub async fn list(
    server: &ServerArgs,
    status: Option<&str>,
    limit: i64,
) -> Result<i32, ClientError> {
    let mut path = format!("/api/jobs/list?limit={limit}");
    if let Some(status) = status {
        path.push_str(&format!("&status={status}"));
    }
    let page: JobsListResponse = server.client().get(&path).await?;
    if server.json {
        print_json(&page);
        return Ok(0);
    }
    let mut table = Table::new(&["ID", "STATUS", "WORKER", "EXIT", "CREATED", "COMMAND"]);
    for j in &page.jobs {
        table.row(vec![
            j.id.clone(),
            j.status.to_string(),
            j.worker_id.clone().unwrap_or_else(|| "-".into()),
            j.exit_code.map_or("-".into(), |c| c.to_string()),
            format_time(Some(j.created_at)),
            truncate(&j.command, 50),
        ]);
    }
    println!("{}", table.render());
    Ok(0)
}
