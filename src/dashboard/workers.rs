//! The fleet: the status summary line and the workers table, and the `/workers` page.

use super::html::{self, esc, Tab};
use super::PageResult;
use crate::clock::now_ms;
use crate::http::reads;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use gantry_api::{Worker, WorkerStatus};

/// One line: how many workers there are by status, naming the unhealthy ones.
pub fn summary(workers: &[Worker]) -> String {
    let count = |s: WorkerStatus| workers.iter().filter(|w| w.status == s).count();
    let mut out = format!(
        "<div class=\"summary\"><strong>{}</strong> worker{}",
        workers.len(),
        if workers.len() == 1 { "" } else { "s" }
    );
    for status in WorkerStatus::ALL {
        out.push_str(&format!(
            " <span class=\"count\">{} {}</span>",
            html::worker_badge(*status),
            count(*status)
        ));
    }
    let unhealthy: Vec<String> = workers
        .iter()
        .filter(|w| w.status == WorkerStatus::Unhealthy)
        .map(|w| format!("<code>{}</code>", esc(&w.id)))
        .collect();
    if !unhealthy.is_empty() {
        out.push_str(&format!(
            " <span class=\"warn\">unhealthy: {}</span>",
            unhealthy.join(", ")
        ));
    }
    out.push_str("</div>");
    out
}

/// The workers table: one row each with usage, reservations, jobs and heartbeat age.
pub fn table(workers: &[Worker], now: i64) -> String {
    if workers.is_empty() {
        return "<p class=\"empty\">No worker has registered yet. Start one with \
                <code>gantry-worker --server http://THIS-SERVER</code>.</p>"
            .into();
    }
    let mut out = String::from(
        "<table class=\"grid workers\"><thead><tr><th>Worker</th><th>Status</th>\
         <th>Executor</th><th>CPU usage</th><th>RAM used</th><th>Reserved CPU</th>\
         <th>Reserved RAM</th><th class=\"num\">Jobs</th><th>Heartbeat</th></tr></thead><tbody>",
    );
    for w in workers {
        out.push_str(&row(w, now));
    }
    out.push_str("</tbody></table>");
    out
}

fn row(w: &Worker, now: i64) -> String {
    let ram_used = (w.ram_total_mb - w.ram_free_mb).max(0);
    let executor = match (w.executor.as_deref(), w.executor_ok) {
        (Some(e), true) => esc(e),
        (Some(e), false) => format!("{} <span class=\"warn\">(broken)</span>", esc(e)),
        (None, _) => "<span class=\"muted\">?</span>".into(),
    };
    let cooldown = match w.cooldown_until {
        Some(until) if until > now => format!(
            "<div class=\"sub warn\">cooldown {} left</div>",
            html::duration(until - now)
        ),
        _ => String::new(),
    };
    let failures = if w.consecutive_failures > 0 {
        format!(
            "<div class=\"sub\">{} failure{} in a row</div>",
            w.consecutive_failures,
            if w.consecutive_failures == 1 { "" } else { "s" }
        )
    } else {
        String::new()
    };
    // The images its engine holds: how many, and their names on hover.
    let images = if w.images.is_empty() {
        String::new()
    } else {
        let names: Vec<&str> = w.images.iter().map(|i| i.reference.as_str()).collect();
        format!(
            "<div class=\"sub\" title=\"{}\">{} image{}</div>",
            esc(&names.join("\n")),
            w.images.len(),
            if w.images.len() == 1 { "" } else { "s" }
        )
    };
    let version = w
        .version
        .as_deref()
        .map(|v| format!(" · v{}", esc(v)))
        .unwrap_or_default();
    format!(
        "<tr id=\"worker-{id}\" data-status=\"{status}\">\
         <td><div class=\"mono strong\">{id}</div><div class=\"sub\">{host}{version}</div></td>\
         <td>{badge}{cooldown}{failures}</td><td>{executor}{images}</td>\
         <td>{cpu}</td><td>{ram}</td><td>{rcpu}</td><td>{rram}</td>\
         <td class=\"num\">{jobs}<span class=\"muted\"> / {max}</span></td>\
         <td class=\"nowrap\">{beat}</td></tr>",
        id = esc(&w.id),
        status = w.status,
        host = esc(&w.hostname),
        badge = html::worker_badge(w.status),
        cpu = html::meter(w.cpu_usage, 100.0, &format!("{:.0}%", w.cpu_usage)),
        ram = html::meter(
            ram_used as f64,
            w.ram_total_mb as f64,
            &format!("{} / {}", html::mib(ram_used), html::mib(w.ram_total_mb))
        ),
        rcpu = html::meter(
            w.reserved_cpu,
            w.cpu_cores,
            &format!(
                "{} / {} cores",
                html::cores(w.reserved_cpu),
                html::cores(w.cpu_cores)
            )
        ),
        rram = html::meter(
            w.reserved_ram_mb as f64,
            w.ram_total_mb as f64,
            &format!(
                "{} / {}",
                html::mib(w.reserved_ram_mb),
                html::mib(w.ram_total_mb)
            )
        ),
        jobs = w.current_job_ids.len(),
        max = w.max_parallel_jobs,
        beat = html::when(w.last_heartbeat_at, now),
    )
}

/// `GET /workers`.
pub async fn page(State(state): State<AppState>) -> PageResult {
    let workers = reads::workers(&state).await?;
    let now = now_ms();
    let body = format!(
        "<div class=\"heading\"><h1>Workers</h1></div>\
         <section id=\"workers\" data-live class=\"panel\">{}{}</section>",
        summary(&workers),
        table(&workers, now)
    );
    Ok(html::respond(
        StatusCode::OK,
        html::page(
            "Workers",
            Tab::Workers,
            state.config.api_token.is_some(),
            &body,
        ),
    ))
}
